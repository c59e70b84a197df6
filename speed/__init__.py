"""Speed benchmarks of acn-bench (not installed): ``python -m speed.perf`` and the measurement logs in ``results/``."""
