"""One leaderboard spec per suite: the terminal table, the markdown and the site table show the columns it
says (the same metrics, keys and baseline verdicts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.table import Table

from acn_bench.results.leaderboard import build_table
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.leaderboard_views import compact_tables, leaderboard_markdown, leaderboard_rich, short_label
from acn_bench.results.store import read_records
from acn_bench.site.tables import RecordFile, table_data
from acn_bench.suites import get_suite

COMMITTED = Path(__file__).resolve().parents[1] / "leaderboards" / "records"


def markdown_headers(markdown: str) -> list[list[str]]:
    """The header cells of every table of a markdown document."""
    lines = markdown.splitlines()
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line, below in zip(lines, lines[1:])
        if line.startswith("|") and re.fullmatch(r"\|[-:| ]+\|", below.strip())
    ]


@pytest.mark.parametrize("name", ["pruning", "low_data"])
def test_one_spec_gives_the_terminal_the_markdown_and_the_site_the_same_columns(name):
    suite = get_suite(name)
    spec = LeaderboardSpec.of(suite)
    assert suite.group_by and spec.group_by == tuple(suite.group_by)
    folder = read_records(COMMITTED, [name])
    board = build_table(folder.records(), spec)

    compact = [list(table.columns) for _, table in compact_tables(board)]
    terminal = [
        [column.header for column in part.columns]
        for part in leaderboard_rich(board).renderables
        if isinstance(part, Table)
    ]
    assert terminal == markdown_headers(leaderboard_markdown(board)) == compact

    site = table_data(spec, [RecordFile(stored.record, stored.relative) for stored in folder.files])
    assert site["suite"] == name and site["shown"] == list(spec.shown_metrics) and site["rank_by"] == spec.rank_by
    metrics = [short_label(metric) for metric in site["shown"]]
    site_keys = {short_label(key) for key in site["columns"]}
    for headers in terminal:
        assert [header for header in headers if header in metrics] == metrics  # the key metrics, in order
        keys = headers[1].split(" · ")  # the merged key column, after the rank
        assert set(keys) <= site_keys
        assert [h for h in headers if h.startswith("vs ")] == [d for d in site["details"] if d.startswith("vs ")]
    varying = [key for key in spec.group_by if key in site["columns"]]
    assert varying and all(any(short_label(key) in h[1].split(" · ") for h in terminal) for key in varying)
