"""Trainer: real learning on digits, determinism, exact resume, augmentation, gradient norms."""

from __future__ import annotations

import pytest
import torch

from acn_bench import UserError, create_backbone
from acn_bench.data.augment import BatchAugment, Normalizer, random_crop, random_hflip
from acn_bench.training import TrainConfig, Trainer
from acn_bench.training.grad_norms import ParameterGroups, block_grad_norms, gradient_norms
from acn_bench.training.schedule import build_optimizer, build_scheduler


def digits_model(connectivity="acn", seed=0):
    torch.manual_seed(seed)
    return create_backbone("mixer_tiny", connectivity=connectivity, img_size=8, patch_size=2, in_chans=1)


def train(data, seed=0, checkpoint=None, **overrides):
    cfg = TrainConfig(**{"epochs": 3, "batch_size": 64, "warmup_epochs": 0.5, **overrides})
    return Trainer(digits_model(seed=seed), cfg, *data, seed=seed, checkpoint=checkpoint).fit()


def test_training_learns_real_digits(digits_tensors):
    result = train(digits_tensors, epochs=6, lr=3e-3)
    assert result.val_accuracy > 0.7  # ten classes: chance is 0.1
    assert len(result.val_probe_acc) == 5
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.best_epoch in range(1, 7) and result.steps == 6 * (512 // 64)


@pytest.mark.slow
def test_same_seed_gives_same_metrics_and_other_seed_differs(digits_tensors):
    a = train(digits_tensors, cutmix_prob=0.5, crop_padding=1)
    b = train(digits_tensors, cutmix_prob=0.5, crop_padding=1)
    c = train(digits_tensors, seed=1, cutmix_prob=0.5, crop_padding=1)
    assert a.val_probe_acc == b.val_probe_acc
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert [h["train_loss"] for h in a.history] != [h["train_loss"] for h in c.history]


def test_killed_run_resumes_exactly_from_its_epoch_checkpoint(digits_tensors, tmp_path, monkeypatch):
    augment = dict(cutmix_prob=0.5, crop_padding=1, hflip=True)  # shuffling and augmentation share one stream
    reference = train(digits_tensors, **augment)
    checkpoint = tmp_path / "run.pt"
    original = Trainer._train_epoch

    def dies_in_second_epoch(self, epoch, *args):
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch, *args)

    monkeypatch.setattr(Trainer, "_train_epoch", dies_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(digits_tensors, checkpoint=checkpoint, **augment)
    assert checkpoint.is_file() and not list(tmp_path.glob(".*tmp"))
    monkeypatch.setattr(Trainer, "_train_epoch", original)
    resumed = train(digits_tensors, checkpoint=checkpoint, **augment)
    assert resumed.val_probe_acc == reference.val_probe_acc
    assert [h["train_loss"] for h in resumed.history] == pytest.approx(
        [h["train_loss"] for h in reference.history], rel=1e-6
    )
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]


def test_checkpoint_of_another_config_is_refused(digits_tensors, tmp_path):
    checkpoint = tmp_path / "run.pt"
    train(digits_tensors, checkpoint=checkpoint, epochs=1)
    with pytest.raises(UserError, match="another configuration"):
        train(digits_tensors, checkpoint=checkpoint, epochs=1, lr=5e-4)


def test_grad_norms_are_logged_per_block_and_epoch(digits_tensors):
    result = train(digits_tensors, epochs=2, grad_norms=True)
    for entry in result.history:
        assert len(entry["grad_norms"]) == 4 and all(n > 0 for n in entry["grad_norms"])


def test_block_grad_norms_match_manual_norm():
    model = digits_model()
    model(torch.rand(4, 1, 8, 8)).sum().backward()
    manual = torch.cat([p.grad.flatten() for p in model.blocks[0].parameters()]).norm().item()
    assert block_grad_norms(model)[0].item() == pytest.approx(manual, rel=1e-5)


def test_gradient_norms_total_is_the_clipping_norm_of_all_parameters():
    model = digits_model()
    model(torch.rand(4, 1, 8, 8)).sum().backward()
    groups = ParameterGroups.of(model)
    assert len(groups.all) == len(list(model.parameters()))  # every parameter once
    blocks, total = gradient_norms(groups)
    assert blocks.shape == (model.depth,)
    expected = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e9)  # returns the norm, clips nothing
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert total.item() > blocks.norm().item()  # the embedding and head count too
    frozen = groups.blocks[1][0]
    frozen.grad = None  # a frozen parameter (linear probing) has no gradient and counts as zero
    expected_block = torch.cat([p.grad.flatten() for p in model.blocks[1].parameters() if p.grad is not None]).norm()
    assert gradient_norms(groups)[0][1].item() == pytest.approx(expected_block.item(), rel=1e-5)


def test_autoaugment_and_cutmix_run_on_grey_and_colour_batches():
    augment = BatchAugment(crop_padding=4, hflip=True, autoaugment="cifar10")
    for channels in (1, 3):
        batch = torch.randint(0, 256, (6, channels, 32, 32), dtype=torch.uint8)
        out = augment(batch)
        assert out.shape == batch.shape and out.dtype == torch.uint8


def test_random_crop_shifts_within_padding_and_flip_mirrors():
    images = torch.arange(2 * 1 * 4 * 4, dtype=torch.uint8).view(2, 1, 4, 4)
    assert torch.equal(random_crop(images, 0), images)
    cropped = random_crop(images, 2, torch.Generator().manual_seed(3))
    assert cropped.shape == images.shape
    for img, out in zip(images, cropped):  # every non-zero crop pixel comes from the original image
        assert set(out.unique().tolist()) - {0} <= set(img.unique().tolist())
    flipped = random_hflip(images, torch.Generator().manual_seed(0))
    for img, out in zip(images, flipped):
        assert torch.equal(out, img) or torch.equal(out, img.flip(-1))


def test_normalizer_standardises_each_channel():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    norm = Normalizer.from_images(images, chunk=10)
    out = norm(images)
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(out.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)


def test_schedule_warms_up_then_decays_to_min_lr():
    model = torch.nn.Linear(2, 2)
    opt = build_optimizer(model, lr=1e-3, weight_decay=0.01)
    sched = build_scheduler(opt, total_steps=100, warmup_steps=10, min_lr=1e-6)
    lrs = []
    for step in range(1, 101):
        sched.step_update(step)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[4] < lrs[9] == pytest.approx(1e-3, rel=0.05)
    assert lrs[-1] == pytest.approx(1e-6, rel=0.05) and max(lrs) <= 1e-3 + 1e-12
    assert opt.param_groups[1]["weight_decay"] == 0.0  # biases are not decayed


def test_bad_recipe_values_are_user_errors(digits_tensors):
    with pytest.raises(UserError, match="amp mode 'fp8'"):
        train(digits_tensors, amp="fp8")
    with pytest.raises(UserError, match="epochs must be >= 1, got 0"):
        train(digits_tensors, epochs=0)


def test_throughput_and_mfu_are_measured_every_epoch(digits_tensors, monkeypatch):
    from acn_bench.analysis import flops_per_sample
    from acn_bench.training.throughput import peak_flops

    assert "mfu" not in train(digits_tensors, epochs=1).history[0]  # CPU: no known peak, no guessed MFU
    monkeypatch.setenv("ACN_BENCH_PEAK_TFLOPS", "0.5")
    result = train(digits_tensors, epochs=2)
    model = digits_model()
    step_flops = 3 * flops_per_sample(model, Normalizer.from_images(digits_tensors[0])(digits_tensors[0][:1]))
    for entry in result.history:
        assert entry["samples_per_s"] == pytest.approx((512 // 64) * 64 / entry["seconds"])
        assert entry["model_tflops"] == pytest.approx(entry["samples_per_s"] * step_flops / 1e12)
        assert entry["mfu"] == pytest.approx(entry["model_tflops"] / 0.5)
    assert result.throughput["samples_per_s"] == pytest.approx(result.steps * 64 / result.train_seconds)

    monkeypatch.setenv("ACN_BENCH_PEAK_TFLOPS", "fast")
    with pytest.raises(UserError, match="ACN_BENCH_PEAK_TFLOPS must be the device's peak in TFLOP/s"):
        peak_flops(torch.device("cpu"))


class StepKill(Exception):
    """Stands for the process being killed after a given optimiser step."""


def kill_after(step):
    def on_step(global_step):
        if global_step == step:
            raise StepKill

    return on_step


def test_run_killed_mid_epoch_resumes_from_its_step_checkpoint(digits_tensors, tmp_path):
    options = dict(cutmix_prob=0.5, crop_padding=1, autoaugment="cifar10", checkpoint_every=3, grad_norms=True)
    reference = train(digits_tensors, **options)
    checkpoint = tmp_path / "run.pt"
    cfg = TrainConfig(**{"epochs": 3, "batch_size": 64, "warmup_epochs": 0.5, **options})
    with pytest.raises(StepKill):  # 8 steps per epoch: killed at step 13, last checkpoint at step 12 (epoch 2, batch 4)
        Trainer(digits_model(), cfg, *digits_tensors, checkpoint=checkpoint, on_step=kill_after(13)).fit()
    state = torch.load(checkpoint, weights_only=False)
    assert (state["epoch"], state["step"]) == (1, 4)
    resumed = Trainer(digits_model(), cfg, *digits_tensors, checkpoint=checkpoint).fit()
    assert resumed.val_probe_acc == reference.val_probe_acc
    assert [h["train_loss"] for h in resumed.history] == pytest.approx(
        [h["train_loss"] for h in reference.history], rel=1e-6
    )
    assert resumed.history[1]["grad_norms"] == pytest.approx(reference.history[1]["grad_norms"], rel=1e-5)
    assert resumed.steps == reference.steps == 24


def test_mixup_is_applied_with_soft_targets(digits_tensors):
    plain = train(digits_tensors, epochs=1)
    mixed = train(digits_tensors, epochs=1, mixup_alpha=0.2)
    assert mixed.history[0]["train_loss"] != plain.history[0]["train_loss"]
    with pytest.raises(UserError, match="mixup_alpha"):
        train(digits_tensors, mixup_alpha=-1)


def test_compile_is_auto_on_cuda_only_and_cpu_stays_eager(digits_tensors):
    from acn_bench.training.config import resolve_compile

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert (resolve_compile(None, cpu), resolve_compile(None, cuda)) == (False, True)
    assert (resolve_compile(True, cpu), resolve_compile(False, cuda)) == (True, False)
    assert TrainConfig().compile is None
    trainer = Trainer(digits_model(), TrainConfig(epochs=1), *digits_tensors, device=cpu)
    assert not trainer.compiled and trainer.forward_model is trainer.model
    with pytest.raises(UserError, match="compile must be None"):
        TrainConfig(compile="yes").validate()


def test_checkpoints_of_runs_before_the_compile_and_accumulate_options_still_resume(digits_tensors):
    from acn_bench.results.record import run_id

    model = digits_model()
    trainer = Trainer(model, TrainConfig(epochs=1), *digits_tensors, device=torch.device("cpu"))
    before = {k: v for k, v in TrainConfig(epochs=1).to_dict().items() if k != "accumulate"}
    before["compile"] = False  # what the CPU resolves compile=None to
    assert trainer.fingerprint == run_id({"train": before, "model": model.config, "seed": 0, "checkpoint_format": 4})
    accumulating = Trainer(digits_model(), TrainConfig(epochs=1, accumulate=2), *digits_tensors)
    assert accumulating.fingerprint != trainer.fingerprint


def _failing_backend(graph, example_inputs):
    raise RuntimeError("no compiler here")


def test_forced_compile_that_fails_is_a_user_error(digits_tensors, monkeypatch):
    def raises(*args, **kwargs):
        raise RuntimeError("torch.compile is not supported on this platform")

    monkeypatch.setattr(torch, "compile", raises)
    with pytest.raises(UserError, match="torch.compile failed .*compile=False"):
        Trainer(digits_model(), TrainConfig(epochs=1, compile=True), *digits_tensors)
    with pytest.warns(RuntimeWarning, match="torch.compile failed"):  # auto (here as on CUDA): falls back
        monkeypatch.setattr("acn_bench.training.trainer.resolve_compile", lambda flag, device: True)
        trainer = Trainer(digits_model(), TrainConfig(epochs=1), *digits_tensors)
    assert not trainer.compiled and trainer.forward_model is trainer.model


def test_compile_failing_at_the_first_step_falls_back_or_fails_as_asked(digits_tensors, monkeypatch):
    import torch._dynamo

    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module, **kw: real_compile(module, backend=_failing_backend))
    torch._dynamo.reset()
    with pytest.raises(UserError, match="torch.compile failed"):
        train(digits_tensors, epochs=1, compile=True)
    torch._dynamo.reset()
    eager = train(digits_tensors, epochs=1, accumulate=2)
    monkeypatch.setattr("acn_bench.training.trainer.resolve_compile", lambda flag, device: True)
    with pytest.warns(RuntimeWarning, match="training continues without it"):
        fallen_back = train(digits_tensors, epochs=1, accumulate=2)
    torch._dynamo.reset()
    assert fallen_back.val_probe_acc == eager.val_probe_acc
    assert fallen_back.history[0]["train_loss"] == eager.history[0]["train_loss"]


def test_fused_adamw_is_chosen_only_when_every_parameter_is_on_cuda(monkeypatch):
    from acn_bench.training import schedule
    from acn_bench.training.schedule import use_fused_adamw

    assert use_fused_adamw(["cuda:0", torch.device("cuda", 1)])
    assert not use_fused_adamw(["cpu"]) and not use_fused_adamw(["cuda:0", "cpu"]) and not use_fused_adamw([])
    model = digits_model()
    assert not build_optimizer(model, 1e-3, 0.01).defaults.get("fused")  # CPU: the default implementation
    made = {}

    class Recorder(torch.optim.AdamW):
        def __init__(self, params, **kwargs):
            made.update(kwargs)
            super().__init__(params, **{k: v for k, v in kwargs.items() if k != "fused"})

    monkeypatch.setattr(torch.optim, "AdamW", Recorder)
    monkeypatch.setattr(schedule, "use_fused_adamw", lambda devices: all(str(d) == "cpu" for d in devices))
    build_optimizer(model, 1e-3, 0.01)
    assert made["fused"] is True


@pytest.mark.parametrize("name", ["mixer_tiny", "vit_tiny", "bert_tiny"])
def test_batched_probe_equals_the_probe_of_each_depth_to_float_precision(name):
    from acn_bench.training.evaluate import probe_logits

    torch.manual_seed(0)
    model = create_backbone(name, connectivity="acn").eval()
    x = model.example_input(5)
    with torch.no_grad():
        # One head matmul over all depths: BLAS may pick another kernel for the taller matrix (1 ulp).
        torch.testing.assert_close(probe_logits(model, x), model.probe(x), rtol=1e-6, atol=1e-7)


def test_the_step_loop_reads_no_tensor_back_per_step(digits_tensors, monkeypatch):
    """Host reads (``.item()``, ``.tolist()``, ``float()``, ``bool()``, ...) happen per epoch, never per step
    (on CUDA each would wait for the device). CPU AdamW reads its own CPU step counters; fused CUDA AdamW
    keeps them on the device, so reads from ``torch/optim`` are not counted."""
    import sys

    counts = {"n": 0}
    for method in ("item", "tolist", "__float__", "__bool__", "__int__", "__index__"):
        original = getattr(torch.Tensor, method)

        def counted(self, *args, _original=original, **kwargs):
            if "torch/optim/" not in sys._getframe(1).f_code.co_filename.replace("\\", "/"):
                counts["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, counted)
    options = dict(grad_norms=True, cutmix_prob=0.5, crop_padding=1, hflip=True, eval_every=100, accumulate=2)
    reads = []
    for batch_size in (64, 32):  # 8 and 16 steps per epoch
        trainer = Trainer(digits_model(), TrainConfig(epochs=2, batch_size=batch_size, **options), *digits_tensors)
        counts["n"] = 0
        trainer.fit()
        reads.append(counts["n"])
    assert reads[0] == reads[1]


def test_the_phase_clock_splits_the_training_time_and_changes_no_number(digits_tensors):
    from acn_bench.training.phase_clock import PhaseClock

    options = dict(epochs=2, batch_size=64, warmup_epochs=0.5, cutmix_prob=0.5, autoaugment="cifar10", grad_norms=True)
    plain = Trainer(digits_model(), TrainConfig(**options), *digits_tensors).fit()
    clock = PhaseClock()
    clocked = Trainer(digits_model(), TrainConfig(**options), *digits_tensors, clock=clock).fit()
    assert clocked.val_probe_acc == plain.val_probe_acc  # the clock only reads the time
    assert set(clock.seconds) == {
        "data + augmentation",
        "forward + backward",
        "gradient norms (logging)",
        "optimizer (clip, AdamW, schedule)",
        "bookkeeping (loss, progress, checkpoints)",
    }
    assert all(seconds > 0 for seconds in clock.seconds.values())
    # the phases tile the timed stretch of every epoch: only the loop's own start and end fall outside
    assert sum(clock.seconds.values()) == pytest.approx(clocked.train_seconds, rel=0.1)
    assert clock.seconds["forward + backward"] > clock.seconds["bookkeeping (loss, progress, checkpoints)"]
