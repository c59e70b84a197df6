"""Learning without Forgetting (Li & Hoiem, 2017): distil the previous model's outputs on new data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acn_bench.strategies.registry import Param, register_strategy

if TYPE_CHECKING:
    from avalanche.training.templates import SupervisedTemplate


@register_strategy("lwf", params={"lwf_alpha": Param(1.0), "lwf_temperature": Param(2.0, positive=True)})
def build_lwf(*, lwf_alpha: float, lwf_temperature: float, **common: Any) -> SupervisedTemplate:
    """Learning without Forgetting (Avalanche ``LwF``).

    Args:
        lwf_alpha: weight of the distillation loss.
        lwf_temperature: softmax temperature of the distillation.
        **common: the arguments every strategy takes (see ``make_strategy``).
    """
    from avalanche.training import LwF

    return LwF(alpha=lwf_alpha, temperature=lwf_temperature, **common)
