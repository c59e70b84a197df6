"""The one progress display: the grid, the first decode, continual runs and training draw on it, nested,
and nothing is drawn when output is not a terminal."""

from __future__ import annotations

import io
import re
import tarfile
from types import SimpleNamespace

import pytest
import torch
from rich.console import Console
from rich.progress import Progress

from acn_bench import create_backbone, progress
from acn_bench.data import sources
from acn_bench.results import Record, run_id
from acn_bench.suites import Measured, RunContext, Suite, run_suite
from acn_bench.training import TrainConfig, Trainer

CPU = torch.device("cpu")


class Instant(Suite):
    """Three runs that take no time: only the grid's bar is under test."""

    name = "instant"
    metrics = ("accuracy",)
    datasets = ("digits",)
    recipes = {"smoke": {"*": None}}

    def grid(self, profile, dataset):  # the signature before backbone families: still accepted
        return [
            {"dataset": dataset, "connectivity": c, "profile": profile, "seed": 0} for c in ("acn", "residual", "dense")
        ]

    def load_data(self, config, recipe, context):
        return None

    def train(self, config, recipe, data, context):
        return None

    def measure(self, config, recipe, trained, context):
        return Measured({})

    def make_record(self, config, recipe, trained, measured):
        return Record(
            suite=self.name,
            profile="smoke",
            dataset={"name": "digits", "source": "sklearn"},
            backbone={
                "name": "mixer_tiny",
                "connectivity": config["connectivity"],
                "depth": 2,
                "params": 1,
                "config": {},
            },
            seed=0,
            config=config,
            metrics={"accuracy": 0.5},
            run_id=run_id(config),
        )


@pytest.fixture
def terminal(monkeypatch):
    """A forced-terminal console on which every bar update is drawn at once (rich draws 10 times a second)."""
    for name in ("advance", "update"):
        original = getattr(Progress, name)

        def drawn(self, *args, _original=original, **kwargs):
            _original(self, *args, **kwargs)
            self.refresh()

        monkeypatch.setattr(Progress, name, drawn)
    return Console(force_terminal=True, file=io.StringIO(), width=120)


def shown(console: Console) -> str:
    """What the console printed, without colours and cursor movements."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())


def run_grid(tmp_path, console: Console) -> str:
    suite = Instant()
    context = RunContext(out_dir=tmp_path, device=CPU, progress=console.is_terminal, log=console.print)
    with progress.display(console.is_terminal, console):
        outcome = run_suite(suite, suite.grid("smoke", "digits"), context)
    assert len(outcome.written) == 3
    return shown(console)


def test_the_grid_shows_run_i_of_n_elapsed_and_remaining(tmp_path, terminal):
    out = run_grid(tmp_path, terminal)
    assert "[1/3] instant" in out  # the log lines still print, above the bars
    for done in (1, 2, 3):
        assert re.search(rf"instant: run \d/3 .*{done}/3 .*eta \d", out)


def test_nothing_is_drawn_when_output_is_not_a_terminal(tmp_path):
    console = Console(file=io.StringIO(), width=120)
    out = run_grid(tmp_path, console)
    assert "[3/3] instant" in out and "run 3/3" not in out and "━" not in out


def test_the_first_decode_of_a_folder_shows_images_decoded_of_total_and_the_rate(terminal, digit_folders, tmp_path):
    with progress.display(True, terminal):
        raw = sources.read_class_folders(sources.DirStore(digit_folders), "train", None)
    assert len(raw.labels) == 80
    out = shown(terminal)
    assert re.search(r"decoding train images of digit-folders .*80/80 .*img/s", out)

    archive = tmp_path / "digits.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(digit_folders, arcname="digits")
    console = Console(force_terminal=True, file=io.StringIO(), width=120)
    with progress.display(True, console):
        sources.read_class_folders(sources.TarStore(archive), "test", None)
    assert re.search(r"decoding test images of digits.tar.gz .*30/\?", shown(console))  # a stream: no total


def test_a_continual_run_shows_task_t_of_t_epoch_and_loss(terminal):
    from acn_bench.strategies.progress_plugin import continual_progress

    strategy = SimpleNamespace(
        experience=SimpleNamespace(current_experience=1),
        train_epochs=2,
        dataloader=[None] * 4,
        loss=torch.tensor(0.25),
        device=CPU,
    )
    with progress.display(True, terminal), continual_progress(5) as plugin:
        plugin.before_training_exp(strategy)
        for _ in range(strategy.train_epochs):
            plugin.before_training_epoch(strategy)
            for _ in strategy.dataloader:
                plugin.after_training_iteration(strategy)
            plugin.after_training_epoch(strategy)
        plugin.after_training_exp(strategy)
    out = shown(terminal)
    assert re.search(r"task 2/5 .*1/5", out)  # resumed after task 1: the bar starts there
    assert re.search(r"epoch 2/2: loss 0\.250 .*2/2", out)
    assert re.search(r"minibatches .*4/4 .*batches/s", out)
    assert re.search(r"task 2/5: testing every task .*2/5", out)


def test_nested_displays_share_one_live_display(terminal, digits_tensors):
    images, labels, eval_images, eval_labels = digits_tensors
    torch.manual_seed(0)
    model = create_backbone("mixer_tiny", connectivity="acn", img_size=8, patch_size=2, in_chans=1)
    config = TrainConfig(epochs=1, batch_size=64, amp="none")
    with progress.display(True, terminal), progress.task("outer", total=1) as outer:
        with progress.display(True, Console(force_terminal=True, file=io.StringIO())):  # joins the outer one
            Trainer(model, config, images[:128], labels[:128], eval_images[:64], eval_labels[:64], progress=True).fit()
        outer.advance()
    assert re.search(r"epoch 1/1: loss \d\.\d{3}, val acc \d\.\d{3} .*1/1", shown(terminal))
    assert re.search(r"steps .*2/2 .*steps/s", shown(terminal))


def test_bars_without_a_display_draw_nothing():
    with progress.task("alone", total=2) as bar:
        bar.advance(2)  # no display is active: nowhere to draw, no error
