"""Unstructured pruning of a backbone's blocks with ``torch.nn.utils.prune``: global magnitude and random.

* ``magnitude``: remove the fraction ``sparsity`` of all prunable weights with the smallest |w|,
  ranked globally (so layers end up with different sparsities);
* ``random``: the baseline. Every layer loses, at random (seeded), exactly as many weights as
  global magnitude pruning of the same model at the same sparsity removes from it: the same
  per-layer sparsities, but weights chosen regardless of their value. A method that does not beat
  it has not shown that it picks the right weights.

What is pruned: the weights of every ``Linear`` and ``Conv2d`` layer inside the backbone's blocks
(``model.blocks``). The embedding (patch / token embedding), the connectivity's own parameters and
the shared head (norm and classifier) stay dense: they are small and pruning them hurts
disproportionately, and the twins differ only in how the blocks are combined, so the blocks are
what is compared. Biases and norms are never pruned. :func:`nonzero_params` still counts every
parameter of the model.

Masks stay attached (``weight = weight_orig * weight_mask``), so fine-tuning keeps pruned weights
at zero.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune

from acn_bench.backbones import Backbone
from acn_bench.errors import require, unknown_choice

PRUNE_METHODS = ("magnitude", "random")


def prunable(model: Backbone) -> list[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every Linear and Conv2d layer inside ``model.blocks``, in order."""
    return [
        (f"blocks.{name}", module)
        for name, module in model.blocks.named_modules()
        if isinstance(module, (nn.Linear, nn.Conv2d))
    ]


def check_sparsity(sparsity: float) -> None:
    """Sparsity is a fraction in [0, 1)."""
    require(isinstance(sparsity, (int, float)) and 0 <= sparsity < 1, f"sparsity must be in [0, 1), got {sparsity!r}.")


def magnitude_masks(model: Backbone, sparsity: float) -> list[torch.Tensor]:
    """The masks (1 keep, 0 prune) of global magnitude pruning of ``sparsity``, one per prunable layer.

    Exactly ``round(sparsity * n)`` of the ``n`` prunable weights are removed: those with the
    smallest |w| over all blocks together (ties broken by ``torch.topk``). The model is not changed.
    """
    check_sparsity(sparsity)
    weights = [module.weight.detach() for _, module in prunable(model)]
    if not weights:  # a model truncated to 0 blocks
        return []
    scores = torch.cat([w.abs().flatten().float() for w in weights])
    keep = torch.ones_like(scores)
    count = round(float(sparsity) * scores.numel())
    if count:
        keep[torch.topk(scores, count, largest=False).indices] = 0
    return [mask.view_as(w).to(w.dtype) for mask, w in zip(keep.split([w.numel() for w in weights]), weights)]


def random_masks(model: Backbone, sparsity: float, seed: int) -> list[torch.Tensor]:
    """Random masks with the per-layer sparsities of :func:`magnitude_masks` (``seed``: same seed, same masks).

    Layer by layer, a permutation drawn from one CPU generator seeded with ``seed`` picks the pruned
    weights, so the masks do not depend on the device, and at a higher sparsity every weight pruned
    at a lower one stays pruned.
    """
    generator = torch.Generator().manual_seed(seed)
    masks = []
    for magnitude in magnitude_masks(model, sparsity):
        keep = torch.ones(magnitude.numel(), dtype=magnitude.dtype)
        keep[torch.randperm(magnitude.numel(), generator=generator)[: int((magnitude == 0).sum())]] = 0
        masks.append(keep.view_as(magnitude).to(magnitude.device))
    return masks


def prune_model(model: Backbone, method: str, sparsity: float, seed: int = 0) -> list[float]:
    """Prune ``model``'s blocks in place with ``method`` (:data:`PRUNE_METHODS`); the per-layer sparsities.

    ``seed`` draws the random masks (unused by magnitude pruning).
    """
    if method not in PRUNE_METHODS:
        raise unknown_choice("pruning method", method, PRUNE_METHODS)
    masks = magnitude_masks(model, sparsity) if method == "magnitude" else random_masks(model, sparsity, seed)
    for (_, module), mask in zip(prunable(model), masks):
        prune.custom_from_mask(module, "weight", mask=mask)
    return layer_sparsities(model)


def layer_sparsities(model: Backbone) -> list[float]:
    """Fraction of exactly-zero weights in every prunable layer, in :func:`prunable` order."""
    return [float((module.weight == 0).sum()) / module.weight.numel() for _, module in prunable(model)]


def sparsity_of(model: Backbone) -> float:
    """Fraction of the blocks' prunable weights that are exactly zero."""
    weights = [module.weight for _, module in prunable(model)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / max(sum(w.numel() for w in weights), 1)


def nonzero_params(model: nn.Module) -> int:
    """Number of non-zero parameter values of the whole model (a pruned weight counts with its mask applied)."""
    count = 0
    for name, param in model.named_parameters():
        owner, _, attr = name.rpartition(".")
        module = model.get_submodule(owner)
        base = attr.removesuffix("_orig")
        value = getattr(module, base) if attr != base and hasattr(module, f"{base}_mask") else param
        count += int((value != 0).sum())
    return count
