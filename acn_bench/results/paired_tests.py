"""The statistics of the claims report, taken from scipy and statsmodels.

Every test works on per-seed differences ACN − residual:

- :func:`paired_test`: mean, 95% Student-t interval and two-sided p (``scipy.stats.ttest_1samp`` on
  the differences, which is the paired t-test); where every difference is equal (an integer metric
  such as the cutoff layer) there is no t-interval, and the p-value is the exact sign-flip test's
  (``scipy.stats.permutation_test``), which cannot go below ``2 / 2**n``: with 5 pairs or fewer it
  never reaches 0.05.
- :func:`equivalence_test`: two one-sided tests of ``|mean| < margin`` (``statsmodels``'
  ``ttost_paired``).
- :func:`holm`: Holm–Bonferroni adjusted p-values of a family (``statsmodels``' ``multipletests``).
- :func:`seeds_for_power`: pairs needed for 80% power if the true difference equals the observed
  one (``statsmodels``' ``TTestPower``).
- :func:`slope_test`: least-squares slope of the differences against depth (``scipy.stats.linregress``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

LEVEL = 0.95  # two-sided confidence level of every interval
ALPHA = 1 - LEVEL  # the level of every test (after Holm's adjustment across a family)
POWER = 0.8  # the power "seeds needed" is computed for
SEEDS_CAP = 1000  # "seeds needed" beyond this is shown as ">1000"
PAIRED_T, SIGN_FLIP = "paired t", "exact sign-flip"


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison: ``n`` differences, their mean and sample sd, the 95% interval and the
    two-sided p-value (``None`` where undefined: n < 2, or no interval at zero spread).

    ``method`` says which test gave ``p`` (:data:`PAIRED_T`, or :data:`SIGN_FLIP` when every
    difference is equal); ``note`` says when the test cannot reach the level at this n.
    """

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None
    p: float | None
    method: str
    note: str = ""

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.low is None or self.high is None else (self.low, self.high)


def smallest_sign_flip_p(n: int) -> float:
    """The smallest two-sided p an exact sign-flip test of ``n`` pairs can give: ``2 / 2**n``."""
    return min(1.0, 2.0 / 2**n)


def paired_test(diffs: Sequence[float], level: float = LEVEL) -> PairedTest | None:
    """The paired test of ``diffs`` (see the module's docstring); ``None`` without any difference."""
    values = np.asarray(diffs, dtype=float)
    n = len(values)
    if n == 0:
        return None
    mean = float(values.mean())
    if n == 1:
        return PairedTest(1, mean, None, None, None, None, PAIRED_T, "one pair: no test")
    sd = float(values.std(ddof=1))
    if sd == 0:
        p = float(
            stats.permutation_test(
                (values,), np.mean, permutation_type="samples", alternative="two-sided", n_resamples=np.inf
            ).pvalue
        )
        floor = smallest_sign_flip_p(n)
        note = f"zero spread: no t-interval; with {n} pairs the sign-flip p is at least {floor:.3g}"
        return PairedTest(n, mean, 0.0, None, None, p, SIGN_FLIP, note)
    result = stats.ttest_1samp(values, 0.0)
    low, high = result.confidence_interval(level)
    return PairedTest(n, mean, sd, float(low), float(high), float(result.pvalue), PAIRED_T)


def equivalence_test(diffs: Sequence[float], margin: float) -> float | None:
    """The p-value of two one-sided paired t-tests of ``-margin < mean difference < margin``
    (equivalence when it is below the level); ``None`` with fewer than 2 pairs or zero spread."""
    values = np.asarray(diffs, dtype=float)
    if len(values) < 2 or float(values.std(ddof=1)) == 0:
        return None
    p, _, _ = ttost_paired(values, np.zeros_like(values), -margin, margin)
    return float(p)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values; ``None`` stays ``None`` and does not count in the family."""
    present = [i for i, p in enumerate(pvalues) if p is not None]
    adjusted: list[float | None] = [None] * len(pvalues)
    if present:
        values = multipletests([pvalues[i] for i in present], alpha=ALPHA, method="holm")[1]
        for i, value in zip(present, values):
            adjusted[i] = float(value)
    return adjusted


def seeds_for_power(mean: float, sd: float | None, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Pairs a two-sided paired t-test at ``alpha`` needs for ``power`` if the true difference and sd
    equal the observed ``mean`` and ``sd``; ``None`` where it cannot be said (no sd, zero spread,
    zero mean), ``SEEDS_CAP + 1`` beyond the cap."""
    if sd is None or sd == 0 or mean == 0:
        return None
    pairs = np.arange(2, SEEDS_CAP + 1)
    powers = TTestPower().power(effect_size=abs(mean) / sd, nobs=pairs, alpha=alpha, alternative="two-sided")
    enough = np.asarray(powers) >= power
    return int(pairs[enough.argmax()]) if enough.any() else SEEDS_CAP + 1


@dataclass(frozen=True)
class SlopeTest:
    """Least-squares slope of the differences against depth, its 95% interval (n − 2 df) and p."""

    n: int
    depths: tuple[int, ...]
    slope: float
    low: float | None
    high: float | None
    p: float | None


def slope_test(depths: Sequence[float], diffs: Sequence[float], level: float = LEVEL) -> SlopeTest | None:
    """``scipy.stats.linregress`` of ``diffs`` on ``depths`` (every pair one point); ``None`` unless
    two depths differ; no interval with fewer than 3 points."""
    distinct = tuple(sorted({int(d) for d in depths}))
    if len(distinct) < 2:
        return None
    fit = stats.linregress(np.asarray(depths, dtype=float), np.asarray(diffs, dtype=float))
    n = len(depths)
    if n < 3:
        return SlopeTest(n, distinct, float(fit.slope), None, None, None)
    half = float(stats.t.ppf(0.5 + level / 2, n - 2)) * float(fit.stderr)
    slope = float(fit.slope)
    return SlopeTest(n, distinct, slope, slope - half, slope + half, float(fit.pvalue))
