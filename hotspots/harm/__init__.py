"""Harm: offence -> harm weight tables (Cambridge Crime Harm Index by default)."""
