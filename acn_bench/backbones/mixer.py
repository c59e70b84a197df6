"""MLP-Mixer (Tolstikhin et al.) with a CLS token, as in the ACN paper's CIFAR experiments.

Blocks follow timm's naming (``norm1``/``mlp_tokens``/``norm2``/``mlp_channels``) but hold no
residual: the connectivity decides how blocks and sub-layers are combined (arXiv 2506.09714, §3).
"""

from __future__ import annotations

import torch
from timm.layers import Mlp, PatchEmbed
from torch import nn

from acn_bench.backbones.base import Backbone, Block, Head, PreNorm
from acn_bench.backbones.connectivity import make_connectivity
from acn_bench.backbones.validation import check_architecture


class TokenLinear(nn.Linear):
    """A ``Linear`` over the token axis: ``B x N x D -> B x N' x D``, ``W x_b + b`` for every sample.

    The same parameters (and names) as ``nn.Linear(N, N')`` applied to the transposed tokens, computed
    as one batched matmul on the tokens as they lie (no transposed copies forward or backward, and a
    contiguous output). Still a ``Linear``, called as a module: pruning's masks apply to it.
    """

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> TokenLinear:
        """A token-axis layer that takes over ``linear``'s parameters (consumes no random numbers)."""
        with torch.device("meta"):
            new = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        new.weight, new.bias = linear.weight, linear.bias
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.bmm(self.weight.expand(x.shape[0], -1, -1), x)
        return out if self.bias is None else out.add_(self.bias.unsqueeze(-1))


class TokenMixing(nn.Module):
    """An MLP across tokens (``N -> hidden -> N``), applied to each channel (timm's ``Mlp`` on the
    transposed tokens, its two layers acting on the token axis directly)."""

    def __init__(self, num_tokens: int, hidden: int) -> None:
        super().__init__()
        self.mlp = Mlp(num_tokens, hidden, act_layer=nn.GELU)
        self.mlp.fc1 = TokenLinear.from_linear(self.mlp.fc1)
        self.mlp.fc2 = TokenLinear.from_linear(self.mlp.fc2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class MixerOutput(nn.Module):
    """The official code's layer ending ``LN(ReLU(Linear(h) + x_in))`` (option ``mixer_output_block``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: torch.Tensor, x_in: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.relu(self.fc(h) + x_in))


class MixerEmbed(nn.Module):
    """Patch embedding followed by a learnable CLS token (init N(0, 1)); no position embedding."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.patch = PatchEmbed(img_size, patch_size, in_chans, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))

    @property
    def num_tokens(self) -> int:
        return self.patch.num_patches + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x)
        return torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)


def mixer_block(num_tokens: int, dim: int, token_hidden: int, channel_hidden: int, output_block: bool) -> Block:
    """One Mixer layer: token mixing, channel mixing and optionally the official output stage."""
    token = PreNorm(nn.LayerNorm(dim), TokenMixing(num_tokens, token_hidden))
    channel = PreNorm(nn.LayerNorm(dim), Mlp(dim, channel_hidden, act_layer=nn.GELU))
    return Block([token, channel], MixerOutput(dim) if output_block else None)


def build_mixer(
    *,
    connectivity: str = "residual",
    num_classes: int = 10,
    img_size: int = 32,
    in_chans: int = 3,
    patch_size: int = 4,
    depth: int = 16,
    dim: int = 128,
    token_hidden: int = 64,
    channel_hidden: int = 512,
    mixer_output_block: bool = True,
    name: str = "mixer",
) -> Backbone:
    """Build an MLP-Mixer backbone with the given connectivity.

    Args:
        connectivity: one of ``residual``, ``acn``, ``acn-dg``, ``dense``, ``denseformer``, ``plain``.
        num_classes: classifier outputs.
        img_size, in_chans, patch_size: input geometry; ``patch_size`` must divide ``img_size``.
        depth: number of Mixer layers L.
        dim: token width d.
        token_hidden, channel_hidden: widths DS and DC of the token- and channel-mixing MLPs.
        mixer_output_block: end every layer with ``LN(ReLU(Linear(h) + x_in))`` as the official code.
        name: registry name stored in the model's config.
    """
    check_architecture(depth=depth, dim=dim, img_size=img_size, patch_size=patch_size, num_classes=num_classes)
    embed = MixerEmbed(img_size, patch_size, in_chans, dim)
    blocks = nn.ModuleList(
        mixer_block(embed.num_tokens, dim, token_hidden, channel_hidden, mixer_output_block) for _ in range(depth)
    )
    config = dict(
        name=name,
        family="mixer",
        num_classes=num_classes,
        img_size=img_size,
        in_chans=in_chans,
        patch_size=patch_size,
        dim=dim,
        token_hidden=token_hidden,
        channel_hidden=channel_hidden,
        mixer_output_block=mixer_output_block,
    )
    return Backbone(embed, blocks, make_connectivity(connectivity, depth, dim), Head(dim, num_classes, "cls"), config)
