"""Who may import whom (DESIGN.md): no layer imports a layer above it.

Two checks per layer. Dynamic: a fresh interpreter imports every module of the layer and must not
have loaded a forbidden package (this catches imports through ``acn_bench/__init__.py`` and other
packages, but not imports inside functions). Static: every ``import`` statement of the layer's
source, inside functions too, must not name a forbidden package.
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
ABOVE_ALL = ("benchmarks", "strategies", "acn_bench.cli")  # the suites, the strategies and the command line

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "acn_bench.backbones": (
        "acn_bench.data",
        "acn_bench.training",
        "acn_bench.suite",
        "acn_bench.analysis",
        "acn_bench.results",
        *ABOVE_ALL,
    ),
    "acn_bench.data": ("acn_bench.backbones", "acn_bench.training", "acn_bench.suite", *ABOVE_ALL),
    "acn_bench.results": ("acn_bench.backbones", "acn_bench.training", "acn_bench.data", "acn_bench.suite", *ABOVE_ALL),
    "acn_bench.analysis": ("acn_bench.training", "acn_bench.data", "acn_bench.suite", *ABOVE_ALL),
    "acn_bench": ("acn_bench.cli",),  # every module below the command line
}
EXEMPT = {"acn_bench": ("acn_bench.cli",)}  # modules a layer's rule does not apply to

IMPORT_ALL = """
import importlib, json, pkgutil, sys
layer = importlib.import_module(sys.argv[1])
exempt = set(sys.argv[2:])
for info in pkgutil.walk_packages(layer.__path__, layer.__name__ + "."):
    if info.name not in exempt and not info.name.endswith("__main__"):
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def is_within(module: str, packages: tuple[str, ...]) -> bool:
    """Whether ``module`` is one of ``packages`` or inside one of them."""
    return any(module == p or module.startswith(p + ".") for p in packages)


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


def layer_files(layer: str) -> Iterator[tuple[str, Path]]:
    """``(module name, file)`` of every module of ``layer`` its rule applies to."""
    folder = ROOT.joinpath(*layer.split("."))
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not is_within(name, EXEMPT.get(layer, ())):
            yield name, path


def static_violations(layer: str) -> list[str]:
    """``module imports forbidden`` for every forbidden import statement in the layer's source."""
    return [
        f"{name} imports {imported}"
        for name, path in layer_files(layer)
        for imported in sorted(set(imported_modules(path.read_text(), name, path.name == "__init__.py")))
        if is_within(imported, FORBIDDEN[layer])
    ]


@pytest.mark.slow
@pytest.mark.parametrize("layer", FORBIDDEN)
def test_importing_a_layer_loads_no_layer_above_it(layer):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, layer, *EXEMPT.get(layer, ())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert [m for m in loaded if is_within(m, FORBIDDEN[layer])] == []


@pytest.mark.parametrize("layer", FORBIDDEN)
def test_no_module_of_a_layer_imports_a_layer_above_it(layer):
    assert static_violations(layer) == []


def test_the_static_check_sees_imports_inside_functions_and_relative_imports():
    source = "def save():\n    from acn_bench.training.checkpoint import save_checkpoint\n"
    assert "acn_bench.training.checkpoint" in set(imported_modules(source, "acn_bench.backbones.saving"))
    relative = set(imported_modules("from ..training import trainer\n", "acn_bench.backbones.saving"))
    assert {"acn_bench.training", "acn_bench.training.trainer"} <= relative
    assert "acn_bench.cli" in set(imported_modules("from acn_bench import cli\n", "acn_bench.submit"))
