"""Two backbone families per image suite: the Mixer (the grid's default) and the CPU ViT (``--backbones
vit_tiny``), trained with the same recipe; a backbone no recipe names is refused; ``--set lr`` for a
learning-rate choice on the validation split; the standard twins' relative probe curve."""

from __future__ import annotations

import dataclasses
import json

import pytest

from acn_bench.backbones import backbone_options
from acn_bench.benchmarks.transfer import streamed_source_recipe
from acn_bench.cli import main
from acn_bench.errors import UserError
from acn_bench.results import Record
from acn_bench.results.primaries import BACKBONE_FAMILIES
from acn_bench.suites import BackboneRecipes, Recipe, get_suite, plan_runs
from acn_bench.suites.recipe import model_recipe
from acn_bench.training import TrainConfig

IMAGE_SUITES = ("compression", "robustness", "early_exit", "low_data", "transfer", "continual")


def without_backbone(recipe):
    """A suite's recipe with what may differ between families blanked: backbone, depth, backbone arguments."""
    if isinstance(recipe, Recipe):
        return dataclasses.replace(recipe, backbone="", depth=None, overrides={})
    if hasattr(recipe, "pretrain"):  # transfer: the source recipe names the backbone
        return dataclasses.replace(recipe, pretrain=without_backbone(recipe.pretrain))
    if hasattr(recipe, "model"):
        return dataclasses.replace(recipe, model=without_backbone(recipe.model))
    return dataclasses.replace(recipe, backbone="", overrides={})  # continual


@pytest.mark.parametrize("suite_name", IMAGE_SUITES)
@pytest.mark.parametrize("profile", ["smoke", "quick", "standard"])
def test_every_cifar10_suite_trains_the_vit_with_the_mixers_recipe(suite_name, profile):
    suite = get_suite(suite_name)
    mixer, vit = suite.recipe(profile, "cifar10"), suite.recipe(profile, "cifar10", "vit_tiny")
    assert (mixer.backbone, vit.backbone) == ("mixer_small" if profile != "smoke" else "mixer_tiny", "vit_tiny")
    assert without_backbone(vit) == without_backbone(mixer)  # data, augmentation, optimiser, budget, twins


def test_the_vit_grid_takes_its_own_depths_and_the_default_grid_stays_the_mixers():
    early_exit, continual = get_suite("early_exit"), get_suite("continual")
    both = plan_runs(get_suite("compression"), "standard", "cifar10", axes={"backbone": ["mixer_small", "vit_tiny"]})
    assert sorted({(c["backbone"], c["depth"]) for c in both}) == [("mixer_small", 8), ("vit_tiny", 6)]
    default = plan_runs(get_suite("compression"), "standard", "cifar10")
    assert {c["backbone"] for c in default} == {"mixer_small"} and len(both) == 2 * len(default)
    quick_exits = plan_runs(early_exit, "quick", "cifar10", axes={"backbone": ["vit_tiny"]})
    assert {c["depth"] for c in quick_exits} == {12}  # twice its preset's, as the Mixer's 16 is twice its 8
    deep = plan_runs(continual, "standard", "cifar10", axes={"backbone": ["vit_tiny"]})
    assert sorted({c["depth"] for c in deep}) == [5, 10]  # the depth axis both families run
    assert all(continual.run_recipe(c).overrides == {} for c in deep)


def test_a_built_in_backbone_no_recipe_names_is_refused_with_the_accepted_ones(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "compression", "--profile", "smoke", "--out", str(out), "--backbones", "bert_tiny"]
    assert main(argv) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert "has no recipe for the built-in backbone 'bert_tiny'; accepted: mixer_tiny, vit_tiny" in error
    assert "a backbone from a plugin (it trains with the mixer_tiny recipe)" in error
    assert main(["run", "glue", "--profile", "smoke", "--out", str(out), "--backbones", "vit_tiny"]) == 2
    assert "accepted: bert_tiny" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()
    with pytest.raises(UserError, match="on 'digits' has no recipe for the built-in backbone 'vit_tiny'"):
        plan_runs(get_suite("compression"), "quick", "digits", axes={"backbone": ["vit_tiny"]})


def test_recipes_name_one_backbone_each_and_a_recipe_without_one_takes_any():
    mixer = Recipe("mixer_tiny", TrainConfig())
    with pytest.raises(ValueError, match="one recipe per backbone"):
        BackboneRecipes((mixer, mixer))
    assert BackboneRecipes.of(mixer).pick(None, "here") is mixer
    assert BackboneRecipes.of(None).pick("vit_tiny", "here") is None and BackboneRecipes.of(None).backbones == ()


def test_set_lr_changes_the_recipe_and_the_profiles_own_lr_is_the_profiles_run():
    suite = get_suite("compression")
    own = suite.recipe("smoke", "digits").train.lr
    configs = plan_runs(suite, "smoke", "digits", axes={"lr": [own, 3e-3]}, only={"connectivity": ["acn"]})
    assert [c.get("lr") for c in configs] == [None, 3e-3]  # the profile's own value names the profile's run
    assert [suite.run_recipe(c).train.lr for c in configs] == [own, 3e-3]
    assert suite.identity(configs[0]) == suite.identity(plan_runs(suite, "smoke", "digits")[1])
    for bad in (0, True, "fast"):  # --set lr=true parses as a bool, which Python counts as the number 1
        with pytest.raises(UserError, match=f"--set lr takes a positive learning rate, got {bad!r}"):
            plan_runs(suite, "smoke", "digits", axes={"lr": [bad]})
    with pytest.raises(UserError, match="--set epochs takes a whole number of epochs .* got True"):
        plan_runs(suite, "smoke", "digits", axes={"epochs": [True]})


def test_a_vit_twin_runs_end_to_end_with_its_own_depth(tmp_path):
    out = tmp_path / "out"
    argv = ["run", "compression", "--profile", "smoke", "--out", str(out), "--no-progress", "--backbones", "vit_tiny"]
    assert main([*argv, "--only", "connectivity=acn"]) == 0
    [path] = (out / "compression").glob("*.json")
    record = json.loads(path.read_text())
    assert record["backbone"]["name"] == "vit_tiny" and record["backbone"]["depth"] == 6
    assert record["config"]["depth"] == 6 and len(record["probe"]) == 7
    mixer = model_recipe(get_suite("compression").recipe("smoke", "digits")).train
    assert record["config"]["train"] == json.loads(json.dumps(dataclasses.asdict(mixer)))


def standard_record(backbone, connectivity, seed, probe, profile="standard", epochs=20, **set_keys):
    return Record(
        suite="compression",
        profile=profile,
        dataset={"name": "cifar10"},
        backbone={"name": backbone, "connectivity": connectivity, "depth": len(probe) - 1},
        seed=seed,
        config={"train": {"epochs": epochs}, **set_keys},
        metrics={"accuracy": probe[-1], "cutoff_layer": len(probe) - 1},
        run_id=f"{backbone}-{connectivity}-{seed}-{profile}-{epochs}-{set_keys}",
        probe=probe,
        protocol=2,
    )


def test_the_relative_probe_figure_draws_the_standard_twins_of_every_family_as_shares_of_full_accuracy():
    records = [
        standard_record("mixer_small", "acn", 0, [0.1, 0.3, 0.5, 0.5]),
        standard_record("mixer_small", "acn", 1, [0.1, 0.2, 0.4, 0.4]),
        standard_record("vit_tiny", "residual", 0, [0.1, 0.2, 0.8]),
        standard_record("vit_tiny", "residual", 1, [0.1, 0.2, 0.8], epochs=5),  # another budget: left out
        standard_record("vit_tiny", "acn", 0, [0.1, 0.2, 0.8], profile="quick"),  # another profile: left out
        standard_record("vit_tiny", "residual", 0, [0.5, 0.5, 0.8], lr=2e-3),  # --set lr: another recipe, left out
    ]
    [figure] = [f for f in get_suite("compression").figures(records) if f.name == "compression_relative_probe_standard"]
    mixer = figure.series["cifar10 standard mixer_small acn L=3 20ep"]
    assert mixer[1] == pytest.approx([0.6, 0.5]) and mixer[3] == pytest.approx([1.0, 1.0])
    vit = figure.series["cifar10 standard vit_tiny residual L=2 20ep"]
    assert [vit[k] for k in sorted(vit)] == [pytest.approx([0.125]), pytest.approx([0.25]), [1.0]]
    assert len(figure.series) == 2 and "share of the full model's test accuracy" in figure.ylabel


def test_the_imagenet_paper_profile_trains_vit_s16_with_vit_b16s_recipe(tmp_path):
    suite = get_suite("imagenet")
    [config] = plan_runs(
        suite, "paper", f"imagefolder:{tmp_path}", axes={"backbone": ["vit_s16"]}, only={"connectivity": ["acn"]}
    )
    assert (config["backbone"], config["depth"]) == ("vit_s16", 12)
    b16, s16 = suite.recipe("paper", "imagenet"), suite.run_recipe(config)
    assert (b16.backbone, s16.backbone) == ("vit_b16", "vit_s16") and s16.model.train == b16.model.train


def test_a_streamed_transfer_source_trains_with_the_imagenet_recipe_of_its_backbone_else_the_default():
    """The recipe stored beside a streamed source model names the source's own backbone where the imagenet
    suite has a recipe for it (vit_s16 in the paper profile), else the default recipe trains it."""
    imagenet = get_suite("imagenet")
    assert imagenet.recipe_backbones("paper", "imagenet") == ("vit_b16", "vit_s16")
    assert streamed_source_recipe("paper", "vit_s16").backbone == "vit_s16"
    assert streamed_source_recipe("paper", "vit_b16").backbone == "vit_b16"
    assert streamed_source_recipe("smoke", "mixer_tiny") == imagenet.recipe("smoke", "imagenet")  # any backbone


def test_each_family_beside_the_primaries_has_its_presets_depth():
    """The claims report looks a family's records up at the depth its recipes train (its preset's)."""
    for family in BACKBONE_FAMILIES:
        assert family.depth == backbone_options(family.backbone)["depth"]
        [config] = plan_runs(
            get_suite("compression"),
            "standard",
            "cifar10",
            axes={"backbone": [family.backbone]},
            only={"connectivity": ["acn"]},
        )
        assert config["depth"] == family.depth
