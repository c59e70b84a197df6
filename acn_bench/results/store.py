"""Where records live: ``<dir>/<suite>/<run_id>.json``, each written atomically, and the one reader
of a records folder (:func:`read_records`), with one message for each way a folder or record fails.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from acn_bench.errors import UserError
from acn_bench.io import write_text_atomic
from acn_bench.results.record import Record, content_hash, record_problems

NOTHING_WRITTEN = "Nothing was written."


def record_path(out_dir: Path, suite: str, rid: str) -> Path:
    """Path of the record with id ``rid`` of ``suite`` under ``out_dir``."""
    return Path(out_dir) / suite / f"{rid}.json"


def record_json(record: Record) -> str:
    """The record as JSON text, sealed with its ``content_hash``."""
    data = json.loads(json.dumps(record.to_dict(), default=_json_default))
    data["content_hash"] = content_hash(data)
    record.content_hash = data["content_hash"]
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_record(out_dir: Path, record: Record) -> Path:
    """Write ``record`` as sealed JSON under ``out_dir`` atomically; return its path."""
    return write_text_atomic(record_path(out_dir, record.suite, record.run_id), record_json(record))


def has_record(out_dir: Path, suite: str, rid: str) -> bool:
    """True when the run ``rid`` of ``suite`` already has a finished record."""
    return record_path(out_dir, suite, rid).is_file()


def iter_record_files(records_dir: Path, suite: str | None = None) -> Iterator[Path]:
    """Every ``*.json`` record file under ``records_dir`` (one suite or all), sorted."""
    base = Path(records_dir) / suite if suite else Path(records_dir)
    if base.is_dir():
        yield from sorted(p for p in base.rglob("*.json") if not p.name.startswith("."))


def record_data(path: Path) -> Any:
    """The JSON of one record file, unchecked.

    Raises:
        ValueError: ``"<path>: not readable JSON (<why>)"``.
    """
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from exc


def read_record(path: Path) -> Record:
    """Load one record file.

    Raises:
        ValueError: naming the file and every problem found.
    """
    data = record_data(path)
    problems = record_problems(data)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return Record.from_dict(data)


@dataclass(frozen=True)
class StoredRecord:
    """A record read from a records folder, with its file (``relative``: ``<suite>/<run id>.json``)."""

    path: Path
    relative: str
    record: Record


@dataclass
class RecordFolder:
    """What :func:`read_records` read: the records, by file, and the files it left unread, with why."""

    root: Path
    files: list[StoredRecord]
    skipped: list[str]

    def of(self, suite: str) -> list[StoredRecord]:
        """The record files of one suite, in path order."""
        return [stored for stored in self.files if stored.record.suite == suite]

    def records(self, suite: str | None = None) -> list[Record]:
        """The records of one suite, or all of them, in path order."""
        return [stored.record for stored in (self.of(suite) if suite else self.files)]


def read_records(
    records_dir: Path, suites: Iterable[str] | None = None, unknown_hint: str | None = None
) -> RecordFolder:
    """Read every record of ``suites`` (default: of every folder) under ``records_dir``: the one reader
    of a records folder, for the leaderboards, plots, claims and the site.

    Files it leaves unread are listed in ``skipped``, with why: a ``.json`` file outside a suite folder,
    a record of another suite than its folder's and, when ``unknown_hint`` is given, a folder that names
    none of ``suites`` (an unknown suite, followed by the hint); other folders are not looked into.

    Raises:
        UserError: the folder is missing or cannot be read, a record file is not a valid record, or no
            record of ``suites`` is there; each message names the path and says that nothing was written.
    """
    root = Path(records_dir)
    wanted = None if suites is None else sorted(set(suites))
    folders, skipped = _suite_folders(root, wanted, unknown_hint)
    files = []
    for folder in folders:
        for path in iter_record_files(root, folder.name):
            try:
                record = read_record(path)
            except ValueError as exc:
                raise UserError(f"invalid record {exc}. {NOTHING_WRITTEN}") from exc
            relative = path.relative_to(root).as_posix()
            if record.suite != folder.name:
                skipped.append(f"{relative}: a record of suite {record.suite!r} in {folder.name}/")
                continue
            files.append(StoredRecord(path, relative, record))
    if not files:
        raise UserError(no_records_message(root, wanted, skipped))
    return RecordFolder(root, files, skipped)


def check_records_folder(path: Path) -> None:
    """Raise a :class:`UserError` unless ``path`` is a folder this process may list and enter."""
    if not path.is_dir():
        raise UserError(
            f"records folder {str(path)!r} does not exist; run a suite first or pass --records DIR. {NOTHING_WRITTEN}"
        )
    if not os.access(path, os.R_OK | os.X_OK):
        raise UserError(f"records folder {str(path)!r} cannot be read (permission denied). {NOTHING_WRITTEN}")


def no_records_message(root: Path, suites: Iterable[str] | None = None, skipped: Iterable[str] = ()) -> str:
    """The error of a records folder without a record (of ``suites``), naming what was skipped."""
    of = f" of the suite(s) {', '.join(suites)}" if suites is not None else ""
    left = "; ".join(skipped)
    return (
        f"no records under {str(root)!r}{of}: a records folder holds <suite>/<run id>.json files"
        f"{f' (not read: {left})' if left else ''}; run a suite first or pass --records DIR. {NOTHING_WRITTEN}"
    )


def _suite_folders(root: Path, suites: list[str] | None, unknown_hint: str | None) -> tuple[list[Path], list[str]]:
    """The suite folders to read under ``root`` and what is skipped there (see :func:`read_records`)."""
    check_records_folder(root)
    try:
        entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise UserError(f"records folder {str(root)!r} cannot be read: {exc}. {NOTHING_WRITTEN}") from exc
    folders, skipped = [], []
    for entry in entries:
        if entry.is_file() and entry.suffix == ".json":
            skipped.append(f"{entry.name}: a record outside a suite folder (expected <suite>/<run id>.json)")
        elif entry.is_dir() and (suites is None or entry.name in suites):
            check_records_folder(entry)
            folders.append(entry)
        elif entry.is_dir() and unknown_hint is not None:
            count = len(list(iter_record_files(root, entry.name)))
            skipped.append(f"{entry.name}/ ({count} record(s)): unknown suite {entry.name!r}; {unknown_hint}")
    return folders, skipped


def load_records(records_dir: Path, suite: str | None = None) -> list[Record]:
    """All records under ``records_dir`` (optionally of one suite): :func:`read_records`' records."""
    return read_records(records_dir, None if suite is None else [suite]).records()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a record")
