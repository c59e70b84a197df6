"""The claims report: the paper's claims tested on ACN − residual differences paired by seed.

**Primary tests** (:mod:`acn_bench.results.primaries`): one per claim, declared before the runs
that decide them (metric, direction, setup, test), Holm-adjusted over the family; only they get a
verdict. **Exploratory rows** (:data:`CLAIMS`): every other comparable group of records (other
budgets, profiles, depths, data sizes, the cutoff layer) with its estimate, 95% interval and raw p,
and no verdict.

A group is the records of one configuration (same suite, dataset and its source, profile, backbone,
depth, strategy, scenario, protocol version and run configuration except :data:`NOT_COMPARED`); the
ACN and residual records with the same seed form a pair. Groups are never pooled. A group any of
whose records fails a regime check (:mod:`acn_bench.results.regime`) is shown whole and flagged,
and gets no verdict: records are never dropped on their outcome. Only measured records of the
validation protocol (``metrics.val_accuracy``) are used; the others are listed as left out. The
statistics come from scipy and statsmodels (:mod:`acn_bench.results.paired_tests`). Plain data:
this module imports no model, trainer, data set or suite.
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

from acn_bench.errors import UserError
from acn_bench.io import write_text_atomic
from acn_bench.results import regime
from acn_bench.results.paired_tests import (
    ALPHA,
    LEVEL,
    POWER,
    SEEDS_CAP,
    PairedTest,
    SlopeTest,
    paired_test,
    seeds_for_power,
    slope_test,
)
from acn_bench.results.primaries import (
    ACCURACY_MARGIN,
    EQUAL,
    HIGHER,
    LOWER,
    PRIMARIES,
    Primary,
    PrimaryResult,
    claim_a_verdict,
    matched_depth,
    test_primaries,
)
from acn_bench.results.record import Record, record_problems
from acn_bench.results.store import iter_record_files

TWINS = ("acn", "residual")
# Configuration keys that may differ between the two records of a pair (or between seeds of a group).
NOT_COMPARED = ("connectivity", "seed", "checkpoint", "normalization")

OLD_PROTOCOL = "old protocol (no validation split)"
NO_VALUE = "no value for the claim's metric"
TWIN_LEFT_OUT = "twin left out"
NO_PARTNER = "no partner (unpaired seed)"
SEVERAL = "several records for one seed"
REASONS = (OLD_PROTOCOL, NO_VALUE, TWIN_LEFT_OUT, NO_PARTNER, SEVERAL)


@dataclass(frozen=True)
class Claim:
    """A claim of the paper as exploratory rows: every comparable group of its suite's records.

    Attributes:
        id: short label (``a1``, ``b1``, ...; a primary test of :data:`PRIMARIES` has the same id).
        title: the claim in words.
        suite: the suite whose records test it.
        metric: a metric of ``record.metrics`` or a derived measure (:data:`DERIVED`); a ``*``
            stands for a number (a severity) and the value is the mean of every matching metric
            (``gaussian_*_relative``).
        better: ``higher``, ``lower`` or ``equal``: what the paper claims for the ACN.
        where: only records whose configuration has these values.
        show: configuration keys shown in the row (they are compared for pairing like all others).
        smallest: a key whose smallest value present is the claim row; the other values are
            ``detail`` rows.
        baseline: configuration values of the rows shown beside the claim's as its baseline (transfer:
            the from-scratch twins, which tell an advantage of the transferred ACN from one it has on
            the target alone).
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
    smallest: str | None = None
    grows_with_depth: bool = False
    baseline: dict[str, Any] = field(default_factory=dict)


NOISE = ("noise_space", "corruptions")
CLAIMS: tuple[Claim, ...] = (
    Claim("a1", "information concentrates in early layers", "compression", "probe_concentration", HIGHER),
    Claim("a2", "... at equal accuracy", "compression", "accuracy", EQUAL),
    Claim("a-cut", "lower cutoff layer", "compression", "cutoff_layer", LOWER),
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


def probe_concentration(record: Record) -> float | None:
    """How much of its accuracy a model keeps when cut short: the mean over the truncated depths
    k = 1 .. L−1 of the test probe accuracy at depth k divided by the model's own full accuracy.

    Continuous and unbounded by the cutoff rule's saturation (a model whose every truncation falls
    short still scores how far short), and scale-free in the model's accuracy, so a less accurate
    twin does not score higher by being less accurate. ``None`` without a probe curve of at least
    two depths or with a full accuracy of 0.
    """
    probe = [_number(v) for v in record.probe]
    if len(probe) < 3 or None in probe or not probe[-1]:
        return None
    return float(np.mean(probe[1:-1])) / probe[-1]


DERIVED = {"probe_concentration": probe_concentration}  # measures computed from a record, not stored in it


# ---------------------------------------------------------------------------------------------
# Regime (acn_bench.results.regime: below 2 x chance is never a conclusion)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def regime_problems(record: Record) -> list[tuple[str, str]]:
    """``(flag, detail)`` for every regime flag of the record (:func:`regime.regime_flags`): a judged
    accuracy (continual: learning accuracy) that a one-sided binomial test cannot tell from chance on
    the test examples it was scored on; a used transfer source below 5 x its chance (capped)."""
    chance = regime.chance_level(record)
    examples = regime.scored_on(record)
    accuracy = regime.judged_accuracy(record)
    if examples is not None:
        near = f"accuracy {_num(accuracy)} on {examples} test examples: not above chance {_num(chance)}"
        near += f" (one-sided binomial p > {regime.NEAR_CHANCE_P:g})"
    else:
        bar = regime.chance_threshold(chance) if chance is not None else None
        near = f"accuracy {_num(accuracy)} < bar {_num(bar)} ({regime.CHANCE_FACTOR:g} × chance {_num(chance)}, capped)"
    source_chance = regime.source_chance_level(record)
    source_bar = regime.chance_threshold(source_chance, regime.SOURCE_CHANCE_FACTOR) if source_chance else None
    details = {
        regime.NEAR_CHANCE: near,
        regime.NEAR_CHANCE_SOURCE: f"source_accuracy {_num(regime.source_accuracy(record))} < bar {_num(source_bar)} "
        f"({regime.SOURCE_CHANCE_FACTOR:g} × chance {_num(source_chance)}, capped)",
    }
    return [(flag, details.get(flag, flag)) for flag in regime.regime_flags(record)]


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
    """One seed's ACN and residual values of a claim's metric (and the ACN's test probe curve)."""

    seed: int
    depth: int
    acn: float
    residual: float
    acn_path: str
    residual_path: str
    acn_probe: tuple[float, ...] = ()

    @property
    def diff(self) -> float:
        return self.acn - self.residual


@dataclass
class Row:
    """One exploratory line of the report: a claim's metric on one group of comparable records.

    ``flags``: the group's regime flags (``flag: detail``), when any of its records fails a check;
    ``record``: one of the group's records (what the group is, for matching a primary's setup).
    """

    claim: Claim
    role: str  # "claim", "detail" (smallest only), "baseline" or "slope"
    labels: dict[str, str]
    pairs: list[Pair]
    unpaired: int
    diff: PairedTest | None = None
    slope: SlopeTest | None = None
    flags: list[str] = field(default_factory=list)
    record: Record | None = None

    @property
    def p(self) -> float | None:
        """The raw two-sided p of the row's test (the slope's for a slope row)."""
        test = self.slope if self.role == "slope" else self.diff
        return test.p if test is not None else None

    @property
    def seeds_needed(self) -> str:
        """Pairs for 80% power at the level if the true difference is the observed one (– where it cannot be said)."""
        if not self.pairs or self.role == "slope" or self.diff is None:
            return "–"
        needed = seeds_for_power(self.diff.mean, self.diff.sd)
        if needed is None:
            return "–"
        return f">{SEEDS_CAP}" if needed > SEEDS_CAP else str(needed)


def metric_value(record: Record, name: str) -> float | None:
    """The record's value of metric ``name``: a derived measure (:data:`DERIVED`), ``metrics[name]``, or
    the mean of the metrics matching ``name`` where ``*`` is a number."""
    if name in DERIVED:
        return DERIVED[name](record)
    metrics = record.metrics
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
    """The primary tests, the exploratory rows, the records left out and what was not used at all."""

    records_dir: str
    rows: list[Row]
    left_out: list[LeftOut]
    not_used: list[str]
    primaries: list[PrimaryResult] = field(default_factory=list)
    protocols: dict[str, list[int]] = field(default_factory=dict)  # suite -> protocol versions present
    spans: list[CommitSpan] = field(default_factory=list)  # groups whose records were made at several commits

    @property
    def has_pairs(self) -> bool:
        return any(row.pairs for row in self.rows)

    def cells(self) -> list[dict[str, str]]:
        return [_cells(row) for row in self.rows]

    def claims(self) -> list[Claim]:
        """The claims of the rows, in row order (a Claim holds a dict: unhashable, told apart by id)."""
        return list({id(row.claim): row.claim for row in self.rows}.values())

    def compact(self) -> list[Section]:
        """The exploratory view: one :class:`Section` per claim (:func:`compact_section`)."""
        return [compact_section(claim, [row for row in self.rows if row.claim is claim]) for claim in self.claims()]

    def summary_rows(self) -> list[list[str]]:
        """One row per primary test: :data:`SUMMARY_COLUMNS`."""
        return [_summary_cells(result) for result in self.primaries]

    def summary_notes(self) -> list[str]:
        """What the summary table's rows add up to, in words: claim (a) as the paper states it, the
        matched-accuracy depths (a3), which primaries share networks, the protocol versions present."""
        notes = [f"(a) as the paper states it, concentration (a1) and equal accuracy (a2) both: {self.claim_a}"]
        a2 = next((r for r in self.primaries if r.primary.id == "a2"), None)
        if a2 is not None and a2.matched_depths:
            notes.append(
                f"(a3, descriptive) shallowest ACN depth within {ACCURACY_MARGIN:g} of the residual twin's full "
                f"accuracy, per seed: {', '.join(a2.matched_depths)}"
            )
        shared: dict[str, list[str]] = defaultdict(list)
        for result in self.primaries:
            shared[result.primary.networks].append(result.primary.id)
        for networks, ids in shared.items():
            if len(ids) > 1:
                notes.append(
                    f"{', '.join(ids)} measure the same trained networks ({networks}): one replication, not {len(ids)}"
                )
        for suite, versions in sorted(self.protocols.items()):
            if len(versions) > 1:
                notes.append(
                    f"{suite}: records of protocol versions {', '.join(map(str, versions))}, grouped and paired "
                    "apart (never one mean or pair across versions)"
                )
        return notes

    @property
    def claim_a(self) -> str:
        return claim_a_verdict(self.primaries)

    def rich(self, wide: bool = False) -> Group:
        """The console view: the primary tests (one table), then the exploratory rows (a compact table per
        claim; ``wide``: one table of every column) and the left-out list."""
        parts: list[Any] = [Text("primary tests (declared before the runs; Holm-adjusted)", style="bold")]
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
        for name in CONSOLE_SUMMARY:
            table.add_column(name, justify="right" if name in ("n", "p", "Holm p") else "left", no_wrap=True)
        for row in self.summary_rows():
            cells = dict(zip(SUMMARY_COLUMNS, row))
            cells["claim"] = cells["claim"].split(":")[0]
            cells["verdict"] = cells["verdict"].split(":")[0]
            cells["shared networks"] = cells["shared networks"].removeprefix("same as ")
            table.add_row(*(cells[name] for name in CONSOLE_SUMMARY))
        setups = [f"  {r.primary.id}: {r.primary.claim}; {r.primary.describe_setup()}" for r in self.primaries]
        flags = [f"  {r.primary.id} flagged: {'; '.join(r.flags)}" for r in self.primaries if r.flags]
        notes = [Text(f"  {note}") for note in self.summary_notes()]
        parts += [table, *map(Text, setups), *map(Text, flags), *notes, Text("")]
        title = f"exploratory: ACN − residual paired by seed ({LEVEL:.0%} interval, raw p, no verdict)"
        if wide:
            parts.append(_rich_wide_table(title, self.cells()))
        else:
            parts.append(Text(title, style="bold"))
            for section in self.compact():
                parts += _rich_section(section)
        parts += [Text(line) for line in self.left_out_lines()]
        return Group(*parts)

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
        """The report as markdown: the primary tests' summary, the declared tests, the exploratory rows (a
        compact table per claim; ``wide``: one table of every column), the records left out, every pair
        and how the numbers are made."""
        if wide:
            tables = [_markdown_table(COLUMNS, [[c[k] for k in COLUMNS] for c in self.cells()])]
        else:
            tables = [_markdown_section(section) for section in self.compact()]
        out = [
            "# Claims of the paper, tested on paired seeds",
            "",
            f"Records: `{self.records_dir}` (measured, validation protocol). One primary test per claim, declared "
            "before its runs, decides the claim; Holm's adjustment runs over the family of primaries. Every other "
            "group of records is exploratory: an estimate and its interval, no verdict. See "
            "[How the numbers are made](#how-the-numbers-are-made).",
            "",
            "## Primary tests",
            "",
            _markdown_table(SUMMARY_COLUMNS, self.summary_rows()),
            "",
            *[f"- {note}" for note in self.summary_notes()],
            "",
            "### Declared tests",
            "",
            _markdown_table(DECLARED_COLUMNS, declared_rows(PRIMARIES)),
            "",
            "## Exploratory",
            "",
            WIDE_NOTE if wide else COMPACT_NOTE,
            "",
            "\n\n".join(tables),
            "",
            "## Code state",
            "",
            *code_state_lines(self.spans),
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


COMMIT_CHECKS = "commit_checks.json"  # beside the records folder: commits whose smoke runs behave alike
SPAN_KEYS = ("mode", "strategy", "exit_mode", "per_class", "noise_space")  # what a code-state line names of a group


@dataclass(frozen=True)
class CommitSpan:
    """A group whose records were made at several commits, and whether those commits were shown to
    behave alike (their fingerprints, ``tests/fingerprints.py``, equal: :data:`COMMIT_CHECKS`)."""

    group: str
    commits: tuple[str, ...]
    alike: bool


def commit_spans(entries: Sequence[Entry], checks: Sequence[dict[str, Any]]) -> list[CommitSpan]:
    """The groups of ``entries`` made at more than one commit; a group is alike when ``checks`` (each
    ``{"commits": [a, b], "same": bool, ...}``) join all its commits by equal fingerprints."""
    alike_edges = [tuple(c["commits"]) for c in checks if c.get("same")]
    groups: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        groups[_key(identity(entry.record))].append(entry)
    spans = []
    for members in groups.values():
        commits = tuple(sorted({(e.record.environment.get("git_commit") or "?")[:9] for e in members}))
        if len(commits) < 2:
            continue
        joined = {commits[0]}
        for _ in commits:  # grow the set of commits joined to the first through equal fingerprints
            joined |= {b for a, b in alike_edges if a in joined} | {a for a, b in alike_edges if b in joined}
        record = members[0].record
        model = f"{record.backbone.get('name')} L{record.backbone.get('depth')}"
        model += "".join(f", {k}={record.config[k]}" for k in SPAN_KEYS if k in record.config)
        label = f"{record.suite} {record.dataset.get('name')} {record.profile} {budget_label(record)} ({model})"
        spans.append(CommitSpan(label, commits, set(commits) <= joined))
    return sorted(spans, key=lambda span: span.group)


def code_state_lines(spans: Sequence[CommitSpan]) -> list[str]:
    """The report's code-state section: which groups span commits and whether they behave alike."""
    if not spans:
        return ["Every group's records were made at one commit."]
    lines = [
        f"{len(spans)} group(s) pair records made at different commits. Commits whose suites' smoke runs give "
        f"equal fingerprints (`tests/fingerprints.py`, recorded in `{COMMIT_CHECKS}` beside the records) train "
        "and measure alike, so their records stay paired; a group whose commits were not shown alike is named.",
        "",
    ]
    for span in spans:
        verdict = "alike (equal fingerprints)" if span.alike else "**not shown alike**"
        lines.append(f"- {span.group}: commits {', '.join(span.commits)}: {verdict}")
    return lines


SUMMARY_COLUMNS = (
    "claim", "metric", "setup", "n", f"Δ ACN − res [{LEVEL:.0%} CI]", "p", "Holm p", "verdict", "seeds for 80% power",
    "shared networks",
)  # fmt: skip
# the console's summary: the setup and the claim's words go below the table (120 characters)
CONSOLE_SUMMARY = ("claim", "metric", "n", f"Δ ACN − res [{LEVEL:.0%} CI]", "p", "Holm p", "verdict", "shared networks")
DECLARED_COLUMNS = ("id", "claim", "metric", "direction", "setup", "test", "networks")


def declared_rows(primaries: Sequence[Primary]) -> list[list[str]]:
    """The declared primary tests, as data: what each decides, on which records, with which test."""
    return [[p.id, p.claim, p.metric, p.better, p.describe_setup(), p.test, p.networks] for p in primaries]


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def _summary_cells(result: PrimaryResult) -> list[str]:
    primary, test = result.primary, result.test
    arrow = {HIGHER: "↑", LOWER: "↓", EQUAL: f"= ±{primary.margin:g}" if primary.margin else "="}[primary.better]
    delta = "–"
    if test is not None:
        delta = _estimate(test.mean, test.low, test.high) + (f" ({test.method})" if test.method != "paired t" else "")
    verdict = result.verdict + (f": {'; '.join(result.flags)}" if result.flags else "")
    return [
        f"{primary.id}: {primary.claim}",
        f"{primary.metric} {arrow}",
        primary.describe_setup(),
        str(result.n),
        delta,
        _p(result.p),
        _p(result.adjusted_p),
        verdict,
        result.seeds_needed,
        f"same as {', '.join(result.shared_with)}" if result.shared_with else "own",
    ]


COLUMNS = (
    "claim", "metric", "suite", "dataset", "profile", "budget", "backbone", "depth", "setting", "n", "unpaired",
    "ACN", "residual", "Δ ACN − res", f"{LEVEL:.0%} CI", "p", "seeds for 80% power", "flags",
)  # fmt: skip
NUMERIC_COLUMNS = {"n", "unpaired", "ACN", "residual", "Δ ACN − res", "p", "seeds for 80% power"}

HOW = [
    "- **Records**: only `source: measured` records whose metrics carry `val_accuracy` (the protocol that "
    "selects on a validation split); paper records and records of other connectivities are not used.",
    "- **Groups and pairs**: an ACN and a residual record with the same seed and otherwise the same "
    "configuration form a pair: suite, dataset and its source, profile, backbone, depth, strategy, scenario, "
    f"protocol version and every key of `config` except {', '.join(NOT_COMPARED)}. A seed with one twin only is "
    "counted as unpaired.",
    "- **Regime, per group** (`acn_bench/results/regime.py`): a record is near chance when a one-sided binomial "
    "test of its judged accuracy (continual: `learning_accuracy`) against chance, on the test examples it was "
    f"scored on (`dataset.test_size`), does not reject at {regime.NEAR_CHANCE_P:g} (records without a test size: "
    f"below {regime.CHANCE_FACTOR:g} × chance, capped halfway to 100%); a transfer run that uses its source "
    f"(every mode but scratch) is flagged when the source is below {regime.SOURCE_CHANCE_FACTOR:g} × its chance "
    "(capped likewise). One flagged record flags its whole group: the group is shown with every record, and "
    "gets no verdict. No record is dropped on its outcome.",
    "- **Primary tests**: declared in `acn_bench/results/primaries.py` before the six seeds were run (the table "
    "above). Paired two-sided t-test (`scipy.stats.ttest_1samp` on the differences) for a direction, two "
    f"one-sided tests (`statsmodels` `ttost_paired`, margin ±{ACCURACY_MARGIN:g}) for equal accuracy (a2); "
    "Holm–Bonferroni over the family (`statsmodels` `multipletests`); the verdict comes from the adjusted p at "
    f"{ALPHA:g}: supported / contradicted by the sign of the mean; (a2) equivalent, else ACN worse / ACN better "
    "when the paired t-test rejects after a Bonferroni factor of the family's size, else inconclusive. "
    "(a) as the paper states it is supported only when a1 is supported and a2 equivalent. (a3) is "
    "descriptive: per seed, the shallowest depth at which the ACN's test probe reaches the residual twin's full "
    "accuracy minus the margin.",
    "- **(a1) concentration**: per record, the mean over the truncated depths k = 1 … L−1 of the test probe "
    "accuracy at k divided by the model's own full accuracy: continuous where the cutoff layer saturates at L, "
    "and scale-free, so the less accurate twin does not gain from being less accurate.",
    "- **Zero spread**: when every paired difference is equal (integer metrics such as the cutoff layer) there is "
    "no t-interval; p is the exact sign-flip test's (`scipy.stats.permutation_test`), which cannot go below "
    "2 / 2^n: with 5 pairs or fewer it never reaches 0.05.",
    f"- **Seeds for {POWER:.0%} power**: the pairs a two-sided paired t-test needs for {POWER:.0%} power if the true "
    "difference and sd equal the observed ones (`statsmodels` `TTestPower`; primaries at the Bonferroni level of "
    f"the family). It rests on an estimate from few seeds: a guide, not a promise (– when the sd or mean is 0; "
    f">{SEEDS_CAP} beyond {SEEDS_CAP}).",
    "- **Exploratory rows**: every other group, with the same statistics and a raw p, never a verdict: (a1) "
    "`probe_concentration`; (a2) `accuracy`; the cutoff layer (`cutoff_layer`, lower); (b) per noise kind, the "
    "mean over severities of `<kind>_<severity>_relative`; (c) `accuracy` at every `per_class`; (d) target "
    "`accuracy`, mode full, with the from-scratch twins as a baseline row; (e) `avg_forgetting`, one row per "
    "depth and a slope against depth (`scipy.stats.linregress`, every pair one point); (f) `flops_speedup` at "
    "the operating point, exit mode inherent.",
    "- **Budget**: `config.train.epochs` (continual: `config.recipe.epochs`, per task).",
    "- **Code state**: records keep their commit as provenance; what must match for a pair is the protocol "
    "version. A group made at several commits is listed under Code state, alike when the suites' smoke runs "
    f"give equal fingerprints at those commits (`{COMMIT_CHECKS}` beside the records folder).",
]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.4g}"


def _interval(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"[{low:+.4g}, {high:+.4g}]"


def _arrow(claim: Claim) -> str:
    """``↑`` when the paper claims a higher value for the ACN, ``↓`` a lower one, ``=`` an equal one."""
    return {HIGHER: "↑", LOWER: "↓"}.get(claim.better, "=")


def _flags_cell(row: Row) -> str:
    return "; ".join(row.flags)


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
        "p": _p(row.p),
        "seeds for 80% power": row.seeds_needed,
        "flags": _flags_cell(row),
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
    return cells


# ---------------------------------------------------------------------------------------------
# The compact view: a section per claim, a table per setup

DELTA = f"Δ ACN − res [{LEVEL:.0%} CI]"
ROLES = {"detail": "detail", "baseline": "baseline", "slope": "slope vs depth"}  # the setting's prefix per role
SETTING_WIDTH = 60  # the console folds the setting at this width at most (narrower when 120 characters need it)
COMPACT_RIGHT = {"n", "p", "80% power"}
COMPACT_NOTE = (
    "Estimates, not verdicts: one section per claim, headed by the claim, its metric and what the paper claims "
    "for the ACN (↑ higher, ↓ lower is better, = equal), with a table per setup headed by what its rows "
    "share: dataset profile · backbone `L<depth>` · training epochs (`ep`; continual: `ep/task`). "
    "`records`: those parts in which the rows differ; `setting`: the row's configuration keys after its "
    "role (`detail:` a larger `per_class` than the claim row, `baseline:` the from-scratch twins, "
    "`slope vs depth:` the slope of the differences "
    f"against depth); `{DELTA}`: the mean difference and its interval, 3 significant digits; `p`: the raw "
    "two-sided p (no adjustment, no verdict); `80% power`: seeds for 80% power if the observed difference is "
    "the true one; `flags`: the group's regime flags. Every column "
    "(ACN and residual means, unpaired seeds, suite, budget, backbone, depth; 4 significant digits) in one "
    "table: `acn-bench claims --columns all`."
)
WIDE_NOTE = (
    "Every column in one table (`acn-bench claims --columns all`; the default is a compact table per claim). "
    "`budget`: training epochs (continual: per task); `unpaired`: seeds with one usable twin only; `p`: the raw "
    "two-sided p; `flags`: the group's regime flags."
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
    interval, the raw ``p``, the seeds for 80% power and the group's ``flags``; a column empty on every
    row is left out."""
    parts = [_record_parts(row) for row in rows]
    shared = {k: v for k, v in parts[0].items() if all(p.get(k) == v for p in parts)}
    columns = {
        "records": [_join_parts({k: v for k, v in p.items() if k not in shared}) for p in parts],
        "setting": [_setting_cell(row) for row in rows],
        "n": [str(len(row.pairs)) for row in rows],
        DELTA: [_delta_cell(row) for row in rows],
        "p": [_p(row.p) if row.pairs else "" for row in rows],
        "80% power": [row.seeds_needed if row.pairs else "" for row in rows],
        "flags": [_flags_cell(row) for row in rows],
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
    if row.diff is None:
        return "–"
    return _estimate(row.diff.mean, row.diff.low, row.diff.high) + (" (zero spread)" if row.diff.sd == 0 else "")


def _rich_section(section: Section) -> list[Any]:
    """A claim's compact tables for the console, each under its setup: no frame, narrow gaps; only the
    setting folds (at :data:`SETTING_WIDTH`), so 120 characters hold them."""
    parts: list[Any] = [Text(""), Text(section.heading, style="bold")]
    for setup in section.tables:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
        for name in setup.columns:
            if name in ("setting", "flags"):
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
    """Why a record cannot be used for ``claim`` at all (protocol, missing value): never its outcome."""
    record = entry.record
    problems = []
    if _number(record.metrics.get("val_accuracy")) is None:
        problems.append((OLD_PROTOCOL, "no metrics.val_accuracy"))
    if metric_value(record, claim.metric) is None:
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
    """The rows of one claim; every record it cannot use goes to ``left_out``. A group whose records
    fail a regime check keeps them all and is flagged."""
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
                pairs.append(
                    Pair(
                        seed,
                        int(acn.record.backbone.get("depth") or 0),
                        metric_value(acn.record, claim.metric),
                        metric_value(res.record, claim.metric),
                        acn.path,
                        res.path,
                        tuple(acn.record.probe),
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
        row = Row(claim, "claim", _labels(claim, group), pairs, unpaired, record=group.entries[0].record)
        row.diff = paired_test([p.diff for p in pairs])
        row.flags = group_flags(group.entries)
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


def group_flags(entries: Iterable[Entry]) -> list[str]:
    """The regime flags of a group, each with the records that raise it (empty: every record is
    clear). One flagged record flags the whole group: records are never dropped on their outcome."""
    found: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        for flag, detail in regime_problems(entry.record):
            found[flag].append(f"{entry.connectivity} seed {entry.record.seed}: {detail}")
    return [f"{flag} ({'; '.join(details)})" for flag, details in found.items()]


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
        slope_row.slope = slope_test([p.depth for p in pairs], [p.diff for p in pairs])
        slope_row.flags = [flag for _, row in family for flag in row.flags]
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


def setup_of(record: Record) -> dict[str, Any]:
    """What a primary's setup is matched on: profile, dataset, backbone, depth, training epochs (continual:
    per task), protocol version and the run's configuration values."""
    epochs = _epochs(record)
    return {
        **{k: v for k, v in record.config.items() if not isinstance(v, dict)},
        "profile": record.profile,
        "dataset": record.dataset.get("name"),
        "backbone": record.backbone.get("name"),
        "depth": record.backbone.get("depth"),
        "epochs": epochs[0] if epochs else None,
        "protocol": record.protocol,
    }


def primary_pairs(primaries: Sequence[Primary], rows: Sequence[Row]) -> dict[str, tuple[list[float], list[str], str]]:
    """Per primary, the differences of the one exploratory row of its claim whose records match its setup,
    the row's flags, and a problem when several rows match (nothing when none does: no records yet)."""
    found: dict[str, tuple[list[float], list[str], str]] = {}
    for primary in primaries:
        matching = [
            row
            for row in rows
            if row.claim.id == primary.id
            and row.role != "slope"
            and row.record is not None
            and all(setup_of(row.record).get(k) == v for k, v in primary.setup.items())
        ]
        if len(matching) > 1:
            found[primary.id] = ([], [], f"{len(matching)} groups match the setup: no test")
        elif matching:
            row = matching[0]
            found[primary.id] = ([p.diff for p in row.pairs], list(row.flags), "")
    return found


def _matched_depths(primaries: list[PrimaryResult], rows: Sequence[Row]) -> None:
    """(a3) on the rows of the (a2) primary: each seed's matched-accuracy depth."""
    for result in primaries:
        if result.primary.id != "a2" or result.problem or not result.diffs:
            continue
        for row in rows:
            if row.claim.id == "a2" and row.record is not None and row.role != "slope":
                if all(setup_of(row.record).get(k) == v for k, v in result.primary.setup.items()):
                    result.matched_depths = [
                        f"seed {p.seed}: {matched_depth(p.acn_probe, p.residual, result.primary.margin or 0.0)}"
                        for p in row.pairs
                    ]


def build_claims(records_dir: Path, claims: Sequence[Claim] = CLAIMS) -> ClaimsReport:
    """Test every primary and describe every exploratory group of the records under ``records_dir``.

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
    primaries = [p for p in PRIMARIES if any(c.id == p.id for c in claims)]
    results = test_primaries(primaries, primary_pairs(primaries, rows))
    _matched_depths(results, rows)
    protocols: dict[str, set[int]] = defaultdict(set)
    for entry in claimed:
        protocols[entry.record.suite].add(entry.record.protocol)
    checks_file = Path(records_dir).parent / COMMIT_CHECKS
    checks = json.loads(checks_file.read_text())["checks"] if checks_file.is_file() else []
    report = ClaimsReport(
        str(records_dir),
        rows,
        unique,
        not_used,
        results,
        {k: sorted(v) for k, v in protocols.items()},
        commit_spans([e for e in claimed if e.record.source == "measured"], checks),
    )
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
