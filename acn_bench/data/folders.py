"""Class-folder image sets too large for memory (ImageNet), streamed from disk by worker processes.

``train/<class>/<image>`` and ``val/<class>/<image>`` (or ``test/``) are read with torchvision's
``ImageFolder`` and transformed by timm's standard pipelines into uint8 tensors: RandomResizedCrop,
flip and RandAugment for training, resize + centre crop for evaluation. Batches come from a
``DataLoader`` with worker processes and pinned memory; the trainer normalises them on the device
(ImageNet mean and std, :data:`IMAGENET_NORMALIZER`).

Resuming mid-epoch must give the very batches an uninterrupted run would have drawn, so nothing
depends on worker state: :class:`EpochBatchSampler` derives each epoch's order from
``(seed, epoch)`` and can start at any step, and every image's augmentation is seeded by
``(seed, epoch, image index)`` (:class:`SeededTransform`), whichever worker decodes it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, create_transform
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from acn_bench import progress
from acn_bench.data.augment import Normalizer
from acn_bench.data.images import dataset_location
from acn_bench.data.splits import balanced_holdout, validation_count
from acn_bench.errors import UserError, require

IMAGENET_NORMALIZER = Normalizer(torch.tensor(IMAGENET_DEFAULT_MEAN), torch.tensor(IMAGENET_DEFAULT_STD))
LAYOUT = "train/<class>/<image> and val/<class>/<image> (or test/<class>/<image>)"
# DeiT's RandAugment, magnitudes capped at 9: at 10 timm asks Pillow (>= 10) to posterize to 0 bits, which it refuses
RANDAUGMENT = "rand-m9-mstd0.5-inc1-mmax9"


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The random seed of image ``index``'s augmentation in ``epoch`` (independent of workers and batches)."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


@dataclass(frozen=True)
class FolderSplits:
    """The splits of a class-folder set, sharing one class order.

    Attributes:
        name: the name records carry: ``imagenet``, or ``imagefolder:<folder name>`` (never the
            machine's path the user gave).
        root: the folder holding ``train/`` and ``val/`` (or ``test/``).
        train: the training images (``ImageFolder`` without transforms, or a subset of it).
        test: the folder ``val/`` (or ``test/``), reported once.
        val: the validation split carved from ``train/`` (None until :meth:`split_validation`).
    """

    name: str
    root: Path
    train: ImageFolder
    test: ImageFolder
    val: ImageFolder | None = None

    @property
    def classes(self) -> list[str]:
        return list(self.test.classes)

    @property
    def num_classes(self) -> int:
        return len(self.test.classes)

    def split_validation(self, size: int | float, seed: int = 0) -> FolderSplits:
        """These folders with a seeded, class-balanced validation split carved from the training images."""
        targets = torch.as_tensor(self.train.targets)
        held = balanced_holdout(targets, validation_count(size, len(targets)), self.num_classes, seed)
        keep = torch.ones(len(targets), dtype=torch.bool)
        keep[held] = False
        rest = torch.nonzero(keep).flatten().tolist()
        return dataclasses.replace(self, train=_part(self.train, rest), val=_part(self.train, held.tolist()))

    def info(self) -> dict[str, object]:
        """The record's ``dataset`` field."""
        return {
            "name": self.name,
            "source": "imagefolder-stream",
            "train_size": len(self.train),
            "val_size": len(self.val) if self.val is not None else 0,
            "test_size": len(self.test),
            "num_classes": self.num_classes,
        }


def _part(folder: ImageFolder, indices: list[int]) -> ImageFolder:
    """The images ``indices`` of ``folder``, as an ``ImageFolder`` of the same classes and loader."""
    part = copy.copy(folder)
    part.samples = [folder.samples[i] for i in indices]
    part.imgs = part.samples
    part.targets = [label for _, label in part.samples]
    return part


def open_folders(name: str, root: str | Path | None = None) -> FolderSplits:
    """Open dataset ``name`` (``imagenet``: ``$ACN_BENCH_IMAGENET`` or ``<data root>/imagenet``; or
    ``imagefolder:PATH``) as class folders on disk, without reading any image.

    Raises:
        UserError: the data is missing, is an archive (streaming needs a folder), lacks a split
            folder, has no images, or its splits disagree on the classes.
    """
    path = dataset_location(name, root)
    require(
        path.is_dir(),
        f"{str(path)!r} (dataset {name!r}) is an archive; streaming reads a folder holding {LAYOUT}: extract it first.",
    )
    train_dir = path / "train"
    test_dir = next((path / f for f in ("val", "test") if (path / f).is_dir()), None)
    if not train_dir.is_dir() or test_dir is None:
        missing = "train/" if not train_dir.is_dir() else "val/ (or test/)"
        raise UserError(f"{str(path)!r} (dataset {name!r}) has no {missing} folder; expected {LAYOUT}.")
    train, test = _image_folder(train_dir), _image_folder(test_dir)
    if train.classes != test.classes:
        only_train = sorted(set(train.classes) - set(test.classes))[:5]
        only_test = sorted(set(test.classes) - set(train.classes))[:5]
        raise UserError(
            f"{str(path)!r}: the class folders of train/ and {test_dir.name}/ differ (only in train: "
            f"{only_train}, only in {test_dir.name}: {only_test}); both splits need the same classes."
        )
    record_name = f"imagefolder:{path.name}" if name.startswith("imagefolder:") else name
    return FolderSplits(record_name, path, train, test)


def _image_folder(folder: Path) -> ImageFolder:
    """The class folders under ``folder``, listed with a bar of files seen (ImageNet's 1.28M take a while)."""
    with progress.task(f"listing {folder.name}/ of {folder.parent.name}", unit="files") as bar:

        def is_image(path: str) -> bool:
            bar.advance()
            return has_file_allowed_extension(path, IMG_EXTENSIONS)

        try:
            return ImageFolder(str(folder), is_valid_file=is_image)
        except (FileNotFoundError, RuntimeError) as exc:
            raise UserError(f"cannot read class folders in {str(folder)!r} ({exc}); expected {LAYOUT}.") from None


def train_transform(img_size: int, randaugment: str | None = RANDAUGMENT) -> Callable:
    """timm's training pipeline: RandomResizedCrop(img_size), flip, RandAugment, to a uint8 tensor.

    Conversion to float and normalisation happen per batch on the training device (as timm's
    prefetcher does), which halves the work of the decoding processes.
    """
    return create_transform(
        img_size, is_training=True, auto_augment=randaugment or None, interpolation="bicubic", use_prefetcher=True
    )


def eval_transform(img_size: int, crop_pct: float = 0.875) -> Callable:
    """timm's evaluation pipeline: resize to ``img_size / crop_pct``, centre crop, to a uint8 tensor."""
    return create_transform(
        img_size, is_training=False, crop_pct=crop_pct, interpolation="bicubic", use_prefetcher=True
    )


class SeededTransform(Dataset):
    """``dataset`` with ``transform`` applied; items are fetched by ``(index, run seed, epoch)``.

    Python's, NumPy's and torch's generators are seeded with :func:`sample_seed` for the transform (timm's
    RandAugment draws from the first two, torchvision's crop and flip from torch), so an image's
    augmentation depends on its seed only, whichever process decodes it.
    """

    def __init__(self, dataset: ImageFolder, transform: Callable) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int, int]) -> tuple[torch.Tensor, int]:
        index, seed, epoch = key
        path, label = self.dataset.samples[index]
        with seeded_generators(sample_seed(seed, epoch, index)):
            return self.transform(self.dataset.loader(path)), label


@contextlib.contextmanager
def seeded_generators(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global generators, restoring their states afterwards.

    Restoring matters when images are decoded in the training process (no workers): the batch
    mixing draws from the same generators and must not depend on where images were decoded.
    """
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)  # the CPU generator only: CUDA's stays the trainer's
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])


class EpochBatchSampler(Sampler[list[tuple[int, int, int]]]):
    """This rank's batches of ``(index, seed, epoch)`` keys for one epoch, from any starting step.

    The epoch's order is a permutation drawn from ``(seed, epoch)``, cut into global batches (the
    last partial one dropped); rank ``r`` of ``world`` takes the ``r``-th slice of each. Call
    :meth:`set_position` before iterating.
    """

    def __init__(self, size: int, global_batch: int, seed: int, rank: int = 0, world: int = 1) -> None:
        require(size >= global_batch, f"the training set has {size} images, fewer than one batch of {global_batch}.")
        self.size, self.global_batch, self.seed, self.rank, self.world = size, global_batch, seed, rank, world
        self.epoch, self.start_step = 0, 0

    @property
    def steps_per_epoch(self) -> int:
        return self.size // self.global_batch

    def set_position(self, epoch: int, start_step: int = 0) -> None:
        """Iterate ``epoch`` from batch ``start_step`` on."""
        self.epoch, self.start_step = epoch, start_step

    def __len__(self) -> int:
        return self.steps_per_epoch - self.start_step

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))
        share = self.global_batch // self.world
        for step in range(self.start_step, self.steps_per_epoch):
            start = step * self.global_batch + self.rank * share
            yield [(i, self.seed, self.epoch) for i in order[start : start + share].tolist()]


class ShardBatchSampler(Sampler[list[tuple[int, int, int]]]):
    """Evaluation batches in file order: rank ``r`` of ``world`` takes images ``r, r + world, ...``."""

    def __init__(self, size: int, batch_size: int, rank: int = 0, world: int = 1) -> None:
        self.indices = list(range(rank, size, world))
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-len(self.indices) // self.batch_size)

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        for start in range(0, len(self.indices), self.batch_size):
            yield [(i, 0, 0) for i in self.indices[start : start + self.batch_size]]


def make_loader(dataset: SeededTransform, sampler: Sampler, workers: int, pin_memory: bool) -> DataLoader:
    """A ``DataLoader`` over ``sampler``'s batches with ``workers`` processes (0: in this process)."""
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=False,
        prefetch_factor=4 if workers > 0 else None,
        generator=torch.Generator(),
    )  # worker seeds are unused; keep the global generator untouched
