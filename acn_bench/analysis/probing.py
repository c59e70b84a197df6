"""Reading per-depth probe accuracies: the cutoff layer (arXiv 2506.09714, §3)."""

from __future__ import annotations

from typing import Sequence

DEFAULT_CUTOFF_DELTA = 0.005  # 0.5 accuracy points, accuracies in [0, 1]


def cutoff_layer(probe_acc: Sequence[float], delta: float = DEFAULT_CUTOFF_DELTA) -> int:
    """The earliest depth whose accuracy is within ``delta`` of the full model's.

    Args:
        probe_acc: shared-head accuracy at depths 0..L (``probe_acc[-1]`` is the full model).
        delta: tolerated drop, in the same units as the accuracies (0.005 = 0.5 points).

    Returns:
        The smallest k with ``probe_acc[k] >= probe_acc[-1] - delta``.
    """
    if len(probe_acc) == 0:
        raise ValueError("cutoff_layer needs the accuracy of at least one depth")
    if delta < 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    target = probe_acc[-1] - delta
    return next(k for k, acc in enumerate(probe_acc) if acc >= target)
