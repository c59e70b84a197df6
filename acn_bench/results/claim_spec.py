"""What each claim of the paper measures: the exploratory claims (:data:`CLAIMS`, one line each), the
measures derived from a record (:data:`DERIVED`) and a record's value of a claim's metric."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acn_bench.results.primaries import EQUAL, HIGHER, LOWER
from acn_bench.results.record import Record


@dataclass(frozen=True)
class Claim:
    """A claim of the paper as exploratory rows: every comparable group of its suite's records.

    Attributes:
        id: short label (``a1``, ``b1``, ...; a primary test of :data:`PRIMARIES` has the same id).
        title: the claim in words.
        suite: the suite whose records test it.
        metric: a metric of ``record.metrics`` or a derived measure (:data:`DERIVED`); a ``*``
            stands for a number (a severity) and the value is the mean of every matching metric
            (``gaussian_*_relative``).
        better: ``higher``, ``lower`` or ``equal``: what the paper claims for the ACN.
        where: only records whose configuration has these values.
        show: configuration keys shown in the row (they are compared for pairing like all others).
        smallest: a key whose smallest value present is the claim row; the other values are
            ``detail`` rows.
        baseline: configuration values of the rows shown beside the claim's as its baseline (transfer:
            the from-scratch twins, which tell an advantage of the transferred ACN from one it has on
            the target alone).
        grows_with_depth: add a row per family of depths: the slope of the difference against depth
            (the paper's direction: the advantage grows with depth).
    """

    id: str
    title: str
    suite: str
    metric: str
    better: str
    where: dict[str, Any] = field(default_factory=dict)
    show: tuple[str, ...] = ()
    smallest: str | None = None
    grows_with_depth: bool = False
    baseline: dict[str, Any] = field(default_factory=dict)


NOISE = ("noise_space", "corruptions")


CLAIMS: tuple[Claim, ...] = (
    Claim("a1", "information concentrates in early layers", "compression", "probe_concentration", HIGHER),
    Claim("a2", "... at equal accuracy", "compression", "accuracy", EQUAL),
    Claim("a-cut", "lower cutoff layer", "compression", "cutoff_layer", LOWER),
    Claim("b1", "smaller accuracy drop under Gaussian noise", "robustness", "gaussian_*_relative", HIGHER, show=NOISE),
    Claim("b2", "smaller drop under salt-and-pepper noise", "robustness", "salt_pepper_*_relative", HIGHER, show=NOISE),
    Claim(
        "c",
        "better accuracy with little data",
        "low_data",
        "accuracy",
        HIGHER,
        show=("per_class", "subset"),
        smallest="per_class",
    ),
    Claim(
        "d",
        "better transfer",
        "transfer",
        "accuracy",
        HIGHER,
        where={"mode": ("full", "scratch")},
        show=("source_dataset", "mode"),
        baseline={"mode": "scratch"},
    ),
    Claim(
        "e",
        "less forgetting, growing with depth",
        "continual",
        "avg_forgetting",
        LOWER,
        show=("strategy", "scenario"),
        grows_with_depth=True,
    ),
    Claim(
        "f",
        "larger early-exit speedup",
        "early_exit",
        "flops_speedup",
        HIGHER,
        where={"exit_mode": "inherent"},
        show=("exit_mode", "exit_weights"),
    ),
)


def probe_concentration(record: Record) -> float | None:
    """How much of its accuracy a model keeps when cut short: the mean over the truncated depths
    k = 1 .. L−1 of the test probe accuracy at depth k divided by the model's own full accuracy.

    Continuous and unbounded by the cutoff rule's saturation (a model whose every truncation falls
    short still scores how far short), and scale-free in the model's accuracy, so a less accurate
    twin does not score higher by being less accurate. ``None`` without a probe curve of at least
    two depths or with a full accuracy of 0.
    """
    probe = [finite_number(v) for v in record.probe]
    if len(probe) < 3 or None in probe or not probe[-1]:
        return None
    return float(np.mean(probe[1:-1])) / probe[-1]


DERIVED = {"probe_concentration": probe_concentration}  # measures computed from a record, not stored in it


def finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def metric_value(record: Record, name: str) -> float | None:
    """The record's value of metric ``name``: a derived measure (:data:`DERIVED`), ``metrics[name]``, or
    the mean of the metrics matching ``name`` where ``*`` is a number."""
    if name in DERIVED:
        return DERIVED[name](record)
    metrics = record.metrics
    if "*" not in name:
        return finite_number(metrics.get(name))
    pattern = re.compile("^" + re.escape(name).replace(r"\*", r"[0-9][0-9.eE+-]*") + "$")
    values = [finite_number(v) for k, v in metrics.items() if pattern.match(k)]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None
