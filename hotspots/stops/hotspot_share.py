"""Harm hotspots for the review: the areas searches are compared with (violence LSOAs or a detect run)."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError, SchemaError
from hotspots.stops.classify import ALL, FORCE_CODE
from hotspots.stops.populations import lsoa_boroughs

VIOLENCE = "VIOLENCE AGAINST THE PERSON"


BUNDLED = "bundled"


LSOA_COUNTS = ("police_uk", "mps_area_counts", "recorded-crime-lsoa_202308-202408.csv.gz")


DEFAULT_TOP_SHARE = 0.05


@dataclass(frozen=True)
class HotspotSet:
    """A set of places called hotspots, and what it holds.

    Attributes
    ----------
    name
        Short name used in ``area_filter`` (``inside <name>``).
    unit
        ``"LSOA"`` or ``"H3 cell"``.
    members
        Codes of the places in the set.
    units_total
        Places of that unit in the study area.
    area_share
        Share of the study area (km²) the set covers.
    harm_share
        Share of the harm (of the source) inside the set.
    description
        How the set was chosen, in a sentence.
    harm_source
        Which harm ``harm_share`` refers to.
    """

    name: str
    unit: str
    members: frozenset[str]
    units_total: int
    area_share: float
    harm_share: float
    description: str
    harm_source: str


@dataclass(frozen=True)
class HarmAreas:
    """Harm per place of one source, and the hotspot sets drawn from it.

    Attributes
    ----------
    places
        One row per place (LSOA or cell): ``place``, ``borough_code``, ``harm``,
        ``count``, ``area_km2``, ``rank``, ``gi_class`` (and geometry).
    sets
        The hotspot sets.
    label
        What the harm is, with its period and weights.
    measure
        Measure name of the searches-per-harm rows.
    unit
        ``"LSOA"`` or ``"H3 cell"``.
    """

    places: gpd.GeoDataFrame
    sets: tuple[HotspotSet, ...]
    label: str
    measure: str
    unit: str


def _top_and_hot(
    places: gpd.GeoDataFrame,
    *,
    unit: str,
    prefix: str,
    top_share: float,
    harm_source: str,
    gi_text: str,
) -> tuple[HotspotSet, ...]:
    n = len(places)
    n_top = max(1, math.ceil(top_share * n))
    total_harm = float(places["harm"].sum())
    total_area = float(places["area_km2"].sum())
    top = places[places["rank"] <= n_top]
    hot = places[places["gi_class"].astype(str).str.startswith("hot")]
    pct = f"{100 * top_share:g}%"
    sets = []
    for name, chosen, description in (
        (
            f"{prefix} top {pct} {unit}s",
            top,
            f"the {len(top):,} {unit}s ({pct} of {n:,}) with the most {harm_source}",
        ),
        (
            f"{prefix} Gi* hot {unit}s",
            hot,
            f"the {len(hot):,} {unit}s that are significant Gi* hot spots of {harm_source} ({gi_text})",
        ),
    ):
        sets.append(
            HotspotSet(
                name=name,
                unit=unit,
                members=frozenset(map(str, chosen.index)),
                units_total=n,
                area_share=float(chosen["area_km2"].sum()) / total_area if total_area else np.nan,
                harm_share=float(chosen["harm"].sum()) / total_harm if total_harm else np.nan,
                description=description,
                harm_source=harm_source,
            )
        )
    return tuple(sets)


def _violence_rows(source: Path, folder: Path) -> Path:
    """Write the violence rows of an MPS wide table (values unchanged) to a CSV in ``folder``.

    Reading only these rows makes :func:`hotspots.ingest.area_counts.read_area_counts` about five
    times faster than reading every offence and leaving the others out.
    """
    if not source.is_file():
        raise InputError(f"no such file: {source}")
    try:
        if source.suffix == ".parquet":
            wide = pd.read_parquet(source).astype(str)
        else:
            wide = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"cannot read {source}: {exc}") from None
    major = next((c for c in ("major_category", "majortext") if c in wide.columns), None)
    if major is None:
        raise SchemaError(
            f"{source} has no major_category column; expected an MPS recorded-crime table."
        )
    target = folder / f"{source.name.split('.')[0]}-violence.csv"
    wide[wide[major].str.strip().str.upper() == VIOLENCE].to_csv(target, index=False)
    return target


def violence_hotspots(
    path: str | Path = BUNDLED,
    *,
    months: tuple[str, str] | None = None,
    top_share: float = DEFAULT_TOP_SHARE,
) -> HarmAreas:
    """Violence harm per London LSOA from the Met's area counts, and its hotspot sets.

    Parameters
    ----------
    path
        An MPS recorded-crime LSOA table, or ``"bundled"`` for the bundled one
        (2023-08..2024-08).
    months
        The search period: the months of the counts inside it are used; if none are, all
        months of the table are used (and the label says so).
    top_share
        Share of LSOAs in the "top" set (by harm; default 5%).

    Returns
    -------
    HarmAreas
        Harm per LSOA (CCHI weights of the MPS minor categories, ``VIOLENCE AGAINST THE
        PERSON``), the top set and the Gi* hot set (queen contiguity, FDR).
    """
    from hotspots.core.paths import bundled
    from hotspots.detect.areas import detect_area_hotspots
    from hotspots.geo.boundaries import london_boroughs, london_lsoas
    from hotspots.ingest.area_counts import read_area_counts

    source = bundled(*LSOA_COUNTS) if str(path) == BUNDLED else Path(path)
    with tempfile.TemporaryDirectory(prefix="hotspots-violence-") as folder:
        counts = read_area_counts(_violence_rows(source, Path(folder)))
    if counts.geography != "lsoa":
        raise InputError(
            f"{source} holds {counts.geography} counts; violence hotspots need LSOAs."
        )
    tidy = counts.counts[counts.counts["major_category"].str.upper() == VIOLENCE]
    if tidy.empty:
        raise InputError(f"{source} has no '{VIOLENCE}' rows.")
    available = (str(tidy["month"].min()), str(tidy["month"].max()))
    note = ""
    if months is not None:
        inside = tidy["month"].astype(str).between(months[0], months[1])
        if inside.any():
            tidy = tidy[inside]
        else:
            note = f" (no months inside the search period {months[0]}..{months[1]}; all used)"
    used = (str(tidy["month"].min()), str(tidy["month"].max()))
    from dataclasses import replace

    detection = detect_area_hotspots(
        replace(counts, counts=tidy), london_lsoas(), boroughs=london_boroughs()
    )
    cells = detection.cells
    places = gpd.GeoDataFrame(
        {
            "place": cells["place"].to_numpy(),
            "borough_code": cells["borough_code"].replace("", np.nan).to_numpy(),
            "harm": cells["harm"].to_numpy(),
            "count": cells["incidents"].to_numpy(),
            "area_km2": cells["area_km2"].to_numpy(),
            "rank": cells["rank"].to_numpy(),
            "gi_class": cells["gi_class"].astype(str).to_numpy(),
        },
        geometry=cells.geometry.to_numpy(),
        index=pd.Index(cells.index.astype(str), name="lsoa21_code"),
        crs=cells.crs,
    )
    missing_borough = places["borough_code"].isna()
    if missing_borough.any():
        fill = lsoa_boroughs(places.index[missing_borough])
        places.loc[missing_borough, "borough_code"] = fill.to_numpy()
    harm_source = f"violence harm (MPS LSOA counts {used[0]}..{used[1]}, CCHI)"
    label = (
        f"violence against the person (homicide, violence with and without injury), MPS "
        f"recorded-crime counts by LSOA {used[0]}..{used[1]}{note}, weighted by "
        f"{counts.harm_table}; available {available[0]}..{available[1]}"
    )
    sets = _top_and_hot(
        places,
        unit="LSOA",
        prefix="violence",
        top_share=top_share,
        harm_source=harm_source,
        gi_text=f"queen contiguity, {detection.gi_p_label}",
    )
    return HarmAreas(
        places=places,
        sets=sets,
        label=label,
        measure="searches_per_violence_harm",
        unit="LSOA",
    )


def _detect_gi_text(detect: dict) -> str:
    """Say how a detect run classified its Gi* hot places, FDR or no FDR, from its manifest."""
    label = str(detect.get("gi_classes_drawn_from") or "")
    options = detect.get("options") or {}
    fdr = options.get("fdr")
    if label and ("no FDR" in label or "Benjamini-Hochberg" in label):
        return f"as classified by detect: {label}"
    if fdr is True:
        return "as classified by detect, Benjamini-Hochberg FDR"
    if fdr is False:
        return "as classified by detect, no FDR adjustment"
    return "as classified by detect; FDR adjustment not recorded"


def detect_hotspots_from(path: str | Path, *, top_share: float = DEFAULT_TOP_SHARE) -> HarmAreas:
    """Read the hot places of a ``hotspots detect`` output folder.

    Parameters
    ----------
    path
        A ``detect`` ``--out`` folder with ``cells.parquet`` (H3 cells) or
        ``areas.parquet`` (LSOAs).
    top_share
        Share of places in the "top" set (by harm).

    Returns
    -------
    HarmAreas
        The detect harm per place, its top set and its Gi* hot set.
    """
    folder = Path(path)
    cells_path, areas_path = folder / "cells.parquet", folder / "areas.parquet"
    if cells_path.is_file():
        table = gpd.read_parquet(cells_path)
        key, unit = "cell", "H3 cell"
    elif areas_path.is_file():
        table = gpd.read_parquet(areas_path)
        key, unit = "area", "LSOA"
        if not table["area"].astype(str).str.startswith("E01").all():
            raise InputError(
                f"{areas_path} holds areas that are not LSOAs; --hotspots takes a detect "
                "output on H3 cells or on LSOAs."
            )
    else:
        raise InputError(
            f"--hotspots {folder} has no cells.parquet or areas.parquet; point it at the "
            "--out folder of 'hotspots detect'."
        )
    required = [key, "harm", "incidents", "rank", "gi_class", "borough_code", "area_km2"]
    missing = [c for c in required if c not in table]
    if missing:
        raise SchemaError(f"{folder} detect table lacks {missing}; re-run hotspots detect.")
    what = "harm"
    gi_text = "as classified by detect; FDR adjustment not recorded (no manifest.json)"
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        detect = manifest.get("detect") or {}
        gi_text = _detect_gi_text(detect)
        period = detect.get("period") or []
        types = detect.get("crime_types") or []
        harm_table = (manifest.get("parameters") or {}).get("harm_table", "")
        what = (
            f"{', '.join(map(str, types)) or 'all crime'} harm "
            f"({'..'.join(map(str, period))}{', ' + harm_table if harm_table else ''})"
        )
    places = gpd.GeoDataFrame(
        {
            "place": table.get("place", table[key]).astype(str).to_numpy(),
            "borough_code": table["borough_code"].astype(str).replace("", np.nan).to_numpy(),
            "harm": table["harm"].to_numpy(dtype=np.float64),
            "count": table["incidents"].to_numpy(),
            "area_km2": table["area_km2"].to_numpy(dtype=np.float64),
            "rank": table["rank"].to_numpy(),
            "gi_class": table["gi_class"].astype(str).to_numpy(),
        },
        geometry=table.geometry.to_numpy(),
        index=pd.Index(table[key].astype(str).to_numpy(), name="place_code"),
        crs=table.crs,
    )
    sets = _top_and_hot(
        places,
        unit=unit,
        prefix="detect",
        top_share=top_share,
        harm_source=f"detect {what}",
        gi_text=gi_text,
    )
    return HarmAreas(
        places=places,
        sets=sets,
        label=f"detect output {folder.name}: {what}",
        measure="searches_per_detect_harm",
        unit=unit,
    )


def _membership(searches: pd.DataFrame, areas: HarmAreas) -> dict[str, pd.Series]:
    """Flag, per hotspot set, whether each located search lies inside it."""
    if areas.unit == "LSOA":
        place = searches.get(schema.LSOA21_CODE, pd.Series(None, index=searches.index))
    else:
        import h3

        resolution = h3.get_resolution(str(areas.places.index[0]))
        place = searches[schema.CELL_ID]
        sample = place.dropna()
        if sample.empty or h3.get_resolution(str(sample.iloc[0])) != resolution:
            from hotspots.geo.grid import cell_strings, cells_from_lonlat

            located = searches[schema.LON].notna().to_numpy()
            values = np.full(len(searches), None, dtype=object)
            values[located] = cell_strings(
                cells_from_lonlat(
                    searches[schema.LON].to_numpy()[located],
                    searches[schema.LAT].to_numpy()[located],
                    resolution=resolution,
                )
            )
            place = pd.Series(values, index=searches.index)
    place = place.astype(object)
    return {s.name: place.isin(s.members) & place.notna() for s in areas.sets}


def _harm_table(areas: HarmAreas, geographies: Sequence[str]) -> pd.DataFrame:
    """Harm per borough and force area, for all places and inside/outside each set."""
    places = areas.places
    rows = []
    filters = {ALL: np.ones(len(places), dtype=bool)}
    for s in areas.sets:
        inside = places.index.isin(list(s.members))
        filters[f"inside {s.name}"] = inside
        filters[f"outside {s.name}"] = ~inside
    for name, mask in filters.items():
        sub = places[mask]
        by = sub.groupby("borough_code")["harm"].sum().reindex(list(geographies), fill_value=0.0)
        for code, harm in by.items():
            rows.append((code, name, float(harm)))
        rows.append((FORCE_CODE, name, float(sub["harm"].sum())))
    return pd.DataFrame(rows, columns=["geography_code", "area_filter", "harm"])
