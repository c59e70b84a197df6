"""The suite framework: what a benchmark suite is, how its runs are planned and run, and the image-suite skeleton.

A plugin needs only this package (or ``acn_bench`` itself, which exposes the same names):

* :class:`Suite` (:mod:`~acn_bench.suites.base`): the contract, a grid and the four steps of a run;
  :class:`Measured` is what every suite's ``measure`` returns, :class:`RunContext` where runs execute.
* :class:`ImageSuite` (:mod:`~acn_bench.suites.image`): the four steps for twins on an in-memory image
  set, with :class:`Recipe` (:mod:`~acn_bench.suites.recipe`; :class:`BackboneRecipes` for one recipe per
  backbone family); a new image suite adds a ``measure``.
* :func:`register_suite`, :func:`get_suite`, :func:`list_suites` (:mod:`~acn_bench.suites.registry`).
* :func:`plan_runs` (:mod:`~acn_bench.suites.plan`) and :func:`run_suite` (:mod:`~acn_bench.suites.driver`).
* the model store (:mod:`~acn_bench.suites.model_store`): trained models shared between runs.
"""

from acn_bench.suites.base import PROFILES, Measured, RunContext, Suite, expand_grid
from acn_bench.suites.driver import RunResult, SuiteRun, has_run, run_config, run_suite
from acn_bench.suites.image import ImageData, ImageSuite, Trained
from acn_bench.suites.plan import parse_only, parse_settings, parse_shard, plan_runs
from acn_bench.suites.recipe import TWINS, BackboneRecipes, Recipe, WrapsModelRecipe
from acn_bench.suites.registry import get_suite, list_suites, register_suite

__all__ = [
    "PROFILES",
    "TWINS",
    "BackboneRecipes",
    "ImageData",
    "ImageSuite",
    "Measured",
    "Recipe",
    "RunContext",
    "RunResult",
    "Suite",
    "SuiteRun",
    "Trained",
    "WrapsModelRecipe",
    "expand_grid",
    "get_suite",
    "list_suites",
    "parse_only",
    "parse_settings",
    "parse_shard",
    "plan_runs",
    "register_suite",
    "has_run",
    "run_config",
    "run_suite",
]
