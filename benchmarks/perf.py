"""Throughput benchmarks (scripts, not timed tests).

``python -m benchmarks.perf step-time`` times one training step (forward, backward, AdamW update)
of twins that differ only in connectivity, on the backbone's ``example_input`` (random images, or
random 128-token sequences for BERT-style ones), interleaving the twins so that machine noise hits
both alike, and prints the median step time, samples/s, achieved model TFLOP/s (3x forward FLOPs)
and the ratio to the residual twin. ``--compile`` runs the twins through ``torch.compile`` (eager,
with a warning, where compilation fails; ``--compile-strict`` exits 2 with the error instead) and
``--amp bf16|fp16`` under autocast (fp16 with a gradient scaler). ``--transposed-token-mixing``
(Mixers) adds the first twin with the token-mixing layout of before ``TokenLinear`` as a contender.

``python -m benchmarks.perf train-throughput`` times the suite's trainer against a bare PyTorch
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
table, the command line and the environment to ``benchmarks/results/<YYYY-MM-DD>-<machine>.md``
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from torch import nn

from acn_bench.backbones import CONNECTIVITIES, create_backbone
from acn_bench.backbones.mixer import TokenMixing
from acn_bench.errors import UserError, require
from acn_bench.training import TrainConfig, Trainer
from acn_bench.training.evaluate import autocast
from acn_bench.training.schedule import build_optimizer
from acn_bench.training.throughput import training_flops_per_sample
from acn_bench.training.trainer import resolve_amp

RESULTS_DIR = Path(__file__).parent / "results"
AMP_CHOICES = ("none", "bf16", "fp16")
DATASETS = ("digits", "synthetic", "cifar10")
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
    """``benchmarks/results/<YYYY-MM-DD>-<machine>.md`` (the machine name lower-cased, runs of other
    characters than letters and digits turned into one dash)."""
    slug = re.sub(r"[^a-z0-9]+", "-", machine_name(device).lower()).strip("-")
    return RESULTS_DIR / f"{(day or datetime.date.today()).isoformat()}-{slug}.md"


def save_report(report: Report, device: torch.device, argv: Sequence[str], path: Path | None = None) -> Path:
    """Append ``report`` under its command line and environment to the day's results file of this machine."""
    from acn_bench.results.record import environment

    path = path or results_path(device)
    env = environment()
    commit = (env.get("git_commit") or "unknown")[:10]
    dirty = {True: " (uncommitted changes)", False: "", None: " (dirty state unknown)"}[env.get("git_dirty")]
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    section = [
        f"## {when}: `python -m benchmarks.perf {shlex.join(argv)}`",
        "",
        f"commit {commit}{dirty}; torch {torch.__version__}; {device}; {torch.get_num_threads()} torch threads; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end",
        "",
        report.markdown(),
        "",
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


def quick_recipe(dataset: str) -> Any:
    """The compression suite's quick recipe for ``dataset`` (CIFAR-10's for synthetic images)."""
    from acn_bench.suite_registry import get_suite

    return get_suite("compression").recipe("quick", "cifar10" if dataset == "synthetic" else dataset)


class BareLoop:
    """The yardstick: a training loop as one writes it plainly (see the module's docstring)."""

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
        x = (x.float() / 255 - self.mean) / self.std
        return x, self.labels[index]

    def run(self, steps: int) -> None:
        for _ in range(steps):
            x, y = self.batch()
            with autocast(x.device, self.dtype):
                loss = F.cross_entropy(self.forward(x), y, label_smoothing=self.config.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


def train_throughput(args: argparse.Namespace) -> Report:
    """Trainer vs bare loop, both twins, interleaved blocks of ``args.steps`` steps."""
    from acn_bench.data.images import ImageSet
    from benchmarks.common import backbone_for

    device = torch.device(args.device)
    images, labels, num_classes = load_data(args.dataset)
    recipe = quick_recipe(args.dataset)
    config = replace(recipe.train, steps=args.steps, eval_every=10**6)
    if args.batch_size:
        config = replace(config, batch_size=args.batch_size)
    if args.grad_norms is not None:
        config = replace(config, grad_norms=args.grad_norms)
    same = args.backbone == recipe.backbone
    overrides = dict(recipe.overrides) if same else {}
    depth = recipe.depth if same else None
    data = ImageSet(images, labels, [str(c) for c in range(num_classes)], args.dataset, "synthetic", "train")
    twins = [c.strip() for c in args.connectivities.split(",")]
    contenders: dict[str, Callable[[], float]] = {}
    setup: dict[str, list[float]] = {}
    sync = _sync(device)
    flops = 0
    for twin in twins:
        torch.manual_seed(0)
        trainer_model = backbone_for(args.backbone, data, twin, depth=depth, **overrides)
        torch.manual_seed(0)
        bare_model = backbone_for(args.backbone, data, twin, depth=depth, **overrides)
        flops = training_flops_per_sample(bare_model, bare_model.example_input(1, shape=images.shape[1:]))
        trainer = Trainer(
            trainer_model, config, images, labels, images[:EVAL_IMAGES], labels[:EVAL_IMAGES], device=device
        )
        bare = BareLoop(bare_model, config, images, labels, device, augment=args.bare_augment == "same")
        if getattr(trainer, "compiled", False):  # the trainer compiles its forward here (CUDA): so does the yardstick
            bare.forward = torch.compile(bare.model)
        setup[twin] = []

        def run_trainer(trainer: Trainer = trainer, twin: str = twin) -> float:
            sync()
            start = time.perf_counter()
            result = trainer.fit()
            sync()
            setup[twin].append(time.perf_counter() - start - result.train_seconds)
            return result.train_seconds

        def run_bare(bare: BareLoop = bare) -> float:
            sync()
            start = time.perf_counter()
            bare.run(args.steps)
            sync()
            return time.perf_counter() - start

        contenders[f"trainer {twin}"] = run_trainer
        contenders[f"bare {twin}"] = run_bare
    scheduler_log = logging.getLogger("timm.scheduler")  # short fits: "cosine ... will have no effect"
    level = scheduler_log.level
    scheduler_log.setLevel(logging.ERROR)
    try:
        times = interleaved(contenders, args.rounds, warmup=1)
    finally:
        scheduler_log.setLevel(level)
    batch = config.batch_size
    augment = f"crop {config.crop_padding}" + (", flip" if config.hflip else "")
    title = (
        f"{args.backbone} on {args.dataset} {tuple(images.shape[1:])}, batch {batch}, {args.rounds} rounds x "
        f"{args.steps} steps, {device}, {torch.get_num_threads()} threads"
    )
    report = Report(
        title,
        ["loop", "ms/step", "img/s", "TFLOP/s", "trainer/bare img/s", "acn/residual time"],
        caption="ratios: medians of the per-round paired ratios",
    )
    reference = twins[0]
    for name, values in times.items():
        loop, twin = name.split(" ", 1)
        per_step = statistics.median(values) / args.steps
        versus_bare = paired_ratio(times[f"bare {twin}"], values) if loop == "trainer" else None
        versus_ref = paired_ratio(values, times[f"{loop} {reference}"]) if twin != reference else None
        report.rows.append(
            [
                name,
                f"{per_step * 1000:.2f}",
                f"{batch / per_step:.1f}",
                f"{batch * flops / per_step / 1e12:.4f}",
                "" if versus_bare is None else f"{versus_bare:.3f}",
                "" if versus_ref is None else f"{versus_ref:.3f}",
            ]
        )
    report.notes = [
        f"trainer: Trainer + compression quick recipe ({augment}, label smoothing {config.label_smoothing}, "
        f"clip {config.clip_grad}, warm-up + {config.schedule}, grad_norms={config.grad_norms}, amp {config.amp}); "
        "time = its own train_seconds of a fit() of the block's steps",
        "fit() set-up and end-of-fit validation, outside the timed stretch: "
        + ", ".join(f"{twin} {statistics.median(v) * 1000:.1f} ms/fit" for twin, v in setup.items()),
        f"bare: plain loop, {augment if args.bare_augment == 'same' else 'no augmentation'}, "
        "uint8 -> float normalised per batch, same AdamW, no clipping/schedule/logging",
    ]
    return report


# ------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.perf", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    default_device = "cuda" if torch.cuda.is_available() else "cpu"

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--connectivities", default="residual,acn", help=f"comma-separated, from {', '.join(CONNECTIVITIES)}"
        )
        p.add_argument("--device", default=default_device)
        p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
        p.add_argument("--save", action="store_true", help="append the table to benchmarks/results/<date>-<machine>.md")

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
    train.add_argument("--backbone", default="mixer_small")
    train.add_argument("--dataset", choices=DATASETS, default="digits")
    train.add_argument("--batch-size", type=int, default=None, help="default: the quick recipe's")
    train.add_argument("--steps", type=int, default=20, help="steps per block (one fit of the trainer)")
    train.add_argument("--rounds", type=int, default=5, help="rounds of one block per contender")
    train.add_argument("--bare-augment", choices=("same", "none"), default="same")
    train.add_argument(
        "--grad-norms", action=argparse.BooleanOptionalAction, default=None, help="default: the quick recipe's (on)"
    )
    common(train)

    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console()
    try:
        report = run_step_time(args) if args.command == "step-time" else train_throughput(args)
    except (UserError, CompileFailed) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    console.print(report.rich())
    for note in report.notes:
        console.print(f"- {note}")
    if args.save:
        console.print(f"appended to {save_report(report, torch.device(args.device), argv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
