"""Shared fixtures: isolated caches/results per test and small real data."""

from __future__ import annotations

import os

import pytest
import torch


def _share_the_cores_between_workers() -> None:
    """Under ``pytest -n N`` give each worker (and the processes it starts) its share of the cores.

    N workers with torch's default threads each oversubscribe the machine, and torch's spinning
    threads then run several times slower than one thread per core.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


_share_the_cores_between_workers()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's caches, data folders and results."""
    monkeypatch.setenv("ACN_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("ACN_BENCH_RESULTS", str(tmp_path_factory.mktemp("results")))
    for var in (
        "ACN_BENCH_DATA",
        "ACN_BENCH_CIFAR10",
        "ACN_BENCH_CIFAR100",
        "ACN_BENCH_TINY_IMAGENET",
        "ACN_BENCH_IMAGENET",
    ):
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


POSITIVE = ["good", "great", "lovely", "brilliant", "warm", "happy", "fine", "superb"]
NEGATIVE = ["bad", "awful", "dull", "poor", "cold", "sad", "weak", "terrible"]
NOUNS = ["film", "story", "actor", "movie", "plot", "scene", "song", "ending", "cast", "script"]
VERBS = ["was", "felt", "seemed", "looked", "became"]


def write_text_data(root, corpus_lines: int = 600, train: int = 384, validation: int = 64):
    """A tiny corpus (``root/corpus/part1.txt``) and GLUE-layout tasks under ``root/glue``: an
    SST-2-like sentiment task (the adjective decides the label) and an STS-B-like regression task
    (the score counts shared words), saved with ``datasets``' ``save_to_disk``."""
    import random

    from datasets import Dataset, DatasetDict

    rng = random.Random(0)

    def clause(adjective):
        return f"the {rng.choice(NOUNS)} {rng.choice(VERBS)} {adjective}"

    (root / "corpus").mkdir(parents=True)
    lines = (
        f"{clause(rng.choice(POSITIVE + NEGATIVE))} and {clause(rng.choice(POSITIVE + NEGATIVE))}"
        for _ in range(corpus_lines)
    )
    (root / "corpus" / "part1.txt").write_text("\n".join(lines), encoding="utf-8")

    def sentiment(n):
        labels = [rng.randrange(2) for _ in range(n)]
        return Dataset.from_dict(
            {"sentence": [clause(rng.choice(POSITIVE if y else NEGATIVE)) for y in labels], "label": labels}
        )

    def similarity(n):
        first = [clause(rng.choice(POSITIVE + NEGATIVE)) for _ in range(n)]
        second = [clause(rng.choice(POSITIVE + NEGATIVE)) for _ in range(n)]
        scores = [5.0 * len(set(a.split()) & set(b.split())) / 4 for a, b in zip(first, second)]
        return Dataset.from_dict({"sentence1": first, "sentence2": second, "label": scores})

    DatasetDict({"train": sentiment(train), "validation": sentiment(validation)}).save_to_disk(
        str(root / "glue" / "sst2")
    )
    DatasetDict({"train": similarity(train), "validation": similarity(validation)}).save_to_disk(
        str(root / "glue" / "stsb")
    )
    return root


@pytest.fixture
def text_data(tmp_path):
    """Data root with a tiny corpus and two tiny GLUE-layout tasks (sst2, stsb)."""
    import datasets

    datasets.disable_progress_bars()
    return write_text_data(tmp_path / "text")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need CUDA: where there is none they are deselected (counted in the summary), not run."""
    if torch.cuda.is_available():
        return
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if gpu:
        config.hook.pytest_deselected(items=gpu)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]


@pytest.fixture
def clean_registry():
    """The suite registry as it was before the test: suites a test registers (plugins) leave with it."""
    from acn_bench.suites import registry

    before, instances = dict(registry._REGISTRY), dict(registry._instances)
    yield
    for table, saved in ((registry._REGISTRY, before), (registry._instances, instances)):
        table.clear()
        table.update(saved)
