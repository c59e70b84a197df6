"""Experience replay: a class-balanced buffer of past samples mixed into every minibatch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acn_bench.strategies.registry import Param, register_strategy

if TYPE_CHECKING:
    from avalanche.training.templates import SupervisedTemplate


@register_strategy("replay", params={"replay_mem_size": Param(200, positive=True, integer=True)})
def build_replay(*, replay_mem_size: int, **common: Any) -> SupervisedTemplate:
    """Experience replay (Avalanche ``Replay``) with a buffer of ``replay_mem_size`` samples.

    Args:
        replay_mem_size: samples kept in the buffer.
        **common: the arguments every strategy takes (see ``make_strategy``).
    """
    from avalanche.training import Replay

    return Replay(mem_size=replay_mem_size, **common)
