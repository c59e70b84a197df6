"""Cache of decoded image sets: uint8 tensors saved with :func:`torch.save`.

Files live in ``$ACN_BENCH_CACHE/images/`` (default ``~/.cache/acn-bench/images/``). A file's
name holds a hash of the dataset name, the resolved source path, the source's fingerprint (size
and modification time of an archive; file count, total size and latest modification time of
the files under a folder), the split and the image size, so a changed source is decoded again.
Files are written to a temporary file in the same folder and renamed into place, so a killed
process never leaves a partial cache file behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from acn_bench.io import torch_save_atomic

CACHE_ENV = "ACN_BENCH_CACHE"
FORMAT_VERSION = 1


def cache_root() -> Path:
    """The cache folder: ``$ACN_BENCH_CACHE`` or ``~/.cache/acn-bench``."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/acn-bench").expanduser()


def fingerprint(path: Path) -> tuple[int, int, int]:
    """``(file count, total bytes, latest mtime in ns)`` of a file or of all files under a folder."""
    if not path.is_dir():
        stat = path.stat()
        return 1, stat.st_size, stat.st_mtime_ns
    count = size = latest = 0
    for folder, _, files in os.walk(path):
        for file in files:
            stat = os.stat(os.path.join(folder, file))
            count, size, latest = count + 1, size + stat.st_size, max(latest, stat.st_mtime_ns)
    return count, size, latest


def cache_file(name: str, split: str, image_size: int | None, source: Path) -> Path:
    """Where the decoded set for these arguments is cached.

    Args:
        name: The dataset name as the user gave it.
        split: ``"train"`` or ``"test"``.
        image_size: The requested image size, or ``None`` for the images' own size.
        source: The archive or folder the set is decoded from.

    Returns:
        The cache file's path (which may not exist yet).
    """
    resolved = source.resolve()
    key = repr((FORMAT_VERSION, name, str(resolved), fingerprint(resolved), split, image_size))
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40]
    return cache_root() / "images" / f"{slug}-{split}-{image_size or 'native'}-{digest}.pt"


def load_cached(file: Path) -> dict[str, Any] | None:
    """The cached payload, or ``None`` when the file is missing or unreadable."""
    if not file.is_file():
        return None
    try:
        payload = torch.load(file, weights_only=True)
    except Exception as exc:  # an unreadable cache file is only a cache miss
        warnings.warn(f"ignoring unreadable cache file {file} ({exc}); decoding again", stacklevel=2)
        return None
    return payload if isinstance(payload, dict) else None


def save_cached(file: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (see :mod:`acn_bench.io`); a cache that cannot be written only gives a warning."""
    try:
        torch_save_atomic(file, payload)
    except OSError as exc:
        warnings.warn(f"could not write the image cache {file} ({exc}); continuing without it", stacklevel=2)
