"""Benchmark: hotspots Gi* (analytic + FDR, and 999 permutations) against esda.G_Local.

Run from the repository root::

    python bench/bench_gi.py [--repeat N] [--esda-repeat N] [--out bench/results/gi.json]

Cases, all with real harm (Met burglary, the bundled 24 months 2022-09..2024-08, CCHI):

* ``london_res9``: every H3 resolution-9 cell over London's 33 boroughs (``make_grid``),
  17,279 cells, zeros included;
* ``disk_res10_30k``: the resolution-10 H3 disk of radius 100 around Trafalgar Square,
  30,301 cells (central London, about 13 km across);
* ``disk_res10_50k``: the radius-129 disk, 50,311 cells (the MISSION's 50,000-cell target).

Per case, in one process and one run: hotspots ``gi_star`` (analytic z, two-sided p,
Benjamini-Hochberg FDR, classes) against ``esda.G_Local(y, w, transform="B", star=True,
permutations=0)``, with the z-scores compared (must agree to 1e-6). esda is called two
ways: with a classic libpysal ``W`` (which rebuilds its sparse matrix from Python dicts on
every call, most of esda's time) and with a ``libpysal.graph.Graph`` (the newer API,
several times faster). On the 30k case also 999 conditional permutations: hotspots (one
core) against esda with ``W`` (its default ``n_jobs=-1``, i.e. both cores via joblib, and
``n_jobs=1``) and with a ``Graph`` (``n_jobs=1``). esda has no numba here, as installed.

Weights are built once per case, outside the timed calls, for all: the sparse matrix from
``h3_neighbours``, and the libpysal ``W`` (``WSP(...).to_W()``) and ``Graph``
(``Graph.from_sparse``) made from it; their build times are reported separately. Timed calls are interleaved (hotspots, esda,
hotspots, ...) and each figure is the median of the repeats, as wall-clock time and as
CPU time of this process (``time.process_time``). On a shared machine other processes
inflate the wall time of a 2 ms call far more than that of a 300 ms one, so the CPU-time
ratio is the fairest single-threaded comparison; esda's ``n_jobs=-1`` runs its
permutations in worker processes, whose CPU time is not counted, so that case is
compared by wall time only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from importlib import metadata
from pathlib import Path

import h3
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
INPUT = REPO / "data" / "police_uk" / "met_burglary"
DEFAULT_OUT = REPO / "bench" / "results" / "gi.json"
TRAFALGAR = (51.5080, -0.1281)
PERMUTATIONS = 999
SEED = 20240917
PACKAGES = ("hotspots", "numpy", "scipy", "pandas", "h3", "h3ronpy", "esda", "libpysal")


def _machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head = None
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        import numba  # noqa: F401

        versions["numba"] = metadata.version("numba")
    except ImportError:
        versions["numba"] = None
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "packages": versions,
        "git_head": head,
        "load_average": os.getloadavg(),
    }


class Timing:
    """Wall-clock and CPU seconds of repeated calls (CPU time is not inflated by other
    processes on a shared machine; it misses work done in child processes)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.result: object = None

    def run(self, call, repeat: int = 1) -> Timing:
        for _ in range(repeat):
            cpu, wall = time.process_time(), time.perf_counter()
            self.result = call()
            self.wall.append(time.perf_counter() - wall)
            self.cpu.append(time.process_time() - cpu)
        return self

    def summary(self) -> dict[str, object]:
        return {
            "wall_median_s": statistics.median(self.wall),
            "wall_min_s": min(self.wall),
            "cpu_median_s": statistics.median(self.cpu),
            "wall_s": self.wall,
            "cpu_s": self.cpu,
        }


def _ratios(peer: Timing, ours: Timing) -> dict[str, float]:
    return {
        "wall_median": statistics.median(peer.wall) / statistics.median(ours.wall),
        "wall_min": min(peer.wall) / min(ours.wall),
        "cpu_median": statistics.median(peer.cpu) / statistics.median(ours.cpu),
    }


def _harm_per_cell(incidents: pd.DataFrame, resolution: int) -> pd.Series:
    from hotspots.geo.grid import cell_strings, cells_from_lonlat

    cells = cell_strings(
        cells_from_lonlat(
            incidents["lon"].to_numpy(), incidents["lat"].to_numpy(), resolution=resolution
        )
    )
    return incidents["harm"].groupby(cells).sum()


def _cases(incidents: pd.DataFrame) -> dict[str, pd.Series]:
    import hotspots

    grid = hotspots.make_grid(hotspots.london_boroughs(), resolution=9)
    london = hotspots.count_in_cells(incidents, grid)["harm"]
    harm10 = _harm_per_cell(incidents, 10)
    centre = h3.latlng_to_cell(*TRAFALGAR, 10)
    cases = {"london_res9": london.rename("harm")}
    for name, radius in (("disk_res10_30k", 100), ("disk_res10_50k", 129)):
        ids = pd.Index(sorted(h3.grid_disk(centre, radius)), name="cell_id")
        cases[name] = harm10.reindex(ids, fill_value=0.0).rename("harm")
    return cases


def _esda_weights(weights, ids):
    import libpysal

    return libpysal.weights.WSP(weights, id_order=list(ids)).to_W(silence_warnings=True)


def _esda_graph(weights, ids):
    from libpysal import graph

    return graph.Graph.from_sparse(weights, ids=np.asarray(ids))


def run(args: argparse.Namespace) -> dict[str, object]:
    import hotspots

    machine = _machine()
    started = time.perf_counter()
    files = sorted(INPUT.glob("*.csv.gz"))
    incidents = hotspots.read_incidents(files).incidents
    cases = _cases(incidents)
    print(
        f"loaded {len(incidents):,} incidents from {len(files)} files; set-up "
        f"{time.perf_counter() - started:.1f} s"
    )
    results: dict[str, object] = {
        "machine": machine,
        "input": {
            "files": len(files),
            "incidents": len(incidents),
            "folder": str(INPUT.relative_to(REPO)),
        },
        "settings": {
            "repeat": args.repeat,
            "esda_repeat": args.esda_repeat,
            "permutations": PERMUTATIONS,
            "seed": SEED,
        },
        "cases": {},
    }
    for name, values in cases.items():
        results["cases"][name] = _case(name, values, args)
        results["load_average_after"] = os.getloadavg()
    results["total_s"] = time.perf_counter() - started
    return results


def _case(name: str, values: pd.Series, args: argparse.Namespace) -> dict[str, object]:
    import esda

    from hotspots.methods import gi as stats

    ids = values.index
    y = values.to_numpy(dtype=np.float64)
    build = Timing().run(lambda: stats.h3_neighbours(ids), 3)
    weights = build.result
    loop = Timing().run(lambda: [h3.grid_disk(c, 1) for c in ids])
    w_build = Timing().run(lambda: _esda_weights(weights, ids))
    w = w_build.result
    g_build = Timing().run(lambda: _esda_graph(weights, ids))
    g = g_build.result

    ours, peer, peer_graph = Timing(), Timing(), Timing()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(max(args.repeat, args.esda_repeat)):  # interleaved
            if r < args.repeat:
                ours.run(lambda: stats.gi_star(values, weights))
            if r < args.esda_repeat:
                peer.run(lambda: esda.G_Local(y, w, transform="B", star=True, permutations=0))
                peer_graph.run(
                    lambda: esda.G_Local(y, g, transform="B", star=True, permutations=0)
                )
    back_to_back = Timing().run(lambda: stats.gi_star(values, weights), args.repeat * 5)
    gi, reference = ours.result, peer.result
    max_dz = float(np.abs(gi["gi_z"].to_numpy() - reference.Zs).max())
    max_dz_graph = float(np.abs(gi["gi_z"].to_numpy() - peer_graph.result.Zs).max())
    if max(max_dz, max_dz_graph) > 1e-6:
        raise SystemExit(f"{name}: z differs from esda by {max(max_dz, max_dz_graph):g}")
    ratios = _ratios(peer, ours)
    ratios_graph = _ratios(peer_graph, ours)
    case: dict[str, object] = {
        "cells": len(ids),
        "zero_share": float((y == 0).mean()),
        "neighbour_pairs": int(weights.nnz),
        "h3_neighbours": build.summary(),
        "h3_grid_disk_python_loop": loop.summary(),
        "libpysal_W_from_sparse": w_build.summary(),
        "libpysal_Graph_from_sparse": g_build.summary(),
        "analytic": {
            "hotspots": ours.summary(),
            "hotspots_back_to_back": back_to_back.summary(),
            "esda": peer.summary(),
            "ratio_esda_over_hotspots": ratios,
            "esda_graph": peer_graph.summary(),
            "ratio_esda_graph_over_hotspots": ratios_graph,
            "max_abs_z_difference": max_dz,
            "max_abs_z_difference_graph": max_dz_graph,
            "max_abs_p_difference_two_sided": float(
                np.abs(gi["gi_p"].to_numpy() - 2 * reference.p_norm).max()
            ),
            "classes_fdr": {k: int(v) for k, v in gi["gi_class"].value_counts().items()},
        },
    }
    print(
        f"{name:15s} {len(ids):>6,} cells | hotspots analytic+FDR: cpu "
        f"{statistics.median(ours.cpu) * 1e3:5.2f} ms, wall {statistics.median(ours.wall) * 1e3:5.2f} "
        f"(min {min(ours.wall) * 1e3:4.2f}) | esda: cpu {statistics.median(peer.cpu) * 1e3:5.1f} ms, "
        f"wall {statistics.median(peer.wall) * 1e3:5.1f} (min {min(peer.wall) * 1e3:5.1f}) | "
        f"ratio cpu {ratios['cpu_median']:.0f}x, wall {ratios['wall_median']:.0f}x, "
        f"min {ratios['wall_min']:.0f}x | max|dz| {max_dz:.1e}\n"
        f"{'':22s} esda with a libpysal Graph: cpu {statistics.median(peer_graph.cpu) * 1e3:5.1f} ms, "
        f"wall {statistics.median(peer_graph.wall) * 1e3:5.1f} (min "
        f"{min(peer_graph.wall) * 1e3:5.1f}) | ratio cpu {ratios_graph['cpu_median']:.0f}x, "
        f"wall {ratios_graph['wall_median']:.0f}x, min {ratios_graph['wall_min']:.0f}x"
    )
    if name == args.permutation_case:
        case["permutations"] = _permutations(values, weights, w, g, y, args)
    return case


def _permutations(values, weights, w, g, y, args) -> dict[str, object]:
    import esda

    from hotspots.methods import gi as stats

    ours, peer, peer1, peer_graph = Timing(), Timing(), Timing(), Timing()
    for r in range(args.perm_repeat):  # interleaved
        ours.run(lambda: stats.gi_star(values, weights, permutations=PERMUTATIONS, seed=SEED))
        if r < args.esda_perm_repeat:
            peer.run(
                lambda: esda.G_Local(
                    y, w, transform="B", star=True, permutations=PERMUTATIONS, seed=SEED
                )
            )
            peer1.run(
                lambda: esda.G_Local(
                    y,
                    w,
                    transform="B",
                    star=True,
                    permutations=PERMUTATIONS,
                    seed=SEED,
                    n_jobs=1,
                    keep_simulations=False,
                )
            )
            peer_graph.run(
                lambda: esda.G_Local(
                    y,
                    g,
                    transform="B",
                    star=True,
                    permutations=PERMUTATIONS,
                    seed=SEED,
                    n_jobs=1,
                    keep_simulations=False,
                )
            )
    tracemalloc.start()
    stats.gi_star(values, weights, permutations=PERMUTATIONS, seed=SEED)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gi, reference = ours.result, peer.result
    ours_p = gi["gi_p_perm"].to_numpy()
    esda_two_sided = np.minimum(2 * reference.p_sim, 1.0)
    zero_hood = (weights @ (y > 0).astype(float)) == 0  # the whole neighbourhood is zero
    to_default, to_one = _ratios(peer, ours), _ratios(peer1, ours)
    to_graph = _ratios(peer_graph, ours)
    print(
        f"{'':15s} {PERMUTATIONS} permutations | hotspots (1 core): wall "
        f"{statistics.median(ours.wall):.3f} s (min {min(ours.wall):.3f}), cpu "
        f"{statistics.median(ours.cpu):.3f}, peak {peak / 2**20:.0f} MiB traced | esda n_jobs=-1: "
        f"wall {statistics.median(peer.wall):.2f} s | esda n_jobs=1: wall "
        f"{statistics.median(peer1.wall):.2f} s, cpu {statistics.median(peer1.cpu):.2f} | ratios "
        f"wall {to_default['wall_median']:.1f}x / {to_one['wall_median']:.1f}x, cpu (n_jobs=1) "
        f"{to_one['cpu_median']:.1f}x | esda Graph n_jobs=1: wall "
        f"{statistics.median(peer_graph.wall):.2f} s, ratio cpu {to_graph['cpu_median']:.1f}x"
    )
    by_perm = stats.gi_star(
        values, weights, permutations=PERMUTATIONS, seed=SEED, p_from="permutation"
    )["gi_class"].value_counts()
    by_perm_raw = stats.gi_star(
        values, weights, permutations=PERMUTATIONS, seed=SEED, p_from="permutation", fdr=False
    )["gi_class"].value_counts()
    return {
        "hotspots": ours.summary(),
        "hotspots_peak_traced_mib": peak / 2**20,
        "esda_n_jobs_default": peer.summary(),
        "esda_n_jobs_1": peer1.summary(),
        "ratio_esda_default_over_hotspots": to_default,
        "ratio_esda_1_over_hotspots": to_one,
        "esda_graph_n_jobs_1": peer_graph.summary(),
        "ratio_esda_graph_1_over_hotspots": to_graph,
        "p_agreement": {
            "corr_hotspots_vs_esda_two_sided": float(np.corrcoef(ours_p, esda_two_sided)[0, 1]),
            "median_abs_difference": float(np.median(np.abs(ours_p - esda_two_sided))),
            "cells_with_all_zero_neighbourhood": int(zero_hood.sum()),
            "esda_share_at_minimum_p_in_zero_neighbourhoods": float(
                (reference.p_sim[zero_hood] <= 1.5 / (PERMUTATIONS + 1)).mean()
            ),
            "hotspots_p_median_in_zero_neighbourhoods": float(np.median(ours_p[zero_hood])),
            "esda_two_sided_p_median_elsewhere": float(np.median(esda_two_sided[~zero_hood])),
            "hotspots_p_median_elsewhere": float(np.median(ours_p[~zero_hood])),
        },
        "classes_permutation_fdr": {k: int(v) for k, v in by_perm.items()},
        "classes_permutation_no_fdr": {k: int(v) for k, v in by_perm_raw.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of hotspots per figure")
    parser.add_argument("--esda-repeat", type=int, default=5, help="runs of esda analytic")
    parser.add_argument("--perm-repeat", type=int, default=3, help="runs with permutations")
    parser.add_argument("--esda-perm-repeat", type=int, default=2, help="esda permutation runs")
    parser.add_argument("--permutation-case", default="disk_res10_30k")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
