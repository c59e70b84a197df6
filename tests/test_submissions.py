"""Submissions and record validation: the example goes through, every bad submission is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from acn_bench.backbones import registry
from acn_bench.backbones.contract import contract_problems
from acn_bench.cli import main
from acn_bench.results import Record, run_id, write_record
from acn_bench.results import record as record_module
from acn_bench.results.validate import PROVENANCE_SINCE, validate_records

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "conv_mixer_plugin.py"


@pytest.fixture(autouse=True)
def clean_tree(monkeypatch):
    """Records made here state a clean tree, whatever the developer's working tree holds: validation
    refuses records made from a dirty one (tested on hand-made records below)."""
    monkeypatch.setattr(record_module, "git_dirty", lambda where=None: False)


@pytest.fixture(autouse=True)
def clean_registry():
    before = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def test_builtin_backbones_keep_the_contract():
    for name in ("mixer_tiny", "vit_tiny", "bert_tiny"):
        assert contract_problems(name) == []


def test_example_submission_goes_through_and_validates(tmp_path, capsys):
    records = tmp_path / "leaderboards" / "records"
    argv = [
        "submit",
        "--plugin",
        str(EXAMPLE),
        "--backbone",
        "convmixer_tiny",
        "--suite",
        "compression",
        "--profile",
        "smoke",
        "--records",
        str(records),
    ]
    assert main(argv) == 0
    written = sorted((records / "compression").glob("*.json"))
    assert len(written) == 2
    assert {json.loads(p.read_text())["backbone"]["name"] for p in written} == {"convmixer_tiny"}
    assert "contract kept" in capsys.readouterr().out
    assert main(["validate", "--records", str(records)]) == 0
    assert "2 record(s)" in capsys.readouterr().out

    registry._REGISTRY.pop("convmixer_tiny")
    assert main(argv) == 2  # the same runs again: duplicates
    assert "duplicate run" in " ".join(capsys.readouterr().err.split())
    assert len(list((records / "compression").glob("*.json"))) == 2


BROKEN_TRUNCATE = """
from acn_bench import register_backbone
from acn_bench.backbones.mixer import build_mixer

@register_backbone("bad-truncate")
def bad(**kwargs):
    model = build_mixer(depth=2, dim=16, token_hidden=8, channel_hidden=16, **kwargs)
    model.truncate = lambda k: model  # ignores k: not a smaller model
    return model
"""


@pytest.mark.parametrize(
    "source, message",
    [
        ("raise ImportError('missing dependency')\n", "raised on import: ImportError: missing dependency"),
        (BROKEN_TRUNCATE, "truncate(0) is not a depth-0 model"),
    ],
)
def test_bad_plugins_are_refused_naming_the_file_and_writing_nothing(tmp_path, capsys, source, message):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(source)
    records = tmp_path / "records"
    name = "bad-truncate" if "bad-truncate" in source else "anything"
    assert (
        main(
            [
                "submit",
                "--plugin",
                str(plugin),
                "--backbone",
                name,
                "--suite",
                "compression",
                "--profile",
                "smoke",
                "--records",
                str(records),
            ]
        )
        == 2
    )
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and ("plugin.py" in err or "bad-truncate" in err)
    assert not records.exists()


@pytest.fixture(scope="module")
def one_record(tmp_path_factory):
    """A real smoke-profile record folder, made once for the validation tests."""
    out = tmp_path_factory.mktemp("records")
    assert main(["run", "--profile", "smoke", "--only", "connectivity=acn", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture
def records_copy(one_record, tmp_path):
    shutil.copytree(one_record, tmp_path / "records")
    return tmp_path / "records"


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda d: d.pop("metrics"), "missing field(s): metrics"),
        (lambda d: d.update(schema_version=0), "schema_version 0"),
        (lambda d: d["metrics"].update(accuracy=1.0), "content_hash does not match"),
    ],
)
def test_validate_names_the_file_and_the_problem(records_copy, capsys, edit, problem):
    path = next((records_copy / "compression").glob("*.json"))
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["validate", "--records", str(records_copy)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert path.name in err and problem in err


def test_validate_finds_duplicate_runs(records_copy, capsys):
    path = next((records_copy / "compression").glob("*.json"))
    shutil.copy(path, records_copy / "compression" / "copy.json")
    assert main(["validate", "--records", str(records_copy)]) == 2
    assert "duplicate" in capsys.readouterr().err


def provenance_record(created, **environment):
    return Record(
        suite="compression",
        profile="quick",
        dataset={"name": "digits"},
        backbone={"name": "mixer_tiny", "connectivity": "acn", "depth": 2},
        seed=0,
        config={"seed": 0},
        metrics={"accuracy": 0.9},
        run_id=run_id({"created": created, **environment}),
        environment={"git_commit": "0" * 40, **environment},
        created=created,
    )


@pytest.mark.parametrize(
    "created, environment, problem",
    [
        ("2027-01-01T00:00:00+00:00", {"git_dirty": True}, "uncommitted changes"),
        (
            "2027-01-01T00:00:00+00:00",
            {},
            f"no environment.git_dirty, which measured records made since {PROVENANCE_SINCE}",
        ),
        (PROVENANCE_SINCE, {}, "no environment.git_dirty"),
        ("2026-11-30T12:00:00", {"git_dirty": True}, "uncommitted changes"),  # never valid, whenever made
        ("yesterday", {}, "not an ISO-8601 timestamp"),
    ],
)
def test_validate_refuses_records_from_a_dirty_or_unstated_tree(tmp_path, created, environment, problem):
    path = write_record(tmp_path, provenance_record(created, **environment))
    count, problems = validate_records(tmp_path)
    assert count == 1 and len(problems) == 1 and problems[0].startswith(str(path)) and problem in problems[0]


@pytest.mark.parametrize(
    "created, environment",
    [
        ("2027-01-01T00:00:00+00:00", {"git_dirty": False}),
        ("2027-01-01T00:00:00+00:00", {"git_dirty": None}),  # no git where it ran: unknown, allowed
        ("2026-11-30T12:00:00+00:00", {}),  # made before records stated it: valid, dirty state unknown
    ],
)
def test_validate_accepts_clean_unknown_and_older_records(tmp_path, created, environment):
    write_record(tmp_path, provenance_record(created, **environment))
    assert validate_records(tmp_path) == (1, [])
    dirty_paper = provenance_record("2027-01-01T00:00:00+00:00", git_dirty=True)
    dirty_paper.source, dirty_paper.run_id = "paper", "paper-row"
    write_record(tmp_path, dirty_paper)
    assert validate_records(tmp_path) == (2, [])  # paper records quote the paper: no provenance to check


def test_committed_leaderboard_records_are_valid(capsys):
    committed = Path(__file__).resolve().parents[1] / "leaderboards" / "records"
    assert main(["validate", "--records", str(committed)]) == 0


TEXT_PLUGIN = """
import functools

from acn_bench import register_backbone
from acn_bench.backbones.text import build_bert

register_backbone("bert_micro", functools.partial(build_bert, depth=2, dim=32, num_heads=2, hidden=64, vocab_size=1000,
                                                  max_len=128), description="a BERT smaller than bert_tiny")
"""


def test_text_backbone_submission_runs_the_glue_suite(text_data, tmp_path, monkeypatch, capsys):
    plugin = tmp_path / "bert_micro.py"
    plugin.write_text(TEXT_PLUGIN)
    monkeypatch.setenv("ACN_BENCH_DATA", str(text_data))
    records = tmp_path / "leaderboards" / "records"
    assert (
        main(
            [
                "submit",
                "--plugin",
                str(plugin),
                "--backbone",
                "bert_micro",
                "--suite",
                "glue",
                "--profile",
                "smoke",
                "--records",
                str(records),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert "contract kept" in capsys.readouterr().out
    written = [json.loads(p.read_text()) for p in sorted((records / "glue").glob("*.json"))]
    assert sorted(r["backbone"]["connectivity"] for r in written) == ["acn", "residual"]
    assert {(r["backbone"]["name"], r["backbone"]["config"]["dim"], r["dataset"]["name"]) for r in written} == {
        ("bert_micro", 32, "glue-sst2")
    }
