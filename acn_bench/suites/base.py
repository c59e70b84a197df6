"""The suite contract: a grid of run configurations per profile, and the four steps of one run.

A suite module (``benchmarks/<name>.py``, installed as ``acn_bench.benchmarks.<name>``, or a plugin)
defines a subclass of :class:`Suite`: its ``grid`` for a profile and the steps of one run (load data,
train, measure, make the record). :mod:`acn_bench.suites.plan` expands and filters the grid;
:mod:`acn_bench.suites.driver` runs it.
"""

from __future__ import annotations

import abc
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from acn_bench.errors import UserError, unknown_choice
from acn_bench.results import Record, run_id
from acn_bench.suites.recipe import BackboneRecipes

if TYPE_CHECKING:
    from acn_bench.backbones import Backbone
    from acn_bench.results.plots import FigureData

PROFILES = ("smoke", "quick", "standard", "paper")


def expand_grid(axes: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of named axes, in order: ``{"a": [1, 2], "b": [3]}`` -> two configs."""
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


@dataclass
class RunContext:
    """Where and how runs execute: output folder, device, data location, console output."""

    out_dir: Path
    device: torch.device
    data_root: Path | None = None
    download: bool = False
    progress: bool = False
    log: Callable[[str], None] = print
    resume: bool = False  # set by run_suite: continue interrupted work instead of starting afresh

    def log_epoch(self, entry: dict[str, Any]) -> None:
        """One line per finished epoch (for logs; the progress bars cover interactive use)."""
        if self.progress:
            return
        text = f"  epoch {entry['epoch']}: loss {entry['train_loss']:.4f}, {entry['seconds']:.1f}s"
        if "samples_per_s" in entry:
            text += f", {entry['samples_per_s']:.0f} img/s, {entry['model_tflops']:.3g} TFLOP/s"
        if "mfu" in entry:
            text += f", MFU {entry['mfu']:.1%}"
        if "val_acc" in entry:
            text += f", val acc {entry['val_acc']:.4f}"
        self.log(text)

    def checkpoint_path(self, suite: str, rid: str) -> Path:
        """Where the run ``rid`` keeps its resumable training checkpoint."""
        return self.out_dir / suite / ".checkpoints" / f"{rid}.pt"


class Suite(abc.ABC):
    """Base class of a benchmark suite: its grid, and the life of one run in four steps.

    :meth:`run_one` is the same for every suite: the run's recipe (:meth:`run_recipe`, the one way to
    get it), then ``load_data`` -> ``train`` -> ``measure`` -> ``make_record``. ``measure`` returns a
    :class:`Measured` and ``make_record`` turns it into the run's :class:`Record`.

    A suite must implement :meth:`grid` and the four steps (image suites inherit all but ``measure``
    from ``acn_bench.suites.ImageSuite``), and may override :meth:`check` (reject a configuration),
    :meth:`run_recipe` (apply its :attr:`recipe_keys`), :meth:`canonical`, :meth:`shared_model`,
    :meth:`identity`, :meth:`figures` and :meth:`paper_records`. A step that needs a per-run change of
    the recipe (a step budget, a parameter-matched depth) makes it itself.

    Subclasses set ``name``, ``description``, ``metrics`` (leaderboard columns; ``key_metrics`` the
    few of them compact tables show), ``datasets``
    (the first is the default), ``recipes`` (profile -> dataset or ``"*"`` -> a recipe that names its
    ``backbone``, or a :class:`~acn_bench.suites.recipe.BackboneRecipes` of one per backbone; read by
    :meth:`recipe`) and ``group_by`` (grid keys besides backbone, connectivity, depth, strategy, ...
    that separate leaderboard rows), and register with :func:`acn_bench.suites.registry.register_suite`.
    """

    name: str = ""
    description: str = ""
    metrics: tuple[str, ...] = ()
    key_metrics: tuple[str, ...] = ()  # the compact tables' 3-5 metrics (default: the first four of metrics)
    datasets: tuple[str, ...] = ()
    recipes: dict[str, dict[str, Any]] = {}
    default_datasets: dict[str, str] = {}  # profile -> dataset used when the user names none
    group_by: tuple[str, ...] = ()  # grid keys that make separate leaderboard rows (e.g. per_class)
    higher_is_better: bool = True  # for the leaderboard rank by the first metric
    baseline: dict[str, Any] = {}  # e.g. {"method": "random"}: the row every other row must beat
    baseline_metrics: tuple[str, ...] = ()  # ... on these metrics, beyond the seed spread
    recipe_keys: tuple[str, ...] = ()  # recipe fields ``--set`` may change (e.g. ``epochs``); see :meth:`run_recipe`
    # The version of what a run of this suite trains and measures: bumped (and the change said where it
    # is set) whenever the same configuration would train or measure something else. Records carry it;
    # seeds are averaged and twins paired only within one version, and runs of another version get
    # other ids (:meth:`protocol_fields`), so ``--resume`` never takes one for the other.
    protocol: int = 1

    def compact_metrics(self) -> tuple[str, ...]:
        """The metrics of the compact tables (terminal, markdown, the site's default columns)."""
        return self.key_metrics or self.metrics[:4]

    def paper_records(self) -> list[Record]:
        """The paper's reported numbers for this suite, as ``source="paper"`` records (default: none)."""
        return []

    def default_dataset(self, profile: str) -> str:
        """Dataset used when the user names none: the profile's entry in ``default_datasets``, else the first
        of ``datasets`` the profile defines (else the first: :meth:`recipe` then says what it has)."""
        if profile in self.default_datasets:
            return self.default_datasets[profile]
        return next((d for d in self.datasets if profile in self.profiles_for(d)), self.datasets[0])

    def recipe(self, profile: str, dataset: str, backbone: str | None = None) -> Any:
        """The suite's recipe for ``backbone`` (None: the default) in ``profile`` on ``dataset`` (the profile's
        ``"*"`` entry where it has none): the lookup behind :meth:`grid` and :meth:`run_recipe` (a run's
        recipe is :meth:`run_recipe`'s). An entry is one recipe, or a
        :class:`~acn_bench.suites.recipe.BackboneRecipes` of one per backbone.

        Raises:
            UserError: the suite has no such profile, the profile does not define ``dataset`` (the
                message names the profiles that do), or has no recipe for the built-in ``backbone``.
        """
        where = f"the {profile} profile of suite {self.name!r} on {dataset!r}"
        return self._recipes(profile, dataset).pick(backbone, where)

    def recipe_backbones(self, profile: str, dataset: str) -> tuple[str, ...]:
        """The backbones the recipes of ``profile`` on ``dataset`` are made for, the default first (empty
        when its one recipe names none). Raises as :meth:`recipe`."""
        return self._recipes(profile, dataset).backbones

    def _recipes(self, profile: str, dataset: str) -> BackboneRecipes:
        """The entry of ``profile`` for ``dataset`` (or its ``"*"``) as :class:`BackboneRecipes`."""
        if profile not in self.recipes:
            raise unknown_choice(f"profile of suite {self.name!r}", profile, self.recipes)
        recipes = self.recipes[profile]
        if dataset not in recipes and "*" not in recipes:
            have = self.profiles_for(dataset)
            raise UserError(
                f"the {profile} profile of suite {self.name!r} does not define dataset {dataset!r} "
                f"(it defines: {', '.join(recipes)}); profiles of suite {self.name!r} on {dataset!r}: "
                f"{', '.join(have) if have else 'none'}."
            )
        return BackboneRecipes.of(recipes.get(dataset, recipes.get("*")))

    def profiles_for(self, dataset: str) -> list[str]:
        """The profiles of this suite that define ``dataset`` (by name or through their ``"*"`` entry)."""
        return [p for p in PROFILES if p in self.recipes and (dataset in self.recipes[p] or "*" in self.recipes[p])]

    def run_recipe(self, config: dict[str, Any]) -> Any:
        """The recipe one run trains with: the profile's, with the configuration's :attr:`recipe_keys` applied.

        A recipe key is in ``config`` only when the user set it (``--set epochs=20``), so the runs of
        the profile's own recipe keep their identity. Suites with recipe keys override this; it is the
        one way to a run's recipe (:meth:`run_one`, and :func:`~acn_bench.suites.plan.plan_runs` to
        check the settings before any run).
        """
        return self.recipe(config["profile"], config["dataset"], config.get("backbone"))

    @abc.abstractmethod
    def grid(self, profile: str, dataset: str, backbone: str | None = None) -> list[dict[str, Any]]:
        """The configurations (without seed) of ``profile`` on ``dataset`` for ``backbone`` (None: the
        recipe's default; another backbone gets its recipe's axes, e.g. its depths).

        A suite may leave ``backbone`` out of its signature (``grid(self, profile, dataset)``, as suites
        written before backbone families do): ``--backbones`` then replaces its grid's ``backbone`` axis.
        """

    def check(self, config: dict[str, Any]) -> None:
        """Reject a bad configuration with a :class:`UserError` before any run starts (default: accept)."""

    def run_one(self, config: dict[str, Any], context: RunContext) -> Record:
        """Run one configuration and return its record (not yet written): the four steps in order."""
        recipe = self.run_recipe(config)
        data = self.load_data(config, recipe, context)
        trained = self.train(config, recipe, data, context)
        measured = self.measure(config, recipe, trained, context)
        if not isinstance(measured, Measured):
            raise TypeError(
                f"{type(self).__name__}.measure returned {type(measured).__name__}; a suite's measure step "
                "returns acn_bench.suites.Measured(metrics, history, timings, model)."
            )
        return self.make_record(config, recipe, trained, measured)

    @abc.abstractmethod
    def load_data(self, config: dict[str, Any], recipe: Any, context: RunContext) -> Any:
        """Step 1: the data of one run."""

    @abc.abstractmethod
    def train(self, config: dict[str, Any], recipe: Any, data: Any, context: RunContext) -> Any:
        """Step 2: the trained model(s) of one run (trained here, or loaded when saved before)."""

    @abc.abstractmethod
    def measure(self, config: dict[str, Any], recipe: Any, trained: Any, context: RunContext) -> Measured:
        """Step 3: what the suite measures on the trained model(s): metrics, and history and timings
        for the record (choices read validation outputs only)."""

    @abc.abstractmethod
    def make_record(self, config: dict[str, Any], recipe: Any, trained: Any, measured: Measured) -> Record:
        """Step 4: the record of one run from what ``train`` and ``measure`` returned (its ``run_id`` is set
        by :func:`run_suite`)."""

    def figures(self, records: list[Record]) -> list[FigureData]:
        """The suite's figures as data (``Lines`` / ``Heatmaps`` of :mod:`acn_bench.results.plots`), drawn
        as PNG by :meth:`plot` and interactively by the site; default: probe accuracy against depth."""
        from acn_bench.results.plots import Lines, probe_series

        title = f"{self.name}: shared-head accuracy by depth"
        return [Lines(f"{self.name}_probe_by_depth", title, "depth (blocks)", probe_series(records))]

    def plot(self, records: list[Record], out_dir: Path) -> list[Path]:
        """Write the suite's :meth:`figures` (PNG) into ``out_dir``."""
        return [figure.png(out_dir) for figure in self.figures(records)]

    def canonical(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` in the one form that names its run (default: as it is). A suite drops a recipe key
        set to the profile's own value, so ``--set epochs=20`` on a 20-epoch profile is the profile's run,
        not a second run of the same model."""
        return config

    def shared_model(self, config: dict[str, Any]) -> str | None:
        """The trained model ``config``'s run shares with other runs of the grid (a transfer source, a
        twin of the twin store), named by a string; ``None`` (the default): none. ``--jobs`` keeps runs
        that share a model from starting together, so that no worker waits while another trains it."""
        return None

    def protocol_fields(self) -> dict[str, int]:
        """The protocol as part of a run's identity: nothing for version 1 (the ids of runs made before
        versions existed stay valid), ``{"protocol": N}`` from version 2 on."""
        return {"protocol": self.protocol} if self.protocol > 1 else {}

    def identity(self, config: dict[str, Any]) -> str:
        """Stable id of a configuration under this suite's protocol: same id, same run (used to skip on resume)."""
        return run_id({"suite": self.name, **self.protocol_fields(), **config})


@dataclass
class Measured:
    """What a suite's ``measure`` step found: every suite's ``measure`` returns one, and its ``make_record``
    puts it into the record (:meth:`Suite.run_one` refuses anything else).

    Attributes:
        metrics: the record's metrics (an image suite adds test and validation accuracy, chance level
            and the training result's best epoch).
        history, timings: merged into the record's ``history`` and ``timings``.
        model: the model the record describes, when not the trained one (e.g. a truncated model).
    """

    metrics: dict[str, Any]
    history: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    model: Backbone | None = None
