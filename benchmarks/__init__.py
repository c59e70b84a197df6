"""Benchmark suites, one module each; ``get_suite(name)`` imports the module on demand.

A suite's name is its module's name; the CLI also accepts dashes (``low-data``).
"""

from __future__ import annotations

import importlib

from acn_bench.errors import unknown_choice
from acn_bench.suite import Suite

SUITES: dict[str, str] = {
    "compression": "benchmarks.compression",
    "continual": "benchmarks.continual",
    "early_exit": "benchmarks.early_exit",
    "glue": "benchmarks.glue",
    "imagenet": "benchmarks.imagenet",
    "low_data": "benchmarks.low_data",
    "pruning": "benchmarks.pruning",
    "robustness": "benchmarks.robustness",
    "transfer": "benchmarks.transfer",
}
DEFAULT_SUITE = "compression"


def list_suites() -> list[str]:
    """Names of every suite."""
    return sorted(SUITES)


def get_suite(name: str) -> Suite:
    """The suite called ``name`` (``low-data`` and ``low_data`` are the same)."""
    key = name.replace("-", "_")
    if key not in SUITES:
        raise unknown_choice("suite", name, list_suites())
    return importlib.import_module(SUITES[key]).SUITE
