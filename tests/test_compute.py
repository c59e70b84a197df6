"""The compute table: what the measured records cost, without counting a shared model twice."""

from __future__ import annotations

import pytest

from acn_bench.cli import main
from acn_bench.results import Record, run_id, write_record
from acn_bench.results.compute import compute_table

HOUR = 3600.0


def timed_record(
    suite, seed, timings, created, threads=1, device="cpu", profile="standard", twin=None, source="measured"
):
    config = {"suite": suite, "seed": seed}
    return Record(
        suite=suite,
        profile=profile,
        dataset={"name": "cifar10", "source": "jpeg-archive"},
        backbone={"name": "mixer_small", "connectivity": "acn", "depth": 8, "params": 100, "config": {}},
        seed=seed,
        config=config,
        metrics={"accuracy": 0.7},
        run_id=run_id(config),
        timings=timings,
        environment={"device": device, "cpu_threads": threads, "world_size": 1, "cuda": "NVIDIA H200"},
        history={"twin": twin} if twin else {},
        source=source,
        created=created,
    )


def hours_of(table, suite, profile="standard"):
    row = table[(table.suite == suite) & (table.profile == profile)]
    assert len(row) == 1, (suite, profile)
    return row.iloc[0]


def test_run_s_is_the_cost_times_threads_and_a_loaded_twin_is_not_paid_again():
    trained = timed_record(
        "compression", 0, {"run_s": HOUR, "train_s": 0.9 * HOUR, "eval_s": 0.1 * HOUR}, "2026-12-01T10:00:00+00:00"
    )
    loaded = timed_record(
        "robustness",
        0,
        {"run_s": 0.25 * HOUR, "train_s": 0.9 * HOUR, "eval_s": 0.1 * HOUR, "noise_eval_s": 0.2 * HOUR},
        "2026-12-01T11:00:00+00:00",
        threads=2,
        twin={"key": "k", "trained_by_this_run": False},
    )
    table = compute_table([trained, loaded])
    assert hours_of(table, "compression")["hours"] == pytest.approx(1.0)
    assert hours_of(table, "robustness")["hours"] == pytest.approx(0.5)  # 0.25 h wall × 2 threads
    assert hours_of(table, "robustness")["estimated"] == 0


def test_records_without_run_s_are_estimated_counting_a_shared_source_once():
    source = 2 * HOUR
    full = timed_record(
        "transfer",
        0,
        {"source_train_s": source, "train_s": 60.0, "samples_per_s": 300.0},
        "2026-12-01T10:00:00+00:00",
        profile="quick",
    )
    scratch = timed_record(
        "transfer",
        0,
        {"source_train_s": source, "train_s": 60.0 + 1e-6, "eval_s": 30.0},
        "2026-12-01T10:05:00+00:00",
        profile="quick",
    )
    loaded_twin = timed_record(
        "early_exit",
        0,
        {"train_s": 5 * HOUR, "eval_s": 100.0, "exit_eval_s": 0.5 * HOUR},
        "2026-12-01T10:10:00+00:00",
        profile="quick",
        twin={"key": "k", "trained_by_this_run": False},
    )
    untimed = timed_record("pruning", 0, {}, "2026-12-01T10:20:00+00:00", profile="quick")
    paper = timed_record("compression", 0, {"train_s": 99 * HOUR}, "2026-12-01T10:30:00+00:00", source="paper")
    table = compute_table([scratch, full, loaded_twin, untimed, paper])
    transfer = hours_of(table, "transfer", "quick")
    assert transfer["hours"] == pytest.approx((source + 60.0 + 60.0 + 30.0) / HOUR, rel=1e-6)
    assert (transfer["runs"], transfer["estimated"], transfer["untimed"]) == (2, 2, 0)
    assert hours_of(table, "early_exit", "quick")["hours"] == pytest.approx(
        0.5
    )  # the twin's own training is not this run's
    pruning = hours_of(table, "pruning", "quick")
    assert (pruning["hours"], pruning["estimated"], pruning["untimed"]) == (0.0, 0, 1)
    assert "compression" not in set(table.suite)  # paper records cost nothing


def test_gpu_runs_are_counted_in_gpu_hours_apart_from_cpu_core_hours():
    cpu = timed_record("compression", 0, {"run_s": HOUR}, "2026-12-01T10:00:00+00:00", threads=2)
    gpu = timed_record("compression", 1, {"run_s": HOUR}, "2026-12-01T10:00:00+00:00", device="cuda:0")
    table = compute_table([cpu, gpu]).set_index("hardware")
    assert table.loc["cpu", ["hours", "unit"]].tolist() == [2.0, "core-h"]
    assert table.loc["NVIDIA H200", ["hours", "unit"]].tolist() == [1.0, "GPU-h"]


def test_the_leaderboard_writes_compute_md_beside_the_tables(tmp_path):
    records = tmp_path / "records"
    write_record(records, timed_record("compression", 0, {"run_s": 1.5 * HOUR}, "2026-12-01T10:00:00+00:00", threads=2))
    assert main(["leaderboard", "--records", str(records), "--tables", str(tmp_path / "tables")]) == 0
    text = (tmp_path / "tables" / "compute.md").read_text()
    assert "| compression | standard  | cifar10   | cpu        |      1 |" in text
    assert "- standard: 3.00 core-h" in text
