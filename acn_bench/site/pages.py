"""The site's HTML: the index and one page per suite, every piece of text escaped.

Pages are plain HTML5 that link ``assets/site.css``, ``assets/site.js`` and (suite pages)
``assets/plotly.min.js`` relatively, so the folder opens from the file system; a suite page embeds
its table as JSON (``<script type="application/json" id="table-data">``), which ``site.js`` renders.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import pandas as pd

from acn_bench.results.claim_views import (
    BACKBONE_FAMILIES_NOTE,
    BACKBONE_FAMILIES_TITLE,
    BACKBONE_FAMILY_COLUMNS,
    DECLARED_COLUMNS,
    SUMMARY_COLUMNS,
    declared_rows,
)
from acn_bench.results.claims import ClaimsReport
from acn_bench.results.compute import HOW_COUNTED, hours_as_text
from acn_bench.results.formatting import format_value
from acn_bench.results.paper_rows import Reproduction
from acn_bench.results.primaries import PRIMARIES

# the summary's columns whose text is long: set in small type, wrapping, so the table fits the page
WRAPPED = {"claim", "setup", "shared networks", "setting", "flags", "records"}


@dataclass
class SuiteSummary:
    """What the index says of a suite: its page, description and how many records and rows it has."""

    name: str
    description: str
    measured: int
    paper: int
    rows: int


@dataclass
class IndexContent:
    """Everything the index page shows."""

    records_dir: str
    suites: list[SuiteSummary]
    claims: ClaimsReport | None
    claims_problem: str  # why there is no claims report (empty when there is one)
    reproductions: list[tuple[str, Reproduction]]  # (suite, paper number and its measured row)
    skipped: list[str] = field(default_factory=list)  # records not shown, and why
    compute: pd.DataFrame | None = None  # :func:`acn_bench.results.compute.compute_table` of the records


def esc(value: Any) -> str:
    """``value`` as HTML text."""
    return html.escape(str(value), quote=True)


def page_href(suite: str) -> str:
    """The relative link of a suite's page."""
    return f"{suite}.html"


@dataclass(frozen=True)
class Raw:
    """HTML made here (a link), inserted into a table cell without escaping."""

    html: str


def html_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "", row_classes: Sequence[str] = ()
) -> str:
    """A table of escaped cells (a cell that is a :class:`Raw` is inserted as it is)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        klass = f' class="{esc(row_classes[index])}"' if index < len(row_classes) and row_classes[index] else ""
        cells = "".join(f"<td>{c.html if isinstance(c, Raw) else esc(c)}</td>" for c in row)
        body.append(f"<tr{klass}>{cells}</tr>")
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def layout(title: str, body: str, suites: Sequence[str], current: str = "", head: str = "") -> str:
    """A whole page: the navigation over the index and every suite page, ``body``, and the scripts."""
    links = [f'<a href="index.html"{" class=current" if current == "index" else ""}>overview</a>']
    links += [f'<a href="{esc(page_href(s))}"{" class=current" if current == s else ""}>{esc(s)}</a>' for s in suites]
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · acn-bench</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/site.css">
{head}
</head>
<body>
<header><nav><span class="brand">acn-bench</span>{"".join(links)}</nav></header>
<main>
{body}
</main>
<footer>Built by <code>acn-bench site</code> from the JSON records; every row links to the records it was computed
from (copies under <code>records/</code>). Accuracies in percent, mean ± sample std over seeds.</footer>
<script src="assets/site.js"></script>
</body>
</html>
"""


def index_page(content: IndexContent) -> str:
    """The overview: suites, the claims report, reproduction of the paper's numbers, how to submit."""
    names = [s.name for s in content.suites]
    parts = [
        "<h1>Auto-Compressing Networks vs residual twins</h1>",
        "<p>Leaderboards of <a href='#suites'>every suite</a>, the <a href='#claims'>claims of the paper</a> "
        "tested on seed-paired twins, the <a href='#paper'>reproduction</a> of the paper's numbers, the "
        "<a href='#compute'>compute</a> the records cost, and "
        f"<a href='#submit'>how to submit a backbone</a>. Records: <code>{esc(content.records_dir)}</code>.</p>",
        _suites_section(content),
        _claims_section(content),
        _reproduction_section(content.reproductions),
        _compute_section(content.compute),
        SUBMIT,
    ]
    return layout("leaderboards", "\n".join(parts), names, current="index")


def _suites_section(content: IndexContent) -> str:
    out = ["<section id='suites'><h2>Suites</h2>"]
    rows = [
        (Raw(f'<a href="{esc(page_href(s.name))}">{esc(s.name)}</a>'), s.description, s.measured, s.paper, s.rows)
        for s in content.suites
    ]
    header = ["suite", "what it measures", "measured records", "paper records", "leaderboard rows"]
    out.append(html_table(header, rows, "overview"))
    if content.skipped:
        out.append("<div class='warning'><p>Not shown:</p><ul>")
        out += [f"<li>{esc(line)}</li>" for line in content.skipped]
        out.append("</ul></div>")
    out.append("</section>")
    return "\n".join(out)


def _claims_section(content: IndexContent) -> str:
    out = [
        "<section id='claims'><h2>Claims of the paper</h2>",
        "<p>One primary test per claim, declared before its runs, decides the claim: the per-seed difference "
        "ACN − residual on the declared setup, Holm-adjusted over the family. Every other group of records is "
        "exploratory: an estimate, its 95% interval and a raw p, no verdict. Computed by "
        "<code>acn-bench claims</code> (<code>acn_bench/results/claims.py</code>, "
        "<code>acn_bench/results/primaries.py</code>).</p>",
    ]
    report = content.claims
    if report is None:
        out.append(f"<p class='empty'>No claim can be tested yet: {esc(content.claims_problem)}</p>")
        rows = [(p.id, p.claim, p.metric, p.describe_setup(), "no records yet") for p in PRIMARIES]
        out.append(html_table(["claim", "title", "metric", "setup", "verdict"], rows, "claims"))
    else:
        out.append("<h3>Primary tests</h3>")
        rows = [
            [_claim_cell(column, cell) for column, cell in zip(SUMMARY_COLUMNS, row)] for row in report.summary_rows()
        ]
        out.append(html_table(SUMMARY_COLUMNS, rows, "claims"))
        out.append("<ul class='summary'>" + "".join(f"<li>{esc(line)}</li>" for line in report.summary_notes()))
        out.append("</ul>")
        if report.families:
            out.append(f"<h3>{esc(BACKBONE_FAMILIES_TITLE)}</h3><p>{esc(BACKBONE_FAMILIES_NOTE)}</p>")
            rows = report.family_rows()
            cells = [[_claim_cell(c, cell) for c, cell in zip(BACKBONE_FAMILY_COLUMNS, row)] for row in rows]
            out.append(html_table(BACKBONE_FAMILY_COLUMNS, cells, "families"))
        declared = [
            [_claim_cell(c, cell) for c, cell in zip(DECLARED_COLUMNS, row)] for row in declared_rows(PRIMARIES)
        ]
        out.append("<details><summary>The declared tests</summary>")
        out.append(html_table(DECLARED_COLUMNS, declared, "declared") + "</details>")
        sections = report.compact()
        count = len(report.rows)
        out.append(f"<details class='exploratory'><summary>Exploratory rows ({count}): estimates, no verdict</summary>")
        for section in sections:
            out.append(f"<h4>{esc(section.heading)}</h4>")
            for setup in section.tables:
                out.append(f"<p class='setup'>{esc(setup.heading)}</p>" if setup.heading else "")
                cells = [[_claim_cell(c, cell) for c, cell in zip(setup.columns, row)] for row in setup.rows]
                out.append(html_table(setup.columns, cells, "exploratory"))
        out.append("</details>")
        left_out = [line.lstrip("- ") for line in report.left_out_lines() if not line.startswith("  ")]
        if left_out:
            out.append("<details><summary>Records left out or not used</summary><ul>")
            out += [f"<li>{esc(line)}</li>" for line in left_out]
            out.append("</ul></details>")
    out.append("</section>")
    return "\n".join(out)


def _claim_cell(column: str, text: str) -> str | Raw:
    """A cell of a claims table: the verdict coloured, long text in small wrapping type."""
    if column == "verdict":
        word = text.split(":")[0]
        return Raw(f"<span class='verdict v-{esc(word.replace(' ', '-'))}'>{esc(text)}</span>")
    if column in WRAPPED:
        return Raw(f"<span class='wrap'>{esc(text)}</span>")
    return text


def _reproduction_section(items: Sequence[tuple[str, Reproduction]]) -> str:
    out = [
        "<section id='paper'><h2>Reproduction of the paper's numbers</h2>",
        "<p>Every number the paper reports, beside each measured row of the very same setup (suite, dataset, "
        "backbone, depth, connectivity, strategy and the suite's keys); within the spread: |measured − paper| ≤ "
        "2 × max(measured std, paper std). Rows of other profiles (quick, smoke) are compared too, but only a "
        "<code>paper</code>-profile row can reproduce the paper.</p>",
    ]
    if not items:
        out.append("<p class='empty'>No paper records (<code>acn-bench paper-records</code> writes them).</p>")
        out.append("</section>")
        return "\n".join(out)
    numbers: dict[str, set[tuple[int, str]]] = {}  # suite -> its paper numbers (record, metric)
    counts: dict[str, Counter[str]] = {}  # suite -> not measured / within / outside
    rows, classes = [], []
    for suite, item in items:
        numbers.setdefault(suite, set()).add((id(item.paper), item.metric))
        link = Raw(f'<a href="{esc(page_href(suite))}">{esc(suite)}</a>')
        paper = format_value(item.value, item.paper_std, item.metric, 2)
        state = "not-measured" if item.row is None else "within" if item.within else "outside"
        counts.setdefault(suite, Counter())[state] += 1
        classes.append(state)
        if item.row is None:
            rows.append((link, item.metric, item.label, paper, "not measured", "–"))
            continue
        row = item.row
        observed = format_value(row[f"{item.metric}_mean"], row[f"{item.metric}_std"], item.metric, int(row["n"]))
        flag = f", {row['regime']}" if row.get("regime") else ""
        where = f"{observed} ({row['profile']}, {row['dataset']}, n={int(row['n'])}{flag})"
        rows.append((link, item.metric, item.label, paper, where, "yes" if item.within else "no"))
    summary = [
        (Raw(f'<a href="{esc(page_href(suite))}">{esc(suite)}</a>'), len(numbers[suite]))
        + tuple(counts[suite][state] for state in ("not-measured", "within", "outside"))
        for suite in numbers
    ]
    header = ["suite", "paper numbers", "not measured", "measured rows within spread", "measured rows outside"]
    out.append(html_table(header, summary, "reproduction-status"))
    header = ["suite", "metric", "paper row", "paper", "measured (profile, dataset, n)", "within spread"]
    out.append("<details><summary>Every paper number and its measured rows</summary>")
    out.append(f"<div class='wide'>{html_table(header, rows, 'reproduction', classes)}</div></details>")
    out.append("</section>")
    return "\n".join(out)


def _compute_section(table: pd.DataFrame | None) -> str:
    how = re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(HOW_COUNTED))
    out = [
        "<section id='compute'><h2>Compute</h2>",
        f"<p>What the measured records cost. {how} Computed by <code>acn-bench leaderboard</code> "
        "(<code>acn_bench/results/compute.py</code>), which also writes <code>compute.md</code>.</p>",
    ]
    if table is None or table.empty:
        out.append("<p class='empty'>No measured records.</p>")
    else:
        out.append(html_table(list(table.columns), hours_as_text(table).itertuples(index=False), "compute"))
    out.append("</section>")
    return "\n".join(out)


SUBMIT = """<section id="submit"><h2>Submit a backbone</h2>
<p>Write a Python file that registers your backbone with <code>@register_backbone("my-net")</code> (a factory
returning an <code>acn_bench.Backbone</code>: embedding, residual-free blocks, a connectivity and the shared
head; <code>examples/conv_mixer_plugin.py</code> is one), then run</p>
<pre>acn-bench submit --plugin my_net.py --backbone my-net --suite compression --seeds 3</pre>
<p><code>submit</code> checks the backbone's contract (forward, probe at every depth, truncation, equal twins,
determinism), runs the suite's grid for both twins, validates every record and only then adds them under
<code>leaderboards/records/</code>. Rebuild the tables and this site (<code>acn-bench leaderboard</code>,
<code>acn-bench site</code>) and open a pull request with <code>leaderboards/</code>.</p>
</section>"""


def suite_page(
    summary: SuiteSummary, table: dict[str, Any], pareto: Sequence[str], figures: Sequence[str], suites: Sequence[str]
) -> str:
    """A suite's page: the interactive leaderboard (rendered by ``site.js`` from the embedded JSON),
    the Pareto view (compression, early exit) and the suite's interactive figures."""
    data = json.dumps(table, allow_nan=False, default=str).replace("<", "\\u003c")
    parts = [
        f"<h1>{esc(summary.name)}</h1>",
        f"<p class='lead'>{esc(summary.description)}. {summary.measured} measured and {summary.paper} paper "
        f"record(s), {summary.rows} leaderboard row(s).</p>",
        "<section id='leaderboard'><h2>Leaderboard</h2>",
        "<p class='help'>Mean ± sample std over the seeds of one recipe (n seeds). Click a column header to sort, "
        "a row to see every metric, its recipe, commits and records. The rank counts only measured rows of the "
        "same dataset and profile; rows flagged <em>near chance</em> get no rank (–). Paper rows quote the "
        "paper.</p>",
        "<noscript><p class='warning'>The table needs JavaScript.</p></noscript>",
        "<div id='board-controls'></div><div class='board-wrap'><table id='board'></table></div>",
        f'<script type="application/json" id="table-data">{data}</script>',
        "</section>",
    ]
    if pareto:
        parts.append("<section id='pareto'><h2>Accuracy against cost (Pareto view)</h2>")
        parts.append(
            "<p class='help'>One point per leaderboard row (measured), error bars: seed std; the stars joined by a "
            "dotted line are the Pareto front of each dataset and profile: no other row is at least as accurate "
            "and as cheap.</p>"
        )
        parts += [f"<div class='figure'>{div}</div>" for div in pareto]
        parts.append("</section>")
    parts.append("<section id='figures'><h2>Figures</h2>")
    parts.append("<p class='help'>Hover a point for its mean ± sample std over seeds and the number of seeds.</p>")
    if figures:
        parts += [f"<div class='figure'>{div}</div>" for div in figures]
    else:
        parts.append("<p class='empty'>No measured records to draw.</p>")
    parts.append("</section>")
    head = '<script src="assets/plotly.min.js"></script>'
    return layout(summary.name, "\n".join(parts), suites, current=summary.name, head=head)
