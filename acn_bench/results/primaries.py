"""The claims' primary tests, declared before the runs that decide them.

Each claim of the paper gets exactly one primary test (:data:`PRIMARIES`): a metric, the direction
the paper claims for the ACN, the setup whose records decide it and the test. The setup is the
``standard`` profile at its largest budget on CIFAR-10 (``mixer_small`` L8, 20 epochs; continual at
the deepest depth the profile runs), under the protocol version the six seeds are made with. Holm's
adjustment runs over the whole family; every other comparison of the report is exploratory.

Claim (a), "fewer layers at equal accuracy", is tested in parts: (a1) concentration of information
in early layers (a continuous measure of the test probe curve), (a2) equal full-model accuracy
(two one-sided tests against a margin) and (a3) the matched-accuracy depth (descriptive). The paper's
claim (a) counts as supported only when (a1) is supported and (a2) finds the twins equivalent.

Several primaries measure the same trained networks (``networks``): their verdicts are not
independent replications, and the report says so.

The primaries are the Mixer's. Each other backbone family (:data:`BACKBONE_FAMILIES`: the CPU ViT) is measured
on the same setups and shown beside them (:class:`BackboneFamilyEstimate`): an estimate and its interval,
and whether it points the same way as the Mixer's, never a verdict (it is not in the Holm family).
Plain data: this module imports no model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from acn_bench.results.paired_tests import (
    ALPHA,
    SEEDS_CAP,
    PairedTest,
    equivalence_test,
    holm,
    paired_test,
    seeds_for_power,
)

HIGHER, LOWER, EQUAL = "higher", "lower", "equal"
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
EQUIVALENT, ACN_WORSE, ACN_BETTER = "equivalent", "ACN worse", "ACN better"
NO_RECORDS, FLAGGED, TOO_FEW = "no records yet", "flagged: no verdict", "fewer than 2 pairs"
ACCURACY_MARGIN = 0.01  # (a2): full-model accuracies within 1 point count as equal

# The setups, as the records state them (profile, dataset, backbone, depth, training epochs, protocol
# version of the suite, and run settings).
TWINS_SETUP = {"profile": "standard", "dataset": "cifar10", "backbone": "mixer_small", "depth": 8, "epochs": 20}
IMAGE_PROTOCOL = 2  # the image suites' version the six seeds are made under (batched AutoAugment)
COMPRESSION_TWINS = "the standard compression twins (20 ep)"


@dataclass(frozen=True)
class Primary:
    """One claim's pre-registered test.

    Attributes:
        id: ``a1``, ``a2``, ``b1``, ...: the exploratory claim (``acn_bench.results.claims.CLAIMS``)
            whose row of the setup it tests.
        claim: the paper's claim in words.
        metric: what is compared, per seed, ACN − residual.
        better: ``higher`` / ``lower`` (a two-sided paired t-test, read in the paper's direction) or
            ``equal`` (two one-sided tests against ``margin``).
        setup: what the records must state (see :func:`setup_of`).
        networks: the trained networks the test measures; primaries with the same networks are not
            independent of each other.
        margin: the equivalence margin (``equal`` only).
        budget_unit: what the setup's ``epochs`` (the records' budget) counts: ``ep``, ``steps``
            (a fixed number of optimiser steps) or ``ep/task`` (continual).
    """

    id: str
    claim: str
    metric: str
    better: str
    setup: dict[str, Any]
    networks: str
    margin: float | None = None
    budget_unit: str = "ep"

    @property
    def test(self) -> str:
        if self.better == EQUAL:
            return f"two one-sided paired t-tests, margin ±{self.margin:g}"
        return f"paired t-test, two-sided ({self.better} is the paper's direction)"

    def describe_setup(self, setup: dict[str, Any] | None = None) -> str:
        """``cifar10 standard · mixer_small L8 · 20 ep · protocol 2 · per_class=10`` (of ``setup``: another
        family's version of this one, default the primary's own)."""
        s = dict(self.setup if setup is None else setup)
        parts = [f"{s.pop('dataset')} {s.pop('profile')}", f"{s.pop('backbone')} L{s.pop('depth')}"]
        parts.append(f"{s.pop('epochs')} {self.budget_unit}")
        parts.append(f"protocol {s.pop('protocol')}")
        parts += [f"{k}={v}" for k, v in s.items()]
        return " · ".join(parts)


PRIMARIES: tuple[Primary, ...] = (
    Primary(
        "a1",
        "information concentrates in early layers",
        "probe_concentration",
        HIGHER,
        {**TWINS_SETUP, "protocol": IMAGE_PROTOCOL},
        COMPRESSION_TWINS,
    ),
    Primary(
        "a2",
        "... at equal accuracy",
        "accuracy",
        EQUAL,
        {**TWINS_SETUP, "protocol": IMAGE_PROTOCOL},
        COMPRESSION_TWINS,
        ACCURACY_MARGIN,
    ),
    Primary(
        "b1",
        "smaller accuracy drop under Gaussian noise",
        "gaussian_*_relative",
        HIGHER,
        {**TWINS_SETUP, "protocol": IMAGE_PROTOCOL, "noise_space": "pixel"},
        COMPRESSION_TWINS,
    ),
    Primary(
        "b2",
        "smaller accuracy drop under salt-and-pepper noise",
        "salt_pepper_*_relative",
        HIGHER,
        {**TWINS_SETUP, "protocol": IMAGE_PROTOCOL, "noise_space": "pixel"},
        COMPRESSION_TWINS,
    ),
    Primary(
        "c",
        "better accuracy with little data",
        "accuracy",
        HIGHER,
        {**TWINS_SETUP, "epochs": 1500, "protocol": IMAGE_PROTOCOL, "per_class": 10},
        "low-data twins (10 images per class)",
        budget_unit="steps",
    ),
    Primary(
        "d",
        "better transfer",
        "accuracy",
        HIGHER,
        {**TWINS_SETUP, "epochs": 3, "protocol": IMAGE_PROTOCOL, "mode": "full", "source_dataset": "tiny-imagenet"},
        "fine-tuned twins (Tiny-ImageNet sources)",
    ),
    Primary(
        "e",
        "less forgetting in continual learning",
        "avg_forgetting",
        LOWER,
        {**TWINS_SETUP, "depth": 10, "epochs": 3, "protocol": 1, "strategy": "naive"},
        "continual twins (split CIFAR-10, L10)",
        budget_unit="ep/task",
    ),
    Primary(
        "f",
        "larger early-exit speedup",
        "flops_speedup",
        HIGHER,
        {**TWINS_SETUP, "protocol": IMAGE_PROTOCOL, "exit_mode": "inherent"},
        COMPRESSION_TWINS,
    ),
)


@dataclass
class PrimaryResult:
    """A primary test on the pairs of its setup.

    ``test`` is the paired t-test of the differences (its interval, raw p); for ``equal`` primaries
    ``p`` is the equivalence test's and ``difference_p`` the paired t-test's. ``adjusted_p`` is
    Holm's over the family. ``flags``: the group's regime flags (no verdict when any);
    ``problem``: why there is no test at all (no records, several groups for one setup).
    """

    primary: Primary
    diffs: list[float] = field(default_factory=list)
    test: PairedTest | None = None
    p: float | None = None
    difference_p: float | None = None
    adjusted_p: float | None = None
    flags: list[str] = field(default_factory=list)
    problem: str = ""
    shared_with: list[str] = field(default_factory=list)
    matched_depths: list[str] = field(default_factory=list)
    family_size: int = 1  # the tests Holm's adjustment ran over

    @property
    def n(self) -> int:
        return len(self.diffs)

    @property
    def verdict(self) -> str:
        """From the Holm-adjusted p: ``supported`` / ``contradicted`` (the paper's direction or against
        it), ``equivalent`` / ``ACN worse`` / ``ACN better`` for an ``equal`` primary, else
        ``inconclusive``; no verdict for a flagged group or without a test."""
        if self.problem:
            return self.problem
        if self.flags:
            return FLAGGED
        if self.test is None or self.p is None:
            return TOO_FEW if self.n < 2 else INCONCLUSIVE
        if self.adjusted_p is None or self.adjusted_p >= ALPHA:
            if self.primary.better == EQUAL and self.difference_p is not None:
                return self._difference_verdict()
            return INCONCLUSIVE
        if self.primary.better == EQUAL:
            return EQUIVALENT
        toward_paper = self.test.mean > 0 if self.primary.better == HIGHER else self.test.mean < 0
        return SUPPORTED if toward_paper else CONTRADICTED

    def _difference_verdict(self) -> str:
        """Not shown equivalent: the twins differ when the paired t-test rejects at the level after a
        Bonferroni factor of the family's size (conservative, stated in the report)."""
        assert self.difference_p is not None and self.test is not None
        if min(1.0, self.difference_p * self.family_size) < ALPHA:
            return ACN_BETTER if self.test.mean > 0 else ACN_WORSE
        return INCONCLUSIVE

    @property
    def seeds_needed(self) -> str:
        """Pairs for 80% power at the Bonferroni level of the family, if the true difference is the observed one."""
        if self.test is None:
            return "–"
        needed = seeds_for_power(self.test.mean, self.test.sd, ALPHA / max(1, self.family_size))
        if needed is None:
            return "–"
        return f">{SEEDS_CAP}" if needed > SEEDS_CAP else str(needed)


def test_primaries(
    primaries: Sequence[Primary], pairs: dict[str, tuple[list[float], list[str], str]]
) -> list[PrimaryResult]:
    """Test every primary on its pairs and adjust the family's p-values (Holm).

    Args:
        primaries: the family.
        pairs: per primary id, ``(differences ACN − residual, the group's regime flags, problem)``;
            a primary missing here has no records yet.
    """
    results = []
    for primary in primaries:
        diffs, flags, problem = pairs.get(primary.id, ([], [], NO_RECORDS))
        result = PrimaryResult(primary, list(diffs), flags=list(flags), problem=problem)
        result.test = paired_test(result.diffs)
        if result.test is not None and not problem:
            if primary.better == EQUAL:
                result.p = equivalence_test(result.diffs, primary.margin or 0.0)
                result.difference_p = result.test.p
            else:
                result.p = result.test.p
        results.append(result)
    usable = [r.p if not r.problem and not r.flags else None for r in results]
    for result, adjusted in zip(results, holm(usable)):
        result.adjusted_p = adjusted
        result.family_size = max(1, sum(p is not None for p in usable))
    groups = shared_networks([result.primary for result in results])
    for result in results:
        result.shared_with = [i for i in groups.get(result.primary.networks, []) if i != result.primary.id]
    return results


def shared_networks(primaries: Sequence[Primary]) -> dict[str, list[str]]:
    """The primaries that measure the same trained networks: networks -> their ids, for networks that
    two or more of ``primaries`` share (their verdicts are one replication, not several)."""
    groups: dict[str, list[str]] = {}
    for primary in primaries:
        groups.setdefault(primary.networks, []).append(primary.id)
    return {networks: ids for networks, ids in groups.items() if len(ids) > 1}


@dataclass(frozen=True)
class BackboneFamily:
    """A backbone family measured beside the primaries' Mixer on the same setups (exploratory).

    Attributes:
        backbone: its registry name.
        depth: its preset depth, which replaces the Mixer's preset depth in a setup (a setup at another
            depth, continual's L10, keeps it: the depth is then an axis both families run).
    """

    backbone: str
    depth: int

    def setup(self, primary: Primary) -> dict[str, Any]:
        """``primary``'s setup for this family: the same profile, data, budget, protocol and settings."""
        depth = self.depth if primary.setup["depth"] == TWINS_SETUP["depth"] else primary.setup["depth"]
        return {**primary.setup, "backbone": self.backbone, "depth": depth}


BACKBONE_FAMILIES = (BackboneFamily("vit_tiny", 6),)  # vit_tiny: 6 blocks, d = 64 (acn_bench.backbones.presets)


@dataclass
class BackboneFamilyEstimate:
    """A primary's setup measured for another backbone family: the estimate beside the primary's.

    ``test`` is the paired t-test of the family's differences (raw p, no adjustment, no verdict);
    ``flags`` the group's regime flags; ``problem`` why there is no estimate (no records yet, several
    groups for one setup).
    """

    primary: PrimaryResult
    family: BackboneFamily
    diffs: list[float] = field(default_factory=list)
    test: PairedTest | None = None
    flags: list[str] = field(default_factory=list)
    problem: str = ""

    @property
    def n(self) -> int:
        """The family's seed pairs."""
        return len(self.diffs)

    @property
    def agreement(self) -> str:
        """How the family's estimate compares with the Mixer's, described without a test: whether its mean
        points the same way as the Mixer's, where its unadjusted interval lies (about zero; for an
        ``equal`` primary, about the margin) and the Mixer's verdict (agreeing with an inconclusive Mixer
        estimate says little). Else why it cannot be said."""
        mixer = self.primary
        if self.problem:
            return self.problem
        if self.test is None:
            return TOO_FEW
        if self.flags:
            return FLAGGED
        if mixer.test is None:
            return "no Mixer estimate yet"
        if mixer.flags:
            return "no comparison: the Mixer's group is flagged"
        if self.test.mean == 0 or mixer.test.mean == 0:
            way = "no direction (a mean difference of zero)"
        else:
            way = "same way" if (self.test.mean > 0) == (mixer.test.mean > 0) else "opposite way"
        return f"{way}; {self._interval_place(self.test.interval)}; Mixer: {mixer.verdict}"

    def _interval_place(self, interval: tuple[float, float] | None) -> str:
        """Where the family's unadjusted interval lies: about zero, or about ±margin for an ``equal`` primary."""
        if interval is None:
            return "no interval"
        low, high = interval
        margin = self.primary.primary.margin
        if self.primary.primary.better == EQUAL and margin is not None:
            if -margin < low and high < margin:
                return f"unadjusted interval inside ±{margin:g}"
            if high < -margin or low > margin:
                return f"unadjusted interval outside ±{margin:g}"
            return f"unadjusted interval crosses ±{margin:g}"
        return "unadjusted interval excludes 0" if low > 0 or high < 0 else "unadjusted interval includes 0"


def backbone_family_estimates(
    results: Sequence[PrimaryResult], pairs: dict[tuple[str, str], tuple[list[float], list[str], str]]
) -> list[BackboneFamilyEstimate]:
    """Every primary's estimate for every family of :data:`BACKBONE_FAMILIES`, from ``pairs`` (per primary id and
    backbone: the differences, the group's flags and a problem, as :func:`test_primaries` takes them)."""
    estimates = []
    for result in results:
        for family in BACKBONE_FAMILIES:
            diffs, flags, problem = pairs.get((result.primary.id, family.backbone), ([], [], NO_RECORDS))
            estimate = BackboneFamilyEstimate(result, family, list(diffs), flags=list(flags), problem=problem)
            estimate.test = paired_test(estimate.diffs) if not problem else None
            estimates.append(estimate)
    return estimates


def claim_a_verdict(results: Sequence[PrimaryResult]) -> str:
    """The paper's claim (a): supported only when (a1) is supported and (a2) finds the twins equivalent."""
    by_id = {r.primary.id: r for r in results}
    a1, a2 = by_id.get("a1"), by_id.get("a2")
    if a1 is None or a2 is None:
        return INCONCLUSIVE
    if a1.verdict == SUPPORTED and a2.verdict == EQUIVALENT:
        return SUPPORTED
    if a1.verdict == CONTRADICTED or a2.verdict in (ACN_WORSE, ACN_BETTER):
        half = "concentration supported, " if a1.verdict == SUPPORTED else ""
        return f"not supported ({half}accuracy: {a2.verdict})"
    return INCONCLUSIVE


def matched_depth(acn_probe: Sequence[float], residual_accuracy: float, margin: float = ACCURACY_MARGIN) -> str:
    """(a3) The shallowest depth at which the ACN's truncated model reaches the residual twin's full
    accuracy minus ``margin``, as ``k of L``, or ``not reached``."""
    depth = len(acn_probe) - 1
    for k, accuracy in enumerate(acn_probe):
        if accuracy >= residual_accuracy - margin:
            return f"{k} of {depth}"
    return "not reached"
