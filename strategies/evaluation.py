"""Train a strategy along a stream, recording the accuracy matrix, and summarise it (arXiv 2506.09714, §6).

``acc[i][j]`` is the test accuracy on task j after training on tasks 0..i: the whole test stream
is evaluated after every experience. From it:

* average accuracy: mean over tasks of ``acc[T-1][j]`` (accuracy after the last task);
* average forgetting: mean over j < T-1 of ``acc[j][j] - acc[T-1][j]``, which is exactly
  Avalanche's ``StreamForgetting`` after the last experience;
* backward transfer: mean over j < T-1 of ``acc[T-1][j] - acc[j][j]`` (Lopez-Paz & Ranzato; with
  these definitions it is minus the average forgetting, as Avalanche's ``StreamBWT``);
* learning accuracy: mean of ``acc[j][j]``, how well each task is learnt when it arrives.

Avalanche metric keys are read by prefix: their task suffix is only the last task seen.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from acn_bench.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state

if TYPE_CHECKING:
    from avalanche.training.plugins import EvaluationPlugin
    from avalanche.training.templates import SupervisedTemplate

EXPERIENCE_ACCURACY = "Top1_Acc_Exp/eval_phase/test_stream/"
STREAM_KEYS = ("Top1_Acc_Stream", "StreamForgetting", "StreamBWT")


def silent_evaluator() -> EvaluationPlugin:
    """Avalanche evaluator with per-experience and stream accuracy, forgetting and BWT; no loggers."""
    from avalanche.evaluation.metrics import accuracy_metrics, bwt_metrics, forgetting_metrics
    from avalanche.training.plugins import EvaluationPlugin

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No loggers specified", category=UserWarning)
        return EvaluationPlugin(
            accuracy_metrics(experience=True, stream=True),
            forgetting_metrics(experience=True, stream=True),
            bwt_metrics(experience=True, stream=True),
            loggers=[],
        )


def experience_accuracies(results: Mapping[str, Any], n_experiences: int) -> list[float]:
    """Accuracy on every test experience, in stream order, from an evaluation's metric dict.

    Raises:
        ValueError: when an experience of ``0..n_experiences-1`` has no accuracy in ``results``.
    """
    found: dict[int, float] = {}
    for key, value in results.items():
        if key.startswith(EXPERIENCE_ACCURACY):
            found[int(key.rsplit("/Exp", 1)[1])] = float(value)
    missing = [i for i in range(n_experiences) if i not in found]
    if missing:
        raise ValueError(f"no {EXPERIENCE_ACCURACY}... accuracy for experience(s) {missing} in the evaluation results")
    return [found[i] for i in range(n_experiences)]


def stream_metric(results: Mapping[str, Any], name: str) -> float:
    """The value of the stream metric ``name`` (e.g. ``StreamForgetting``), found by key prefix."""
    prefix = f"{name}/eval_phase/test_stream"
    values = [float(v) for k, v in results.items() if k.startswith(prefix)]
    if len(values) != 1:
        raise ValueError(f"expected one {prefix}* metric, found {len(values)}")
    return values[0]


def continual_summary(matrix: Sequence[Sequence[float]]) -> dict[str, float]:
    """Average accuracy, average forgetting, backward transfer and learning accuracy of ``acc[i][j]``.

    Args:
        matrix: ``T x T`` accuracies; row i after training task i, column j tested on task j.
    """
    tasks = len(matrix)
    if tasks == 0 or any(len(row) != tasks for row in matrix):
        raise ValueError(f"the accuracy matrix must be square and non-empty, got {[len(row) for row in matrix]}")
    last = matrix[-1]
    drops = [matrix[j][j] - last[j] for j in range(tasks - 1)]
    forgetting = sum(drops) / len(drops) if drops else 0.0
    return {
        "avg_accuracy": sum(last) / tasks,
        "avg_forgetting": forgetting,
        "bwt": -forgetting,
        "learning_accuracy": sum(matrix[j][j] for j in range(tasks)) / tasks,
    }


@dataclass
class StreamResult:
    """What :func:`run_stream` measured.

    Attributes:
        matrix: ``acc[i][j]``, accuracy on task j after training task i.
        train_seconds: training time of every experience.
        eval_seconds: time of every evaluation of the whole test stream.
        avalanche: Avalanche's own stream metrics after the last experience (key -> value).
    """

    matrix: list[list[float]] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    avalanche: dict[str, float] = field(default_factory=dict)


def run_stream(
    strategy: SupervisedTemplate,
    train_stream: Sequence[Any],
    test_stream: Sequence[Any],
    log: Callable[[str], None] = print,
    checkpoint: Path | None = None,
    fingerprint: str = "",
) -> StreamResult:
    """Train ``strategy`` on each experience of ``train_stream``, evaluating all of ``test_stream`` after each.

    The strategy's evaluator must report per-experience accuracy (see :func:`silent_evaluator`).

    Args:
        checkpoint: file written after every experience (strategy state, results so far, RNG); when
            it exists, the stream resumes after the last experience it holds.
        fingerprint: identity of the run; a checkpoint written under another one is refused.
    """
    result, done = StreamResult(), 0
    state = load_checkpoint(checkpoint, fingerprint) if checkpoint else None
    if state is not None:
        from acn_bench.strategies.checkpoint import restore_strategy

        result = StreamResult(**state["result"])
        done = len(result.matrix)
        restore_strategy(strategy, state["strategy"], train_stream[:done], test_stream)
        set_rng_state(state["rng"])
        log(f"  resuming after task {done}/{len(test_stream)} from {checkpoint}")
    tasks = len(test_stream)
    for i in range(done, len(train_stream)):
        start = time.perf_counter()
        strategy.train(train_stream[i])
        result.train_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        metrics = strategy.eval(test_stream)
        result.eval_seconds.append(time.perf_counter() - start)
        result.matrix.append(experience_accuracies(metrics, tasks))
        result.avalanche = {
            key: float(value)
            for key, value in metrics.items()
            if key.startswith(STREAM_KEYS) and isinstance(value, (int, float))
        }
        if checkpoint:
            from acn_bench.strategies.checkpoint import strategy_state

            save_checkpoint(
                checkpoint,
                {
                    "fingerprint": fingerprint,
                    "result": dataclasses.asdict(result),
                    "strategy": strategy_state(strategy),
                    "rng": rng_state(),
                },
            )
        seen = result.matrix[-1][: i + 1]
        log(
            f"  task {i + 1}/{tasks}: mean accuracy on tasks seen {sum(seen) / len(seen):.4f}, "
            f"train {result.train_seconds[-1]:.1f}s"
        )
    return result


@torch.no_grad()
def probe_tasks(
    model: torch.nn.Module, test_stream: Sequence[Any], batch_size: int, device: torch.device
) -> list[list[float]]:
    """Per-task accuracy at every depth: ``out[j][k]`` = task j's head on the representation after k blocks.

    ``model`` has ``probe(x, task_label) -> (L + 1) x B x C`` (see :mod:`acn_bench.strategies.models`).
    """
    model.eval()
    table = []
    for experience in test_stream:
        correct, total = None, 0
        for x, y, t in DataLoader(experience.dataset, batch_size=batch_size):
            logits = model.probe(x.to(device), int(t[0]))
            hits = (logits.argmax(dim=-1) == y.to(device)).sum(dim=1)
            correct = hits if correct is None else correct + hits
            total += len(y)
        table.append((correct.double() / total).tolist())
    return table
