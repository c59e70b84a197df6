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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from acn_bench.errors import UserError
from acn_bench.io import write_text_atomic
from acn_bench.results.claim_groups import (
    COMMIT_CHECKS,
    REASONS,
    TWINS,
    CommitSpan,
    Entry,
    LeftOut,
    Row,
    backbone_family_pairs,
    claim_rows,
    commit_spans,
    in_claim,
    note_matched_depths,
    number_text,
    primary_pairs,
)
from acn_bench.results.claim_spec import CLAIMS, Claim
from acn_bench.results.claim_views import (
    BACKBONE_FAMILIES_NOTE,
    BACKBONE_FAMILIES_TITLE,
    BACKBONE_FAMILY_COLUMNS,
    COLUMNS,
    COMPACT_NOTE,
    CONSOLE_SUMMARY,
    DECLARED_COLUMNS,
    HOW,
    SUMMARY_COLUMNS,
    WIDE_NOTE,
    Section,
    backbone_family_cells,
    backbone_family_table,
    code_state_lines,
    compact_section,
    declared_rows,
    markdown_section,
    markdown_table,
    rich_section,
    rich_wide_table,
    row_cells,
    signed_text,
    summary_cells,
)
from acn_bench.results.paired_tests import LEVEL
from acn_bench.results.primaries import (
    ACCURACY_MARGIN,
    PRIMARIES,
    BackboneFamilyEstimate,
    PrimaryResult,
    backbone_family_estimates,
    claim_a_verdict,
    shared_networks,
    test_primaries,
)
from acn_bench.results.store import read_records


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
    families: list[BackboneFamilyEstimate] = field(default_factory=list)  # the primaries' setups for other backbones

    @property
    def has_pairs(self) -> bool:
        return any(row.pairs for row in self.rows)

    def cells(self) -> list[dict[str, str]]:
        return [row_cells(row) for row in self.rows]

    def claims(self) -> list[Claim]:
        """The claims of the rows, in row order (a Claim holds a dict: unhashable, told apart by id)."""
        return list({id(row.claim): row.claim for row in self.rows}.values())

    def compact(self) -> list[Section]:
        """The exploratory view: one :class:`Section` per claim (:func:`compact_section`)."""
        return [compact_section(claim, [row for row in self.rows if row.claim is claim]) for claim in self.claims()]

    def summary_rows(self) -> list[list[str]]:
        """One row per primary test: :data:`SUMMARY_COLUMNS`."""
        return [summary_cells(result) for result in self.primaries]

    def family_rows(self) -> list[list[str]]:
        """One row per primary and other backbone family: :data:`BACKBONE_FAMILY_COLUMNS` (exploratory, no verdict)."""
        return [backbone_family_cells(estimate) for estimate in self.families]

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
        for networks, ids in shared_networks([result.primary for result in self.primaries]).items():
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
        if self.families:
            parts += [Text(BACKBONE_FAMILIES_TITLE, style="bold"), backbone_family_table(self.family_rows()), Text("")]
        title = f"exploratory: ACN − residual paired by seed ({LEVEL:.0%} interval, raw p, no verdict)"
        if wide:
            parts.append(rich_wide_table(title, self.cells()))
        else:
            parts.append(Text(title, style="bold"))
            for section in self.compact():
                parts += rich_section(section)
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
            tables = [markdown_table(COLUMNS, [[c[k] for k in COLUMNS] for c in self.cells()])]
        else:
            tables = [markdown_section(section) for section in self.compact()]
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
            markdown_table(SUMMARY_COLUMNS, self.summary_rows()),
            "",
            *[f"- {note}" for note in self.summary_notes()],
            "",
            f"### {BACKBONE_FAMILIES_TITLE}",
            "",
            BACKBONE_FAMILIES_NOTE,
            "",
            markdown_table(BACKBONE_FAMILY_COLUMNS, self.family_rows()),
            "",
            "### Declared tests",
            "",
            markdown_table(DECLARED_COLUMNS, declared_rows(PRIMARIES)),
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
                markdown_table(
                    ["seed", "ACN", "residual", "ACN − residual", "ACN record", "residual record"],
                    [
                        [
                            str(p.seed),
                            number_text(p.acn),
                            number_text(p.residual),
                            signed_text(p.diff),
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


def build_claims(records_dir: Path, claims: Sequence[Claim] = CLAIMS) -> ClaimsReport:
    """Test every primary and describe every exploratory group of the records under ``records_dir``.

    Raises:
        UserError: bad input (see :func:`acn_bench.results.store.read_records`) or no claim with a usable pair.
    """
    folder = read_records(records_dir, (c.suite for c in claims))
    entries = [Entry(stored.relative, stored.record) for stored in folder.files]
    measured = [e for e in entries if e.record.source == "measured"]
    twins = [e for e in measured if e.connectivity in TWINS]
    claimed = [e for e in twins if any(in_claim(e.record, c) for c in claims)]
    left_out: list[LeftOut] = []
    rows = [
        row
        for claim in claims
        for row in claim_rows(claim, [e for e in claimed if in_claim(e.record, claim)], left_out)
    ]
    others = sorted({e.connectivity for e in measured if e.connectivity not in TWINS})
    not_used = list(folder.skipped)
    if len(entries) > len(measured):
        not_used.append(f"{len(entries) - len(measured)} paper record(s) (source: paper)")
    if len(measured) > len(twins):
        not_used.append(f"{len(measured) - len(twins)} record(s) of other connectivities ({', '.join(others)})")
    if len(twins) > len(claimed):
        not_used.append(f"{len(twins) - len(claimed)} record(s) outside every claim's filter (e.g. exit modes, modes)")
    unique = sorted(set(left_out), key=lambda item: (REASONS.index(item.reason), item.path, item.detail))
    primaries = [p for p in PRIMARIES if any(c.id == p.id for c in claims)]
    results = test_primaries(primaries, primary_pairs(primaries, rows))
    note_matched_depths(results, rows)
    families = backbone_family_estimates(results, backbone_family_pairs(primaries, rows))
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
        families,
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
