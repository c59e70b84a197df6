"""Unstructured pruning of a backbone with ``torch.nn.utils.prune``: global magnitude and movement.

* magnitude: remove the fraction ``sparsity`` of all prunable weights with the smallest |w|;
* movement (Sanh et al.): accumulate ``S = -sum_t w * dL/dw`` while fine-tuning and mask, in every
  layer, the weights with the lowest scores (weights that moved towards zero), gradually.

Prunable weights are those of every ``Linear`` and ``Conv2d`` layer of the model.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import nn
from torch.nn.utils import prune

from acn_bench.errors import require

PRUNE_METHODS = ("magnitude", "movement")


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(module, "weight")`` for every Linear and Conv2d layer."""
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def check_sparsity(sparsity: float) -> None:
    """Sparsity is a fraction in [0, 1)."""
    require(isinstance(sparsity, (int, float)) and 0 <= sparsity < 1, f"sparsity must be in [0, 1), got {sparsity!r}.")


def magnitude_prune(model: nn.Module, sparsity: float) -> None:
    """Global L1 (magnitude) pruning of ``sparsity`` of the prunable weights, in place (masks stay attached)."""
    check_sparsity(sparsity)
    prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=float(sparsity))


class MovementScores:
    """Accumulates movement scores ``-w * grad`` of every prunable weight through gradient hooks."""

    def __init__(self, model: nn.Module) -> None:
        self.scores = {}
        self._handles = []
        for module, name in prunable(model):
            weight = getattr(module, name)
            self.scores[(module, name)] = torch.zeros_like(weight, dtype=torch.float32)
            self._handles.append(weight.register_hook(self._accumulate(module, name, weight)))

    def _accumulate(self, module: nn.Module, name: str, weight: torch.Tensor):
        def hook(grad: torch.Tensor) -> None:
            self.scores[(module, name)] -= (weight.detach() * grad).float()

        return hook

    def close(self) -> None:
        """Stop collecting."""
        for handle in self._handles:
            handle.remove()


class GradualMovementPruning:
    """Movement pruning during fine-tuning with a cubic sparsity schedule (Sanh et al., 2020).

    Call :meth:`step` after every optimiser step (``Trainer(on_step=...)``). Every
    ``update_every`` steps the target sparsity ``s_f * (1 - (1 - t / T)^3)`` is applied: in every
    layer the weights with the lowest accumulated scores are masked (movement scores scale with
    each layer's gradients, so they are ranked within each layer; a global ranking would empty
    whole layers). Masks only grow, and the remaining weights keep training.
    """

    def __init__(self, model: nn.Module, sparsity: float, total_steps: int, updates: int = 20) -> None:
        check_sparsity(sparsity)
        self.model = model
        self.sparsity = float(sparsity)
        self.total_steps = max(1, total_steps)
        self.update_every = max(1, self.total_steps // updates)
        self.scores = MovementScores(model)

    def target(self, step: int) -> float:
        """Sparsity the schedule asks for after ``step`` steps."""
        return self.sparsity * (1 - (1 - min(step, self.total_steps) / self.total_steps) ** 3)

    def step(self, step: int) -> None:
        """Apply the schedule's sparsity when an update is due (always at the last step)."""
        if step % self.update_every and step < self.total_steps:
            return
        target = self.target(step)
        for (module, name), score in self.scores.scores.items():
            count = int(round(target * score.numel()))
            if count == 0:
                continue
            mask = getattr(module, f"{name}_mask", None)
            ranked = score if mask is None else score.masked_fill(mask == 0, float("-inf"))  # pruned stay pruned
            keep = torch.ones(score.numel(), dtype=score.dtype, device=score.device)
            keep[ranked.flatten().argsort()[:count]] = 0  # exactly `count` lowest, ties included
            prune.custom_from_mask(module, name, mask=keep.view_as(score))
        if step >= self.total_steps:
            self.scores.close()


def _weights(model: nn.Module) -> Iterator[torch.Tensor]:
    for module, name in prunable(model):
        yield getattr(module, name)


def sparsity_of(model: nn.Module) -> float:
    """Fraction of prunable weights that are exactly zero."""
    total = zeros = 0
    for weight in _weights(model):
        total += weight.numel()
        zeros += int((weight == 0).sum())
    return zeros / max(total, 1)


def nonzero_params(model: nn.Module) -> int:
    """Number of non-zero parameter values (pruned weights count as zero)."""
    count = sum(int((p != 0).sum()) for name, p in model.named_parameters() if not name.endswith("weight_orig"))
    return count + sum(int((w != 0).sum()) for w in _weights(model) if not isinstance(w, nn.Parameter))
