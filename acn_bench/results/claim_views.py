"""How the claims report reads: the primaries' summary cells, the exploratory rows' compact tables (a
section per claim, a table per setup) and wide table, the code-state lines and how the numbers are
made, as text for rich and markdown."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
from rich import box
from rich.table import Table
from rich.text import Text

from acn_bench.results import regime
from acn_bench.results.claim_groups import COMMIT_CHECKS, NOT_COMPARED, CommitSpan, Row, number_text
from acn_bench.results.claim_spec import Claim
from acn_bench.results.paired_tests import ALPHA, LEVEL, POWER, SEEDS_CAP
from acn_bench.results.primaries import (
    ACCURACY_MARGIN,
    BACKBONE_FAMILIES,
    EQUAL,
    HIGHER,
    LOWER,
    PRIMARIES,
    BackboneFamilyEstimate,
    Primary,
    PrimaryResult,
    shared_networks,
)


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


def summary_cells(result: PrimaryResult) -> list[str]:
    primary, test = result.primary, result.test
    arrow = {HIGHER: "↑", LOWER: "↓", EQUAL: f"= ±{primary.margin:g}" if primary.margin else "="}[primary.better]
    delta = "–"
    if test is not None:
        delta = estimate_text(test.mean, test.low, test.high) + (
            f" ({test.method})" if test.method != "paired t" else ""
        )
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


BACKBONE_FAMILY_COLUMNS = (
    "claim", "backbone", "setup", "n", f"Δ ACN − res [{LEVEL:.0%} CI]", "p", "Mixer's n", "Mixer's Δ",
    "vs the Mixer's",
)  # fmt: skip


def backbone_family_cells(estimate: BackboneFamilyEstimate) -> list[str]:
    """One row of the families' table: a primary's setup for another backbone family, beside the Mixer's."""
    test, mixer = estimate.test, estimate.primary.test
    return [
        f"{estimate.primary.primary.id}: {estimate.primary.primary.claim}",
        estimate.family.backbone,
        estimate.primary.primary.describe_setup(estimate.family.setup(estimate.primary.primary)),
        str(estimate.n),
        "–" if test is None else estimate_text(test.mean, test.low, test.high),
        _p(test.p if test is not None else None),
        str(estimate.primary.n),
        "–" if mixer is None else estimate_text(mixer.mean, mixer.low, mixer.high),
        estimate.agreement + (f": {'; '.join(estimate.flags)}" if estimate.flags else ""),
    ]


BACKBONE_FAMILIES_TITLE = "Beside the primaries: the same setups for " + ", ".join(
    f.backbone for f in BACKBONE_FAMILIES
)
BACKBONE_FAMILIES_NOTE = (
    "Exploratory: the primaries' setups measured for another backbone family, with the family's own depth "
    f"(its preset's; continual keeps its depth axis). An estimate, its {LEVEL:.0%} interval and a raw p, outside "
    "the Holm family and without a verdict. The last column describes, without a test: whether the estimate "
    "points the same way as the Mixer's, where its unadjusted interval lies (about 0; for "
    + ", ".join(p.id for p in PRIMARIES if p.better == EQUAL)
    + " about the equivalence margin) and the Mixer's verdict. "
    + " ".join(
        f"One family's rows of {', '.join(ids)} measure the same trained twins, as the Mixer's do: one "
        f"replication, not {len(ids)}."
        for ids in shared_networks(PRIMARIES).values()
    )
    + " The family trains with the Mixer's recipe "
    '(learning rate chosen on validation, README "Two backbone families"); its ACN − residual gap moved with '
    "the learning rate in that check, so read its estimates as this recipe's."
)


def backbone_family_table(rows: list[list[str]]) -> Table:
    """The families' table for the console (the setup column left out for width)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    shown = [c for c in BACKBONE_FAMILY_COLUMNS if c != "setup"]
    for name in shown:
        table.add_column(
            name, justify="right" if name in ("n", "p", "Mixer's n") else "left", no_wrap=name != "vs the Mixer's"
        )
    for row in rows:
        cells = dict(zip(BACKBONE_FAMILY_COLUMNS, row))
        cells["claim"] = cells["claim"].split(":")[0]
        table.add_row(*(cells[name] for name in shown))
    return table


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


def signed_text(value: float | None) -> str:
    return "–" if value is None else f"{value:+.4g}"


def _interval(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"[{low:+.4g}, {high:+.4g}]"


def _arrow(claim: Claim) -> str:
    """``↑`` when the paper claims a higher value for the ACN, ``↓`` a lower one, ``=`` an equal one."""
    return {HIGHER: "↑", LOWER: "↓"}.get(claim.better, "=")


def _flags_cell(row: Row) -> str:
    return "; ".join(row.flags)


def row_cells(row: Row) -> dict[str, str]:
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
                "Δ ACN − res": f"slope {signed_text(s.slope)}/layer" if s else "needs 2 depths",
                f"{LEVEL:.0%} CI": _interval(s.low, s.high) if s else "–",
            }
        )
        return cells
    pairs = row.pairs
    cells.update(
        {
            "ACN": number_text(float(np.mean([p.acn for p in pairs]))) if pairs else "–",
            "residual": number_text(float(np.mean([p.residual for p in pairs]))) if pairs else "–",
            "Δ ACN − res": signed_text(row.diff.mean) if row.diff else "–",
            f"{LEVEL:.0%} CI": _interval(row.diff.low, row.diff.high) if row.diff else "–",
        }
    )
    return cells


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


def estimate_text(mean: float, low: float | None, high: float | None, unit: str = "") -> str:
    """``+0.0864 [+0.0656, +0.107]``: the mean (3 significant digits, then ``unit``) and its interval if any."""
    interval = "" if low is None or high is None else f" [{low:+.3g}, {high:+.3g}]"
    return f"{mean:+.3g}{unit}{interval}"


def _delta_cell(row: Row) -> str:
    """The mean difference with its interval; a slope row: ``slope -0.0138/layer [-0.337, +0.309]``."""
    if row.role == "slope":
        s = row.slope
        return f"slope {estimate_text(s.slope, s.low, s.high, '/layer')}" if s else "needs 2 depths"
    if row.diff is None:
        return "–"
    return estimate_text(row.diff.mean, row.diff.low, row.diff.high) + (" (zero spread)" if row.diff.sd == 0 else "")


def rich_section(section: Section) -> list[Any]:
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


def markdown_section(section: Section) -> str:
    """A claim's compact tables in markdown, each under its setup."""
    out = [f"### {section.heading}"]
    for setup in section.tables:
        out += [f"#### {setup.heading}"] if setup.heading else []
        out.append(markdown_table(setup.columns, setup.rows))
    return "\n\n".join(out)


def rich_wide_table(title: str, cells: Sequence[dict[str, str]]) -> Table:
    """Every column of :data:`COLUMNS` in one table, for the console."""
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in NUMERIC_COLUMNS else "left", overflow="fold")
    for row in cells:
        table.add_row(*(row[c] for c in COLUMNS))
    return table


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])
