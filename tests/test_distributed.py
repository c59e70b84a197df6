"""Data-parallel training under torchrun: two CPU processes (gloo) train what one process trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from acn_bench import UserError
from acn_bench.cli import main
from acn_bench.training import TrainConfig, Trainer, distributed

RUN = ["run", "compression", "--profile", "smoke", "--only", "connectivity=acn", "--device", "cpu", "--no-progress"]


def only_record(out):
    (path,) = (out / "compression").glob("*.json")
    return json.loads(path.read_text())


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    assert main([*RUN, "--out", str(tmp_path / "one")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "acn_bench.cli",
        *RUN,
        "--out",
        str(tmp_path / "two"),
    ]
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("record(s) written") == 1  # only rank 0 reports and writes

    one, two = only_record(tmp_path / "one"), only_record(tmp_path / "two")
    assert one["run_id"] == two["run_id"]
    assert two["environment"]["world_size"] == 2 and one["environment"]["world_size"] == 1
    losses = [[epoch["train_loss"] for epoch in r["history"]["epochs"]] for r in (one, two)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    test_size = one["dataset"]["test_size"]
    assert two["probe"] == pytest.approx(one["probe"], abs=1.5 / test_size)  # at most one prediction flips
    assert not list((tmp_path / "two" / "compression" / ".checkpoints").glob("*.pt"))


def test_single_process_helpers_are_a_world_of_one():
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    assert distributed.gather_objects("x") == ["x"]


def test_torchrun_rejects_batches_that_do_not_split_and_custom_losses(digits_tensors, monkeypatch):
    from acn_bench.backbones import create_backbone

    monkeypatch.setattr(distributed, "world_size", lambda: 4)
    model = create_backbone("mixer_tiny", in_chans=1, img_size=8, patch_size=2)
    with pytest.raises(UserError, match="batch_size 30 does not split evenly over 4 processes"):
        Trainer(model, TrainConfig(epochs=1, batch_size=30), *digits_tensors)
    with pytest.raises(UserError, match="runs in one process only"):
        Trainer(model, TrainConfig(epochs=1, batch_size=32), *digits_tensors, objective=lambda m, x, y, c: c(m(x), y))


def test_the_continual_suite_refuses_torchrun(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["run", "continual", "--profile", "smoke", "--out", str(tmp_path)]) == 2
    assert "continual suite runs in one process" in capsys.readouterr().err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["imagenet", "glue"])
def test_streaming_and_text_suites_train_under_two_gloo_processes(tmp_path, digit_folders, text_data, suite):
    """Per-rank MixUp, dropout and MLM masks make these differ from one process by design; what must
    hold is that the ranks split the data, agree on the evaluation, and one record is written."""
    data = ["--dataset", f"imagefolder:{digit_folders}"] if suite == "imagenet" else ["--data-root", str(text_data)]
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "acn_bench.cli",
        "run",
        suite,
        "--profile",
        "smoke",
        "--only",
        "connectivity=acn",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(tmp_path / "two"),
        *data,
    ]
    done = subprocess.run(
        launch, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = (tmp_path / "two" / suite).glob("*.json")
    record = json.loads(path.read_text())
    assert record["environment"]["world_size"] == 2 and len(record["probe"]) == record["backbone"]["depth"] + 1
    assert all(0 <= value <= 1 for value in record["probe"]) and record["metrics"]["steps"] > 0
