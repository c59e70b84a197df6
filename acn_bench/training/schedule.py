"""Optimiser and learning-rate schedule: AdamW with linear warm-up then cosine or linear decay, stepped per update."""

from __future__ import annotations

import functools
from typing import Iterable

import torch
from timm.scheduler import CosineLRScheduler, PolyLRScheduler
from timm.scheduler.scheduler import Scheduler
from torch import nn

SCHEDULES = ("cosine", "linear")


def use_fused_adamw(devices: Iterable[torch.device | str]) -> bool:
    """Whether AdamW can run fused (one kernel for all parameters): every parameter lies on a CUDA device.

    Elsewhere (the CPU, or a model spread over CPU and GPU) the default implementation runs, so CPU
    runs keep their exact numbers.
    """
    types = {torch.device(device).type for device in devices}
    return types == {"cuda"}


def build_optimizer(
    model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
) -> torch.optim.AdamW:
    """AdamW; biases, norms, tokens and connectivity weights (1-D parameters) get no weight decay.

    Fused (``fused=True``) when every parameter is on CUDA (:func:`use_fused_adamw`): one kernel
    per step instead of several per parameter, and with an fp16 ``GradScaler`` it skips steps with
    non-finite gradients on the device instead of reading the check back to the host.
    """
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = {"fused": True} if use_fused_adamw(p.device for p in decay + no_decay) else {}
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, **fused)


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int, min_lr: float, schedule: str = "cosine"
) -> Scheduler:
    """timm's cosine (or linear: polynomial of power 1) decay over ``total_steps`` updates, the first
    ``warmup_steps`` a linear warm-up.

    Call ``scheduler.step_update(num_updates)`` after every optimiser step.
    """
    warmup_steps = min(warmup_steps, max(total_steps - 1, 0))
    base_lr = optimizer.param_groups[0]["lr"]
    kind = CosineLRScheduler if schedule == "cosine" else functools.partial(PolyLRScheduler, power=1.0)
    return kind(
        optimizer,
        t_initial=max(total_steps - warmup_steps, 1),
        lr_min=min_lr,
        warmup_t=warmup_steps,
        warmup_lr_init=min(min_lr, base_lr),
        warmup_prefix=True,
        t_in_epochs=False,
    )
