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
