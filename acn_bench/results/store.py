"""Where records live: ``<dir>/<suite>/<run_id>.json``, each written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from acn_bench.io import write_text_atomic
from acn_bench.results.record import Record, content_hash, record_problems


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


def read_record(path: Path) -> Record:
    """Load one record file.

    Raises:
        ValueError: naming the file and every problem found.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc})") from exc
    problems = record_problems(data)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return Record.from_dict(data)


def load_records(records_dir: Path, suite: str | None = None) -> list[Record]:
    """All records under ``records_dir`` (optionally of one suite)."""
    return [read_record(p) for p in iter_record_files(records_dir, suite)]


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a record")
