"""The one supervised training loop: AdamW, warm-up + cosine, label smoothing, CutMix,
AutoAugment, unscaled gradient clipping, autocast, checkpoint/resume, per-depth probing,
per-layer gradient norms and data-parallel training under ``torchrun``.

Data are in-memory uint8 tensors (see ``acn_bench.data``); batches are drawn by index on the
training device and augmented there, so no Python data-loading workers are involved. Under
``torchrun`` (see :mod:`acn_bench.training.distributed`) every rank draws the same global batch
and trains on its slice of it, with gradients averaged by ``DistributedDataParallel``.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from timm.data import Mixup
from torch.nn.parallel import DistributedDataParallel
from timm.loss import SoftTargetCrossEntropy

from acn_bench.backbones.base import Backbone
from acn_bench.data.augment import BatchAugment, Normalizer
from acn_bench.errors import require, unknown_choice
from acn_bench.results.record import run_id
from acn_bench.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from acn_bench.training import distributed
from acn_bench.training.evaluate import autocast, probe_counts
from acn_bench.training.throughput import peak_flops, throughput_stats, training_flops_per_sample
from acn_bench.training.schedule import build_optimizer, build_scheduler

AMP_CHOICES = ("auto", "bf16", "fp16", "none")
Objective = Callable[[Backbone, torch.Tensor, torch.Tensor, Callable[..., torch.Tensor]], torch.Tensor]


def default_objective(model: Backbone, x: torch.Tensor, y: torch.Tensor, criterion: Callable[..., torch.Tensor]) -> torch.Tensor:
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
    autoaugment: Optional[str] = None
    crop_padding: int = 0
    hflip: bool = False
    clip_grad: Optional[float] = 1.0
    amp: str = "auto"
    eval_batch_size: int = 512
    eval_every: int = 1
    grad_norms: bool = False

    def validate(self) -> None:
        """Reject values no run can use, naming the value."""
        require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}.")
        require(self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}.")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}.")
        require(0 <= self.cutmix_prob <= 1, f"cutmix_prob must be in [0, 1], got {self.cutmix_prob}.")
        require(self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}.")
        if self.amp not in AMP_CHOICES:
            raise unknown_choice("amp mode", self.amp, AMP_CHOICES)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        probe_acc: final test accuracy at every depth 0..L (``probe_acc[-1]`` is the model's).
        history: one entry per epoch (``epoch``, ``lr``, ``train_loss``, ``seconds`` and, on
            evaluated epochs, ``test_acc`` and ``probe_acc``; ``grad_norms`` when logged).
        best_epoch: the evaluated epoch with the highest test accuracy (1-based).
        train_seconds: wall-clock seconds spent in training steps (excluding evaluation).
        steps: optimiser steps taken.
        throughput: over all epochs, ``samples_per_s`` (global), ``model_tflops`` achieved and, on a
            device with a known peak, ``mfu`` (see :mod:`acn_bench.training.throughput`).
    """

    probe_acc: list[float]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_acc: float = 0.0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    steps: int = 0
    throughput: dict[str, float] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.probe_acc[-1]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (timm's CutMix draws from it) and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_amp(amp: str, device: torch.device) -> Optional[torch.dtype]:
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


class Trainer:
    """Trains one backbone on in-memory image tensors.

    Args:
        model: the backbone to train (moved to ``device``).
        config: the recipe.
        train_images, train_labels: uint8 ``N x C x H x W`` images and int64 labels.
        test_images, test_labels: the evaluation set.
        seed: seeds initialisation-independent randomness (shuffling, augmentation, CutMix).
        device: where to train; defaults to CUDA when available.
        checkpoint: file to save after every epoch and to resume from when it exists.
        progress: show rich progress bars.
        identity: extra configuration that must match for a checkpoint to be resumed.
        on_epoch: called with each epoch's history entry (e.g. to log progress to a file).
        objective: ``objective(model, x, y, criterion) -> loss`` replacing ``criterion(model(x), y)``
            (e.g. a loss at several exits); extra modules it trains must be submodules of ``model``.
            Single-process only: under ``torchrun`` the default objective runs through DDP.
        on_step: called with the global step number after every optimiser step (e.g. gradual pruning).
    """

    def __init__(
        self,
        model: Backbone,
        config: TrainConfig,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        test_images: torch.Tensor,
        test_labels: torch.Tensor,
        *,
        seed: int = 0,
        device: Optional[torch.device] = None,
        checkpoint: Optional[Path] = None,
        progress: bool = False,
        identity: Optional[dict[str, Any]] = None,
        on_epoch: Optional[Callable[[dict[str, Any]], None]] = None,
        objective: Optional[Objective] = None,
        on_step: Optional[Callable[[int], None]] = None,
    ) -> None:
        config.validate()
        self.world, self.rank = distributed.world_size(), distributed.rank()
        if self.world > 1:
            require(objective is None, "this suite trains with its own loss (e.g. exit losses), which runs in one "
                                       "process only; start it without torchrun.")
            require(config.batch_size % self.world == 0,
                    f"batch_size {config.batch_size} does not split evenly over {self.world} processes; "
                    "pick a batch size divisible by --nproc_per_node.")
        self.config = config
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device)
        self.forward_model: torch.nn.Module = self.model
        if self.world > 1:
            self.forward_model = DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None)
        self.seed = seed
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.progress = progress
        self.on_epoch = on_epoch if distributed.is_main() else None
        self.objective = objective or default_objective
        self.on_step = on_step
        self.normalizer = Normalizer.from_images(train_images)
        self.train_images = train_images.to(self.device)
        self.train_labels = train_labels.to(self.device)
        self.test_images = test_images.to(self.device)
        self.test_labels = test_labels.to(self.device)
        self.num_classes = int(model.head.fc.out_features)
        self.amp_dtype = resolve_amp(config.amp, self.device)
        self.augment = BatchAugment(config.crop_padding, config.hflip, config.autoaugment)
        self.step_flops = training_flops_per_sample(self.model, self.normalizer(self.train_images[:1]))
        peak = peak_flops(self.device)
        self.peak_flops = peak * self.world if peak else None  # throughput is global, so is the peak
        world = {"world_size": self.world} if self.world > 1 else {}
        world["checkpoint_format"] = 2  # per-rank random states; earlier checkpoints are refused, not misread
        self.fingerprint = run_id({"train": config.to_dict(), "model": model.config, "seed": seed, **world, **(identity or {})})

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.train_images.shape[0] // self.config.batch_size)

    @property
    def global_batch(self) -> int:
        """Images per optimiser step over all ranks (the batch size, or the even part of a smaller set)."""
        n = self.train_images.shape[0]
        return min(self.config.batch_size, n - n % 2)

    def _batches(self, generator: torch.Generator):
        """Index tensors of this rank's share of the epoch's batches.

        A fresh permutation per epoch (identical on every rank), cut into global batches (the last
        partial batch dropped); each rank takes its contiguous slice of every global batch.
        """
        size = self.global_batch
        share = size // self.world
        order = torch.randperm(self.train_images.shape[0], generator=generator)
        for step in range(self.steps_per_epoch):
            start = step * size + self.rank * share
            yield order[start : start + share].to(self.device)

    def fit(self) -> TrainResult:
        """Train for ``config.epochs`` epochs (resuming from the checkpoint if present)."""
        cfg = self.config
        seed_everything(self.seed)
        optimizer = build_optimizer(self.model, cfg.lr, cfg.weight_decay, cfg.betas)
        total = cfg.epochs * self.steps_per_epoch
        scheduler = build_scheduler(optimizer, total, round(cfg.warmup_epochs * self.steps_per_epoch), cfg.min_lr)
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        mixup = None
        if cfg.cutmix_prob > 0:
            mixup = Mixup(mixup_alpha=0.0, cutmix_alpha=cfg.cutmix_alpha, prob=cfg.cutmix_prob,
                          label_smoothing=cfg.label_smoothing, num_classes=self.num_classes)
        criterion = SoftTargetCrossEntropy() if mixup else torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        generator = torch.Generator().manual_seed(self.seed)
        augment_generator = generator
        if self.world > 1:  # shuffling stays identical on every rank; augmentation and CutMix differ per rank
            rank_seed = self.seed * 1_000_003 + self.rank
            augment_generator = torch.Generator().manual_seed(rank_seed)
            np.random.seed(rank_seed % 2**32)
            torch.manual_seed(rank_seed)  # AutoAugment draws from the global generator
        result = TrainResult(probe_acc=[])
        start_epoch = 0

        state = load_checkpoint(self.checkpoint, self.fingerprint) if self.checkpoint else None
        if state is not None:
            self.model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            generator.set_state(state["generator"])
            augment_generator.set_state(state["augment_generators"][self.rank])
            set_rng_state(state["rng"][self.rank])
            result = TrainResult(**state["result"])
            start_epoch = state["epoch"]

        with self._progress_bars() as bars:
            epoch_task = bars.add_task("epochs", total=cfg.epochs, completed=start_epoch)
            step_task = bars.add_task("steps", total=self.steps_per_epoch)
            for epoch in range(start_epoch, cfg.epochs):
                bars.reset(step_task, total=self.steps_per_epoch)
                entry = self._train_epoch(epoch, optimizer, scheduler, scaler, mixup, criterion, generator,
                                          augment_generator, bars, step_task)
                result.train_seconds += entry["seconds"]
                result.steps += self.steps_per_epoch
                result.throughput = throughput_stats(result.steps * self.global_batch, result.train_seconds,
                                                     self.step_flops, self.peak_flops)
                if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
                    t0 = time.perf_counter()
                    entry["probe_acc"] = self.evaluate()
                    entry["test_acc"] = entry["probe_acc"][-1]
                    result.eval_seconds += time.perf_counter() - t0
                    result.probe_acc = entry["probe_acc"]
                    if entry["test_acc"] > result.best_acc or result.best_epoch == 0:
                        result.best_acc, result.best_epoch = entry["test_acc"], epoch + 1
                result.history.append(entry)
                if self.on_epoch is not None:
                    self.on_epoch(entry)
                bars.update(epoch_task, advance=1, description=f"epoch {epoch + 1} acc {entry.get('test_acc', float('nan')):.3f}")
                if self.checkpoint:
                    self._save(epoch + 1, optimizer, scheduler, scaler, generator, augment_generator, result)
        return result

    def _save(self, epoch, optimizer, scheduler, scaler, generator, augment_generator, result) -> None:
        """Checkpoint after ``epoch`` (rank 0 writes it, with every rank's random states)."""
        rngs = distributed.gather_objects(rng_state())
        augment_states = distributed.gather_objects(augment_generator.get_state())
        if distributed.is_main():
            save_checkpoint(self.checkpoint, {
                "fingerprint": self.fingerprint, "epoch": epoch, "model": self.model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "generator": generator.get_state(),
                "augment_generators": augment_states, "rng": rngs, "result": dataclasses.asdict(result),
            })
        distributed.barrier()

    def _train_epoch(self, epoch, optimizer, scheduler, scaler, mixup, criterion, generator, augment_generator,
                     bars, step_task) -> dict[str, Any]:
        cfg = self.config
        self.model.train()
        start = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        norm_sum = torch.zeros(self.model.depth, device=self.device) if cfg.grad_norms else None
        for step, index in enumerate(self._batches(generator)):
            x = self.normalizer(self.augment(self.train_images[index], augment_generator))
            y = self.train_labels[index]
            if mixup is not None:
                x, y = mixup(x, y)
            with autocast(self.device, self.amp_dtype):
                loss = self.objective(self.forward_model, x, y, criterion)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            if norm_sum is not None:
                norm_sum += block_grad_norms(self.model)
            if cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step_update(epoch * self.steps_per_epoch + step + 1)
            if self.on_step is not None:
                self.on_step(epoch * self.steps_per_epoch + step + 1)
            loss_sum += loss.detach()
            bars.advance(step_task)
        entry = {
            "epoch": epoch + 1,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": (distributed.all_reduce_sum(loss_sum) / (self.steps_per_epoch * self.world)).item(),
            "seconds": time.perf_counter() - start,
        }
        entry.update(throughput_stats(self.steps_per_epoch * self.global_batch, entry["seconds"],
                                      self.step_flops, self.peak_flops))
        if norm_sum is not None:
            entry["grad_norms"] = (norm_sum / self.steps_per_epoch).tolist()
        return entry

    def evaluate(self) -> list[float]:
        """Test accuracy at every depth 0..L (each rank tests its share; the counts are summed)."""
        share = slice(self.rank, None, self.world)
        correct = probe_counts(self.model, self.test_images[share], self.test_labels[share], self.normalizer,
                               self.config.eval_batch_size, self.amp_dtype)
        return (distributed.all_reduce_sum(correct).double() / max(self.test_images.shape[0], 1)).tolist()

    def _progress_bars(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            transient=True, disable=not self.progress or not distributed.is_main(),
        )
