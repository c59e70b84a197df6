"""Backbones as Avalanche models: a shared trunk with one head per task, or one growing head.

Any registered backbone works: the trunk is the backbone itself (embedding, blocks, connectivity,
the head's final norm and pooling) with its classifier removed, and Avalanche's dynamic heads sit
on the pooled features. Both models can probe every depth: the trunk's final norm and pooling
applied to the representation after k blocks, then the task's head (the probing of arXiv 2506.09714, §3).

Importing this module imports Avalanche (seconds): only the continual suite and its tests do.
"""

from __future__ import annotations

import torch
from avalanche.models import IncrementalClassifier, MultiHeadClassifier, MultiTaskModule
from torch import nn

from acn_bench.backbones import Backbone
from acn_bench.errors import unknown_choice


class BackboneTrunk(nn.Module):
    """A backbone without its classifier: ``forward`` gives the pooled features ``B x D``.

    Takes ownership of ``backbone``: its ``head.fc`` becomes the identity, so that the backbone's
    own forward and probe return features instead of logits.
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.num_features = backbone.num_features
        backbone.head.fc = nn.Identity()
        self.backbone = backbone

    @property
    def depth(self) -> int:
        """Number of blocks L."""
        return self.backbone.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def depth_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features after 0..L blocks: ``(L + 1) x B x D``."""
        return self.backbone.probe(x)


def _probe(trunk: BackboneTrunk, head: nn.Module, x: torch.Tensor, *head_args: object) -> torch.Tensor:
    """``head`` applied to the trunk's features at every depth: ``(L + 1) x B x C``."""
    features = trunk.depth_features(x)
    logits = head(features.flatten(0, 1), *head_args)
    return logits.view(features.shape[0], features.shape[1], -1)


class TaskIncrementalModel(MultiTaskModule):
    """Task-incremental model: a shared trunk and Avalanche's ``MultiHeadClassifier`` (one head per task).

    Args:
        backbone: any :class:`~acn_bench.backbones.Backbone` (its classifier is removed).
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.trunk = BackboneTrunk(backbone)
        self.classifier = MultiHeadClassifier(self.trunk.num_features)

    def forward(self, x: torch.Tensor, task_labels: torch.Tensor | int | None) -> torch.Tensor:
        """Logits of each sample's task head (the trunk runs once for the whole batch)."""
        return self.classifier(self.trunk(x), task_labels)

    def forward_single_task(self, x: torch.Tensor, task_label: int) -> torch.Tensor:
        return self.classifier(self.trunk(x), task_label)

    def probe(self, x: torch.Tensor, task_label: int) -> torch.Tensor:
        """Logits of task ``task_label``'s head at every depth: ``(L + 1) x B x C``; index k = after k blocks."""
        return _probe(self.trunk, self.classifier, x, task_label)


class ClassIncrementalModel(nn.Module):
    """Class-incremental model: a shared trunk and one Avalanche ``IncrementalClassifier`` that grows.

    Args:
        backbone: any :class:`~acn_bench.backbones.Backbone` (its classifier is removed).
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.trunk = BackboneTrunk(backbone)
        self.classifier = IncrementalClassifier(self.trunk.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.trunk(x))

    def probe(self, x: torch.Tensor, task_label: int = 0) -> torch.Tensor:
        """Logits of the single head at every depth: ``(L + 1) x B x C`` (``task_label`` is not used)."""
        return _probe(self.trunk, self.classifier, x)


MODELS: dict[str, type[nn.Module]] = {"task": TaskIncrementalModel, "class": ClassIncrementalModel}


def continual_model(backbone: Backbone, setting: str) -> nn.Module:
    """``backbone`` wrapped for the ``task``-incremental (multi-head) or ``class``-incremental setting."""
    if setting not in MODELS:
        raise unknown_choice("continual setting", setting, MODELS)
    return MODELS[setting](backbone)
