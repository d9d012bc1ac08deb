"""Engines: where work runs (this process, a process pool, a Dask cluster); know nothing of crime data."""
