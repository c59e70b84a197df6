"""Pruning: sparsity–accuracy curves of AC vs residual twins (magnitude and movement pruning).

For every (connectivity, method, seed): train the dense model once (shared by both methods),
then for every sparsity of the sweep prune a copy and fine-tune it for ``finetune_epochs``:

* ``magnitude``: global magnitude pruning, then fine-tuning with the mask fixed;
* ``movement``: gradual movement pruning during fine-tuning (cubic schedule, per-layer ranking).

With ``truncate=cutoff`` the model is first cut at its cutoff layer (SPEC.md §1), so pruning
stacks on the ACN's layer compression. Reported: accuracy and non-zero parameters per sparsity.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer
from acn_bench.analysis.pruning import (
    PRUNE_METHODS,
    GradualMovementPruning,
    check_sparsity,
    magnitude_prune,
    nonzero_params,
)
from acn_bench.backbones import Backbone
from acn_bench.data.augment import Normalizer
from acn_bench.errors import UserError, require, unknown_choice
from acn_bench.results import Record, run_id
from acn_bench.results.plots import model_label, new_series, plot_series
from acn_bench.suite import RunContext
from acn_bench.suite_registry import register_suite
from acn_bench.training import distributed, probe_accuracy
from benchmarks import robustness
from benchmarks.common import Recipe, cached_model
from benchmarks.image_suite import ImageData, ImageSuite, Measured, Trained, fit_trainer

TRUNCATION = ("none", "cutoff")

# The same twins as the robustness suite: a trained dense model per (connectivity, seed).
RECIPES = robustness.RECIPES
FINETUNE = {"smoke": 1, "quick": 2, "paper": 10}


def parse_sparsities(spec: Any) -> list[float]:
    """``"0,0.5,0.9"`` -> ``[0.0, 0.5, 0.9]``; each must lie in [0, 1)."""
    try:
        values = [float(v) for v in str(spec).split(",")]
    except ValueError as exc:
        raise UserError(f"sparsities must be numbers separated by commas, got {spec!r}.") from exc
    for value in values:
        check_sparsity(value)
    return values


@register_suite
class PruningSuite(ImageSuite):
    """Accuracy against sparsity for magnitude and movement pruning of both twins."""

    name = "pruning"
    description = "magnitude / movement pruning sweep of AC vs residual twins; accuracy and non-zero params vs sparsity"
    metrics = (
        "accuracy",
        "cutoff_layer",
        "accuracy_at_0.5",
        "accuracy_at_0.7",
        "accuracy_at_0.9",
        "nonzero_params_at_0.9",
    )
    group_by = ("method", "truncate")
    datasets = ("digits", "cifar10", "cifar100", "tiny-imagenet")
    recipes = RECIPES
    default_datasets = {"paper": "cifar10"}

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        return {
            "method": list(PRUNE_METHODS),
            "sparsities": ["0,0.3,0.5,0.7,0.9"],
            "finetune_epochs": [FINETUNE[profile]],
            "truncate": ["none"],
            "cutoff_delta": [DEFAULT_CUTOFF_DELTA],
        }

    def check(self, config: dict[str, Any]) -> None:
        require(
            isinstance(config["finetune_epochs"], int) and config["finetune_epochs"] >= 1,
            f"finetune_epochs must be a whole number >= 1, got {config['finetune_epochs']!r}.",
        )
        if config["method"] not in PRUNE_METHODS:
            raise unknown_choice("pruning method", config["method"], PRUNE_METHODS)
        require(
            config["method"] != "movement" or not distributed.launched_by_torchrun(),
            "movement pruning ranks each process's own gradients, so it runs in one process only; "
            "start it without torchrun (magnitude pruning runs under torchrun).",
        )
        if config["truncate"] not in TRUNCATION:
            raise unknown_choice("truncate option", config["truncate"], TRUNCATION)
        parse_sparsities(config["sparsities"])

    def train(self, config: dict[str, Any], recipe: Recipe, data: ImageData, context: RunContext) -> Trained:
        """The dense model of (dataset, backbone, connectivity, depth, seed): trained once, shared by every method."""
        dense_key = {k: config[k] for k in ("dataset", "backbone", "connectivity", "depth", "seed", "profile")}
        path = (
            context.out_dir
            / self.name
            / "dense"
            / f"{run_id({'train': dataclasses.asdict(recipe.train), **dense_key})}.pt"
        )

        def train_dense() -> tuple[Backbone, dict[str, Any]]:
            trained = self.train_model(dict(dense_key), recipe, data, context, path.with_suffix(".ckpt"))
            path.with_suffix(".ckpt").unlink(missing_ok=True)
            return trained.model, {"probe": trained.result.probe_acc, "history": trained.result.history}

        dense, info = cached_model(
            path, train_dense, context, {"name": config["backbone"], "connectivity": config["connectivity"]}
        )
        finetune = dataclasses.replace(
            recipe, train=dataclasses.replace(recipe.train, epochs=config["finetune_epochs"])
        )
        return Trained(config, dense, Normalizer.from_images(data.train.images), data, finetune, extra=info)

    def measure(self, config: dict[str, Any], recipe: Recipe, trained: Trained, context: RunContext) -> Measured:
        """Accuracy and non-zero parameters at every sparsity (after the optional cut at the cutoff layer)."""
        probe = trained.extra["probe"]
        cutoff = cutoff_layer(probe, config["cutoff_delta"])
        base = trained.model.truncate(cutoff) if config["truncate"] == "cutoff" else trained.model
        curve = [
            self.prune_and_measure(base, s, config, trained, context) for s in parse_sparsities(config["sparsities"])
        ]
        metrics = {"accuracy": probe[-1], "cutoff_layer": cutoff, "dense_params": nonzero_params(base)}
        for point in curve:
            metrics[f"accuracy_at_{point['sparsity']:g}"] = point["accuracy"]
            metrics[f"nonzero_params_at_{point['sparsity']:g}"] = point["nonzero_params"]
        return Measured(
            metrics, probe=probe, history={"curve": curve, "dense_epochs": trained.extra["history"]}, model=base
        )

    def prune_and_measure(
        self, base: Backbone, sparsity: float, config: dict[str, Any], trained: Trained, context: RunContext
    ) -> dict[str, float]:
        """Prune a copy of ``base`` to ``sparsity`` with the run's method, fine-tune, and measure it.

        Both methods spend ``finetune_epochs``: magnitude prunes first and fine-tunes with the mask;
        movement prunes gradually while fine-tuning.
        """
        model = copy.deepcopy(base)
        recipe = dataclasses.replace(trained.recipe, train=dataclasses.replace(trained.recipe.train, warmup_epochs=0))
        pruner = None
        if config["method"] == "movement":
            steps = recipe.train.epochs * max(1, len(trained.data.train) // recipe.train.batch_size)
            pruner = GradualMovementPruning(model, sparsity, steps)
        else:
            magnitude_prune(model, sparsity)
        trainer, _ = fit_trainer(
            model, recipe, trained.data, config["seed"], context, on_step=pruner.step if pruner else None
        )
        accuracy = probe_accuracy(
            model, trainer.test_images, trainer.test_labels, trainer.normalizer, recipe.train.eval_batch_size
        )[-1]
        context.log(f"  sparsity {sparsity:g}: accuracy {accuracy:.4f}")
        return {"sparsity": sparsity, "accuracy": accuracy, "nonzero_params": nonzero_params(model)}

    def plot(self, records: list[Record], out_dir: Path) -> list[Path]:
        """Accuracy against sparsity, one line per model and method."""
        series = new_series()
        for record in records:
            label = f"{model_label(record)} {record.config['method']} truncate={record.config['truncate']}"
            for point in record.history["curve"]:
                series[label][point["sparsity"]].append(point["accuracy"])
        return [
            plot_series(
                series, out_dir / f"{self.name}_accuracy_vs_sparsity.png", "pruning: accuracy vs sparsity", "sparsity"
            )
        ]
