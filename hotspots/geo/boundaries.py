"""Bundled London boundaries, and loading a force's own boundary file.

The 33 London boroughs (2011 boundaries, excluding the tidal Thames) ship in
``data/boroughs/``; December-2024 wards and 2021 LSOAs in ``data/boundaries/``.
Any other force passes its own polygons with ``--areas FILE --area-code COL --area-name COL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from hotspots.core import schema
from hotspots.core.paths import bundled
from hotspots.geo.geocode import Areas, read_areas


def london_boroughs() -> Areas:
    """Read the 33 London boroughs (GSS code and name), full resolution, in EPSG:27700."""
    return read_areas(
        bundled("boroughs", "london_boroughs.geojson"),
        code_column="GSS_CODE",
        name_column="NAME",
        kind="borough",
    )


def london_wards() -> Areas:
    """London's 684 electoral wards (December 2024)."""
    return read_areas(
        bundled("boundaries", "london_ward_2024.gpkg"),
        code_column="WD24CD",
        name_column="WD24NM",
        kind="ward",
    )


def london_lsoas() -> Areas:
    """London's 4,994 LSOAs (2021 definitions; generalised boundaries)."""
    return read_areas(
        bundled("boundaries", "london_lsoa_2021.gpkg"),
        code_column="LSOA21CD",
        name_column="LSOA21NM",
        kind="lsoa21",
    )


def lsoa_vintages() -> dict[str, str]:
    """LSOA code -> ``2011``, ``2021`` or ``both`` for London's codes."""
    table = pd.read_csv(bundled("boundaries", "lsoa_codes.csv"), dtype=str)
    return dict(zip(table["lsoa_code"], table["vintage"], strict=True))


def london_layers(*, with_wards: bool = False, with_lsoas: bool = False) -> Layers:
    """Boroughs as the study area, optionally wards and 2021 LSOAs as extra layers."""
    extra: dict[str, Areas] = {}
    if with_wards:
        extra["ward"] = london_wards()
    if with_lsoas:
        extra["lsoa21"] = london_lsoas()
    return Layers(study=london_boroughs(), extra=extra, lsoa_vintages=lsoa_vintages())


def custom_layers(path: str | Path, *, code_column: str, name_column: str | None = None) -> Layers:
    """Use a force's own boundary file as the study area."""
    return Layers(
        study=read_areas(path, code_column=code_column, name_column=name_column, kind="area")
    )


@dataclass(frozen=True)
class Layers:
    """Boundary layers used to place points.

    Attributes
    ----------
    study
        The primary areas (London boroughs by default): outside them is a reject.
    extra
        Optional further layers (ward, LSOA...) by name; outside them is just null.
    lsoa_vintages
        Known LSOA codes and their vintage (``2011``, ``2021``, ``both``), if any.
    """

    study: Areas
    extra: dict[str, Areas] = field(default_factory=dict)
    lsoa_vintages: dict[str, str] | None = None

    @cached_property
    def bbox_wgs84(self) -> tuple[float, float, float, float]:
        """Study-area bounds in degrees, widened by about 5 km."""
        minx, miny, maxx, maxy = self.study.polygons.to_crs(schema.WGS84).total_bounds
        return (minx - 0.08, miny - 0.05, maxx + 0.08, maxy + 0.05)
