"""What one profile of an image suite trains on one dataset: :class:`Recipe`, and the twins compared.

A suite whose recipe wraps a :class:`Recipe` with settings of its own (low data's step budget,
transfer's fine-tuning, ImageNet's streaming) exposes it as the attribute ``model`` of its recipe
type; :func:`model_recipe` finds it for the image-suite steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acn_bench.backbones import backbone_options
from acn_bench.training import TrainConfig

TWINS = ("residual", "acn")


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


def model_recipe(recipe: Any) -> Recipe:
    """The :class:`Recipe` of a suite's recipe (backbone, twins, depth, training, splits): ``recipe`` itself,
    or the ``model`` attribute of a recipe that wraps one."""
    return recipe if isinstance(recipe, Recipe) else recipe.model
