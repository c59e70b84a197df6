"""``acn-bench site``: the static site's files, its embedded tables and links, offline, and bad input.

The site is built once per module from a copy of committed records (compression, early exit, low
data and part of continual: tables with paper rows, near-chance rows, heatmaps and Pareto views).
``tests/test_site_browser.py`` opens the same site in headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from acn_bench.cli import main
from acn_bench.results.formatting import format_value
from acn_bench.results.leaderboard import build_table
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.primaries import PRIMARIES
from acn_bench.results.store import load_records, read_record, record_json
from acn_bench.site import build as site_build
from acn_bench.site.figures import pareto_front
from acn_bench.suites import get_suite

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "leaderboards" / "records"
SUITES = ("compression", "early_exit", "low_data", "continual")


def copy_test_records(dest: Path, suites: tuple[str, ...] = SUITES) -> Path:
    """A small records folder: every committed compression, early-exit and low-data record, and the
    continual records of depth 5 on digits (a few seconds to build instead of the whole set's)."""
    for suite in suites:
        for path in sorted((COMMITTED / suite).glob("*.json")):
            data = json.loads(path.read_text())
            if suite == "continual" and (data["dataset"]["name"], data["backbone"]["depth"]) != ("digits", 5):
                continue
            (dest / suite).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / suite / path.name)
    return dest


_built: dict[Path, Path] = {}  # test session's temporary root -> the site built there


def build_test_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of :func:`copy_test_records`, built once per test session (by the command line) and
    shared by this module and ``test_site_browser.py``; return its folder."""
    root = tmp_path_factory.getbasetemp()
    if root not in _built:
        base = tmp_path_factory.mktemp("site")
        records = copy_test_records(base / "records")
        assert main(["site", "--records", str(records), "--out", str(base / "site")]) == 0
        _built[root] = base / "site"
    return _built[root]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_test_site(tmp_path_factory)


def embedded_table(page: Path) -> dict:
    found = re.search(r'<script type="application/json" id="table-data">(.*?)</script>', page.read_text(), re.S)
    assert found, f"{page.name} embeds no table"
    return json.loads(found.group(1))


def leftovers(folder: Path) -> list[str]:
    """Temporary folders of a build left beside the site (there must be none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_the_site_has_an_index_a_page_per_suite_and_offline_assets(site):
    assert sorted(p.name for p in site.glob("*.html")) == sorted(["index.html", *(f"{s}.html" for s in SUITES)])
    assert {p.name for p in (site / "assets").iterdir()} == {"site.css", "site.js", "plotly.min.js"}
    assert (site / "assets" / "plotly.min.js").stat().st_size > 1_000_000  # plotly.js itself, copied once
    assert (site / site_build.MARKER).is_file()
    assert leftovers(site.parent) == []


def test_no_page_loads_anything_from_the_network(site):
    for page in site.glob("*.html"):
        text = page.read_text()
        links = re.findall(r'(?:src|href)="([^"]*)"', text)
        assert links, page.name
        assert not [link for link in links if re.match(r"(https?:)?//", link)], page.name
        for link in links:
            if not link.startswith(("#", "data:")):
                assert (site / link).is_file(), f"{page.name} links {link}, which is not in the site"
        assert "cdn." not in text.lower()


def test_every_row_links_its_records_and_shows_the_leaderboards_numbers(site, tmp_path):
    for suite_name in SUITES:
        table = embedded_table(site / f"{suite_name}.html")
        suite = get_suite(suite_name)
        records = load_records(site / "records", suite_name)  # the copies the site links
        assert table["metrics"] == list(suite.metrics) and table["shown"] == list(suite.compact_metrics())
        assert {"dataset", "profile", "backbone", "hardware"} <= set(table["filters"])
        linked = [link["href"] for row in table["rows"] for link in row["records"]]
        assert len(linked) == len(set(linked)) == len(records)  # every record in exactly one row
        for row in table["rows"]:
            assert len(row["records"]) == row["cells"]["n"] >= 1
            for link in row["records"]:
                copy = site / link["href"]
                assert copy.is_file() and json.loads(copy.read_text())["suite"] == suite_name
        # the numbers are the leaderboard's (build_table), formatted as the markdown tables format them
        board = build_table(records, LeaderboardSpec.of(suite))
        assert len(board.summary) == len(table["rows"])
        first, metric = board.summary.iloc[0], suite.metrics[0]
        row = table["rows"][0]
        expected = format_value(first[f"{metric}_mean"], first[f"{metric}_std"], metric, int(first["n"]))
        assert row["values"][metric]["text"] == expected
        assert row["ranks"][metric]["higher" if suite.higher_is_better else "lower"] == first["rank"]


def test_the_suite_pages_hold_the_suites_figures_and_the_pareto_views(site):
    compression = (site / "compression.html").read_text()
    for figure in ("compression_probe_by_depth", "compression_grad_norms"):
        assert f'id="figure-{figure}"' in compression
    for cost in ("truncated_params", "truncated_gflops", "latency_speedup"):
        assert f'id="pareto-compression-{cost}"' in compression
    early_exit = (site / "early_exit.html").read_text()
    assert (
        'id="figure-early_exit_accuracy_vs_speedup"' in early_exit
        and 'id="pareto-early_exit-flops_speedup"' in early_exit
    )
    continual = (site / "continual.html").read_text()
    assert 'id="figure-continual_accuracy_matrix_split-digits-5x2-task-il"' in continual
    assert "Pareto" not in (site / "low_data.html").read_text()


def test_the_figures_are_the_ones_the_png_figures_are_drawn_from(tmp_path):
    suite = get_suite("compression")
    records = [r for r in load_records(COMMITTED, "compression") if r.source == "measured"]
    written = suite.plot(records, tmp_path)
    assert [p.stem for p in written] == [f.name for f in suite.figures(records)]
    assert all(p.stat().st_size > 0 for p in written)


def test_the_index_has_the_claims_the_reproduction_status_and_how_to_submit(site):
    index = (site / "index.html").read_text()
    for suite in SUITES:
        assert f'href="{suite}.html"' in index
    assert "Claims of the paper" in index and "95% CI" in index and "<h3>Primary tests</h3>" in index
    claims = re.search(r"<section id='claims'>.*?</section>", index, re.S).group(0)
    assert len(re.findall(r"class='verdict v-", claims)) == len(PRIMARIES)  # one verdict per primary test
    assert "<summary>The declared tests</summary>" in claims and "Exploratory rows (" in claims
    assert "information concentrates in early layers" in claims and "Holm p" in claims
    assert "Reproduction of the paper" in index and "not measured" in index
    assert "acn-bench submit" in index
    compute = re.search(r"<section id='compute'>.*?</section>", index, re.S).group(0)
    assert "<th>hours</th>" in compute and "core-h" in compute and "<td>compression</td>" in compute


def test_a_key_that_varies_within_a_setup_is_a_column_the_budget_sweeps_epochs_on_the_compression_page(site):
    table = embedded_table(site / "compression.html")
    assert "epochs" in table["columns"]  # the standard rows of 5, 10 and 20 epochs differ in nothing else
    standard = [row["cells"] for row in table["rows"] if row["cells"]["profile"] == "standard"]
    assert {cells["epochs"] for cells in standard} >= {5, 10, 20}
    keys = [tuple(cells[c] for c in table["columns"]) for cells in standard]
    assert len(keys) == len(set(keys))  # every shown row tells itself apart by its shown keys
    early_exit = embedded_table(site / "early_exit.html")
    assert "epochs" not in early_exit["columns"] or len({r["cells"]["epochs"] for r in early_exit["rows"]}) > 1


def test_the_pareto_front_keeps_the_points_no_other_point_dominates():
    points = [(1.0, 0.90), (2.0, 0.95), (2.0, 0.93), (3.0, 0.94), (0.5, 0.80)]
    assert pareto_front(points, lower_cost_is_better=True) == [4, 0, 1]
    speedups = [(1.0, 0.95), (2.0, 0.94), (1.5, 0.93), (3.0, 0.90)]
    assert pareto_front(speedups, lower_cost_is_better=False) == [0, 1, 3]


# ---------------------------------------------------------------------------------------------
# Bad input


def test_an_empty_records_folder_exits_2_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "records").mkdir()
    assert main(["site", "--records", str(tmp_path / "records"), "--out", str(tmp_path / "site")]) == 2
    assert f"no records under '{tmp_path / 'records'}'" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "site").exists() and leftovers(tmp_path) == []


def test_a_folder_of_an_unknown_suite_is_skipped_with_a_warning(tmp_path, capsys):
    records = tmp_path / "records"
    (records / "compression").mkdir(parents=True)
    for path in sorted((COMMITTED / "compression").glob("*.json"))[:2]:
        shutil.copyfile(path, records / "compression" / path.name)
    (records / "calibration").mkdir()
    shutil.copyfile(next((COMMITTED / "compression").glob("*.json")), records / "calibration" / "x.json")
    stray = read_record(next((COMMITTED / "compression").glob("*.json")))
    stray.suite = "nosuch"
    (records / "compression" / "stray.json").write_text(record_json(stray))  # sealed, valid, another suite's
    assert main(["site", "--records", str(records), "--out", str(tmp_path / "site")]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "calibration/ (1 record(s)): unknown suite 'calibration'" in err and "--plugin" in err
    assert "compression/stray.json: a record of suite 'nosuch' in compression/" in err
    assert "unknown suite" in (tmp_path / "site" / "index.html").read_text()
    assert (tmp_path / "site" / "compression.html").is_file() and not (tmp_path / "site" / "calibration.html").exists()


def test_an_out_that_is_a_file_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "site"
    out.write_text("not a folder")
    assert main(["site", "--records", str(copy_test_records(tmp_path / "records")), "--out", str(out)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert out.read_text() == "not a folder" and leftovers(tmp_path) == []


def test_an_out_folder_not_written_by_site_is_left_alone(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["site", "--records", str(copy_test_records(tmp_path / "records")), "--out", str(out)]) == 2
    assert "was not written by `acn-bench site`" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and leftovers(tmp_path) == []


def test_a_missing_records_folder_or_an_invalid_record_exits_2(tmp_path, capsys):
    assert main(["site", "--records", str(tmp_path / "nowhere"), "--out", str(tmp_path / "site")]) == 2
    assert "does not exist" in capsys.readouterr().err
    records = copy_test_records(tmp_path / "records")
    broken = next((records / "compression").glob("*.json"))
    broken.write_text("{not json")
    assert main(["site", "--records", str(records), "--out", str(tmp_path / "site")]) == 2
    assert broken.name in capsys.readouterr().err
    assert not (tmp_path / "site").exists() and leftovers(tmp_path) == []


@pytest.mark.slow  # a fresh interpreter (torch and all) started as another user: 10-20 s
def test_a_records_folder_without_read_permission_exits_2():
    # root reads any folder: as root the command runs as the unprivileged user nobody (util-linux's setpriv)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="acn-bench-site-test-"))
    try:
        base.chmod(0o777)
        records = copy_test_records(base / "records")
        records.chmod(0o300)  # write and enter, but not list
        command = [*nobody, sys.executable, "-m", "acn_bench.cli", "site", "--records", str(records)]
        env = {**os.environ, "HOME": str(base), "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [*command, "--out", str(base / "site")], capture_output=True, text=True, cwd=base, env=env, timeout=300
        )
        assert done.returncode == 2, done.stderr
        assert "cannot be read (permission denied)" in done.stderr
        assert not (base / "site").exists() and not list(base.glob(".site*"))  # no site, no temporary folder
    finally:
        (base / "records").chmod(0o755)
        shutil.rmtree(base)


def test_a_rebuild_replaces_the_site_and_a_failed_build_keeps_the_old_one(tmp_path, monkeypatch):
    records = copy_test_records(tmp_path / "records", suites=("compression", "low_data"))
    out = tmp_path / "site"
    assert main(["site", "--records", str(records), "--out", str(out)]) == 0
    (out / "stale.html").write_text("from an older build")
    shutil.rmtree(records / "low_data")
    assert main(["site", "--records", str(records), "--out", str(out)]) == 0
    assert not (out / "stale.html").exists() and not (out / "low_data.html").exists()
    assert leftovers(tmp_path) == []
    before = sorted(p.relative_to(out) for p in out.rglob("*"))

    def broken(_content):
        raise RuntimeError("disk full")

    monkeypatch.setattr(site_build, "index_page", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        main(["site", "--records", str(records), "--out", str(out)])
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before and leftovers(tmp_path) == []
