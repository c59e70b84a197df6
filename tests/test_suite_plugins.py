"""Suites as plugins: the example suite through --plugin, entry points, broken plugins, the one run skeleton."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
import torch

from acn_bench import UserError
from acn_bench.benchmarks.compression import CompressionSuite
from acn_bench.cli import main
from acn_bench.plugins import load_plugin
from acn_bench.suites import (
    Measured,
    Recipe,
    RunContext,
    Suite,
    get_suite,
    list_suites,
    plan_runs,
    register_suite,
    run_suite,
)
from acn_bench.training import TrainConfig

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "calibration_suite.py"

SUITE_SOURCE = """
from acn_bench import ImageSuite, Measured
from acn_bench.benchmarks.compression import RECIPES


class {cls}(ImageSuite):
    name = "{name}"
    description = "accuracy only"
    metrics = ("accuracy",)
    datasets = ("digits",)
    recipes = RECIPES
{measure}
"""
MEASURE = """
    def measure(self, config, recipe, trained, context):
        return Measured({})
"""


pytestmark = pytest.mark.usefixtures("clean_registry")  # suites registered by a test leave with it


def write_plugin(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(body)
    return path


def test_the_example_suite_runs_through_plugin_without_installing(tmp_path, capsys):
    assert len(EXAMPLE.read_text().splitlines()) <= 45
    out = tmp_path / "results"
    assert (
        main(
            [
                "run",
                "calibration",
                "--plugin",
                str(EXAMPLE),
                "--profile",
                "smoke",
                "--out",
                str(out),
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    records = [json.loads(p.read_text()) for p in sorted((out / "calibration").glob("*.json"))]
    assert {r["backbone"]["connectivity"] for r in records} == {"residual", "acn"}
    for record in records:
        by_depth = record["history"]["calibration_error_by_depth"]
        assert len(by_depth) == record["backbone"]["depth"]
        assert all(0 <= value <= 1 for value in by_depth)
        assert record["metrics"]["calibration_error"] == by_depth[-1]
        assert record["config"]["train"]["epochs"] == 2  # the plugin's own recipe
    assert "suites: calibration" in capsys.readouterr().out
    assert main(["list", "--plugin", str(EXAMPLE)]) == 0
    assert "expected calibration error" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("raise RuntimeError('boom')\n", "raised on import: RuntimeError: boom"),
        (
            SUITE_SOURCE.format(cls="Again", name="compression", measure=MEASURE)
            .replace("class Again", "@register_suite\nclass Again")
            .replace(
                "from acn_bench import ImageSuite",
                "from acn_bench import register_suite\nfrom acn_bench import ImageSuite",
            ),
            "suite 'compression' is already registered",
        ),
        (
            SUITE_SOURCE.format(cls="NoMeasure", name="no-measure", measure="")
            .replace("class NoMeasure", "@register_suite\nclass NoMeasure")
            .replace(
                "from acn_bench import ImageSuite",
                "from acn_bench import register_suite\nfrom acn_bench import ImageSuite",
            ),
            "suite class NoMeasure does not implement measure",
        ),
    ],
    ids=["raises-on-import", "name-taken", "missing-measure"],
)
def test_a_broken_suite_plugin_exits_2_naming_the_file_and_writes_nothing(tmp_path, capsys, body, message):
    plugin = write_plugin(tmp_path, "broken_suite", body)
    out = tmp_path / "results"
    assert main(["run", "compression", "--plugin", str(plugin), "--profile", "smoke", "--out", str(out)]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert str(plugin) in error and message in error
    assert not out.exists()
    assert "no-measure" not in list_suites()


def test_a_plugin_that_fails_halfway_takes_back_what_it_registered(tmp_path):
    body = (
        SUITE_SOURCE.format(cls="First", name="first-half", measure=MEASURE)
        + "\nfrom acn_bench.suites import register_suite\nregister_suite(First)\nraise ValueError('later')\n"
    )
    with pytest.raises(UserError, match="later"):
        load_plugin(write_plugin(tmp_path, "half", body))
    assert "first_half" not in list_suites()


def test_register_suite_refuses_what_is_not_a_complete_suite():
    with pytest.raises(UserError, match="not a subclass of acn_bench.Suite"):
        register_suite(dict)

    class Nameless(CompressionSuite):
        name = ""

    with pytest.raises(UserError, match="sets no name"):
        register_suite(Nameless)


def test_entry_point_group_finds_a_third_party_suite(tmp_path, monkeypatch):
    (tmp_path / "thirdparty_suites.py").write_text(
        SUITE_SOURCE.format(cls="AccuracyOnly", name="accuracy-only", measure=MEASURE)
    )
    dist = tmp_path / "thirdparty_suites-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-suites\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[acn_bench.suites]\naccuracy_only = thirdparty_suites:AccuracyOnly\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "accuracy_only" in list_suites()
    assert type(get_suite("accuracy-only")).__name__ == "AccuracyOnly"
    assert set(list_suites()) >= {
        "compression",
        "continual",
        "early_exit",
        "glue",
        "imagenet",
        "low_data",
        "pruning",
        "robustness",
        "transfer",
    }


def test_a_subclass_with_its_own_recipes_runs_them_in_every_step(tmp_path):
    """The grid and the run both read ``self.recipe``: no step falls back on the module's recipes."""

    class OneEpochCompression(CompressionSuite):
        recipes = {
            "smoke": {
                "*": Recipe(
                    "mixer_tiny",
                    TrainConfig(epochs=1, batch_size=64, warmup_epochs=0),
                    depth=3,
                    max_train=128,
                    max_test=64,
                )
            }
        }

    suite = OneEpochCompression()
    plan = plan_runs(suite, "smoke", only={"connectivity": ["acn"]})
    assert plan[0]["depth"] == 3
    context = RunContext(out_dir=tmp_path, device=torch.device("cpu"), log=lambda _: None)
    record = run_suite(suite, plan, context).records[0]
    assert record.config["train"]["epochs"] == 1 and len(record.history["epochs"]) == 1
    assert record.dataset["train_size"] == 128 and record.dataset["test_size"] == 64
    assert record.backbone["depth"] == 3


SUITES = list_suites()  # every registered suite, the built-in ones and any an installed package declares


@pytest.mark.parametrize("name", SUITES)
def test_every_suites_measure_step_returns_measured_and_its_record_step_takes_it(name):
    steps = type(get_suite(name))
    assert typing.get_type_hints(steps.measure)["return"] is Measured
    assert typing.get_type_hints(steps.make_record)["measured"] is Measured


def test_run_one_refuses_a_measure_step_that_returns_anything_but_measured():
    class DictMeasure(Suite):
        name = "dict-measure"
        recipes = {"smoke": {"*": None}}

        def grid(self, profile, dataset, backbone=None):
            return [{}]

        def load_data(self, config, recipe, context):
            return None

        def train(self, config, recipe, data, context):
            return None

        def measure(self, config, recipe, trained, context):
            return {"accuracy": 1.0}

        def make_record(self, config, recipe, trained, measured):
            raise AssertionError("make_record must not see a dict")

    context = RunContext(out_dir=Path("unused"), device=torch.device("cpu"), log=lambda _: None)
    with pytest.raises(TypeError, match="DictMeasure.measure returned dict; a suite's measure step returns"):
        DictMeasure().run_one({"profile": "smoke", "dataset": "digits"}, context)


def test_a_suite_whose_grid_predates_the_backbone_argument_plans_with_and_without_backbones():
    """``grid(self, profile, dataset)``, as plugin suites wrote it before backbone families: plain runs plan
    as before, and ``--backbones`` replaces the grid's backbone axis (the backbone is not passed in)."""

    class OldGrid(Suite):
        name = "old-grid"
        datasets = ("digits",)
        recipes = {"smoke": {"*": None}}

        def grid(self, profile, dataset):
            return [{"dataset": dataset, "backbone": "mixer_tiny", "connectivity": c} for c in ("acn", "residual")]

        load_data = train = measure = make_record = None  # planning only

    plain = plan_runs(OldGrid(), "smoke")
    assert [(c["backbone"], c["connectivity"]) for c in plain] == [("mixer_tiny", "acn"), ("mixer_tiny", "residual")]
    both = plan_runs(OldGrid(), "smoke", axes={"backbone": ["mixer_tiny", "my_net"]})
    assert sorted((c["backbone"], c["connectivity"]) for c in both) == [
        ("mixer_tiny", "acn"),
        ("mixer_tiny", "residual"),
        ("my_net", "acn"),
        ("my_net", "residual"),
    ]


class RecipeSeen(Exception):
    """Raised by a stub ``load_data`` to stop a run once it has been handed its recipe."""


@pytest.mark.parametrize("name", SUITES)
def test_run_recipe_is_the_recipe_every_run_gets_with_set_epochs_where_the_suite_takes_it(name, monkeypatch):
    suite = get_suite(name)
    [plain] = plan_runs(suite, "smoke")[:1]
    assert suite.run_recipe(plain) == suite.recipe("smoke", plain["dataset"])  # the profile's own run
    if "epochs" not in suite.recipe_keys:
        with pytest.raises(UserError, match=f"unknown grid axis of suite '{name}' 'epochs'"):
            plan_runs(suite, "smoke", axes={"epochs": [1]})
        return
    configs = plan_runs(suite, "smoke", axes={"epochs": [1]})
    assert configs and all(suite.run_recipe(c).train.epochs == 1 for c in configs)

    def seen(config, recipe, context):
        raise RecipeSeen(recipe)

    monkeypatch.setattr(suite, "load_data", seen)
    context = RunContext(out_dir=Path("unused"), device=torch.device("cpu"), log=lambda _: None)
    with pytest.raises(RecipeSeen) as stopped:
        suite.run_one(configs[0], context)
    assert stopped.value.args[0] == suite.run_recipe(configs[0])  # run_one hands the steps run_recipe's recipe
