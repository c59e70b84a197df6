"""Latency as a paired ratio: models timed interleaved, round by round, on the same machine.

Timing one model after the other on a shared machine measures the machine as much as the model:
a model compared with itself can read 30 % slower. Here every round times each model once, in an
order that rotates from round to round (A B, B A, A B, ... for two models), so drift and bursts of
load hit every model alike; the speedup of a candidate is the ratio reference / candidate taken
*within* each round and then averaged over rounds, so a model compared with itself reads 1.00
within its spread.

The average is geometric (the mean of the log ratios, exponentiated): a ratio and its inverse are
equally far from 1, whereas the arithmetic mean of ratios is pulled up by any round where the
reference was interrupted (on a loaded machine a model compared with itself read 2 to 6 that way,
0.95 to 1.2 geometrically).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
from torch import nn

from acn_bench.errors import require


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class Speedup:
    """A paired speedup over ``rounds`` rounds of the per-round ratio reference / candidate.

    Attributes:
        mean: geometric mean of the per-round ratios (``exp`` of the mean log ratio).
        std: its spread over rounds in ratio units, ``mean * log_std`` (0 for one round).
        rounds: number of rounds.
        log_std: standard deviation over rounds of the log ratios.
    """

    mean: float
    std: float
    rounds: int
    log_std: float = 0.0

    @classmethod
    def of(cls, ratios: list[float]) -> Speedup:
        """The geometric mean and spread of per-round ratios."""
        log_mean, log_std = _mean_std([math.log(r) for r in ratios])
        mean = math.exp(log_mean)
        return cls(mean=mean, std=mean * log_std, rounds=len(ratios), log_std=log_std)

    def interval(self, k: float = 3.0) -> tuple[float, float]:
        """``mean`` times and divided by ``exp(k * log_std)``: k standard deviations on the log scale."""
        factor = math.exp(k * self.log_std)
        return self.mean / factor, self.mean * factor

    def as_metrics(self, name: str) -> dict[str, float]:
        """``{name: mean, name_std: std, name_rounds: rounds}``."""
        return {name: self.mean, f"{name}_std": self.std, f"{name}_rounds": self.rounds}


@dataclass(frozen=True)
class LatencyComparison:
    """Milliseconds of every model in every round (index r = round r) and the reference's name."""

    reference: str
    times_ms: dict[str, list[float]]

    @property
    def rounds(self) -> int:
        """Number of timed rounds."""
        return len(self.times_ms[self.reference])

    def median_ms(self, name: str) -> float:
        """Median milliseconds of one call of ``name``."""
        return statistics.median(self.times_ms[name])

    def mean_ms(self, name: str) -> float:
        """Mean milliseconds of one call of ``name``."""
        return statistics.fmean(self.times_ms[name])

    def std_ms(self, name: str) -> float:
        """Standard deviation over rounds of the milliseconds of ``name`` (0 for one round)."""
        return _mean_std(self.times_ms[name])[1]

    def ratios(self, name: str) -> list[float]:
        """Per-round speedup of ``name``: the reference's time divided by its time in the same round."""
        return [max(ref, 1e-9) / max(t, 1e-9) for ref, t in zip(self.times_ms[self.reference], self.times_ms[name])]

    def speedup(self, name: str) -> Speedup:
        """Geometric mean and spread of the per-round (paired) speedup of ``name`` over the reference."""
        return Speedup.of(self.ratios(name))


def round_order(names: list[str], round_index: int) -> list[str]:
    """The call order of a round: ``names`` rotated by the round index (A B, B A, ... for two)."""
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def time_interleaved(
    calls: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 3, cuda: bool = False
) -> dict[str, list[float]]:
    """Milliseconds of each zero-argument call in each of ``repeats`` rounds, after ``warmup`` untimed rounds.

    Every round calls each entry once, in :func:`round_order`; on CUDA the device is synchronised
    before and after each timed call. The garbage collector is paused while timing.

    Raises:
        UserError: no calls, or fewer than one round.
    """
    require(len(calls) > 0, "latency comparison needs at least one model.")
    require(repeats >= 1, f"latency comparison needs repeats >= 1, got {repeats}.")
    names = list(calls)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for r in range(warmup):
        for name in round_order(names, r):
            calls[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            for name in round_order(names, r):
                sync()
                start = time.perf_counter()
                calls[name]()
                sync()
                times[name].append((time.perf_counter() - start) * 1000)
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


@contextmanager
def evaluating(models: Iterable[nn.Module]) -> Iterator[None]:
    """Every module in eval mode and gradients off; each submodule's own mode is restored afterwards."""
    modes = {id(m): (m, m.training) for model in models for m in model.modules()}
    try:
        for module, _ in modes.values():
            module.training = False
        with torch.no_grad():
            yield
    finally:
        for module, training in modes.values():
            module.training = training


def _on_cuda(batch: Any, models: Iterable[nn.Module]) -> bool:
    """Whether the batch or any model lives on a CUDA device."""
    if isinstance(batch, torch.Tensor) and batch.is_cuda:
        return True
    return any(p.is_cuda for model in models for p in model.parameters())


def compare_latency(
    models: Mapping[str, nn.Module], batch: Any, repeats: int = 10, warmup: int = 3, reference: str | None = None
) -> LatencyComparison:
    """Time ``model(batch)`` for every model, interleaved round by round (:func:`time_interleaved`).

    Runs in eval mode under ``torch.no_grad()`` (modes restored afterwards). ``reference`` (default:
    the first model) is the numerator of the speedups: ``result.speedup(name)`` is the geometric
    mean over rounds of reference time / ``name`` time in the same round.

    Raises:
        UserError: no models, fewer than one round, or a reference that is not one of the models.
    """
    require(len(models) > 0, "latency comparison needs at least one model.")
    reference = next(iter(models)) if reference is None else reference
    require(reference in models, f"latency reference {reference!r} is not one of {sorted(models)}.")
    calls = {name: (lambda m=model: m(batch)) for name, model in models.items()}
    with evaluating(models.values()):
        times = time_interleaved(calls, repeats, warmup, cuda=_on_cuda(batch, models.values()))
    return LatencyComparison(reference=reference, times_ms=times)
