"""Leaderboard tables: records grouped over seeds (mean ± std, n), as markdown, CSV and rich."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Optional, Sequence

import pandas as pd
from rich.table import Table

from acn_bench.results.record import Record
from acn_bench.results.store import write_atomic

GROUP_KEYS = ["suite", "dataset", "dataset_source", "backbone", "connectivity", "depth", "strategy", "profile", "source"]
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
            "seed": rec.seed,
            **{key: _cell(rec.config.get(key)) for key in config_keys},
        }
        row.update({k: v for k, v in rec.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else GROUP_KEYS + list(config_keys) + ["seed"])


def _cell(value: object) -> object:
    """Config values as hashable table cells (``None`` shown as ``-``)."""
    if value is None:
        return "-"
    return value if isinstance(value, (int, float, str)) else str(value)


def summarize(frame: pd.DataFrame, metrics: Sequence[str], config_keys: Sequence[str] = ()) -> pd.DataFrame:
    """Group rows over seeds: ``n`` and ``<metric>_mean`` / ``<metric>_std`` for each metric.

    Rows are grouped by the generic keys (suite, dataset, backbone, connectivity, depth, strategy,
    profile, source) and the suite's own ``config_keys`` (e.g. ``per_class``).
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


def format_value(mean: float, std: Optional[float], metric: str, n: int) -> str:
    """``"92.04 ± 0.08"`` for accuracies (shown in percent), plain numbers otherwise."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if _is_percent(metric):
        scale, spec = 100.0, ".2f"
    elif float(mean).is_integer() and not std:
        scale, spec = 1.0, ",.0f"
    else:
        scale, spec = 1.0, (".4g" if abs(mean) < 1000 else ",.0f")
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


def to_markdown(summary: pd.DataFrame, metrics: Sequence[str], title: str) -> str:
    """The leaderboard as a markdown document."""
    body = display_frame(summary, metrics).to_markdown(index=False) if len(summary) else "_No records yet._"
    note = (
        "\n\nAccuracies in percent; mean ± sample std over seeds (n = number of seeds). "
        "Rendered by `acn-bench leaderboard` from the JSON records.\n"
    )
    return f"# {title}\n\n{body}{note}"


def write_leaderboard(summary: pd.DataFrame, metrics: Sequence[str], out_dir: Path, name: str, title: str) -> list[Path]:
    """Write ``<out_dir>/<name>.md`` and ``<name>.csv`` atomically; return their paths."""
    out_dir = Path(out_dir)
    md = write_atomic(out_dir / f"{name}.md", to_markdown(summary, metrics, title))
    csv = write_atomic(out_dir / f"{name}.csv", summary.to_csv(index=False))
    return [md, csv]


def rich_table(summary: pd.DataFrame, metrics: Sequence[str], title: str) -> Table:
    """The leaderboard as a rich table for the terminal."""
    frame = display_frame(summary, metrics)
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="right" if column not in GROUP_KEYS else "left")
    for _, row in frame.iterrows():
        table.add_row(*(str(v) for v in row.tolist()))
    return table
