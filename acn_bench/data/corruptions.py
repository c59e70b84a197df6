"""Test-time corruptions, a small registry: Gaussian noise and salt-and-pepper (arXiv 2506.09714, §5.1).

Corruptions are applied in one of two spaces (recorded in every result):

* ``pixel`` (default): on images in [0, 1] before normalisation, clipped to [0, 1], with
  albumentations' ``GaussNoise`` / ``SaltAndPepper`` (one seeded pipeline per set, so every model
  sees exactly the same corrupted images; ~0.1 ms per 32 px image, fast enough to precompute);
* ``normalized``: after normalisation, as the official ViT code does. albumentations clips float
  images to [0, 1], which is wrong for normalised values, so this space uses vectorised torch
  code with a seeded generator. Salt-and-pepper sets pixels to the extremes of the pixel range,
  which is the same image in either space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import albumentations as A
import numpy as np
import torch

from acn_bench.errors import require, unknown_choice

SPACES = ("pixel", "normalized")


@dataclass(frozen=True)
class Corruption:
    """A corruption kind.

    Attributes:
        name: registry name (``gaussian``, ``salt_pepper``).
        severities: the default severity grid (the paper's).
        check: raises a user error for a severity outside the valid range.
        pixel_transform: albumentations transform for a severity, applied to [0, 1] float images.
        normalized_noise: adds the corruption to a normalised batch (``None``: same as pixel space).
    """

    name: str
    severities: tuple[float, ...]
    check: Callable[[float], None]
    pixel_transform: Callable[[float], A.BasicTransform]
    normalized_noise: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor] | None = None


CORRUPTIONS: dict[str, Corruption] = {}


def register_corruption(corruption: Corruption) -> Corruption:
    """Add a corruption kind; names are unique."""
    if corruption.name in CORRUPTIONS:
        raise ValueError(f"corruption {corruption.name!r} is already registered")
    CORRUPTIONS[corruption.name] = corruption
    return corruption


def get_corruption(name: str) -> Corruption:
    """The corruption ``name``, or a user error listing the registered ones."""
    if name not in CORRUPTIONS:
        raise unknown_choice("corruption", name, CORRUPTIONS)
    return CORRUPTIONS[name]


def _check_sigma(sigma: float) -> None:
    require(sigma >= 0, f"Gaussian noise sigma must be >= 0, got {sigma}.")


def _check_fraction(p: float) -> None:
    require(0 <= p <= 1, f"salt-and-pepper fraction p must be in [0, 1], got {p}.")


register_corruption(
    Corruption(
        name="gaussian",
        severities=(0.1, 0.2, 0.4),
        check=_check_sigma,
        pixel_transform=lambda sigma: A.GaussNoise(
            std_range=(sigma, sigma), mean_range=(0.0, 0.0), per_channel=True, p=1.0
        ),
        normalized_noise=lambda x, sigma, gen: x + sigma * torch.randn(x.shape, generator=gen).to(x.device),
    )
)
register_corruption(
    Corruption(
        name="salt_pepper",
        severities=(0.01, 0.05, 0.1),
        check=_check_fraction,
        pixel_transform=lambda p: A.SaltAndPepper(amount=(p, p), salt_vs_pepper=(0.5, 0.5), p=1.0),
    )
)


def corrupt_pixels(images: torch.Tensor, name: str, severity: float, seed: int = 0) -> torch.Tensor:
    """Corrupt a uint8 ``N x C x H x W`` set in [0, 1] pixel space; returns float images in [0, 1].

    The same ``seed`` gives the same corrupted images, whatever model they are fed to.
    """
    corruption = get_corruption(name)
    corruption.check(severity)
    pixels = images.float().div(255.0)
    if severity == 0:
        return pixels
    pipeline = A.Compose([corruption.pixel_transform(severity)], seed=seed)
    array = pixels.permute(0, 2, 3, 1).numpy()
    out = np.stack([pipeline(image=np.ascontiguousarray(img))["image"] for img in array])
    if out.ndim == 3:  # albumentations drops a single channel axis
        out = out[..., None]
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def corrupt_normalized(normalized: torch.Tensor, name: str, severity: float, seed: int = 0) -> torch.Tensor:
    """Add Gaussian noise to already normalised images (the official ViT code's protocol)."""
    corruption = get_corruption(name)
    corruption.check(severity)
    require(
        corruption.normalized_noise is not None,
        f"corruption {name!r} is the same in both spaces; apply it with noise_space='pixel'.",
    )
    return corruption.normalized_noise(normalized, severity, torch.Generator().manual_seed(seed))
