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
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
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
from acn_bench.errors import UserError, require
from acn_bench.results.record import run_id
from acn_bench.training import distributed
from acn_bench.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from acn_bench.training.config import (
    TrainConfig,
    TrainResult,
    is_compile_error,
    mixup_for,
    resolve_amp,
    resolve_compile,
    seed_everything,
)
from acn_bench.training.evaluate import autocast, probe_counts
from acn_bench.training.grad_norms import ParameterGroups, gradient_norms
from acn_bench.training.phase_clock import NO_CLOCK, PhaseClock
from acn_bench.training.schedule import build_optimizer, build_scheduler
from acn_bench.training.throughput import peak_flops, throughput_stats, training_flops_per_sample

# torch.compile's mode. The default mode (Inductor kernels, no CUDA graphs, no GEMM autotuning) is
# the safe choice here: "reduce-overhead" (CUDA graphs) needs static shapes and memory addresses
# across steps, which DDP's buckets, gradient accumulation and variable MLM batches break, and
# "max-autotune(-no-cudagraphs)" spends minutes benchmarking GEMMs for every shape of every fresh
# twin, more than a short benchmark run gains back.
COMPILE_MODE: str | None = None
Objective = Callable[[Backbone, torch.Tensor, torch.Tensor, Callable[..., torch.Tensor]], torch.Tensor]


def default_objective(
    model: Backbone, x: torch.Tensor, y: torch.Tensor, criterion: Callable[..., torch.Tensor]
) -> torch.Tensor:
    """The ordinary loss of the final output."""
    return criterion(model(x), y)


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
        self.clock = clock or NO_CLOCK
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
