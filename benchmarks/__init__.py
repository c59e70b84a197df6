"""The built-in benchmark suites, one module each (``benchmarks/low_data.py`` is the suite ``low_data``).

Installed as ``acn_bench.benchmarks`` (``pyproject.toml`` maps this folder into the package). Each
module registers its suite with ``@register_suite``; ``pyproject.toml`` declares them in the
entry-point group ``acn_bench.suites``, so :func:`acn_bench.suites.get_suite` imports a module only
when its suite is asked for. ``recipes.py`` holds the recipes several suites share and ``paper.py``
the paper's reported numbers. The framework they build on is :mod:`acn_bench.suites`.
"""
