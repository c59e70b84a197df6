"""Per-block gradient norms, computed on the device without a host synchronisation."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from acn_bench.backbones.base import Backbone


@dataclass(frozen=True)
class ParameterGroups:
    """A backbone's parameters listed once: per block, and the rest (embedding, head, final norm).

    Walking the module tree costs milliseconds per call on the small presets; a training step that
    reads gradients per block uses these lists instead.
    """

    blocks: tuple[tuple[torch.nn.Parameter, ...], ...]
    rest: tuple[torch.nn.Parameter, ...]

    @classmethod
    def of(cls, model: Backbone) -> ParameterGroups:
        """The groups of ``model``'s parameters (those that require gradients or not)."""
        blocks = tuple(tuple(block.parameters()) for block in model.blocks)
        in_blocks = {id(p) for block in blocks for p in block}
        return cls(blocks, tuple(p for p in model.parameters() if id(p) not in in_blocks))

    @cached_property
    def all(self) -> list[torch.nn.Parameter]:
        """Every parameter, blocks first."""
        return [p for block in self.blocks for p in block] + list(self.rest)

    @cached_property
    def owners(self) -> list[int]:
        """For every parameter of :attr:`all`, its block's index (``len(blocks)`` for the rest)."""
        return [i for i, block in enumerate(self.blocks) for _ in block] + [len(self.blocks)] * len(self.rest)


def block_grad_norms(model: Backbone) -> torch.Tensor:
    """L2 norm of the gradient of every block's parameters (a length-L tensor, no host sync)."""
    return gradient_norms(ParameterGroups.of(model))[0]


def gradient_norms(groups: ParameterGroups) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient's L2 norm per block (length L) and over all parameters, each gradient read once.

    One fused ``foreach`` norm over every gradient (the kernel ``clip_grad_norm_`` uses), whose squares
    are summed per block: four tensor operations per step whatever the depth. The total is what
    clipping needs (:func:`torch.nn.utils.clip_grads_with_norm_`), so nothing is reduced twice.
    """
    depth = len(groups.blocks)
    present = [(p.grad, owner) for p, owner in zip(groups.all, groups.owners) if p.grad is not None]
    device = groups.blocks[0][0].device
    squares = torch.zeros(depth + 1, device=device)
    if present:
        norms = torch.stack(torch._foreach_norm([grad for grad, _ in present])).float()
        index = torch.tensor([owner for _, owner in present], device=device)
        squares.index_add_(0, index, norms.square())
    return squares[:depth].sqrt(), squares.sum().sqrt()
