"""The yardstick of ``python -m speed.perf train-throughput``: a training loop as one writes it plainly.

Batches of the same uint8 tensor on the same device drawn from a permutation, the recipe's crop and
flip written inline (``--bare-augment same``; ``none``: no augmentation), torchvision's
``AutoAugment`` image by image, timm's ``Mixup`` for CutMix / MixUp, ``x.float() / 255`` normalised
with the training set's per-channel mean and std, ``F.cross_entropy`` with the recipe's label
smoothing and the same AdamW (``build_optimizer``): ``zero_grad``, ``backward``, ``step``, under the
trainer's autocast. No clipping, schedule, gradient norms or loss accounting.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from acn_bench.training import TrainConfig
from acn_bench.training.config import mixup_for, resolve_amp
from acn_bench.training.evaluate import autocast
from acn_bench.training.schedule import build_optimizer


class BareLoop:
    """The yardstick: a training loop as one writes it plainly (see this module's docstring).

    With ``augment`` it applies the recipe's augmentation the plain way: crop and flip written
    inline, torchvision's ``AutoAugment`` image by image, timm's ``Mixup`` for CutMix / MixUp.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig,
        images: torch.Tensor,
        labels: torch.Tensor,
        device: torch.device,
        augment: bool,
        seed: int = 0,
    ) -> None:
        from timm.loss import SoftTargetCrossEntropy
        from torchvision.transforms import v2

        from acn_bench.data.autoaugment import POLICIES

        self.model = model.to(device).train()
        self.forward: Callable[[torch.Tensor], torch.Tensor] = self.model
        self.config = config
        self.images, self.labels = images.to(device), labels.to(device)
        pixels = images.float() / 255
        self.mean = pixels.mean(dim=(0, 2, 3)).view(1, -1, 1, 1).to(device)
        self.std = pixels.std(dim=(0, 2, 3)).view(1, -1, 1, 1).to(device)
        self.optimizer = build_optimizer(model, config.lr, config.weight_decay, config.betas, config.eps)
        self.dtype = resolve_amp(config.amp, device)
        self.pad = config.crop_padding if augment else 0
        self.flip = config.hflip and augment
        self.autoaugment = v2.AutoAugment(POLICIES[config.autoaugment]) if augment and config.autoaugment else None
        self.mixup = mixup_for(config, int(labels.max()) + 1) if augment else None
        self.criterion = SoftTargetCrossEntropy() if self.mixup is not None else None  # soft targets, smoothing in
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.order = torch.empty(0, dtype=torch.long, device=device)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.config.batch_size
        if self.order.numel() < size:
            self.order = torch.randperm(self.images.shape[0], generator=self.generator, device=self.images.device)
        index, self.order = self.order[:size], self.order[size:]
        x = self.images[index]
        if self.pad:  # a random crop of each zero-padded image
            n, _, h, w = x.shape
            padded = F.pad(x, (self.pad,) * 4)
            top, left = torch.randint(0, 2 * self.pad + 1, (2, n, 1, 1), generator=self.generator, device=x.device)
            rows = (top + torch.arange(h, device=x.device).view(1, h, 1)).expand(n, h, w)
            cols = (left + torch.arange(w, device=x.device).view(1, 1, w)).expand(n, h, w)
            x = padded[torch.arange(n, device=x.device).view(n, 1, 1), :, rows, cols].permute(0, 3, 1, 2)
        if self.flip:  # half the images mirrored
            mirror = torch.rand(x.shape[0], generator=self.generator, device=x.device) < 0.5
            x = torch.where(mirror.view(-1, 1, 1, 1), x.flip(-1), x)
        if self.autoaugment is not None:
            x = torch.stack([self.autoaugment(image) for image in x])
        x = (x.float() / 255 - self.mean) / self.std
        y = self.labels[index]
        return self.mixup(x, y) if self.mixup is not None else (x, y)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.criterion is not None:
            return self.criterion(logits, y)
        return F.cross_entropy(logits, y, label_smoothing=self.config.label_smoothing)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            x, y = self.batch()
            with autocast(x.device, self.dtype):
                loss = self.loss(self.forward(x), y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
