"""Training BERT-style backbones through the one training loop: masked-language-model pre-training
and GLUE fine-tuning (classification or regression), evaluated at every depth.

Token-id sets stay in memory as int64 tensors; each epoch's order is drawn from ``(seed, epoch)``
and each batch's MLM masks from ``(seed, epoch, step, rank)``, so checkpoints resume the exact
batch stream from the epoch and step alone.

MLM pre-training computes vocabulary logits only at the masked tokens (about 15%): the training
forward returns the final token representations, and the loss gathers the masked ones before the
MLM head runs (:meth:`~acn_bench.backbones.text.MaskedLMHead.masked_logits`), so the decoder (the
largest matrix product of pre-training) and its logits shrink about sevenfold. The masks are drawn
and applied on the host, where the token ids are read, so the number of masked tokens of a batch
is known without asking the device; the batch then goes to the device without blocking.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple

import numpy as np
import torch
from sklearn.metrics import matthews_corrcoef

from acn_bench.backbones.text import MaskedLMHead, TextBackbone
from acn_bench.data.text import TextSet, mask_tokens
from acn_bench.errors import require, unknown_choice
from acn_bench.training import distributed
from acn_bench.training.config import TrainConfig
from acn_bench.training.evaluate import autocast, probe_logits
from acn_bench.training.trainer import BaseTrainer

MODES = ("mlm", "classify", "regress")
METRICS = ("accuracy", "mcc", "pearson")


def step_seed(seed: int, epoch: int, step: int, rank: int = 0) -> int:
    """The seed of one batch's masks."""
    return int(np.random.SeedSequence([seed, epoch, step, rank]).generate_state(1)[0])


def task_metric(metric: str, predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """``accuracy`` (class ids), ``mcc`` (Matthews correlation, CoLA) or ``pearson`` (scores, STS-B)."""
    if metric == "accuracy":
        return float((predictions == targets).double().mean()) if len(targets) else 0.0
    if metric == "mcc":
        return float(matthews_corrcoef(targets.numpy(), predictions.numpy()))
    if metric == "pearson":
        p, t = predictions.double().numpy(), targets.double().numpy()
        return float(np.corrcoef(p, t)[0, 1]) if p.std() > 0 and t.std() > 0 else 0.0
    raise unknown_choice("metric", metric, METRICS)


class MaskedTargets(NamedTuple):
    """The targets of an MLM batch: ``labels`` (``B x T`` token ids, -100 where no prediction is
    asked; on the device) and ``counts`` (masked tokens per sequence, ``B``; on the host, so the
    gather size and the micro-batch weights are known without reading the device)."""

    labels: torch.Tensor
    counts: torch.Tensor


class MaskedLMLoss(torch.nn.Module):
    """Cross-entropy over the vocabulary at the masked positions: logits ``B x T x V`` with labels -100
    at the positions to skip, or logits ``N x V`` already gathered at the masked positions."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100
        )


def masked_positions(labels: torch.Tensor, count: int) -> torch.Tensor:
    """Flat indices of the ``count`` masked tokens (``labels != -100``) in row-major order, the order
    ``labels[labels != -100]`` gives, found without the host reading the device (a stable sort puts
    the masked positions first; ``count`` is known on the host)."""
    unmasked = (labels.reshape(-1) == -100).to(torch.uint8)
    return torch.argsort(unmasked, stable=True)[:count]


def masked_lm_loss(
    head: MaskedLMHead, rep: torch.Tensor, targets: MaskedTargets, criterion: Callable[..., torch.Tensor]
) -> torch.Tensor:
    """The MLM loss of token representations ``rep`` (``B x T x dim``): ``head`` runs only at the
    masked tokens; equal to ``criterion(head(rep), labels)`` over all positions."""
    index = masked_positions(targets.labels, int(targets.counts.sum()))
    logits = head.masked_logits(rep, index)
    if index.numel() == 0:  # nothing to predict: a zero loss that still reaches every parameter
        return logits.float().sum() * 0.0
    return criterion(logits, targets.labels.reshape(-1).index_select(0, index))


class _Features(torch.nn.Module):
    """The MLM training forward: the backbone's final token representations, without the head (the
    loss applies it at the masked tokens only). Its parameters are the model's, head included."""

    def __init__(self, model: TextBackbone) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


class TextTrainer(BaseTrainer):
    """Trains a :class:`~acn_bench.backbones.text.TextBackbone` on token-id tensors.

    Args:
        model: the backbone with the head the mode needs (MLM head for ``mlm``, pooler otherwise).
        config: the recipe (mixing and image augmentation fields do not apply).
        train, held_out: token ids and targets (for ``mlm`` the targets are unused: masks are drawn
            per batch); ids may be a memory-mapped numpy array (a packed corpus), read per batch.
            ``held_out`` is evaluated during training (a validation split, or held-out corpus).
        mode: ``mlm`` (pre-training; evaluated as masked-token accuracy at every depth),
            ``classify`` or ``regress`` (GLUE; evaluated with ``metric`` at every depth).
        metric: ``accuracy``, ``mcc`` or ``pearson`` for the fine-tuning modes.
        **options: :class:`~acn_bench.training.trainer.BaseTrainer`'s keyword arguments.
    """

    def __init__(
        self,
        model: TextBackbone,
        config: TrainConfig,
        train: TextSet,
        held_out: TextSet,
        *,
        mode: str,
        metric: str = "accuracy",
        **options: Any,
    ) -> None:
        if mode not in MODES:
            raise unknown_choice("text training mode", mode, MODES)
        if metric not in METRICS:
            raise unknown_choice("metric", metric, METRICS)
        require(config.mixup_alpha == 0 and config.cutmix_prob == 0, "MixUp and CutMix apply to images, not to text.")
        require(
            len(train) >= config.batch_size,
            f"the training set has {len(train)} sequences, fewer than one batch of {config.batch_size}.",
        )
        device = options.get("device") or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        # MLM: the ids stay on the host, where the masks are drawn; the masked batch is sent over
        self.train_set = _on_host(train) if mode == "mlm" else _placed(train, device)
        self.eval_set = _placed(held_out, device)
        self.mode, self.metric = mode, metric
        self.vocab_size = int(model.config["vocab_size"])
        super().__init__(model, config, **options)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_set) // self.config.batch_size

    @property
    def global_batch(self) -> int:
        return self.config.batch_size

    @property
    def tokens_per_sample(self) -> int:
        return int(self.train_set.ids.shape[1])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.tokens_per_sample,)

    def _rows(self, ids: torch.Tensor | np.ndarray, index: torch.Tensor) -> torch.Tensor:
        """``ids[index]`` as int64 on the device (read from the memory-mapped file for a packed corpus)."""
        if isinstance(ids, np.ndarray):
            return self._to_device(_host_rows(ids, index))
        return ids[index.to(self.device)].long()

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """A host tensor on the device; on CUDA through pinned memory without blocking the host."""
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def _training_module(self) -> torch.nn.Module:
        return _Features(self.model) if self.mode == "mlm" else self.model

    def _default_objective(self) -> Callable[..., torch.Tensor]:
        if self.mode != "mlm":
            return super()._default_objective()

        def objective(
            features: torch.nn.Module, x: torch.Tensor, y: MaskedTargets, criterion: Callable[..., torch.Tensor]
        ) -> torch.Tensor:
            return masked_lm_loss(self.model.head, features(x), y, criterion)

        return objective

    def _loss_terms(self, y: Any) -> float:
        """MLM averages over masked tokens (counted on the host), so micro-batches weigh by them."""
        return float(y.counts.sum()) if self.mode == "mlm" else super()._loss_terms(y)

    def _criterion(self, mixup: Any | None) -> Callable[..., torch.Tensor]:
        if self.mode == "mlm":
            return MaskedLMLoss()
        if self.mode == "regress":
            return lambda output, target: torch.nn.functional.mse_loss(output.squeeze(-1).float(), target)
        return torch.nn.CrossEntropyLoss(label_smoothing=self.config.label_smoothing)

    def _epoch_batches(self, epoch: int, start_step: int) -> Iterator[tuple[torch.Tensor, Any]]:
        """This rank's batches: ``(ids, targets)``, or for MLM ``(masked ids, MaskedTargets)``."""
        order = torch.randperm(
            len(self.train_set), generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        )
        if self.mode != "mlm" and isinstance(self.train_set.ids, torch.Tensor):
            order = order.to(self.device)  # once per epoch, not a blocking copy per batch
        share = self.global_batch // self.world
        for step in range(start_step, self.steps_per_epoch):
            start = step * self.global_batch + self.rank * share
            index = order[start : start + share]
            if self.mode == "mlm":
                inputs, labels = mask_tokens(
                    _host_rows(self.train_set.ids, index),
                    self.vocab_size,
                    torch.Generator().manual_seed(step_seed(self.seed, epoch, step, self.rank)),
                )
                counts = (labels != -100).sum(dim=1)
                yield self._to_device(inputs), MaskedTargets(self._to_device(labels), counts)
            else:
                yield self._rows(self.train_set.ids, index), self.train_set.targets[index.to(self.device)]

    @torch.no_grad()
    def evaluate(self, data: TextSet | None = None) -> list[float]:
        """The mode's metric at every depth 0..L of the held-out set, or of ``data`` (e.g. the test split);
        each rank evaluates every world-th sequence."""
        data = self.eval_set if data is None else _placed(data, self.device)
        self.model.eval()
        ids = self._rows(data.ids, torch.arange(self.rank, len(data), self.world))
        if self.mode == "mlm":  # fixed test masks, drawn over the whole held-out set so any world size sees the same
            every = self._rows(data.ids, torch.arange(len(data)))
            inputs, labels = (
                t[self.rank :: self.world]
                for t in mask_tokens(every, self.vocab_size, torch.Generator().manual_seed(0))
            )
            counts = torch.zeros(2, self.model.depth + 1, dtype=torch.long, device=self.device)
            for start in range(0, len(ids), self.config.eval_batch_size):
                x, y = (
                    inputs[start : start + self.config.eval_batch_size],
                    labels[start : start + self.config.eval_batch_size],
                )
                chosen = y != -100
                index = chosen.flatten().nonzero().squeeze(1)  # the masked tokens, found once for every depth
                targets = y.flatten().index_select(0, index)
                with autocast(self.device, self.amp_dtype):
                    for depth, rep in enumerate(self.model.iter_depths(x)):
                        logits = self.model.head.masked_logits(rep, index)
                        counts[0, depth] += (logits.argmax(-1) == targets).sum()
                counts[1] += index.numel()
            self.model.train()
            counts = distributed.all_reduce_sum(counts)
            return (counts[0].double() / counts[1].clamp(min=1)).tolist()
        outputs = []
        for start in range(0, len(ids), self.config.eval_batch_size):
            with autocast(self.device, self.amp_dtype):
                logits = probe_logits(self.model, ids[start : start + self.config.eval_batch_size]).float()
            outputs.append(logits.squeeze(-1) if self.mode == "regress" else logits.argmax(-1))
        self.model.train()
        predictions = torch.cat(outputs, dim=1).cpu()
        targets = data.targets[self.rank :: self.world].cpu()
        predictions = torch.cat(distributed.gather_objects(predictions), dim=1)
        targets = torch.cat(distributed.gather_objects(targets))
        return [task_metric(self.metric, row, targets) for row in predictions]


def _host_rows(ids: torch.Tensor | np.ndarray, index: torch.Tensor) -> torch.Tensor:
    """``ids[index]`` as int64 on the host (``ids`` a host tensor or the memory-mapped packed corpus)."""
    if isinstance(ids, np.ndarray):
        return torch.from_numpy(np.asarray(ids[index.numpy()], dtype=np.int64))
    return ids[index].long()


def _on_host(data: TextSet) -> TextSet:
    """``data`` with its ids on the host (a memory-mapped packed corpus stays on disk)."""
    if isinstance(data.ids, np.ndarray):
        return data
    return TextSet(data.ids.cpu(), data.targets, data.name)


def _placed(data: TextSet, device: torch.device) -> TextSet:
    """``data`` on ``device``; a memory-mapped packed corpus (numpy) stays on disk and is read per batch."""
    if isinstance(data.ids, np.ndarray):
        return data
    return TextSet(data.ids.to(device), data.targets.to(device), data.name)
