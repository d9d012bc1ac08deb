"""Input and output: finding and reading source files, formats, the Parquet store, manifests, atomic writes."""
