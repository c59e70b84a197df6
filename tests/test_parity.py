"""Parity of the residual twins with the reference implementations they claim to equal.

* The residual ViT twin computes what timm's ``VisionTransformer`` computes, given the same weights
  (loaded through ``load_timm_state_dict``), block by block and at the logits.
* The residual BERT layer is Hugging Face's post-LN ``BertLayer``; the whole residual BERT is
  ``BertModel`` (embeddings, layers, pooler).

All in fp32, eval mode, tiny configurations built from configs (nothing is downloaded).
Known differences from timm, by design: timm's default ``no_embed_class=False`` keeps a position
for the class token (ours adds none; the loader folds it into the class token, which computes the
same, so our ViT has ``dim`` fewer parameters than timm's default), and timm's default
``fc_norm=True`` for ``global_pool='avg'`` normalises after pooling where ours (and the official
ViT-S/16) normalises the tokens before pooling.
"""

from __future__ import annotations

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from acn_bench import create_backbone
from acn_bench.backbones.vit import load_timm_state_dict, timm_to_acn_state_dict
from acn_bench.errors import UserError

TOL = 1e-5


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter a seeded non-trivial value (LayerNorm gains around 1), so that parity
    does not hold by accident of an initialisation (zero biases, unit gains, a zero classifier)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            for name, param in sub.named_parameters(recurse=False):
                noise = torch.randn(param.shape, generator=generator)
                gain = isinstance(sub, nn.LayerNorm) and name == "weight"
                param.copy_(1 + 0.1 * noise if gain else 0.1 * noise)
    return module


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------- ViT

VITS = {  # our backbone -> its overrides (the first is vit_tiny as is; the second vit_s16 at 32 px)
    "vit_tiny": {},
    "vit_s16": {"img_size": 32, "depth": 3, "num_classes": 10},
}


def timm_twin(model, *, no_embed_class: bool = True, **overrides) -> VisionTransformer:
    """timm's ``VisionTransformer`` configured as our backbone ``model`` (timm's own default norm:
    LayerNorm with eps 1e-6, exact GELU, qkv bias)."""
    c = model.config
    cls = c["pool"] == "cls"
    kwargs = dict(
        img_size=c["img_size"],
        patch_size=c["patch_size"],
        in_chans=c["in_chans"],
        num_classes=c["num_classes"],
        embed_dim=c["dim"],
        depth=c["depth"],
        num_heads=c["num_heads"],
        mlp_ratio=c["mlp_ratio"],
        qkv_bias=True,
        class_token=cls,
        global_pool="token" if cls else "avg",
        fc_norm=False,
        no_embed_class=no_embed_class,
    )
    timm_model = randomize(VisionTransformer(**{**kwargs, **overrides}))
    if c["pos_embed"] == "sincos":  # timm has no fixed sin-cos embedding: give it ours as its learned one
        with torch.no_grad():
            timm_model.pos_embed.copy_(model.embed.pos_embed)
    return timm_model.eval()


def timm_block_outputs(timm_model: VisionTransformer, images: torch.Tensor) -> list[torch.Tensor]:
    """The token stream after the embedding and after each block (as our ``depth_outputs``)."""
    x = timm_model.norm_pre(timm_model._pos_embed(timm_model.patch_embed(images)))
    outputs = [x]
    for block in timm_model.blocks:
        x = block(x)
        outputs.append(x)
    return outputs


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


@pytest.mark.parametrize(
    "name, no_embed_class",
    [("vit_tiny", True), ("vit_tiny", False), ("vit_s16", True)],  # vit_s16 has no class token: one layout
    ids=["vit_tiny-no_embed_class", "vit_tiny-timm_default_layout", "vit_s16"],
)
def test_residual_vit_equals_timm_vision_transformer(name, no_embed_class):
    model = create_backbone(name, connectivity="residual", **VITS[name]).eval()
    reference = timm_twin(model, no_embed_class=no_embed_class)
    load_timm_state_dict(model, reference.state_dict())
    images = torch.randn(3, model.config["in_chans"], model.config["img_size"], model.config["img_size"])
    with torch.no_grad():
        ours, theirs = model.depth_outputs(images), timm_block_outputs(reference, images)
        assert len(ours) == len(theirs) == model.depth + 1
        for depth, (a, b) in enumerate(zip(ours, theirs)):
            assert max_diff(a, b) < TOL, f"after {depth} blocks"
        assert max_diff(model.head.norm(ours[-1]), reference.forward_features(images)) < TOL
        assert (
            max_diff(
                model.forward_head(ours[-1], pre_logits=True),
                reference.forward_head(reference.forward_features(images), pre_logits=True),
            )
            < TOL
        )
        logits = model(images)
        assert logits.abs().max() > 0.1  # a real comparison, not of two near-zero tensors
        assert max_diff(logits, reference(images)) < TOL


def test_every_vit_layer_norm_has_timms_eps():
    model = create_backbone("vit_tiny")
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * model.depth + 1 and {m.eps for m in norms} == {1e-6}
    assert {m.eps for m in timm_twin(model).modules() if isinstance(m, nn.LayerNorm)} == {1e-6}


def test_parameter_counts_match_timm_up_to_the_folded_class_token_position():
    model = create_backbone("vit_tiny")
    assert n_params(model) == n_params(timm_twin(model, no_embed_class=True))
    assert n_params(model) == n_params(timm_twin(model, no_embed_class=False)) - model.config["dim"]


@pytest.mark.parametrize("connectivity", ["acn", "acn-dg", "plain", "dense", "denseformer"])
def test_every_twin_loads_the_same_timm_weights(connectivity):
    reference = timm_twin(create_backbone("vit_tiny"), no_embed_class=False)
    residual = load_timm_state_dict(create_backbone("vit_tiny", connectivity="residual"), reference.state_dict())
    twin = create_backbone("vit_tiny", connectivity=connectivity)
    own_connectivity = {k: v.clone() for k, v in twin.state_dict().items() if k.startswith("connectivity.")}
    assert load_timm_state_dict(twin, reference.state_dict()) is twin
    state = twin.state_dict()
    for key, value in residual.state_dict().items():
        assert torch.equal(state[key], value), key
    for key, value in own_connectivity.items():  # dense / denseformer keep their own combination weights
        assert torch.equal(state[key], value), key


def test_the_mapping_names_ours_and_leaves_the_classifier_out_on_request():
    model = create_backbone("vit_tiny")
    reference = timm_twin(model, num_classes=5)
    mapped = timm_to_acn_state_dict(reference.state_dict(), model, classifier=False)
    assert set(mapped) == set(model.state_dict()) - {"head.fc.weight", "head.fc.bias"}
    assert torch.equal(mapped["blocks.1.sublayers.0.fn.qkv.weight"], reference.blocks[1].attn.qkv.weight)
    assert torch.equal(mapped["blocks.1.sublayers.1.norm.bias"], reference.blocks[1].norm2.bias)
    classifier = model.head.fc.weight.clone()
    load_timm_state_dict(model, reference.state_dict(), classifier=False)
    assert torch.equal(model.head.fc.weight, classifier)
    assert torch.equal(model.head.norm.weight, reference.norm.weight)


def _drop(state: dict, key: str) -> dict:
    return {k: v for k, v in state.items() if k != key}


@pytest.mark.parametrize(
    "name, overrides, edit, message",
    [
        ("vit_tiny", {"depth": 7}, None, r"unexpected keys \(timm\): blocks\.6\.norm1\.weight"),
        ("vit_tiny", {}, "drop", r"missing keys \(ours\): blocks\.2\.sublayers\.1\.fn\.fc2\.bias"),
        (
            "vit_tiny",
            {"num_classes": 5},
            None,
            r"shape mismatches: head\.weight \(5, 64\) -> head\.fc\.weight \(10, 64\)",
        ),
        ("vit_tiny", {"embed_dim": 32, "num_heads": 2}, None, r"patch_embed\.proj\.weight \(32, 3, 4, 4\)"),
        ("vit_tiny", {"init_values": 1e-5}, None, r"blocks\.0\.ls1\.gamma.*layer scale"),
        ("vit_tiny", {"qk_norm": True}, None, r"blocks\.0\.attn\.q_norm\.weight.*qk_norm"),
        ("vit_s16", {"fc_norm": None}, None, r"fc_norm\.weight.*fc_norm=False"),
        ("vit_s16", {}, "pos", r"pos_embed \(1, 4, 384\) is not this model's fixed sin-cos embedding"),
        ("vit_s16", {}, "drop_pos", r"no pos_embed, but this model adds a fixed sin-cos position embedding"),
    ],
)
def test_a_timm_state_dict_that_does_not_fit_is_refused_by_name(name, overrides, edit, message):
    model = create_backbone(name, **VITS[name])
    state = timm_twin(model, **overrides).state_dict()
    if edit == "drop":
        state = _drop(state, "blocks.2.mlp.fc2.bias")
    elif edit == "pos":
        state["pos_embed"] = state["pos_embed"] + 0.01
    elif edit == "drop_pos":
        state = _drop(state, "pos_embed")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UserError, match=message):
        load_timm_state_dict(model, state)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing half-loaded


def test_only_a_vit_takes_timm_vit_weights():
    with pytest.raises(UserError, match="'mixer_tiny' is not a ViT backbone"):
        load_timm_state_dict(create_backbone("mixer_tiny"), {})


# --------------------------------------------------------------------------------------------- BERT

BERT_TINY = dict(depth=2, dim=64, num_heads=4, hidden=128, vocab_size=1000, max_len=128)


@pytest.fixture
def modeling_bert():
    """``transformers.models.bert.modeling_bert`` (transformers is a dev dependency)."""
    return pytest.importorskip("transformers.models.bert.modeling_bert", reason="transformers is not installed")


def bert_config(modeling_bert, attn_implementation: str = "eager"):
    c = BERT_TINY
    return modeling_bert.BertConfig(
        vocab_size=c["vocab_size"],
        hidden_size=c["dim"],
        num_hidden_layers=c["depth"],
        num_attention_heads=c["num_heads"],
        intermediate_size=c["hidden"],
        max_position_embeddings=c["max_len"],
        hidden_act="gelu",
        pad_token_id=0,
        attn_implementation=attn_implementation,
    )


def layer_state(hf: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    """Hugging Face ``BertLayer`` weights under our ``BertBlock`` names (q, k, v fused in that order)."""
    a = f"{prefix}attention."
    qkv = [f"{a}self.{part}" for part in ("query", "key", "value")]
    return {
        "attn.qkv.weight": torch.cat([hf[f"{p}.weight"] for p in qkv]),
        "attn.qkv.bias": torch.cat([hf[f"{p}.bias"] for p in qkv]),
        "attn.proj.weight": hf[f"{a}output.dense.weight"],
        "attn.proj.bias": hf[f"{a}output.dense.bias"],
        "norm1.weight": hf[f"{a}output.LayerNorm.weight"],
        "norm1.bias": hf[f"{a}output.LayerNorm.bias"],
        "ffn.fc1.weight": hf[f"{prefix}intermediate.dense.weight"],
        "ffn.fc1.bias": hf[f"{prefix}intermediate.dense.bias"],
        "ffn.fc2.weight": hf[f"{prefix}output.dense.weight"],
        "ffn.fc2.bias": hf[f"{prefix}output.dense.bias"],
        "norm2.weight": hf[f"{prefix}output.LayerNorm.weight"],
        "norm2.bias": hf[f"{prefix}output.LayerNorm.bias"],
    }


def model_state(hf: dict) -> dict[str, torch.Tensor]:
    """Hugging Face ``BertModel`` weights (embeddings, layers, pooler) under our names."""
    e = "embeddings."
    state = {
        "embed.word.weight": hf[f"{e}word_embeddings.weight"],
        "embed.position.weight": hf[f"{e}position_embeddings.weight"],
        "embed.segment.weight": hf[f"{e}token_type_embeddings.weight"],
        "embed.norm.weight": hf[f"{e}LayerNorm.weight"],
        "embed.norm.bias": hf[f"{e}LayerNorm.bias"],
        "head.pooler.weight": hf["pooler.dense.weight"],
        "head.pooler.bias": hf["pooler.dense.bias"],
    }
    for i in range(BERT_TINY["depth"]):
        state.update({f"blocks.{i}.{k}": v for k, v in layer_state(hf, f"encoder.layer.{i}.").items()})
    return state


def padded_ids(lengths=(12, 9, 5), sep_at=4) -> torch.Tensor:
    """Token ids ``B x 12`` above the special ids, a ``[SEP]`` (3) in each row and padding (0) after ``lengths``."""
    ids = torch.randint(
        5, BERT_TINY["vocab_size"], (len(lengths), max(lengths)), generator=torch.Generator().manual_seed(1)
    )
    ids[:, sep_at] = 3
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    return ids


def test_residual_bert_layer_equals_hugging_face_bert_layer(modeling_bert):
    model = create_backbone("bert_tiny", connectivity="residual", **BERT_TINY).eval()
    config = bert_config(modeling_bert)
    reference = randomize(modeling_bert.BertLayer(config)).eval()
    block = model.blocks[0]
    block.load_state_dict(layer_state(reference.state_dict()))  # strict: every parameter has its counterpart
    assert {m.eps for m in block.modules() if isinstance(m, nn.LayerNorm)} == {config.layer_norm_eps}
    x = torch.randn(3, 12, BERT_TINY["dim"], generator=torch.Generator().manual_seed(2))
    mask = padded_ids() != 0
    additive = (~mask)[:, None, None, :].float() * torch.finfo(torch.float32).min  # BertModel's extended mask
    with torch.no_grad():
        ours, theirs = block(x, residual=True, mask=mask), reference(x, attention_mask=additive)
    assert ours.abs().max() > 0.1 and max_diff(ours, theirs) < TOL


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_residual_bert_equals_hugging_face_bert_model(modeling_bert, attn_implementation):
    model = create_backbone("bert_tiny", connectivity="residual", **BERT_TINY).eval()
    config = bert_config(modeling_bert, attn_implementation)
    reference = randomize(modeling_bert.BertModel(config, add_pooling_layer=True)).eval()
    missing, unexpected = model.load_state_dict(model_state(reference.state_dict()), strict=False)
    assert set(missing) == {"head.fc.weight", "head.fc.bias"} and not unexpected  # the task classifier is ours
    ids = padded_ids()
    with torch.no_grad():
        out = reference(input_ids=ids, attention_mask=(ids != 0).long(), token_type_ids=model.embed.segments(ids))
        ours = model.forward_features(ids)
        assert max_diff(model.embed(ids), reference.embeddings(ids, token_type_ids=model.embed.segments(ids))) < TOL
        assert max_diff(ours, out.last_hidden_state) < TOL
        assert max_diff(model.forward_head(ours, pre_logits=True), out.pooler_output) < TOL
