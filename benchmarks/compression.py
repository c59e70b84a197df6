"""Compression: train twins with equal budgets, probe every depth, cut the model at its cutoff layer.

For every (backbone, connectivity, seed): train, measure shared-head accuracy at depths 0..L on
the validation split, find the cutoff layer there (earliest depth within ``cutoff_delta`` of the
full model, arXiv 2506.09714, §3), truncate the model, and report test accuracy of the full and the truncated
model (the test split is evaluated once), parameters, GFLOPs (torch's FLOP counter), size and the
latency of the full and the truncated model timed interleaved (a paired speedup ratio).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

import numpy as np

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer
from acn_bench.backbones import CONNECTIVITIES
from acn_bench.benchmarks import paper
from acn_bench.benchmarks.recipes import (
    PAPER_MIXER_RECIPE,
    SMOKE_FAMILIES,
    STANDARD_EPOCHS,
    STANDARD_TWINS,
    mixer_and_vit,
)
from acn_bench.errors import require, unknown_choice
from acn_bench.results import Record
from acn_bench.results.grouping import recipe_hash
from acn_bench.results.plots import FigureData, Heatmaps, Lines, model_label, probe_series
from acn_bench.suites import (
    TWINS,
    BackboneRecipes,
    ImageData,
    ImageSuite,
    Measured,
    Recipe,
    RunContext,
    Trained,
    register_suite,
)
from acn_bench.suites.image import truncation_metrics
from acn_bench.suites.image_data import parameter_matched_depth
from acn_bench.training import TrainConfig, probe_accuracy

RECIPES: dict[str, dict[str, Recipe | BackboneRecipes]] = {
    "smoke": {"*": SMOKE_FAMILIES},
    "quick": {
        "digits": Recipe(
            "mixer_small",
            TrainConfig(epochs=40, batch_size=64, warmup_epochs=2, crop_padding=1, grad_norms=True),
            depth=16,
            overrides={"patch_size": 2},
        ),
        "cifar10": mixer_and_vit(
            Recipe(
                "mixer_small",
                TrainConfig(epochs=5, batch_size=128, warmup_epochs=1, crop_padding=4, hflip=True, grad_norms=True),
            )
        ),
        "*": Recipe("mixer_small", TrainConfig(epochs=10, batch_size=128, warmup_epochs=1, crop_padding=4, hflip=True)),
    },
    "standard": {"cifar10": STANDARD_TWINS},
    "paper": {"*": Recipe("mixer_cifar", PAPER_MIXER_RECIPE)},
}
LATENCY = {
    "smoke": (8, 2),
    "quick": (64, 10),
    "standard": (64, 20),
    "paper": (64, 20),
}  # (batch, repeats) of the latency timing


@register_suite
class CompressionSuite(ImageSuite):
    """AC vs residual twins: accuracy, cutoff layer and the cost of the truncated model."""

    name = "compression"
    description = "train twins, probe every depth, truncate at the cutoff layer; accuracy, params, FLOPs, MB, latency"
    key_metrics = ("accuracy", "cutoff_layer", "truncated_accuracy", "truncated_params", "latency_speedup")
    metrics = (
        "accuracy",
        "cutoff_layer",
        "truncated_accuracy",
        "params",
        "truncated_params",
        "gflops",
        "truncated_gflops",
        "size_mb",
        "truncated_size_mb",
        "latency_ms",
        "truncated_latency_ms",
        "latency_speedup",
        "best_epoch",
    )
    datasets = ("digits", "cifar10", "cifar100", "tiny-imagenet")
    recipes = RECIPES
    default_datasets = {"paper": "cifar10"}

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        return {"cutoff_delta": [DEFAULT_CUTOFF_DELTA], "match_params": ["dense"]}

    def check(self, config: dict[str, Any]) -> None:
        require(
            isinstance(config["cutoff_delta"], (int, float)) and 0 <= config["cutoff_delta"] < 1,
            f"cutoff_delta must be a number in [0, 1) (accuracy units), got {config['cutoff_delta']!r}.",
        )
        unknown = [c for c in str(config["match_params"]).split(",") if c and c != "none" and c not in CONNECTIVITIES]
        if unknown:
            raise unknown_choice("match_params connectivity", unknown[0], ["none", *CONNECTIVITIES])

    def shares_twin(self, config: dict[str, Any]) -> bool:
        """The compressed model is the plain twin: robustness, pruning and inherent early exits reuse it."""
        return True

    def train(self, config: dict[str, Any], recipe: Recipe, data: ImageData, context: RunContext) -> Trained:
        """Train the twin; a connectivity named in ``match_params`` gets the residual twin's parameter budget."""
        if config["connectivity"] in str(config["match_params"]).split(","):
            depth = parameter_matched_depth(
                config["backbone"], data.train, config["connectivity"], config["depth"], **recipe.overrides
            )
            context.log(
                f"  {config['connectivity']}: {depth} blocks match the residual twin's parameters "
                f"at depth {config['depth']}"
            )
            config = dict(config, depth=depth)
        return super().train(config, recipe, data, context)

    def measure(self, config: dict[str, Any], recipe: Recipe, trained: Trained, context: RunContext) -> Measured:
        """Cutoff layer (chosen on validation), the truncated model's test accuracy, and the cost of the full
        and the truncated model."""
        start = time.perf_counter()
        model = trained.model
        cutoff = cutoff_layer(trained.val_probe, config["cutoff_delta"])
        images, labels = trained.test_tensors()
        truncated_acc = probe_accuracy(
            model.truncate(cutoff), images, labels, trained.normalizer, recipe.train.eval_batch_size
        )[-1]
        latency_batch, repeats = LATENCY[config["profile"]]
        batch = trained.normalizer(images[:latency_batch])
        metrics = {
            "truncated_accuracy": truncated_acc,
            "truncated_val_accuracy": trained.val_probe[cutoff],
            **truncation_metrics(model, cutoff, batch, repeats),
            "latency_batch": batch.shape[0],
        }
        return Measured(metrics, timings={"cost_s": time.perf_counter() - start})

    def figures(self, records: list[Record]) -> list[FigureData]:
        """Probe accuracy by depth (also as a share of each model's full accuracy, for the standard twins of
        every backbone family), Figure-1-style per-block gradient norms over training and, for models
        trained at several budgets (``--set epochs=E``), test accuracy and cutoff layer against epochs."""
        figures = super().figures(records)
        figures += relative_probe_figures(self.name, records, self.protocol, self.recipe_keys)
        figures += budget_figures(self.name, records)
        grids: dict[str, list[np.ndarray]] = {}
        for record in records:
            epochs = [e["grad_norms"] for e in record.history.get("epochs", []) if "grad_norms" in e]
            if epochs:
                grids.setdefault(model_label(record), []).append(np.array(epochs).T)  # blocks x epochs
        if grids:
            title = "gradient norm per block over training"
            maps = dict(sorted(grids.items()))
            figures.append(Heatmaps(f"{self.name}_grad_norms", title, "epoch", "block", "grad norm", maps, log=True))
        return figures

    def paper_records(self) -> list[Record]:
        """The paper's reported numbers for this suite."""
        return paper.compression_records()


def relative_probe_figures(
    suite: str, records: list[Record], protocol: int, recipe_keys: tuple[str, ...] = ()
) -> list[FigureData]:
    """The standard profile's twins at its budget under the suite's ``protocol`` and the profile's own
    recipe (no ``--set`` of a ``recipe_keys`` key), one line per backbone family and twin: test accuracy at
    every depth as a share of the model's own full accuracy (mean ± std over seeds), the curve whose mean
    over the truncated depths is claim (a1)'s measure."""
    twins = [
        record
        for record in records
        if record.profile == "standard"
        and record.training_epochs == STANDARD_EPOCHS
        and record.protocol == protocol
        and not any(key in record.config for key in recipe_keys)
        and record.backbone.get("connectivity") in TWINS
        and record.probe
        and record.probe[-1]
    ]
    if not twins:
        return []
    series = probe_series(twins, probe=lambda record: [acc / record.probe[-1] for acc in record.probe])
    title = f"{suite}: accuracy by depth as a share of the full model's (standard, {STANDARD_EPOCHS} epochs)"
    ylabel = "share of the full model's test accuracy (%)"
    return [Lines(f"{suite}_relative_probe_standard", title, "depth (blocks)", series, ylabel=ylabel)]


def budget_figures(suite: str, records: list[Record]) -> list[FigureData]:
    """Test accuracy and cutoff layer against training epochs, one line per model family measured at two
    or more budgets (mean ± std over seeds at each measured budget; nothing is extrapolated).

    A line holds everything but the budget fixed: records that differ in any other configuration key or
    recipe field (a ``--set cutoff_delta``, an older recipe) make lines of their own.
    """
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        epochs = record.training_epochs
        if epochs is None:
            continue
        line = lines.setdefault((model_label(record, epochs=False), budget_family(record)), {"acc": {}, "cut": {}})
        line["acc"].setdefault(epochs, []).append(record.metrics["accuracy"])
        line["cut"].setdefault(epochs, []).append(record.metrics["cutoff_layer"])
    swept = {key: line for key, line in lines.items() if len(line["acc"]) >= 2}
    if not swept:
        return []
    families = Counter(label for label, _ in swept)
    names = {key: key[0] if families[key[0]] == 1 else f"{key[0]} ({key[1][:6]})" for key in swept}
    accuracy = {names[key]: line["acc"] for key, line in swept.items()}
    cutoff = {names[key]: line["cut"] for key, line in swept.items()}
    return [
        Lines(
            f"{suite}_accuracy_vs_epochs",
            f"{suite}: test accuracy against training budget",
            "training epochs",
            accuracy,
        ),
        Lines(
            f"{suite}_cutoff_vs_epochs",
            f"{suite}: cutoff layer against training budget",
            "training epochs",
            cutoff,
            ylabel="cutoff layer",
            percent=False,
        ),
    ]


def budget_family(record: Record) -> str:
    """What a budget-sweep line holds fixed: the record's recipe (:func:`recipe_hash`) but its epochs."""
    config = {k: v for k, v in record.config.items() if k != "epochs"}
    config["train"] = {k: v for k, v in config.get("train", {}).items() if k != "epochs"}
    return recipe_hash(dataclasses.replace(record, config=config))
