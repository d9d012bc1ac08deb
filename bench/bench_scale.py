"""Benchmark: ingest and detect at 1 M, 10 M and 60 M rows, against the plain approach.

Run from the repository root (the 60 M size takes the better part of an hour: run it in
the background)::

    nohup python bench/bench_scale.py > /tmp/bench_scale.log 2>&1 &
    python bench/bench_scale.py --sizes 1e6,1e7 --peer-max 1e6      # a quicker curve

Data come from ``bench/generate.py`` (data.police.uk-format monthly CSVs, 120 months,
seed 1) under ``--data-root`` (default ``/tmp/hotspots-scale``); a size whose folder
holds no ``generate.json`` is generated first. Stores and outputs go there too, never into
the repository.

For each size, each step runs in a fresh Python subprocess that reports its own wall time
and peak memory (``ru_maxrss`` and ``VmHWM`` from ``/proc/self/status``, as
``bench_ingest.py`` does; the parent imports only the standard library so it cannot leak
its peak into the children):

1. ``ingest``: :func:`hotspots.ingest.pipeline.ingest_to_store` of every file (validation,
   duplicates, H3, boroughs, harm, rejects, GeoParquet store) with ``--workers``
   processes.
2. ``detect``: :func:`hotspots.detect.points.run_detect` on the store (what ``hotspots detect
   STORE`` runs: the store streamed month by month, every method, cells.parquet, maps,
   report).
3. ``detect_in_memory`` (up to ``--in-memory-max`` rows): the previous store path,
   ``read_store`` of every row into a GeoDataFrame and ``detect_hotspots``: what memory
   would be without streaming.
4. Peers, the plain approach a notebook would use, at the sizes they can handle
   (``--peer-max``): ``peer_ingest`` is ``bench_ingest.py``'s peer (``pd.read_csv`` of
   everything, ``points_from_xy`` + ``to_crs``, an ``h3.latlng_to_cell`` loop,
   ``geopandas.sjoin`` with the boroughs, ``map`` of harm); ``peer_kde`` times
   ``sklearn.neighbors.KernelDensity`` (Epanechnikov, 250 m, harm as ``sample_weight``) fit
   on 10,000 of the incidents and scored on 2,000 random cells of the 50 m London grid,
   scaled to all incidents and all grid cells (its cost is linear in both; at 1 M rows it
   would run for days, so it is never run whole).

Every figure is written to ``--out`` (JSON) and the scaling curve to ``--plot`` (PNG).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = "1e6,1e7,6e7"
DEFAULT_OUT = REPO / "bench" / "results" / "scale.json"
DEFAULT_PLOT = REPO / "bench" / "results" / "scale.png"
MONTHS = 120
SEED = 1
KDE_FIT_POINTS = 10_000
KDE_QUERIES = 2_000
BANDWIDTH_M = 250.0
CELL_M = 50.0


def _memory() -> dict[str, float | None]:
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
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


# ---------------------------------------------------------------------------
# workers (fresh interpreters)


def _worker_ingest(args: argparse.Namespace) -> dict:
    from hotspots.ingest.pipeline import ingest_to_store
    from hotspots.ingest.read import london_settings

    settings = london_settings()
    before = _memory()
    t0 = time.perf_counter()
    result = ingest_to_store(
        [args.data], args.store, settings=settings, overwrite=True, workers=args.workers
    )
    seconds = time.perf_counter() - t0
    store_bytes = sum(p.stat().st_size for p in Path(args.store).rglob("*") if p.is_file())
    return {
        "seconds": seconds,
        "rows_read": result.rows_read,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "rejects_by_reason": result.manifest["rejects_by_reason"],
        "workers": args.workers,
        "store_bytes": store_bytes,
        "memory_before_call": before,
        "memory_peak": _memory(),
    }


def _worker_detect(args: argparse.Namespace) -> dict:
    from hotspots.ingest.read import london_settings
    from hotspots.runs.detect import run_detect

    settings = london_settings()
    before = _memory()
    t0 = time.perf_counter()
    result = run_detect([args.store], args.detect_out, settings=settings, overwrite=True)
    seconds = time.perf_counter() - t0
    cells = result.detection.cells
    return {
        "seconds": seconds,
        "incidents": int(cells["incidents"].sum()),
        "cells": len(cells),
        "clusters": len(result.detection.clusters),
        "distinct_points": result.detection.parameters["clusters"]["distinct_points"],
        "hot_cells": int(cells["gi_class"].astype(str).str.startswith("hot").sum()),
        "memory_before_call": before,
        "memory_peak": _memory(),
    }


def _worker_detect_in_memory(args: argparse.Namespace) -> dict:
    from hotspots.detect.points import detect_hotspots
    from hotspots.geo.boundaries import london_boroughs
    from hotspots.io.store import read_store

    study = london_boroughs()
    before = _memory()
    t0 = time.perf_counter()
    incidents = read_store(args.store)
    read_s = time.perf_counter() - t0
    detection = detect_hotspots(incidents, study)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "read_seconds": read_s,
        "incidents": len(incidents),
        "clusters": len(detection.clusters),
        "memory_before_call": before,
        "memory_peak": _memory(),
    }


def _worker_peer_ingest(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(REPO / "bench"))
    from bench_ingest import _worker_peer

    return _worker_peer(argparse.Namespace(input=args.data))


def _worker_peer_kde(args: argparse.Namespace) -> dict:
    import warnings

    import numpy as np
    from sklearn.neighbors import KernelDensity

    from hotspots.aggregates.store import open_dataset
    from hotspots.geo.boundaries import london_boroughs

    table = open_dataset(Path(args.store) / "incidents").to_table(columns=["geometry", "harm"])
    n = table.num_rows
    rng = np.random.default_rng(SEED)
    take = rng.choice(n, size=min(KDE_FIT_POINTS, n), replace=False)
    geometry = table.column("geometry").combine_chunks()
    x = geometry.field("x").to_numpy()[take]
    y = geometry.field("y").to_numpy()[take]
    w = table.column("harm").to_numpy()[take]
    del table, geometry
    x0, y0, x1, y1 = london_boroughs().polygons.total_bounds
    cols = int(np.ceil((x1 - x0) / CELL_M))
    rows = int(np.ceil((y1 - y0) / CELL_M))
    grid_cells = rows * cols
    flat = rng.choice(grid_cells, size=KDE_QUERIES, replace=False)
    queries = np.column_stack(
        [x0 + (flat % cols + 0.5) * CELL_M, y0 + (flat // cols + 0.5) * CELL_M]
    )
    model = KernelDensity(kernel="epanechnikov", bandwidth=BANDWIDTH_M)
    t0 = time.perf_counter()
    model.fit(np.column_stack([x, y]), sample_weight=w)
    fit_s = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t0 = time.perf_counter()
        model.score_samples(queries)
        score_s = time.perf_counter() - t0
    scale_points = n / len(take)
    estimate = fit_s * scale_points + score_s * (grid_cells / KDE_QUERIES) * scale_points
    return {
        "incidents": n,
        "fit_points": len(take),
        "queries": KDE_QUERIES,
        "grid_cells": grid_cells,
        "fit_seconds": fit_s,
        "score_seconds": score_s,
        "estimated_seconds_all": estimate,
        "method": "fit time x (n / fit points) + score time x (grid cells / queries) x "
        "(n / fit points): both linear (tree queries visit every point within the bandwidth)",
        "memory_peak": _memory(),
    }


def _worker_dask(args: argparse.Namespace) -> dict:
    """Ingest and detect on a LocalCluster of ``--workers`` single-threaded processes."""
    import distributed

    from hotspots.detect.points import detect_store
    from hotspots.geo.boundaries import london_boroughs
    from hotspots.ingest.pipeline import ingest_to_store
    from hotspots.ingest.read import london_settings

    def peak_mib() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    settings = london_settings()
    study = london_boroughs()
    cluster = distributed.LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with distributed.Client(cluster) as client:
        t0 = time.perf_counter()
        result = ingest_to_store(
            [args.data],
            args.store,
            settings=settings,
            overwrite=True,
            engine="dask",
            scheduler=client,
        )
        ingest_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        detection = detect_store(args.store, study, engine="dask", scheduler=client)
        detect_s = time.perf_counter() - t0
        workers = client.run(peak_mib)
    cluster.close()
    return {
        "workers": args.workers,
        "ingest_seconds": ingest_s,
        "detect_seconds": detect_s,
        "seconds": ingest_s + detect_s,
        "rows_read": result.rows_read,
        "incidents": int(detection.cells["incidents"].sum()),
        "worker_peak_mib": sorted(workers.values()),
        "memory_peak": _memory(),
    }


def _worker_plot(args: argparse.Namespace) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads(Path(args.results).read_text())
    sizes = results["sizes"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = (
        ("ingest", "hotspots ingest", "o-", "#0072B2"),
        ("detect", "hotspots detect (store streamed)", "s-", "#D55E00"),
        ("detect_in_memory", "detect, whole store in memory", "^--", "#CC79A7"),
        ("peer_ingest", "peer ingest (pandas + sjoin + h3 loop)", "x:", "#555555"),
    )
    for key, label, style, colour in series:
        xs = [s["rows"] for s in sizes if s.get(key)]
        if not xs:
            continue
        left.plot(
            xs, [s[key]["seconds"] for s in sizes if s.get(key)], style, color=colour, label=label
        )
        right.plot(
            xs,
            [s[key]["memory_peak"]["ru_maxrss_mib"] / 1024 for s in sizes if s.get(key)],
            style,
            color=colour,
            label=label,
        )
    for axis, title, unit in ((left, "Time", "seconds"), (right, "Peak memory", "GiB")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("rows (data.police.uk street crime, 120 months)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    right.axhline(24, color="black", linewidth=0.8)
    right.text(sizes[0]["rows"], 24 * 1.08, "machine RAM 24 GiB", fontsize=8)
    left.legend(fontsize=8)
    machine = results["machine"]
    fig.suptitle(
        f"hotspots at scale: {machine['cpu_count']} cores ({machine['cpu_model']}), "
        f"{machine['mem_total_gib']} GiB",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)
    return {"plot": str(args.plot)}


WORKERS = {
    "ingest": _worker_ingest,
    "detect": _worker_detect,
    "detect_in_memory": _worker_detect_in_memory,
    "peer_ingest": _worker_peer_ingest,
    "peer_kde": _worker_peer_kde,
    "dask": _worker_dask,
    "plot": _worker_plot,
}


# ---------------------------------------------------------------------------
# parent (standard library only)


def _run(name: str, **options: object) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = fh.name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name]
    for key, value in options.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    cmd += ["--result-file", result_path]
    t0 = time.perf_counter()
    try:
        completed = subprocess.run(cmd, cwd=REPO)
        if completed.returncode != 0:
            return {"failed": True, "returncode": completed.returncode}
        with open(result_path) as fh:
            result = json.load(fh)
    finally:
        os.unlink(result_path)
    result["process_seconds"] = time.perf_counter() - t0
    print(
        f"  [{name}] {result.get('seconds', 0):.1f} s in the call, "
        f"{result['process_seconds']:.1f} s with start-up",
        flush=True,
    )
    return result


def _machine() -> dict:
    model = None
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        total = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal:"))
    versions = {}
    for package in ("hotspots", "numpy", "pandas", "pyarrow", "geopandas", "scikit-learn", "h3"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "platform": platform.platform(),
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "mem_total_gib": round(total / 2**20, 1),
        "python": sys.version.split()[0],
        "packages": versions,
    }


def _ratio(a: dict | None, b: dict | None, key: str = "seconds") -> float | None:
    if not a or not b or a.get("failed") or b.get("failed"):
        return None
    if key == "memory":
        return a["memory_peak"]["ru_maxrss_mib"] / b["memory_peak"]["ru_maxrss_mib"]
    return a[key] / b[key]


def _size(text: str) -> int:
    return int(float(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="rows, comma-separated")
    parser.add_argument("--data-root", type=Path, default=Path("/tmp/hotspots-scale"))
    parser.add_argument("--workers", type=int, default=1, help="ingest processes")
    parser.add_argument("--peer-max", type=_size, default=10_000_000)
    parser.add_argument("--in-memory-max", type=_size, default=10_000_000)
    parser.add_argument(
        "--dask-sizes", default="", help="also run the Dask engine (2 workers) at these sizes"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--detect-out", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = WORKERS[args.worker](args)
        with open(args.result_file, "w") as fh:
            json.dump(result, fh)
        return 0

    started = time.time()
    results: dict = {
        "benchmark": "bench/bench_scale.py",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "load_average_start": list(os.getloadavg()),
        "machine": _machine(),
        "settings": {
            "months": MONTHS,
            "seed": SEED,
            "workers": args.workers,
            "peer_max": args.peer_max,
            "in_memory_max": args.in_memory_max,
            "memory": "ru_maxrss (and VmHWM) of a fresh subprocess per step",
        },
        "sizes": [],
    }
    for rows in (_size(s) for s in args.sizes.split(",")):
        folder = args.data_root / f"rows-{rows}"
        print(f"\n== {rows:,} rows ({folder})", flush=True)
        marker = folder / "generate.json"
        if not marker.exists():
            subprocess.run(
                [
                    sys.executable,
                    str(REPO / "bench" / "generate.py"),
                    "--rows",
                    str(rows),
                    "--months",
                    str(MONTHS),
                    "--out",
                    str(folder),
                    "--seed",
                    str(SEED),
                ],
                check=True,
                cwd=REPO,
            )
        generated = json.loads(marker.read_text())
        store = args.data_root / f"store-{rows}"
        entry: dict = {"rows": rows, "data": str(folder), "generated": generated}
        entry["ingest"] = _run("ingest", data=folder, store=store, workers=args.workers)
        entry["detect"] = _run("detect", store=store, detect_out=args.data_root / f"detect-{rows}")
        if rows <= args.in_memory_max:
            entry["detect_in_memory"] = _run("detect_in_memory", store=store)
        if rows <= args.peer_max:
            entry["peer_ingest"] = _run("peer_ingest", data=folder)
        entry["peer_kde"] = _run("peer_kde", store=store)
        if rows in {_size(s) for s in args.dask_sizes.split(",") if s}:
            entry["dask"] = _run(
                "dask", data=folder, store=args.data_root / f"store-dask-{rows}", workers=2
            )
        ingest, detect = entry["ingest"], entry["detect"]
        if not ingest.get("failed"):
            entry["ingest_rows_per_s"] = ingest["rows_read"] / ingest["seconds"]
        if not detect.get("failed") and not ingest.get("failed"):
            entry["detect_rows_per_s"] = ingest["accepted"] / detect["seconds"]
        peer_kde = entry["peer_kde"]
        entry["ratios"] = {
            "peer_ingest_time_over_ingest": _ratio(entry.get("peer_ingest"), ingest),
            "peer_ingest_memory_over_ingest": _ratio(entry.get("peer_ingest"), ingest, "memory"),
            "in_memory_detect_memory_over_streamed": _ratio(
                entry.get("detect_in_memory"), detect, "memory"
            ),
            "in_memory_detect_time_over_streamed": _ratio(entry.get("detect_in_memory"), detect),
            "peer_kde_estimate_over_detect": (
                peer_kde["estimated_seconds_all"] / detect["seconds"]
                if not peer_kde.get("failed") and not detect.get("failed")
                else None
            ),
        }
        results["sizes"].append(entry)
        print(json.dumps(entry["ratios"], indent=1), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    results["total_wall_seconds"] = time.time() - started
    results["load_average_end"] = list(os.getloadavg())
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    _run("plot", results=args.out, plot=args.plot)
    _print_table(results)
    return 0


def _print_table(results: dict) -> None:
    print(
        "\nrows        ingest s    MiB   rows/s | detect s    MiB | in-mem s    MiB | "
        "peer ingest s  MiB"
    )
    for s in results["sizes"]:

        def cell(key: str, s: dict = s) -> str:
            r = s.get(key)
            if not r or r.get("failed"):
                return f"{'-':>8s} {'-':>6s}"
            return f"{r['seconds']:8.1f} {r['memory_peak']['ru_maxrss_mib']:6.0f}"

        print(
            f"{s['rows']:<11,} {cell('ingest')} {s.get('ingest_rows_per_s', 0):8,.0f} | "
            f"{cell('detect')} | {cell('detect_in_memory')} | {cell('peer_ingest')}"
        )


if __name__ == "__main__":
    sys.exit(main())
