"""Early exit on any backbone: three exit mechanisms, the entropy exit rule and its real cost.

Mechanisms (the early-exit comparison in the authors' rebuttal of arXiv 2506.09714, OpenReview eIDa6pd9iQ):

* ``inherent``: the ordinarily trained shared head at every depth (ACN partial sums / residual stream);
* ``branches``: small classifiers after chosen layers, trained jointly with the final head
  (BranchyNet-style), see :func:`attach_branches`;
* ``shared``: the final head trained with a loss at every depth (LayerSkip / Aligned style).

Rule: go through the exits in order and stop at the first whose softmax entropy is at or below a
threshold T. :func:`sweep_thresholds` simulates every T from the logits of all exits (with FLOPs
from ``torch.utils.flop_counter``); :func:`early_exit_forward` is the batched implementation that
really stops computing for the samples that exited, used to measure wall-clock speedups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from acn_bench.analysis.compression import flops_per_sample
from acn_bench.analysis.latency import LatencyComparison, Speedup, evaluating, time_interleaved
from acn_bench.backbones.base import Backbone
from acn_bench.errors import require, unknown_choice

EXIT_MODES = ("inherent", "branches", "shared")
WEIGHTINGS = ("uniform", "linear")


class Branch(nn.Module):
    """A small exit classifier: LayerNorm, the backbone's pooling, a one-hidden-layer MLP."""

    def __init__(self, dim: int, num_classes: int, pool: str, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or dim
        self.pool = pool
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, num_classes))

    def forward(self, rep: torch.Tensor) -> torch.Tensor:
        rep = self.norm(rep)
        return self.mlp(rep[:, 0] if self.pool == "cls" else rep.mean(dim=1))


def branch_layers(depth: int, spec: str | Sequence[int] = "auto") -> list[int]:
    """Branch positions: ``auto`` = 1/4, 1/2, 3/4 of the depth (the paper's 4, 8, 12 of 16), or a list.

    Raises:
        UserError: a position outside 1..L-1.
    """
    if spec == "auto":
        layers = sorted({max(1, min(depth - 1, round(depth * f))) for f in (0.25, 0.5, 0.75)})
    else:
        layers = sorted({int(v) for v in (str(spec).split(",") if isinstance(spec, str) else spec)})
    bad = [k for k in layers if not 1 <= k <= depth - 1]
    require(not bad and bool(layers), f"branch positions must lie in 1..{depth - 1} (depth {depth}), got {layers}.")
    return layers


def attach_branches(model: Backbone, layers: Sequence[int]) -> None:
    """Give ``model`` a trainable branch classifier after each of ``layers`` (``model.branches``)."""
    dim, classes = model.num_features, model.head.fc.out_features
    model.branches = nn.ModuleDict({str(k): Branch(dim, classes, model.head.pool) for k in layers})


def exit_weights(depths: Sequence[int], weighting: str) -> list[float]:
    """Loss weights of the exits, summing to 1: ``uniform`` or ``linear`` in depth (LayerSkip-like)."""
    if weighting not in WEIGHTINGS:
        raise unknown_choice("exit weighting", weighting, WEIGHTINGS)
    raw = [1.0 if weighting == "uniform" else float(d) for d in depths]
    return [w / sum(raw) for w in raw]


def multi_exit_objective(mode: str, weighting: str = "uniform") -> Callable[..., torch.Tensor]:
    """Training loss for ``mode``: the final head only (``inherent``), or a weighted loss at every exit."""
    if mode not in EXIT_MODES:
        raise unknown_choice("exit mode", mode, EXIT_MODES)

    def objective(
        model: Backbone, x: torch.Tensor, y: torch.Tensor, criterion: Callable[..., torch.Tensor]
    ) -> torch.Tensor:
        if mode == "inherent":
            return criterion(model(x), y)
        reps = list(model.iter_depths(x))
        plan = exit_plan(model, mode)
        weights = exit_weights(plan.depths, weighting)
        return sum(w * criterion(head(reps[d]), y) for w, d, head in zip(weights, plan.depths, plan.heads))

    return objective


@dataclass
class ExitPlan:
    """Where a model may exit (``depths``, increasing, the last is L) and the head used there."""

    depths: list[int]
    heads: list[nn.Module]


def exit_plan(model: Backbone, mode: str) -> ExitPlan:
    """Exits of ``mode``: every depth 1..L with the shared head, or the branches plus the final head."""
    if mode == "branches":
        require(hasattr(model, "branches"), "exit mode 'branches' needs attach_branches() before training.")
        layers = sorted(int(k) for k in model.branches)
        return ExitPlan([*layers, model.depth], [*(model.branches[str(k)] for k in layers), model.head])
    return ExitPlan(list(range(1, model.depth + 1)), [model.head] * model.depth)


@torch.no_grad()
def exit_logits(
    model: Backbone, plan: ExitPlan, images: torch.Tensor, transform: Callable, batch_size: int = 512
) -> torch.Tensor:
    """Logits of every exit for every image: ``E x N x C`` (one full pass per batch)."""
    model.eval()
    chunks = []
    for start in range(0, images.shape[0], batch_size):
        reps = list(model.iter_depths(transform(images[start : start + batch_size])))
        chunks.append(torch.stack([head(reps[d]) for d, head in zip(plan.depths, plan.heads)]))
    return torch.cat(chunks, dim=1).float()


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Softmax entropy (nats) over the last dimension."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def first_exit(entropies: torch.Tensor, threshold: float) -> torch.Tensor:
    """Index of the first exit whose entropy is <= ``threshold`` (the last exit if none)."""
    require(threshold >= 0, f"exit threshold must be >= 0, got {threshold}.")
    confident = entropies <= threshold
    confident[-1] = True
    return confident.float().argmax(dim=0)


@dataclass
class ExitCosts:
    """FLOPs per sample: the trunk up to each depth 0..L, each exit head, and the full model."""

    trunk: list[int]
    heads: list[int]
    full: int

    def per_exit(self, plan: ExitPlan) -> torch.Tensor:
        """FLOPs spent by a sample that leaves at each exit (trunk + every exit head checked so far)."""
        checked = torch.cumsum(torch.tensor(self.heads, dtype=torch.float64), dim=0)
        return torch.tensor([float(self.trunk[d]) for d in plan.depths], dtype=torch.float64) + checked


def measure_exit_costs(model: Backbone, plan: ExitPlan, sample: torch.Tensor) -> ExitCosts:
    """Count FLOPs of the trunk at every depth, of each exit head and of the plain full model."""
    sample = sample[:1]
    reps = [r.detach() for r in model.iter_depths(sample)]
    head_flops = flops_per_sample(model.head, reps[-1])
    trunk = [flops_per_sample(model.truncate(k), sample) - head_flops for k in range(model.depth + 1)]
    heads = [flops_per_sample(head, reps[d]) for d, head in zip(plan.depths, plan.heads)]
    return ExitCosts(trunk=trunk, heads=heads, full=trunk[-1] + head_flops)


def sweep_thresholds(
    logits: torch.Tensor,
    labels: torch.Tensor,
    plan: ExitPlan,
    costs: ExitCosts,
    thresholds: Sequence[float],
    reference_flops: int,
) -> list[dict[str, float]]:
    """Accuracy, mean exit depth and FLOPs speedup (``reference_flops`` / mean FLOPs) for every threshold.

    Works on CPU copies of ``logits`` and ``labels`` so the FLOP tables (CPU tensors) can be indexed
    by the chosen exits whichever device the model ran on.
    """
    logits, labels = logits.cpu(), labels.cpu()
    entropies = entropy(logits)
    per_exit = costs.per_exit(plan)
    depths = torch.tensor(plan.depths, dtype=torch.float64)
    rows = []
    for threshold in thresholds:
        index = first_exit(entropies, threshold)
        chosen = logits[index, torch.arange(logits.shape[1])]
        mean_flops = per_exit[index].mean().item()
        rows.append(
            {
                "threshold": float(threshold),
                "accuracy": (chosen.argmax(-1) == labels).double().mean().item(),
                "mean_exit_depth": depths[index].mean().item(),
                "mean_flops": mean_flops,
                "flops_speedup": reference_flops / mean_flops,
            }
        )
    return rows


def _select(state: Any, keep: torch.Tensor) -> Any:
    """The rows ``keep`` of every tensor in a connectivity state."""
    if isinstance(state, torch.Tensor):
        return state[keep]
    return type(state)(_select(s, keep) for s in state)


@torch.no_grad()
def early_exit_forward(
    model: Backbone, plan: ExitPlan, x: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched early exit that stops computing for samples that left: ``(logits B x C, exit depth B)``."""
    require(threshold >= 0, f"exit threshold must be >= 0, got {threshold}.")
    conn = model.connectivity
    heads = dict(zip(plan.depths, plan.heads))
    state = conn.start(model.embed(x))
    active = torch.arange(x.shape[0], device=x.device)
    logits_out = torch.empty(x.shape[0], model.head.fc.out_features, device=x.device)
    depth_out = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    for i, block in enumerate(model.blocks):
        state = conn.step(i, block, state)
        depth = i + 1
        if depth not in heads:
            continue
        logits = heads[depth](conn.readout(state))
        done = entropy(logits) <= threshold if depth < model.depth else torch.ones_like(active, dtype=torch.bool)
        logits_out[active[done]] = logits[done].float()
        depth_out[active[done]] = depth
        keep = ~done
        if not keep.any():
            break
        active = active[keep]
        state = _select(state, keep)
    return logits_out, depth_out


def wall_clock_speedup(
    model: Backbone,
    plan: ExitPlan,
    batches: Sequence[torch.Tensor],
    threshold: float,
    repeats: int = 3,
    warmup: int = 1,
) -> Speedup:
    """Paired speedup of :func:`early_exit_forward` over the plain forward, both run over all ``batches``.

    The two are timed interleaved (:func:`acn_bench.analysis.latency.time_interleaved`: each round
    runs both, in alternating order), in eval mode without gradients; the result is the geometric
    mean and spread over ``repeats`` rounds of plain time / early-exit time in the same round.

    Raises:
        UserError: no batches, or fewer than one round.
    """
    require(len(batches) > 0, "wall-clock speedup needs at least one batch.")
    calls = {
        "full": lambda: [model(batch) for batch in batches],
        "early_exit": lambda: [early_exit_forward(model, plan, batch, threshold) for batch in batches],
    }
    with evaluating([model]):
        times = time_interleaved(calls, repeats, warmup, cuda=batches[0].is_cuda)
    return LatencyComparison(reference="full", times_ms=times).speedup("early_exit")
