"""Aggregates: per-cell, per-month and per-point sums that every hotspot statistic needs."""
