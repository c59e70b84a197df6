"""Suite mechanics: grid expansion, --only, --shard, seeds and resume."""

from __future__ import annotations

import pytest
import torch

from acn_bench import UserError
from acn_bench.suites import (
    RunContext,
    expand_grid,
    get_suite,
    list_suites,
    parse_only,
    parse_shard,
    plan_runs,
    run_suite,
)
from acn_bench.suites.plan import filter_only, take_shard


def test_expand_grid_is_the_cartesian_product_in_order():
    assert expand_grid({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


def test_only_filters_and_rejects_unknown_keys():
    configs = expand_grid({"connectivity": ["acn", "residual"], "seed": [0, 1]})
    assert filter_only(configs, parse_only(["connectivity=acn", "seed=1"])) == [{"connectivity": "acn", "seed": 1}]
    with pytest.raises(UserError, match="unknown --only key 'colour'; accepted: connectivity, seed"):
        filter_only(configs, {"colour": ["red"]})
    with pytest.raises(UserError, match="key=value"):
        parse_only(["connectivity"])


@pytest.mark.parametrize("text", ["3/2", "0/2", "a/b", "2"])
def test_bad_shards_are_rejected(text):
    with pytest.raises(UserError, match="--shard"):
        parse_shard(text)


def test_shards_partition_the_grid():
    configs = list(range(7))
    parts = [take_shard(configs, (i, 3)) for i in (1, 2, 3)]
    assert sorted(sum(parts, [])) == configs


def test_plan_runs_adds_seeds_profile_and_axes():
    suite = get_suite("compression")
    plan = plan_runs(suite, "smoke", seeds=2, axes={"depth": [2, 3]})
    assert len(plan) == 2 * 2 * 2  # twins x depths x seeds
    assert {c["profile"] for c in plan} == {"smoke"} and {c["seed"] for c in plan} == {0, 1}
    with pytest.raises(UserError, match="unknown profile 'fast'"):
        plan_runs(suite, "fast")
    with pytest.raises(UserError, match="unknown dataset for suite 'compression' 'mnist'"):
        plan_runs(suite, "smoke", dataset="mnist")
    with pytest.raises(UserError, match="leaves no run"):
        plan_runs(suite, "smoke", only={"connectivity": ["dense-ish"]})


def test_suite_names_accept_dashes():
    assert "compression" in list_suites()
    assert get_suite("compression") is get_suite("compression".replace("_", "-"))
    with pytest.raises(UserError, match="unknown suite 'robustnes'"):
        get_suite("robustnes")


def test_resume_skips_finished_runs(tmp_path):
    suite = get_suite("compression")
    plan = plan_runs(suite, "smoke", only={"connectivity": ["acn"]})
    context = RunContext(out_dir=tmp_path, device=torch.device("cpu"), log=lambda _: None)
    first = run_suite(suite, plan, context)
    assert len(first.written) == 1 and first.written[0].is_file()
    record = first.records[0]
    assert record.metrics["cutoff_layer"] <= record.backbone["depth"]
    assert record.probe[-1] == record.metrics["accuracy"]
    again = run_suite(suite, plan, context, resume=True)
    assert again.written == [] and again.skipped == [record.run_id]
    assert not (tmp_path / "compression" / ".checkpoints" / f"{record.run_id}.pt").exists()


def test_paper_profile_defaults_to_the_papers_setup():
    plan = plan_runs(get_suite("compression"), "paper")
    assert {c["dataset"] for c in plan} == {"cifar10"}
    assert {c["backbone"] for c in plan} == {"mixer_cifar"} and {c["depth"] for c in plan} == {16}
    assert {c["connectivity"] for c in plan} == {"residual", "acn"}


def test_a_runs_id_and_twin_key_include_its_suites_protocol_from_version_2_on():
    from acn_bench.results import run_id

    config = {"profile": "standard", "dataset": "cifar10", "backbone": "mixer_small", "connectivity": "acn", "seed": 0}
    image_suites = ("compression", "robustness", "early_exit", "pruning", "low_data", "transfer")
    for name in image_suites:  # one version for every suite that shares trained twins
        assert get_suite(name).protocol == 2
    compression = get_suite("compression")
    assert compression.identity(config) == run_id({"suite": "compression", "protocol": 2, **config})
    assert compression.identity(config) != run_id({"suite": "compression", **config})  # version 1's id
    continual = get_suite("continual")
    assert continual.protocol == 1 and continual.protocol_fields() == {}
