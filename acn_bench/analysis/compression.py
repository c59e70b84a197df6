"""Cost of a model: parameters, FLOPs (torch's counter), size on disk and measured latency."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


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


@torch.inference_mode()
def latency_ms(model: nn.Module, batch: torch.Tensor, repeats: int = 10, warmup: int = 3) -> float:
    """Median wall-clock milliseconds of one forward pass on ``batch`` (on its device)."""
    was_training = model.training
    model.eval()
    sync = torch.cuda.synchronize if batch.is_cuda else (lambda: None)
    for _ in range(warmup):
        model(batch)
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        model(batch)
        sync()
        times.append((time.perf_counter() - start) * 1000)
    model.train(was_training)
    return statistics.median(times)


@dataclass
class ModelCost:
    """Deployment cost of one model."""

    params: int
    gflops: float
    size_mb: float
    latency_ms: float

    def as_metrics(self, prefix: str = "") -> dict[str, float]:
        """Metrics dict with keys ``<prefix>params``, ``<prefix>gflops``, ..."""
        return {f"{prefix}{k}": v for k, v in asdict(self).items()}


def measure_cost(model: nn.Module, batch: torch.Tensor, repeats: int = 10) -> ModelCost:
    """Parameters, GFLOPs per sample, MiB and median latency (ms per batch) of ``model``."""
    return ModelCost(
        params=count_params(model),
        gflops=flops_per_sample(model, batch) / 1e9,
        size_mb=size_mb(model),
        latency_ms=latency_ms(model, batch, repeats=repeats),
    )
