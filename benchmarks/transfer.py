"""Transfer: pre-train twins on a source set, fine-tune them on a target set with a fresh head.

Pairs: CIFAR-100 -> CIFAR-10 and ImageNet -> CIFAR-10 (the paper's; ImageNet and any
``imagefolder:PATH`` source is streamed from class folders and pre-trained with the ``imagenet``
suite's recipe, e.g. ViT-B/16), Tiny-ImageNet -> CIFAR-10 (offline here). Target images are resized
to the source's resolution (grey targets repeat their channel for a colour source). ``mode`` is
``full`` fine-tuning (the paper's), ``linear`` probing (only the new classifier trains), or
``scratch``: the same architecture at the same resolution trained from random initialisation with
the same fine-tuning recipe, the baseline that tells transfer from training on the target alone.

A pre-trained source model is saved once in the model store ``<out>/transfer/sources/`` (keyed by
:func:`source_fields`) and reused by every fine-tuning run of the same source configuration. Every
choice is made on validation splits (the source's cutoff layer on the source's, the target's on the
target's); test splits are evaluated once. Reported: target test accuracy and cutoff layer, and the
source model's test accuracy, its chance level and cutoff layer (a source near chance makes
"transfer" a from-scratch run: the leaderboard flags it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from acn_bench.analysis import DEFAULT_CUTOFF_DELTA, cutoff_layer
from acn_bench.backbones import Backbone, backbone_options, create_backbone
from acn_bench.benchmarks import paper
from acn_bench.benchmarks.recipes import PAPER_MIXER_RECIPE, STANDARD_TRAIN, mixer_and_vit
from acn_bench.data import ImageSet
from acn_bench.data.augment import resize_bilinear
from acn_bench.data.folders import FolderSplits
from acn_bench.errors import require, unknown_choice
from acn_bench.results import Record, run_id
from acn_bench.results.plots import FigureData, Lines, model_label, probe_series
from acn_bench.suites import (
    BackboneRecipes,
    ImageData,
    ImageSuite,
    Measured,
    Recipe,
    RunContext,
    Trained,
    WrapsModelRecipe,
    get_suite,
    register_suite,
)
from acn_bench.suites.image import fit_trainer
from acn_bench.suites.image_data import VALIDATION_SEED, load_splits
from acn_bench.suites.model_store import stored_model
from acn_bench.training import TrainConfig, seed_everything

MODES = ("full", "linear", "scratch")
STREAMED = "imagenet"  # and every imagefolder:PATH source: class folders streamed by the imagenet suite
STREAMED_SOURCE = "streamed-folders"  # the data source of a streamed source model's key


@dataclasses.dataclass(frozen=True)
class TransferRecipe(WrapsModelRecipe):
    """Pre-training on the source and fine-tuning on the target.

    Attributes:
        source: the default source dataset.
        pretrain: the source recipe (backbone, training, splits; for a streamed source the
            ``imagenet`` suite's recipe of the profile is used instead).
        finetune: the fine-tuning recipe (also the recipe of the ``scratch`` baseline).
        target: the target's splits (``max_train``, ``max_test``, ``val_size``; its backbone and
            training fields are unused).
    """

    source: str
    pretrain: Recipe
    finetune: TrainConfig
    target: Recipe

    @property
    def model(self) -> Recipe:
        """The :class:`Recipe` that names backbone, twins and depth: the source's pre-training recipe."""
        return self.pretrain


def target_splits(**splits: Any) -> Recipe:
    """A :class:`Recipe` that only says how to split the target (its backbone and training are unused)."""
    return Recipe("", TrainConfig(), **splits)


# Tiny-ImageNet decoded at 32 px (CIFAR's size), 6 epochs on the 90,000 training images left after the
# validation split: a source well above 5x chance (0.5%), so transfer is transfer.
QUICK_SOURCE = Recipe(
    "mixer_small",
    TrainConfig(epochs=6, batch_size=128, warmup_epochs=0.5, crop_padding=4, hflip=True),
    max_test=5_000,
    val_size=5_000,
    image_size=32,
)


RECIPES: dict[str, dict[str, TransferRecipe | BackboneRecipes]] = {
    "smoke": {
        "*": mixer_and_vit(
            TransferRecipe(
                "digits",
                Recipe(
                    "mixer_tiny", TrainConfig(epochs=2, batch_size=32, warmup_epochs=0), max_train=256, max_test=128
                ),
                TrainConfig(epochs=1, batch_size=32, warmup_epochs=0),
                target_splits(max_train=256, max_test=128),
            ),
            model_field="pretrain",
        )
    },
    "quick": {
        "*": mixer_and_vit(
            TransferRecipe(
                "tiny-imagenet",
                QUICK_SOURCE,
                TrainConfig(epochs=2, batch_size=128, lr=5e-4, warmup_epochs=0.2, crop_padding=4, hflip=True),
                target_splits(max_train=10_000, max_test=5_000),
            ),
            model_field="pretrain",
        )
    },
    "standard": {
        # the quick profile's source models (the same pre-training recipe shares them), fine-tuned on the
        # whole CIFAR-10 training set with the standard profile's augmentation and optimiser
        "cifar10": mixer_and_vit(
            TransferRecipe(
                "tiny-imagenet",
                QUICK_SOURCE,
                dataclasses.replace(STANDARD_TRAIN, epochs=3, lr=5e-4, warmup_epochs=0.3),
                target_splits(),
            ),
            model_field="pretrain",
        )
    },
    "paper": {
        "*": TransferRecipe(
            "cifar100",
            Recipe("mixer_cifar", PAPER_MIXER_RECIPE),
            dataclasses.replace(PAPER_MIXER_RECIPE, epochs=10, lr=5e-4, warmup_epochs=1),
            target_splits(),
        )
    },
}


@register_suite
class TransferSuite(ImageSuite):
    """Target accuracy and cutoff layer of twins pre-trained on a source set."""

    name = "transfer"
    description = "pre-train twins on a source, fine-tune (full, linear; scratch baseline) on a target; accuracy"
    key_metrics = ("accuracy", "cutoff_layer", "source_accuracy")
    metrics = ("accuracy", "cutoff_layer", "source_accuracy", "source_cutoff_layer")
    group_by = ("source_dataset", "mode")
    datasets = ("cifar10", "digits", "cifar100", "tiny-imagenet")
    recipes = RECIPES
    default_datasets = {"smoke": "digits"}
    sources = ("tiny-imagenet", "cifar100", "imagenet", "digits", "cifar10")
    recipe_keys = ()  # pre-training and fine-tuning have their own epochs

    def check(self, config: dict[str, Any]) -> None:
        if config["mode"] not in MODES:
            raise unknown_choice("transfer mode", config["mode"], MODES)
        source = str(config["source_dataset"])
        if source not in self.sources and not source.startswith("imagefolder:"):
            raise unknown_choice("source dataset", source, [*self.sources, "imagefolder:PATH"])

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        return {
            "source_dataset": [self.recipe(profile, dataset).source],
            "mode": ["full", "scratch"],
            "cutoff_delta": [DEFAULT_CUTOFF_DELTA],
        }

    def load_data(self, config: dict[str, Any], recipe: TransferRecipe, context: RunContext) -> ImageData:
        """The target's train, validation and test sets."""
        return ImageData(*load_splits(config["dataset"], context, recipe.target))

    def train(self, config: dict[str, Any], recipe: TransferRecipe, data: ImageData, context: RunContext) -> Trained:
        """The source model (pre-trained here or reused) with a fresh head, fine-tuned on the target at the
        source's resolution; in ``scratch`` mode the same architecture from random initialisation."""
        model, source = self.source_model(config, recipe, context)
        target = ImageData(*match_source(data, model))
        if config["mode"] == "scratch":
            model = self.build_model(config, recipe.pretrain, target, like=model)
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
        test_probe = trainer.evaluate((target.test.images, target.test.labels))
        return Trained(
            config, model, trainer.normalizer, target, finetune, result.val_probe_acc, test_probe, result, extra=source
        )

    def shared_model(self, config: dict[str, Any]) -> str:
        """The source model: every mode of a (source, backbone, connectivity, depth, seed) shares it."""
        return run_id(source_key(config))

    def build_model(
        self, config: dict[str, Any], recipe: Recipe, data: ImageData, like: Backbone | None = None
    ) -> Backbone:
        """A fresh model; ``like`` a source model: the same architecture at its resolution (the scratch baseline)."""
        if like is None:
            return super().build_model(config, recipe, data)
        seed_everything(config["seed"])
        options = backbone_options(config["backbone"])
        architecture = {k: v for k, v in like.config.items() if k in options and k != "name"}
        return create_backbone(config["backbone"], **architecture).to(next(like.parameters()).device)

    def measure(
        self, config: dict[str, Any], recipe: TransferRecipe, trained: Trained, context: RunContext
    ) -> Measured:
        """The target's cutoff layer (on validation) beside the source model's accuracy, chance and cutoff."""
        source = trained.extra
        return Measured(
            {
                "cutoff_layer": cutoff_layer(trained.val_probe, config["cutoff_delta"]),
                **source["metrics"],
                "source_cutoff_layer": cutoff_layer(source["val_probe"], config["cutoff_delta"]),
            },
            history={"source_probe": source["probe"], "source_val_probe": source["val_probe"]},
            timings={"source_train_s": source["train_s"]},
        )

    def figures(self, records: list[Record]) -> list[FigureData]:
        """Probe accuracy against depth for the source models and the fine-tuned target models."""
        source = probe_series(
            records,
            lambda r: r.history.get("source_probe", []),
            lambda r: f"{model_label(r)} on {r.config['source_dataset']}",
        )
        target = probe_series(records, label=lambda r: f"{model_label(r)} {r.config['mode']} on {r.dataset['name']}")
        return [
            Lines(f"{self.name}_source_probe", "transfer: source model by depth", "depth (blocks)", source),
            Lines(f"{self.name}_target_probe", "transfer: target model by depth", "depth (blocks)", target),
        ]

    def paper_records(self) -> list[Record]:
        """The paper's reported numbers for this suite."""
        return paper.transfer_records()

    def source_model(
        self, config: dict[str, Any], recipe: TransferRecipe, context: RunContext
    ) -> tuple[Backbone, dict[str, Any]]:
        """The pre-trained source model of ``config`` from the store ``<out>/transfer/sources/``: loaded
        when saved before, else trained and saved. The source data is opened first, so a missing source
        fails before the store is touched."""
        source = config["source_dataset"]
        source_config = dict(source_key(config), dataset=source)
        if is_streamed(source):
            suite = get_suite("imagenet")
            what = streamed_source_recipe(config["profile"], config["backbone"])
            folders = suite.load_data(source_config, what, context)
            fields = source_fields(config, what, STREAMED_SOURCE, suite.protocol_fields())

            def train(checkpoint: Path) -> tuple[Backbone, dict[str, Any]]:
                return self.stream_pretrain(source_config, what, folders, context, checkpoint)

        else:
            data = ImageData(*load_splits(source, context, recipe.pretrain))
            fields = source_fields(config, recipe.pretrain, data.train.source, self.protocol_fields())

            def train(checkpoint: Path) -> tuple[Backbone, dict[str, Any]]:
                return self.memory_pretrain(source_config, recipe.pretrain, data, context, checkpoint)

        expected = {"name": config["backbone"], "connectivity": config["connectivity"]}
        stored = stored_model(context.out_dir / self.name / "sources", fields, train, context, expected)
        return stored.model, stored.extra

    def memory_pretrain(
        self, config: dict[str, Any], recipe: Recipe, data: ImageData, context: RunContext, checkpoint: Path
    ) -> tuple[Backbone, dict[str, Any]]:
        """Train the source model on an in-memory set: validation and test probes, chance level."""
        trained = self.train_model(config, recipe, data, context, checkpoint)
        return trained.model, source_facts(
            trained.val_probe, trained.test_probe, trained.data.train.num_classes, trained.result.train_seconds
        )

    def stream_pretrain(
        self, config: dict[str, Any], recipe: Any, folders: FolderSplits, context: RunContext, checkpoint: Path
    ) -> tuple[Backbone, dict[str, Any]]:
        """Train the source model on streamed class folders with the ``imagenet`` suite's recipe."""
        run = get_suite("imagenet").train(config, recipe, folders, context, checkpoint=checkpoint)
        return run.model, source_facts(run.val_probe, run.test_probe, folders.num_classes, run.result.train_seconds)


def source_key(config: dict[str, Any]) -> dict[str, Any]:
    """What tells one pre-trained source model from another, besides its pre-training recipe (every
    fine-tuning mode of it shares it, and so do profiles with the same pre-training recipe)."""
    return {k: config[k] for k in ("source_dataset", "backbone", "connectivity", "depth", "seed")}


def source_fields(config: dict[str, Any], pretrain: Any, data_source: str, protocol: dict[str, int]) -> dict[str, Any]:
    """The key of a source model in the model store: :func:`source_key`, the pre-training recipe in
    full, where the source's data came from, its validation split and the protocol version of the
    suite that trains it (``protocol``: its :meth:`~acn_bench.suites.Suite.protocol_fields`)."""
    return {
        **protocol,
        "pretrain": dataclasses.asdict(pretrain),
        "val_seed": VALIDATION_SEED,
        "data_source": data_source,
        **source_key(config),
    }


def streamed_source_recipe(profile: str, backbone: str) -> Any:
    """The ``imagenet`` suite's recipe that pre-trains a streamed source of ``backbone`` in ``profile``: its
    recipe for that backbone where it has one, else its default (its training serves any backbone)."""
    suite = get_suite("imagenet")
    own = backbone in suite.recipe_backbones(profile, STREAMED)
    return suite.recipe(profile, STREAMED, backbone if own else None)


def is_streamed(source: str) -> bool:
    """Whether ``source`` is read as class folders by the ``imagenet`` suite (ImageNet or imagefolder:PATH)."""
    return source == STREAMED or source.startswith("imagefolder:")


def source_facts(val_probe: list[float], test_probe: list[float], classes: int, train_s: float) -> dict[str, Any]:
    """What a target record says about its source model: test and validation accuracy, chance level,
    probes and training time (its cutoff layer is chosen per run, on ``val_probe``)."""
    return {
        "metrics": {
            "source_accuracy": test_probe[-1],
            "source_val_accuracy": val_probe[-1],
            "source_chance_accuracy": 1 / classes,
        },
        "probe": test_probe,
        "val_probe": val_probe,
        "train_s": train_s,
    }


def match_source(data: ImageData, model: Backbone) -> tuple[ImageSet, ImageSet, ImageSet]:
    """The target's splits at the source model's resolution and channels (a grey target repeats its channel
    for a colour source); other channel mismatches are refused."""
    channels, size = model.config.get("in_chans"), model.config.get("img_size")
    have = data.train.images.shape[1]
    require(
        have == channels or (have == 1 and channels == 3),
        f"target {data.train.name!r} has {have} channel(s) but the source model takes {channels}; "
        "pick a source and target with the same number of channels.",
    )

    def fit(split: ImageSet) -> ImageSet:
        images = split.images.expand(-1, channels, -1, -1).contiguous() if have != channels else split.images
        if size is not None and images.shape[-1] != size:
            images = resize_bilinear(images, size)
        return dataclasses.replace(split, images=images)

    return fit(data.train), fit(data.val), fit(data.test)
