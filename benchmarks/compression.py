"""Compression: train twins with equal budgets, probe every depth, cut the model at its cutoff layer.

For every (backbone, connectivity, seed): train, measure shared-head test accuracy at depths
0..L, find the cutoff layer (earliest depth within ``cutoff_delta`` of the full model, SPEC.md §1),
truncate the model there, and report accuracy, parameters, GFLOPs (torch's FLOP counter), size
and measured latency of the full and the truncated model.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer, measure_cost
from acn_bench.backbones import backbone_options
from acn_bench.errors import unknown_choice
from acn_bench.results import Record, environment
from acn_bench.suite import RunContext, Suite, expand_grid
from acn_bench.training import TrainConfig, Trainer, probe_accuracy, seed_everything
from benchmarks.common import backbone_for, backbone_info, dataset_info, load_dataset

TWINS = ("residual", "acn")


@dataclass(frozen=True)
class Recipe:
    """What one profile trains on one dataset."""

    backbone: str
    train: TrainConfig
    connectivities: tuple[str, ...] = TWINS
    depth: Optional[int] = None
    max_train: Optional[int] = None
    max_test: Optional[int] = None
    latency_batch: int = 64
    latency_repeats: int = 10
    overrides: dict[str, Any] = field(default_factory=dict)


PAPER_MIXER_RECIPE = TrainConfig(
    epochs=700, batch_size=64, lr=1e-3, weight_decay=0.01, warmup_epochs=10, min_lr=1e-6, label_smoothing=0.1,
    cutmix_prob=0.5, cutmix_alpha=1.0, autoaugment="cifar10", crop_padding=4, hflip=True, clip_grad=1.0,
)

RECIPES: dict[str, dict[str, Recipe]] = {
    "smoke": {
        "*": Recipe("mixer_tiny", TrainConfig(epochs=2, batch_size=32, warmup_epochs=0), max_train=256, max_test=128,
                    latency_batch=8, latency_repeats=2),
    },
    "quick": {
        "digits": Recipe("mixer_small", TrainConfig(epochs=40, batch_size=64, warmup_epochs=2, crop_padding=1),
                         depth=16, overrides={"patch_size": 2}),
        "cifar10": Recipe("mixer_small", TrainConfig(epochs=5, batch_size=128, warmup_epochs=1, crop_padding=4, hflip=True)),
        "*": Recipe("mixer_small", TrainConfig(epochs=10, batch_size=128, warmup_epochs=1, crop_padding=4, hflip=True)),
    },
    "paper": {
        "*": Recipe("mixer_cifar", PAPER_MIXER_RECIPE),
    },
}


def recipe_for(profile: str, dataset: str) -> Recipe:
    """The recipe of ``profile`` for ``dataset`` (``*`` is the profile's default)."""
    if profile not in RECIPES:
        raise unknown_choice("profile", profile, RECIPES)
    recipes = RECIPES[profile]
    return recipes.get(dataset, recipes["*"])


class CompressionSuite(Suite):
    """AC vs residual twins: accuracy, cutoff layer and the cost of the truncated model."""

    name = "compression"
    description = "train twins, probe every depth, truncate at the cutoff layer; accuracy, params, FLOPs, MB, latency"
    metrics = (
        "accuracy", "cutoff_layer", "truncated_accuracy", "params", "truncated_params", "gflops",
        "truncated_gflops", "size_mb", "truncated_size_mb", "latency_ms", "truncated_latency_ms", "best_epoch",
    )
    datasets = ("digits", "cifar10", "cifar100", "tiny-imagenet")

    def grid(self, profile: str, dataset: str) -> list[dict[str, Any]]:
        recipe = recipe_for(profile, dataset)
        return expand_grid({
            "dataset": [dataset],
            "backbone": [recipe.backbone],
            "connectivity": list(recipe.connectivities),
            "depth": [recipe.depth or backbone_options(recipe.backbone)["depth"]],
            "cutoff_delta": [DEFAULT_CUTOFF_DELTA],
        })

    def run_one(self, config: dict[str, Any], context: RunContext) -> Record:
        recipe = recipe_for(config["profile"], config["dataset"])
        train, test = load_dataset(config["dataset"], context, recipe.max_train, recipe.max_test)
        seed_everything(config["seed"])
        model = backbone_for(config["backbone"], train, config["connectivity"], depth=config["depth"], **recipe.overrides)
        trainer = Trainer(
            model, recipe.train, train.images, train.labels, test.images, test.labels, seed=config["seed"],
            device=context.device, checkpoint=context.checkpoint_path(self.name, self.identity(config)),
            progress=context.progress, identity=config, on_epoch=context.log_epoch,
        )
        result = trainer.fit()
        cutoff = cutoff_layer(result.probe_acc, config["cutoff_delta"])

        t0 = time.perf_counter()
        truncated = model.truncate(cutoff)
        truncated_acc = probe_accuracy(truncated, trainer.test_images, trainer.test_labels, trainer.normalizer,
                                       recipe.train.eval_batch_size)[-1]
        batch = trainer.normalizer(test.images[: recipe.latency_batch].to(context.device))
        full_cost = measure_cost(model, batch, recipe.latency_repeats)
        cut_cost = measure_cost(truncated, batch, recipe.latency_repeats)
        cost_seconds = time.perf_counter() - t0

        metrics = {
            "accuracy": result.accuracy,
            "best_accuracy": result.best_acc,
            "best_epoch": result.best_epoch,
            "cutoff_layer": cutoff,
            "removable_fraction": 1 - cutoff / model.depth,
            "truncated_accuracy": truncated_acc,
            **full_cost.as_metrics(),
            **cut_cost.as_metrics("truncated_"),
            "latency_batch": batch.shape[0],
            "steps": result.steps,
        }
        return Record(
            suite=self.name,
            profile=config["profile"],
            dataset=dataset_info(train, test),
            backbone=backbone_info(model),
            seed=config["seed"],
            config={**config, "train": dataclasses.asdict(recipe.train), "normalization": trainer.normalizer.as_dict()},
            metrics=metrics,
            run_id="",
            probe=result.probe_acc,
            timings={"train_s": result.train_seconds, "eval_s": result.eval_seconds, "cost_s": cost_seconds},
            environment={**environment(), "device": str(context.device)},
            history={"epochs": result.history},
        )


SUITE = CompressionSuite()
