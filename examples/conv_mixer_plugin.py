"""Example submission: a ConvMixer-style backbone registered for acn-bench.

Submit it with::

    acn-bench submit --plugin examples/conv_mixer_plugin.py --backbone convmixer_tiny --suite compression

(``--profile smoke`` makes it a run of seconds.)

The contract (see leaderboards/README.md): a factory taking keyword arguments (``connectivity``,
``num_classes``, ``img_size``, ``in_chans``, ``depth``, ...) that returns an
``acn_bench.Backbone`` built from an embedding, blocks WITHOUT residuals of their own, a
connectivity from ``make_connectivity`` and a shared ``Head``. acn-bench then runs the residual
and ACN twins of it, probes every depth and truncates it.
"""

from __future__ import annotations

import torch
from torch import nn

from acn_bench import Backbone, register_backbone
from acn_bench.backbones import Block, Head, PreNorm, make_connectivity


class TokensToGrid(nn.Module):
    """Depthwise convolution over the token grid (tokens ``B x N x D`` with N = side * side)."""

    def __init__(self, dim: int, side: int, kernel: int) -> None:
        super().__init__()
        self.side = side
        self.conv = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        grid = x.transpose(1, 2).reshape(batch, dim, self.side, self.side)
        return torch.nn.functional.gelu(self.conv(grid)).flatten(2).transpose(1, 2)


class PatchTokens(nn.Module):
    """Non-overlapping patches as tokens."""

    def __init__(self, in_chans: int, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


@register_backbone("convmixer_tiny")
def convmixer_tiny(
    *,
    connectivity: str = "residual",
    num_classes: int = 10,
    img_size: int = 32,
    in_chans: int = 3,
    depth: int = 4,
    dim: int = 32,
    patch_size: int = 4,
    kernel: int = 3,
) -> Backbone:
    """A tiny ConvMixer-like backbone: depthwise-conv and pointwise sub-layers, average pooling."""
    side = img_size // patch_size
    blocks = nn.ModuleList(
        Block(
            [
                PreNorm(nn.LayerNorm(dim), TokensToGrid(dim, side, kernel)),
                PreNorm(nn.LayerNorm(dim), nn.Sequential(nn.Linear(dim, dim), nn.GELU())),
            ]
        )
        for _ in range(depth)
    )
    config = {
        "family": "convmixer",
        "num_classes": num_classes,
        "img_size": img_size,
        "in_chans": in_chans,
        "patch_size": patch_size,
        "dim": dim,
        "kernel": kernel,
    }
    return Backbone(
        PatchTokens(in_chans, dim, patch_size),
        blocks,
        make_connectivity(connectivity, depth, dim),
        Head(dim, num_classes, pool="avg"),
        config,
    )
