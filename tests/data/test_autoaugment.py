"""Batched AutoAugment against torchvision's: the same policy statistics, the same pixels."""

from collections import Counter

import pytest
import torch
from scipy.stats import chi2_contingency, chisquare
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode

from acn_bench.data.augment import BatchAugment
from acn_bench.data.autoaugment import OPERATIONS, POLICIES, SKIPPED, BatchAutoAugment, apply_operation
from acn_bench.errors import UserError
from acn_bench.training import TrainConfig

TORCHVISION = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)


def torchvision_op(image, name, magnitude):
    """torchvision AutoAugment's own operation on one image."""
    return TORCHVISION._apply_image_or_video_transform(
        image, name, magnitude, interpolation=InterpolationMode.NEAREST, fill=TORCHVISION._fill
    )


def test_images(channels=3, count=6, size=32, seed=0):
    """Random pixels, and smooth gradients (whose histograms and edges differ from noise)."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randint(0, 256, (count, channels, size, size), dtype=torch.uint8, generator=generator)
    ramp = torch.linspace(0, 1, size)
    scale = torch.rand(count, channels, 1, 1, generator=generator) * 200 + 20
    smooth = (ramp.view(1, 1, 1, -1) * ramp.view(1, 1, -1, 1) * scale + 10).to(torch.uint8)
    return torch.cat([noise, smooth])


test_images.__test__ = False  # a helper, not a test


def magnitudes_of(name, size=32):
    values, signed = v2.AutoAugment._AUGMENTATION_SPACE[name]
    bins = values(10, size, size)
    if bins is None:
        return [0.0]
    unsigned = [float(v) for v in bins[1:]]
    return unsigned + ([-v for v in unsigned] if signed else [])


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("name", OPERATIONS)
def test_each_operation_gives_torchvisions_pixels_at_every_magnitude(name, channels):
    images = test_images(channels)
    for magnitude in magnitudes_of(name):
        expected = torch.stack([torchvision_op(image, name, magnitude) for image in images])
        got = apply_operation(images, name, [magnitude] * len(images))
        assert got.dtype == torch.uint8 and got.shape == images.shape
        worst = (got.int() - expected.int()).abs().max().item()
        assert worst <= 1, f"{name} at {magnitude}: off by {worst} grey levels"


def test_one_call_mixes_magnitudes_per_image():
    images = test_images()
    magnitudes = [0.1, -0.3, 0.5, -0.9, 0.0, 0.7, -0.2, 0.4, 0.6, -0.5, 0.8, -0.1]
    for name in ("Rotate", "ShearX", "Brightness", "Sharpness", "Contrast"):
        scaled = [m * (30 if name == "Rotate" else 1) for m in magnitudes]
        expected = torch.stack([torchvision_op(image, name, m) for image, m in zip(images, scaled)])
        assert (apply_operation(images, name, scaled).int() - expected.int()).abs().max() <= 1


def test_a_plan_applied_to_a_batch_equals_torchvision_image_by_image():
    augment = BatchAutoAugment("cifar10")
    images = test_images(count=32)
    plan = augment.plan(len(images), 32, 32, torch.Generator().manual_seed(3))
    got = augment.apply(images, plan)
    for i, image in enumerate(images):
        for position in range(2):
            op = int(plan.ops[i, position])
            if op != SKIPPED:
                image = torchvision_op(image, OPERATIONS[op], float(plan.magnitudes[i, position]))
        assert (got[i].int() - image.int()).abs().max() <= 1, f"image {i}, plan {plan.ops[i].tolist()}"


def draws_of_torchvision(count, monkeypatch):
    """``(position, operation, magnitude)`` of every operation torchvision's AutoAugment applies to
    ``count`` images (the operations recorded, not carried out)."""
    calls = []

    def record(image, name, magnitude, **_):
        calls.append((name, round(magnitude, 4)))
        return image

    monkeypatch.setattr(TORCHVISION, "_apply_image_or_video_transform", record)
    torch.manual_seed(0)
    image = torch.zeros(3, 32, 32, dtype=torch.uint8)
    counts = Counter()
    for _ in range(count):
        calls.clear()
        TORCHVISION(image)
        counts.update(calls)
    return counts


def test_operation_and_magnitude_frequencies_match_torchvisions_policy(monkeypatch):
    count = 20_000
    theirs = draws_of_torchvision(count, monkeypatch)
    plan = BatchAutoAugment("cifar10").plan(count, 32, 32, torch.Generator().manual_seed(1))
    ours = Counter()
    for ops, magnitudes in zip(plan.ops.tolist(), plan.magnitudes.tolist()):
        ours.update((OPERATIONS[op], round(m, 4)) for op, m in zip(ops, magnitudes) if op != SKIPPED)
    keys = sorted(set(theirs) | set(ours))
    assert set(ours) == set(theirs), "the same operations at the same signed magnitudes"
    table = [[theirs[k] for k in keys], [ours[k] for k in keys]]
    assert chi2_contingency(table).pvalue > 1e-3
    # and the sub-policies are drawn uniformly
    drawn = torch.bincount(plan.subpolicy, minlength=len(TORCHVISION._policies)).tolist()
    assert chisquare(drawn).pvalue > 1e-3


def test_a_fixed_generator_fixes_the_plan_and_the_global_stream_is_untouched():
    augment = BatchAutoAugment("cifar10")
    images = test_images(count=16)
    torch.manual_seed(5)
    before = torch.rand(3)
    torch.manual_seed(5)
    first = augment(images, torch.Generator().manual_seed(9))
    assert torch.equal(torch.rand(3), before)  # no draw from torch's global generator
    assert torch.equal(first, augment(images, torch.Generator().manual_seed(9)))
    assert not torch.equal(first, augment(images, torch.Generator().manual_seed(10)))


def test_the_whole_augmentation_keeps_uint8_in_range_and_leaves_its_input_alone():
    images = test_images(count=64)
    kept = images.clone()
    for policy in POLICIES:
        out = BatchAugment(crop_padding=4, hflip=True, autoaugment=policy)(images, torch.Generator().manual_seed(0))
        assert out.dtype == torch.uint8 and out.shape == images.shape
        assert int(out.min()) >= 0 and int(out.max()) <= 255
        assert not torch.equal(out, images)
    assert torch.equal(images, kept)


def test_an_unknown_policy_is_refused_naming_the_known_ones():
    with pytest.raises(UserError, match=r"unknown AutoAugment policy 'cifar100'; accepted: cifar10, imagenet, svhn"):
        BatchAutoAugment("cifar100")
    with pytest.raises(UserError, match=r"unknown AutoAugment policy 'cifar'"):
        TrainConfig(autoaugment="cifar").validate()
    with pytest.raises(UserError, match="unknown AutoAugment operation 'Blur'"):
        apply_operation(test_images(), "Blur", [0.0] * 12)
