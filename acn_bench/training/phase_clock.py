"""Seconds per phase of the training steps, for the speed benchmarks (a no-op clock in runs)."""

from __future__ import annotations

import time

import torch


class PhaseClock:
    """Seconds spent in each phase of the training steps (summed over steps), for benchmarks.

    The trainer calls :meth:`start` before its step loop and :meth:`mark` at the end of each phase;
    every call waits for the device, so the phases are measured apart (and the loop runs slower
    on a GPU than without a clock).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._device: torch.device | None = None
        self._last = 0.0

    def _now(self) -> float:
        if self._device is not None and self._device.type == "cuda":
            torch.cuda.synchronize(self._device)
        return time.perf_counter()

    def start(self, device: torch.device) -> None:
        """Start timing on ``device`` (the next :meth:`mark` measures from here)."""
        self._device = device
        self._last = self._now()

    def mark(self, phase: str) -> None:
        """Add the time since the last mark (or :meth:`start`) to ``phase``."""
        now = self._now()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now


class NoClock(PhaseClock):
    """The clock of a normal run: measures nothing, waits for nothing."""

    def start(self, device: torch.device) -> None:
        pass

    def mark(self, phase: str) -> None:
        pass


NO_CLOCK = NoClock()
