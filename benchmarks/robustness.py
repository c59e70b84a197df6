"""Robustness: twins trained clean, tested under seeded Gaussian and salt-and-pepper noise.

For every (backbone, connectivity, seed): take the clean-trained twin from the twin store (trained
there by the first suite that needed it, e.g. compression with the same recipe; or load
``--checkpoint``), then
evaluate the test set clean and under every corruption and severity of the grid, with the
shared head at every depth (does noise hurt the deep layers of a residual net more?). Every model
sees exactly the same corrupted images (``noise_seed``). Where the noise is applied
(``noise_space``: ``pixel`` before normalisation, or ``normalized`` after it, as the official ViT
code) is a grid key, so it is recorded.
"""

from __future__ import annotations

import time
from typing import Any

from acn_bench.backbones.saving import load_backbone
from acn_bench.benchmarks import paper
from acn_bench.benchmarks.recipes import PAPER_MIXER_RECIPE, SMOKE_FAMILIES, STANDARD_TWINS, mixer_and_vit
from acn_bench.data.augment import Normalizer
from acn_bench.data.corruptions import CORRUPTIONS, SPACES, corrupt_normalized, corrupt_pixels, get_corruption
from acn_bench.errors import UserError, require, unknown_choice
from acn_bench.results import Record
from acn_bench.results.plots import FigureData, Lines, model_label, new_series
from acn_bench.suites import (
    BackboneRecipes,
    ImageData,
    ImageSuite,
    Measured,
    Recipe,
    RunContext,
    Trained,
    register_suite,
)
from acn_bench.training import TrainConfig, probe_accuracy

DEFAULT_CORRUPTIONS = "gaussian:0.1,0.2,0.4;salt_pepper:0.01,0.05,0.1"

RECIPES: dict[str, dict[str, Recipe | BackboneRecipes]] = {
    "smoke": {"*": SMOKE_FAMILIES},
    "quick": {
        "digits": Recipe(
            "mixer_small",
            TrainConfig(epochs=40, batch_size=64, warmup_epochs=2, crop_padding=1),
            depth=16,
            overrides={"patch_size": 2},
        ),
        "*": mixer_and_vit(
            Recipe(
                "mixer_small",
                TrainConfig(epochs=4, batch_size=128, warmup_epochs=0.5, crop_padding=4, hflip=True),
                max_train=10_000,
                max_test=5_000,
            )
        ),
    },
    "standard": {"cifar10": STANDARD_TWINS},
    "paper": {"*": Recipe("mixer_cifar", PAPER_MIXER_RECIPE)},
}


def parse_corruptions(spec: str) -> list[tuple[str, float]]:
    """``"gaussian:0.1,0.2;salt_pepper:0.05"`` -> ``[("gaussian", 0.1), ("gaussian", 0.2), ("salt_pepper", 0.05)]``.

    Raises:
        UserError: unknown corruption, a severity that is not a number, or one outside its range.
    """
    pairs = []
    for part in str(spec).split(";"):
        name, sep, levels = part.partition(":")
        name = name.strip()
        if name not in CORRUPTIONS:
            raise unknown_choice("corruption", name, CORRUPTIONS)
        require(
            bool(sep and levels.strip()), f"corruption {name!r} needs severities, e.g. {name}:0.1,0.2 (got {part!r})."
        )
        for level in levels.split(","):
            try:
                severity = float(level)
            except ValueError as exc:
                raise UserError(f"severity {level.strip()!r} of corruption {name!r} is not a number.") from exc
            get_corruption(name).check(severity)
            pairs.append((name, severity))
    return pairs


def corruption_key(name: str, severity: float) -> str:
    """Metric-name stem of one corruption level, e.g. ``gaussian_0.1``."""
    return f"{name}_{severity:g}"


@register_suite
class RobustnessSuite(ImageSuite):
    """Accuracy of clean-trained twins under test-time noise, at every depth."""

    name = "robustness"
    description = "twins trained clean, tested under seeded Gaussian / salt-and-pepper noise; accuracy per depth"
    metrics = (
        "accuracy",
        *(f"{corruption_key(n, s)}_accuracy" for n, s in parse_corruptions(DEFAULT_CORRUPTIONS)),
        "mean_relative_robustness",
    )
    # clean, one middle severity of each noise, and the mean over all severities
    key_metrics = ("accuracy", "gaussian_0.2_accuracy", "salt_pepper_0.05_accuracy", "mean_relative_robustness")
    group_by = ("noise_space", "corruptions", "checkpoint")
    datasets = ("cifar10", "digits", "cifar100", "tiny-imagenet")
    recipes = RECIPES
    default_datasets = {"smoke": "digits"}

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        return {"corruptions": [DEFAULT_CORRUPTIONS], "noise_space": ["pixel"], "noise_seed": [0], "checkpoint": [None]}

    def check(self, config: dict[str, Any]) -> None:
        parse_corruptions(config["corruptions"])
        if config["noise_space"] not in SPACES:
            raise unknown_choice("noise_space", config["noise_space"], SPACES)
        if config["checkpoint"] is not None:
            load_backbone(config["checkpoint"], self._architecture(config))

    @staticmethod
    def _architecture(config: dict[str, Any]) -> dict[str, Any]:
        """What a ``--checkpoint`` must hold (depth None: a submitted backbone's own depth, any)."""
        wanted = {"name": config["backbone"], "connectivity": config["connectivity"], "depth": config["depth"]}
        return {key: value for key, value in wanted.items() if value is not None}

    def shares_twin(self, config: dict[str, Any]) -> bool:
        """Without ``--checkpoint`` the model is the clean-trained plain twin (the compression suite's,
        when the recipes agree)."""
        return config["checkpoint"] is None

    def train(self, config: dict[str, Any], recipe: Recipe, data: ImageData, context: RunContext) -> Trained:
        """The twin from the twin store (trained on clean data there; its file also serves as a later
        ``--checkpoint``), or the model of ``--checkpoint``."""
        if config["checkpoint"] is None:
            return super().train(config, recipe, data, context)
        model, extra = load_backbone(config["checkpoint"], self._architecture(config))
        normalizer = (
            Normalizer.from_dict(extra["normalization"])
            if "normalization" in extra
            else Normalizer.from_images(data.train.images)
        )
        return Trained.loaded(config, model.to(context.device), normalizer, data, recipe)

    def measure(self, config: dict[str, Any], recipe: Recipe, trained: Trained, context: RunContext) -> Measured:
        """Accuracy at every depth, clean and under every corruption level."""
        start = time.perf_counter()
        images, labels = trained.test_tensors()
        metrics, probes = evaluate_under_noise(
            trained.model, images, labels, trained.normalizer, config, recipe.train.eval_batch_size
        )
        return Measured(
            metrics, history={"probe_under_noise": probes}, timings={"noise_eval_s": time.perf_counter() - start}
        )

    def figures(self, records: list[Record]) -> list[FigureData]:
        """Accuracy against noise severity, one figure per corruption kind, plus probe accuracy by depth."""
        figures = super().figures(records)
        series_by_kind: dict[str, Any] = {}
        for record in records:
            for name, severity in parse_corruptions(record.config["corruptions"]):
                series = series_by_kind.setdefault(name, new_series())
                series[model_label(record)][0.0].append(record.metrics["accuracy"])
                series[model_label(record)][severity].append(
                    record.metrics[f"{corruption_key(name, severity)}_accuracy"]
                )
        for name, series in series_by_kind.items():
            figures.append(Lines(f"{self.name}_{name}", f"{self.name}: {name} noise", "severity", series))
        return figures

    def paper_records(self) -> list[Record]:
        """The paper's reported numbers for this suite."""
        return paper.robustness_records()


def evaluate_under_noise(
    model, images, labels, normalizer: Normalizer, config: dict[str, Any], batch_size: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Accuracy at every depth, clean and under each corruption level of ``config``.

    Returns:
        ``metrics`` (``accuracy``, ``<kind>_<severity>_accuracy``, ``..._relative`` = corrupted /
        clean, ``mean_relative_robustness``) and ``probes`` (per-depth accuracy for ``clean`` and
        every corruption level).
    """
    probes = {"clean": probe_accuracy(model, images, labels, normalizer, batch_size)}
    clean = probes["clean"][-1]
    metrics: dict[str, float] = {"accuracy": clean}
    relative = []
    for name, severity in parse_corruptions(config["corruptions"]):
        key = corruption_key(name, severity)
        seed = config["noise_seed"]
        if config["noise_space"] == "normalized" and get_corruption(name).normalized_noise is not None:
            noisy = corrupt_normalized(normalizer(images), name, severity, seed)
            probes[key] = probe_accuracy(model, noisy, labels, lambda x: x, batch_size)
        else:
            noisy = corrupt_pixels(images.cpu(), name, severity, seed).to(images.device)
            probes[key] = probe_accuracy(model, noisy, labels, normalizer, batch_size)
        metrics[f"{key}_accuracy"] = probes[key][-1]
        metrics[f"{key}_relative"] = probes[key][-1] / clean if clean > 0 else 0.0
        relative.append(metrics[f"{key}_relative"])
    metrics["mean_relative_robustness"] = sum(relative) / len(relative)
    return metrics, probes
