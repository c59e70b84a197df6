"""``python -m speed.perf step-time``: one training step of twins that differ only in connectivity.

A step is forward, backward and an AdamW update on the backbone's ``example_input`` (random images,
or random 128-token sequences for BERT-style ones), the twins interleaved. The table gives the
median step time, samples/s, achieved model TFLOP/s (3x forward FLOPs) and the ratio to the first
twin. ``--compile`` runs the twins through ``torch.compile`` (eager, with a warning, where
compilation fails; ``--compile-strict`` exits 2 with the error instead), ``--amp bf16|fp16`` under
autocast (fp16 with a gradient scaler); ``--transposed-token-mixing`` (Mixers) adds the first twin
with token mixing on transposed copies of the tokens, the layout that ``TokenLinear`` avoids, as an A/B.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Callable, Sequence

import torch
from rich.table import Table
from torch import nn

from acn_bench.backbones import create_backbone
from acn_bench.backbones.mixer import TokenMixing
from acn_bench.errors import require
from acn_bench.training.schedule import build_optimizer
from acn_bench.training.throughput import training_flops_per_sample
from speed.report import Report
from speed.timing import interleaved, paired_ratio, step_fn, timed


class CompileFailed(Exception):
    """``torch.compile`` failed under ``--compile-strict``."""


class TransposedTokenMixing(nn.Module):
    """Token mixing with plain ``Linear`` layers on a transposed copy of the tokens, transposed back: the
    layout :class:`~acn_bench.backbones.mixer.TokenLinear` avoids (the same parameters, for A/B timing)."""

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


def _twins(
    backbone: str, connectivities: Sequence[str], device: torch.device, transposed_token_mixing: bool
) -> dict[str, torch.nn.Module]:
    """One model per connectivity (seed 0), and the first one with transposed token mixing if asked."""
    models = {}
    for name in connectivities:
        torch.manual_seed(0)
        models[name] = create_backbone(backbone, connectivity=name).to(device).train()
    if transposed_token_mixing:
        require(
            any(isinstance(m, TokenMixing) for m in models[connectivities[0]].modules()),
            f"--transposed-token-mixing needs a Mixer backbone; {backbone!r} has no token mixing",
        )
        torch.manual_seed(0)
        before = create_backbone(backbone, connectivity=connectivities[0]).to(device).train()
        models[f"{connectivities[0]}, transposed token mixing"] = with_transposed_token_mixing(before)
    return models


def _compiled_step(
    name: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer, x, y, amp: str, strict: bool, notes: list[str]
) -> Callable[[], None]:
    """The step of ``torch.compile(model)``, compiled by one first step; eager with a note (or
    :class:`CompileFailed` when ``strict``) where compilation fails."""
    step = step_fn(torch.compile(model), optimizer, x, y, amp)
    t0 = time.perf_counter()
    try:
        step()  # compiles forward and backward
    except Exception as exc:
        if strict:
            raise CompileFailed(f"torch.compile failed for {name}: {type(exc).__name__}: {exc}") from exc
        message = f"torch.compile failed for {name} ({type(exc).__name__}: {str(exc).splitlines()[0]}); eager"
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        notes.append(message)
        return step_fn(model, optimizer, x, y, amp)
    notes.append(f"{name}: compiled in {time.perf_counter() - t0:.1f} s (first step)")
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
    :class:`TransposedTokenMixing` (A/B against :class:`~acn_bench.backbones.mixer.TokenLinear`).

    With ``compile`` the models run through ``torch.compile``; a twin whose compilation fails runs
    eager with a warning (a note says so), or with ``strict`` raises :class:`CompileFailed`.
    """
    models = _twins(backbone, connectivities, device, transposed_token_mixing)
    first = models[connectivities[0]]
    x = first.example_input(batch_size, device)
    y = torch.randint(0, first.config["num_classes"], (batch_size,), device=device)
    steppers, notes = {}, []
    for name, model in models.items():
        optimizer = build_optimizer(model, 1e-3, 0.01)
        if compile:
            steppers[name] = _compiled_step(name, model, optimizer, x, y, amp, strict, notes)
        else:
            steppers[name] = step_fn(model, optimizer, x, y, amp)
    contenders = {name: timed(stepper, device) for name, stepper in steppers.items()}
    return interleaved(contenders, steps, warmup), notes


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
    """The ``step-time`` command: time the twins and make the table."""
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
