"""Reading image sets from folders and archives, without extracting anything to disk.

Three containers are read the same way, as a stream of ``(member name, read)`` pairs: a
directory, a tar archive (any compression that :mod:`tarfile` reads, streamed in one pass) and a
zip archive. On top of them sit the readers of the on-disk formats:

* :func:`read_cifar_pickles`: the official CIFAR-10 / CIFAR-100 python batches;
* :func:`read_class_folders`: ``[prefix/]train/<class>/<image>`` and ``test/<class>/<image>``
  (``val/`` is accepted for ``test``), the layout of the CIFAR-10 JPEG archive, ImageNet and any
  ``imagefolder:PATH``;
* :func:`read_tiny_imagenet`: the Tiny-ImageNet layout.

Images are decoded with Pillow in a thread pool, converted to RGB and, when an ``image_size`` is
given, resized so that the shorter side is ``image_size`` and centre-cropped to a square. The
decoding shows a bar on the active progress display (:mod:`acn_bench.progress`): images decoded,
of how many where a folder or a zip archive lists them cheaply (a tar archive is streamed once, so
its count is known only at the end), and the rate.
Images read from folders are returned in a fixed pseudo-random order (sorted by class and file
name, then permuted with seed 0), as in the official CIFAR batches, so that any prefix of a set
is a sample of all its classes.
"""

from __future__ import annotations

import io
import lzma
import os
import pickle
import tarfile
import zipfile
import zlib
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator, NamedTuple, Protocol

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from acn_bench import progress
from acn_bench.errors import UserError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm"})
SPLIT_FOLDERS = {"train": ("train",), "test": ("test", "val")}
ORDER_SEED = 0
_CHUNK = 256
_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError)

Member = tuple[str, Callable[[], bytes]]


class RawSet(NamedTuple):
    """What a reader returns: ``uint8 N x C x H x W`` images, ``int64`` labels, class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]


class Store(Protocol):
    """A directory or an archive whose regular files are read as a stream of members."""

    path: Path
    lists_cheaply: bool  # whether the names can be listed without reading the contents (not a tar stream)

    def members(self) -> Iterator[Member]:
        """Yield ``(posix name relative to the store, read)`` for every regular file.

        ``read()`` returns the file's bytes; for a tar archive it must be called before the
        iteration moves on to the next member.
        """
        ...


def unreadable_source(path: Path, detail: object) -> UserError:
    """The error for an archive or file that cannot be read."""
    return UserError(
        f"{path} is corrupt or unreadable ({detail}). Delete it and download it again "
        f"(or point the data path elsewhere)."
    )


class DirStore:
    """The files under a directory, in sorted order."""

    lists_cheaply = True

    def __init__(self, path: Path) -> None:
        self.path = path

    def members(self) -> Iterator[Member]:
        for folder, dirs, files in os.walk(self.path):
            dirs.sort()
            for file in sorted(files):
                full = Path(folder, file)
                yield full.relative_to(self.path).as_posix(), partial(self._read, full)

    def _read(self, file: Path) -> bytes:
        try:
            return file.read_bytes()
        except OSError as exc:
            raise unreadable_source(file, exc) from None


class TarStore:
    """The regular files of a (compressed) tar archive, streamed in archive order."""

    lists_cheaply = False

    def __init__(self, path: Path) -> None:
        self.path = path

    def members(self) -> Iterator[Member]:
        try:
            with tarfile.open(self.path, "r|*") as archive:
                for info in archive:
                    if info.isfile():
                        yield _clean(info.name), partial(self._read, archive, info)
        except _ARCHIVE_ERRORS as exc:
            raise unreadable_source(self.path, exc) from None

    def _read(self, archive: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
        try:
            return archive.extractfile(info).read()  # type: ignore[union-attr]  # regular member
        except _ARCHIVE_ERRORS as exc:
            raise unreadable_source(self.path, f"{info.name}: {exc}") from None


class ZipStore:
    """The regular files of a zip archive, in archive order."""

    lists_cheaply = True

    def __init__(self, path: Path) -> None:
        self.path = path

    def members(self) -> Iterator[Member]:
        try:
            with zipfile.ZipFile(self.path) as archive:
                for info in archive.infolist():
                    if not info.is_dir():
                        yield _clean(info.filename), partial(self._read, archive, info)
        except _ARCHIVE_ERRORS as exc:
            raise unreadable_source(self.path, exc) from None

    def _read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        try:
            return archive.read(info)
        except _ARCHIVE_ERRORS as exc:
            raise unreadable_source(self.path, f"{info.filename}: {exc}") from None


def count_members(store: Store, keep: Callable[[str], bool]) -> int | None:
    """How many members of ``store`` ``keep`` accepts, when it lists them cheaply; ``None`` for a tar stream."""
    if not store.lists_cheaply:
        return None
    return sum(1 for name, _ in store.members() if keep(name))


def open_store(path: Path) -> Store:
    """Open a directory, a zip archive or (anything else) a tar archive for reading.

    Args:
        path: An existing directory or archive file.

    Returns:
        The store; a file that is no readable archive raises :class:`UserError` when read.
    """
    if path.is_dir():
        return DirStore(path)
    if zipfile.is_zipfile(path):
        return ZipStore(path)
    return TarStore(path)


def _clean(name: str) -> str:
    return PurePosixPath(name.lstrip("/")).as_posix().removeprefix("./")


def is_image(name: str) -> bool:
    """Whether a member name has an image extension and is no hidden (``.``) file."""
    path = PurePosixPath(name)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def resize_shorter_and_crop(image: Image.Image, size: int) -> Image.Image:
    """Resize so that the shorter side is ``size``, then centre-crop to ``size x size``."""
    width, height = image.size
    if (width, height) == (size, size):
        return image
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return image.crop((left, top, left + size, top + size))


def resize_and_crop_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Apply :func:`resize_shorter_and_crop` (Pillow, bicubic) to every image of a ``uint8 N x C x H x W``
    tensor (C is 1 or 3)."""
    if tuple(images.shape[-2:]) == (size, size):
        return images
    grey = images.shape[1] == 1
    arrays = images.permute(0, 2, 3, 1).numpy()
    out = np.empty((len(arrays), images.shape[1], size, size), dtype=np.uint8)
    for i, array in enumerate(arrays):
        resized = np.asarray(resize_shorter_and_crop(Image.fromarray(array[..., 0] if grey else array), size))
        out[i] = resized[None] if grey else resized.transpose(2, 0, 1)
    return torch.from_numpy(out)


def _decode(origin: Path, chunk: list[tuple[str, bytes]], image_size: int | None) -> list[tuple[str, np.ndarray]]:
    decoded = []
    for name, data in chunk:
        try:
            with Image.open(io.BytesIO(data)) as opened:
                image = opened.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise UserError(
                f"{name} in {origin} cannot be decoded as an image ({exc}). The file may be corrupt: "
                f"replace it, or delete {origin} and download it again."
            ) from None
        decoded.append((name, np.asarray(resize_shorter_and_crop(image, image_size) if image_size else image)))
    return decoded


def decode_all(
    origin: Path,
    items: Iterable[tuple[str, bytes]],
    image_size: int | None,
    what: str = "images",
    total: int | None = None,
) -> dict[str, np.ndarray]:
    """Decode encoded images to ``H x W x 3`` uint8 arrays in a thread pool, with a progress bar.

    Args:
        origin: The folder or archive the images come from (named in errors).
        items: ``(name, encoded bytes)`` pairs; consumed lazily, so an archive is streamed.
        image_size: Resize with :func:`resize_shorter_and_crop` to this size, or keep each image's own size.
        what: what the bar says is decoded (``"train images"``).
        total: how many images ``items`` holds, when known.

    Returns:
        The decoded arrays by name.

    Raises:
        UserError: An image cannot be decoded.
    """
    workers = os.cpu_count() or 1
    decoded: dict[str, np.ndarray] = {}
    pending: deque[Future[list[tuple[str, np.ndarray]]]] = deque()
    with (
        ThreadPoolExecutor(workers) as pool,
        progress.task(f"decoding {what} of {origin.name}", total=total, unit="img") as bar,
    ):

        def collect(future: Future[list[tuple[str, np.ndarray]]]) -> None:
            done = future.result()
            decoded.update(done)
            bar.advance(len(done))

        chunk: list[tuple[str, bytes]] = []
        for item in items:
            chunk.append(item)
            if len(chunk) == _CHUNK:
                pending.append(pool.submit(_decode, origin, chunk, image_size))
                chunk = []
                if len(pending) > 2 * workers:
                    collect(pending.popleft())
        pending.append(pool.submit(_decode, origin, chunk, image_size))
        for future in pending:
            collect(future)
    return decoded


def assemble(
    origin: Path, decoded: dict[str, np.ndarray], labelled: list[tuple[int, str]], classes: list[str]
) -> RawSet:
    """Stack decoded images in the fixed order of this module's docstring.

    Args:
        origin: The folder or archive the images come from (named in errors).
        decoded: ``H x W x C`` arrays by name.
        labelled: ``(label, name)`` for every image of the set.
        classes: The class names, indexed by label.

    Returns:
        The set, images ``uint8 N x C x H x W``.

    Raises:
        UserError: The images differ in size.
    """
    if not labelled:
        raise UserError(f"no images found in {origin}.")
    labelled = sorted(labelled)
    order = np.random.default_rng(ORDER_SEED).permutation(len(labelled))
    names = [labelled[i][1] for i in order]
    first = decoded[names[0]]
    out = np.empty((len(names), first.shape[2], first.shape[0], first.shape[1]), dtype=np.uint8)
    for i, name in enumerate(names):
        array = decoded[name]
        if array.shape != first.shape:
            raise UserError(
                f"images in {origin} differ in size: {names[0]} is {first.shape[1]}x{first.shape[0]}, "
                f"{name} is {array.shape[1]}x{array.shape[0]}. Pass image_size (--image-size) to resize "
                f"them all to one square size."
            )
        out[i] = array.transpose(2, 0, 1)
    labels = torch.tensor([labelled[i][0] for i in order], dtype=torch.int64)
    return RawSet(torch.from_numpy(out), labels, classes)


def _class_folder_image(name: str) -> tuple[str, str, str] | None:
    """``(prefix, split folder, class)`` of an image at ``[prefix/]<train|test|val>/<class>/<image>``, else None."""
    parts = name.split("/")
    if len(parts) < 3 or not is_image(name) or parts[-3] not in ("train", "test", "val"):
        return None
    return "/".join(parts[:-3]), parts[-3], parts[-2]


def read_class_folders(store: Store, split: str, image_size: int | None) -> RawSet:
    """Read ``[prefix/]<split folder>/<class>/<image>``; classes are all class folders, sorted.

    The class list is the union over the train and test folders, so both splits of one store
    share the label order. A top-level prefix folder (as in many archives) is detected.

    Args:
        store: The directory or archive.
        split: ``"train"`` (folder ``train``) or ``"test"`` (folder ``test``, else ``val``).
        image_size: See :func:`decode_all`.

    Returns:
        The set.

    Raises:
        UserError: No class folders, several candidate prefixes, no folder for the split, or
            undecodable images.
    """
    layout: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    parsed: dict[str, tuple[str, str, str]] = {}

    def in_split(name: str) -> bool:
        found = _class_folder_image(name)
        return found is not None and found[1] in SPLIT_FOLDERS[split]

    def wanted() -> Iterator[tuple[str, bytes]]:
        for name, read in store.members():
            found = _class_folder_image(name)
            if found is None:
                continue
            prefix, folder, cls = found
            layout[prefix][folder].add(cls)
            if folder in SPLIT_FOLDERS[split]:
                parsed[name] = found
                yield name, read()

    decoded = decode_all(store.path, wanted(), image_size, f"{split} images", count_members(store, in_split))
    expected = "train/<class>/<image> and test/<class>/<image> (or val/<class>/<image>)"
    if not layout:
        raise UserError(f"no class folders found in {store.path}; expected {expected}.")
    if len(layout) > 1:
        found = ", ".join(repr(p or ".") for p in sorted(layout))
        raise UserError(f"{store.path} holds class folders under several prefixes ({found}); expected one {expected}.")
    prefix, folders = next(iter(layout.items()))
    folder = next((f for f in SPLIT_FOLDERS[split] if f in folders), None)
    if folder is None:
        looked = " or ".join(f"{f}/" for f in SPLIT_FOLDERS[split])
        raise UserError(f"{store.path} has no {looked} class folders for split {split!r}; expected {expected}.")
    classes = sorted(set().union(*folders.values()))
    index = {cls: i for i, cls in enumerate(classes)}
    labelled = [(index[c], name) for name, (p, f, c) in parsed.items() if (p, f) == (prefix, folder)]
    return assemble(store.path, decoded, labelled, classes)


def _tiny_imagenet_split(name: str) -> str | None:
    """``train`` for ``train/<wnid>/images/<image>``, ``test`` for ``val/images/<image>``, else None."""
    parts = name.split("/")
    if not (is_image(name) and len(parts) >= 3 and parts[-2] == "images"):
        return None
    if len(parts) >= 4 and parts[-4] == "train":
        return "train"
    return "test" if parts[-3] == "val" else None


def read_tiny_imagenet(store: Store, split: str, image_size: int | None) -> RawSet:
    """Read the Tiny-ImageNet layout; classes are the sorted wnids of ``wnids.txt``.

    ``train`` reads ``train/<wnid>/images/*``; ``test`` reads the labelled validation set
    ``val/images/*`` with labels from ``val/val_annotations.txt``.

    Args:
        store: The ``tiny-imagenet-200`` directory or archive (a prefix folder is detected).
        split: ``"train"`` or ``"test"``.
        image_size: See :func:`decode_all`.

    Returns:
        The set.

    Raises:
        UserError: A file of the layout is missing or an image has no known class.
    """
    texts: dict[str, bytes] = {}

    def wanted() -> Iterator[tuple[str, bytes]]:
        for name, read in store.members():
            if name.rsplit("/", 1)[-1] in ("wnids.txt", "val_annotations.txt"):
                texts[name] = read()
            elif _tiny_imagenet_split(name) == split:
                yield name, read()

    total = count_members(store, lambda name: _tiny_imagenet_split(name) == split)
    decoded = decode_all(store.path, wanted(), image_size, f"{split} images", total)
    layout = "tiny-imagenet-200/wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG, val/val_annotations.txt"
    wnid_files = sorted((n for n in texts if n.endswith("wnids.txt")), key=lambda n: (n.count("/"), n))
    if not wnid_files:
        raise UserError(f"{store.path} has no wnids.txt: not the Tiny-ImageNet layout ({layout}).")
    prefix = wnid_files[0].removesuffix("wnids.txt")
    wnids = sorted(set(_text(store.path, wnid_files[0], texts[wnid_files[0]]).split()))
    index = {wnid: i for i, wnid in enumerate(wnids)}
    if split == "train":
        owners = {name: name.split("/")[-3] for name in decoded if name.startswith(prefix + "train/")}
    else:
        notes = prefix + "val/val_annotations.txt"
        if notes not in texts:
            raise UserError(f"{store.path} has no {notes}, which labels the validation images ({layout}).")
        lines = _text(store.path, notes, texts[notes]).splitlines()
        by_file = dict(line.split("\t")[:2] for line in lines if "\t" in line)
        owners = {n: by_file.get(n.rsplit("/", 1)[-1], "") for n in decoded if n.startswith(prefix + "val/")}
    unknown = sorted(name for name, wnid in owners.items() if wnid not in index)
    if unknown:
        raise UserError(
            f"{unknown[0]} in {store.path} belongs to no class of {wnid_files[0]} ({len(unknown)} such images)."
        )
    labelled = [(index[wnid], name) for name, wnid in owners.items()]
    return assemble(store.path, decoded, labelled, wnids)


def _text(origin: Path, name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unreadable_source(origin, f"{name}: {exc}") from None


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a data file cannot run code."""

    _ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}")
        return super().find_class(module, name)


def _unpickle(origin: Path, name: str, data: bytes, keys: tuple[bytes, ...]) -> dict:
    try:
        content = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # a damaged pickle can fail in many ways; all mean "corrupt"
        raise unreadable_source(origin, f"{name}: {type(exc).__name__}: {exc}") from None
    missing = [k.decode() for k in keys if not isinstance(content, dict) or k not in content]
    if missing:
        raise unreadable_source(origin, f"{name} has no {', '.join(missing)}")
    return content


def read_cifar_pickles(store: Store, batches: list[str], meta: str, labels_key: bytes, names_key: bytes) -> RawSet:
    """Read official CIFAR python batches (``{b"data": N x 3072 uint8, labels_key: [...]}``).

    Args:
        store: The archive or the extracted folder; files are found by base name.
        batches: Base names of the batch files of the split, in order.
        meta: Base name of the file that holds the class names.
        labels_key: ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100).
        names_key: ``b"label_names"`` or ``b"fine_label_names"``.

    Returns:
        The set, images ``uint8 N x 3 x 32 x 32``.

    Raises:
        UserError: A file is missing or cannot be unpickled.
    """
    wanted = {*batches, meta}
    found: dict[str, bytes] = {}
    with progress.task(f"reading {store.path.name}", total=len(wanted), unit="files") as bar:
        for name, read in store.members():
            base = name.rsplit("/", 1)[-1]
            if base in wanted and base not in found:
                found[base] = read()
                bar.advance()
                if len(found) == len(wanted):
                    break
    missing = [f for f in [*batches, meta] if f not in found]
    if missing:
        raise UserError(
            f"{store.path} has no {', '.join(missing)}: it is not a complete official CIFAR python "
            f"archive. Delete it and download it again."
        )
    parts = [_unpickle(store.path, b, found[b], (b"data", labels_key)) for b in batches]
    names = _unpickle(store.path, meta, found[meta], (names_key,))[names_key]
    images = np.concatenate([np.asarray(p[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32) for p in parts])
    labels = torch.tensor([label for p in parts for label in p[labels_key]], dtype=torch.int64)
    if len(labels) != len(images):
        raise unreadable_source(store.path, f"{len(images)} images but {len(labels)} labels")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return RawSet(torch.from_numpy(images), labels, classes)
