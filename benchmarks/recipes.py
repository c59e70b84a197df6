"""Training recipes several suites share, so that one trained twin serves all of them.

Suites whose model is the plain twin (compression, robustness, pruning's dense model, inherent
early exits) use the same :class:`~acn_bench.suites.Recipe` object per profile where they can:
the twin store keys a trained model by its recipe, so equal recipes train each twin once.

* ``PAPER_MIXER_RECIPE``: the paper's CIFAR MLP-Mixer training (arXiv 2506.09714, Appendix B), 700 epochs.
* ``STANDARD_CIFAR10``: the ``standard`` profile, the paper's augmentation and optimiser (AdamW,
  label smoothing, CutMix, AutoAugment, crop, flip, clipping) on the whole CIFAR-10 training set
  minus the validation split, for a budget one run affords in about an hour on one CPU core (see
  README, "Profiles").
* ``SMOKE_TWINS``: the tiny recipe of the tests and CI.

Every CIFAR-10 image suite measures a second family beside the Mixer: the CPU ViT ``vit_tiny``
(``VIT``), selected with ``--backbones vit_tiny``. Its recipes are the Mixer's with only the backbone
changed (``vit_recipe``): the same data, augmentation, optimiser, learning rate and budget, so the
two families differ in their blocks alone (README, "Profiles", says how the learning rate was checked
on the validation split).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from acn_bench.suites import BackboneRecipes, Recipe
from acn_bench.training import TrainConfig

VIT = "vit_tiny"

PAPER_MIXER_RECIPE = TrainConfig(
    epochs=700,
    batch_size=64,
    lr=1e-3,
    weight_decay=0.01,
    warmup_epochs=10,
    min_lr=1e-6,
    label_smoothing=0.1,
    cutmix_prob=0.5,
    cutmix_alpha=1.0,
    autoaugment="cifar10",
    crop_padding=4,
    hflip=True,
    clip_grad=1.0,
    grad_norms=True,
)

STANDARD_EPOCHS = 20
STANDARD_TRAIN = dataclasses.replace(PAPER_MIXER_RECIPE, epochs=STANDARD_EPOCHS, warmup_epochs=2)
STANDARD_CIFAR10 = Recipe("mixer_small", STANDARD_TRAIN)

SMOKE_TWINS = Recipe(
    "mixer_tiny", TrainConfig(epochs=2, batch_size=32, warmup_epochs=0, grad_norms=True), max_train=256, max_test=128
)


def vit_recipe(recipe: Recipe, depth: int | None = None, **overrides: object) -> Recipe:
    """``recipe`` for the CPU ViT: the same training, splits and twins; the ViT's own depth (None: its
    preset's) and backbone arguments."""
    return dataclasses.replace(recipe, backbone=VIT, depth=depth, overrides=dict(overrides))


def mixer_and_vit(
    recipe: Any, depth: int | None = None, *, model_field: str | None = None, **vit_overrides: object
) -> BackboneRecipes:
    """A Mixer ``recipe`` and its ViT twin, the Mixer the grid's default.

    ``recipe`` is a :class:`Recipe`, or a suite's recipe that wraps one in its field ``model_field`` (the
    low-data ``model``, the transfer ``pretrain``): the twin is the same recipe with that :class:`Recipe`
    replaced by :func:`vit_recipe`'s, so its step budget, sweep, source and fine-tuning stay the Mixer's.
    """
    if model_field is None:
        return BackboneRecipes((recipe, vit_recipe(recipe, depth, **vit_overrides)))
    vit = vit_recipe(getattr(recipe, model_field), depth, **vit_overrides)
    return BackboneRecipes((recipe, dataclasses.replace(recipe, **{model_field: vit})))


STANDARD_TWINS = mixer_and_vit(STANDARD_CIFAR10)
SMOKE_FAMILIES = mixer_and_vit(SMOKE_TWINS)
