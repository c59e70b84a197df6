"""Timing helpers shared by the ``speed.perf`` commands: interleaved rounds, paired ratios, a training step.

Contenders run in rounds, each once a round, the order rotating from round to round, so that
machine noise hits all of them alike; ratios are medians of the per-round ratios.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from acn_bench.training.config import resolve_amp
from acn_bench.training.evaluate import autocast


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median of the per-round ratios ``numerator[i] / denominator[i]``."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def interleaved(contenders: dict[str, Callable[[], float]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds each contender reports for one block, over ``rounds`` rounds after ``warmup`` unrecorded
    ones; within a round every contender runs once, the order rotating from round to round."""
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = contenders[name]()
            if round_index >= warmup:
                times[name].append(seconds)
    return times


def device_sync(device: torch.device) -> Callable[[], None]:
    """A function that waits for ``device`` (CUDA) or does nothing (CPU)."""
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def timed(fn: Callable[[], Any], device: torch.device) -> Callable[[], float]:
    """``fn`` as a contender: the seconds one call takes, the device waited for before and after."""
    sync = device_sync(device)

    def run() -> float:
        sync()
        start = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - start

    return run


def step_fn(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, amp: str
) -> Callable[[], None]:
    """One training step of ``model`` on ``(x, y)`` under ``amp`` (fp16 with a gradient scaler)."""
    dtype = resolve_amp(amp, x.device)
    scaler = torch.amp.GradScaler(x.device.type, enabled=dtype == torch.float16)

    def step() -> None:
        with autocast(x.device, dtype):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step
