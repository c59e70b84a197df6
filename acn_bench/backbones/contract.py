"""The backbone contract every registered backbone must keep (checked before a submission runs)."""

from __future__ import annotations

import torch

from acn_bench.backbones.base import Backbone
from acn_bench.backbones.registry import backbone_options, create_backbone
from acn_bench.errors import UserError


def contract_problems(name: str, **overrides) -> list[str]:
    """Every way backbone ``name`` breaks the contract (empty when it keeps it).

    Checked: the twins build and are :class:`Backbone` s with equal parameter counts; ``forward``
    gives ``B x C`` logits; ``probe`` gives ``(L+1) x B x C`` with the last depth equal to
    ``forward``; ``truncate(k)`` is a model of depth k equal to ``probe(x)[k]`` for every k; the
    same seed builds the same model and evaluation is deterministic.
    """
    problems = []
    twins = {}
    for connectivity in ("residual", "acn"):
        torch.manual_seed(0)
        try:
            twins[connectivity] = create_backbone(name, connectivity=connectivity, **overrides).eval()
        except UserError as exc:
            return [f"cannot build the {connectivity} twin: {exc}"]
        except Exception as exc:  # a broken third-party factory: report it, do not crash
            return [f"building the {connectivity} twin raised {type(exc).__name__}: {exc}"]
    counts = {c: sum(p.numel() for p in m.parameters()) for c, m in twins.items()}
    if counts["residual"] != counts["acn"]:
        problems.append(f"twins differ in parameter count: residual {counts['residual']}, acn {counts['acn']}")
    model = twins["acn"]
    x = model.example_input(3)
    classes = model.config.get("num_classes", backbone_options(name).get("num_classes"))
    with torch.no_grad():
        try:
            logits = model(x)
            probe = model.probe(x)
        except Exception as exc:
            return [*problems, f"forward/probe raised {type(exc).__name__}: {exc}"]
        if tuple(logits.shape) != (x.shape[0], classes):
            problems.append(f"forward gives shape {tuple(logits.shape)}, expected {(x.shape[0], classes)}")
        if tuple(probe.shape[:2]) != (model.depth + 1, x.shape[0]):
            problems.append(f"probe gives shape {tuple(probe.shape)}, expected ({model.depth + 1}, {x.shape[0]}, C)")
        elif not torch.allclose(probe[-1], logits, atol=1e-4):
            problems.append("probe(x)[L] differs from forward(x)")
        for k in range(model.depth + 1):
            try:
                small = model.truncate(k)
                ok = isinstance(small, Backbone) and small.depth == k and torch.allclose(small(x), probe[k], atol=1e-4)
            except Exception as exc:
                problems.append(f"truncate({k}) raised {type(exc).__name__}: {exc}")
                break
            if not ok:
                problems.append(f"truncate({k}) is not a depth-{k} model equal to probe(x)[{k}]")
                break
        if not torch.equal(model(x), logits):
            problems.append("evaluation is not deterministic (two forwards differ)")
    torch.manual_seed(0)
    again = create_backbone(name, connectivity="residual", **overrides).eval()
    with torch.no_grad():
        if not torch.equal(again(x), twins["residual"](x)):
            problems.append("the same seed builds a different model")
    return problems
