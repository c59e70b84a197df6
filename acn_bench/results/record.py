"""The result record: one JSON document per run, the only thing leaderboards read."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
SOURCES = ("measured", "paper")
OPTIONAL_FIELDS = {"protocol"}  # fields added after schema 1 was written, with the default of the older records


def run_id(identity: dict[str, Any]) -> str:
    """A short stable hash of the configuration that identifies a run (used for resume)."""
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class Record:
    """Everything one run measured, and enough of its configuration to reproduce it.

    Attributes:
        suite: suite name (``compression``, ``continual``, ...).
        profile: ``smoke``, ``quick``, ``standard`` or ``paper``.
        dataset: ``{"name", "source", "train_size", "test_size", ...}``.
        backbone: ``{"name", "connectivity", "depth", "params", "config"}``.
        seed: the run's seed.
        config: the full run configuration (training recipe and suite options).
        metrics: scalar results (accuracies in [0, 1], counts, ratios).
        probe: shared-head test accuracy at depths 0..L.
        timings: seconds (training, evaluation, ...).
        environment: versions, device, git commit.
        run_id: hash of the identifying configuration; equal ids mean the same run.
        strategy: continual-learning strategy, or ``None``.
        scenario: scenario name for suites that have one, or ``None``.
        history: per-epoch curves (loss, accuracy, probe accuracy, gradient norms).
        source: ``measured`` or ``paper`` (numbers quoted from the paper).
        content_hash: sha256 of everything else, set when the record is written; an edited
            record no longer matches it.
        protocol: the suite's protocol version the run was made under (``Suite.protocol``); records
            written before versions existed have no such field and were made under version 1.
    """

    suite: str
    profile: str
    dataset: dict[str, Any]
    backbone: dict[str, Any]
    seed: int
    config: dict[str, Any]
    metrics: dict[str, Any]
    run_id: str
    probe: list[float] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    strategy: str | None = None
    scenario: str | None = None
    history: dict[str, Any] = field(default_factory=dict)
    source: str = "measured"
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    content_hash: str = ""
    schema_version: int = SCHEMA_VERSION
    protocol: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (what is written as JSON)."""
        return asdict(self)

    @property
    def training_epochs(self) -> int | None:
        """The epochs the model was trained for (``config.train.epochs``, else ``config.epochs`` as the
        paper's rows state it; None where not recorded)."""
        train = self.config.get("train")
        return train.get("epochs") if isinstance(train, dict) else self.config.get("epochs")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Rebuild a record, rejecting missing fields, unknown fields and other schema versions."""
        problems = record_problems(data)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def content_hash(data: dict[str, Any]) -> str:
    """sha256 of a record's plain data without its ``content_hash`` field (and without ``protocol`` at
    version 1, so that records written before the field existed keep their hashes)."""
    body = {k: v for k, v in data.items() if k != "content_hash" and not (k == "protocol" and v == 1)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def record_problems(data: Any) -> list[str]:
    """Every way ``data`` fails to be a valid record of this schema (empty when valid)."""
    if not isinstance(data, dict):
        return [f"a record is a JSON object, got {type(data).__name__}"]
    problems = []
    names = {f.name for f in fields(Record)}
    missing = sorted(names - set(data) - OPTIONAL_FIELDS)
    if missing:
        problems.append(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(set(data) - names)
    if unknown:
        problems.append(f"unknown field(s): {', '.join(unknown)}")
    if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        problems.append(f"schema_version {data.get('schema_version')!r}, this acn-bench reads {SCHEMA_VERSION}")
    if "source" in data and data["source"] not in SOURCES:
        problems.append(f"source {data['source']!r} is not one of {', '.join(SOURCES)}")
    for key in ("dataset", "backbone", "config", "metrics"):
        if key in data and not isinstance(data[key], dict):
            problems.append(f"{key} must be an object")
    if data.get("content_hash") and not missing and data["content_hash"] != content_hash(data):
        problems.append("content_hash does not match the content (was the record edited?)")
    return problems


def environment() -> dict[str, Any]:
    """Versions, device, number of training processes, git commit and git dirty state of the current process.

    ``git_dirty`` is :func:`git_dirty`'s answer: ``True``, ``False`` or ``None`` (unknown).
    """
    import torch

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "world_size": torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1,
        "git_commit": _git_commit(),
        "git_dirty": git_dirty(),
    }
    try:
        from importlib.metadata import version

        env["acn_bench"] = version("acn-bench")
        env["timm"] = version("timm")
    except Exception:  # metadata missing in odd installs; versions are informative only
        pass
    return env


# Tracked paths whose changes do not make a run's code dirty: the committed records and the
# tables rendered from them (a run that adds a record there must not mark the next one dirty), and
# the throughput measurements that ``python -m speed.perf --save`` appends.
DIRTY_IGNORED = ("leaderboards", "speed/results")


def _git(*args: str, where: Path | None = None) -> str | None:
    """``git args`` run in ``where`` (default: this package's folder): its standard output, or ``None``
    (no git, not a repository). Never takes the index lock: records are written while others work."""
    try:
        out = subprocess.run(
            ["git", "--no-optional-locks", *args],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=where or Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _git_commit() -> str | None:
    out = _git("rev-parse", "HEAD")
    return (out or "").strip() or None


def git_dirty(where: Path | None = None) -> bool | None:
    """Whether the code that runs differs from its commit: ``True`` when a tracked file has uncommitted
    changes (staged or not), ``False`` when the tree is clean, ``None`` when unknown (no git, not a
    repository).

    The rule: ``git status --porcelain --untracked-files=no`` over the whole repository except the
    folders in :data:`DIRTY_IGNORED` (``leaderboards/``: records being added there and the tables
    re-rendered from them, and ``speed/results/``: measurements, are results, not code) is
    non-empty. Untracked files never count (a
    scratch file, or a plugin file not yet added, is not the benchmark's code).

    Args:
        where: a folder inside the repository (default: this package's folder, the code that runs).
    """
    excluded = [f":(top,exclude){folder}" for folder in DIRTY_IGNORED]
    out = _git("status", "--porcelain", "--untracked-files=no", "--", ":(top)", *excluded, where=where)
    return None if out is None else bool(out.strip())
