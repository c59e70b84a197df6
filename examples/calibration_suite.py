"""Example third-party suite: how well calibrated is the shared head of each twin, at every depth?

Nothing to install: ``acn-bench run calibration --plugin examples/calibration_suite.py --profile smoke``.
"""

from __future__ import annotations

import torch

from acn_bench import ImageSuite, Measured, Recipe, TrainConfig, register_suite
from acn_bench.analysis.early_exit import exit_logits, exit_plan


def calibration_error(logits: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """Expected calibration error: |confidence - accuracy| over equal-width confidence bins, weighted by size."""
    confidence, predicted = logits.softmax(-1).max(-1)
    correct = (predicted == labels).float()
    which = torch.bucketize(confidence, torch.linspace(0, 1, bins + 1)[1:-1])
    return sum(float((confidence[which == b] - correct[which == b]).sum().abs()) for b in range(bins)) / len(labels)


@register_suite
class CalibrationSuite(ImageSuite):
    """Expected calibration error of twins trained alike (the default load and train steps)."""

    name = "calibration"
    description = "expected calibration error (15 bins) of the shared head at every depth"
    metrics = ("accuracy", "calibration_error")
    datasets = ("digits", "cifar10")
    recipes = {
        "smoke": {"*": Recipe("mixer_tiny", TrainConfig(epochs=2, batch_size=32, warmup_epochs=0), max_train=256)},
        "quick": {"*": Recipe("mixer_small", TrainConfig(epochs=10, batch_size=64, warmup_epochs=1), depth=8)},
    }

    def measure(self, config, recipe, trained, context) -> Measured:
        images, labels = trained.test_tensors()
        logits = exit_logits(trained.model, exit_plan(trained.model, "inherent"), images, trained.normalizer)
        by_depth = [calibration_error(depth_logits, labels) for depth_logits in logits]
        return Measured({"calibration_error": by_depth[-1]}, history={"calibration_error_by_depth": by_depth})
