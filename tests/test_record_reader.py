"""The one reader of a records folder (``acn_bench.results.store.read_records``): what it reads and skips,
and its one message for a missing or empty folder and an invalid record, through every command that
reads records (exit 2, the message naming the path, nothing written)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from acn_bench.cli import main
from acn_bench.errors import UserError
from acn_bench.results.store import read_record, read_records, record_json

COMMITTED = Path(__file__).resolve().parents[1] / "leaderboards" / "records"

# Every command that reads records, with its records folder and where it would write.
COMMANDS = {
    "leaderboard": lambda records, out: ["leaderboard", "--records", records, "--tables", out],
    "leaderboard of one suite": lambda records, out: [
        "leaderboard",
        "compression",
        "--records",
        records,
        "--tables",
        out,
    ],
    "plot": lambda records, out: ["plot", "compression", "--records", records, "--out", out],
    "validate": lambda records, out: ["validate", "--records", records],
    "claims": lambda records, out: ["claims", "--records", records, "--out", f"{out}/claims.md"],
    "site": lambda records, out: ["site", "--records", records, "--out", f"{out}/site"],
}


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []


def copy_records(dest: Path, suite: str = "compression", count: int = 2) -> list[Path]:
    (dest / suite).mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(path, dest / suite)) for path in sorted((COMMITTED / suite).glob("*.json"))[:count]]


def missing(records: Path) -> str:
    return f"records folder '{records}' does not exist; run a suite first or pass --records DIR"


def empty(records: Path) -> str:
    records.mkdir()
    return f"no records under '{records}'"


def corrupt(records: Path) -> str:
    broken = copy_records(records)[0]
    broken.write_text("{not json")
    return f"{broken}: not readable JSON"


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", [missing, empty, corrupt], ids=["missing", "empty", "corrupt"])
def test_every_command_that_reads_records_exits_2_with_the_readers_message_and_writes_nothing(
    tmp_path, capsys, command, case
):
    records, out = tmp_path / "records", tmp_path / "out"
    message = case(records)
    before = files_under(tmp_path)
    assert main(COMMANDS[command](str(records), str(out))) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err
    assert command == "validate" or "Nothing was written." in err
    assert files_under(tmp_path) == before


def test_an_invalid_record_names_its_file_and_every_problem(tmp_path):
    path = copy_records(tmp_path)[0]
    path.write_text(path.read_text().replace('"schema_version": 1', '"schema_version": 2'))
    with pytest.raises(UserError, match=r"invalid record .*compression/.*\.json: schema_version 2, this acn-bench"):
        read_records(tmp_path)


def test_the_reader_reads_suites_folders_and_lists_what_it_skipped(tmp_path):
    paths = copy_records(tmp_path, count=3)
    pruning = copy_records(tmp_path, "pruning", count=1)
    stray = read_record(paths[0])
    stray.suite = "nosuch"
    (tmp_path / "compression" / "stray.json").write_text(record_json(stray))
    shutil.copy(paths[1], tmp_path / "loose.json")
    (tmp_path / "calibration").mkdir()
    shutil.copy(paths[1], tmp_path / "calibration")

    folder = read_records(tmp_path, ["compression", "pruning"], unknown_hint="see --plugin")
    assert [stored.path for stored in folder.of("compression")] == paths
    assert [stored.relative for stored in folder.of("pruning")] == [f"pruning/{path.name}" for path in pruning]
    assert folder.records() == [stored.record for stored in folder.files] and len(folder.files) == 4
    assert folder.skipped == [
        "calibration/ (1 record(s)): unknown suite 'calibration'; see --plugin",
        "loose.json: a record outside a suite folder (expected <suite>/<run id>.json)",
        "compression/stray.json: a record of suite 'nosuch' in compression/",
    ]
    assert read_records(tmp_path, ["pruning"]).skipped == [
        "loose.json: a record outside a suite folder (expected <suite>/<run id>.json)"
    ]  # without a hint, other folders are not looked into


def test_no_record_of_the_asked_suites_names_them_and_what_was_skipped(tmp_path):
    copy_records(tmp_path, "pruning", count=1)
    shutil.copy(next((COMMITTED / "compression").glob("*.json")), tmp_path / "loose.json")
    with pytest.raises(UserError) as caught:
        read_records(tmp_path, ["glue", "compression"])
    assert str(caught.value) == (
        f"no records under '{tmp_path}' of the suite(s) compression, glue: a records folder holds "
        "<suite>/<run id>.json files (not read: loose.json: a record outside a suite folder (expected "
        "<suite>/<run id>.json)); run a suite first or pass --records DIR. Nothing was written."
    )
