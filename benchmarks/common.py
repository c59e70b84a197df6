"""Pieces every image suite shares: loading a dataset pair, fitting a backbone to it, describing both."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from acn_bench.backbones import Backbone, backbone_options, create_backbone
from acn_bench.backbones.io import load_backbone, save_backbone
from acn_bench.data import ImageSet, load_images
from acn_bench.data.augment import Normalizer
from acn_bench.errors import UserError, unknown_choice
from acn_bench.results import Record, environment
from acn_bench.suite import RunContext, Suite, expand_grid
from acn_bench.training import TrainConfig, Trainer, TrainResult, seed_everything

TWINS = ("residual", "acn")


def load_dataset(name: str, context: RunContext, max_train: Optional[int] = None, max_test: Optional[int] = None) -> tuple[ImageSet, ImageSet]:
    """Train and test sets of ``name`` (optionally only their first ``max_*`` images)."""
    train = load_images(name, "train", context.data_root, download=context.download)
    test = load_images(name, "test", context.data_root, download=context.download)
    if max_train is not None and max_train < len(train):
        train = train.subset(range(max_train))
    if max_test is not None and max_test < len(test):
        test = test.subset(range(max_test))
    return train, test


def dataset_info(train: ImageSet, test: ImageSet) -> dict[str, Any]:
    """The record's ``dataset`` field."""
    return {
        "name": train.name,
        "source": train.source,
        "train_size": len(train),
        "test_size": len(test),
        "num_classes": train.num_classes,
        "image_shape": list(train.images.shape[1:]),
    }


def fit_patch_size(backbone: str, img_size: int) -> Optional[int]:
    """Patch size that keeps the preset's token grid at ``img_size`` (e.g. 32 px / patch 4 -> 8 px / patch 1).

    Falls back to the preset's own patch size when it divides ``img_size``; ``None`` when the
    backbone has no patch size.
    """
    options = backbone_options(backbone)
    patch, preset_img = options.get("patch_size"), options.get("img_size")
    if not isinstance(patch, int) or not isinstance(preset_img, int):
        return None
    scaled, remainder = divmod(patch * img_size, preset_img)
    if remainder == 0 and scaled >= 1:
        return scaled
    if img_size % patch == 0:
        return patch
    raise UserError(
        f"backbone {backbone!r} (patch {patch} at {preset_img} px) cannot tile {img_size} px images; "
        "pass a patch_size that divides the image size."
    )


def backbone_for(name: str, data: ImageSet, connectivity: str, depth: Optional[int] = None, **overrides: Any) -> Backbone:
    """Create backbone ``name`` shaped for ``data``: image size, channels, classes and patch size.

    ``depth=None`` keeps the backbone's own depth. Recipe overrides the backbone does not take
    (e.g. a patch size for a third-party backbone without patches) are left out.
    """
    img_size = int(data.images.shape[-1])
    geometry: dict[str, Any] = {"img_size": img_size, "in_chans": int(data.images.shape[1]), "num_classes": data.num_classes}
    patch = fit_patch_size(name, img_size)
    if patch is not None:
        geometry["patch_size"] = patch
    if depth is not None:
        geometry["depth"] = depth
    accepted = backbone_options(name)
    wanted = {**geometry, **overrides}
    return create_backbone(name, connectivity=connectivity, **{k: v for k, v in wanted.items() if k in accepted})


def backbone_info(model: Backbone) -> dict[str, Any]:
    """The record's ``backbone`` field."""
    return {
        "name": model.config.get("name"),
        "connectivity": model.connectivity.name,
        "depth": model.depth,
        "params": sum(p.numel() for p in model.parameters()),
        "config": dict(model.config),
    }


@dataclass(frozen=True)
class Recipe:
    """What one profile trains on one dataset.

    Attributes:
        backbone: registry name of the backbone.
        train: the training recipe.
        connectivities: the twins compared.
        depth: depth override (None: the preset's).
        max_train, max_test: keep only the first images of each split (None: all).
        overrides: further backbone arguments (e.g. a patch size for tiny images).
    """

    backbone: str
    train: TrainConfig
    connectivities: tuple[str, ...] = TWINS
    depth: Optional[int] = None
    max_train: Optional[int] = None
    max_test: Optional[int] = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def grid_depth(self) -> int:
        """The depth the grid uses by default."""
        return self.depth or backbone_options(self.backbone)["depth"]


def pick_recipe(recipes: dict[str, dict[str, Recipe]], profile: str, dataset: str) -> Recipe:
    """The recipe of ``profile`` for ``dataset`` (``*``: the profile's default)."""
    if profile not in recipes:
        raise unknown_choice("profile", profile, recipes)
    return recipes[profile].get(dataset, recipes[profile]["*"])


def train_backbone(
    config: dict[str, Any], recipe: Recipe, train: ImageSet, test: ImageSet, context: RunContext, checkpoint: Path
) -> tuple[Backbone, Trainer, TrainResult]:
    """Build ``config``'s backbone for ``train`` and train it, resumable from ``checkpoint``."""
    seed_everything(config["seed"])
    model = backbone_for(config["backbone"], train, config["connectivity"], depth=config["depth"], **recipe.overrides)
    trainer = Trainer(
        model, recipe.train, train.images, train.labels, test.images, test.labels, seed=config["seed"],
        device=context.device, checkpoint=checkpoint,
        progress=context.progress, identity=config, on_epoch=context.log_epoch,
    )
    return model, trainer, trainer.fit()


def make_record(
    suite: str,
    config: dict[str, Any],
    recipe: Recipe,
    data: tuple[ImageSet, ImageSet],
    model: Backbone,
    normalizer: Normalizer,
    metrics: dict[str, Any],
    *,
    result: Optional[TrainResult] = None,
    probe: Optional[list[float]] = None,
    timings: Optional[dict[str, float]] = None,
    history: Optional[dict[str, Any]] = None,
) -> Record:
    """The record of one image run: dataset, backbone, recipe, probe, history, timings, environment.

    With a training ``result``, its accuracy, best epoch, steps, probe, epoch history and timings
    are included; a run that evaluated a loaded model passes its own ``probe`` instead.
    """
    train, test = data
    metrics = dict(metrics)
    timings = dict(timings or {})
    history = dict(history or {})
    run_config = {**config, "normalization": normalizer.as_dict()}
    if result is not None:
        metrics = {"accuracy": result.accuracy, "best_accuracy": result.best_acc, "best_epoch": result.best_epoch,
                   "steps": result.steps, **metrics}
        timings = {"train_s": result.train_seconds, "eval_s": result.eval_seconds, **result.throughput, **timings}
        history = {"epochs": result.history, **history}
        run_config["train"] = dataclasses.asdict(recipe.train)
        probe = result.probe_acc
    device = next(model.parameters()).device
    return Record(
        suite=suite,
        profile=config["profile"],
        dataset=dataset_info(train, test),
        backbone=backbone_info(model),
        seed=config["seed"],
        config=run_config,
        metrics=metrics,
        run_id="",
        probe=list(probe or []),
        timings=timings,
        environment={**environment(), "device": str(device)},
        history=history,
    )


def cached_model(
    path: Path, train: Callable[[], tuple[Backbone, dict[str, Any]]], context: RunContext, expected: dict[str, Any]
) -> tuple[Backbone, dict[str, Any]]:
    """A trained model saved at ``path`` with its ``extra`` data: loaded if there, else trained and saved.

    Lets several runs (fine-tuning modes, pruning methods) share one expensive training.
    """
    if path.is_file():
        context.log(f"  reusing the trained model {path}")
        model, extra = load_backbone(path, expected)
        return model.to(context.device), extra
    model, extra = train()
    save_backbone(path, model, extra)
    return model, extra


def parameter_matched_depth(name: str, data: ImageSet, connectivity: str, depth: int, reference: str = "residual",
                            **overrides: Any) -> int:
    """The largest depth at which ``connectivity`` has no more parameters than ``reference`` at ``depth``.

    The DenseNet-style twin's projections grow with depth; the paper used 10 layers instead of
    16 to match the residual twin's parameter count.
    """
    def params(conn: str, d: int) -> int:
        return sum(p.numel() for p in backbone_for(name, data, conn, depth=d, **overrides).parameters())

    budget = params(reference, depth)
    return next((d for d in range(depth, 0, -1) if params(connectivity, d) <= budget), 1)


class ImageSuite(Suite):
    """A suite that trains twins of one backbone on an image set: the shared grid and defaults.

    Subclasses set ``recipes`` (profile -> dataset or ``*`` -> recipe), ``default_datasets``
    (profile -> dataset; others: ``datasets[0]``) and add their own grid keys in :meth:`axes`.
    """

    recipes: dict[str, dict[str, Any]] = {}
    default_datasets: dict[str, str] = {}

    def default_dataset(self, profile: str) -> str:
        """The profile's dataset when the user names none."""
        return self.default_datasets.get(profile, self.datasets[0])

    def recipe(self, profile: str, dataset: str) -> Any:
        """The suite's recipe for ``profile`` on ``dataset``."""
        return pick_recipe(self.recipes, profile, dataset)

    def model_recipe(self, profile: str, dataset: str) -> Recipe:
        """The :class:`Recipe` that names the backbone, twins and depth (override for nested recipes)."""
        return self.recipe(profile, dataset)

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        """The suite's own grid keys, after dataset, backbone, connectivity and depth."""
        return {}

    def grid(self, profile: str, dataset: str) -> list[dict[str, Any]]:
        recipe = self.model_recipe(profile, dataset)
        return expand_grid({
            "dataset": [dataset],
            "backbone": [recipe.backbone],
            "connectivity": list(recipe.connectivities),
            "depth": [recipe.grid_depth()],
            **self.axes(profile, dataset),
        })
