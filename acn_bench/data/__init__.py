"""Datasets in memory: image sets as uint8 tensors (:func:`load_images`), by name."""

from acn_bench.data.images import ImageSet, list_datasets, load_images

__all__ = ["ImageSet", "list_datasets", "load_images"]
