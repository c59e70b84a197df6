"""Backbones: ACN and residual twins (and other connectivities) of the same blocks."""

from acn_bench.backbones import presets as _presets  # noqa: F401  (registers the built-ins)
from acn_bench.backbones.base import Backbone, Block, Head, PreNorm
from acn_bench.backbones.connectivity import CONNECTIVITIES, Connectivity, make_connectivity
from acn_bench.backbones.registry import (
    ENTRY_POINT_GROUP,
    backbone_entry,
    backbone_options,
    create_backbone,
    is_built_in,
    list_backbones,
    register_backbone,
)

__all__ = [
    "Backbone",
    "Block",
    "CONNECTIVITIES",
    "Connectivity",
    "ENTRY_POINT_GROUP",
    "Head",
    "PreNorm",
    "backbone_entry",
    "backbone_options",
    "create_backbone",
    "is_built_in",
    "list_backbones",
    "make_connectivity",
    "register_backbone",
]
