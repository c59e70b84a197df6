"""AutoAugment on a whole uint8 batch at once, on the batch's device.

torchvision's ``AutoAugment`` transforms one image per call, so a training batch of 64 costs 64
Python-level calls and, on a GPU, 64 rounds of tiny kernel launches. :class:`BatchAutoAugment`
keeps torchvision's policies and magnitude bins (it reads them from ``torchvision``'s own
``AutoAugment``, so the tables are never copied) and draws, per image, one sub-policy, whether each
of its two operations applies and the sign of signed magnitudes, as torchvision does. It then
applies each operation once to all the images that drew it, with a magnitude per image: at most
one call per operation kind and position, whatever the batch size.

Every operation reproduces torchvision's functional op on uint8 images (same formulas, same
rounding, nearest-neighbour geometry with zero fill, torchvision's own inverse affine matrix); the
tests compare them image by image. All draws come from the ``generator`` given (a CPU generator),
so the plan of a batch is made on the host without waiting for the device, and a run's
augmentation is reproducible from its checkpointed generator alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Callable

import torch
import torch.nn.functional as F
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF
from torchvision.transforms.v2.functional._geometry import _get_inverse_affine_matrix

from acn_bench.errors import unknown_choice

POLICIES = {
    "cifar10": v2.AutoAugmentPolicy.CIFAR10,
    "imagenet": v2.AutoAugmentPolicy.IMAGENET,
    "svhn": v2.AutoAugmentPolicy.SVHN,
}
# The operations of torchvision's AutoAugment, in the order of its augmentation space.
OPERATIONS = tuple(v2.AutoAugment._AUGMENTATION_SPACE)
SKIPPED = -1  # an operation of the drawn sub-policy that did not fire
MAGNITUDE_BINS = 10  # torchvision's AutoAugment uses 10 magnitude bins


@dataclass(frozen=True)
class AugmentPlan:
    """What AutoAugment does to each image of a batch (CPU tensors).

    Attributes:
        subpolicy: the sub-policy drawn per image, ``[n]``.
        ops: the operation applied at each of the sub-policy's two positions, an index into
            :data:`OPERATIONS` or :data:`SKIPPED`, ``[n, 2]``.
        magnitudes: the signed magnitude of each applied operation (0 where it takes none), ``[n, 2]``.
    """

    subpolicy: torch.Tensor
    ops: torch.Tensor
    magnitudes: torch.Tensor


class BatchAutoAugment:
    """torchvision's AutoAugment policy applied to a uint8 ``N x C x H x W`` batch (C = 1 or 3).

    Args:
        policy: ``cifar10``, ``imagenet`` or ``svhn`` (torchvision's policies).
    """

    def __init__(self, policy: str) -> None:
        if policy not in POLICIES:
            raise unknown_choice("AutoAugment policy", policy, POLICIES)
        self.policy = policy
        self.subpolicies = v2.AutoAugment(POLICIES[policy])._policies
        self._op = torch.tensor([[OPERATIONS.index(name) for name, _, _ in sub] for sub in self.subpolicies])
        self._probability = torch.tensor([[p for _, p, _ in sub] for sub in self.subpolicies], dtype=torch.float64)
        signed = [[v2.AutoAugment._AUGMENTATION_SPACE[name][1] for name, _, _ in sub] for sub in self.subpolicies]
        self._signed = torch.tensor(signed)

    def magnitude_table(self, height: int, width: int) -> torch.Tensor:
        """The unsigned magnitude of every sub-policy's two operations for ``height x width`` images
        (torchvision's bins; 0 where an operation takes no magnitude), ``[subpolicies, 2]``."""
        return _magnitude_table(self.policy, height, width)

    def plan(self, count: int, height: int, width: int, generator: torch.Generator | None = None) -> AugmentPlan:
        """Draw the sub-policy of each of ``count`` images, which of its operations fire and their signs."""
        subpolicy = torch.randint(len(self.subpolicies), (count,), generator=generator)
        fires = torch.rand(count, 2, generator=generator, dtype=torch.float64) <= self._probability[subpolicy]
        negative = (torch.rand(count, 2, generator=generator) <= 0.5) & self._signed[subpolicy]
        magnitudes = self.magnitude_table(height, width)[subpolicy]
        magnitudes = torch.where(negative, -magnitudes, magnitudes)
        ops = torch.where(fires, self._op[subpolicy], SKIPPED)
        return AugmentPlan(subpolicy, ops, torch.where(fires, magnitudes, 0.0))

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The augmented batch: a new uint8 tensor on ``images``' device."""
        return self.apply(images, self.plan(images.shape[0], images.shape[-2], images.shape[-1], generator))

    @staticmethod
    def apply(images: torch.Tensor, plan: AugmentPlan) -> torch.Tensor:
        """Carry out ``plan`` on ``images``. At each position the batch is ordered by operation, so each
        operation runs once on a contiguous slice of the images that drew it; the geometric ones
        together, as one warp."""
        for position in range(2):
            ops, magnitudes = plan.ops[:, position].tolist(), plan.magnitudes[:, position].tolist()
            groups: dict[str, list[int]] = {}
            for image, op in enumerate(ops):
                if op != SKIPPED:
                    name = OPERATIONS[op]
                    groups.setdefault("warp" if name in _WARPS else name, []).append(image)
            if not groups:
                continue
            members = [image for group in groups.values() for image in group]
            index = _on(torch.tensor(members), images.device)
            ordered, start = images[index], 0
            for group, chosen in groups.items():
                part = ordered[start : start + len(chosen)]
                if group == "warp":
                    part.copy_(_affine([_WARPS[OPERATIONS[ops[i]]](part, magnitudes[i]) for i in chosen], part))
                else:
                    part.copy_(_OPERATIONS[group](part, [magnitudes[i] for i in chosen]))
                start += len(chosen)
            images = images.index_put((index,), ordered)
        return images


@cache
def _magnitude_table(policy: str, height: int, width: int) -> torch.Tensor:
    subpolicies = v2.AutoAugment(POLICIES[policy])._policies
    table = torch.zeros(len(subpolicies), 2, dtype=torch.float64)
    for i, subpolicy in enumerate(subpolicies):
        for position, (name, _, magnitude_bin) in enumerate(subpolicy):
            values = v2.AutoAugment._AUGMENTATION_SPACE[name][0](MAGNITUDE_BINS, height, width)
            if values is not None:
                table[i, position] = float(values[magnitude_bin])
    return table


# ------------------------------------------------------------------------------------- operations


def apply_operation(images: torch.Tensor, name: str, magnitudes: list[float]) -> torch.Tensor:
    """torchvision AutoAugment's operation ``name`` on a uint8 batch, with one signed magnitude per image."""
    if name not in _OPERATIONS:
        raise unknown_choice("AutoAugment operation", name, OPERATIONS)
    return _OPERATIONS[name](images, magnitudes)


def _on(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on ``device`` (copied without waiting; as it is on the CPU)."""
    return tensor if device.type == "cpu" else tensor.to(device, non_blocking=True)


def _per_image(values: list[float], images: torch.Tensor) -> torch.Tensor:
    """``values`` as a float32 ``[n, 1, 1, 1]`` tensor on ``images``' device."""
    return _on(torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1), images.device)


def _blend(images: torch.Tensor, other: torch.Tensor, ratios: list[float]) -> torch.Tensor:
    """torchvision's ``_blend`` with a ratio per image: ``images * r + other * (1 - r)``, clamped, truncated."""
    blended = torch.addcmul(images * _per_image(ratios, images), other, _per_image([1.0 - r for r in ratios], images))
    return blended.clamp_(0, 255).to(torch.uint8)


def _grey(images: torch.Tensor) -> torch.Tensor:
    """Floored float luma of RGB images (torchvision's ``_rgb_to_grayscale_image`` as its uint8 ops use it)."""
    red, green, blue = images.unbind(dim=-3)
    return red.mul(0.2989).add_(green, alpha=0.587).add_(blue, alpha=0.114).unsqueeze_(-3).floor_()


def _brightness(images: torch.Tensor, magnitudes: list[float]) -> torch.Tensor:
    return (images * _per_image([1.0 + m for m in magnitudes], images)).clamp_(0, 255).to(torch.uint8)


def _color(images: torch.Tensor, magnitudes: list[float]) -> torch.Tensor:
    if images.shape[-3] == 1:  # saturation leaves grey images alone (as PIL and torchvision do)
        return images
    return _blend(images, _grey(images), [1.0 + m for m in magnitudes])


def _contrast(images: torch.Tensor, magnitudes: list[float]) -> torch.Tensor:
    grey = _grey(images) if images.shape[-3] == 3 else images.float()
    return _blend(images, grey.mean(dim=(-3, -2, -1), keepdim=True), [1.0 + m for m in magnitudes])


def _sharpness(images: torch.Tensor, magnitudes: list[float]) -> torch.Tensor:
    channels, height, width = images.shape[-3:]
    if height <= 2 or width <= 2:
        return images
    a, b = 1.0 / 13.0, 5.0 / 13.0
    kernel = torch.tensor([[a, a, a], [a, b, a], [a, a, a]], device=images.device).expand(channels, 1, 3, 3)
    output = images.float()
    blurred = F.conv2d(output, kernel, groups=channels).round_()
    inner = output[..., 1:-1, 1:-1]
    inner.addcmul_(blurred.sub_(inner), _per_image([1.0 - (1.0 + m) for m in magnitudes], images))
    return output.clamp_(0, 255).to(torch.uint8)


def _posterize(images: torch.Tensor, magnitudes: list[float]) -> torch.Tensor:
    masks = [(((1 << int(m)) - 1) << (8 - int(m))) if int(m) < 8 else 255 for m in magnitudes]
    return images & _on(torch.tensor(masks, dtype=torch.uint8).view(-1, 1, 1, 1), images.device)


def _solarize(images: torch.Tensor, magnitudes: list[float]) -> torch.Tensor:
    return torch.where(images >= _per_image([255.0 * m for m in magnitudes], images), 255 - images, images)


@lru_cache(maxsize=16)
def _base_grid(height: int, width: int, device: torch.device) -> torch.Tensor:
    """Pixel centres in torchvision's centred coordinates, with a column of ones: ``[1, H * W, 3]``."""
    base = torch.empty(1, height, width, 3, device=device)
    base[..., 0].copy_(torch.linspace((1.0 - width) * 0.5, (width - 1.0) * 0.5, steps=width, device=device))
    rows = torch.linspace((1.0 - height) * 0.5, (height - 1.0) * 0.5, steps=height, device=device)
    base[..., 1].copy_(rows.unsqueeze_(-1))
    base[..., 2].fill_(1)
    return base.view(1, height * width, 3)


def _affine(matrices: list[list[float]], images: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour warp of each image by its inverse affine ``matrix`` (zero fill), as torchvision's
    ``_affine_grid`` and ``_apply_grid_transform`` compute it, for the whole batch in one ``grid_sample``."""
    height, width = images.shape[-2:]
    theta = torch.tensor(matrices, dtype=torch.float32).view(-1, 2, 3)
    rescaled = _on(theta.transpose(1, 2).div_(torch.tensor([0.5 * width, 0.5 * height])), images.device)
    grid = _base_grid(height, width, images.device).expand(theta.shape[0], -1, -1).bmm(rescaled)
    warped = F.grid_sample(
        images.float(), grid.view(-1, height, width, 2), mode="nearest", padding_mode="zeros", align_corners=False
    )
    return warped.round_().to(torch.uint8)


def _inverse_matrix(center: list[float], angle: float, translate: list[float], shear: list[float]) -> list[float]:
    return _get_inverse_affine_matrix(center, angle, translate, 1.0, shear)


def _corner(images: torch.Tensor) -> list[float]:
    """The top-left corner in torchvision's centred pixel coordinates (AutoAugment shears about it)."""
    return [-images.shape[-1] * 0.5, -images.shape[-2] * 0.5]


# The inverse affine matrix of each geometric operation for one signed magnitude, as torchvision's
# AutoAugment calls ``F.affine`` (shears about the top-left corner, whole-pixel translations) and
# ``F.rotate`` (which turns by -angle in the affine convention, taking the angle modulo 360).
_WARPS: dict[str, Callable[[torch.Tensor, float], list[float]]] = {
    "ShearX": lambda images, m: _inverse_matrix(_corner(images), 0.0, [0.0, 0.0], [math.degrees(math.atan(m)), 0.0]),
    "ShearY": lambda images, m: _inverse_matrix(_corner(images), 0.0, [0.0, 0.0], [0.0, math.degrees(math.atan(m))]),
    "TranslateX": lambda images, m: _inverse_matrix([0.0, 0.0], 0.0, [float(int(m)), 0.0], [0.0, 0.0]),
    "TranslateY": lambda images, m: _inverse_matrix([0.0, 0.0], 0.0, [0.0, float(int(m))], [0.0, 0.0]),
    "Rotate": lambda images, m: _inverse_matrix([0.0, 0.0], -(m % 360), [0.0, 0.0], [0.0, 0.0]),
}


def _warp(name: str) -> Callable[[torch.Tensor, list[float]], torch.Tensor]:
    """Geometric operation ``name`` on its own, with one magnitude per image."""
    return lambda images, magnitudes: _affine([_WARPS[name](images, m) for m in magnitudes], images)


def _whole_batch(op: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor, list[float]], torch.Tensor]:
    """An operation without magnitude: torchvision's batched functional op as it is."""
    return lambda images, _: op(images)


_OPERATIONS: dict[str, Callable[[torch.Tensor, list[float]], torch.Tensor]] = {
    **{name: _warp(name) for name in _WARPS},
    "Brightness": _brightness,
    "Color": _color,
    "Contrast": _contrast,
    "Sharpness": _sharpness,
    "Posterize": _posterize,
    "Solarize": _solarize,
    "AutoContrast": _whole_batch(TF.autocontrast),
    "Equalize": _whole_batch(TF.equalize),
    "Invert": _whole_batch(TF.invert),
}
