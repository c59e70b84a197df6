"""Per-batch tensor augmentation and normalisation, run on the training device.

Small datasets stay in memory as uint8 tensors; every batch is cropped, flipped, optionally
AutoAugmented (uint8), converted to float and normalised here, so data loading never needs
Python workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from acn_bench.data.autoaugment import BatchAutoAugment


@dataclass
class Normalizer:
    """Per-channel ``(x / 255 - mean) / std`` for uint8 batches."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def from_images(cls, images: torch.Tensor, chunk: int = 4096) -> Normalizer:
        """Mean and std per channel of a uint8 ``N x C x H x W`` tensor (computed in chunks)."""
        channels = images.shape[1]
        total = torch.zeros(channels, dtype=torch.float64)
        total_sq = torch.zeros(channels, dtype=torch.float64)
        for start in range(0, images.shape[0], chunk):
            part = images[start : start + chunk].to(torch.float64) / 255.0
            total += part.sum(dim=(0, 2, 3))
            total_sq += (part * part).sum(dim=(0, 2, 3))
        count = images.shape[0] * images.shape[2] * images.shape[3]
        mean = total / count
        std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
        return cls(mean.float(), std.float())

    def to_float(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or [0, 1] float batch -> [0, 1] float batch."""
        return images.float().div_(255.0) if images.dtype == torch.uint8 else images

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """[0, 1] float batch -> normalised batch."""
        mean = self.mean.to(pixels.device).view(1, -1, 1, 1)
        std = self.std.to(pixels.device).view(1, -1, 1, 1)
        return (pixels - mean) / std

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.to_float(images))

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> Normalizer:
        """Inverse of :meth:`as_dict`."""
        return cls(torch.tensor(data["mean"]), torch.tensor(data["std"]))

    def as_dict(self) -> dict[str, list[float]]:
        """Plain-data form for records and checkpoints."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


def resize_bilinear(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of a uint8 ``N x C x H x W`` set to ``size x size`` (e.g. CIFAR to a source's resolution)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], 4096):
        part = images[start : start + 4096].float()
        resized = torch.nn.functional.interpolate(
            part, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
        out[start : start + 4096] = resized.round().clamp(0, 255).to(torch.uint8)
    return out


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """RandomCrop(size, padding) with zero padding, a different offset per image, vectorised."""
    if padding <= 0:
        return images
    batch, _, height, width = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator).to(images.device)
    rows = (offsets[0][:, None] + torch.arange(height, device=images.device))[:, :, None]
    cols = (offsets[1][:, None] + torch.arange(width, device=images.device))[:, None, :]
    index = torch.arange(batch, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[index, rows, cols].permute(0, 3, 1, 2).contiguous()


def random_hflip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image left-right with probability 1/2."""
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


class BatchAugment:
    """The training-time augmentation of one uint8 batch: crop, flip, AutoAugment (each optional),
    every draw from the generator given.

    AutoAugment (:class:`~acn_bench.data.autoaugment.BatchAutoAugment`) uses torchvision's policy
    of that name (``cifar10``, ``imagenet``, ``svhn``) and draws one sub-policy per image.
    """

    def __init__(self, crop_padding: int = 0, hflip: bool = False, autoaugment: str | None = None) -> None:
        self.crop_padding = crop_padding
        self.hflip = hflip
        self.autoaugment = BatchAutoAugment(autoaugment) if autoaugment else None

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        images = random_crop(images, self.crop_padding, generator)
        if self.hflip:
            images = random_hflip(images, generator)
        if self.autoaugment is not None:
            images = self.autoaugment(images, generator)
        return images
