"""Regime flags: chance levels (stated or derived, never guessed), near-chance rows and transfer sources."""

from __future__ import annotations

import pytest

from acn_bench.results import Record, run_id
from acn_bench.results.leaderboard import build_table
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.leaderboard_views import wide_table
from acn_bench.results.regime import (
    NEAR_CHANCE,
    NEAR_CHANCE_SOURCE,
    chance_level,
    chance_threshold,
    flags,
    judged_accuracy,
    near_chance,
    regime_flags,
    source_chance_level,
)


def make_record(
    suite="compression", seed=0, connectivity="acn", metrics=None, dataset=None, config=None, strategy=None
):
    config = {"dataset": "cifar10", "connectivity": connectivity, "seed": seed, **(config or {})}
    return Record(
        suite=suite,
        profile="quick",
        dataset=dataset or {"name": "cifar10", "source": "jpeg-archive", "num_classes": 10},
        backbone={"name": "mixer_small", "connectivity": connectivity, "depth": 8, "params": 100, "config": {}},
        seed=seed,
        config=config,
        metrics=metrics if metrics is not None else {"accuracy": 0.6},
        run_id=run_id({**config, "suite": suite, "strategy": strategy}),
        strategy=strategy,
    )


def test_chance_is_stated_or_derived_from_the_classes_and_unknown_otherwise():
    assert chance_level(make_record(metrics={"accuracy": 0.5, "chance_accuracy": 0.25})) == 0.25  # stated wins
    assert chance_level(make_record()) == pytest.approx(0.1)  # older record: 1 / dataset.num_classes
    assert chance_level(make_record(dataset={"name": "cifar10", "source": "paper"})) is None  # never guessed
    assert chance_level(make_record(dataset={"name": "x", "num_classes": 1})) is None  # a regression head


def test_continual_chance_follows_the_setting():
    dataset = {"name": "cifar100", "num_classes": 100, "n_tasks": 20, "classes_per_task": 5}
    task = make_record("continual", dataset=dataset, config={"setting": "task"}, strategy="naive")
    assert chance_level(task) == pytest.approx(1 / 5)  # one task's head
    without = make_record("continual", dataset={"name": "cifar100", "num_classes": 100, "n_tasks": 20})
    without.config["setting"] = "task"
    assert chance_level(without) == pytest.approx(1 / 5)  # classes per task from num_classes / n_tasks
    assert chance_level(make_record("continual", dataset=dataset, config={"setting": "class"})) == pytest.approx(0.01)


def test_judged_accuracy_is_the_learning_accuracy_for_continual_runs():
    continual = make_record("continual", metrics={"avg_accuracy": 0.3, "learning_accuracy": 0.9, "accuracy": 0.3})
    assert judged_accuracy(continual) == 0.9  # forgetting is not failing to learn
    assert judged_accuracy(make_record(metrics={"accuracy": 0.7})) == 0.7
    assert judged_accuracy(make_record(metrics={"score": 0.7})) is None  # e.g. a correlation


@pytest.mark.parametrize(
    "accuracy, chance, expected",
    [
        (0.19, 0.1, [NEAR_CHANCE]),
        (0.2, 0.1, []),  # 2 x chance exactly is not below it
        (0.009, 0.005, [NEAR_CHANCE]),
        (0.011, 0.005, []),
        (0.74, 0.5, [NEAR_CHANCE]),  # 2-class: capped at halfway to 100%, not 2 x 50% = 100%
        (0.76, 0.5, []),
        (None, 0.1, []),  # unknown values raise no flag
        (0.15, None, []),
        (float("nan"), 0.1, []),
    ],
)
def test_near_chance_is_below_twice_chance_capped_halfway_to_perfect(accuracy, chance, expected):
    assert flags(accuracy, chance) == expected


def test_the_cap_binds_only_where_twice_chance_is_meaningless():
    assert chance_threshold(0.1) == pytest.approx(0.2)
    assert chance_threshold(1 / 3) == pytest.approx(2 / 3)
    assert chance_threshold(0.5) == pytest.approx(0.75)
    assert chance_threshold(0.1, 5) == pytest.approx(0.5) and chance_threshold(0.01, 5) == pytest.approx(0.05)


def test_transfer_records_are_flagged_for_a_near_chance_source():
    old = make_record(
        "transfer", metrics={"accuracy": 0.37, "source_accuracy": 0.0228}, config={"source_dataset": "tiny-imagenet"}
    )
    assert source_chance_level(old) == pytest.approx(1 / 200)  # derived from the source dataset
    assert regime_flags(old) == [NEAR_CHANCE_SOURCE]  # 2.28% < 5 x 0.5%
    old.metrics["source_accuracy"] = 0.0308
    assert regime_flags(old) == []
    new = make_record(
        "transfer",
        metrics={"accuracy": 0.15, "source_accuracy": 0.3, "source_chance_accuracy": 0.1, "chance_accuracy": 0.1},
        config={"source_dataset": "imagefolder:somewhere"},
    )
    assert regime_flags(new) == [NEAR_CHANCE, NEAR_CHANCE_SOURCE]
    new.metrics = {"accuracy": 0.5, "source_accuracy": 0.01}
    assert source_chance_level(new) is None and regime_flags(new) == []  # unknown source classes: no flag
    assert source_chance_level(make_record()) is None  # not a transfer run


def test_with_a_test_set_size_near_chance_means_a_binomial_test_cannot_tell_it_from_chance():
    assert not near_chance(0.70, 0.5, 2000)  # a 2-class model at 70%: far from chance, whatever the bar said
    assert near_chance(0.51, 0.5, 100) and near_chance(0.105, 0.1, 10_000)
    assert not near_chance(0.12, 0.1, 10_000)  # 1,200 of 10,000 against 1,000 expected: p far below 0.001
    assert near_chance(0.15, 0.1, None)  # no size recorded: the older bar (2 x chance)
    record = make_record(metrics={"accuracy": 0.12}, dataset={"name": "cifar10", "num_classes": 10, "test_size": 10000})
    assert regime_flags(record) == []
    record.dataset["test_size"] = 50  # 6 of 50 against 5 expected
    assert regime_flags(record) == [NEAR_CHANCE]


def test_the_source_check_applies_only_to_runs_that_use_the_source():
    metrics = {"accuracy": 0.6, "source_accuracy": 0.02, "source_chance_accuracy": 0.005}
    used = make_record("transfer", metrics=metrics, config={"mode": "full", "source_dataset": "tiny-imagenet"})
    scratch = make_record("transfer", metrics=dict(metrics), config={"mode": "scratch"})
    assert regime_flags(used) == [NEAR_CHANCE_SOURCE] and regime_flags(scratch) == []


def test_near_chance_rows_are_flagged_unranked_and_listed_last():
    records = [
        make_record(seed=seed, connectivity=connectivity, metrics={"accuracy": accuracy})
        for seed in range(2)
        for connectivity, accuracy in (("acn", 0.15), ("residual", 0.6), ("dense", 0.5))
    ]
    table = build_table(records, LeaderboardSpec(("accuracy",)))
    summary = table.summary
    assert list(summary["connectivity"]) == ["dense", "residual", "acn"]  # the near-chance row last
    assert list(summary["rank"]) == ["2", "1", "–"]
    assert list(summary["regime"]) == ["", "", NEAR_CHANCE]
    shown = wide_table(table)
    assert list(shown["rank"]) == ["2", "1", "–"] and list(shown["regime"]) == ["", "", NEAR_CHANCE]


def test_a_row_is_judged_on_its_mean_not_on_single_seeds():
    records = [make_record(seed=0, metrics={"accuracy": 0.1}), make_record(seed=1, metrics={"accuracy": 0.5})]
    assert regime_flags(records[0]) == [NEAR_CHANCE] and regime_flags(records[1]) == []
    summary = build_table(records, LeaderboardSpec(("accuracy",))).summary
    assert len(summary) == 1 and summary.iloc[0]["regime"] == "" and summary.iloc[0]["rank"] == "1"  # mean 30%
