"""Strategy registry, Avalanche strategies and models, per-depth probing, metrics (real split digits)."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from acn_bench import UserError
from acn_bench.data import load_images
from acn_bench.data.augment import Normalizer
from acn_bench.strategies import Param, list_strategies, make_strategy, register_strategy, strategy_params
from acn_bench.strategies.evaluation import (
    continual_summary,
    experience_accuracies,
    run_stream,
    silent_evaluator,
    stream_metric,
)
from acn_bench.suites.image_data import backbone_for

COMMON = {"train_mb_size": 32, "train_epochs": 1, "eval_mb_size": 128}


@pytest.fixture(scope="module")
def digits_split():
    """Real digits, 300 training and 100 test images, split into 5 tasks of 2 classes (task labels)."""
    from avalanche.benchmarks import nc_benchmark

    train = load_images("digits", "train").subset(range(300))
    test = load_images("digits", "test").subset(range(100))
    norm = Normalizer.from_images(train.images)
    scenario = nc_benchmark(
        TensorDataset(norm(train.images), train.labels),
        TensorDataset(norm(test.images), test.labels),
        5,
        task_labels=True,
        fixed_class_order=list(range(10)),
        class_ids_from_zero_in_each_exp=True,
    )
    return train, scenario


def model_for(train, setting="task", depth=2, connectivity="acn"):
    from acn_bench.strategies.models import continual_model

    torch.manual_seed(0)
    return continual_model(backbone_for("mixer_tiny", train, connectivity, depth=depth, patch_size=2), setting)


def strategy(name, model, **params):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return make_strategy(
        name, model, optimizer, nn.CrossEntropyLoss(), evaluator=silent_evaluator(), **COMMON, **params
    )


def test_registry_lists_the_builtins_and_refuses_duplicates():
    assert list_strategies() == ["ewc", "lwf", "naive", "replay", "si"]
    with pytest.raises(ValueError, match="strategy 'si' is already registered"):
        register_strategy("si")(lambda **kw: None)
    with pytest.raises(ValueError, match="si_lambda of strategy 'si2' already belong to 'si'"):
        register_strategy("si2", params={"si_lambda": Param(1.0)})(lambda **kw: None)
    assert "si2" not in list_strategies()
    assert strategy_params("si", {"ewc_lambda": 5}) == {"si_lambda": 1.0, "si_eps": 1e-3}


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("sgd", {}, "unknown strategy 'sgd'; accepted: ewc, lwf, naive, replay, si."),
        ("si", {"ewc_lambda": 1.0}, "strategy 'si' does not take 'ewc_lambda'; accepted: si_lambda, si_eps."),
        ("si", {"si_eps": 0.0}, "si_eps of strategy 'si' must be a number > 0, got 0.0."),
        ("ewc", {"ewc_lambda": -1}, "ewc_lambda of strategy 'ewc' must be a number >= 0, got -1."),
        ("replay", {"replay_mem_size": 2.5}, "replay_mem_size of strategy 'replay' must be a whole number > 0"),
    ],
)
def test_bad_strategy_names_and_values_are_user_errors(name, params, message):
    with pytest.raises(UserError, match=re.escape(message)):
        make_strategy(name, nn.Linear(2, 2), None, nn.CrossEntropyLoss(), **COMMON, **params)
    with pytest.raises(UserError, match="eval_mb_size must be a whole number >= 1"):
        make_strategy(
            "naive", nn.Linear(2, 2), None, nn.CrossEntropyLoss(), train_mb_size=8, train_epochs=1, eval_mb_size=0
        )


def test_strategies_are_avalanche_strategies_with_their_hyperparameters(digits_split):
    from avalanche.training import EWC, LwF, Naive, Replay
    from avalanche.training.plugins import EWCPlugin, LwFPlugin, ReplayPlugin, SynapticIntelligencePlugin
    from avalanche.training.templates import SupervisedTemplate

    train, _ = digits_split
    built = {name: strategy(name, model_for(train)) for name in list_strategies()}
    for name, cls in {"naive": Naive, "ewc": EWC, "replay": Replay, "lwf": LwF, "si": SupervisedTemplate}.items():
        assert isinstance(built[name], cls) and built[name].eval_mb_size == 128 and built[name].train_mb_size == 32

    def plugin(name, kind):
        return next(p for p in built[name].plugins if isinstance(p, kind))

    si = plugin("si", SynapticIntelligencePlugin)
    assert si.si_lambda == [1.0] and si.eps == 1e-3
    assert plugin("ewc", EWCPlugin).ewc_lambda == strategy_params("ewc", {})["ewc_lambda"]
    assert plugin("replay", ReplayPlugin).mem_size == 200
    assert plugin("lwf", LwFPlugin).lwf.alpha == 1.0 and plugin("lwf", LwFPlugin).lwf.temperature == 2.0


def test_cached_si_plugin_trains_exactly_as_avalanches(digits_split):
    from avalanche.training import SynapticIntelligence

    train, scenario = digits_split
    finals = []
    for stock in (True, False):
        model = model_for(train, depth=3)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        if stock:
            si = SynapticIntelligence(
                model=model,
                optimizer=optimizer,
                criterion=nn.CrossEntropyLoss(),
                si_lambda=1.0,
                eps=1e-3,
                evaluator=silent_evaluator(),
                **COMMON,
            )
        else:
            si = strategy("si", model)
        for experience in scenario.train_stream[:3]:
            torch.manual_seed(1)
            si.train(experience)
        finals.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(finals[0], finals[1])


def test_multi_head_model_probes_every_depth_with_each_task_head(digits_split):
    from avalanche.models import MultiTaskModule
    from avalanche.models.dynamic_modules import avalanche_model_adaptation

    train, scenario = digits_split
    model = model_for(train, depth=3)
    assert isinstance(model, MultiTaskModule) and isinstance(model.trunk.backbone.head.fc, nn.Identity)
    for experience in scenario.train_stream[:2]:
        avalanche_model_adaptation(model, experience)
    x = next(iter(torch.utils.data.DataLoader(scenario.test_stream[1].dataset, batch_size=7)))[0]
    model.eval()
    probe = model.probe(x, 1)
    assert probe.shape == (4, 7, 2)  # depths 0..3, batch, the task's classes
    assert torch.allclose(probe[-1], model(x, 1), atol=1e-5)  # full depth = the model's own output
    assert not torch.allclose(model.probe(x, 0)[-1], probe[-1])  # another task, another head
    assert model(x, torch.tensor([0, 1] * 3 + [0])).shape == (7, 2)  # mixed task labels in one batch


def test_class_incremental_model_grows_one_head(digits_split):
    from avalanche.benchmarks import nc_benchmark
    from avalanche.models.dynamic_modules import avalanche_model_adaptation

    train, _ = digits_split
    norm = Normalizer.from_images(train.images)
    data = TensorDataset(norm(train.images), train.labels)
    scenario = nc_benchmark(
        data, data, 5, task_labels=False, fixed_class_order=list(range(10)), class_ids_from_zero_from_first_exp=True
    )
    model = model_for(train, setting="class")
    for experience in scenario.train_stream[:2]:
        avalanche_model_adaptation(model, experience)
    x = train.images[:5].float()
    assert model(x).shape == (5, 4) and model.probe(x).shape == (3, 5, 4)


@pytest.mark.parametrize("name", ["naive", "si", "ewc", "replay", "lwf"])
def test_every_strategy_runs_a_real_split_digits_stream(digits_split, name):
    train, scenario = digits_split
    model = model_for(train)
    result = run_stream(strategy(name, model), scenario.train_stream[:3], scenario.test_stream[:3], log=lambda _: None)
    assert len(result.matrix) == 3 and all(len(row) == 3 and all(0 <= a <= 1 for a in row) for row in result.matrix)
    assert len(result.train_seconds) == 3 and all(s > 0 for s in result.train_seconds)


def test_forgetting_matches_avalanches_stream_forgetting_on_a_real_run(digits_split):
    train, scenario = digits_split
    model = model_for(train, connectivity="residual")
    naive = strategy("naive", model)
    naive.train_epochs = 4
    result = run_stream(naive, scenario.train_stream, scenario.test_stream, log=lambda _: None)
    summary = continual_summary(result.matrix)
    assert len(result.matrix) == 5 and all(len(row) == 5 for row in result.matrix)
    assert summary["avg_forgetting"] != 0  # a real drop, so the comparison means something
    assert summary["avg_forgetting"] == pytest.approx(stream_metric(result.avalanche, "StreamForgetting"), abs=1e-12)
    assert summary["bwt"] == pytest.approx(stream_metric(result.avalanche, "StreamBWT"), abs=1e-12)
    assert summary["avg_accuracy"] == pytest.approx(sum(result.matrix[-1]) / 5)


def test_summary_and_key_parsing_by_hand():
    matrix = [[0.9, 0.1, 0.5], [0.7, 0.8, 0.5], [0.6, 0.4, 1.0]]
    summary = continual_summary(matrix)
    assert summary["avg_accuracy"] == pytest.approx((0.6 + 0.4 + 1.0) / 3)
    assert summary["avg_forgetting"] == pytest.approx(((0.9 - 0.6) + (0.8 - 0.4)) / 2)
    assert summary["bwt"] == pytest.approx(-summary["avg_forgetting"])
    assert summary["learning_accuracy"] == pytest.approx((0.9 + 0.8 + 1.0) / 3)
    with pytest.raises(ValueError, match="square"):
        continual_summary([[0.5, 0.5]])
    results = {
        "Top1_Acc_Exp/eval_phase/test_stream/Task001/Exp001": 0.5,
        "Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp000": 0.25,
        "Top1_Acc_Stream/eval_phase/test_stream/Task001": 0.4,
    }
    assert experience_accuracies(results, 2) == [0.25, 0.5]
    assert stream_metric(results, "Top1_Acc_Stream") == 0.4
    with pytest.raises(ValueError, match=r"experience\(s\) \[2\]"):
        experience_accuracies(results, 3)
