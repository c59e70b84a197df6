"""Saving trained backbones and loading them back, checked against the architecture asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from acn_bench.backbones.base import Backbone
from acn_bench.backbones.registry import backbone_options, create_backbone
from acn_bench.errors import UserError
from acn_bench.io import torch_save_atomic

# Config entries that describe the architecture (and must match for weights to be meaningful).
ARCHITECTURE_KEYS = ("name", "connectivity", "depth", "dim", "img_size", "in_chans", "patch_size", "num_classes")


def save_backbone(
    path: Path, model: Backbone, extra: dict[str, Any] | None = None, key: dict[str, Any] | None = None
) -> Path:
    """Write the model's config and weights (plus ``extra`` plain data) to ``path`` atomically; ``key``:
    plain data that says what the model is (the model store's key fields), kept for a reader."""
    payload = {"config": dict(model.config), "state_dict": model.state_dict(), "extra": extra or {}}
    if key is not None:
        payload["key"] = key
    return torch_save_atomic(path, payload)


def load_backbone(path: Path, expected: dict[str, Any] | None = None) -> tuple[Backbone, dict[str, Any]]:
    """Rebuild a saved backbone; return it and the ``extra`` data saved with it.

    Args:
        path: a file written by :func:`save_backbone`.
        expected: architecture entries the checkpoint must match (e.g. ``{"connectivity": "acn"}``).

    Raises:
        UserError: the file is missing, unreadable, or holds another architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {str(path)!r} does not exist.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        config = payload["config"]
        state = payload["state_dict"]
    except Exception as exc:
        raise UserError(f"checkpoint {str(path)!r} is not a saved acn-bench backbone ({exc}).") from exc
    mismatched = {
        key: (config.get(key), value)
        for key, value in (expected or {}).items()
        if key in ARCHITECTURE_KEYS and config.get(key) != value
    }
    if mismatched:
        detail = ", ".join(f"{k}: checkpoint {have!r}, expected {want!r}" for k, (have, want) in mismatched.items())
        raise UserError(f"checkpoint {str(path)!r} holds another architecture ({detail}).")
    options = backbone_options(config["name"])
    model = create_backbone(config["name"], **{k: v for k, v in config.items() if k in options and k != "name"})
    model.load_state_dict(state)
    return model, payload.get("extra", {})
