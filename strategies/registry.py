"""Strategies by name: ``@register_strategy(name, params=...)`` and ``make_strategy(name, ...)``.

Each built-in strategy lives in its own module (``strategies/si.py``, ...) and registers a builder
with the decorator, the way Mammoth registers its models. A builder imports Avalanche inside its
body, so importing this package stays cheap (``import avalanche`` takes seconds).

Hyperparameter names are unique across strategies (``si_lambda``, ``ewc_lambda``, ...), so a suite
can carry them as flat grid keys and ``--set ewc_lambda=100`` reaches exactly one strategy.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from acn_bench.errors import UserError, require, unknown_choice

if TYPE_CHECKING:
    from avalanche.training.plugins import EvaluationPlugin, SupervisedPlugin
    from avalanche.training.templates import SupervisedTemplate

Builder = Callable[..., "SupervisedTemplate"]


@dataclass(frozen=True)
class Param:
    """A strategy hyperparameter: its default and the values it accepts.

    Attributes:
        default: the value used when the configuration does not name one.
        positive: accept only values > 0 (otherwise >= 0).
        integer: accept only whole numbers.
    """

    default: float
    positive: bool = False
    integer: bool = False

    def check(self, strategy: str, name: str, value: Any) -> None:
        """Raise :class:`UserError` unless ``value`` is acceptable for ``name``."""
        kinds = (int,) if self.integer else (int, float)
        ok = isinstance(value, kinds) and not isinstance(value, bool) and (value > 0 if self.positive else value >= 0)
        kind = "a whole number" if self.integer else "a number"
        bound = "> 0" if self.positive else ">= 0"
        require(ok, f"{name} of strategy {strategy!r} must be {kind} {bound}, got {value!r}.")


@dataclass(frozen=True)
class StrategyEntry:
    """A registered strategy: its builder, its hyperparameters and a one-line description."""

    name: str
    builder: Builder
    params: Mapping[str, Param]
    description: str

    def defaults(self) -> dict[str, Any]:
        """Default value of every hyperparameter."""
        return {key: param.default for key, param in self.params.items()}


_REGISTRY: dict[str, StrategyEntry] = {}


def register_strategy(
    name: str, *, params: Mapping[str, Param] | None = None, description: str = ""
) -> Callable[[Builder], Builder]:
    """Register a strategy builder under ``name``: ``@register_strategy("si", params={...})``.

    The builder receives the common arguments (``model``, ``optimizer``, ``criterion``,
    ``train_mb_size``, ``train_epochs``, ``eval_mb_size``, ``device``, ``plugins`` and maybe
    ``evaluator``) and every hyperparameter of ``params`` as keywords.

    Raises:
        ValueError: ``name`` is already registered, or a hyperparameter name is already used by
            another strategy (names must be unique to serve as flat grid keys).
    """
    params = dict(params or {})

    def add(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"strategy {name!r} is already registered")
        for entry in _REGISTRY.values():
            shared = sorted(set(params) & set(entry.params))
            if shared:
                raise ValueError(
                    f"hyperparameter(s) {', '.join(shared)} of strategy {name!r} already belong to {entry.name!r}"
                )
        doc = description or (inspect.getdoc(builder) or "").split("\n")[0]
        _REGISTRY[name] = StrategyEntry(name, builder, params, doc)
        return builder

    return add


def list_strategies() -> list[str]:
    """Names of every registered strategy, sorted."""
    return sorted(_REGISTRY)


def strategy_entry(name: str) -> StrategyEntry:
    """The registry entry of ``name``; a :class:`UserError` listing the accepted names otherwise."""
    if name not in _REGISTRY:
        raise unknown_choice("strategy", name, list_strategies())
    return _REGISTRY[name]


def all_strategy_params() -> dict[str, Any]:
    """Default of every hyperparameter of every registered strategy (the suite's grid keys)."""
    return {key: value for entry in _REGISTRY.values() for key, value in entry.defaults().items()}


def strategy_params(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters of strategy ``name``: taken from ``config``, else the defaults; checked.

    Keys of ``config`` that belong to other strategies (or to nothing) are ignored. Values of
    non-integer hyperparameters come back as floats (``--set ewc_lambda=100`` is ``100.0``).
    """
    entry = strategy_entry(name)
    values = {key: config.get(key, param.default) for key, param in entry.params.items()}
    for key, value in values.items():
        entry.params[key].check(name, key, value)
    return {key: value if entry.params[key].integer else float(value) for key, value in values.items()}


def make_strategy(
    name: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    *,
    train_mb_size: int,
    train_epochs: int,
    eval_mb_size: int,
    device: torch.device | str = "cpu",
    evaluator: EvaluationPlugin | None = None,
    plugins: Sequence[SupervisedPlugin] | None = None,
    **params: Any,
) -> SupervisedTemplate:
    """Build the Avalanche 0.6 strategy ``name``.

    Args:
        name: a name of :func:`list_strategies` (``naive``, ``si``, ``ewc``, ``replay``, ``lwf``).
        model, optimizer, criterion: what the strategy trains, how, and on which loss.
        train_mb_size, train_epochs: minibatch size and epochs per experience.
        eval_mb_size: evaluation minibatch size (always explicit: SI would default it to 1).
        device: where the strategy trains.
        evaluator: Avalanche ``EvaluationPlugin`` (default: Avalanche's, which logs to stdout).
        plugins: extra Avalanche plugins.
        **params: hyperparameters of the strategy (others take their defaults).

    Raises:
        UserError: an unknown strategy, a hyperparameter it does not take, or a bad value.
    """
    entry = strategy_entry(name)
    unknown = sorted(set(params) - set(entry.params))
    if unknown:
        accepted = ", ".join(entry.params) or "none"
        raise UserError(f"strategy {name!r} does not take {', '.join(map(repr, unknown))}; accepted: {accepted}.")
    sizes = {"train_mb_size": train_mb_size, "train_epochs": train_epochs, "eval_mb_size": eval_mb_size}
    for key, value in sizes.items():
        require(isinstance(value, int) and value >= 1, f"{key} must be a whole number >= 1, got {value!r}.")
    common: dict[str, Any] = {
        "model": model,
        "optimizer": optimizer,
        "criterion": criterion,
        "device": device,
        "plugins": list(plugins or []),
        **sizes,
    }
    if evaluator is not None:
        common["evaluator"] = evaluator
    return entry.builder(**common, **strategy_params(name, params))
