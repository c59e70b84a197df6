"""``acn-bench site``: read the records, write every page into a staging folder, move it into place.

The site is one folder (default ``site/``): ``index.html``, ``<suite>.html`` per suite with
records, ``assets/`` (``site.css``, ``site.js``, ``plotly.min.js``) and ``records/<suite>/*.json``
(copies of the records, so every link stays inside the folder). It is built in a temporary folder
beside ``--out`` and swapped in only when complete, so a failed or interrupted build leaves the old
site (or nothing) and never half of one. A folder is replaced only when it is empty or was written
by this command (it holds :data:`MARKER`), so ``--out`` cannot wipe an unrelated folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from acn_bench import progress as progress_display
from acn_bench.errors import UserError
from acn_bench.results.claims import build_claims
from acn_bench.results.compute import compute_table
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.paper_rows import Reproduction, reproductions
from acn_bench.results.store import StoredRecord, read_records
from acn_bench.site.figures import figure_html, pareto_figures, plotly_js
from acn_bench.site.pages import IndexContent, SuiteSummary, index_page, suite_page
from acn_bench.site.tables import RecordFile, table_data
from acn_bench.suites import Suite, get_suite, list_suites

PLUGIN_HINT = "a suite from a plugin file needs --plugin FILE.py"
MARKER = ".acn-bench-site"  # in every site folder: what may be replaced by the next build
ASSETS = ("site.css", "site.js")


@dataclass
class SuiteRecords:
    """A suite and its records read from the records folder."""

    suite: Suite
    files: list[StoredRecord]


@dataclass
class BuiltSite:
    """What :func:`build_site` wrote: the pages' file names and how many records the site shows."""

    pages: list[str]
    records: int


def read_suites(records_dir: Path) -> tuple[list[SuiteRecords], list[str]]:
    """The records under ``records_dir`` by registered suite (:func:`read_records`, the one reader), and what
    it skipped, with why: a folder that names no registered suite (its records need the ``--plugin`` that
    registers the suite), ``.json`` files outside suite folders and records of another suite than their folder's.

    Raises:
        UserError: a missing, unreadable or empty folder, or a file that is not a valid record.
    """
    known = list_suites()
    folder = read_records(records_dir, known, unknown_hint=f"known: {', '.join(known)} ({PLUGIN_HINT})")
    found = [SuiteRecords(get_suite(name), folder.of(name)) for name in known if folder.of(name)]
    return found, folder.skipped


def _check_out(out: Path) -> None:
    """``--out`` must be a new folder, an empty one, or a site this command wrote."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {str(out)!r} is a file, not a folder; pass a folder for the site. Nothing was written.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UserError(
            f"--out {str(out)!r} is a folder that was not written by `acn-bench site` (no {MARKER} in it); "
            "it is left alone: pass a new or empty folder. Nothing was written."
        )


def build_site(records_dir: Path, out: Path, progress: bool = False, warn: Callable[[str], None] = print) -> BuiltSite:
    """Build the static site of the records under ``records_dir`` into ``out`` (replaced as a whole).

    Args:
        records_dir: ``<suite>/<run id>.json`` records (e.g. ``leaderboards/records``).
        out: the site's folder: new, empty, or an earlier site (see :data:`MARKER`).
        progress: draw a progress bar over the pages.
        warn: called once per skipped folder or file (unknown suite, record outside a suite folder).

    Raises:
        UserError: ``out`` is a file or a foreign folder, ``records_dir`` is missing, unreadable or holds no
            record, or a record is invalid; nothing is written then.
    """
    records_dir, out = Path(records_dir), Path(out)
    _check_out(out)
    suites, skipped = read_suites(records_dir)
    for line in skipped:
        warn(f"not shown: {line}")
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise UserError(f"cannot write the site beside {str(out)!r}: {exc}. Nothing was written.") from exc
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a site is shared like any document
        pages = _write_site(staging, records_dir, suites, skipped, progress)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuiltSite(pages, sum(len(s.files) for s in suites))


def _write_site(
    root: Path, records_dir: Path, suites: list[SuiteRecords], skipped: list[str], progress: bool
) -> list[str]:
    """Write the assets, every suite's page and record copies, and the index into ``root``; return the
    pages' file names."""
    _write_assets(root)
    names = [entry.suite.name for entry in suites]
    summaries, repro = [], []
    with progress_display.display(progress), progress_display.task("site", total=len(suites) + 1) as bar:
        for entry in suites:
            bar.update(description=f"site: {entry.suite.name}")
            summary, paper = _write_suite_page(root, entry, names)
            summaries.append(summary)
            repro += [(entry.suite.name, item) for item in paper]
            bar.advance()
        bar.update(description="site: index")
        claims, problem = None, ""
        try:
            claims = build_claims(records_dir)
        except UserError as exc:  # no usable pair (yet): the index says why
            problem = str(exc).replace(" Nothing was written.", "")
        records = (stored.record for entry in suites for stored in entry.files)
        content = IndexContent(str(records_dir), summaries, claims, problem, repro, skipped, compute_table(records))
        (root / "index.html").write_text(index_page(content), encoding="utf-8")
        bar.advance()
    return ["index.html", *(f"{name}.html" for name in names)]


def _write_assets(root: Path) -> None:
    """``assets/``: the package's ``site.css`` and ``site.js``, plotly.js; and the site's :data:`MARKER`."""
    assets = root / "assets"
    assets.mkdir()
    for name in ASSETS:
        (assets / name).write_text(resources.files("acn_bench.site").joinpath("assets", name).read_text("utf-8"))
    (assets / "plotly.min.js").write_text(plotly_js(), encoding="utf-8")
    (root / MARKER).write_text("written by `acn-bench site`; the next build replaces this folder\n")


def _write_suite_page(root: Path, entry: SuiteRecords, names: list[str]) -> tuple[SuiteSummary, list[Reproduction]]:
    """Copy the suite's records to ``records/``, write ``<suite>.html``; return what the index shows of it."""
    suite, files = entry.suite, []
    for stored in entry.files:
        copy = root / "records" / stored.relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stored.path, copy)
        files.append(RecordFile(stored.record, f"records/{stored.relative}"))
    records = [f.record for f in files]
    measured = [r for r in records if r.source == "measured"]
    spec = LeaderboardSpec.of(suite)
    table = table_data(spec, files)
    summary = SuiteSummary(
        suite.name, suite.description, len(measured), len(records) - len(measured), len(table["rows"])
    )
    figures = [figure_html(figure) for figure in suite.figures(measured)] if measured else []
    page = suite_page(summary, table, pareto_figures(suite.name, table), figures, names)
    (root / f"{suite.name}.html").write_text(page, encoding="utf-8")
    return summary, reproductions(records, spec.group_by)


def _swap_in(staging: Path, out: Path) -> None:
    """Put the finished ``staging`` folder at ``out``: the old site is renamed aside, the new one renamed
    in, the old one deleted (on failure the old site is put back)."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.absolute().parent))
    os.rmdir(old)  # only its unique name is wanted
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
