"""Latency as a paired ratio: interleaved rounds, per-round speedups, and the static costs beside them.

No test asserts an absolute time: only ratios of models timed in the same rounds and structure.
"""

from __future__ import annotations

import statistics

import pytest
import torch
from torch import nn

from acn_bench import UserError, create_backbone
from acn_bench.analysis import (
    Speedup,
    compare_latency,
    count_params,
    flops_per_sample,
    measure_cost,
    size_mb,
    truncation_costs,
)
from acn_bench.analysis.early_exit import exit_plan, wall_clock_speedup
from acn_bench.analysis.latency import round_order, time_interleaved


@pytest.fixture
def model():
    torch.manual_seed(0)
    return create_backbone("mixer_tiny", connectivity="acn", depth=4).eval()


class Work(nn.Module):
    """``times`` passes through the same stack of linear layers: ``times`` x the work of one pass."""

    def __init__(self, times: int, width: int = 256, layers: int = 4) -> None:
        super().__init__()
        self.times = times
        self.stack = nn.Sequential(*(nn.Linear(width, width) for _ in range(layers)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.times):
            out = self.stack(x)
        return out


class Recorder(nn.Module):
    """Logs its name, its training flag and whether gradients are on at every call."""

    def __init__(self, name: str, log: list[tuple[str, bool, bool]]) -> None:
        super().__init__()
        self.name, self.log = name, log
        self.inner = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append((self.name, self.training, torch.is_grad_enabled()))
        return self.inner(x)


def test_a_model_compared_with_itself_reads_one_within_its_spread(model):
    batch = model.example_input(8)
    # The same object under two names, and the case: a twin "truncated" at all of its layers.
    for other in (model, model.truncate(model.depth)):
        timing = compare_latency({"full": model, "other": other}, batch, repeats=30)
        speedup = timing.speedup("other")
        assert speedup.rounds == timing.rounds == 30
        low, high = speedup.interval(3)
        assert low <= 1.0 <= high and speedup.mean - 3 * speedup.std <= 1.0 <= speedup.mean + 3 * speedup.std, speedup
        assert timing.speedup("full") == Speedup(mean=1.0, std=0.0, rounds=30)  # the reference against itself


def test_four_times_the_work_reads_clearly_slower_in_every_pairing():
    torch.manual_seed(0)
    slow, fast = Work(4), Work(1)
    fast.load_state_dict(slow.state_dict())
    batch = torch.randn(64, 256)
    timing = compare_latency({"slow": slow, "fast": fast}, batch, repeats=20, warmup=2)
    speedup, ratios = timing.speedup("fast"), timing.ratios("fast")
    # Round by round, not only on average: the median round shows it too (most rounds read > 1.5).
    assert speedup.mean > 1.5 and statistics.median(ratios) > 1.5, (speedup, ratios)
    assert timing.median_ms("slow") > timing.median_ms("fast")
    reverse = compare_latency({"fast": fast, "slow": slow}, batch, repeats=20, warmup=2)
    assert statistics.median(reverse.ratios("slow")) < 1 / 1.5


def test_a_twin_truncated_to_one_of_four_blocks_is_faster(model):
    metrics = truncation_costs(model, model.truncate(1), model.example_input(8), repeats=20)
    assert metrics["latency_speedup"] > 1.2 and metrics["latency_rounds"] == 20, metrics
    assert metrics["latency_speedup_std"] >= 0


@pytest.mark.parametrize("names", [["a", "b"], ["a", "b", "c"]])
def test_rounds_are_interleaved_in_a_rotating_order_in_eval_mode_without_gradients(names):
    log: list[tuple[str, bool, bool]] = []
    models = {name: Recorder(name, log).train() for name in names}
    timing = compare_latency(models, torch.zeros(1, 2), repeats=4, warmup=1)
    calls = [name for name, _, _ in log]
    warmup, timed = calls[: len(names)], calls[len(names) :]
    assert warmup == names
    expected = [name for r in range(4) for name in round_order(names, r)]
    assert timed == expected
    if len(names) == 2:
        assert timed == ["a", "b", "b", "a", "a", "b", "b", "a"]  # alternating: A B, B A, ...
    else:
        assert timed[3:6] == ["b", "c", "a"] and timed[6:9] == ["c", "a", "b"]  # rotating
    assert not any(training or grad for _, training, grad in log)
    assert all(m.training and m.inner.training for m in models.values())  # modes restored afterwards
    assert {name: len(times) for name, times in timing.times_ms.items()} == dict.fromkeys(names, 4)


def test_cuda_timing_synchronises_around_every_timed_call(monkeypatch):
    syncs: list[str] = []
    log: list[str] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a, **k: syncs.append("sync"))
    calls = {"a": lambda: log.append("a"), "b": lambda: log.append("b")}
    time_interleaved(calls, repeats=3, warmup=1, cuda=True)
    assert log == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert len(syncs) == 2 * 3 * 2  # before and after each of the 6 timed calls


def test_truncation_costs_keep_parameter_flop_and_size_counts(model):
    batch = model.example_input(8)
    truncated = model.truncate(1)
    metrics = truncation_costs(model, truncated, batch, repeats=2)
    assert list(metrics) == [
        "params",
        "gflops",
        "size_mb",
        "latency_ms",
        "truncated_params",
        "truncated_gflops",
        "truncated_size_mb",
        "truncated_latency_ms",
        "latency_speedup",
        "latency_speedup_std",
        "latency_rounds",
    ]
    assert metrics["params"] == count_params(model) and metrics["truncated_params"] == count_params(truncated)
    assert metrics["gflops"] == flops_per_sample(model, batch) / 1e9
    assert metrics["truncated_gflops"] == flops_per_sample(truncated, batch) / 1e9
    assert metrics["size_mb"] == size_mb(model) and metrics["truncated_size_mb"] == size_mb(truncated)
    assert metrics["latency_ms"] > 0 and metrics["truncated_latency_ms"] > 0
    # A plain linear layer: 2 FLOPs per multiply-add, weights and bias, float32.
    linear = nn.Linear(256, 128)
    cost = measure_cost(linear, torch.randn(4, 256))
    assert (cost.params, cost.gflops, cost.size_mb) == (
        256 * 128 + 128,
        2 * 256 * 128 / 1e9,
        (256 * 128 + 128) * 4 / 2**20,
    )
    assert cost.as_metrics("truncated_") == {
        "truncated_params": cost.params,
        "truncated_gflops": cost.gflops,
        "truncated_size_mb": cost.size_mb,
    }


def test_wall_clock_speedup_is_a_paired_ratio_of_early_exit_over_the_full_forward(model):
    plan = exit_plan(model, "inherent")
    batches = [model.example_input(32) for _ in range(2)]
    model.train()
    everyone_exits_first = wall_clock_speedup(model, plan, batches, threshold=1e9, repeats=10)
    assert isinstance(everyone_exits_first, Speedup) and everyone_exits_first.rounds == 10
    assert everyone_exits_first.mean > 1.2, everyone_exits_first  # one block of four instead of four
    assert model.training  # mode restored
    assert everyone_exits_first.as_metrics("wall_speedup") == {
        "wall_speedup": everyone_exits_first.mean,
        "wall_speedup_std": everyone_exits_first.std,
        "wall_speedup_rounds": 10,
    }


def test_bad_comparisons_are_user_errors(model):
    batch = model.example_input(2)
    with pytest.raises(UserError, match="repeats >= 1"):
        compare_latency({"a": model}, batch, repeats=0)
    with pytest.raises(UserError, match="not one of"):
        compare_latency({"a": model}, batch, reference="b")
    with pytest.raises(UserError, match="at least one model"):
        compare_latency({}, batch)
    with pytest.raises(UserError, match="at least one batch"):
        wall_clock_speedup(model, exit_plan(model, "inherent"), [], threshold=1.0)
