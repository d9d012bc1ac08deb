"""Ingest: validate rows, geocode, weight by harm; into memory or into a store."""
