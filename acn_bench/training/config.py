"""What one training run is: :class:`TrainConfig` (the recipe), :class:`TrainResult` (what it gave), and
the choices derived from a recipe and a device (precision, compilation, MixUp/CutMix, seeding)."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from timm.data import Mixup

from acn_bench.data.autoaugment import POLICIES as AUTOAUGMENT_POLICIES
from acn_bench.errors import require, unknown_choice
from acn_bench.training.schedule import SCHEDULES

AMP_CHOICES = ("auto", "bf16", "fp16", "none")
# Where an exception raised while compiling comes from (dynamo, AOT autograd, Inductor, Triton).
COMPILER_MODULES = ("torch._dynamo", "torch._inductor", "torch._functorch", "torch._subclasses", "triton")


@dataclass
class TrainConfig:
    """A supervised training recipe (defaults: the paper's Mixer recipe, arXiv 2506.09714, Appendix B,
    minus epochs).

    Attributes:
        epochs: passes over the training set (equal across twins for a fair comparison).
        batch_size: samples per optimiser step (the global batch: over all processes and all
            ``accumulate`` micro-batches).
        lr, weight_decay, betas: AdamW settings.
        warmup_epochs: linear warm-up length before the cosine decay (may be fractional).
        min_lr: learning rate at the end of the cosine.
        label_smoothing: cross-entropy label smoothing.
        cutmix_prob: probability of CutMix per batch (paper 0.5; 0 disables), with ``cutmix_alpha``.
        autoaugment: ``None`` or torchvision's AutoAugment policy ``"cifar10"``, ``"imagenet"`` or
            ``"svhn"``, applied to the whole batch at once with a sub-policy per image
            (:class:`~acn_bench.data.autoaugment.BatchAutoAugment`).
        crop_padding: RandomCrop padding in pixels (paper 4; 0 disables).
        hflip: random horizontal flips.
        clip_grad: max global gradient norm, applied to unscaled gradients (None disables).
        amp: ``auto`` (bf16 on CUDA, off on CPU), ``bf16``, ``fp16`` or ``none``.
        eval_batch_size: batch size for evaluation.
        eval_every: epochs between test evaluations with per-depth probing (the last epoch always).
        grad_norms: log the mean gradient norm of every block per epoch (Figure 1 heatmap).
        mixup_alpha: MixUp beta parameter (paper's ViT 0.2; 0 disables). With CutMix on as well,
            timm's ``Mixup`` picks one of the two per batch, on ``cutmix_prob`` of the batches.
        checkpoint_every: also checkpoint every this many optimiser steps, with the data position
            (0: at epoch ends only).
        compile: run the forward through ``torch.compile`` (mode :data:`COMPILE_MODE`): ``None``
            (auto) compiles on CUDA and not on the CPU (CPU runs stay eager, their numbers
            unchanged); ``True`` forces it (a compilation failure is then a user error);
            ``False`` never compiles. When an automatic compilation fails the run warns and
            continues eagerly.
        eps: AdamW's epsilon (BERT pre-training 1e-9).
        schedule: ``cosine`` or ``linear`` decay after the warm-up.
        steps: train exactly this many optimiser steps (the last epoch cut short; ``epochs`` is then
            ignored): equal budgets across training sets of different sizes.
        accumulate: micro-batches per optimiser step (gradient accumulation; 1: none). The
            optimiser step is the one of the whole ``batch_size`` batch (within float rounding),
            computed ``batch_size / accumulate`` samples at a time (per process), so a batch too
            large for the device's memory keeps its recipe. ``batch_size`` must be divisible by
            ``accumulate`` (and by ``accumulate`` x processes). MixUp/CutMix mix the whole batch
            before it is cut, as without accumulation. A recipe sets it like any other field
            (``dataclasses.replace(recipe.train, accumulate=4)``); it does not change the run's
            results beyond rounding, but it is part of the checkpoint's configuration when not 1.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_epochs: float = 1.0
    min_lr: float = 1e-6
    label_smoothing: float = 0.1
    cutmix_prob: float = 0.0
    cutmix_alpha: float = 1.0
    autoaugment: str | None = None
    crop_padding: int = 0
    hflip: bool = False
    clip_grad: float | None = 1.0
    amp: str = "auto"
    eval_batch_size: int = 512
    eval_every: int = 1
    grad_norms: bool = False
    mixup_alpha: float = 0.0
    checkpoint_every: int = 0
    compile: bool | None = None
    eps: float = 1e-8
    schedule: str = "cosine"
    steps: int | None = None
    accumulate: int = 1

    def total_steps(self, steps_per_epoch: int) -> int:
        """Optimiser steps of the whole run: ``steps`` when set, else ``epochs`` full epochs."""
        return self.steps or self.epochs * steps_per_epoch

    def validate(self) -> None:
        """Reject values no run can use, naming the value."""
        require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}.")
        require(self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}.")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}.")
        require(0 <= self.cutmix_prob <= 1, f"cutmix_prob must be in [0, 1], got {self.cutmix_prob}.")
        require(self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}.")
        require(self.mixup_alpha >= 0, f"mixup_alpha must be >= 0, got {self.mixup_alpha}.")
        require(self.checkpoint_every >= 0, f"checkpoint_every must be >= 0 steps, got {self.checkpoint_every}.")
        require(self.steps is None or self.steps >= 1, f"steps must be None or >= 1, got {self.steps}.")
        require(
            isinstance(self.accumulate, int) and self.accumulate >= 1,
            f"accumulate must be a whole number of micro-batches >= 1, got {self.accumulate!r}.",
        )
        require(
            self.batch_size % self.accumulate == 0,
            f"batch_size {self.batch_size} does not split into accumulate={self.accumulate} equal micro-batches; "
            "pick a batch size divisible by accumulate.",
        )
        require(
            self.compile in (None, True, False), f"compile must be None (auto), True or False, got {self.compile!r}."
        )
        if self.schedule not in SCHEDULES:
            raise unknown_choice("schedule", self.schedule, SCHEDULES)
        if self.autoaugment is not None and self.autoaugment not in AUTOAUGMENT_POLICIES:
            raise unknown_choice("AutoAugment policy", self.autoaugment, AUTOAUGMENT_POLICIES)
        if self.amp not in AMP_CHOICES:
            raise unknown_choice("amp mode", self.amp, AMP_CHOICES)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What a training run produced.

    The trainer never sees the test split: it evaluates the held-out set it was given (the
    validation split carved from the training data), and the suite tests the final model once.

    Attributes:
        val_probe_acc: final validation accuracy at every depth 0..L (``[-1]`` is the model's).
        history: one entry per epoch (``epoch``, ``lr``, ``train_loss``, ``seconds`` and, on
            evaluated epochs, ``val_acc`` and ``val_probe_acc``; ``grad_norms`` when logged).
        best_epoch: the evaluated epoch with the highest validation accuracy (1-based; reported,
            the final model is kept: budgets are fixed).
        best_val_acc: the validation accuracy at ``best_epoch``.
        train_seconds: wall-clock seconds spent in training steps (excluding evaluation).
        steps: optimiser steps taken.
        throughput: over all epochs, ``samples_per_s`` (global), ``model_tflops`` achieved and, on a
            device with a known peak, ``mfu`` (see :mod:`acn_bench.training.throughput`).
    """

    val_probe_acc: list[float]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_acc: float = 0.0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    steps: int = 0
    throughput: dict[str, float] = field(default_factory=dict)

    @property
    def val_accuracy(self) -> float:
        """The final model's validation accuracy."""
        return self.val_probe_acc[-1]


def mixup_for(config: TrainConfig, num_classes: int) -> Mixup | None:
    """timm's MixUp / CutMix as ``config`` asks for it (None when it mixes none): CutMix on
    ``cutmix_prob`` of the batches, MixUp on every batch (one of the two per batch when both)."""
    cutmix = config.cutmix_alpha if config.cutmix_prob > 0 else 0.0
    if cutmix == 0 and config.mixup_alpha == 0:
        return None
    return Mixup(
        mixup_alpha=config.mixup_alpha,
        cutmix_alpha=cutmix,
        prob=config.cutmix_prob if cutmix else 1.0,
        label_smoothing=config.label_smoothing,
        num_classes=num_classes,
    )


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (timm's CutMix draws from it) and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (None: full precision)."""
    if amp == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[amp]


def resolve_compile(compile: bool | None, device: torch.device) -> bool:
    """Whether to ``torch.compile`` the training forward: ``compile``, or when it is None (auto) on CUDA only."""
    return device.type == "cuda" if compile is None else bool(compile)


def is_compile_error(error: BaseException) -> bool:
    """Whether ``error`` (or an exception it was raised from) comes from the compiler stack, not the model."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__.startswith(COMPILER_MODULES):
            return True
        current = current.__cause__ or current.__context__
    return False
