"""Training throughput and model FLOPs utilisation (MFU).

Training FLOPs per sample are taken as 3x the forward FLOPs counted by ``torch.utils.flop_counter``
(the backward pass costs about twice the forward), the usual MFU convention (PaLM, appendix B).
MFU divides the achieved model FLOPs per second by the device's peak: dense bf16 tensor-core
peaks from the vendors' datasheets for known GPUs, or ``ACN_BENCH_PEAK_TFLOPS`` (e.g. a CPU's
measured peak) when set. Without a known peak MFU is left out rather than guessed. The 3x rule
overstates the work of runs that train only part of the model (linear probing, ``acn-dg``).
"""

from __future__ import annotations

import os

import torch
from torch import nn

from acn_bench.analysis.compression import flops_per_sample
from acn_bench.errors import UserError

# Dense bf16 tensor-core peak TFLOP/s per GPU (datasheets; sparsity excluded). More specific names first.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("RTX 4090", 165.2),
    ("RTX 3090", 71.0),
    ("V100", 125.0),  # fp16: V100 has no bf16
)

PEAK_ENV = "ACN_BENCH_PEAK_TFLOPS"


def peak_flops(device: torch.device) -> float | None:
    """Peak FLOP/s of ``device``: ``$ACN_BENCH_PEAK_TFLOPS`` if set, else a known GPU's bf16 peak, else None.

    Raises:
        UserError: ``$ACN_BENCH_PEAK_TFLOPS`` is not a positive number.
    """
    override = os.environ.get(PEAK_ENV)
    if override:
        try:
            value = float(override)
        except ValueError:
            value = -1.0
        if value <= 0:
            raise UserError(f"{PEAK_ENV} must be the device's peak in TFLOP/s (a positive number), got {override!r}.")
        return value * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in name:
            return tflops * 1e12
    return None


def training_flops_per_sample(model: nn.Module, sample: torch.Tensor) -> int:
    """FLOPs of one training step per sample: 3x the forward FLOPs of ``sample[:1]``."""
    return 3 * flops_per_sample(model, sample)


def throughput_stats(samples: int, seconds: float, flops_per_sample: int, peak: float | None) -> dict[str, float]:
    """Samples per second, achieved model TFLOP/s and (with a known ``peak``) MFU of a timed stretch of training."""
    rate = samples / max(seconds, 1e-9)
    achieved = rate * flops_per_sample
    stats = {"samples_per_s": rate, "model_tflops": achieved / 1e12}
    if peak:
        stats["mfu"] = achieved / peak
    return stats
