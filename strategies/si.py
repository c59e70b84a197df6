"""Synaptic Intelligence (Zenke et al., 2017), the paper's regulariser: lambda 1 (arXiv 2506.09714, §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acn_bench.strategies.registry import Param, register_strategy

if TYPE_CHECKING:
    from avalanche.training.templates import SupervisedTemplate


@register_strategy("si", params={"si_lambda": Param(1.0), "si_eps": Param(1e-3, positive=True)})
def build_si(*, si_lambda: float, si_eps: float, plugins: list[Any], **common: Any) -> SupervisedTemplate:
    """Synaptic Intelligence: Avalanche's SI plugin on a ``SupervisedTemplate``, as Avalanche's own
    ``SynapticIntelligence`` strategy is, with the parameter lookup done once per experience
    (:mod:`acn_bench.strategies.si_plugin`; Avalanche's costs seconds per step on deep models).

    Args:
        si_lambda: weight of the penalty (the paper: 1).
        si_eps: damping of the importance denominator (Avalanche's ``eps``).
        plugins: further plugins; the SI plugin is appended.
        **common: the arguments every strategy takes (see ``make_strategy``).
    """
    from avalanche.training.templates import SupervisedTemplate

    from acn_bench.strategies.si_plugin import CachedSynapticIntelligencePlugin

    si = CachedSynapticIntelligencePlugin(si_lambda=si_lambda, eps=si_eps)
    return SupervisedTemplate(plugins=[*plugins, si], **common)
