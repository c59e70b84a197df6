"""Plugin files: ``--plugin path/to/file.py`` imports a file that registers backbones and/or suites.

A plugin calls ``@register_backbone("my-net")`` on a backbone factory, ``@register_suite`` on a
:class:`~acn_bench.suites.Suite` subclass, or both. Nothing needs installing; packages use the
entry-point groups ``acn_bench.backbones`` and ``acn_bench.suites`` instead.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from acn_bench.backbones.registry import registered_backbones, unregister_backbones
from acn_bench.errors import UserError
from acn_bench.suites.registry import registered_suites, unregister_suites


@dataclass(frozen=True)
class Plugin:
    """What one plugin file registered."""

    path: Path
    backbones: list[str]
    suites: list[str]

    def summary(self) -> str:
        """One line for the log, e.g. ``backbones: my-net; suites: calibration``."""
        parts = [
            f"{kind}: {', '.join(names)}"
            for kind, names in (("backbones", self.backbones), ("suites", self.suites))
            if names
        ]
        return "; ".join(parts) or "no new backbone or suite"


def load_plugin(path: str | Path) -> Plugin:
    """Import the plugin file ``path`` and return what it registered.

    Raises:
        UserError: naming the file and the problem: it does not exist, is not Python, raises on
            import, registers a name that is taken, or registers an incomplete suite. Whatever it
            registered before failing is taken back.
    """
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise UserError(
            f"plugin file {str(path)!r} does not exist or is not a .py file; pass the path of a Python "
            "file that calls register_backbone or register_suite."
        )
    backbones_before, suites_before = registered_backbones(), registered_suites()
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
        unregister_backbones(sorted(registered_backbones() - backbones_before))
        unregister_suites(sorted(registered_suites() - suites_before))
        problem = str(exc) if isinstance(exc, UserError) else f"raised on import: {type(exc).__name__}: {exc}"
        raise UserError(f"plugin file {str(path)!r}: {problem}") from exc
    return Plugin(path, sorted(registered_backbones() - backbones_before), sorted(registered_suites() - suites_before))
