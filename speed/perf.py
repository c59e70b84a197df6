"""Throughput benchmarks (scripts, not timed tests).

``python -m speed.perf step-time`` times one training step (forward, backward, AdamW update)
of twins that differ only in connectivity, on the backbone's ``example_input`` (random images, or
random 128-token sequences for BERT-style ones), interleaving the twins so that machine noise hits
both alike, and prints the median step time, samples/s, achieved model TFLOP/s (3x forward FLOPs)
and the ratio to the residual twin. ``--compile`` runs the twins through ``torch.compile`` (eager,
with a warning, where compilation fails; ``--compile-strict`` exits 2 with the error instead) and
``--amp bf16|fp16`` under autocast (fp16 with a gradient scaler). ``--transposed-token-mixing``
(Mixers) adds the first twin with the token-mixing layout of before ``TokenLinear`` as a contender.

``python -m speed.perf train-throughput`` times the suite's trainer against a bare PyTorch
loop, for both twins, in one process: rounds of one block of ``--steps`` steps per contender (the
order rotates every round), medians over the rounds and paired per-round ratios.

* **trainer**: :class:`acn_bench.training.Trainer` with the compression suite's quick recipe for the
  dataset (digits: mixer_small at depth 16, patch 2, batch 64, crop padding 1, per-block gradient
  norms; cifar10 and synthetic: mixer_small, batch 128, crop padding 4, flips, gradient norms), so
  AdamW, warm-up + cosine schedule, label smoothing 0.1, clipping at 1.0, per-step loss accounting
  and progress bookkeeping (no bars). Each block is one ``fit()`` of ``--steps`` steps continuing
  from the current weights (a fresh optimiser and schedule each block, as ``fit`` builds them); its
  time is the trainer's own ``train_seconds`` (the stretch it logs throughput for: drawing,
  augmenting and normalising batches, forward, backward, clipping, AdamW, schedule), which leaves
  out ``fit``'s set-up and its validation at the end (a 16-image set here), shown apart.
* **bare**: a plain loop written here: batches of the same uint8 tensor on the same device drawn
  from a permutation, the same crop / flip written inline (``--bare-augment none``: none),
  ``x.float() / 255`` normalised with the training set's per-channel mean and std,
  ``F.cross_entropy`` with the same label smoothing, the same AdamW (``build_optimizer``, same lr,
  weight decay, betas, eps): ``zero_grad``, ``backward``, ``step``, under the trainer's autocast
  (none on the CPU) and compiled where the trainer compiles (its default on CUDA). No clipping,
  schedule, gradient norms or loss accounting.

The recipe's ``grad_norms`` (on in the quick recipes) can be switched with ``--[no-]grad-norms``.
Both loops pay the same first-block costs (warm-up round, not recorded); each trainer block also
re-creates AdamW's state at its first step (about 0.2% of a 20-step block here).

Data that works offline: ``digits`` (built in, 1 x 8 x 8), ``synthetic`` (seeded random uint8
images of CIFAR's shape, 3 x 32 x 32, 10 classes) or ``cifar10`` (a local copy, see the README).

Every command takes ``--threads N`` (torch's intra-op threads) and ``--save``, which appends the
table, the command line and the environment to ``speed/results/<YYYY-MM-DD>-<machine>.md``
(the machine: the GPU's name, or the CPU model and its number of hardware threads).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import re
import shlex
import statistics
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from torch import nn

from acn_bench.backbones import CONNECTIVITIES, create_backbone
from acn_bench.backbones.mixer import TokenMixing
from acn_bench.errors import UserError, require
from acn_bench.training import TrainConfig, Trainer
from acn_bench.training.config import mixup_for, resolve_amp
from acn_bench.training.evaluate import autocast
from acn_bench.training.phase_clock import PhaseClock
from acn_bench.training.schedule import build_optimizer
from acn_bench.training.throughput import training_flops_per_sample

RESULTS_DIR = Path(__file__).parent / "results"
AMP_CHOICES = ("none", "bf16", "fp16")
DATASETS = ("digits", "synthetic", "cifar10")
RECIPES = ("quick", "standard", "paper")  # the compression suite's profiles whose recipes train-throughput runs
SYNTHETIC_IMAGES = 4096
EVAL_IMAGES = 16  # the trainer's validation set: evaluated once per fit, outside the timed stretch


# --------------------------------------------------------------------------------------- reporting


@dataclass
class Report:
    """A table printed with rich and saved as markdown: headers, rows of strings, a caption and notes."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""
    notes: list[str] = field(default_factory=list)

    def rich(self) -> Table:
        table = Table(title=self.title, caption=self.caption or None)
        for i, header in enumerate(self.headers):
            table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for row in self.rows:
            table.add_row(*row)
        return table

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.headers) + " |"]
        lines.append("|" + "|".join([":---"] + ["---:"] * (len(self.headers) - 1)) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.caption:
            lines += ["", self.caption]
        lines += ["", *[f"- {note}" for note in self.notes]] if self.notes else []
        return "\n".join(lines)


def machine_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model (from ``/proc/cpuinfo``) and its number of hardware threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} {os.cpu_count()} threads"


def results_path(device: torch.device, day: datetime.date | None = None) -> Path:
    """``speed/results/<YYYY-MM-DD>-<machine>.md`` (the machine name lower-cased, runs of other
    characters than letters and digits turned into one dash)."""
    slug = re.sub(r"[^a-z0-9]+", "-", machine_name(device).lower()).strip("-")
    return RESULTS_DIR / f"{(day or datetime.date.today()).isoformat()}-{slug}.md"


def save_report(reports: Sequence[Report], device: torch.device, argv: Sequence[str], path: Path | None = None) -> Path:
    """Append ``reports`` (one command's tables) under its command line and environment to the day's
    results file of this machine."""
    from acn_bench.results.record import environment

    path = path or results_path(device)
    env = environment()
    commit = (env.get("git_commit") or "unknown")[:10]
    dirty = {True: " (uncommitted changes)", False: "", None: " (dirty state unknown)"}[env.get("git_dirty")]
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    section = [
        f"## {when}: `python -m speed.perf {shlex.join(argv)}`",
        "",
        f"commit {commit}{dirty}; torch {torch.__version__}; {device}; {torch.get_num_threads()} torch threads; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end",
        "",
        *[line for report in reports for line in (report.markdown(), "")],
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "" if path.exists() else f"# Throughput on {machine_name(device)}\n\n"
    with path.open("a") as f:
        f.write(header + "\n".join(section) + "\n")
    return path


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median of the per-round ratios ``numerator[i] / denominator[i]``."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def interleaved(contenders: dict[str, Callable[[], float]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds each contender reports for one block, over ``rounds`` rounds after ``warmup`` unrecorded
    ones; within a round every contender runs once, the order rotating from round to round."""
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = contenders[name]()
            if round_index >= warmup:
                times[name].append(seconds)
    return times


class CompileFailed(Exception):
    """``torch.compile`` failed under ``--compile-strict``."""


def _sync(device: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


# --------------------------------------------------------------------------------------- step-time


def _step_fn(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, amp: str
) -> Callable[[], None]:
    """One training step of ``model`` on ``(x, y)`` under ``amp`` (fp16 with a gradient scaler)."""
    dtype = resolve_amp(amp, x.device)
    scaler = torch.amp.GradScaler(x.device.type, enabled=dtype == torch.float16)

    def step() -> None:
        with autocast(x.device, dtype):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step


def train_step_times(
    backbone: str,
    connectivities: Sequence[str],
    batch_size: int,
    steps: int,
    warmup: int,
    device: torch.device,
    *,
    compile: bool = False,
    strict: bool = False,
    amp: str = "none",
    transposed_token_mixing: bool = False,
) -> tuple[dict[str, list[float]], list[str]]:
    """Seconds per training step for each connectivity, measured in interleaved rounds, and notes.

    With ``transposed_token_mixing`` (Mixers) a further contender times the first connectivity with
    the token mixing laid out as before :class:`~acn_bench.backbones.mixer.TokenLinear` (A/B).

    With ``compile`` the models run through ``torch.compile``; a twin whose compilation fails runs
    eager with a warning (a note says so), or with ``strict`` raises :class:`CompileFailed`.
    """
    models, steppers, notes = {}, {}, []
    for name in connectivities:
        torch.manual_seed(0)
        models[name] = create_backbone(backbone, connectivity=name).to(device).train()
    first = models[connectivities[0]]
    if transposed_token_mixing:
        require(
            any(isinstance(m, TokenMixing) for m in first.modules()),
            f"--transposed-token-mixing needs a Mixer backbone; {backbone!r} has no token mixing",
        )
        torch.manual_seed(0)
        before = create_backbone(backbone, connectivity=connectivities[0]).to(device).train()
        models[f"{connectivities[0]}, transposed token mixing"] = with_transposed_token_mixing(before)
    x = first.example_input(batch_size, device)
    y = torch.randint(0, first.config["num_classes"], (batch_size,), device=device)
    for name, model in models.items():
        optimizer = build_optimizer(model, 1e-3, 0.01)
        steppers[name] = _step_fn(torch.compile(model) if compile else model, optimizer, x, y, amp)
        if compile:
            t0 = time.perf_counter()
            try:
                steppers[name]()  # compiles forward and backward
            except Exception as exc:
                if strict:
                    raise CompileFailed(f"torch.compile failed for {name}: {type(exc).__name__}: {exc}") from exc
                message = f"torch.compile failed for {name} ({type(exc).__name__}: {str(exc).splitlines()[0]}); eager"
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                notes.append(message)
                steppers[name] = _step_fn(model, optimizer, x, y, amp)
            else:
                notes.append(f"{name}: compiled in {time.perf_counter() - t0:.1f} s (first step)")
    sync = _sync(device)

    def timed(name: str) -> Callable[[], float]:
        def run() -> float:
            sync()
            start = time.perf_counter()
            steppers[name]()
            sync()
            return time.perf_counter() - start

        return run

    return interleaved({name: timed(name) for name in models}, steps, warmup), notes


class TransposedTokenMixing(nn.Module):
    """Token mixing as it was before :class:`~acn_bench.backbones.mixer.TokenLinear`: plain ``Linear``
    layers on a transposed copy of the tokens, transposed back (the same parameters, for A/B timing)."""

    def __init__(self, mixing: TokenMixing) -> None:
        super().__init__()
        self.mlp = mixing.mlp
        for name in ("fc1", "fc2"):
            layer = getattr(self.mlp, name)
            plain = nn.Linear(layer.in_features, layer.out_features, device="meta")
            plain.weight, plain.bias = layer.weight, layer.bias
            setattr(self.mlp, name, plain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x.transpose(1, 2)).transpose(1, 2)


def with_transposed_token_mixing(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every :class:`TokenMixing` swapped for :class:`TransposedTokenMixing` (in place)."""
    for parent in list(model.modules()):
        for child_name, child in parent.named_children():
            if isinstance(child, TokenMixing):
                setattr(parent, child_name, TransposedTokenMixing(child))
    return model


def step_time_report(
    times: dict[str, list[float]], reference: str, title: str, batch_size: int, flops_per_sample: int
) -> Report:
    """Median step time, samples/s, achieved model TFLOP/s and the paired ratio to ``reference``."""
    report = Report(
        title,
        ["connectivity", "ms/step", "samples/s", "TFLOP/s", "ratio"],
        caption=f"ratio: step time over {reference}'s, median of the per-round ratios",
    )
    for name, values in times.items():
        median = statistics.median(values)
        report.rows.append(
            [
                name,
                f"{median * 1000:.1f}",
                f"{batch_size / median:.1f}",
                f"{batch_size * flops_per_sample / median / 1e12:.4f}",
                f"{paired_ratio(values, times[reference]):.3f}",
            ]
        )
    return report


def step_time_table(
    times: dict[str, list[float]], reference: str, title: str, batch_size: int, flops_per_sample: int
) -> Table:
    """Rich table of :func:`step_time_report`."""
    return step_time_report(times, reference, title, batch_size, flops_per_sample).rich()


def run_step_time(args: argparse.Namespace) -> Report:
    names = [c.strip() for c in args.connectivities.split(",")]
    device = torch.device(args.device)
    times, notes = train_step_times(
        args.backbone,
        names,
        args.batch_size,
        args.steps,
        args.warmup,
        device,
        compile=args.compile or args.compile_strict,
        strict=args.compile_strict,
        amp=args.amp,
        transposed_token_mixing=args.transposed_token_mixing,
    )
    model = create_backbone(args.backbone, connectivity=names[0])
    flops = training_flops_per_sample(model, model.example_input(1))
    mode = ", compiled" if args.compile or args.compile_strict else ""
    amp = f", amp {args.amp}" if args.amp != "none" else ""
    title = (
        f"{args.backbone}, batch {args.batch_size}, {args.steps} steps{mode}{amp}, {device}, "
        f"{torch.get_num_threads()} threads"
    )
    report = step_time_report(times, names[0], title, args.batch_size, flops)
    report.notes = notes
    return report


# -------------------------------------------------------------------------------- train-throughput


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


class BareLoop:
    """The yardstick: a training loop as one writes it plainly (see the module's docstring).

    With ``augment`` it applies the recipe's augmentation the plain way: crop and flip written
    inline, torchvision's ``AutoAugment`` image by image, timm's ``Mixup`` for CutMix / MixUp.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig,
        images: torch.Tensor,
        labels: torch.Tensor,
        device: torch.device,
        augment: bool,
        seed: int = 0,
    ) -> None:
        from timm.loss import SoftTargetCrossEntropy
        from torchvision.transforms import v2

        from acn_bench.data.autoaugment import POLICIES

        self.model = model.to(device).train()
        self.forward: Callable[[torch.Tensor], torch.Tensor] = self.model
        self.config = config
        self.images, self.labels = images.to(device), labels.to(device)
        pixels = images.float() / 255
        self.mean = pixels.mean(dim=(0, 2, 3)).view(1, -1, 1, 1).to(device)
        self.std = pixels.std(dim=(0, 2, 3)).view(1, -1, 1, 1).to(device)
        self.optimizer = build_optimizer(model, config.lr, config.weight_decay, config.betas, config.eps)
        self.dtype = resolve_amp(config.amp, device)
        self.pad = config.crop_padding if augment else 0
        self.flip = config.hflip and augment
        self.autoaugment = v2.AutoAugment(POLICIES[config.autoaugment]) if augment and config.autoaugment else None
        self.mixup = mixup_for(config, int(labels.max()) + 1) if augment else None
        self.criterion = SoftTargetCrossEntropy() if self.mixup is not None else None  # soft targets, smoothing in
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.order = torch.empty(0, dtype=torch.long, device=device)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.config.batch_size
        if self.order.numel() < size:
            self.order = torch.randperm(self.images.shape[0], generator=self.generator, device=self.images.device)
        index, self.order = self.order[:size], self.order[size:]
        x = self.images[index]
        if self.pad:  # a random crop of each zero-padded image
            n, _, h, w = x.shape
            padded = F.pad(x, (self.pad,) * 4)
            top, left = torch.randint(0, 2 * self.pad + 1, (2, n, 1, 1), generator=self.generator, device=x.device)
            rows = (top + torch.arange(h, device=x.device).view(1, h, 1)).expand(n, h, w)
            cols = (left + torch.arange(w, device=x.device).view(1, 1, w)).expand(n, h, w)
            x = padded[torch.arange(n, device=x.device).view(n, 1, 1), :, rows, cols].permute(0, 3, 1, 2)
        if self.flip:  # half the images mirrored
            mirror = torch.rand(x.shape[0], generator=self.generator, device=x.device) < 0.5
            x = torch.where(mirror.view(-1, 1, 1, 1), x.flip(-1), x)
        if self.autoaugment is not None:
            x = torch.stack([self.autoaugment(image) for image in x])
        x = (x.float() / 255 - self.mean) / self.std
        y = self.labels[index]
        return self.mixup(x, y) if self.mixup is not None else (x, y)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.criterion is not None:
            return self.criterion(logits, y)
        return F.cross_entropy(logits, y, label_smoothing=self.config.label_smoothing)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            x, y = self.batch()
            with autocast(x.device, self.dtype):
                loss = self.loss(self.forward(x), y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


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
    config, sync = setup.config, _sync(device)
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
        sync = _sync(device)
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


# ------------------------------------------------------------------------------------------ augment


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
    step = _step_fn(model, optimizer, floats, labels, "none")
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
    sync = _sync(device)

    def timed(fn: Callable[[], Any]) -> Callable[[], float]:
        def run() -> float:
            sync()
            start = time.perf_counter()
            fn()
            sync()
            return time.perf_counter() - start

        return run

    return interleaved({name: timed(fn) for name, fn in contenders.items()}, rounds, warmup=2)


def run_augment(args: argparse.Namespace) -> list[Report]:
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


# ------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m speed.perf", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    default_device = "cuda" if torch.cuda.is_available() else "cpu"

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--connectivities", default="residual,acn", help=f"comma-separated, from {', '.join(CONNECTIVITIES)}"
        )
        p.add_argument("--device", default=default_device)
        p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
        p.add_argument("--save", action="store_true", help="append the table to speed/results/<date>-<machine>.md")

    step = sub.add_parser("step-time", help="train-step time of twins at equal config")
    step.add_argument("--backbone", default="mixer_cifar")
    step.add_argument("--batch-size", type=int, default=64)
    step.add_argument("--steps", type=int, default=30, help="rounds of one step per twin")
    step.add_argument("--warmup", type=int, default=5)
    step.add_argument(
        "--compile", action="store_true", help="torch.compile the models (eager with a warning if it fails)"
    )
    step.add_argument("--compile-strict", action="store_true", help="torch.compile; exit 2 if compilation fails")
    step.add_argument("--amp", choices=AMP_CHOICES, default="none", help="autocast dtype (fp16 with a gradient scaler)")
    step.add_argument(
        "--transposed-token-mixing",
        action="store_true",
        help="also time the first twin with token mixing on transposed copies (the layout before TokenLinear)",
    )
    common(step)

    train = sub.add_parser("train-throughput", help="the suite's trainer against a bare PyTorch loop, both twins")
    train.add_argument(
        "--recipe", choices=RECIPES, default="quick", help="the compression suite's recipe of this profile"
    )
    train.add_argument("--backbone", default=None, help="default: the recipe's")
    train.add_argument("--dataset", choices=DATASETS, default=None, help="default: digits for quick, else cifar10")
    train.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    train.add_argument("--steps", type=int, default=20, help="steps per block (one fit of the trainer)")
    train.add_argument("--rounds", type=int, default=5, help="rounds of one block per contender")
    train.add_argument(
        "--bare-augment",
        choices=("none", "same"),
        default="none",
        help="the bare loop's augmentation: none (the model's bare step), or the recipe's written plainly",
    )
    train.add_argument(
        "--grad-norms", action=argparse.BooleanOptionalAction, default=None, help="default: the recipe's"
    )
    common(train)

    augment = sub.add_parser("augment", help="the standard recipe's augmentation of one batch against a bare step")
    augment.add_argument("--backbone", default="mixer_small", help="the model of the bare step")
    augment.add_argument("--batch-size", type=int, default=64)
    augment.add_argument("--rounds", type=int, default=30)
    common(augment)

    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.command == "train-throughput" and args.dataset is None:
        args.dataset = "digits" if args.recipe == "quick" else "cifar10"
    console = Console()
    commands = {
        "step-time": lambda: [run_step_time(args)],
        "train-throughput": train_throughput,
        "augment": run_augment,
    }
    try:
        reports = commands[args.command]() if args.command == "step-time" else commands[args.command](args)
    except (UserError, CompileFailed) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    for report in reports:
        console.print(report.rich())
        for note in report.notes:
            console.print(f"- {note}")
    if args.save:
        console.print(f"appended to {save_report(reports, torch.device(args.device), argv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
