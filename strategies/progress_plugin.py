"""A continual run on acn-bench's progress display: task t of T, the epoch with its mean loss, the minibatches.

:func:`continual_progress` adds the three bars to the active display (:mod:`acn_bench.progress`;
nothing is drawn without one) and yields the Avalanche plugin that moves them; pass it to the
strategy's ``plugins``. It carries no state between experiences, so checkpoints leave it out
(:mod:`acn_bench.strategies.checkpoint`).

Importing this module imports Avalanche (seconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from avalanche.training.plugins import SupervisedPlugin

from acn_bench import progress


class ProgressPlugin(SupervisedPlugin):
    """Moves the bars of :func:`continual_progress` from Avalanche's training callbacks."""

    carries_state = False  # nothing to checkpoint

    def __init__(self, n_tasks: int, tasks: progress.Bar, epochs: progress.Bar, batches: progress.Bar) -> None:
        super().__init__()
        self.n_tasks, self.tasks, self.epochs, self.batches = n_tasks, tasks, epochs, batches
        self.started = False
        self.epoch, self.seen, self.loss_sum = 0, 0, torch.zeros(())

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        task = strategy.experience.current_experience
        if not self.started:  # a resumed stream starts at its first unfinished task
            self.tasks.restart(total=self.n_tasks, completed=task)
            self.started = True
        self.tasks.update(description=f"task {task + 1}/{self.n_tasks}")
        self.epochs.restart(total=strategy.train_epochs)
        self.epoch = 0

    def before_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self.batches.restart(total=len(strategy.dataloader))
        self.seen, self.loss_sum = 0, torch.zeros((), device=strategy.device)

    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        self.seen += 1
        self.loss_sum += strategy.loss.detach().sum()  # (replay: shape [1]) read once per epoch, not per step
        self.batches.advance()

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self.epoch += 1
        loss = self.loss_sum.item() / max(self.seen, 1)
        self.epochs.update(advance=1, description=f"epoch {self.epoch}/{strategy.train_epochs}: loss {loss:.3f}")

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        task = strategy.experience.current_experience
        self.tasks.update(advance=1, description=f"task {task + 1}/{self.n_tasks}: testing every task")


@contextmanager
def continual_progress(n_tasks: int) -> Iterator[ProgressPlugin]:
    """The bars of a stream of ``n_tasks`` tasks on the active display, and the plugin that moves them."""
    with (
        progress.task("tasks", total=n_tasks) as tasks,
        progress.task("epochs") as epochs,
        progress.task("minibatches", unit="batches") as batches,
    ):
        yield ProgressPlugin(n_tasks, tasks, epochs, batches)
