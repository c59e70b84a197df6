"""Records, groups and pairs of the claims report: which records are read, which are comparable (one
group per configuration and protocol version), how ACN and residual records pair by seed, the
exploratory rows of a claim, the regime flags of a group, the groups that match a primary test's
setup and the groups made at several commits."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from acn_bench.results import regime
from acn_bench.results.claim_spec import Claim, finite_number, metric_value
from acn_bench.results.grouping import run_config
from acn_bench.results.paired_tests import SEEDS_CAP, PairedTest, SlopeTest, paired_test, seeds_for_power, slope_test
from acn_bench.results.primaries import BACKBONE_FAMILIES, Primary, PrimaryResult, matched_depth
from acn_bench.results.record import Record

TWINS = ("acn", "residual")


# Configuration keys that may differ between the two records of a pair (or between seeds of a group).
NOT_COMPARED = ("connectivity", "seed", "checkpoint", "normalization")


OLD_PROTOCOL = "old protocol (no validation split)"


NO_VALUE = "no value for the claim's metric"


TWIN_LEFT_OUT = "twin left out"


NO_PARTNER = "no partner (unpaired seed)"


SEVERAL = "several records for one seed"


REASONS = (OLD_PROTOCOL, NO_VALUE, TWIN_LEFT_OUT, NO_PARTNER, SEVERAL)


def regime_problems(record: Record) -> list[tuple[str, str]]:
    """``(flag, detail)`` for every regime flag of the record (:func:`regime.regime_flags`): a judged
    accuracy (continual: learning accuracy) that a one-sided binomial test cannot tell from chance on
    the test examples it was scored on; a used transfer source below 5 x its chance (capped)."""
    text = number_text
    chance, examples = regime.chance_level(record), regime.scored_on(record)
    accuracy = regime.judged_accuracy(record)
    if examples is not None:
        near = f"accuracy {text(accuracy)} on {examples} test examples: not above chance {text(chance)}"
        near += f" (one-sided binomial p > {regime.NEAR_CHANCE_P:g})"
    else:
        bar = regime.chance_threshold(chance) if chance is not None else None
        near = f"accuracy {text(accuracy)} < bar {text(bar)} ({regime.CHANCE_FACTOR:g} × chance {text(chance)}, capped)"
    source_chance = regime.source_chance_level(record)
    source_bar = regime.chance_threshold(source_chance, regime.SOURCE_CHANCE_FACTOR) if source_chance else None
    source = f"source_accuracy {text(regime.source_accuracy(record))} < bar {text(source_bar)} "
    source += f"({regime.SOURCE_CHANCE_FACTOR:g} × chance {text(source_chance)}, capped)"
    details = {regime.NEAR_CHANCE: near, regime.NEAR_CHANCE_SOURCE: source}
    return [(flag, details.get(flag, flag)) for flag in regime.regime_flags(record)]


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
    depth, strategy, scenario and the flattened configuration without :data:`NOT_COMPARED` (and without
    the grid's lists of a recipe, :func:`~acn_bench.results.grouping.run_config`)."""
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
    config = run_config(record, NOT_COMPARED)
    ident.update({f"config.{k}": v for k, v in _flatten(config, "").items()})
    return ident


def _epochs(record: Record) -> tuple[Any, str] | None:
    """The training budget and its unit: ``config.train.steps`` (``steps``: a fixed number of optimiser
    steps, low data's budget), else ``config.train.epochs`` (``ep``), else ``config.recipe.epochs``
    (continual: ``ep/task``); ``None`` when none is set."""
    train = record.config.get("train")
    if isinstance(train, dict) and train.get("steps") is not None:
        return train["steps"], "steps"
    for section, unit in (("train", "ep"), ("recipe", "ep/task")):
        part = record.config.get(section)
        if isinstance(part, dict) and part.get("epochs") is not None:
            return part["epochs"], unit
    return None


def budget(record: Record) -> str:
    """The training budget's number (see :func:`budget_label` for its unit)."""
    epochs = _epochs(record)
    return "–" if epochs is None else str(epochs[0])


def budget_label(record: Record) -> str:
    """The budget with its unit: ``40 ep``, ``1500 steps`` (low data), ``2 ep/task`` (continual), ``–``
    when unknown."""
    epochs = _epochs(record)
    return "–" if epochs is None else f"{epochs[0]} {epochs[1]}"


def group_key(ident: dict[str, Any]) -> str:
    return json.dumps(ident, sort_keys=True, default=str)


def _sortable(value: Any) -> tuple:
    """A sort key that orders numbers (and numeric strings) numerically, before any text."""
    number = finite_number(value)
    if number is None and isinstance(value, str):
        try:
            number = finite_number(float(value))
        except ValueError:
            pass
    return (0, number, "") if number is not None else (1, 0.0, str(value))


@dataclass
class _Group:
    ident: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)


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
    ``{"commits": [a, b], "same": bool, "suites": [...]}``) join all its commits by equal fingerprints.
    A check with ``suites`` speaks only for those suites (two commits can run one suite alike and another
    not); a check without them speaks for every suite."""
    groups: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        groups[group_key(identity(entry.record))].append(entry)
    spans = []
    for members in groups.values():
        commits = tuple(sorted({(e.record.environment.get("git_commit") or "?")[:9] for e in members}))
        if len(commits) < 2:
            continue
        record = members[0].record
        suite = record.suite
        alike_edges = [tuple(c["commits"]) for c in checks if c.get("same") and suite in c.get("suites", (suite,))]
        joined = {commits[0]}
        for _ in commits:  # grow the set of commits joined to the first through equal fingerprints
            joined |= {b for a, b in alike_edges if a in joined} | {a for a, b in alike_edges if b in joined}
        model = f"{record.backbone.get('name')} L{record.backbone.get('depth')}"
        model += "".join(f", {k}={record.config[k]}" for k in SPAN_KEYS if k in record.config)
        setup = f"{record.dataset.get('name')} {record.profile} {budget_label(record)} protocol {record.protocol}"
        label = f"{record.suite} {setup} ({model})"
        spans.append(CommitSpan(label, commits, set(commits) <= joined))
    return sorted(spans, key=lambda span: span.group)


def number_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def in_claim(record: Record, claim: Claim) -> bool:
    """``record`` belongs to ``claim``: its suite, and every ``where`` value (or one of a tuple of them)."""
    return record.suite == claim.suite and all(
        config_value(record, k) in (v if isinstance(v, tuple) else (v,)) for k, v in claim.where.items()
    )


def _own_problems(entry: Entry, claim: Claim) -> list[tuple[str, str]]:
    """Why a record cannot be used for ``claim`` at all (protocol, missing value): never its outcome."""
    record = entry.record
    problems = []
    if finite_number(record.metrics.get("val_accuracy")) is None:
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


def claim_rows(claim: Claim, entries: list[Entry], left_out: list[LeftOut]) -> list[Row]:
    """The rows of one claim; every record it cannot use goes to ``left_out``. A group whose records
    fail a regime check keeps them all and is flagged."""
    groups: dict[str, _Group] = {}
    for entry in entries:
        ident = identity(entry.record)
        groups.setdefault(group_key(ident), _Group(ident)).entries.append(entry)
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
        row.labels["group_key"] = group_key(group.ident)
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
        row.labels.pop("group_key", None)
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
        buckets[json.dumps({k: v for k, v in row.labels.items() if k != "group_key"}, sort_keys=True)].append(
            (group, row)
        )
    for bucket in buckets.values():
        if len(bucket) < 2:
            continue
        keys = sorted({k for group, _ in bucket for k in group.ident})
        varying = [k for k in keys if len({json.dumps(g.ident.get(k), default=str) for g, _ in bucket}) > 1]
        for group, row in bucket:
            extra = " ".join(f"{k.removeprefix('config.')}={group.ident.get(k, '(absent)')}" for k in varying)
            row.labels["setting"] = f"{row.labels['setting']} {extra}".strip()


def _without(ident: dict[str, Any], *keys: str) -> str:
    return group_key({k: v for k, v in ident.items() if k not in keys})


SLOPE_FAMILY = ("suite", "dataset", "dataset.source", "profile", "backbone", "depth", "strategy", "scenario")


def _mark_details(claim: Claim, rows: list[tuple[_Group, Row]]) -> None:
    """The row with the smallest ``claim.smallest`` of each family (same dataset, profile, backbone,
    depth and other shown keys; the budget may differ, as it does across low-data sizes) is the
    claim row, the others are detail rows."""
    key = f"config.{claim.smallest}"
    family_keys = [*SLOPE_FAMILY, *(f"config.{k}" for k in claim.show if k != claim.smallest)]
    families: dict[str, list[tuple[_Group, Row]]] = defaultdict(list)
    for group, row in rows:
        families[group_key({k: group.ident.get(k) for k in family_keys})].append((group, row))
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


def primary_rows(primary: Primary, rows: Sequence[Row], setup: dict[str, Any] | None = None) -> list[Row]:
    """The exploratory rows of ``primary``'s claim whose records match its setup (or ``setup``: another
    family's, :meth:`~acn_bench.results.primaries.BackboneFamily.setup`); one when it can be tested."""
    setup = primary.setup if setup is None else setup
    return [
        row
        for row in rows
        if row.claim.id == primary.id
        and row.role != "slope"
        and row.record is not None
        and all(setup_of(row.record).get(k) == v for k, v in setup.items())
    ]


def _row_pairs(matching: list[Row]) -> tuple[list[float], list[str], str] | None:
    """The differences, flags and problem of a setup's matching rows (None: no records)."""
    if len(matching) > 1:
        return [], [], f"{len(matching)} groups match the setup: no test"
    if matching:
        return [p.diff for p in matching[0].pairs], list(matching[0].flags), ""
    return None


def primary_pairs(primaries: Sequence[Primary], rows: Sequence[Row]) -> dict[str, tuple[list[float], list[str], str]]:
    """Per primary, the differences of the one exploratory row of its claim whose records match its setup,
    the row's flags, and a problem when several rows match (nothing when none does: no records yet)."""
    found = {primary.id: _row_pairs(primary_rows(primary, rows)) for primary in primaries}
    return {key: value for key, value in found.items() if value is not None}


def backbone_family_pairs(
    primaries: Sequence[Primary], rows: Sequence[Row]
) -> dict[tuple[str, str], tuple[list[float], list[str], str]]:
    """:func:`primary_pairs` for every family of :data:`~acn_bench.results.primaries.BACKBONE_FAMILIES`, keyed by
    primary id and backbone."""
    found = {
        (primary.id, family.backbone): _row_pairs(primary_rows(primary, rows, family.setup(primary)))
        for primary in primaries
        for family in BACKBONE_FAMILIES
    }
    return {key: value for key, value in found.items() if value is not None}


def note_matched_depths(primaries: list[PrimaryResult], rows: Sequence[Row]) -> None:
    """(a3) on the row of the (a2) primary: each seed's matched-accuracy depth."""
    for result in primaries:
        if result.primary.id != "a2" or result.problem or not result.diffs:
            continue
        [row] = primary_rows(result.primary, rows)  # a primary with pairs and no problem has exactly one row
        margin = result.primary.margin or 0.0
        result.matched_depths = [f"seed {p.seed}: {matched_depth(p.acn_probe, p.residual, margin)}" for p in row.pairs]
