"""Pieces every image suite shares: loading a dataset pair, fitting a backbone to it, describing both."""

from __future__ import annotations

from typing import Any, Optional

from acn_bench.backbones import Backbone, backbone_options, create_backbone
from acn_bench.data import ImageSet, load_images
from acn_bench.errors import UserError
from acn_bench.suite import RunContext


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


def backbone_for(name: str, data: ImageSet, connectivity: str, **overrides: Any) -> Backbone:
    """Create backbone ``name`` shaped for ``data``: image size, channels, classes and patch size."""
    img_size = int(data.images.shape[-1])
    geometry: dict[str, Any] = {"img_size": img_size, "in_chans": int(data.images.shape[1]), "num_classes": data.num_classes}
    patch = fit_patch_size(name, img_size)
    if patch is not None:
        geometry["patch_size"] = patch
    return create_backbone(name, connectivity=connectivity, **{**geometry, **overrides})


def backbone_info(model: Backbone) -> dict[str, Any]:
    """The record's ``backbone`` field."""
    return {
        "name": model.config.get("name"),
        "connectivity": model.connectivity.name,
        "depth": model.depth,
        "params": sum(p.numel() for p in model.parameters()),
        "config": dict(model.config),
    }
