"""The one progress display of acn-bench: rich bars with count, rate, elapsed and remaining time.

Every long wait (the grid of runs, training epochs and steps, the first decode of a data set,
continual experiences, ``submit``, ``site``) draws a bar through :func:`task` on one shared display,
so they look alike and nest: rich allows one live display at a time, and :func:`display` starts it
only for the outermost caller (the command); inner code adds its bars to it and removes them when
done. Without an active display, or with a display that is not enabled (output is not a terminal,
``--no-progress``), bars are drawn nowhere and the log lines carry the news (CI logs stay readable).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """``1,234 img/s``: the task's average rate since it started, for tasks that name a ``unit``."""

    def render(self, task: Task) -> Text:
        unit, done = task.fields.get("unit"), _done(task)
        if not unit or not task.elapsed or done <= 0:
            return Text("")
        rate = done / task.elapsed
        return Text(f"{rate:,.{1 if rate < 10 else 0}f} {unit}/s", style="progress.data.speed")


class RemainingColumn(ProgressColumn):
    """``eta 0:03:12``: time left at the task's average pace since it started.

    rich's own estimate keeps only the last 30 s of samples, so it shows nothing while each step
    takes longer (a grid of runs of minutes); the average pace gives an estimate after the first step.
    """

    def render(self, task: Task) -> Text:
        done = _done(task)
        if task.total is None or not task.elapsed or done <= 0:
            return Text("eta -:--:--", style="progress.remaining")
        left = task.elapsed * max(task.total - task.completed, 0) / done
        return Text(f"eta {timedelta(seconds=round(left))}", style="progress.remaining")


def _done(task: Task) -> float:
    """Steps done since the task started (a resumed task starts at ``origin``; skipped steps move it)."""
    return task.completed - task.fields.get("origin", 0)


def progress_bars(enabled: bool, console: Console | None = None, transient: bool = True) -> Progress:
    """A rich :class:`Progress`: description, bar, done / total, percent, rate, elapsed, remaining.

    Args:
        enabled: draw at all (``False``: every call on it is a no-op, nothing is printed).
        console: where to draw (default: rich's stderr-aware default console).
        transient: erase the bars when the display stops.
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        RemainingColumn(),
        console=console,
        transient=transient,
        disable=not enabled,
    )


_current: Progress | None = None  # the display started by the outermost :func:`display`
_nowhere = progress_bars(enabled=False)  # where bars go when no display is active


@contextmanager
def display(enabled: bool, console: Console | None = None) -> Iterator[Progress]:
    """The shared live display for the block: started here unless an outer block started one.

    Nested blocks share the outer display (and its ``enabled``), so a grid, the trainer inside it
    and a decode inside that draw on one display and never start competing live displays.

    Args:
        enabled: draw (``False``: the block and everything nested in it draws nothing).
        console: where to draw; the command's console, so its log lines print above the bars.
    """
    global _current
    if _current is not None:
        yield _current
        return
    _current = progress_bars(enabled, console)
    try:
        with _current:
            yield _current
    finally:
        _current = None


@dataclass
class Bar:
    """One task on the display: what the code that waits updates."""

    bars: Progress
    id: TaskID

    def advance(self, steps: float = 1, skipped: bool = False) -> None:
        """``steps`` more done; ``skipped``: done at no cost (runs skipped on ``--resume``), so they
        count, but are left out of the pace."""
        if skipped:
            self.bars.update(self.id, origin=self._fields()["origin"] + steps)
        self.bars.advance(self.id, steps)

    def update(self, **changes: Any) -> None:
        """Change the description, total, completed count or fields (see :meth:`Progress.update`)."""
        self.bars.update(self.id, **changes)

    def restart(self, total: float | None, completed: float = 0) -> None:
        """Start over (a new epoch's steps): new total, clock and pace."""
        self.bars.reset(self.id, total=total, completed=completed, **{**self._fields(), "origin": completed})

    def _fields(self) -> dict[str, Any]:
        return next(task for task in self.bars.tasks if task.id == self.id).fields


@contextmanager
def task(description: str, total: float | None = None, completed: float = 0, unit: str = "") -> Iterator[Bar]:
    """A bar on the active display for the duration of the block, removed at its end.

    Args:
        description: what is waited for (``"compression: run 3/12"``).
        total: steps in all (``None``: unknown, the bar shows the count and rate only).
        completed: steps already done (a resumed run); the pace counts from here.
        unit: shows the rate in ``unit``/s (``"img"``); empty: no rate.
    """
    bars = _current or _nowhere
    task_id = bars.add_task(description, total=total, completed=completed, origin=completed, unit=unit)
    try:
        yield Bar(bars, task_id)
    finally:
        bars.remove_task(task_id)
