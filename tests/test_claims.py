"""The claims report: ACN − residual paired by seed, Student-t intervals, verdicts, left-out records."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy import stats

from acn_bench.cli import main
from acn_bench.errors import UserError
from acn_bench.results import Record, run_id, write_record
from acn_bench.results.claim_groups import NO_PARTNER, OLD_PROTOCOL, TWIN_LEFT_OUT
from acn_bench.results.claim_spec import metric_value, probe_concentration
from acn_bench.results.claim_views import COLUMNS
from acn_bench.results.claims import build_claims
from acn_bench.results.paired_tests import (
    equivalence_test,
    holm,
    paired_test,
    seeds_for_power,
    slope_test,
    smallest_sign_flip_p,
)
from acn_bench.results.primaries import (
    ACN_WORSE,
    BACKBONE_FAMILIES,
    EQUIVALENT,
    FLAGGED,
    INCONCLUSIVE,
    NO_RECORDS,
    PRIMARIES,
    SUPPORTED,
    BackboneFamilyEstimate,
    PrimaryResult,
)

# What each suite's records need for their claim (metric names, grid keys), beside the defaults.
SUITE_CONFIG = {
    "compression": {},
    "robustness": {"noise_space": "pixel", "corruptions": "gaussian:0.1,0.2;salt_pepper:0.01,0.05"},
    "low_data": {"per_class": 10, "subset": "first"},
    "transfer": {"mode": "full", "source_dataset": "cifar100"},
    "early_exit": {"exit_mode": "inherent", "exit_weights": "uniform"},
    "continual": {"strategy": "naive", "scenario": "split-tiny-imagenet-20x10-task-il", "setting": "task"},
}


def make(suite, connectivity, seed, depth=8, val=True, source="measured", config=None, probe=(), **metrics):
    """A record of ``suite`` with ``metrics`` (accuracy 0.9 and val_accuracy unless given otherwise)."""
    config = {
        "dataset": "digits",
        "backbone": "mixer_small",
        "depth": depth,
        "connectivity": connectivity,
        "seed": seed,
        "train": {"epochs": 10, "lr": 0.001},
        **SUITE_CONFIG[suite],
        **(config or {}),
    }
    metrics = {"accuracy": 0.9, **metrics}
    if val:
        metrics.setdefault("val_accuracy", 0.9)
    dataset = {"name": "digits", "source": "sklearn", "num_classes": 10, "test_size": 500}
    if suite == "continual":
        dataset.update(name="tiny-imagenet", num_classes=200, classes_per_task=10, n_tasks=20)  # chance 1/10
        metrics.setdefault("learning_accuracy", 0.99)
    return Record(
        suite=suite,
        profile="quick",
        dataset=dataset,
        backbone={"name": "mixer_small", "connectivity": connectivity, "depth": depth, "params": 100, "config": {}},
        seed=seed,
        config=config,
        metrics=metrics,
        run_id=run_id({"suite": suite, **config, "source": source}),
        probe=list(probe),
        strategy=config.get("strategy"),
        scenario=config.get("scenario"),
        source=source,
    )


def primary_record(suite, connectivity, seed, protocol=2, **metrics):
    """A record in the primaries' setup: CIFAR-10 standard, mixer_small L8, 20 epochs (continual: L10, 3
    epochs per task), under the protocol version the primaries declare."""
    config = {"dataset": "cifar10", "train": {"epochs": 20, "lr": 0.001}}
    depth = 8
    if suite == "continual":
        config.update(train={}, recipe={"epochs": 3})
        depth = 10
    elif suite == "low_data":
        config["train"] = {"epochs": 1500}
    elif suite == "transfer":
        config.update(mode="full", source_dataset="tiny-imagenet", train={"epochs": 3})
    record = make(suite, connectivity, seed, depth=depth, config=config, **metrics)
    record.profile = "standard"
    record.dataset.update(name="cifar10", test_size=10_000)
    record.protocol = 1 if suite == "continual" else protocol
    record.run_id = run_id({"suite": suite, **config, "connectivity": connectivity, "seed": seed, "p": protocol})
    return record


def write_all(folder, records):
    for record in records:
        write_record(folder, record)
    return folder


def rows_of(report, claim_id, role="claim"):
    return [row for row in report.rows if row.claim.id == claim_id and row.role == role]


def primary(report, primary_id):
    return next(result for result in report.primaries if result.primary.id == primary_id)


def scipy_interval(diffs):
    """The 95% interval scipy gives for the mean of ``diffs`` (Student t, n − 1 df)."""
    d = np.asarray(diffs, dtype=float)
    return stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))


# --- statistics ---------------------------------------------------------------------------------


def test_paired_test_is_scipys_student_t_interval_and_p():
    diffs = [0.03, 0.05, 0.01, 0.04]
    got = paired_test(diffs)
    low, high = scipy_interval(diffs)
    assert got.n == 4 and got.mean == pytest.approx(np.mean(diffs)) and got.sd == pytest.approx(np.std(diffs, ddof=1))
    assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))
    t = np.mean(diffs) / (np.std(diffs, ddof=1) / 2)
    assert got.p == pytest.approx(2 * stats.t.sf(abs(t), 3)) and got.method == "paired t"
    one = paired_test([0.2])
    assert (one.n, one.sd, one.low, one.high, one.p) == (1, None, None, None, None)
    assert paired_test([]) is None


def test_equal_differences_get_no_interval_and_an_exact_sign_flip_p_that_small_n_cannot_push_below_the_level():
    three = paired_test([-4, -4, -4])
    assert three.interval is None and three.method == "exact sign-flip"
    assert three.p == pytest.approx(2 / 2**3) and "at least 0.25" in three.note
    assert smallest_sign_flip_p(5) == 0.0625 > 0.05 > smallest_sign_flip_p(6)
    assert paired_test([1.0] * 6).p == pytest.approx(2 / 64)


def test_holm_adjusts_known_p_values_and_skips_missing_ones():
    assert holm([0.01, None, 0.04, 0.03]) == [pytest.approx(0.03), None, pytest.approx(0.06), pytest.approx(0.06)]
    assert holm([0.001, 0.2]) == [pytest.approx(0.002), pytest.approx(0.2)]
    assert holm([None]) == [None]


def test_the_equivalence_test_is_the_larger_of_two_one_sided_t_tests():
    diffs = np.array([0.002, -0.004, 0.001, 0.003, -0.001])
    margin = 0.01
    lower = stats.ttest_1samp(diffs, -margin, alternative="greater").pvalue
    upper = stats.ttest_1samp(diffs, margin, alternative="less").pvalue
    assert equivalence_test(diffs, margin) == pytest.approx(max(lower, upper))
    assert equivalence_test(diffs, margin) < 0.05 < equivalence_test(diffs - 0.05, margin)
    assert equivalence_test([0.1], margin) is None and equivalence_test([0.0, 0.0], margin) is None


@pytest.mark.parametrize("mean, sd", [(0.04, 0.0849), (1.0, 0.1), (0.05, 0.5), (-0.3, 1.0)])
def test_seeds_for_power_is_the_smallest_n_with_80_percent_power(mean, sd):
    def power(n):  # the paired t-test's power from the noncentral t, independently of statsmodels
        crit = stats.t.ppf(0.975, n - 1)
        nc = abs(mean) / sd * math.sqrt(n)
        return stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc)

    n = seeds_for_power(mean, sd)
    assert power(n) >= 0.8 and (n == 2 or power(n - 1) < 0.8)


def test_seeds_for_power_is_undefined_without_spread_or_effect():
    assert seeds_for_power(0.0, 0.3) is None and seeds_for_power(0.2, 0.0) is None
    assert seeds_for_power(0.2, None) is None and seeds_for_power(0.001, 1.0) == 1001  # shown as ">1000"


def test_slope_matches_scipy_linregress():
    depths = [5, 5, 5, 10, 10, 10, 15, 15]
    diffs = [-0.01, -0.02, 0.0, -0.03, -0.05, -0.04, -0.08, -0.06]
    got = slope_test(depths, diffs)
    fit = stats.linregress(depths, diffs)
    half = stats.t.ppf(0.975, len(depths) - 2) * fit.stderr
    assert got.slope == pytest.approx(fit.slope) and got.p == pytest.approx(fit.pvalue)
    assert (got.low, got.high) == (pytest.approx(fit.slope - half), pytest.approx(fit.slope + half))
    assert got.depths == (5, 10, 15)
    assert slope_test([5, 5], [0.1, 0.2]) is None  # one depth: no slope


def test_a_starred_metric_is_the_mean_over_severities_and_concentration_reads_the_probe_curve():
    record = make("robustness", "acn", 0)
    record.metrics.update({"gaussian_0.1_relative": 0.9, "gaussian_0.4_relative": 0.5, "gaussian_0.1_accuracy": 0.3})
    assert metric_value(record, "gaussian_*_relative") == pytest.approx(0.7)
    assert metric_value(record, "salt_pepper_*_relative") is None
    curve = make("compression", "acn", 0, probe=[0.1, 0.3, 0.6, 0.8], accuracy=0.8)
    assert probe_concentration(curve) == pytest.approx((0.3 + 0.6) / 2 / 0.8)
    assert metric_value(curve, "probe_concentration") == probe_concentration(curve)
    assert probe_concentration(make("compression", "acn", 0, probe=[0.1, 0.5])) is None  # nothing truncated


# --- primary tests on hand-made records ---------------------------------------------------------


def twins_records(seeds=6, acn_accuracy=0.80, residual_accuracy=0.80, protocol=2, **kinds):
    """Compression, robustness and early-exit records of the primaries' setup; the ACN keeps more of its
    accuracy at every truncated depth."""
    records = []
    rng = np.random.default_rng(0)
    for seed in range(seeds):
        for connectivity, accuracy in (("acn", acn_accuracy), ("residual", residual_accuracy)):
            accuracy = accuracy + rng.normal(0, 0.002)
            if connectivity == "acn":  # reaches its full accuracy at depth 4 of 8
                probe = [0.1, 0.5, 0.6, 0.7] + [accuracy] * 5
            else:
                probe = [0.1] + [accuracy * 0.4] * 7 + [accuracy]
            records.append(primary_record("compression", connectivity, seed, protocol, probe=probe, accuracy=accuracy))
            noise = {"gaussian_0.1_relative": 0.8 if connectivity == "acn" else 0.7, **kinds.get(connectivity, {})}
            records.append(primary_record("robustness", connectivity, seed, protocol, **noise))
            speedup = 1.5 + rng.normal(0, 0.01) if connectivity == "acn" else 1.2 + rng.normal(0, 0.01)
            records.append(primary_record("early_exit", connectivity, seed, protocol, flops_speedup=speedup))
    return records


def test_the_primaries_test_the_setup_holm_adjusts_the_family_and_claim_a_needs_both_parts(tmp_path):
    report = build_claims(write_all(tmp_path / "records", twins_records()))
    a1, a2, b1, f = (primary(report, i) for i in ("a1", "a2", "b1", "f"))
    assert a1.n == a2.n == b1.n == f.n == 6
    assert a1.verdict == SUPPORTED and a2.verdict == EQUIVALENT and f.verdict == SUPPORTED
    assert b1.verdict == SUPPORTED  # the gaussian relative accuracy is 0.8 against 0.7 on every seed
    assert b1.test.method == "exact sign-flip" and b1.p == pytest.approx(2 / 64)
    assert report.claim_a == SUPPORTED
    tested = [r for r in report.primaries if r.p is not None]
    assert [r.adjusted_p for r in tested] == pytest.approx(holm([r.p for r in tested]))
    for result in report.primaries:  # c, d, e have no records here
        if result.primary.id in ("c", "d", "e"):
            assert result.verdict == NO_RECORDS and result.n == 0
    assert a1.shared_with == ["a2", "b1", "b2", "f"]
    notes = "\n".join(report.summary_notes())
    assert "a1, a2, b1, b2, f measure the same trained networks" in notes and "one replication, not 5" in notes
    assert "(a3, descriptive)" in notes and "seed 0: 4 of 8" in notes
    text = report.markdown()
    assert text.index("## Primary tests") < text.index("## Exploratory") < text.index("## Left out")
    assert "### Declared tests" in text and PRIMARIES[0].describe_setup() in text


def test_lower_accuracy_makes_a2_acn_worse_and_claim_a_not_supported(tmp_path):
    report = build_claims(write_all(tmp_path / "records", twins_records(acn_accuracy=0.75)))
    assert primary(report, "a2").verdict == ACN_WORSE and primary(report, "a1").verdict == SUPPORTED
    assert report.claim_a == "not supported (concentration supported, accuracy: ACN worse)"


def test_equal_differences_never_read_supported_with_few_pairs(tmp_path):
    records = [r for r in twins_records(seeds=3) if r.suite == "robustness"]  # 0.8 against 0.7 on every seed
    report = build_claims(write_all(tmp_path / "records", records))
    b1 = primary(report, "b1")
    assert b1.test.interval is None and b1.p == pytest.approx(0.25) and b1.verdict == INCONCLUSIVE


def test_a_group_with_one_near_chance_record_is_shown_whole_flagged_and_gets_no_verdict(tmp_path):
    records = twins_records()
    weak = next(
        r for r in records if r.suite == "early_exit" and r.backbone["connectivity"] == "residual" and r.seed == 2
    )
    weak.metrics["accuracy"] = 0.105  # 1,050 of 10,000 against chance 0.1: indistinguishable
    report = build_claims(write_all(tmp_path / "records", records))
    f = primary(report, "f")
    assert f.n == 6 and f.verdict == FLAGGED and f.flags and "residual seed 2" in f.flags[0]
    assert f.adjusted_p is None  # a flagged group is not in the family
    [row] = [r for r in rows_of(report, "f") if r.record.profile == "standard"]
    assert len(row.pairs) == 6 and row.flags  # every record kept
    assert primary(report, "a1").verdict == SUPPORTED  # other groups are not touched


def test_a_two_class_model_at_70_percent_is_not_near_chance_but_one_at_51_percent_on_100_images_is(tmp_path):
    records = []
    for seed in range(3):
        for connectivity, accuracy in (("acn", 0.70), ("residual", 0.72 + 0.01 * seed)):
            record = make("continual", connectivity, seed, avg_forgetting=0.1, learning_accuracy=accuracy)
            record.dataset.update(num_classes=10, n_tasks=5, classes_per_task=2, test_size=2000)
            record.metrics["chance_accuracy"] = 0.5
            records.append(record)
    report = build_claims(write_all(tmp_path / "records", records))
    assert all(not row.flags for row in rows_of(report, "e"))
    records[0].metrics["learning_accuracy"] = 0.51
    records[0].dataset["test_size"] = 100
    report = build_claims(write_all(tmp_path / "again", records))
    [row] = rows_of(report, "e")
    assert row.flags and "near chance" in row.flags[0] and len(row.pairs) == 3


def test_records_of_two_protocol_versions_are_never_paired_and_the_report_says_so(tmp_path):
    records = [r for r in twins_records(seeds=3, protocol=1) + twins_records(seeds=3) if r.suite == "compression"]
    report = build_claims(write_all(tmp_path / "records", records))
    rows = [r for r in rows_of(report, "a1")]
    assert sorted(r.record.protocol for r in rows) == [1, 2] and all(len(r.pairs) == 3 for r in rows)
    assert primary(report, "a1").n == 3  # the declared protocol's group only
    assert "compression: records of protocol versions 1, 2" in "\n".join(report.summary_notes())


def test_pairs_are_formed_by_seed_and_configuration_and_an_unpaired_seed_is_counted(tmp_path):
    records = [
        make("compression", "acn", 0, cutoff_layer=3),
        make("compression", "acn", 1, cutoff_layer=5),
        make("compression", "acn", 2, cutoff_layer=9),  # no residual seed 2: unpaired, counted
        make("compression", "residual", 1, cutoff_layer=8),
        make("compression", "residual", 0, cutoff_layer=7),
        # another learning rate: another configuration, never paired with the ACN above
        make("compression", "residual", 3, cutoff_layer=1, config={"train": {"epochs": 10, "lr": 0.01}}),
    ]
    report = build_claims(write_all(tmp_path / "records", records))
    main_row, other = sorted(rows_of(report, "a-cut"), key=lambda r: -len(r.pairs))
    assert [(p.seed, p.acn, p.residual) for p in main_row.pairs] == [(0, 3, 7), (1, 5, 8)]
    assert main_row.unpaired == 1 and main_row.diff.n == 2
    assert other.pairs == []
    assert "train.lr=0.001" in main_row.labels["setting"] and "train.lr=0.01" in other.labels["setting"]
    unpaired = {item.path for item in report.left_out if item.reason == NO_PARTNER}
    assert unpaired == {f"compression/{records[2].run_id}.json", f"compression/{records[5].run_id}.json"}
    assert "no residual record of seed 2" in report.markdown()


def test_old_protocol_records_are_left_out_and_named_and_a_weak_source_flags_only_rows_that_use_it(tmp_path):
    records = []
    for seed in range(3):
        records += [
            make("compression", "acn", seed, cutoff_layer=4),
            make("compression", "residual", seed, cutoff_layer=8 - seed),
        ]
    old = make("compression", "acn", 4, val=False, cutoff_layer=4)
    old_twin = make("compression", "residual", 4, val=False, cutoff_layer=8)
    for mode in ("full", "scratch"):
        for connectivity in ("acn", "residual"):
            config = {"mode": mode}  # a cifar100 source at 3%: below 5 x 1/100
            records.append(make("transfer", connectivity, 0, config=config, source_accuracy=0.03))
    paper = make("compression", "acn", 0, source="paper", cutoff_layer=1)
    records += [old, old_twin, paper]
    folder = write_all(tmp_path / "records", records)
    report = build_claims(folder)

    [a] = rows_of(report, "a-cut")
    assert [p.seed for p in a.pairs] == [0, 1, 2]
    reasons = {(item.path, item.reason) for item in report.left_out}
    path = "compression/{}.json".format
    assert (path(old.run_id), OLD_PROTOCOL) in reasons and (path(old_twin.run_id), OLD_PROTOCOL) in reasons
    [full] = rows_of(report, "d")
    [scratch] = rows_of(report, "d", role="baseline")
    assert full.flags and "near-chance source" in full.flags[0] and len(full.pairs) == 1
    assert not scratch.flags  # the from-scratch twins do not use the source
    text = report.markdown()
    assert "left out: old protocol (no validation split): 2 record(s)" in text
    assert f"`{path(old.run_id)}`" in text and "not used: 1 paper record(s)" in text
    assert TWIN_LEFT_OUT not in {item.reason for item in report.left_out}

    out = tmp_path / "claims.md"
    assert main(["claims", "--records", str(folder), "--out", str(out)]) == 0
    assert out.read_text() == text


def test_continual_rows_per_depth_and_the_slope_against_depth(tmp_path):
    records, diffs, depths = [], [], []
    for depth, gap in ((5, -0.01), (10, -0.03), (15, -0.06)):
        for seed in range(3):
            acn = 0.2 + gap + 0.001 * seed
            records += [
                make("continual", "acn", seed, depth=depth, avg_forgetting=acn),
                make("continual", "residual", seed, depth=depth, avg_forgetting=0.2),
            ]
            depths.append(depth)
            diffs.append(acn - 0.2)
    report = build_claims(write_all(tmp_path / "records", records))
    assert [row.labels["depth"] for row in rows_of(report, "e")] == ["5", "10", "15"]
    [slope] = rows_of(report, "e", role="slope")
    fit = stats.linregress(depths, diffs)
    assert slope.slope.slope == pytest.approx(fit.slope) and slope.p == pytest.approx(fit.pvalue)
    assert slope.labels["depth"] == "5,10,15"


def test_runs_of_a_profile_that_dropped_a_depth_stay_one_group(tmp_path):
    """A continual record's recipe lists its profile's depths and strategies: seeds made before and after
    the profile dropped a depth still pair and average as one recipe; a recipe value that a run uses
    (its learning rate) still splits them."""
    from acn_bench.results.grouping import recipe_hash

    def continual(connectivity, seed, depths, lr=0.001):
        recipe = {"epochs": 3, "lr": lr, "depths": depths, "strategies": ["naive", "si", "ewc"]}
        return make("continual", connectivity, seed, depth=10, config={"recipe": recipe}, avg_forgetting=0.2)

    records = [continual(c, seed, [5, 10, 15]) for seed in range(3) for c in ("acn", "residual")]
    records += [continual(c, seed, [5, 10]) for seed in range(3, 6) for c in ("acn", "residual")]
    [row] = rows_of(build_claims(write_all(tmp_path / "one", records)), "e")
    assert len(row.pairs) == 6
    assert recipe_hash(records[0]) == recipe_hash(records[-2])  # acn seed 0 and acn seed 5
    records[-1], records[-2] = continual("residual", 5, [5, 10], lr=0.01), continual("acn", 5, [5, 10], lr=0.01)
    assert recipe_hash(records[0]) != recipe_hash(records[-2])
    assert sorted(len(row.pairs) for row in rows_of(build_claims(write_all(tmp_path / "two", records)), "e")) == [1, 5]


def test_the_smallest_per_class_is_the_claim_row(tmp_path):
    records = []
    for per_class, epochs in ((100, 15), (10, 150)):
        for seed in range(3):
            for connectivity, accuracy in (("acn", 0.5 + 0.01 * seed), ("residual", 0.45)):
                config = {"per_class": per_class, "train": {"epochs": epochs, "lr": 0.001}}
                records.append(make("low_data", connectivity, seed, config=config, accuracy=accuracy))
    report = build_claims(write_all(tmp_path / "records", records))
    [claim_row] = rows_of(report, "c")
    [detail] = rows_of(report, "c", role="detail")
    assert "per_class=10 " in claim_row.labels["setting"] + " " and claim_row.labels["budget"] == "150"
    assert "per_class=100" in detail.labels["setting"]


def test_robustness_has_one_row_per_noise_kind(tmp_path):
    records = []
    for seed in range(3):
        for connectivity, kept in (("acn", 0.9 + 0.01 * seed), ("residual", 0.7)):
            severities = {"gaussian_0.1_relative": kept, "gaussian_0.2_relative": kept - 0.1}
            severities.update({"salt_pepper_0.01_relative": 0.95, "salt_pepper_0.05_relative": 0.9})
            records.append(make("robustness", connectivity, seed, **severities))
    report = build_claims(write_all(tmp_path / "records", records))
    [gaussian], [salt] = rows_of(report, "b1"), rows_of(report, "b2")
    assert [p.diff for p in gaussian.pairs] == pytest.approx([0.2, 0.21, 0.22])
    assert salt.diff.mean == 0 and salt.seeds_needed == "–"


# --- bad input ----------------------------------------------------------------------------------


def test_an_empty_or_missing_folder_exits_2_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        assert main(["claims", "--records", str(folder)]) == 2
        assert "acn-bench: error" in capsys.readouterr().err
        assert not (folder / "claims.md").exists()


def test_a_record_of_another_schema_version_exits_2_and_writes_nothing(tmp_path, capsys):
    folder = write_all(tmp_path / "records", [make("compression", c, 0, cutoff_layer=4) for c in ("acn", "residual")])
    path = folder / "compression" / f"{make('compression', 'acn', 1).run_id}.json"
    data = json.loads((folder / "compression" / f"{make('compression', 'acn', 0).run_id}.json").read_text())
    path.write_text(json.dumps({**data, "schema_version": 2, "seed": 1}))
    out = tmp_path / "claims.md"
    assert main(["claims", "--records", str(folder), "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"invalid record {path}: schema_version 2, this acn-bench reads 1" in err
    assert not out.exists() and not (folder / "claims.md").exists()


def test_an_unreadable_record_exits_2(tmp_path, capsys):
    folder = write_all(tmp_path / "records", [make("compression", "acn", 0, cutoff_layer=4)])
    (folder / "compression" / "broken.json").write_text("{not json")
    assert main(["claims", "--records", str(folder)]) == 2
    assert f"invalid record {folder / 'compression' / 'broken.json'}: not readable JSON" in " ".join(
        capsys.readouterr().err.split()
    )
    assert not (folder / "claims.md").exists()


def test_no_usable_pair_exits_2_naming_why(tmp_path, capsys):
    records = [make("compression", c, 0, val=False, cutoff_layer=4) for c in ("acn", "residual")]
    folder = write_all(tmp_path / "records", records)
    with pytest.raises(UserError, match="no claim has a usable pair"):
        build_claims(folder)
    assert main(["claims", "--records", str(folder)]) == 2
    assert "2 old protocol (no validation split)" in " ".join(capsys.readouterr().err.split())
    assert not (folder / "claims.md").exists()


def test_the_default_report_goes_beside_the_records(tmp_path, capsys):
    records = [
        make("compression", c, s, cutoff_layer=4 if c == "acn" else 8) for s in range(2) for c in ("acn", "residual")
    ]
    folder = write_all(tmp_path / "records", records)
    assert main(["claims", "--records", str(folder)]) == 0
    text = (folder / "claims.md").read_text()
    assert text.startswith("# Claims of the paper") and "| 2 | -4 (zero spread) | 0.5 | – |" in text
    assert f"wrote {folder / 'claims.md'}" in " ".join(capsys.readouterr().out.split())


# --- readable tables ----------------------------------------------------------------------------

COMMITTED = Path(__file__).resolve().parents[1] / "leaderboards" / "records"


def every_claim_records():
    """Hand-made records for every claim: several per_class, transfer modes, depths and noise kinds."""
    records = []
    for seed in range(3):
        for connectivity, gap in (("acn", 0.01 * seed), ("residual", 0.0)):
            cutoff = 4 + seed if connectivity == "acn" else 8
            records.append(make("compression", connectivity, seed, cutoff_layer=cutoff, accuracy=0.9 + gap))
            severities = {"gaussian_0.1_relative": 0.8 + gap, "salt_pepper_0.01_relative": 0.9 - gap}
            records.append(make("robustness", connectivity, seed, **severities))
            records.append(make("early_exit", connectivity, seed, depth=16, flops_speedup=1.2 + 10 * gap))
            for per_class, epochs in ((10, 150), (100, 15)):
                config = {"per_class": per_class, "train": {"epochs": epochs, "lr": 0.001}}
                records.append(make("low_data", connectivity, seed, config=config, accuracy=0.5 + gap))
            for mode in ("full", "scratch"):
                config = {"mode": mode, "source_dataset": "tiny-imagenet"}
                records.append(make("transfer", connectivity, seed, config=config, accuracy=0.6 + gap))
            for depth in (5, 10, 15):
                config = {"train": {}, "recipe": {"epochs": 5}}  # epochs per task
                forgetting = 0.2 - gap * depth
                records.append(
                    make("continual", connectivity, seed, depth=depth, config=config, avg_forgetting=forgetting)
                )
    return records


def console_lines(report, wide=False):
    """The report as a 120-character console shows it."""
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(report.rich(wide))
    return console.export_text().splitlines()


def markdown_headers(text):
    """The header line of every markdown table of ``text``."""
    lines = text.splitlines()
    return [line for line, below in zip(lines, lines[1:]) if line.startswith("|") and below.startswith("| ---")]


@pytest.fixture(params=["committed", "hand-made"])
def any_report(request, tmp_path):
    """The claims report of the committed records and of hand-made records of every claim."""
    if request.param == "committed":
        return build_claims(COMMITTED)
    return build_claims(write_all(tmp_path / "records", every_claim_records()))


def test_compact_terminal_tables_fit_120_characters_and_only_the_setting_folds(any_report):
    lines = console_lines(any_report)
    assert max(map(len, lines)) <= 120
    assert "…" not in "\n".join(lines)
    flat = " ".join(" ".join(lines).split())
    for section in any_report.compact():
        assert section.heading in flat
        for table in section.tables:
            assert table.heading in flat
            for row in table.rows:  # every cell but the setting on the row's first line, in order
                cells = [cell for column, cell in zip(table.columns, row) if column != "setting" and cell]
                assert any(re.search(".*".join(map(re.escape, cells)), line) for line in lines), row


def test_compact_markdown_has_at_most_ten_columns_and_the_wide_view_every_column(any_report):
    headers = markdown_headers(any_report.markdown().split("## Pairs")[0])
    assert headers and all(line.count("|") - 1 <= 10 for line in headers)
    assert "--columns all" in any_report.markdown()
    assert "| " + " | ".join(COLUMNS) + " |" in markdown_headers(any_report.markdown(wide=True))
    assert any_report.markdown().split("## Pairs")[1] == any_report.markdown(wide=True).split("## Pairs")[1]


def test_the_compact_view_names_records_roles_slopes_and_the_raw_p(tmp_path):
    report = build_claims(write_all(tmp_path / "records", every_claim_records()))
    text = report.markdown()
    assert "### a-cut: lower cutoff layer — cutoff_layer ↓ (lower is better for ACN)" in text
    assert "### a2: ... at equal accuracy — accuracy = (equal is better for ACN)" in text
    assert "#### digits quick · mixer_small L8 · 10 ep" in text  # shared by every row: the heading
    assert "| n | Δ ACN − res [95% CI] | p | 80% power |" in text
    assert "| 3 | -3 [-5.48, -0.516] | 0.035 | 4 |" in text
    assert "| 150 ep | per_class=10 subset=first | 3 |" in text and "| 15 ep | detail: per_class=100 subset" in text
    assert "| baseline: source_dataset=tiny-imagenet mode=scratch | 3 |" in text
    assert "#### tiny-imagenet quick · mixer_small · 5 ep/task" in text  # continual: epochs per task
    [slope] = [line for line in text.splitlines() if line.startswith("| L5,10,15 | slope vs depth: strategy=naive")]
    assert re.search(r"\| slope -0\.\d+/layer \[-0\.\d+, [-+]0\.\d+\] \|", slope)
    assert "| verdict |" not in text.split("## Exploratory")[1] and "| verdict |" in text.split("## Exploratory")[0]


def test_one_twin_only_exits_2_and_writes_nothing(tmp_path, capsys):
    folder = write_all(tmp_path / "records", [make("compression", "acn", s, cutoff_layer=4) for s in range(3)])
    assert main(["claims", "--records", str(folder)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no claim has a usable pair" in err and "3 no partner (unpaired seed)" in err
    assert not (folder / "claims.md").exists()


def test_columns_all_prints_and_writes_every_column(tmp_path, capsys):
    folder = write_all(tmp_path / "records", every_claim_records())
    assert main(["claims", "--records", str(folder), "--columns", "all"]) == 0
    text = (folder / "claims.md").read_text()
    assert "| " + " | ".join(COLUMNS) + " |" in text and "### a1: information" not in text
    out = capsys.readouterr().out
    assert all(column in out for column in ("unpaired", "residual", "suite", "budget", "flags"))
    assert main(["claims", "--records", str(folder)]) == 0
    assert "### a1: information" in (folder / "claims.md").read_text()


def test_groups_made_at_several_commits_are_named_and_alike_only_where_fingerprints_join_the_commits(tmp_path):
    records = []
    for seed, commit in ((0, "aaaaaaaaa1"), (1, "bbbbbbbbb2"), (2, "ccccccccc3")):
        for connectivity in ("acn", "residual"):
            record = make("compression", connectivity, seed, cutoff_layer=4 if connectivity == "acn" else 8)
            record.environment = {"git_commit": commit}
            records.append(record)
    folder = write_all(tmp_path / "leaderboards" / "records", records)
    [span] = build_claims(folder).spans
    assert span.commits == ("aaaaaaaaa", "bbbbbbbbb", "ccccccccc") and not span.alike
    assert "**not shown alike**" in build_claims(folder).markdown()
    checks = {"checks": [{"commits": ["aaaaaaaaa", "bbbbbbbbb"], "same": True}]}
    (folder.parent / "commit_checks.json").write_text(json.dumps(checks))
    assert not build_claims(folder).spans[0].alike  # the third commit is not joined yet
    checks["checks"].append({"commits": ["ccccccccc", "bbbbbbbbb"], "same": True})
    (folder.parent / "commit_checks.json").write_text(json.dumps(checks))
    report = build_claims(folder)
    assert report.spans[0].alike and "aaaaaaaaa, bbbbbbbbb, ccccccccc: alike (equal fingerprints)" in report.markdown()
    checks["checks"][1]["suites"] = ["continual"]  # a check speaks only for the suites it ran
    (folder.parent / "commit_checks.json").write_text(json.dumps(checks))
    assert not build_claims(folder).spans[0].alike
    checks["checks"][1]["suites"] = ["continual", "compression"]
    (folder.parent / "commit_checks.json").write_text(json.dumps(checks))
    assert build_claims(folder).spans[0].alike
    checks["checks"][1]["same"] = False
    (folder.parent / "commit_checks.json").write_text(json.dumps(checks))
    assert not build_claims(folder).spans[0].alike


def test_a_budget_of_optimiser_steps_is_labelled_in_steps():
    """Low data trains a fixed number of steps (its ``epochs`` is only a cap): its groups say so."""
    from acn_bench.results.claim_groups import budget, budget_label

    steps = make("low_data", "acn", 0, config={"train": {"epochs": 234, "steps": 234, "lr": 0.001}})
    assert (budget(steps), budget_label(steps)) == ("234", "234 steps")
    assert budget_label(make("compression", "acn", 0)) == "10 ep"
    primary_c = next(p for p in PRIMARIES if p.id == "c")
    assert "1500 steps" in primary_c.describe_setup()


def vit_twins(seeds=3, acn_accuracy=0.70, residual_accuracy=0.68):
    """Compression records of the primaries' setup for the ViT family (vit_tiny L6): the ACN keeps more of
    its accuracy when cut short, and here its full accuracy is the higher one."""
    records = []
    for seed in range(seeds):
        for connectivity, accuracy in (("acn", acn_accuracy + 0.001 * seed), ("residual", residual_accuracy)):
            probe = (
                [0.1, 0.5, 0.6] + [accuracy] * 4 if connectivity == "acn" else [0.1] + [accuracy * 0.4] * 5 + [accuracy]
            )
            record = primary_record("compression", connectivity, seed, probe=probe, accuracy=accuracy)
            record.backbone.update(name="vit_tiny", depth=6)
            record.config.update(backbone="vit_tiny", depth=6)
            record.run_id = run_id({"vit": True, **record.config})
            records.append(record)
    return records


def test_the_vit_family_is_estimated_beside_the_primaries_and_says_whether_it_points_the_mixers_way(tmp_path):
    mixer = twins_records(acn_accuracy=0.75)  # a2: the Mixer's ACN is worse; the ViT's is better
    report = build_claims(write_all(tmp_path / "records", mixer + vit_twins()))
    alone = build_claims(write_all(tmp_path / "mixer", mixer))
    assert [(r.primary.id, r.n, r.p, r.adjusted_p) for r in report.primaries] == [
        (r.primary.id, r.n, r.p, r.adjusted_p) for r in alone.primaries
    ]  # the family is outside the primaries and their Holm family
    by_id = {(e.primary.primary.id, e.family.backbone): e for e in report.families}
    a1, a2, b1 = by_id["a1", "vit_tiny"], by_id["a2", "vit_tiny"], by_id["b1", "vit_tiny"]
    assert a1.n == a2.n == 3 and b1.n == 0 and b1.agreement == NO_RECORDS
    assert a1.test.mean == pytest.approx(np.mean([p.diff for p in rows_of(report, "a1")[1].pairs]))
    mixer_a1, mixer_a2 = primary(report, "a1"), primary(report, "a2")
    assert a1.agreement == f"same way; unadjusted interval excludes 0; Mixer: {mixer_a1.verdict}"
    assert a2.test.mean > 0 > mixer_a2.test.mean
    assert a2.agreement == f"opposite way; unadjusted interval outside ±0.01; Mixer: {mixer_a2.verdict}"
    markdown = report.markdown()
    assert "### Beside the primaries: the same setups for vit_tiny" in markdown
    assert (
        "| a2: ... at equal accuracy | vit_tiny | cifar10 standard · vit_tiny L6 · 20 ep · protocol 2 | 3 |" in markdown
    )
    assert (
        markdown.index("## Primary tests") < markdown.index("Beside the primaries") < markdown.index("## Exploratory")
    )
    assert "#### cifar10 standard · 20 ep\n\n| records | n |" in markdown  # one table for both families,
    assert "| mixer_small L8 | 6 |" in markdown and "| vit_tiny L6 | 3 |" in markdown  # the backbone in each row
    console = Console(file=io.StringIO(), width=120)
    console.print(report.rich())
    assert "vs the Mixer's" in console.file.getvalue()


@pytest.mark.parametrize(
    ("diffs", "expected"),
    [
        ([0.001, -0.001, 0.002], "opposite way; unadjusted interval inside ±0.01; Mixer: "),
        ([0.0, 0.02, 0.01], "opposite way; unadjusted interval crosses ±0.01; Mixer: "),
        ([-0.05, -0.051, -0.049], "same way; unadjusted interval outside ±0.01; Mixer: "),
    ],
)
def test_a_familys_equal_accuracy_row_is_read_against_the_margin_not_zero(diffs, expected):
    a2 = next(p for p in PRIMARIES if p.id == "a2")
    mixer_diffs = [-0.05, -0.04, -0.06]
    mixer = PrimaryResult(a2, mixer_diffs, test=paired_test(mixer_diffs))
    vit = BackboneFamilyEstimate(mixer, BACKBONE_FAMILIES[0], diffs, test=paired_test(diffs))
    assert vit.agreement == expected + mixer.verdict


def test_a_family_is_not_compared_with_a_flagged_mixer_group():
    a1 = next(p for p in PRIMARIES if p.id == "a1")
    mixer = PrimaryResult(a1, [0.3, 0.2, 0.25], test=paired_test([0.3, 0.2, 0.25]), flags=["near chance"])
    vit = BackboneFamilyEstimate(mixer, BACKBONE_FAMILIES[0], [0.1, 0.2, 0.15], test=paired_test([0.1, 0.2, 0.15]))
    assert vit.agreement == "no comparison: the Mixer's group is flagged"
