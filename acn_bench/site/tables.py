"""A suite page's table as data: the leaderboard rows of :mod:`acn_bench.results.leaderboard`, as JSON.

Every number comes from the leaderboard machinery (:func:`build_table`: grouping over seeds of one
recipe, regime flags, ranks, the paper's value beside its own setup, commit spans;
:func:`format_value`: the text of a mean ± std); this module only adds what a web page needs: the
numbers unformatted (to sort), a rank for every metric in both directions (to rank by any of them),
the run configuration and the records of each row (to link them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import pandas as pd

from acn_bench.results.formatting import format_value
from acn_bench.results.grouping import records_frame
from acn_bench.results.leaderboard import build_table
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.record import Record
from acn_bench.results.regime import as_number

COLUMNS = ["backbone", "connectivity", "depth", "dataset", "profile"]  # always shown, in this order
FILTERS = ["dataset", "profile", "backbone", "connectivity", "hardware", "source"]
DETAILS = ["dataset_source", "strategy", "hardware", "source", "recipe", "commits", "dirty", "paper", "Δ vs paper"]


@dataclass(frozen=True)
class RecordFile:
    """A record and where its copy lies in the site (a path relative to the site's root)."""

    record: Record
    href: str


def all_metrics(spec: LeaderboardSpec, records: Sequence[Record]) -> list[str]:
    """The spec's metrics, then every other numeric metric the records carry (shown in a row's details)."""
    names = list(spec.metrics)
    for record in records:
        names += [k for k, v in record.metrics.items() if as_number(v) is not None and k not in names]
    return names


def _identity(summary: pd.DataFrame) -> list[str]:
    """The columns that tell a leaderboard row apart (those before ``n``: the grouping keys and recipe)."""
    return list(summary.columns[: list(summary.columns).index("n")])


def _key(row: Any, identity: Sequence[str]) -> str:
    return json.dumps([str(row[column]) for column in identity])


def _ranks(spec: LeaderboardSpec, records: Sequence[Record]) -> dict[str, dict[str, dict[str, str]]]:
    """Row key -> metric -> ``{"higher": rank, "lower": rank}``: :func:`build_table`'s rank by each
    of the spec's metrics, higher and lower being better ("–" for near-chance rows, "" for paper rows)."""
    ranks: dict[str, dict[str, dict[str, str]]] = {}
    for metric in spec.metrics:
        for direction, higher in (("higher", True), ("lower", False)):
            by_metric = LeaderboardSpec((metric,), spec.group_by, higher_is_better=higher)
            summary = build_table(records, by_metric).summary
            if "rank" not in summary.columns:
                continue
            identity = _identity(summary)
            for _, row in summary.iterrows():
                ranks.setdefault(_key(row, identity), {}).setdefault(metric, {})[direction] = row["rank"]
    return ranks


def table_data(spec: LeaderboardSpec, files: Sequence[RecordFile]) -> dict[str, Any]:
    """The JSON a suite page embeds: its columns, filters, metrics and one entry per leaderboard row, as the
    suite's ``spec`` says (the spec of its terminal and markdown tables).

    Rows come in :func:`build_table`'s order (ranked rows, then near-chance rows). Each has its
    ``cells`` (grouping keys, ``n``, regime, provenance, paper value), ``values`` (every metric:
    ``mean``, ``std``, and ``text`` as the markdown tables show it), ``ranks`` (by each of the
    suite's metrics, both directions), ``config`` (the run configuration without the seed) and
    ``records`` (seed and relative link of every record of the row).
    """
    records = [f.record for f in files]
    metrics = all_metrics(spec, records)
    summary = build_table(records, replace(spec, metrics=tuple(metrics))).summary
    identity = _identity(summary)
    frame = records_frame(records, spec.group_by)
    by_row: dict[str, list[RecordFile]] = {}
    for position, (_, record_row) in enumerate(frame.iterrows()):
        by_row.setdefault(_key(record_row, identity), []).append(files[position])
    ranks = _ranks(spec, records)
    baseline = [c for c in summary.columns if str(c).startswith("vs ")]
    rows = []
    for _, row in summary.iterrows():
        key = _key(row, identity)
        members = sorted(by_row.get(key, []), key=lambda f: (f.record.seed, f.href))
        n = int(row["n"])
        cells = {column: _cell(row.get(column)) for column in [*identity, "regime", *DETAILS, *baseline]}
        cells.update(rank=_cell(row.get("rank")), n=n)
        values = {
            metric: {
                "mean": as_number(row.get(f"{metric}_mean")),
                "std": as_number(row.get(f"{metric}_std")),
                "text": format_value(row.get(f"{metric}_mean"), row.get(f"{metric}_std"), metric, n),
            }
            for metric in metrics
            if f"{metric}_mean" in summary.columns
        }
        config = {k: _finite(v) for k, v in members[0].record.config.items() if k != "seed"} if members else {}
        rows.append(
            {
                "cells": cells,
                "values": values,
                "ranks": ranks.get(key, {}),
                "config": config,
                "records": [{"seed": f.record.seed, "href": f.href} for f in members],
            }
        )
    return {
        "suite": spec.name,
        "columns": _columns(summary, spec.group_by),
        "filters": [f for f in FILTERS if f in summary.columns],
        "metrics": list(spec.metrics),
        "shown": list(spec.shown_metrics),
        "all_metrics": metrics,
        "rank_by": spec.rank_by,
        "higher_is_better": spec.higher_is_better,
        "details": [c for c in [*DETAILS, *baseline] if c in summary.columns],
        "rows": rows,
    }


def _columns(summary: pd.DataFrame, group_by: Sequence[str]) -> list[str]:
    """The key columns of the compact table: backbone, connectivity, depth, then the strategy, the training
    epochs (a budget sweep's rows differ in nothing else), the protocol version and the suite's keys
    where rows differ in them, the hardware where measured rows do (paper rows have
    none), ``recipe`` where two rows differ in nothing else, then dataset and profile."""
    measured = summary[summary["source"] == "measured"]
    varying = [
        column
        for column in ["strategy", "epochs", "protocol", *group_by, "hardware"]
        if column in summary.columns
        and (measured if column == "hardware" else summary)[column].nunique(dropna=False) > 1
    ]
    identity = [c for c in _identity(summary) if c != "recipe"]
    if "recipe" in summary.columns and summary.duplicated(subset=identity).any():
        varying.append("recipe")
    return [*COLUMNS[:3], *varying, *COLUMNS[3:]]


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (not JSON) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _cell(value: Any) -> Any:
    """A table cell as JSON: numbers stay numbers (NaN: empty), anything else is text."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else str(value)
