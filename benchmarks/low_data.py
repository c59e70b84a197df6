"""Low data: twins trained on N images per class, for a sweep of N (arXiv 2506.09714, §5.2).

The paper trains on the first 100 training images of each CIFAR-10 class (1,000 images) and
tests on the full test set; this suite sweeps N (``per_class``; ``all`` = the whole set) drawn
from the training set left after the validation split: a different seeded choice per seed
(``subset=random``, the default, so the seed spread includes the choice of images) or the first N
in dataset order for every seed (``subset=first``, the paper's fixed subset). It reports test
accuracy and the cutoff layer (chosen on validation) at each N: does an ACN use fewer layers when
it has less data?

Every N trains for exactly the same number of optimiser steps (the recipe's ``steps``), so small
sets are seen for more epochs, as the paper's 150 epochs on 1,000 images.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer
from acn_bench.benchmarks.recipes import PAPER_MIXER_RECIPE, STANDARD_CIFAR10, mixer_and_vit
from acn_bench.data.splits import SUBSET_MODES, per_class_subset
from acn_bench.errors import require, unknown_choice
from acn_bench.results import Record
from acn_bench.results.plots import FigureData, Lines, model_label, new_series
from acn_bench.suites import (
    BackboneRecipes,
    ImageData,
    ImageSuite,
    Measured,
    Recipe,
    RunContext,
    Trained,
    WrapsModelRecipe,
    register_suite,
)
from acn_bench.training import TrainConfig

ALL = "all"


@dataclasses.dataclass(frozen=True)
class LowDataRecipe(WrapsModelRecipe):
    """A base recipe, the N sweep and the step budget of one profile.

    Attributes:
        model: backbone and training recipe (its ``epochs`` are replaced by the step budget).
        per_class: the sweep of images per class.
        steps: optimiser steps of every run, whatever N.
        evaluations: validation evaluations during training.
    """

    model: Recipe
    per_class: tuple[Any, ...]
    steps: int
    evaluations: int = 3


RECIPES: dict[str, dict[str, LowDataRecipe | BackboneRecipes]] = {
    "smoke": {
        "*": mixer_and_vit(
            LowDataRecipe(
                Recipe("mixer_tiny", TrainConfig(batch_size=32, warmup_epochs=0), max_test=128),
                per_class=(5, 20),
                steps=16,
                evaluations=1,
            ),
            model_field="model",
        )
    },
    "quick": {
        "digits": LowDataRecipe(
            Recipe(
                "mixer_small",
                TrainConfig(batch_size=64, warmup_epochs=2, crop_padding=1),
                depth=16,
                overrides={"patch_size": 2},
            ),
            per_class=(5, 10, 50, 100),
            steps=625,  # 40,000 samples at batch 64
        ),
        "*": mixer_and_vit(
            LowDataRecipe(
                Recipe(
                    "mixer_small",
                    TrainConfig(batch_size=64, warmup_epochs=2, crop_padding=4, hflip=True),
                    max_test=5_000,
                ),
                per_class=(10, 50, 100),
                steps=234,  # 15,000 samples at batch 64
            ),
            model_field="model",
        ),
    },
    "standard": {
        "cifar10": mixer_and_vit(
            LowDataRecipe(
                STANDARD_CIFAR10,
                per_class=(10, 50, 100),
                steps=1_500,  # 96,000 samples at batch 64: 100 epochs of 100 images per class
            ),
            model_field="model",
        )
    },
    "paper": {
        "*": LowDataRecipe(
            Recipe("mixer_cifar", dataclasses.replace(PAPER_MIXER_RECIPE, epochs=150)),
            per_class=(10, 50, 100, 500, ALL),
            steps=2_250,  # the paper's 150 epochs of 1,000 images at batch 64 (15 full batches each)
        )
    },
}


@register_suite
class LowDataSuite(ImageSuite):
    """Accuracy and cutoff layer of twins against the number of training images per class."""

    name = "low_data"
    description = "twins trained on N images per class (sweep N); accuracy and cutoff layer vs N"
    key_metrics = ("accuracy", "cutoff_layer", "train_size")
    metrics = ("accuracy", "cutoff_layer", "train_size", "best_epoch")
    group_by = ("per_class", "subset")
    datasets = ("cifar10", "digits", "cifar100", "tiny-imagenet")
    recipes = RECIPES
    default_datasets = {"smoke": "digits"}
    recipe_keys = ()  # the step budget sets the epochs

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        return {
            "per_class": list(self.recipe(profile, dataset).per_class),
            "subset": ["random"],
            "cutoff_delta": [DEFAULT_CUTOFF_DELTA],
        }

    def check(self, config: dict[str, Any]) -> None:
        per_class = config["per_class"]
        require(
            per_class == ALL or (isinstance(per_class, int) and per_class >= 1),
            f"per_class must be a whole number >= 1 or 'all', got {per_class!r}.",
        )
        if config["subset"] not in SUBSET_MODES:
            raise unknown_choice("subset mode", config["subset"], SUBSET_MODES)

    def load_data(self, config: dict[str, Any], recipe: LowDataRecipe, context: RunContext) -> ImageData:
        """``per_class`` training images of every class (seeded by the run's seed), validation and test."""
        data = super().load_data(config, recipe, context)
        if config["per_class"] == ALL:
            return data
        train = per_class_subset(data.train, config["per_class"], config["subset"], seed=config["seed"])
        return dataclasses.replace(data, train=train)

    def train(self, config: dict[str, Any], recipe: LowDataRecipe, data: ImageData, context: RunContext) -> Trained:
        """Train the twin with the model recipe for exactly ``recipe.steps`` optimiser steps on this training set."""
        per_epoch = max(1, len(data.train) // recipe.model.train.batch_size)
        epochs = math.ceil(recipe.steps / per_epoch)
        train_config = dataclasses.replace(
            recipe.model.train, epochs=epochs, steps=recipe.steps, eval_every=max(1, epochs // recipe.evaluations)
        )
        return super().train(config, dataclasses.replace(recipe.model, train=train_config), data, context)

    def measure(self, config: dict[str, Any], recipe: LowDataRecipe, trained: Trained, context: RunContext) -> Measured:
        """Cutoff layer, training-set size and epochs."""
        return Measured(
            {
                "cutoff_layer": cutoff_layer(trained.val_probe, config["cutoff_delta"]),
                "train_size": len(trained.data.train),
                "epochs": trained.recipe.train.epochs,
            }
        )

    def figures(self, records: list[Record]) -> list[FigureData]:
        """Accuracy and cutoff layer against training images per class."""
        accuracy, cutoff = new_series(), new_series()
        for record in records:
            per_class = record.metrics["train_size"] / record.dataset["num_classes"]
            label = model_label(record, epochs=False)  # the epochs follow from N (equal steps): one line per model
            accuracy[label][per_class].append(record.metrics["accuracy"])
            cutoff[label][per_class].append(record.metrics["cutoff_layer"])
        return [
            Lines(f"{self.name}_accuracy", "low data: accuracy", "images per class", accuracy, log_x=True),
            Lines(
                f"{self.name}_cutoff",
                "low data: cutoff layer",
                "images per class",
                cutoff,
                ylabel="cutoff layer",
                percent=False,
                log_x=True,
            ),
        ]
