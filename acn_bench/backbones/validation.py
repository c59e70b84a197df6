"""Checks of architecture arguments, raised as user errors before any layer is built."""

from __future__ import annotations

from acn_bench.errors import require


def check_architecture(
    *, depth: int, dim: int, num_classes: int, img_size: int | None = None, patch_size: int | None = None
) -> None:
    """Reject depths, widths and patch geometries that cannot build a model (text models have no patches)."""
    require(isinstance(depth, int) and depth >= 1, f"depth must be a whole number >= 1, got {depth!r}.")
    require(isinstance(dim, int) and dim >= 1, f"dim must be a whole number >= 1, got {dim!r}.")
    require(num_classes >= 1, f"num_classes must be >= 1, got {num_classes!r}.")
    if img_size is None or patch_size is None:
        return
    require(
        patch_size >= 1 and img_size % patch_size == 0, f"patch_size {patch_size!r} must divide img_size {img_size!r}."
    )
