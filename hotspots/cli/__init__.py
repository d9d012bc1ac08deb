"""Command line: one thin file per command over the runs."""
