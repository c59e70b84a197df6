"""Tests of ``acn_bench.data`` image loading, on tiny files written in each real on-disk format."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image

from acn_bench.data import ImageSet, cache, list_datasets, load_images, sources
from acn_bench.errors import UserError

DATASET_ENV_VARS = ("ACN_BENCH_CIFAR10", "ACN_BENCH_CIFAR100", "ACN_BENCH_TINY_IMAGENET", "ACN_BENCH_IMAGENET")
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the cache and the data root at ``tmp_path`` and clear the dataset variables."""
    monkeypatch.setenv("ACN_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ACN_BENCH_DATA", str(tmp_path / "data"))
    for var in DATASET_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "data").mkdir()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


class DecoderCalled(Exception):
    """Raised by a decoder that a test forbids to run."""


def forbid(*_: object, **__: object) -> None:
    raise DecoderCalled


# --- writers of the real formats -----------------------------------------------------------


def random_images(n: int, seed: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8)


def flat_image(colour: tuple[int, int, int], size: int) -> np.ndarray:
    """A one-colour ``3 x size x size`` image: JPEG keeps it within a few grey levels."""
    return np.broadcast_to(np.array(colour, dtype=np.uint8)[:, None, None], (3, size, size)).copy()


def encode(image: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))).save(buffer, format=fmt, quality=95)
    return buffer.getvalue()


def write_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def write_dir(path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


Expected = dict[str, tuple[np.ndarray, list[int]]]


def cifar10_files() -> tuple[dict[str, bytes], Expected]:
    """Official CIFAR-10 python batches: 5 train batches of 2 images, a test batch of 4."""
    prefix = "cifar-10-batches-py/"
    files, expected = {}, {"train": ([], []), "test": ([], [])}
    for i, batch in enumerate([f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]):
        n = 4 if batch == "test_batch" else 2
        data = random_images(n, seed=i).reshape(n, 3072)
        labels = [int(v) for v in np.random.default_rng(100 + i).integers(0, 10, n)]
        content = {b"batch_label": batch.encode(), b"labels": labels, b"data": data}
        files[prefix + batch] = pickle.dumps(content, protocol=2)
        split = "test" if batch == "test_batch" else "train"
        expected[split][0].append(data)
        expected[split][1].extend(labels)
    files[prefix + "batches.meta"] = pickle.dumps(
        {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_cases_per_batch": 2}, protocol=2
    )
    files[prefix + "readme.html"] = b"<html></html>"
    return files, {s: (np.concatenate(d).reshape(-1, 3, 32, 32), lbl) for s, (d, lbl) in expected.items()}


def cifar100_files() -> tuple[dict[str, bytes], Expected]:
    """An official CIFAR-100 python archive of 20 images: 12 train, 8 test."""
    files, expected = {}, {}
    for split, n, seed in (("train", 12, 1), ("test", 8, 2)):
        data = random_images(n, seed).reshape(n, 3072)
        fine = [int(v) for v in np.random.default_rng(seed + 10).integers(0, 100, n)]
        content = {
            b"filenames": [f"{i}.png".encode() for i in range(n)],
            b"fine_labels": fine,
            b"coarse_labels": [f // 5 for f in fine],
            b"data": data,
        }
        files[f"cifar-100-python/{split}"] = pickle.dumps(content, protocol=2)
        expected[split] = (data.reshape(n, 3, 32, 32), fine)
    names = {
        b"fine_label_names": [f"fine{i:02d}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i:02d}".encode() for i in range(20)],
    }
    files["cifar-100-python/meta"] = pickle.dumps(names, protocol=2)
    return files, expected


FOLDER_CLASSES = ["bird", "airplane", "cat"]  # written unsorted on purpose


def flat_folder_files(prefix: str) -> tuple[dict[str, bytes], dict[tuple[int, ...], str]]:
    """Class folders of one-colour JPEGs; returns the files and each image's class by colour."""
    files, owner = {}, {}
    for c, cls in enumerate(FOLDER_CLASSES):
        for split, count in (("train", 3), ("test", 2)):
            for i in range(count):
                colour = (40 * c + 20, 60 * i + 30, 200 if split == "train" else 100)
                files[f"{prefix}{split}/{cls}/{i:04d}.jpg"] = encode(flat_image(colour, 32), "JPEG")
                owner[colour] = cls
    return files, owner


def assert_flat_labels(data: ImageSet, owner: dict[tuple[int, ...], str]) -> None:
    """Each decoded one-colour image is close to the colour written for its class."""
    colours = np.array(list(owner))
    for image, label in zip(data.images, data.labels):
        mean = image.double().mean(dim=(1, 2)).numpy()
        nearest = tuple(int(v) for v in colours[np.abs(colours - mean).sum(1).argmin()])
        assert np.abs(np.array(nearest) - mean).max() < 4
        assert data.classes[label] == owner[nearest]


def png_folder_files(
    prefix: str = "", test_folder: str = "test", ext: str = ".png"
) -> tuple[dict[str, bytes], dict[bytes, str]]:
    """Class folders of random-noise PNGs (lossless); returns the files and the class by pixels."""
    files, owner = {}, {}
    for c, cls in enumerate(["dog", "cat"]):
        for split, count in (("train", 3), (test_folder, 2)):
            images = random_images(count, seed=10 * c + len(split), size=8)
            for i, image in enumerate(images):
                files[f"{prefix}{split}/{cls}/img{i}{ext}"] = encode(image, "PNG")
                owner[image.tobytes()] = cls
    return files, owner


def assert_exact_labels(data: ImageSet, owner: dict[bytes, str], count: int) -> None:
    assert len(data) == count
    for image, label in zip(data.images, data.labels):
        assert data.classes[label] == owner[image.numpy().tobytes()]


WNIDS = ["n03000000", "n01000000", "n02000000"]


def tiny_imagenet_files() -> tuple[dict[str, bytes], dict[tuple[int, ...], str]]:
    """The Tiny-ImageNet layout with 2 train and 2 val one-colour JPEGs per wnid (one grey)."""
    p = "tiny-imagenet-200/"
    files = {
        p + "wnids.txt": "\n".join(WNIDS).encode() + b"\n",
        p + "words.txt": b"".join(f"{w}\tthing {w}\n".encode() for w in WNIDS),
    }
    owner, notes = {}, []
    for c, wnid in enumerate(WNIDS):
        files[f"{p}train/{wnid}/{wnid}_boxes.txt"] = f"{wnid}_0.JPEG\t0\t0\t5\t5\n".encode()
        for i in range(2):
            colour = (70 * c + 10, 100 * i + 20, 50)
            files[f"{p}train/{wnid}/images/{wnid}_{i}.JPEG"] = encode(flat_image(colour, 16), "JPEG")
            owner[colour] = wnid
            colour = (70 * c + 10, 100 * i + 20, 220)
            val = f"val_{2 * c + i}.JPEG"
            files[f"{p}val/images/{val}"] = encode(flat_image(colour, 16), "JPEG")
            notes.append(f"{val}\t{wnid}\t0\t0\t5\t5")
            owner[colour] = wnid
    grey = io.BytesIO()
    Image.new("L", (16, 16), 128).save(grey, format="JPEG", quality=95)
    files[f"{p}train/{WNIDS[0]}/images/{WNIDS[0]}_9.JPEG"] = grey.getvalue()
    owner[(128, 128, 128)] = WNIDS[0]
    files[p + "val/val_annotations.txt"] = ("\n".join(notes) + "\n").encode()
    return files, owner


# --- digits ----------------------------------------------------------------------------------


def test_digits_are_the_documented_stratified_split() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    train, test = load_images("digits", "train"), load_images("digits", "test")
    digits = load_digits()
    train_idx, test_idx = train_test_split(np.arange(1797), test_size=0.2, stratify=digits.target, random_state=0)
    assert not set(train_idx) & set(test_idx)
    for data, idx in ((train, np.sort(train_idx)), (test, np.sort(test_idx))):
        assert data.images.dtype == torch.uint8 and data.labels.dtype == torch.int64
        assert data.images.shape == (len(idx), 1, 8, 8) and data.images.is_contiguous()
        scaled = (digits.images[idx] * 255 / 16).round().astype(np.uint8)
        assert torch.equal(data.images[:, 0], torch.from_numpy(scaled))
        assert torch.equal(data.labels, torch.from_numpy(digits.target[idx]))
        assert data.classes == [str(d) for d in range(10)] and data.num_classes == 10
        assert data.source == "sklearn" and data.name == "digits"
    assert (len(train), len(test)) == (1437, 360)
    assert int(train.images.max()) == 255
    assert torch.equal(load_images("digits", "test").images, test.images)


def test_digits_resize_to_image_size() -> None:
    data = load_images("digits", "test", image_size=16)
    assert data.images.shape == (360, 1, 16, 16) and data.images.dtype == torch.uint8


# --- CIFAR python archives -------------------------------------------------------------------


def test_cifar10_official_archive_in_data_root(root: Path) -> None:
    files, expected = cifar10_files()
    write_tar(root / "cifar-10-python.tar.gz", files)
    for split in ("train", "test"):
        data = load_images("cifar10", split)
        images, labels = expected[split]
        assert data.images.shape == images.shape and data.images.dtype == torch.uint8
        assert torch.equal(data.images, torch.from_numpy(images))
        assert data.labels.tolist() == labels and data.labels.dtype == torch.int64
        assert data.classes == CIFAR10_CLASSES
        assert (data.source, data.split, data.name) == ("official-archive", split, "cifar10")


def test_cifar10_extracted_folder_from_root_argument(tmp_path: Path) -> None:
    files, expected = cifar10_files()
    write_dir(tmp_path / "elsewhere", files)
    data = load_images("cifar10", "test", root=tmp_path / "elsewhere")
    assert torch.equal(data.images, torch.from_numpy(expected["test"][0]))
    assert data.source == "official-archive"


def test_cifar100_archive_from_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, expected = cifar100_files()
    monkeypatch.setenv("ACN_BENCH_CIFAR100", str(write_tar(tmp_path / "any-name.tgz", files)))
    for split, count in (("train", 12), ("test", 8)):
        data = load_images("cifar100", split)
        assert len(data) == count and data.images.shape == (count, 3, 32, 32)
        assert torch.equal(data.images, torch.from_numpy(expected[split][0]))
        assert data.labels.tolist() == expected[split][1]
        assert data.num_classes == 100 and data.classes[7] == "fine07"
        assert data.source == "official-archive"


def test_official_archive_is_preferred_to_jpeg_archive(root: Path) -> None:
    write_tar(root / "cifar-10-python.tar.gz", cifar10_files()[0])
    write_tar(root / "cifar10-jpg.tar.gz", flat_folder_files("")[0])
    assert load_images("cifar10", "test").source == "official-archive"


def test_env_var_wins_over_data_root(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tar(root / "cifar-10-python.tar.gz", cifar10_files()[0])
    monkeypatch.setenv("ACN_BENCH_CIFAR10", str(write_tar(tmp_path / "jpg.tar.gz", flat_folder_files("")[0])))
    assert load_images("cifar10", "test").source == "jpeg-archive"


# --- class folders: CIFAR-10 JPEG archive, imagefolder, imagenet -----------------------------


def test_cifar10_jpeg_archive_with_prefix_folder_from_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, owner = flat_folder_files("cifar10/")
    monkeypatch.setenv("ACN_BENCH_CIFAR10", str(write_tar(tmp_path / "cifar10-jpg.tar.gz", files)))
    train, test = load_images("cifar10", "train"), load_images("cifar10", "test")
    assert train.images.shape == (9, 3, 32, 32) and test.images.shape == (6, 3, 32, 32)
    assert train.classes == test.classes == ["airplane", "bird", "cat"]
    assert train.source == "jpeg-archive" and test.split == "test"
    assert torch.bincount(train.labels).tolist() == [3, 3, 3]
    assert_flat_labels(train, owner)
    assert_flat_labels(test, owner)


def test_cifar10_jpeg_folder_in_data_root(root: Path) -> None:
    files, owner = flat_folder_files("")
    write_dir(root / "cifar10-jpg", files)
    data = load_images("cifar10", "train")
    assert data.source == "jpeg-archive" and len(data) == 9
    assert_flat_labels(data, owner)


def test_imagefolder_of_pngs_is_lossless(tmp_path: Path) -> None:
    files, owner = png_folder_files(test_folder="val")
    folder = write_dir(tmp_path / "pets", files)
    train = load_images(f"imagefolder:{folder}", "train")
    test = load_images(f"imagefolder:{folder}", "test")
    assert train.classes == test.classes == ["cat", "dog"]
    assert (train.source, train.name) == ("imagefolder", f"imagefolder:{folder}")
    assert train.images.shape == (6, 3, 8, 8) and train.images.is_contiguous()
    assert_exact_labels(train, owner, 6)
    assert_exact_labels(test, owner, 4)


def test_imagefolder_archive_with_uppercase_extensions(tmp_path: Path) -> None:
    files, owner = png_folder_files(prefix="top/", ext=".PNG")
    archive = write_tar(tmp_path / "pets.tar.gz", files)
    data = load_images(f"imagefolder:{archive}", "test")
    assert_exact_labels(data, owner, 4)
    assert data.classes == ["cat", "dog"]


def test_folder_order_is_fixed_and_mixes_classes(tmp_path: Path) -> None:
    image = encode(random_images(1, seed=0, size=4)[0], "PNG")
    files = {f"train/{cls}/{i:03d}.png": image for cls in "abcd" for i in range(25)}
    folder = write_dir(tmp_path / "set", files)
    first = load_images(f"imagefolder:{folder}", cache=False)
    again = load_images(f"imagefolder:{folder}", cache=False)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert set(first.labels[:20].tolist()) == {0, 1, 2, 3}


def test_mixed_image_sizes_need_image_size(tmp_path: Path) -> None:
    files = {
        "train/a/small.png": encode(random_images(1, 0, 8)[0], "PNG"),
        "train/b/large.png": encode(random_images(1, 1, 12)[0], "PNG"),
    }
    folder = write_dir(tmp_path / "mixed", files)
    with pytest.raises(UserError, match="image_size") as error:
        load_images(f"imagefolder:{folder}")
    assert "small.png" in str(error.value) and "large.png" in str(error.value)
    assert load_images(f"imagefolder:{folder}", image_size=6).images.shape == (2, 3, 6, 6)


def test_imagenet_class_folders_from_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        f"{split}/{wnid}/{wnid}_{i}.JPEG": encode(flat_image((i * 50, 90, 9), 10 + 4 * i), "JPEG")
        for split in ("train", "val")
        for wnid in WNIDS
        for i in range(2)
    }
    monkeypatch.setenv("ACN_BENCH_IMAGENET", str(write_dir(tmp_path / "ilsvrc", files)))
    with pytest.raises(UserError, match="image_size"):
        load_images("imagenet", "train")
    data = load_images("imagenet", "val", image_size=8)
    assert data.images.shape == (6, 3, 8, 8) and data.split == "test"
    assert data.classes == sorted(WNIDS) and torch.bincount(data.labels).tolist() == [2, 2, 2]


# --- Tiny-ImageNet -------------------------------------------------------------------------


def test_tiny_imagenet_folder_and_archives_agree(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, owner = tiny_imagenet_files()
    write_tar(root / "tiny-imagenet-200.tar.gz", files)
    from_tar = {s: load_images("tiny-imagenet", s) for s in ("train", "val")}
    monkeypatch.setenv("ACN_BENCH_TINY_IMAGENET", str(write_dir(tmp_path / "folder", files) / "tiny-imagenet-200"))
    from_dir = {s: load_images("tiny-imagenet", s) for s in ("train", "test")}
    monkeypatch.setenv("ACN_BENCH_TINY_IMAGENET", str(write_zip(tmp_path / "tiny.zip", files)))
    from_zip = load_images("tiny-imagenet", "test")
    assert from_tar["train"].images.shape == (7, 3, 16, 16) and from_tar["val"].images.shape == (6, 3, 16, 16)
    for split, data in from_tar.items():
        assert data.classes == sorted(WNIDS) and data.source == "tiny-imagenet-layout"
        assert data.split == ("train" if split == "train" else "test")
        assert_flat_labels(data, owner)
        other = from_dir["train" if split == "train" else "test"]
        assert torch.equal(data.images, other.images) and torch.equal(data.labels, other.labels)
    assert torch.equal(from_zip.images, from_tar["val"].images)
    assert torch.bincount(from_tar["val"].labels).tolist() == [2, 2, 2]


def test_tiny_imagenet_without_annotations_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, _ = tiny_imagenet_files()
    del files["tiny-imagenet-200/val/val_annotations.txt"]
    monkeypatch.setenv("ACN_BENCH_TINY_IMAGENET", str(write_tar(tmp_path / "t.tar.gz", files)))
    with pytest.raises(UserError, match="val_annotations.txt"):
        load_images("tiny-imagenet", "test")


# --- cache -------------------------------------------------------------------------------------


def test_second_load_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_dir(tmp_path / "pets", png_folder_files()[0])
    name = f"imagefolder:{folder}"
    first = load_images(name, "train")
    cached = list((tmp_path / "cache" / "images").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".pt"
    monkeypatch.setattr(sources, "decode_all", forbid)
    second = load_images(name, "train")
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert second.classes == first.classes and second.source == "imagefolder"
    with pytest.raises(DecoderCalled):
        load_images(name, "train", cache=False)
    with pytest.raises(DecoderCalled):
        load_images(name, "train", image_size=4)


def test_changed_source_is_decoded_again(tmp_path: Path) -> None:
    files, _ = png_folder_files()
    folder = write_dir(tmp_path / "pets", files)
    assert len(load_images(f"imagefolder:{folder}")) == 6
    (folder / "train" / "cat" / "new.png").write_bytes(encode(random_images(1, 99, 8)[0], "PNG"))
    assert len(load_images(f"imagefolder:{folder}")) == 7


def test_official_archive_is_cached(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tar(root / "cifar-10-python.tar.gz", cifar10_files()[0])
    first = load_images("cifar10", "train")
    monkeypatch.setattr(sources, "read_cifar_pickles", forbid)
    assert torch.equal(load_images("cifar10", "train").images, first.images)


def test_failed_cache_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_dir(tmp_path / "pets", png_folder_files()[0])

    def killed(payload: object, stream: io.BufferedWriter) -> None:
        stream.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        load_images(f"imagefolder:{folder}")
    assert list((tmp_path / "cache" / "images").iterdir()) == []


def test_unwritable_cache_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_dir(tmp_path / "pets", png_folder_files()[0])
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    monkeypatch.setenv("ACN_BENCH_CACHE", str(tmp_path / "blocked"))
    with pytest.warns(UserWarning, match="could not write the image cache"):
        assert len(load_images(f"imagefolder:{folder}")) == 6


# --- download --------------------------------------------------------------------------------


def test_download_only_when_asked(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    class FakeCIFAR10:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            calls.append((root, download))
            write_tar(Path(root) / "cifar-10-python.tar.gz", cifar10_files()[0])

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    with pytest.raises(UserError, match="--download"):
        load_images("cifar10", "test")
    assert calls == []
    data = load_images("cifar10", "test", download=True)
    assert calls == [(str(root), True)] and data.source == "official-archive" and len(data) == 4
    load_images("cifar10", "train", download=True)
    assert len(calls) == 1


# --- errors ------------------------------------------------------------------------------------


def test_missing_cifar10_lists_every_place_looked(root: Path) -> None:
    with pytest.raises(UserError) as error:
        load_images("cifar10")
    message = str(error.value)
    for expected in (
        "ACN_BENCH_CIFAR10",
        "ACN_BENCH_DATA",
        str(root / "cifar-10-python.tar.gz"),
        str(root / "cifar-10-batches-py"),
        str(root / "cifar10-jpg.tar.gz"),
        str(root / "cifar10-jpg"),
        "pass --download to fetch the official archive with torchvision",
    ):
        assert expected in message


def test_missing_tiny_imagenet_says_where_to_get_it(root: Path) -> None:
    with pytest.raises(UserError) as error:
        load_images("tiny-imagenet", download=True)
    message = str(error.value)
    assert "tiny-imagenet-200.tar.gz" in message and "ACN_BENCH_TINY_IMAGENET" in message
    assert "cannot fetch" in message and "cs231n" in message


def test_env_var_pointing_nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ACN_BENCH_CIFAR100", str(tmp_path / "nothing.tar.gz"))
    with pytest.raises(UserError, match="ACN_BENCH_CIFAR100.*nothing.tar.gz"):
        load_images("cifar100")


def test_corrupt_archive_is_named(root: Path) -> None:
    (root / "cifar-10-python.tar.gz").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(UserError, match="corrupt") as error:
        load_images("cifar10")
    assert "cifar-10-python.tar.gz" in str(error.value) and "download it again" in str(error.value)


def test_truncated_archive_is_named(tmp_path: Path) -> None:
    whole = write_tar(tmp_path / "whole.tar.gz", png_folder_files()[0]).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UserError, match="cut.tar.gz.*corrupt"):
        load_images(f"imagefolder:{cut}", cache=False)


def test_truncated_pickle_is_named(root: Path) -> None:
    files, _ = cifar100_files()
    files["cifar-100-python/train"] = files["cifar-100-python/train"][:500]
    write_dir(root, files)
    with pytest.raises(UserError, match="corrupt") as error:
        load_images("cifar100", "train")
    assert "cifar-100-python" in str(error.value) and "train" in str(error.value)


def test_pickle_cannot_run_code(root: Path) -> None:
    files, _ = cifar100_files()
    files["cifar-100-python/meta"] = pickle.dumps({b"fine_label_names": gzip.decompress})
    write_dir(root, files)
    with pytest.raises(UserError, match="unexpected object gzip.decompress"):
        load_images("cifar100", "test")


def test_undecodable_image_is_named(tmp_path: Path) -> None:
    folder = write_dir(
        tmp_path / "bad",
        {"train/a/fine.png": encode(random_images(1, 0, 4)[0], "PNG"), "train/a/broken.jpg": b"not a jpeg"},
    )
    with pytest.raises(UserError, match="broken.jpg"):
        load_images(f"imagefolder:{folder}")


def test_unknown_dataset_name() -> None:
    with pytest.raises(UserError) as error:
        load_images("cifar11")
    assert "'cifar11'" in str(error.value)
    for name in list_datasets():
        assert name in str(error.value)


def test_unknown_split() -> None:
    with pytest.raises(UserError, match="'validation'.*train, test"):
        load_images("digits", "validation")
    with pytest.raises(UserError, match="'val'"):
        load_images("digits", "val")


def test_bad_image_size_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="image_size"):
        load_images("digits", image_size=0)
    with pytest.raises(UserError, match="nowhere"):
        load_images(f"imagefolder:{tmp_path / 'nowhere'}")
    with pytest.raises(UserError, match="imagefolder:PATH"):
        load_images("imagefolder:")


def test_folder_without_the_split_is_reported(tmp_path: Path) -> None:
    folder = write_dir(tmp_path / "only-train", {"train/a/x.png": encode(random_images(1, 0, 4)[0], "PNG")})
    with pytest.raises(UserError, match="test/ or val/"):
        load_images(f"imagefolder:{folder}", "test")


# --- ImageSet --------------------------------------------------------------------------------------


def test_image_set_subset_len_and_num_classes() -> None:
    data = load_images("digits", "test")
    part = data.subset(range(5))
    assert len(part) == 5 and part.num_classes == 10 and part.images.is_contiguous()
    assert torch.equal(part.images, data.images[:5]) and torch.equal(part.labels, data.labels[:5])
    threes = data.subset(data.labels == 3)
    assert len(threes) == int((data.labels == 3).sum()) and set(threes.labels.tolist()) == {3}
    same = ("name", "split", "source", "classes")
    assert [getattr(threes, f) for f in same] == [getattr(data, f) for f in same]
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(data.images.float(), data.labels, data.classes, "x", "sklearn", "test")


def test_list_datasets() -> None:
    assert list_datasets() == ["cifar10", "cifar100", "digits", "imagefolder:PATH", "imagenet", "tiny-imagenet"]


def test_test_split_shares_the_train_class_order(tmp_path: Path) -> None:
    files = {f"train/{cls}/x.png": encode(random_images(1, i, 4)[0], "PNG") for i, cls in enumerate("abc")}
    files["test/b/y.png"] = encode(random_images(1, 7, 4)[0], "PNG")
    folder = write_dir(tmp_path / "partial", files)
    test = load_images(f"imagefolder:{folder}", "test")
    assert test.classes == ["a", "b", "c"] and test.labels.tolist() == [1]
