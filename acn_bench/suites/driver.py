"""Running planned configurations: one record per run, written atomically; ``--resume`` skips and continues."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acn_bench import progress
from acn_bench.results import Record, has_record, write_record
from acn_bench.suites.base import RunContext, Suite
from acn_bench.suites.plan import run_label
from acn_bench.training import distributed


@dataclass
class SuiteRun:
    """What :func:`run_suite` did."""

    planned: int
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def add(self, result: RunResult) -> None:
        """Count one finished run: skipped, or its record (and the file when this process wrote it)."""
        if result.record is None:
            self.skipped.append(result.run_id)
            return
        self.records.append(result.record)
        if result.path is not None:
            self.written.append(result.path)


@dataclass
class RunResult:
    """What :func:`run_config` did with one configuration."""

    run_id: str
    record: Record | None = None  # None: skipped (its record exists and ``resume`` was asked)
    path: Path | None = None  # the record written (None when skipped, and on ranks other than 0)

    @property
    def skipped(self) -> bool:
        return self.record is None


def has_run(suite: Suite, config: dict[str, Any], out_dir: Path) -> bool:
    """Whether ``config``'s record exists in ``out_dir``: the run ``--resume`` skips."""
    return has_record(out_dir, suite.name, suite.identity(config))


def run_config(
    suite: Suite, config: dict[str, Any], context: RunContext, resume: bool = False, position: str = ""
) -> RunResult:
    """Run one configuration and write its record: what :func:`run_suite` does for each of its runs.

    On ``resume`` a configuration with a record is skipped and an interrupted run continues from
    its checkpoint; otherwise its checkpoint is deleted first so the run starts afresh. The record
    (with ``timings.run_s``, the run's wall time) is written atomically (by rank 0 under torchrun),
    then the checkpoint is deleted.
    ``position`` (e.g. ``"[3/12] "``) starts the log lines.
    """
    context.resume = resume
    rid = suite.identity(config)
    label = run_label(config)
    if resume and has_run(suite, config, context.out_dir):
        context.log(f"{position}done already, skipped: {label}")
        return RunResult(rid)
    context.log(f"{position}{suite.name}: {label}")
    checkpoint = context.checkpoint_path(suite.name, rid)
    if not resume and distributed.is_main():
        checkpoint.unlink(missing_ok=True)  # without --resume every run starts afresh
    distributed.barrier()
    start = time.perf_counter()
    record = suite.run_one(config, context)
    # the run's whole wall time (x its CPU threads: the compute it cost; a model another run trained is not in it)
    record.timings["run_s"] = time.perf_counter() - start
    record.run_id = rid
    record.protocol = suite.protocol
    result = RunResult(rid, record)
    if distributed.is_main():  # under torchrun every rank ran the same run; one writes it
        result.path = write_record(context.out_dir, record)
        checkpoint.unlink(missing_ok=True)
    distributed.barrier()
    return result


def run_suite(suite: Suite, configs: list[dict[str, Any]], context: RunContext, resume: bool = False) -> SuiteRun:
    """Run ``configs`` one by one (:func:`run_config`), writing a record after each.

    On ``resume``, runs with a record are skipped and an interrupted run continues from its
    checkpoint; otherwise every run starts afresh. ``acn_bench.jobs.run_parallel`` runs the same
    :func:`run_config` in several processes. With ``context.progress`` a bar shows run i of n, the
    time elapsed and an estimate of the time left (the trainer's and the data's bars nest under it).
    """
    outcome = SuiteRun(planned=len(configs))
    context.resume = resume
    with progress.display(context.progress), progress.task(suite.name, total=len(configs)) as grid:
        for number, config in enumerate(configs, start=1):
            grid.update(description=f"{suite.name}: run {number}/{len(configs)}")
            result = run_config(suite, config, context, resume, f"[{number}/{len(configs)}] ")
            outcome.add(result)
            grid.advance(skipped=result.skipped)
    return outcome
