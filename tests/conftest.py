"""Shared fixtures: isolated caches/results per test and small real data."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's caches, data folders and results."""
    monkeypatch.setenv("ACN_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("ACN_BENCH_RESULTS", str(tmp_path_factory.mktemp("results")))
    for var in ("ACN_BENCH_DATA", "ACN_BENCH_CIFAR10", "ACN_BENCH_CIFAR100", "ACN_BENCH_TINY_IMAGENET", "ACN_BENCH_IMAGENET"):
        monkeypatch.delenv(var, raising=False)
    torch.manual_seed(0)


@pytest.fixture
def digits_tensors():
    """A small slice of scikit-learn's real digits as uint8 tensors (train, test)."""
    from acn_bench.data import load_images

    train = load_images("digits", "train")
    test = load_images("digits", "test")
    return train.images[:512], train.labels[:512], test.images[:256], test.labels[:256]


def write_class_folders(root, per_class_train: int = 8, per_class_val: int = 3, size: int = 16):
    """Real digits saved as RGB JPEG class folders ``root/train/<digit>/`` and ``root/val/<digit>/``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts: dict[int, int] = {}
    for image, label in zip(digits.images, digits.target):
        seen = counts.get(int(label), 0)
        if seen >= per_class_train + per_class_val:
            continue
        counts[int(label)] = seen + 1
        split = "train" if seen < per_class_train else "val"
        folder = root / split / f"digit{label}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (image * 255 / 16).astype("uint8")
        Image.fromarray(pixels).convert("RGB").resize((size, size)).save(folder / f"{seen:03d}.jpg")
    return root


@pytest.fixture
def digit_folders(tmp_path):
    """An ImageNet-layout class-folder set of 10 classes (80 train, 30 val images, 16 px RGB JPEG)."""
    return write_class_folders(tmp_path / "digit-folders")
