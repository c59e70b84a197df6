"""Early exit: AC vs residual twins with inherent exits, branch classifiers, or a shared exit head.

For every (connectivity, exit mode, seed): train (with the multi-exit loss for ``branches`` and
``shared``), compute the logits of every exit, sweep the entropy threshold T on the validation
split and choose the threshold with the largest FLOPs speedup whose accuracy stays within
``tolerance`` of the full model's; then report on the test split, at that threshold: accuracy,
mean exit depth, FLOPs speedup against the full model without exits (twins share it; branch costs
included) and the wall-clock speedup of the batched implementation that really stops computing
for samples that exited (timed interleaved with the full forward: a paired ratio). Both sweeps are
kept in the record's history.
"""

from __future__ import annotations

import math
import time
from typing import Any

from acn_bench.analysis.early_exit import (
    EXIT_MODES,
    WEIGHTINGS,
    attach_branches,
    branch_layers,
    exit_logits,
    exit_plan,
    measure_exit_costs,
    multi_exit_objective,
    sweep_thresholds,
    wall_clock_speedup,
)
from acn_bench.backbones import Backbone
from acn_bench.benchmarks import paper
from acn_bench.benchmarks.recipes import PAPER_MIXER_RECIPE, SMOKE_FAMILIES, STANDARD_TWINS, mixer_and_vit
from acn_bench.errors import UserError, require, unknown_choice
from acn_bench.results import Record
from acn_bench.results.plots import FigureData, Lines, new_series
from acn_bench.suites import (
    BackboneRecipes,
    ImageData,
    ImageSuite,
    Measured,
    Recipe,
    RunContext,
    Trained,
    register_suite,
)
from acn_bench.training import TrainConfig
from acn_bench.training.trainer import Objective

RECIPES: dict[str, dict[str, Recipe | BackboneRecipes]] = {
    "smoke": {"*": SMOKE_FAMILIES},
    "quick": {
        "digits": Recipe(
            "mixer_small",
            TrainConfig(epochs=30, batch_size=64, warmup_epochs=2, crop_padding=1),
            depth=16,
            overrides={"patch_size": 2},
        ),
        "*": mixer_and_vit(
            Recipe(
                "mixer_small",
                TrainConfig(epochs=4, batch_size=128, warmup_epochs=0.5, crop_padding=4, hflip=True),
                depth=16,
                max_train=10_000,
                max_test=5_000,
            ),
            depth=12,
        ),
    },
    "standard": {"cifar10": STANDARD_TWINS},
    "paper": {"*": Recipe("mixer_cifar", PAPER_MIXER_RECIPE)},
}


def parse_thresholds(spec: Any, num_classes: int) -> list[float]:
    """``auto`` = 25 thresholds from 0 to ln(C) (the largest possible entropy), or a comma list."""
    if spec == "auto":
        return [math.log(num_classes) * i / 24 for i in range(25)]
    try:
        values = [float(v) for v in str(spec).split(",")]
    except ValueError as exc:
        raise UserError(f"thresholds must be 'auto' or numbers separated by commas, got {spec!r}.") from exc
    bad = [v for v in values if v < 0]
    require(not bad, f"exit thresholds must be >= 0, got {bad}.")
    return sorted(values)


def pick_operating_point(sweep: list[dict[str, float]], full_accuracy: float, tolerance: float) -> dict[str, float]:
    """The row with the largest FLOPs speedup whose accuracy is within ``tolerance`` of the full model."""
    eligible = [row for row in sweep if row["accuracy"] >= full_accuracy - tolerance] or [
        min(sweep, key=lambda r: r["threshold"])
    ]
    return max(eligible, key=lambda row: row["flops_speedup"])


@register_suite
class EarlyExitSuite(ImageSuite):
    """Accuracy against compute when samples leave at the first confident exit."""

    name = "early_exit"
    description = (
        "entropy-threshold early exit (inherent, branches, shared head): accuracy, FLOPs and wall-clock speedup"
    )
    key_metrics = ("accuracy", "exit_accuracy", "mean_exit_depth", "flops_speedup", "wall_speedup")
    metrics = ("accuracy", "exit_accuracy", "mean_exit_depth", "flops_speedup", "wall_speedup", "threshold")
    group_by = ("exit_mode", "exit_weights", "branch_layers")
    datasets = ("digits", "cifar10", "cifar100", "tiny-imagenet")
    recipes = RECIPES
    default_datasets = {"paper": "cifar10"}

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        return {
            "exit_mode": list(EXIT_MODES),
            "exit_weights": ["uniform"],
            "branch_layers": ["auto"],
            "thresholds": ["auto"],
            "tolerance": [0.01],
        }

    def check(self, config: dict[str, Any]) -> None:
        if config["exit_mode"] not in EXIT_MODES:
            raise unknown_choice("exit mode", config["exit_mode"], EXIT_MODES)
        if config["exit_weights"] not in WEIGHTINGS:
            raise unknown_choice("exit weighting", config["exit_weights"], WEIGHTINGS)
        if config["depth"] is not None:
            branch_layers(config["depth"], config["branch_layers"])
        parse_thresholds(config["thresholds"], 2)
        require(0 <= config["tolerance"] < 1, f"tolerance must be in [0, 1), got {config['tolerance']!r}.")

    def shares_twin(self, config: dict[str, Any]) -> bool:
        """Inherent exits need no extra training: the model is the plain twin (the compression suite's
        when the recipes agree); branches and a shared exit head train their own."""
        return config["exit_mode"] == "inherent"

    def build_model(self, config: dict[str, Any], recipe: Recipe, data: ImageData) -> Backbone:
        """The twin, with branch classifiers attached in the ``branches`` exit mode."""
        model = super().build_model(config, recipe, data)
        if config["exit_mode"] == "branches":
            attach_branches(model, branch_layers(model.depth, config["branch_layers"]))
        return model

    def objective(self, config: dict[str, Any]) -> Objective:
        """The multi-exit loss of the exit mode (the final output's loss for inherent exits)."""
        return multi_exit_objective(config["exit_mode"], config["exit_weights"])

    def measure(self, config: dict[str, Any], recipe: Recipe, trained: Trained, context: RunContext) -> Measured:
        """The threshold is chosen on validation; the test split is swept once to report the chosen point.

        On validation: sweep the thresholds and take the largest FLOPs speedup within ``tolerance``
        of the full model's validation accuracy. On test: accuracy, mean exit depth and FLOPs speedup
        at that threshold, and the wall-clock speedup of the batched early-exit forward (timed
        interleaved with the full forward).
        """
        start = time.perf_counter()
        model, normalizer = trained.model, trained.normalizer
        plan = exit_plan(model, config["exit_mode"])
        thresholds = parse_thresholds(config["thresholds"], trained.data.train.num_classes)
        splits = {"val": trained.val_tensors(), "test": trained.test_tensors()}
        costs = measure_exit_costs(model, plan, normalizer(splits["val"][0][:1]))
        sweeps = {}
        for split, (images, labels) in splits.items():
            logits = exit_logits(model, plan, images, normalizer, recipe.train.eval_batch_size)
            sweeps[split] = sweep_thresholds(logits, labels, plan, costs, thresholds, costs.full)
        chosen = pick_operating_point(sweeps["val"], trained.val_probe[-1], config["tolerance"])
        test = next(row for row in sweeps["test"] if row["threshold"] == chosen["threshold"])
        batches = [normalizer(images[i : i + 256]) for i in range(0, len(images), 256)]
        wall = wall_clock_speedup(model, plan, batches, chosen["threshold"])
        metrics = {
            "exit_accuracy": test["accuracy"],
            "mean_exit_depth": test["mean_exit_depth"],
            "flops_speedup": test["flops_speedup"],
            **wall.as_metrics("wall_speedup"),
            "threshold": chosen["threshold"],
            "val_exit_accuracy": chosen["accuracy"],
            "val_flops_speedup": chosen["flops_speedup"],
            "full_gflops": costs.full / 1e9,
            "exit_depths": len(plan.depths),
        }
        return Measured(
            metrics,
            history={
                "threshold_sweep": sweeps["test"],
                "val_threshold_sweep": sweeps["val"],
                "exit_depths": plan.depths,
            },
            timings={"exit_eval_s": time.perf_counter() - start},
        )

    def figures(self, records: list[Record]) -> list[FigureData]:
        """Accuracy against FLOPs speedup over the threshold sweep, one curve per model and exit mode."""
        series = new_series()
        for record in records:
            label = f"{record.backbone['connectivity']} {record.config['exit_mode']}"
            for row in record.history["threshold_sweep"]:
                series[label][round(row["flops_speedup"], 2)].append(row["accuracy"])
        title = "early exit: accuracy vs FLOPs speedup"
        return [Lines(f"{self.name}_accuracy_vs_speedup", title, "FLOPs speedup (x)", series)]

    def paper_records(self) -> list[Record]:
        """The paper's reported numbers for this suite."""
        return paper.early_exit_records()
