"""Benchmark: hotspots.methods.kde.kernel_density vs sklearn KernelDensity and the exact kernel sum.

Run from the repository root::

    python bench/bench_kde.py [--n 1000000] [--repeat 15] [--sklearn-n 1000,10000]
                              [--exact-cells 150] [--out bench/results/kde.json]

What it does (all in one process, one run, so the ratios share the machine's load):

1. Builds ``--n`` synthetic weighted points around real London locations: the bundled Met
   burglary points (``data/police_uk/met_burglary``, read with ``read_incidents``) resampled
   with replacement and jittered by a normal of ``--jitter-m`` (25 m) per axis, seeded. Each
   point gets the CCHI harm of a data.police.uk crime type drawn uniformly from the default
   harm table (0 to 365 days), so the weights vary.
2. Times ``kernel_density`` (quartic, 250 m, 50 m cells) over London's bounding box
   (``london_boroughs().polygons.total_bounds``): the first call, then ``--repeat`` calls.
   Extras: the same with the borough outline and edge correction, the Epanechnikov kernel
   (sklearn's nearest kernel), ``choose_bandwidth(rule="scott")`` and ``density_per_cell``
   on the 17,279 H3 resolution-9 cells.
3. Times ``sklearn.neighbors.KernelDensity(kernel="epanechnikov", bandwidth=250)`` with
   ``sample_weight`` at the small sizes of ``--sklearn-n`` (``fit`` + ``score_samples`` on
   every grid-cell centre) and extrapolates linearly in n to ``--n``; the measured growth
   between the sizes is recorded to show whether linear is fair. kernel_density is timed on
   the same points, and the two surfaces are compared (same kernel definition). As a
   cross-check, sklearn is also fitted on all ``--n`` points and timed on a random sample of
   ``--sklearn-queries`` grid-cell centres; queries are independent, so that time scaled to
   the whole grid estimates sklearn at full size directly.
4. Compares the 1M-point quartic surface with ``exact_kernel_sum`` (the direct O(n m) sum) on
   sampled grid cells: the 100 highest cells, then ``--exact-cells`` cells drawn at random from
   each band of density (1-2%, 2-5%, 5-10%, 10-25% and 25-100% of the maximum) and from all
   cells with density > 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BURGLARY = REPO / "data" / "police_uk" / "met_burglary"
DEFAULT_OUT = REPO / "bench" / "results" / "kde.json"
SEED = 20240917
BANDWIDTH_M = 250.0
CELL_M = 50.0
BANDS = ((0.01, 0.02), (0.02, 0.05), (0.05, 0.10), (0.10, 0.25), (0.25, 1.01))
PACKAGES = ("hotspots", "numpy", "scipy", "scikit-learn", "shapely", "geopandas", "h3")


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def _summary(seconds: list[float]) -> dict:
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "runs_s": seconds,
    }


def _errors(binned: np.ndarray, exact: np.ndarray, peak: float) -> dict:
    """Relative errors where the exact density is > 0; absolute ones against the peak."""
    positive = exact > 0
    relative = np.abs(binned[positive] - exact[positive]) / exact[positive]
    return {
        "cells": len(exact),
        "cells_exact_zero": int((~positive).sum()),
        "max_binned_where_exact_zero_over_peak": float(binned[~positive].max() / peak)
        if (~positive).any()
        else 0.0,
        "max_abs_error_over_peak": float(np.abs(binned - exact).max() / peak),
        "max_abs_rel_error": float(relative.max()),
        "mean_abs_rel_error": float(relative.mean()),
        "p99_abs_rel_error": float(np.quantile(relative, 0.99)),
        "share_of_cells_within_1pct": float(np.mean(relative < 0.01)),
        "mean_signed_rel_error": float(
            np.mean((binned[positive] - exact[positive]) / exact[positive])
        ),
        "sum_rel_error": float(binned.sum() / exact.sum() - 1),
    }


def _synthetic(n: int, jitter_m: float, seed: int):
    from hotspots import default_harm_table, read_incidents

    incidents = read_incidents(BURGLARY).incidents
    x0 = incidents.geometry.x.to_numpy()
    y0 = incidents.geometry.y.to_numpy()
    harms = default_harm_table().weights.to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(x0), n)
    x = x0[pick] + rng.normal(0.0, jitter_m, n)
    y = y0[pick] + rng.normal(0.0, jitter_m, n)
    harm = harms[rng.integers(0, len(harms), n)]
    return x, y, harm, len(x0), harms


def _machine() -> dict:
    model = None
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
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
        "python": sys.version.split()[0],
        "packages": versions,
        "git_head": git,
        "load_average_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--sklearn-n", default="1000,10000")
    parser.add_argument("--sklearn-queries", type=int, default=2000)
    parser.add_argument("--exact-cells", type=int, default=150)
    parser.add_argument("--jitter-m", type=float, default=25.0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    sklearn_sizes = [int(v) for v in args.sklearn_n.split(",") if v]

    machine = _machine()
    from sklearn.neighbors import KernelDensity

    import hotspots
    from hotspots.methods.bandwidth import choose_bandwidth
    from hotspots.methods.kde import density_per_cell, exact_kernel_sum, kernel_density

    setup_s, (x, y, harm, n_source, harms) = _timed(_synthetic, args.n, args.jitter_m, SEED)
    boroughs = hotspots.london_boroughs()
    bounds = tuple(float(b) for b in boroughs.polygons.total_bounds)
    print(
        f"{args.n:,} points resampled from {n_source:,} Met burglary points "
        f"(jitter {args.jitter_m:g} m, harm from {len(harms)} CCHI values), set-up {setup_s:.1f} s"
    )
    results: dict = {
        "machine": machine,
        "settings": {
            "n": args.n,
            "repeat": args.repeat,
            "seed": SEED,
            "jitter_m": args.jitter_m,
            "bandwidth_m": BANDWIDTH_M,
            "cell_size_m": CELL_M,
            "bounds": bounds,
            "source_points": n_source,
            "total_harm": float(harm.sum()),
        },
    }

    # --- 2. kernel_density at full size ------------------------------------------------------
    def ours(kernel: str = "quartic", **extra):
        return kernel_density(
            x,
            y,
            weights=harm,
            bandwidth=BANDWIDTH_M,
            kernel=kernel,
            cell_size_m=CELL_M,
            bounds=bounds,
            **extra,
        )

    first_s, surface = _timed(ours)
    runs = [_timed(ours)[0] for _ in range(args.repeat)]
    quartic = {"first_call_s": first_s, **_summary(runs)}
    quartic["grid_shape"] = list(surface.shape)
    quartic["grid_cells"] = int(surface.values.size)
    quartic["harm_on_grid_share"] = surface.total_harm / float(harm.sum())
    results["kernel_density_quartic"] = quartic
    print(
        f"kernel_density quartic, {surface.shape[1]} x {surface.shape[0]} cells: first "
        f"{first_s:.3f} s, median {quartic['median_s']:.3f} s (min {quartic['min_s']:.3f})"
    )
    epan_runs = [_timed(ours, "epanechnikov")[0] for _ in range(max(3, args.repeat // 2))]
    results["kernel_density_epanechnikov"] = _summary(epan_runs)
    edge_runs = [
        _timed(ours, study_area=boroughs, edge_correction=True)[0]
        for _ in range(max(3, args.repeat // 2))
    ]
    results["kernel_density_quartic_edge_corrected"] = _summary(edge_runs)
    scott_s, scott = _timed(choose_bandwidth, x, y, weights=harm, rule="scott")
    results["choose_bandwidth_scott"] = {"seconds": scott_s, "detail": scott.detail}
    cells = hotspots.make_grid(boroughs, resolution=9)
    per_cell_runs = []
    for _ in range(3):
        seconds, per_cell = _timed(density_per_cell, surface, cells)
        per_cell_runs.append(seconds)
    results["density_per_cell"] = {
        **_summary(per_cell_runs),
        "cells": len(cells),
        "nan_cells": int(per_cell.isna().sum()),
    }
    print(
        f"  epanechnikov median {results['kernel_density_epanechnikov']['median_s']:.3f} s, "
        f"edge-corrected {results['kernel_density_quartic_edge_corrected']['median_s']:.3f} s, "
        f"density_per_cell {results['density_per_cell']['median_s']:.3f} s, "
        f"Scott {scott_s:.3f} s ({scott.bandwidth_m:,.0f} m)"
    )

    # --- 3. sklearn at small n -----------------------------------------------------------------
    centres_x, centres_y = np.meshgrid(surface.x_centres, surface.y_centres)
    centres = np.column_stack([centres_x.ravel(), centres_y.ravel()])
    sklearn_rows = []
    for size in sklearn_sizes:
        xs, ys, ws = x[:size], y[:size], harm[:size]
        model = KernelDensity(kernel="epanechnikov", bandwidth=BANDWIDTH_M)
        fit_s, _ = _timed(model.fit, np.column_stack([xs, ys]), sample_weight=ws)
        with warnings.catch_warnings():  # log(0) for cells beyond every kernel
            warnings.simplefilter("ignore", RuntimeWarning)
            score_s, log_density = _timed(model.score_samples, centres)
        theirs = np.exp(log_density) * ws.sum() * 1e6  # harm per km²
        ours_runs = []
        for _ in range(args.repeat):
            seconds, small = _timed(
                kernel_density,
                xs,
                ys,
                weights=ws,
                bandwidth=BANDWIDTH_M,
                kernel="epanechnikov",
                cell_size_m=CELL_M,
                bounds=bounds,
            )
            ours_runs.append(seconds)
        mine = small.values.ravel()
        busy = theirs > 0.01 * theirs.max()
        row = {
            "n": size,
            "sklearn_fit_s": fit_s,
            "sklearn_score_samples_s": score_s,
            "sklearn_total_s": fit_s + score_s,
            "ours": _summary(ours_runs),
            "ratio_sklearn_over_ours": (fit_s + score_s) / statistics.median(ours_runs),
            "agreement": {
                "max_abs_diff_over_peak": float(np.abs(mine - theirs).max() / theirs.max()),
                "sum_rel_diff": float(mine.sum() / theirs.sum() - 1),
                "cells_above_1pct_of_max": int(busy.sum()),
                "mean_abs_rel_diff_above_1pct": float(
                    np.mean(np.abs(mine[busy] - theirs[busy]) / theirs[busy])
                ),
            },
        }
        sklearn_rows.append(row)
        print(
            f"sklearn epanechnikov n={size:,}: fit {fit_s:.3f} s + score {score_s:.2f} s; ours "
            f"{row['ours']['median_s']:.3f} s; ratio {row['ratio_sklearn_over_ours']:,.0f}x; "
            f"max diff {row['agreement']['max_abs_diff_over_peak']:.2%} of peak"
        )
    # cross-check of the extrapolation: sklearn at the full n, on a random sample of the
    # grid-cell centres (queries are independent, so time scales with their number)
    query_rng = np.random.default_rng(SEED + 2)
    queries = query_rng.choice(len(centres), size=args.sklearn_queries, replace=False)
    model = KernelDensity(kernel="epanechnikov", bandwidth=BANDWIDTH_M)
    fit_full_s, _ = _timed(model.fit, np.column_stack([x, y]), sample_weight=harm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        score_part_s, _ = _timed(model.score_samples, centres[queries])
    full_estimate = fit_full_s + score_part_s * len(centres) / len(queries)
    results["sklearn_full_n_sampled_queries"] = {
        "n": args.n,
        "queries": len(queries),
        "fit_s": fit_full_s,
        "score_samples_s": score_part_s,
        "estimated_full_grid_s": full_estimate,
        "ratio_over_ours_quartic": full_estimate / quartic["median_s"],
        "ratio_over_ours_epanechnikov": full_estimate
        / results["kernel_density_epanechnikov"]["median_s"],
    }
    print(
        f"sklearn at n={args.n:,} on {len(queries):,} random cell centres: fit {fit_full_s:.2f} s,"
        f" score {score_part_s:.2f} s -> whole grid about {full_estimate:,.0f} s"
    )
    largest = sklearn_rows[-1]
    extrapolated = largest["sklearn_total_s"] * args.n / largest["n"]
    growth = None
    if len(sklearn_rows) >= 2:
        a, b = sklearn_rows[0], sklearn_rows[-1]
        growth = float(
            np.log(b["sklearn_total_s"] / a["sklearn_total_s"]) / np.log(b["n"] / a["n"])
        )
    affine = None
    if len(sklearn_rows) >= 2:
        a, b = sklearn_rows[0], sklearn_rows[-1]
        slope = (b["sklearn_total_s"] - a["sklearn_total_s"]) / (b["n"] - a["n"])
        affine = a["sklearn_total_s"] + slope * (args.n - a["n"])
    results["sklearn"] = {
        "rows": sklearn_rows,
        "scaling_exponent_measured": growth,
        "affine_extrapolated_s_at_n": affine,
        "extrapolated_s_at_n": extrapolated,
        "ratio_extrapolated_sklearn_over_ours_quartic": extrapolated / quartic["median_s"],
        "ratio_extrapolated_sklearn_over_ours_epanechnikov": extrapolated
        / results["kernel_density_epanechnikov"]["median_s"],
    }
    print(
        f"sklearn extrapolated linearly to n={args.n:,}: {extrapolated:,.0f} s "
        f"(measured growth n^{growth:.2f}); ratio to ours "
        f"{results['sklearn']['ratio_extrapolated_sklearn_over_ours_quartic']:,.0f}x"
    )

    # --- 4. the exact sum on sampled cells -----------------------------------------------------
    rng = np.random.default_rng(SEED + 1)
    values = surface.values
    flat = values.ravel()
    top = np.argsort(flat)[-100:]
    peak = flat.max()
    groups = {"top_100": top}
    population = {"top_100": len(top)}
    for low, high in BANDS:
        band = np.flatnonzero((flat >= low * peak) & (flat < high * peak))
        band = np.setdiff1d(band, top)
        name = f"band_{low:.0%}_to_{min(high, 1):.0%}_of_max"
        groups[name] = rng.choice(band, size=min(args.exact_cells, len(band)), replace=False)
        population[name] = len(band)
    positive = np.setdiff1d(np.flatnonzero(flat > 0), top)
    groups["any_positive"] = rng.choice(
        positive, size=min(args.exact_cells, len(positive)), replace=False
    )
    population["any_positive"] = len(positive)
    exact_rows = {}
    exact_seconds = 0.0
    for name, picked in groups.items():
        rows, cols = np.unravel_index(picked, values.shape)
        seconds, exact = _timed(
            exact_kernel_sum,
            x,
            y,
            harm,
            surface.x_centres[cols],
            surface.y_centres[rows],
            bandwidth_m=BANDWIDTH_M,
        )
        exact_seconds += seconds
        exact_rows[name] = {
            "grid_cells_in_group": population[name],
            **_errors(values[rows, cols], exact, float(peak)),
        }
        print(
            f"exact sum, {name} ({len(picked)} cells): max {exact_rows[name]['max_abs_rel_error']:.3%}"
            f", mean {exact_rows[name]['mean_abs_rel_error']:.3%}, "
            f"p99 {exact_rows[name]['p99_abs_rel_error']:.3%}, "
            f"within 1%: {exact_rows[name]['share_of_cells_within_1pct']:.1%}, "
            f"max error / peak {exact_rows[name]['max_abs_error_over_peak']:.3%}"
        )
    per_cell_exact = exact_seconds / sum(len(g) for g in groups.values())
    results["exact"] = {
        **exact_rows,
        "seconds_per_cell": per_cell_exact,
        "extrapolated_full_grid_s": per_cell_exact * values.size,
        "ratio_exact_full_grid_over_ours": per_cell_exact * values.size / quartic["median_s"],
    }
    print(
        f"exact sum: {per_cell_exact * 1e3:.1f} ms per cell, "
        f"{per_cell_exact * values.size / 3600:.1f} h for the grid"
    )
    results["machine"]["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
