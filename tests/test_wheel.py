"""The wheel, as a user gets it: no generic top-level names, and it runs from a fresh environment.

``pyproject.toml`` maps the ``benchmarks/`` and ``strategies/`` folders into the package
(``acn_bench.benchmarks``, ``acn_bench.strategies``). This test builds the wheel, checks the names it
would put into ``site-packages``, installs it (not editable) into a fresh virtual environment whose
only link to this checkout is the dependencies' folder, and runs ``acn-bench list`` and a smoke run
there, from a folder outside the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str | Path, cwd: Path) -> str:
    """Run a command without this checkout on the path; its output (the test fails with its stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the checkout (setuptools builds in the source folder, and a stale
    ``build/`` there would put deleted modules into the wheel)."""
    source, out = tmp_path_factory.mktemp("source") / "acn-bench", tmp_path_factory.mktemp("wheel")
    top_level = {".git", ".venv", "build", "leaderboards", "site", "results", "acn_bench.egg-info"}

    def skip(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n == "__pycache__" or (Path(folder) == ROOT and n in top_level)}

    shutil.copytree(ROOT, source, ignore=skip)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, source, cwd=out)
    return next(out.glob("acn_bench-*.whl"))


def test_the_wheel_installs_only_the_acn_bench_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert {name.split("/")[0] for name in names} == {"acn_bench", "acn_bench-0.1.0.dist-info"}
    assert "acn_bench/benchmarks/compression.py" in names and "acn_bench/strategies/registry.py" in names
    assert "acn_bench/site/assets/site.js" in names  # package data
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        declared = archive.read(entry_points).decode()
    assert "compression = acn_bench.benchmarks.compression:CompressionSuite" in declared


@pytest.mark.slow
def test_the_installed_wheel_lists_its_suites_and_runs_a_smoke_run(wheel, tmp_path):
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    # the dependencies (torch, avalanche, ...) come from this environment's folder, never acn_bench
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = (sys.executable, "-m", "pip", "--python", python)
    run(*pip, "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)

    probe = "import acn_bench, importlib.util as u; print(acn_bench.__file__, u.find_spec('benchmarks'))"
    where = run(python, "-c", probe, cwd=tmp_path)
    assert where.split()[0].startswith(str(site)) and where.split()[1] == "None"
    listed = run(env_dir / "bin" / "acn-bench", "list", cwd=tmp_path)
    assert all(name in listed for name in ("compression", "continual", "transfer", "glue"))

    out = tmp_path / "records"
    run(env_dir / "bin" / "acn-bench", "run", "compression", "--profile", "smoke", "--dataset", "digits",
        "--only", "connectivity=acn", "--out", out, "--no-progress", cwd=tmp_path)  # fmt: skip
    (record,) = (out / "compression").glob("*.json")
    data = json.loads(record.read_text())
    assert data["suite"] == "compression" and 0.0 <= data["metrics"]["accuracy"] <= 1.0
