"""Throughput benchmarks (scripts, not timed tests).

``python -m benchmarks.perf step-time`` times one training step (forward, backward, AdamW update)
of twins that differ only in connectivity, on the backbone's ``example_input`` (random images, or
random 128-token sequences for BERT-style ones), interleaving the twins so that machine noise hits
both alike, and prints the median step time, samples/s, achieved model TFLOP/s (3x forward FLOPs)
and the ratio to the residual twin.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Sequence

import torch
from rich.console import Console
from rich.table import Table

from acn_bench.backbones import CONNECTIVITIES, create_backbone
from acn_bench.training.schedule import build_optimizer
from acn_bench.training.throughput import training_flops_per_sample


def train_step_times(
    backbone: str, connectivities: Sequence[str], batch_size: int, steps: int, warmup: int, device: torch.device
) -> dict[str, list[float]]:
    """Seconds per training step for each connectivity, measured in interleaved rounds."""
    models, optimizers = {}, {}
    for name in connectivities:
        torch.manual_seed(0)
        models[name] = create_backbone(backbone, connectivity=name).to(device).train()
        optimizers[name] = build_optimizer(models[name], 1e-3, 0.01)
    first = models[connectivities[0]]
    x = first.example_input(batch_size, device)
    y = torch.randint(0, first.config["num_classes"], (batch_size,), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in connectivities}
    for round_index in range(warmup + steps):
        for name in connectivities:
            sync()
            start = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(models[name](x), y)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
            sync()
            if round_index >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def step_time_table(
    times: dict[str, list[float]], reference: str, title: str, batch_size: int, flops_per_sample: int
) -> Table:
    """Rich table of median step time, samples/s, achieved model TFLOP/s and the ratio to ``reference``."""
    table = Table(title=title, caption=f"ratio: median step time over {reference}'s")
    for column in ("connectivity", "ms/step", "samples/s", "TFLOP/s", "ratio"):
        table.add_column(column, justify="right")
    ref = statistics.median(times[reference])
    for name, values in times.items():
        median = statistics.median(values)
        table.add_row(
            name,
            f"{median * 1000:.1f}",
            f"{batch_size / median:.1f}",
            f"{batch_size * flops_per_sample / median / 1e12:.4f}",
            f"{median / ref:.3f}",
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.perf", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    step = sub.add_parser("step-time", help="train-step time of twins at equal config")
    step.add_argument("--backbone", default="mixer_cifar")
    step.add_argument(
        "--connectivities", default="residual,acn", help=f"comma-separated, from {', '.join(CONNECTIVITIES)}"
    )
    step.add_argument("--batch-size", type=int, default=64)
    step.add_argument("--steps", type=int, default=30)
    step.add_argument("--warmup", type=int, default=5)
    step.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    names = [c.strip() for c in args.connectivities.split(",")]
    device = torch.device(args.device)
    times = train_step_times(args.backbone, names, args.batch_size, args.steps, args.warmup, device)
    model = create_backbone(args.backbone, connectivity=names[0])
    flops = training_flops_per_sample(model, model.example_input(1))
    title = f"{args.backbone}, batch {args.batch_size}, {args.steps} steps, {device}, {torch.get_num_threads()} threads"
    Console().print(step_time_table(times, names[0], title, args.batch_size, flops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
