"""Evaluation: rolling-origin backtests (hit rate, PAI, RRI, PEI) and verdicts."""
