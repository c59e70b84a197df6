"""Training on class folders streamed from disk (ImageNet-scale sets), through the one training loop.

Images are decoded and augmented (RandomResizedCrop, flip, RandAugment: timm's pipeline) into
uint8 tensors by ``DataLoader`` worker processes, in pinned memory, copied to the device without
blocking and normalised there (the normalisation statistics sit on the device, so no batch waits
for a host-to-device copy).
Every image's augmentation is seeded by ``(seed, epoch, index)`` and each epoch's order by
``(seed, epoch)`` (see :mod:`acn_bench.data.folders`), so a checkpoint needs only the epoch and
step to resume the exact batch stream.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torchvision.datasets import ImageFolder

from acn_bench.backbones.base import Backbone
from acn_bench.data.folders import (
    IMAGENET_NORMALIZER,
    EpochBatchSampler,
    FolderSplits,
    SeededTransform,
    ShardBatchSampler,
    eval_transform,
    make_loader,
    train_transform,
)
from acn_bench.errors import require
from acn_bench.training import distributed
from acn_bench.training.config import TrainConfig
from acn_bench.training.evaluate import probe_counts_batches
from acn_bench.training.trainer import BaseTrainer


class StreamingTrainer(BaseTrainer):
    """Trains one backbone on a class-folder set read by worker processes.

    Args:
        model, config: as :class:`~acn_bench.training.trainer.BaseTrainer` (the config's in-memory
            augmentation fields ``crop_padding``, ``hflip``, ``autoaugment`` do not apply: the
            transform below does the augmenting).
        data: the folders (:func:`acn_bench.data.folders.open_folders`) with a validation split
            (:meth:`~acn_bench.data.folders.FolderSplits.split_validation`), evaluated during training.
        img_size: training and evaluation resolution.
        randaugment: timm RandAugment policy string (e.g. ``rand-m9-mstd0.5-inc1``); None disables.
        workers: decoding processes per rank (0: decode in the training process).
        **options: :class:`~acn_bench.training.trainer.BaseTrainer`'s keyword arguments.
    """

    def __init__(
        self,
        model: Backbone,
        config: TrainConfig,
        data: FolderSplits,
        *,
        img_size: int,
        randaugment: str | None,
        workers: int = 8,
        **options: Any,
    ) -> None:
        require(workers >= 0, f"workers must be >= 0, got {workers}.")
        self.data = data
        self.workers = workers
        self.img_size = img_size
        self.normalizer = IMAGENET_NORMALIZER
        self.train_set = SeededTransform(data.train, train_transform(img_size, randaugment))
        require(data.val is not None, "the streaming trainer evaluates a validation split: split_validation() first.")
        self.eval_set = SeededTransform(data.val, eval_transform(img_size))
        self.sampler = EpochBatchSampler(
            len(data.train), config.batch_size, options.get("seed", 0), distributed.rank(), distributed.world_size()
        )
        super().__init__(model, config, **options)

    @property
    def steps_per_epoch(self) -> int:
        return self.sampler.steps_per_epoch

    @property
    def global_batch(self) -> int:
        return self.config.batch_size

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (3, self.img_size, self.img_size)  # class folders decode to RGB

    def eval_batch(self, size: int) -> torch.Tensor:
        """The first ``size`` validation images as one model-input batch on the device (e.g. to time the model)."""
        images = torch.stack([self.eval_set[(i, 0, 0)][0] for i in range(min(size, len(self.eval_set)))])
        return self._normalizer_on_device()(images.to(self.device))

    def _loader(self, dataset: SeededTransform, sampler: torch.utils.data.Sampler) -> torch.utils.data.DataLoader:
        return make_loader(dataset, sampler, self.workers, pin_memory=self.device.type == "cuda")

    def _epoch_batches(self, epoch: int, start_step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.sampler.set_position(epoch, start_step)
        normalizer = self._normalizer_on_device()
        for x, y in self._loader(self.train_set, self.sampler):
            yield normalizer(x.to(self.device, non_blocking=True)), y.to(self.device, non_blocking=True)

    def evaluate(self, data: ImageFolder | None = None) -> list[float]:
        """Accuracy at every depth 0..L of the validation split, or of the folder set ``data`` (e.g. the test
        split); each rank evaluates every world-th image and the counts are summed."""
        dataset = self.eval_set if data is None else SeededTransform(data, eval_transform(self.img_size))
        sampler = ShardBatchSampler(len(dataset), self.config.eval_batch_size, self.rank, self.world)
        normalizer = self._normalizer_on_device()
        batches = ((normalizer(x.to(self.device, non_blocking=True)), y) for x, y in self._loader(dataset, sampler))
        correct = probe_counts_batches(self.model, batches, self.amp_dtype)
        return (distributed.all_reduce_sum(correct).double() / max(len(dataset), 1)).tolist()
