"""The built-in benchmark suites, one module each (``benchmarks/low_data.py`` is the suite ``low_data``).

Each module registers its suite with ``@register_suite``; ``pyproject.toml`` declares them in the
entry-point group ``acn_bench.suites``, so :func:`acn_bench.suite_registry.get_suite` imports a
module only when its suite is asked for. ``image_suite.py`` is the skeleton of the image suites,
``common.py`` what they share, ``paper.py`` the paper's numbers and ``perf.py`` the speed script.
"""
