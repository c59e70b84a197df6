"""ImageNet: AC-ViT vs Res-ViT trained on class folders streamed from disk (arXiv 2506.09714, §4; recipe: Appendix B).

The data is ``imagenet`` (``$ACN_BENCH_IMAGENET`` or ``<data root>/imagenet`` holding
``train/<wnid>/*.JPEG`` and ``val/<wnid>/*.JPEG``) or any ``imagefolder:PATH`` in that layout.
Images are decoded by worker processes (``$ACN_BENCH_WORKERS`` per rank, default the recipe's)
into pinned memory: RandomResizedCrop, flip and RandAugment for training (timm's pipeline), MixUp
and label smoothing on the batch, AdamW with per-step warm-up + cosine, bf16 autocast on GPU,
gradient clipping, a checkpoint every ``checkpoint_every`` steps that resumes the exact batch
stream, and evaluation with per-depth probing. Reported: top-1 accuracy, the cutoff layer, the
cost of the model truncated there, and training throughput (images/s, TFLOP/s, MFU).

Profiles: ``paper`` (ViT-B/16 at 224 px, batch 1024, 300 epochs for both twins: equal budgets,
the paper's residual budget; the paper trained the ACN 700), ``quick`` (a 6-block ViT at 32 px on
any small class-folder set, e.g. the CIFAR-10 JPEG archive extracted) and ``smoke`` (tests).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer
from acn_bench.backbones import Backbone, backbone_options, create_backbone
from acn_bench.benchmarks import paper
from acn_bench.data.folders import RANDAUGMENT, FolderSplits, open_folders
from acn_bench.errors import require
from acn_bench.results import Record
from acn_bench.suites import (
    BackboneRecipes,
    ImageSuite,
    Measured,
    Recipe,
    RunContext,
    Trained,
    WrapsModelRecipe,
    register_suite,
)
from acn_bench.suites.image import truncation_metrics
from acn_bench.training import TrainConfig, seed_everything
from acn_bench.training.streaming import StreamingTrainer

WORKERS_ENV = "ACN_BENCH_WORKERS"


@dataclass(frozen=True)
class ImageNetRecipe(WrapsModelRecipe):
    """A ViT recipe on streamed class folders.

    Attributes:
        model: backbone, training recipe and twins (``max_train``/``max_test`` unused: streams read all).
        img_size: training and evaluation resolution.
        randaugment: timm RandAugment policy (None disables).
        workers: decoding processes per rank unless ``$ACN_BENCH_WORKERS`` says otherwise.
    """

    model: Recipe
    img_size: int
    randaugment: str | None = RANDAUGMENT
    workers: int = 8


# AdamW lr 1e-3, batch 1024, warm-up + cosine, RandAugment, MixUp 0.2 (arXiv 2506.09714, Appendix B). choice: weight
# decay 0.05 and 10k warm-up steps (~8 epochs), which the paper does not give; label smoothing 0.1.
PAPER_VIT_RECIPE = TrainConfig(
    epochs=300,
    batch_size=1024,
    lr=1e-3,
    weight_decay=0.05,
    warmup_epochs=8,
    min_lr=1e-6,
    label_smoothing=0.1,
    mixup_alpha=0.2,
    clip_grad=1.0,
    amp="auto",
    eval_batch_size=256,
    eval_every=5,
    checkpoint_every=1000,
)

RECIPES: dict[str, dict[str, ImageNetRecipe | BackboneRecipes]] = {
    "smoke": {
        "*": ImageNetRecipe(
            Recipe(
                "vit_tiny",
                TrainConfig(
                    epochs=2, batch_size=8, warmup_epochs=0.5, mixup_alpha=0.2, eval_batch_size=16, checkpoint_every=2
                ),
                depth=3,
            ),
            img_size=16,
            workers=0,
        )
    },
    "quick": {
        "*": ImageNetRecipe(
            Recipe(
                "vit_tiny",
                TrainConfig(
                    epochs=2,
                    batch_size=128,
                    warmup_epochs=0.2,
                    mixup_alpha=0.2,
                    eval_batch_size=256,
                    checkpoint_every=100,
                ),
            ),
            img_size=32,
            workers=2,
        )
    },
    # validation: 10 images per class carved from train/ (10,000 on ImageNet); val/ is the test split
    # ViT-B/16 (the paper's numbers) and ViT-S/16 (the official code's smaller model), one recipe
    "paper": {
        "*": BackboneRecipes(
            tuple(
                ImageNetRecipe(Recipe(name, PAPER_VIT_RECIPE, val_size=10_000), img_size=224, workers=10)
                for name in ("vit_b16", "vit_s16")
            )
        )
    },
}
LATENCY = {"smoke": (4, 1), "quick": (64, 5), "paper": (64, 20)}  # (batch, repeats) of the latency timing


def worker_count(recipe: ImageNetRecipe) -> int:
    """Decoding processes per rank: ``$ACN_BENCH_WORKERS`` or the recipe's."""
    value = os.environ.get(WORKERS_ENV)
    if value is None:
        return recipe.workers
    require(value.isdigit(), f"{WORKERS_ENV} must be a whole number of worker processes, got {value!r}.")
    return int(value)


@register_suite
class ImageNetSuite(ImageSuite):
    """AC-ViT vs Res-ViT on ImageNet-layout class folders, streamed.

    The grid and the record are the image suites'; the steps that differ are the data (class folders
    opened, not loaded), the model (shaped by the recipe's resolution) and training (decoded by
    worker processes, :class:`StreamingTrainer`).
    """

    name = "imagenet"
    description = "ViT twins on ImageNet class folders (streamed, RandAugment, MixUp); accuracy, cutoff, throughput"
    key_metrics = ("accuracy", "cutoff_layer", "truncated_accuracy", "truncated_params", "samples_per_s")
    metrics = (
        "accuracy",
        "cutoff_layer",
        "truncated_accuracy",
        "params",
        "truncated_params",
        "gflops",
        "truncated_gflops",
        "samples_per_s",
        "mfu",
        "best_epoch",
    )
    datasets = ("imagenet",)
    recipes = RECIPES

    recipe_keys = ()  # streamed training has its own recipe

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        return {"cutoff_delta": [DEFAULT_CUTOFF_DELTA]}

    def check(self, config: dict[str, Any]) -> None:
        require(
            isinstance(config["cutoff_delta"], (int, float)) and 0 <= config["cutoff_delta"] < 1,
            f"cutoff_delta must be a number in [0, 1) (accuracy units), got {config['cutoff_delta']!r}.",
        )

    def load_data(self, config: dict[str, Any], recipe: ImageNetRecipe, context: RunContext) -> FolderSplits:
        """The class folders (opened, not read: the trainer streams them), with the validation split carved
        from ``train/``; ``val/`` (or ``test/``) is the test split, evaluated once."""
        return open_folders(config["dataset"], context.data_root).split_validation(recipe.model.val_size)

    def build_model(self, config: dict[str, Any], recipe: ImageNetRecipe, data: FolderSplits) -> Backbone:
        """The untrained ViT twin of ``config`` for the folders' classes at the recipe's resolution."""
        options = backbone_options(config["backbone"])
        wanted = {"img_size": recipe.img_size, "num_classes": data.num_classes, "in_chans": 3, "depth": config["depth"]}
        return create_backbone(
            config["backbone"],
            connectivity=config["connectivity"],
            **{k: v for k, v in wanted.items() if k in options and v is not None},
        )

    def train(
        self,
        config: dict[str, Any],
        recipe: ImageNetRecipe,
        data: FolderSplits,
        context: RunContext,
        checkpoint: Path | None = None,
    ) -> Trained:
        """Build the ViT twin and train it on the decoded stream, resumable from ``checkpoint`` (default: the
        run's own; a stored model, e.g. a transfer source, passes its store's); the streaming trainer is
        ``extra["trainer"]``. The record's configuration adds the dataset's name, resolution and RandAugment."""
        seed_everything(config["seed"])
        trainer = StreamingTrainer(
            self.build_model(config, recipe, data),
            recipe.model.train,
            data,
            img_size=recipe.img_size,
            randaugment=recipe.randaugment,
            workers=worker_count(recipe),
            seed=config["seed"],
            device=context.device,
            checkpoint=checkpoint or context.checkpoint_path(self.name, self.identity(config)),
            progress=context.progress,
            identity=config,
            on_epoch=context.log_epoch,
        )
        result = trainer.fit()
        trained_config = {
            **config,
            "dataset": data.name,
            "img_size": recipe.img_size,
            "randaugment": recipe.randaugment,
        }
        return Trained(
            trained_config,
            trainer.model,
            trainer.normalizer,
            data,
            recipe.model,
            result.val_probe_acc,
            trainer.evaluate(data.test),
            result,
            extra={"trainer": trainer},
        )

    def measure(
        self, config: dict[str, Any], recipe: ImageNetRecipe, trained: Trained, context: RunContext
    ) -> Measured:
        """Cutoff layer (on validation), the truncated model's test accuracy and cost, the training throughput."""
        start = time.perf_counter()
        result = trained.result
        cutoff = cutoff_layer(trained.val_probe, config["cutoff_delta"])
        batch_size, repeats = LATENCY[config["profile"]]
        metrics = {
            "truncated_accuracy": trained.test_probe[cutoff],  # truncate(k) computes probe depth k
            "truncated_val_accuracy": trained.val_probe[cutoff],
            **truncation_metrics(trained.model, cutoff, trained.extra["trainer"].eval_batch(batch_size), repeats),
            **result.throughput,
        }
        return Measured(metrics, timings={"cost_s": time.perf_counter() - start})

    def paper_records(self) -> list[Record]:
        """The paper's ImageNet ViT-B/16 rows."""
        return paper.imagenet_records()
