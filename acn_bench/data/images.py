"""Image sets by name, kept in memory as uint8 tensors: ``load_images(name, split, root)``.

Datasets (:func:`list_datasets`):

* ``digits``: scikit-learn's 1,797 8x8 grey digits (values 0..16 scaled to 0..255), always
  offline. It has no official split: train and test are a fixed stratified 80/20 split
  (``train_test_split(test_size=0.2, stratify=y, random_state=0)``), 1,437 / 360 images.
* ``cifar10``: the official python archive, or the CIFAR-10 JPEG archive (class folders).
* ``cifar100``: the official python archive (100 fine labels).
* ``tiny-imagenet``: the Tiny-ImageNet layout; ``test`` (alias ``val``) is the labelled
  validation set; classes are the sorted wnids.
* ``imagenet``: class folders ``train/<wnid>/*.JPEG`` and ``val/<wnid>/*.JPEG``; needs
  ``image_size``, since its images differ in size.
* ``imagefolder:PATH``: a folder or a tar / tar.gz / zip archive with ``train/<class>/<image>``
  and ``test/<class>/<image>`` (or ``val/``).

Where files are looked for, in order: the dataset's environment variable (``ACN_BENCH_CIFAR10``,
``ACN_BENCH_CIFAR100``, ``ACN_BENCH_TINY_IMAGENET``, ``ACN_BENCH_IMAGENET``: an archive or a
folder), then the standard file names inside the data root: the ``root`` argument, else
``$ACN_BENCH_DATA``, else ``~/.cache/acn-bench/data``. Only with ``download=True``, and only when
nothing is found, CIFAR-10 / CIFAR-100 are downloaded into the data root by torchvision.

``image_size`` resizes every image so that its shorter side is ``image_size`` and centre-crops it
to a square (:func:`acn_bench.data.sources.resize_shorter_and_crop`). Decoded sets are cached (see
:mod:`acn_bench.data.cache`); ``cache=False`` reads the source again and writes no cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from acn_bench.data import sources
from acn_bench.data.cache import cache_file, load_cached, save_cached
from acn_bench.data.sources import RawSet
from acn_bench.errors import UserError, require, unknown_choice

DATA_ENV = "ACN_BENCH_DATA"
DEFAULT_DATA_ROOT = "~/.cache/acn-bench/data"
IMAGEFOLDER = "imagefolder:"
SPLITS = ("train", "test")

SKLEARN = "sklearn"
OFFICIAL = "official-archive"
JPEG = "jpeg-archive"
FOLDERS = "imagefolder"
TINY = "tiny-imagenet-layout"


@dataclass(frozen=True, eq=False)
class ImageSet:
    """One split of an image dataset, in memory.

    Attributes:
        images: ``uint8 N x C x H x W``, contiguous, on the CPU.
        labels: ``int64 N``.
        classes: Class names; a label indexes this list.
        name: The dataset name as the user gave it, e.g. ``"cifar10"``, ``"imagefolder:/x/y"``.
        source: Where it came from: ``sklearn``, ``official-archive``, ``jpeg-archive``,
            ``imagefolder`` or ``tiny-imagenet-layout``.
        split: ``"train"`` or ``"test"``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str
    source: str
    split: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(
                f"labels must be int64 of length {len(self.images)}, got {self.labels.dtype} {tuple(self.labels.shape)}"
            )

    @property
    def num_classes(self) -> int:
        """The number of classes (``len(classes)``)."""
        return len(self.classes)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape)
        return (
            f"ImageSet(name={self.name!r}, split={self.split!r}, source={self.source!r}, images={shape}, "
            f"classes={self.num_classes})"
        )

    def subset(self, indices: Sequence[int] | torch.Tensor) -> ImageSet:
        """The images at ``indices`` (positions, or a boolean mask), with the same classes.

        Args:
            indices: Positions in this set (any sequence, range or integer tensor), or a boolean
                mask of length ``len(self)``.

        Returns:
            A new set; its images are a contiguous copy.
        """
        index = torch.as_tensor(indices)
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        index = index.to(torch.int64)
        return replace(self, images=self.images[index].contiguous(), labels=self.labels[index])


@dataclass(frozen=True)
class _Location:
    env: str
    candidates: tuple[tuple[str, str], ...]
    torchvision_class: str | None
    how_to_get: str


_LOCATIONS = {
    "cifar10": _Location(
        "ACN_BENCH_CIFAR10",
        (
            ("cifar-10-python.tar.gz", OFFICIAL),
            ("cifar-10-batches-py", OFFICIAL),
            ("cifar10-jpg.tar.gz", JPEG),
            ("cifar10-jpg", JPEG),
        ),
        "CIFAR10",
        "pass --download to fetch the official archive with torchvision",
    ),
    "cifar100": _Location(
        "ACN_BENCH_CIFAR100",
        (("cifar-100-python.tar.gz", OFFICIAL), ("cifar-100-python", OFFICIAL)),
        "CIFAR100",
        "pass --download to fetch the official archive with torchvision",
    ),
    "tiny-imagenet": _Location(
        "ACN_BENCH_TINY_IMAGENET",
        (("tiny-imagenet-200.tar.gz", TINY), ("tiny-imagenet-200.zip", TINY), ("tiny-imagenet-200", TINY)),
        None,
        "download tiny-imagenet-200.zip from http://cs231n.stanford.edu/tiny-imagenet-200.zip",
    ),
    "imagenet": _Location(
        "ACN_BENCH_IMAGENET",
        (("imagenet", FOLDERS),),
        None,
        "arrange the ILSVRC-2012 images as imagenet/train/<wnid>/*.JPEG and imagenet/val/<wnid>/*.JPEG",
    ),
}


@dataclass(frozen=True)
class _Pickles:
    train: list[str]
    test: list[str]
    meta: str
    labels_key: bytes
    names_key: bytes


_PICKLES = {
    "cifar10": _Pickles(
        [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "batches.meta", b"labels", b"label_names"
    ),
    "cifar100": _Pickles(["train"], ["test"], "meta", b"fine_labels", b"fine_label_names"),
}
_CIFAR_PICKLE_NAMES = frozenset({*_PICKLES["cifar10"].train, *_PICKLES["cifar10"].test, _PICKLES["cifar10"].meta})


def list_datasets() -> list[str]:
    """The dataset names :func:`load_images` accepts (``imagefolder:PATH`` takes a path)."""
    return ["cifar10", "cifar100", "digits", f"{IMAGEFOLDER}PATH", "imagenet", "tiny-imagenet"]


def load_images(
    name: str,
    split: str = "train",
    root: str | Path | None = None,
    *,
    download: bool = False,
    image_size: int | None = None,
    cache: bool = True,
) -> ImageSet:
    """Load one split of an image dataset into memory.

    Args:
        name: A name of :func:`list_datasets`, e.g. ``"cifar10"`` or ``"imagefolder:/data/pets"``.
        split: ``"train"`` or ``"test"`` (``"val"`` is accepted for ``tiny-imagenet`` and
            ``imagenet``, whose labelled held-out set is called so).
        root: The data root; default ``$ACN_BENCH_DATA``, else ``~/.cache/acn-bench/data``.
        download: Download CIFAR-10 / CIFAR-100 with torchvision when no local copy is found.
        image_size: Resize (shorter side, then centre crop) to ``image_size x image_size``;
            required for ``imagenet``.
        cache: Read and write the decoded-set cache under ``$ACN_BENCH_CACHE``.

    Returns:
        The split as an :class:`ImageSet`.

    Raises:
        UserError: An unknown name, split or size; data that cannot be found or read.
    """
    location = _check_name(name)
    accepted = (*SPLITS, "val") if name in ("tiny-imagenet", "imagenet") else SPLITS
    if split not in accepted:
        raise unknown_choice("split", split, accepted)
    split = "test" if split == "val" else split
    require(
        image_size is None or (isinstance(image_size, int) and not isinstance(image_size, bool) and image_size > 0),
        f"image_size must be a positive integer, got {image_size!r}.",
    )
    if name == "digits":
        raw = _digits(split)
        if image_size:
            raw = raw._replace(images=sources.resize_and_crop_images(raw.images, image_size))
        return ImageSet(*raw, name=name, source=SKLEARN, split=split)
    require(
        name != "imagenet" or image_size is not None,
        "imagenet needs an image_size (--image-size, e.g. 64 or 224): its images differ in size and "
        "are resized (shorter side) and centre-cropped to one square size to be kept in memory.",
    )
    if location is None:
        path, source = _imagefolder_path(name), FOLDERS
    else:
        path, source = _locate(name, location, _data_root(root), download)

    def read() -> RawSet:
        return _read(name, source, sources.open_store(path), split, image_size)

    raw = _cached(cache_file(name, split, image_size, path), read) if cache else read()
    return ImageSet(*raw, name=name, source=source, split=split)


def dataset_location(name: str, root: str | Path | None = None) -> Path:
    """The folder or archive that holds dataset ``name`` (found as :func:`load_images` finds it, never downloaded).

    Raises:
        UserError: An unknown name, or data that cannot be found (the message says where it looked).
    """
    location = _check_name(name)
    if name == "digits":
        raise UserError("dataset 'digits' comes from scikit-learn and has no files; load it with load_images.")
    if location is None:
        return _imagefolder_path(name)
    return _locate(name, location, _data_root(root), download=False)[0]


def _check_name(name: str) -> _Location | None:
    if name.startswith(IMAGEFOLDER):
        require(
            bool(name[len(IMAGEFOLDER) :].strip()),
            f"dataset {name!r} names no folder: write imagefolder:PATH, with PATH a folder or a "
            f".tar/.tar.gz/.zip archive holding train/<class>/<image> and test/<class>/<image>.",
        )
        return None
    if name != "digits" and name not in _LOCATIONS:
        raise unknown_choice("dataset", name, list_datasets())
    return _LOCATIONS.get(name)


def _data_root(root: str | Path | None) -> Path:
    return Path(root if root is not None else os.environ.get(DATA_ENV) or DEFAULT_DATA_ROOT).expanduser()


def _imagefolder_path(name: str) -> Path:
    path = Path(name[len(IMAGEFOLDER) :]).expanduser()
    require(
        path.exists(),
        f"the image folder {str(path)!r} of dataset {name!r} does not exist; expected a folder or a "
        f".tar/.tar.gz/.zip archive holding train/<class>/<image> and test/<class>/<image> (or val/).",
    )
    return path


def _locate(name: str, location: _Location, root: Path, download: bool) -> tuple[Path, str]:
    env_value = os.environ.get(location.env)
    if env_value:
        path = Path(env_value).expanduser()
        require(
            path.exists(),
            f"{location.env} is set to {env_value!r}, which does not exist; point it at the {name} "
            f"archive or folder, or unset it to look in the data root {root}.",
        )
        return path, _detect_cifar10(path) if name == "cifar10" else location.candidates[0][1]
    for file, source in location.candidates:
        if (root / file).exists():
            return root / file, source
    if download and location.torchvision_class:
        _download(location.torchvision_class, root)
        return _locate(name, location, root, download=False)
    looked = ", ".join([f"${location.env} (not set)", *(str(root / file) for file, _ in location.candidates)])
    refused = f" (--download cannot fetch {name})" if download else ""
    raise UserError(
        f"{name} data not found{refused}. Looked for: {looked}. The data root {root} is the root "
        f"argument (--data-root), else ${DATA_ENV}, else {DEFAULT_DATA_ROOT}. Set {location.env} to "
        f"the archive or folder, put one of these files in the data root, or {location.how_to_get}."
    )


def _detect_cifar10(path: Path) -> str:
    for member, _ in sources.open_store(path).members():
        base = member.rsplit("/", 1)[-1]
        if base in _CIFAR_PICKLE_NAMES:
            return OFFICIAL
        if sources.is_image(member):
            return JPEG
    raise UserError(
        f"{path} holds neither the official CIFAR-10 python batches (data_batch_1 ... test_batch, "
        f"batches.meta) nor class folders of images (train/<class>/<image>, test/<class>/<image>)."
    )


def _download(torchvision_class: str, root: Path) -> None:
    import torchvision.datasets

    root.mkdir(parents=True, exist_ok=True)
    try:
        getattr(torchvision.datasets, torchvision_class)(root=str(root), train=True, download=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise UserError(
            f"downloading {torchvision_class} into {root} with torchvision failed ({exc}). Without "
            f"internet access, copy the official archive into {root} or set its environment variable."
        ) from None


def _read(name: str, source: str, store: sources.Store, split: str, image_size: int | None) -> RawSet:
    if source == TINY:
        return sources.read_tiny_imagenet(store, split, image_size)
    if source != OFFICIAL:
        return sources.read_class_folders(store, split, image_size)
    spec = _PICKLES[name]
    batches = spec.train if split == "train" else spec.test
    raw = sources.read_cifar_pickles(store, batches, spec.meta, spec.labels_key, spec.names_key)
    return raw._replace(images=sources.resize_and_crop_images(raw.images, image_size)) if image_size else raw


def _cached(file: Path, read: Callable[[], RawSet]) -> RawSet:
    payload = load_cached(file)
    if payload is not None and payload.keys() == set(RawSet._fields):
        return RawSet(**payload)
    raw = read()
    save_cached(file, raw._asdict())
    return raw


def _digits(split: str) -> RawSet:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)[:, None]
    train, test = train_test_split(np.arange(len(images)), test_size=0.2, stratify=digits.target, random_state=0)
    chosen = np.sort(train if split == "train" else test)
    labels = torch.from_numpy(digits.target[chosen].astype(np.int64))
    return RawSet(torch.from_numpy(np.ascontiguousarray(images[chosen])), labels, [str(d) for d in range(10)])
