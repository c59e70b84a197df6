"""Leaderboard tables: records grouped over seeds (mean ± std, n), as markdown, CSV and rich.

Three rules make a row trustworthy to read:

- **Seeds average only over one recipe.** Records are grouped by the generic keys, the suite's
  ``group_by`` keys and :func:`recipe_hash` (the record's whole ``config`` minus the seed), so runs
  that differ in anything but their seed (epochs, learning rate, a recipe field added later) are
  separate rows; each row shows the commits it was made over (``commits``) and whether any of its
  runs came from a working tree with uncommitted changes (``dirty``: ``yes``, ``no``, ``?`` unknown).
- **A paper value stands only beside its own setup** (:func:`paper_matches`): same suite, dataset,
  backbone preset, depth, connectivity, strategy and every ``group_by`` key the paper record states.
  The table and ``acn-bench leaderboard --paper`` (:func:`reproduction_status`) use this one rule.
- **Near-chance rows are flagged** (``regime``, :mod:`acn_bench.results.regime`): they get no rank
  and are listed after the ranked rows.

Tables come in two views: the compact one (the default of the terminal and the markdown: one small
table per setup with the suite's key metrics, fitting 120 characters) and the wide one
(``--columns all``: every metric, the commits and the tree state). The CSV always has every column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from acn_bench.errors import UserError
from acn_bench.io import write_text_atomic
from acn_bench.results import regime
from acn_bench.results.record import Record, run_id
from acn_bench.results.regime import as_number

GROUP_KEYS = [
    "suite",
    "dataset",
    "dataset_source",
    "backbone",
    "connectivity",
    "depth",
    "epochs",  # the training budget (``config.train.epochs``): a budget sweep's rows differ in it
    "protocol",  # the suite's protocol version: seeds of two versions never share a mean
    "strategy",
    "profile",
    "source",
    "hardware",
]
PERCENT_HINTS = ("acc", "accuracy", "forgetting")
# Config keys that are not part of a run's recipe: what differs between the seeds of one row. The
# seed, and ``normalization``: the per-channel statistics of the run's training images, which follow
# from the recipe and the seed (low-data draws a different subset per seed).
NOT_RECIPE = ("seed", "normalization")
# Per-record columns that summarize aggregates into a row's provenance and regime.
PROVENANCE = ["created", "commit", "git_dirty"]
# (the regime's source accuracy is apart from the metric: a run that uses no source has none here)
REGIME = ["judged_accuracy", "chance_accuracy", "used_source_accuracy", "source_chance_accuracy", "scored_on"]
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
# Numbers of 10,000 and more in compact tables: (divisor, suffix, from).
SUFFIXES = ((1e9, "G", 1e9), (1e6, "M", 1e6), (1e3, "k", 1e4))


def recipe_hash(record: Record) -> str:
    """8 hex digits identifying the record's full recipe: its ``config`` without :data:`NOT_RECIPE`.

    Seeds of a row are averaged only when this is equal: a later run with other epochs, another
    learning rate, or a recipe that names a field the earlier one did not, makes a row of its own.
    """
    return run_id({key: value for key, value in record.config.items() if key not in NOT_RECIPE})[:8]


def records_frame(records: Iterable[Record], config_keys: Sequence[str] = ()) -> pd.DataFrame:
    """One row per record: the grouping keys, ``config_keys`` from each run's config, its
    :func:`recipe_hash`, the seed, every scalar metric, and its provenance (``created``, short
    ``commit``, ``git_dirty``) and regime inputs (:data:`REGIME`)."""
    rows = []
    for rec in records:
        row = {
            "suite": rec.suite,
            "dataset": rec.dataset.get("name", ""),
            "dataset_source": rec.dataset.get("source", ""),
            "backbone": rec.backbone.get("name", ""),
            "connectivity": rec.backbone.get("connectivity", ""),
            "depth": rec.backbone.get("depth", -1),
            "epochs": rec.training_epochs or -1,
            "protocol": rec.protocol,
            "strategy": rec.strategy or "-",
            "profile": rec.profile,
            "source": rec.source,
            "hardware": hardware(rec),
            "seed": rec.seed,
            **{key: _cell(rec.config.get(key)) for key in config_keys},
            "recipe": recipe_hash(rec),
        }
        row.update({k: v for k, v in rec.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        commit = rec.environment.get("git_commit")
        row.update(
            created=rec.created,
            commit=commit[:7] if isinstance(commit, str) and commit else None,
            git_dirty=rec.environment.get("git_dirty"),
            judged_accuracy=regime.judged_accuracy(rec),
            chance_accuracy=regime.chance_level(rec),
            used_source_accuracy=regime.source_accuracy(rec),
            source_chance_accuracy=regime.source_chance_level(rec),
            scored_on=regime.scored_on(rec),
        )
        rows.append(row)
    columns = GROUP_KEYS + list(config_keys) + ["recipe", "seed", *PROVENANCE, *REGIME]
    return pd.DataFrame(rows, columns=None if rows else columns)


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
    """Group rows over seeds: ``n``, ``<metric>_mean`` / ``<metric>_std`` for each metric, and the
    row's ``regime``, ``commits`` and ``dirty``.

    Rows are grouped by the generic keys (suite, dataset, backbone, connectivity, depth, strategy,
    profile, source, hardware), the suite's own ``config_keys`` (e.g. ``per_class``) and the
    ``recipe`` hash, so only seeds of one recipe share a mean. ``regime``: the regime flags of the
    row's mean judged accuracy against its chance level (:func:`acn_bench.results.regime.flags`),
    comma-separated, empty when none. ``commits``: the short commit of the row's runs, or
    ``first..last`` over several (ordered by when their first record was made), ``?`` when none is
    known. ``dirty``: ``yes`` when a run had uncommitted changes, else ``?`` when a run's state is
    unknown, else ``no``. Paper rows leave these three empty.
    """
    keys = GROUP_KEYS + [k for k in config_keys if k in frame.columns]
    recipe = ["recipe"] if "recipe" in frame.columns else []
    metrics = [m for m in metrics if m in frame.columns]
    if frame.empty:
        return pd.DataFrame(columns=keys + recipe + ["n"])
    frame = frame.copy()
    for column in [*PROVENANCE, *REGIME]:
        if column not in frame.columns:
            frame[column] = None
    frame[REGIME] = frame[REGIME].apply(pd.to_numeric, errors="coerce")
    frame = frame.sort_values("created", kind="stable")  # oldest first: the commit span's order
    grouped = frame.groupby(keys + recipe, dropna=False, sort=False)
    out = grouped.size().rename("n").to_frame()
    for metric in metrics:
        out[f"{metric}_mean"] = grouped[metric].mean()
        out[f"{metric}_std"] = grouped[metric].std(ddof=1).fillna(0.0)
    means = [f"mean_{column}" for column in REGIME]
    for column, mean in zip(REGIME, means):
        out[mean] = grouped[column].mean()
    out["regime"] = [", ".join(regime.flags(*row)) for row in out[means].itertuples(index=False)]
    out = out.drop(columns=means)
    out["commits"] = grouped["commit"].agg(_commit_span)
    out["dirty"] = grouped["git_dirty"].agg(_dirty_state)
    out["first_created"] = grouped["created"].min()
    out = out.reset_index()
    out.loc[out["source"] != "measured", ["regime", "commits", "dirty"]] = ""
    # A row split by recipe sits beside its sibling, the older recipe first.
    out = out.sort_values(keys + ["first_created"] + recipe, key=lambda column: column.map(_sort_key))
    return out.drop(columns="first_created").reset_index(drop=True)


def _commit_span(commits: pd.Series) -> str:
    """``abc1234``, or ``abc1234..def5678`` from the first to the last distinct commit (in the order
    of the records, oldest first); ``?`` when no record names its commit."""
    distinct = list(dict.fromkeys(c for c in commits if isinstance(c, str) and c))
    if not distinct:
        return "?"
    return distinct[0] if len(distinct) == 1 else f"{distinct[0]}..{distinct[-1]}"


def _dirty_state(states: pd.Series) -> str:
    """``yes`` when a record says its tree was dirty, else ``?`` when one does not know (no
    ``git_dirty``: older records, or no git where it ran), else ``no``."""
    known = [None if state is None or state != state else bool(state) for state in states]  # NaN: unknown
    if True in known:
        return "yes"
    return "?" if None in known else "no"


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


def format_value(mean: float, std: float | None, metric: str, n: int, short: bool = False) -> str:
    """``"92.04 ± 0.08"`` for accuracies (shown in percent), three significant digits otherwise (``"1.18 ± 0.04"``).

    ``short``: numbers of 10,000 and more with a suffix (``"2.53M ± 0.12M"``, ``"75.0k"``) for the compact tables.
    """
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    scale, suffix = 1.0, ""
    if _is_percent(metric):
        scale, spec = 100.0, ".2f"
    elif short and abs(mean) >= SUFFIXES[-1][2]:
        divisor, suffix = next((d, name) for d, name, start in SUFFIXES if abs(mean) >= start)
        scale, spec = 1 / divisor, _three_significant_digits(mean / divisor)
    elif float(mean).is_integer() and not std:
        spec = ",.0f"
    else:
        spec = _three_significant_digits(mean)
    text = format(mean * scale, spec) + suffix
    if n > 1 and std:
        text += f" ± {format(std * scale, spec)}{suffix}"
    return text


def short_label(name: str) -> str:
    """A compact table's header for a metric or key: ``truncated_accuracy`` -> ``trunc acc``,
    ``accuracy_at_0.5`` -> ``acc@0.5`` (:data:`ABBREVIATIONS`)."""
    for long, short in ABBREVIATIONS:
        name = name.replace(long, short)
    return name


def identity_keys(summary: pd.DataFrame) -> list[str]:
    """The columns of a :func:`summarize` table that identify a row (everything before ``n``)."""
    columns = list(summary.columns)
    return columns[: columns.index("n")] if "n" in columns else []


def distinguishing_keys(rows: pd.DataFrame, keys: Sequence[str], fallback: Sequence[str]) -> list[str]:
    """The ``keys`` whose values differ between ``rows``, ``recipe`` only where two rows differ in
    nothing else (seeds of different recipes kept apart); ``fallback`` when none does."""
    others = [k for k in keys if k != "recipe"]
    found = [k for k in others if rows[k].nunique(dropna=False) > 1]
    if "recipe" in keys and rows.duplicated(subset=others).any():
        found.append("recipe")
    return found or list(fallback)


def display_frame(summary: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Human-readable table: grouping keys that vary, ``n`` and one ``mean ± std`` column per metric.

    The ``recipe`` hash is shown only when two rows differ by nothing else (seeds of different
    recipes that were kept apart).
    """
    metrics = [m for m in metrics if f"{m}_mean" in summary.columns]
    keys = distinguishing_keys(summary, identity_keys(summary), ["backbone", "connectivity"])
    table = summary[keys + ["n"]].copy()
    for metric in metrics:
        table[metric] = [
            format_value(row[f"{metric}_mean"], row[f"{metric}_std"], metric, int(row["n"]))
            for _, row in summary.iterrows()
        ]
    return table


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
        **{key: _cell(paper.config[key]) for key in group_by if key in paper.config},
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


@dataclass
class Leaderboard:
    """A suite's grouped records, with a rank and the paper's value beside each measured row.

    ``key_metrics``: the metrics of the compact view (default: all of ``metrics``).
    """

    summary: pd.DataFrame
    metrics: list[str]
    rank_by: str
    key_metrics: list[str] = field(default_factory=list)

    def display(self) -> pd.DataFrame:
        """The wide table: rank, the keys that vary, n, metrics, regime, paper, Δ, commits, dirty."""
        frame = display_frame(self.summary, self.metrics)
        if "rank" in self.summary.columns:
            frame.insert(0, "rank", self.summary["rank"])
        baseline = [c for c in self.summary.columns if str(c).startswith("vs ")]
        for column in ("regime", *baseline, "paper", "Δ vs paper", "commits", "dirty"):
            if column in self.summary.columns:
                frame.insert(len(frame.columns), column, self.summary[column])
        return frame

    def compact(self) -> list[tuple[str, pd.DataFrame]]:
        """The compact view: ``(heading, table)`` per setup (dataset, profile, hardware; the paper's
        numbers apart), in the order of the ranked table.

        Each table has the rank, one column merging the keys that tell its rows apart
        (``backbone · conn · depth``), n, the key metrics, the baseline verdict (``vs random``), the
        paper's value with the difference (``paper (Δ)``) and ``notes`` (regime flags, ``dirty tree``);
        a column empty for the whole setup is left out, and keys equal on every row go to the heading.
        """
        if self.summary.empty:
            return []
        identity = identity_keys(self.summary)
        keys = [k for k in identity if k not in SETUP_KEYS and k != "suite"]
        metrics = [m for m in self.key_metrics or self.metrics if f"{m}_mean" in self.summary.columns]
        sections = []
        for _, rows in self.summary.groupby(SETUP_KEYS, sort=False, dropna=False):
            shown = distinguishing_keys(rows, keys, ["connectivity"])
            sections.append(
                (setup_heading(rows, [k for k in keys if k not in shown]), compact_rows(rows, shown, metrics))
            )
        return sections

    def rich(self, title: str, wide: bool = False) -> RenderableType:
        """The terminal view: the compact tables under their headings (``wide``: one wide table)."""
        if wide:
            return rich_table(self.display(), title=title)
        parts: list[RenderableType] = [Text(title, style="bold")]
        for heading, table in self.compact():
            parts += [Text(heading, style="italic"), rich_table(table, compact=True)]
        return Group(*parts)

    def markdown(self, title: str, figures: Sequence[Path] = (), wide: bool = False) -> str:
        """The leaderboard as a markdown document, linking its figures: the compact tables under a
        heading per setup, or (``wide``) one table of every column."""
        if not len(self.summary):
            body = "_No records yet._"
        elif wide:
            body = self.display().to_markdown(index=False)
        else:
            body = "\n\n".join(f"## {heading}\n\n{_markdown_table(table)}" for heading, table in self.compact())
        links = "".join(f"\n![{p.stem}]({p.name})\n" for p in figures)
        return f"# {title}\n\n{body}\n\n{self._note(wide)}\n{links}"

    def _note(self, wide: bool) -> str:
        """What the markdown's columns mean."""
        common = (
            "Accuracies in percent; mean ± sample std over seeds (n = number of seeds), averaged only over runs of "
            "one recipe (the whole config but the seed; `recipe` tells apart rows that differ in nothing else); "
            f"rank by {self.rank_by} among measured rows of the same dataset and profile. Near-chance rows (the "
            "accuracy, continual: the learning accuracy, below 2x chance: `near chance`; a transfer source below 5x "
            "its chance: `near-chance source`; either bar at most halfway from chance to 100%) get no rank (`–`) and "
            "come last. `source: paper` rows quote the paper; a paper value stands beside a measured row only when "
            "suite, dataset, backbone, depth, connectivity, strategy and the suite's keys all match."
        )
        if wide:
            return (
                f"{common} `regime`: the near-chance flags; `paper` / `Δ vs paper`: the paper's {self.rank_by} and "
                "the difference. `commits`: the commit(s) the row's runs were made at (first..last); `dirty`: `yes` "
                "when a run had uncommitted changes, `?` when unknown (older records). Rendered by `acn-bench "
                "leaderboard --columns all` from the JSON records.\n"
            )
        metrics = self.key_metrics or self.metrics
        legend = ", ".join(f"`{short_label(m)}` {m}" for m in metrics if short_label(m) != m)
        return (
            f"{common} One table per setup (dataset, its source, profile, hardware), with the suite's key metrics"
            f"{f' ({legend})' if legend else ''}; counts of 10,000 and more in k / M / G. `paper (Δ)`: the "
            f"paper's {self.rank_by} and measured minus paper; `notes`: the near-chance flags, and `dirty tree` when "
            "a run had uncommitted changes. Every metric, the commits and the tree state are in the CSV beside this "
            "file and in `acn-bench leaderboard --columns all`. Rendered by `acn-bench leaderboard` from the JSON "
            "records.\n"
        )

    def write(
        self, out_dir: Path, name: str, title: str, figures: Sequence[Path] = (), wide: bool = False
    ) -> list[Path]:
        """Write ``<name>.md`` (compact, or ``wide``) and ``<name>.csv`` (every column) atomically; return
        their paths (and the figures')."""
        out_dir = Path(out_dir)
        md = write_text_atomic(out_dir / f"{name}.md", self.markdown(title, figures, wide))
        csv = write_text_atomic(out_dir / f"{name}.csv", self.summary.to_csv(index=False))
        return [md, csv, *figures]


NUMBER_COLUMNS = ("rank", "n", "paper (Δ)")  # compact columns aligned right, besides the metrics


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


def _markdown_table(table: pd.DataFrame) -> str:
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


def build_table(
    records: Sequence[Record],
    metrics: Sequence[str],
    group_by: Sequence[str] = (),
    filters: dict[str, Any] | None = None,
    rank_by: str | None = None,
    higher_is_better: bool = True,
    baseline: Mapping[str, Any] | None = None,
    baseline_metrics: Sequence[str] = (),
    key_metrics: Sequence[str] = (),
) -> Leaderboard:
    """Group, filter, rank and set paper values beside measured rows.

    ``key_metrics``: the few metrics of the compact view (default: all of ``metrics``).

    ``baseline`` (e.g. ``{"method": "random"}``): every measured row is compared with the row that
    differs from it only by that key's value on ``baseline_metrics`` (:func:`beats_baseline`), in a
    ``vs <value>`` column.

    ``filters``: ``profile`` and ``dataset`` (measured rows only; paper rows stay) and any other
    column with a list of accepted values (``--only``). Measured rows with a ``regime`` flag are
    not ranked (rank ``–``) and are listed after the others; a paper value stands beside a measured
    row only when :func:`paper_matches`.
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
        return Leaderboard(summary, list(metrics), rank_by, list(key_metrics))
    measured = summary["source"] == "measured"
    flagged = measured & (summary["regime"] != "")
    ranks = (
        summary[measured & ~flagged]
        .groupby(["dataset", "dataset_source", "profile"])[mean]
        .rank(ascending=not higher_is_better, method="min")
    )
    summary["rank"] = ranks.reindex(summary.index).map(lambda r: "" if pd.isna(r) else str(int(r)))
    summary.loc[flagged, "rank"] = "–"
    paper_records = [r for r in records if r.source == "paper"]
    values, deltas = [], []
    for _, row in summary.iterrows():
        match = paper_match(row, paper_records, group_by) if row["source"] == "measured" else []
        reported = as_number(match[0].metrics.get(rank_by)) if match else None
        if reported is not None and not pd.isna(row[mean]):
            values.append(format_value(reported, None, rank_by, 1))
            deltas.append(format_value(row[mean] - reported, None, rank_by, 1))
        else:
            values.append("")
            deltas.append("")
    summary["paper"], summary["Δ vs paper"] = values, deltas
    if baseline:
        ((key, value),) = baseline.items()
        summary[f"vs {value}"] = beats_baseline(summary, key, value, baseline_metrics, higher_is_better)
    summary = pd.concat([summary[~flagged], summary[flagged]]).reset_index(drop=True)
    return Leaderboard(summary, list(metrics), rank_by, list(key_metrics))


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


def render(table: Leaderboard, fmt: str, title: str, wide: bool = False) -> str:
    """The table as ``md`` (compact, or ``wide``), ``csv`` or ``json`` text (every column)."""
    if fmt == "md":
        return table.markdown(title, wide=wide)
    if fmt == "csv":
        return table.summary.to_csv(index=False)
    return table.summary.to_json(orient="records", indent=2)


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


def reproduction_status(records: Sequence[Record], group_by: Sequence[str], title: str) -> Table:
    """Every paper number next to the matching measured rows and whether each lies within the seed spread.

    Only like is compared with like (:func:`paper_matches`, the rule of the table's ``paper``
    column); a paper number no measured row matches reads "not measured". One line per matching
    measured row (seeds of one recipe, hardware and profile, as in the table).
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
