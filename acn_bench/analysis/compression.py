"""Cost of a model: parameters, FLOPs (torch's counter), size on disk; latency as a paired ratio.

Latency is never measured for one model alone: :func:`truncation_costs` times the full and the
truncated model interleaved round by round (:func:`acn_bench.analysis.latency.compare_latency`)
and reports the per-round speedup with its spread.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from acn_bench.analysis.latency import compare_latency


def count_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def size_mb(model: nn.Module) -> float:
    """Size of the stored weights (parameters and persistent buffers) in MiB, as the paper reports MB."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 2**20


@torch.no_grad()
def flops_per_sample(model: nn.Module, sample: torch.Tensor) -> int:
    """Forward FLOPs for one input, counted by ``torch.utils.flop_counter`` (2 per multiply-add)."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(sample[:1])
    model.train(was_training)
    return int(counter.get_total_flops())


@dataclass
class ModelCost:
    """Static deployment cost of one model (latency is measured in pairs, see :func:`truncation_costs`)."""

    params: int
    gflops: float
    size_mb: float

    def as_metrics(self, prefix: str = "") -> dict[str, float]:
        """Metrics dict with keys ``<prefix>params``, ``<prefix>gflops``, ``<prefix>size_mb``."""
        return {f"{prefix}{k}": v for k, v in asdict(self).items()}


def measure_cost(model: nn.Module, batch: torch.Tensor) -> ModelCost:
    """Parameters, GFLOPs per sample (of ``batch[:1]``) and MiB of ``model``."""
    return ModelCost(params=count_params(model), gflops=flops_per_sample(model, batch) / 1e9, size_mb=size_mb(model))


def truncation_costs(
    full: nn.Module, truncated: nn.Module, batch: torch.Tensor, repeats: int = 10, warmup: int = 3
) -> dict[str, float]:
    """Cost of ``full`` and ``truncated`` with their latency timed interleaved over ``repeats`` rounds.

    Returns ``params, gflops, size_mb, latency_ms`` (median ms per batch), the same with the prefix
    ``truncated_``, and ``latency_speedup`` / ``latency_speedup_std`` (geometric mean over rounds of
    full time / truncated time in the same round, and its spread: :class:`~acn_bench.analysis.latency.Speedup`)
    and ``latency_rounds``.
    """
    timing = compare_latency({"full": full, "truncated": truncated}, batch, repeats, warmup, reference="full")
    speedup = timing.speedup("truncated")
    return {
        **measure_cost(full, batch).as_metrics(),
        "latency_ms": timing.median_ms("full"),
        **measure_cost(truncated, batch).as_metrics("truncated_"),
        "truncated_latency_ms": timing.median_ms("truncated"),
        "latency_speedup": speedup.mean,
        "latency_speedup_std": speedup.std,
        "latency_rounds": speedup.rounds,
    }
