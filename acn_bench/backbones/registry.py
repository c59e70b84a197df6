"""Backbones by name, as in timm: ``create_backbone(name, **overrides)`` and ``list_backbones()``.

Third-party backbones register themselves in one of two ways:

* a package declares an entry point in the group ``acn_bench.backbones`` whose name is the
  backbone's name and whose object is the factory (loaded on first use);
* a user passes ``--plugin path/to/file.py`` (see :mod:`acn_bench.plugins`); the file calls
  :func:`register_backbone`.

A factory takes keyword arguments (at least ``connectivity``, ``num_classes``, ``img_size``,
``in_chans``, ``depth``) and returns a :class:`~acn_bench.backbones.base.Backbone`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from acn_bench.backbones.base import Backbone
from acn_bench.errors import UserError, unknown_choice

ENTRY_POINT_GROUP = "acn_bench.backbones"
BUILT_IN = "acn_bench"  # the origin of the presets in :mod:`acn_bench.backbones.presets`
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
    name: str, factory: Factory | None = None, *, description: str = "", origin: str = "plugin"
) -> Any:
    """Register ``factory`` under ``name``; usable as ``@register_backbone("my-net")``.

    ``origin`` says where it came from in messages (an entry point, a plugin file); the presets'
    is :data:`BUILT_IN`, and suites take a backbone of any other origin with their default recipe
    (:func:`is_built_in`).

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
            raise UserError(
                f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP} failed to load: {exc}"
            ) from exc
        register_backbone(ep.name, factory, origin=f"entry point {ep.value}")


def registered_backbones() -> set[str]:
    """Names of the backbones registered so far (entry points not loaded yet are left out)."""
    return set(_REGISTRY)


def unregister_backbones(names: list[str]) -> None:
    """Remove backbones (a plugin file that failed halfway takes back what it registered)."""
    for name in names:
        _REGISTRY.pop(name, None)


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


def is_built_in(name: str) -> bool:
    """Whether ``name`` is one of acn_bench's presets (not a plugin's or an entry point's backbone)."""
    return backbone_entry(name).origin == BUILT_IN


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
        raise UserError(
            f"backbone {name!r} ({entry.origin}) returned {type(model).__name__}, not an acn_bench Backbone."
        )
    model.config["name"] = name
    return model


def _register_preset(name: str, builder: Factory, description: str, **preset: Any) -> None:
    factory = functools.partial(builder, **preset)
    register_backbone(name, factory, description=description, origin=BUILT_IN)
