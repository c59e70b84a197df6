"""The model store: trained models shared between runs, each trained once and saved under its key.

A stored model is named by its key fields, everything that determines its weights (for an image
twin: dataset and where its files came from, backbone, connectivity, depth, seed, the training
recipe in full, the validation split, the protocol version from 2 on; a caller adds what else its
kind of model depends on). The model lives in ``<folder>/<id>.pt``, ``id`` being
:func:`~acn_bench.results.run_id` of the key fields; the file holds the model, the ``extra`` data its
training left, and the key fields themselves (``torch.load(path)["key"]``), so a reader can tell
what it is. :func:`stored_model` is the one way to get such a model:

* **one lock**: ``<id>.lock`` beside the model makes parallel processes (``--jobs``) train it once
  (a second process waits, then loads the first one's model); the lock file is removed by its
  holder when the model is saved or its training failed, so none is left behind;
* **one resume policy**: training checkpoints to ``<id>.ckpt``; without ``--resume`` an interrupted
  training starts afresh (its checkpoint is deleted first), with ``--resume`` it continues from the
  checkpoint; the checkpoint is deleted once the model is saved.

Callers check their inputs (data, names) before asking for a model, so a bad input fails before any
lock is taken.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from acn_bench.backbones import Backbone
from acn_bench.backbones.saving import load_backbone, save_backbone
from acn_bench.results import run_id
from acn_bench.suites.base import RunContext
from acn_bench.training import distributed

Train = Callable[[Path], tuple[Backbone, dict[str, Any]]]  # checkpoint path -> trained model, its extra data


@dataclass
class StoredModel:
    """A model from the store.

    Attributes:
        model: the trained model (on the run's device).
        extra: the plain data saved with it by its training (probes, training result, ...).
        key: its id in the store (the file is ``<folder>/<key>.pt``).
        trained_here: whether this call trained and saved it (else it was loaded).
    """

    model: Backbone
    extra: dict[str, Any]
    key: str
    trained_here: bool


def stored_model(
    folder: Path, fields: dict[str, Any], train: Train, context: RunContext, expected: dict[str, Any]
) -> StoredModel:
    """The model with key ``fields`` in the store ``folder``: loaded if saved there, else trained and saved.

    Args:
        folder: the store (e.g. ``<out>/.twins``).
        fields: the key fields, everything that determines the weights (plain data).
        train: trains the model, resumably from the checkpoint path it is given; returns the model
            and the plain data to save with it.
        context: the run's context (``resume``: continue an interrupted training).
        expected: architecture entries a saved model must match (see
            :func:`~acn_bench.backbones.saving.load_backbone`).
    """
    key = run_id(fields)
    path = folder / f"{key}.pt"
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(path.with_suffix(".lock")):
        if path.is_file():
            context.log(f"  reusing the trained model {path}")
            model, extra = load_backbone(path, expected)
            return StoredModel(model.to(context.device), extra, key, trained_here=False)
        checkpoint = path.with_suffix(".ckpt")
        if not context.resume and distributed.is_main():
            checkpoint.unlink(missing_ok=True)  # without --resume an interrupted training starts afresh
        distributed.barrier()
        model, extra = train(checkpoint)
        save_backbone(path, model, extra, key=fields)
        if distributed.is_main():
            checkpoint.unlink(missing_ok=True)  # the model is saved: its training checkpoint is done with
        return StoredModel(model, extra, key, trained_here=True)


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Run the block in one process at a time: an exclusive ``flock`` on the file ``lock``.

    The holder removes the file before it lets go (after the block, also when it failed), so no
    lock file is left behind. A process that was waiting on the removed file gets it, sees that the
    path no longer names it, and locks the path anew: two processes never hold the lock at once.
    Under ``torchrun`` the processes are the ranks of one run, which work together (``--jobs`` is
    refused there): no lock, or the ranks would wait on each other.
    """
    if distributed.world_size() > 1:
        yield
        return
    handle = _acquire(lock)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(handle)  # releases the flock


def _acquire(lock: Path) -> int:
    """An open descriptor of ``lock`` holding its exclusive ``flock``, once the path still names that file."""
    while True:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if _names(lock, handle):
                return handle
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)  # the holder removed it while this process waited: lock the new one


def _names(path: Path, handle: int) -> bool:
    """Whether ``path`` still names the file open as ``handle``."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(handle))
    except FileNotFoundError:
        return False
