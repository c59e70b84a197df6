"""The one supervised training loop: AdamW, warm-up + cosine, label smoothing, CutMix / MixUp,
AutoAugment, unscaled gradient clipping, autocast, checkpoint/resume (at epoch ends and every N
steps, with the data position), per-depth probing, per-layer gradient norms and data-parallel
training under ``torchrun``.

:class:`BaseTrainer` is the loop; :class:`Trainer` feeds it small sets kept as in-memory uint8
tensors, drawn by index on the training device and augmented there (no Python data-loading
workers); :class:`acn_bench.training.streaming.StreamingTrainer` feeds it class folders too large
for memory (ImageNet) through worker processes. Under ``torchrun`` (see
:mod:`acn_bench.training.distributed`) every rank trains on its slice of each global batch, with
gradients averaged by ``DistributedDataParallel``.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from torch.nn.parallel import DistributedDataParallel

from acn_bench.backbones.base import Backbone
from acn_bench.data.augment import BatchAugment, Normalizer
from acn_bench.errors import require, unknown_choice
from acn_bench.results.record import run_id
from acn_bench.training import distributed
from acn_bench.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from acn_bench.training.evaluate import autocast, probe_counts
from acn_bench.training.schedule import SCHEDULES, build_optimizer, build_scheduler
from acn_bench.training.throughput import peak_flops, throughput_stats, training_flops_per_sample

AMP_CHOICES = ("auto", "bf16", "fp16", "none")
Objective = Callable[[Backbone, torch.Tensor, torch.Tensor, Callable[..., torch.Tensor]], torch.Tensor]


def default_objective(
    model: Backbone, x: torch.Tensor, y: torch.Tensor, criterion: Callable[..., torch.Tensor]
) -> torch.Tensor:
    """The ordinary loss of the final output."""
    return criterion(model(x), y)


@dataclass
class TrainConfig:
    """A supervised training recipe (defaults: the paper's Mixer recipe, SPEC.md §3, minus epochs).

    Attributes:
        epochs: passes over the training set (equal across twins for a fair comparison).
        batch_size: images per optimiser step.
        lr, weight_decay, betas: AdamW settings.
        warmup_epochs: linear warm-up length before the cosine decay (may be fractional).
        min_lr: learning rate at the end of the cosine.
        label_smoothing: cross-entropy label smoothing.
        cutmix_prob: probability of CutMix per batch (paper 0.5; 0 disables), with ``cutmix_alpha``.
        autoaugment: ``None``, ``"cifar10"`` or ``"imagenet"`` AutoAugment policy.
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
        compile: run the forward/backward through ``torch.compile``.
        eps: AdamW's epsilon (BERT pre-training 1e-9).
        schedule: ``cosine`` or ``linear`` decay after the warm-up.
        steps: train exactly this many optimiser steps (the last epoch cut short; ``epochs`` is then
            ignored): equal budgets across training sets of different sizes.
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
    compile: bool = False
    eps: float = 1e-8
    schedule: str = "cosine"
    steps: int | None = None

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
        if self.schedule not in SCHEDULES:
            raise unknown_choice("schedule", self.schedule, SCHEDULES)
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


def block_grad_norms(model: Backbone) -> torch.Tensor:
    """L2 norm of the gradient of every block's parameters (a length-L tensor, no host sync)."""
    norms = []
    for block in model.blocks:
        grads = [p.grad.detach().float().norm() for p in block.parameters() if p.grad is not None]
        norms.append(torch.stack(grads).norm() if grads else torch.zeros((), device=next(model.parameters()).device))
    return torch.stack(norms)


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
        on_step: called with the global step number after every optimiser step (e.g. a schedule to apply).
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
        self.config = config
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device)
        self.forward_model: torch.nn.Module = self.model
        if self.world > 1:
            self.forward_model = DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None
            )
        if config.compile:
            self.forward_model = torch.compile(self.forward_model)
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
        self.objective = objective or default_objective
        self.on_step = on_step
        self.amp_dtype = resolve_amp(config.amp, self.device)
        sample = self.model.example_input(1, self.device, shape=self.sample_shape)
        self.step_flops = training_flops_per_sample(self.model, sample)
        peak = peak_flops(self.device)
        self.peak_flops = peak * self.world if peak else None  # throughput is global, so is the peak
        world = {"world_size": self.world} if self.world > 1 else {}
        world["checkpoint_format"] = 4  # validation-named results; earlier checkpoints are refused, not misread
        self.fingerprint = run_id(
            {"train": config.to_dict(), "model": model.config, "seed": seed, **world, **(identity or {})}
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

    def _reset_data_state(self) -> None:
        """Start the data's random streams afresh from the seed (before epoch 0)."""

    def _data_state(self, epoch_done: bool) -> dict[str, Any]:
        """What a checkpoint needs to draw the remaining batches (``epoch_done``: saved at an epoch's end)."""
        return {}

    def _load_data_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_data_state`."""

    def _mixup_cutmix(self) -> Mixup | None:
        """timm's MixUp / CutMix of the recipe's batches (None when the recipe mixes none)."""
        cfg = self.config
        cutmix = cfg.cutmix_alpha if cfg.cutmix_prob > 0 else 0.0
        if cutmix == 0 and cfg.mixup_alpha == 0:
            return None
        return Mixup(
            mixup_alpha=cfg.mixup_alpha,
            cutmix_alpha=cutmix,
            prob=cfg.cutmix_prob if cutmix else 1.0,
            label_smoothing=cfg.label_smoothing,
            num_classes=self.num_classes,
        )

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
            torch.manual_seed(rank_seed)  # AutoAugment draws from the global generator
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

        with self._progress_bars() as bars:
            epoch_task = bars.add_task("epochs", total=epochs, completed=position[0])
            step_task = bars.add_task("steps", total=self.steps_per_epoch)
            loop = _Loop(optimizer, scheduler, scaler, mixup, criterion, result, bars, step_task)
            for epoch in range(position[0], epochs):
                stop = min(self.steps_per_epoch, total - epoch * self.steps_per_epoch)
                bars.reset(step_task, total=stop, completed=position[1] if epoch == position[0] else 0)
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
                bars.update(
                    epoch_task,
                    advance=1,
                    description=f"epoch {epoch + 1} val acc {entry.get('val_acc', float('nan')):.3f}",
                )
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
        for step, (x, y) in enumerate(self._epoch_batches(epoch, start_step), start=start_step):
            if loop.mixup is not None:
                x, y = loop.mixup(x, y)
            with autocast(self.device, self.amp_dtype):
                loss = self.objective(self.forward_model, x, y, loop.criterion)
            loop.optimizer.zero_grad(set_to_none=True)
            loop.scaler.scale(loss).backward()
            loop.scaler.unscale_(loop.optimizer)
            if norm_sum is not None:
                norm_sum += block_grad_norms(self.model)
            if cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
            loop.scaler.step(loop.optimizer)
            loop.scaler.update()
            global_step = epoch * self.steps_per_epoch + step + 1
            loop.scheduler.step_update(global_step)
            if self.on_step is not None:
                self.on_step(global_step)
            loss_sum += loss.detach()
            loop.bars.advance(loop.step_task)
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

    def _progress_bars(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
            disable=not self.progress or not distributed.is_main(),
        )


@dataclass
class _Loop:
    """The objects one ``fit`` threads through its epochs."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    mixup: Mixup | None
    criterion: Callable[..., torch.Tensor]
    result: TrainResult
    bars: Progress
    step_task: Any


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
        self.augment_generator = self.generator  # one process: one stream, as before data parallelism
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
        partial batch dropped); each rank takes its contiguous slice of every global batch."""
        self._epoch_start = self.generator.get_state()
        size = self.global_batch
        share = size // self.world
        order = torch.randperm(self.train_images.shape[0], generator=self.generator)
        if self._pending_augment_state is not None:
            self.augment_generator.set_state(self._pending_augment_state)
            self._pending_augment_state = None
        for step in range(start_step, self.steps_per_epoch):
            start = step * size + self.rank * share
            index = order[start : start + share].to(self.device)
            x = self.normalizer(self.augment(self.train_images[index], self.augment_generator))
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
            self.normalizer,
            self.config.eval_batch_size,
            self.amp_dtype,
        )
        return (distributed.all_reduce_sum(correct).double() / max(images.shape[0], 1)).tolist()
