"""Every choice is made on the validation split: poisoned test labels change the reported test numbers
and nothing that was chosen (cutoff layer, best epoch, early-exit threshold, source cutoff)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import acn_bench.suites.image_data
from acn_bench.data.splits import validation_split
from acn_bench.suites import RunContext, get_suite, plan_runs, run_suite

CHOICES = {
    "compression": ("cutoff_layer", "best_epoch", "truncated_val_accuracy"),
    "early_exit": ("threshold", "val_exit_accuracy", "val_flops_speedup", "best_epoch"),
    "low_data": ("cutoff_layer", "best_epoch"),
    "transfer": ("cutoff_layer", "source_cutoff_layer", "best_epoch"),
}
ONLY = {"early_exit": {"exit_mode": ["inherent"]}, "transfer": {"mode": ["full"]}, "low_data": {"per_class": ["20"]}}


def run_records(suite_name: str, tmp_path, poisoned: bool, monkeypatch) -> list:
    """Smoke runs of the suite's twins, with every test label shifted to a wrong class when ``poisoned``."""
    real = acn_bench.suites.image_data.load_images

    def load_images(name, split, *args, **kwargs):
        data = real(name, split, *args, **kwargs)
        if poisoned and split == "test":
            return dataclasses.replace(data, labels=(data.labels + 1) % data.num_classes)
        return data

    monkeypatch.setattr(acn_bench.suites.image_data, "load_images", load_images)
    suite = get_suite(suite_name)
    plan = plan_runs(suite, "smoke", "digits", only=ONLY.get(suite_name, {}))
    out = tmp_path / ("poisoned" if poisoned else "clean")
    return run_suite(suite, plan, RunContext(out_dir=out, device=torch.device("cpu"), log=lambda _: None)).records


@pytest.mark.slow
@pytest.mark.parametrize("suite_name", sorted(CHOICES))
def test_poisoned_test_labels_change_no_choice(suite_name, tmp_path, monkeypatch):
    clean = run_records(suite_name, tmp_path, poisoned=False, monkeypatch=monkeypatch)
    poisoned = run_records(suite_name, tmp_path, poisoned=True, monkeypatch=monkeypatch)
    assert len(clean) == len(poisoned) >= 2
    for a, b in zip(clean, poisoned):
        assert a.run_id == b.run_id
        for choice in (*CHOICES[suite_name], "val_accuracy"):
            assert a.metrics[choice] == b.metrics[choice], choice
        assert a.history["val_probe"] == b.history["val_probe"]
        assert a.metrics["accuracy"] != b.metrics["accuracy"]  # the test split was really poisoned
        # the same model's prediction cannot match both the true and the shifted label of an image
        assert a.metrics["accuracy"] + b.metrics["accuracy"] <= 1 + 1e-9
        assert a.dataset["val_size"] > 0


def test_validation_split_is_seeded_class_balanced_and_disjoint():
    from acn_bench.data import load_images

    data = load_images("digits", "train")
    train, val = validation_split(data, 0.1, seed=0)
    assert len(train) + len(val) == len(data) and len(val) == round(0.1 * len(data))
    counts = torch.bincount(val.labels, minlength=10)
    assert int(counts.max() - counts.min()) <= 1  # balanced
    again_train, again_val = validation_split(data, 0.1, seed=0)
    assert torch.equal(again_val.images, val.images) and torch.equal(again_train.labels, train.labels)
    other = validation_split(data, 0.1, seed=1)[1]
    assert not torch.equal(other.images, val.images)
