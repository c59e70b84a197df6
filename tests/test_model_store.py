"""The model store: one key per trained model, one lock, one resume policy, for twins, transfer sources
and GLUE pre-training (``acn_bench/suites/model_store.py``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from acn_bench.backbones import create_backbone
from acn_bench.benchmarks.glue import PRETRAIN_FIELDS, pretrain_key
from acn_bench.benchmarks.transfer import source_fields
from acn_bench.cli import main
from acn_bench.errors import UserError
from acn_bench.results import run_id
from acn_bench.suites import ImageData, RunContext, get_suite
from acn_bench.suites.image import twin_key
from acn_bench.suites.image_data import load_splits
from acn_bench.suites.model_store import stored_model
from acn_bench.training import TrainConfig

TWIN = {"dataset": "digits", "backbone": "mixer_tiny", "connectivity": "acn", "depth": 4, "seed": 0}


def run(*argv: str) -> int:
    return main(["run", *argv, "--profile", "smoke", "--no-progress"])


def records(out: Path, suite: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((out / suite).glob("*.json"))]


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def changed(value: Any) -> Any:
    """Another value of the same field."""
    if isinstance(value, bool):
        return not value
    if value is None:
        return 1
    if isinstance(value, (int, float)):
        return value * 2 + 1
    if isinstance(value, str):
        return f"{value}-other"
    if isinstance(value, tuple):
        return (*value, 0.5)
    return {**value, "other": 1}


def recipe_changes(recipe: Any, skip: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """``(field, recipe with that one field changed)`` for every field of ``recipe`` and of its training config."""
    out = []
    for field in dataclasses.fields(recipe):
        value = getattr(recipe, field.name)
        if isinstance(value, TrainConfig):
            for inner in dataclasses.fields(TrainConfig):
                train = dataclasses.replace(value, **{inner.name: changed(getattr(value, inner.name))})
                out.append((f"{field.name}.{inner.name}", dataclasses.replace(recipe, **{field.name: train})))
        elif field.name not in skip:
            out.append((field.name, dataclasses.replace(recipe, **{field.name: changed(value)})))
    return out


COMPRESSION = get_suite("compression").recipe("smoke", "digits")
TRANSFER = get_suite("transfer").recipe("smoke", "digits")
GLUE = get_suite("glue").recipe("smoke", "sst2")


@pytest.fixture(scope="module")
def digits() -> ImageData:
    context = RunContext(out_dir=Path("unused"), device=torch.device("cpu"), log=lambda _: None)
    return ImageData(*load_splits("digits", context, COMPRESSION))


@pytest.mark.parametrize(
    "field, recipe",
    recipe_changes(COMPRESSION, skip=("connectivities",)),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_training_field_of_a_twin_gives_another_key(field, recipe, digits):
    assert run_id(twin_key(TWIN, recipe, digits, 2)) != run_id(twin_key(TWIN, COMPRESSION, digits, 2)), field


@pytest.mark.parametrize("field", ["dataset", "backbone", "connectivity", "depth", "seed"])
def test_every_config_field_data_source_and_protocol_of_a_twin_give_another_key(field, digits):
    key = run_id(twin_key(TWIN, COMPRESSION, digits, 2))
    assert run_id(twin_key({**TWIN, field: changed(TWIN[field])}, COMPRESSION, digits, 2)) != key
    other_source = ImageData(dataclasses.replace(digits.train, source="official-archive"), digits.val, digits.test)
    assert run_id(twin_key(TWIN, COMPRESSION, other_source, 2)) != key
    assert run_id(twin_key(TWIN, COMPRESSION, digits, 3)) != key
    assert "protocol" not in twin_key(TWIN, COMPRESSION, digits, 1)  # version 1 twins keep their keys


V2 = {"protocol": 2}
SOURCE = {**TWIN, "source_dataset": "digits", "dataset": "cifar10", "mode": "full", "cutoff_delta": 0.01}


@pytest.mark.parametrize(
    "field, recipe", recipe_changes(TRANSFER.pretrain), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_pretraining_field_of_a_transfer_source_gives_another_key(field, recipe):
    assert run_id(source_fields(SOURCE, recipe, "sklearn", V2)) != run_id(
        source_fields(SOURCE, TRANSFER.pretrain, "sklearn", V2)
    )


def test_a_transfer_source_is_keyed_on_what_trains_it_and_shared_by_what_does_not():
    key = run_id(source_fields(SOURCE, TRANSFER.pretrain, "sklearn", V2))
    for field in ("source_dataset", "backbone", "connectivity", "depth", "seed"):
        assert run_id(source_fields({**SOURCE, field: changed(SOURCE[field])}, TRANSFER.pretrain, "sklearn", V2)) != key
    assert run_id(source_fields(SOURCE, TRANSFER.pretrain, "official-archive", V2)) != key
    assert run_id(source_fields(SOURCE, TRANSFER.pretrain, "sklearn", {"protocol": 3})) != key
    for field in ("dataset", "mode", "cutoff_delta"):  # the target, the fine-tuning mode, the cutoff: shared
        assert run_id(source_fields({**SOURCE, field: changed(SOURCE[field])}, TRANSFER.pretrain, "sklearn", V2)) == key


GLUE_CONFIG = {"dataset": "sst2", "backbone": "bert_tiny", "connectivity": "acn", "depth": 2, "seed": 0}


@pytest.mark.parametrize("field, recipe", recipe_changes(GLUE), ids=lambda v: v if isinstance(v, str) else "")
def test_glue_pretraining_is_keyed_on_its_fields_and_shared_across_fine_tuning(field, recipe):
    def key(config: dict[str, Any], glue: Any, corpus: str = "corpus.txt", lines: int = 600) -> str:
        return run_id(pretrain_key(config, glue, Path(corpus), lines, {}))

    pretraining = field.split(".")[0] in PRETRAIN_FIELDS
    assert (key(GLUE_CONFIG, recipe) != key(GLUE_CONFIG, GLUE)) == pretraining, field
    if field == "backbone":  # once: the config's fields, the corpus and the lines read from it
        for name in ("backbone", "connectivity", "depth", "seed"):
            assert key({**GLUE_CONFIG, name: changed(GLUE_CONFIG[name])}, GLUE) != key(GLUE_CONFIG, GLUE)
        assert key({**GLUE_CONFIG, "dataset": "stsb"}, GLUE) == key(GLUE_CONFIG, GLUE)  # every task shares it
        assert key(GLUE_CONFIG, GLUE, corpus="other.txt") != key(GLUE_CONFIG, GLUE)
        assert key(GLUE_CONFIG, GLUE, lines=599) != key(GLUE_CONFIG, GLUE)


def test_two_suites_needing_one_twin_train_it_once_and_its_file_says_what_it_is(tmp_path, capsys):
    out = tmp_path / "out"
    only = ["--only", "connectivity=acn", "--out", str(out)]
    assert run("compression", *only) == 0 and run("robustness", *only) == 0
    [trained] = records(out, "compression")
    assert trained["history"]["twin"]["trained_by_this_run"] is True
    reused = records(out, "robustness")
    assert reused and all(r["history"]["twin"]["trained_by_this_run"] is False for r in reused)
    assert {r["history"]["twin"]["key"] for r in reused} == {trained["history"]["twin"]["key"]}
    [name] = files(out / ".twins")  # the model alone: no lock, no checkpoint
    key = torch.load(out / ".twins" / name, weights_only=False)["key"]
    assert name == f"{run_id(key)}.pt" == f"{trained['history']['twin']['key']}.pt"
    assert {k: key[k] for k in TWIN} == {**TWIN, "depth": trained["config"]["depth"]}
    assert key["recipe"]["train"]["epochs"] == trained["config"]["train"]["epochs"] and key["protocol"] == 2


def test_transfer_modes_share_one_source_whose_file_says_what_it_is(tmp_path, capsys):
    out = tmp_path / "out"
    assert run("transfer", "--out", str(out), "--only", "connectivity=acn") == 0  # full and scratch
    assert capsys.readouterr().out.count("reusing the trained model") == 1
    assert len(records(out, "transfer")) == 2
    [name] = files(out / "transfer" / "sources")
    key = torch.load(out / "transfer" / "sources" / name, weights_only=False)["key"]
    assert name == f"{run_id(key)}.pt"
    assert key["source_dataset"] == "digits" and key["data_source"] == "sklearn" and key["connectivity"] == "acn"
    assert key["pretrain"] == dataclasses.asdict(TRANSFER.pretrain)


def test_a_transfer_run_with_a_missing_source_exits_2_and_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "no-such-folder"
    assert run("transfer", "--out", str(out), "--set", f"source_dataset=imagefolder:{missing}") == 2
    assert str(missing) in capsys.readouterr().err
    assert not out.exists() or files(out) == []  # no lock file, no model, no record


def tiny_model() -> Any:
    return create_backbone("mixer_tiny", img_size=8, patch_size=4, in_chans=1, num_classes=10, connectivity="acn")


def test_a_failed_training_leaves_no_lock_and_no_model(tmp_path):
    context = RunContext(out_dir=tmp_path, device=torch.device("cpu"), log=lambda _: None)

    def fail(checkpoint: Path) -> Any:
        raise UserError("the training data is unreadable")

    with pytest.raises(UserError, match="unreadable"):
        stored_model(tmp_path / "store", {"model": "tiny"}, fail, context, {"connectivity": "acn"})
    assert files(tmp_path / "store") == []
    trained = stored_model(tmp_path / "store", {"model": "tiny"}, lambda _: (tiny_model(), {}), context, {})
    assert trained.trained_here and files(tmp_path / "store") == [f"{trained.key}.pt"]


def test_an_interrupted_training_continues_with_resume_and_starts_afresh_without(tmp_path):
    """Training writes its checkpoint and is interrupted before the model is saved: ``--resume``
    continues from the checkpoint, without it the checkpoint is deleted first; once the model is saved
    its checkpoint goes."""
    store, fields, found = tmp_path / "store", {"model": "tiny"}, []

    def interrupted(checkpoint: Path) -> Any:
        checkpoint.write_text("epoch 1")
        raise KeyboardInterrupt

    def train(checkpoint: Path) -> Any:
        found.append(checkpoint.read_text() if checkpoint.exists() else None)
        return tiny_model(), {}

    for resume, expected in ((True, "epoch 1"), (False, None)):
        context = RunContext(out_dir=tmp_path, device=torch.device("cpu"), log=lambda _: None, resume=resume)
        with pytest.raises(KeyboardInterrupt):
            stored_model(store, fields, interrupted, context, {})
        assert files(store) == [f"{run_id(fields)}.ckpt"]
        stored = stored_model(store, fields, train, context, {})
        assert stored.trained_here and found[-1] == expected
        assert files(store) == [f"{stored.key}.pt"]
        assert not stored_model(store, fields, train, context, {}).trained_here  # saved: loaded from now on
        (store / f"{stored.key}.pt").unlink()
