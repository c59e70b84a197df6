"""What one profile of an image suite trains on one dataset: :class:`Recipe`, and the twins compared;
:class:`BackboneRecipes`, one recipe per backbone family a profile measures.

A suite whose recipe wraps a :class:`Recipe` with settings of its own (low data's step budget,
transfer's fine-tuning, ImageNet's streaming) exposes it as the attribute ``model`` of its recipe
type; :func:`model_recipe` finds it for the image-suite steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acn_bench.backbones import backbone_options, is_built_in
from acn_bench.errors import UserError
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


class WrapsModelRecipe:
    """Base of a suite's recipe that wraps a :class:`Recipe` in its ``model`` attribute (a field, or a
    property naming one of its fields): it names that recipe's backbone, as :class:`BackboneRecipes` reads it."""

    @property
    def backbone(self) -> str:
        """The backbone it trains (its model recipe's)."""
        return self.model.backbone  # type: ignore[attr-defined]


def model_recipe(recipe: Any) -> Recipe:
    """The :class:`Recipe` of a suite's recipe (backbone, twins, depth, training, splits): ``recipe`` itself,
    or the ``model`` attribute of a recipe that wraps one."""
    return recipe if isinstance(recipe, Recipe) else recipe.model


@dataclass(frozen=True)
class BackboneRecipes:
    """A profile's recipes for one dataset, one per backbone it was made for (e.g. a Mixer and a ViT).

    The first is the grid's default; ``--backbones`` picks the others. A suite's recipe of any type
    names its backbone in a ``backbone`` attribute (a recipe without one takes any backbone). A backbone
    from a plugin or an entry point trains with the first recipe (the fixed recipe a submitted backbone
    is measured with); a built-in backbone that no recipe names is refused, since the suite's recipes
    were not made for it.
    """

    recipes: tuple[Any, ...]

    def __post_init__(self) -> None:
        names = self.backbones
        if len(set(names)) != len(names):
            raise ValueError(f"one recipe per backbone, got {names}")

    @classmethod
    def of(cls, entry: Any) -> BackboneRecipes:
        """``entry`` itself, or a suite's single recipe as the only one."""
        return entry if isinstance(entry, cls) else cls((entry,))

    @property
    def backbones(self) -> tuple[str, ...]:
        """The backbones named, the default first."""
        return tuple(name for name in map(named_backbone, self.recipes) if name is not None)

    def pick(self, backbone: str | None, where: str) -> Any:
        """The recipe for ``backbone`` (None: the default), ``where`` naming the profile in messages.

        Raises:
            UserError: ``backbone`` is a built-in backbone none of the recipes names (the message names
                the ones they name).
        """
        for recipe in self.recipes:
            if backbone is None or named_backbone(recipe) in (None, backbone):
                return recipe
        if is_built_in(backbone):
            raise UserError(
                f"{where} has no recipe for the built-in backbone {backbone!r}; accepted: "
                f"{', '.join(self.backbones)}, or a backbone from a plugin (it trains with the "
                f"{self.backbones[0]} recipe)."
            )
        return self.recipes[0]


def named_backbone(recipe: Any) -> str | None:
    """The backbone a suite's recipe names (its ``backbone`` attribute), or None when it names none."""
    return getattr(recipe, "backbone", None)
