"""Transfer: pre-train twins on a source set, fine-tune them on a target set with a fresh head.

Pairs: CIFAR-100 -> CIFAR-10 and ImageNet -> CIFAR-10 (the paper's), Tiny-ImageNet -> CIFAR-10
(offline here). Target images are resized to the source's resolution. ``mode`` is ``full``
fine-tuning (the paper's) or ``linear`` probing (only the new classifier trains). A pre-trained
source model is saved once under ``<out>/transfer/sources/`` and reused by every fine-tuning run
of the same source configuration. Reported: target accuracy and cutoff layer after transfer,
and the source model's accuracy and cutoff layer.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer
from acn_bench.backbones import Backbone
from acn_bench.data import ImageSet
from acn_bench.data.augment import resize_bilinear
from acn_bench.errors import require, unknown_choice
from acn_bench.results import Record, run_id
from acn_bench.results.plots import model_label, plot_series, probe_series
from acn_bench.suite import RunContext
from acn_bench.suite_registry import register_suite
from acn_bench.training import TrainConfig
from benchmarks import paper
from benchmarks.common import Recipe, cached_model, load_dataset
from benchmarks.compression import PAPER_MIXER_RECIPE
from benchmarks.image_suite import ImageData, ImageSuite, Measured, Trained, fit_trainer

MODES = ("full", "linear")


@dataclasses.dataclass(frozen=True)
class TransferRecipe:
    """Pre-training on the source and fine-tuning on the target."""

    source: str
    pretrain: Recipe
    finetune: TrainConfig
    max_target_train: int | None = None
    max_target_test: int | None = None


RECIPES: dict[str, dict[str, TransferRecipe]] = {
    "smoke": {
        "*": TransferRecipe(
            "digits",
            Recipe("mixer_tiny", TrainConfig(epochs=2, batch_size=32, warmup_epochs=0), max_train=256, max_test=128),
            TrainConfig(epochs=1, batch_size=32, warmup_epochs=0),
            max_target_train=256,
            max_target_test=128,
        )
    },
    "quick": {
        "*": TransferRecipe(
            "tiny-imagenet",
            Recipe(
                "mixer_small",
                TrainConfig(epochs=2, batch_size=128, warmup_epochs=0.5, crop_padding=8, hflip=True),
                max_train=20_000,
                max_test=2_000,
            ),
            TrainConfig(epochs=2, batch_size=128, lr=5e-4, warmup_epochs=0.2, crop_padding=8, hflip=True),
            max_target_train=10_000,
            max_target_test=5_000,
        )
    },
    "paper": {
        "*": TransferRecipe(
            "cifar100",
            Recipe("mixer_cifar", PAPER_MIXER_RECIPE),
            dataclasses.replace(PAPER_MIXER_RECIPE, epochs=10, lr=5e-4, warmup_epochs=1),
        )
    },
}


@register_suite
class TransferSuite(ImageSuite):
    """Target accuracy and cutoff layer of twins pre-trained on a source set."""

    name = "transfer"
    description = "pre-train twins on a source set, fine-tune (full or linear) on a target; accuracy and cutoff"
    metrics = ("accuracy", "cutoff_layer", "source_accuracy", "source_cutoff_layer")
    group_by = ("source_dataset", "mode")
    datasets = ("cifar10", "digits", "cifar100", "tiny-imagenet")
    recipes = RECIPES
    default_datasets = {"smoke": "digits"}
    sources = ("tiny-imagenet", "cifar100", "imagenet", "digits", "cifar10")

    def model_recipe(self, recipe: TransferRecipe) -> Recipe:
        return recipe.pretrain

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        return {
            "source_dataset": [self.recipe(profile, dataset).source],
            "mode": ["full"],
            "cutoff_delta": [DEFAULT_CUTOFF_DELTA],
        }

    def check(self, config: dict[str, Any]) -> None:
        if config["mode"] not in MODES:
            raise unknown_choice("transfer mode", config["mode"], MODES)
        if config["source_dataset"] not in self.sources and not str(config["source_dataset"]).startswith(
            "imagefolder:"
        ):
            raise unknown_choice("source dataset", config["source_dataset"], [*self.sources, "imagefolder:PATH"])

    def load_data(self, config: dict[str, Any], recipe: TransferRecipe, context: RunContext) -> ImageData:
        """The target's train and test sets."""
        return ImageData(*load_dataset(config["dataset"], context, recipe.max_target_train, recipe.max_target_test))

    def train(self, config: dict[str, Any], recipe: TransferRecipe, data: ImageData, context: RunContext) -> Trained:
        """The source model (pre-trained here or reused), fine-tuned with a fresh head on the target at its size."""
        model, source = self.source_model(config, recipe, context)
        target = ImageData(*match_source(data.train, data.test, model))
        model.reset_classifier(target.train.num_classes)
        if config["mode"] == "linear":
            for name, param in model.named_parameters():
                param.requires_grad = name.startswith("head.fc.")
        finetune = dataclasses.replace(recipe.pretrain, train=recipe.finetune)
        trainer, result = fit_trainer(
            model,
            finetune,
            target,
            config["seed"],
            context,
            identity=config,
            checkpoint=context.checkpoint_path(self.name, self.identity(config)),
            on_epoch=context.log_epoch,
        )
        return Trained(config, model, trainer.normalizer, target, finetune, result, extra=source)

    def measure(
        self, config: dict[str, Any], recipe: TransferRecipe, trained: Trained, context: RunContext
    ) -> Measured:
        """The target's cutoff layer beside the source model's accuracy and cutoff layer."""
        source = trained.extra
        return Measured(
            {"cutoff_layer": cutoff_layer(trained.result.probe_acc, config["cutoff_delta"]), **source["metrics"]},
            history={"source_probe": source["probe"]},
            timings={"source_train_s": source["train_s"]},
        )

    def plot(self, records: list[Record], out_dir: Path) -> list[Path]:
        """Probe accuracy against depth for the source models and the fine-tuned target models."""
        source = probe_series(
            records,
            lambda r: r.history.get("source_probe", []),
            lambda r: f"{model_label(r)} on {r.config['source_dataset']}",
        )
        target = probe_series(records, label=lambda r: f"{model_label(r)} {r.config['mode']} on {r.dataset['name']}")
        return [
            plot_series(
                source, out_dir / f"{self.name}_source_probe.png", "transfer: source model by depth", "depth (blocks)"
            ),
            plot_series(
                target, out_dir / f"{self.name}_target_probe.png", "transfer: target model by depth", "depth (blocks)"
            ),
        ]

    def paper_records(self) -> list[Record]:
        """The paper's reported numbers for this suite."""
        return paper.transfer_records()

    def source_model(
        self, config: dict[str, Any], recipe: TransferRecipe, context: RunContext
    ) -> tuple[Backbone, dict[str, Any]]:
        """The pre-trained source model of ``config``: loaded when saved before, else trained and saved."""
        key = {
            k: config[k]
            for k in ("source_dataset", "backbone", "connectivity", "depth", "seed", "profile", "cutoff_delta")
        }
        path = (
            context.out_dir
            / self.name
            / "sources"
            / f"{run_id({'pretrain': dataclasses.asdict(recipe.pretrain.train), **key})}.pt"
        )

        def pretrain() -> tuple[Backbone, dict[str, Any]]:
            source = ImageData(
                *load_dataset(config["source_dataset"], context, recipe.pretrain.max_train, recipe.pretrain.max_test)
            )
            source_config = dict(key, dataset=config["source_dataset"])
            trained = self.train_model(source_config, recipe.pretrain, source, context, path.with_suffix(".ckpt"))
            path.with_suffix(".ckpt").unlink(missing_ok=True)
            result = trained.result
            return trained.model, {
                "metrics": {
                    "source_accuracy": result.accuracy,
                    "source_cutoff_layer": cutoff_layer(result.probe_acc, config["cutoff_delta"]),
                },
                "probe": result.probe_acc,
                "train_s": result.train_seconds,
            }

        return cached_model(
            path, pretrain, context, {"name": config["backbone"], "connectivity": config["connectivity"]}
        )


def match_source(train: ImageSet, test: ImageSet, model: Backbone) -> tuple[ImageSet, ImageSet]:
    """Resize target images to the source model's resolution; refuse a channel mismatch."""
    channels, size = model.config.get("in_chans"), model.config.get("img_size")
    require(
        train.images.shape[1] == channels,
        f"target {train.name!r} has {train.images.shape[1]} channel(s) but the source model takes {channels}; "
        "pick a source and target with the same number of channels.",
    )
    if size is None or train.images.shape[-1] == size:
        return train, test
    return tuple(dataclasses.replace(s, images=resize_bilinear(s.images, size)) for s in (train, test))  # type: ignore[return-value]
