"""Vision Transformer with residual-free blocks ``MLP(LN2(MHA(LN1(x))))`` (arXiv 2506.09714, §3).

Blocks use timm's ``Attention`` and ``Mlp`` with timm's naming; the residual twin adds the usual
pre-LN residual around each sub-layer through ``Block(residual=True)``. With the same weights the
residual twin computes what timm's ``VisionTransformer`` does when that is built with
``no_embed_class=True`` and ``fc_norm=False`` (``tests/test_parity.py``); :func:`load_timm_state_dict`
loads a timm ``VisionTransformer.state_dict()`` (either class-token layout) into any twin.
"""

from __future__ import annotations

import re
from typing import Mapping

import torch
from timm.layers import Attention, Mlp, PatchEmbed, build_sincos2d_pos_embed, trunc_normal_
from torch import nn

from acn_bench.backbones.base import Backbone, Block, Head, PreNorm
from acn_bench.backbones.connectivity import make_connectivity
from acn_bench.backbones.validation import check_architecture
from acn_bench.errors import UserError, require

LN_EPS = 1e-6  # every LayerNorm of timm's and the original ViT, the final one included


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
    attn = PreNorm(nn.LayerNorm(dim, eps=LN_EPS), Attention(dim, num_heads=num_heads, qkv_bias=True))
    mlp = PreNorm(nn.LayerNorm(dim, eps=LN_EPS), Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU))
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
    head.norm.eps = LN_EPS  # Head's norm has torch's default eps (1e-5); ViT's final norm has 1e-6 (no new parameters)
    return Backbone(embed, blocks, make_connectivity(connectivity, depth, dim), head, config)


# timm's names -> ours. Block parts: norm1/attn are the first sub-layer's norm/fn, norm2/mlp the second's.
_TIMM_TOP = {
    "cls_token": "embed.cls_token",
    "pos_embed": "embed.pos_embed",
    "patch_embed.": "embed.patch.",
    "norm.": "head.norm.",
    "head.": "head.fc.",
}
_TIMM_BLOCK = {
    "norm1": "sublayers.0.norm",
    "attn": "sublayers.0.fn",
    "norm2": "sublayers.1.norm",
    "mlp": "sublayers.1.fn",
}
_TIMM_HINTS = {
    "fc_norm.": "timm's fc_norm (its default with global_pool='avg') normalises after pooling, this model before: "
    "build the timm model with fc_norm=False",
    ".ls1.": "layer scale (init_values) has no counterpart here",
    ".ls2.": "layer scale (init_values) has no counterpart here",
    "q_norm.": "qk_norm has no counterpart here",
    "k_norm.": "qk_norm has no counterpart here",
    "reg_token": "register tokens have no counterpart here",
    "norm_pre.": "a pre-norm (pre_norm=True) has no counterpart here",
    "attn_pool.": "attention pooling (global_pool='map') has no counterpart here",
    "cls_token": "this model pools by averaging and has no class token (pool='avg')",
}


def _timm_key(key: str) -> str | None:
    """Our name for timm's ``key``, or None when it has no counterpart."""
    block = re.fullmatch(r"blocks\.(\d+)\.([a-z0-9_]+)\.(.+)", key)
    if block:
        index, part, rest = block.groups()
        return f"blocks.{index}.{_TIMM_BLOCK[part]}.{rest}" if part in _TIMM_BLOCK else None
    for prefix, ours in _TIMM_TOP.items():
        if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
            return ours + key[len(prefix) :]
    return None


def timm_to_acn_state_dict(
    timm_state: Mapping[str, torch.Tensor], model: Backbone, *, classifier: bool = True
) -> dict[str, torch.Tensor]:
    """Map a timm ``VisionTransformer.state_dict()`` onto ``model``'s parameter names (any connectivity).

    Renames ``patch_embed``, ``cls_token``, ``pos_embed``, ``blocks.i.{norm1,attn,norm2,mlp}``,
    ``norm`` and ``head``. timm's original layout (``no_embed_class=False``) keeps a position for the
    class token, to which this model adds nothing: that position is added into the class token, which
    computes exactly the same. A model with a fixed sin-cos embedding accepts a ``pos_embed`` only if
    it equals its own. The connectivity's own parameters (``dense``, ``denseformer``) have no timm
    counterpart and are left out; ``classifier=False`` leaves the classifier out too (other classes).

    Raises:
        UserError: naming every missing or unexpected key and every shape that does not match.
    """
    require(model.config.get("family") == "vit", f"{model.config.get('name')!r} is not a ViT backbone.")
    own = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    unexpected = []
    for key, value in timm_state.items():
        ours = _timm_key(key)
        if ours is None or (ours not in own and ours != "embed.pos_embed"):
            unexpected.append(key)
        elif classifier or not ours.startswith("head.fc."):
            mapped[ours], origin[ours] = value, key
    problems = []
    pos = mapped.get("embed.pos_embed")
    own_pos = model.embed.pos_embed
    if pos is not None and pos.dim() == 3 and "embed.cls_token" in mapped and pos.shape[1] == own_pos.shape[1] + 1:
        mapped["embed.cls_token"] = mapped["embed.cls_token"] + pos[:, :1]  # no_embed_class=False: fold it in
        mapped["embed.pos_embed"] = pos = pos[:, 1:]
    if "embed.pos_embed" not in own:  # fixed sin-cos position embedding: a buffer, not a parameter
        if pos is None:
            problems.append("no pos_embed, but this model adds a fixed sin-cos position embedding")
        elif pos.shape != own_pos.shape or not torch.allclose(pos.to(own_pos), own_pos, atol=1e-6):
            problems.append(f"pos_embed {tuple(pos.shape)} is not this model's fixed sin-cos embedding")
        mapped.pop("embed.pos_embed", None)
    wanted = [k for k in own if not k.startswith("connectivity.") and (classifier or not k.startswith("head.fc."))]
    missing = [k for k in wanted if k not in mapped]
    shapes = [
        f"{origin[k]} {tuple(v.shape)} -> {k} {tuple(own[k].shape)}"
        for k, v in mapped.items()
        if v.shape != own[k].shape
    ]
    if missing:
        problems.append(f"missing keys (ours): {', '.join(missing)}")
    if unexpected:
        hints = sorted({hint for key in unexpected for pattern, hint in _TIMM_HINTS.items() if pattern in key})
        problems.append(f"unexpected keys (timm): {', '.join(unexpected)}" + "".join(f"; {h}" for h in hints))
    if shapes:
        problems.append(f"shape mismatches: {', '.join(shapes)}")
    if problems:
        raise UserError(f"the timm state dict does not fit {model.config.get('name')!r}: " + "; ".join(problems) + ".")
    return mapped


def load_timm_state_dict(
    model: Backbone, timm_state: Mapping[str, torch.Tensor], *, classifier: bool = True
) -> Backbone:
    """Load a timm ``VisionTransformer.state_dict()`` into ``model`` (see :func:`timm_to_acn_state_dict`)
    and return the model. The residual twin then computes what the timm model computes."""
    model.load_state_dict(timm_to_acn_state_dict(timm_state, model, classifier=classifier), strict=False)
    return model
