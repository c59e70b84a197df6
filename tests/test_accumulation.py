"""Gradient accumulation: K micro-batches make the optimiser step of the whole batch."""

from __future__ import annotations

import contextlib

import pytest
import torch

from acn_bench import UserError, create_backbone
from acn_bench.data.text import CLS_ID, SEP_ID, TextSet
from acn_bench.training import TrainConfig, Trainer, distributed
from acn_bench.training.text import TextTrainer


def digits_model(seed=0):
    torch.manual_seed(seed)
    return create_backbone("mixer_tiny", connectivity="acn", img_size=8, patch_size=2, in_chans=1)


def small(digits_tensors, n=256):
    images, labels, eval_images, eval_labels = digits_tensors
    return images[:n], labels[:n], eval_images[:64], eval_labels[:64]


# No augmentation or dropout, fp32 on the CPU, the same seed (data order). AdamW's eps is raised
# because some parameters have gradients that are exactly zero in exact arithmetic (the
# token-mixing output bias before a LayerNorm over channels): their gradients are pure rounding
# noise, which Adam's g / sqrt(v) scales up to full-size steps with any change of summation order.
RECIPE = dict(epochs=2, batch_size=64, warmup_epochs=0.5, lr=3e-3, clip_grad=0.5, eps=1e-3, amp="none")


def fit(data, accumulate, **overrides):
    model = digits_model()
    steps: list[int] = []
    config = TrainConfig(**{**RECIPE, "accumulate": accumulate, **overrides})
    result = Trainer(model, config, *data, seed=0, on_step=steps.append).fit()
    return model, result, steps


def assert_same_parameters(a, b, rtol=1e-5, atol=1e-6):
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(p, q, rtol=rtol, atol=atol), f"{name}: max diff {(p - q).abs().max().item()}"


def test_four_micro_batches_train_what_one_batch_trains_with_clipping(digits_tensors):
    data = small(digits_tensors)
    one, one_result, one_steps = fit(data, 1, grad_norms=True)
    four, four_result, four_steps = fit(data, 4, grad_norms=True)
    assert_same_parameters(one, four)
    assert one_steps == four_steps == list(range(1, 9))  # 256 / 64 = 4 optimiser steps per epoch, schedule per step
    assert four_result.steps == one_result.steps == 8
    assert [h["lr"] for h in four_result.history] == [h["lr"] for h in one_result.history]
    for a, b in zip(one_result.history, four_result.history):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-6)
        assert b["grad_norms"] == pytest.approx(a["grad_norms"], rel=1e-5)  # once per step, of the whole batch
    assert four_result.val_probe_acc == pytest.approx(one_result.val_probe_acc, abs=1.5 / 64)


def test_accumulated_gradient_equals_the_full_batch_gradient(digits_tensors):
    """One optimiser step's gradients, default recipe (eps and all): the sum over micro-batches is the batch's."""
    data = small(digits_tensors)
    grads = []
    for accumulate in (1, 4):
        trainer = Trainer(digits_model(), TrainConfig(batch_size=64, accumulate=accumulate, amp="none"), *data)
        trainer._reset_data_state()
        x, y = next(trainer._epoch_batches(0, 0))
        loop = _loop(trainer)
        loss = trainer._forward_backward(x, y, loop)
        grads.append((loss, [p.grad.clone() for p in trainer.model.parameters()]))
    (loss_one, one), (loss_four, four) = grads
    assert loss_four.item() == pytest.approx(loss_one.item(), rel=1e-6)
    scale = max(g.abs().max().item() for g in one)
    for g1, g4 in zip(one, four):
        assert torch.allclose(g1, g4, atol=1e-6 * scale, rtol=1e-5)


def _loop(trainer):
    from acn_bench.training.trainer import _Loop

    criterion = trainer._criterion(None)
    return _Loop(None, None, torch.amp.GradScaler("cpu", enabled=False), None, criterion, None, None)


def test_micro_batches_are_equal_slices_and_only_the_last_all_reduces(digits_tensors):
    data = small(digits_tensors)
    sizes = []

    def objective(model, x, y, criterion):
        sizes.append(x.shape[0])
        return criterion(model(x), y)

    trainer = Trainer(digits_model(), TrainConfig(batch_size=64, accumulate=4), *data, objective=objective)

    class FakeDDP:  # stands in for DistributedDataParallel: counts the micro-batches that skip the all-reduce
        skipped = 0

        @contextlib.contextmanager
        def no_sync(self):
            FakeDDP.skipped += 1
            yield

    trainer.ddp = FakeDDP()
    trainer._reset_data_state()
    x, y = next(trainer._epoch_batches(0, 0))
    trainer._forward_backward(x, y, _loop(trainer))
    assert sizes == [16, 16, 16, 16] and FakeDDP.skipped == 3


def test_accumulation_with_mixup_mixes_the_whole_batch_and_resumes(digits_tensors, tmp_path):
    """MixUp/CutMix mix the whole batch before it is cut; a run with accumulation resumes exactly mid-epoch."""
    data = small(digits_tensors)
    recipe = dict(RECIPE, epochs=2, accumulate=2, cutmix_prob=0.5, mixup_alpha=0.2, crop_padding=1, checkpoint_every=3)
    reference = Trainer(digits_model(), TrainConfig(**recipe), *data, seed=0).fit()
    checkpoint = tmp_path / "run.pt"
    original = Trainer._accumulate_gradients
    calls = {"n": 0}

    def dies_at_step_seven(self, *args):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return original(self, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "_accumulate_gradients", dies_at_step_seven)
        with pytest.raises(KeyboardInterrupt):
            Trainer(digits_model(), TrainConfig(**recipe), *data, seed=0, checkpoint=checkpoint).fit()
    state = torch.load(checkpoint, weights_only=False)
    assert (state["epoch"], state["step"]) == (1, 2)  # saved after global step 6, inside the second epoch
    resumed = Trainer(digits_model(), TrainConfig(**recipe), *data, seed=0, checkpoint=checkpoint).fit()
    assert resumed.val_probe_acc == reference.val_probe_acc
    assert [h["train_loss"] for h in resumed.history] == pytest.approx(
        [h["train_loss"] for h in reference.history], rel=1e-6
    )


def test_mlm_micro_batches_weigh_by_masked_tokens_and_match_the_whole_batch():
    ids = torch.randint(5, 1000, (48, 16), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, -1] = CLS_ID, SEP_ID
    train, held_out = TextSet(ids[:32], ids[:32], "t"), TextSet(ids[32:], ids[32:], "h")
    models = []
    for accumulate in (1, 4):
        torch.manual_seed(0)
        model = create_backbone("bert_tiny", connectivity="acn", dropout=0.0)
        model.use_mlm_head()
        config = TrainConfig(
            epochs=1, batch_size=16, warmup_epochs=0, lr=1e-3, eps=1e-3, label_smoothing=0.0, accumulate=accumulate
        )
        TextTrainer(model, config, train, held_out, mode="mlm", seed=0).fit()
        models.append(model)
    assert_same_parameters(*models)


def test_bad_accumulation_is_refused(digits_tensors, monkeypatch):
    for bad in (0, -2, 1.5):
        with pytest.raises(UserError, match="accumulate must be"):
            TrainConfig(batch_size=64, accumulate=bad).validate()
    with pytest.raises(UserError, match="batch_size 30 does not split into accumulate=4"):
        TrainConfig(batch_size=30, accumulate=4).validate()
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with pytest.raises(UserError, match=r"divisible by accumulate x --nproc_per_node = 8"):
        Trainer(digits_model(), TrainConfig(epochs=1, batch_size=36, accumulate=4), *small(digits_tensors))
