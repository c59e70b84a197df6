"""Training BERT-style backbones through the one training loop: masked-language-model pre-training
and GLUE fine-tuning (classification or regression), evaluated at every depth.

Token-id sets stay in memory as int64 tensors; each epoch's order is drawn from ``(seed, epoch)``
and each batch's MLM masks from ``(seed, epoch, step, rank)``, so checkpoints resume the exact
batch stream from the epoch and step alone.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import torch
from sklearn.metrics import matthews_corrcoef

from acn_bench.backbones.text import TextBackbone
from acn_bench.data.text import TextSet, mask_tokens
from acn_bench.errors import require, unknown_choice
from acn_bench.training import distributed
from acn_bench.training.evaluate import autocast
from acn_bench.training.trainer import BaseTrainer, TrainConfig

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


class MaskedLMLoss(torch.nn.Module):
    """Cross-entropy over the vocabulary at the masked positions only (labels -100 elsewhere)."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)


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
        self.train_set = _placed(train, device)
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
            return torch.from_numpy(np.asarray(ids[index.numpy()], dtype=np.int64)).to(self.device)
        return ids[index.to(self.device)].long()

    def _criterion(self, mixup: Any | None) -> Callable[..., torch.Tensor]:
        if self.mode == "mlm":
            return MaskedLMLoss()
        if self.mode == "regress":
            return lambda output, target: torch.nn.functional.mse_loss(output.squeeze(-1).float(), target)
        return torch.nn.CrossEntropyLoss(label_smoothing=self.config.label_smoothing)

    def _epoch_batches(self, epoch: int, start_step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(
            len(self.train_set), generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        )
        share = self.global_batch // self.world
        for step in range(start_step, self.steps_per_epoch):
            start = step * self.global_batch + self.rank * share
            index = order[start : start + share]
            ids = self._rows(self.train_set.ids, index)
            if self.mode == "mlm":
                yield mask_tokens(
                    ids, self.vocab_size, torch.Generator().manual_seed(step_seed(self.seed, epoch, step, self.rank))
                )
            else:
                yield ids, self.train_set.targets[index.to(self.device)]

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
                with autocast(self.device, self.amp_dtype):
                    for depth, rep in enumerate(self.model.iter_depths(x)):
                        counts[0, depth] += (self.model.head(rep[chosen]).argmax(-1) == y[chosen]).sum()
                counts[1] += chosen.sum()
            self.model.train()
            counts = distributed.all_reduce_sum(counts)
            return (counts[0].double() / counts[1].clamp(min=1)).tolist()
        outputs = []
        for start in range(0, len(ids), self.config.eval_batch_size):
            with autocast(self.device, self.amp_dtype):
                logits = self.model.probe(ids[start : start + self.config.eval_batch_size]).float()
            outputs.append(logits.squeeze(-1) if self.mode == "regress" else logits.argmax(-1))
        self.model.train()
        predictions = torch.cat(outputs, dim=1).cpu()
        targets = data.targets[self.rank :: self.world].cpu()
        predictions = torch.cat(distributed.gather_objects(predictions), dim=1)
        targets = torch.cat(distributed.gather_objects(targets))
        return [task_metric(self.metric, row, targets) for row in predictions]


def _placed(data: TextSet, device: torch.device) -> TextSet:
    """``data`` on ``device``; a memory-mapped packed corpus (numpy) stays on disk and is read per batch."""
    if isinstance(data.ids, np.ndarray):
        return data
    return TextSet(data.ids.to(device), data.targets.to(device), data.name)
