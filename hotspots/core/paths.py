"""Where the bundled data lives.

The bundled London data sit in the repository's ``data/`` folder, next to the package
(``pip install -e .`` keeps them there). ``HOTSPOTS_DATA`` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

from hotspots.core.errors import InputError


def data_dir() -> Path:
    """Locate the bundled data folder.

    Raises
    ------
    InputError
        If it cannot be found (for example after a non-editable install).
    """
    override = os.environ.get("HOTSPOTS_DATA")
    candidate = Path(override) if override else Path(__file__).resolve().parents[2] / "data"
    if not (candidate / "boroughs").is_dir():
        raise InputError(
            f"bundled data not found at {candidate}; install from a clone with "
            "'pip install -e .' or set HOTSPOTS_DATA to the repository's data/ folder."
        )
    return candidate


def bundled(*parts: str) -> Path:
    """Path of a bundled file, e.g. ``bundled("boroughs", "london_boroughs.geojson")``."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise InputError(f"bundled file missing: {path}; restore it from the repository.")
    return path
