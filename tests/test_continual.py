"""The continual suite end to end (smoke profile, real split digits through Avalanche), bad input, paper records."""

from __future__ import annotations

import json

import pytest

from acn_bench import UserError
from acn_bench.benchmarks.continual import check_split, class_order, paper_records
from acn_bench.cli import main
from acn_bench.results import Record, record_problems, write_record
from acn_bench.suites import get_suite, plan_runs

SUITE = get_suite("continual")


def records(out):
    return [json.loads(p.read_text()) for p in sorted((out / "continual").glob("*.json"))]


def run(out, *argv):
    return main(["run", "continual", "--profile", "smoke", "--out", str(out), "--no-progress", *argv])


@pytest.mark.slow
def test_smoke_run_writes_records_with_the_accuracy_matrix_and_per_task_probes(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(out) == 0
    recs = records(out)
    assert sorted((r["backbone"]["connectivity"], r["strategy"]) for r in recs) == sorted(
        (c, s) for c in ("residual", "acn") for s in ("naive", "si", "ewc")
    )
    for rec in recs:
        depth, matrix = rec["backbone"]["depth"], rec["history"]["accuracy_matrix"]
        assert rec["scenario"] == rec["config"]["scenario"] == "split-digits-5x2-task-il"
        assert len(matrix) == 5 and all(len(row) == 5 and all(0 <= a <= 1 for a in row) for row in matrix)
        assert rec["metrics"]["avg_accuracy"] == pytest.approx(sum(matrix[-1]) / 5)
        assert rec["metrics"]["avg_forgetting"] == pytest.approx(
            rec["history"]["avalanche"]["StreamForgetting/eval_phase/test_stream"], abs=1e-12
        )
        assert rec["metrics"]["bwt"] == pytest.approx(-rec["metrics"]["avg_forgetting"])
        probes = rec["history"]["probe_by_task"]
        assert len(probes) == 5 and all(len(row) == depth + 1 for row in probes) and len(rec["probe"]) == depth + 1
        assert len(rec["history"]["task_seconds"]) == 5 and rec["metrics"]["seconds_per_task"] > 0
        assert sorted(rec["history"]["class_order"]) == list(range(10))
        own = {"naive": set(), "si": {"si_lambda", "si_eps"}, "ewc": {"ewc_lambda"}}[rec["strategy"]]
        assert set(rec["config"]["strategy_params"]) == own and rec["config"]["hparams"] == "-"
        assert not ({"si_lambda", "ewc_lambda", "lwf_alpha", "replay_mem_size"} - own) & set(rec["config"])
    written = {p.name: p.stat().st_mtime_ns for p in (out / "continual").glob("*.json")}

    assert run(out, "--resume") == 0
    assert "0 record(s) written" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "continual").glob("*.json")} == written

    for record in SUITE.paper_records():
        write_record(out, record)
    assert main(["leaderboard", "continual", "--records", str(out), "--tables", str(tmp_path / "tables")]) == 0
    capsys.readouterr()
    table = (tmp_path / "tables" / "continual.md").read_text()
    assert "avg_forgetting" in table and "paper" in table and "52.76" in table  # the paper's residual naive L=5
    assert (tmp_path / "tables" / "continual_forgetting.png").stat().st_size > 0
    assert (tmp_path / "tables" / "continual_accuracy_matrix_split-digits-5x2-task-il.png").stat().st_size > 0
    assert (
        "continual_accuracy_matrix_split-digits-5x2-task-il.png" in (tmp_path / "tables" / "continual.md").read_text()
    )


def test_class_incremental_and_other_strategies_run_from_the_command_line(tmp_path):
    out = tmp_path / "out"
    assert run(out, "--set", "setting=class", "--set", "strategy=replay", "--only", "connectivity=acn") == 0
    (rec,) = records(out)
    assert rec["scenario"] == "split-digits-5x2-class-il" and rec["strategy"] == "replay"
    assert len(rec["history"]["accuracy_matrix"]) == 5 and rec["config"]["strategy_params"] == {"replay_mem_size": 200}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "strategy=sgd"], "unknown strategy 'sgd'; accepted: ewc, lwf, naive, replay, si."),
        (["--set", "n_tasks=3"], "digits has 10 classes, which 3 tasks cannot share equally"),
        (["--depths", "5,0"], "--depths takes whole numbers >= 1"),
        (["--set", "si_eps=0"], "si_eps of strategy 'si' must be a number > 0"),
        (["--dataset", "cifar100"], "cifar100 data not found"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert run(out, "--data-root", str(tmp_path / "empty"), *argv) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not out.exists() or not any(out.rglob("*.json"))


def test_grid_ids_and_splits():
    plan = plan_runs(SUITE, "quick", seeds=3)
    assert len(plan) == 2 * 3 * 3 * 3  # twins x depths x strategies x seeds
    assert {c["depth"] for c in plan} == {5, 10, 15} and {c["strategy"] for c in plan} == {"naive", "si", "ewc"}
    paper = plan_runs(SUITE, "paper")
    assert {(c["dataset"], c["n_tasks"], c["backbone"]) for c in paper} == {("cifar100", 20, "mixer_cifar")}
    naive = next(c for c in plan if c["strategy"] == "naive")
    ewc = next(c for c in plan if c["strategy"] == "ewc")
    assert SUITE.identity(dict(naive, ewc_lambda=7.0)) == SUITE.identity(naive)
    assert SUITE.identity(dict(ewc, ewc_lambda=7.0)) != SUITE.identity(ewc)
    assert SUITE.identity(dict(ewc, ewc_lambda=int(ewc["ewc_lambda"]))) == SUITE.identity(ewc)  # --set gives ints
    assert check_split(100, 20, "cifar100") == 5 and check_split(200, 20, "tiny-imagenet") == 10
    with pytest.raises(UserError, match="n_tasks must be a whole number >= 2"):
        check_split(10, 1, "digits")
    assert class_order(100, 0) == class_order(100, 0) != class_order(100, 1)
    assert sorted(class_order(100, 0)) == list(range(100))


def test_paper_records_are_valid_records_of_the_paper_table():
    recs = paper_records()
    assert len(recs) == 2 * 2 * 3  # (naive, SI) x (AC, residual) x L = 5, 10, 15
    for rec in recs:
        data = rec.to_dict()
        assert record_problems(data) == [] and Record.from_dict(data) == rec
        assert rec.source == "paper" and rec.profile == "paper" and rec.suite == "continual"
        assert rec.scenario == "split-cifar100-20x5-task-il" and rec.dataset["name"] == "cifar100"
        assert all(0 <= rec.metrics[k] <= 1 for k in ("avg_accuracy", "avg_forgetting"))
    si_acn_15 = next(
        r for r in recs if (r.strategy, r.backbone["connectivity"], r.backbone["depth"]) == ("si", "acn", 15)
    )
    assert si_acn_15.metrics == pytest.approx({"avg_accuracy": 0.462, "avg_forgetting": 0.32, "bwt": -0.32})
    assert len({r.run_id for r in recs}) == len(recs)


@pytest.mark.slow
@pytest.mark.parametrize(
    "setting, strategies, killed_at",
    [
        ("task", ("si", "ewc", "lwf", "replay"), 3),  # every kind of state a strategy carries between tasks
        ("class", ("naive",), 1),  # the single head grew during the first evaluation
    ],
)
def test_stream_interrupted_between_tasks_resumes_to_the_same_record(
    tmp_path, capsys, monkeypatch, setting, strategies, killed_at
):
    from avalanche.training.templates import SupervisedTemplate

    grid = [
        "--only",
        "connectivity=acn",
        "--set",
        f"setting={setting}",
        *[arg for name in strategies for arg in ("--set", f"strategy={name}")],
    ]
    assert run(tmp_path / "reference", *grid) == 0
    reference = {r["strategy"]: r for r in records(tmp_path / "reference")}

    out = tmp_path / "interrupted"
    train = SupervisedTemplate.train

    def killed(self, experience, *args, **kwargs):
        if experience.current_experience == killed_at:
            raise KeyboardInterrupt
        return train(self, experience, *args, **kwargs)

    monkeypatch.setattr(SupervisedTemplate, "train", killed)
    for name in strategies:
        with pytest.raises(KeyboardInterrupt):
            run(out, *grid, "--only", f"strategy={name}")
    assert records(out) == [] and len(list((out / "continual" / ".checkpoints").glob("*.pt"))) == len(strategies)
    monkeypatch.setattr(SupervisedTemplate, "train", train)
    capsys.readouterr()

    assert run(out, *grid, "--resume") == 0
    assert capsys.readouterr().out.count(f"resuming after task {killed_at}/5") == len(strategies)
    for rec in records(out):
        expected = reference[rec["strategy"]]
        assert rec["history"]["accuracy_matrix"] == expected["history"]["accuracy_matrix"], rec["strategy"]
        assert rec["history"]["avalanche"] == expected["history"]["avalanche"]
        assert rec["probe"] == expected["probe"]
    assert not list((out / "continual" / ".checkpoints").glob("*.pt"))
