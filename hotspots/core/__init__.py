"""Core: errors, column names and dtypes, where bundled data lives. Imports nothing else from hotspots."""
