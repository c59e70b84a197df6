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
from acn_bench.results.claims import (
    COLUMNS,
    CONTRADICTED,
    INCONCLUSIVE,
    NEAR_CHANCE,
    NEAR_CHANCE_SOURCE,
    NO_PAIRS,
    NO_PARTNER,
    OLD_PROTOCOL,
    SUPPORTED,
    TWIN_LEFT_OUT,
    build_claims,
    metric_value,
    paired_stats,
    seeds_needed,
    slope_seeds_needed,
    slope_stats,
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


def make(suite, connectivity, seed, depth=8, val=True, source="measured", config=None, **metrics):
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
    dataset = {"name": "digits", "source": "sklearn", "num_classes": 10}
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
        strategy=config.get("strategy"),
        scenario=config.get("scenario"),
        source=source,
    )


def write_all(folder, records):
    for record in records:
        write_record(folder, record)
    return folder


def rows_of(report, claim_id, role="claim"):
    return [row for row in report.rows if row.claim.id == claim_id and row.role == role]


def scipy_interval(diffs):
    """The 95% interval scipy gives for the mean of ``diffs`` (Student t, n − 1 df)."""
    d = np.asarray(diffs, dtype=float)
    return stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))


def brute_seeds_needed(mean, sd):
    for n in range(2, 1001):
        if stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) < abs(mean):
            return n
    return 1001


# --- statistics ---------------------------------------------------------------------------------


def test_paired_interval_is_scipys_student_t_interval():
    diffs = [0.03, 0.05, 0.01, 0.04]
    got = paired_stats(diffs)
    low, high = scipy_interval(diffs)
    assert got.n == 4 and got.mean == pytest.approx(np.mean(diffs)) and got.sd == pytest.approx(np.std(diffs, ddof=1))
    assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))
    one = paired_stats([0.2])
    assert (one.n, one.sd, one.low, one.high) == (1, None, None, None)
    assert paired_stats([]) is None


@pytest.mark.parametrize("mean, sd", [(0.04, 0.0849), (1.0, 0.1), (0.01, 0.5), (-0.3, 1.0)])
def test_seeds_needed_is_the_smallest_n_whose_interval_excludes_zero(mean, sd):
    assert seeds_needed(mean, sd) == brute_seeds_needed(mean, sd)


def test_seeds_needed_is_undefined_without_spread_or_effect():
    assert seeds_needed(0.0, 0.3) is None and seeds_needed(0.2, 0.0) is None and seeds_needed(0.2, None) is None
    assert seeds_needed(0.001, 1.0) == 1001  # shown as ">1000"


def test_slope_matches_scipy_linregress():
    depths = [5, 5, 5, 10, 10, 10, 15, 15]
    diffs = [-0.01, -0.02, 0.0, -0.03, -0.05, -0.04, -0.08, -0.06]
    got = slope_stats(depths, diffs)
    fit = stats.linregress(depths, diffs)
    half = stats.t.ppf(0.975, len(depths) - 2) * fit.stderr
    assert got.slope == pytest.approx(fit.slope) and got.se == pytest.approx(fit.stderr)
    assert (got.low, got.high) == (pytest.approx(fit.slope - half), pytest.approx(fit.slope + half))
    assert got.depths == (5, 10, 15)
    assert slope_stats([5, 5], [0.1, 0.2]) is None  # one depth: no slope
    m = slope_seeds_needed(got)
    s, sxx1 = got.residual_sd, 50.0  # (5-10)^2 + 0 + (15-10)^2
    assert stats.t.ppf(0.975, 3 * m - 2) * s / math.sqrt(m * sxx1) < abs(got.slope)
    assert m == 1 or stats.t.ppf(0.975, 3 * (m - 1) - 2) * s / math.sqrt((m - 1) * sxx1) >= abs(got.slope)


def test_a_starred_metric_is_the_mean_over_severities():
    metrics = {"gaussian_0.1_relative": 0.9, "gaussian_0.4_relative": 0.5, "gaussian_0.1_accuracy": 0.3}
    assert metric_value(metrics, "gaussian_*_relative") == pytest.approx(0.7)
    assert metric_value(metrics, "salt_pepper_*_relative") is None


# --- verdicts on hand-made records --------------------------------------------------------------


def test_supported_contradicted_and_inconclusive_claims(tmp_path):
    records = []
    # (a) supported: the ACN's cutoff is lower on every seed, with little spread.
    for seed, (acn, res) in enumerate([(4, 8), (5, 8), (4, 8), (5, 8)]):
        records += [
            make("compression", "acn", seed, cutoff_layer=acn, accuracy=0.90 + 0.01 * seed),
            make("compression", "residual", seed, cutoff_layer=res, accuracy=0.90),
        ]
    # (f) contradicted: the residual twin's early-exit speedup is higher on every seed.
    for seed, (acn, res) in enumerate([(1.1, 1.5), (1.2, 1.5), (1.1, 1.6)]):
        records += [
            make("early_exit", "acn", seed, depth=16, flops_speedup=acn),
            make("early_exit", "residual", seed, depth=16, flops_speedup=res),
        ]
    # (c) inconclusive: n = 2 with a large spread.
    for seed, (acn, res) in enumerate([(0.60, 0.50), (0.48, 0.50)]):
        records += [make("low_data", "acn", seed, accuracy=acn), make("low_data", "residual", seed, accuracy=res)]
    report = build_claims(write_all(tmp_path / "records", records))

    [a] = rows_of(report, "a")
    diffs = [-4, -3, -4, -3]
    assert [p.diff for p in a.pairs] == diffs and a.unpaired == 0
    assert (a.diff.low, a.diff.high) == tuple(pytest.approx(v) for v in scipy_interval(diffs))
    assert a.verdict == SUPPORTED
    assert a.seeds_needed == str(brute_seeds_needed(np.mean(diffs), np.std(diffs, ddof=1)))
    assert a.beside.mean == pytest.approx(0.015) and a.beside.n == 4  # the paired accuracy difference

    [f] = rows_of(report, "f")
    f_diffs = [1.1 - 1.5, 1.2 - 1.5, 1.1 - 1.6]
    assert (f.diff.low, f.diff.high) == tuple(pytest.approx(v) for v in scipy_interval(f_diffs))
    assert f.diff.high < 0 and f.verdict == CONTRADICTED

    [c] = rows_of(report, "c")
    c_diffs = [0.60 - 0.50, 0.48 - 0.50]
    assert c.diff.n == 2 and c.diff.low < 0 < c.diff.high and c.verdict == INCONCLUSIVE
    assert (c.diff.low, c.diff.high) == tuple(pytest.approx(v) for v in scipy_interval(c_diffs))
    needed = brute_seeds_needed(np.mean(c_diffs), np.std(c_diffs, ddof=1))
    assert c.seeds_needed == str(needed) == "20"  # t(19) · 0.0849 / √20 = 0.0397 < 0.04 <= t(18) · 0.0849 / √19

    # Claims without records get a "no paired records" row; the summary never pools groups.
    for claim_id in ("b1", "b2", "d", "e"):
        [row] = rows_of(report, claim_id)
        assert row.verdict == NO_PAIRS and row.seeds_needed == "–"
    summary = "\n".join(report.summary_lines())
    assert "a lower cutoff layer at equal accuracy (cutoff_layer, lower is better for ACN): 1 supported" in summary
    assert "f larger early-exit speedup (flops_speedup, higher is better for ACN): 1 contradicted" in summary


def test_pairs_are_formed_by_seed_and_configuration_and_an_unpaired_seed_is_counted(tmp_path):
    records = [
        make("compression", "acn", 0, cutoff_layer=3),
        make("compression", "acn", 1, cutoff_layer=5),
        make("compression", "acn", 2, cutoff_layer=9),  # no residual seed 2: dropped, counted
        make("compression", "residual", 1, cutoff_layer=8),
        make("compression", "residual", 0, cutoff_layer=7),
        # another learning rate: another configuration, never paired with the ACN above
        make("compression", "residual", 3, cutoff_layer=1, config={"train": {"epochs": 10, "lr": 0.01}}),
    ]
    report = build_claims(write_all(tmp_path / "records", records))
    main_row, other = sorted(rows_of(report, "a"), key=lambda r: -len(r.pairs))
    assert [(p.seed, p.acn, p.residual) for p in main_row.pairs] == [(0, 3, 7), (1, 5, 8)]
    assert main_row.unpaired == 1 and main_row.diff.n == 2
    assert other.pairs == [] and other.verdict == NO_PAIRS
    assert "train.lr=0.001" in main_row.labels["setting"] and "train.lr=0.01" in other.labels["setting"]
    unpaired = {item.path for item in report.left_out if item.reason == NO_PARTNER}
    assert unpaired == {f"compression/{records[2].run_id}.json", f"compression/{records[5].run_id}.json"}
    assert "no residual record of seed 2" in report.markdown()


def test_near_chance_and_old_protocol_records_are_left_out_and_named(tmp_path):
    records = []
    for seed in range(3):
        records += [
            make("compression", "acn", seed, cutoff_layer=4),
            make("compression", "residual", seed, cutoff_layer=8 - seed),
        ]
    near = make("compression", "acn", 3, cutoff_layer=2, accuracy=0.15)  # below 2 x 1/10
    twin = make("compression", "residual", 3, cutoff_layer=8)
    old = make("compression", "acn", 4, val=False, cutoff_layer=4)
    old_twin = make("compression", "residual", 4, val=False, cutoff_layer=8)
    weak_source = make("transfer", "acn", 0, source_accuracy=0.03)  # cifar100 source: below 5 x 1/100
    paper = make("compression", "acn", 0, source="paper", cutoff_layer=1)
    records += [near, twin, old, old_twin, weak_source, make("transfer", "residual", 0, source_accuracy=0.5), paper]
    folder = write_all(tmp_path / "records", records)
    report = build_claims(folder)

    [a] = rows_of(report, "a")
    assert [p.seed for p in a.pairs] == [0, 1, 2] and a.unpaired == 1  # seed 3 lost its ACN twin
    reasons = {(item.path, item.reason) for item in report.left_out}
    path = "compression/{}.json".format
    assert (path(near.run_id), NEAR_CHANCE) in reasons
    assert (path(twin.run_id), TWIN_LEFT_OUT) in reasons
    assert (path(old.run_id), OLD_PROTOCOL) in reasons and (path(old_twin.run_id), OLD_PROTOCOL) in reasons
    assert (f"transfer/{weak_source.run_id}.json", NEAR_CHANCE_SOURCE) in reasons
    [d] = rows_of(report, "d")
    assert d.verdict == NO_PAIRS and d.unpaired == 1
    text = report.markdown()
    assert "left out: near chance: 1 record(s)" in text and "accuracy 0.15 < bar 0.2 (2 × chance 0.1, capped)" in text
    assert "left out: old protocol (no validation split): 2 record(s)" in text
    assert f"`{path(near.run_id)}`" in text and f"`{path(old.run_id)}`" in text
    assert "not used: 1 paper record(s)" in text

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
    assert all(row.verdict == SUPPORTED for row in rows_of(report, "e"))
    [slope] = rows_of(report, "e", role="slope")
    fit = stats.linregress(depths, diffs)
    assert slope.slope.slope == pytest.approx(fit.slope) and slope.slope.se == pytest.approx(fit.stderr)
    assert slope.labels["depth"] == "5,10,15" and slope.verdict == SUPPORTED


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
    assert detail.verdict == SUPPORTED and report.summary_lines()[3].endswith(": 1 supported")  # detail not counted


def test_transfer_has_the_from_scratch_twins_as_an_uncounted_baseline_row(tmp_path):
    records = []
    for seed in range(3):
        for mode, acn, residual in (("full", 0.70 + 0.01 * seed, 0.60), ("scratch", 0.50, 0.55 + 0.01 * seed)):
            for connectivity, accuracy in (("acn", acn), ("residual", residual)):
                config = {"mode": mode, "source_dataset": "tiny-imagenet"}
                records.append(make("transfer", connectivity, seed, config=config, accuracy=accuracy))
    records.append(make("transfer", "acn", 0, config={"mode": "linear"}, accuracy=0.1))  # neither
    report = build_claims(write_all(tmp_path / "records", records))
    [claim_row] = rows_of(report, "d")
    [baseline] = rows_of(report, "d", role="baseline")
    assert "mode=full" in claim_row.labels["setting"] and claim_row.verdict == SUPPORTED
    assert "mode=scratch" in baseline.labels["setting"] and baseline.verdict == CONTRADICTED
    summary = "\n".join(report.summary_lines())
    assert "d better transfer (accuracy, higher is better for ACN): 1 supported" in summary  # baseline not counted
    assert "d (baseline)" in report.markdown()


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
    assert gaussian.verdict == SUPPORTED
    assert salt.diff.mean == 0 and salt.verdict == INCONCLUSIVE and salt.seeds_needed == "–"


# --- bad input ----------------------------------------------------------------------------------


def test_an_empty_or_missing_folder_exits_2_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        assert main(["claims", "--records", str(folder)]) == 2
        assert "acn-bench: error" in capsys.readouterr().err
        assert not (folder / "claims.md").exists()


def test_mixed_schema_versions_exit_2_and_write_nothing(tmp_path, capsys):
    folder = write_all(tmp_path / "records", [make("compression", c, 0, cutoff_layer=4) for c in ("acn", "residual")])
    path = folder / "compression" / f"{make('compression', 'acn', 1).run_id}.json"
    data = json.loads((folder / "compression" / f"{make('compression', 'acn', 0).run_id}.json").read_text())
    path.write_text(json.dumps({**data, "schema_version": 2, "seed": 1}))
    out = tmp_path / "claims.md"
    assert main(["claims", "--records", str(folder), "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "mix schema versions" in err and "version 2: 1 file(s)" in err
    assert not out.exists() and not (folder / "claims.md").exists()


def test_an_unreadable_record_exits_2(tmp_path, capsys):
    folder = write_all(tmp_path / "records", [make("compression", "acn", 0, cutoff_layer=4)])
    (folder / "compression" / "broken.json").write_text("{not json")
    assert main(["claims", "--records", str(folder)]) == 2
    assert "broken.json cannot be read" in " ".join(capsys.readouterr().err.split())
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
    assert text.startswith("# Claims of the paper") and "| 2 | -4 [-4, -4] | +0 [+0, +0] | supported | – |" in text
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
    wide = markdown_headers(any_report.markdown(wide=True))[0]
    assert wide == "| " + " | ".join(COLUMNS) + " |"
    assert any_report.markdown().split("## Pairs")[1] == any_report.markdown(wide=True).split("## Pairs")[1]


def test_the_compact_view_names_records_roles_slopes_and_the_beside_metric(tmp_path):
    report = build_claims(write_all(tmp_path / "records", every_claim_records()))
    text = report.markdown()
    assert "### a: lower cutoff layer at equal accuracy — cutoff_layer ↓ (lower is better for ACN)" in text
    assert "#### digits quick · mixer_small L8 · 10 ep" in text  # shared by every row: the heading
    assert "| n | Δ ACN − res [95% CI] | beside: Δ accuracy | verdict | seeds needed |" in text
    assert "| 3 | -3 [-5.48, -0.516] | +0.01 [-0.0148, +0.0348] | supported | 3 |" in text
    assert "| 150 ep | per_class=10 subset=first | 3 |" in text and "| 15 ep | detail: per_class=100 subset" in text
    assert "| baseline: source_dataset=tiny-imagenet mode=scratch | 3 |" in text
    assert "#### tiny-imagenet quick · mixer_small · 5 ep/task" in text  # continual: epochs per task
    [slope] = [line for line in text.splitlines() if line.startswith("| L5,10,15 | slope vs depth: strategy=naive")]
    assert re.search(r"\| slope -0\.\d+/layer \[-0\.\d+, [-+]0\.\d+\] \|", slope)


def test_columns_all_prints_and_writes_every_column(tmp_path, capsys):
    folder = write_all(tmp_path / "records", every_claim_records())
    assert main(["claims", "--records", str(folder), "--columns", "all"]) == 0
    text = (folder / "claims.md").read_text()
    assert "| " + " | ".join(COLUMNS) + " |" in text and "## Claims\n\n### a:" not in text
    out = capsys.readouterr().out
    assert all(column in out for column in ("unpaired", "residual", "suite", "budget", "beside"))
    assert main(["claims", "--records", str(folder)]) == 0
    assert "## Claims\n\n### a:" in (folder / "claims.md").read_text()
