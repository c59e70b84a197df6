"""Who may import whom (ARCHITECTURE.md): every layer of the package names the layers it may import.

Every module of ``acn_bench`` (the mapped ``acn_bench.benchmarks`` and ``acn_bench.strategies``
included) belongs to one layer of :data:`MAY_IMPORT`, and a layer imports only the layers it names.
Two checks per layer. Static: every ``import`` statement of the layer's source, inside functions too,
names only the layer itself or a layer it may import. Dynamic: a fresh interpreter imports every
module of the layer and must not have loaded a layer outside what it may import, directly or through
them (this catches imports through ``acn_bench/__init__.py`` and other packages, but not imports
inside functions, which the static check sees).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"acn_bench.benchmarks": ROOT / "benchmarks", "acn_bench.strategies": ROOT / "strategies"}  # pyproject

BASE = ("acn_bench.errors", "acn_bench.io")
MODELS_AND_DATA = (*BASE, "acn_bench.progress", "acn_bench.backbones", "acn_bench.data", "acn_bench.results")
BELOW_SUITES = (*MODELS_AND_DATA, "acn_bench.analysis", "acn_bench.training")

# Bottom to top. A layer may import only the layers it names (its own modules always).
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "acn_bench.errors": (),
    "acn_bench.io": ("acn_bench.errors",),
    "acn_bench.progress": ("acn_bench.errors",),
    "acn_bench.backbones": BASE,  # no data, trainer, suite or result
    "acn_bench.data": (*BASE, "acn_bench.progress"),  # no model
    "acn_bench.results": BASE,  # plain data: no model, trainer or data
    "acn_bench.analysis": (*BASE, "acn_bench.backbones"),  # no trainer, no data
    "acn_bench.training": (*MODELS_AND_DATA, "acn_bench.analysis"),
    "acn_bench.suites": BELOW_SUITES,  # the framework: no built-in suite, strategy, site or command line
    "acn_bench.strategies": BELOW_SUITES,
    "acn_bench.benchmarks": (*BELOW_SUITES, "acn_bench.suites", "acn_bench.strategies"),
    "acn_bench.plugins": (*BELOW_SUITES, "acn_bench.suites"),
    "acn_bench.site": (*MODELS_AND_DATA, "acn_bench.suites"),
    "acn_bench.jobs": (*BELOW_SUITES, "acn_bench.suites", "acn_bench.plugins"),
    "acn_bench.submit": (*BELOW_SUITES, "acn_bench.suites", "acn_bench.plugins"),
    "acn_bench.cli": (
        *BELOW_SUITES,
        "acn_bench.suites",
        "acn_bench.plugins",
        "acn_bench.site",
        "acn_bench.jobs",
        "acn_bench.submit",
    ),
}
# the root package's lazy public API
ROOT_PACKAGE_MAY_IMPORT = ("acn_bench.errors", "acn_bench.backbones", "acn_bench.training", "acn_bench.suites")

IMPORT_ALL = """
import importlib, json, pkgutil, sys
layer = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(getattr(layer, "__path__", []), layer.__name__ + "."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def is_within(module: str, packages: tuple[str, ...] | list[str]) -> bool:
    """Whether ``module`` is one of ``packages`` or inside one of them."""
    return any(module == p or module.startswith(p + ".") for p in packages)


def reachable(layer: str) -> set[str]:
    """The layers ``layer`` may import, directly or through them (itself included)."""
    seen, todo = {layer}, list(MAY_IMPORT[layer])
    while todo:
        other = todo.pop()
        if other not in seen:
            seen.add(other)
            todo.extend(MAY_IMPORT[other])
    return seen


def imported_modules(source: str, module: str, is_package: bool = False) -> Iterator[str]:
    """Every module an ``import`` statement anywhere in ``source`` (the code of ``module``) names,
    relative imports resolved; ``from a import b`` names both ``a`` and ``a.b``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def package_modules() -> Iterator[tuple[str, Path]]:
    """``(module name, file)`` of every module the wheel installs under ``acn_bench``."""
    roots = {"acn_bench": ROOT / "acn_bench", **FOLDERS}
    for package, folder in roots.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            yield ".".join((package, *parts)), path


def layer_of(module: str) -> str | None:
    """The layer ``module`` belongs to (``None`` for the root package's ``__init__``)."""
    return next((layer for layer in MAY_IMPORT if is_within(module, (layer,))), None)


def static_violations(layer: str) -> list[str]:
    """``module imports other`` for every import statement of the layer naming a layer it may not import."""
    allowed = (layer, *MAY_IMPORT[layer])
    return [
        f"{name} imports {imported}"
        for name, path in package_modules()
        if layer_of(name) == layer
        for imported in sorted(set(imported_modules(path.read_text(), name, path.name == "__init__.py")))
        if is_within(imported, ("acn_bench",)) and imported != "acn_bench" and not is_within(imported, allowed)
    ]


def test_every_module_of_the_package_belongs_to_a_layer():
    assert [name for name, _ in package_modules() if name != "acn_bench" and layer_of(name) is None] == []


def test_the_root_package_imports_only_its_public_api():
    source = (ROOT / "acn_bench" / "__init__.py").read_text()
    named = {m for m in imported_modules(source, "acn_bench", True) if is_within(m, ("acn_bench",))}
    assert {m for m in named if m != "acn_bench" and not is_within(m, ROOT_PACKAGE_MAY_IMPORT)} == set()


@pytest.mark.parametrize("layer", MAY_IMPORT)
def test_no_module_of_a_layer_imports_a_layer_it_may_not(layer):
    assert static_violations(layer) == []


@pytest.mark.slow
@pytest.mark.parametrize("layer", MAY_IMPORT)
def test_importing_a_layer_loads_only_layers_it_may_import(layer):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, layer], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    allowed = sorted(reachable(layer))
    assert [m for m in loaded if is_within(m, ("acn_bench",)) and m != "acn_bench" and not is_within(m, allowed)] == []


def test_the_static_check_sees_imports_inside_functions_and_relative_imports():
    source = "def save():\n    from acn_bench.training.checkpoint import save_checkpoint\n"
    assert "acn_bench.training.checkpoint" in set(imported_modules(source, "acn_bench.backbones.saving"))
    relative = set(imported_modules("from ..training import trainer\n", "acn_bench.backbones.saving"))
    assert {"acn_bench.training", "acn_bench.training.trainer"} <= relative
    assert "acn_bench.cli" in set(imported_modules("from acn_bench import cli\n", "acn_bench.submit"))


def test_a_forbidden_import_is_reported(tmp_path, monkeypatch):
    """The check itself fails on a violation: a backbone module importing the trainer."""
    fake = tmp_path / "acn_bench" / "backbones"
    fake.mkdir(parents=True)
    (fake / "leak.py").write_text("from acn_bench.training import Trainer\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "FOLDERS", {})
    assert static_violations("acn_bench.backbones") == [
        "acn_bench.backbones.leak imports acn_bench.training",
        "acn_bench.backbones.leak imports acn_bench.training.Trainer",
    ]
