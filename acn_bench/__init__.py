"""acn-bench: Auto-Compressing Networks versus residual networks, benchmarked."""

from acn_bench.backbones import Backbone, create_backbone, list_backbones, register_backbone
from acn_bench.errors import UserError

__version__ = "0.1.0"

__all__ = ["Backbone", "UserError", "create_backbone", "list_backbones", "register_backbone", "__version__"]
