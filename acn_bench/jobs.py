"""Several runs of a suite at once, each in its own process: ``acn-bench run ... --jobs N``.

:func:`run_parallel` hands the planned configurations to ``N`` worker processes (a
``ProcessPoolExecutor`` with the ``spawn`` start method: every worker is a fresh interpreter, safe
with torch, CUDA and its thread pools). Each worker runs :func:`acn_bench.suites.run_config`, the very
function the sequential :func:`~acn_bench.suites.run_suite` calls (resume/skip, checkpoint cleanup,
atomic record write), with ``cores // N`` CPU threads. Its output (run header, epoch lines,
warnings, a traceback) goes to ``<out>/<suite>/.logs/<run_id>.log``; the parent shows one progress
bar (or, when stdout is not a terminal, one line per finished run).

A run that raises is reported (its configuration, the exception, its log) and the others go on.
Ctrl-C (or SIGTERM) in the parent stops submitting and stops the workers: each gets SIGTERM, its run
unwinds where it is and its cleanups run, so no partial record is left, at most its checkpoint,
which ``--resume`` continues; the finished runs are returned. On CUDA the workers share the device:
several small runs fill one GPU that a single small run leaves idle.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from rich.console import Console

from acn_bench import progress
from acn_bench.errors import UserError
from acn_bench.suites import RunContext, RunResult, Suite, SuiteRun, run_config
from acn_bench.suites.plan import run_label

STOP_GRACE_S = 10.0  # how long a stopped worker gets to unwind before it is killed
STOP_POLL_S = 0.2  # how often the parent looks for a stop request while it waits for the workers


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Torch threads of each of ``jobs`` workers: the cores split evenly, at least one each."""
    return max(1, (cores or available_cores()) // jobs)


def run_log_path(out_dir: Path, suite: str, rid: str) -> Path:
    """Where a worker writes the output of the run ``rid``."""
    return out_dir / suite / ".logs" / f"{rid}.log"


@dataclass
class Failure:
    """A run that raised in a worker."""

    config: dict[str, Any]
    error_type: str
    message: str
    log_path: Path
    user_error: bool  # a UserError (bad data, bad configuration): the CLI exits 2, else 1

    def describe(self) -> str:
        """``connectivity=acn, seed=1: ValueError: ... (log: results/x/.logs/id.log)``."""
        return f"{run_label(self.config)}: {self.error_type}: {self.message} (log: {self.log_path})"


@dataclass
class JobsRun(SuiteRun):
    """What :func:`run_parallel` did: :class:`SuiteRun` plus the failed runs and whether Ctrl-C stopped it."""

    jobs: int = 1
    threads: int = 1
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False

    @property
    def finished(self) -> int:
        """Runs done (written, skipped or failed)."""
        return len(self.records) + len(self.skipped) + len(self.failures)


@dataclass(frozen=True)
class _Task:
    """One run as sent to a worker (everything picklable)."""

    position: str  # "[3/12] " in the run's own log
    suite: str
    config: dict[str, Any]
    context: RunContext  # log=print, progress=False
    resume: bool
    plugins: tuple[Path, ...]
    threads: int
    log_path: Path


@dataclass
class _Done:
    """What a worker sends back for one run."""

    result: RunResult | None
    seconds: float
    error_type: str = ""
    message: str = ""
    user_error: bool = False


def run_parallel(
    suite: Suite,
    configs: list[dict[str, Any]],
    context: RunContext,
    jobs: int,
    resume: bool = False,
    plugins: Sequence[Path] = (),
    console: Console | None = None,
) -> JobsRun:
    """Run ``configs`` in ``jobs`` worker processes (at most one per run); records are written by the workers.

    Args:
        suite: the suite (looked up again by name in each worker).
        configs: the planned runs (:func:`acn_bench.suites.plan_runs`).
        context: output folder, device, data; ``context.progress`` asks for a progress bar, else
            ``context.log`` gets one line per finished run.
        jobs: processes at once (capped at ``len(configs)``).
        resume: as for :func:`~acn_bench.suites.run_suite`.
        plugins: the ``--plugin`` files, loaded in every worker before the suite is looked up.
        console: where the progress bar draws.
    """
    if jobs < 1:
        raise UserError(f"--jobs must be >= 1, got {jobs}.")
    jobs = min(jobs, len(configs)) or 1
    configs = spread_shared(configs, suite.shared_model)
    threads = threads_per_job(jobs)
    outcome = JobsRun(planned=len(configs), jobs=jobs, threads=threads)
    worker_context = replace(context, log=print, progress=False)  # console.print does not pickle
    paths = tuple(Path(p).resolve() for p in plugins)
    tasks = [
        _Task(
            f"[{number}/{len(configs)}] ",
            suite.name,
            config,
            worker_context,
            resume,
            paths,
            threads,
            run_log_path(context.out_dir, suite.name, suite.identity(config)),
        )
        for number, config in enumerate(configs, start=1)
    ]
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        with (
            progress.display(context.progress, console) as shown,
            progress.task(f"{suite.name}: {jobs} jobs, runs", total=len(configs)) as bar,
            _stop_requests() as stop,
        ):
            say = partial(shown.console.print, highlight=False, markup=False) if context.progress else context.log
            with _worker_environment(threads):  # the workers start here, inheriting it
                pending: dict[Future, _Task] = {executor.submit(_run_task, task): task for task in tasks}
            while pending and not stop.requested:
                done, _ = wait(pending, timeout=STOP_POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    task, done_run = pending.pop(future), _outcome_of(future)
                    say(_account(outcome, task, done_run, len(configs)))
                    bar.advance(skipped=done_run.result is not None and done_run.result.skipped)
            outcome.interrupted = stop.requested
            _stop_workers(executor)  # idle now, or stopped: their runs unwind, a torch interpreter takes seconds
    except BaseException:
        _stop_workers(executor)
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return outcome


def spread_shared(
    configs: Sequence[dict[str, Any]], shared: Callable[[dict[str, Any]], str | None]
) -> list[dict[str, Any]]:
    """``configs`` reordered so that runs sharing a trained model do not start side by side: the first run
    of every shared model first, then the second of each, and so on; the grid's order otherwise.

    A run that needs a model another worker is training waits for it (the model store's lock,
    :mod:`acn_bench.suites.model_store`); in this order the runs that reuse a model come after every model's first run.
    """
    seen: Counter[str] = Counter()
    ranked = []
    for index, config in enumerate(configs):
        key = shared(config)
        ranked.append((0 if key is None else seen[key], index, config))
        if key is not None:
            seen[key] += 1
    return [config for _, _, config in sorted(ranked, key=lambda item: item[:2])]


def _outcome_of(future: Future) -> _Done:
    """The worker's answer; a worker that died (killed, out of memory) becomes a failure too."""
    try:
        return future.result()
    except Exception as exc:  # BrokenProcessPool: the process died; every run it had not finished fails
        return _Done(None, 0.0, type(exc).__name__, f"the worker process died: {exc}")


def _account(outcome: JobsRun, task: _Task, done: _Done, total: int) -> str:
    """Add one finished run to ``outcome``; return its line for the log."""
    label = f"{task.suite}: {run_label(task.config)}"
    if done.result is not None:
        outcome.add(done.result)
        verb = "done already, skipped" if done.result.skipped else "done"
        timing = "" if done.result.skipped else f" ({done.seconds:.0f} s)"
        return f"[{outcome.finished}/{total}] {verb}: {label}{timing}"
    failure = Failure(task.config, done.error_type, done.message, task.log_path, done.user_error)
    outcome.failures.append(failure)
    return (
        f"[{outcome.finished}/{total}] FAILED: {label} ({done.seconds:.0f} s): "
        f"{done.error_type}: {done.message} (log: {task.log_path})"
    )


@contextmanager
def _worker_environment(threads: int) -> Iterator[None]:
    """What workers started inside inherit: their thread count, and Ctrl-C ignored (the parent stops them)."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(threads) for name in names})
    try:
        with _sigint_ignored():
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ctrl-C ignored meanwhile (in the main thread; signal handlers live there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _StopRequest:
    """Set by Ctrl-C or SIGTERM in the parent; the loop that waits for the workers polls it."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.requested = True


@contextmanager
def _stop_requests() -> Iterator[_StopRequest]:
    """Ctrl-C and SIGTERM (``kill``, a batch system's cancel) in the parent ask the run to stop: they set a
    flag, never raise. An exception raised by a signal inside ``concurrent.futures`` can leave a future's
    lock held, and the pool's shutdown then waits for it forever."""
    request = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {signum: signal.signal(signum, request) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """Cancel the runs not started, SIGTERM the workers (a run unwinds, an idle worker exits at once), kill
    what is left after a grace. (``_processes`` is private; Python 3.14's ``terminate_workers`` does the same.)"""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


# --- in the worker processes ---

_in_run = False  # whether a SIGTERM must unwind a run (so its cleanups run) or may end the process at once
_loaded_plugins: set[Path] = set()


class _Stopped(BaseException):
    """Raised in a worker's run by SIGTERM: unwinds the run (temporary files removed), then the worker exits."""


def _on_sigterm(signum: int, frame: Any) -> None:
    if _in_run:
        raise _Stopped()
    os._exit(128 + signum)


def _prepare_worker(task: _Task) -> None:
    """Once per worker: threads, signals, the ``--plugin`` files."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if torch.get_num_threads() != task.threads:
        torch.set_num_threads(task.threads)
    from acn_bench.plugins import load_plugin

    for path in task.plugins:
        if path not in _loaded_plugins:
            load_plugin(path)
            _loaded_plugins.add(path)


def _run_task(task: _Task) -> _Done:
    """A worker's job: one :func:`run_config`, its output in the run's log file."""
    global _in_run
    from acn_bench.suites import get_suite

    start = time.perf_counter()
    with _output_to(task.log_path):
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        print(f"=== {now}: worker pid {os.getpid()}, {task.threads} thread(s)", flush=True)
        try:
            _in_run = True
            _prepare_worker(task)
            suite = get_suite(task.suite)
            context = replace(task.context, log=_log_line)
            result = run_config(suite, task.config, context, task.resume, task.position)
            return _Done(result, time.perf_counter() - start)
        except _Stopped:
            _in_run = False
            print("stopped: interrupted (--resume continues the run from its checkpoint)", flush=True)
            sys.stderr.flush()
            os._exit(128 + signal.SIGTERM)
        except Exception as exc:
            traceback.print_exc()
            return _Done(None, time.perf_counter() - start, type(exc).__name__, str(exc), isinstance(exc, UserError))
        finally:
            _in_run = False


def _log_line(text: str) -> None:
    print(text, flush=True)


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Python's and the C libraries') to ``path`` (appended)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
