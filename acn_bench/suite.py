"""Suites: a grid of run configurations per profile, expanded, filtered, sharded and resumed.

A suite module (``benchmarks/<name>.py``, or a plugin) defines a subclass of :class:`Suite`: its
``grid`` for a profile and the steps of one run (load data, train, measure, make the record). The
driver :func:`run_suite` does the rest: seeds, ``--only`` filters, ``--shard i/n``, ``--resume``
and atomic record writing.
"""

from __future__ import annotations

import abc
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import torch

from acn_bench import progress
from acn_bench.errors import UserError, require, unknown_choice
from acn_bench.results import Record, has_record, run_id, write_record
from acn_bench.training import distributed

if TYPE_CHECKING:
    from acn_bench.results.plots import FigureData

PROFILES = ("smoke", "quick", "standard", "paper")


def expand_grid(axes: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of named axes, in order: ``{"a": [1, 2], "b": [3]}`` -> two configs."""
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


def parse_only(items: Iterable[str]) -> dict[str, list[str]]:
    """``["k=v", "k=w", "j=x"]`` -> ``{"k": ["v", "w"], "j": ["x"]}`` (values compared as text)."""
    only: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        require(bool(sep and key and value), f"--only takes key=value, got {item!r}.")
        only.setdefault(key.strip(), []).append(value.strip())
    return only


def filter_only(configs: list[dict[str, Any]], only: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Keep configurations whose values match every ``--only`` key (any of its values)."""
    keys = sorted({k for cfg in configs for k in cfg})
    for key in only:
        if key not in keys:
            raise unknown_choice("--only key", key, keys)
    return [cfg for cfg in configs if all(str(cfg.get(k)) in values for k, values in only.items())]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/4"`` -> ``(2, 4)``: the second of four shards (1-based)."""
    if text is None:
        return None
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = 0, 0
    require(bool(sep) and 1 <= i <= n, f"--shard takes i/n with 1 <= i <= n (e.g. 1/4), got {text!r}.")
    return i, n


def take_shard(configs: list[dict[str, Any]], shard: tuple[int, int] | None) -> list[dict[str, Any]]:
    """Every n-th configuration starting at the i-th (round-robin, so shards get similar mixes)."""
    if shard is None:
        return configs
    i, n = shard
    return configs[i - 1 :: n]


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

    :meth:`run_one` is the same for every suite: the profile's recipe (always through
    :meth:`recipe`, so a subclass that changes its recipes changes the whole experiment), then
    ``load_data`` -> ``train`` -> ``measure`` -> ``make_record``. A suite implements those steps
    (image suites inherit all but ``measure`` from ``benchmarks.image_suite.ImageSuite``) and
    :meth:`grid`.

    Subclasses set ``name``, ``description``, ``metrics`` (leaderboard columns; ``key_metrics`` the
    few of them compact tables show), ``datasets``
    (the first is the default), ``recipes`` (profile -> dataset or ``"*"`` -> recipe) and
    ``group_by`` (grid keys besides backbone, connectivity, depth, strategy, ... that separate
    leaderboard rows), and register with :func:`acn_bench.suite_registry.register_suite`.
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

    def recipe(self, profile: str, dataset: str) -> Any:
        """The suite's recipe for ``profile`` on ``dataset`` (the profile's ``"*"`` entry where it has none).

        Raises:
            UserError: the suite has no such profile, or the profile does not define ``dataset``
                (the message names the profiles that do).
        """
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
        return recipes.get(dataset, recipes.get("*"))

    def profiles_for(self, dataset: str) -> list[str]:
        """The profiles of this suite that define ``dataset`` (by name or through their ``"*"`` entry)."""
        return [p for p in PROFILES if p in self.recipes and (dataset in self.recipes[p] or "*" in self.recipes[p])]

    def run_recipe(self, config: dict[str, Any]) -> Any:
        """The recipe one run trains with: the profile's, with the configuration's :attr:`recipe_keys` applied.

        A recipe key is in ``config`` only when the user set it (``--set epochs=20``), so the runs of
        the profile's own recipe keep their identity. Suites with recipe keys override this.
        """
        return self.recipe(config["profile"], config["dataset"])

    @abc.abstractmethod
    def grid(self, profile: str, dataset: str) -> list[dict[str, Any]]:
        """The configurations (without seed) of ``profile`` on ``dataset``."""

    def check(self, config: dict[str, Any]) -> None:
        """Reject a bad configuration with a :class:`UserError` before any run starts (default: accept)."""

    def run_one(self, config: dict[str, Any], context: RunContext) -> Record:
        """Run one configuration and return its record (not yet written): the four steps in order."""
        recipe = self.run_recipe(config)
        data = self.load_data(config, recipe, context)
        trained = self.train(config, recipe, data, context)
        measured = self.measure(config, recipe, trained, context)
        return self.make_record(config, recipe, trained, measured)

    @abc.abstractmethod
    def load_data(self, config: dict[str, Any], recipe: Any, context: RunContext) -> Any:
        """Step 1: the data of one run."""

    @abc.abstractmethod
    def train(self, config: dict[str, Any], recipe: Any, data: Any, context: RunContext) -> Any:
        """Step 2: the trained model(s) of one run (trained here, or loaded when saved before)."""

    @abc.abstractmethod
    def measure(self, config: dict[str, Any], recipe: Any, trained: Any, context: RunContext) -> Any:
        """Step 3: what the suite measures on the trained model(s)."""

    @abc.abstractmethod
    def make_record(self, config: dict[str, Any], recipe: Any, trained: Any, measured: Any) -> Record:
        """Step 4: the record of one run (its ``run_id`` is set by :func:`run_suite`)."""

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
class SuiteRun:
    """What :func:`run_suite` did."""

    planned: int
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def add(self, result: RunResult) -> None:
        """Count one finished run: skipped, or its record (and the file when this process wrote it)."""
        if result.record is None:
            self.skipped.append(result.run_id)
            return
        self.records.append(result.record)
        if result.path is not None:
            self.written.append(result.path)


def plan_runs(
    suite: Suite,
    profile: str,
    dataset: str | None = None,
    seeds: int = 1,
    only: dict[str, list[str]] | None = None,
    shard: tuple[int, int] | None = None,
    axes: dict[str, list[Any]] | None = None,
) -> list[dict[str, Any]]:
    """The configurations a ``run`` would execute, in order.

    Args:
        suite, profile, dataset: what to run (``dataset`` defaults to the suite's first).
        seeds: seeds 0..seeds-1 for every configuration.
        only: ``--only`` filters (key -> accepted values).
        shard: ``(i, n)``: keep the i-th of n round-robin shards.
        axes: replace grid axes (e.g. ``{"depth": [5, 10, 15]}``, ``{"backbone": ["my-net"]}``) or
            set the suite's :attr:`~Suite.recipe_keys` (``{"epochs": [10, 20, 40]}`` sweeps them).
    """
    if profile not in PROFILES:
        raise unknown_choice("profile", profile, PROFILES)
    require(seeds >= 1, f"--seeds must be >= 1, got {seeds}.")
    dataset = dataset or suite.default_dataset(profile)
    if dataset not in suite.datasets and not dataset.startswith("imagefolder:"):
        raise unknown_choice(f"dataset for suite {suite.name!r}", dataset, [*suite.datasets, "imagefolder:PATH"])
    base = suite.grid(profile, dataset)
    for key in axes or {}:
        if key not in base[0] and key not in suite.recipe_keys:
            raise unknown_choice(f"grid axis of suite {suite.name!r}", key, [*base[0], *suite.recipe_keys])
    variants = expand_grid(axes or {})
    if axes and "backbone" in axes and "depth" not in axes and "depth" in base[0]:
        variants = [dict(v, depth=None) for v in variants]  # another backbone keeps its own depth
    configs = [
        suite.canonical(dict(cfg, **variant, profile=profile, seed=seed))
        for cfg in base
        for variant in variants
        for seed in range(seeds)
    ]
    unique = {run_id(cfg): cfg for cfg in configs}  # replaced axes can make equal configurations
    configs = list(unique.values())
    configs = filter_only(configs, only or {})
    if not configs:
        raise UserError(
            f"--only {only} leaves no run of suite {suite.name!r} ({profile} profile, dataset {dataset!r})."
        )
    for config in configs:
        suite.check(config)
        suite.run_recipe(config)  # a bad recipe setting (``--set epochs=0``) fails here, before any run
    return take_shard(configs, shard)


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, anything else stays text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_settings(items: Iterable[str]) -> dict[str, list[Any]]:
    """``--set KEY=VALUE`` items -> grid axes (a key given twice sweeps both values)."""
    return {key: [parse_value(v) for v in values] for key, values in parse_only(items).items()}


def run_label(config: dict[str, Any]) -> str:
    """``connectivity=acn, depth=4, seed=1``: a configuration for the log (the profile left out)."""
    return ", ".join(f"{k}={v}" for k, v in config.items() if k != "profile")


@dataclass
class RunResult:
    """What :func:`run_config` did with one configuration."""

    run_id: str
    record: Record | None = None  # None: skipped (its record exists and ``resume`` was asked)
    path: Path | None = None  # the record written (None when skipped, and on ranks other than 0)

    @property
    def skipped(self) -> bool:
        return self.record is None


def run_config(
    suite: Suite, config: dict[str, Any], context: RunContext, resume: bool = False, position: str = ""
) -> RunResult:
    """Run one configuration and write its record: what :func:`run_suite` does for each of its runs.

    On ``resume`` a configuration with a record is skipped and an interrupted run continues from
    its checkpoint; otherwise its checkpoint is deleted first so the run starts afresh. The record
    (with ``timings.run_s``, the run's wall time) is written atomically (by rank 0 under torchrun),
    then the checkpoint is deleted.
    ``position`` (e.g. ``"[3/12] "``) starts the log lines.
    """
    context.resume = resume
    rid = suite.identity(config)
    label = run_label(config)
    if resume and has_record(context.out_dir, suite.name, rid):
        context.log(f"{position}done already, skipped: {label}")
        return RunResult(rid)
    context.log(f"{position}{suite.name}: {label}")
    checkpoint = context.checkpoint_path(suite.name, rid)
    if not resume and distributed.is_main():
        checkpoint.unlink(missing_ok=True)  # without --resume every run starts afresh
    distributed.barrier()
    start = time.perf_counter()
    record = suite.run_one(config, context)
    # the run's whole wall time (x its CPU threads: the compute it cost; a model another run trained is not in it)
    record.timings["run_s"] = time.perf_counter() - start
    record.run_id = rid
    record.protocol = suite.protocol
    result = RunResult(rid, record)
    if distributed.is_main():  # under torchrun every rank ran the same run; one writes it
        result.path = write_record(context.out_dir, record)
        checkpoint.unlink(missing_ok=True)
    distributed.barrier()
    return result


def run_suite(suite: Suite, configs: list[dict[str, Any]], context: RunContext, resume: bool = False) -> SuiteRun:
    """Run ``configs`` one by one (:func:`run_config`), writing a record after each.

    On ``resume``, runs with a record are skipped and an interrupted run continues from its
    checkpoint; otherwise every run starts afresh. ``acn_bench.jobs.run_parallel`` runs the same
    :func:`run_config` in several processes. With ``context.progress`` a bar shows run i of n, the
    time elapsed and an estimate of the time left (the trainer's and the data's bars nest under it).
    """
    outcome = SuiteRun(planned=len(configs))
    context.resume = resume
    with progress.display(context.progress), progress.task(suite.name, total=len(configs)) as grid:
        for number, config in enumerate(configs, start=1):
            grid.update(description=f"{suite.name}: run {number}/{len(configs)}")
            result = run_config(suite, config, context, resume, f"[{number}/{len(configs)}] ")
            outcome.add(result)
            grid.advance(skipped=result.skipped)
    return outcome
