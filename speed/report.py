"""The tables ``python -m speed.perf`` prints, and the markdown results files ``--save`` appends them to.

A command's tables go under its command line and environment into
``speed/results/<YYYY-MM-DD>-<machine>.md`` (the machine: the GPU's name, or the CPU model and its
number of hardware threads).
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from rich.table import Table

RESULTS_DIR = Path(__file__).parent / "results"


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


def results_path(device: torch.device, day: datetime.date | None = None, directory: Path | None = None) -> Path:
    """``<directory>/<YYYY-MM-DD>-<machine>.md`` (default directory: ``speed/results``; the machine name
    lower-cased, runs of other characters than letters and digits turned into one dash)."""
    slug = re.sub(r"[^a-z0-9]+", "-", machine_name(device).lower()).strip("-")
    return (directory or RESULTS_DIR) / f"{(day or datetime.date.today()).isoformat()}-{slug}.md"


def save_report(reports: Sequence[Report], device: torch.device, argv: Sequence[str], path: Path | None = None) -> Path:
    """Append ``reports`` (one command's tables) under its command line and environment to the day's
    results file of this machine (or to ``path``)."""
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
