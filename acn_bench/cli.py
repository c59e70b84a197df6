"""The ``acn-bench`` command and its sub-commands.

``run`` (a suite's grid), ``leaderboard`` (tables and figures from records), ``plot`` (a suite's
figures), ``validate`` (re-check records), ``submit`` (a new backbone onto the leaderboards),
``paper-records`` (the paper's numbers as records), ``claims`` (each claim of the paper tested on
ACN − residual differences paired by seed), ``site`` (the leaderboards as a static website) and
``list`` (suites, backbones, datasets, profiles). Every user mistake (unknown name, bad value,
missing data, a broken plugin) ends with a one-paragraph message and exit status 2, before anything
is written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
from rich.console import Console

from acn_bench import progress
from acn_bench.backbones import CONNECTIVITIES, backbone_entry, list_backbones
from acn_bench.errors import UserError, require
from acn_bench.plugins import load_plugin
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.record import Record
from acn_bench.results.store import RecordFolder, read_records
from acn_bench.suites import (
    PROFILES,
    RunContext,
    Suite,
    get_suite,
    has_run,
    list_suites,
    parse_only,
    parse_settings,
    parse_shard,
    plan_runs,
    run_suite,
)
from acn_bench.suites.registry import DEFAULT_SUITE
from acn_bench.training import distributed

if TYPE_CHECKING:
    from acn_bench.results.leaderboard import Leaderboard

# Wide tables stay readable when output goes to a file or a pipe (rich would assume 80 columns).
console = Console(width=None if sys.stdout.isatty() else 240)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 240)


LEADERBOARDS = Path("leaderboards")
LEADERBOARD_RECORDS = LEADERBOARDS / "records"
SITE = Path("site")


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
    require(
        device.type != "cuda" or torch.cuda.is_available(),
        f"device {name!r} asked for, but CUDA is not available here.",
    )
    return device


def add_plugin_argument(
    parser: argparse.ArgumentParser, required: bool = False, what: str = "extra backbones or suites"
) -> None:
    """The repeatable ``--plugin FILE.py`` option (see :mod:`acn_bench.plugins`)."""
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        type=Path,
        required=required,
        help=f"Python file registering {what} (repeatable)",
    )


def add_run_command(sub: argparse._SubParsersAction) -> None:
    """``run``: a suite's grid, with seeds, filters, sharding, resume and parallel jobs."""
    run = sub.add_parser("run", help="run a suite's grid (default: compression, quick profile, digits)")
    run.add_argument("suite", nargs="?", default=None, help="suite name (see `acn-bench list`)")
    run.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    run.add_argument("--dataset", default=None, help="dataset (default: the suite's first, e.g. digits)")
    run.add_argument("--seeds", type=int, default=1, help="run seeds 0..N-1 (default 1)")
    run.add_argument(
        "--only", action="append", default=[], metavar="KEY=VALUE", help="keep grid entries with KEY=VALUE (repeatable)"
    )
    run.add_argument("--shard", default=None, metavar="I/N", help="run only the I-th of N shards (1-based)")
    run.add_argument("--resume", action="store_true", help="skip runs whose record exists; resume interrupted training")
    run.add_argument("--backbones", default=None, help="comma-separated backbones replacing the suite's")
    run.add_argument("--connectivities", default=None, help=f"comma-separated, from {', '.join(CONNECTIVITIES)}")
    run.add_argument("--depths", default=None, help="comma-separated depths replacing the preset's (e.g. 5,10,15)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help="set a grid key (repeat a key to sweep it), e.g. --set noise_space=normalized",
    )
    run.add_argument("--checkpoint", default=None, help="evaluate this saved model instead of training (robustness)")
    run.add_argument("--out", type=Path, default=None, help="records folder (default $ACN_BENCH_RESULTS or ./results)")
    run.add_argument("--data-root", type=Path, default=None, help="folder with dataset files (default $ACN_BENCH_DATA)")
    run.add_argument("--download", action="store_true", help="let torchvision download CIFAR archives when missing")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_plugin_argument(run)
    run.add_argument("--dry-run", action="store_true", help="list the runs that would execute and stop")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument(
        "--jobs",
        default="auto",
        metavar="N",
        help="runs at once, each in its own process with cores/N CPU threads, output in <out>/<suite>/.logs/ "
        "(default auto: one single-thread job per core for CPU grids of quick or longer runs, else 1: one run "
        "after the other in this process)",
    )


def add_leaderboard_command(sub: argparse._SubParsersAction) -> None:
    """``leaderboard``: records grouped over seeds, printed and written."""
    board = sub.add_parser("leaderboard", help="group records over seeds; print and write markdown + CSV + figures")
    board.add_argument("suite", nargs="?", default=None, help="one suite (default: every suite with records)")
    board.add_argument("--records", type=Path, default=None, help=f"records folder (default {LEADERBOARD_RECORDS})")
    board.add_argument(
        "--tables",
        type=Path,
        default=None,
        help=f"where <suite>.md/.csv/.png go (default {LEADERBOARDS} for the committed records, "
        "else the records folder)",
    )
    board.add_argument("--profile", default=None, help="only records of this profile (paper rows stay)")
    board.add_argument("--dataset", default=None, help="only records on this dataset (paper rows stay)")
    board.add_argument("--only", action="append", default=[], metavar="KEY=VALUE", help="only rows with KEY=VALUE")
    board.add_argument("--format", choices=("table", "md", "csv", "json"), default="table", help="what to print")
    board.add_argument(
        "--columns",
        choices=("key", "all"),
        default="key",
        help="key: the suite's key metrics, one table per setup (default); all: every metric, the commits and "
        "the tree state, printed and in the written markdown (the CSV always has every column)",
    )
    board.add_argument("--paper", action="store_true", help="print every paper number next to the measured value")


def add_plot_command(sub: argparse._SubParsersAction) -> None:
    """``plot``: a suite's figures."""
    plot = sub.add_parser("plot", help="write a suite's figures (PNG) from its records")
    plot.add_argument("suite")
    plot.add_argument("--records", type=Path, default=None, help=f"records folder (default {LEADERBOARD_RECORDS})")
    plot.add_argument("--out", type=Path, default=None, help=f"where the PNGs go (default {LEADERBOARDS})")


def add_validate_command(sub: argparse._SubParsersAction) -> None:
    """``validate``: re-check every record."""
    check = sub.add_parser("validate", help="re-check every record: schema, hash, fields, duplicates")
    check.add_argument("--records", type=Path, default=None, help=f"records folder (default {LEADERBOARD_RECORDS})")


def add_claims_command(sub: argparse._SubParsersAction) -> None:
    """``claims``: the paper's claims on paired seeds."""
    claims = sub.add_parser(
        "claims", help="the paper's claims on paired seeds: one Holm-adjusted primary test each, the rest exploratory"
    )
    claims.add_argument("--records", type=Path, default=None, help=f"records folder (default {LEADERBOARD_RECORDS})")
    claims.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"markdown report (default {LEADERBOARDS / 'claims.md'}; with --records DIR, DIR/claims.md)",
    )
    claims.add_argument(
        "--columns",
        choices=("key", "all"),
        default="key",
        help="key: one compact table per claim (default); all: one wide table of every column (ACN and residual "
        "means, unpaired seeds, suite, budget, backbone, depth), printed and in the written markdown",
    )


def add_submit_command(sub: argparse._SubParsersAction) -> None:
    """``submit``: check a new backbone, run a suite for it, add its records."""
    submit = sub.add_parser("submit", help="check a new backbone, run a suite for it, add its records to leaderboards/")
    add_plugin_argument(submit, required=True, what="the backbone")
    submit.add_argument("--backbone", required=True, help="the registered name")
    submit.add_argument("--suite", required=True)
    submit.add_argument("--profile", default="quick")
    submit.add_argument("--dataset", default=None)
    submit.add_argument("--seeds", type=int, default=1)
    submit.add_argument("--device", default="auto")
    submit.add_argument("--records", type=Path, default=None, help=f"where records go (default {LEADERBOARD_RECORDS})")
    submit.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_site_command(sub: argparse._SubParsersAction) -> None:
    """``site``: the leaderboards as a static website."""
    site = sub.add_parser("site", help="the leaderboards as a static website (opens from the file system, offline)")
    site.add_argument("--records", type=Path, default=None, help=f"records folder (default {LEADERBOARD_RECORDS})")
    site.add_argument(
        "--out", type=Path, default=None, help=f"the site's folder, replaced as a whole (default {SITE}/)"
    )
    add_plugin_argument(site, what="suites whose records the site shows")


def add_paper_records_command(sub: argparse._SubParsersAction) -> None:
    """``paper-records``: the paper's reported numbers as records."""
    papers = sub.add_parser("paper-records", help="write the paper's reported numbers as source=paper records")
    papers.add_argument("--out", type=Path, default=None, help=f"records folder (default {LEADERBOARD_RECORDS})")


def add_list_command(sub: argparse._SubParsersAction) -> None:
    """``list``: what can be run."""
    listing = sub.add_parser("list", help="suites, backbones, connectivities, datasets and profiles")
    add_plugin_argument(listing)


def build_parser() -> argparse.ArgumentParser:
    """The ``acn-bench`` command line: one subcommand per ``add_*_command``."""
    parser = argparse.ArgumentParser(
        prog="acn-bench", description="Auto-Compressing Networks vs residual networks: benchmarks and leaderboards."
    )
    sub = parser.add_subparsers(dest="command")
    add_run_command(sub)
    add_leaderboard_command(sub)
    add_plot_command(sub)
    add_validate_command(sub)
    add_claims_command(sub)
    add_submit_command(sub)
    add_site_command(sub)
    add_paper_records_command(sub)
    add_list_command(sub)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    jobs = parse_jobs(args.jobs)
    require(
        jobs in (None, 1) or not distributed.launched_by_torchrun(),
        f"--jobs {jobs} cannot run under torchrun: there every process trains its slice of one run. "
        "Use --jobs 1 with torchrun, or --jobs N without it.",
    )
    load_plugins(args.plugin)
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
    configs = plan_runs(
        suite, args.profile, args.dataset, args.seeds, parse_only(args.only), parse_shard(args.shard), axes
    )
    out_dir = args.out or default_results_dir()
    if args.dry_run:
        show_planned_runs(suite, configs, out_dir, args.resume)
        return 0
    device = resolve_device(args.device)
    if jobs is None:
        jobs = auto_jobs(args.profile, device, len(configs))
    if distributed.launched_by_torchrun():
        device = distributed.init_distributed(device)
    main_rank = distributed.is_main()
    context = RunContext(
        out_dir=out_dir,
        device=device,
        data_root=args.data_root,
        download=args.download,
        progress=main_rank and not args.no_progress and console.is_terminal,  # one rank draws
        log=console.print if main_rank else ignore,
    )
    if jobs > len(configs) >= 1:
        console.print(f"--jobs {jobs} is more than the {len(configs)} planned run(s): running {len(configs)} at once.")
        jobs = len(configs)
    if jobs > 1 and len(configs) > 1:
        return run_jobs(suite, configs, context, jobs, args)
    with progress.display(context.progress, console):  # the log lines print above the bars
        outcome = run_suite(suite, configs, context, resume=args.resume)
    if main_rank:
        console.print(
            f"{len(outcome.written)} record(s) written to {out_dir / suite.name}, {len(outcome.skipped)} skipped."
        )
        show_run_leaderboard(suite, out_dir)
    return 0


def auto_jobs(profile: str, device: torch.device, runs: int) -> int:
    """``--jobs auto``: one single-thread worker per core (at most one per run) for CPU grids of quick or
    longer runs, where it gave the best throughput (README); 1 for smoke runs (a worker's start costs
    more than it saves), on CUDA (sharing one GPU is opt-in) and under torchrun."""
    if profile == "smoke" or device.type != "cpu" or distributed.launched_by_torchrun():
        return 1
    from acn_bench.jobs import available_cores

    return max(1, min(available_cores(), runs))


def parse_jobs(text: str) -> int | None:
    """``--jobs N``: a whole number >= 1, or ``auto`` (``None``: decided by :func:`auto_jobs`)."""
    if text == "auto":
        return None
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    require(jobs >= 1, f"--jobs takes auto or a whole number of runs at once >= 1 (e.g. --jobs 2), got {text!r}.")
    return jobs


def run_jobs(suite: Suite, configs: list[dict], context: RunContext, jobs: int, args: argparse.Namespace) -> int:
    """``run --jobs N`` (N > 1): the runs in N processes; exit 1 when a run failed (2 when only UserErrors)."""
    from rich.markup import escape

    from acn_bench.jobs import run_log_path, run_parallel, threads_per_job

    logs = run_log_path(context.out_dir, suite.name, "<run id>")
    threads = threads_per_job(jobs)
    console.print(
        f"{len(configs)} runs, {jobs} at once, each in its own process with {threads} CPU thread(s); "
        f"their output goes to {logs}",
        highlight=False,
        markup=False,
    )
    outcome = run_parallel(suite, configs, context, jobs, resume=args.resume, plugins=args.plugin, console=console)
    done = f"{len(outcome.written)} record(s) written to {context.out_dir / suite.name}, {len(outcome.skipped)} skipped"
    if outcome.interrupted:
        console.print(
            f"interrupted: {outcome.finished} of {outcome.planned} run(s) finished ({done}); the runs in progress "
            "were stopped and leave no record (`--resume` continues them from their checkpoints).",
            highlight=False,
            markup=False,
        )
        return 130
    console.print(f"{done}, {len(outcome.failures)} failed.", highlight=False, markup=False)
    if outcome.written or outcome.skipped:
        show_run_leaderboard(suite, context.out_dir)
    for failure in outcome.failures:
        what = "" if failure.user_error else "run failed: "
        err_console.print(f"[bold red]acn-bench: error:[/] {escape(what + failure.describe())}", highlight=False)
    if not outcome.failures:
        return 0
    return 2 if all(failure.user_error for failure in outcome.failures) else 1


def load_plugins(paths: list[Path]) -> None:
    """Import every ``--plugin`` file, saying what each registered (rank 0 only under torchrun)."""
    for path in paths:
        plugin = load_plugin(path)
        if distributed.is_main():
            console.print(f"plugin {path}: {plugin.summary()}")


def ignore(*_: object, **__: object) -> None:
    """A log for the ranks that do not print (all but rank 0 under torchrun)."""


def warn(line: str) -> None:
    """Print a warning to the error stream (what was skipped, what is not shown)."""
    from rich.markup import escape

    err_console.print(f"[yellow]acn-bench: warning:[/] {escape(line)}", highlight=False)


def read_suite_records(records_dir: Path, suites: Sequence[str]) -> RecordFolder:
    """The records of ``suites`` under ``records_dir`` (:func:`read_records`, the one reader: a missing or empty
    folder or an invalid record is a user error naming the path), with a warning for each file it skipped."""
    folder = read_records(records_dir, suites)
    for line in folder.skipped:
        warn(f"not read: {line}")
    return folder


def show_leaderboard(
    spec: LeaderboardSpec, records: list[Record], filters: dict | None = None, fmt: str = "table", wide: bool = False
) -> Leaderboard:
    """Print the leaderboard of ``records`` as ``spec`` says (``fmt`` table: compact, with its key metrics, or
    ``wide``: every column; md, csv or json as text); return it."""
    from acn_bench.results.leaderboard import build_table
    from acn_bench.results.leaderboard_views import leaderboard_rich, render

    board = build_table(records, spec, filters)
    if fmt == "table":
        console.print(leaderboard_rich(board, wide))
    else:
        console.print(render(board, fmt, wide), markup=False, highlight=False, soft_wrap=True)
    return board


def show_run_leaderboard(suite: Suite, out_dir: Path) -> None:
    """After ``run``: print the suite's leaderboard of the records under ``out_dir``."""
    show_leaderboard(LeaderboardSpec.of(suite), read_suite_records(out_dir, [suite.name]).records())


def write_tables(suite: Suite, board: Leaderboard, records: list[Record], out_dir: Path, wide: bool) -> None:
    """Write the suite's figures of the measured ``records``, then ``board`` as ``.md`` (compact or ``wide``)
    and ``.csv`` (every column), into ``out_dir``."""
    from acn_bench.results.leaderboard_views import write_leaderboard

    figures = suite.plot([r for r in records if r.source == "measured"], out_dir)
    for path in write_leaderboard(board, out_dir, figures, wide):
        console.print(f"wrote {path}")


def leaderboard_dirs(records: Path | None, tables: Path | None) -> tuple[Path, Path | None]:
    """Records and tables folders: the committed leaderboards unless ``--records`` names another folder
    (naming the committed records, by any path, keeps their tables in the leaderboards folder)."""
    if records is None or records.resolve() == LEADERBOARD_RECORDS.resolve():
        return records or LEADERBOARD_RECORDS, tables or LEADERBOARDS
    return records, tables


def cmd_leaderboard(args: argparse.Namespace) -> int:
    records_dir, tables_dir = leaderboard_dirs(args.records, args.tables)
    names = [get_suite(args.suite).name] if args.suite else list_suites()
    folder = read_suite_records(records_dir, names)
    suites = [get_suite(name) for name in names if folder.of(name)]
    filters = {"profile": args.profile, "dataset": args.dataset, **parse_only(args.only)}
    if args.paper:
        from acn_bench.results.leaderboard_views import reproduction_status

        for suite in suites:
            title = f"{suite.name}: paper vs measured"
            console.print(reproduction_status(folder.records(suite.name), LeaderboardSpec.of(suite).group_by, title))
        return 0
    filtered = any(value is not None for value in filters.values())
    if filtered:
        console.print("filtered view: the written tables are left as they are (run without filters to rewrite them)")
    wide = args.columns == "all"
    for suite in suites:
        records = folder.records(suite.name)
        board = show_leaderboard(LeaderboardSpec.of(suite), records, filters, args.format, wide)
        if not filtered:
            write_tables(suite, board, records, tables_dir or records_dir, wide)
    if not filtered and not args.suite:
        show_compute(folder.records(), tables_dir or records_dir)
    return 0


def show_planned_runs(suite: Suite, configs: list[dict], out_dir: Path, resume: bool) -> None:
    """``run --dry-run``: print each configuration that would train; with ``resume``, leave out those whose
    record already exists in ``out_dir`` (they would be skipped) and say how many that is."""
    pending = [config for config in configs if not (resume and has_run(suite, config, out_dir))]
    for config in pending:
        console.print(config)
    if resume:
        done = len(configs) - len(pending)
        console.print(f"{len(pending)} to run, {done} done already in {out_dir} (skipped with --resume)")


def show_compute(records: list, out_dir: Path) -> None:
    """Print what the measured ``records`` cost and write it to ``<out_dir>/compute.md``."""
    from acn_bench.io import write_text_atomic
    from acn_bench.results.compute import compute_markdown, compute_table, hours_as_text
    from acn_bench.results.leaderboard_views import rich_table

    table = compute_table(records)
    console.print(rich_table(hours_as_text(table), "compute spent on the measured records"))
    console.print(f"wrote {write_text_atomic(out_dir / 'compute.md', compute_markdown(table))}")


def cmd_plot(args: argparse.Namespace) -> int:
    records_dir, out_dir = leaderboard_dirs(args.records, args.out)
    suite = get_suite(args.suite)
    records = [r for r in read_suite_records(records_dir, [suite.name]).records() if r.source == "measured"]
    require(
        bool(records), f"no measured records of suite {suite.name!r} under {str(records_dir)!r}. Nothing was written."
    )
    for path in suite.plot(records, out_dir or records_dir):
        console.print(f"wrote {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from acn_bench.results.validate import validate_records

    records_dir = args.records or LEADERBOARD_RECORDS
    count, problems = validate_records(records_dir)
    if problems:
        raise UserError(f"{len(problems)} problem(s) in {count} record(s): " + "; ".join(problems))
    console.print(f"{count} record(s) under {records_dir} are valid.")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from acn_bench.results.claims import build_claims

    records_dir = args.records or LEADERBOARD_RECORDS
    default_out = LEADERBOARDS if records_dir.resolve() == LEADERBOARD_RECORDS.resolve() else records_dir
    report = build_claims(records_dir)
    wide = args.columns == "all"
    console.print(report.rich(wide))
    console.print(f"wrote {report.write(args.out or default_out / 'claims.md', wide)}")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from acn_bench.submit import submit

    shown = not args.no_progress and console.is_terminal
    with progress.display(shown, console):
        done = submit(
            args.plugin,
            args.backbone,
            args.suite,
            args.profile,
            args.records or LEADERBOARD_RECORDS,
            dataset=args.dataset,
            seeds=args.seeds,
            device=resolve_device(args.device),
            log=console.print,
            show_progress=shown,
        )
    for path in done.written:
        console.print(f"wrote {path}")
    console.print(
        f"submission of {args.backbone!r} to {args.suite}: {len(done.written)} record(s) in {done.seconds:.1f} s; "
        "run `acn-bench leaderboard` and open a pull request with leaderboards/."
    )
    return 0


def cmd_paper_records(args: argparse.Namespace) -> int:
    from acn_bench.results.store import write_record

    out_dir = args.out or LEADERBOARD_RECORDS
    count = 0
    for name in list_suites():
        for record in get_suite(name).paper_records():
            write_record(out_dir, record)
            count += 1
    console.print(f"{count} paper record(s) written under {out_dir}.")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from acn_bench.site import build_site

    load_plugins(args.plugin)
    out = args.out or SITE
    built = build_site(args.records or LEADERBOARD_RECORDS, out, progress=console.is_terminal, warn=warn)
    console.print(
        f"wrote {len(built.pages)} page(s) and {built.records} record(s) to {out}/; open {out / 'index.html'}",
        highlight=False,
        markup=False,
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from acn_bench.data import list_datasets

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


COMMANDS = {
    "run": cmd_run,
    "leaderboard": cmd_leaderboard,
    "list": cmd_list,
    "plot": cmd_plot,
    "validate": cmd_validate,
    "claims": cmd_claims,
    "submit": cmd_submit,
    "paper-records": cmd_paper_records,
    "site": cmd_site,
}


def main(argv: Sequence[str] | None = None) -> int:
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
