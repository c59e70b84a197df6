"""Continual-learning strategies built on Avalanche (naive, SI, EWC, replay, LwF) and their registry.

Installed as ``acn_bench.strategies`` (``pyproject.toml`` maps this folder into the package). The
continual suite (``benchmarks/continual.py``) creates them through ``make_strategy``; the per-task
evaluation is in :mod:`acn_bench.strategies.evaluation`. Avalanche is imported only when a strategy
is built or a model wrapped (:mod:`acn_bench.strategies.models`, :mod:`acn_bench.strategies.si_plugin`):
it takes seconds.
"""

import warnings

from acn_bench.strategies import ewc, lwf, naive, replay, si  # noqa: F401  (registers the built-ins)
from acn_bench.strategies.registry import (
    Param,
    StrategyEntry,
    all_strategy_params,
    list_strategies,
    make_strategy,
    register_strategy,
    strategy_entry,
    strategy_params,
)

# Avalanche imports qpsolvers (for GEM, unused here), which warns on every import without a solver.
warnings.filterwarnings("ignore", message="no QP solver found", category=UserWarning)

__all__ = [
    "Param",
    "StrategyEntry",
    "all_strategy_params",
    "list_strategies",
    "make_strategy",
    "register_strategy",
    "strategy_entry",
    "strategy_params",
]
