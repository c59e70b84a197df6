"""Naive fine-tuning: train on each task in turn with no protection against forgetting (the lower bound)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acn_bench.strategies.registry import register_strategy

if TYPE_CHECKING:
    from avalanche.training.templates import SupervisedTemplate


@register_strategy("naive")
def build_naive(**common: Any) -> SupervisedTemplate:
    """Naive fine-tuning (Avalanche ``Naive``): plain training on each experience in turn."""
    from avalanche.training import Naive

    return Naive(**common)
