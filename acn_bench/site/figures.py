"""Interactive figures of the site (plotly), drawn from the data the suites' PNG figures are drawn from.

:meth:`acn_bench.suites.Suite.figures` gives each suite's figures as data (``Lines``: label -> x ->
one value per seed; ``Heatmaps``: panel -> one grid per seed); :func:`figure_html` turns one into
a plotly ``<div>`` whose hover shows the mean, the sample std over seeds and the number of seeds.
:func:`pareto_figures` draws accuracy against cost for the suites in :data:`PARETO`, the
Pareto front highlighted. plotly.js itself is not embedded: pages load ``assets/plotly.min.js``
(:func:`plotly_js`), copied from the ``plotly`` package, so the site works offline.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from acn_bench.results.plots import FigureData, Heatmaps, Lines

CONFIG = {"displaylogo": False, "responsive": True}
LAYOUT = dict(template="plotly_white", height=440, margin=dict(l=60, r=20, t=60, b=50), hoverlabel=dict(align="left"))
SPREAD = "mean ± sample std over seeds"
MAX_COLUMNS = 4  # heatmap panels per row unless the figure says (the PNG puts them all in one row)


@dataclass(frozen=True)
class Cost:
    """A cost axis of a Pareto view: a metric and whether a lower value is cheaper."""

    metric: str
    label: str
    lower_is_better: bool = True


# Suite -> (accuracy metric, its label, cost axes): the Pareto views.
PARETO: dict[str, tuple[str, str, tuple[Cost, ...]]] = {
    "compression": (
        "truncated_accuracy",
        "accuracy of the truncated model (%)",
        (
            Cost("truncated_params", "parameters of the truncated model"),
            Cost("truncated_gflops", "GFLOPs of the truncated model"),
            Cost("latency_speedup", "measured speedup of the truncated model (x)", lower_is_better=False),
        ),
    ),
    "early_exit": (
        "exit_accuracy",
        "accuracy with early exit (%)",
        (
            Cost("flops_speedup", "FLOPs speedup (x)", lower_is_better=False),
            Cost("wall_speedup", "measured wall-clock speedup (x)", lower_is_better=False),
        ),
    ),
}


def plotly_js() -> str:
    """plotly.js as shipped inside the ``plotly`` package (written once to ``assets/plotly.min.js``)."""
    return get_plotlyjs()


def to_div(fig: go.Figure, div_id: str) -> str:
    """A figure as a ``<div>`` and its ``Plotly.newPlot`` script, without plotly.js itself."""
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=CONFIG)


def _stats(values: Sequence[float], scale: float) -> tuple[float, float, int]:
    """Mean, sample std (0 for one value) and count of ``values``, scaled."""
    array = np.asarray(values, dtype=float) * scale
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0, len(array)


def lines_figure(figure: Lines) -> go.Figure:
    """One trace per line: mean with sample-std error bars; hover: value ± std (n seeds)."""
    scale = 100.0 if figure.percent else 1.0
    fig = go.Figure()
    for label in sorted(figure.series):
        points = figure.series[label]
        xs = sorted(points)
        stats = [_stats(points[x], scale) for x in xs]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[s[0] for s in stats],
                error_y=dict(type="data", array=[s[1] for s in stats], visible=True, thickness=1),
                customdata=[[s[1], s[2]] for s in stats],
                mode="lines+markers",
                name=label,
                hovertemplate=f"{label}<br>{figure.xlabel}: %{{x}}<br>{figure.ylabel}: %{{y:.4g}} ± "
                "%{customdata[0]:.2g} (n=%{customdata[1]})<extra></extra>",
            )
        )
    fig.update_layout(title=figure.title, xaxis_title=figure.xlabel, yaxis_title=figure.ylabel, **LAYOUT)
    if figure.log_x:
        fig.update_xaxes(type="log")
    return fig


def heatmaps_figure(figure: Heatmaps) -> go.Figure:
    """One heatmap panel per entry, on one colour scale; hover: mean ± std over seeds (n)."""
    stacks = figure.stacked()
    count = max(len(stacks), 1)
    columns = min(figure.columns or MAX_COLUMNS, count)
    rows = -(-count // columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=list(stacks) or None, horizontal_spacing=0.04)
    for index, (name, stack) in enumerate(stacks.items()):
        mean = stack.mean(axis=0)
        std = stack.std(axis=0, ddof=1) if len(stack) > 1 else np.zeros_like(mean)
        shown = np.log10(np.maximum(mean, 1e-12)) if figure.log else mean
        n_rows, n_cols = mean.shape
        fig.add_trace(
            go.Heatmap(
                z=shown,
                x=list(range(1, n_cols + 1)),
                y=list(range(1, n_rows + 1)),
                customdata=np.dstack([mean, std]),
                coloraxis="coloraxis",
                name=name,
                hovertemplate=f"{name}<br>{figure.xlabel} %{{x}}, {figure.ylabel} %{{y}}<br>{figure.value_label}: "
                f"%{{customdata[0]:.4g}} ± %{{customdata[1]:.2g}} (n={len(stack)})<extra></extra>",
            ),
            row=index // columns + 1,
            col=index % columns + 1,
        )
    low, high = figure.value_range or (None, None)
    colour = f"log10 {figure.value_label}" if figure.log else figure.value_label
    layout = {**LAYOUT, "height": max(LAYOUT["height"], 260 * rows + 80)}
    fig.update_layout(
        title=figure.title, coloraxis=dict(colorscale="Viridis", cmin=low, cmax=high, colorbar_title=colour), **layout
    )
    fig.update_xaxes(title_text=figure.xlabel, row=rows)
    fig.update_yaxes(title_text=figure.ylabel, col=1)
    return fig


def figure_html(figure: FigureData) -> str:
    """A suite figure (``Lines`` or ``Heatmaps``) as an interactive plotly ``<div>``."""
    fig = heatmaps_figure(figure) if isinstance(figure, Heatmaps) else lines_figure(figure)
    return to_div(fig, f"figure-{figure.name}")


def pareto_front(points: Sequence[tuple[float, float]], lower_cost_is_better: bool) -> list[int]:
    """Indices of the points ``(cost, accuracy)`` no other point dominates (at least as accurate and as
    cheap, better in one), ordered by cost."""
    sign = 1.0 if lower_cost_is_better else -1.0
    front = [
        i
        for i, (cost, acc) in enumerate(points)
        if not any(
            (a >= acc and sign * c <= sign * cost) and (a > acc or sign * c < sign * cost)
            for j, (c, a) in enumerate(points)
            if j != i
        )
    ]
    return sorted(front, key=lambda i: points[i][0])


@dataclass(frozen=True)
class Point:
    """A leaderboard row in a Pareto view: its label, cost and accuracy (in percent), each mean and std."""

    label: str
    cost: float
    cost_std: float
    accuracy: float
    accuracy_std: float
    n: int


def _value(row: dict[str, Any], metric: str) -> tuple[float, float] | None:
    """A row's mean and std of ``metric`` (from :func:`acn_bench.site.tables.table_data`), if finite."""
    value = row["values"].get(metric)
    if not value or value["mean"] is None or not math.isfinite(value["mean"]):
        return None
    return value["mean"], value["std"] or 0.0


def pareto_points(table: dict[str, Any], cost: str, accuracy: str) -> dict[str, list[Point]]:
    """The measured rows of a suite's table that have both metrics, by ``"<dataset> <profile>"``."""
    label_keys = [c for c in table["columns"] if c not in ("dataset", "profile", "hardware")]
    groups: dict[str, list[Point]] = {}
    for row in table["rows"]:
        cells = row["cells"]
        x, y = _value(row, cost), _value(row, accuracy)
        if cells.get("source") != "measured" or x is None or y is None:
            continue
        label = " ".join(str(cells[k]) for k in label_keys) + (f" ({cells['regime']})" if cells.get("regime") else "")
        point = Point(label, x[0], x[1], y[0] * 100, y[1] * 100, cells["n"])
        groups.setdefault(f"{cells['dataset']} {cells['profile']}", []).append(point)
    return groups


def _pareto_traces(group: str, points: list[Point], cost: Cost, accuracy_label: str, color: str) -> list[go.Scatter]:
    """The points of one dataset and profile with their seed std, and their Pareto front (stars, dotted),
    in one colour."""
    hover = [
        f"{p.label}<br>{cost.label}: {p.cost:.4g} ± {p.cost_std:.2g}<br>{accuracy_label}: {p.accuracy:.4g} ± "
        f"{p.accuracy_std:.2g} (n={p.n})"
        for p in points
    ]
    front = pareto_front([(p.cost, p.accuracy) for p in points], cost.lower_is_better)
    return [
        go.Scatter(
            x=[p.cost for p in points],
            y=[p.accuracy for p in points],
            error_x=dict(type="data", array=[p.cost_std for p in points], visible=True, thickness=1),
            error_y=dict(type="data", array=[p.accuracy_std for p in points], visible=True, thickness=1),
            mode="markers+text",
            text=[p.label for p in points],
            textposition="top center",
            textfont=dict(size=10),
            marker=dict(size=8, opacity=0.7, color=color),
            name=group,
            hovertext=hover,
            hoverinfo="text",
        ),
        go.Scatter(
            x=[points[i].cost for i in front],
            y=[points[i].accuracy for i in front],
            mode="lines+markers",
            marker=dict(size=14, symbol="star", color=color, line=dict(width=1)),
            line=dict(dash="dot", color=color),
            name=f"{group}: Pareto front",
            hoverinfo="skip",
        ),
    ]


def pareto_figures(suite: str, table: dict[str, Any]) -> list[str]:
    """A plotly ``<div>`` per cost axis of the suite's Pareto view (none for other suites or without data).

    Every measured row of the table (one backbone, connectivity, depth, dataset, profile and the
    suite's keys) is a point with its seed std as error bars; per dataset and profile the points
    on the Pareto front are joined and drawn as stars.
    """
    if suite not in PARETO:
        return []
    accuracy, accuracy_label, costs = PARETO[suite]
    divs = []
    for cost in costs:
        groups = pareto_points(table, cost.metric, accuracy)
        if not groups:
            continue
        colors = itertools.cycle(qualitative.Plotly)
        traces = [
            trace
            for group, color in zip(sorted(groups), colors)
            for trace in _pareto_traces(group, groups[group], cost, accuracy_label, color)
        ]
        fig = go.Figure(traces)
        better = "lower" if cost.lower_is_better else "higher"
        fig.update_layout(
            title=f"{accuracy_label} against {cost.label}<br><sup>{better} {cost.metric} is better; {SPREAD}; "
            "stars: the Pareto front</sup>",
            xaxis_title=cost.label,
            yaxis_title=accuracy_label,
            **LAYOUT,
        )
        divs.append(to_div(fig, f"pareto-{suite}-{cost.metric}"))
    return divs
