"""Vision Transformer with residual-free blocks ``MLP(LN2(MHA(LN1(x))))`` (SPEC.md §2).

Blocks use timm's ``Attention`` and ``Mlp`` with timm's naming; the residual twin adds the usual
pre-LN residual around each sub-layer through ``Block(residual=True)``.
"""

from __future__ import annotations

import torch
from timm.layers import Attention, Mlp, PatchEmbed, build_sincos2d_pos_embed, trunc_normal_
from torch import nn

from acn_bench.backbones.base import Backbone, Block, Head, PreNorm
from acn_bench.backbones.connectivity import make_connectivity
from acn_bench.backbones.validation import check_architecture
from acn_bench.errors import require


class ViTEmbed(nn.Module):
    """Patch embedding, optional CLS token and a learned or fixed 2-D sin-cos position embedding."""

    def __init__(
        self, img_size: int, patch_size: int, in_chans: int, dim: int, cls_token: bool, pos_embed: str
    ) -> None:
        super().__init__()
        self.patch = PatchEmbed(img_size, patch_size, in_chans, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None
        grid = self.patch.grid_size
        if pos_embed == "learn":
            self.pos_embed = nn.Parameter(trunc_normal_(torch.zeros(1, grid[0] * grid[1], dim), std=0.02))
        else:
            self.register_buffer("pos_embed", build_sincos2d_pos_embed(list(grid), dim).unsqueeze(0), persistent=False)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x) + self.pos_embed
        if self.cls_token is None:
            return tokens
        return torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)


def vit_block(dim: int, num_heads: int, mlp_ratio: float) -> Block:
    """One transformer layer: attention then MLP, each behind its own LayerNorm."""
    attn = PreNorm(nn.LayerNorm(dim, eps=1e-6), Attention(dim, num_heads=num_heads, qkv_bias=True))
    mlp = PreNorm(nn.LayerNorm(dim, eps=1e-6), Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU))
    return Block([attn, mlp])


def build_vit(
    *,
    connectivity: str = "residual",
    num_classes: int = 1000,
    img_size: int = 224,
    in_chans: int = 3,
    patch_size: int = 16,
    depth: int = 12,
    dim: int = 768,
    num_heads: int = 12,
    mlp_ratio: float = 4.0,
    pool: str = "cls",
    pos_embed: str = "learn",
    zero_init_head: bool = False,
    name: str = "vit",
) -> Backbone:
    """Build a ViT backbone with the given connectivity.

    Args:
        connectivity: one of ``residual``, ``acn``, ``acn-dg``, ``dense``, ``denseformer``, ``plain``.
        pool: ``cls`` (CLS token, as ViT-B/16) or ``avg`` (global average pooling, no CLS token,
            as the official code's ViT-S/16).
        pos_embed: ``learn`` (learned) or ``sincos`` (fixed 2-D sin-cos).
        zero_init_head: start the classifier at zero (official ViT-S/16).
    """
    check_architecture(depth=depth, dim=dim, img_size=img_size, patch_size=patch_size, num_classes=num_classes)
    require(pool in ("cls", "avg"), f"unknown pool {pool!r}; accepted: cls, avg.")
    require(pos_embed in ("learn", "sincos"), f"unknown pos_embed {pos_embed!r}; accepted: learn, sincos.")
    require(dim % num_heads == 0, f"dim {dim} must be divisible by num_heads {num_heads}.")
    embed = ViTEmbed(img_size, patch_size, in_chans, dim, cls_token=pool == "cls", pos_embed=pos_embed)
    blocks = nn.ModuleList(vit_block(dim, num_heads, mlp_ratio) for _ in range(depth))
    config = dict(
        name=name,
        family="vit",
        num_classes=num_classes,
        img_size=img_size,
        in_chans=in_chans,
        patch_size=patch_size,
        dim=dim,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        pool=pool,
        pos_embed=pos_embed,
    )
    head = Head(dim, num_classes, pool, zero_init=zero_init_head)
    return Backbone(embed, blocks, make_connectivity(connectivity, depth, dim), head, config)
