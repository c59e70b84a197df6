"""How block outputs are combined: the only thing that differs between twins.

Every connectivity is a small module driven one block at a time::

    state = conn.start(x0)
    for i, block in enumerate(blocks):
        state = conn.step(i, block, state)
        rep = conn.readout(state)      # what the shared head sees after i + 1 blocks

so that the same loop serves ``forward`` (readout once, at the end), probing (readout at every
depth) and early exit (stop when a sample is confident). ``residual_blocks`` tells the blocks
whether to add the standard pre-LN residual around each of their sub-layers (only the residual
twin does; see arXiv 2506.09714, §2 and Table 1).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from acn_bench.errors import unknown_choice

State = Any
BlockFn = Callable[..., torch.Tensor]


class Connectivity(nn.Module):
    """Base class: combines ``x_0`` and the block outputs ``x_1..x_L``."""

    name: ClassVar[str] = ""
    residual_blocks: ClassVar[bool] = False

    def __init__(self, depth: int, dim: int) -> None:
        super().__init__()
        self.depth = depth
        self.dim = dim

    def start(self, x0: torch.Tensor) -> State:
        """Initial state from the embedding ``x0``."""
        return x0

    def block_input(self, i: int, state: State) -> torch.Tensor:
        """Input of block ``i`` (0-based) given the state after ``i`` blocks."""
        return state

    def update(self, state: State, out: torch.Tensor) -> State:
        """New state once the block has produced ``out``."""
        return out

    def readout(self, state: State) -> torch.Tensor:
        """The representation the head sees in ``state``."""
        return state

    def step(self, i: int, block: BlockFn, state: State) -> State:
        """Run block ``i`` and return the updated state."""
        out = block(self.block_input(i, state), residual=self.residual_blocks)
        return self.update(state, out)

    def truncated(self, k: int) -> Connectivity:
        """A copy that serves only the first ``k`` blocks."""
        new = copy.deepcopy(self)
        new.depth = k
        return new

    def extra_repr(self) -> str:
        return f"depth={self.depth}, dim={self.dim}"


class Residual(Connectivity):
    """``h_i = h_{i-1} + f_i(h_{i-1})`` (pre-LN residual around every sub-layer); output ``h_L``."""

    name = "residual"
    residual_blocks = True


class Plain(Connectivity):
    """``x_i = f_i(x_{i-1})``, output ``x_L``: no skip connection at all."""

    name = "plain"


class AutoCompressing(Connectivity):
    """ACN: ``x_i = f_i(x_{i-1})``, output ``S_L = x_0 + sum_i x_i`` (unweighted, includes x_0)."""

    name = "acn"

    def start(self, x0: torch.Tensor) -> State:
        return (x0, x0)

    def block_input(self, i: int, state: State) -> torch.Tensor:
        return state[0]

    def update(self, state: State, out: torch.Tensor) -> State:
        return (out, state[1] + out)

    def readout(self, state: State) -> torch.Tensor:
        return state[1]


class DirectGradientACN(AutoCompressing):
    """ACN whose blocks see a detached input: each block learns from the direct gradient only."""

    name = "acn-dg"

    def block_input(self, i: int, state: State) -> torch.Tensor:
        return state[0].detach()


class _AllOutputs(Connectivity):
    """Shared state handling for connectivities whose blocks see every earlier output."""

    def start(self, x0: torch.Tensor) -> State:
        return [x0]

    def update(self, state: State, out: torch.Tensor) -> State:
        return [*state, out]

    def readout(self, state: State) -> torch.Tensor:
        return state[-1]


class DenseFormer(_AllOutputs):
    """DenseFormer's depth-weighted average: block i sees ``sum_j a_ij x_j`` (j < i, a init 1)."""

    name = "denseformer"

    def __init__(self, depth: int, dim: int) -> None:
        super().__init__(depth, dim)
        self.weights = nn.ParameterList([nn.Parameter(torch.ones(i + 1)) for i in range(depth)])

    def block_input(self, i: int, state: State) -> torch.Tensor:
        stacked = torch.stack(state, dim=0)
        weights = self.weights[i].view(-1, *([1] * (stacked.dim() - 1)))
        return (weights * stacked).sum(dim=0)

    def truncated(self, k: int) -> Connectivity:
        new = super().truncated(k)
        new.weights = nn.ParameterList(list(new.weights)[:k])
        return new


class DenseNet(_AllOutputs):
    """DenseNet-style: block i sees a bias-free projection of ``concat(x_0..x_{i-1})``.

    Projections start as stacked identities, so at initialisation block i sees the plain sum of
    all earlier outputs.
    """

    name = "dense"

    def __init__(self, depth: int, dim: int) -> None:
        super().__init__(depth, dim)
        self.projections = nn.ModuleList()
        for i in range(depth):
            proj = nn.Linear((i + 1) * dim, dim, bias=False)
            with torch.no_grad():
                proj.weight.copy_(torch.eye(dim).repeat(1, i + 1))
            self.projections.append(proj)

    def block_input(self, i: int, state: State) -> torch.Tensor:
        return self.projections[i](torch.cat(state, dim=-1))

    def truncated(self, k: int) -> Connectivity:
        new = super().truncated(k)
        new.projections = nn.ModuleList(list(new.projections)[:k])
        return new


CONNECTIVITIES: dict[str, type[Connectivity]] = {
    cls.name: cls for cls in (Residual, AutoCompressing, DirectGradientACN, DenseNet, DenseFormer, Plain)
}


def make_connectivity(name: str, depth: int, dim: int) -> Connectivity:
    """Create the connectivity called ``name`` for ``depth`` blocks of width ``dim``."""
    if name not in CONNECTIVITIES:
        raise unknown_choice("connectivity", name, CONNECTIVITIES)
    return CONNECTIVITIES[name](depth, dim)
