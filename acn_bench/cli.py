"""The ``acn-bench`` command: ``run``, ``leaderboard`` and ``list``.

Every user mistake (unknown name, bad value, missing data) ends with a one-paragraph message and
exit status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch
from rich.console import Console

from acn_bench.backbones import CONNECTIVITIES, backbone_entry, list_backbones, load_plugin
from acn_bench.errors import UserError, require
from acn_bench.suite import PROFILES, RunContext, parse_only, parse_settings, parse_shard, plan_runs, run_suite

# Wide tables stay readable when output goes to a file or a pipe (rich would assume 80 columns).
console = Console(width=None if sys.stdout.isatty() else 240)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 240)


def default_results_dir() -> Path:
    """``$ACN_BENCH_RESULTS`` or ``./results``."""
    return Path(os.environ.get("ACN_BENCH_RESULTS", "results"))


def parse_int_list(text: str, what: str) -> list[int]:
    """``"5,10,15"`` -> ``[5, 10, 15]``; every value must be a whole number >= 1."""
    values = []
    for part in text.split(","):
        try:
            value = int(part)
        except ValueError:
            value = 0
        require(value >= 1, f"{what} takes whole numbers >= 1 separated by commas, got {part.strip()!r} in {text!r}.")
        values.append(value)
    return values


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; otherwise the named device, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"unknown device {name!r}; accepted: auto, cpu, cuda, cuda:N.") from exc
    require(device.type != "cuda" or torch.cuda.is_available(), f"device {name!r} asked for, but CUDA is not available here.")
    return device


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acn-bench", description="Auto-Compressing Networks vs residual networks: benchmarks and leaderboards.")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run a suite's grid (default: compression, quick profile, digits)")
    run.add_argument("suite", nargs="?", default=None, help="suite name (see `acn-bench list`)")
    run.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    run.add_argument("--dataset", default=None, help="dataset (default: the suite's first, e.g. digits)")
    run.add_argument("--seeds", type=int, default=1, help="run seeds 0..N-1 (default 1)")
    run.add_argument("--only", action="append", default=[], metavar="KEY=VALUE", help="keep grid entries with KEY=VALUE (repeatable)")
    run.add_argument("--shard", default=None, metavar="I/N", help="run only the I-th of N shards (1-based)")
    run.add_argument("--resume", action="store_true", help="skip runs whose record exists; resume interrupted training")
    run.add_argument("--backbones", default=None, help="comma-separated backbones replacing the suite's")
    run.add_argument("--connectivities", default=None, help=f"comma-separated, from {', '.join(CONNECTIVITIES)}")
    run.add_argument("--depths", default=None, help="comma-separated depths replacing the preset's (e.g. 5,10,15)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                     help="set a grid key (repeat a key to sweep it), e.g. --set noise_space=normalized")
    run.add_argument("--checkpoint", default=None, help="evaluate this saved model instead of training (robustness)")
    run.add_argument("--out", type=Path, default=None, help="records folder (default $ACN_BENCH_RESULTS or ./results)")
    run.add_argument("--data-root", type=Path, default=None, help="folder with dataset files (default $ACN_BENCH_DATA)")
    run.add_argument("--download", action="store_true", help="let torchvision download CIFAR archives when missing")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--plugin", action="append", default=[], type=Path, help="Python file registering extra backbones")
    run.add_argument("--dry-run", action="store_true", help="list the runs that would execute and stop")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    board = sub.add_parser("leaderboard", help="group records over seeds; print and write markdown + CSV")
    board.add_argument("suite", nargs="?", default=None, help="one suite (default: every suite with records)")
    board.add_argument("--records", type=Path, default=None, help="records folder (default $ACN_BENCH_RESULTS or ./results)")
    board.add_argument("--tables", type=Path, default=None, help="where <suite>.md/.csv go (default: the records folder)")

    sub.add_parser("list", help="suites, backbones, connectivities, datasets and profiles")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from benchmarks import DEFAULT_SUITE, get_suite

    for plugin in args.plugin:
        load_plugin(plugin)
    suite = get_suite(args.suite or DEFAULT_SUITE)
    axes = parse_settings(args.settings)
    if args.checkpoint:
        axes["checkpoint"] = [args.checkpoint]
    if args.backbones:
        axes["backbone"] = [b.strip() for b in args.backbones.split(",")]
        for name in axes["backbone"]:
            backbone_entry(name)
    if args.connectivities:
        axes["connectivity"] = [c.strip() for c in args.connectivities.split(",")]
        for name in axes["connectivity"]:
            if name not in CONNECTIVITIES:
                raise UserError(f"unknown connectivity {name!r}; accepted: {', '.join(CONNECTIVITIES)}.")
    if args.depths:
        axes["depth"] = parse_int_list(args.depths, "--depths")
    configs = plan_runs(suite, args.profile, args.dataset, args.seeds, parse_only(args.only), parse_shard(args.shard), axes)
    out_dir = args.out or default_results_dir()
    if args.dry_run:
        for config in configs:
            console.print(config)
        return 0
    context = RunContext(
        out_dir=out_dir, device=resolve_device(args.device), data_root=args.data_root, download=args.download,
        progress=not args.no_progress and console.is_terminal, log=console.print,
    )
    outcome = run_suite(suite, configs, context, resume=args.resume)
    console.print(f"{len(outcome.written)} record(s) written to {out_dir / suite.name}, {len(outcome.skipped)} skipped.")
    show_leaderboard(suite.name, out_dir, None, write=False)
    return 0


def show_leaderboard(suite_name: str, records_dir: Path, tables_dir: Optional[Path], write: bool = True) -> None:
    """Print the suite's table from ``records_dir``; with ``write``, also write ``.md`` and ``.csv``."""
    from acn_bench.results.leaderboard import records_frame, rich_table, summarize, write_leaderboard
    from acn_bench.results.store import load_records
    from benchmarks import get_suite

    suite = get_suite(suite_name)
    try:
        records = load_records(records_dir, suite.name)
    except ValueError as exc:
        raise UserError(f"invalid record: {exc}") from exc
    summary = summarize(records_frame(records, suite.group_by), suite.metrics, suite.group_by)
    title = f"{suite.name}: {suite.description}"
    console.print(rich_table(summary, suite.metrics, title))
    if write:
        out_dir = tables_dir or records_dir
        for path in [*write_leaderboard(summary, suite.metrics, out_dir, suite.name, title), *suite.plot(records, out_dir)]:
            console.print(f"wrote {path}")


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from benchmarks import get_suite, list_suites

    records_dir = args.records or default_results_dir()
    require(records_dir.is_dir(), f"records folder {str(records_dir)!r} does not exist; run a suite first or pass --records DIR.")
    if args.suite:
        names = [get_suite(args.suite).name]
    else:
        names = [name for name in list_suites() if (records_dir / name).is_dir()]
        require(bool(names), f"no suite records under {str(records_dir)!r}; expected folders named after suites ({', '.join(list_suites())}).")
    for name in names:
        show_leaderboard(name, records_dir, args.tables)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from acn_bench.data import list_datasets
    from benchmarks import get_suite, list_suites

    suites = Table(title="suites")
    suites.add_column("name")
    suites.add_column("what it measures")
    for name in list_suites():
        suites.add_row(name, get_suite(name).description)
    backbones = Table(title="backbones")
    backbones.add_column("name")
    backbones.add_column("description")
    for name in list_backbones():
        backbones.add_row(name, backbone_entry(name).description)
    console.print(suites, backbones)
    console.print(f"connectivities: {', '.join(CONNECTIVITIES)}")
    console.print(f"datasets: {', '.join(list_datasets())}")
    console.print(f"profiles: {', '.join(PROFILES)}")
    return 0


COMMANDS = {"run": cmd_run, "leaderboard": cmd_leaderboard, "list": cmd_list}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``acn-bench`` console script."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["run", *(argv or [])])
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        err_console.print(f"[bold red]acn-bench: error:[/] {exc}", highlight=False)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
