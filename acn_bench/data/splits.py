"""Subsets of image sets: the validation split, per-class low-data subsets (arXiv 2506.09714, §5.2)."""

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


def validation_count(size: int | float, train_size: int) -> int:
    """Images in the validation split: ``size`` itself, or a fraction of ``train_size`` when below 1."""
    count = round(size * train_size) if isinstance(size, float) and size < 1 else int(size)
    require(
        0 < count < train_size,
        f"the validation split must hold between 1 image and fewer than the {train_size} training images, "
        f"got {size!r}.",
    )
    return count


def balanced_holdout(labels: torch.Tensor, size: int, num_classes: int, seed: int) -> torch.Tensor:
    """Sorted indices of a seeded, class-balanced hold-out of ``size`` items (``size // classes`` per
    class, the remainder one each to the first classes in a seeded order).

    Raises:
        UserError: a class has too few items to give its share and keep one for training.
    """
    generator = torch.Generator().manual_seed(seed)
    share, extra = divmod(size, num_classes)
    lucky = set(torch.randperm(num_classes, generator=generator)[:extra].tolist())
    chosen = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        wanted = share + (label in lucky)
        require(
            wanted < len(members),
            f"class {label} has {len(members)} training item(s), too few for a validation share of {wanted}; "
            "pick a smaller validation split.",
        )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:wanted]])
    return torch.sort(torch.cat(chosen)).values


def validation_split(data: ImageSet, size: int | float, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """``(train, validation)``: a seeded, class-balanced validation split carved from ``data``.

    ``size`` is a number of images or a fraction (< 1) of ``data``. The same ``(data, size,
    seed)`` always gives the same split, so twins and seeds of a row are validated alike.
    """
    held = balanced_holdout(data.labels, validation_count(size, len(data)), data.num_classes, seed)
    keep = torch.ones(len(data), dtype=torch.bool)
    keep[held] = False
    return data.subset(torch.nonzero(keep).flatten()), data.subset(held)
