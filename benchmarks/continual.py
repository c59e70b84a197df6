"""Continual learning: AC vs residual twins as shared trunks under naive fine-tuning, SI and EWC.

A split scenario (arXiv 2506.09714, §6) cuts a dataset's classes into tasks in a fixed, seeded class order:
split CIFAR-100 (20 tasks x 5 classes, the paper's), split Tiny-ImageNet (20 x 10), split CIFAR-10
and split digits (5 x 2). It is built from our in-memory tensors by Avalanche's ``nc_benchmark``,
normalised with the training set's statistics. ``setting=task`` (the paper's) is task-incremental
with one head per task on the shared trunk; ``setting=class`` is class-incremental with one growing
head. An Avalanche strategy (``acn_bench.strategies.make_strategy``) trains the model task after task; after
every task the whole test stream is evaluated, giving the accuracy matrix ``acc[i][j]`` from which
average accuracy, average forgetting (Avalanche's stream forgetting), backward transfer and
learning accuracy follow. At the end, every task's head probes every depth of the trunk: where
does each task's knowledge sit?

Strategy hyperparameters are flat grid keys (``--set si_lambda=2``, ``--set ewc_lambda=100``); a
run's identity and record keep only those of its own strategy.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from acn_bench.benchmarks.paper import paper_record
from acn_bench.benchmarks.recipes import VIT
from acn_bench.data import ImageSet
from acn_bench.data.augment import Normalizer, resize_bilinear
from acn_bench.data.splits import per_class_subset, validation_split
from acn_bench.errors import require, unknown_choice
from acn_bench.results import Record, environment, run_id
from acn_bench.results.plots import FigureData, Heatmaps, Lines, new_series
from acn_bench.strategies import all_strategy_params, make_strategy, strategy_entry, strategy_params
from acn_bench.strategies.evaluation import continual_summary, probe_tasks, run_stream, silent_evaluator
from acn_bench.suites import TWINS, BackboneRecipes, Measured, RunContext, Suite, expand_grid, register_suite
from acn_bench.suites.image_data import VALIDATION_SEED, backbone_for, backbone_info, dataset_info, load_dataset
from acn_bench.training import distributed, seed_everything

SETTINGS = ("task", "class")
PAPER_DEPTHS = (5, 10, 15)
PAPER_STRATEGIES = ("naive", "si", "ewc")


class Split(NamedTuple):
    """A dataset's default task split: number of tasks and number of classes."""

    n_tasks: int
    num_classes: int


SPLITS: dict[str, Split] = {
    "digits": Split(5, 10),
    "cifar10": Split(5, 10),
    "cifar100": Split(20, 100),
    "tiny-imagenet": Split(20, 200),
}
DEFAULT_TASKS = 5  # for image folders, whose class count is known only once loaded


@dataclasses.dataclass(frozen=True)
class ContinualRecipe:
    """How one profile trains on one scenario.

    Attributes:
        backbone: registry name of the backbone.
        epochs: training epochs per task.
        batch_size: training minibatch size.
        lr: Adam learning rate (no weight decay: it would fight the regularisers' anchors).
        eval_batch_size: evaluation minibatch size.
        depths: the depth axis of the grid.
        strategies: the strategy axis of the grid.
        train_per_class, test_per_class: keep the first N images of every class (None: all).
        image_size: resize images to this size first (None: keep).
        overrides: further backbone arguments (width, patch size, ...).
        val_size: the validation split carved from the training images before the per-class cut
            (images or a fraction); the suite chooses nothing, but every record reports its
            validation accuracy so hyperparameters (e.g. a ``--set ewc_lambda`` sweep) are chosen on it.
    """

    backbone: str
    epochs: int
    batch_size: int
    lr: float = 1e-3
    eval_batch_size: int = 256
    depths: tuple[int, ...] = PAPER_DEPTHS
    strategies: tuple[str, ...] = PAPER_STRATEGIES
    train_per_class: int | None = None
    test_per_class: int | None = None
    image_size: int | None = None
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    val_size: int | float = 0.1


def with_vit(recipe: ContinualRecipe, **vit_overrides: Any) -> BackboneRecipes:
    """``recipe`` (a Mixer's) and the same epochs, optimiser, depths and data for the CPU ViT."""
    return BackboneRecipes((recipe, dataclasses.replace(recipe, backbone=VIT, overrides=vit_overrides)))


RECIPES: dict[str, dict[str, ContinualRecipe | BackboneRecipes]] = {
    "smoke": {
        "*": with_vit(
            ContinualRecipe(
                "mixer_tiny",
                epochs=1,
                batch_size=32,
                depths=(2,),
                train_per_class=30,
                test_per_class=10,
                overrides={"patch_size": 2},
            ),
            patch_size=2,
            dim=32,
        )
    },
    "quick": {
        "digits": ContinualRecipe("mixer_small", epochs=5, batch_size=32, overrides={"patch_size": 2}),
        "cifar10": with_vit(
            ContinualRecipe(
                "mixer_small",
                epochs=2,
                batch_size=64,
                train_per_class=300,
                test_per_class=200,
                overrides={"dim": 32, "token_hidden": 32, "channel_hidden": 128},
            ),
            dim=32,  # the Mixer's narrower width
        ),
        "*": ContinualRecipe(
            "mixer_small",
            epochs=2,
            batch_size=64,
            train_per_class=100,
            test_per_class=20,
            image_size=32,
            overrides={"dim": 32, "token_hidden": 32, "channel_hidden": 128},
        ),
    },
    # the whole split CIFAR-10 (every training image but the validation split), the paper's optimiser
    # and batch, the compression twins' width, 3 epochs per task (costs: the README's profile table);
    # depth 15 is left out for the CPU budget (`--depths 5,10,15` adds it)
    "standard": {"cifar10": with_vit(ContinualRecipe("mixer_small", epochs=3, batch_size=64, depths=(5, 10)))},
    "paper": {"*": ContinualRecipe("mixer_cifar", epochs=10, batch_size=64)},
}

# arXiv 2506.09714, §6: MLP-Mixer on split CIFAR-100, task-incremental; (avg accuracy, avg forgetting) in %
# at L = 5, 10, 15.
PAPER_TABLE: dict[tuple[str, str], tuple[tuple[float, ...], tuple[float, ...]]] = {
    ("naive", "acn"): ((32.97, 32.94, 31.61), (46.55, 45.46, 46.91)),
    ("naive", "residual"): ((31.77, 28.16, 26.14), (52.76, 54.89, 54.49)),
    ("si", "acn"): ((44.5, 46.1, 46.2), (35.7, 33.8, 32.0)),
    ("si", "residual"): ((43.47, 36.1, 32.1), (42.4, 44.6, 50.0)),
}


def scenario_name(dataset: str, n_tasks: int, classes_per_task: int, setting: str) -> str:
    """``split-cifar100-20x5-task-il``: the record's scenario."""
    return f"split-{dataset}-{n_tasks}x{classes_per_task}-{setting}-il"


def check_split(num_classes: int, n_tasks: Any, dataset: str) -> int:
    """Classes per task of ``n_tasks`` equal tasks; a :class:`UserError` unless the split is exact."""
    require(
        isinstance(n_tasks, int) and not isinstance(n_tasks, bool) and n_tasks >= 2,
        f"n_tasks must be a whole number >= 2, got {n_tasks!r}.",
    )
    require(
        num_classes % n_tasks == 0,
        f"{dataset} has {num_classes} classes, which {n_tasks} tasks cannot share equally; "
        f"pick n_tasks dividing {num_classes}.",
    )
    return num_classes // n_tasks


def class_order(num_classes: int, seed: int) -> list[int]:
    """The fixed class order of ``seed``: a seeded permutation of the classes."""
    return torch.randperm(num_classes, generator=torch.Generator().manual_seed(seed)).tolist()


def load_split_data(dataset: str, recipe: ContinualRecipe, context: RunContext) -> tuple[ImageSet, ImageSet, ImageSet]:
    """Train, validation and test sets of ``dataset``, cut to the recipe's images per class and size."""
    train, test = load_dataset(dataset, context)
    train, val = validation_split(train, recipe.val_size, VALIDATION_SEED)
    if recipe.train_per_class is not None:
        train = per_class_subset(train, recipe.train_per_class)
    if recipe.test_per_class is not None:
        val, test = per_class_subset(val, recipe.test_per_class), per_class_subset(test, recipe.test_per_class)
    if recipe.image_size is not None:
        train, val, test = (
            dataclasses.replace(s, images=resize_bilinear(s.images, recipe.image_size)) for s in (train, val, test)
        )
    return train, val, test


def build_scenario(
    train: ImageSet, held_out: ImageSet, n_tasks: int, setting: str, order: list[int], normalizer: Normalizer
) -> Any:
    """The Avalanche split scenario of ``train``/``held_out`` (normalised with ``normalizer``).

    ``task``: task labels, class ids from 0 in each task (one head per task); ``class``: no task
    labels, class ids in order of appearance (one growing head).
    """
    from avalanche.benchmarks import nc_benchmark

    task = setting == "task"
    return nc_benchmark(
        TensorDataset(normalizer(train.images), train.labels),
        TensorDataset(normalizer(held_out.images), held_out.labels),
        n_tasks,
        task_labels=task,
        fixed_class_order=order,
        class_ids_from_zero_in_each_exp=task,
        class_ids_from_zero_from_first_exp=not task,
    )


def hparams_text(strategy: str, params: dict[str, Any]) -> str:
    """The hyperparameters that differ from the strategy's defaults, as one leaderboard cell (``-``: defaults).

    Runs with other values get their own leaderboard rows; the full values are in the record's
    ``strategy_params``.
    """
    defaults = strategy_entry(strategy).defaults()
    changed = {k: v for k, v in sorted(params.items()) if v != defaults[k]}
    return ", ".join(f"{k}={v:g}" for k, v in changed.items()) or "-"


def own_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with its own strategy's hyperparameters (normalised) and none of the others'."""
    own = strategy_params(config["strategy"], config)
    return {**{k: v for k, v in config.items() if k not in all_strategy_params()}, **own}


@dataclass
class SplitScenario:
    """The data of one continual run: the (cut) sets, Avalanche's split scenario (trained on, tested on
    the test split), the same tasks' validation stream, and how it was made."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    scenario: Any
    val_stream: Any
    normalizer: Normalizer
    order: list[int]
    per_task: int
    name: str


@dataclass
class ContinualRun:
    """A trunk trained task after task: the model with its heads, the strategy's settings and the stream's result."""

    data: SplitScenario
    model: nn.Module
    info: dict[str, Any]
    params: dict[str, Any]
    result: Any
    device: str


@register_suite
class ContinualSuite(Suite):
    """Average accuracy and forgetting of twins trained task after task by Avalanche strategies."""

    name = "continual"
    description = "split scenarios task after task (Avalanche naive / SI / EWC); avg accuracy and forgetting per depth"
    key_metrics = ("avg_accuracy", "avg_forgetting", "learning_accuracy")
    metrics = ("avg_accuracy", "avg_forgetting", "learning_accuracy", "seconds_per_task")
    group_by = ("scenario", "hparams")
    datasets = ("digits", "cifar10", "cifar100", "tiny-imagenet")

    recipes = RECIPES
    default_datasets = {"paper": "cifar100"}  # the paper's split CIFAR-100; the others start on the built-in digits

    def grid(self, profile: str, dataset: str, backbone: str | None = None) -> list[dict[str, Any]]:
        recipe = self.recipe(profile, dataset, backbone)
        name = backbone or recipe.backbone
        return expand_grid(
            {
                "dataset": [dataset],
                "setting": ["task"],
                "n_tasks": [SPLITS[dataset].n_tasks if dataset in SPLITS else DEFAULT_TASKS],
                "backbone": [name],
                "connectivity": list(TWINS),
                "depth": list(recipe.depths) if name == recipe.backbone else [None],  # another keeps its own
                "strategy": list(recipe.strategies),
                **{key: [value] for key, value in all_strategy_params().items()},
            }
        )

    def check(self, config: dict[str, Any]) -> None:
        require(
            not distributed.launched_by_torchrun(),
            "the continual suite runs in one process (its Avalanche strategies are not data-parallel); "
            "start it without torchrun.",
        )
        strategy_params(config["strategy"], config)
        if config["setting"] not in SETTINGS:
            raise unknown_choice("continual setting", config["setting"], SETTINGS)
        depth = config["depth"]
        require(
            depth is None or (isinstance(depth, int) and depth >= 1),
            f"depth must be a whole number >= 1, got {depth!r}.",
        )
        if config["dataset"] in SPLITS:
            check_split(SPLITS[config["dataset"]].num_classes, config["n_tasks"], config["dataset"])

    def identity(self, config: dict[str, Any]) -> str:
        """Hyperparameters of other strategies do not change a run (``--set ewc_lambda`` leaves naive alone)."""
        return run_id({"suite": self.name, **self.protocol_fields(), **own_config(config)})

    def load_data(self, config: dict[str, Any], recipe: ContinualRecipe, context: RunContext) -> SplitScenario:
        """The split scenario of the dataset in the seed's class order."""
        train, val, test = load_split_data(config["dataset"], recipe, context)
        per_task = check_split(train.num_classes, config["n_tasks"], config["dataset"])
        order = class_order(train.num_classes, config["seed"])
        normalizer = Normalizer.from_images(train.images)
        scenario = build_scenario(train, test, config["n_tasks"], config["setting"], order, normalizer)
        val_stream = build_scenario(train, val, config["n_tasks"], config["setting"], order, normalizer).test_stream
        name = scenario_name(config["dataset"], config["n_tasks"], per_task, config["setting"])
        return SplitScenario(train, val, test, scenario, val_stream, normalizer, order, per_task, name)

    def train(
        self, config: dict[str, Any], recipe: ContinualRecipe, data: SplitScenario, context: RunContext
    ) -> ContinualRun:
        """Train the twin task after task with the run's Avalanche strategy, testing every task after each."""
        # these import Avalanche (seconds): only once there are data
        from acn_bench.strategies.models import continual_model
        from acn_bench.strategies.progress_plugin import continual_progress

        params = strategy_params(config["strategy"], config)
        seed_everything(config["seed"])
        backbone = backbone_for(
            config["backbone"], data.train, config["connectivity"], depth=config["depth"], **recipe.overrides
        )
        info = backbone_info(backbone)
        model = continual_model(backbone, config["setting"])
        rid = self.identity(config)
        with continual_progress(len(data.scenario.train_stream)) as bars:
            strategy = make_strategy(
                config["strategy"],
                model,
                torch.optim.Adam(model.parameters(), lr=recipe.lr),
                nn.CrossEntropyLoss(),
                train_mb_size=recipe.batch_size,
                train_epochs=recipe.epochs,
                eval_mb_size=recipe.eval_batch_size,
                device=context.device,
                evaluator=silent_evaluator(),
                plugins=[bars],
                **params,
            )
            result = run_stream(
                strategy,
                data.scenario.train_stream,
                data.scenario.test_stream,
                context.log,
                checkpoint=context.checkpoint_path(self.name, rid),
                fingerprint=rid,
            )
        return ContinualRun(data, model, info, params, result, str(context.device))

    def measure(
        self, config: dict[str, Any], recipe: ContinualRecipe, trained: ContinualRun, context: RunContext
    ) -> Measured:
        """Average accuracy, forgetting, BWT and learning accuracy (test stream); every task's head probed at
        every depth; the final model's average accuracy over the tasks' validation splits."""
        start = time.perf_counter()
        probe_by_task = probe_tasks(
            trained.model, trained.data.scenario.test_stream, recipe.eval_batch_size, context.device
        )
        val_by_task = probe_tasks(trained.model, trained.data.val_stream, recipe.eval_batch_size, context.device)
        seconds = trained.result.train_seconds
        chance = 1 / (trained.data.per_task if config["setting"] == "task" else trained.data.train.num_classes)
        metrics = {
            **continual_summary(trained.result.matrix),
            "val_accuracy": sum(task[-1] for task in val_by_task) / len(val_by_task),
            "chance_accuracy": chance,
            "seconds_per_task": sum(seconds) / len(seconds),
        }
        history = {"probe_by_task": probe_by_task, "val_probe_by_task": val_by_task}
        return Measured(metrics, history=history, timings={"probe_s": time.perf_counter() - start})

    def make_record(
        self, config: dict[str, Any], recipe: ContinualRecipe, trained: ContinualRun, measured: Measured
    ) -> Record:
        """The record: scenario, twin (trunk and heads), strategy and its hyperparameters, accuracy matrix."""
        data, model, result, params = trained.data, trained.model, trained.result, trained.params
        probe_by_task = measured.history["probe_by_task"]
        return Record(
            suite=self.name,
            profile=config["profile"],
            dataset={
                **dataset_info(data.train, data.test, data.val),
                "n_tasks": config["n_tasks"],
                "classes_per_task": data.per_task,
            },
            backbone={
                **trained.info,
                "params": sum(p.numel() for p in model.parameters()),
                "trunk_params": sum(p.numel() for p in model.trunk.parameters()),
            },
            seed=config["seed"],
            config={
                **own_config(config),
                "scenario": data.name,
                "hparams": hparams_text(config["strategy"], params),
                "strategy_params": params,
                "recipe": dataclasses.asdict(recipe),
                "optimizer": "adam",
                "normalization": data.normalizer.as_dict(),
            },
            metrics=measured.metrics,
            run_id="",
            probe=[sum(column) / len(column) for column in zip(*probe_by_task)],
            timings={"train_s": sum(result.train_seconds), "eval_s": sum(result.eval_seconds), **measured.timings},
            environment={**environment(), "device": trained.device},
            strategy=config["strategy"],
            scenario=data.name,
            history={
                "accuracy_matrix": result.matrix,
                "task_seconds": result.train_seconds,
                "eval_seconds": result.eval_seconds,
                "class_order": data.order,
                **measured.history,
                "avalanche": result.avalanche,
            },
        )

    def paper_records(self) -> list[Record]:
        """The paper's table (arXiv 2506.09714, §6): see :func:`paper_records`."""
        return paper_records()

    def figures(self, records: list[Record]) -> list[FigureData]:
        """Per-depth probe accuracy, and average accuracy and forgetting against the number of blocks."""
        accuracy, forgetting = new_series(), new_series()
        for record in records:
            backbone = record.backbone
            label = (
                f"{record.dataset.get('name')} {backbone.get('name')} {backbone.get('connectivity')} {record.strategy}"
            )
            accuracy[label][backbone["depth"]].append(record.metrics["avg_accuracy"])
            forgetting[label][backbone["depth"]].append(record.metrics["avg_forgetting"])
        return [
            *super().figures([r for r in records if r.probe]),
            Lines(f"{self.name}_accuracy", "continual: average accuracy", "depth (blocks)", accuracy),
            Lines(
                f"{self.name}_forgetting",
                "continual: average forgetting",
                "depth (blocks)",
                forgetting,
                ylabel="average forgetting (%)",
            ),
            *self.accuracy_matrices(records),
        ]

    def accuracy_matrices(self, records: list[Record]) -> list[Heatmaps]:
        """Per scenario, the accuracy matrix acc[i, j] (mean over seeds) of every model and strategy.

        One panel per (connectivity, depth, strategy): a row of the figure per twin and depth, a
        column per strategy, one colour scale, so forgetting shows as the fading below the diagonal.
        Tasks not trained yet (above the diagonal) are left blank.
        """
        matrices: dict[str, dict[tuple, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
        for record in records:
            panel = (record.backbone.get("connectivity"), record.backbone.get("depth"), record.strategy)
            matrix = np.array(record.history["accuracy_matrix"]) * 100
            matrices[record.scenario][panel].append(np.where(np.tri(*matrix.shape, dtype=bool), matrix, np.nan))
        strategies = len({r.strategy for r in records})
        return [
            Heatmaps(
                f"{self.name}_accuracy_matrix_{scenario}",
                f"{scenario}: accuracy (%) on task j after training task i, mean over seeds",
                "tested on task j",
                "after training task i",
                "accuracy (%)",
                {
                    f"{twin} L={depth} {strategy}": panels[twin, depth, strategy]
                    for twin, depth, strategy in sorted(panels)
                },
                columns=strategies,
                value_range=(0, 100),
            )
            for scenario, panels in sorted(matrices.items())
        ]


def paper_records() -> list[Record]:
    """The paper's continual-learning numbers (arXiv 2506.09714, §6) as records with ``source="paper"``.

    One record per (strategy, architecture, depth): profile ``paper``, split CIFAR-100 20 x 5
    task-incremental, ``mixer_cifar`` at that depth, accuracy and forgetting as fractions in [0, 1].
    The paper's SI lambda (1) is this suite's default, so its rows carry ``hparams`` ``-`` as the
    measured runs of the paper profile do, and the leaderboard puts them side by side.
    """
    name = scenario_name("cifar100", 20, 5, "task")
    records = []
    for (strategy, connectivity), (accuracies, forgettings) in PAPER_TABLE.items():
        for depth, acc, forgetting in zip(PAPER_DEPTHS, accuracies, forgettings):
            record = paper_record(
                "continual",
                "cifar100",
                "mixer_cifar",
                connectivity,
                depth,
                {"avg_accuracy": acc / 100, "avg_forgetting": forgetting / 100, "bwt": -forgetting / 100},
                strategy=strategy,
                setting="task",
                n_tasks=20,
                scenario=name,
                hparams="-",
                recipe={"epochs": 10, "batch_size": 64, "lr": 1e-3},
                strategy_params={"si_lambda": 1} if strategy == "si" else {},
            )
            record.scenario = name
            records.append(record)
    return records
