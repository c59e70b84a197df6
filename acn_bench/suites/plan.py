"""Planning a suite's runs: the grid expanded with seeds and ``--set`` axes, ``--only`` filters and ``--shard``."""

from __future__ import annotations

import inspect
from typing import Any, Iterable

from acn_bench.errors import UserError, require, unknown_choice
from acn_bench.results import run_id
from acn_bench.suites.base import PROFILES, Suite, expand_grid


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


def takes_backbone(suite: Suite) -> bool:
    """Whether the suite's :meth:`~Suite.grid` takes a ``backbone`` (a plugin suite may predate the argument)."""
    return "backbone" in inspect.signature(suite.grid).parameters


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
        axes: replace grid axes (e.g. ``{"depth": [5, 10, 15]}``) or set the suite's
            :attr:`~Suite.recipe_keys` (``{"epochs": [10, 20, 40]}`` sweeps them); ``{"backbone": [...]}``
            takes each backbone's grid from its recipe (:meth:`Suite.grid`).
    """
    if profile not in PROFILES:
        raise unknown_choice("profile", profile, PROFILES)
    require(seeds >= 1, f"--seeds must be >= 1, got {seeds}.")
    dataset = dataset or suite.default_dataset(profile)
    if dataset not in suite.datasets and not dataset.startswith("imagefolder:"):
        raise unknown_choice(f"dataset for suite {suite.name!r}", dataset, [*suite.datasets, "imagefolder:PATH"])
    axes = dict(axes or {})
    if takes_backbone(suite):  # each backbone's grid comes from its own recipe (its depths)
        backbones = axes.pop("backbone", [None])
        base = [config for backbone in dict.fromkeys(backbones) for config in suite.grid(profile, dataset, backbone)]
    else:  # a suite written before backbone families: ``--backbones`` replaces its grid's backbone axis
        base = suite.grid(profile, dataset)
    for key in axes:
        if key not in base[0] and key not in suite.recipe_keys:
            raise unknown_choice(f"grid axis of suite {suite.name!r}", key, [*base[0], *suite.recipe_keys])
    variants = expand_grid(axes)
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
