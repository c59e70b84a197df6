"""A suite's leaderboard as data: records grouped over seeds (:mod:`acn_bench.results.grouping`), filtered,
ranked, with the paper's value beside its own setup (:mod:`acn_bench.results.paper_rows`) and the
baseline verdicts; what it shows comes from one :class:`~acn_bench.results.leaderboard_spec.LeaderboardSpec`.

**Near-chance rows are flagged** (``regime``, :mod:`acn_bench.results.regime`): they get no rank and
are listed after the ranked rows. The views (terminal, markdown, CSV) are in
:mod:`acn_bench.results.leaderboard_views`, the site's in :mod:`acn_bench.site.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from acn_bench.errors import UserError
from acn_bench.results.formatting import format_value
from acn_bench.results.grouping import identity_keys, records_frame, summarize
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.paper_rows import paper_match
from acn_bench.results.record import Record
from acn_bench.results.regime import as_number


@dataclass
class Leaderboard:
    """A suite's grouped records (``summary``: one row per recipe, with a rank, the paper's value beside
    each measured row and the baseline verdicts), and the spec they were built by."""

    summary: pd.DataFrame
    spec: LeaderboardSpec


def build_table(records: Sequence[Record], spec: LeaderboardSpec, filters: dict[str, Any] | None = None) -> Leaderboard:
    """Group, filter, rank and set paper values beside measured rows, as ``spec`` says.

    ``spec.baseline`` (e.g. ``{"method": "random"}``): every measured row is compared with the row that
    differs from it only by that key's value on ``spec.baseline_metrics`` (:func:`beats_baseline`), in a
    ``vs <value>`` column.

    ``filters``: ``profile`` and ``dataset`` (measured rows only; paper rows stay) and any other
    column with a list of accepted values (``--only``). Measured rows with a ``regime`` flag are
    not ranked (rank ``–``) and are listed after the others; a paper value stands beside a measured
    row only when :func:`~acn_bench.results.paper_rows.paper_matches`.
    """
    frame = _filtered(records_frame(records, spec.group_by), filters or {})
    summary = summarize(frame, spec.metrics, spec.group_by)
    if summary.empty or f"{spec.rank_by}_mean" not in summary.columns:
        return Leaderboard(summary, spec)
    flagged = (summary["source"] == "measured") & (summary["regime"] != "")
    summary["rank"] = _ranks(summary, flagged, spec)
    summary["paper"], summary["Δ vs paper"] = _paper_values(summary, [r for r in records if r.source == "paper"], spec)
    if spec.baseline:
        ((key, value),) = spec.baseline.items()
        summary[f"vs {value}"] = beats_baseline(summary, key, value, spec.baseline_metrics, spec.higher_is_better)
    summary = pd.concat([summary[~flagged], summary[flagged]]).reset_index(drop=True)
    return Leaderboard(summary, spec)


def _filtered(frame: pd.DataFrame, filters: dict[str, Any]) -> pd.DataFrame:
    """The rows of ``frame`` that :func:`build_table`'s ``filters`` keep."""
    for key, value in filters.items():
        if value in (None, []) or frame.empty:
            continue
        if key not in frame.columns:
            raise UserError(f"unknown leaderboard filter {key!r}; accepted: {', '.join(map(str, frame.columns))}.")
        accepted = [str(v) for v in (value if isinstance(value, list) else [value])]
        keep = frame[key].astype(str).isin(accepted)
        frame = frame[keep | (frame["source"] == "paper")] if key in ("profile", "dataset") else frame[keep]
    return frame


def _ranks(summary: pd.DataFrame, flagged: pd.Series, spec: LeaderboardSpec) -> pd.Series:
    """Each row's rank by ``spec.rank_by`` among the measured, unflagged rows of its dataset and profile
    (``–`` for flagged rows, empty for paper rows)."""
    measured = summary["source"] == "measured"
    ranks = (
        summary[measured & ~flagged]
        .groupby(["dataset", "dataset_source", "profile"])[f"{spec.rank_by}_mean"]
        .rank(ascending=not spec.higher_is_better, method="min")
    )
    out = ranks.reindex(summary.index).map(lambda r: "" if pd.isna(r) else str(int(r)))
    out[flagged] = "–"
    return out


def _paper_values(
    summary: pd.DataFrame, paper_records: Sequence[Record], spec: LeaderboardSpec
) -> tuple[list[str], list[str]]:
    """The paper's ``spec.rank_by`` beside each measured row of its setup, and measured minus paper (text)."""
    mean = f"{spec.rank_by}_mean"
    values, deltas = [], []
    for _, row in summary.iterrows():
        match = paper_match(row, paper_records, spec.group_by) if row["source"] == "measured" else []
        reported = as_number(match[0].metrics.get(spec.rank_by)) if match else None
        if reported is not None and not pd.isna(row[mean]):
            values.append(format_value(reported, None, spec.rank_by, 1))
            deltas.append(format_value(row[mean] - reported, None, spec.rank_by, 1))
        else:
            values.append("")
            deltas.append("")
    return values, deltas


def beats_baseline(
    summary: pd.DataFrame, key: str, value: Any, metrics: Sequence[str], higher_is_better: bool = True
) -> list[str]:
    """For each measured row, whether it beats its baseline row (the row with ``key == value`` and every
    other grouping key equal) beyond the seed spread on every metric both have: ``beats``, or
    ``not beyond spread: <metrics>`` where ``|mean - baseline mean| <= std + baseline std`` or worse;
    empty for the baseline rows themselves and rows that are not measured; ``no baseline row``."""
    identity = [c for c in identity_keys(summary) if c not in (key, "recipe")]
    compared = [m for m in metrics if f"{m}_mean" in summary.columns]
    out = []
    for _, row in summary.iterrows():
        if row["source"] != "measured" or str(row[key]) == str(value):
            out.append("")
            continue
        same = summary[(summary[key].astype(str) == str(value)) & (summary["source"] == "measured")]
        for column in identity:
            same = same[same[column].astype(str) == str(row[column])]
        if same.empty:
            out.append("no baseline row")
            continue
        base, sign = same.iloc[0], 1 if higher_is_better else -1
        losing = [
            metric
            for metric in compared
            if not pd.isna(row[f"{metric}_mean"])
            and not pd.isna(base[f"{metric}_mean"])
            and sign * (row[f"{metric}_mean"] - base[f"{metric}_mean"]) <= row[f"{metric}_std"] + base[f"{metric}_std"]
        ]
        out.append(f"not beyond spread: {', '.join(losing)}" if losing else "beats")
    return out
