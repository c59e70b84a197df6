"""``python -m speed.perf train-throughput``: the suite's trainer against a bare PyTorch loop, both twins.

Rounds of one block of ``--steps`` steps per contender (the order rotating every round), in one
process; medians over the rounds and paired per-round ratios.

* **trainer**: :class:`acn_bench.training.Trainer` with the compression suite's recipe of
  ``--recipe`` for the dataset (AdamW, warm-up + schedule, label smoothing, clipping, the recipe's
  augmentation, per-block gradient norms where the recipe logs them, loss accounting and progress
  bookkeeping without bars). Each block is one ``fit()`` of ``--steps`` steps continuing from the
  current weights (a fresh optimiser and schedule each block, as ``fit`` builds them); its time is
  the trainer's own ``train_seconds``, which leaves out ``fit``'s set-up and its validation at the
  end (a 16-image set here), shown apart.
* **bare**: :class:`speed.bare_loop.BareLoop` on an equal model.

A second table splits the trainer's step into its phases (the trainer's ``PhaseClock``) and adds
one validation pass to estimate where an epoch of the recipe goes. Data that works offline:
``digits`` (built in), ``synthetic`` (seeded random uint8 images of CIFAR's shape, 10 classes) or
``cifar10`` (a local copy, see the README).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

import torch

from acn_bench.training import TrainConfig, Trainer
from acn_bench.training.phase_clock import PhaseClock
from acn_bench.training.throughput import training_flops_per_sample
from speed.bare_loop import BareLoop
from speed.report import Report
from speed.timing import device_sync, interleaved, paired_ratio

SYNTHETIC_IMAGES = 4096
EVAL_IMAGES = 16  # the trainer's validation set: evaluated once per fit, outside the timed stretch


def load_data(dataset: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, int]:
    """uint8 ``N x C x H x W`` training images, int64 labels and the number of classes of ``dataset``."""
    if dataset == "synthetic":
        generator = torch.Generator().manual_seed(seed)
        images = torch.randint(0, 256, (SYNTHETIC_IMAGES, 3, 32, 32), dtype=torch.uint8, generator=generator)
        return images, torch.randint(0, 10, (SYNTHETIC_IMAGES,), generator=generator), 10
    from acn_bench.data.images import load_images

    data = load_images(dataset, "train")
    return data.images, data.labels, data.num_classes


def suite_recipe(profile: str, dataset: str) -> Any:
    """The compression suite's recipe of ``profile`` for ``dataset`` (CIFAR-10's for synthetic images):
    what its twins train with (the recipe of the robustness, early-exit and pruning twins too)."""
    from acn_bench.suites import get_suite

    return get_suite("compression").recipe(profile, "cifar10" if dataset == "synthetic" else dataset)


def recipe_summary(config: TrainConfig) -> str:
    """The augmentation and loss parts of a recipe, in words."""
    parts = [f"crop {config.crop_padding}"] if config.crop_padding else []
    parts += ["flip"] if config.hflip else []
    parts += [f"AutoAugment {config.autoaugment} (batched)"] if config.autoaugment else []
    parts += [f"CutMix p={config.cutmix_prob}"] if config.cutmix_prob else []
    parts += [f"MixUp a={config.mixup_alpha}"] if config.mixup_alpha else []
    parts += [f"label smoothing {config.label_smoothing}", f"clip {config.clip_grad}"]
    parts += [f"grad_norms={config.grad_norms}", f"amp {config.amp}"]
    return ", ".join(parts)


@dataclass
class ThroughputSetup:
    """What ``train-throughput`` compares: the recipe, its data and the twins' contenders."""

    recipe: Any
    config: TrainConfig
    images: torch.Tensor
    labels: torch.Tensor
    trainers: dict[str, Trainer]
    bares: dict[str, BareLoop]
    flops: int


def throughput_setup(args: argparse.Namespace, device: torch.device) -> ThroughputSetup:
    """Load the data, the recipe and, per twin, a trainer and a bare loop on equal models."""
    from acn_bench.data.images import ImageSet
    from acn_bench.suites.image_data import backbone_for

    recipe = suite_recipe(args.recipe, args.dataset)
    images, labels, num_classes = load_data(args.dataset)
    config = replace(recipe.train, steps=args.steps, eval_every=10**6)
    if args.batch_size:
        config = replace(config, batch_size=args.batch_size)
    if args.grad_norms is not None:
        config = replace(config, grad_norms=args.grad_norms)
    backbone = args.backbone or recipe.backbone
    same = backbone == recipe.backbone
    overrides = dict(recipe.overrides) if same else {}
    depth = recipe.depth if same else None
    data = ImageSet(images, labels, [str(c) for c in range(num_classes)], args.dataset, "synthetic", "train")
    trainers, bares, flops = {}, {}, 0
    for twin in [c.strip() for c in args.connectivities.split(",")]:
        torch.manual_seed(0)
        trainer_model = backbone_for(backbone, data, twin, depth=depth, **overrides)
        torch.manual_seed(0)
        bare_model = backbone_for(backbone, data, twin, depth=depth, **overrides)
        flops = training_flops_per_sample(bare_model, bare_model.example_input(1, shape=images.shape[1:]))
        trainers[twin] = Trainer(
            trainer_model, config, images, labels, images[:EVAL_IMAGES], labels[:EVAL_IMAGES], device=device
        )
        bares[twin] = BareLoop(bare_model, config, images, labels, device, augment=args.bare_augment == "same")
        if trainers[twin].compiled:  # the trainer compiles its forward here (CUDA): so does the yardstick
            bares[twin].forward = torch.compile(bares[twin].model)
    return ThroughputSetup(recipe, config, images, labels, trainers, bares, flops)


@contextmanager
def quiet_scheduler_warnings() -> Iterator[None]:
    """A context in which timm's scheduler does not warn about short fits ("cosine ... no effect")."""
    log = logging.getLogger("timm.scheduler")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def train_throughput(args: argparse.Namespace) -> list[Report]:
    """Trainer vs bare loop, both twins, interleaved blocks of ``args.steps`` steps; then where a
    trainer step's time goes, phase by phase, and an epoch of the recipe estimated from it."""
    device = torch.device(args.device)
    setup = throughput_setup(args, device)
    config, sync = setup.config, device_sync(device)
    contenders: dict[str, Callable[[], float]] = {}
    fit_setup: dict[str, list[float]] = {twin: [] for twin in setup.trainers}
    for twin, trainer in setup.trainers.items():

        def run_trainer(trainer: Trainer = trainer, twin: str = twin) -> float:
            sync()
            start = time.perf_counter()
            result = trainer.fit()
            sync()
            fit_setup[twin].append(time.perf_counter() - start - result.train_seconds)
            return result.train_seconds

        def run_bare(bare: BareLoop = setup.bares[twin]) -> float:
            sync()
            start = time.perf_counter()
            bare.run(args.steps)
            sync()
            return time.perf_counter() - start

        contenders[f"trainer {twin}"] = run_trainer
        contenders[f"bare {twin}"] = run_bare
    with quiet_scheduler_warnings():
        times = interleaved(contenders, args.rounds, warmup=1)
        phases = {twin: phase_seconds(trainer, args.steps) for twin, trainer in setup.trainers.items()}
    batch = config.batch_size
    title = (
        f"{args.recipe} recipe: {args.backbone or setup.recipe.backbone} on {args.dataset} "
        f"{tuple(setup.images.shape[1:])}, batch {batch}, {args.rounds} rounds x {args.steps} steps, {device}, "
        f"{torch.get_num_threads()} threads"
    )
    comparison = Report(
        title,
        ["loop", "ms/step", "img/s", "TFLOP/s", "trainer/bare img/s", "acn/residual time"],
        caption="ratios: medians of the per-round paired ratios",
    )
    reference = next(iter(setup.trainers))
    for name, values in times.items():
        loop, twin = name.split(" ", 1)
        per_step = statistics.median(values) / args.steps
        versus_bare = paired_ratio(times[f"bare {twin}"], values) if loop == "trainer" else None
        versus_ref = paired_ratio(values, times[f"{loop} {reference}"]) if twin != reference else None
        comparison.rows.append(
            [
                name,
                f"{per_step * 1000:.2f}",
                f"{batch / per_step:.1f}",
                f"{batch * setup.flops / per_step / 1e12:.4f}",
                "" if versus_bare is None else f"{versus_bare:.3f}",
                "" if versus_ref is None else f"{versus_ref:.3f}",
            ]
        )
    bare_augment = "the recipe's augmentation the plain way" if args.bare_augment == "same" else "no augmentation"
    comparison.notes = [
        f"trainer: Trainer + compression {args.recipe} recipe ({recipe_summary(config)}, warm-up + "
        f"{config.schedule}); time = its own train_seconds of a fit() of the block's steps",
        "fit() set-up and end-of-fit validation, outside the timed stretch: "
        + ", ".join(f"{twin} {statistics.median(v) * 1000:.1f} ms/fit" for twin, v in fit_setup.items()),
        f"bare: plain loop, {bare_augment}, uint8 -> float normalised per batch, same AdamW, "
        "no clipping/schedule/logging",
    ]
    return [comparison, epoch_breakdown(args, setup, phases, device)]


def phase_seconds(trainer: Trainer, steps: int) -> dict[str, float]:
    """Seconds per step in each phase of ``trainer``'s step loop, over one clocked fit of ``steps`` steps."""
    clock, unclocked = PhaseClock(), trainer.clock
    trainer.clock = clock
    try:
        trainer.fit()
    finally:
        trainer.clock = unclocked
    return {phase: seconds / steps for phase, seconds in clock.seconds.items()}


def epoch_breakdown(
    args: argparse.Namespace, setup: ThroughputSetup, phases: dict[str, dict[str, float]], device: torch.device
) -> Report:
    """Where an epoch of the recipe goes, per twin: each phase's time per step from a clocked fit, an
    epoch's worth of steps, and one validation pass over a split of the recipe's size."""
    from acn_bench.data.splits import validation_count

    train_size = setup.images.shape[0]
    val_size = validation_count(setup.recipe.val_size, train_size)
    steps_per_epoch = (train_size - val_size) // setup.config.batch_size
    val = slice(0, val_size)
    rows, notes = [], []
    for twin, trainer in setup.trainers.items():
        sync = device_sync(device)
        sync()
        start = time.perf_counter()
        trainer.evaluate((setup.images[val], setup.labels[val]))
        sync()
        per_epoch = {phase: seconds * steps_per_epoch for phase, seconds in phases[twin].items()}
        per_epoch["validation (probes at every depth)"] = time.perf_counter() - start
        total = sum(per_epoch.values())
        for phase, seconds in per_epoch.items():
            per_step = phases[twin].get(phase)
            rows.append(
                [
                    f"{twin}: {phase}",
                    "" if per_step is None else f"{per_step * 1000:.2f}",
                    f"{seconds:.1f}",
                    f"{100 * seconds / total:.1f}%",
                ]
            )
        rows.append([f"{twin}: epoch", "", f"{total:.1f}", "100%"])
        notes.append(f"{twin}: {train_size - val_size} training images, {steps_per_epoch} steps, validation {val_size}")
    return Report(
        f"{args.recipe} recipe: where an epoch goes ({setup.config.batch_size} images a step)",
        ["phase", "ms/step", "s/epoch", "share"],
        rows,
        caption="phases of one clocked fit (the clock waits for the device at every phase); validation: one pass",
        notes=notes,
    )
