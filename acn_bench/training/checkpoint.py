"""Checkpoints that resume exactly: model, optimiser, schedule, scaler, RNG states and history."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acn_bench.errors import UserError
from acn_bench.io import torch_save_atomic


def rng_state() -> dict[str, Any]:
    """Every random generator the training loop draws from."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` atomically (see :mod:`acn_bench.io`), so a kill never leaves half a file."""
    torch_save_atomic(path, payload)


def load_checkpoint(path: Path, fingerprint: str, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """Load ``path`` (tensors onto ``map_location``) if it exists and was written with the same ``fingerprint``.

    Raises:
        UserError: the file is unreadable or belongs to another configuration.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise UserError(f"checkpoint {str(path)!r} is unreadable ({exc}); delete it to start the run afresh.") from exc
    if payload.get("fingerprint") != fingerprint:
        raise UserError(
            f"checkpoint {str(path)!r} was written by another configuration "
            f"(fingerprint {payload.get('fingerprint')!r}, this run {fingerprint!r}); "
            "resume with the same configuration or delete the checkpoint."
        )
    return payload
