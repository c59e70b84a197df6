"""Records grouped over seeds: one row per record (:func:`records_frame`), then one row per recipe
(:func:`summarize`: mean ± std, n, regime flags, commit span, tree state).

**Seeds average only over one recipe.** Records are grouped by the generic keys, the suite's
``group_by`` keys and :func:`recipe_hash` (the record's whole ``config`` minus the seed), so runs that
differ in anything but their seed (epochs, learning rate, a recipe field added later) are separate
rows; each row shows the commits it was made over (``commits``) and whether any of its runs came from
a working tree with uncommitted changes (``dirty``: ``yes``, ``no``, ``?`` unknown).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import pandas as pd

from acn_bench.results import regime
from acn_bench.results.record import Record, run_id

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
# Config keys that are not part of a run's recipe: what differs between the seeds of one row. The
# seed, and ``normalization``: the per-channel statistics of the run's training images, which follow
# from the recipe and the seed (low-data draws a different subset per seed).
NOT_RECIPE = ("seed", "normalization")
# Per-record columns that summarize aggregates into a row's provenance and regime.
PROVENANCE = ["created", "commit", "git_dirty"]
# (the regime's source accuracy is apart from the metric: a run that uses no source has none here)
REGIME = ["judged_accuracy", "chance_accuracy", "used_source_accuracy", "source_chance_accuracy", "scored_on"]


# A continual record's ``config.recipe`` is its profile's whole recipe, with the grid's lists (every depth
# and strategy the profile runs); the run's own depth and strategy are compared on their own. A profile
# that drops a depth leaves the runs of the depths it kept comparable.
GRID_LISTS = ("depths", "strategies")


def run_config(record: Record, leave_out: Sequence[str]) -> dict[str, Any]:
    """The record's ``config`` without the keys ``leave_out`` and without the grid's lists
    (:data:`GRID_LISTS`) of its ``recipe``: what must be equal for two runs to share a recipe."""
    config = {key: value for key, value in record.config.items() if key not in leave_out}
    if isinstance(config.get("recipe"), dict):
        config["recipe"] = {key: value for key, value in config["recipe"].items() if key not in GRID_LISTS}
    return config


# What makes a compact table's setup: each compact table holds the rows of one dataset, profile, source, hardware.
def recipe_hash(record: Record) -> str:
    """8 hex digits identifying the record's full recipe: :func:`run_config` without :data:`NOT_RECIPE`.

    Seeds of a row are averaged only when this is equal: a later run with other epochs, another
    learning rate, or a recipe that names a field the earlier one did not, makes a row of its own.
    """
    return run_id(run_config(record, NOT_RECIPE))[:8]


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
            **{key: config_cell(rec.config.get(key)) for key in config_keys},
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


def config_cell(value: object) -> object:
    """A config value as a hashable table cell (``None`` shown as ``-``)."""
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
