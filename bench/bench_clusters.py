"""Benchmark: harm-weighted DBSCAN (hotspots.find_clusters) vs plain sklearn DBSCAN.

Run from the repository root::

    python bench/bench_clusters.py [--sizes 1000000] [--repeat 5] [--peer-repeat 3]
                                   [--peer-sizes 50000,100000,200000,400000,600000]
                                   [--hdbscan-n 1000000] [--out bench/results/clusters.json]

hotspots runs at ``--sizes`` and at every peer size. The peer (about 10 bytes and some tens
of nanoseconds per neighbour-list entry, and the entries grow with the square of the
stacking) is not run at the target size but extrapolated from the peer sizes: see
``_entry_fit`` and the README section.

Incidents are built by resampling, with replacement and a fixed seed, the rows of the
bundled Met burglary files (``data/police_uk/met_burglary``, 24 months, 106,216 rows on
37,832 distinct data.police.uk snap points), so that points stack as they do in real data.
Each resampled incident keeps its row's snap point, location, borough and H3 cell, and gets
an offence drawn from the all-crime mix of the bundled City of London street files, with
its harm from the default CCHI table. The peer is plain ``sklearn.cluster.DBSCAN`` on the
raw points with ``sample_weight=harm``: the approach a notebook would take.

Every measurement runs in a fresh Python subprocess (``--worker``); the parent imports only
the standard library. A worker builds its input, then resets its peak-RSS counter
(``echo 5 > /proc/self/clear_refs``) so that ``VmHWM`` afterwards is the peak *during* the
measured calls; the resident size just before them is reported too. Timings use
``time.perf_counter`` around the call only; each figure is the median of the repeats.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BURGLARY = REPO / "data" / "police_uk" / "met_burglary"
CITY = REPO / "data" / "police_uk" / "city_of_london_street"
DEFAULT_OUT = REPO / "bench" / "results" / "clusters.json"
SEED = 20241121
EPS_M = 150.0
PACKAGES = ("hotspots", "numpy", "pandas", "geopandas", "shapely", "scipy", "scikit-learn")


# ---------------------------------------------------------------------------
# helpers shared by parent and workers (standard library only)


def _status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


# ---------------------------------------------------------------------------
# workers


def _worker_pool(args: argparse.Namespace) -> dict:
    """Read the bundled data once; write the resampling pool for the other workers."""
    import pandas as pd

    from hotspots.harm.table import default_harm_table
    from hotspots.ingest.read import read_incidents

    burglary = read_incidents(BURGLARY).incidents
    city = read_incidents(CITY).incidents
    pool = pd.DataFrame(
        {
            "x": burglary.geometry.x.to_numpy(),
            "y": burglary.geometry.y.to_numpy(),
            "borough_code": burglary["borough_code"].to_numpy(),
            "borough": burglary["borough"].to_numpy(),
            "location": burglary["location"].to_numpy(),
            "cell_id": burglary["cell_id"].to_numpy(),
        }
    )
    pool.to_parquet(args.pool)
    mix = city["offence"].astype(str).value_counts(normalize=True).sort_index()
    weights = default_harm_table("police_uk").weights
    return {
        "pool_rows": len(pool),
        "pool_distinct_points": int(len(pool[["x", "y"]].drop_duplicates())),
        "offence_mix_rows": len(city),
        "offence_mix": mix.to_dict(),
        "harm": {offence: float(weights[offence]) for offence in mix.index},
    }


def _build(args: argparse.Namespace):
    """Resample ``args.n`` incidents from the pool (deterministic for a given n and seed)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    meta = json.loads(Path(args.meta).read_text())
    pool = pd.read_parquet(args.pool)
    rng = np.random.default_rng([SEED, args.n])
    rows = rng.integers(0, len(pool), size=args.n)
    offences = np.array(sorted(meta["offence_mix"]))
    shares = np.array([meta["offence_mix"][o] for o in offences])
    offence = rng.choice(offences, size=args.n, p=shares / shares.sum())
    harm = pd.Series(meta["harm"]).reindex(offence).to_numpy(dtype=np.float64)
    sample = pool.iloc[rows].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "offence": pd.Categorical(offence),
            "harm": harm,
            "borough_code": sample["borough_code"].astype("string").to_numpy(),
            "borough": sample["borough"].astype("string").to_numpy(),
            "location": sample["location"].astype("string").to_numpy(),
            "cell_id": sample["cell_id"].astype("string").to_numpy(),
        },
        index=pd.Index(np.char.add("r", np.arange(args.n).astype(str)), name="incident_id"),
    )
    geometry = shapely.points(sample["x"].to_numpy(), sample["y"].to_numpy())
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:27700")


def _integer_min_harm(incidents) -> int:
    """The automatic min_harm at this size, rounded: sklearn needs an integer min_samples."""
    from hotspots.methods.clusters import _automatic_min_harm, _collapse

    value, _ = _automatic_min_harm(_collapse(incidents), incidents["harm"].to_numpy(), eps_m=EPS_M)
    return max(1, round(value))


def _neighbour_entries(incidents) -> int:
    """Sum over raw points of their eps-neighbours (self included): what sklearn stores.

    Computed exactly from the distinct points: sum over points p of count(p) times the
    incidents within eps_m of p.
    """
    import numpy as np
    from scipy.spatial import cKDTree

    from hotspots.methods.clusters import _collapse

    stacks = _collapse(incidents)
    count = stacks.count.astype(np.float64)
    pairs = cKDTree(stacks.xy).query_pairs(EPS_M, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    around = (
        count
        + np.bincount(i, weights=count[j], minlength=len(count))
        + np.bincount(j, weights=count[i], minlength=len(count))
    )
    return int((count * around).sum())


def _timed(function, repeat: int) -> tuple[list[float], object]:
    seconds, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - t0)
    return seconds, result


def _worker_hotspots(args: argparse.Namespace) -> dict:
    """find_clusters with its defaults (automatic min_harm), then labels only, then per cell."""
    import gc

    from hotspots.methods.clusters import (
        _collapse,
        _dbscan_labels,
        clusters_per_cell,
        find_clusters,
    )

    incidents = _build(args)
    min_harm = _integer_min_harm(incidents)
    entries = _neighbour_entries(incidents)
    gc.collect()
    rss_before = _status_mib("VmRSS")
    reset = _reset_peak()
    seconds, result = _timed(lambda: find_clusters(incidents, eps_m=EPS_M), args.repeat)
    peak = _status_mib("VmHWM")

    def labels_only():
        stacks = _collapse(incidents)
        return _dbscan_labels(stacks.xy, stacks.harm, eps_m=EPS_M, min_weight=min_harm)

    label_seconds, _ = _timed(labels_only, args.repeat)
    cell_seconds, per_cell = _timed(lambda: clusters_per_cell(result, incidents), args.repeat)
    return {
        "n": args.n,
        "seconds": seconds,
        "labels_only_seconds": label_seconds,
        "labels_only_min_harm": min_harm,
        "neighbour_entries": entries,
        "clusters_per_cell_seconds": cell_seconds,
        "cells": len(per_cell),
        "cells_in_a_cluster": int((per_cell >= 0).sum()),
        "rss_before_call_mib": rss_before,
        "peak_rss_during_call_mib": peak if reset else None,
        "peak_reset_worked": reset,
        "parameters": result.parameters,
        "top_clusters": result.polygons.drop(columns="geometry").head(5).to_dict("index"),
    }


def _worker_hdbscan(args: argparse.Namespace) -> dict:
    """find_clusters(method="hdbscan") once, for the record (no peer)."""
    import gc

    from hotspots.methods.clusters import find_clusters

    incidents = _build(args)
    gc.collect()
    rss_before = _status_mib("VmRSS")
    reset = _reset_peak()
    seconds, result = _timed(
        lambda: find_clusters(incidents, method="hdbscan", eps_m=EPS_M), args.repeat
    )
    return {
        "n": args.n,
        "seconds": seconds,
        "rss_before_call_mib": rss_before,
        "peak_rss_during_call_mib": _status_mib("VmHWM") if reset else None,
        "parameters": result.parameters,
    }


def _worker_peer(args: argparse.Namespace) -> dict:
    """Plain sklearn DBSCAN on the raw points with sample_weight=harm; then the label check."""
    import gc

    import numpy as np
    from sklearn.cluster import DBSCAN

    incidents = _build(args)
    min_harm = _integer_min_harm(incidents)
    entries = _neighbour_entries(incidents)
    gc.collect()
    rss_before = _status_mib("VmRSS")
    reset = _reset_peak()

    def plain():
        xy = np.column_stack([incidents.geometry.x.to_numpy(), incidents.geometry.y.to_numpy()])
        model = DBSCAN(eps=EPS_M, min_samples=min_harm)
        return model.fit(xy, sample_weight=incidents["harm"].to_numpy()).labels_

    seconds, labels = _timed(plain, args.repeat)
    peak = _status_mib("VmHWM")

    # Label check (after the memory reading): find_clusters with the same integer min_harm.
    from hotspots.methods.clusters import find_clusters

    ours = find_clusters(incidents, eps_m=EPS_M, min_harm=min_harm).labels.to_numpy()
    same_noise = bool(np.array_equal(ours == -1, labels == -1))
    pairs = set(zip(ours[ours >= 0].tolist(), labels[labels >= 0].tolist(), strict=True))
    bijection = len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    return {
        "n": args.n,
        "min_harm": min_harm,
        "neighbour_entries": entries,
        "seconds": seconds,
        "rss_before_call_mib": rss_before,
        "peak_rss_during_call_mib": peak if reset else None,
        "peak_reset_worked": reset,
        "clusters": int(labels.max()) + 1,
        "noise": int((labels == -1).sum()),
        "labels_identical_partition": bool(same_noise and bijection),
    }


WORKERS = {
    "pool": _worker_pool,
    "hotspots": _worker_hotspots,
    "hdbscan": _worker_hdbscan,
    "peer": _worker_peer,
}


# ---------------------------------------------------------------------------
# parent


def _run_worker(name: str, args: argparse.Namespace, **extra) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = fh.name
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--result-file",
        result_path,
        "--pool",
        str(args.pool),
        "--meta",
        str(args.meta),
    ]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    t0 = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO)
    with open(result_path) as fh:
        result = json.load(fh)
    os.unlink(result_path)
    label = ", ".join(f"{k}={v}" for k, v in extra.items())
    print(f"  [{name} {label}] {time.perf_counter() - t0:.1f} s wall", flush=True)
    return result


def _machine() -> dict:
    model = None
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_total = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_total = round(int(line.split()[1]) / 2**20, 1)
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
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
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "mem_total_gib": mem_total,
        "python": sys.version.split()[0],
        "packages": versions,
        "git_head": git,
    }


def _power_fit(sizes: list[int], values: list[float]) -> tuple[float, float]:
    """Least-squares fit of log(value) = log(a) + b log(n); returns (a, b)."""
    xs = [math.log(n) for n in sizes]
    ys = [math.log(v) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return math.exp(my - b * mx), b


def _entry_fit(sizes: list[int], entries: list[int], values: list[float]) -> tuple[float, float]:
    """Least-squares fit of value = a * n + b * entries (no intercept); returns (a, b)."""
    snn = sum(n * n for n in sizes)
    see = sum(e * e for e in entries)
    sne = sum(n * e for n, e in zip(sizes, entries, strict=True))
    snv = sum(n * v for n, v in zip(sizes, values, strict=True))
    sev = sum(e * v for e, v in zip(entries, values, strict=True))
    det = snn * see - sne * sne
    return (snv * see - sev * sne) / det, (sev * snn - snv * sne) / det


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=[1_000_000])
    parser.add_argument(
        "--peer-sizes", type=_sizes, default=[50_000, 100_000, 200_000, 400_000, 600_000]
    )
    parser.add_argument("--repeat", type=int, default=5, help="timings per hotspots figure")
    parser.add_argument("--peer-repeat", type=int, default=3, help="timings per peer figure")
    parser.add_argument("--hdbscan-n", type=int, default=1_000_000, help="0 skips HDBSCAN")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    parser.add_argument("--pool", help=argparse.SUPPRESS)
    parser.add_argument("--meta", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.worker and len(set(args.peer_sizes)) < 2:
        parser.error("--peer-sizes needs at least two sizes for the extrapolation")

    if args.worker:
        result = WORKERS[args.worker](args)
        with open(args.result_file, "w") as fh:
            json.dump(result, fh, default=str)
        return 0

    started = time.time()
    load_start = os.getloadavg()
    print(f"parent peak RSS {_status_mib('VmHWM'):.0f} MiB (standard library only)")
    with tempfile.TemporaryDirectory(prefix="bench_clusters_") as tmp:
        args.pool = Path(tmp) / "pool.parquet"
        args.meta = Path(tmp) / "meta.json"
        args.meta.write_text("{}")
        pool = _run_worker("pool", args)
        args.meta.write_text(json.dumps(pool))

        hotspots: dict[int, dict] = {}
        peer: dict[int, dict] = {}
        # Interleave sizes so that drift in machine load hits both sides alike.
        for n in sorted(set(args.sizes) | set(args.peer_sizes)):
            if n in args.peer_sizes:
                peer[n] = _run_worker("peer", args, n=n, repeat=args.peer_repeat)
            if n in args.sizes or n in args.peer_sizes:
                hotspots[n] = _run_worker("hotspots", args, n=n, repeat=args.repeat)
        hdbscan = (
            _run_worker("hdbscan", args, n=args.hdbscan_n, repeat=1) if args.hdbscan_n else None
        )

    def median_of(run: dict, key: str = "seconds") -> float:
        return _median(run[key])

    def best_of(run: dict, key: str = "seconds") -> float:
        return float(min(run[key]))

    def above_baseline(run: dict) -> float:
        return run["peak_rss_during_call_mib"] - run["rss_before_call_mib"]

    peer_sizes = sorted(peer)
    # Fits use the best of the repeats: on a shared machine it is the least disturbed run.
    peer_seconds = [best_of(peer[n]) for n in peer_sizes]
    peer_memory = [above_baseline(peer[n]) for n in peer_sizes]
    peer_entries = [peer[n]["neighbour_entries"] for n in peer_sizes]
    target = max(args.sizes)
    top = hotspots[target]
    target_entries = top["neighbour_entries"]
    # Main extrapolation: sklearn's work and memory follow the neighbour lists it builds.
    time_per_n, time_per_entry = _entry_fit(peer_sizes, peer_entries, peer_seconds)
    memory_per_n, memory_per_entry = _entry_fit(peer_sizes, peer_entries, peer_memory)
    extrapolated_seconds = time_per_n * target + time_per_entry * target_entries
    extrapolated_mib = memory_per_n * target + memory_per_entry * target_entries
    # Check the model out of sample: fit without the largest peer size, predict it.
    holdout = None
    if len(peer_sizes) >= 3:
        h_tn, h_te = _entry_fit(peer_sizes[:-1], peer_entries[:-1], peer_seconds[:-1])
        h_mn, h_me = _entry_fit(peer_sizes[:-1], peer_entries[:-1], peer_memory[:-1])
        holdout = {
            "n": peer_sizes[-1],
            "predicted_seconds": h_tn * peer_sizes[-1] + h_te * peer_entries[-1],
            "measured_seconds": peer_seconds[-1],
            "predicted_mib": h_mn * peer_sizes[-1] + h_me * peer_entries[-1],
            "measured_mib": peer_memory[-1],
        }
    # Upper estimate: the local growth between the two largest peer sizes, as a power of
    # the entries (time per entry rises with neighbourhood size: memory traffic).
    local_time_b = math.log(peer_seconds[-1] / peer_seconds[-2]) / math.log(
        peer_entries[-1] / peer_entries[-2]
    )
    local_memory_b = math.log(peer_memory[-1] / peer_memory[-2]) / math.log(
        peer_entries[-1] / peer_entries[-2]
    )
    local = {
        "exponent_seconds": local_time_b,
        "exponent_memory": local_memory_b,
        "seconds_at_target": peer_seconds[-1]
        * (target_entries / peer_entries[-1]) ** local_time_b,
        "mib_at_target": peer_memory[-1] * (target_entries / peer_entries[-1]) ** local_memory_b,
    }
    # For comparison: a plain power law in n (ignores that stacking grows with n).
    time_a, time_b = _power_fit(peer_sizes, peer_seconds)
    memory_a, memory_b = _power_fit(peer_sizes, peer_memory)
    hotspots_seconds = best_of(top)
    hotspots_mib = above_baseline(top)
    summary = {
        "target_n": target,
        "hotspots_seconds_median": median_of(top),
        "hotspots_seconds_best": best_of(top),
        "hotspots_labels_only_seconds_median": median_of(top, "labels_only_seconds"),
        "hotspots_clusters_per_cell_seconds_median": median_of(top, "clusters_per_cell_seconds"),
        "hotspots_peak_rss_during_call_mib": top["peak_rss_during_call_mib"],
        "hotspots_rss_before_call_mib": top["rss_before_call_mib"],
        "hotspots_mib_above_baseline": hotspots_mib,
        "target_neighbour_entries": target_entries,
        "peer_entry_model": {
            "seconds_per_point": time_per_n,
            "seconds_per_neighbour_entry": time_per_entry,
            "mib_per_point": memory_per_n,
            "mib_per_neighbour_entry": memory_per_entry,
            "bytes_per_neighbour_entry": memory_per_entry * 2**20,
        },
        "peer_extrapolated_seconds": extrapolated_seconds,
        "peer_extrapolated_mib_above_baseline": extrapolated_mib,
        # Whole-process estimate: the same input frame as hotspots at the target size, plus
        # the peer's extra imports (measured at the largest peer size), plus its working set.
        "peer_extrapolated_peak_rss_mib": top["rss_before_call_mib"]
        + peer[peer_sizes[-1]]["rss_before_call_mib"]
        - hotspots[peer_sizes[-1]]["rss_before_call_mib"]
        + extrapolated_mib,
        "peer_entry_model_holdout": holdout,
        "peer_local_entries_power_law": local,
        "ratio_peer_local_power_law_over_hotspots_seconds_best": local["seconds_at_target"]
        / hotspots_seconds,
        "peer_power_law": {
            "seconds": {"a": time_a, "b": time_b, "at_target": time_a * target**time_b},
            "mib_above_baseline": {
                "a": memory_a,
                "b": memory_b,
                "at_target": memory_a * target**memory_b,
            },
        },
        "ratio_peer_extrapolated_over_hotspots_seconds_best": extrapolated_seconds
        / hotspots_seconds,
        "ratio_peer_extrapolated_over_hotspots_seconds_median": extrapolated_seconds
        / median_of(top),
        "ratio_peer_extrapolated_over_hotspots_memory_above_baseline": extrapolated_mib
        / hotspots_mib,
        "measured": {
            str(n): {
                "peer_seconds": median_of(peer[n]),
                "peer_seconds_best": best_of(peer[n]),
                "find_clusters_seconds": median_of(hotspots[n]),
                "find_clusters_seconds_best": best_of(hotspots[n]),
                "peer_over_find_clusters_seconds_best": best_of(peer[n]) / best_of(hotspots[n]),
                "labels_only_seconds": median_of(hotspots[n], "labels_only_seconds"),
                "peer_over_find_clusters_seconds": median_of(peer[n]) / median_of(hotspots[n]),
                "peer_over_labels_only_seconds": median_of(peer[n])
                / median_of(hotspots[n], "labels_only_seconds"),
                "peer_mib_above_baseline": above_baseline(peer[n]),
                "find_clusters_mib_above_baseline": above_baseline(hotspots[n]),
                "labels_identical_partition": peer[n]["labels_identical_partition"],
            }
            for n in peer_sizes
            if n in hotspots
        },
    }
    results = {
        "benchmark": "bench/bench_clusters.py",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "total_wall_seconds": time.time() - started,
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "settings": {
            "sizes": args.sizes,
            "peer_sizes": args.peer_sizes,
            "repeat": args.repeat,
            "peer_repeat": args.peer_repeat,
            "eps_m": EPS_M,
            "seed": SEED,
            "timer": "time.perf_counter around the call; median and best of the repeats "
            "are both kept; fits and headline ratios use the best (least disturbed) run",
            "memory": "VmHWM of a fresh subprocess after resetting it (clear_refs 5) just "
            "before the measured calls; VmRSS just before them is the baseline",
            "extrapolation": "least squares value = a * n + b * entries (no intercept) on "
            "the peer sizes, where entries = sum over raw points of their eps-neighbours "
            "(self included), computed exactly at every size from the distinct points; a "
            "log-log power law in n is reported alongside for comparison",
        },
        "pool": pool,
        "machine": _machine(),
        "hotspots": {str(n): run for n, run in hotspots.items()},
        "peer": {str(n): run for n, run in peer.items()},
        "hdbscan": hdbscan,
        "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")

    print()
    header = (
        f"{'case':<36}{'n':>11}{'entries':>13}{'median s':>10}{'best s':>8}{'before':>8}"
        f"{'peak':>7}"
    )
    print(header + "  (MiB)")
    for n in sorted(set(hotspots) | set(peer)):
        if n in peer:
            run = peer[n]
            print(
                f"{'sklearn DBSCAN, raw, sample_weight':<36}{n:>11,}"
                f"{run['neighbour_entries']:>13,}{median_of(run):>10.3f}{best_of(run):>8.3f}"
                f"{run['rss_before_call_mib']:>8.0f}{run['peak_rss_during_call_mib']:>7.0f}"
                f"  same labels: {run['labels_identical_partition']}"
            )
        if n in hotspots:
            run = hotspots[n]
            print(
                f"{'hotspots find_clusters':<36}{n:>11,}{run['neighbour_entries']:>13,}"
                f"{median_of(run):>10.3f}{best_of(run):>8.3f}{run['rss_before_call_mib']:>8.0f}"
                f"{run['peak_rss_during_call_mib']:>7.0f}"
            )
            print(
                f"{'  labels only (collapse + DBSCAN)':<36}{n:>11,}{'':>13}"
                f"{median_of(run, 'labels_only_seconds'):>10.3f}"
                f"{best_of(run, 'labels_only_seconds'):>8.3f}"
            )
    print(
        f"peer model: {time_per_entry * 1e9:.1f} ns and "
        f"{memory_per_entry * 2**20:.1f} bytes per neighbour entry; at {target:,} "
        f"({target_entries:,} entries): {extrapolated_seconds:.1f} s, "
        f"{extrapolated_mib:,.0f} MiB above baseline"
    )
    if holdout:
        print(
            f"model check, fitted without n={holdout['n']:,}: predicts "
            f"{holdout['predicted_seconds']:.2f} s / {holdout['predicted_mib']:.0f} MiB, "
            f"measured {holdout['measured_seconds']:.2f} s / {holdout['measured_mib']:.0f} MiB"
        )
    print(
        f"local growth between the two largest peer sizes: seconds ~ entries^"
        f"{local_time_b:.2f} -> {local['seconds_at_target']:.1f} s, memory ~ entries^"
        f"{local_memory_b:.2f} -> {local['mib_at_target']:,.0f} MiB"
    )
    print(
        f"(plain power law in n instead: seconds ~ n^{time_b:.2f} -> "
        f"{time_a * target**time_b:.1f} s, memory ~ n^{memory_b:.2f} -> "
        f"{memory_a * target**memory_b:,.0f} MiB)"
    )
    print(
        f"ratio (extrapolated peer / hotspots) at {target:,}: "
        f"{summary['ratio_peer_extrapolated_over_hotspots_seconds_best']:.0f}x time (best of "
        "repeats), "
        f"{summary['ratio_peer_extrapolated_over_hotspots_memory_above_baseline']:.0f}x "
        "memory above baseline"
    )
    print(
        f"whole-process peak at {target:,}: hotspots {top['peak_rss_during_call_mib']:,.0f} MiB, "
        f"peer estimated {summary['peer_extrapolated_peak_rss_mib']:,.0f} MiB"
    )
    if hdbscan:
        print(f"hdbscan at {hdbscan['n']:,}: {hdbscan['seconds'][0]:.2f} s")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
