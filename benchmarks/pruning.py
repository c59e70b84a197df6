"""Pruning: sparsity–accuracy curves of AC vs residual twins, magnitude pruning against a random baseline.

For every (connectivity, method, seed): the dense model of (dataset, backbone, connectivity, depth,
seed) is the plain twin of the recipe, trained once with the validation split held out and kept in
the twin store, so every method (and the compression suite, with the same recipe) reuses it
(:meth:`~acn_bench.suites.ImageSuite.shared_twin`); it is probed on validation and, once, on test. With
``truncate=cutoff`` it is first cut at its cutoff layer, chosen on the validation probe (arXiv 2506.09714,
§3), so pruning stacks on the ACN's layer compression. Then, for every sparsity of the sweep, a
copy is pruned and fine-tuned for ``finetune_epochs`` with the mask fixed and the validation split
as the trainer's held-out set, and tested once:

* ``magnitude``: global magnitude pruning (smallest |w| over all blocks together);
* ``random`` (the baseline): every layer pruned at random (seeded by the run's seed) at the
  per-layer sparsity global magnitude pruning of the same model would give it at that sparsity.

What is pruned: the Linear / Conv2d weights of the blocks only; the embedding, the connectivity and
the shared head stay dense (:mod:`acn_bench.analysis.pruning`). Non-zero parameters count the
whole model.

Movement pruning (Sanh et al., 2020) is not offered: its scores accumulate while a pre-trained
model is fine-tuned on a new task, and here the model is already trained on the task it is
pruned for, so the scores are noise (it fell below random pruning).

Reported per sparsity ``s``: ``accuracy_at_<s>`` (test), ``val_accuracy_at_<s>`` and
``nonzero_params_at_<s>``; ``history.curve`` keeps every point with its per-layer sparsities.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer
from acn_bench.analysis.pruning import PRUNE_METHODS, check_sparsity, nonzero_params, prunable, prune_model
from acn_bench.backbones import Backbone
from acn_bench.benchmarks import robustness
from acn_bench.errors import UserError, require, unknown_choice
from acn_bench.results import Record
from acn_bench.results.plots import FigureData, Lines, model_label, new_series
from acn_bench.suites import ImageSuite, Measured, Recipe, RunContext, Trained, register_suite
from acn_bench.suites.image import fit_trainer
from acn_bench.training import TrainConfig, seed_everything

TRUNCATION = ("none", "cutoff")

# The same twins as the robustness suite: a trained dense model per (connectivity, seed).
RECIPES = robustness.RECIPES
FINETUNE = {"smoke": 1, "quick": 2, "standard": 1, "paper": 10}


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
    """Accuracy against sparsity of both twins: global magnitude pruning against random pruning at its rates."""

    name = "pruning"
    description = (
        "magnitude vs random (same per-layer sparsity) pruning of the blocks of AC vs residual twins; "
        "accuracy and non-zero params vs sparsity"
    )
    key_metrics = ("accuracy", "accuracy_at_0.5", "accuracy_at_0.7", "accuracy_at_0.9")
    metrics = (
        "accuracy",
        "cutoff_layer",
        "accuracy_at_0.5",
        "accuracy_at_0.7",
        "accuracy_at_0.9",
        "nonzero_params_at_0.9",
    )
    group_by = ("method", "truncate")
    baseline = {"method": "random"}  # a method's row must beat the row differing only by method=random
    baseline_metrics = ("accuracy_at_0.5", "accuracy_at_0.7", "accuracy_at_0.9")
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
        if config["truncate"] not in TRUNCATION:
            raise unknown_choice("truncate option", config["truncate"], TRUNCATION)
        parse_sparsities(config["sparsities"])

    def shares_twin(self, config: dict[str, Any]) -> bool:
        """The dense model is the plain twin: trained once (or by the compression suite, with the same
        recipe), shared by every method and truncation of a (dataset, backbone, connectivity, depth, seed)."""
        return True

    def measure(self, config: dict[str, Any], recipe: Recipe, trained: Trained, context: RunContext) -> Measured:
        """Test and validation accuracy and non-zero parameters at every sparsity (after the optional cut)."""
        cutoff = cutoff_layer(trained.val_probe, config["cutoff_delta"])
        depth = cutoff if config["truncate"] == "cutoff" else trained.model.depth
        base = trained.model.truncate(depth) if depth < trained.model.depth else trained.model
        # the dense model is trained already: fine-tuning starts at the full learning rate, no warm-up
        finetune = dataclasses.replace(recipe.train, epochs=config["finetune_epochs"], warmup_epochs=0)
        curve = [
            self.prune_and_measure(base, s, config, trained, finetune, context)
            for s in parse_sparsities(config["sparsities"])
        ]
        metrics = {
            "cutoff_layer": cutoff,
            "base_accuracy": trained.test_probe[depth],
            "base_val_accuracy": trained.val_probe[depth],
            "dense_params": nonzero_params(base),
            "dense_best_epoch": trained.result.best_epoch,
        }
        for point in curve:
            metrics[f"accuracy_at_{point['sparsity']:g}"] = point["accuracy"]
            metrics[f"val_accuracy_at_{point['sparsity']:g}"] = point["val_accuracy"]
            metrics[f"nonzero_params_at_{point['sparsity']:g}"] = point["nonzero_params"]
        history = {
            "curve": curve,
            "pruned_layers": [name for name, _ in prunable(base)],
            "finetune": dataclasses.asdict(finetune),
            "dense_epochs": trained.result.history,
        }
        return Measured(metrics, history=history, model=base)

    def prune_and_measure(
        self,
        base: Backbone,
        sparsity: float,
        config: dict[str, Any],
        trained: Trained,
        finetune: TrainConfig,
        context: RunContext,
    ) -> dict[str, Any]:
        """Prune a copy of ``base`` to ``sparsity`` with the run's method, fine-tune it, and test it once.

        Fine-tuning is seeded alike for every method and sparsity (the same batches), holds the
        validation split out, and keeps the mask fixed.
        """
        model = copy.deepcopy(base)
        layers = prune_model(model, config["method"], sparsity, seed=config["seed"])
        seed_everything(config["seed"])
        recipe = dataclasses.replace(trained.recipe, train=finetune)
        trainer, result = fit_trainer(model, recipe, trained.data, config["seed"], context)
        accuracy = trainer.evaluate(trained.test_tensors())[-1]
        context.log(f"  sparsity {sparsity:g}: val accuracy {result.val_accuracy:.4f}, test accuracy {accuracy:.4f}")
        return {
            "sparsity": sparsity,
            "accuracy": accuracy,
            "val_accuracy": result.val_accuracy,
            "nonzero_params": nonzero_params(model),
            "layer_sparsity": layers,
        }

    def figures(self, records: list[Record]) -> list[FigureData]:
        """Accuracy against sparsity, one line per model and method."""
        series = new_series()
        for record in records:
            label = f"{model_label(record)} {record.config['method']} truncate={record.config['truncate']}"
            for point in record.history["curve"]:
                series[label][point["sparsity"]].append(point["accuracy"])
        return [Lines(f"{self.name}_accuracy_vs_sparsity", "pruning: accuracy vs sparsity", "sparsity", series)]
