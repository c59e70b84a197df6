"""Throughput benchmarks (scripts, not timed tests).

``python -m speed.perf COMMAND`` with the commands ``step-time`` (:mod:`speed.step_time`: train-step
time of twins), ``train-throughput`` (:mod:`speed.throughput`: the suite's trainer against a bare
loop, :mod:`speed.bare_loop`) and ``augment`` (:mod:`speed.augment`: the standard recipe's
augmentation against a bare step). Every command takes ``--threads N`` (torch's intra-op threads)
and ``--save``, which appends the tables, the command line and the environment to
``speed/results/<YYYY-MM-DD>-<machine>.md`` (:mod:`speed.report`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import torch
from rich.console import Console

from acn_bench.backbones import CONNECTIVITIES
from acn_bench.errors import UserError
from speed.augment import augment_times, run_augment
from speed.report import RESULTS_DIR, Report, machine_name, results_path, save_report
from speed.step_time import (
    CompileFailed,
    TransposedTokenMixing,
    run_step_time,
    step_time_report,
    step_time_table,
    train_step_times,
    with_transposed_token_mixing,
)
from speed.throughput import BareLoop, train_throughput
from speed.timing import interleaved, paired_ratio

__all__ = [
    "RESULTS_DIR",
    "BareLoop",
    "CompileFailed",
    "Report",
    "TransposedTokenMixing",
    "augment_times",
    "interleaved",
    "machine_name",
    "main",
    "paired_ratio",
    "results_path",
    "save_report",
    "step_time_report",
    "step_time_table",
    "train_step_times",
    "train_throughput",
    "with_transposed_token_mixing",
]

AMP_CHOICES = ("none", "bf16", "fp16")
DATASETS = ("digits", "synthetic", "cifar10")
RECIPES = ("quick", "standard", "paper")  # the compression suite's profiles whose recipes train-throughput runs


def _common_options(p: argparse.ArgumentParser, default_device: str) -> None:
    p.add_argument(
        "--connectivities", default="residual,acn", help=f"comma-separated, from {', '.join(CONNECTIVITIES)}"
    )
    p.add_argument("--device", default=default_device)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--save", action="store_true", help="append the table to speed/results/<date>-<machine>.md")


def _step_time_options(step: argparse.ArgumentParser) -> None:
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


def _train_throughput_options(train: argparse.ArgumentParser) -> None:
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


def _augment_options(augment: argparse.ArgumentParser) -> None:
    augment.add_argument("--backbone", default="mixer_small", help="the model of the bare step")
    augment.add_argument("--batch-size", type=int, default=64)
    augment.add_argument("--rounds", type=int, default=30)


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``step-time``, ``train-throughput`` and ``augment``, each with the common options."""
    parser = argparse.ArgumentParser(prog="python -m speed.perf", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    for name, help_text, options in (
        ("step-time", "train-step time of twins at equal config", _step_time_options),
        ("train-throughput", "the suite's trainer against a bare PyTorch loop, both twins", _train_throughput_options),
        ("augment", "the standard recipe's augmentation of one batch against a bare step", _augment_options),
    ):
        command = sub.add_parser(name, help=help_text)
        options(command)
        _common_options(command, default_device)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run the command, print its tables; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.command == "train-throughput" and args.dataset is None:
        args.dataset = "digits" if args.recipe == "quick" else "cifar10"
    console = Console()
    commands = {
        "step-time": lambda: [run_step_time(args)],
        "train-throughput": lambda: train_throughput(args),
        "augment": lambda: run_augment(args),
    }
    try:
        reports = commands[args.command]()
    except (UserError, CompileFailed) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    for report in reports:
        console.print(report.rich())
        for note in report.notes:
            console.print(f"- {note}")
    if args.save:
        device = torch.device(args.device)
        console.print(f"appended to {save_report(reports, device, argv, results_path(device, directory=RESULTS_DIR))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
