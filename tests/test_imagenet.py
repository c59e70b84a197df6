"""Streaming class folders (the ImageNet suite): loaders, exact resume, the suite through the CLI, bad input."""

from __future__ import annotations

import json
import tarfile

import pytest
import torch

from acn_bench import UserError, create_backbone
from acn_bench.cli import main
from acn_bench.data.folders import RANDAUGMENT, EpochBatchSampler, SeededTransform, open_folders, train_transform
from acn_bench.training import TrainConfig
from acn_bench.training.streaming import StreamingTrainer


def test_open_folders_reads_the_imagenet_layout_and_carves_a_balanced_validation_split(digit_folders):
    data = open_folders(f"imagefolder:{digit_folders}")
    assert data.num_classes == 10 and len(data.train) == 80 and len(data.test) == 30 and data.val is None
    assert data.classes == [f"digit{i}" for i in range(10)]
    split = data.split_validation(20, seed=3)
    assert len(split.train) == 60 and len(split.val) == 20 and split.classes == data.classes
    assert sorted(split.val.targets) == sorted(list(range(10)) * 2)  # two images of every class
    assert not {path for path, _ in split.val.samples} & {path for path, _ in split.train.samples}
    assert split.val.samples == data.split_validation(20, seed=3).val.samples  # seeded


def test_imagenet_name_is_found_through_its_environment_variable(digit_folders, monkeypatch):
    monkeypatch.setenv("ACN_BENCH_IMAGENET", str(digit_folders))
    assert open_folders("imagenet").root == digit_folders


@pytest.mark.parametrize(
    "damage, message",
    [
        ("no-val", "no val/ \\(or test/\\) folder"),
        ("class-mismatch", "class folders of train/ and val/ differ"),
        ("archive", "is an archive"),
    ],
)
def test_broken_folders_are_refused_with_the_reason(digit_folders, tmp_path, damage, message):
    name = f"imagefolder:{digit_folders}"
    if damage == "no-val":
        (digit_folders / "val").rename(tmp_path / "elsewhere")
    elif damage == "class-mismatch":
        (digit_folders / "val" / "digit3").rename(digit_folders / "val" / "digit33")
    else:
        archive = tmp_path / "set.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(digit_folders, arcname="set")
        name = f"imagefolder:{archive}"
    with pytest.raises(UserError, match=message):
        open_folders(name)


def test_sampler_resumes_mid_epoch_and_splits_global_batches_over_ranks():
    full = EpochBatchSampler(40, 8, seed=3)
    full.set_position(epoch=2)
    batches = list(full)
    assert len(batches) == 5 and len({i for b in batches for i, *_ in b}) == 40
    tail = EpochBatchSampler(40, 8, seed=3)
    tail.set_position(epoch=2, start_step=3)
    assert list(tail) == batches[3:]
    ranks = [EpochBatchSampler(40, 8, seed=3, rank=r, world=2) for r in range(2)]
    for sampler in ranks:
        sampler.set_position(epoch=2)
    assert [a + b for a, b in zip(*map(list, ranks))] == batches
    other_epoch = EpochBatchSampler(40, 8, seed=3)
    other_epoch.set_position(epoch=3)
    assert list(other_epoch) != batches


def test_augmentation_depends_on_the_image_seed_only(digit_folders):
    data = open_folders(f"imagefolder:{digit_folders}")
    images = SeededTransform(data.train, train_transform(16))
    a, b, c, d = (images[key][0] for key in [(5, 11, 0), (5, 11, 0), (5, 12, 0), (5, 11, 1)])
    assert a.shape == (3, 16, 16) and a.dtype == torch.uint8 and torch.equal(a, b)
    assert not torch.equal(a, c) and not torch.equal(a, d)  # another run seed or epoch: another augmentation


def folder_trainer(data, checkpoint=None, on_step=None, workers=0):
    torch.manual_seed(0)
    model = create_backbone("vit_tiny", connectivity="acn", depth=2, img_size=16, num_classes=10)
    cfg = TrainConfig(
        epochs=2, batch_size=16, warmup_epochs=0.5, mixup_alpha=0.2, checkpoint_every=3, eval_batch_size=8
    )
    return StreamingTrainer(
        model, cfg, data, img_size=16, randaugment=RANDAUGMENT, workers=workers, checkpoint=checkpoint, on_step=on_step
    )


def test_streaming_run_killed_mid_epoch_resumes_exactly_and_workers_do_not_change_results(digit_folders, tmp_path):
    data = open_folders(f"imagefolder:{digit_folders}").split_validation(10)
    reference = folder_trainer(data).fit()
    assert len(reference.val_probe_acc) == 3 and reference.steps == 8 and reference.throughput["samples_per_s"] > 0
    checkpoint = tmp_path / "run.pt"

    def killed_at_step_7(step):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # 4 steps per epoch: last checkpoint after step 6 (epoch 2, batch 2)
        folder_trainer(data, checkpoint, on_step=killed_at_step_7).fit()
    state = torch.load(checkpoint, weights_only=False)
    assert (state["epoch"], state["step"]) == (1, 2)
    resumed = folder_trainer(data, checkpoint, workers=2).fit()
    assert resumed.val_probe_acc == reference.val_probe_acc
    assert [h["train_loss"] for h in resumed.history] == pytest.approx(
        [h["train_loss"] for h in reference.history], rel=1e-6
    )


def test_imagenet_suite_smoke_run_writes_records(digit_folders, tmp_path):
    out = tmp_path / "results"
    assert (
        main(
            [
                "run",
                "imagenet",
                "--profile",
                "smoke",
                "--dataset",
                f"imagefolder:{digit_folders}",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    records = [json.loads(p.read_text()) for p in sorted((out / "imagenet").glob("*.json"))]
    assert sorted(r["backbone"]["connectivity"] for r in records) == ["acn", "residual"]
    for record in records:
        assert len(record["probe"]) == 4 and len(record["history"]["val_probe"]) == 4
        assert (record["dataset"]["train_size"], record["dataset"]["val_size"], record["dataset"]["test_size"]) == (
            72,
            8,
            30,
        )  # 10% of train/ carved out for validation; val/ is the test split
        assert record["dataset"]["name"] == record["config"]["dataset"] == f"imagefolder:{digit_folders.name}"
        assert str(digit_folders.parent) not in json.dumps(record)  # no path of the machine that made it
        assert 0 <= record["metrics"]["cutoff_layer"] <= 3
        assert (
            record["metrics"]["samples_per_s"] > 0
            and record["metrics"]["truncated_params"] <= record["metrics"]["params"]
        )
        assert record["config"]["train"]["mixup_alpha"] == 0.2 and record["config"]["randaugment"]
        # the image suites' record: the same metrics, configuration and history fields as an in-memory run's
        assert {"accuracy", "val_accuracy", "chance_accuracy", "best_epoch", "best_val_accuracy", "steps"} <= set(
            record["metrics"]
        )
        assert record["metrics"]["accuracy"] == record["probe"][-1] and record["metrics"]["chance_accuracy"] == 0.1
        assert {"normalization", "train", "img_size"} <= set(record["config"])
        assert set(record["history"]) == {"epochs", "val_probe"} and {"train_s", "cost_s"} <= set(record["timings"])


def test_imagenet_suite_with_missing_data_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    code = main(["run", "imagenet", "--profile", "smoke", "--data-root", str(tmp_path / "none"), "--out", str(out)])
    assert code == 2
    assert "imagenet data not found" in capsys.readouterr().err
    assert not list(out.rglob("*.json"))
