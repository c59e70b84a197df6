"""Analyses of trained backbones: probing, compression cost."""

from acn_bench.analysis.compression import ModelCost, count_params, flops_per_sample, latency_ms, measure_cost, size_mb
from acn_bench.analysis.probing import DEFAULT_CUTOFF_DELTA, cutoff_layer

__all__ = [
    "DEFAULT_CUTOFF_DELTA",
    "ModelCost",
    "count_params",
    "cutoff_layer",
    "flops_per_sample",
    "latency_ms",
    "measure_cost",
    "size_mb",
]
