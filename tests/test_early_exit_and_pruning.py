"""Early exit (exit rule, FLOPs accounting, real batched stopping) and the connectivity comparison.

Pruning is tested in ``test_pruning.py``.
"""

from __future__ import annotations

import json

import pytest
import torch

from acn_bench import UserError, create_backbone
from acn_bench.analysis.early_exit import (
    attach_branches,
    branch_layers,
    early_exit_forward,
    entropy,
    exit_logits,
    exit_plan,
    first_exit,
    measure_exit_costs,
    multi_exit_objective,
    sweep_thresholds,
)
from acn_bench.cli import main


@pytest.fixture
def model():
    return create_backbone("mixer_tiny", connectivity="acn", depth=4).eval()


def test_branch_positions_default_to_quarters_and_reject_outside_1_to_L_minus_1():
    assert branch_layers(16) == [4, 8, 12]
    assert branch_layers(16, "2,5") == [2, 5]
    for bad in ("0", "16", "3,17"):
        with pytest.raises(UserError, match="branch positions must lie in 1..15"):
            branch_layers(16, bad)


def test_first_exit_takes_the_first_confident_depth_and_falls_back_to_the_last():
    entropies = torch.tensor([[0.9, 0.1, 0.9], [0.5, 0.9, 0.9], [0.2, 0.9, 0.9]])  # exits x samples
    assert first_exit(entropies, 0.3).tolist() == [2, 0, 2]
    assert first_exit(entropies, 0.0).tolist() == [2, 2, 2]
    with pytest.raises(UserError, match="threshold must be >= 0"):
        first_exit(entropies, -0.1)


@pytest.mark.parametrize("mode", ["inherent", "branches", "shared"])
def test_batched_early_exit_matches_the_simulated_rule(model, mode):
    if mode == "branches":
        attach_branches(model, [1, 2])
    plan = exit_plan(model, mode)
    x = torch.randn(40, 3, 32, 32)
    logits = exit_logits(model, plan, x, lambda v: v)
    threshold = float(entropy(logits).median())
    out, depths = early_exit_forward(model, plan, x, threshold)
    index = first_exit(entropy(logits), threshold)
    assert torch.allclose(out, logits[index, torch.arange(40)], atol=1e-5)
    assert torch.equal(depths, torch.tensor(plan.depths)[index])
    assert len(set(depths.tolist())) > 1  # samples really left at different depths


def test_flops_accounting_charges_trunk_and_every_checked_exit(model):
    attach_branches(model, [2])
    plan = exit_plan(model, "branches")
    costs = measure_exit_costs(model, plan, torch.randn(1, 3, 32, 32))
    assert costs.trunk[0] < costs.trunk[2] < costs.trunk[4] and costs.heads[0] > costs.heads[-1] > 0
    per_exit = costs.per_exit(plan)
    assert per_exit[0] == costs.trunk[2] + costs.heads[0]
    assert per_exit[1] == costs.trunk[4] + costs.heads[0] + costs.heads[1]
    logits = torch.randn(2, 10, 10)
    never, always = sweep_thresholds(logits, torch.zeros(10, dtype=torch.long), plan, costs, [0.0, 100.0], costs.full)
    assert never["mean_exit_depth"] == 4 and never["flops_speedup"] < 1  # the branch was paid for, never used
    assert always["mean_exit_depth"] == 2 and always["flops_speedup"] > 1.5


def test_multi_exit_objectives_train_branches_and_the_shared_head(model):
    attach_branches(model, [2])
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    multi_exit_objective("branches")(model.train(), x, y, torch.nn.functional.cross_entropy).backward()
    assert model.branches["2"].mlp[0].weight.grad.abs().sum() > 0
    with pytest.raises(UserError, match="unknown exit mode 'layerdrop'"):
        multi_exit_objective("layerdrop")


@pytest.mark.slow
def test_early_exit_suite_runs_end_to_end(tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "early-exit",
                "--profile",
                "smoke",
                "--out",
                str(out),
                "--only",
                "connectivity=acn",
                "--no-progress",
            ]
        )
        == 0
    )
    recs = [json.loads(p.read_text()) for p in (out / "early_exit").glob("*.json")]
    assert {r["config"]["exit_mode"] for r in recs} == {"inherent", "branches", "shared"}
    for rec in recs:
        assert len(rec["history"]["threshold_sweep"]) == 25 and rec["metrics"]["wall_speedup"] > 0
    assert main(["leaderboard", "--records", str(out)]) == 0
    assert (out / "early_exit_accuracy_vs_speedup.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["early-exit", "--set", "thresholds=-1"], "exit thresholds must be >= 0"),
        (["early-exit", "--set", "branch_layers=0,2"], "branch positions must lie in 1..3"),
        (["compression", "--connectivities", "acn,highway"], "unknown connectivity 'highway'"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, argv, message):
    assert main(["run", *argv, "--profile", "smoke", "--out", str(tmp_path)]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not any(tmp_path.rglob("*"))


def test_connectivity_comparison_matches_the_dense_twins_parameters(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "compression",
                "--profile",
                "smoke",
                "--connectivities",
                "residual,dense",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    recs = {
        r["backbone"]["connectivity"]: r
        for r in (json.loads(p.read_text()) for p in (out / "compression").glob("*.json"))
    }
    assert recs["dense"]["backbone"]["depth"] < recs["residual"]["backbone"]["depth"]
    assert recs["dense"]["backbone"]["params"] <= recs["residual"]["backbone"]["params"]
