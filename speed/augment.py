"""``python -m speed.perf augment``: the standard recipe's augmentation of one batch against a bare step.

Each augmentation of a batch of CIFAR-shaped uint8 images (crop, flip, CutMix, AutoAugment batched,
torchvision's image by image and kornia's when installed, and the recipe's whole augmentation) is
timed interleaved with a bare training step of ``--backbone``, as a share of that step.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
from typing import Any, Callable

import torch

from acn_bench.backbones import create_backbone
from acn_bench.training.config import mixup_for
from acn_bench.training.schedule import build_optimizer
from speed.report import Report
from speed.throughput import suite_recipe
from speed.timing import interleaved, paired_ratio, step_fn, timed


def augment_times(batch_size: int, rounds: int, device: torch.device, backbone: str) -> dict[str, list[float]]:
    """Seconds per batch of CIFAR-shaped uint8 images for each augmentation of the ``standard`` recipe,
    AutoAugment three ways, and a bare training step of ``backbone``, interleaved."""
    from torchvision.transforms import v2

    from acn_bench.data.augment import BatchAugment, random_crop, random_hflip
    from acn_bench.data.autoaugment import BatchAutoAugment

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch_size, 3, 32, 32), dtype=torch.uint8, generator=generator).to(device)
    labels = torch.randint(0, 10, (batch_size,), generator=generator).to(device)
    config = suite_recipe("standard", "cifar10").train
    standard = BatchAugment(config.crop_padding, config.hflip, config.autoaugment)
    batched = BatchAutoAugment(config.autoaugment)
    per_image = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    cutmix, recipe_cutmix = mixup_for(replace(config, cutmix_prob=1.0), 10), mixup_for(config, 10)
    floats = images.float()
    torch.manual_seed(0)
    model = create_backbone(backbone, connectivity="residual").to(device).train()
    optimizer = build_optimizer(model, 1e-3, 0.01)
    step = step_fn(model, optimizer, floats, labels, "none")
    contenders: dict[str, Callable[[], Any]] = {
        "crop": lambda: random_crop(images, config.crop_padding, generator),
        "flip": lambda: random_hflip(images, generator),
        "AutoAugment, batched (acn-bench)": lambda: batched(images, generator),
        "AutoAugment, torchvision image by image (before)": lambda: torch.stack([per_image(i) for i in images]),
        "CutMix (timm, always on)": lambda: cutmix(floats.clone(), labels),
        f"standard recipe: crop, flip, AutoAugment, CutMix at p={config.cutmix_prob:g}": lambda: recipe_cutmix(
            standard(images, generator).float(), labels
        ),
        f"bare {backbone} training step": step,
    }
    try:
        from kornia.augmentation.auto import AutoAugment as KorniaAutoAugment

        kornia = KorniaAutoAugment("cifar10").to(device)
        contenders["AutoAugment, kornia (float in [0, 1])"] = lambda: kornia(floats / 255)
    except ImportError:
        pass
    return interleaved({name: timed(fn, device) for name, fn in contenders.items()}, rounds, warmup=2)


def run_augment(args: argparse.Namespace) -> list[Report]:
    """The ``augment`` command: time the augmentations and make the table."""
    device = torch.device(args.device)
    times = augment_times(args.batch_size, args.rounds, device, args.backbone)
    step = f"bare {args.backbone} training step"
    report = Report(
        f"augmentation of a batch of {args.batch_size} CIFAR-shaped uint8 images, {device}, "
        f"{torch.get_num_threads()} threads, {args.rounds} rounds",
        ["augmentation", "ms/batch", "share of a bare step"],
        caption=f"share: median of the per-round ratios to the {step}",
    )
    for name, values in times.items():
        share = "" if name == step else f"{100 * paired_ratio(values, times[step]):.1f}%"
        report.rows.append([name, f"{statistics.median(values) * 1000:.2f}", share])
    if not any(name.startswith("AutoAugment, kornia") for name in times):
        report.notes.append("kornia is not installed (pip install kornia): its AutoAugment was not timed")
    return [report]
