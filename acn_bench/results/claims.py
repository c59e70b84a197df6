"""The claims report: each claim of the paper tested on ACN − residual differences paired by seed.

A claim (:data:`CLAIMS`, one line each) names a suite, a metric, the direction the paper claims for
the ACN, optional filters on the run configuration and the grouping keys shown beside it. For every
group of comparable records (same suite, dataset and its source, profile, backbone, depth, strategy,
scenario and run configuration except :data:`NOT_COMPARED`), the ACN and residual records with the
same seed form a pair; the per-seed differences ACN − residual give a mean, a Student-t confidence
interval and a verdict: ``supported`` when the interval excludes 0 in the paper's direction,
``contradicted`` when it excludes 0 the other way, ``inconclusive`` otherwise (n = 1 included).
Groups are never pooled: a claim gets one verdict per group.

Only measured records of the new protocol (``metrics.val_accuracy``: selection on a validation
split) in a learning regime (not near chance) are used; the others are listed as left out, with
the reason. Plain data: this module imports no model, trainer, data set or suite.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from scipy import stats

from acn_bench.errors import UserError
from acn_bench.io import write_text_atomic
from acn_bench.results import regime
from acn_bench.results.record import Record, record_problems
from acn_bench.results.store import iter_record_files

LEVEL = 0.95  # two-sided confidence level of every interval
SEEDS_CAP = 1000  # "seeds needed" beyond this is shown as ">1000"
HIGHER, LOWER = "higher", "lower"
TWINS = ("acn", "residual")
# Configuration keys that may differ between the two records of a pair (or between seeds of a group).
NOT_COMPARED = ("connectivity", "seed", "checkpoint", "normalization")

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NO_PAIRS = "supported", "contradicted", "inconclusive", "no paired records"

OLD_PROTOCOL = "old protocol (no validation split)"
NEAR_CHANCE = regime.NEAR_CHANCE
NEAR_CHANCE_SOURCE = regime.NEAR_CHANCE_SOURCE
NO_VALUE = "no value for the claim's metric"
TWIN_LEFT_OUT = "twin left out"
NO_PARTNER = "no partner (unpaired seed)"
SEVERAL = "several records for one seed"
REASONS = (OLD_PROTOCOL, NEAR_CHANCE, NEAR_CHANCE_SOURCE, NO_VALUE, TWIN_LEFT_OUT, NO_PARTNER, SEVERAL)


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, as a test on paired records.

    Attributes:
        id: short label (``a``, ``b1``, ...).
        title: the claim in words.
        suite: the suite whose records test it.
        metric: a metric of ``record.metrics``; a ``*`` stands for a number (a severity) and the
            value is the mean of every matching metric (``gaussian_*_relative``).
        better: ``higher`` or ``lower``: the direction the paper claims for the ACN.
        where: only records whose configuration has these values.
        show: configuration keys shown in the row (they are compared for pairing like all others).
        beside: a second metric whose paired difference is shown next to the claim's (not tested).
        smallest: a key whose smallest value present is the claim row; the other values are
            ``detail`` rows.
        baseline: configuration values of the rows shown beside the claim's as its baseline, tested
            alike but not counted in the verdicts (transfer: the from-scratch twins, which tell an
            advantage of the transferred ACN from one it has on the target alone).
        grows_with_depth: add a row per family of depths: the slope of the difference against depth
            (the paper's direction: the advantage grows with depth).
    """

    id: str
    title: str
    suite: str
    metric: str
    better: str
    where: dict[str, Any] = field(default_factory=dict)
    show: tuple[str, ...] = ()
    beside: str | None = None
    smallest: str | None = None
    grows_with_depth: bool = False
    baseline: dict[str, Any] = field(default_factory=dict)


NOISE = ("noise_space", "corruptions")
CLAIMS: tuple[Claim, ...] = (
    Claim("a", "lower cutoff layer at equal accuracy", "compression", "cutoff_layer", LOWER, beside="accuracy"),
    Claim("b1", "smaller accuracy drop under Gaussian noise", "robustness", "gaussian_*_relative", HIGHER, show=NOISE),
    Claim("b2", "smaller drop under salt-and-pepper noise", "robustness", "salt_pepper_*_relative", HIGHER, show=NOISE),
    Claim(
        "c",
        "better accuracy with little data",
        "low_data",
        "accuracy",
        HIGHER,
        show=("per_class", "subset"),
        smallest="per_class",
    ),
    Claim(
        "d",
        "better transfer",
        "transfer",
        "accuracy",
        HIGHER,
        where={"mode": ("full", "scratch")},
        show=("source_dataset", "mode"),
        baseline={"mode": "scratch"},
    ),
    Claim(
        "e",
        "less forgetting, growing with depth",
        "continual",
        "avg_forgetting",
        LOWER,
        show=("strategy", "scenario"),
        grows_with_depth=True,
    ),
    Claim(
        "f",
        "larger early-exit speedup",
        "early_exit",
        "flops_speedup",
        HIGHER,
        where={"exit_mode": "inherent"},
        show=("exit_mode", "exit_weights"),
    ),
)


# ---------------------------------------------------------------------------------------------
# Statistics


@dataclass(frozen=True)
class DiffStats:
    """Mean of paired differences with its two-sided Student-t interval (``None`` when n < 2)."""

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class SlopeStats:
    """Least-squares slope of the differences against depth, with its Student-t interval (n − 2 df)."""

    n: int
    depths: tuple[int, ...]
    slope: float
    se: float | None
    residual_sd: float | None
    low: float | None
    high: float | None


def t_quantile(df: int | np.ndarray, level: float = LEVEL) -> Any:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    return stats.t.ppf(0.5 + level / 2, df)


def paired_stats(diffs: Sequence[float], level: float = LEVEL) -> DiffStats | None:
    """Mean, sample sd and ``mean ± t(n−1) · sd / √n`` of the differences; ``None`` without any."""
    values = np.asarray(diffs, dtype=float)
    n = len(values)
    if n == 0:
        return None
    mean = float(values.mean())
    if n == 1:
        return DiffStats(1, mean, None, None, None)
    sd = float(values.std(ddof=1))
    half = float(t_quantile(n - 1, level)) * sd / math.sqrt(n)
    return DiffStats(n, mean, sd, mean - half, mean + half)


def slope_stats(depths: Sequence[float], diffs: Sequence[float], level: float = LEVEL) -> SlopeStats | None:
    """Ordinary least squares of ``diffs`` on ``depths`` (every pair one point); ``None`` unless two
    depths differ. The interval is ``slope ± t(n−2) · se``, undefined for n = 2."""
    x = np.asarray(depths, dtype=float)
    y = np.asarray(diffs, dtype=float)
    distinct = tuple(sorted({int(d) for d in depths}))
    if len(distinct) < 2:
        return None
    n = len(x)
    sxx = float(((x - x.mean()) ** 2).sum())
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / sxx)
    if n < 3:
        return SlopeStats(n, distinct, slope, None, None, None, None)
    residuals = y - (y.mean() + slope * (x - x.mean()))
    residual_sd = math.sqrt(float((residuals**2).sum()) / (n - 2))
    se = residual_sd / math.sqrt(sxx)
    half = float(t_quantile(n - 2, level)) * se
    return SlopeStats(n, distinct, slope, se, residual_sd, slope - half, slope + half)


def verdict(low: float | None, high: float | None, better: str) -> str:
    """``supported`` / ``contradicted`` when the interval excludes 0 in / against the paper's direction."""
    if low is None or high is None:
        return INCONCLUSIVE
    if better == HIGHER:
        return SUPPORTED if low > 0 else CONTRADICTED if high < 0 else INCONCLUSIVE
    return SUPPORTED if high < 0 else CONTRADICTED if low > 0 else INCONCLUSIVE


def seeds_needed(mean: float, sd: float | None, cap: int = SEEDS_CAP, level: float = LEVEL) -> int | None:
    """Smallest n >= 2 with ``t(n−1) · sd / √n < |mean|``: the seeds the observed mean and sd would
    need for an interval excluding 0. ``None`` when it cannot be said (mean 0, sd 0 or unknown);
    ``cap + 1`` when more than ``cap``."""
    if sd is None or sd == 0 or mean == 0:
        return None
    ns = np.arange(2, cap + 1)
    enough = t_quantile(ns - 1, level) * sd / np.sqrt(ns) < abs(mean)
    return int(ns[enough.argmax()]) if enough.any() else cap + 1


def slope_seeds_needed(slope: SlopeStats, cap: int = SEEDS_CAP, level: float = LEVEL) -> int | None:
    """Smallest number m of seeds at each of the family's depths for which the observed slope and
    residual sd would give an interval excluding 0 (``t(k·m−2) · s / √(m · Sxx₁) < |slope|``, Sxx₁
    over the k depths once). ``None`` / ``cap + 1`` as in :func:`seeds_needed`."""
    if slope.residual_sd is None or slope.residual_sd == 0 or slope.slope == 0:
        return None
    d = np.asarray(slope.depths, dtype=float)
    sxx1 = float(((d - d.mean()) ** 2).sum())
    ms = np.arange(1, cap + 1)
    df = len(d) * ms - 2
    ms, df = ms[df >= 1], df[df >= 1]
    enough = t_quantile(df, level) * slope.residual_sd / np.sqrt(ms * sxx1) < abs(slope.slope)
    return int(ms[enough.argmax()]) if enough.any() else cap + 1


# ---------------------------------------------------------------------------------------------
# Regime (acn_bench.results.regime: below 2 x chance is never a conclusion)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def regime_problems(record: Record) -> list[tuple[str, str]]:
    """``(flag, detail)`` for every regime flag of the record (:func:`regime.regime_flags`): judged
    accuracy (continual: learning accuracy) below the near-chance bar (2 x chance, capped by
    :func:`regime.chance_threshold`); a transfer source below 5 x its chance (capped likewise)."""

    def detail(what: str, value: float | None, chance: float | None, factor: float) -> str:
        bar = regime.chance_threshold(chance, factor) if chance is not None else None
        return f"{what} {_num(value)} < bar {_num(bar)} ({factor:g} × chance {_num(chance)}, capped)"

    details = {
        regime.NEAR_CHANCE: lambda: detail(
            "accuracy", regime.judged_accuracy(record), regime.chance_level(record), regime.CHANCE_FACTOR
        ),
        regime.NEAR_CHANCE_SOURCE: lambda: detail(
            "source_accuracy",
            _number(record.metrics.get("source_accuracy")),
            regime.source_chance_level(record),
            regime.SOURCE_CHANCE_FACTOR,
        ),
    }
    return [(flag, details[flag]() if flag in details else flag) for flag in regime.regime_flags(record)]


# ---------------------------------------------------------------------------------------------
# Records, groups and pairs


@dataclass(frozen=True)
class Entry:
    """A record and its file, relative to the records folder."""

    path: str
    record: Record

    @property
    def connectivity(self) -> str:
        return str(self.record.backbone.get("connectivity"))

    def describe(self) -> str:
        r = self.record
        return (
            f"{self.connectivity} seed {r.seed}, {r.dataset.get('name')} {r.profile}, "
            f"{r.backbone.get('name')} depth {r.backbone.get('depth')}"
        )


@dataclass(frozen=True)
class LeftOut:
    """A record not used, and why."""

    path: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Pair:
    """One seed's ACN and residual values of a claim's metric (and of its ``beside`` metric)."""

    seed: int
    depth: int
    acn: float
    residual: float
    acn_path: str
    residual_path: str
    beside: tuple[float, float] | None = None

    @property
    def diff(self) -> float:
        return self.acn - self.residual


@dataclass
class Row:
    """One line of the report: a claim tested on one group of comparable records."""

    claim: Claim
    role: str  # "claim", "detail" (smallest only), "baseline" (not counted) or "slope"
    labels: dict[str, str]
    pairs: list[Pair]
    unpaired: int
    diff: DiffStats | None = None
    slope: SlopeStats | None = None
    beside: DiffStats | None = None

    @property
    def verdict(self) -> str:
        if not self.pairs:
            return NO_PAIRS
        if self.role == "slope":
            return verdict(self.slope.low, self.slope.high, self.claim.better) if self.slope else INCONCLUSIVE
        return verdict(self.diff.low, self.diff.high, self.claim.better)

    @property
    def seeds_needed(self) -> str:
        if not self.pairs:
            return "–"
        if self.role == "slope":
            needed = slope_seeds_needed(self.slope) if self.slope else None
        else:
            needed = seeds_needed(self.diff.mean, self.diff.sd)
        if needed is None:
            return "–"
        return f">{SEEDS_CAP}" if needed > SEEDS_CAP else str(needed)


def metric_value(metrics: dict[str, Any], name: str) -> float | None:
    """``metrics[name]``, or the mean of the metrics matching ``name`` where ``*`` is a number."""
    if "*" not in name:
        return _number(metrics.get(name))
    pattern = re.compile("^" + re.escape(name).replace(r"\*", r"[0-9][0-9.eE+-]*") + "$")
    values = [_number(v) for k, v in metrics.items() if pattern.match(k)]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def config_value(record: Record, key: str) -> Any:
    """A run's setting: from its configuration, else the record's own field (strategy, scenario)."""
    return record.config[key] if key in record.config else getattr(record, key, None)


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key in sorted(value):
            flat.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, (list, tuple)):
        return {prefix: json.dumps(value, default=str)}
    return {prefix: value}


def identity(record: Record) -> dict[str, Any]:
    """What two records must share to be compared: suite, dataset and its source, profile, backbone,
    depth, strategy, scenario and the flattened configuration without :data:`NOT_COMPARED`."""
    ident = {
        "suite": record.suite,
        "dataset": record.dataset.get("name"),
        "dataset.source": record.dataset.get("source"),
        "profile": record.profile,
        "backbone": record.backbone.get("name"),
        "depth": record.backbone.get("depth"),
        "strategy": record.strategy,
        "scenario": record.scenario,
        "protocol": record.protocol,
    }
    config = {k: v for k, v in record.config.items() if k not in NOT_COMPARED}
    ident.update({f"config.{k}": v for k, v in _flatten(config, "").items()})
    return ident


def _epochs(record: Record) -> tuple[Any, str] | None:
    """Training epochs and their unit: ``config.train.epochs`` (``ep``), else ``config.recipe.epochs``
    (continual: ``ep/task``); ``None`` when neither is set."""
    for section, unit in (("train", "ep"), ("recipe", "ep/task")):
        part = record.config.get(section)
        if isinstance(part, dict) and part.get("epochs") is not None:
            return part["epochs"], unit
    return None


def budget(record: Record) -> str:
    """Training epochs: ``config.train.epochs``, else ``config.recipe.epochs`` (continual: per task)."""
    epochs = _epochs(record)
    return "–" if epochs is None else str(epochs[0])


def budget_label(record: Record) -> str:
    """The budget with its unit: ``40 ep``, ``2 ep/task`` (continual), ``–`` when unknown."""
    epochs = _epochs(record)
    return "–" if epochs is None else f"{epochs[0]} {epochs[1]}"


def _key(ident: dict[str, Any]) -> str:
    return json.dumps(ident, sort_keys=True, default=str)


def _sortable(value: Any) -> tuple:
    """A sort key that orders numbers (and numeric strings) numerically, before any text."""
    number = _number(value)
    if number is None and isinstance(value, str):
        try:
            number = _number(float(value))
        except ValueError:
            pass
    return (0, number, "") if number is not None else (1, 0.0, str(value))


@dataclass
class _Group:
    ident: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class ClaimsReport:
    """The claim rows, the records left out and what was not used at all."""

    records_dir: str
    rows: list[Row]
    left_out: list[LeftOut]
    not_used: list[str]

    @property
    def has_pairs(self) -> bool:
        return any(row.pairs for row in self.rows)

    def cells(self) -> list[dict[str, str]]:
        return [_cells(row) for row in self.rows]

    def claims(self) -> list[Claim]:
        """The claims of the rows, in row order (a Claim holds a dict: unhashable, told apart by id)."""
        return list({id(row.claim): row.claim for row in self.rows}.values())

    def compact(self) -> list[Section]:
        """The compact view: one :class:`Section` per claim (:func:`compact_section`)."""
        return [compact_section(claim, [row for row in self.rows if row.claim is claim]) for claim in self.claims()]

    def rich(self, wide: bool = False) -> Group:
        """The console view: a compact table per claim (``wide``: one table of every column), the per-claim
        summary and the left-out list."""
        title = f"claims: ACN − residual paired by seed ({LEVEL:.0%} Student-t interval)"
        if wide:
            parts: list[Any] = [_rich_wide_table(title, self.cells())]
        else:
            parts = [Text(title, style="bold")]
            for section in self.compact():
                parts += _rich_section(section)
        parts += [Text(""), Text("summary", style="bold")]
        parts += [Text(f"  {line}") for line in self.summary_lines()]
        parts += [Text(line) for line in self.left_out_lines()]
        return Group(*parts)

    def summary_lines(self) -> list[str]:
        """Per claim: how many of its groups support, contradict or leave it open (never pooled)."""
        lines = []
        for claim in self.claims():
            parts = []
            for role, label in (("claim", ""), ("slope", "slope against depth: ")):
                counts = Counter(r.verdict for r in self.rows if r.claim is claim and r.role == role)
                verdicts = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NO_PAIRS)
                if counts:
                    parts.append(label + ", ".join(f"{counts[v]} {v}" for v in verdicts if counts[v]))
            lines.append(f"{claim.id} {claim.title} ({_metric_label(claim)}): {'; '.join(parts) or NO_PAIRS}")
        return lines

    def left_out_lines(self, markdown: bool = False) -> list[str]:
        lines = []
        by_reason: dict[str, list[LeftOut]] = defaultdict(list)
        for item in self.left_out:
            by_reason[item.reason].append(item)
        for reason in REASONS:
            items = by_reason.get(reason, [])
            if items:
                lines.append(f"- left out: {reason}: {len(items)} record(s)")
                for item in items:
                    path = f"`{item.path}`" if markdown else item.path
                    lines.append(f"  - {path}: {item.detail}")
        lines += [f"- not used: {line}" for line in self.not_used]
        return lines

    def markdown(self, wide: bool = False) -> str:
        """The report as markdown: the claims (a compact table per claim; ``wide``: one table of every
        column), the summary, the records left out, every pair and how the numbers are made."""
        if wide:
            tables = [_markdown_table(COLUMNS, [[c[k] for k in COLUMNS] for c in self.cells()])]
        else:
            tables = [_markdown_section(section) for section in self.compact()]
        out = [
            "# Claims of the paper, tested on paired seeds",
            "",
            f"Records: `{self.records_dir}` (measured, new protocol). Each row pairs the ACN and residual "
            "records of one configuration by seed and tests the per-seed difference ACN − residual: its mean, "
            f"its {LEVEL:.0%} Student-t interval and a verdict. Groups are never pooled; see "
            "[How the numbers are made](#how-the-numbers-are-made).",
            "",
            WIDE_NOTE if wide else COMPACT_NOTE,
            "",
            "## Claims",
            "",
            "\n\n".join(tables),
            "",
            "## Summary",
            "",
            *[f"- {line}" for line in self.summary_lines()],
            "",
            "## Left out",
            "",
            *(self.left_out_lines(markdown=True) or ["Nothing."]),
            "",
            "## Pairs",
            "",
        ]
        for row, cells in zip(self.rows, self.cells()):
            if not row.pairs or row.role == "slope":
                continue
            out += [
                f"### {cells['claim']}: {cells['dataset']} {cells['profile']}, {cells['backbone']} depth "
                f"{cells['depth']}, budget {cells['budget']}" + (f", {cells['setting']}" if cells["setting"] else ""),
                "",
                _markdown_table(
                    ["seed", "ACN", "residual", "ACN − residual", "ACN record", "residual record"],
                    [
                        [
                            str(p.seed),
                            _num(p.acn),
                            _num(p.residual),
                            _signed(p.diff),
                            f"`{p.acn_path}`",
                            f"`{p.residual_path}`",
                        ]
                        for p in row.pairs
                    ],
                ),
                "",
            ]
        out += ["## How the numbers are made", "", *HOW, ""]
        return "\n".join(out)

    def write(self, path: Path, wide: bool = False) -> Path:
        """Write the markdown report (:meth:`markdown`) atomically."""
        return write_text_atomic(path, self.markdown(wide))


COLUMNS = (
    "claim", "metric", "suite", "dataset", "profile", "budget", "backbone", "depth", "setting", "n", "unpaired",
    "ACN", "residual", "Δ ACN − res", f"{LEVEL:.0%} CI", "verdict", "seeds needed", "beside",
)  # fmt: skip
NUMERIC_COLUMNS = {"n", "unpaired", "ACN", "residual", "Δ ACN − res", "seeds needed"}

HOW = [
    "- **Records**: only `source: measured` records whose metrics carry `val_accuracy` (the protocol that "
    "selects on a validation split); paper records and records of other connectivities are not used.",
    "- **Regime** (`acn_bench/results/regime.py`): a record whose accuracy (continual: `learning_accuracy`) is "
    f"below the near-chance bar, {regime.CHANCE_FACTOR:g} × chance capped at halfway from chance to 100% "
    "(chance: `metrics.chance_accuracy`, else 1 / classes per task for task-incremental continual runs, else "
    "1 / `dataset.num_classes`), is left out; so is a transfer record whose `source_accuracy` is below "
    f"{regime.SOURCE_CHANCE_FACTOR:g} × the source's chance, capped likewise (`metrics.source_chance_accuracy`, "
    "else 1 / classes of `config.source_dataset`).",
    "- **Pairs**: an ACN and a residual record with the same seed and otherwise the same configuration: "
    "suite, dataset and its source, profile, backbone, depth, strategy, scenario and every key of `config` "
    f"except {', '.join(NOT_COMPARED)}. A seed with one twin only (or whose twin was left out) is dropped "
    "and counted as unpaired.",
    f"- **Statistics**: d = ACN − residual per seed; mean, sample sd (n − 1); {LEVEL:.0%} interval "
    "mean ± t(0.975, n − 1) · sd / √n (scipy.stats.t). n = 1: no interval, inconclusive.",
    "- **Verdict**: supported when the interval excludes 0 in the paper's direction, contradicted when it "
    "excludes 0 in the other, inconclusive otherwise.",
    "- **Seeds needed**: the smallest n ≥ 2 with t(0.975, n − 1) · sd / √n < |mean| for the observed mean "
    f"and sd (– when the mean or the sd is 0, or n = 1; >{SEEDS_CAP} beyond {SEEDS_CAP}).",
    "- **Claims**: (a) `cutoff_layer`, lower for the ACN, with the paired accuracy difference beside it; "
    "(b) per noise kind, the mean over severities of `<kind>_<severity>_relative` (corrupted / clean "
    "accuracy), higher; (c) `accuracy`, higher, at every `per_class`, the smallest being the claim row "
    "(the others: detail); (d) target `accuracy`, mode full, higher, with the from-scratch twins (mode scratch, "
    "the same fine-tuning recipe) as a baseline row that is tested alike but not counted; (e) `avg_forgetting`, "
    "lower, one row per depth; (f) `flops_speedup` at the operating point, exit mode inherent, higher.",
    "- **Grows with depth** (e, slope rows): least squares of the per-seed differences on depth, every pair "
    "one point, over the depths of one family (same configuration but depth); interval slope ± "
    "t(0.975, n − 2) · se; supported when the slope is below 0 (the ACN's advantage grows). Seeds needed: "
    "per depth.",
    "- **Budget**: `config.train.epochs` (continual: `config.recipe.epochs`, per task).",
]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.4g}"


def _interval(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"[{low:+.4g}, {high:+.4g}]"


def _metric_label(claim: Claim) -> str:
    return f"{claim.metric}, {claim.better} is better for ACN"


def _arrow(claim: Claim) -> str:
    """``↑`` when the paper claims a higher value for the ACN, ``↓`` when a lower one."""
    return "↑" if claim.better == HIGHER else "↓"


def _cells(row: Row) -> dict[str, str]:
    """The row's cells of the wide table (:data:`COLUMNS`), 4 significant digits."""
    claim = row.claim
    cells = {
        "claim": claim.id
        + {"detail": " (detail)", "baseline": " (baseline)", "slope": " (slope vs depth)"}.get(row.role, ""),
        "metric": f"{claim.metric} ({_arrow(claim)})",
        "suite": claim.suite,
        **row.labels,
        "n": str(len(row.pairs)),
        "unpaired": str(row.unpaired),
        "verdict": row.verdict,
        "seeds needed": row.seeds_needed,
        "beside": "",
    }
    if row.role == "slope":
        s = row.slope
        cells.update(
            {
                "ACN": "–",
                "residual": "–",
                "Δ ACN − res": f"slope {_signed(s.slope)}/layer" if s else "needs 2 depths",
                f"{LEVEL:.0%} CI": _interval(s.low, s.high) if s else "–",
            }
        )
        return cells
    pairs = row.pairs
    cells.update(
        {
            "ACN": _num(float(np.mean([p.acn for p in pairs]))) if pairs else "–",
            "residual": _num(float(np.mean([p.residual for p in pairs]))) if pairs else "–",
            "Δ ACN − res": _signed(row.diff.mean) if row.diff else "–",
            f"{LEVEL:.0%} CI": _interval(row.diff.low, row.diff.high) if row.diff else "–",
        }
    )
    if claim.beside and row.beside:
        b = row.beside
        interval = _interval(b.low, b.high) if b.n > 1 else "(n=1)"
        cells["beside"] = f"Δ {claim.beside} {_signed(b.mean)} {interval}"
    return cells


# ---------------------------------------------------------------------------------------------
# The compact view: a section per claim, a table per setup

DELTA = f"Δ ACN − res [{LEVEL:.0%} CI]"
ROLES = {"detail": "detail", "baseline": "baseline", "slope": "slope vs depth"}  # the setting's prefix per role
SETTING_WIDTH = 60  # the console folds the setting at this width at most (narrower when 120 characters need it)
COMPACT_RIGHT = {"n", "seeds needed"}
COMPACT_NOTE = (
    "One section per claim, headed by the claim, its metric and the direction the paper claims for the ACN "
    "(↑ higher, ↓ lower is better), with a table per setup headed by what its rows share: dataset profile · "
    "backbone `L<depth>` · training epochs (`ep`; continual: `ep/task`). `records`: those parts in which the "
    "rows differ; `setting`: the row's configuration keys after its role (`detail:` a larger `per_class` than "
    "the claim row, `baseline:` tested alike but not counted, `slope vs depth:` the slope of the differences "
    f"against depth); `{DELTA}`: the mean difference and its interval, 3 significant digits. Every column "
    "(ACN and residual means, unpaired seeds, suite, budget, backbone, depth; 4 significant digits) in one "
    "table: `acn-bench claims --columns all`."
)
WIDE_NOTE = (
    "Every column in one table (`acn-bench claims --columns all`; the default is a compact table per claim). "
    "`budget`: training epochs (continual: per task); `unpaired`: seeds with one usable twin only; `beside`: "
    "a second metric's paired difference, shown but not tested."
)


class SetupTable(NamedTuple):
    """A claim's rows of one setup (dataset and profile): what they all share (``cifar10 quick ·
    mixer_small L8 · 4 ep``, as far as shared), the column names and the rows of text cells."""

    heading: str
    columns: list[str]
    rows: list[list[str]]


class Section(NamedTuple):
    """One claim in the compact view: its heading and a table per setup."""

    heading: str
    tables: list[SetupTable]


def compact_section(claim: Claim, rows: Sequence[Row]) -> Section:
    """The claim (id, title, metric and the paper's direction) and a :func:`setup_table` per setup."""
    heading = f"{claim.id}: {claim.title} — {claim.metric} {_arrow(claim)} ({claim.better} is better for ACN)"
    setups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        setups[_record_parts(row).get("data", "")].append(row)
    return Section(heading, [setup_table(claim, setup) for setup in setups.values()])


def setup_table(claim: Claim, rows: Sequence[Row]) -> SetupTable:
    """The compact table of a claim's rows of one setup: ``records`` (the parts in which the rows differ;
    the shared parts are the heading), ``setting`` after the row's role, ``n``, the difference with its
    interval, the ``beside`` metric's difference, ``verdict`` and ``seeds needed``; a column empty on
    every row is left out."""
    parts = [_record_parts(row) for row in rows]
    shared = {k: v for k, v in parts[0].items() if all(p.get(k) == v for p in parts)}
    columns = {
        "records": [_join_parts({k: v for k, v in p.items() if k not in shared}) for p in parts],
        "setting": [_setting_cell(row) for row in rows],
        "n": [str(len(row.pairs)) for row in rows],
        DELTA: [_delta_cell(row) for row in rows],
        **({f"beside: Δ {claim.beside}": [_beside_cell(row) for row in rows]} if claim.beside else {}),
        "verdict": [row.verdict for row in rows],
        "seeds needed": [row.seeds_needed for row in rows],
    }
    kept = [name for name, cells in columns.items() if any(cells)]
    return SetupTable(_join_parts(shared), kept, [[columns[name][i] for name in kept] for i in range(len(rows))])


def _record_parts(row: Row) -> dict[str, str]:
    """What the row's records are: ``data`` (dataset profile), ``backbone``, ``depth`` (``L<depth>``) and
    ``budget`` (epochs with their unit); none for the row of a claim without records."""
    labels = row.labels
    if labels["dataset"] == "–":
        return {}
    return {
        "data": f"{labels['dataset']} {labels['profile']}",
        "backbone": labels["backbone"],
        "depth": f"L{labels['depth']}",
        "budget": labels["epochs"],
    }


def _join_parts(parts: dict[str, str]) -> str:
    """``digits quick · mixer_small L16 · 40 ep``, of the parts present."""
    model = " ".join(parts[k] for k in ("backbone", "depth") if k in parts)
    return " · ".join(part for part in (parts.get("data"), model, parts.get("budget")) if part)


def _setting_cell(row: Row) -> str:
    """The row's setting after its role (``detail: per_class=50 subset=random``; a claim row: no role)."""
    role = ROLES.get(row.role)
    setting = row.labels["setting"]
    return f"{role}: {setting}" if role and setting else role or setting


def _estimate(mean: float, low: float | None, high: float | None, unit: str = "") -> str:
    """``+0.0864 [+0.0656, +0.107]``: the mean (3 significant digits, then ``unit``) and its interval if any."""
    interval = "" if low is None or high is None else f" [{low:+.3g}, {high:+.3g}]"
    return f"{mean:+.3g}{unit}{interval}"


def _delta_cell(row: Row) -> str:
    """The mean difference with its interval; a slope row: ``slope -0.0138/layer [-0.337, +0.309]``."""
    if row.role == "slope":
        s = row.slope
        return f"slope {_estimate(s.slope, s.low, s.high, '/layer')}" if s else "needs 2 depths"
    return _estimate(row.diff.mean, row.diff.low, row.diff.high) if row.diff else "–"


def _beside_cell(row: Row) -> str:
    """The ``beside`` metric's mean difference with its interval (empty without one)."""
    b = row.beside
    return _estimate(b.mean, b.low, b.high) if b else ""


def _rich_section(section: Section) -> list[Any]:
    """A claim's compact tables for the console, each under its setup: no frame, narrow gaps; only the
    setting folds (at :data:`SETTING_WIDTH`), so 120 characters hold them."""
    parts: list[Any] = [Text(""), Text(section.heading, style="bold")]
    for setup in section.tables:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
        for name in setup.columns:
            if name == "setting":
                table.add_column(name, max_width=SETTING_WIDTH, overflow="fold")
            else:
                table.add_column(name, justify="right" if name in COMPACT_RIGHT else "left", no_wrap=True)
        for row in setup.rows:
            table.add_row(*row)
        parts += [Text(setup.heading, style="italic"), table] if setup.heading else [table]
    return parts


def _markdown_section(section: Section) -> str:
    """A claim's compact tables in markdown, each under its setup."""
    out = [f"### {section.heading}"]
    for setup in section.tables:
        out += [f"#### {setup.heading}"] if setup.heading else []
        out.append(_markdown_table(setup.columns, setup.rows))
    return "\n\n".join(out)


def _rich_wide_table(title: str, cells: Sequence[dict[str, str]]) -> Table:
    """Every column of :data:`COLUMNS` in one table, for the console."""
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in NUMERIC_COLUMNS else "left", overflow="fold")
    for row in cells:
        table.add_row(*(row[c] for c in COLUMNS))
    return table


def _markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])


# ---------------------------------------------------------------------------------------------
# Building the report


def load_claim_records(records_dir: Path, suites: Iterable[str]) -> list[Entry]:
    """Every record file of ``suites`` under ``records_dir``.

    Raises:
        UserError: a missing or empty folder, a file that is not a readable record, or records of
            more than one ``schema_version``.
    """
    records_dir = Path(records_dir)
    if not records_dir.is_dir():
        raise UserError(f"records folder {str(records_dir)!r} does not exist; run a suite first or pass --records DIR.")
    suites = sorted(set(suites))
    files = [path for suite in suites for path in iter_record_files(records_dir, suite)]
    if not files:
        raise UserError(
            f"no records under {str(records_dir)!r}: the claims report reads <suite>/*.json of the suites "
            f"{', '.join(suites)}."
        )
    raw = []
    for path in files:
        try:
            raw.append((path, json.loads(path.read_text())))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"record {path} cannot be read: {exc}. Nothing was written.") from exc
    versions: dict[str, list[Path]] = defaultdict(list)
    for path, data in raw:
        versions[repr(data.get("schema_version") if isinstance(data, dict) else None)].append(path)
    if len(versions) > 1:
        found = "; ".join(
            f"version {v}: {len(paths)} file(s), e.g. {paths[0]}" for v, paths in sorted(versions.items())
        )
        raise UserError(
            f"records under {str(records_dir)!r} mix schema versions ({found}); a claims report compares records "
            "of one schema only. Nothing was written."
        )
    entries = []
    for path, data in raw:
        problems = record_problems(data)
        if problems:
            raise UserError(f"record {path} cannot be read: {'; '.join(problems)}. Nothing was written.")
        entries.append(Entry(path.relative_to(records_dir).as_posix(), Record.from_dict(data)))
    return entries


def _matches(record: Record, claim: Claim) -> bool:
    """``record`` belongs to ``claim``: its suite, and every ``where`` value (or one of a tuple of them)."""
    return record.suite == claim.suite and all(
        config_value(record, k) in (v if isinstance(v, tuple) else (v,)) for k, v in claim.where.items()
    )


def _own_problems(entry: Entry, claim: Claim) -> list[tuple[str, str]]:
    """Why a record cannot be used for ``claim`` on its own (protocol, regime, missing value)."""
    record = entry.record
    problems = []
    if _number(record.metrics.get("val_accuracy")) is None:
        problems.append((OLD_PROTOCOL, "no metrics.val_accuracy"))
    problems += regime_problems(record)
    if metric_value(record.metrics, claim.metric) is None:
        problems.append((NO_VALUE, f"no {claim.metric}"))
    return problems


LABELS = ("dataset", "profile", "budget", "epochs", "backbone", "depth", "setting")  # what a row is about


def _labels(claim: Claim, group: _Group) -> dict[str, str]:
    """The row's :data:`LABELS`: its records (dataset, profile, budget, backbone, depth) and shown setting."""
    record = group.entries[0].record
    shown = [(k, config_value(record, k)) for k in claim.show]
    return {
        "dataset": str(record.dataset.get("name")),
        "profile": record.profile,
        "budget": budget(record),
        "epochs": budget_label(record),
        "backbone": str(record.backbone.get("name")),
        "depth": str(record.backbone.get("depth")),
        "setting": " ".join(f"{k}={v}" for k, v in shown),
    }


def _claim_rows(claim: Claim, entries: list[Entry], left_out: list[LeftOut]) -> list[Row]:
    """The rows of one claim; every record it cannot use goes to ``left_out``."""
    groups: dict[str, _Group] = {}
    for entry in entries:
        ident = identity(entry.record)
        groups.setdefault(_key(ident), _Group(ident)).entries.append(entry)
    rows = []
    for group in groups.values():
        by_seed: dict[int, list[Entry]] = defaultdict(list)
        for entry in group.entries:
            by_seed[entry.record.seed].append(entry)
        pairs, unpaired, clean_any = [], 0, False
        for seed in sorted(by_seed, key=_sortable):
            seed_entries = by_seed[seed]
            problems = {e.path: _own_problems(e, claim) for e in seed_entries}
            for e in seed_entries:
                left_out.extend(
                    LeftOut(e.path, reason, f"{e.describe()}: {detail}") for reason, detail in problems[e.path]
                )
            clean = [e for e in seed_entries if not problems[e.path]]
            clean_any = clean_any or bool(clean)
            sides = {c: [e for e in seed_entries if e.connectivity == c] for c in TWINS}
            if all(len(sides[c]) == 1 for c in TWINS) and len(clean) == 2:
                acn, res = sides["acn"][0], sides["residual"][0]
                beside = None
                if claim.beside:
                    values = (
                        metric_value(acn.record.metrics, claim.beside),
                        metric_value(res.record.metrics, claim.beside),
                    )
                    beside = values if None not in values else None
                pairs.append(
                    Pair(
                        seed,
                        int(acn.record.backbone.get("depth") or 0),
                        metric_value(acn.record.metrics, claim.metric),
                        metric_value(res.record.metrics, claim.metric),
                        acn.path,
                        res.path,
                        beside,
                    )
                )
                continue
            if not clean:
                continue
            unpaired += 1
            for e in clean:
                other = "residual" if e.connectivity == "acn" else "acn"
                if any(len(sides[c]) > 1 for c in TWINS):
                    left_out.append(LeftOut(e.path, SEVERAL, f"{e.describe()}: several records of seed {seed}"))
                elif sides[other]:
                    why = ", ".join(reason for reason, _ in problems[sides[other][0].path])
                    left_out.append(LeftOut(e.path, TWIN_LEFT_OUT, f"{e.describe()}: its {other} twin: {why}"))
                else:
                    left_out.append(LeftOut(e.path, NO_PARTNER, f"{e.describe()}: no {other} record of seed {seed}"))
        if not clean_any:
            continue
        row = Row(claim, "claim", _labels(claim, group), pairs, unpaired)
        row.diff = paired_stats([p.diff for p in pairs])
        besides = [p.beside for p in pairs if p.beside is not None]
        row.beside = paired_stats([a - r for a, r in besides])
        row.labels["_key"] = _key(group.ident)
        rows.append((group, row))
    _disambiguate(rows)
    if claim.smallest:
        _mark_details(claim, rows)
    for group, row in rows:
        if claim.baseline and all(config_value(group.entries[0].record, k) == v for k, v in claim.baseline.items()):
            row.role = "baseline"
    result = [row for _, row in rows]
    if claim.grows_with_depth:
        result += _slope_rows(claim, rows)
    if not result:
        result = [Row(claim, "claim", {k: "–" for k in LABELS}, [], 0)]
    for row in result:
        row.labels.pop("_key", None)
    return sorted(result, key=_row_order)


def _disambiguate(rows: list[tuple[_Group, Row]]) -> None:
    """Rows whose labels coincide get the configuration keys that tell them apart in ``setting``."""
    buckets: dict[str, list[tuple[_Group, Row]]] = defaultdict(list)
    for group, row in rows:
        buckets[json.dumps({k: v for k, v in row.labels.items() if k != "_key"}, sort_keys=True)].append((group, row))
    for bucket in buckets.values():
        if len(bucket) < 2:
            continue
        keys = sorted({k for group, _ in bucket for k in group.ident})
        varying = [k for k in keys if len({json.dumps(g.ident.get(k), default=str) for g, _ in bucket}) > 1]
        for group, row in bucket:
            extra = " ".join(f"{k.removeprefix('config.')}={group.ident.get(k, '(absent)')}" for k in varying)
            row.labels["setting"] = f"{row.labels['setting']} {extra}".strip()


def _without(ident: dict[str, Any], *keys: str) -> str:
    return _key({k: v for k, v in ident.items() if k not in keys})


FAMILY = ("suite", "dataset", "dataset.source", "profile", "backbone", "depth", "strategy", "scenario")


def _mark_details(claim: Claim, rows: list[tuple[_Group, Row]]) -> None:
    """The row with the smallest ``claim.smallest`` of each family (same dataset, profile, backbone,
    depth and other shown keys; the budget may differ, as it does across low-data sizes) is the
    claim row, the others are detail rows."""
    key = f"config.{claim.smallest}"
    family_keys = [*FAMILY, *(f"config.{k}" for k in claim.show if k != claim.smallest)]
    families: dict[str, list[tuple[_Group, Row]]] = defaultdict(list)
    for group, row in rows:
        families[_key({k: group.ident.get(k) for k in family_keys})].append((group, row))
    for family in families.values():
        smallest = min((g.ident.get(key) for g, _ in family), key=_sortable)
        for group, row in family:
            if group.ident.get(key) != smallest:
                row.role = "detail"


def _slope_rows(claim: Claim, rows: list[tuple[_Group, Row]]) -> list[Row]:
    """One "grows with depth" row per family of groups that differ only in depth."""
    families: dict[str, list[tuple[_Group, Row]]] = defaultdict(list)
    for group, row in rows:
        families[_without(group.ident, "depth", "config.depth")].append((group, row))
    result = []
    for family in families.values():
        pairs = [p for _, row in family for p in row.pairs]
        depths = sorted({int(row.labels["depth"]) for _, row in family if row.pairs})
        labels = dict(family[0][1].labels)
        labels["depth"] = ",".join(str(d) for d in depths) or "–"
        slope_row = Row(claim, "slope", labels, pairs, sum(row.unpaired for _, row in family))
        slope_row.slope = slope_stats([p.depth for p in pairs], [p.diff for p in pairs])
        result.append(slope_row)
    return result


def _row_order(row: Row) -> tuple:
    labels = row.labels
    depth = (1, 0.0, "") if row.role == "slope" else _sortable(labels["depth"])
    return (
        labels["dataset"],
        labels["profile"],
        labels["backbone"],
        _setting_order(labels["setting"]),
        _sortable(labels["budget"]),
        depth,
    )


def _setting_order(setting: str) -> tuple:
    return tuple(_sortable(part.partition("=")[2]) for part in setting.split())


def build_claims(records_dir: Path, claims: Sequence[Claim] = CLAIMS) -> ClaimsReport:
    """Test every claim on the records under ``records_dir``.

    Raises:
        UserError: bad input (see :func:`load_claim_records`) or no claim with a usable pair.
    """
    entries = load_claim_records(records_dir, (c.suite for c in claims))
    measured = [e for e in entries if e.record.source == "measured"]
    twins = [e for e in measured if e.connectivity in TWINS]
    claimed = [e for e in twins if any(_matches(e.record, c) for c in claims)]
    left_out: list[LeftOut] = []
    rows = [
        row
        for claim in claims
        for row in _claim_rows(claim, [e for e in claimed if _matches(e.record, claim)], left_out)
    ]
    others = sorted({e.connectivity for e in measured if e.connectivity not in TWINS})
    not_used = []
    if len(entries) > len(measured):
        not_used.append(f"{len(entries) - len(measured)} paper record(s) (source: paper)")
    if len(measured) > len(twins):
        not_used.append(f"{len(measured) - len(twins)} record(s) of other connectivities ({', '.join(others)})")
    if len(twins) > len(claimed):
        not_used.append(f"{len(twins) - len(claimed)} record(s) outside every claim's filter (e.g. exit modes, modes)")
    unique = sorted(set(left_out), key=lambda item: (REASONS.index(item.reason), item.path, item.detail))
    report = ClaimsReport(str(records_dir), rows, unique, not_used)
    if not report.has_pairs:
        reasons = Counter(item.reason for item in unique)
        why = ", ".join(f"{reasons[r]} {r}" for r in REASONS if reasons[r])
        raise UserError(
            f"no claim has a usable pair of ACN and residual records under {str(records_dir)!r}: "
            f"{len(entries)} record(s) read, {len({item.path for item in unique})} left out"
            + (f" ({why}; a record may have several reasons)" if why else "")
            + (f"; not used: {', '.join(not_used)}" if not_used else "")
            + ". Nothing was written."
        )
    return report
