"""Elastic Weight Consolidation (Kirkpatrick et al., 2017); not in the paper, added for comparison.

Default lambda 1e4, from a sweep on split digits (quick profile, 5 x 2 tasks, Mixer d=64 at depth
10, both twins). Average accuracy over the two twins, % (seeds): lambda 1: 80.6 (2), 10: 81.8 (2),
100: 84.2 (3), 1e3: 84.8 (2), 1e4: 88.2 (3), 1e5: 87.3 (2), 1e6: 92.8 (3). 1e6 scores highest
but nearly freezes the trunk (learning accuracy 97.0 vs 99.0 at 100; the residual twin 94.8), and
with ``separate`` penalties the freeze grows with the number of tasks (20 in the paper's split
CIFAR-100); 1e4 is the strongest setting whose learning accuracy stays within a point (98.3).
Avalanche's importances are means of squared minibatch gradients, hence the large values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acn_bench.strategies.registry import Param, register_strategy

if TYPE_CHECKING:
    from avalanche.training.templates import SupervisedTemplate

EWC_LAMBDA = 10_000.0


@register_strategy("ewc", params={"ewc_lambda": Param(EWC_LAMBDA)})
def build_ewc(*, ewc_lambda: float, **common: Any) -> SupervisedTemplate:
    """Elastic Weight Consolidation (Avalanche ``EWC``, ``separate`` mode): Fisher-weighted penalty.

    Args:
        ewc_lambda: weight of the penalty.
        **common: the arguments every strategy takes (see ``make_strategy``).
    """
    from avalanche.training import EWC

    return EWC(ewc_lambda=ewc_lambda, mode="separate", **common)
