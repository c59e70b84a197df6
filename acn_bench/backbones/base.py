"""The backbone contract: embedding, residual-free blocks, a connectivity and one shared head."""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from acn_bench.backbones.connectivity import Connectivity

EXAMPLE_SEED = 0  # example inputs are the same on every call


class PreNorm(nn.Module):
    """``fn(norm(x))``: one sub-layer of a block, without any residual."""

    def __init__(self, norm: nn.Module, fn: nn.Module) -> None:
        super().__init__()
        self.norm = norm
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class Block(nn.Module):
    """A chain of pre-norm sub-layers, optionally followed by an output stage.

    ``residual=True`` adds the standard residual around each sub-layer (``h + s(h)``), which is
    how the residual twin runs the very same parameters; every other connectivity chains the
    sub-layers (``s2(s1(x))``). An ``output`` stage, when present, receives the sub-layers' result
    and the block's input (the official Mixer's ``LN(ReLU(W h + x_in))``).
    """

    def __init__(self, sublayers: list[nn.Module], output: nn.Module | None = None) -> None:
        super().__init__()
        self.sublayers = nn.ModuleList(sublayers)
        self.output = output

    def forward(self, x: torch.Tensor, residual: bool = False) -> torch.Tensor:
        h = x
        for sublayer in self.sublayers:
            h = h + sublayer(h) if residual else sublayer(h)
        if self.output is not None:
            h = self.output(h, x)
        return h


class Head(nn.Module):
    """Final norm, token pooling (``cls``: token 0, ``avg``: mean over tokens) and a linear layer."""

    def __init__(self, dim: int, num_classes: int, pool: str = "cls", zero_init: bool = False) -> None:
        super().__init__()
        if pool not in ("cls", "avg"):
            raise ValueError(f"pool must be 'cls' or 'avg', got {pool!r}")
        self.pool = pool
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)
        if zero_init:
            nn.init.zeros_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

    def forward(self, rep: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits ``B x C`` of a token representation ``B x N x dim``, or with ``pre_logits`` the
        normalised, pooled features ``B x dim`` the classifier reads."""
        # the norm acts on every token alone: with CLS pooling only token 0 is normalised (the same
        # numbers, without normalising the N - 1 tokens the pooling drops, forward and backward)
        pooled = self.norm(rep[:, 0]) if self.pool == "cls" else self.norm(rep).mean(dim=1)
        return pooled if pre_logits else self.fc(pooled)


class Backbone(nn.Module):
    """A network ``embed -> blocks (combined by connectivity) -> head``.

    Args:
        embed: maps the input batch to the token representation ``x_0``.
        blocks: the blocks ``f_1..f_L``; none holds a residual of its own.
        connectivity: how block outputs are combined (see ``connectivity.py``).
        head: shared final norm + pooling + classifier, applied at any depth when probing.
        config: plain-data description of the model (name, widths, ...) stored in result records.
    """

    def __init__(
        self,
        embed: nn.Module,
        blocks: nn.ModuleList,
        connectivity: Connectivity,
        head: Head,
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if connectivity.depth != len(blocks):
            raise ValueError(f"connectivity built for {connectivity.depth} blocks, got {len(blocks)}")
        self.embed = embed
        self.blocks = blocks
        self.connectivity = connectivity
        self.head = head
        self.config = dict(config or {})
        self.config.update(depth=len(blocks), connectivity=connectivity.name)

    @property
    def depth(self) -> int:
        """Number of blocks L."""
        return len(self.blocks)

    def embed_and_blocks(self, x: torch.Tensor) -> tuple[torch.Tensor, list[Callable[..., torch.Tensor]]]:
        """The embedding ``x_0`` of ``x`` and what runs each block on it: the blocks themselves here;
        a text backbone binds each block to the input's padding mask."""
        return self.embed(x), list(self.blocks)

    def iter_depths(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        """Yield the representation the head would see after 0, 1, ..., L blocks."""
        x0, blocks = self.embed_and_blocks(x)
        state = self.connectivity.start(x0)
        yield self.connectivity.readout(state)
        for i, block in enumerate(blocks):
            state = self.connectivity.step(i, block, state)
            yield self.connectivity.readout(state)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Final token representation (before the head)."""
        x0, blocks = self.embed_and_blocks(x)
        state = self.connectivity.start(x0)
        for i, block in enumerate(blocks):
            state = self.connectivity.step(i, block, state)
        return self.connectivity.readout(state)

    def forward_head(self, rep: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The head on a token representation: logits, or with ``pre_logits`` the pooled features
        before the classifier (as timm's ``forward_head``; only then is the head passed ``pre_logits``)."""
        return self.head(rep, pre_logits=True) if pre_logits else self.head(rep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def example_input(
        self, batch: int = 2, device: torch.device | str | None = None, *, shape: Sequence[int] | None = None
    ) -> torch.Tensor:
        """A seeded random input of ``batch`` samples (the same on every call), e.g. to count FLOPs.

        Images ``B x in_chans x img_size x img_size`` (float) from the config (3 channels and 32 px
        where it names none); subclasses taking other inputs override this.

        Args:
            batch: samples in the batch.
            device: where the input goes (default: the CPU).
            shape: one sample's shape instead of the config's (e.g. the training data's own).
        """
        size = self.config.get("img_size", 32)
        shape = tuple(shape or (self.config.get("in_chans", 3), size, size))
        return torch.randn(batch, *shape, generator=torch.Generator().manual_seed(EXAMPLE_SEED)).to(device)

    def depth_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Representations at depths 0..L (partial sums for ACNs, the stream for residual nets)."""
        return list(self.iter_depths(x))

    def probe(self, x: torch.Tensor) -> torch.Tensor:
        """Shared-head logits at every depth: a tensor ``(L + 1) x B x C``; index k = after k blocks."""
        return torch.stack([self.head(rep) for rep in self.iter_depths(x)])

    def truncate(self, k: int) -> Backbone:
        """A real, independent model made of the embedding, the first ``k`` blocks and the head.

        ``truncate(k)(x)`` equals ``probe(x)[k]``: for an ACN, dropping later blocks only drops
        terms of the output sum, so this is the compressed model one would deploy.
        """
        if not 0 <= k <= self.depth:
            raise ValueError(f"truncate(k) needs 0 <= k <= {self.depth}, got {k}")
        config = dict(self.config, truncated_from=self.config.get("truncated_from", self.depth))
        return type(self)(
            embed=copy.deepcopy(self.embed),
            blocks=copy.deepcopy(nn.ModuleList(list(self.blocks)[:k])),
            connectivity=self.connectivity.truncated(k),
            head=copy.deepcopy(self.head),
            config=config,
        )

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a fresh one for ``num_classes`` (transfer learning)."""
        old = self.head.fc
        self.head.fc = nn.Linear(old.in_features, num_classes).to(old.weight.device)
        self.config["num_classes"] = num_classes

    @property
    def num_features(self) -> int:
        """Width of the pooled features fed to the classifier."""
        return self.head.fc.in_features
