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


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    assert main([*RUN, "--out", str(tmp_path / "one")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
              "-m", "acn_bench.cli", *RUN, "--out", str(tmp_path / "two")]
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
