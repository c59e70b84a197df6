"""Save and restore an Avalanche strategy between experiences, so a stream resumes mid-way.

Avalanche 0.6's own ``save_checkpoint`` pickles the whole strategy and fails here, so this module
saves what a strategy carries from one experience to the next, each part in a form that pickles:

* the model's ``state_dict`` (dynamic heads are re-created by replaying Avalanche's model
  adaptation for the finished experiences before loading);
* the optimiser state keyed by parameter name (Avalanche adds head parameters to the optimiser
  as tasks arrive, so positions are not stable but names are);
* every plugin's attributes: the clock, the evaluator's metric state (so Avalanche's forgetting
  after a resume still compares against the accuracy measured right after each task), EWC's
  saved parameters and importances, SI's path integrals, LwF's previous model, the replay buffer
  (plugins with ``carries_state = False``, such as the progress bars, are left out).

Importing this module imports Avalanche (seconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from avalanche.models.dynamic_modules import avalanche_model_adaptation
from avalanche.models.dynamic_optimizers import update_optimizer
from avalanche.training.utils import ParamData

if TYPE_CHECKING:
    from collections.abc import Sequence

    from avalanche.training.templates import SupervisedTemplate


def strategy_state(strategy: SupervisedTemplate) -> dict[str, Any]:
    """What ``strategy`` carries into its next experience, as picklable values.

    Optimiser state is kept only for parameters the model still has: a class-incremental head
    grown by an evaluation is a new parameter, whose stale state Avalanche drops at the next task.
    """
    current = dict(strategy.model.named_parameters())
    names = {
        id(param): name for name, param in (strategy.optimized_param_id or {}).items() if current.get(name) is param
    }
    return {
        "model": strategy.model.state_dict(),
        "optimizer_state": {names[id(p)]: state for p, state in strategy.optimizer.state.items() if id(p) in names},
        "plugins": [(type(plugin).__name__, dict(vars(plugin))) for plugin in _stateful(strategy)],
    }


def restore_strategy(
    strategy: SupervisedTemplate, state: dict[str, Any], trained: Sequence[Any], evaluated: Sequence[Any]
) -> None:
    """Bring a freshly built ``strategy`` to where :func:`strategy_state` left it.

    Args:
        strategy: built with the same model, optimiser, strategy and plugins as the saved one.
        state: what :func:`strategy_state` returned.
        trained: the training experiences the saved strategy had been trained on, in order.
        evaluated: the test experiences it had been evaluated on (Avalanche adapts the model to
            them too: a task-incremental model has a head for every task once the stream is tested).

    Raises:
        ValueError: the saved plugins are not the ones this strategy has.
    """
    saved_types = [name for name, _ in state["plugins"]]
    types = [type(plugin).__name__ for plugin in _stateful(strategy)]
    if saved_types != types:
        raise ValueError(f"the checkpoint's plugins {saved_types} differ from this strategy's {types}")
    model = strategy.model
    for mode, experiences in ((True, trained), (False, evaluated)):
        model.train(mode)
        for experience in experiences:
            avalanche_model_adaptation(model, experience)
    model.load_state_dict(state["model"])
    model.to(strategy.device)
    strategy.optimized_param_id = update_optimizer(
        strategy.optimizer, dict(model.named_parameters()), None, reset_state=True, remove_params=True
    )
    for name, param_state in state["optimizer_state"].items():
        param = strategy.optimized_param_id[name]
        strategy.optimizer.state[param] = {
            key: value if key == "step" or not torch.is_tensor(value) else value.to(param.device)
            for key, value in param_state.items()
        }
    for plugin, (_, attributes) in zip(_stateful(strategy), state["plugins"]):
        vars(plugin).update({key: _to_device(value, strategy.device) for key, value in attributes.items()})


def _stateful(strategy: SupervisedTemplate) -> list[Any]:
    """The strategy's plugins that carry state from one experience to the next."""
    return [plugin for plugin in strategy.plugins if getattr(plugin, "carries_state", True)]


def _to_device(value: Any, device: torch.device) -> Any:
    """Plugin state moved to the training device where the strategy computes with it.

    Models (LwF's previous model) and parameter snapshots (EWC, SI) move; everything else, such
    as the replay buffer's datasets, stays on the CPU like the data loaders that read it.
    """
    if isinstance(value, torch.nn.Module):
        return value.to(device)
    if isinstance(value, ParamData):
        value.device = torch.device(device)
        value._data = value._data.to(device)
        return value
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _to_device(value[key], device)
        return value
    if isinstance(value, list):
        return [_to_device(item, device) for item in value]
    return value
