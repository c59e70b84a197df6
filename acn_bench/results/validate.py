"""Checks of a folder of records: schema, content hash, file naming, duplicates and provenance."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from acn_bench.errors import UserError
from acn_bench.results.record import record_problems
from acn_bench.results.store import check_records_folder, iter_record_files, no_records_message, record_data

# Measured records made from this time on must state ``environment.git_dirty`` (records have stated
# it since this date); older ones stay valid, their dirty state unknown.
PROVENANCE_SINCE = "2026-12-01T22:00:00+00:00"


def _timestamp(text: Any) -> datetime | None:
    """An ISO-8601 timestamp (UTC when it names no zone), or ``None`` when ``text`` is not one."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def provenance_problems(data: dict[str, Any]) -> list[str]:
    """How a measured record fails the provenance rule (empty when it keeps it; paper records always do).

    - ``environment.git_dirty`` true: the run's code had uncommitted changes, so its commit does
      not say what ran; refused.
    - no ``environment.git_dirty`` and ``created`` at or after :data:`PROVENANCE_SINCE`: made
      by code that does not record its dirty state (or the field was removed); refused.
    - no ``environment.git_dirty`` and created before: valid, dirty state unknown.
    - ``git_dirty`` null (no git where it ran): valid, dirty state unknown.
    """
    if data.get("source") != "measured":
        return []
    environment = data.get("environment") if isinstance(data.get("environment"), dict) else {}
    if environment.get("git_dirty") is True:
        return [
            "made from a working tree with uncommitted changes (environment.git_dirty is true): "
            "commit the code and run again"
        ]
    if "git_dirty" in environment:
        return []
    created = _timestamp(data.get("created"))
    if created is None:
        return [f"created {data.get('created')!r} is not an ISO-8601 timestamp"]
    if created >= _timestamp(PROVENANCE_SINCE):
        return [f"no environment.git_dirty, which measured records made since {PROVENANCE_SINCE} state"]
    return []


def validate_records(records_dir: Path) -> tuple[int, list[str]]:
    """Check every record under ``records_dir``; return how many were read and ``"FILE: problem"`` lines.

    Checks: the schema and content hash (:func:`record_problems`), a seal, the file named after the
    run id inside its suite's folder, no duplicate run or content, and provenance
    (:func:`provenance_problems`).

    Raises:
        UserError: the folder is missing, cannot be read or holds no record (the messages of
            :func:`acn_bench.results.store.read_records`).
    """
    problems: list[str] = []
    seen_runs: dict[tuple[str, str], Path] = {}
    seen_hashes: dict[str, Path] = {}
    check_records_folder(records_dir)
    files = list(iter_record_files(records_dir))
    if not files:
        raise UserError(no_records_message(records_dir))
    for path in files:
        try:
            data = record_data(path)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        found = record_problems(data)
        if not found:
            if not data["content_hash"]:
                found.append("no content_hash (records are sealed when written)")
            if path.stem != data["run_id"]:
                found.append(f"file name {path.name} does not match run_id {data['run_id']}")
            found.extend(provenance_problems(data))
            if path.parent.name != data["suite"]:
                found.append(f"record of suite {data['suite']!r} in folder {path.parent.name!r}")
            key = (data["suite"], data["run_id"])
            if key in seen_runs:
                found.append(f"duplicate run {data['run_id']} (also {seen_runs[key]})")
            if data["content_hash"] in seen_hashes:
                found.append(f"duplicate content (same as {seen_hashes[data['content_hash']]})")
            seen_runs.setdefault(key, path)
            seen_hashes.setdefault(data["content_hash"], path)
        problems.extend(f"{path}: {problem}" for problem in found)
    return len(files), problems
