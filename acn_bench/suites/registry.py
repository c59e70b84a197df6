"""Suites by name, the way backbones are: ``@register_suite``, ``get_suite(name)``, ``list_suites()``.

Suites come from three places, all through :func:`register_suite`:

* the built-in suites of ``acn_bench.benchmarks``, each declared as an entry point in the group
  ``acn_bench.suites`` (``name = "module:SuiteClass"``, see ``pyproject.toml``);
* any other installed package, through entry points in the same group; an entry point's module is
  imported only when its suite is first asked for;
* a plugin file passed with ``--plugin path/to/file.py`` decorates its class with
  ``@register_suite`` (see :mod:`acn_bench.plugins`).

A suite's name is its ``name`` attribute; the CLI also accepts dashes (``low-data``).
"""

from __future__ import annotations

import importlib.metadata
import inspect

from acn_bench.errors import UserError, unknown_choice
from acn_bench.suites.base import Suite

ENTRY_POINT_GROUP = "acn_bench.suites"
DEFAULT_SUITE = "compression"
REQUIRED_TEXT = ("name", "description")
REQUIRED_TUPLES = ("metrics", "datasets")

_REGISTRY: dict[str, tuple[type[Suite], str]] = {}  # name -> (class, where it came from)
_instances: dict[str, Suite] = {}


def suite_key(name: str) -> str:
    """The registry key of ``name``: ``low-data`` and ``low_data`` are the same suite."""
    return name.replace("-", "_")


def suite_problems(cls: object) -> list[str]:
    """Every way ``cls`` fails to be a usable suite class (empty when it is one)."""
    if not (inspect.isclass(cls) and issubclass(cls, Suite)):
        return [f"{cls!r} is not a subclass of acn_bench.Suite"]
    problems = []
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        problems.append(f"suite class {cls.__name__} does not implement {missing}")
    problems += [f"suite class {cls.__name__} sets no {attr}" for attr in REQUIRED_TEXT if not getattr(cls, attr)]
    problems += [f"suite class {cls.__name__} sets no {attr}" for attr in REQUIRED_TUPLES if not getattr(cls, attr)]
    if not cls.recipes:
        problems.append(f"suite class {cls.__name__} sets no recipes (profile -> dataset or '*' -> recipe)")
    return problems


def register_suite(cls: type[Suite] | None = None, *, origin: str | None = None):
    """Register a :class:`Suite` subclass under its ``name``; use as ``@register_suite`` on the class.

    Raises:
        UserError: the class is not a complete suite (abstract steps, no name, metrics, datasets or
            recipes), or its name is taken by another suite (registries never silently override).
    """

    def add(suite_cls: type[Suite]) -> type[Suite]:
        problems = suite_problems(suite_cls)
        if problems:
            raise UserError("; ".join(problems) + ".")
        key = suite_key(suite_cls.name)
        where = origin or suite_cls.__module__
        taken = _REGISTRY.get(key)
        if taken is not None and taken[0] is not suite_cls:
            raise UserError(f"suite {suite_cls.name!r} is already registered (from {taken[1]}).")
        declared = _entry_points().get(key)
        if taken is None and declared is not None and declared.module != suite_cls.__module__:
            raise UserError(f"suite {suite_cls.name!r} is already registered (entry point {declared.value}).")
        _REGISTRY[key] = (suite_cls, where)
        return suite_cls

    return add(cls) if cls is not None else add


def unregister_suites(names: list[str]) -> None:
    """Remove suites (a plugin file that failed halfway takes back what it registered)."""
    for name in names:
        _REGISTRY.pop(suite_key(name), None)
        _instances.pop(suite_key(name), None)


def registered_suites() -> set[str]:
    """Names of the suites registered so far (entry points not loaded yet are left out)."""
    return set(_REGISTRY)


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {suite_key(ep.name): ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _load_entry_point(key: str) -> None:
    ep = _entry_points()[key]
    try:
        cls = ep.load()  # importing the module may register the class through its decorator
    except UserError:
        raise
    except Exception as exc:  # a broken third-party package must not hide the built-ins
        raise UserError(
            f"suite entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP} failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if key not in _REGISTRY:
        register_suite(cls, origin=f"entry point {ep.value}")


def list_suites() -> list[str]:
    """Names of every suite: registered ones and those installed packages declare, sorted."""
    return sorted(set(_REGISTRY) | set(_entry_points()))


def get_suite(name: str) -> Suite:
    """The suite called ``name`` (one instance per suite); a clear error listing the names otherwise."""
    key = suite_key(name)
    if key not in _REGISTRY and key in _entry_points():
        _load_entry_point(key)
    if key not in _REGISTRY:
        raise unknown_choice("suite", name, list_suites())
    if key not in _instances:
        _instances[key] = _REGISTRY[key][0]()
    return _instances[key]
