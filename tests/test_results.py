"""Records, their atomic store and the leaderboard tables."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from acn_bench.results import Record, load_records, read_record, run_id, write_record
from acn_bench.results.formatting import format_value
from acn_bench.results.grouping import records_frame, summarize
from acn_bench.results.leaderboard import build_table
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.leaderboard_views import (
    compact_tables,
    leaderboard_markdown,
    leaderboard_rich,
    reproduction_status,
    short_label,
    wide_table,
    write_leaderboard,
)
from acn_bench.results.record import environment, git_dirty


def make_record(seed=0, connectivity="acn", accuracy=0.9, cutoff=5):
    config = {"dataset": "digits", "connectivity": connectivity, "seed": seed}
    return Record(
        suite="compression",
        profile="quick",
        dataset={"name": "digits", "source": "sklearn"},
        backbone={"name": "mixer_small", "connectivity": connectivity, "depth": 8, "params": 100, "config": {}},
        seed=seed,
        config=config,
        metrics={"accuracy": accuracy, "cutoff_layer": cutoff},
        run_id=run_id(config),
        probe=[0.1, accuracy],
    )


def test_record_round_trips_through_an_atomic_json_file(tmp_path):
    record = make_record()
    path = write_record(tmp_path, record)
    assert path == tmp_path / "compression" / f"{record.run_id}.json"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    assert read_record(path) == record
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1 and data["source"] == "measured"


def test_run_id_is_stable_and_order_independent():
    assert run_id({"a": 1, "b": 2}) == run_id({"b": 2, "a": 1}) != run_id({"a": 1, "b": 3})


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda d: d.pop("metrics"), "missing field.*metrics"),
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (lambda d: d.update(source="rumour"), "source 'rumour'"),
        (lambda d: d.update(extra=1), "unknown field.*extra"),
    ],
)
def test_invalid_records_are_rejected_naming_the_file(tmp_path, edit, problem):
    path = write_record(tmp_path, make_record())
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=f"{path.name}.*{problem}"):
        read_record(path)


def test_leaderboard_groups_over_seeds_with_mean_std_and_n(tmp_path):
    for seed, acc in enumerate([0.90, 0.92, 0.94]):
        write_record(tmp_path, make_record(seed=seed, accuracy=acc))
    write_record(tmp_path, make_record(connectivity="residual", accuracy=0.88, cutoff=8))
    summary = summarize(records_frame(load_records(tmp_path, "compression")), ["accuracy", "cutoff_layer"])
    acn = summary[summary.connectivity == "acn"].iloc[0]
    assert acn["n"] == 3
    assert acn["accuracy_mean"] == pytest.approx(0.92)
    assert acn["accuracy_std"] == pytest.approx(0.02)
    assert summary[summary.connectivity == "residual"].iloc[0]["n"] == 1

    spec = LeaderboardSpec(("accuracy", "cutoff_layer"), title="compression", name="compression")
    table = build_table(load_records(tmp_path, "compression"), spec)
    markdown = leaderboard_markdown(table)
    assert "92.00 ± 2.00" in markdown and "88.00" in markdown
    assert table.summary.set_index("connectivity")["rank"].to_dict() == {"acn": "1", "residual": "2"}
    md, csv = write_leaderboard(table, tmp_path / "tables")
    assert md.read_text().startswith("# compression") and "accuracy_mean" in csv.read_text()
    assert leaderboard_rich(table, wide=True).row_count == 2


@pytest.mark.parametrize(
    "mean, std, metric, text",
    [
        (0.92041, 0.00083, "accuracy", "92.04 ± 0.08"),
        (1.18412, 0.041013, "flops_speedup", "1.18 ± 0.04"),
        (13.5012, 0.47012, "mean_exit_depth", "13.5 ± 0.5"),
        (0.014612, 0.0012, "model_tflops", "0.0146 ± 0.0012"),
        (274863.0, None, "params", "274,863"),
        (2.0, 0.5, "wall_speedup", "2.00 ± 0.50"),
    ],
)
def test_values_are_shown_with_three_significant_digits_and_the_std_to_the_same_decimals(mean, std, metric, text):
    assert format_value(mean, std, metric, n=3) == text


@pytest.mark.parametrize(
    "mean, std, text",
    [
        (2527002.0, 123456.0, "2.53M ± 0.12M"),
        (74957.0, None, "75.0k"),
        (9999.0, None, "9,999"),
        (1.18, 0.04, "1.18 ± 0.04"),
    ],
)
def test_compact_tables_write_counts_of_ten_thousand_and_more_with_a_suffix(mean, std, text):
    assert format_value(mean, std, "truncated_params", n=3, short=True) == text


def test_runs_from_different_hardware_get_separate_rows(tmp_path):
    gpu = make_record(seed=1)
    gpu.environment = {"device": "cuda:0", "cuda": "NVIDIA H100 80GB HBM3"}
    cpu = make_record(seed=0)
    cpu.environment = {"device": "cpu"}
    summary = summarize(records_frame([gpu, cpu]), ["accuracy"])
    assert sorted(summary["hardware"]) == ["NVIDIA H100 80GB HBM3", "cpu"] and list(summary["n"]) == [1, 1]
    assert "hardware" in leaderboard_markdown(build_table([gpu, cpu], LeaderboardSpec(("accuracy",))))


def test_paper_rows_sit_beside_measured_rows_and_reproduction_is_judged_by_the_spread(tmp_path):
    for seed, acc in enumerate([0.90, 0.92, 0.94]):
        write_record(tmp_path, make_record(seed=seed, accuracy=acc))
    paper = make_record(accuracy=0.93)
    paper.source, paper.profile, paper.run_id = "paper", "paper", "paper-acn"
    paper.config = {"reported_std": {"accuracy": 0.001}}
    write_record(tmp_path, paper)
    records = load_records(tmp_path)
    table = build_table(records, LeaderboardSpec(("accuracy",)), filters={"profile": "quick"})
    measured = table.summary[table.summary.source == "measured"].iloc[0]
    assert measured["paper"] == "93.00" and measured["Δ vs paper"] == "-1.00"
    assert len(table.summary) == 2  # the profile filter keeps the paper row
    status = reproduction_status(records, (), "t")
    cells = [list(col.cells) for col in status.columns]
    assert cells[0][0] == "accuracy" and cells[-1][0] == "yes"  # |92 - 93| <= 2 * 2.0 points

    other = make_record(accuracy=0.93)  # a paper number on another dataset is not judged by these runs
    other.source, other.profile, other.run_id = "paper", "paper", "paper-other"
    other.dataset = {**other.dataset, "name": "imagenet"}
    status = reproduction_status([*records, other], (), "t")
    cells = [list(col.cells) for col in status.columns]
    assert cells[3][-1] == "not measured" and cells[-1][-1] == "–"
    assert set(cells[1]) == {"mixer_small acn L=8 dataset=digits", "mixer_small acn L=8 dataset=imagenet"}  # told apart


def test_seeds_of_two_protocol_versions_never_share_a_row_and_old_records_read_as_version_1(tmp_path):
    old, new = make_record(seed=0), make_record(seed=1)
    new.protocol = 2
    summary = summarize(records_frame([old, new]), ["accuracy"])
    assert sorted(summary["protocol"]) == [1, 2] and list(summary["n"]) == [1, 1]
    # a record written before the field existed: no "protocol" key, and its seal computed without it
    data = json.loads(write_record(tmp_path, make_record()).read_text())
    del data["protocol"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    assert read_record(path).protocol == 1
    sealed = json.loads(write_record(tmp_path / "v2", new).read_text())
    sealed["protocol"] = 1  # claiming another version breaks the seal
    path.write_text(json.dumps(sealed))
    with pytest.raises(ValueError, match="content_hash does not match"):
        read_record(path)


def test_records_are_sealed_and_an_edited_metric_is_detected(tmp_path):
    path = write_record(tmp_path, make_record())
    data = json.loads(path.read_text())
    assert len(data["content_hash"]) == 64 and read_record(path).content_hash == data["content_hash"]
    data["metrics"]["accuracy"] = 0.99
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="content_hash does not match"):
        read_record(path)


def test_seeds_average_only_over_one_recipe_and_rows_show_their_commits(tmp_path):
    runs = [make_record(seed=seed, accuracy=acc) for seed, acc in enumerate([0.90, 0.92, 0.94])]
    for run, (commit, created) in zip(
        runs,
        [
            ("c" * 40, "2026-12-03T00:00:00+00:00"),
            ("a" * 40, "2026-12-01T00:00:00+00:00"),
            ("b" * 40, "2026-12-02T00:00:00+00:00"),
        ],
    ):
        run.environment, run.created = {"git_commit": commit, "git_dirty": False}, created
    runs[2].config = {**runs[2].config, "lr": 0.5}  # another recipe: never averaged with the others
    for seed, run in enumerate(runs):  # statistics of each seed's own training images: not the recipe
        run.config = {**run.config, "normalization": {"mean": [0.1 * seed], "std": [1.0]}}
    table = build_table(runs, LeaderboardSpec(("accuracy",)))
    summary = table.summary
    assert list(summary["n"]) == [2, 1] and summary["recipe"].nunique() == 2
    assert list(summary["commits"]) == ["aaaaaaa..ccccccc", "bbbbbbb"]  # ordered by when the records were made
    assert list(summary["dirty"]) == ["no", "no"]
    assert "recipe" in wide_table(table).columns  # the two rows differ only in their recipe
    assert "recipe" not in wide_table(build_table(runs[:2], LeaderboardSpec(("accuracy",)))).columns

    runs[1].environment = {"git_commit": "a" * 40}  # an older record: dirty state unknown, never guessed
    assert list(build_table(runs, LeaderboardSpec(("accuracy",))).summary["dirty"]) == ["?", "no"]
    runs[0].environment["git_dirty"] = True
    assert list(build_table(runs, LeaderboardSpec(("accuracy",))).summary["dirty"]) == ["yes", "no"]
    runs[0].environment, runs[1].environment = {}, {}
    assert build_table(runs, LeaderboardSpec(("accuracy",))).summary.iloc[0]["commits"] == "?"


def test_records_state_their_git_commit_and_dirty_state():
    env = environment()
    assert env["git_dirty"] in (True, False, None) and env["git_dirty"] == git_dirty()
    if env["git_commit"] is None:
        assert env["git_dirty"] is None  # no git: unknown


def test_a_tree_is_dirty_with_uncommitted_tracked_changes_outside_leaderboards(tmp_path):
    assert shutil.which("git"), "git is needed to test the provenance of records (CI runs on a git clone)"
    assert git_dirty(tmp_path) is None  # not a repository: unknown
    (tmp_path / "pkg").mkdir()
    (tmp_path / "leaderboards").mkdir()
    (tmp_path / "pkg" / "code.py").write_text("a = 1\n")
    (tmp_path / "leaderboards" / "table.md").write_text("| a |\n")
    (tmp_path / "speed" / "results").mkdir(parents=True)
    (tmp_path / "speed" / "results" / "machine.md").write_text("# Throughput\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    where = tmp_path / "pkg"
    assert git_dirty(where) is False
    (tmp_path / "scratch.txt").write_text("untracked files never count")
    (tmp_path / "leaderboards" / "table.md").write_text("| b |\n")  # results, not code
    (tmp_path / "speed" / "results" / "machine.md").write_text("# Throughput\n\nmore\n")  # measurements
    assert git_dirty(where) is False
    (tmp_path / "pkg" / "code.py").write_text("a = 2\n")
    assert git_dirty(where) is True


def pruning_record(seed, method, at_05, at_09):
    config = {"dataset": "digits", "connectivity": "acn", "seed": seed, "method": method}
    return Record(
        suite="pruning",
        profile="quick",
        dataset={"name": "digits", "source": "sklearn", "num_classes": 10},
        backbone={"name": "mixer_small", "connectivity": "acn", "depth": 8, "params": 100, "config": {}},
        seed=seed,
        config=config,
        metrics={"accuracy": 0.97, "accuracy_at_0.5": at_05, "accuracy_at_0.9": at_09},
        run_id=run_id(config),
        probe=[0.1, 0.97],
    )


def test_a_method_that_does_not_beat_the_random_baseline_beyond_the_spread_is_marked():
    records = [
        *(pruning_record(s, "random", 0.80 + 0.01 * s, 0.30 + 0.01 * s) for s in range(3)),
        *(pruning_record(s, "magnitude", 0.95 + 0.01 * s, 0.31 + 0.01 * s) for s in range(3)),
    ]
    spec = LeaderboardSpec(
        ("accuracy", "accuracy_at_0.5", "accuracy_at_0.9"),
        ("method",),
        baseline={"method": "random"},
        baseline_metrics=("accuracy_at_0.5", "accuracy_at_0.9"),
    )
    table = build_table(records, spec)
    verdicts = dict(zip(table.summary["method"], table.summary["vs random"]))
    assert verdicts == {"random": "", "magnitude": "not beyond spread: accuracy_at_0.9"}
    assert "vs random" in wide_table(table).columns
    better = [r for r in records if r.config["method"] == "random"] + [
        pruning_record(s, "magnitude", 0.95 + 0.01 * s, 0.60 + 0.01 * s) for s in range(3)
    ]
    table = build_table(better, replace(spec, metrics=("accuracy_at_0.5",), rank_by="accuracy_at_0.5"))
    assert dict(zip(table.summary["method"], table.summary["vs random"]))["magnitude"] == "beats"


COMMITTED = Path(__file__).resolve().parents[1] / "leaderboards" / "records"


def committed_tables():
    """The leaderboard of every suite with committed records, as ``acn-bench leaderboard`` builds it."""
    from acn_bench.suites import get_suite, list_suites

    for name in list_suites():
        if (COMMITTED / name).is_dir():
            suite = get_suite(name)
            yield suite, build_table(load_records(COMMITTED, name), LeaderboardSpec.of(suite))


def test_compact_terminal_tables_fit_120_characters_with_every_row_on_one_line():
    for suite, table in committed_tables():
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(leaderboard_rich(table))
        lines = console.export_text().splitlines()
        assert max(map(len, lines)) <= 120, suite.name
        for heading, compact in compact_tables(table):
            assert " ".join(heading.split()) in " ".join(" ".join(lines).split())  # a long heading wraps
            for _, row in compact.iterrows():  # no cell wrapped or cut: the row's cells in order on one line
                cells = r"\s+".join(re.escape(str(cell)) for cell in row if str(cell))
                assert any(re.search(cells, line) for line in lines), (suite.name, list(row))
        assert "…" not in console.export_text()


def test_compact_markdown_has_at_most_ten_columns_and_the_wide_view_and_csv_every_metric(tmp_path):
    for suite, table in committed_tables():
        md, csv = write_leaderboard(table, tmp_path)
        headers = [line for line in md.read_text().splitlines() if line.startswith("|") and "---" not in line][::1]
        assert headers and all(line.count("|") - 1 <= 10 for line in headers), suite.name
        assert "--columns all" in md.read_text()
        wide = leaderboard_markdown(table, wide=True)
        header = wide.splitlines()[2]
        assert all(f" {metric} " in header for metric in suite.metrics if f"{metric}_mean" in table.summary), suite.name
        assert "commits" in header and "dirty" in header
        columns = csv.read_text().splitlines()[0].split(",")
        assert {f"{m}_mean" for m in suite.metrics} & set(table.summary.columns) <= set(columns)
        assert {"commits", "dirty", "regime", "paper", "Δ vs paper"} <= set(columns)


def test_a_compact_table_per_setup_merges_the_keys_and_keeps_the_flags_and_the_paper_value():
    measured = [make_record(seed=s, accuracy=0.90 + 0.02 * s) for s in range(2)]
    measured += [make_record(seed=s, connectivity="residual", accuracy=0.11) for s in range(2)]  # near chance
    for record in measured:
        record.environment = {
            "device": "cpu",
            "git_commit": "a" * 40,
            "git_dirty": record.backbone["connectivity"] == "acn",
        }
        record.dataset["num_classes"] = 10  # chance: 10%
    paper = make_record(accuracy=0.93)
    paper.source, paper.profile, paper.run_id = "paper", "paper", "paper-acn"
    table = build_table([*measured, paper], LeaderboardSpec(("accuracy", "cutoff_layer"), key_metrics=("accuracy",)))
    (paper_heading, paper_rows), (heading, rows) = compact_tables(table)
    assert paper_heading.startswith("digits: the paper's numbers") and "backbone=mixer_small, depth=8" in paper_heading
    assert heading.startswith("digits (sklearn), quick profile, cpu")
    assert list(rows.columns) == ["rank", "conn", "n", "acc", "paper (Δ)", "notes"]  # cutoff only in the wide view
    assert rows.to_dict("records") == [
        {
            "rank": "1",
            "conn": "acn",
            "n": "2",
            "acc": "91.00 ± 1.41",
            "paper (Δ)": "93.00 (-2.00)",
            "notes": "dirty tree",
        },
        {"rank": "–", "conn": "residual", "n": "2", "acc": "11.00", "paper (Δ)": "", "notes": "near chance"},
    ]
    assert list(paper_rows.columns) == ["conn", "n", "acc"]  # empty columns left out


def test_compact_headers_abbreviate_metric_names():
    assert [short_label(m) for m in ("truncated_accuracy", "accuracy_at_0.5", "salt_pepper_0.05_accuracy")] == [
        "trunc acc",
        "acc@0.5",
        "s&p 0.05 acc",
    ]
