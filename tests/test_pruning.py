"""Pruning: global magnitude pruning and its random baseline, of the blocks only; the pruning suite end to end."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch.nn.utils import prune

from acn_bench import UserError, create_backbone
from acn_bench.analysis.pruning import (
    layer_sparsities,
    magnitude_masks,
    nonzero_params,
    prunable,
    prune_model,
    random_masks,
    sparsity_of,
)
from acn_bench.cli import main


@pytest.fixture
def model():
    return create_backbone("mixer_tiny", connectivity="acn", depth=2)


def _prunable_count(model) -> int:
    return sum(module.weight.numel() for _, module in prunable(model))


def test_magnitude_pruning_hits_the_sparsity_globally_as_torch_does(model):
    reference = copy.deepcopy(model)
    dense = nonzero_params(model)
    layers = prune_model(model, "magnitude", 0.6)
    assert sparsity_of(model) == pytest.approx(0.6, abs=1e-3)
    assert dense - nonzero_params(model) == round(0.6 * _prunable_count(model))
    assert max(layers) - min(layers) > 0.05  # a global ranking: layers end up at different sparsities
    prune.global_unstructured(
        [(module, "weight") for _, module in prunable(reference)], pruning_method=prune.L1Unstructured, amount=0.6
    )
    for (_, ours), (_, theirs) in zip(prunable(model), prunable(reference)):
        assert torch.equal(ours.weight_mask, theirs.weight_mask)
    with pytest.raises(UserError, match=r"sparsity must be in \[0, 1\), got 1.0"):
        prune_model(model, "magnitude", 1.0)
    with pytest.raises(UserError, match="unknown pruning method 'movement'; accepted: magnitude, random"):
        prune_model(model, "movement", 0.5)


def test_random_pruning_takes_magnitudes_per_layer_sparsities_with_a_seeded_different_mask(model):
    magnitude = magnitude_masks(model, 0.7)
    first, again, other = (
        random_masks(model, 0.7, seed=0),
        random_masks(model, 0.7, seed=0),
        random_masks(model, 0.7, 1),
    )
    for m, r, r_again, r_other in zip(magnitude, first, again, other):
        assert int((r == 0).sum()) == int((m == 0).sum()) == int((r_other == 0).sum())  # same per-layer counts
        assert torch.equal(r, r_again)  # same seed, same mask
        assert not torch.equal(r, m) and not torch.equal(r, r_other)
    lower = random_masks(model, 0.3, seed=0)
    assert all(bool(((lo == 0) <= (hi == 0)).all()) for lo, hi in zip(lower, first))  # nested over sparsities
    pruned_m, pruned_r = copy.deepcopy(model), copy.deepcopy(model)
    assert prune_model(pruned_m, "magnitude", 0.7) == prune_model(pruned_r, "random", 0.7, seed=3)
    assert nonzero_params(pruned_m) == nonzero_params(pruned_r)


def test_only_the_blocks_are_pruned_embedding_connectivity_and_head_stay_dense(model):
    names = [name for name, _ in prunable(model)]
    assert names and all(name.startswith("blocks.") for name in names)
    outside = {name: p.detach().clone() for name, p in model.named_parameters() if not name.startswith("blocks.")}
    assert any(n.startswith("embed.") for n in outside) and any(n.startswith("head.") for n in outside)
    total = sum(p.numel() for p in model.parameters())
    dense = nonzero_params(model)
    for method in ("magnitude", "random"):
        pruned = copy.deepcopy(model)
        prune_model(pruned, method, 0.9, seed=0)
        for name, param in pruned.named_parameters():
            if name in outside:
                assert torch.equal(param, outside[name])
        outer = [*pruned.embed.modules(), *pruned.connectivity.modules(), *pruned.head.modules()]
        assert not any(hasattr(module, "weight_mask") for module in outer)
        # every parameter is still counted: the dense ones in full, the blocks' with their masks
        assert nonzero_params(pruned) == dense - round(0.9 * _prunable_count(model))
        assert sum(p.numel() for p in pruned.parameters()) == total


def test_masks_stay_fixed_while_fine_tuning_and_sparsity_zero_prunes_nothing(model):
    unpruned = copy.deepcopy(model)
    assert prune_model(unpruned, "magnitude", 0.0) == [0.0] * len(prunable(model))
    assert nonzero_params(unpruned) == nonzero_params(model)
    prune_model(model, "random", 0.5, seed=0)
    before = layer_sparsities(model)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 3, 32, 32)).pow(2).mean().backward()
        opt.step()
    assert layer_sparsities(model) == before


def test_truncated_to_no_blocks_there_is_nothing_to_prune(model):
    empty = model.truncate(0)
    assert prune_model(empty, "random", 0.5, seed=0) == [] and sparsity_of(empty) == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "sparsities=0.5,1.2"], "sparsity must be in [0, 1), got 1.2"),
        (["--set", "method=movement"], "unknown pruning method 'movement'; accepted: magnitude, random"),
        (["--set", "truncate=half"], "unknown truncate option 'half'"),
    ],
)
def test_bad_pruning_input_exits_2_and_writes_nothing(tmp_path, capsys, argv, message):
    assert main(["run", "pruning", *argv, "--profile", "smoke", "--out", str(tmp_path)]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not any(tmp_path.rglob("*"))


@pytest.mark.slow
def test_pruning_suite_runs_end_to_end_with_one_dense_model_per_twin(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "pruning", "--profile", "smoke", "--out", str(out), "--device", "cpu", "--no-progress"]
    assert main([*argv, "--only", "connectivity=acn", "--set", "sparsities=0,0.5"]) == 0
    # the second method reused the dense model the first one trained and saved
    assert capsys.readouterr().out.count("reusing the trained model") == 1
    assert len(list((out / ".twins").glob("*.pt"))) == 1  # the twin store
    recs = {r["config"]["method"]: r for r in (json.loads(p.read_text()) for p in (out / "pruning").glob("*.json"))}
    assert set(recs) == {"magnitude", "random"}
    for rec in recs.values():
        metrics = rec["metrics"]
        curve = rec["history"]["curve"]
        assert [p["sparsity"] for p in curve] == [0.0, 0.5]
        assert all(0 <= p[k] <= 1 for p in curve for k in ("accuracy", "val_accuracy"))
        assert curve[0]["layer_sparsity"] == [0.0] * len(rec["history"]["pruned_layers"])
        assert metrics["accuracy_at_0.5"] == curve[1]["accuracy"] and "val_accuracy_at_0.5" in metrics
        assert metrics["nonzero_params_at_0.5"] < metrics["nonzero_params_at_0"] == metrics["dense_params"]
        assert 0 <= metrics["cutoff_layer"] <= rec["backbone"]["depth"]
        assert rec["dataset"]["val_size"] > 0 and rec["config"]["train"]["epochs"] >= 1
    magnitude, random = recs["magnitude"], recs["random"]
    # both are the same dense model, unpruned at sparsity 0, fine-tuned alike: the same accuracy
    assert magnitude["metrics"]["accuracy_at_0"] == random["metrics"]["accuracy_at_0"]
    assert magnitude["metrics"]["accuracy"] == random["metrics"]["accuracy"]  # the dense model's test accuracy
    # the random baseline takes magnitude's per-layer sparsities
    assert magnitude["history"]["curve"][1]["layer_sparsity"] == random["history"]["curve"][1]["layer_sparsity"]
    assert magnitude["metrics"]["nonzero_params_at_0.5"] == random["metrics"]["nonzero_params_at_0.5"]
    # truncation at the cutoff layer (chosen on validation) before pruning: the same dense model again
    assert main([*argv, "--only", "connectivity=acn", "--set", "method=random", "--set", "truncate=cutoff"]) == 0
    assert capsys.readouterr().out.count("reusing the trained model") == 1
    (cut,) = [
        r
        for r in (json.loads(p.read_text()) for p in (out / "pruning").glob("*.json"))
        if r["config"]["truncate"] == "cutoff"
    ]
    cutoff = cut["metrics"]["cutoff_layer"]
    assert cut["backbone"]["depth"] == cutoff and cut["metrics"]["base_accuracy"] == cut["probe"][cutoff]
    assert cut["metrics"]["base_val_accuracy"] == cut["history"]["val_probe"][cutoff]
    assert main(["leaderboard", "--records", str(out)]) == 0
    assert (out / "pruning_accuracy_vs_sparsity.png").is_file()
