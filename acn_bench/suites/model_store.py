"""Trained models shared between runs, trained once and saved."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock

from acn_bench.backbones import Backbone
from acn_bench.backbones.saving import load_backbone, save_backbone
from acn_bench.suites.base import RunContext
from acn_bench.training import distributed


def cached_model(
    path: Path, train: Callable[[], tuple[Backbone, dict[str, Any]]], context: RunContext, expected: dict[str, Any]
) -> tuple[Backbone, dict[str, Any]]:
    """A trained model saved at ``path`` with its ``extra`` data: loaded if there, else trained and saved.

    Lets several runs (fine-tuning modes, pruning methods) share one expensive training. A file lock
    beside ``path`` makes runs in parallel processes (``--jobs``) train it once: the second waits for
    the first and loads its model. Under ``torchrun`` the processes are the ranks of one run, which
    train together (``--jobs`` is refused there): no lock, or the ranks would wait on each other.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock") if distributed.world_size() == 1 else nullcontext():
        if path.is_file():
            context.log(f"  reusing the trained model {path}")
            model, extra = load_backbone(path, expected)
            return model.to(context.device), extra
        model, extra = train()
        save_backbone(path, model, extra)
        return model, extra
