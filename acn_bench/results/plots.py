"""Figures rendered from records (matplotlib, PNG), written next to the leaderboard tables.

Suites turn their records into figures as data (``Suite.figures``): :class:`Lines` hold *series*
(``{line label: {x: [y over seeds]}}``), drawn by :func:`plot_series` with mean ± std error bars,
and :class:`Heatmaps` hold one grid per seed and panel, drawn by :func:`plot_heatmaps`. The site
(:mod:`acn_bench.site`) draws the same data interactively.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from acn_bench.io import atomic_write  # noqa: E402
from acn_bench.results.record import Record  # noqa: E402

Series = dict[str, dict[float, list[float]]]


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` to the PNG ``path`` atomically (see :mod:`acn_bench.io`), then close it."""
    try:
        return atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=120, bbox_inches="tight"))
    finally:
        plt.close(fig)


def model_label(record: Record, epochs: bool = True) -> str:
    """``<dataset> <profile> <backbone> <connectivity> L=<depth> <E>ep``: one line per model family and
    training budget in a figure (``epochs=False`` leaves the budget out: lines drawn against it)."""
    backbone = record.backbone
    label = (
        f"{record.dataset.get('name')} {record.profile} {backbone.get('name')} {backbone.get('connectivity')} "
        f"L={backbone.get('depth')}"
    )
    budget = record.training_epochs if epochs else None
    return f"{label} {budget}ep" if budget is not None else label


def new_series() -> Series:
    """An empty series collection."""
    return defaultdict(lambda: defaultdict(list))


def probe_series(
    records: Iterable[Record],
    probe: Callable[[Record], Sequence[float]] | None = None,
    label: Callable[[Record], str] = model_label,
) -> Series:
    """Accuracy at every depth, one line per model (``probe`` picks a curve; default ``record.probe``)."""
    series = new_series()
    for record in records:
        for depth, acc in enumerate(probe(record) if probe else record.probe):
            series[label(record)][depth].append(acc)
    return series


def plot_series(
    series: Series,
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str = "test accuracy (%)",
    percent: bool = True,
    log_x: bool = False,
) -> Path:
    """Draw every line of ``series`` (mean ± std over the values at each x) into the PNG ``path``."""
    scale = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name in sorted(series):
        xs = sorted(series[name])
        mean = np.array([np.mean(series[name][x]) for x in xs]) * scale
        std = np.array([np.std(series[name][x]) for x in xs]) * scale
        ax.errorbar(xs, mean, yerr=std, marker="o", ms=3, capsize=2, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if log_x:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_heatmaps(
    maps: dict[str, np.ndarray],
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str,
    value_label: str,
    log: bool = False,
    columns: int | None = None,
    value_range: tuple[float, float] | None = None,
) -> Path:
    """One heatmap per entry of ``maps`` (rows: ``ylabel``, columns: ``xlabel``), in the order of ``maps``.

    Args:
        columns: panels per row of the figure (default: all in one row).
        value_range: one colour scale ``(low, high)`` for every panel (default: each its own).
    """
    count = max(len(maps), 1)
    ncols = min(columns or count, count)
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.8 * nrows), squeeze=False)
    low, high = value_range or (None, None)
    for ax, (name, grid) in zip(axes.flat, maps.items()):
        values = np.log10(np.maximum(grid, 1e-12)) if log else grid
        rows, cols = values.shape
        image = ax.imshow(
            values,
            aspect="auto",
            origin="lower",
            cmap="viridis",
            vmin=low,
            vmax=high,
            extent=(0.5, cols + 0.5, 0.5, rows + 0.5),
        )
        ax.set(title=name, xlabel=xlabel, ylabel=ylabel)
        fig.colorbar(image, ax=ax, label=f"log10 {value_label}" if log else value_label)
    for ax in list(axes.flat)[len(maps) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title
    return _save(fig, path)


@dataclass
class Lines:
    """A line figure as data: ``series`` (line label -> x -> one value per seed).

    :meth:`png` draws it with matplotlib (``acn-bench leaderboard``, ``plot``); the site draws the
    same data interactively.
    """

    name: str  # the file stem, e.g. ``compression_probe_by_depth``
    title: str
    xlabel: str
    series: Series
    ylabel: str = "test accuracy (%)"
    percent: bool = True  # values are fractions shown in percent
    log_x: bool = False

    def png(self, out_dir: Path) -> Path:
        """Draw the figure into ``out_dir/<name>.png`` (:func:`plot_series`)."""
        path = Path(out_dir) / f"{self.name}.png"
        return plot_series(self.series, path, self.title, self.xlabel, self.ylabel, self.percent, self.log_x)


@dataclass
class Heatmaps:
    """Heatmap panels as data: ``maps`` (panel label -> one grid per seed), shown as the mean over seeds."""

    name: str
    title: str
    xlabel: str
    ylabel: str
    value_label: str
    maps: dict[str, list[np.ndarray]]
    log: bool = False  # colour by log10 of the value
    columns: int | None = None  # panels per row (default: all in one row)
    value_range: tuple[float, float] | None = None  # one colour scale for every panel

    def stacked(self) -> dict[str, np.ndarray]:
        """Per panel, its seeds' grids (those of the first grid's shape) as one array: seeds x rows x columns."""
        return {name: np.stack([g for g in grids if g.shape == grids[0].shape]) for name, grids in self.maps.items()}

    def png(self, out_dir: Path) -> Path:
        """Draw the panels' means over seeds into ``out_dir/<name>.png`` (:func:`plot_heatmaps`)."""
        means = {name: stack.mean(axis=0) for name, stack in self.stacked().items()}
        path = Path(out_dir) / f"{self.name}.png"
        return plot_heatmaps(
            means,
            path,
            self.title,
            self.xlabel,
            self.ylabel,
            self.value_label,
            log=self.log,
            columns=self.columns,
            value_range=self.value_range,
        )


FigureData = Lines | Heatmaps  # what Suite.figures returns
