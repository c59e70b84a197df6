"""The acn-bench command end to end: run, leaderboard, list, and every bad input (exit 2, nothing written)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from acn_bench.backbones import create_backbone
from acn_bench.cli import main
from speed import perf


def files_under(path):
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def test_smoke_run_writes_records_and_leaderboard(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["run", "compression", "--profile", "smoke", "--seeds", "2", "--out", str(out), "--no-progress"]) == 0
    records = sorted((out / "compression").glob("*.json"))
    assert len(records) == 4  # residual and acn, two seeds
    data = json.loads(records[0].read_text())
    for key in (
        "schema_version",
        "suite",
        "profile",
        "dataset",
        "backbone",
        "strategy",
        "seed",
        "metrics",
        "probe",
        "timings",
        "environment",
        "source",
        "config",
    ):
        assert key in data
    metrics = data["metrics"]
    assert 0 <= metrics["cutoff_layer"] <= data["backbone"]["depth"]
    assert metrics["truncated_params"] <= metrics["params"] and metrics["gflops"] > 0 and metrics["latency_ms"] > 0
    assert data["dataset"]["name"] == "digits" and data["dataset"]["source"] == "sklearn"
    assert len(data["probe"]) == data["backbone"]["depth"] + 1
    assert data["protocol"] == 2  # the image suites' version: batched AutoAugment
    printed = capsys.readouterr().out
    assert "4 record(s) written" in printed and "compression" in printed

    assert main(["run", "compression", "--profile", "smoke", "--seeds", "2", "--out", str(out), "--resume"]) == 0
    assert "0 record(s) written" in capsys.readouterr().out

    assert main(["leaderboard", "--records", str(out), "--tables", str(tmp_path / "tables")]) == 0
    table = (tmp_path / "tables" / "compression.md").read_text()
    assert "acn" in table and "residual" in table and "± " in table
    assert (tmp_path / "tables" / "compression.csv").read_text().count("\n") == 3  # header + two twins

    # a filtered view prints only the matching rows and never overwrites the full tables
    capsys.readouterr()
    assert (
        main(
            [
                "leaderboard",
                "--records",
                str(out),
                "--tables",
                str(tmp_path / "tables"),
                "--only",
                "connectivity=acn",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert "residual" not in capsys.readouterr().out
    assert (tmp_path / "tables" / "compression.md").read_text() == table


def test_shard_and_only_select_runs(tmp_path, capsys):
    args = ["run", "--profile", "smoke", "--seeds", "2", "--dry-run", "--out", str(tmp_path)]
    assert main([*args, "--shard", "2/2"]) == 0
    assert capsys.readouterr().out.count("'seed'") == 2
    assert main([*args, "--only", "connectivity=acn", "--depths", "2,3"]) == 0
    assert capsys.readouterr().out.count("'connectivity': 'acn'") == 4
    assert files_under(tmp_path) == []


def test_dry_run_with_resume_lists_only_the_runs_without_a_record(tmp_path, capsys):
    args = ["run", "--profile", "smoke", "--seeds", "2", "--only", "connectivity=acn", "--out", str(tmp_path)]
    assert main([*args, "--only", "seed=0", "--no-progress"]) == 0
    capsys.readouterr()
    assert main([*args, "--dry-run", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "'seed': 0" not in out and out.count("'seed': 1") == 1
    assert "1 to run, 1 done already" in out
    assert main([*args, "--dry-run"]) == 0  # without --resume every run would train again
    assert capsys.readouterr().out.count("'seed'") == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "nosuchsuite"], "unknown suite 'nosuchsuite'"),
        (["run", "--profile", "huge"], "unknown profile 'huge'; accepted: smoke, quick, standard, paper"),
        (["run", "--dataset", "mnist"], "unknown dataset for suite 'compression' 'mnist'"),
        (["run", "--backbones", "resnet9000"], "unknown backbone 'resnet9000'"),
        (["run", "--only", "colour=red"], "unknown --only key 'colour'"),
        (["run", "--shard", "3/2"], "--shard takes i/n with 1 <= i <= n"),
        (["run", "--depths", "0"], "--depths takes whole numbers >= 1"),
        (["run", "--seeds", "0"], "--seeds must be >= 1"),
        (["run", "--plugin", "no_such_plugin.py"], "plugin file 'no_such_plugin.py' does not exist"),
        (["leaderboard", "--records", "no/such/dir"], "records folder 'no/such/dir' does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)] if argv[0] == "run" else argv) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert files_under(out) == []


def test_leaderboard_prints_and_writes_key_columns_and_columns_all_restores_the_wide_view(tmp_path, capsys):
    records, tables = tmp_path / "records", tmp_path / "tables"
    shutil.copytree(Path(__file__).resolve().parents[1] / "leaderboards" / "records" / "pruning", records / "pruning")
    assert main(["leaderboard", "pruning", "--records", str(records), "--tables", str(tables)]) == 0
    printed = capsys.readouterr().out
    assert "acc@0.9" in printed and "vs random" in printed and "nonzero_params" not in printed
    compact = (tables / "pruning.md").read_text()
    csv = (tables / "pruning.csv").read_text()
    assert "| rank | conn · method" in " ".join(compact.split()) and "nonzero_params_at_0.9" not in compact
    assert "nonzero_params_at_0.9_mean" in csv and "commits" in csv  # the CSV keeps every column

    assert main(["leaderboard", "pruning", "--records", str(records), "--tables", str(tables), "--columns", "all"]) == 0
    assert "nonzero_params_at_0.9" in capsys.readouterr().out
    wide = (tables / "pruning.md").read_text()
    assert "nonzero_params_at_0.9" in wide and "commits" in wide and (tables / "pruning.csv").read_text() == csv

    with pytest.raises(SystemExit) as stop:
        main(["leaderboard", "--records", str(records), "--columns", "some"])
    assert stop.value.code == 2 and "argument --columns: invalid choice: 'some'" in capsys.readouterr().err
    assert (tables / "pruning.md").read_text() == wide


def test_corrupt_archive_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"\x1f\x8b not really a gzip file" * 10)
    monkeypatch.setenv("ACN_BENCH_CIFAR10", str(archive))
    out = tmp_path / "out"
    assert main(["run", "--dataset", "cifar10", "--profile", "smoke", "--out", str(out), "--no-progress"]) == 2
    assert "cifar-10-python.tar.gz" in capsys.readouterr().err
    assert [p for p in files_under(out) if p.suffix == ".json"] == []


def test_missing_dataset_says_where_it_looked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ACN_BENCH_DATA", str(tmp_path))
    assert main(["run", "--dataset", "cifar10", "--profile", "smoke", "--out", str(tmp_path / "out")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "cifar-10-python.tar.gz" in err and "--download" in err


@pytest.mark.slow
def test_console_script_lists_suites_backbones_and_datasets():
    beside_python = Path(sys.executable).parent / "acn-bench"
    exe = str(beside_python) if beside_python.exists() else shutil.which("acn-bench")
    done = subprocess.run([exe, "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for word in ("compression", "mixer_cifar", "vit_b16", "acn-dg", "denseformer", "digits", "cifar10", "smoke"):
        assert word in done.stdout


@pytest.mark.parametrize("backbone", ["mixer_tiny", "bert_tiny"])
def test_perf_script_prints_step_time_ratio_and_throughput(capsys, backbone):
    assert perf.main(["step-time", "--backbone", backbone, "--steps", "2", "--warmup", "1", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "over residual's" in out and "acn" in out and "samples/s" in out and "TFLOP/s" in out


def test_perf_train_throughput_compares_trainer_with_bare_loop_and_saves_markdown(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(perf, "RESULTS_DIR", tmp_path)
    argv = ["train-throughput", "--backbone", "mixer_tiny", "--dataset", "synthetic", "--batch-size", "8"]
    assert perf.main([*argv, "--steps", "2", "--rounds", "1", "--save"]) == 0
    out = capsys.readouterr().out
    assert "trainer residual" in out and "bare acn" in out and "img/s" in out and "TFLOP/s" in out
    (saved,) = tmp_path.glob("*.md")  # <date>-<machine>.md
    text = saved.read_text()
    assert text.startswith("# Throughput on ") and "`python -m speed.perf train-throughput" in text
    assert "| trainer/bare img/s | acn/residual time |" in text
    assert "| trainer acn |" in text and "| bare residual |" in text
    assert "**quick recipe: where an epoch goes" in text  # both tables of the run in its one section
    assert perf.main(["step-time", "--backbone", "mixer_tiny", "--steps", "1", "--warmup", "0", "--save"]) == 0
    assert saved.read_text().count("\n## ") == 2  # appended, one section per run


def test_perf_train_throughput_runs_the_standard_recipe_and_splits_an_epoch_into_phases(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(perf, "RESULTS_DIR", tmp_path)
    argv = ["train-throughput", "--recipe", "standard", "--backbone", "mixer_tiny", "--dataset", "synthetic"]
    options = ["--batch-size", "8", "--steps", "2", "--rounds", "1", "--bare-augment", "same", "--save"]
    assert perf.main([*argv, *options]) == 0
    (saved,) = tmp_path.glob("*.md")
    text = saved.read_text()
    assert "AutoAugment cifar10 (batched)" in text and "CutMix p=0.5" in text and "grad_norms=True" in text
    assert "the recipe's augmentation the plain way" in text
    phases = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| residual: "):
            phases[cells[0].removeprefix("residual: ")] = float(cells[3].rstrip("%"))
    assert set(phases) == {
        "data + augmentation",
        "forward + backward",
        "gradient norms (logging)",
        "optimizer (clip, AdamW, schedule)",
        "bookkeeping (loss, progress, checkpoints)",
        "validation (probes at every depth)",
        "epoch",
    }
    assert phases["epoch"] == 100 and sum(v for k, v in phases.items() if k != "epoch") == pytest.approx(100, abs=0.5)
    assert phases["forward + backward"] > phases["bookkeeping (loss, progress, checkpoints)"]


def test_perf_augment_times_autoaugment_three_ways_against_a_bare_step(tmp_path, monkeypatch):
    monkeypatch.setattr(perf, "RESULTS_DIR", tmp_path)
    assert perf.main(["augment", "--backbone", "mixer_tiny", "--batch-size", "8", "--rounds", "1", "--save"]) == 0
    (saved,) = tmp_path.glob("*.md")
    rows = [line.split("|")[1:-1] for line in saved.read_text().splitlines() if line.startswith("| ")]
    shares = {name.strip(): share.strip() for name, _, share in rows[1:]}
    assert shares["bare mixer_tiny training step"] == ""
    for name in ("AutoAugment, batched (acn-bench)", "AutoAugment, torchvision image by image (before)", "crop"):
        assert float(shares[name].rstrip("%")) > 0


def test_perf_bad_recipe_or_missing_data_exits_2_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(perf, "RESULTS_DIR", tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        perf.main(["train-throughput", "--recipe", "huge", "--save"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'huge'" in err and "quick" in err and "standard" in err and "paper" in err
    monkeypatch.setenv("ACN_BENCH_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("ACN_BENCH_CACHE", str(tmp_path / "no-cache"))
    monkeypatch.delenv("ACN_BENCH_CIFAR10", raising=False)
    assert perf.main(["train-throughput", "--recipe", "standard", "--steps", "1", "--rounds", "1", "--save"]) == 2
    assert "cifar10" in capsys.readouterr().out.lower()
    assert files_under(tmp_path) == []


def test_perf_compile_falls_back_to_eager_with_a_warning_or_exits_2_when_strict(capsys, monkeypatch):
    def broken(model, *args, **kwargs):
        def run(*inputs):
            raise RuntimeError("no compiler here")

        return run

    monkeypatch.setattr(perf.torch, "compile", broken)
    argv = ["step-time", "--backbone", "mixer_tiny", "--steps", "1", "--warmup", "0", "--batch-size", "2"]
    with pytest.warns(RuntimeWarning, match="torch.compile failed for residual"):
        assert perf.main([*argv, "--compile"]) == 0
    assert "no compiler here" in capsys.readouterr().out  # the table's notes say the twins ran eager
    assert perf.main([*argv, "--compile-strict"]) == 2
    assert "torch.compile failed for residual: RuntimeError: no compiler here" in capsys.readouterr().out


def test_perf_transposed_token_mixing_is_the_same_function_timed_as_a_third_contender(capsys):
    torch.manual_seed(0)
    model = create_backbone("mixer_tiny", connectivity="residual").eval()
    x = model.example_input(3)
    expected = model(x)
    before = perf.with_transposed_token_mixing(model)
    assert any(isinstance(m, perf.TransposedTokenMixing) for m in before.modules())
    torch.testing.assert_close(before(x), expected, rtol=1e-5, atol=1e-6)
    argv = ["step-time", "--backbone", "mixer_tiny", "--steps", "1", "--warmup", "0", "--batch-size", "2"]
    assert perf.main([*argv, "--transposed-token-mixing"]) == 0
    assert "residual, transposed token mixing" in capsys.readouterr().out
    assert perf.main(["step-time", "--backbone", "vit_tiny", "--transposed-token-mixing"]) == 2
    assert "needs a Mixer backbone; 'vit_tiny'" in capsys.readouterr().out


def test_the_committed_records_named_by_any_path_keep_their_tables_in_the_leaderboards_folder(tmp_path, monkeypatch):
    from acn_bench.cli import LEADERBOARDS, leaderboard_dirs

    monkeypatch.chdir(tmp_path)
    for named in (
        None,
        Path("leaderboards/records"),
        Path("./leaderboards/records/"),
        tmp_path / "leaderboards/records",
    ):
        assert leaderboard_dirs(named, None)[1] == LEADERBOARDS
    assert leaderboard_dirs(Path("elsewhere"), None) == (Path("elsewhere"), None)  # beside those records
    assert leaderboard_dirs(Path("leaderboards/records"), Path("tables"))[1] == Path("tables")
