"""The ``standard`` profile, the training-budget sweep (``--set epochs=E``) and the twin store."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from acn_bench.benchmarks.compression import budget_figures
from acn_bench.benchmarks.recipes import STANDARD_CIFAR10
from acn_bench.cli import main
from acn_bench.results import load_records
from acn_bench.suites import get_suite, plan_runs
from acn_bench.suites.recipe import model_recipe

ROOT = Path(__file__).resolve().parents[1]
IMAGE_SUITES = ("compression", "robustness", "early_exit", "pruning", "low_data", "transfer", "continual")


def records(out, suite):
    return [json.loads(p.read_text()) for p in sorted((out / suite).glob("*.json"))]


def run(*argv):
    return main(["run", *argv, "--profile", "smoke", "--no-progress"])


@pytest.mark.parametrize("suite", IMAGE_SUITES)
def test_standard_profile_runs_the_cifar10_suites_on_cifar10(suite):
    configs = plan_runs(get_suite(suite), "standard", seeds=3)  # no dataset named: CIFAR-10
    assert {c["dataset"] for c in configs} == {"cifar10"}
    assert {c["connectivity"] for c in configs} == {"residual", "acn"}
    assert {c["seed"] for c in configs} == {0, 1, 2}


@pytest.mark.parametrize("suite", ["compression", "robustness", "early_exit", "pruning", "low_data"])
def test_standard_twins_train_with_the_papers_augmentation_and_optimiser(suite):
    recipe = model_recipe(get_suite(suite).recipe("standard", "cifar10"))
    paper = get_suite("compression").recipe("paper", "cifar10").train
    assert recipe.max_train is None and recipe.max_test is None  # the whole sets (minus validation)
    for field in ("batch_size", "lr", "weight_decay", "label_smoothing", "cutmix_prob", "autoaugment", "clip_grad"):
        assert getattr(recipe.train, field) == getattr(paper, field), field
    if suite != "low_data":
        assert recipe is STANDARD_CIFAR10  # one recipe, so one trained twin serves every suite


@pytest.mark.parametrize("suite", ["compression", "robustness", "pruning", "low_data", "continual"])
def test_standard_profile_on_a_dataset_it_does_not_define_names_the_profiles_it_has(suite, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", suite, "--profile", "standard", "--dataset", "digits", "--out", str(out), "--no-progress"])
    assert code == 2
    message = capsys.readouterr().err
    assert "standard profile" in message and "'digits'" in message and "smoke, quick" in message
    assert not out.exists()  # nothing written


def test_set_epochs_sweeps_the_training_budget_and_rejects_bad_values(tmp_path, capsys):
    suite = get_suite("compression")
    configs = plan_runs(suite, "smoke", "digits", axes={"epochs": [1, 3]}, only={"connectivity": ["acn"]})
    assert [c["epochs"] for c in configs] == [1, 3]
    assert [suite.run_recipe(c).train.epochs for c in configs] == [1, 3]
    plain = plan_runs(suite, "smoke", "digits", only={"connectivity": ["acn"]})[0]
    assert "epochs" not in plain and suite.run_recipe(plain).train.epochs == 2  # the profile's own runs keep their id
    assert len({suite.identity(c) for c in [plain, *configs]}) == 3
    again = plan_runs(suite, "smoke", "digits", axes={"epochs": [2]}, only={"connectivity": ["acn"]})
    assert again == [plain]  # the profile's own budget set explicitly is the profile's run, not a copy

    out = tmp_path / "out"
    assert run("compression", "--set", "epochs=0", "--out", str(out)) == 2
    assert "--set epochs takes a whole number" in capsys.readouterr().err
    assert run("low_data", "--set", "epochs=3", "--out", str(out)) == 2  # its step budget sets the epochs
    assert "unknown grid axis of suite 'low_data' 'epochs'" in capsys.readouterr().err
    assert not out.exists()


def test_budget_sweep_records_and_figures(tmp_path):
    out = tmp_path / "out"
    assert run("compression", "--set", "epochs=1", "--set", "epochs=2", "--out", str(out)) == 0
    recs = records(out, "compression")
    budgets = sorted((r["config"].get("epochs", 0), r["config"]["train"]["epochs"]) for r in recs)
    assert budgets == [(0, 2), (0, 2), (1, 1), (1, 1)]  # epochs=2 is the smoke profile's own: no epochs key
    assert {len(r["history"]["epochs"]) for r in recs} == {1, 2}

    loaded = load_records(out, "compression")
    figures = {f.name: f for f in budget_figures("compression", loaded)}
    assert set(figures) == {"compression_accuracy_vs_epochs", "compression_cutoff_vs_epochs"}
    lines = figures["compression_accuracy_vs_epochs"].series
    assert len(lines) == 2 and all(set(points) == {1, 2} for points in lines.values())  # one line per twin
    one_budget = [r for r in loaded if r.config.get("epochs") == 1]
    assert budget_figures("compression", one_budget) == []  # one budget: no sweep
    other = [dataclasses.replace(r, config={**r.config, "cutoff_delta": 0.02}) for r in loaded]
    lines = budget_figures("compression", [*loaded, *other])[0].series
    assert len(lines) == 4 and all(len(v) == 1 for p in lines.values() for v in p.values())  # never pooled

    assert main(["leaderboard", "compression", "--records", str(out)]) == 0
    assert (out / "compression_accuracy_vs_epochs.png").stat().st_size > 0


def test_a_twin_is_trained_once_and_measured_by_every_suite(tmp_path):
    out = tmp_path / "out"
    only = ["--only", "connectivity=acn", "--out", str(out)]
    assert run("compression", *only) == 0
    assert run("robustness", *only, "--set", "corruptions=gaussian:0.2") == 0
    assert run("early_exit", *only, "--only", "exit_mode=inherent") == 0
    assert run("pruning", *only, "--only", "method=magnitude", "--set", "sparsities=0,0.5") == 0

    trained = records(out, "compression")[0]
    assert trained["history"]["twin"]["trained_by_this_run"] is True
    assert trained["timings"]["run_s"] > trained["timings"]["train_s"] > 0  # the run's wall time holds its training
    assert len(list((out / ".twins").glob("*.pt"))) == 1
    for suite in ("robustness", "early_exit", "pruning"):
        reused = records(out, suite)[0]
        twin = reused["history"]["twin"]
        assert twin["key"] == trained["history"]["twin"]["key"] and twin["trained_by_this_run"] is False, suite
        assert twin["trained_in"]["git_commit"] == trained["environment"]["git_commit"], suite  # where it was made
        assert twin["trained_in"]["device"] == "cpu", suite
        assert reused["metrics"]["accuracy"] == trained["metrics"]["accuracy"], suite  # the same model, tested
        assert reused["metrics"]["best_epoch"] == trained["metrics"]["best_epoch"], suite
        assert reused["history"]["epochs"] == trained["history"]["epochs"], suite  # its training, as trained
        assert reused["config"]["train"] == trained["config"]["train"], suite

    assert run("early_exit", *only, "--only", "exit_mode=shared") == 0  # exit heads: a model of its own
    shared = next(r for r in records(out, "early_exit") if r["config"]["exit_mode"] == "shared")
    assert "twin" not in shared["history"]
    assert len(list((out / ".twins").glob("*.pt"))) == 1


@pytest.mark.slow
def test_standard_evidence_script_runs_its_steps_and_reuses_the_twins(tmp_path):
    """The script the standard evidence is made with, tried on the smoke profile (real digits)."""
    out = tmp_path / "records"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHON": sys.executable,
        "PROFILE": "smoke",
        "DATASET": "digits",
        "SWEEP_EPOCHS": "1 3",
        "CONTINUAL_DEPTHS": "2,3",
        "SEEDS": "1",
        "SWEEP_SEEDS": "1",
        "JOBS": "1",
        "ACN_BENCH_RESULTS": str(out),
    }
    script = ROOT / "workflows" / "standard_evidence.sh"
    done = subprocess.run(
        ["bash", str(script), "twins", "noise exits", "sweep", "continual"], cwd=ROOT, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    twins = records(out, "compression")
    assert sorted(r["config"]["train"]["epochs"] for r in twins) == [1, 1, 2, 2, 3, 3]  # the profile's 2, the sweep
    for suite in ("robustness", "early_exit"):
        assert [r["history"]["twin"]["trained_by_this_run"] for r in records(out, suite)] == [False, False], suite
    assert len(list((out / ".twins").glob("*.pt"))) == 6
    continual = records(out, "continual")
    assert sorted((r["config"]["depth"], r["config"]["strategy"]) for r in continual) == [
        (2, "naive"),
        (2, "naive"),
        (3, "naive"),
        (3, "naive"),
    ]  # both twins at the depths asked for, naive only

    bad = subprocess.run(["bash", str(script), "bogus"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown step 'bogus'" in bad.stderr

    vit = ROOT / "workflows" / "vit_evidence.sh"  # the ViT family beside the Mixer's, into the same records
    done = subprocess.run(["bash", str(vit), "quick", "standard"], cwd=ROOT, env={**env, "SUITES": "low_data"})
    assert done.returncode == 0
    vits = [r for suite in ("compression", "robustness", "early_exit", "low_data") for r in records(out, suite)]
    vits = [r for r in vits if r["backbone"]["name"] == "vit_tiny"]
    assert (
        sorted(r["suite"] for r in vits)
        == ["compression"] * 2 + ["early_exit"] * 2 + ["low_data"] * 4 + ["robustness"] * 2
    )
    assert all(r["history"]["twin"]["trained_by_this_run"] is False for r in vits if r["suite"] == "robustness")


def test_an_interrupted_twin_resumes_in_any_suite_and_starts_afresh_without_resume(tmp_path, monkeypatch, capsys):
    """A twin whose training ended before it was saved: ``--resume`` in another suite continues it (its
    checkpoint belongs to the twin, not to the suite that started it); without it, training starts over."""
    import acn_bench.suites.model_store as model_store

    out = tmp_path / "out"
    only = ["--only", "connectivity=acn", "--out", str(out)]

    def interrupt_before_saving() -> None:
        def fail(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(model_store, "save_backbone", fail)
        with pytest.raises(KeyboardInterrupt):
            run("compression", *only)
        monkeypatch.undo()
        assert len(list((out / ".twins").glob("*.ckpt"))) == 1 and not list((out / ".twins").glob("*.pt"))

    interrupt_before_saving()
    capsys.readouterr()
    assert run("robustness", *only, "--resume") == 0
    assert "epoch 1:" not in capsys.readouterr().out  # continued from the finished epochs, nothing retrained
    assert list((out / ".twins").glob("*")) != [] and not list((out / ".twins").glob("*.ckpt"))
    assert records(out, "robustness")[0]["history"]["twin"]["trained_by_this_run"] is True

    for saved in (out / ".twins").glob("*.pt"):
        saved.unlink()
    interrupt_before_saving()
    capsys.readouterr()
    assert run("robustness", *only) == 0  # no --resume: the stale checkpoint is not continued
    assert "epoch 1:" in capsys.readouterr().out
