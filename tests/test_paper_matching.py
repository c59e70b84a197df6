"""One paper-matching rule: a paper value stands beside a measured row only for the paper's own setup,
in the table and in ``acn-bench leaderboard --paper`` alike."""

from __future__ import annotations

from dataclasses import replace

import pytest

from acn_bench.benchmarks import paper
from acn_bench.benchmarks.continual import paper_records as continual_paper_records
from acn_bench.results import Record, run_id
from acn_bench.results.leaderboard import build_table
from acn_bench.results.leaderboard_spec import LeaderboardSpec
from acn_bench.results.leaderboard_views import reproduction_status
from acn_bench.results.paper_rows import paper_match, reproductions
from acn_bench.suites import get_suite


def measured(
    suite="compression",
    dataset="cifar10",
    backbone="mixer_cifar",
    depth=16,
    connectivity="acn",
    seed=0,
    metrics=None,
    strategy=None,
    **config,
):
    config = {"dataset": dataset, "backbone": backbone, "depth": depth, "connectivity": connectivity, **config}
    config["seed"] = seed
    return Record(
        suite=suite,
        profile="paper",
        dataset={"name": dataset, "source": "archive", "num_classes": 10},
        backbone={"name": backbone, "connectivity": connectivity, "depth": depth, "params": 1, "config": {}},
        seed=seed,
        config=config,
        metrics=metrics or {"accuracy": 0.9},
        run_id=run_id({**config, "strategy": strategy}),
        strategy=strategy,
        environment={"git_commit": "0123456789abcdef", "git_dirty": False},
    )


def table_of(records, suite):
    return build_table(records, LeaderboardSpec.of(get_suite(suite)))


def paper_cell(table, **keys):
    rows = table.summary[table.summary["source"] == "measured"]
    for key, value in keys.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1
    return rows.iloc[0]["paper"], rows.iloc[0]["Δ vs paper"]


def test_an_exact_match_gets_the_paper_value_and_the_difference():
    records = [
        *paper.compression_records(),
        *(measured(seed=s, metrics={"accuracy": a}) for s, a in enumerate([0.9, 0.91])),
    ]
    assert paper_cell(table_of(records, "compression"), connectivity="acn") == ("92.00", "-1.50")


def test_a_digits_run_gets_no_cifar10_paper_value():
    records = [*paper.compression_records(), measured(dataset="digits")]
    assert paper_cell(table_of(records, "compression"), connectivity="acn") == ("", "")


def test_a_depth_5_run_gets_no_depth_10_value():
    records = [*paper.compression_records(), measured(connectivity="dense", depth=5)]
    assert paper_cell(table_of(records, "compression"), connectivity="dense") == ("", "")  # no fallback
    records.append(measured(connectivity="dense", depth=10))
    table = table_of(records, "compression")
    assert paper_cell(table, connectivity="dense", depth=10)[0] == "90.30"


def test_another_backbone_preset_gets_no_paper_value():
    records = [*paper.compression_records(), measured(backbone="mixer_small")]
    assert paper_cell(table_of(records, "compression"), connectivity="acn") == ("", "")


def test_every_group_by_key_the_paper_states_must_match():
    records = [
        *paper.early_exit_records(),
        measured(
            "early_exit",
            exit_mode="shared",
            exit_weights="uniform",
            branch_layers="auto",
            metrics={"accuracy": 0.9, "flops_speedup": 3.0},
        ),
        measured(
            "early_exit",
            exit_mode="shared",
            exit_weights="learned",
            branch_layers="auto",
            metrics={"accuracy": 0.9, "flops_speedup": 2.0},
        ),
    ]
    spec = get_suite("early_exit")
    table = build_table(records, replace(LeaderboardSpec.of(spec), rank_by="flops_speedup"))
    assert paper_cell(table, exit_weights="uniform") == ("3.30", "-0.300")
    assert paper_cell(table, exit_weights="learned") == ("", "")


def test_a_key_the_paper_does_not_state_is_not_compared():
    # The paper's robustness rows state the noise space but not the corruption list.
    records = [
        *paper.robustness_records(),
        measured(
            "robustness",
            dataset="imagenet",
            backbone="vit_b16",
            depth=12,
            corruptions="gaussian:0.1",
            noise_space="normalized",
            checkpoint=None,
            metrics={"accuracy": 0.70},
        ),
        measured(
            "robustness",
            dataset="imagenet",
            backbone="vit_b16",
            depth=12,
            connectivity="residual",
            corruptions="gaussian:0.1",
            noise_space="pixel",
            checkpoint=None,
            metrics={"accuracy": 0.70},
        ),
    ]
    table = table_of(records, "robustness")
    assert paper_cell(table, connectivity="acn")[0] == "70.76"
    assert paper_cell(table, connectivity="residual") == ("", "")  # another noise space


def test_continual_rows_match_on_strategy_scenario_and_hparams():
    scenario = "split-cifar100-20x5-task-il"
    common = dict(dataset="cifar100", depth=10, scenario=scenario, setting="task", n_tasks=20)
    metrics = {"avg_accuracy": 0.4, "avg_forgetting": 0.1, "learning_accuracy": 0.8}
    records = [
        *continual_paper_records(),
        measured("continual", strategy="si", hparams="-", metrics=metrics, **common),
        measured("continual", strategy="si", hparams="si_lambda=10", metrics=metrics, **common),
        measured("continual", strategy="ewc", hparams="-", metrics=metrics, **common),  # the paper has no EWC row
    ]
    for record in records[-3:]:
        record.scenario = scenario
    table = table_of(records, "continual")
    assert paper_cell(table, strategy="si", hparams="-")[0] == "46.10"
    assert paper_cell(table, strategy="si", hparams="si_lambda=10") == ("", "")
    assert paper_cell(table, strategy="ewc") == ("", "")


@pytest.mark.parametrize("suite", ["compression", "early_exit", "continual"])
def test_the_table_and_paper_view_match_the_same_rows(suite):
    papers = {
        "compression": paper.compression_records,
        "early_exit": paper.early_exit_records,
        "continual": continual_paper_records,
    }[suite]()
    spec = get_suite(suite)
    rank_by = next(metric for metric in spec.metrics if metric in papers[0].metrics)  # early exit: flops_speedup
    runs = []
    for index, rec in enumerate(papers):
        config = {key: value for key, value in rec.config.items() if key not in ("reported_std", "reference")}
        metrics = {rank_by: 0.5, "learning_accuracy": 0.9, "accuracy": 0.9}
        for variant in ({}, {"dataset": "digits"}, {"depth": rec.backbone["depth"] + 1}):
            record = measured(
                suite,
                **{
                    "dataset": rec.dataset["name"],
                    "backbone": rec.backbone["name"],
                    "depth": rec.backbone["depth"],
                    "connectivity": rec.backbone["connectivity"],
                    "strategy": rec.strategy,
                    **config,
                    **variant,
                },
                seed=index,
                metrics=metrics,
            )
            record.scenario = rec.scenario
            runs.append(record)
    records = [*papers, *runs]
    table = build_table(records, replace(LeaderboardSpec.of(spec), rank_by=rank_by))
    keys = ["dataset", "backbone", "depth", "connectivity", "strategy", *spec.group_by, "recipe"]
    rows = table.summary[table.summary["source"] == "measured"]
    in_table = {tuple(row[k] for k in keys) for _, row in rows.iterrows() if row["paper"] != ""}
    in_paper_view = {
        tuple(item.row[k] for k in keys)
        for item in reproductions(records, spec.group_by)
        if item.row is not None and item.metric == rank_by
    }
    assert in_table == in_paper_view and len(in_table) == len(papers)  # one exact twin per paper row
    for _, row in rows.iterrows():
        assert (row["paper"] != "") == bool(paper_match(row, papers, spec.group_by))
    status = reproduction_status(records, spec.group_by, "t")
    measured_cells = list(status.columns[3].cells)
    assert sum(cell != "not measured" for cell in measured_cells) == sum(
        1 for item in reproductions(records, spec.group_by) if item.row is not None
    )
