"""Backbones by name, as in timm: ``create_backbone(name, **overrides)`` and ``list_backbones()``.

Third-party backbones register themselves in one of two ways:

* a package declares an entry point in the group ``acn_bench.backbones`` whose name is the
  backbone's name and whose object is the factory (loaded on first use);
* a user passes ``--plugin path/to/file.py``; the file calls :func:`register_backbone`.

A factory takes keyword arguments (at least ``connectivity``, ``num_classes``, ``img_size``,
``in_chans``, ``depth``) and returns a :class:`~acn_bench.backbones.base.Backbone`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from acn_bench.backbones.base import Backbone
from acn_bench.errors import UserError, unknown_choice

ENTRY_POINT_GROUP = "acn_bench.backbones"
Factory = Callable[..., Backbone]


@dataclass(frozen=True)
class BackboneEntry:
    """A registered backbone: its factory, a one-line description and where it came from."""

    name: str
    factory: Factory
    description: str
    origin: str


_REGISTRY: dict[str, BackboneEntry] = {}
_entry_points_loaded = False


def register_backbone(
    name: str, factory: Optional[Factory] = None, *, description: str = "", origin: str = "acn_bench"
) -> Any:
    """Register ``factory`` under ``name``; usable as ``@register_backbone("my-net")``.

    Raises:
        ValueError: if ``name`` is already registered (registries never silently override).
    """

    def add(fn: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"backbone {name!r} is already registered (from {_REGISTRY[name].origin})")
        doc = description or (inspect.getdoc(fn) or "").split("\n")[0]
        _REGISTRY[name] = BackboneEntry(name, fn, doc, origin)
        return fn

    return add(factory) if factory is not None else add


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue
        try:
            factory = ep.load()
        except Exception as exc:  # a broken third-party package must not hide the built-ins
            raise UserError(f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP} failed to load: {exc}") from exc
        register_backbone(ep.name, factory, origin=f"entry point {ep.value}")


def load_plugin(path: str | Path) -> list[str]:
    """Import a plugin file that registers backbones; return the names it added."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"plugin file {str(path)!r} does not exist; pass the path of a .py file that calls register_backbone.")
    before = set(_REGISTRY)
    module_name = f"acn_bench_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"plugin file {str(path)!r} is not an importable Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        for name in set(_REGISTRY) - before:
            del _REGISTRY[name]
        raise UserError(f"plugin file {str(path)!r} raised on import: {type(exc).__name__}: {exc}") from exc
    return sorted(set(_REGISTRY) - before)


def list_backbones() -> list[str]:
    """Names of every registered backbone, sorted."""
    _load_entry_points()
    return sorted(_REGISTRY)


def backbone_entry(name: str) -> BackboneEntry:
    """The registry entry for ``name``; a clear error listing the accepted names otherwise."""
    _load_entry_points()
    if name not in _REGISTRY:
        raise unknown_choice("backbone", name, sorted(_REGISTRY))
    return _REGISTRY[name]


def backbone_options(name: str) -> dict[str, Any]:
    """Keyword arguments the factory of ``name`` accepts, with their defaults."""
    sig = inspect.signature(backbone_entry(name).factory)
    return {p.name: p.default for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD}


def create_backbone(name: str, **overrides: Any) -> Backbone:
    """Create the backbone ``name``, overriding any of its preset arguments.

    Example:
        >>> model = create_backbone("mixer_cifar", connectivity="acn")
        >>> sum(p.numel() for p in model.parameters())
        2527002
    """
    entry = backbone_entry(name)
    sig = inspect.signature(entry.factory)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = [key for key in overrides if key not in sig.parameters and not takes_any]
    if unknown:
        raise UserError(
            f"backbone {name!r} does not take {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(k for k in sig.parameters if k != 'name')}."
        )
    model = entry.factory(**overrides)
    if not isinstance(model, Backbone):
        raise UserError(f"backbone {name!r} ({entry.origin}) returned {type(model).__name__}, not an acn_bench Backbone.")
    model.config["name"] = name
    return model


def _register_preset(name: str, builder: Factory, description: str, **preset: Any) -> None:
    factory = functools.partial(builder, **preset)
    register_backbone(name, factory, description=description)
