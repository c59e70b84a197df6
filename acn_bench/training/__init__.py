"""The supervised trainer, its schedule and checkpoints."""

from acn_bench.training.config import TrainConfig, TrainResult, seed_everything
from acn_bench.training.evaluate import probe_accuracy
from acn_bench.training.trainer import Trainer

__all__ = ["TrainConfig", "TrainResult", "Trainer", "probe_accuracy", "seed_everything"]
