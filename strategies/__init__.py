"""Continual-learning strategies built on Avalanche (naive, SI, EWC, replay, LwF) and their registry.

The continual suite (``benchmarks/continual.py``) creates them through ``make_strategy``.
"""
