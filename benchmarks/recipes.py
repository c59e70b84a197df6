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
"""

from __future__ import annotations

import dataclasses

from acn_bench.suites import Recipe
from acn_bench.training import TrainConfig

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
