"""Checks of a folder of records: schema, content hash, file naming and duplicates."""

from __future__ import annotations

import json
from pathlib import Path

from acn_bench.results.record import record_problems
from acn_bench.results.store import iter_record_files


def validate_records(records_dir: Path) -> tuple[int, list[str]]:
    """Check every record under ``records_dir``; return how many were read and ``"FILE: problem"`` lines."""
    problems: list[str] = []
    seen_runs: dict[tuple[str, str], Path] = {}
    seen_hashes: dict[str, Path] = {}
    files = list(iter_record_files(records_dir))
    for path in files:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: not readable JSON ({exc})")
            continue
        found = record_problems(data)
        if not found:
            if not data["content_hash"]:
                found.append("no content_hash (records are sealed when written)")
            if path.stem != data["run_id"]:
                found.append(f"file name {path.name} does not match run_id {data['run_id']}")
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
