"""False-positive rates of every significance layer on spatially random London incidents.

    python bench/bench_calibration.py [--runs 40]

Incidents fall on the London H3 resolution-9 grid at random (in proportion to cell area),
with harm weights drawn from the bundled City of London street crime (the real all-crime
mix). Prints, per layer, the share of maps with any hot (cold) cell and the false cells per
map, plus the power to find a planted 19-cell cluster at about 3x the rate. The detect
report's "How far to trust this map" section quotes these numbers;
``tests/test_calibration.py`` checks them on every CI run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots import london_boroughs, make_grid, read_incidents
from hotspots.methods import emerging
from hotspots.methods import gi as stats

DATA = Path(__file__).resolve().parent.parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--emerging-runs", type=int, default=20)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    grid = make_grid(london_boroughs(), resolution=9)
    weights = stats.h3_neighbours(grid.index)
    two_ring = weights @ weights
    harm_mix = read_incidents(DATA / "police_uk" / "city_of_london_street").incidents["harm"]
    harm_mix = harm_mix.to_numpy(dtype=np.float64)
    share = grid["area_km2"].to_numpy() / grid["area_km2"].sum()
    rng = np.random.default_rng(20261203)
    n = len(grid)
    layers = {
        "gi_exact_counts": {"hot_maps": 0, "cold_maps": 0, "false_cells": 0},
        "gi_normal_harm (before)": {"hot_maps": 0, "cold_maps": 0, "false_cells": 0},
    }
    found = 0
    for _ in range(args.runs):
        cells = rng.choice(n, size=args.incidents, p=share)
        counts = np.bincount(cells, minlength=n)
        harm = np.bincount(cells, weights=rng.choice(harm_mix, size=len(cells)), minlength=n)
        for name, result in (
            (
                "gi_exact_counts",
                stats.gi_star(counts, weights, p_from="exact", exposure=counts > 0),
            ),
            ("gi_normal_harm (before)", stats.gi_star(harm, weights, p_from="analytic")),
        ):
            classes = result["gi_class"].astype(str)
            layers[name]["hot_maps"] += bool(classes.str.startswith("hot").any())
            layers[name]["cold_maps"] += bool(classes.str.startswith("cold").any())
            layers[name]["false_cells"] += int(classes.str.startswith(("hot", "cold")).sum())
        centre = int(rng.integers(n))
        planted = counts.copy()
        ring = two_ring[centre].indices
        planted[ring] += rng.poisson(2 * counts.mean(), size=len(ring))
        hit = stats.gi_star(planted, weights, p_from="exact", exposure=planted > 0)
        found += str(hit["gi_class"].iloc[centre]).startswith("hot")
    months = pd.period_range("2023-09", periods=12, freq="M")
    emerging_maps = emerging_cells = 0
    for _ in range(args.emerging_runs):
        cube = np.stack(
            [np.bincount(rng.choice(n, 4_000, p=share), minlength=n) for _ in months], 1
        )
        result = emerging.emerging_hotspots(
            pd.DataFrame(cube, index=grid.index, columns=months), weights
        )
        flagged = int((result["trend"] != "no_pattern").sum())
        emerging_maps += flagged > 0
        emerging_cells += flagged
    report = {
        "runs": args.runs,
        "incidents_per_map": args.incidents,
        "cells": n,
        "layers": {
            k: {
                "maps_with_any_hot": f"{v['hot_maps']}/{args.runs}",
                "maps_with_any_cold": f"{v['cold_maps']}/{args.runs}",
                "false_cells_per_map": v["false_cells"] / args.runs,
            }
            for k, v in layers.items()
        },
        "emerging_exact_space_time": {
            "maps_with_any_class": f"{emerging_maps}/{args.emerging_runs}",
            "false_cells_per_map": emerging_cells / args.emerging_runs,
            "incidents_per_month": 4_000,
            "months": 12,
        },
        "planted_19_cell_cluster_3x_found": f"{found}/{args.runs}",
        "seconds": round(time.perf_counter() - start, 1),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
