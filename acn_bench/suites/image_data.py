"""Loading an image suite's data and fitting a backbone to it; how records describe both."""

from __future__ import annotations

from typing import Any

from acn_bench.backbones import Backbone, backbone_options, create_backbone
from acn_bench.data import ImageSet, load_images
from acn_bench.data.splits import validation_split
from acn_bench.errors import UserError
from acn_bench.suites.base import RunContext
from acn_bench.suites.recipe import Recipe

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
