"""The views of a leaderboard: the terminal (rich), the markdown document, the CSV and JSON, and the paper's
numbers beside the measured rows; each renders a :class:`~acn_bench.results.leaderboard.Leaderboard` as
its :class:`~acn_bench.results.leaderboard_spec.LeaderboardSpec` says (title, metrics, key metrics, rank).

Two views: the compact one (the default of the terminal and the markdown: one small table per setup with
the suite's key metrics, fitting 120 characters) and the wide one (``--columns all``: every metric, the
commits and the tree state). The CSV always has every column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from acn_bench.io import write_text_atomic
from acn_bench.results.formatting import format_value
from acn_bench.results.grouping import GROUP_KEYS, distinguishing_keys, identity_keys
from acn_bench.results.leaderboard import Leaderboard
from acn_bench.results.paper_rows import reproductions
from acn_bench.results.record import Record

# What makes a compact table's setup: each compact table holds the rows of one dataset, profile, source, hardware.
SETUP_KEYS = ["dataset", "dataset_source", "profile", "source", "hardware"]
# Compact headers: (part of a metric or key name, its abbreviation), applied in order.
ABBREVIATIONS = (
    ("mean_relative_robustness", "rel robustness"),
    ("salt_pepper", "s&p"),
    ("gaussian", "gauss"),
    ("accuracy", "acc"),
    ("truncated", "trunc"),
    ("forgetting", "forget"),
    ("learning", "learn"),
    ("connectivity", "conn"),
    ("_layer", ""),
    ("_at_", "@"),
    ("samples_per_s", "img/s"),
    ("_", " "),
)
NUMBER_COLUMNS = ("rank", "n", "paper (Δ)")  # compact columns aligned right, besides the metrics


def short_label(name: str) -> str:
    """A compact table's header for a metric or key: ``truncated_accuracy`` -> ``trunc acc``,
    ``accuracy_at_0.5`` -> ``acc@0.5`` (:data:`ABBREVIATIONS`)."""
    for long, short in ABBREVIATIONS:
        name = name.replace(long, short)
    return name


def wide_table(board: Leaderboard) -> pd.DataFrame:
    """The wide view: rank, the grouping keys that vary, n, one ``mean ± std`` column per metric, regime,
    the baseline verdicts, paper, Δ, commits, dirty.

    The ``recipe`` hash is shown only when two rows differ by nothing else (seeds of different
    recipes that were kept apart).
    """
    summary = board.summary
    metrics = [m for m in board.spec.metrics if f"{m}_mean" in summary.columns]
    keys = distinguishing_keys(summary, identity_keys(summary), ["backbone", "connectivity"])
    frame = summary[keys + ["n"]].copy()
    for metric in metrics:
        frame[metric] = [
            format_value(row[f"{metric}_mean"], row[f"{metric}_std"], metric, int(row["n"]))
            for _, row in summary.iterrows()
        ]
    if "rank" in summary.columns:
        frame.insert(0, "rank", summary["rank"])
    baseline = [c for c in summary.columns if str(c).startswith("vs ")]
    for column in ("regime", *baseline, "paper", "Δ vs paper", "commits", "dirty"):
        if column in summary.columns:
            frame.insert(len(frame.columns), column, summary[column])
    return frame


def compact_tables(board: Leaderboard) -> list[tuple[str, pd.DataFrame]]:
    """The compact view: ``(heading, table)`` per setup (dataset, profile, hardware; the paper's
    numbers apart), in the order of the ranked table.

    Each table has the rank, one column merging the keys that tell its rows apart
    (``backbone · conn · depth``), n, the spec's key metrics, the baseline verdict (``vs random``), the
    paper's value with the difference (``paper (Δ)``) and ``notes`` (regime flags, ``dirty tree``);
    a column empty for the whole setup is left out, and keys equal on every row go to the heading.
    """
    summary = board.summary
    if summary.empty:
        return []
    keys = [k for k in identity_keys(summary) if k not in SETUP_KEYS and k != "suite"]
    metrics = [m for m in board.spec.shown_metrics if f"{m}_mean" in summary.columns]
    sections = []
    for _, rows in summary.groupby(SETUP_KEYS, sort=False, dropna=False):
        shown = distinguishing_keys(rows, keys, ["connectivity"])
        sections.append((setup_heading(rows, [k for k in keys if k not in shown]), compact_rows(rows, shown, metrics)))
    return sections


def leaderboard_rich(board: Leaderboard, wide: bool = False) -> RenderableType:
    """The terminal view: the compact tables under their headings (``wide``: one wide table)."""
    if wide:
        return rich_table(wide_table(board), title=board.spec.title)
    parts: list[RenderableType] = [Text(board.spec.title, style="bold")]
    for heading, table in compact_tables(board):
        parts += [Text(heading, style="italic"), rich_table(table, compact=True)]
    return Group(*parts)


def leaderboard_markdown(board: Leaderboard, figures: Sequence[Path] = (), wide: bool = False) -> str:
    """The leaderboard as a markdown document, linking its figures: the compact tables under a
    heading per setup, or (``wide``) one table of every column."""
    if not len(board.summary):
        body = "_No records yet._"
    elif wide:
        body = wide_table(board).to_markdown(index=False)
    else:
        body = "\n\n".join(f"## {heading}\n\n{markdown_table(table)}" for heading, table in compact_tables(board))
    links = "".join(f"\n![{p.stem}]({p.name})\n" for p in figures)
    return f"# {board.spec.title}\n\n{body}\n\n{_note(board, wide)}\n{links}"


def _note(board: Leaderboard, wide: bool) -> str:
    """What the markdown's columns mean."""
    common = (
        "Accuracies in percent; mean ± sample std over seeds (n = number of seeds), averaged only over runs of "
        "one recipe (the whole config but the seed; `recipe` tells apart rows that differ in nothing else); "
        f"rank by {board.spec.rank_by} among measured rows of the same dataset and profile. Near-chance rows (the "
        "accuracy, continual: the learning accuracy, below 2x chance: `near chance`; a transfer source below 5x "
        "its chance: `near-chance source`; either bar at most halfway from chance to 100%) get no rank (`–`) and "
        "come last. `source: paper` rows quote the paper; a paper value stands beside a measured row only when "
        "suite, dataset, backbone, depth, connectivity, strategy and the suite's keys all match."
    )
    if wide:
        return (
            f"{common} `regime`: the near-chance flags; `paper` / `Δ vs paper`: the paper's {board.spec.rank_by} and "
            "the difference. `commits`: the commit(s) the row's runs were made at (first..last); `dirty`: `yes` "
            "when a run had uncommitted changes, `?` when unknown (older records). Rendered by `acn-bench "
            "leaderboard --columns all` from the JSON records.\n"
        )
    metrics = board.spec.shown_metrics
    legend = ", ".join(f"`{short_label(m)}` {m}" for m in metrics if short_label(m) != m)
    return (
        f"{common} One table per setup (dataset, its source, profile, hardware), with the suite's key metrics"
        f"{f' ({legend})' if legend else ''}; counts of 10,000 and more in k / M / G. `paper (Δ)`: the "
        f"paper's {board.spec.rank_by} and measured minus paper; `notes`: the near-chance flags, and `dirty tree` when "
        "a run had uncommitted changes. Every metric, the commits and the tree state are in the CSV beside this "
        "file and in `acn-bench leaderboard --columns all`. Rendered by `acn-bench leaderboard` from the JSON "
        "records.\n"
    )


def write_leaderboard(
    board: Leaderboard, out_dir: Path, figures: Sequence[Path] = (), wide: bool = False
) -> list[Path]:
    """Write ``<name>.md`` (compact, or ``wide``) and ``<name>.csv`` (every column) into ``out_dir`` atomically,
    named after the spec; return their paths (and the figures')."""
    out_dir, name = Path(out_dir), board.spec.name
    md = write_text_atomic(out_dir / f"{name}.md", leaderboard_markdown(board, figures, wide))
    csv = write_text_atomic(out_dir / f"{name}.csv", board.summary.to_csv(index=False))
    return [md, csv, *figures]


def render(board: Leaderboard, fmt: str, wide: bool = False) -> str:
    """The leaderboard as ``md`` (compact, or ``wide``), ``csv`` or ``json`` text (every column)."""
    if fmt == "md":
        return leaderboard_markdown(board, wide=wide)
    if fmt == "csv":
        return board.summary.to_csv(index=False)
    return board.summary.to_json(orient="records", indent=2)


def setup_heading(rows: pd.DataFrame, keys: Sequence[str]) -> str:
    """``digits (sklearn), quick profile, cpu · backbone=mixer_small, depth=16``: a compact table's
    setup, then the ``keys`` that are equal on all its rows (unless ``-``: not set)."""
    first = rows.iloc[0]
    if first["source"] == "paper":
        heading = f"{first['dataset']}: the paper's numbers"
    else:
        heading = f"{first['dataset']} ({first['dataset_source']}), {first['profile']} profile, {first['hardware']}"
    same = [
        f"{key}={first[key]}"
        for key in keys
        if key != "recipe" and rows[key].nunique(dropna=False) == 1 and str(first[key]) not in ("-", "-1")
    ]
    return " · ".join([heading, ", ".join(same)]) if same else heading


def compact_rows(rows: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """The compact table of one setup's ``rows``: rank, ``keys`` merged, n, ``metrics``, verdicts and notes
    (text cells; headers abbreviated by :func:`short_label`; columns empty on every row left out)."""
    table = pd.DataFrame(index=rows.index)
    if "rank" in rows.columns:
        table["rank"] = rows["rank"]
    table[" · ".join(short_label(k) for k in keys)] = [
        " · ".join(str(row[k]) for k in keys) for _, row in rows.iterrows()
    ]
    table["n"] = rows["n"].astype(str)
    for metric in metrics:
        table[short_label(metric)] = [
            format_value(row[f"{metric}_mean"], row[f"{metric}_std"], metric, int(row["n"]), short=True)
            for _, row in rows.iterrows()
        ]
    for column in (c for c in rows.columns if str(c).startswith("vs ")):
        table[column] = rows[column].map(_short_verdict)
    if "paper" in rows.columns:
        table["paper (Δ)"] = [_paper_cell(row["paper"], row["Δ vs paper"]) for _, row in rows.iterrows()]
    if "regime" in rows.columns:
        table["notes"] = [
            ", ".join(filter(None, [row["regime"], "dirty tree" if row["dirty"] == "yes" else ""]))
            for _, row in rows.iterrows()
        ]
    empty = [c for c in table.columns if (table[c].astype(str) == "").all()]
    return table.drop(columns=empty).reset_index(drop=True)


def _short_verdict(text: str) -> str:
    """``not beyond spread: accuracy_at_0.9`` -> ``not beyond spread: acc@0.9`` (metric names abbreviated)."""
    verdict, sep, metrics = str(text).partition(": ")
    return f"{verdict}{sep}{', '.join(short_label(m) for m in metrics.split(', '))}" if sep else verdict


def _paper_cell(paper: str, delta: str) -> str:
    """``92.00 (+0.41)``: the paper's value and measured minus paper; empty without a paper value."""
    if not paper:
        return ""
    return f"{paper} ({delta if delta.startswith('-') else '+' + delta})"


def _right_aligned(table: pd.DataFrame, column: str) -> bool:
    """Whether a compact column holds numbers (rank, n, metrics, paper) rather than names and notes."""
    return column in NUMBER_COLUMNS or table[column].astype(str).str.match(r"^[-–+]?[\d.,]|^–$").all()


def markdown_table(table: pd.DataFrame) -> str:
    """A compact table as markdown: cells as written (no number parsing), numbers aligned right."""
    align = ["right" if _right_aligned(table, c) else "left" for c in table.columns]
    return table.to_markdown(index=False, disable_numparse=True, colalign=align)


def rich_table(frame: pd.DataFrame, title: str | None = None, compact: bool = False) -> Table:
    """``frame`` as a rich table; ``compact``: no frame and narrow gaps, so 120 characters hold it."""
    style = {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False, "collapse_padding": True} if compact else {}
    table = Table(title=title, **style)
    for column in frame.columns:
        right = _right_aligned(frame, column) if compact else column not in GROUP_KEYS
        table.add_column(str(column), justify="right" if right else "left")
    for _, row in frame.iterrows():
        table.add_row(*(str(v) for v in row.tolist()))
    return table


def reproduction_status(records: Sequence[Record], group_by: Sequence[str], title: str) -> Table:
    """Every paper number next to the matching measured rows and whether each lies within the seed spread.

    Only like is compared with like (:func:`~acn_bench.results.paper_rows.paper_matches`, the rule of the
    table's ``paper`` column); a paper number no measured row matches reads "not measured". One line per
    matching measured row (seeds of one recipe, hardware and profile, as in the table).
    Within the spread: ``|measured mean - paper| <= 2 * max(measured std, paper std)``.
    """
    table = Table(title=title)
    for column in ("metric", "paper row", "paper", "measured (profile, dataset, n)", "within spread"):
        table.add_column(column)
    for item in reproductions(records, group_by):
        paper = format_value(item.value, item.paper_std, item.metric, 2)
        if item.row is None:
            table.add_row(item.metric, item.label, paper, "not measured", "–")
            continue
        row, metric = item.row, item.metric
        observed = format_value(row[f"{metric}_mean"], row[f"{metric}_std"], metric, int(row["n"]))
        flag = f", {row['regime']}" if row.get("regime") else ""
        where = f"{observed} ({row['profile']}, {row['dataset']}, n={int(row['n'])}{flag})"
        table.add_row(metric, item.label, paper, where, "yes" if item.within else "no")
    return table
