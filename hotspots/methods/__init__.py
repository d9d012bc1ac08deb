"""Hotspot methods: counts, concentration, kernel density, Gi*, clusters, emerging trends."""
