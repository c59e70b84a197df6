"""The paper's numbers beside the measured rows of the very same setup.

**A paper value stands only beside its own setup** (:func:`paper_matches`): same suite, dataset,
backbone preset, depth, connectivity, strategy and every ``group_by`` key the paper record states.
The leaderboard's ``paper`` column and ``acn-bench leaderboard --paper`` (:func:`reproductions`) use
this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from acn_bench.results.grouping import config_cell, records_frame, summarize
from acn_bench.results.record import Record
from acn_bench.results.regime import as_number


def paper_matches(row: Mapping[str, Any], paper: Record, group_by: Sequence[str]) -> bool:
    """Whether the paper record ``paper`` reports the setup of the measured row ``row``.

    The one rule of both the table's ``paper`` column and ``acn-bench leaderboard --paper``: the
    same suite, dataset name, backbone preset, depth, connectivity and strategy, and the same value
    of every ``group_by`` key that the paper record's config states (scenario, hparams, exit mode,
    source dataset, ...; a key the paper does not state, e.g. robustness's ``corruptions``, is not
    compared). Nothing falls back to another depth, dataset or backbone.

    Args:
        row: a measured row of :func:`records_frame` or :func:`summarize`.
        paper: a ``source="paper"`` record.
        group_by: the suite's ``group_by`` keys.
    """
    wanted = {
        "suite": paper.suite,
        "dataset": paper.dataset.get("name", ""),
        "backbone": paper.backbone.get("name", ""),
        "depth": paper.backbone.get("depth", -1),
        "connectivity": paper.backbone.get("connectivity", ""),
        "strategy": paper.strategy or "-",
        **{key: config_cell(paper.config[key]) for key in group_by if key in paper.config},
    }
    return all(key in row and _same(row[key], value) for key, value in wanted.items())


def _same(cell: Any, value: Any) -> bool:
    """Equal as numbers when both are (16 and 16.0), else as text."""
    a, b = as_number(cell), as_number(value)
    return a == b if a is not None and b is not None else str(cell) == str(value)


def paper_match(row: Mapping[str, Any], paper_records: Sequence[Record], group_by: Sequence[str]) -> list[Record]:
    """The paper records that report the measured row's setup (:func:`paper_matches`); the paper's
    rows differ in at least one of those keys, so there is at most one."""
    return [paper for paper in paper_records if paper_matches(row, paper, group_by)]


def _paper_row_label(rec: Record, row: pd.Series, distinguishing: Sequence[str]) -> str:
    """``"mixer_cifar acn L=16 exit_mode=shared"``: backbone, depth and the keys that tell the paper's rows apart."""
    label = f"{rec.backbone.get('name')} {rec.backbone.get('connectivity')} L={rec.backbone.get('depth')}"
    label += f" {rec.strategy}" if rec.strategy else ""
    return " ".join([label, *(f"{key}={row[key]}" for key in distinguishing)])


@dataclass
class Reproduction:
    """One paper number and one measured row that reports its setup (``row`` None: not measured).

    ``within``: ``|measured mean - paper| <= 2 * max(measured std, paper std)`` (None: not measured).
    """

    paper: Record
    label: str
    metric: str
    value: float
    paper_std: float
    row: pd.Series | None = None
    within: bool | None = None


def reproductions(records: Sequence[Record], group_by: Sequence[str]) -> list[Reproduction]:
    """Every paper number beside each measured row that :func:`paper_matches` it (the rows of the
    table, grouped the same way: one recipe, hardware and profile per row), or alone when none does."""
    paper_records = [r for r in records if r.source == "paper"]
    measured = [r for r in records if r.source == "measured"]
    names = list(dict.fromkeys(m for r in paper_records for m, v in r.metrics.items() if as_number(v) is not None))
    summary = summarize(records_frame(measured, group_by), names, group_by)
    paper_frame = records_frame(paper_records, group_by)  # one row per record, in the records' order
    distinguishing = [key for key in ("dataset", *group_by) if key in paper_frame and paper_frame[key].nunique() > 1]
    found = []
    for rec, (_, paper_row) in zip(paper_records, paper_frame.iterrows()):
        label = _paper_row_label(rec, paper_row, distinguishing)
        rows = [row for _, row in summary.iterrows() if paper_matches(row, rec, group_by)]
        for metric, value in rec.metrics.items():
            if as_number(value) is None:
                continue
            paper_std = rec.config.get("reported_std", {}).get(metric, 0.0)
            measured_rows = [row for row in rows if not pd.isna(row.get(f"{metric}_mean"))]
            if not measured_rows:
                found.append(Reproduction(rec, label, metric, value, paper_std))
            for row in measured_rows:
                spread = max(row[f"{metric}_std"], paper_std, 1e-12)
                within = bool(abs(row[f"{metric}_mean"] - value) <= 2 * spread)
                found.append(Reproduction(rec, label, metric, value, paper_std, row, within))
    return found
