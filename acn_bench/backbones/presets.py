"""The built-in backbone presets (paper models and small CPU models)."""

from __future__ import annotations

from acn_bench.backbones.mixer import build_mixer
from acn_bench.backbones.registry import _register_preset
from acn_bench.backbones.text import build_bert
from acn_bench.backbones.vit import build_vit

_register_preset(
    "mixer_cifar",
    build_mixer,
    "paper's CIFAR MLP-Mixer: 16 layers, d=128, DS=64, DC=512, patch 4, CLS (2.53M params)",
    depth=16,
    dim=128,
    token_hidden=64,
    channel_hidden=512,
    patch_size=4,
    img_size=32,
)
_register_preset(
    "mixer_small",
    build_mixer,
    "CPU Mixer: 8 layers, d=64, DS=32, DC=256, patch 4",
    depth=8,
    dim=64,
    token_hidden=32,
    channel_hidden=256,
    patch_size=4,
    img_size=32,
)
_register_preset(
    "mixer_tiny",
    build_mixer,
    "test-size Mixer: 4 layers, d=32, DS=16, DC=64, patch 4",
    depth=4,
    dim=32,
    token_hidden=16,
    channel_hidden=64,
    patch_size=4,
    img_size=32,
)
_register_preset(
    "vit_b16",
    build_vit,
    "ViT-B/16 (paper's ImageNet model): 12 layers, d=768, 12 heads, MLP 3072, 224 px (86M params)",
    depth=12,
    dim=768,
    num_heads=12,
    patch_size=16,
    img_size=224,
    num_classes=1000,
)
_register_preset(
    "vit_s16",
    build_vit,
    "ViT-S/16 (official code): 12 layers, d=384, 6 heads, sin-cos pos, avg pool, zero-init head",
    depth=12,
    dim=384,
    num_heads=6,
    patch_size=16,
    img_size=224,
    num_classes=1000,
    pool="avg",
    pos_embed="sincos",
    zero_init_head=True,
)
_register_preset(
    "vit_tiny",
    build_vit,
    "CPU ViT: 6 layers, d=64, 4 heads, MLP 128, patch 4, 32 px",
    depth=6,
    dim=64,
    num_heads=4,
    mlp_ratio=2.0,
    patch_size=4,
    img_size=32,
    num_classes=10,
)
_register_preset(
    "bert_base",
    build_bert,
    "BERT-base (paper's text model): 12 post-LN layers, d=768, 12 heads, FFN 3072, vocab 32,768",
    depth=12,
    dim=768,
    num_heads=12,
    hidden=3072,
    vocab_size=32768,
)
_register_preset(
    "bert_small",
    build_bert,
    "BERT-small (Turc et al.): 4 layers, d=512, 8 heads, FFN 2048, vocab 32,768",
    depth=4,
    dim=512,
    num_heads=8,
    hidden=2048,
    vocab_size=32768,
)
_register_preset(
    "bert_tiny",
    build_bert,
    "test-size BERT: 2 layers, d=64, 2 heads, FFN 128, vocab 1,000, 128 positions",
    depth=2,
    dim=64,
    num_heads=2,
    hidden=128,
    vocab_size=1000,
    max_len=128,
)
