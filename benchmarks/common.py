"""Pieces image suites share: loading a dataset pair, fitting a backbone to it, describing both, recipes."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock

from acn_bench.backbones import Backbone, backbone_options, create_backbone
from acn_bench.backbones.saving import load_backbone, save_backbone
from acn_bench.data import ImageSet, load_images
from acn_bench.data.splits import validation_split
from acn_bench.errors import UserError
from acn_bench.suite import RunContext
from acn_bench.training import TrainConfig, distributed

TWINS = ("residual", "acn")


VALIDATION_SEED = 0  # one validation split per (dataset, size): every run of a row is validated alike


def load_dataset(
    name: str,
    context: RunContext,
    max_train: int | None = None,
    max_test: int | None = None,
    image_size: int | None = None,
) -> tuple[ImageSet, ImageSet]:
    """Train and test sets of ``name`` (optionally only their first ``max_*`` images, decoded at ``image_size``)."""
    train = load_images(name, "train", context.data_root, download=context.download, image_size=image_size)
    test = load_images(name, "test", context.data_root, download=context.download, image_size=image_size)
    if max_train is not None and max_train < len(train):
        train = train.subset(range(max_train))
    if max_test is not None and max_test < len(test):
        test = test.subset(range(max_test))
    return train, test


def load_splits(name: str, context: RunContext, recipe: Recipe) -> tuple[ImageSet, ImageSet, ImageSet]:
    """Train, validation and test sets of ``name`` for ``recipe``: the validation split (``val_size``
    images or a fraction) is carved from the whole training set first, then ``max_train`` keeps the
    first of the remaining training images and ``max_test`` the first test images."""
    train, test = load_dataset(name, context, None, recipe.max_test, recipe.image_size)
    max_train = recipe.max_train
    train, val = validation_split(train, recipe.val_size, VALIDATION_SEED)
    if max_train is not None and max_train < len(train):
        train = train.subset(range(max_train))
    return train, val, test


def dataset_info(train: ImageSet, test: ImageSet, val: ImageSet | None = None) -> dict[str, Any]:
    """The record's ``dataset`` field (with the validation split's size and seed when there is one)."""
    info = {
        "name": train.name,
        "source": train.source,
        "train_size": len(train),
        "test_size": len(test),
        "num_classes": train.num_classes,
        "image_shape": list(train.images.shape[1:]),
    }
    if val is not None:
        info.update(val_size=len(val), val_seed=VALIDATION_SEED)
    return info


def fit_patch_size(backbone: str, img_size: int) -> int | None:
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


def backbone_for(name: str, data: ImageSet, connectivity: str, depth: int | None = None, **overrides: Any) -> Backbone:
    """Create backbone ``name`` shaped for ``data``: image size, channels, classes and patch size.

    ``depth=None`` keeps the backbone's own depth. Recipe overrides the backbone does not take
    (e.g. a patch size for a third-party backbone without patches) are left out.
    """
    img_size = int(data.images.shape[-1])
    geometry: dict[str, Any] = {
        "img_size": img_size,
        "in_chans": int(data.images.shape[1]),
        "num_classes": data.num_classes,
    }
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
        max_train, max_test: keep only the first images of each split (None: all); ``max_train``
            applies after the validation split is carved out.
        overrides: further backbone arguments (e.g. a patch size for tiny images).
        val_size: the validation split carved from the training set (images, or a fraction < 1):
            every choice is made on it, the test split is evaluated once.
        image_size: decode the images at this size (None: their own).
    """

    backbone: str
    train: TrainConfig
    connectivities: tuple[str, ...] = TWINS
    depth: int | None = None
    max_train: int | None = None
    max_test: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    val_size: int | float = 0.1
    image_size: int | None = None

    def grid_depth(self) -> int:
        """The depth the grid uses by default."""
        return self.depth or backbone_options(self.backbone)["depth"]


def cached_model(
    path: Path, train: Callable[[], tuple[Backbone, dict[str, Any]]], context: RunContext, expected: dict[str, Any]
) -> tuple[Backbone, dict[str, Any]]:
    """A trained model saved at ``path`` with its ``extra`` data: loaded if there, else trained and saved.

    Lets several runs (fine-tuning modes, pruning methods) share one expensive training. A file lock
    beside ``path`` makes runs in parallel processes (``--jobs``) train it once: the second waits for
    the first and loads its model. Under ``torchrun`` the processes are the ranks of one run, which
    train together (``--jobs`` is refused there): no lock, or the ranks would wait on each other.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock") if distributed.world_size() == 1 else nullcontext():
        if path.is_file():
            context.log(f"  reusing the trained model {path}")
            model, extra = load_backbone(path, expected)
            return model.to(context.device), extra
        model, extra = train()
        save_backbone(path, model, extra)
        return model, extra


def parameter_matched_depth(
    name: str, data: ImageSet, connectivity: str, depth: int, reference: str = "residual", **overrides: Any
) -> int:
    """The largest depth at which ``connectivity`` has no more parameters than ``reference`` at ``depth``.

    The DenseNet-style twin's projections grow with depth; the paper used 10 layers instead of
    16 to match the residual twin's parameter count.
    """

    def params(conn: str, d: int) -> int:
        return sum(p.numel() for p in backbone_for(name, data, conn, depth=d, **overrides).parameters())

    budget = params(reference, depth)
    return next((d for d in range(depth, 0, -1) if params(connectivity, d) <= budget), 1)
