"""The skeleton of every suite that trains twins of one backbone on an in-memory image set.

:class:`ImageSuite` implements the four steps of :meth:`acn_bench.suites.Suite.run_one` for image
twins: ``load_data`` (the recipe's train / test sets), ``train`` (build the twin, train it with
the one :class:`~acn_bench.training.Trainer`, resumable), ``make_record`` (dataset, backbone,
recipe, probe, history, timings, environment). A suite adds its grid keys (:meth:`axes`) and its
measurement (:meth:`measure`), and overrides a step only where its protocol differs. A complete
suite fits in about 30 lines: see ``examples/calibration_suite.py``. The ImageNet suite shares the
grid and the record and overrides the steps that differ for folders streamed from disk.

Twins are trained once: a run whose model is the plain twin of its recipe (trained on the final
output's loss: compression, robustness, pruning's dense model, inherent early exits) takes it from
the twin store (``<out>/.twins/``), where the first run that needed it trained and saved it. So one
``standard`` training of a twin serves every suite that measures it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from acn_bench.analysis import truncation_costs
from acn_bench.backbones import Backbone
from acn_bench.data import ImageSet
from acn_bench.data.augment import Normalizer
from acn_bench.errors import require
from acn_bench.results import Record, environment, run_id
from acn_bench.suites.base import Measured, RunContext, Suite, expand_grid
from acn_bench.suites.image_data import VALIDATION_SEED, backbone_for, backbone_info, dataset_info, load_splits
from acn_bench.suites.model_store import stored_model
from acn_bench.suites.recipe import Recipe, model_recipe
from acn_bench.training import Trainer, TrainResult, probe_accuracy, seed_everything
from acn_bench.training.config import resolve_amp
from acn_bench.training.trainer import Objective

if TYPE_CHECKING:
    from acn_bench.data.folders import FolderSplits

TWIN_STORE = ".twins"  # under the records folder: one trained model per twin key, shared by the suites
TWIN_KEY = ("dataset", "backbone", "connectivity", "depth", "seed")  # with the recipe: what tells twins apart


def twin_key(config: dict[str, Any], recipe: Recipe, data: ImageData, protocol: int = 1) -> dict[str, Any]:
    """What tells one trained twin from another: dataset (and where its files came from), backbone,
    connectivity, depth, seed, the whole training recipe, the validation split and the protocol
    version the twin was trained under (never the suite or the profile: equal recipes share)."""
    recipe_fields = {k: v for k, v in dataclasses.asdict(recipe).items() if k != "connectivities"}
    return {
        **({"protocol": protocol} if protocol > 1 else {}),
        "recipe": recipe_fields,
        "val_seed": VALIDATION_SEED,
        "data_source": data.train.source,
        **{k: config[k] for k in TWIN_KEY},
    }


@dataclass
class ImageData:
    """The images of one run: training, validation (carved from the training set; every choice is
    made on it) and test (evaluated once, reported)."""

    train: ImageSet
    val: ImageSet
    test: ImageSet

    @property
    def num_classes(self) -> int:
        """The number of classes (of the training set, which the model is shaped for)."""
        return self.train.num_classes

    def info(self) -> dict[str, Any]:
        """The record's ``dataset`` field."""
        return dataset_info(self.train, self.test, self.val)


@dataclass
class Trained:
    """A trained (or loaded) model and everything the record says about how it came to be.

    Attributes:
        config: the run's configuration as trained (a suite may adjust it, e.g. a parameter-matched depth).
        model: the model.
        normalizer: the input normalisation it was trained with.
        data: what it was trained and tested on (after any resizing; class folders when streamed).
        recipe: the recipe it was trained with (the record's ``config.train``).
        val_probe, test_probe: accuracy at every depth 0..L on the validation and the test split
            (the test split's is the run's one test evaluation).
        result: the training result (``None`` for a model loaded from disk without one).
        extra: what a suite's ``train`` step passes on to its ``measure`` step (``twin``: the twin
            store's key and whether this run trained it; ``trainer``: a streaming trainer).
    """

    config: dict[str, Any]
    model: Backbone
    normalizer: Normalizer
    data: ImageData | FolderSplits
    recipe: Recipe
    val_probe: list[float]
    test_probe: list[float]
    result: TrainResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def loaded(
        cls,
        config: dict[str, Any],
        model: Backbone,
        normalizer: Normalizer,
        data: ImageData,
        recipe: Recipe,
        result: TrainResult | None = None,
        amp_dtype: torch.dtype | None = None,
    ) -> Trained:
        """A model that was trained before (loaded from disk), tested once at ``amp_dtype`` (None: full
        precision); its validation probe is the one its training ``result`` ended with, else measured."""
        batch = recipe.train.eval_batch_size
        if result is not None:
            val = result.val_probe_acc
        else:
            val = probe_accuracy(model, data.val.images, data.val.labels, normalizer, batch)
        test = probe_accuracy(model, data.test.images, data.test.labels, normalizer, batch, amp_dtype)
        return cls(config, model, normalizer, data, recipe, val, test, result)

    def val_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Validation images (uint8) and labels on the model's device (in-memory data)."""
        return self._on_device(self.data.val)

    def test_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Test images (uint8) and labels on the model's device (in-memory data)."""
        return self._on_device(self.data.test)

    def _on_device(self, images: ImageSet) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(self.model.parameters()).device
        return images.images.to(device), images.labels.to(device)


def truncation_metrics(model: Backbone, cutoff: int, batch: Any, repeats: int) -> dict[str, Any]:
    """Cutoff layer, removable fraction, and the cost of the full and the truncated model.

    Latency is paired (:func:`~acn_bench.analysis.truncation_costs`): the two models are timed
    interleaved over ``repeats`` rounds; ``latency_speedup`` is the geometric mean of the per-round
    ratios full / truncated, with ``latency_speedup_std`` and ``latency_rounds``.
    """
    return {
        "cutoff_layer": cutoff,
        "removable_fraction": 1 - cutoff / model.depth,
        **truncation_costs(model, model.truncate(cutoff), batch, repeats),
    }


class ImageSuite(Suite):
    """A suite that trains twins of one backbone on an image set: the shared grid and run steps.

    Subclasses set ``recipes`` (profile -> dataset or ``*`` -> recipe) and implement
    :meth:`measure`; they add grid keys in :meth:`axes`. A recipe is a :class:`Recipe`, or a suite's
    own type that wraps one as its ``model`` (:func:`~acn_bench.suites.recipe.model_recipe`; such a
    suite sets ``recipe_keys = ()``: ``--set epochs`` and ``--set lr`` change a plain :class:`Recipe` only). A suite
    whose model is the plain twin says so in :meth:`shares_twin`; one that changes how its model is
    built or trained overrides :meth:`build_model` or :meth:`objective`.
    """

    recipe_keys = ("epochs", "lr")
    # 2: AutoAugment batched (acn_bench.data.autoaugment), every draw from the run's augmentation
    #    generator; version 1 ran torchvision's AutoAugment image by image from torch's global
    #    generator. Recipes without AutoAugment train alike under both.
    protocol = 2

    def run_recipe(self, config: dict[str, Any]) -> Any:
        """The profile's recipe for the run's backbone, with ``epochs`` or ``lr`` replaced when the run sets
        them (``--set epochs=E`` for a budget sweep, ``--set lr=X`` for a learning-rate choice made on the
        validation split)."""
        recipe = self.recipe(config["profile"], config["dataset"], config.get("backbone"))
        changes = {key: config[key] for key in self.recipe_keys if key in config}
        if not changes:
            return recipe
        if "epochs" in changes:
            epochs, warmup = changes["epochs"], recipe.train.warmup_epochs
            require(
                isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > warmup,
                f"--set epochs takes a whole number of epochs above the recipe's {warmup:g} warm-up epochs, "
                f"got {epochs!r}.",
            )
        if "lr" in changes:
            lr = changes["lr"]
            require(
                isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0,
                f"--set lr takes a positive learning rate, got {lr!r}.",
            )
        return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, **changes))

    def canonical(self, config: dict[str, Any]) -> dict[str, Any]:
        """Without a recipe key set to the profile's own value (the profile's run, not a copy of it)."""
        keys = [key for key in self.recipe_keys if key in config]
        if not keys:
            return config
        train = self.recipe(config["profile"], config["dataset"], config.get("backbone")).train
        return {k: v for k, v in config.items() if k not in keys or v != getattr(train, k)}

    def shares_twin(self, config: dict[str, Any]) -> bool:
        """Whether the run's model is the plain twin of its recipe (no extra heads, the final output's
        loss), taken from the twin store (default: no, the run trains its own model)."""
        return False

    def shared_model(self, config: dict[str, Any]) -> str | None:
        """A run that shares a twin shares it with every run of the same twin key (one plan: one recipe)."""
        return run_id({k: config[k] for k in TWIN_KEY}) if self.shares_twin(config) else None

    def axes(self, profile: str, dataset: str) -> dict[str, list[Any]]:
        """The suite's own grid keys, after dataset, backbone, connectivity and depth: the same for every
        backbone of the profile (its recipes share what they are read from, e.g. the low-data sweep)."""
        return {}

    def grid(self, profile: str, dataset: str, backbone: str | None = None) -> list[dict[str, Any]]:
        recipe = model_recipe(self.recipe(profile, dataset, backbone))
        name = backbone or recipe.backbone
        return expand_grid(
            {
                "dataset": [dataset],
                "backbone": [name],
                "connectivity": list(recipe.connectivities),
                "depth": [recipe.grid_depth() if name == recipe.backbone else None],  # another keeps its own
                **self.axes(profile, dataset),
            }
        )

    def load_data(self, config: dict[str, Any], recipe: Any, context: RunContext) -> ImageData:
        """The dataset's train, validation and test sets (the recipe's ``val_size``, ``max_train``, ``max_test``)."""
        return ImageData(*load_splits(config["dataset"], context, model_recipe(recipe)))

    def build_model(self, config: dict[str, Any], recipe: Recipe, data: ImageData) -> Backbone:
        """The untrained model of ``config``, shaped for ``data``."""
        return backbone_for(
            config["backbone"], data.train, config["connectivity"], depth=config["depth"], **recipe.overrides
        )

    def objective(self, config: dict[str, Any]) -> Objective | None:
        """The training loss (default ``None``: the trainer's cross-entropy of the final output)."""
        return None

    def train(self, config: dict[str, Any], recipe: Any, data: ImageData, context: RunContext) -> Trained:
        """Build and train the run's model with the :class:`Recipe` of ``recipe``, resumable from its checkpoint;
        a shared twin (:meth:`shares_twin`) comes from the twin store (:meth:`shared_twin`)."""
        recipe = model_recipe(recipe)
        if self.shares_twin(config):
            return self.shared_twin(config, recipe, data, context)
        checkpoint = context.checkpoint_path(self.name, self.identity(config))
        return self.train_model(config, recipe, data, context, checkpoint)

    def shared_twin(self, config: dict[str, Any], recipe: Recipe, data: ImageData, context: RunContext) -> Trained:
        """The twin of ``config`` trained with ``recipe``: from the twin store ``<out>/.twins/``, keyed
        by :func:`twin_key` (see :func:`~acn_bench.suites.model_store.stored_model`: loaded, or trained,
        resumably with ``--resume``, and saved).

        Either way the run gets the training result (history, best epoch, timings) and the same probes:
        a loaded twin's validation probe is the one its training ended with, and its test probe uses the
        trainer's precision (autocast on a GPU), so its record reads as the training run's would.
        ``extra["twin"]`` says which run trained it, and at which commit, tree state and device.
        """
        key_fields = twin_key(config, recipe, data, self.protocol)
        fresh: list[Trained] = []

        def train_twin(checkpoint: Path) -> tuple[Backbone, dict[str, Any]]:
            trained = self.train_model(config, recipe, data, context, checkpoint, identity=key_fields)
            fresh.append(trained)
            env = environment()
            info = {
                "normalization": trained.normalizer.as_dict(),
                "result": dataclasses.asdict(trained.result),
                "trained_in": {
                    **{k: env.get(k) for k in ("git_commit", "git_dirty", "cpu_threads")},
                    "device": str(context.device),
                },
            }
            return trained.model, info

        expected = {"name": config["backbone"], "connectivity": config["connectivity"]}
        stored = stored_model(context.out_dir / TWIN_STORE, key_fields, train_twin, context, expected)
        if stored.trained_here:
            trained = fresh[0]
        else:
            normalizer = Normalizer.from_dict(stored.extra["normalization"])
            result, amp = TrainResult(**stored.extra["result"]), resolve_amp(recipe.train.amp, context.device)
            trained = Trained.loaded(config, stored.model, normalizer, data, recipe, result, amp)
        trained.extra["twin"] = {
            "key": stored.key,
            "trained_by_this_run": stored.trained_here,
            **({} if stored.trained_here else {"trained_in": stored.extra.get("trained_in")}),
        }
        return trained

    def train_model(
        self,
        config: dict[str, Any],
        recipe: Recipe,
        data: ImageData,
        context: RunContext,
        checkpoint: Path,
        identity: dict[str, Any] | None = None,
    ) -> Trained:
        """Seed, build ``config``'s model and train it with ``recipe`` on ``data``, resumable from ``checkpoint``
        (which must have been written for ``identity``, default ``config``)."""
        seed_everything(config["seed"])
        model = self.build_model(config, recipe, data)
        trainer, result = fit_trainer(
            model,
            recipe,
            data,
            config["seed"],
            context,
            checkpoint=checkpoint,
            identity=config if identity is None else identity,
            on_epoch=context.log_epoch,
            objective=self.objective(config),
        )
        test_probe = trainer.evaluate((data.test.images, data.test.labels))
        return Trained(config, model, trainer.normalizer, data, recipe, result.val_probe_acc, test_probe, result)

    def make_record(self, config: dict[str, Any], recipe: Any, trained: Trained, measured: Measured) -> Record:
        """The record of one image run: dataset, backbone, recipe, probes, history, timings, environment.

        ``accuracy`` and ``probe`` are the test split's (evaluated once), ``val_accuracy`` and
        ``history.val_probe`` the validation split's; with a training result, its best epoch (on
        validation), steps, epoch history and timings are included.
        """
        model = measured.model or trained.model
        metrics = {
            "accuracy": trained.test_probe[-1],
            "val_accuracy": trained.val_probe[-1],
            "chance_accuracy": 1 / trained.data.num_classes,
            **measured.metrics,
        }
        timings, history = dict(measured.timings), {"val_probe": trained.val_probe, **measured.history}
        if "twin" in trained.extra:
            history["twin"] = trained.extra["twin"]
        run_config = {**trained.config, "normalization": trained.normalizer.as_dict()}
        result = trained.result
        if result is not None:
            metrics = {
                "best_epoch": result.best_epoch,
                "best_val_accuracy": result.best_val_acc,
                "steps": result.steps,
                **metrics,
            }
            timings = {"train_s": result.train_seconds, "eval_s": result.eval_seconds, **result.throughput, **timings}
            history = {"epochs": result.history, **history}
            run_config["train"] = dataclasses.asdict(trained.recipe.train)
        return Record(
            suite=self.name,
            profile=trained.config["profile"],
            dataset=trained.data.info(),
            backbone=backbone_info(model),
            seed=trained.config["seed"],
            config=run_config,
            metrics=metrics,
            run_id="",
            probe=list(trained.test_probe),
            timings=timings,
            environment={**environment(), "device": str(next(model.parameters()).device)},
            history=history,
        )


def fit_trainer(
    model: Backbone, recipe: Recipe, data: ImageData, seed: int, context: RunContext, **options: Any
) -> tuple[Trainer, TrainResult]:
    """Train ``model`` with ``recipe`` on ``data`` (``options`` go to :class:`Trainer`); the trainer and its result."""
    trainer = Trainer(
        model,
        recipe.train,
        data.train.images,
        data.train.labels,
        data.val.images,
        data.val.labels,
        seed=seed,
        device=context.device,
        progress=context.progress,
        **options,
    )
    return trainer, trainer.fit()
