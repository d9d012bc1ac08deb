"""Detection: every hotspot method side by side on one set of aggregates."""
