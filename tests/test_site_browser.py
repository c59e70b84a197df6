"""The site in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``) via selenium.

Every page loads from ``file://`` with no JavaScript console error and every figure renders;
sorting, filtering, the metric columns, the rank metric and an expanded row's record links work.
A screenshot of every page is saved under the test's temporary folder. These tests never skip:
without Chromium they fail, saying how to install it (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_site import COMMITTED, SUITES, build_test_site

from acn_bench.cli import main
from acn_bench.results.store import read_record, record_json

# slow: 20-40 s on the busy 2-core development machine (Chromium's start, plotly.js on every page),
# so `make test-fast` leaves them out; `make test` and CI run them
pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGES = ("index", *SUITES)


def chromium_paths() -> tuple[str, str]:
    """The Chromium binary and its driver; fail (never skip) when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail(
            "the browser tests need Chromium and its driver: apt-get install -y chromium chromium-driver "
            f"(found chromium: {browser}, chromedriver: {driver})",
            pytrace=False,
        )
    return browser, driver


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_test_site(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    binary, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def open_page(browser, site: Path, page: str) -> None:
    """Load a page and wait until the document and every plotly figure are drawn."""
    browser.get((site / f"{page}.html").as_uri())
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")
    figures = len(browser.find_elements(By.CSS_SELECTOR, "div.figure"))
    WebDriverWait(browser, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "div.figure .js-plotly-plot svg.main-svg")) >= figures
    )


def errors(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def visible_rows(browser) -> list:
    return browser.find_elements(By.CSS_SELECTOR, "#board tbody tr.row")


def column(browser, key: str) -> list[str]:
    """The texts of a column of the leaderboard, top to bottom."""
    keys = [th.get_attribute("data-key") for th in browser.find_elements(By.CSS_SELECTOR, "#board thead th")]
    index = keys.index(key)
    return [row.find_elements(By.TAG_NAME, "td")[index].text for row in visible_rows(browser)]


def test_every_page_loads_without_errors_and_every_figure_renders(site, browser, tmp_path):
    for page in PAGES:
        open_page(browser, site, page)
        assert errors(browser) == [], page
        expected = (site / f"{page}.html").read_text().count("<div class='figure'>")
        plots = browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
        assert len(plots) == expected, page
        for plot in plots:
            assert plot.find_elements(By.CSS_SELECTOR, "svg.main-svg"), f"{page}: a figure without an svg"
            assert plot.size["height"] > 200 and plot.size["width"] > 300
        if page != "index":
            assert expected >= 1 and len(visible_rows(browser)) >= 1
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1400, min(height + 40, 8000))
        assert browser.save_screenshot(str(tmp_path / f"{page}.png"))
        browser.set_window_size(1400, 1000)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(f"{p}.png" for p in PAGES)


def test_clicking_a_column_header_sorts_the_rows(site, browser):
    open_page(browser, site, "continual")
    before = [row.get_attribute("data-index") for row in visible_rows(browser)]
    browser.find_element(By.CSS_SELECTOR, "#board th[data-key='avg_forgetting']").click()
    ascending = [row.get_attribute("data-index") for row in visible_rows(browser)]
    table = json.loads(browser.find_element(By.ID, "table-data").get_attribute("textContent"))
    means = [table["rows"][int(i)]["values"]["avg_forgetting"]["mean"] for i in ascending]
    assert sorted(ascending) == sorted(before) and means == sorted(means)
    browser.find_element(By.CSS_SELECTOR, "#board th[data-key='avg_forgetting']").click()  # again: descending
    descending = [row.get_attribute("data-index") for row in visible_rows(browser)]
    means = [table["rows"][int(i)]["values"]["avg_forgetting"]["mean"] for i in descending]
    assert means == sorted(means, reverse=True) and descending != before
    assert errors(browser) == []


def test_a_filter_hides_the_other_rows(site, browser):
    open_page(browser, site, "compression")
    total = len(visible_rows(browser))
    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter='connectivity']")).select_by_visible_text("acn")
    shown = len(visible_rows(browser))
    assert shown >= 1 and shown < total
    assert set(column(browser, "connectivity")) == {"acn"}
    assert browser.find_element(By.ID, "row-count").text == f"{len(visible_rows(browser))} of {total} rows"
    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter='connectivity']")).select_by_visible_text("all")
    assert len(visible_rows(browser)) == total


def test_the_backbone_filter_shows_the_vit_rows_and_the_relative_probe_figure_draws_both_families(browser, tmp_path):
    """A records folder with both backbone families: the committed standard compression twins of protocol 2
    and a copy of each relabelled ``vit_tiny``. Filtering by backbone shows the ViT rows alone, and the
    probe curve as a share of full accuracy names both families."""
    records = tmp_path / "records" / "compression"
    records.mkdir(parents=True)
    for path in sorted((COMMITTED / "compression").glob("*.json")):
        record = read_record(path)
        if (record.profile, record.protocol) != ("standard", 2):
            continue
        shutil.copyfile(path, records / path.name)
        record.backbone["name"] = record.config["backbone"] = "vit_tiny"
        (records / f"vit-{path.name}").write_text(record_json(record))
    assert len(list(records.glob("vit-*.json"))) >= 4
    assert main(["site", "--records", str(records.parent), "--out", str(tmp_path / "site")]) == 0
    open_page(browser, tmp_path / "site", "compression")
    total = len(visible_rows(browser))
    backbone = Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter='backbone']"))
    assert {"mixer_small", "vit_tiny"} <= {option.text for option in backbone.options}
    backbone.select_by_visible_text("vit_tiny")
    assert set(column(browser, "backbone")) == {"vit_tiny"} and 1 <= len(visible_rows(browser)) < total
    legend = browser.find_element(By.ID, "figure-compression_relative_probe_standard").text
    assert "vit_tiny" in legend and "mixer_small" in legend
    assert errors(browser) == []


def test_metric_columns_and_the_rank_metric_can_be_chosen(site, browser):
    open_page(browser, site, "compression")

    def headers() -> list[str]:
        return [th.get_attribute("data-key") for th in browser.find_elements(By.CSS_SELECTOR, "#board th")]

    assert "cutoff_layer" in headers() and "gflops" not in headers()
    browser.find_element(By.CSS_SELECTOR, "input[data-metric='cutoff_layer']").click()
    browser.find_element(By.CSS_SELECTOR, "input[data-metric='gflops']").click()
    assert "cutoff_layer" not in headers() and "gflops" in headers()
    Select(browser.find_element(By.ID, "rank-by")).select_by_value("cutoff_layer")
    Select(browser.find_element(By.ID, "rank-direction")).select_by_value("lower")
    assert "cutoff_layer" in headers()  # the rank metric is shown
    # a rank counts within a dataset and profile: in each such group, rank 1 has the group's lowest cutoff
    table = json.loads(browser.find_element(By.ID, "table-data").get_attribute("textContent"))
    groups: dict[tuple, list[tuple[int, float]]] = {}
    indices = [row.get_attribute("data-index") for row in visible_rows(browser)]
    for index, rank, cutoff in zip(indices, column(browser, "rank"), column(browser, "cutoff_layer")):
        if rank.isdigit():
            cells = table["rows"][int(index)]["cells"]
            key = (cells.get("dataset"), cells.get("dataset_source"), cells.get("profile"))
            groups.setdefault(key, []).append((int(rank), float(cutoff.split(" ")[0])))
    assert groups
    for key, ranked in groups.items():
        assert ranked[0][0] == 1, key
        assert [rank for rank, _ in ranked] == sorted(rank for rank, _ in ranked), key
        assert ranked[0][1] == min(cutoff for _, cutoff in ranked), key


def test_an_expanded_row_shows_every_metric_and_links_its_records(site, browser):
    open_page(browser, site, "compression")
    row = browser.find_element(By.CSS_SELECTOR, "#board tbody tr.row:not(.paper)")  # a measured row
    row.click()
    details = browser.find_element(By.CSS_SELECTOR, "#board tr.details")
    assert "truncated_latency_ms" in details.text and "recipe" in details.text and "commits" in details.text
    links = details.find_elements(By.CSS_SELECTOR, "a.record")
    assert links and all(link.get_attribute("href").startswith("file://") for link in links)
    href = links[0].get_attribute("href")
    links[0].click()
    assert browser.current_url == href
    assert '"suite": "compression"' in browser.find_element(By.TAG_NAME, "body").text


def test_no_page_overflows_a_1280_pixel_window_and_the_claims_summary_fits_whole(browser, site):
    browser.set_window_size(1280, 900)
    try:
        for page in PAGES:
            open_page(browser, site, page)
            # the exploratory rows open too: their tables must fit as well
            browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
            page_width, window_width = browser.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert page_width <= window_width, f"{page}.html is {page_width} px wide in a {window_width} px window"
            tables = browser.execute_script(
                "return [...document.querySelectorAll('#claims table')].map(t => [t.className, t.scrollWidth, "
                "t.parentElement.clientWidth])"
            )
            for name, width, room in tables:
                assert width <= room, f"{page}.html: a {name} table is {width} px wide in {room} px"
            if page == "index":
                assert {name for name, _, _ in tables} >= {"claims", "families", "declared", "exploratory"}
    finally:
        browser.set_window_size(1400, 1000)
