"""``acn-bench run --jobs N``: N runs at once in worker processes, the same records as one after the other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from acn_bench.cli import auto_jobs, main
from acn_bench.jobs import run_log_path, spread_shared, threads_per_job
from acn_bench.suites import registry

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["run", "compression", "--profile", "smoke", "--device", "cpu", "--no-progress"]
TIMING_METRICS = ("latency_ms", "truncated_latency_ms", "latency_speedup", "latency_speedup_std")
TIMING_EPOCH_KEYS = ("seconds", "samples_per_s", "model_tflops", "mfu")

FAILING_SUITE = """
from acn_bench.errors import UserError
from acn_bench.suites import register_suite
from acn_bench.benchmarks.compression import RECIPES
from acn_bench.suites import ImageSuite, Measured


@register_suite
class FailingSuite(ImageSuite):
    name = "{name}"
    description = "accuracy only; seed 1 fails"
    metrics = ("accuracy",)
    datasets = ("digits",)
    recipes = RECIPES

    def load_data(self, config, recipe, context):
        if config["seed"] == 1 and {user_error}:
            raise UserError("seed 1 has no data here")
        return super().load_data(config, recipe, context)

    def measure(self, config, recipe, trained, context):
        if config["seed"] == 1:
            raise RuntimeError("measurement broke on seed 1")
        return Measured({{}})
"""


pytestmark = pytest.mark.usefixtures("clean_registry")  # suites registered by a test leave with it


def records(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def comparable(record: dict) -> dict:
    """A record without what depends on the clock or the process (timings, environment, creation time, hash)."""
    kept = {k: v for k, v in record.items() if k not in ("timings", "environment", "created", "content_hash")}
    kept["metrics"] = {k: v for k, v in record["metrics"].items() if k not in TIMING_METRICS}
    kept["history"] = dict(
        record["history"],
        epochs=[{k: v for k, v in e.items() if k not in TIMING_EPOCH_KEYS} for e in record["history"]["epochs"]],
    )
    return kept


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


@pytest.mark.slow
def test_two_jobs_write_the_records_of_one_job(tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(threads_per_job(2))  # the workers' thread count: the same float reductions
    try:
        assert main([*SMOKE, "--out", str(tmp_path / "one")]) == 0
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    assert main([*SMOKE, "--out", str(tmp_path / "two"), "--jobs", "3"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "--jobs 3 is more than the 2 planned run(s): running 2 at once" in printed
    assert "[1/2] done: compression:" in printed and "[2/2] done: compression:" in printed
    assert "2 record(s) written" in printed and "0 failed" in printed
    assert "epoch 1:" not in printed  # the epoch lines went to the runs' logs

    one, two = records(tmp_path / "one" / "compression"), records(tmp_path / "two" / "compression")
    assert sorted(one) == sorted(two) and len(one) == 2
    for name, record in one.items():
        assert comparable(two[name]) == comparable(record), name
        assert two[name]["environment"]["cpu_threads"] == threads_per_job(2)
        log = run_log_path(tmp_path / "two", "compression", record["run_id"]).read_text()
        assert "epoch 2:" in log and record["backbone"]["connectivity"] in log
    assert not list((tmp_path / "two" / "compression" / ".checkpoints").glob("*.pt"))

    # --resume skips both in the workers too
    assert main([*SMOKE, "--out", str(tmp_path / "two"), "--jobs", "2", "--resume"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("done already, skipped") == 2 and "0 record(s) written" in printed


@pytest.mark.slow
@pytest.mark.parametrize("user_error, status", [(False, 1), (True, 2)])
def test_a_failing_run_lets_the_others_finish_and_fails_the_command(tmp_path, capsys, user_error, status):
    name = f"failing_{'user' if user_error else 'crash'}"
    plugin = tmp_path / f"{name}.py"
    plugin.write_text(FAILING_SUITE.format(name=name, user_error=user_error))
    out = tmp_path / "out"
    argv = ["run", name, "--plugin", str(plugin), "--profile", "smoke", "--only", "connectivity=acn"]
    assert main([*argv, "--seeds", "2", "--jobs", "2", "--device", "cpu", "--no-progress", "--out", str(out)]) == status

    written = records(out / name)  # the plugin suite ran in the workers: seed 0 has its record
    assert [r["seed"] for r in written.values()] == [0] and written[next(iter(written))]["suite"] == name
    captured = capsys.readouterr()
    printed, errors = " ".join(captured.out.split()), " ".join(captured.err.split())
    assert "1 record(s) written" in printed and "1 failed" in printed
    failed = [line for line in captured.out.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "seed=1" in failed[0]
    message = "UserError: seed 1 has no data here" if user_error else "RuntimeError: measurement broke on seed 1"
    assert message in errors and "seed=1" in errors and ".logs" in errors
    (log,) = [p for p in (out / name / ".logs").glob("*.log") if "seed=1" in p.read_text()]
    assert message.split(": ")[1] in log.read_text() and "Traceback" in log.read_text()


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_jobs_exit_2_and_write_nothing(tmp_path, capsys, value):
    out = tmp_path / "out"
    assert main([*SMOKE, "--jobs", value, "--out", str(out)]) == 2
    assert f"--jobs takes auto or a whole number of runs at once >= 1 (e.g. --jobs 2), got {value!r}" in " ".join(
        capsys.readouterr().err.split()
    )
    assert files_under(out) == []


def test_jobs_are_refused_under_torchrun(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    out = tmp_path / "out"
    assert main([*SMOKE, "--jobs", "2", "--out", str(out)]) == 2
    assert "--jobs 2 cannot run under torchrun" in " ".join(capsys.readouterr().err.split())
    assert files_under(out) == []


def test_auto_jobs_is_one_per_core_for_cpu_grids_of_real_runs_else_one(monkeypatch):
    monkeypatch.setattr("acn_bench.jobs.available_cores", lambda: 2)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert auto_jobs("quick", cpu, runs=6) == 2 and auto_jobs("paper", cpu, runs=6) == 2
    assert auto_jobs("quick", cpu, runs=1) == 1  # never more jobs than runs
    assert auto_jobs("smoke", cpu, runs=6) == 1  # a worker's start costs more than a smoke run
    assert auto_jobs("quick", cuda, runs=6) == 1  # sharing one GPU is opt-in
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert auto_jobs("quick", cpu, runs=6) == 1  # torchrun: every process trains a slice of one run


def test_runs_sharing_a_trained_model_do_not_start_side_by_side():
    transfer = registry.get_suite("transfer")
    grid = [dict(c, seed=s, profile="quick") for c in transfer.grid("quick", "cifar10") for s in range(3)]
    assert [c["mode"] for c in grid[:6]] == ["full"] * 3 + ["scratch"] * 3  # the grid's order: seeds innermost
    ordered = spread_shared(grid, transfer.shared_model)
    assert sorted(map(str, ordered)) == sorted(map(str, grid))  # the same runs
    first = ordered[: len(grid) // 2]  # every source model's first run, before any run that reuses one
    assert len({transfer.shared_model(c) for c in first}) == len(first) == 6
    assert {c["mode"] for c in first} == {"full"} and {c["mode"] for c in ordered[6:]} == {"scratch"}
    same_source = {k: v for k, v in grid[0].items() if k != "mode"}
    assert transfer.shared_model(grid[0]) == transfer.shared_model({**same_source, "mode": "scratch"})
    assert transfer.shared_model(grid[0]) != transfer.shared_model({**grid[0], "seed": 1})
    compression = registry.get_suite("compression")  # shares nothing: the grid's order is kept
    plain = [dict(c, seed=0) for c in compression.grid("quick", "digits")]
    assert spread_shared(plain, compression.shared_model) == plain


def test_threads_split_the_cores():
    assert [threads_per_job(jobs, cores=8) for jobs in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_leaves_no_record_and_exits_130(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "acn_bench.cli", "run", "compression", "--profile", "quick", "--seeds", "2"]
    command += ["--only", "connectivity=acn", "--jobs", "2", "--device", "cpu", "--no-progress", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # a session of its own, signalled as a whole: what Ctrl-C in a terminal does to the parent and its workers
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        logs = out / "compression" / ".logs"
        while time.monotonic() < deadline and process.poll() is None:
            started = [p for p in logs.glob("*.log")] if logs.is_dir() else []
            if len(started) == 2 and all("compression: dataset=" in p.read_text() for p in started):
                break
            time.sleep(0.5)
        assert process.poll() is None, process.communicate()
        time.sleep(2)  # well inside the first epoch of a quick run
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=180)  # generous: a loaded machine stops slowly
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr[-3000:]
    assert "interrupted: 0 of 2 run(s) finished" in " ".join(stdout.split())
    assert "Traceback" not in stderr, stderr[-3000:]
    leftovers = [p for p in files_under(out) if p.suffix in (".json", ".tmp")]
    assert leftovers == []


def _stored_tiny_model(folder: str, marker_dir: str) -> str:
    """Worker: fetch a model from the store ``folder``; the training leaves one marker file per call."""
    from acn_bench.backbones import create_backbone
    from acn_bench.suites import RunContext
    from acn_bench.suites.model_store import stored_model

    def train(checkpoint):
        (Path(marker_dir) / f"trained-{os.getpid()}").touch()
        time.sleep(1.0)  # long enough for the other process to reach the lock while this one trains
        model = create_backbone("mixer_tiny", img_size=8, patch_size=4, in_chans=1, num_classes=10, connectivity="acn")
        return model, {"accuracy": 0.5}

    context = RunContext(out_dir=Path(marker_dir), device=torch.device("cpu"), log=lambda _: None)
    stored = stored_model(Path(folder), {"model": "tiny"}, train, context, {"connectivity": "acn"})
    return json.dumps(stored.extra)


def test_a_model_shared_by_parallel_runs_is_trained_once(tmp_path):
    import multiprocessing

    folder = tmp_path / "sources"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        extras = pool.starmap(_stored_tiny_model, [(str(folder), str(tmp_path))] * 2)
    assert len(list(tmp_path.glob("trained-*"))) == 1
    assert [json.loads(e) for e in extras] == [{"accuracy": 0.5}] * 2
    assert [p.suffix for p in folder.iterdir()] == [".pt"]  # the lock file went with the lock
