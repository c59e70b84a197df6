"""Leaderboard tables: records grouped over seeds (mean ± std, n), as markdown, CSV and rich."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
from rich.table import Table

from acn_bench.errors import UserError
from acn_bench.io import write_text_atomic
from acn_bench.results.record import Record

GROUP_KEYS = [
    "suite",
    "dataset",
    "dataset_source",
    "backbone",
    "connectivity",
    "depth",
    "strategy",
    "profile",
    "source",
    "hardware",
]
PERCENT_HINTS = ("acc", "accuracy", "forgetting")


def records_frame(records: Iterable[Record], config_keys: Sequence[str] = ()) -> pd.DataFrame:
    """One row per record: the grouping keys, ``config_keys`` from each run's config, the seed and
    every scalar metric."""
    rows = []
    for rec in records:
        row = {
            "suite": rec.suite,
            "dataset": rec.dataset.get("name", ""),
            "dataset_source": rec.dataset.get("source", ""),
            "backbone": rec.backbone.get("name", ""),
            "connectivity": rec.backbone.get("connectivity", ""),
            "depth": rec.backbone.get("depth", -1),
            "strategy": rec.strategy or "-",
            "profile": rec.profile,
            "source": rec.source,
            "hardware": hardware(rec),
            "seed": rec.seed,
            **{key: _cell(rec.config.get(key)) for key in config_keys},
        }
        row.update({k: v for k, v in rec.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else GROUP_KEYS + list(config_keys) + ["seed"])


def hardware(rec: Record) -> str:
    """Where a run was measured: the GPU's name, ``cpu``, or ``-`` (paper rows, older records).

    A grouping key, so that timings from different machines never share a mean.
    """
    device = str(rec.environment.get("device") or "")
    if device.startswith("cuda"):
        return str(rec.environment.get("cuda") or "cuda")
    return device or "-"


def _cell(value: object) -> object:
    """Config values as hashable table cells (``None`` shown as ``-``)."""
    if value is None:
        return "-"
    return value if isinstance(value, (int, float, str)) else str(value)


def summarize(frame: pd.DataFrame, metrics: Sequence[str], config_keys: Sequence[str] = ()) -> pd.DataFrame:
    """Group rows over seeds: ``n`` and ``<metric>_mean`` / ``<metric>_std`` for each metric.

    Rows are grouped by the generic keys (suite, dataset, backbone, connectivity, depth, strategy,
    profile, source, hardware) and the suite's own ``config_keys`` (e.g. ``per_class``).
    """
    keys = GROUP_KEYS + [k for k in config_keys if k in frame.columns]
    metrics = [m for m in metrics if m in frame.columns]
    if frame.empty:
        return pd.DataFrame(columns=keys + ["n"])
    grouped = frame.groupby(keys, dropna=False, sort=False)
    out = grouped.size().rename("n").to_frame()
    for metric in metrics:
        out[f"{metric}_mean"] = grouped[metric].mean()
        out[f"{metric}_std"] = grouped[metric].std(ddof=1).fillna(0.0)
    return out.reset_index().sort_values(keys, key=lambda column: column.map(_sort_key)).reset_index(drop=True)


def _sort_key(value: object) -> str:
    """Order numbers numerically and before text, so a column may mix 10, 100 and 'all'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"0{float(value) + 1e12:030.6f}"
    return f"1{value}"


def _is_percent(metric: str) -> bool:
    return any(hint in metric for hint in PERCENT_HINTS)


def _three_significant_digits(value: float) -> str:
    """A fixed-point spec with three significant digits for ``value`` (and the same decimals for its std)."""
    if abs(value) >= 1000:
        return ",.0f"
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    return f".{min(max(2 - magnitude, 0), 6)}f"


def format_value(mean: float, std: float | None, metric: str, n: int) -> str:
    """``"92.04 ± 0.08"`` for accuracies (shown in percent), three significant digits otherwise (``"1.18 ± 0.04"``)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if _is_percent(metric):
        scale, spec = 100.0, ".2f"
    elif float(mean).is_integer() and not std:
        scale, spec = 1.0, ",.0f"
    else:
        scale, spec = 1.0, _three_significant_digits(mean)
    text = format(mean * scale, spec)
    if n > 1 and std:
        text += f" ± {format(std * scale, spec)}"
    return text


def display_frame(summary: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Human-readable table: grouping keys that vary, ``n`` and one ``mean ± std`` column per metric."""
    metrics = [m for m in metrics if f"{m}_mean" in summary.columns]
    identity = summary.columns[: list(summary.columns).index("n")] if "n" in summary.columns else []
    keys = [k for k in identity if summary[k].nunique(dropna=False) > 1]
    keys = keys or ["backbone", "connectivity"]
    table = summary[keys + ["n"]].copy()
    for metric in metrics:
        table[metric] = [
            format_value(row[f"{metric}_mean"], row[f"{metric}_std"], metric, int(row["n"]))
            for _, row in summary.iterrows()
        ]
    return table


def _matches_paper(row: pd.Series, paper: pd.DataFrame, group_by: Sequence[str]) -> pd.DataFrame:
    """Paper rows comparable to ``row``: same connectivity, strategy and suite keys; same depth if any."""
    keys = ["connectivity", "strategy", *[k for k in group_by if k in paper.columns and row.get(k) != "-"]]
    same = paper
    for key in keys:
        if key in row and key in same.columns:
            same = same[same[key].astype(str) == str(row[key])]
    same_depth = same[same["depth"] == row["depth"]] if "depth" in same.columns else same
    return same_depth if len(same_depth) else same


@dataclass
class Leaderboard:
    """A suite's grouped records, with a rank and the paper's value beside each measured row."""

    summary: pd.DataFrame
    metrics: list[str]
    rank_by: str

    def display(self) -> pd.DataFrame:
        """The human-readable table (rank first, then the keys that vary, n, metrics, paper, Δ)."""
        frame = display_frame(self.summary, self.metrics)
        for column in ("paper", "Δ vs paper", "rank"):
            if column in self.summary.columns:
                values = self.summary[column]
                frame.insert(0, column, values) if column == "rank" else frame.insert(
                    len(frame.columns), column, values
                )
        return frame

    def rich(self, title: str) -> Table:
        """A rich table for the terminal."""
        frame = self.display()
        table = Table(title=title)
        for column in frame.columns:
            table.add_column(str(column), justify="left" if column in GROUP_KEYS else "right")
        for _, row in frame.iterrows():
            table.add_row(*(str(v) for v in row.tolist()))
        return table

    def markdown(self, title: str, figures: Sequence[Path] = ()) -> str:
        """The leaderboard as a markdown document, linking its figures."""
        body = self.display().to_markdown(index=False) if len(self.summary) else "_No records yet._"
        links = "".join(f"\n![{p.stem}]({p.name})\n" for p in figures)
        note = (
            f"\n\nAccuracies in percent; mean ± sample std over seeds (n = number of seeds); rank by {self.rank_by} "
            "among measured rows of the same dataset and profile; `source: paper` rows quote the paper, and "
            f"`paper` / `Δ vs paper` put its {self.rank_by} beside each measured row (setups may differ: "
            "compare the dataset and profile columns). Rendered by `acn-bench leaderboard` from the JSON records.\n"
        )
        return f"# {title}\n\n{body}{note}{links}"

    def write(self, out_dir: Path, name: str, title: str, figures: Sequence[Path] = ()) -> list[Path]:
        """Write ``<name>.md`` and ``<name>.csv`` atomically; return their paths (and the figures')."""
        out_dir = Path(out_dir)
        md = write_text_atomic(out_dir / f"{name}.md", self.markdown(title, figures))
        csv = write_text_atomic(out_dir / f"{name}.csv", self.summary.to_csv(index=False))
        return [md, csv, *figures]


def build_table(
    records: Sequence[Record],
    metrics: Sequence[str],
    group_by: Sequence[str] = (),
    filters: dict[str, Any] | None = None,
    rank_by: str | None = None,
    higher_is_better: bool = True,
) -> Leaderboard:
    """Group, filter, rank and set paper values beside measured rows.

    ``filters``: ``profile`` and ``dataset`` (measured rows only; paper rows stay) and any other
    column with a list of accepted values (``--only``).
    """
    frame = records_frame(records, group_by)
    for key, value in (filters or {}).items():
        if value in (None, []) or frame.empty:
            continue
        if key not in frame.columns:
            raise UserError(f"unknown leaderboard filter {key!r}; accepted: {', '.join(map(str, frame.columns))}.")
        accepted = [str(v) for v in (value if isinstance(value, list) else [value])]
        keep = frame[key].astype(str).isin(accepted)
        frame = frame[keep | (frame["source"] == "paper")] if key in ("profile", "dataset") else frame[keep]
    summary = summarize(frame, metrics, group_by)
    rank_by = rank_by or metrics[0]
    mean = f"{rank_by}_mean"
    if summary.empty or mean not in summary.columns:
        return Leaderboard(summary, list(metrics), rank_by)
    measured = summary["source"] == "measured"
    ranks = (
        summary[measured]
        .groupby(["dataset", "dataset_source", "profile"])[mean]
        .rank(ascending=not higher_is_better, method="min")
    )
    summary["rank"] = ranks.reindex(summary.index).map(lambda r: "" if pd.isna(r) else str(int(r)))
    paper = summary[~measured]
    values, deltas = [], []
    for _, row in summary.iterrows():
        match = _matches_paper(row, paper, group_by) if row["source"] == "measured" and len(paper) else paper.iloc[0:0]
        if len(match) and not pd.isna(match.iloc[0][mean]):
            reported = match.iloc[0][mean]
            values.append(format_value(reported, None, rank_by, 1))
            deltas.append(format_value(row[mean] - reported, None, rank_by, 1))
        else:
            values.append("")
            deltas.append("")
    summary["paper"], summary["Δ vs paper"] = values, deltas
    return Leaderboard(summary, list(metrics), rank_by)


def render(table: Leaderboard, fmt: str, title: str) -> str:
    """The table as ``md``, ``csv`` or ``json`` text."""
    if fmt == "md":
        return table.markdown(title)
    if fmt == "csv":
        return table.summary.to_csv(index=False)
    return table.summary.to_json(orient="records", indent=2)


def _paper_row_label(rec: Record, row: pd.Series, distinguishing: Sequence[str]) -> str:
    """``"mixer_cifar acn L=16 exit_mode=shared"``: backbone, depth and the keys that tell the paper's rows apart."""
    label = f"{rec.backbone.get('name')} {rec.backbone.get('connectivity')} L={rec.backbone.get('depth')}"
    label += f" {rec.strategy}" if rec.strategy else ""
    return " ".join([label, *(f"{key}={row[key]}" for key in distinguishing)])


def reproduction_status(records: Sequence[Record], group_by: Sequence[str], title: str) -> Table:
    """Every paper number next to the matching measured value and whether it lies within the seed spread.

    Only like is compared with like: measured runs on the paper row's dataset at its depth (with
    the same connectivity, strategy and suite keys); anything else reads "not measured".
    Within the spread: ``|measured mean - paper| <= 2 * max(measured std, paper std)``.
    """
    frame = records_frame(records, group_by)
    table = Table(title=title)
    for column in ("metric", "paper row", "paper", "measured (profile, dataset, n)", "within spread"):
        table.add_column(column)
    paper_records = [r for r in records if r.source == "paper"]
    measured = frame[frame["source"] == "measured"] if not frame.empty else frame
    paper_frame = frame[frame["source"] == "paper"]  # one row per record, in the records' order
    distinguishing = [key for key in ("dataset", *group_by) if key in paper_frame and paper_frame[key].nunique() > 1]
    for rec, (_, row) in zip(paper_records, paper_frame.iterrows()):
        label = _paper_row_label(rec, row, distinguishing)
        match = _matches_paper(row, measured, group_by) if len(measured) else measured
        if len(match):
            match = match[(match["dataset"] == row["dataset"]) & (match["depth"] == row["depth"])]
        for metric, value in rec.metrics.items():
            if not isinstance(value, (int, float)):
                continue
            paper_std = rec.config.get("reported_std", {}).get(metric, 0.0)
            if metric not in match.columns or match[metric].dropna().empty:
                table.add_row(metric, label, format_value(value, paper_std, metric, 2), "not measured", "–")
                continue
            values = match[metric].dropna()
            mean, std = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
            within = abs(mean - value) <= 2 * max(std, paper_std, 1e-12)
            first = match.iloc[0]
            observed = format_value(mean, std, metric, len(values))
            where = f"{observed} ({first['profile']}, {first['dataset']}, n={len(values)})"
            table.add_row(metric, label, format_value(value, paper_std, metric, 2), where, "yes" if within else "no")
    return table
