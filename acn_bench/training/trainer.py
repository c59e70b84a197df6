"""The one supervised training loop: AdamW, warm-up + cosine, label smoothing, CutMix / MixUp,
AutoAugment, unscaled gradient clipping, autocast, checkpoint/resume (at epoch ends and every N
steps, with the data position), per-depth probing, per-layer gradient norms and data-parallel
training under ``torchrun``; gradient accumulation over micro-batches; on CUDA fused AdamW,
``torch.compile`` and a step loop that never waits for the device.

:class:`BaseTrainer` is the loop; :class:`Trainer` feeds it small sets kept as in-memory uint8
tensors, drawn by index on the training device and augmented there (no Python data-loading
workers); :class:`acn_bench.training.streaming.StreamingTrainer` feeds it class folders too large
for memory (ImageNet) through worker processes. Under ``torchrun`` (see
:mod:`acn_bench.training.distributed`) every rank trains on its slice of each global batch, with
gradients averaged by ``DistributedDataParallel``.

**Gradient accumulation** (``TrainConfig.accumulate = K``): each rank's share of a global batch is
cut into K micro-batches, each forward/backward separately, with losses weighted by their share of
the batch; clipping, the optimiser, the schedule and gradient-norm logging run once per optimiser
step, and under ``torchrun`` gradients are all-reduced only after the last micro-batch
(``no_sync`` on the others). One step then makes the update of the whole batch, within float
rounding, at about 1/K of the activation memory (losses averaged over tokens, as MLM's over its
masked tokens, weigh the micro-batches by their tokens, so they match the whole batch too).
MixUp/CutMix mix the whole batch before it is cut.

**No host synchronisation per step** (on CUDA): losses and gradient norms are summed on the device
and read once per epoch (and at the rare mid-epoch checkpoints); the epoch's permutation and the
normalisation statistics go to the device once, not per batch; no ``.item()``, ``float(tensor)``
or tensor-valued progress update runs per step. The forward is compiled on CUDA by default
(``TrainConfig.compile``) and AdamW is fused there (:func:`~acn_bench.training.schedule.build_optimizer`).
"""

from __future__ import annotations

import abc
import dataclasses
import math
import random
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from torch.nn.parallel import DistributedDataParallel
from torch.nn.utils import clip_grad_norm_, clip_grads_with_norm_

from acn_bench import progress
from acn_bench.backbones.base import Backbone
from acn_bench.data.augment import BatchAugment, Normalizer
from acn_bench.data.autoaugment import POLICIES as AUTOAUGMENT_POLICIES
from acn_bench.errors import UserError, require, unknown_choice
from acn_bench.results.record import run_id
from acn_bench.training import distributed
from acn_bench.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from acn_bench.training.evaluate import autocast, probe_counts
from acn_bench.training.schedule import SCHEDULES, build_optimizer, build_scheduler
from acn_bench.training.throughput import peak_flops, throughput_stats, training_flops_per_sample

AMP_CHOICES = ("auto", "bf16", "fp16", "none")
# torch.compile's mode. The default mode (Inductor kernels, no CUDA graphs, no GEMM autotuning) is
# the safe choice here: "reduce-overhead" (CUDA graphs) needs static shapes and memory addresses
# across steps, which DDP's buckets, gradient accumulation and variable MLM batches break, and
# "max-autotune(-no-cudagraphs)" spends minutes benchmarking GEMMs for every shape of every fresh
# twin, more than a short benchmark run gains back.
COMPILE_MODE: str | None = None
# Where an exception raised while compiling comes from (dynamo, AOT autograd, Inductor, Triton).
COMPILER_MODULES = ("torch._dynamo", "torch._inductor", "torch._functorch", "torch._subclasses", "triton")
Objective = Callable[[Backbone, torch.Tensor, torch.Tensor, Callable[..., torch.Tensor]], torch.Tensor]


def default_objective(
    model: Backbone, x: torch.Tensor, y: torch.Tensor, criterion: Callable[..., torch.Tensor]
) -> torch.Tensor:
    """The ordinary loss of the final output."""
    return criterion(model(x), y)


@dataclass
class TrainConfig:
    """A supervised training recipe (defaults: the paper's Mixer recipe, arXiv 2506.09714, Appendix B, minus epochs).

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


@dataclass(frozen=True)
class ParameterGroups:
    """A backbone's parameters listed once: per block, and the rest (embedding, head, final norm).

    Walking the module tree costs milliseconds per call on the small presets; a training step that
    reads gradients per block uses these lists instead.
    """

    blocks: tuple[tuple[torch.nn.Parameter, ...], ...]
    rest: tuple[torch.nn.Parameter, ...]

    @classmethod
    def of(cls, model: Backbone) -> ParameterGroups:
        """The groups of ``model``'s parameters (those that require gradients or not)."""
        blocks = tuple(tuple(block.parameters()) for block in model.blocks)
        in_blocks = {id(p) for block in blocks for p in block}
        return cls(blocks, tuple(p for p in model.parameters() if id(p) not in in_blocks))

    @cached_property
    def all(self) -> list[torch.nn.Parameter]:
        """Every parameter, blocks first."""
        return [p for block in self.blocks for p in block] + list(self.rest)

    @cached_property
    def owners(self) -> list[int]:
        """For every parameter of :attr:`all`, its block's index (``len(blocks)`` for the rest)."""
        return [i for i, block in enumerate(self.blocks) for _ in block] + [len(self.blocks)] * len(self.rest)


def block_grad_norms(model: Backbone) -> torch.Tensor:
    """L2 norm of the gradient of every block's parameters (a length-L tensor, no host sync)."""
    return gradient_norms(ParameterGroups.of(model))[0]


def gradient_norms(groups: ParameterGroups) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient's L2 norm per block (length L) and over all parameters, each gradient read once.

    One fused ``foreach`` norm over every gradient (the kernel ``clip_grad_norm_`` uses), whose squares
    are summed per block: four tensor operations per step whatever the depth. The total is what
    clipping needs (:func:`torch.nn.utils.clip_grads_with_norm_`), so nothing is reduced twice.
    """
    depth = len(groups.blocks)
    present = [(p.grad, owner) for p, owner in zip(groups.all, groups.owners) if p.grad is not None]
    device = groups.blocks[0][0].device
    squares = torch.zeros(depth + 1, device=device)
    if present:
        norms = torch.stack(torch._foreach_norm([grad for grad, _ in present])).float()
        index = torch.tensor([owner for _, owner in present], device=device)
        squares.index_add_(0, index, norms.square())
    return squares[:depth].sqrt(), squares.sum().sqrt()


class BaseTrainer(abc.ABC):
    """The training loop, whatever holds the data: optimiser, schedule, mixing, clipping, autocast,
    checkpoints (at epoch ends and every ``config.checkpoint_every`` steps, with the data position)
    and evaluation with per-depth probing.

    Subclasses supply the batches (:meth:`_epoch_batches`), the input shape for FLOP counting, the
    evaluation and whatever data state a checkpoint must carry. Set their data attributes first,
    then call ``super().__init__``.

    Args:
        model: the backbone to train (moved to ``device``).
        config: the recipe.
        seed: seeds initialisation-independent randomness (shuffling, augmentation, mixing).
        device: where to train; defaults to CUDA when available.
        checkpoint: file to save after every epoch (and every ``checkpoint_every`` steps) and to
            resume from when it exists.
        progress: show rich progress bars.
        identity: extra configuration that must match for a checkpoint to be resumed.
        on_epoch: called with each epoch's history entry (e.g. to log progress to a file).
        objective: ``objective(model, x, y, criterion) -> loss`` replacing ``criterion(model(x), y)``
            (e.g. a loss at several exits); extra modules it trains must be submodules of ``model``.
            Single-process only: under ``torchrun`` the default objective runs through DDP.
        on_step: called with the global step number after every optimiser step (e.g. a schedule to
            apply); it runs inside the step loop, so it should not read device tensors back to the
            host (that would wait for the device every step).
        clock: a :class:`PhaseClock` that splits each training step's time into its phases (data and
            augmentation, forward and backward, gradient-norm logging, optimiser, bookkeeping); it
            waits for the device at every phase, so it is for benchmarks, not for runs.
    """

    def __init__(
        self,
        model: Backbone,
        config: TrainConfig,
        *,
        seed: int = 0,
        device: torch.device | None = None,
        checkpoint: Path | None = None,
        progress: bool = False,
        identity: dict[str, Any] | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        objective: Objective | None = None,
        on_step: Callable[[int], None] | None = None,
        clock: PhaseClock | None = None,
    ) -> None:
        config.validate()
        self.world, self.rank = distributed.world_size(), distributed.rank()
        if self.world > 1:
            require(
                objective is None,
                "this suite trains with its own loss (e.g. exit losses), which runs in one "
                "process only; start it without torchrun.",
            )
            require(
                config.batch_size % self.world == 0,
                f"batch_size {config.batch_size} does not split evenly over {self.world} processes; "
                "pick a batch size divisible by --nproc_per_node.",
            )
            require(
                config.batch_size % (self.world * config.accumulate) == 0,
                f"batch_size {config.batch_size} does not split into accumulate={config.accumulate} equal "
                f"micro-batches on each of {self.world} processes; pick a batch size divisible by "
                f"accumulate x --nproc_per_node = {config.accumulate * self.world}.",
            )
        self.config = config
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device)
        self.ddp: DistributedDataParallel | None = None
        self.eager_forward: torch.nn.Module = self._training_module()
        if self.world > 1:
            self.ddp = DistributedDataParallel(
                self.eager_forward, device_ids=[self.device] if self.device.type == "cuda" else None
            )
            self.eager_forward = self.ddp
        self.forward_model: torch.nn.Module = self.eager_forward
        self.compiled = resolve_compile(config.compile, self.device)
        if self.compiled:
            try:
                self.forward_model = torch.compile(self.eager_forward, mode=COMPILE_MODE)
            except Exception as error:  # e.g. no compiler support for this Python or platform
                self._compile_failed(error)
        self.num_classes = int(model.head.fc.out_features)
        require(
            self.world == 1 or self._mixup_cutmix() is None or (config.batch_size // self.world) % 2 == 0,
            f"MixUp/CutMix need an even batch per process; batch_size {config.batch_size} over {self.world} "
            "processes gives an odd share.",
        )
        self.seed = seed
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.progress = progress
        self.on_epoch = on_epoch if distributed.is_main() else None
        self.objective = objective or self._default_objective()
        self.on_step = on_step
        self.clock = clock or _NO_CLOCK
        self.amp_dtype = resolve_amp(config.amp, self.device)
        sample = self.model.example_input(1, self.device, shape=self.sample_shape)
        self.step_flops = training_flops_per_sample(self.model, sample)
        peak = peak_flops(self.device)
        self.peak_flops = peak * self.world if peak else None  # throughput is global, so is the peak
        world = {"world_size": self.world} if self.world > 1 else {}
        world["checkpoint_format"] = 4  # validation-named results; earlier checkpoints are refused, not misread
        self.fingerprint = run_id(
            {"train": self._checkpoint_recipe(), "model": model.config, "seed": seed, **world, **(identity or {})}
        )

    @property
    @abc.abstractmethod
    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch."""

    @property
    @abc.abstractmethod
    def global_batch(self) -> int:
        """Samples per optimiser step over all ranks."""

    @property
    @abc.abstractmethod
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one model input as the data gives it (e.g. ``C x H x W``), for counting FLOPs."""

    @abc.abstractmethod
    def _epoch_batches(self, epoch: int, start_step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's ``(input, label)`` batches of ``epoch`` from batch ``start_step`` on, on the device."""

    @abc.abstractmethod
    def evaluate(self, data: Any = None) -> list[float]:
        """Accuracy (or the task metric) at every depth 0..L, over all ranks.

        ``data`` None: the held-out set the trainer was given (validation); otherwise a set of the
        same kind (the suite's test split, evaluated once after training).
        """

    def _training_module(self) -> torch.nn.Module:
        """What the training forward calls (wrapped in DDP under ``torchrun``, compiled when asked):
        the model; a subclass may return a wrapper around it (e.g. features only, its loss reading
        the head itself). Its parameters must be the model's."""
        return self.model

    def _default_objective(self) -> Objective:
        """The loss of a batch when the caller gives no ``objective``: the criterion of the final output."""
        return default_objective

    def _loss_terms(self, y: Any) -> float:
        """How many terms the loss of a batch with targets ``y`` averages (samples here); micro-batches
        are weighted by their share of the batch's terms."""
        return float(_leading_tensor(y).shape[0])

    def _checkpoint_recipe(self) -> dict[str, Any]:
        """The recipe as the checkpoint's fingerprint holds it: ``compile`` resolved (auto is off on
        the CPU) and ``accumulate`` only when not 1, so checkpoints written without either option
        resume."""
        recipe = self.config.to_dict()
        recipe["compile"] = self.compiled
        if recipe["accumulate"] == 1:
            del recipe["accumulate"]
        return recipe

    def _compile_failed(self, error: BaseException) -> None:
        """``torch.compile`` raised ``error``: a user error when the recipe forces compilation, else
        a warning and eager training from here on."""
        what = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        if self.config.compile:
            raise UserError(
                f"torch.compile failed ({what}); train without it (compile=False) or fix the compiler setup."
            ) from error
        warnings.warn(f"torch.compile failed ({what}); training continues without it.", RuntimeWarning, stacklevel=3)
        self.forward_model = self.eager_forward
        self.compiled = False

    def _normalizer_on_device(self) -> Normalizer:
        """The subclass's ``normalizer`` with its statistics on the training device: copied once, not
        per batch (a per-batch host-to-device copy makes the host wait for the device)."""
        cached = getattr(self, "_device_normalizer", None)
        if cached is None or cached[0] is not self.normalizer:
            moved = Normalizer(self.normalizer.mean.to(self.device), self.normalizer.std.to(self.device))
            self._device_normalizer = cached = (self.normalizer, moved)
        return cached[1]

    def _reset_data_state(self) -> None:
        """Start the data's random streams afresh from the seed (before epoch 0)."""

    def _data_state(self, epoch_done: bool) -> dict[str, Any]:
        """What a checkpoint needs to draw the remaining batches (``epoch_done``: saved at an epoch's end)."""
        return {}

    def _load_data_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_data_state`."""

    def _mixup_cutmix(self) -> Mixup | None:
        """timm's MixUp / CutMix of the recipe's batches (None when the recipe mixes none)."""
        return mixup_for(self.config, self.num_classes)

    def _criterion(self, mixup: Mixup | None) -> Callable[..., torch.Tensor]:
        """The loss of a batch's output against its (possibly mixed) targets."""
        if mixup is not None:
            return SoftTargetCrossEntropy()
        return torch.nn.CrossEntropyLoss(label_smoothing=self.config.label_smoothing)

    def fit(self) -> TrainResult:
        """Train for ``config.epochs`` epochs (resuming from the checkpoint if present)."""
        cfg = self.config
        seed_everything(self.seed)
        optimizer = build_optimizer(self.model, cfg.lr, cfg.weight_decay, cfg.betas, cfg.eps)
        total = cfg.total_steps(self.steps_per_epoch)
        epochs = math.ceil(total / self.steps_per_epoch)
        scheduler = build_scheduler(
            optimizer, total, round(cfg.warmup_epochs * self.steps_per_epoch), cfg.min_lr, cfg.schedule
        )
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        mixup = self._mixup_cutmix()
        criterion = self._criterion(mixup)
        if self.world > 1:  # augmentation and mixing differ per rank
            rank_seed = self.seed * 1_000_003 + self.rank
            np.random.seed(rank_seed % 2**32)
            torch.manual_seed(rank_seed)  # dropout and drop-path draw from the global generator
        self._reset_data_state()
        result = TrainResult(val_probe_acc=[])
        position, partial = (0, 0), None

        state = load_checkpoint(self.checkpoint, self.fingerprint) if self.checkpoint else None
        if state is not None:
            self.model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            self._load_data_state(state["data"])
            set_rng_state(state["rng"][self.rank])
            result = TrainResult(**state["result"])
            position = (state["epoch"], state["step"])
            partial = state["partial"][self.rank] if state["partial"] else None

        with (
            progress.display(self.progress and distributed.is_main()),
            progress.task("epochs", total=epochs, completed=position[0]) as epoch_bar,
            progress.task("steps", total=self.steps_per_epoch, unit="steps") as step_bar,
        ):
            loop = _Loop(optimizer, scheduler, scaler, mixup, criterion, result, step_bar)
            for epoch in range(position[0], epochs):
                stop = min(self.steps_per_epoch, total - epoch * self.steps_per_epoch)
                step_bar.restart(total=stop, completed=position[1] if epoch == position[0] else 0)
                start_step = position[1] if epoch == position[0] else 0
                entry = self._train_epoch(epoch, start_step, stop, partial if start_step else None, loop)
                result.train_seconds += entry["seconds"]
                result.steps += stop
                result.throughput = throughput_stats(
                    result.steps * self.global_batch, result.train_seconds, self.step_flops, self.peak_flops
                )
                if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == epochs:
                    t0 = time.perf_counter()
                    entry["val_probe_acc"] = self.evaluate()
                    entry["val_acc"] = entry["val_probe_acc"][-1]
                    result.eval_seconds += time.perf_counter() - t0
                    result.val_probe_acc = entry["val_probe_acc"]
                    if entry["val_acc"] > result.best_val_acc or result.best_epoch == 0:
                        result.best_val_acc, result.best_epoch = entry["val_acc"], epoch + 1
                result.history.append(entry)
                if self.on_epoch is not None:
                    self.on_epoch(entry)
                epoch_bar.update(advance=1, description=epoch_summary(entry, epochs))
                if self.checkpoint:
                    self._save(loop, epoch + 1, 0, None)
        return result

    def _save(self, loop: _Loop, epoch: int, step: int, partial: dict[str, Any] | None) -> None:
        """Checkpoint at batch ``step`` of ``epoch`` (rank 0 writes it, with every rank's states)."""
        rngs = distributed.gather_objects(rng_state())
        partials = distributed.gather_objects(partial) if partial is not None else None
        data = self._data_state(epoch_done=step == 0)
        if distributed.is_main():
            save_checkpoint(
                self.checkpoint,
                {
                    "fingerprint": self.fingerprint,
                    "epoch": epoch,
                    "step": step,
                    "partial": partials,
                    "model": self.model.state_dict(),
                    "optimizer": loop.optimizer.state_dict(),
                    "scheduler": loop.scheduler.state_dict(),
                    "scaler": loop.scaler.state_dict(),
                    "data": data,
                    "rng": rngs,
                    "result": dataclasses.asdict(loop.result),
                },
            )
        distributed.barrier()

    def _train_epoch(
        self, epoch: int, start_step: int, stop: int, partial: dict[str, Any] | None, loop: _Loop
    ) -> dict[str, Any]:
        """Train batches ``start_step``..``stop - 1`` of ``epoch`` (continuing ``partial`` sums); its history entry."""
        cfg = self.config
        self.model.train()
        start = time.perf_counter()
        partial = partial or {}
        loss_sum = torch.tensor(partial.get("loss_sum", 0.0), device=self.device)
        norm_sum = None
        if cfg.grad_norms:
            norm_sum = torch.tensor(partial.get("norm_sum") or [0.0] * self.model.depth, device=self.device)
        seconds_before = partial.get("seconds", 0.0)
        groups = ParameterGroups.of(self.model)
        params = groups.all
        clock = self.clock
        clock.start(self.device)
        for step, (x, y) in enumerate(self._epoch_batches(epoch, start_step), start=start_step):
            if loop.mixup is not None:  # the whole batch, before it is cut into micro-batches
                x, y = loop.mixup(x, y)
            clock.mark("data + augmentation")
            loop.optimizer.zero_grad(set_to_none=True)
            loss = self._accumulate_gradients(x, y, loop)
            loop.scaler.unscale_(loop.optimizer)
            clock.mark("forward + backward")
            total = None
            if norm_sum is not None:
                blocks, total = gradient_norms(groups)
                norm_sum += blocks
                clock.mark("gradient norms (logging)")
            if cfg.clip_grad:
                if total is None:
                    clip_grad_norm_(params, cfg.clip_grad)
                else:
                    clip_grads_with_norm_(params, cfg.clip_grad, total)
            loop.scaler.step(loop.optimizer)
            loop.scaler.update()
            global_step = epoch * self.steps_per_epoch + step + 1
            loop.scheduler.step_update(global_step)  # plain floats: no device access
            clock.mark("optimizer (clip, AdamW, schedule)")
            if self.on_step is not None:
                self.on_step(global_step)
            loss_sum += loss
            loop.steps.advance()
            if self.checkpoint and cfg.checkpoint_every and global_step % cfg.checkpoint_every == 0 and step + 1 < stop:
                self._save(
                    loop,
                    epoch,
                    step + 1,
                    {
                        "loss_sum": loss_sum.item(),
                        "seconds": seconds_before + time.perf_counter() - start,
                        "norm_sum": norm_sum.tolist() if norm_sum is not None else None,
                    },
                )
            clock.mark("bookkeeping (loss, progress, checkpoints)")
            if step + 1 >= stop:  # a step budget ends inside the epoch
                break
        seconds = seconds_before + time.perf_counter() - start
        entry = {
            "epoch": epoch + 1,
            "lr": loop.optimizer.param_groups[0]["lr"],
            "train_loss": (distributed.all_reduce_sum(loss_sum) / (stop * self.world)).item(),
            "seconds": seconds,
        }
        entry.update(throughput_stats(stop * self.global_batch, seconds, self.step_flops, self.peak_flops))
        if norm_sum is not None:
            entry["grad_norms"] = (norm_sum / stop).tolist()
        return entry

    def _accumulate_gradients(self, x: torch.Tensor, y: Any, loop: _Loop) -> torch.Tensor:
        """Forward and backward of one optimiser step's batch (gradients summed into ``.grad``); its
        loss, detached, on the device. A compilation failure falls back to eager (or is a user
        error when compilation was forced) and the step is redone from zeroed gradients."""
        try:
            return self._forward_backward(x, y, loop)
        except Exception as error:
            if not self.compiled or not is_compile_error(error):
                raise
            self._compile_failed(error)
        loop.optimizer.zero_grad(set_to_none=True)
        return self._forward_backward(x, y, loop)

    def _forward_backward(self, x: torch.Tensor, y: Any, loop: _Loop) -> torch.Tensor:
        """Forward/backward of ``x`` in ``config.accumulate`` micro-batches, each loss weighted by its
        share of the batch's loss terms; under DDP only the last micro-batch all-reduces."""
        parts = self._micro_batches(x, y)
        total: torch.Tensor | None = None
        for i, (part_x, part_y, weight) in enumerate(parts):
            sync = self.ddp is None or i == len(parts) - 1
            with nullcontext() if sync else self.ddp.no_sync():
                with autocast(self.device, self.amp_dtype):
                    loss = self.objective(self.forward_model, part_x, part_y, loop.criterion)
                if len(parts) > 1:
                    loss = loss * weight
                loop.scaler.scale(loss).backward()
            total = loss.detach() if total is None else total + loss.detach()
        assert total is not None
        return total

    def _micro_batches(self, x: torch.Tensor, y: Any) -> list[tuple[torch.Tensor, Any, float]]:
        """``(x, y)`` cut into ``config.accumulate`` micro-batches (fewer for a batch of fewer samples),
        each with its loss weight: its share of the batch's loss terms (:meth:`_loss_terms`, host values)."""
        count = min(self.config.accumulate, x.shape[0])
        if count == 1:
            return [(x, y, 1.0)]
        xs, ys = x.tensor_split(count), _split_batch(y, count)
        terms = [self._loss_terms(part) for part in ys]
        total = sum(terms)
        weights = [t / total for t in terms] if total > 0 else [1.0 / count] * count
        return list(zip(xs, ys, weights))


class PhaseClock:
    """Seconds spent in each phase of the training steps (summed over steps), for benchmarks.

    The trainer calls :meth:`start` before its step loop and :meth:`mark` at the end of each phase;
    every call waits for the device, so the phases are measured apart (and the loop runs slower
    on a GPU than without a clock).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._device: torch.device | None = None
        self._last = 0.0

    def _now(self) -> float:
        if self._device is not None and self._device.type == "cuda":
            torch.cuda.synchronize(self._device)
        return time.perf_counter()

    def start(self, device: torch.device) -> None:
        """Start timing on ``device`` (the next :meth:`mark` measures from here)."""
        self._device = device
        self._last = self._now()

    def mark(self, phase: str) -> None:
        """Add the time since the last mark (or :meth:`start`) to ``phase``."""
        now = self._now()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now


class _NoClock(PhaseClock):
    """The clock of a normal run: measures nothing, waits for nothing."""

    def start(self, device: torch.device) -> None:
        pass

    def mark(self, phase: str) -> None:
        pass


_NO_CLOCK = _NoClock()


def epoch_summary(entry: dict[str, Any], epochs: int) -> str:
    """``epoch 3/10: loss 0.532, val acc 0.912``: the epochs bar's description after an epoch."""
    text = f"epoch {entry['epoch']}/{epochs}: loss {entry['train_loss']:.3f}"
    return text + (f", val acc {entry['val_acc']:.3f}" if "val_acc" in entry else "")


def _split_batch(y: Any, count: int) -> list[Any]:
    """Targets ``y`` (a tensor, or a tuple / named tuple of tensors) cut into ``count`` parts along dim 0."""
    if isinstance(y, torch.Tensor):
        return list(y.tensor_split(count))
    fields = [_split_batch(value, count) for value in y]
    make = type(y)._make if hasattr(type(y), "_make") else type(y)
    return [make(parts) for parts in zip(*fields)]


def _leading_tensor(y: Any) -> torch.Tensor:
    """The first tensor of targets ``y`` (a tensor, or a tuple of them)."""
    return y if isinstance(y, torch.Tensor) else _leading_tensor(y[0])


@dataclass
class _Loop:
    """The objects one ``fit`` threads through its epochs."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    mixup: Mixup | None
    criterion: Callable[..., torch.Tensor]
    result: TrainResult
    steps: progress.Bar


class Trainer(BaseTrainer):
    """Trains one backbone on in-memory image tensors.

    Batches are drawn by index on the training device and augmented there (crop, flip,
    AutoAugment from the config). Under ``torchrun`` every rank draws the same permutation and
    trains on its slice of each global batch.

    Args:
        model, config: as :class:`BaseTrainer`.
        train_images, train_labels: uint8 ``N x C x H x W`` images and int64 labels.
        eval_images, eval_labels: the held-out set evaluated during training (the validation split).
        **options: :class:`BaseTrainer`'s keyword arguments.
    """

    def __init__(
        self,
        model: Backbone,
        config: TrainConfig,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        eval_images: torch.Tensor,
        eval_labels: torch.Tensor,
        **options: Any,
    ) -> None:
        device = options.get("device") or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.normalizer = Normalizer.from_images(train_images)
        self.train_images = train_images.to(device)
        self.train_labels = train_labels.to(device)
        self.eval_images = eval_images.to(device)
        self.eval_labels = eval_labels.to(device)
        self.augment = BatchAugment(config.crop_padding, config.hflip, config.autoaugment)
        self.generator = torch.Generator()
        self.augment_generator = self.generator
        super().__init__(model, config, **options)

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.train_images.shape[0] // self.config.batch_size)

    @property
    def global_batch(self) -> int:
        """Images per optimiser step over all ranks (the batch size, or the even part of a smaller set)."""
        n = self.train_images.shape[0]
        return min(self.config.batch_size, n - n % 2)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train_images.shape[1:])

    def _reset_data_state(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)
        self.augment_generator = self.generator  # one process: one stream for shuffling and augmentation
        if self.world > 1:  # shuffling stays identical on every rank; augmentation differs per rank
            self.augment_generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.rank)
        self._epoch_start = self.generator.get_state()
        self._pending_augment_state: torch.Tensor | None = None

    def _data_state(self, epoch_done: bool) -> dict[str, Any]:
        return {
            "epoch_done": epoch_done,
            "epoch_generator": self.generator.get_state() if epoch_done else self._epoch_start,
            "augment_generators": distributed.gather_objects(self.augment_generator.get_state()),
        }

    def _load_data_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["epoch_generator"])
        augment_state = state["augment_generators"][self.rank]
        if state["epoch_done"]:
            self.augment_generator.set_state(augment_state)
        else:  # mid-epoch: applied once the epoch's permutation is redrawn (in one process both share a stream)
            self._pending_augment_state = augment_state

    def _epoch_batches(self, epoch: int, start_step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """A fresh permutation per epoch (identical on every rank), cut into global batches (the last
        partial batch dropped); each rank takes its contiguous slice of every global batch. The
        permutation goes to the device once per epoch."""
        self._epoch_start = self.generator.get_state()
        size = self.global_batch
        share = size // self.world
        order = torch.randperm(self.train_images.shape[0], generator=self.generator).to(self.device)
        normalizer = self._normalizer_on_device()
        if self._pending_augment_state is not None:
            self.augment_generator.set_state(self._pending_augment_state)
            self._pending_augment_state = None
        for step in range(start_step, self.steps_per_epoch):
            start = step * size + self.rank * share
            index = order[start : start + share]
            x = normalizer(self.augment(self.train_images[index], self.augment_generator))
            yield x, self.train_labels[index]

    def evaluate(self, data: tuple[torch.Tensor, torch.Tensor] | None = None) -> list[float]:
        """Accuracy at every depth 0..L of the held-out set, or of ``data`` = ``(uint8 images, labels)``.

        Each rank evaluates its share; the counts are summed.
        """
        images, labels = data if data is not None else (self.eval_images, self.eval_labels)
        share = slice(self.rank, None, self.world)
        correct = probe_counts(
            self.model,
            images[share].to(self.device),
            labels[share].to(self.device),
            self._normalizer_on_device(),
            self.config.eval_batch_size,
            self.amp_dtype,
        )
        return (distributed.all_reduce_sum(correct).double() / max(images.shape[0], 1)).tolist()
