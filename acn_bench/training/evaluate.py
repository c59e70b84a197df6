"""Test-set evaluation with per-depth probing through the shared head."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Iterable

import torch

from acn_bench.backbones.base import Backbone


def autocast(device: torch.device, dtype: torch.dtype | None) -> ContextManager:
    """Mixed precision on ``device`` in ``dtype``, or a no-op when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def probe_logits(model: Backbone, x: torch.Tensor) -> torch.Tensor:
    """``model.probe(x)`` (shared-head outputs ``(L + 1) x B x ...`` at every depth) in one head call.

    The representations at depths 0..L are stacked into one ``(L + 1)·B`` batch and the shared head
    runs once on it instead of once per depth (fewer, larger kernels). The head acts on every
    sample alone (norm, pooling, linear), so the logits are those of the per-depth calls (bit for
    bit on the CPU; on a GPU the larger matrix product may pick another kernel, differing in
    rounding only). The stack holds all L + 1 representations of the batch at once. A backbone
    that overrides ``probe`` (e.g. a head per depth) is asked directly.
    """
    if type(model).probe is not Backbone.probe:
        return model.probe(x)
    reps = list(model.iter_depths(x))
    logits = model.head(torch.cat(reps))
    return logits.view(len(reps), -1, *logits.shape[1:])


@torch.no_grad()
def probe_counts_batches(
    model: Backbone, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], amp_dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Correct predictions of the shared head at every depth 0..L over ``(input, label)`` batches.

    Returns a length ``L + 1`` tensor of counts on the model's device; inputs are moved there. All
    depths go through the head in one call (:func:`probe_logits`); the counts stay on the device
    until the caller reads them.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = torch.zeros(model.depth + 1, dtype=torch.long, device=device)
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = probe_logits(model, x)
        correct += (logits.argmax(dim=-1) == y.unsqueeze(0)).sum(dim=1)
    model.train(was_training)
    return correct


def probe_counts(
    model: Backbone,
    images: torch.Tensor,
    labels: torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int = 512,
    amp_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Correct predictions of the shared head at every depth 0..L (a length L + 1 tensor of counts).

    ``images`` are raw batches (uint8) and ``transform`` turns a batch into model input.
    """
    device = next(model.parameters()).device
    batches = (
        (
            transform(images[start : start + batch_size].to(device, non_blocking=True)),
            labels[start : start + batch_size],
        )
        for start in range(0, images.shape[0], batch_size)
    )
    return probe_counts_batches(model, batches, amp_dtype)


def probe_accuracy(model: Backbone, images: torch.Tensor, *args: Any, **kwargs: Any) -> list[float]:
    """Accuracy of the shared head at every depth 0..L (index -1 is the full model's accuracy).

    Takes the arguments of :func:`probe_counts`.
    """
    return (probe_counts(model, images, *args, **kwargs).double() / max(images.shape[0], 1)).tolist()
