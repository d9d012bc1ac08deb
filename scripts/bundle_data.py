#!/usr/bin/env python3
"""Rebuild the bundled ``data/`` folder of ``hotspots`` from the shared data collection.

Maintainer tool, not part of the package.  Run from the repository root::

    python scripts/bundle_data.py --shared ../shared/data

It copies (byte-for-byte) or derives every file under ``data/``, writes the
READMEs with the numbers it computed, and finally writes ``data/MANIFEST.csv``.
The package itself must never read the shared collection; it only reads
``data/``.

The script fails loudly (non-zero exit) when

* a shared source file does not match the sha256 recorded in the shared
  ``MANIFEST.csv``;
* an MPS (major, minor) offence pair has no harm mapping and is not on the
  explicit list of deliberately absent (fraud) pairs;
* an ONS offence subgroup cannot be matched to a CCHI subgroup and is not on
  the explicit list of expected gaps;
* a simplified borough is invalid or empty, or the simplified boroughs no
  longer form a valid coverage;
* the size limits (whole folder ~20 MB, any file 8 MB) are exceeded;
* ``data/`` holds a file this script did not produce.

Only the standard library, numpy (via pandas), pandas, geopandas, shapely and
pyogrio are used.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

# ---------------------------------------------------------------------------
# constants
# ---------------------------------------------------------------------------

MAX_TOTAL_BYTES = 20 * 1024 * 1024
MAX_FILE_BYTES = 8 * 1024 * 1024

DEMO_FIRST, DEMO_LAST = "2022-09", "2024-08"  # Met demo window (24 months)
WEIGHT_MONTHS = [f"2023{m:02d}" for m in range(3, 13)] + ["202401", "202402"]
WEIGHT_PERIOD = "2023-03..2024-02"
SIMPLIFY_TOLERANCE_M = 10.0
WEB_DECIMALS = 5

OGL3 = "Contains public sector information licensed under the Open Government Licence v3.0."
OGL2 = "Contains public sector information licensed under the Open Government Licence v2.0."
ONS_ATTR = (
    "Source: Office for National Statistics licensed under the Open Government Licence v.3.0. "
    "Contains National Statistics data © Crown copyright and database right. "
    "Contains OS data © Crown copyright and database right."
)
GLA_ATTR = (
    "Contains National Statistics data © Crown copyright and database right 2012; "
    "Contains Ordnance Survey data © Crown copyright and database right 2012"
)
OGL3_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
OGL2_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/2/"

POLICE_UK_CATEGORIES = [
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
]
ASB_REASON = (
    "ASB incidents are not notifiable crimes and have no CCHI value; kept for counts, zero harm"
)

# MPS (major, minor) -> CCHI PRC subgroup.  Keyed on the exact pair so that a minor
# turning up under an unexpected major is not mapped silently.
MPS_PAIR_TO_SUBGROUP = {
    ("VIOLENCE AGAINST THE PERSON", "HOMICIDE"): "Homicide",
    ("VIOLENCE AGAINST THE PERSON", "VIOLENCE WITH INJURY"): "Violence with injury",
    ("VIOLENCE AGAINST THE PERSON", "VIOLENCE WITHOUT INJURY"): "Violence without injury",
    ("VIOLENCE AGAINST THE PERSON", "STALKING AND HARASSMENT"): "Stalking and harassment",
    (
        "VIOLENCE AGAINST THE PERSON",
        "DEATH SERIOUS INJURY ILLEGAL DRIVING",
    ): "Death or serious injury - unlawful driving",
    ("SEXUAL OFFENCES", "RAPE"): "Rape offences",
    ("SEXUAL OFFENCES", "OTHER SEXUAL OFFENCES"): "Other sexual offences",
    ("ARSON AND CRIMINAL DAMAGE", "CRIMINAL DAMAGE"): "Criminal damage",
    ("ARSON AND CRIMINAL DAMAGE", "ARSON"): "Arson",
    ("THEFT", "SHOPLIFTING"): "Shoplifting",
    ("THEFT", "OTHER THEFT"): "Other theft offences",
    ("THEFT", "THEFT FROM THE PERSON"): "Theft from the person",
    ("THEFT", "BICYCLE THEFT"): "Bicycle theft",
    ("BURGLARY", "BURGLARY IN A DWELLING"): "Residential burglary",
    ("BURGLARY", "DOMESTIC BURGLARY"): "Residential burglary",
    ("BURGLARY", "RES BURGLARY OF A HOME"): "Residential burglary",
    ("BURGLARY", "RES BURGLARY OF UNCONNECTED BUILDING"): "Residential burglary",
    ("BURGLARY", "BURGLARY - RESIDENTIAL"): "Residential burglary",
    ("BURGLARY", "BURGLARY BUSINESS AND COMMUNITY"): "Non-residential burglary",
    ("BURGLARY", "BURGLARY NON-DWELLING"): "Non-residential burglary",
    ("DRUG OFFENCES", "POSSESSION OF DRUGS"): "Possession of drugs",
    ("DRUG OFFENCES", "TRAFFICKING OF DRUGS"): "Trafficking of drugs",
    ("ROBBERY", "ROBBERY OF PERSONAL PROPERTY"): "Robbery of personal property",
    ("ROBBERY", "ROBBERY OF BUSINESS PROPERTY"): "Robbery of business property",
    ("POSSESSION OF WEAPONS", "POSSESSION OF WEAPONS"): "Possession of weapons offences",
    (
        "MISCELLANEOUS CRIMES AGAINST SOCIETY",
        "MISC CRIMES AGAINST SOCIETY",
    ): "Miscellaneous crimes against society",
}
# every minor of these majors maps to one subgroup
MPS_MAJOR_TO_SUBGROUP = {
    "PUBLIC ORDER OFFENCES": "Public order offences",
    "VEHICLE OFFENCES": "Vehicle offences",
}
# no CCHI value in the source table: deliberately left out of cchi_mps_minor.csv
MPS_DELIBERATELY_ABSENT = {
    ("FRAUD AND FORGERY", "FRAUD AND FORGERY"),
    ("NFIB FRAUD", "NFIB"),
}

# ONS (2018) subgroup label -> CCHI PRC subgroup label, where they differ
ONS_TO_CCHI_SUBGROUP = {
    "Harassment": "Stalking and harassment",
    "Rape": "Rape offences",
    "Domestic burglary": "Residential burglary",
    "Non-domestic burglary": "Non-residential burglary",
    "Theft of a motor vehicle": "Vehicle offences",
    "Theft from a vehicle": "Vehicle offences",
    "Vehicle interference": "Vehicle offences",
}
# ONS subgroups with no CCHI value in the source table (expected; anything else fails)
ONS_EXPECTED_UNMATCHED = {"Fraud offences to 2012/13"}

MPS_AGG = "police_uk/mps_recorded_crime_aggregates"
MPS_PAIR_FILES = [
    f"{MPS_AGG}/recorded-crime-borough-historical.csv.gz",
    f"{MPS_AGG}/recorded-crime-borough_202403-202408.csv.gz",
    f"{MPS_AGG}/recorded-crime-ward-historical.csv.gz",
    f"{MPS_AGG}/recorded-crime-ward_202402-202408.csv.gz",
    f"{MPS_AGG}/recorded-crime-lsoa_202308-202408.csv.gz",
]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def die(msg: str) -> None:
    print(f"ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fmt_int(n) -> str:
    return f"{int(n):,}"


def fmt_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.2f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"


def fmt_num(x: float) -> str:
    """Shortest plain representation of a harm value (273.5, 5475, 10)."""
    return f"{float(x):g}" if float(x) < 1e6 else f"{float(x):.1f}"


def md_table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


class Bundle:
    """Keeps track of what was written to data/ and where it came from."""

    def __init__(self, shared: Path, out: Path):
        self.shared = shared
        self.out = out
        self.sources: dict[str, str] = {}  # relative path under data/ -> source
        self.derived_from: dict[str, str] = {}
        man = pd.read_csv(shared / "MANIFEST.csv", dtype=str, keep_default_na=False)
        self.shared_manifest = man.set_index("file")

    # -- shared side -------------------------------------------------------
    def src(self, rel: str) -> Path:
        p = self.shared / rel
        if not p.is_file():
            die(f"shared file missing: {p}")
        return p

    def verify(self, rel: str) -> Path:
        p = self.src(rel)
        if rel in self.shared_manifest.index:
            want = self.shared_manifest.loc[rel, "sha256"]
            got = sha256(p)
            if got != want:
                die(f"sha256 mismatch for shared {rel}: {got} != MANIFEST {want}")
        else:
            die(f"{rel} is not listed in the shared MANIFEST.csv")
        return p

    def manifest_row(self, rel: str) -> pd.Series:
        return self.shared_manifest.loc[rel]

    # -- data side ---------------------------------------------------------
    def dst(self, rel: str) -> Path:
        p = self.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def copy(self, shared_rel: str, data_rel: str) -> Path:
        s = self.verify(shared_rel)
        d = self.dst(data_rel)
        shutil.copyfile(s, d)
        if sha256(d) != sha256(s):
            die(f"copy of {shared_rel} differs from its source")
        self.sources[data_rel] = shared_rel
        return d

    def write_text(self, data_rel: str, text: str, derived_from: str = "") -> Path:
        d = self.dst(data_rel)
        with open(d, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        self.sources[data_rel] = "derived"
        self.derived_from[data_rel] = derived_from
        return d

    def write_csv(self, data_rel: str, df: pd.DataFrame, derived_from: str) -> Path:
        buf = io.StringIO()
        df.to_csv(buf, index=False, lineterminator="\n")
        return self.write_text(data_rel, buf.getvalue(), derived_from)

    def size(self, data_rel: str) -> int:
        return (self.out / data_rel).stat().st_size

    def digest(self, data_rel: str) -> str:
        return sha256(self.out / data_rel)


# ---------------------------------------------------------------------------
# 1. boroughs
# ---------------------------------------------------------------------------


def _round_coords(geoms, decimals: int):
    return shapely.transform(geoms, lambda c: np.round(c, decimals))


def _geojson_number(x: float) -> str:
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


def _feature_json(props: dict, geom) -> str:
    # hand-written so that the output is byte-stable and compact (one feature per line)
    g = shapely.geometry.mapping(geom)

    def ring(r):
        return "[" + ",".join(f"[{_geojson_number(x)},{_geojson_number(y)}]" for x, y in r) + "]"

    if g["type"] == "Polygon":
        coords = "[" + ",".join(ring(r) for r in g["coordinates"]) + "]"
    elif g["type"] == "MultiPolygon":
        coords = (
            "["
            + ",".join("[" + ",".join(ring(r) for r in p) + "]" for p in g["coordinates"])
            + "]"
        )
    else:
        die(f"unexpected geometry type {g['type']}")
    return (
        '{"type":"Feature","properties":'
        + json.dumps(props, ensure_ascii=False, separators=(",", ":"))
        + ',"geometry":{"type":"'
        + g["type"]
        + '","coordinates":'
        + coords
        + "}}"
    )


def build_boroughs(b: Bundle) -> dict:
    rel = "boroughs/london_boroughs.geojson"
    b.copy(rel, "boroughs/london_boroughs.geojson")
    g = gpd.read_file(b.src(rel))
    if len(g) != 33 or g["GSS_CODE"].nunique() != 33:
        die("expected 33 boroughs with distinct GSS_CODE")
    bng = g.to_crs(27700)
    orig = bng.geometry.values
    if not shapely.is_valid(orig).all():
        die("source borough geometries are not all valid")

    coverage_ok = bool(shapely.coverage_is_valid(orig))
    if hasattr(shapely, "coverage_simplify") and coverage_ok:
        method = (
            f"shapely.coverage_simplify(tolerance={SIMPLIFY_TOLERANCE_M:g}) "
            "(GEOS coverage simplification, Visvalingam-Whyatt; shared edges simplified once "
            "so neighbouring boroughs keep identical borders, no gaps/overlaps)"
        )
        simp = shapely.coverage_simplify(orig, SIMPLIFY_TOLERANCE_M)
    else:
        method = f"GeoSeries.simplify({SIMPLIFY_TOLERANCE_M:g}, preserve_topology=True) (Douglas-Peucker)"
        simp = shapely.simplify(orig, SIMPLIFY_TOLERANCE_M, preserve_topology=True)

    web = gpd.GeoSeries(simp, crs=27700).to_crs(4326).values
    web = _round_coords(web, WEB_DECIMALS)
    web = shapely.orient_polygons(web, exterior_cw=False)  # RFC 7946 winding
    if shapely.is_empty(web).any():
        die("a simplified borough is empty")
    if not shapely.is_valid(web).all():
        bad = [g["NAME"].iloc[i] for i in np.where(~shapely.is_valid(web))[0]]
        die(f"simplified boroughs invalid: {bad}")
    web_cov_ok = bool(shapely.coverage_is_valid(web))
    if coverage_ok and not web_cov_ok:
        die("simplified boroughs no longer form a valid coverage")

    # Hausdorff distance measured in metres (EPSG:27700), original vs final rounded web copy
    back = gpd.GeoSeries(web, crs=4326).to_crs(27700).values
    hd = shapely.hausdorff_distance(orig, back)
    i_max = int(np.argmax(hd))
    area_change = float(
        (shapely.area(back).sum() - shapely.area(orig).sum()) / shapely.area(orig).sum()
    )

    props = ["GSS_CODE", "NAME", "ONS_INNER"]
    lines = [_feature_json({k: g[k].iloc[i] for k in props}, web[i]) for i in range(len(g))]
    text = (
        '{"type":"FeatureCollection","name":"london_boroughs_web",'
        '"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},'
        '"features":[\n' + ",\n".join(lines) + "\n]}\n"
    )
    b.write_text("boroughs/london_boroughs_web.geojson", text, derived_from=rel)

    # read back with GDAL to make sure it parses
    chk = pyogrio.read_dataframe(b.out / "boroughs/london_boroughs_web.geojson")
    if len(chk) != 33 or not chk.geometry.is_valid.all():
        die("web GeoJSON does not read back as 33 valid features")

    stats = {
        "method": method,
        "n_coords_orig": int(shapely.get_num_coordinates(orig).sum()),
        "n_coords_web": int(shapely.get_num_coordinates(web).sum()),
        "hausdorff_max": float(hd.max()),
        "hausdorff_max_name": g["NAME"].iloc[i_max],
        "hausdorff_median": float(np.median(hd)),
        "area_change": area_change,
        "coverage_valid": web_cov_ok,
        "area_km2": float(shapely.area(orig).sum() / 1e6),
        "n_poly": int((g.geom_type == "Polygon").sum()),
        "n_multi": int((g.geom_type == "MultiPolygon").sum()),
        "bounds": g.total_bounds,
    }
    write_boroughs_readme(b, stats)
    return stats


def write_boroughs_readme(b: Bundle, s: dict) -> None:
    man = b.manifest_row("boroughs/london_boroughs.geojson")
    full, web = "boroughs/london_boroughs.geojson", "boroughs/london_boroughs_web.geojson"
    lon0, lat0, lon1, lat1 = s["bounds"]
    text = f"""# London borough boundaries

| file | what | size | sha256 |
|---|---|---|---|
| `london_boroughs.geojson` | full-resolution boundaries, byte-for-byte copy of the source | {fmt_bytes(b.size(full))} | `{b.digest(full)}` |
| `london_boroughs_web.geojson` | simplified copy for web maps (derived, see below) | {fmt_bytes(b.size(web))} | `{b.digest(web)}` |

## Source

London Datastore (GLA), *Statistical GIS Boundary Files for London*
(https://data.london.gov.uk/dataset/statistical-gis-boundary-files-london), layer
**`London_Borough_Excluding_MHW`**, as re-hosted in GeoJSON by the GitHub repository
`boundaryissues/London.gov`, path `{man["source_path"]}`, commit `{man["source_commit"]}`
(repository HEAD when read: `7086cbd59d16eaa2cc20cd2ca6defa897cbaec2d`).
`london_boroughs.geojson` is an unmodified copy (sha256 above equals the source's).

* 33 features = the 32 London boroughs + the City of London ({s["n_poly"]} Polygon, {s["n_multi"]} MultiPolygon), all valid.
* Properties: `NAME`, `GSS_CODE` (E09000001..E09000033, each once), `HECTARES`, `NONLD_AREA`,
  `ONS_INNER` (`T`/`F` = Inner/Outer London), `SUB_2009`, `SUB_2006` (always null).
* Bounds: lon {lon0:.4f}..{lon1:.4f}, lat {lat0:.4f}..{lat1:.4f}; total area {s["area_km2"]:,.1f} km² (EPSG:27700).

## Licence and attribution

Open Government Licence v3.0 ({OGL3_URL}) / GLA geography licensing. Required attribution:

> {GLA_ATTR}

## CRS

* The files are **WGS84 longitude/latitude**: `urn:ogc:def:crs:OGC:1.3:CRS84` (= EPSG:4326 with lon,lat
  axis order).
* The original London Datastore shapefile is in **British National Grid, EPSG:27700**; the re-hosting
  repository reprojected it to WGS84.
* `hotspots` reprojects the boroughs to **EPSG:27700** for all metric work (areas, buffers, grids,
  distances); only web maps use the lon/lat file directly.

## Vintage and coverage

* **2011 borough boundaries**: the Statistical GIS Boundary Files for London were published for the 2011
  Census geography (the source repository's copy dates from 2014). Any later boundary adjustment is not
  reflected.
* **"Excluding MHW"**: the area below **Mean High Water** — in practice the tidal **River Thames** (and
  tidal creeks) — is *not* part of any borough polygon. A point that lies on the river, on a bridge
  span, on a pier or on the foreshore can therefore fall **outside every borough** in a
  point-in-polygon test even though it is in London. data.police.uk snap points are placed on streets,
  so few incidents are affected, but bridges (e.g. "On or near Westminster Bridge") and riverside
  walkways are. Assign such points with a nearest-polygon join (or by their `LSOA code`) rather than
  dropping them, and do not read a gap along the Thames on a map as "no crime".

## Simplified web copy (`london_boroughs_web.geojson`)

Made by `scripts/bundle_data.py` from the full file:

1. reproject to EPSG:27700;
2. simplify with a tolerance of {SIMPLIFY_TOLERANCE_M:g} m: {s["method"]};
3. check every borough is valid and non-empty and that the result is still a valid polygon coverage
   (coverage valid after simplification: {s["coverage_valid"]});
4. reproject to EPSG:4326, round coordinates to {WEB_DECIMALS} decimals (≈1 m), orient rings counter-clockwise
   (RFC 7946);
5. keep only the properties `GSS_CODE`, `NAME`, `ONS_INNER`.

| | full | web |
|---|---|---|
| size | {fmt_bytes(b.size(full))} | {fmt_bytes(b.size(web))} |
| vertices | {fmt_int(s["n_coords_orig"])} | {fmt_int(s["n_coords_web"])} |

* **Max Hausdorff distance vs the original: {s["hausdorff_max"]:.1f} m** ({s["hausdorff_max_name"]}),
  median over boroughs {s["hausdorff_median"]:.1f} m (measured in EPSG:27700 between each original borough
  and its final rounded web version). The coverage simplifier's tolerance is an area-based
  (Visvalingam-Whyatt) threshold, so the maximum displacement can exceed the nominal 10 m.
* Total area change: {s["area_change"] * 100:+.3f} %.
* Use the web copy for display only; use `london_boroughs.geojson` for spatial joins.
"""
    b.write_text("boroughs/README.md", text)


# ---------------------------------------------------------------------------
# 2. LSOA / ward boundaries
# ---------------------------------------------------------------------------


def build_boundaries(b: Bundle) -> dict:
    b.copy("boundaries/london_lsoa.gpkg", "boundaries/london_lsoa_2021.gpkg")
    b.copy("boundaries/london_ward.gpkg", "boundaries/london_ward_2024.gpkg")

    l21 = pyogrio.read_dataframe(b.out / "boundaries/london_lsoa_2021.gpkg")
    w24 = pyogrio.read_dataframe(b.out / "boundaries/london_ward_2024.gpkg")
    l11 = pyogrio.read_dataframe(b.src("boundaries/london_lsoa_2011.geojson"), read_geometry=False)
    b.verify("boundaries/london_lsoa_2011.geojson")

    a = l21[["LSOA21CD", "LSOA21NM"]].rename(
        columns={"LSOA21CD": "lsoa_code", "LSOA21NM": "name21"}
    )
    c = l11[["LSOA11CD", "LSOA11NM"]].rename(
        columns={"LSOA11CD": "lsoa_code", "LSOA11NM": "name11"}
    )
    if a.lsoa_code.duplicated().any() or c.lsoa_code.duplicated().any():
        die("duplicate LSOA codes in a boundary file")
    m = a.merge(c, on="lsoa_code", how="outer", indicator=True)
    m["vintage"] = (
        m["_merge"].map({"both": "both", "left_only": "2021", "right_only": "2011"}).astype(str)
    )
    m["lsoa_name"] = m["name21"].where(m["name21"].notna(), m["name11"])
    name_diff = int(((m.vintage == "both") & (m.name21 != m.name11)).sum())
    codes = (
        m[["lsoa_code", "lsoa_name", "vintage"]].sort_values("lsoa_code").reset_index(drop=True)
    )
    b.write_csv(
        "boundaries/lsoa_codes.csv",
        codes,
        derived_from="boundaries/london_lsoa.gpkg + boundaries/london_lsoa_2011.geojson",
    )

    vc = codes.vintage.value_counts()
    stats = {
        "n21": len(l21),
        "n11": len(l11),
        "nward": len(w24),
        "both": int(vc.get("both", 0)),
        "only21": int(vc.get("2021", 0)),
        "only11": int(vc.get("2011", 0)),
        "name_diff": name_diff,
        "crs21": str(l21.crs),
        "crsw": str(w24.crs),
        "valid21": bool(l21.is_valid.all()),
        "validw": bool(w24.is_valid.all()),
        "area21": float(l21.area.sum() / 1e6),
        "areaw": float(w24.area.sum() / 1e6),
        "nverts21": float(shapely.get_num_coordinates(l21.geometry.values).mean()),
        "ncodes": len(codes),
        "layer21": pyogrio.list_layers(b.out / "boundaries/london_lsoa_2021.gpkg")[0][0],
        "layerw": pyogrio.list_layers(b.out / "boundaries/london_ward_2024.gpkg")[0][0],
    }
    b._lsoa_vintage = dict(zip(codes.lsoa_code, codes.vintage, strict=False))
    write_boundaries_readme(b, stats)
    return stats


def write_boundaries_readme(b: Bundle, s: dict) -> None:
    ml = b.manifest_row("boundaries/london_lsoa.gpkg")
    mw = b.manifest_row("boundaries/london_ward.gpkg")
    m11 = b.manifest_row("boundaries/london_lsoa_2011.geojson")
    rows = []
    for f in ["london_lsoa_2021.gpkg", "london_ward_2024.gpkg", "lsoa_codes.csv"]:
        rows.append(
            [f"`{f}`", fmt_bytes(b.size(f"boundaries/{f}")), f"`{b.digest(f'boundaries/{f}')}`"]
        )
    text = f"""# LSOA and ward boundaries for London

{md_table(["file", "size", "sha256"], rows)}

## `london_lsoa_2021.gpkg` — Lower Layer Super Output Areas, 2021 definitions

* Byte-for-byte copy of shared `boundaries/london_lsoa.gpkg`; layer `{s["layer21"]}`.
* **{fmt_int(s["n21"])} LSOAs** (December 2021 definitions), fields `LSOA21CD, LSOA21NM, LSOA21NMW, BNG_E, BNG_N,
  LAT, LONG, GlobalID`. All valid: {s["valid21"]}. Total area {s["area21"]:,.1f} km².
* CRS **{s["crs21"]}** (British National Grid).
* Source: ONS Open Geography Portal, "LSOA (December 2021) Boundaries EW" (generalised BGC product),
  filtered to London by GitHub repo `bilginn7/4CBLW00-20-Group1`, path `{ml["source_path"]}`, commit
  `{ml["source_commit"]}`.
* Strongly generalised (~{s["nverts21"]:.1f} vertices per LSOA on average): fine for choropleths, not for exact
  point-in-polygon near LSOA edges (data.police.uk rows already carry an `LSOA code`).

## `london_ward_2024.gpkg` — electoral wards, December 2024

* Byte-for-byte copy of shared `boundaries/london_ward.gpkg`; layer `{s["layerw"]}`.
* **{fmt_int(s["nward"])} wards**, fields `WD24CD, WD24NM, WD24NMW, BNG_E, BNG_N, LONG, LAT, GlobalID`. All valid:
  {s["validw"]}. Total area {s["areaw"]:,.1f} km². CRS **{s["crsw"]}**.
* Source: ONS "Wards (December 2024) Boundaries UK BGC", filtered to London by the same repo, path
  `{mw["source_path"]}`, commit `{mw["source_commit"]}`.
* The MPS ward-level crime counts (`data/police_uk/mps_area_counts/`) use these December-2024 ward codes.

## `lsoa_codes.csv` — every London LSOA code of both vintages

Columns `lsoa_code, lsoa_name, vintage`, sorted by code, {fmt_int(s["ncodes"])} rows:

| vintage | meaning | codes |
|---|---|---|
| `both` | code exists in the 2011 and the 2021 boundaries | {fmt_int(s["both"])} |
| `2021` | 2021 only (new/split/merged LSOAs) | {fmt_int(s["only21"])} |
| `2011` | 2011 only (replaced in 2021) | {fmt_int(s["only11"])} |

* 2021 codes and names from `london_lsoa_2021.gpkg` (`LSOA21CD`, `LSOA21NM`);
  2011 codes and names from the shared `boundaries/london_lsoa_2011.geojson` (`LSOA11CD`, `LSOA11NM`;
  {fmt_int(s["n11"])} LSOAs, generalised ONS/OS boundaries re-hosted by `martinjc/UK-GeoJSON`
  `{m11["source_path"]}`, commit `{m11["source_commit"]}`; that geometry file is **not** bundled).
* For codes in `both`, `lsoa_name` is the **2021 name**. {s["name_diff"]} of these codes have a different name in
  2011 (the MSOA number in the name was renumbered, e.g. `Barnet 030A` → `Barnet 043F`); the code is the
  identifier, not the name.

## Which LSOA vintage do police files use?

From the shared collection's README (section 5): in the data.police.uk Met files, `LSOA code` is
**2011-only up to 2022-02**, a **mix of 2011 and 2021 codes from 2022-03 to 2023-05** (the 2021 share grows
month by month, even within one file), and **2021-only from 2023-06**. Most London codes are identical
in both vintages, but ~7–9% of rows per month carry a code that exists in only one of the two boundary
sets — so join police rows against **both** vintages (this file) or assign LSOAs by point-in-polygon.
A few dozen codes per year are outside London (Met-recorded crimes elsewhere). The MPS recorded-crime
counts (`mps_area_counts`) use 2021 codes only.

## Licences

* LSOA 2021 and ward 2024 boundaries: ONS Open Geography, Open Government Licence v3.0 ({OGL3_URL}).
  Attribution:

  > {ONS_ATTR}

* LSOA 2011 codes/names (in `lsoa_codes.csv`): ONS/OS data under OGL v3 via `martinjc/UK-GeoJSON`
  (CC BY 4.0, attribution https://github.com/martinjc/UK-GeoJSON): "Contains Ordnance Survey, Office of
  National Statistics ... data © Crown copyright and database right [2016]".
"""
    b.write_text("boundaries/README.md", text)


# ---------------------------------------------------------------------------
# 3. harm tables
# ---------------------------------------------------------------------------


def _mps_subgroup(major: str, minor: str) -> str | None:
    if (major, minor) in MPS_PAIR_TO_SUBGROUP:
        return MPS_PAIR_TO_SUBGROUP[(major, minor)]
    if major in MPS_MAJOR_TO_SUBGROUP:
        return MPS_MAJOR_TO_SUBGROUP[major]
    return None


def _read_mps(b: Bundle, rel: str) -> pd.DataFrame:
    d = pd.read_csv(b.verify(rel), dtype={"wardcode": str, "lsoa_code": str})
    d = d.rename(columns={"majortext": "major_category", "minortext": "minor_category"})
    return d


def build_harm(b: Bundle) -> dict:
    sub_rel = "harm/cchi_weights_by_prc_subgroup.csv"
    b.copy(sub_rel, "harm/cchi_prc_subgroups.csv")
    cchi = pd.read_csv(b.out / "harm/cchi_prc_subgroups.csv")
    if cchi.prc_subgroup.duplicated().any():
        die("duplicate PRC subgroups in the CCHI table")
    days = dict(zip(cchi.prc_subgroup, cchi.cchi_days, strict=False))

    # ---- MPS (major, minor) pairs -------------------------------------------------
    pairs: dict[tuple[str, str], set[str]] = {}
    frames = {}
    for rel in MPS_PAIR_FILES:
        d = _read_mps(b, rel)
        frames[rel] = d
        for mj, mn in (
            d[["major_category", "minor_category"]].drop_duplicates().itertuples(index=False)
        ):
            pairs.setdefault((mj, mn), set()).add(Path(rel).name)

    rows, unmapped, absent_seen = [], [], []
    for mj, mn in sorted(pairs):
        if (mj, mn) in MPS_DELIBERATELY_ABSENT:
            absent_seen.append((mj, mn))
            continue
        sg = _mps_subgroup(mj, mn)
        if sg is None:
            unmapped.append((mj, mn))
            continue
        if sg not in days:
            die(f"mapping targets unknown CCHI subgroup {sg!r} for {(mj, mn)}")
        rows.append((mj, mn, sg, days[sg]))
    if unmapped:
        die(
            "unmapped MPS (major, minor) pairs — add them to MPS_PAIR_TO_SUBGROUP or "
            f"MPS_DELIBERATELY_ABSENT: {unmapped}"
        )
    mps = pd.DataFrame(
        rows, columns=["major_category", "minor_category", "prc_subgroup", "harm_days"]
    )
    if (
        mps.minor_category.duplicated().any()
    ):  # the package looks weights up by minor category alone
        die(
            f"minor category under two majors: {sorted(mps.minor_category[mps.minor_category.duplicated()])}"
        )
    b.write_csv("harm/cchi_mps_minor.csv", mps, derived_from=sub_rel + " + " + MPS_AGG + "/*")

    # ---- weighting volumes: MPS borough historical, 12 months -----------------------
    bh = frames[f"{MPS_AGG}/recorded-crime-borough-historical.csv.gz"]
    missing = [m for m in WEIGHT_MONTHS if m not in bh.columns]
    if missing:
        die(f"weighting months missing from borough historical file: {missing}")
    bh = bh.copy()
    bh["n"] = bh[WEIGHT_MONTHS].sum(axis=1)
    bh["prc_subgroup"] = [
        None if (mj, mn) in MPS_DELIBERATELY_ABSENT else _mps_subgroup(mj, mn)
        for mj, mn in zip(bh.major_category, bh.minor_category, strict=False)
    ]
    vol = bh.dropna(subset=["prc_subgroup"]).groupby("prc_subgroup")["n"].sum()
    minor_vol = (
        bh.dropna(subset=["prc_subgroup"])
        .groupby(["prc_subgroup", "major_category", "minor_category"])["n"]
        .sum()
    )
    fraud_vol = int(bh[bh.prc_subgroup.isna()]["n"].sum())
    weighting = (
        f"count-weighted mean of PRC subgroup CCHI days; weights = MPS recorded offences, "
        f"London all boroughs incl. airports and Unknown, {WEIGHT_PERIOD} "
        f"(MPS borough historical file, London Datastore, OGL v2.0)"
    )

    prow = []
    for cat in POLICE_UK_CATEGORIES:
        if cat == "Anti-social behaviour":
            prow.append((cat, 0.0, "", ASB_REASON))
            continue
        sgs = cchi[cchi.category == cat].prc_subgroup.tolist()
        if not sgs:
            die(f"no CCHI subgroup for data.police.uk category {cat!r}")
        cnt = [int(vol.get(sg, 0)) for sg in sgs]
        if len(sgs) > 1 and min(cnt) <= 0:
            die(
                f"zero weighting volume for a subgroup of {cat!r}: {dict(zip(sgs, cnt, strict=False))}"
            )
        comps = "; ".join(f"{sg}={fmt_num(days[sg])}×{c}" for sg, c in zip(sgs, cnt, strict=False))
        if len(sgs) == 1:
            hd = float(days[sgs[0]])
            w = f"single PRC subgroup, no weighting (count shown: MPS recorded offences, London, {WEIGHT_PERIOD})"
        else:
            hd = float(sum(days[sg] * c for sg, c in zip(sgs, cnt, strict=False)) / sum(cnt))
            w = weighting
        prow.append((cat, round(hd, 4), comps, w))
    extra = set(cchi.category) - set(POLICE_UK_CATEGORIES)
    if extra:
        die(f"CCHI table has categories that are not data.police.uk categories: {extra}")
    pol = pd.DataFrame(prow, columns=["category", "harm_days", "components", "weighting"])
    b.write_csv(
        "harm/cchi_police_uk.csv",
        pol,
        derived_from=sub_rel + " + " + MPS_AGG + "/recorded-crime-borough-historical.csv.gz",
    )

    # sanity checks asked for in the brief
    burg = float(pol.set_index("category").loc["Burglary", "harm_days"])
    if not (days["Non-residential burglary"] <= burg <= days["Residential burglary"]):
        die(f"Burglary harm {burg} outside its subgroup range")

    # ---- Home Office offence codes ---------------------------------------------------
    h_rel = "harm/ons_crime_offence_hierarchy.csv"
    h = pd.read_csv(b.verify(h_rel), dtype=str, keep_default_na=False)
    leaves = h[h.is_leaf == "1"].copy()
    cchi_labels = set(days)

    def ons_subgroup(r) -> str:
        if r.depth == "3":
            return r.level2_label  # leaf under a subgroup node
        # leaf directly under an offence group: the leaf *is* the subgroup when its label is
        # a PRC subgroup (Homicide, Shoplifting, Theft from the person, Robbery of ...);
        # otherwise the offence group is the subgroup (Public order, Misc, Weapons)
        return r.label if r.label in cchi_labels else r.level1_label

    leaves["ons_subgroup"] = [ons_subgroup(r) for r in leaves.itertuples(index=False)]
    leaves["prc_subgroup"] = leaves.ons_subgroup.map(lambda x: ONS_TO_CCHI_SUBGROUP.get(x, x))
    matched = leaves.prc_subgroup.isin(cchi_labels)
    unmatched = leaves[~matched]
    unexpected = set(unmatched.ons_subgroup) - ONS_EXPECTED_UNMATCHED
    if unexpected:
        die(
            f"ONS subgroups without a CCHI match (add to ONS_TO_CCHI_SUBGROUP?): {sorted(unexpected)}"
        )
    ho = leaves[matched].copy()
    ho["harm_days"] = ho.prc_subgroup.map(days)
    ho = ho.rename(columns={"code": "ho_code", "label": "offence"})
    ho = ho[["ho_code", "offence", "prc_subgroup", "harm_days"]].sort_values(
        ["prc_subgroup", "ho_code"]
    )
    if ho.ho_code.duplicated().any():
        die("duplicate Home Office codes in the ONS list")
    b.write_csv("harm/cchi_home_office_codes.csv", ho, derived_from=sub_rel + " + " + h_rel)
    cchi_without_codes = sorted(cchi_labels - set(ho.prc_subgroup))

    stats = {
        "cchi": cchi,
        "mps": mps,
        "pol": pol,
        "vol": vol,
        "minor_vol": minor_vol,
        "fraud_vol": fraud_vol,
        "absent": absent_seen,
        "pairs": pairs,
        "ho": ho,
        "unmatched": unmatched,
        "cchi_without_codes": cchi_without_codes,
        "n_leaves": len(leaves),
    }
    write_harm_readme(b, stats)
    return stats


def write_harm_readme(b: Bundle, s: dict) -> None:
    cchi, pol, vol, mv = s["cchi"], s["pol"], s["vol"], s["minor_vol"]
    days = dict(zip(cchi.prc_subgroup, cchi.cchi_days, strict=False))
    sub_rows = [
        [r.category, r.prc_subgroup, fmt_num(r.cchi_days), fmt_int(vol.get(r.prc_subgroup, 0))]
        for r in cchi.itertuples()
    ]
    minor_rows = [[sg, f"{mj} / {mn}", fmt_int(n)] for (sg, mj, mn), n in mv.items()]
    pol_rows = [
        [r.category, f"{r.harm_days:g}", r.components.replace("; ", "<br>") or "—"]
        for r in pol.itertuples()
    ]
    absent = "\n".join(
        f"* `{mj}` / `{mn}` (present in: {', '.join(sorted(s['pairs'][(mj, mn)]))})"
        for mj, mn in s["absent"]
    )
    um = s["unmatched"]
    um_txt = "\n".join(
        f"  * `{g}` ({len(x)} codes: {', '.join(x.code)}) — fraud offences recorded by police before 2013/14; "
        "the CCHI subgroup table has no fraud value."
        for g, x in um.groupby("ons_subgroup")
    )
    ho_map = "\n".join(f"  * `{k}` → `{v}`" for k, v in ONS_TO_CCHI_SUBGROUP.items())
    ho_counts = md_table(
        ["PRC subgroup", "codes", "harm_days"],
        [[sg, len(x), fmt_num(days[sg])] for sg, x in s["ho"].groupby("prc_subgroup")],
    )
    pub_order = ", ".join(sorted(mn for (mj, mn) in s["pairs"] if mj == "PUBLIC ORDER OFFENCES"))
    veh = ", ".join(sorted(mn for (mj, mn) in s["pairs"] if mj == "VEHICLE OFFENCES"))
    vs = pol.set_index("category").loc["Violence and sexual offences"]
    text = f"""# Harm weights: Cambridge Crime Harm Index (CCHI)

`hotspots` weights each offence by its **Cambridge Crime Harm Index** value — the starting point of the
sentencing guideline for a first offender, in **days of custody** (Sherman, Neyroud & Neyroud 2016).
These tables are the tool's defaults.

| file | rows | what |
|---|---|---|
| `cchi_prc_subgroups.csv` | {len(cchi)} | CCHI days per Home Office PRC offence subgroup (copy of the shared table) |
| `cchi_police_uk.csv` | {len(pol)} | harm per data.police.uk street-crime category (derived, count-weighted) |
| `cchi_mps_minor.csv` | {len(s["mps"])} | harm per MPS recorded-crime (major, minor) category |
| `cchi_home_office_codes.csv` | {len(s["ho"])} | harm per Home Office offence code (2018 ONS list) |

## 1. Per-subgroup values (`cchi_prc_subgroups.csv`)

Byte-for-byte copy of shared `harm/cchi_weights_by_prc_subgroup.csv` (columns `category, prc_subgroup,
cchi_days`).

* **What the values are**: CCHI **2026 update** (Cambridge Centre for Evidence-Based Policing), reduced to
  one value per Home Office Police Recorded Crime (PRC) offence subgroup as the **median CCHI over all
  Cambridge offence codes in that subgroup** (expired codes dropped). This reduction was done by the
  GitHub repo **`isthisben/cbl-realcrime`** (file `data/cchi_weights.csv`, file commit
  `5591939d942691fec9e9da6349fa7afbde726b7f`; method documented in its `data/raw/CCHI_SOURCES.md`) from the
  official spreadsheet `Cambridge-CCHI-2026-update.xlsx` ("CCHI 2026 values sheet"). The repo's England &
  Wales count column was dropped in the shared copy.
* **Not verified**: the values have **not** been checked against the official xlsx, which is not part of
  the shared collection. Treat them as a documented, reproducible approximation of CCHI, not the
  official per-offence table. A median per subgroup hides within-subgroup spread (e.g. every "Violence with
  injury" offence gets 365 days, from assault with injury to attempted murder).

## 2. MPS categories (`cchi_mps_minor.csv`)

Columns `major_category, minor_category, prc_subgroup, harm_days`: every (major, minor) pair that occurs in
any of the MPS recorded-crime files of the shared collection (borough historical, borough 2024-03..08,
ward historical, ward 2024-02..08, LSOA 2023-08..2024-08), mapped to a PRC subgroup by an explicit
dictionary in `scripts/bundle_data.py` (which fails if a new pair appears):

* HOMICIDE → Homicide; VIOLENCE WITH INJURY → Violence with injury; VIOLENCE WITHOUT INJURY → Violence
  without injury; STALKING AND HARASSMENT → Stalking and harassment; DEATH SERIOUS INJURY ILLEGAL DRIVING
  → Death or serious injury - unlawful driving; RAPE → Rape offences; OTHER SEXUAL OFFENCES → Other sexual
  offences;
* every PUBLIC ORDER OFFENCES minor ({pub_order}) → Public order offences;
* CRIMINAL DAMAGE → Criminal damage; ARSON → Arson;
* SHOPLIFTING → Shoplifting; OTHER THEFT → Other theft offences; THEFT FROM THE PERSON → Theft from the
  person; BICYCLE THEFT → Bicycle theft;
* every VEHICLE OFFENCES minor ({veh}) → Vehicle offences;
* BURGLARY IN A DWELLING, DOMESTIC BURGLARY, RES BURGLARY OF A HOME, RES BURGLARY OF UNCONNECTED BUILDING,
  BURGLARY - RESIDENTIAL → Residential burglary; BURGLARY BUSINESS AND COMMUNITY, BURGLARY NON-DWELLING →
  Non-residential burglary (the burglary minors were renamed in 2023; old and new names coexist);
* POSSESSION OF DRUGS → Possession of drugs; TRAFFICKING OF DRUGS → Trafficking of drugs;
* ROBBERY OF PERSONAL PROPERTY → Robbery of personal property; ROBBERY OF BUSINESS PROPERTY → Robbery of
  business property;
* POSSESSION OF WEAPONS → Possession of weapons offences; MISC CRIMES AGAINST SOCIETY → Miscellaneous crimes
  against society.

**Deliberately absent** (no CCHI value in the source table; `hotspots` treats them as *unknown offences*):

{absent}

## 3. data.police.uk categories (`cchi_police_uk.csv`)

Columns `category, harm_days, components, weighting`, one row for each of the 14 data.police.uk
street-crime categories.

* The PRC subgroups making up each category are those of the `category` column of
  `cchi_prc_subgroups.csv` (table below).
* Where a category has several subgroups, `harm_days` is the **count-weighted mean** of the subgroups'
  `cchi_days`:  harm = Σ cchi_days(s) × n(s) / Σ n(s).
* **Weights n(s)**: London's recorded offences per subgroup over the **12 months {WEIGHT_PERIOD}**, from the
  MPS borough historical file (shared `{MPS_AGG}/recorded-crime-borough-historical.csv.gz`, monthly columns
  `202303` … `202402`), summing all minor categories mapped to the subgroup (mapping of section 2) over all
  rows, including `London Heathrow and London City Airports` and `Unknown`. City of London Police offences
  are not in this file (the City of London has about 1% of London's recorded crime). Fraud rows ({fmt_int(s["fraud_vol"])} offences in the
  period) have no subgroup and are not used.
* `components` lists each term as `subgroup=cchi_days×count`; `weighting` states period and source.
* **Anti-social behaviour**: `harm_days` = 0 — {ASB_REASON}.
* Single-subgroup categories simply take that subgroup's value (the count is shown for reference).

Subgroups, their values and the weighting volumes:

{md_table(["data.police.uk category", "PRC subgroup", "cchi_days", f"London offences {WEIGHT_PERIOD}"], sub_rows)}

Volumes per MPS minor category (the inputs of the sums above):

{md_table(["PRC subgroup", "MPS major / minor", f"offences {WEIGHT_PERIOD}"], minor_rows)}

Resulting values:

{md_table(["category", "harm_days", "components (subgroup=cchi_days×count)"], pol_rows)}

Reading the result: Burglary lies between non-residential (183.5) and residential (273.5) burglary, close to
residential because two thirds of London burglaries are residential. **Violence and sexual offences**
({vs.harm_days:g} days) is a volume mix dominated by violence without injury and violence with injury, but
its mean is pulled up strongly by rape (2,555 days) and homicide (5,475 days): a single incident of this
category has a *typical* harm far below the mean. When the offence is known more precisely (MPS minor
categories or Home Office codes), use the finer tables.

## 4. Home Office offence codes (`cchi_home_office_codes.csv`)

Columns `ho_code, offence, prc_subgroup, harm_days`: the {len(s["ho"])} matched leaf Home Office offence codes of
the ONS "crime-offence" code list (shared `harm/ons_crime_offence_hierarchy.csv`, parsed from repo
`ONSdigital/dp-hierarchy-builder`, `cypher-scripts/crime-offence.cypher`; content dated **2018-07**, so this
is a **2018 list**: offence codes introduced or moved after mid-2018 are missing or sit in their 2018
subgroup).

* Join key: the ONS level-2 **subgroup label** of each leaf code. Leaves sitting directly under an offence
  group take the leaf label if it is itself a PRC subgroup (Homicide, Shoplifting, Theft from the person,
  the two Robbery subgroups), otherwise the group label (Public order offences, Miscellaneous crimes
  against society, Possession of weapons offences).
* Label differences resolved by an explicit dictionary:
{ho_map}
* `ho_code` is kept as in the ONS list (e.g. `1-4.1-4.10-4.2` = the combined homicide codes 1, 4.1, 4.10, 4.2).
* In the 2018 list the causing-death-by-driving codes (4.4, 4.6, 4.8, 4.9, 37.1) sit under *Violence with
  injury*; they are kept there (365 days, the same value as *Death or serious injury - unlawful driving*).
  Stalking (8Q) and racially aggravated harassment (8M) sit under *Violence without injury* in 2018 (10 days,
  same value as *Stalking and harassment*).
* **ONS subgroups that could not be matched, therefore absent** ({len(um)} of {s["n_leaves"]} leaf codes):
{um_txt}

* CCHI subgroups with no code in the 2018 list: {", ".join(s["cchi_without_codes"]) or "none"}.

{ho_counts}

## 5. Supplying your own harm table

Any default can be replaced by a user CSV with exactly two columns, header **`offence,harm`**:

```csv
offence,harm
Burglary,250
Violence and sexual offences,120
Anti-social behaviour,0
```

* `offence` must match the offence label used in the incident data (for data.police.uk files the
  `Crime type` value, e.g. `Violence and sexual offences`; for MPS counts the minor category; for force
  exports the Home Office code). Matching ignores case and surrounding spaces; each offence may appear
  only once.
* `harm` is a number ≥ 0 (any unit — days of custody, a severity score — as long as it is consistent).
* UTF-8 (a BOM is accepted). Read with `hotspots.harm.table.read_harm_table(path)`.
* An offence missing from the table is never given a guessed weight: the row is reported as an unknown
  offence.

## Citation and licence

* Cite: Sherman, L., Neyroud, P. W. & Neyroud, E. (2016). The Cambridge Crime Harm Index: Measuring total
  harm from crime based on sentencing guidelines. *Policing: A Journal of Policy and Practice* 10(3):171–183;
  and https://www.cambridge-ebp.co.uk/crime-harm-index.
* CCHI values © Cambridge Centre for Evidence-Based Policing. **The re-hosting repository
  (`isthisben/cbl-realcrime`) states no licence for its derived CSV**; the values are bundled for research
  use with this attribution. Check the Cambridge CEBP terms before redistributing them commercially.
* MPS volumes used for weighting: London Datastore "MPS Recorded Crime: Geographic Breakdown", Open
  Government Licence v2.0 ({OGL2_URL}): "{OGL2}" (Metropolitan Police Service).
* ONS offence code list: ONS data (OGL v3), repository `ONSdigital/dp-hierarchy-builder` (MIT).
"""
    b.write_text("harm/README.md", text)


# ---------------------------------------------------------------------------
# 4. police data
# ---------------------------------------------------------------------------


def _month_files(
    b: Bundle, folder: str, first: str | None = None, last: str | None = None
) -> list[str]:
    rows = b.shared_manifest[b.shared_manifest.index.str.startswith(folder + "/")]
    months = rows["month"]
    mask = pd.Series(True, index=rows.index)
    if first:
        mask &= months >= first
    if last:
        mask &= months <= last
    return sorted(rows[mask].index)


def _read_many(b: Bundle, rels: list[str]) -> pd.DataFrame:
    return pd.concat(
        [
            pd.read_csv(b.out / r, dtype=str, keep_default_na=False).assign(_file=Path(r).name)
            for r in rels
        ],
        ignore_index=True,
    )


def _vintage(b: Bundle, codes: pd.Series) -> pd.Series:
    v = codes.map(b._lsoa_vintage)
    v = v.where(v.notna(), np.where(codes == "", "blank", "not a London code"))
    return v


def build_police(b: Bundle) -> dict:
    out = {}
    # -- Met burglary (street files, burglary rows only)
    src = _month_files(b, "police_uk/met_street_burglary_only", DEMO_FIRST, DEMO_LAST)
    if len(src) != 24:
        die(f"expected 24 Met burglary files, got {len(src)}")
    dst = [f"police_uk/met_burglary/{Path(s).name}" for s in src]
    for s, d in zip(src, dst, strict=False):
        b.copy(s, d)
    bur = _read_many(b, dst)
    lon = pd.to_numeric(bur.Longitude, errors="coerce")
    lat = pd.to_numeric(bur.Latitude, errors="coerce")
    cid = bur["Crime ID"]
    vint = _vintage(b, bur["LSOA code"])
    out["burglary"] = {
        "files": dst,
        "rows": len(bur),
        "nocoord": int(lon.isna().sum()),
        "crime_types": bur["Crime type"].value_counts().to_dict(),
        "rep_ids": int(cid[cid != ""].duplicated(keep=False).sum()),
        "dup_rows": int(bur.drop(columns="_file").duplicated(keep=False).sum()),
        "outside_bbox": int(
            (~lon.between(-0.52, 0.34) | ~lat.between(51.28, 51.70))[lon.notna()].sum()
        ),
        "per_month": bur.groupby("Month").size(),
        "vintage": vint.value_counts().to_dict(),
        "nocoord_by_month": lon.isna().groupby(bur.Month).sum(),
        "manifest_rows": int(sum(int(b.manifest_row(s)["rows"]) for s in src)),
    }

    # -- Met stop and search
    src = _month_files(b, "police_uk/met_stop_and_search", DEMO_FIRST, DEMO_LAST)
    if len(src) != 24:
        die(f"expected 24 Met stop-and-search files, got {len(src)}")
    dst = [f"police_uk/met_stop_and_search/{Path(s).name}" for s in src]
    for s, d in zip(src, dst, strict=False):
        b.copy(s, d)
    sas = _read_many(b, dst)
    file_month = sas._file.str[:7]
    date_month = sas.Date.str[:7]
    out["sas"] = {
        "files": dst,
        "rows": len(sas),
        "nocoord": int((sas.Latitude == "").sum()),
        "dup_rows": int(sas.drop(columns="_file").duplicated().sum()),
        "prev_month": int((date_month < file_month).sum()),
        "per_month": sas.groupby(file_month).size(),
        "outcomes": sas.Outcome.replace("", "(blank)").value_counts().to_dict(),
        "manifest_rows": int(sum(int(b.manifest_row(s)["rows"]) for s in src)),
    }

    # -- City of London street (all files)
    src = _month_files(b, "police_uk/city_of_london_street")
    dst = [f"police_uk/city_of_london_street/{Path(s).name}" for s in src]
    for s, d in zip(src, dst, strict=False):
        b.copy(s, d)
    col = _read_many(b, dst)
    crlf = all(b"\r\n" in gzip.decompress((b.out / d).read_bytes())[:4096] for d in dst)
    vint = _vintage(b, col["LSOA code"])
    out["city"] = {
        "files": dst,
        "rows": len(col),
        "nocoord": int((col.Longitude == "").sum()),
        "asb_blank": int(
            ((col["Crime type"] == "Anti-social behaviour") & (col["Crime ID"] == "")).sum()
        ),
        "types": col["Crime type"].value_counts().to_dict(),
        "crlf": crlf,
        "months": sorted(col.Month.unique()),
        "n_lsoa": col.loc[col["LSOA code"] != "", "LSOA code"].nunique(),
        "vintage": vint.value_counts().to_dict(),
        "manifest_rows": int(sum(int(b.manifest_row(s)["rows"]) for s in src)),
    }

    # -- MPS area counts
    lsoa_rel = f"{MPS_AGG}/recorded-crime-lsoa_202308-202408.csv.gz"
    ward_rel = f"{MPS_AGG}/recorded-crime-ward_202402-202408.csv.gz"
    b.copy(lsoa_rel, "police_uk/mps_area_counts/recorded-crime-lsoa_202308-202408.csv.gz")
    b.copy(ward_rel, "police_uk/mps_area_counts/recorded-crime-ward_202402-202408.csv.gz")
    ls = pd.read_csv(b.out / "police_uk/mps_area_counts/recorded-crime-lsoa_202308-202408.csv.gz")
    wd = pd.read_csv(b.out / "police_uk/mps_area_counts/recorded-crime-ward_202402-202408.csv.gz")
    wh = pd.read_csv(b.src(f"{MPS_AGG}/recorded-crime-ward-historical.csv.gz"))
    viol = "VIOLENCE AGAINST THE PERSON"
    lsoa_months = [c for c in ls.columns if c.isdigit()]
    ward_months = [c for c in wd.columns if c.isdigit()]
    out["mps"] = {
        "lsoa_rows": len(ls),
        "lsoa_cols": list(ls.columns[:5]),
        "lsoa_months": lsoa_months,
        "lsoa_n": ls.lsoa_code.nunique(),
        "lsoa_total": int(ls[lsoa_months].sum().sum()),
        "lsoa_viol_minors": sorted(ls[ls.major_category == viol].minor_category.unique()),
        "lsoa_viol_month": ls[ls.major_category == viol][lsoa_months].sum(),
        "lsoa_codes_2021": int(
            pd.Series(ls.lsoa_code.unique()).map(b._lsoa_vintage).isin(["2021", "both"]).sum()
        ),
        "ward_rows": len(wd),
        "ward_cols": list(wd.columns[:5]),
        "ward_months": ward_months,
        "ward_n": wd.wardcode.nunique(),
        "ward_total": int(wd[[m for m in ward_months if m != "202402"]].sum().sum()),
        "ward_202402_viol": int(wd.loc[wd.majortext == viol, "202402"].sum()),
        "hist_202402_viol": int(wh.loc[wh.majortext == viol, "202402"].sum()),
        "ward_202403_viol": int(wd.loc[wd.majortext == viol, "202403"].sum()),
    }
    for k in ("burglary", "sas", "city"):
        if out[k]["rows"] != out[k]["manifest_rows"]:
            die(
                f"{k}: counted {out[k]['rows']} rows but shared MANIFEST says {out[k]['manifest_rows']}"
            )

    # points outside every borough polygon (Thames / bridges / outside London)
    bor = gpd.read_file(b.out / "boroughs/london_boroughs.geojson").to_crs(27700)
    union = shapely.union_all(bor.geometry.values)
    pts = pd.concat([bur[["Longitude", "Latitude"]], col[["Longitude", "Latitude"]]])
    pts = pts[(pts.Longitude != "") & (pts.Latitude != "")].astype(float)
    gp = (
        gpd.GeoSeries(gpd.points_from_xy(pts.Longitude, pts.Latitude), crs=4326)
        .to_crs(27700)
        .values
    )
    d = shapely.distance(union, gp)
    out["outside"] = {
        "n": len(gp),
        "outside": int((d > 0).sum()),
        "near": int(((d > 0) & (d <= 150)).sum()),
    }
    write_police_readme(b, out)
    return out


def _sizes(b: Bundle, rels: list[str]) -> int:
    return sum(b.size(r) for r in rels)


def write_police_readme(b: Bundle, s: dict) -> None:
    bu, sa, ci, mp = s["burglary"], s["sas"], s["city"], s["mps"]
    b.manifest_row(f"police_uk/met_street_burglary_only/{Path(bu['files'][0]).name}")
    b.manifest_row(f"police_uk/met_stop_and_search/{Path(sa['files'][0]).name}")
    commits_bur = sorted(
        {
            b.manifest_row(f"police_uk/met_street_burglary_only/{Path(f).name}")["source_commit"]
            for f in bu["files"]
        }
    )
    commits_sas = sorted(
        {
            b.manifest_row(f"police_uk/met_stop_and_search/{Path(f).name}")["source_commit"]
            for f in sa["files"]
        }
    )
    city_src = {}
    for f in ci["files"]:
        r = b.manifest_row(f"police_uk/city_of_london_street/{Path(f).name}")
        city_src.setdefault((r["source_repo"], r["source_commit"]), []).append(r["month"])
    city_lines = "\n".join(
        f"  * `{repo}` commit `{c}`: {min(ms)} .. {max(ms)} ({len(ms)} files)"
        for (repo, c), ms in sorted(city_src.items(), key=lambda kv: min(kv[1]))
    )
    ml = b.manifest_row(f"{MPS_AGG}/recorded-crime-lsoa_202308-202408.csv.gz")
    mw = b.manifest_row(f"{MPS_AGG}/recorded-crime-ward_202402-202408.csv.gz")
    mps_files = [
        "police_uk/mps_area_counts/recorded-crime-lsoa_202308-202408.csv.gz",
        "police_uk/mps_area_counts/recorded-crime-ward_202402-202408.csv.gz",
    ]
    bpm, spm = bu["per_month"], sa["per_month"]
    ncm = bu["nocoord_by_month"]
    spm_other = spm.drop("2022-12", errors="ignore")
    types = ", ".join(f"{k} {fmt_int(v)}" for k, v in ci["types"].items())
    vb = bu["vintage"]
    vc = ci["vintage"]
    vmin, vmax = mp["lsoa_viol_month"].min(), mp["lsoa_viol_month"].max()
    outc = ", ".join(f"{k} {fmt_int(v)}" for k, v in sa["outcomes"].items())
    text = f"""# Demo incident data (data.police.uk and MPS)

Real, openly licensed police data for London used by the examples, tests and benchmarks. All files
are **byte-for-byte copies** (gzip-compressed CSV; `pandas.read_csv` reads them directly) of the shared
collection, which itself copied them unchanged from public GitHub repositories that re-host the official
publications.

| folder | what | period | files | rows | rows without coordinates | size |
|---|---|---|---|---|---|---|
| `met_burglary/` | Met street-level crime, **Burglary rows only** | {DEMO_FIRST} .. {DEMO_LAST} | {len(bu["files"])} | {fmt_int(bu["rows"])} | {fmt_int(bu["nocoord"])} | {fmt_bytes(_sizes(b, bu["files"]))} |
| `met_stop_and_search/` | Met stop and search, complete files | {DEMO_FIRST} .. {DEMO_LAST} | {len(sa["files"])} | {fmt_int(sa["rows"])} | {fmt_int(sa["nocoord"])} | {fmt_bytes(_sizes(b, sa["files"]))} |
| `city_of_london_street/` | City of London Police street-level crime, all types | {ci["months"][0]} .. {ci["months"][-1]} (gap 2023-07..09) | {len(ci["files"])} | {fmt_int(ci["rows"])} | {fmt_int(ci["nocoord"])} | {fmt_bytes(_sizes(b, ci["files"]))} |
| `mps_area_counts/` | MPS recorded-crime **counts** by LSOA and by ward (no points) | LSOA 2023-08 .. 2024-08; ward 2024-02 .. 2024-08 | 2 | {fmt_int(mp["lsoa_rows"])} + {fmt_int(mp["ward_rows"])} | n/a | {fmt_bytes(_sizes(b, mps_files))} |

Row counts were counted by `scripts/bundle_data.py` and agree with the shared MANIFEST.

## Licence and attribution

* data.police.uk street-level crime and stop-and-search (`met_burglary/`, `met_stop_and_search/`,
  `city_of_london_street/`): Open Government Licence v3.0 ({OGL3_URL}).
  > {OGL3}
* MPS recorded-crime counts (`mps_area_counts/`), London Datastore "MPS Recorded Crime: Geographic
  Breakdown" (https://data.london.gov.uk/dataset/recorded_crime_summary), Metropolitan Police Service:
  Open Government Licence v2.0 ({OGL2_URL}).
  > {OGL2}

## `met_burglary/` — Metropolitan Police street crime, burglary only

* Official data.police.uk monthly files `YYYY-MM-metropolitan-street.csv`, **but the source repository kept
  only the rows with `Crime type` = `Burglary`** (every row is an unmodified original row; header and
  column order as published). All other crime types are absent — this is *not* the Met's full street
  file. Crime types present: {", ".join(f"{k} {fmt_int(v)}" for k, v in bu["crime_types"].items())}.
* Source: repo `LidiyaStankova/CBL---group-23` (HEAD `9305fda27b6bb61c0e133fc1f3685a809ffbd374`), path
  `data/YYYY-MM-metropolitan-street.csv`, file commits {", ".join(f"`{c}`" for c in commits_bur)}.
* 24 months {DEMO_FIRST} .. {DEMO_LAST}; {fmt_int(bpm.min())}–{fmt_int(bpm.max())} rows per month.
  Columns: `Crime ID, Month, Reported by, Falls within, Longitude, Latitude, Location, LSOA code, LSOA name,
  Crime type, Last outcome category, Context` (LF line endings). WGS84 lon/lat.
* Quirks:
  * **Repeated `Crime ID`s**: {fmt_int(bu["rep_ids"])} rows share their Crime ID with another row (always within a
    month); {fmt_int(bu["dup_rows"])} rows are fully identical to another row. This is how data.police.uk publishes
    them — do not de-duplicate blindly.
  * **Rows without coordinates**: {fmt_int(bu["nocoord"])} ({fmt_int(ncm.min())}–{fmt_int(ncm.max())} per month; last month with any:
    {ncm[ncm > 0].index.max()}).
  * **Anonymised snap points**: coordinates are snapped to a fixed set of anonymisation points (street
    segments/centroids), so many incidents share one point; do not read meaning into single points or
    individual street segments.
  * {fmt_int(bu["outside_bbox"])} points lie outside Greater London's bounding box (Met-recorded crimes elsewhere).
  * LSOA code vintage (see `data/boundaries/README.md`): rows by vintage of their code —
    {", ".join(f"{k}: {fmt_int(v)}" for k, v in vb.items())}. The files switch from 2011 to 2021 codes
    during 2022-03 .. 2023-05.

## `met_stop_and_search/` — Metropolitan Police stop and search

* Official data.police.uk files `YYYY-MM-metropolitan-stop-and-search.csv`, complete and unmodified.
* Source: repo `LidiyaStankova/CBL---group-23`, path `data/YYYY-MM-metropolitan-stop-and-search.csv`, file
  commits {", ".join(f"`{c}`" for c in commits_sas)}.
* 24 months {DEMO_FIRST} .. {DEMO_LAST} (the longest gap-free run in the collection is 2022-02 .. 2024-08);
  {fmt_int(spm.min())}–{fmt_int(spm.max())} rows per month. Columns: `Type, Date, Part of a policing operation,
  Policing operation, Latitude, Longitude, Gender, Age range, Self-defined ethnicity, Officer-defined
  ethnicity, Legislation, Object of search, Outcome, Outcome linked to object of search, Removal of more
  than just outer clothing`.
* Quirks:
  * **`Date` is UTC** (`2023-07-31T23:05:00+00:00`) while the file month is London local time: {fmt_int(sa["prev_month"])}
    rows are dated in the previous month (23:xx on its last day, during BST) — the "month-end rows".
    Convert to Europe/London before binning by day or hour.
  * **Rows without coordinates**: {fmt_int(sa["nocoord"])} here ({sa["nocoord"] / sa["rows"] * 100:.1f}%). In older data it is much
    worse: 26% of all 2015–2024 rows, and every row of 2015-04 .. 2016-05 (not bundled).
  * **Exact duplicate rows**: {fmt_int(sa["dup_rows"])} rows are identical to an earlier row. There is no record ID;
    these are separate searches with identical attributes — do not de-duplicate blindly.
  * **2022-12 is likely incomplete at source** ({fmt_int(spm.get("2022-12", 0))} rows vs {fmt_int(spm_other.min())}–{fmt_int(spm_other.max())} in the
    other bundled months).
  * **Outcome labels changed over time** (older files: `Nothing found - no further action`, `Suspect arrested`;
    newer: `A no further action disposal`, `Arrest`). Outcomes in this window: {outc}.
  * `Policing operation` is always empty.

## `city_of_london_street/` — City of London Police street crime, all types

* Official data.police.uk files `YYYY-MM-city-of-london-street.csv`, complete (all crime types) and
  unmodified. The City of London Police covers the 33rd local authority (E09000001), which the Met does not.
* Sources:
{city_lines}
* {len(ci["files"])} months; **gap: 2023-07, 2023-08, 2023-09 are missing** (not obtainable).
* Crime types: {types}.
* Quirks:
  * **CRLF line endings** (as stored in the source repos; CRLF in every file: {ci["crlf"]}).
  * **ASB rows have an empty `Crime ID`** ({fmt_int(ci["asb_blank"])} rows) — normal for anti-social behaviour.
  * Rows without coordinates: {fmt_int(ci["nocoord"])}.
  * Points just outside the City are included (Camden, Islington, Tower Hamlets, …): {ci["n_lsoa"]} distinct LSOA
    codes. Code vintages: {", ".join(f"{k}: {fmt_int(v)}" for k, v in vc.items())}.
  * Same snap-point anonymisation as the Met files.

Of the {fmt_int(s["outside"]["n"])} burglary + City points with coordinates, {fmt_int(s["outside"]["outside"])} fall outside every
borough polygon of `data/boroughs/london_boroughs.geojson`; {fmt_int(s["outside"]["near"])} of them are within 150 m of a
borough (river, bridges, the Thames foreshore — the boroughs exclude the area below Mean High Water), the rest
are outside London.

## `mps_area_counts/` — MPS recorded crime counts by LSOA and ward

**Counts, not incidents.** The Metropolitan Police Service's monthly counts of notifiable offences, re-hosted
as Parquet by repo `fenneh/london-crime-data` and converted to CSV in the shared collection (values
unchanged, month columns after 2024-08 removed). They use the MPS/Home Office classification (major/minor
category), not the 14 data.police.uk categories; harm values for it are in `data/harm/cchi_mps_minor.csv`.

* `recorded-crime-lsoa_202308-202408.csv.gz`: source `{ml["source_path"]}`, commit `{ml["source_commit"]}`.
  {fmt_int(mp["lsoa_rows"])} rows, one per (LSOA, major, minor); columns `{", ".join(mp["lsoa_cols"])}` then one integer
  column per month `{mp["lsoa_months"][0]}` … `{mp["lsoa_months"][-1]}` ({len(mp["lsoa_months"])} months; total {fmt_int(mp["lsoa_total"])} offences).
  {fmt_int(mp["lsoa_n"])} LSOAs, all **2021 LSOA codes** ({mp["lsoa_codes_2021"]} found in the 2021 boundaries); `borough` is a GSS code.
* `recorded-crime-ward_202402-202408.csv.gz`: source `{mw["source_path"]}`, commit `{mw["source_commit"]}`.
  {fmt_int(mp["ward_rows"])} rows, one per (ward, major, minor); columns `{", ".join(mp["ward_cols"])}` then months
  `{mp["ward_months"][0]}` … `{mp["ward_months"][-1]}`. {mp["ward_n"]} December-2024 wards.
* Quirks:
  * **Wide format**: reshape with `melt` to (area, category, month, count).
  * **Only 3 violence minors at LSOA level**: the LSOA file's `VIOLENCE AGAINST THE PERSON` has only
    {", ".join(mp["lsoa_viol_minors"])} ({fmt_int(vmin)}–{fmt_int(vmax)} per month London-wide); no stalking/harassment, no
    sexual offences and no fraud at LSOA level (MPS disclosure rules). The ward file has them.
  * **The ward file's `202402` column is an artefact** of the release window: {fmt_int(mp["ward_202402_viol"])} violence offences
    London-wide vs {fmt_int(mp["hist_202402_viol"])} for the same month in the MPS ward *historical* release (and
    {fmt_int(mp["ward_202403_viol"])} in 2024-03). Ignore that column; use 2024-03 .. 2024-08.
  * Different MPS releases revise earlier months (a few %), so do not splice releases without checking.
  * The City of London is not covered (City of London Police). Burglary minor names changed in 2023.
"""
    b.write_text("police_uk/README.md", text)


# ---------------------------------------------------------------------------
# 5. demographics
# ---------------------------------------------------------------------------


def _filter_lines(raw: bytes, keep) -> bytes:
    """Keep the header and the data lines for which keep(parsed_row) is true; lines stay byte-identical."""
    lines = raw.splitlines(keepends=True)
    text_lines = [ln.decode("utf-8-sig" if i == 0 else "utf-8") for i, ln in enumerate(lines)]
    header = next(csv.reader([text_lines[0]]))
    out = [lines[0]]
    for ln, t in zip(lines[1:], text_lines[1:], strict=False):
        row = next(csv.reader([t]))
        if keep(dict(zip(header, row, strict=False))):
            out.append(ln)
    return b"".join(out)


def build_demographics(b: Bundle) -> dict:
    lsoa_rel = "demographics/demographr/ethnicity21_lsoa21_london.csv.gz"
    b.copy(lsoa_rel, "demographics/census2021_ethnicity_lsoa21_london.csv.gz")

    la21_rel = "demographics/demographr/ethnicity21_ltla21.csv.gz"
    raw = gzip.decompress(Path(b.verify(la21_rel)).read_bytes())
    sub = _filter_lines(
        raw,
        lambda r: r["ltla21_code"].startswith("E09") and r["ethnic_group"].endswith("(number)"),
    )
    d = b.dst("demographics/census2021_ethnicity_la_london.csv")
    d.write_bytes(sub)
    b.sources["demographics/census2021_ethnicity_la_london.csv"] = "derived"
    b.derived_from["demographics/census2021_ethnicity_la_london.csv"] = (
        la21_rel
        + " (rows with ltla21_code E09* and ethnic_group ending '(number)'; lines unchanged)"
    )

    la11_rel = "demographics/la-ethnic-groups.csv"
    raw = b.verify(la11_rel).read_bytes()
    sub = _filter_lines(raw, lambda r: r["geography code"].startswith("E09"))
    d = b.dst("demographics/census2011_ethnicity_la_london.csv")
    d.write_bytes(sub)
    b.sources["demographics/census2011_ethnicity_la_london.csv"] = "derived"
    b.derived_from["demographics/census2011_ethnicity_la_london.csv"] = (
        la11_rel + " (rows with geography code E09*; all columns; lines unchanged)"
    )

    ls = pd.read_csv(b.out / "demographics/census2021_ethnicity_lsoa21_london.csv.gz")
    la21 = pd.read_csv(b.out / "demographics/census2021_ethnicity_la_london.csv")
    la11 = pd.read_csv(b.out / "demographics/census2011_ethnicity_la_london.csv")
    tot11_col = "Ethnic Group: All categories: Ethnic group; measures: Value"
    broad11 = [
        c
        for c in la11.columns
        if c.startswith("Ethnic Group: ") and c.count(":") == 2 and c != tot11_col
    ]
    # LSOA consistency: the 5 broad groups add up to total_residents
    chk = ls.groupby("lsoa21_code").agg(t=("total_residents", "first"), n=("n", "sum"))
    stats = {
        "lsoa_rows": len(ls),
        "lsoa_n": ls.lsoa21_code.nunique(),
        "lsoa_groups": sorted(ls.ethnic_group.unique()),
        "lsoa_total": int(chk.t.sum()),
        "lsoa_sum_n": int(chk.n.sum()),
        "lsoa_mismatch": int((chk.t != chk.n).sum()),
        "lsoa_by_group": ls.groupby("ethnic_group")["n"].sum(),
        "la21_rows": len(la21),
        "la21_n": la21.ltla21_code.nunique(),
        "la21_groups": la21.ethnic_group.nunique(),
        "la21_total": int(la21.value.sum()),
        "la11_rows": len(la11),
        "la11_cols": len(la11.columns),
        "la11_total": int(la11[tot11_col].sum()),
        "la11_broad": {c.split(": ")[1].split(";")[0]: int(la11[c].sum()) for c in broad11},
        "la11_date": sorted(la11["date"].astype(str).unique()),
    }
    if stats["la21_n"] != 33 or stats["la11_rows"] != 33:
        die("expected 33 London local authorities in both census LA tables")
    write_demographics_readme(b, stats)
    return stats


def write_demographics_readme(b: Bundle, s: dict) -> None:
    m_ls = b.manifest_row("demographics/demographr/ethnicity21_lsoa21_london.csv.gz")
    m_la = b.manifest_row("demographics/demographr/ethnicity21_ltla21.csv.gz")
    m_11 = b.manifest_row("demographics/la-ethnic-groups.csv")
    files = [
        "census2021_ethnicity_lsoa21_london.csv.gz",
        "census2021_ethnicity_la_london.csv",
        "census2011_ethnicity_la_london.csv",
    ]
    rows = [
        [f"`{f}`", fmt_bytes(b.size(f"demographics/{f}")), f"`{b.digest(f'demographics/{f}')}`"]
        for f in files
    ]
    grp = "; ".join(f"{k} {fmt_int(v)}" for k, v in s["lsoa_by_group"].items())
    g11 = "; ".join(f"{k} {fmt_int(v)}" for k, v in s["la11_broad"].items())
    text = f"""# Census ethnic group denominators (London)

Resident population by ethnic group, for rates and disproportionality (e.g. stop-and-search per 1,000
residents of each group).

{md_table(["file", "size", "sha256"], rows)}

## `census2021_ethnicity_lsoa21_london.csv.gz` — Census 2021, LSOA, 5 broad groups

* Byte-for-byte copy of shared `demographics/demographr/ethnicity21_lsoa21_london.csv.gz`: the London rows of
  the R package **demographr** (`humaniverse/demographr`, British Red Cross) table `ethnicity21_lsoa21`
  (`data/ethnicity21_lsoa21.rda`, commit `{m_ls["source_commit"]}`), written as CSV in the shared collection
  (values unchanged). Built by the package from the nomis bulk file of Census 2021 table **TS021**
  (https://www.nomisweb.co.uk/output/census/2021/census2021-ts021.zip).
* Columns `lsoa21_code, total_residents, ethnic_group, n, prop`; {fmt_int(s["lsoa_rows"])} rows = {fmt_int(s["lsoa_n"])} LSOAs (2021 codes)
  × 5 groups ({"; ".join(s["lsoa_groups"])}).
* Totals computed: London usual residents **{fmt_int(s["lsoa_total"])}** (sum of `total_residents` over LSOAs); sum of the 5
  group counts {fmt_int(s["lsoa_sum_n"])} ({s["lsoa_mismatch"]} LSOAs where the groups do not add up to the total). By group: {grp}.

## `census2021_ethnicity_la_london.csv` — Census 2021, local authority, 19 groups

* The 33 London local authorities (codes `E09*`, City of London included separately) of demographr table
  `ethnicity21_ltla21` (shared `demographics/demographr/ethnicity21_ltla21.csv.gz`, a CSV conversion of
  `data/ethnicity21_ltla21.rda`, commit `{m_la["source_commit"]}`), **only the `(number)` rows** (the
  `(percent)` rows are dropped); same columns `ltla21_code, ltla21_name, ethnic_group, value`, lines unchanged.
  Source per the package: ONS bulletin "Ethnic group, England and Wales: Census 2021"
  (https://www.ons.gov.uk/visualisations/dvc2203/map/datadownload.xlsx, sheet "Figure 3" = TS021 counts).
* {fmt_int(s["la21_rows"])} rows = {s["la21_n"]} LAs × {s["la21_groups"]} detailed groups. London total (sum of all counts): **{fmt_int(s["la21_total"])}**.
  This is {fmt_int(s["lsoa_total"] - s["la21_total"])} fewer than the LSOA table's total above (the two published ONS outputs differ
  slightly); use each table with its own totals.

## `census2011_ethnicity_la_london.csv` — Census 2011, local authority

* The London rows (`geography code` `E09*`, {s["la11_rows"]} rows, all {s["la11_cols"]} columns, lines unchanged) of shared
  `demographics/la-ethnic-groups.csv`: Census 2011 table **QS201EW "Ethnic group"** (usual residents, 27 March
  2011), downloaded from Nomis by repo `Resistance-Lab/resistancelab_data`, path `{m_11["source_path"]}`,
  commit `{m_11["source_commit"]}`.
* Columns `date, geography, geography code, Rural Urban`, `Ethnic Group: All categories…`, the 5 high-level
  groups and their 18 sub-groups (`…; measures: Value`). `date` = {", ".join(s["la11_date"])}.
* London total **{fmt_int(s["la11_total"])}** residents. Broad groups: {g11}.
* 2011 and 2021 classifications differ in detail (e.g. 2021 added "White: Roma" and renamed several groups);
  compare the 5 broad groups only.

## Licences

* Census data: Office for National Statistics, Open Government Licence v3.0 ({OGL3_URL}).
  > {ONS_ATTR}
* demographr (source of the two 2021 tables): MIT licence, © British Red Cross (see the shared
  `demographics/demographr/LICENSE_demographr.txt`); the data remain ONS/OGL v3.
"""
    b.write_text("demographics/README.md", text)


# ---------------------------------------------------------------------------
# 6. reference
# ---------------------------------------------------------------------------


def build_reference(b: Bundle) -> dict:
    rel = "reference/police-stations.csv"
    b.copy(rel, "reference/police-stations.csv")
    raw = (b.out / rel).read_bytes()
    df = pd.read_csv(b.out / rel, encoding="utf-8-sig")
    trailing = [n for n in df.Station if n != n.rstrip()]
    m = b.manifest_row(rel)
    s = {"rows": len(df), "bom": raw.startswith(b"\xef\xbb\xbf"), "trailing": trailing}
    nbsp = sum(t.endswith("\xa0") for t in trailing)
    text = f"""# Reference: police station locations

`police-stations.csv` — byte-for-byte copy of the shared `reference/police-stations.csv` ({fmt_bytes(b.size(rel))},
sha256 `{b.digest(rel)}`).

* {s["rows"]} rows, columns `Station, Latitude, Longitude` (WGS84).
* Appears to be the Met's 24-hour front counters (one per area, e.g. Acton, Brixton, Charing Cross, Lewisham,
  Wembley) plus Bishopsgate (City of London Police).
* **Weak provenance**: compiled by GitHub repo `bilginn7/4CBLW00-20-Group1`, path `{m["source_path"]}`, commit
  `{m["source_commit"]}`; that repo states **neither the original source nor a licence**. Use as indicative
  only (e.g. map context), never as an authoritative list of stations.
* Quirks: the file {"starts" if s["bom"] else "does not start"} with a UTF-8 BOM (read with `encoding="utf-8-sig"`), and
  {len(trailing)} station names have **trailing whitespace** ({", ".join("`" + repr(t) + "`" for t in trailing)}); {nbsp} of them
  end in a **non-breaking space (U+00A0)**, not an ordinary space — strip with `str.strip()` (which removes
  both), not with `.str.rstrip(" ")`.
"""
    b.write_text("reference/README.md", text)
    return s


# ---------------------------------------------------------------------------
# 7. index README + MANIFEST
# ---------------------------------------------------------------------------


def _folder_size(b: Bundle, prefix: str) -> int:
    return sum(b.size(r) for r in b.sources if r.startswith(prefix))


def write_index(b: Bundle, st: dict) -> None:
    bo, bd, hm, po, dm, rf = (
        st[k] for k in ("boroughs", "boundaries", "harm", "police", "demo", "ref")
    )
    rows = [
        [
            "`boroughs/`",
            "33 London borough boundaries (full + simplified web copy), WGS84",
            "2011 boundaries",
            "33 + 33",
            fmt_bytes(_folder_size(b, "boroughs/")),
            "OGL v3 (GLA/ONS/OS)",
        ],
        [
            "`boundaries/`",
            "LSOA 2021 and ward 2024 boundaries (EPSG:27700), LSOA code list 2011+2021",
            "Dec 2021 / Dec 2024",
            f"{fmt_int(bd['n21'])} LSOAs; {bd['nward']} wards; {fmt_int(bd['ncodes'])} codes",
            fmt_bytes(_folder_size(b, "boundaries/")),
            "OGL v3 (ONS); 2011 codes CC BY 4.0 + OGL",
        ],
        [
            "`harm/`",
            "Cambridge Crime Harm Index tables (days of custody) per PRC subgroup, data.police.uk "
            "category, MPS minor category, Home Office code",
            f"CCHI 2026 update; weights {WEIGHT_PERIOD}",
            f"{len(hm['cchi'])} / {len(hm['pol'])} / {len(hm['mps'])} / {len(hm['ho'])}",
            fmt_bytes(_folder_size(b, "harm/")),
            "© Cambridge CEBP, no licence stated by re-host (see README)",
        ],
        [
            "`police_uk/met_burglary/`",
            "Met street crime, burglary rows only",
            f"{DEMO_FIRST} .. {DEMO_LAST}",
            fmt_int(po["burglary"]["rows"]),
            fmt_bytes(_folder_size(b, "police_uk/met_burglary/")),
            "OGL v3",
        ],
        [
            "`police_uk/met_stop_and_search/`",
            "Met stop and search",
            f"{DEMO_FIRST} .. {DEMO_LAST}",
            fmt_int(po["sas"]["rows"]),
            fmt_bytes(_folder_size(b, "police_uk/met_stop_and_search/")),
            "OGL v3",
        ],
        [
            "`police_uk/city_of_london_street/`",
            "City of London Police street crime, all types",
            "2022-07 .. 2024-08, gap 2023-07..09",
            fmt_int(po["city"]["rows"]),
            fmt_bytes(_folder_size(b, "police_uk/city_of_london_street/")),
            "OGL v3",
        ],
        [
            "`police_uk/mps_area_counts/`",
            "MPS monthly offence counts by LSOA and by ward",
            "LSOA 2023-08 .. 2024-08; ward 2024-02 .. 2024-08",
            f"{fmt_int(po['mps']['lsoa_rows'])} + {fmt_int(po['mps']['ward_rows'])}",
            fmt_bytes(_folder_size(b, "police_uk/mps_area_counts/")),
            "OGL v2.0",
        ],
        [
            "`demographics/`",
            "Census ethnic group: 2021 per LSOA (5 groups) and per LA (19), 2011 per LA",
            "Census 2021 / 2011",
            f"{fmt_int(dm['lsoa_rows'])} / {dm['la21_rows']} / {dm['la11_rows']}",
            fmt_bytes(_folder_size(b, "demographics/")),
            "OGL v3 (ONS); demographr MIT",
        ],
        [
            "`reference/`",
            "Met 24-hour police station locations (indicative)",
            "undated",
            str(rf["rows"]),
            fmt_bytes(_folder_size(b, "reference/")),
            "unknown (weak provenance)",
        ],
    ]
    total = sum(b.size(r) for r in b.sources)
    text = f"""# Bundled data

Small, real, openly licensed London data shipped with `hotspots`, so that the tool, its examples and its
tests run without downloads. Every folder has its own README with sources, commits, licences and quirks.

{md_table(["folder", "what", "period", "rows", "size", "licence"], rows)}

Total: {fmt_bytes(total)} in {len(b.sources)} files, not counting this README and `MANIFEST.csv`.

Rows = data rows (features for boundary files); for `harm/` the four tables are
`cchi_prc_subgroups` / `cchi_police_uk` / `cchi_mps_minor` / `cchi_home_office_codes`; for `demographics/`
LSOA 2021 / LA 2021 / LA 2011.

## Attribution

When you publish maps or numbers made with these data, include:

> {OGL3}
>
> {OGL2} (Metropolitan Police Service recorded-crime counts)
>
> {ONS_ATTR}
>
> {GLA_ATTR}
>
> Crime harm weights: Cambridge Crime Harm Index, Sherman, Neyroud & Neyroud (2016), *Policing* 10(3):171–183,
> https://www.cambridge-ebp.co.uk/crime-harm-index.

Open Government Licence v3.0: {OGL3_URL} — v2.0: {OGL2_URL}.

## Provenance and rebuilding

`MANIFEST.csv` lists every file under `data/` (except itself) with `path, bytes, sha256, source, derived_from`:
`source` is the path in the shared data collection for byte-for-byte copies, or `derived` for files made by
the build script (`derived_from` then says from what).

The folder is generated — do not edit it by hand. `scripts/bundle_data.py` rebuilds all of it (data files
and READMEs) from the shared collection, verifying every source file against the collection's own
sha256 manifest:

```sh
python scripts/bundle_data.py --shared ../shared/data
```

The `hotspots` package only ever reads `data/`; it never reads the shared collection.
"""
    b.write_text("README.md", text)


def write_manifest(b: Bundle) -> None:
    expected = set(b.sources) | {"MANIFEST.csv"}
    present = {p.relative_to(b.out).as_posix() for p in b.out.rglob("*") if p.is_file()}
    stray = sorted(present - expected)
    if stray:
        die(f"files under {b.out} not produced by this script (remove them and re-run): {stray}")
    rows = [
        {
            "path": r,
            "bytes": b.size(r),
            "sha256": b.digest(r),
            "source": b.sources[r],
            "derived_from": b.derived_from.get(r, ""),
        }
        for r in sorted(b.sources)
    ]
    man = pd.DataFrame(rows, columns=["path", "bytes", "sha256", "source", "derived_from"])
    buf = io.StringIO()
    man.to_csv(buf, index=False, lineterminator="\n")
    (b.out / "MANIFEST.csv").write_text(buf.getvalue(), encoding="utf-8")


def check_sizes(b: Bundle) -> int:
    files = [p for p in b.out.rglob("*") if p.is_file()]
    big = [(p, p.stat().st_size) for p in files if p.stat().st_size > MAX_FILE_BYTES]
    if big:
        die(f"files over {fmt_bytes(MAX_FILE_BYTES)}: {big}")
    total = sum(p.stat().st_size for p in files)
    if total > MAX_TOTAL_BYTES:
        die(f"data/ is {fmt_bytes(total)}, over the {fmt_bytes(MAX_TOTAL_BYTES)} budget")
    return total


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--shared", required=True, type=Path, help="path to the shared data collection"
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "data",
        help="output folder (default: <repo>/data)",
    )
    args = ap.parse_args(argv)
    shared = args.shared.resolve()
    if not (shared / "MANIFEST.csv").is_file():
        die(f"{shared} does not look like the shared data collection (no MANIFEST.csv)")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    b = Bundle(shared, out)

    st = {}
    print("boroughs ...", flush=True)
    st["boroughs"] = build_boroughs(b)
    print("boundaries ...", flush=True)
    st["boundaries"] = build_boundaries(b)
    print("harm ...", flush=True)
    st["harm"] = build_harm(b)
    print("police_uk ...", flush=True)
    st["police"] = build_police(b)
    print("demographics ...", flush=True)
    st["demo"] = build_demographics(b)
    # ethnic group by age band and by sex for London (scripts/bundle_demographics.py)
    import bundle_demographics

    table = bundle_demographics.build(shared)
    rel = f"demographics/{bundle_demographics.OUT_NAME}"
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / rel, index=False, lineterminator="\n")
    bundle_demographics.update_readme(
        out / "demographics" / "README.md",
        bundle_demographics.readme_section(table, out / rel),
    )
    b.sources[rel] = "derived"
    b.derived_from[rel] = (
        "demographics/census2021_ethnic_group_age_sex/ (see scripts/bundle_demographics.py)"
    )
    print("reference ...", flush=True)
    st["ref"] = build_reference(b)
    write_index(b, st)
    write_manifest(b)
    total = check_sizes(b)

    bo = st["boroughs"]
    print(
        f"\nweb boroughs: {bo['n_coords_orig']} -> {bo['n_coords_web']} vertices, "
        f"max Hausdorff {bo['hausdorff_max']:.1f} m ({bo['hausdorff_max_name']})"
    )
    print("\ncchi_police_uk.csv:")
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(st["harm"]["pol"][["category", "harm_days", "components"]].to_string(index=False))
    print(f"\nwrote {len(b.sources) + 1} files, {fmt_bytes(total)} under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
