"""Maps: offline assets, layers, legend, escaping, disclosure control."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import shapely

from hotspots.core.disclosure import suppress
from hotspots.maps.draw import class_breaks, draw_harm_map


def frames():
    cells = gpd.GeoDataFrame(
        {
            "borough": ["<script>alert(1)</script>", "Westminster"],
            "incidents": [3, 40],
            "harm": [700.0, 9000.0],
        },
        geometry=[
            shapely.box(529_500, 180_000, 529_700, 180_200),
            shapely.box(529_700, 180_000, 529_900, 180_200),
        ],
        index=pd.Index(["89194ad30c7ffff", "89194ad301bffff"], name="cell_id"),
        crs=27700,
    )
    boroughs = gpd.GeoDataFrame(
        {"name": ["Westminster & <b>Co</b>"]},
        geometry=[shapely.box(529_000, 179_500, 531_000, 181_000)],
        crs=27700,
    )
    return cells, boroughs


def test_map_is_offline_layered_and_escaped():
    cells, boroughs = frames()
    html = (
        draw_harm_map(
            cells, boroughs=boroughs, title="T", period="2024-01 to 2024-02", harm_table="CCHI"
        )
        .get_root()
        .render()
    )
    assert not re.findall(r"<script[^>]+src=[\"']https?://", html)
    assert not re.findall(r"<link[^>]+href=[\"']https?://", html)
    assert "L.map(" in html or "L.map (" in html
    assert "Harm per H3 cell" in html and "Borough boundaries" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "2024-01 to 2024-02" in html
    assert "fewer than 5" in html  # the 3-incident cell is suppressed
    assert "hs-legend" in html


def test_suppression_and_breaks():
    assert suppress(3, 5) == "fewer than 5"
    assert suppress(0, 5) == "0"
    assert suppress(12, 5) == "12"
    breaks = class_breaks(pd.Series([0, 1, 2, 3, 100]))
    assert breaks[-1] == 100 and breaks[0] > 0
