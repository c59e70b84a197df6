"""Robustness, low-data and transfer suites end to end (smoke profile, real digits), plus bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from acn_bench.cli import main
from acn_bench.results import load_records
from acn_bench.suites import RunContext, get_suite


def records(out, suite):
    return [json.loads(p.read_text()) for p in sorted((out / suite).glob("*.json"))]


def run(*argv):
    return main(["run", *argv, "--profile", "smoke", "--no-progress"])


def test_robustness_reports_every_corruption_level_and_reloads_the_twin_as_a_checkpoint(tmp_path):
    out = tmp_path / "out"
    assert run("robustness", "--out", str(out), "--set", "corruptions=gaussian:0.2;salt_pepper:0.05") == 0
    recs = records(out, "robustness")
    assert {r["backbone"]["connectivity"] for r in recs} == {"residual", "acn"}
    for rec in recs:
        metrics = rec["metrics"]
        assert set(rec["history"]["probe_under_noise"]) == {"clean", "gaussian_0.2", "salt_pepper_0.05"}
        assert metrics["gaussian_0.2_relative"] == pytest.approx(metrics["gaussian_0.2_accuracy"] / metrics["accuracy"])
        assert rec["config"]["noise_space"] == "pixel" and len(rec["probe"]) == rec["backbone"]["depth"] + 1

    acn = next(r for r in recs if r["backbone"]["connectivity"] == "acn")
    model = out / ".twins" / f"{acn['history']['twin']['key']}.pt"  # the twin store's file is a checkpoint
    again = tmp_path / "again"
    args = ["--out", str(again), "--checkpoint", str(model), "--set", "corruptions=gaussian:0.2;salt_pepper:0.05"]
    assert run("robustness", *args, "--only", "connectivity=acn") == 0
    reloaded = records(again, "robustness")[0]
    assert reloaded["metrics"]["gaussian_0.2_accuracy"] == acn["metrics"]["gaussian_0.2_accuracy"]  # same seeded noise
    assert "train" not in reloaded["config"]

    assert run("robustness", *args, "--only", "connectivity=residual") == 2  # a checkpoint of another architecture
    assert main(["leaderboard", "robustness", "--records", str(out)]) == 0
    assert (out / "robustness_gaussian.png").stat().st_size > 0


@pytest.mark.parametrize(
    "setting, message",
    [
        ("corruptions=gaussian:-0.1", "sigma must be >= 0"),
        ("corruptions=salt_pepper:1.5", "must be in [0, 1]"),
        ("corruptions=fog:0.1", "unknown corruption 'fog'"),
        ("noise_space=latent", "unknown noise_space 'latent'"),
    ],
)
def test_robustness_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, setting, message):
    assert run("robustness", "--out", str(tmp_path), "--set", setting) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not any(tmp_path.rglob("*"))


def test_low_data_sweeps_images_per_class(tmp_path, capsys):
    out = tmp_path / "out"
    assert run("low-data", "--out", str(out), "--only", "connectivity=acn") == 0
    recs = records(out, "low_data")
    assert sorted(r["metrics"]["train_size"] for r in recs) == [50, 200]
    assert all(r["config"]["subset"] == "random" and 0 <= r["metrics"]["cutoff_layer"] <= 4 for r in recs)
    assert {r["metrics"]["steps"] for r in recs} == {16}  # the same optimiser steps at every N, exactly
    assert [len(r["history"]["epochs"]) for r in sorted(recs, key=lambda r: r["metrics"]["train_size"])] == [16, 3]
    assert main(["leaderboard", "low_data", "--records", str(out)]) == 0
    assert "per_class" in capsys.readouterr().out
    assert (out / "low_data_accuracy.png").is_file()
    figures = {f.name: f for f in get_suite("low_data").figures(load_records(out, "low_data"))}
    (line,) = figures["low_data_accuracy"].series.values()  # one line per model, though each N trains other epochs
    assert sorted(line) == [5, 20]

    assert run("low-data", "--out", str(tmp_path / "bad"), "--set", "per_class=500") == 2
    assert re.search(r"smallest class of digits train has \d+ images", " ".join(capsys.readouterr().err.split()))
    assert not (tmp_path / "bad" / "low_data").exists() or not list((tmp_path / "bad" / "low_data").glob("*.json"))


def test_low_data_draws_another_subset_per_seed_unless_fixed():
    suite = get_suite("low_data")
    context = RunContext(out_dir=Path("unused"), device=torch.device("cpu"), log=lambda _: None)

    def chosen(seed: int, subset: str) -> torch.Tensor:
        config = {"dataset": "digits", "per_class": 5, "subset": subset, "seed": seed, "profile": "smoke"}
        return suite.load_data(config, suite.recipe("smoke", "digits"), context).train.images

    assert not torch.equal(chosen(0, "random"), chosen(1, "random"))
    assert torch.equal(chosen(0, "random"), chosen(0, "random"))
    assert torch.equal(chosen(0, "first"), chosen(1, "first"))


def test_transfer_reuses_the_pretrained_source_for_every_fine_tuning_mode(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        run("transfer", "--out", str(out), "--only", "connectivity=acn", "--set", "mode=full", "--set", "mode=linear")
        == 0
    )
    assert capsys.readouterr().out.count("reusing the trained model") == 1
    recs = records(out, "transfer")
    assert {r["config"]["mode"] for r in recs} == {"full", "linear"}
    for rec in recs:
        assert rec["metrics"]["source_accuracy"] > 0 and len(rec["history"]["source_probe"]) == 5
        assert rec["metrics"]["source_chance_accuracy"] == 0.1 and len(rec["history"]["source_val_probe"]) == 5
    assert len(list((out / "transfer" / "sources").glob("*.pt"))) == 1
    full, linear = sorted(recs, key=lambda r: r["config"]["mode"])
    assert full["metrics"]["accuracy"] != linear["metrics"]["accuracy"]


def test_transfer_puts_a_from_scratch_baseline_beside_the_transferred_twin(tmp_path, capsys):
    out = tmp_path / "out"
    assert run("transfer", "--out", str(out), "--only", "connectivity=acn") == 0  # modes: full and scratch
    full, scratch = sorted(records(out, "transfer"), key=lambda r: r["config"]["mode"])
    assert (full["config"]["mode"], scratch["config"]["mode"]) == ("full", "scratch")
    assert full["config"]["train"] == scratch["config"]["train"]  # the same fine-tuning recipe
    assert full["backbone"]["params"] == scratch["backbone"]["params"]
    assert full["metrics"]["accuracy"] != scratch["metrics"]["accuracy"]  # the pre-trained start matters


def test_vit_transfers_from_streamed_class_folders(tmp_path, digit_folders, capsys):
    """ImageNet -> CIFAR-10 with ViT, in small: the source is streamed from class folders (the imagenet
    suite's recipe) and the grey digits target is fitted to the source's RGB resolution."""
    out = tmp_path / "out"
    source = f"imagefolder:{digit_folders}"
    argv = ["transfer", "--out", str(out), "--backbones", "vit_tiny", "--set", f"source_dataset={source}"]
    assert run(*argv, "--only", "connectivity=acn", "--only", "mode=full") == 0
    (record,) = records(out, "transfer")
    assert record["backbone"]["name"] == "vit_tiny" and record["dataset"]["image_shape"] == [3, 16, 16]
    assert record["config"]["source_dataset"] == source and record["metrics"]["source_chance_accuracy"] == 0.1
    assert 0 <= record["metrics"]["accuracy"] <= 1 and len(record["probe"]) == record["backbone"]["depth"] + 1


def test_transfer_refuses_a_target_with_other_channels(tmp_path, capsys):
    folder = tmp_path / "rgb"
    for split in ("train", "test"):
        for label in ("a", "b"):
            (folder / split / label).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / split / label / f"{i}.png")
    out = tmp_path / "out"
    assert run("transfer", "--dataset", f"imagefolder:{folder}", "--out", str(out)) == 2
    assert "has 3 channel(s) but the source model takes 1" in " ".join(capsys.readouterr().err.split())
    assert not list(out.rglob("*.json"))
