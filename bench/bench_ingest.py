"""Benchmark: hotspots ingest vs the plain notebook approach, plus H3 and borough micro-benchmarks.

Run from the repository root::

    python bench/bench_ingest.py [--input PATH] [--repeat N] [--peer-repeat N]
                                 [--out bench/results/ingest.json]

Every measurement runs in a fresh Python subprocess (``--worker``). The parent process
imports only the standard library, so it stays small (~15 MB): on Linux a child started
with fork/vfork + exec inherits the parent's ``ru_maxrss`` high-water mark, so a fat
parent would leak its peak into every child's figure. Each child reports both
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` and ``VmHWM`` from ``/proc/self/status``
(the peak of the child's own address space, which exec resets) as a cross-check.

Timings use ``time.perf_counter`` around the measured call only (imports, loading the
borough polygons and the harm table are set-up, done before the clock starts, for both
hotspots and the peer). Each figure is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_INPUT = REPO.parent / "shared" / "data" / "police_uk" / "met_street_burglary_only"
BUNDLED_INPUT = REPO / "data" / "police_uk" / "met_burglary"
DEFAULT_OUT = REPO / "bench" / "results" / "ingest.json"
H3_RESOLUTION = 9
SYNTHETIC_SEED = 20240917
PACKAGES = (
    "hotspots",
    "numpy",
    "pandas",
    "geopandas",
    "shapely",
    "pyarrow",
    "pyproj",
    "h3",
    "h3ronpy",
)


# ---------------------------------------------------------------------------
# helpers shared by parent and workers (standard library only)


def _memory() -> dict[str, float]:
    """Peak memory of this process so far, in MiB."""
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    hwm_kb = None
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "ru_maxrss_mib": maxrss_kb / 1024,
        "vmhwm_mib": hwm_kb / 1024 if hwm_kb is not None else None,
    }


def _csv_files(input_dir: Path) -> list[Path]:
    files = sorted(p for p in input_dir.rglob("*") if p.name.lower().endswith((".csv", ".csv.gz")))
    if not files:
        raise SystemExit(f"no .csv / .csv.gz files under {input_dir}")
    return files


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


# ---------------------------------------------------------------------------
# workers: each runs in a fresh interpreter and writes one JSON result


def _worker_ingest(args: argparse.Namespace) -> dict:
    """One timed call of hotspots.ingest.pipeline.ingest into a temporary folder."""
    from hotspots.ingest import pipeline
    from hotspots.ingest.read import london_settings

    # the store-writing entry point was renamed ingest -> ingest_to_store; accept either
    name = "ingest_to_store" if hasattr(pipeline, "ingest_to_store") else "ingest"
    ingest = getattr(pipeline, name)

    t0 = time.perf_counter()
    settings = london_settings()
    setup = time.perf_counter() - t0
    before = _memory()
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        t0 = time.perf_counter()
        result = ingest([args.input], Path(tmp) / "store", settings=settings)
        seconds = time.perf_counter() - t0
        store_bytes = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    return {
        "function": f"hotspots.ingest.pipeline.{name}",
        "seconds": seconds,
        "setup_seconds": setup,
        "files": len(result.reports),
        "rows_read": result.rows_read,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "store_bytes": store_bytes,
        "rejects_by_reason": dict(sum((r.rejects_by_reason for r in result.reports), Counter())),
        "notes": dict(sum((r.notes for r in result.reports), Counter())),
        "memory_before_call": before,
        "memory_peak": _memory(),
    }


def _worker_read_incidents(args: argparse.Namespace) -> dict:
    """One timed call of hotspots.ingest.read.read_incidents (in-memory GeoDataFrame)."""
    from hotspots.ingest.read import london_settings, read_incidents

    t0 = time.perf_counter()
    settings = london_settings()
    setup = time.perf_counter() - t0
    before = _memory()
    t0 = time.perf_counter()
    loaded = read_incidents(args.input, settings=settings)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "setup_seconds": setup,
        "files": len(loaded.reports),
        "rows_read": loaded.rows_read,
        "accepted": len(loaded.incidents),
        "rejected": len(loaded.rejects),
        "memory_before_call": before,
        "memory_peak": _memory(),
    }


def _worker_peer(args: argparse.Namespace) -> dict:
    """The plain approach a notebook would use, on the same files."""
    import geopandas as gpd
    import h3
    import pandas as pd

    from hotspots.geo.boundaries import london_boroughs
    from hotspots.harm.table import default_harm_table

    t0 = time.perf_counter()
    files = _csv_files(Path(args.input))
    boroughs = london_boroughs().polygons.reset_index()  # code, name, geometry (EPSG:27700)
    harm = default_harm_table("police_uk").weights.to_dict()  # {"Burglary": 244.75, ...}
    setup = time.perf_counter() - t0
    before = _memory()

    t0 = time.perf_counter()
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    rows_read = len(df)
    df = df.dropna(subset=["Longitude", "Latitude"])
    points = gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df["Longitude"], df["Latitude"]), crs=4326
    ).to_crs(27700)
    points["cell_id"] = [
        h3.latlng_to_cell(lat, lon, H3_RESOLUTION)
        for lat, lon in zip(points["Latitude"], points["Longitude"], strict=True)
    ]
    joined = gpd.sjoin(points, boroughs, predicate="within")
    joined["harm"] = joined["Crime type"].map(harm)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "setup_seconds": setup,
        "files": len(files),
        "rows_read": rows_read,
        "rows_with_coordinates": len(points),
        "rows_kept": len(joined),
        "memory_before_call": before,
        "memory_peak": _memory(),
    }


def _load_lonlat(input_dir: str):
    """Every row's valid (non-missing, finite) Longitude/Latitude from the input files."""
    import numpy as np
    import pandas as pd

    frames = [
        pd.read_csv(f, usecols=["Longitude", "Latitude"]) for f in _csv_files(Path(input_dir))
    ]
    df = pd.concat(frames, ignore_index=True)
    lon = df["Longitude"].to_numpy(dtype=np.float64)
    lat = df["Latitude"].to_numpy(dtype=np.float64)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    return np.ascontiguousarray(lon[ok]), np.ascontiguousarray(lat[ok]), len(df)


def _timed(fn, repeat: int):
    """(median seconds, all seconds, last result) of ``repeat`` calls of ``fn``."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return _median(times), times, out


def _worker_h3(args: argparse.Namespace) -> dict:
    """H3 indexing of every valid point: vectorised, vectorised on distinct points, loop."""
    import h3
    import numpy as np
    import pandas as pd

    from hotspots.geo.grid import cells_from_lonlat

    lon, lat, rows_total = _load_lonlat(args.input)

    def vectorised():
        return cells_from_lonlat(lon, lat, resolution=H3_RESOLUTION)

    def dedup():
        inverse, unique_key = pd.factorize(lon + 1j * lat)
        ucells = cells_from_lonlat(unique_key.real, unique_key.imag, resolution=H3_RESOLUTION)
        return ucells[inverse]

    def loop():
        return [
            h3.latlng_to_cell(a, b, H3_RESOLUTION)
            for a, b in zip(lat.tolist(), lon.tolist(), strict=True)
        ]

    a_med, a_all, a_out = _timed(vectorised, args.repeat)
    b_med, b_all, b_out = _timed(dedup, args.repeat)
    c_med, c_all, c_out = _timed(loop, args.repeat)
    c_int = np.array([h3.str_to_int(c) for c in c_out], dtype=np.uint64)
    distinct = int(len(pd.unique(lon + 1j * lat)))
    return {
        "rows_total": rows_total,
        "points": int(len(lon)),
        "distinct_points": distinct,
        "resolution": H3_RESOLUTION,
        "vectorised_seconds": a_med,
        "vectorised_dedup_seconds": b_med,
        "python_loop_seconds": c_med,
        "all_seconds": {"vectorised": a_all, "vectorised_dedup": b_all, "python_loop": c_all},
        "identical_vectorised_vs_loop": bool(np.array_equal(a_out, c_int)),
        "identical_dedup_vs_loop": bool(np.array_equal(b_out, c_int)),
        "mismatches_vectorised": int((a_out != c_int).sum()),
        "mismatches_dedup": int((b_out != c_int).sum()),
        "distinct_cells": int(len(np.unique(c_int))),
        "memory_peak": _memory(),
    }


def _compare_assignments(codes_a, codes_b, on_boundary, snapped, multi):
    """Agreement between assign_areas codes and sjoin codes (None = no area), with reasons."""

    a_none = codes_a == None  # noqa: E711 (object arrays)
    b_none = codes_b == None  # noqa: E711
    same = (codes_a == codes_b) | (a_none & b_none)
    differ = ~same
    only_a = differ & ~a_none & b_none
    only_b = differ & a_none & ~b_none
    both_diff = differ & ~a_none & ~b_none
    return {
        "points": int(len(codes_a)),
        "same": int(same.sum()),
        "same_fraction": float(same.mean()) if len(same) else 1.0,
        "differ": int(differ.sum()),
        "differ_assign_has_area_sjoin_none": int(only_a.sum()),
        "of_which_on_boundary": int((only_a & on_boundary).sum()),
        "of_which_snapped": int((only_a & snapped).sum()),
        "of_which_other": int((only_a & ~on_boundary & ~snapped).sum()),
        "differ_sjoin_has_area_assign_none": int(only_b.sum()),
        "differ_both_have_different_area": int(both_diff.sum()),
        "of_which_on_boundary_or_multi_match": int((both_diff & (on_boundary | multi)).sum()),
        "outside_both": int((a_none & b_none).sum()),
        "sjoin_points_matching_several_areas": int(multi.sum()),
        "assign_on_boundary": int(on_boundary.sum()),
        "assign_snapped": int(snapped.sum()),
        "assign_outside": int(a_none.sum()),
        "sjoin_outside": int(b_none.sum()),
    }


def _borough_case(x, y, areas, boroughs_gdf, repeat: int) -> dict:
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from hotspots.geo.geocode import assign_areas

    def ours():
        return assign_areas(x, y, areas)

    def ours_nosnap():  # like-for-like with sjoin, which does not snap
        return assign_areas(x, y, areas, snap_m=0.0)

    def sjoin():
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=27700)
        return gpd.sjoin(points, boroughs_gdf, predicate="within")

    def sjoin_dedup():  # extra, not a "plain" peer: sjoin on distinct points, indexed back
        inverse, key = pd.factorize(x + 1j * y)
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(key.real, key.imag), crs=27700)
        joined = gpd.sjoin(points, boroughs_gdf, predicate="within")
        joined = joined[~joined.index.duplicated(keep="first")]
        codes = pd.Series(joined["code"].to_numpy(dtype=object), index=joined.index)
        per_key = codes.reindex(np.arange(len(key))).to_numpy(dtype=object)
        return per_key[inverse]

    a_med, a_all, assignment = _timed(ours, repeat)
    n_med, n_all, nosnap = _timed(ours_nosnap, repeat)
    b_med, b_all, joined = _timed(sjoin, repeat)
    d_med, d_all, _ = _timed(sjoin_dedup, repeat)

    n = len(x)
    codes_a = np.where(assignment.index >= 0, areas.codes[np.maximum(assignment.index, 0)], None)
    counts = joined.index.value_counts()
    multi = np.zeros(n, dtype=bool)
    multi[counts.index[counts.to_numpy() > 1].to_numpy()] = True
    first = joined[~joined.index.duplicated(keep="first")]
    codes_b = np.full(n, None, dtype=object)
    codes_b[first.index.to_numpy()] = first["code"].to_numpy(dtype=object)
    agreement = _compare_assignments(
        codes_a, codes_b, assignment.on_boundary_mask, assignment.snapped_mask, multi
    )
    codes_n = np.where(nosnap.index >= 0, areas.codes[np.maximum(nosnap.index, 0)], None)
    agreement_nosnap = _compare_assignments(
        codes_n, codes_b, nosnap.on_boundary_mask, nosnap.snapped_mask, multi
    )
    return {
        "points": int(n),
        "distinct_points": int(len(pd.unique(x + 1j * y))),
        "assign_areas_seconds": a_med,
        "assign_areas_nosnap_seconds": n_med,
        "sjoin_seconds": b_med,
        "sjoin_dedup_seconds": d_med,
        "all_seconds": {
            "assign_areas": a_all,
            "assign_areas_nosnap": n_all,
            "sjoin": b_all,
            "sjoin_dedup": d_all,
        },
        "agreement": agreement,
        "agreement_nosnap": agreement_nosnap,
    }


def _worker_boroughs(args: argparse.Namespace) -> dict:
    """Borough assignment: assign_areas vs geopandas.sjoin, real points and uniform random ones."""
    import numpy as np
    from pyproj import Transformer

    from hotspots.geo.boundaries import london_boroughs

    lon, lat, rows_total = _load_lonlat(args.input)
    areas = london_boroughs()
    boroughs_gdf = areas.polygons.reset_index()
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = (np.ascontiguousarray(v) for v in to_bng.transform(lon, lat))

    real = _borough_case(x, y, areas, boroughs_gdf, args.repeat)
    real["rows_total"] = rows_total

    minx, miny, maxx, maxy = areas.polygons.total_bounds
    rng = np.random.default_rng(SYNTHETIC_SEED)
    sx = rng.uniform(minx, maxx, args.synthetic_n)
    sy = rng.uniform(miny, maxy, args.synthetic_n)
    synthetic = _borough_case(sx, sy, areas, boroughs_gdf, args.repeat)
    synthetic["bbox_27700"] = [float(minx), float(miny), float(maxx), float(maxy)]
    synthetic["seed"] = SYNTHETIC_SEED
    return {"real": real, "synthetic": synthetic, "memory_peak": _memory()}


WORKERS = {
    "ingest": _worker_ingest,
    "read_incidents": _worker_read_incidents,
    "peer": _worker_peer,
    "h3": _worker_h3,
    "boroughs": _worker_boroughs,
}


# ---------------------------------------------------------------------------
# parent: orchestrates workers, prints a table, writes JSON (standard library only)


def _run_worker(name: str, args: argparse.Namespace, repeat: int = 1) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = fh.name
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--input",
        str(args.input),
        "--repeat",
        str(repeat),
        "--synthetic-n",
        str(args.synthetic_n),
        "--result-file",
        result_path,
    ]
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, cwd=REPO)
        with open(result_path) as fh:
            result = json.load(fh)
    finally:
        os.unlink(result_path)
    print(f"  [{name}] done in {time.perf_counter() - t0:.1f} s (process wall time)", flush=True)
    return result


def _machine() -> dict:
    model = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    mem_total = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_total = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    git = None
    with contextlib.suppress(OSError):
        git = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()
            or None
        )
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "mem_total_gib": mem_total,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": versions,
        "git_head": git,
    }


def _summarise_runs(runs: list[dict]) -> dict:
    seconds = [r["seconds"] for r in runs]
    med = _median(seconds)
    rows = runs[0]["rows_read"]
    out = {
        "seconds_median": med,
        "seconds_all": seconds,
        "rows_read": rows,
        "rows_per_second": rows / med,
        "peak_rss_mib_median": _median([r["memory_peak"]["ru_maxrss_mib"] for r in runs]),
        "peak_rss_mib_max": max(r["memory_peak"]["ru_maxrss_mib"] for r in runs),
        "peak_vmhwm_mib_median": _median([r["memory_peak"]["vmhwm_mib"] or 0 for r in runs]),
        "rss_before_call_mib_median": _median(
            [r["memory_before_call"]["ru_maxrss_mib"] for r in runs]
        ),
        "setup_seconds_median": _median([r["setup_seconds"] for r in runs]),
        "runs": runs,
    }
    return out


def _print_table(res: dict) -> None:
    ing, rin, peer = (
        res["ingest"]["hotspots_ingest"],
        res["ingest"]["hotspots_read_incidents"],
        res["ingest"]["peer"],
    )
    print()
    print(
        f"Input: {res['input']['path']}  ({res['input']['files']} files, {ing['rows_read']:,} rows)"
    )
    print(
        f"Machine: {res['machine']['cpu_model']}, {res['machine']['cpu_count']} CPUs, "
        f"Python {res['machine']['python']}"
    )
    print()
    print("1-2. Ingest (median of runs; each run in a fresh process)")
    header = (
        f"  {'':32s}{'seconds':>9s}{'(min-max)':>13s}{'rows/s':>10s}{'peak RSS MiB':>14s}"
        f"{'(before call)':>15s}{'peer/this':>11s}"
    )
    print(header)
    for label, r in (
        ("hotspots ingest -> GeoParquet", ing),
        ("hotspots read_incidents", rin),
        ("peer (pandas+sjoin+h3 loop)", peer),
    ):
        ratio = peer["seconds_median"] / r["seconds_median"]
        print(
            f"  {label:32s}{r['seconds_median']:9.2f}"
            f"{'(' + format(min(r['seconds_all']), '.2f') + '-' + format(max(r['seconds_all']), '.2f') + ')':>13s}"
            f"{r['rows_per_second']:10,.0f}"
            f"{r['peak_rss_mib_median']:14.0f}{r['rss_before_call_mib_median']:15.0f}{ratio:10.2f}x"
        )
    print(
        f"  accepted: ingest {ing['runs'][0]['accepted']:,}, read_incidents {rin['runs'][0]['accepted']:,}, "
        f"peer kept {peer['runs'][0]['rows_kept']:,} (of {peer['runs'][0]['rows_with_coordinates']:,} with coordinates)"
    )
    print(f"  ingest rejects: {ing['runs'][0]['rejects_by_reason']}")

    h = res["h3"]
    print()
    print(
        f"3. H3 res {h['resolution']} on {h['points']:,} points ({h['distinct_points']:,} distinct)"
    )
    print(f"  {'':40s}{'seconds':>9s}{'loop/this':>11s}")
    for label, key in (
        ("(a) cells_from_lonlat, all rows", "vectorised_seconds"),
        ("(b) factorize + cells_from_lonlat", "vectorised_dedup_seconds"),
        ("(c) h3.latlng_to_cell Python loop", "python_loop_seconds"),
    ):
        print(f"  {label:40s}{h[key]:9.3f}{h['python_loop_seconds'] / h[key]:10.1f}x")
    print(
        f"  identical cells: (a)=(c) {h['identical_vectorised_vs_loop']}, (b)=(c) {h['identical_dedup_vs_loop']}"
    )

    print()
    print("4. Borough assignment (EPSG:27700 points)")
    print(f"  {'':44s}{'assign s':>9s}{'sjoin s':>9s}{'sjoin/ours':>12s}{'same':>10s}")
    for label, key in (("real points", "real"), ("synthetic uniform points", "synthetic")):
        b = res["boroughs"][key]
        ag = b["agreement"]
        print(
            f"  {label + ' ({:,}, {:,} distinct)'.format(b['points'], b['distinct_points']):44s}"
            f"{b['assign_areas_seconds']:9.3f}{b['sjoin_seconds']:9.3f}"
            f"{b['sjoin_seconds'] / b['assign_areas_seconds']:11.1f}x{ag['same_fraction']:10.5f}"
        )
        print(
            f"    differ: {ag['differ']:,} (ours has area, sjoin none: {ag['differ_assign_has_area_sjoin_none']:,}"
            f" = on boundary {ag['of_which_on_boundary']:,} + snapped {ag['of_which_snapped']:,}"
            f" + other {ag['of_which_other']:,}; sjoin only: {ag['differ_sjoin_has_area_assign_none']:,};"
            f" different area: {ag['differ_both_have_different_area']:,})"
        )
        agn = b["agreement_nosnap"]
        print(
            f"    assign_areas(snap_m=0): {b['assign_areas_nosnap_seconds']:.3f} s, "
            f"sjoin/that {b['sjoin_seconds'] / b['assign_areas_nosnap_seconds']:.1f}x, "
            f"same {agn['same_fraction']:.5f} (differ {agn['differ']:,}, on boundary "
            f"{agn['of_which_on_boundary']:,})"
        )
        print(
            f"    extra: sjoin on distinct points {b['sjoin_dedup_seconds']:.3f} s "
            f"({b['sjoin_dedup_seconds'] / b['assign_areas_seconds']:.1f}x ours)"
        )
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input",
        type=Path,
        default=None,
        help="folder of data.police.uk street CSVs (default: shared Met burglary "
        "files if present, else data/police_uk/met_burglary)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timings per figure (median reported)"
    )
    parser.add_argument(
        "--peer-repeat", type=int, default=None, help="runs of the ingest peer (default: --repeat)"
    )
    parser.add_argument(
        "--synthetic-n",
        type=int,
        default=1_000_000,
        help="uniform random points for the synthetic borough case",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.input is None:
        args.input = SHARED_INPUT if SHARED_INPUT.is_dir() else BUNDLED_INPUT
    args.input = args.input.resolve()

    if args.worker:
        result = WORKERS[args.worker](args)
        with open(args.result_file, "w") as fh:
            json.dump(result, fh)
        return 0

    peer_repeat = args.peer_repeat or args.repeat
    files = _csv_files(args.input)
    started = time.time()
    load_start = os.getloadavg()
    print(
        f"Benchmarking {args.input} ({len(files)} files), repeat={args.repeat}, peer repeat={peer_repeat}"
    )
    print(
        f"parent process peak RSS {_memory()['ru_maxrss_mib']:.0f} MiB (kept small: children inherit it)"
    )

    runs: dict[str, list[dict]] = {"ingest": [], "read_incidents": [], "peer": []}
    # interleave so that drift in machine load affects all three alike
    for i in range(max(args.repeat, peer_repeat)):
        if i < args.repeat:
            runs["ingest"].append(_run_worker("ingest", args))
            runs["read_incidents"].append(_run_worker("read_incidents", args))
        if i < peer_repeat:
            runs["peer"].append(_run_worker("peer", args))
    h3_result = _run_worker("h3", args, repeat=args.repeat)
    borough_result = _run_worker("boroughs", args, repeat=args.repeat)

    ingest_summary = {
        "hotspots_ingest": _summarise_runs(runs["ingest"]),
        "hotspots_read_incidents": _summarise_runs(runs["read_incidents"]),
        "peer": _summarise_runs(runs["peer"]),
    }
    peer_s = ingest_summary["peer"]["seconds_median"]
    ratios = {
        "peer_over_ingest": peer_s / ingest_summary["hotspots_ingest"]["seconds_median"],
        "peer_over_read_incidents": peer_s
        / ingest_summary["hotspots_read_incidents"]["seconds_median"],
        "h3_loop_over_vectorised": h3_result["python_loop_seconds"]
        / h3_result["vectorised_seconds"],
        "h3_loop_over_vectorised_dedup": h3_result["python_loop_seconds"]
        / h3_result["vectorised_dedup_seconds"],
        "h3_vectorised_over_vectorised_dedup": h3_result["vectorised_seconds"]
        / h3_result["vectorised_dedup_seconds"],
        "sjoin_over_assign_areas_real": borough_result["real"]["sjoin_seconds"]
        / borough_result["real"]["assign_areas_seconds"],
        "sjoin_dedup_over_assign_areas_real": borough_result["real"]["sjoin_dedup_seconds"]
        / borough_result["real"]["assign_areas_seconds"],
        "sjoin_over_assign_areas_nosnap_real": borough_result["real"]["sjoin_seconds"]
        / borough_result["real"]["assign_areas_nosnap_seconds"],
        "sjoin_over_assign_areas_synthetic": borough_result["synthetic"]["sjoin_seconds"]
        / borough_result["synthetic"]["assign_areas_seconds"],
        "sjoin_over_assign_areas_nosnap_synthetic": borough_result["synthetic"]["sjoin_seconds"]
        / borough_result["synthetic"]["assign_areas_nosnap_seconds"],
    }
    results = {
        "benchmark": "bench/bench_ingest.py",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "total_wall_seconds": time.time() - started,
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "settings": {
            "repeat": args.repeat,
            "peer_repeat": peer_repeat,
            "h3_resolution": H3_RESOLUTION,
            "synthetic_n": args.synthetic_n,
            "synthetic_seed": SYNTHETIC_SEED,
            "timer": "time.perf_counter, median of repeats",
            "memory": "ru_maxrss and VmHWM of a fresh subprocess per measurement",
        },
        "input": {
            "path": str(args.input),
            "files": len(files),
            "bytes_on_disk": sum(f.stat().st_size for f in files),
        },
        "machine": _machine(),
        "ratios": ratios,
        "ingest": ingest_summary,
        "h3": h3_result,
        "boroughs": borough_result,
    }
    _print_table(results)
    print("Ratios (>1 means hotspots is faster):")
    for key, value in ratios.items():
        print(f"  {key:40s}{value:8.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out} (total {results['total_wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
