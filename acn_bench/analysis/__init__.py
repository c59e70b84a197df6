"""Analyses of trained backbones: probing, compression cost, paired latency."""

from acn_bench.analysis.compression import (
    ModelCost,
    count_params,
    flops_per_sample,
    measure_cost,
    size_mb,
    truncation_costs,
)
from acn_bench.analysis.latency import LatencyComparison, Speedup, compare_latency
from acn_bench.analysis.probing import DEFAULT_CUTOFF_DELTA, cutoff_layer

__all__ = [
    "DEFAULT_CUTOFF_DELTA",
    "LatencyComparison",
    "ModelCost",
    "Speedup",
    "compare_latency",
    "count_params",
    "cutoff_layer",
    "flops_per_sample",
    "measure_cost",
    "size_mb",
    "truncation_costs",
]
