"""Subsets of image sets: per-class low-data subsets (SPEC.md §4 "Low data")."""

from __future__ import annotations

import torch

from acn_bench.data.images import ImageSet
from acn_bench.errors import require

SUBSET_MODES = ("first", "random")


def class_counts(data: ImageSet) -> torch.Tensor:
    """Number of images of every class."""
    return torch.bincount(data.labels, minlength=data.num_classes)


def per_class_subset(data: ImageSet, per_class: int, mode: str = "first", seed: int = 0) -> ImageSet:
    """``per_class`` images of every class, kept in dataset order.

    Args:
        data: the full set.
        per_class: images per class (the paper: the first 100 of each CIFAR-10 class).
        mode: ``first`` (the first ``per_class`` of each class in dataset order, as the paper) or
            ``random`` (a seeded random choice per class).
        seed: seed of the ``random`` choice.

    Raises:
        UserError: ``per_class`` below 1 or above the smallest class, or an unknown mode.
    """
    require(mode in SUBSET_MODES, f"unknown subset mode {mode!r}; accepted: {', '.join(SUBSET_MODES)}.")
    counts = class_counts(data)
    smallest = int(counts.min())
    require(
        isinstance(per_class, int) and 1 <= per_class <= smallest,
        f"per_class must be a whole number from 1 to {smallest} (the smallest class of {data.name} "
        f"{data.split} has {smallest} images), got {per_class!r}.",
    )
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(data.num_classes):
        members = torch.nonzero(data.labels == label).flatten()
        if mode == "random":
            members = members[torch.randperm(len(members), generator=generator)]
        chosen.append(members[:per_class])
    return data.subset(torch.sort(torch.cat(chosen)).values)
