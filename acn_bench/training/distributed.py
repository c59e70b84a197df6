"""Data-parallel training under ``torchrun``: process group, rank helpers and reductions.

``torchrun --nproc_per_node N -m acn_bench.cli run ...`` starts N processes with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` set; :func:`init_distributed` joins them into one process group
(NCCL on CUDA, gloo on CPU). The trainer then splits every global batch over the ranks, averages
gradients with ``DistributedDataParallel`` and reduces losses and test counts, so N processes
train the same model as one process with the same global batch. Only rank 0 writes records,
checkpoints and logs. Outside ``torchrun`` every helper is a no-op for a world of one.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist

from acn_bench.errors import UserError

COLLECTIVE_TIMEOUT = datetime.timedelta(hours=6)


def world_size() -> int:
    """Number of training processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes records, checkpoints and logs."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    """Whether the environment describes more than one process (``torchrun`` sets ``WORLD_SIZE``)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device) -> torch.device:
    """Join the ``torchrun`` process group and return this rank's device.

    On CUDA each rank takes ``cuda:LOCAL_RANK`` and the NCCL backend; on CPU the gloo backend.
    Called once per process; a second call returns the device without re-initialising.

    Raises:
        UserError: CUDA is asked for but the node has fewer GPUs than local ranks.
    """
    if device.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if local_rank >= torch.cuda.device_count():
            raise UserError(
                f"local rank {local_rank} has no GPU: this node has {torch.cuda.device_count()}; "
                "start at most that many processes per node (--nproc_per_node)."
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():  # long timeout: ranks wait while rank 0 packs a corpus or decodes a set
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=COLLECTIVE_TIMEOUT)
    return device


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over all ranks (in place; returned for chaining)."""
    if world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_objects(value: Any) -> list[Any]:
    """Every rank's ``value``, in rank order (``[value]`` for a world of one)."""
    if world_size() == 1:
        return [value]
    values: list[Any] = [None] * world_size()
    dist.all_gather_object(values, value)
    return values


def barrier() -> None:
    """Wait for every rank (no-op for a world of one)."""
    if world_size() > 1:
        dist.barrier()
