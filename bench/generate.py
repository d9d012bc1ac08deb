"""Write synthetic data.police.uk street-crime files of any size, for the scale benchmarks.

Run from the repository root::

    python bench/generate.py --rows 10_000_000 --months 120 --out /tmp/street-10m [--seed 1]
                             [--gzip] [--last-month 2024-08] [--force metropolitan]

The files look like a data.police.uk archive: one folder per month holding
``YYYY-MM-<force>-street.csv`` (``.csv.gz`` with ``--gzip``), with the 12 published
columns. What makes them realistic:

* **Clustered map points.** data.police.uk moves every crime to one of a fixed set of
  anonymised snap points. The pool here is every distinct point of the bundled Met
  burglary files (real snap points with their street names and LSOAs) plus, by default,
  as many again made by jittering real points by about 120 m (rounded to 6 decimals like
  the published files, kept only inside the London boroughs, named after the point they
  came from). Each point gets a popularity weight: its real burglary count times a
  log-normal factor (sigma 1.2), boosted threefold within 400 m of 150 random hotspot
  centres, so incidents stack on points and bunch into hotspots. The pool size, not the
  number of rows, bounds the distinct points, as in the real data.
* **Crime-type mix** of the bundled City of London street crime (all 14 categories, in
  their published proportions; anti-social behaviour about 6.5%).
* **Quirks at the published rates** (measured on the bundled files): anti-social
  behaviour has a blank Crime ID; about 1.2% of rows repeat the Crime ID of an earlier row
  of the same file (the same crime published twice, sometimes with another outcome);
  about 1.8% of rows have no coordinates ("No Location", blank LSOA).

Everything is vectorised (numpy + pyarrow's CSV writer, no Python object per row); months
are written by ``--jobs`` processes (default: every core). Same arguments and seed, same
bytes. ``generate.json`` in ``--out`` records what was written and how long it took.
Write generated data under /tmp, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parent.parent
POINTS_FROM = REPO / "data" / "police_uk" / "met_burglary"
MIX_FROM = REPO / "data" / "police_uk" / "city_of_london_street"
COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
ASB = "Anti-social behaviour"
REPEATED_ID_RATE = 0.012
NO_COORDINATES_RATE = 0.018
JITTER_M = 120.0
HOTSPOTS = 150
HOTSPOT_RADIUS_M = 400.0
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


@dataclass(frozen=True)
class Pool:
    """Snap points and the published category mix, shared by every month."""

    lon: pa.Array  # text, 6 decimals, as published
    lat: pa.Array
    location: pa.Array
    lsoa_code: pa.Array
    lsoa_name: pa.Array
    weight: np.ndarray  # popularity, sums to 1
    crime_types: pa.Array
    crime_share: np.ndarray
    outcomes: pa.Array
    outcome_share: np.ndarray


def _read_csvs(folder: Path, columns: list[str]) -> pa.Table:
    files = sorted(folder.glob("*.csv.gz"))
    convert = pacsv.ConvertOptions(
        include_columns=columns, column_types=dict.fromkeys(columns, pa.string())
    )
    return pa.concat_tables(pacsv.read_csv(f, convert_options=convert) for f in files)


def build_pool(*, seed: int, new_points_share: float = 1.0) -> Pool:
    """Build the snap-point pool and category mix from the bundled files."""
    import pandas as pd
    from pyproj import Transformer

    from hotspots.geo.boundaries import london_boroughs
    from hotspots.geo.geocode import assign_areas

    rng = np.random.default_rng(seed)
    burglary = _read_csvs(
        POINTS_FROM, ["Longitude", "Latitude", "Location", "LSOA code", "LSOA name"]
    ).to_pandas()
    burglary = burglary[burglary["Longitude"].fillna("").ne("")]
    counts = burglary.groupby(["Longitude", "Latitude"], sort=True).size().rename("n")
    points = (
        burglary.drop_duplicates(["Longitude", "Latitude"])
        .set_index(["Longitude", "Latitude"])
        .join(counts)
        .reset_index()
        .sort_values(["Longitude", "Latitude"], kind="stable")
        .reset_index(drop=True)
    )
    lon = points["Longitude"].astype(float).to_numpy()
    lat = points["Latitude"].astype(float).to_numpy()
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    to_wgs = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    x, y = (np.asarray(v) for v in to_bng.transform(lon, lat))
    weight = points["n"].to_numpy(dtype=np.float64)

    # new snap points: jittered copies of real ones, inside London, named after their parent
    n_new = int(round(new_points_share * len(points)))
    parent = rng.integers(0, len(points), n_new)
    nx = x[parent] + rng.normal(0.0, JITTER_M, n_new)
    ny = y[parent] + rng.normal(0.0, JITTER_M, n_new)
    nlon, nlat = (np.round(np.asarray(v), 6) for v in to_wgs.transform(nx, ny))
    nx, ny = (np.asarray(v) for v in to_bng.transform(nlon, nlat))
    inside = assign_areas(nx, ny, london_boroughs(), snap_m=0.0).index >= 0
    parent, nlon, nlat, nx, ny = (a[inside] for a in (parent, nlon, nlat, nx, ny))
    fresh = ~pd.Series(nlon + 1j * nlat).duplicated().to_numpy()
    fresh &= ~np.isin(nlon + 1j * nlat, lon + 1j * lat)
    parent, nlon, nlat, nx, ny = (a[fresh] for a in (parent, nlon, nlat, nx, ny))

    all_x = np.concatenate([x, nx])
    all_y = np.concatenate([y, ny])
    popularity = np.concatenate([weight, weight[parent]])
    popularity *= rng.lognormal(0.0, 1.2, len(popularity))
    centres = rng.integers(0, len(all_x), HOTSPOTS)
    from scipy.spatial import cKDTree

    near = cKDTree(np.column_stack([all_x, all_y])).query_ball_point(
        np.column_stack([all_x[centres], all_y[centres]]), HOTSPOT_RADIUS_M
    )
    boosted = np.unique(np.concatenate([np.asarray(n, dtype=np.int64) for n in near]))
    popularity[boosted] *= 3.0

    def text(values: np.ndarray) -> pa.Array:
        return pa.array([f"{v:.6f}" for v in values], pa.string())

    def pick(column: str) -> pa.Array:
        values = points[column].fillna("").to_numpy(dtype=object)
        return pa.array(np.concatenate([values, values[parent]]), pa.string())

    mix = _read_csvs(MIX_FROM, ["Crime type", "Last outcome category"]).to_pandas()
    crime = mix["Crime type"].value_counts().sort_index()
    outcome = mix["Last outcome category"].fillna("").value_counts().sort_index()
    return Pool(
        lon=text(np.concatenate([lon, nlon])),
        lat=text(np.concatenate([lat, nlat])),
        location=pick("Location"),
        lsoa_code=pick("LSOA code"),
        lsoa_name=pick("LSOA name"),
        weight=popularity / popularity.sum(),
        crime_types=pa.array(crime.index.to_list(), pa.string()),
        crime_share=crime.to_numpy(dtype=np.float64) / crime.sum(),
        outcomes=pa.array(outcome.index.to_list(), pa.string()),
        outcome_share=outcome.to_numpy(dtype=np.float64) / outcome.sum(),
    )


def _crime_ids(rng: np.random.Generator, blank: np.ndarray) -> pa.Array:
    """64-character hex ids (as published), empty where ``blank``; no Python object per row."""
    n = len(blank)
    filled = int((~blank).sum())
    raw = rng.integers(0, 256, size=(filled, 32), dtype=np.uint8)
    text = np.empty((filled, 64), dtype=np.uint8)
    text[:, 0::2] = _HEX[raw >> 4]
    text[:, 1::2] = _HEX[raw & 15]
    lengths = np.where(blank, 0, 64).astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())
    ).cast(pa.string())


def month_table(pool: Pool, month: str, rows: int, *, seed: int, force: str) -> pa.Table:
    """Build one month's street-crime rows."""
    rng = np.random.default_rng([seed, int(month.replace("-", ""))])
    point = rng.choice(len(pool.weight), size=rows, p=pool.weight)
    crime = rng.choice(len(pool.crime_share), size=rows, p=pool.crime_share)
    outcome = rng.choice(len(pool.outcome_share), size=rows, p=pool.outcome_share)
    crime_type = pool.crime_types.take(pa.array(crime))
    is_asb = np.asarray(pc.equal(crime_type, ASB).to_numpy(zero_copy_only=False), dtype=bool)
    ids = _crime_ids(rng, is_asb)
    # the same crime published twice: copy an earlier row of this file
    order = np.arange(rows)
    repeat = np.flatnonzero((rng.random(rows) < REPEATED_ID_RATE) & ~is_asb)
    repeat = repeat[repeat > 0]
    source = (rng.random(len(repeat)) * repeat).astype(np.int64)
    keep = ~is_asb[source]
    order[repeat[keep]] = source[keep]
    take = pa.array(order)
    point = point[order]
    crime_type = crime_type.take(take)
    ids = ids.take(take)
    located = rng.random(rows) >= NO_COORDINATES_RATE
    mask = pa.array(~located)
    where = pa.array(point)

    def at_point(values: pa.Array, blank: str | None) -> pa.Array:
        taken = values.take(where)
        return pc.if_else(mask, pa.scalar(blank, pa.string()), taken)

    force_name = f"{force.replace('-', ' ').title()} Police Service"
    constant = pa.array(np.full(rows, force_name, dtype=object), pa.string())
    return pa.table(
        {
            "Crime ID": ids,
            "Month": pa.array(np.full(rows, month, dtype=object), pa.string()),
            "Reported by": constant,
            "Falls within": constant,
            "Longitude": at_point(pool.lon, None),
            "Latitude": at_point(pool.lat, None),
            "Location": at_point(pool.location, "No Location"),
            "LSOA code": at_point(pool.lsoa_code, None),
            "LSOA name": at_point(pool.lsoa_name, None),
            "Crime type": crime_type,
            "Last outcome category": pc.if_else(
                pa.array(is_asb[order]),
                pa.scalar(None, pa.string()),
                pool.outcomes.take(pa.array(outcome)),
            ),
            "Context": pa.nulls(rows, pa.string()),
        }
    )


def months_ending(last: str, count: int) -> list[str]:
    """``count`` months up to and including ``last`` (``YYYY-MM``), oldest first."""
    year, month = (int(p) for p in last.split("-"))
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def _write_month(job: tuple) -> tuple[str, int, int]:
    pool, month, rows, seed, force, out, gzip = job
    table = month_table(pool, month, rows, seed=seed, force=force)
    folder = Path(out) / month
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{month}-{force}-street.csv" + (".gz" if gzip else "")
    path = folder / name
    tmp = folder / f".{name}.partial"
    # unquoted, as published (pyarrow refuses a value that would need quotes)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=1 << 16)
    header = (",".join(COLUMNS) + "\n").encode("utf-8")
    with (
        pa.CompressedOutputStream(str(tmp), "gzip") if gzip else pa.OSFile(str(tmp), "wb")
    ) as stream:
        stream.write(header)
        pacsv.write_csv(table, stream, write_options=options)
    tmp.replace(path)
    return month, rows, path.stat().st_size


def generate(
    out: str | Path,
    *,
    rows: int,
    months: int,
    seed: int = 0,
    gzip: bool = False,
    last_month: str = "2024-08",
    force: str = "metropolitan",
    jobs: int | None = None,
    new_points_share: float = 1.0,
) -> dict[str, object]:
    """Write the files and return what was written (rows, bytes, seconds)."""
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pool = build_pool(seed=seed, new_points_share=new_points_share)
    names = months_ending(last_month, months)
    per_month = np.full(months, rows // months, dtype=np.int64)
    per_month[: rows % months] += 1
    work = [
        (pool, m, int(n), seed, force, str(out), gzip)
        for m, n in zip(names, per_month, strict=True)
    ]
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        written = [_write_month(job) for job in work]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool_executor:
            written = list(pool_executor.map(_write_month, work))
    info = {
        "out": str(out),
        "rows": int(per_month.sum()),
        "months": months,
        "first_month": names[0],
        "last_month": names[-1],
        "files": len(written),
        "bytes": int(sum(b for _, _, b in written)),
        "snap_points": len(pool.weight),
        "seed": seed,
        "gzip": gzip,
        "seconds": time.perf_counter() - started,
        "jobs": jobs,
    }
    (out / "generate.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), required=True)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gzip", action="store_true", help="write .csv.gz files")
    parser.add_argument("--last-month", default="2024-08")
    parser.add_argument("--force", default="metropolitan")
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: cores)")
    parser.add_argument(
        "--new-points-share",
        type=float,
        default=1.0,
        help="jittered new snap points, as a share of the real ones",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.months < 1:
        parser.error("--rows and --months must be at least 1")
    info = generate(
        args.out,
        rows=args.rows,
        months=args.months,
        seed=args.seed,
        gzip=args.gzip,
        last_month=args.last_month,
        force=args.force,
        jobs=args.jobs,
        new_points_share=args.new_points_share,
    )
    print(
        f"wrote {info['rows']:,} rows in {info['files']} files ({info['bytes'] / 1e9:.2f} GB, "
        f"{info['snap_points']:,} snap points) to {info['out']} in {info['seconds']:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
