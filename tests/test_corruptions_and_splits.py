"""Corruptions (seeded, range-checked, matching albumentations' definitions) and low-data subsets."""

from __future__ import annotations

import pytest
import torch

from acn_bench import UserError
from acn_bench.data import load_images
from acn_bench.data.corruptions import CORRUPTIONS, corrupt_normalized, corrupt_pixels, get_corruption
from acn_bench.data.splits import class_counts, per_class_subset


@pytest.fixture
def images():
    return torch.randint(30, 220, (40, 3, 16, 16), dtype=torch.uint8)


def test_gaussian_noise_has_the_asked_sigma_and_is_seeded(images):
    noisy = corrupt_pixels(images, "gaussian", 0.1, seed=3)
    assert noisy.dtype == torch.float32 and noisy.shape == images.shape
    assert 0.0 <= noisy.min() and noisy.max() <= 1.0
    assert (noisy - images / 255).std().item() == pytest.approx(0.1, rel=0.05)
    assert torch.equal(noisy, corrupt_pixels(images, "gaussian", 0.1, seed=3))
    assert not torch.equal(noisy, corrupt_pixels(images, "gaussian", 0.1, seed=4))


def test_salt_and_pepper_sets_the_asked_fraction_of_pixels_to_the_extremes(images):
    noisy = corrupt_pixels(images, "salt_pepper", 0.1, seed=0)
    extreme = ((noisy == 0) | (noisy == 1)).all(dim=1)  # whole pixels, every channel
    assert extreme.float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert 0 < (noisy == 0).all(dim=1).sum() and 0 < (noisy == 1).all(dim=1).sum()


def test_zero_severity_is_the_clean_image_and_grey_images_keep_one_channel():
    grey = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    assert torch.equal(corrupt_pixels(grey, "gaussian", 0.0), grey / 255)
    assert corrupt_pixels(grey, "salt_pepper", 0.05).shape == grey.shape


def test_normalized_space_adds_unclipped_noise():
    x = torch.zeros(20, 3, 8, 8)
    noisy = corrupt_normalized(x, "gaussian", 0.4, seed=0)
    assert noisy.std().item() == pytest.approx(0.4, rel=0.05) and noisy.min() < -1.0
    with pytest.raises(UserError, match="same in both spaces"):
        corrupt_normalized(x, "salt_pepper", 0.1)


@pytest.mark.parametrize(
    "name, bad, message", [("gaussian", -0.1, "sigma must be >= 0"), ("salt_pepper", 1.5, r"in \[0, 1\]")]
)
def test_out_of_range_severities_are_user_errors(images, name, bad, message):
    with pytest.raises(UserError, match=message):
        corrupt_pixels(images, name, bad)


def test_corruption_registry_lists_the_papers_kinds():
    assert set(CORRUPTIONS) == {"gaussian", "salt_pepper"}
    assert get_corruption("gaussian").severities == (0.1, 0.2, 0.4)
    with pytest.raises(UserError, match="unknown corruption 'fog'"):
        get_corruption("fog")


def test_per_class_subset_takes_the_first_n_of_every_class_in_order():
    digits = load_images("digits", "train")
    subset = per_class_subset(digits, 7)
    assert class_counts(subset).tolist() == [7] * 10
    first_zeros = torch.nonzero(digits.labels == 0).flatten()[:7]
    assert torch.equal(subset.images[subset.labels == 0], digits.images[first_zeros])
    random_a = per_class_subset(digits, 7, "random", seed=1)
    assert torch.equal(random_a.images, per_class_subset(digits, 7, "random", seed=1).images)
    assert not torch.equal(random_a.images, subset.images)


@pytest.mark.parametrize("n", [0, 10_000])
def test_per_class_subset_rejects_impossible_sizes(n):
    with pytest.raises(UserError, match=f"per_class must be a whole number from 1 to 139.*got {n}"):
        per_class_subset(load_images("digits", "train"), n)
