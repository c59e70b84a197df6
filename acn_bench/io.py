"""The one way acn-bench writes a file: atomically, so a killed process never leaves half of one.

Every writer (records, leaderboard tables, figures, checkpoints, saved backbones, the image cache,
tokenizers and packed corpora) goes through :func:`atomic_write`: a temporary file in the target's
folder, written, flushed and synced to disk, made world-readable (0644: results, caches and models
are shared like any data file), then renamed over the target. This module depends only on the
standard library (``torch`` is imported by :func:`torch_save_atomic` when it is called), so every
layer may use it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

FILE_MODE = 0o644


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a binary handle of a temporary file, then rename the file to ``path``.

    The parent folders are created; the file gets mode 0644. On any failure (an exception from
    ``write`` or an interrupt) the temporary file is removed and an existing ``path`` is left
    untouched.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)  # mkstemp makes the file private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def torch_save_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """``torch.save(obj)`` to ``path`` atomically; return the path."""
    import torch

    return atomic_write(path, lambda handle: torch.save(obj, handle))
