"""HTML reports (jinja2 templates, matplotlib figures embedded as PNG).

Reports are single self-contained files: no script, no external asset, printable on A4.
Every string from the input passes through jinja2's autoescaping.
"""

from __future__ import annotations

import base64
import io
from importlib import metadata
from typing import TYPE_CHECKING

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hotspots.core.disclosure import suppress
from hotspots.maps.draw import GI_COLOURS, GI_LABELS, TREND_COLOURS

if TYPE_CHECKING:
    from hotspots.detect.points import Detection


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("hotspots.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def figure_lorenz(detection: Detection) -> str:
    """Plot the concentration (Lorenz) curves for incidents and harm."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, style in (("incidents", "--"), ("harm", "-")):
        conc = detection.concentration[key]
        curve = conc.lorenz
        ax.plot(
            1 - curve["share_of_places"][::-1],
            1 - curve["share_of_total"][::-1],
            style,
            label=f"{key} (Gini {conc.gini:.2f})",
        )
    ax.plot([0, 1], [0, 1], ":", color="grey", label="even spread")
    ax.set_xlabel(f"share of {detection.units}, highest first")
    ax.set_ylabel("share of total")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"Concentration of incidents and harm over {detection.units}")
    return _png(fig)


def figure_monthly(detection: Detection) -> str:
    """Plot incidents and harm per month."""
    monthly = detection.monthly
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    labels = [str(m) for m in monthly.index]
    ax.plot(labels, monthly["incidents"], marker="o", color="#0072B2", label="incidents")
    ax.set_ylabel("incidents", color="#0072B2")
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    twin.plot(labels, monthly["harm"], marker="s", color="#D55E00", label="harm (days)")
    twin.set_ylabel("harm (CCHI days)", color="#D55E00")
    twin.set_ylim(bottom=0)
    step = max(1, len(labels) // 12)
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")
    ax.grid(alpha=0.3)
    ax.set_title("Incidents and harm per month")
    return _png(fig)


def figure_classes(counts: dict[str, int], colours: dict[str, str], title: str) -> str:
    """Plot a horizontal bar chart of class counts."""
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * max(len(counts), 2) + 1))
    names = list(counts)
    ax.barh(
        names,
        [counts[n] for n in names],
        color=[colours.get(n, "#999999") for n in names],
        edgecolor="#333",
    )
    for i, n in enumerate(names):
        ax.text(counts[n], i, f" {counts[n]:,}", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("places")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


CALIBRATION_COMMAND = "python bench/bench_calibration.py --runs 40"
"""Reproduces the false-positive rates quoted below (from a clone; ``tests/test_calibration.py``
asserts them on every CI run)."""


def trust_rows(detection: Detection) -> list[tuple[str, str, str, str]]:
    """Rows of "How far to trust this map": layer, what it tests, its null, measured rate."""
    fdr_off = "no FDR" in detection.gi_p_label
    rows = [
        (
            "Harm per cell, rank",
            "nothing: the observed harm, ranked",
            "none (no significance is claimed)",
            "not a test; small counts fluctuate from year to year",
        ),
        (
            "Kernel density",
            "nothing: a smoothed surface of harm",
            "none",
            "not a test; the bandwidth is stated under automatic choices",
        ),
        (
            "Gi* hot and cold spots",
            "whether a neighbourhood's incident count is higher (lower) than chance",
            "spatial randomness: the counts of the exposed cells are exchangeable "
            "(exact distribution of the neighbourhood sum); cold only where there was "
            "exposure, else 'no data'",
            (
                "without FDR (--no-fdr) the rates below do not hold: about 10% of cells "
                "are called at 90% by chance"
                if fdr_off
                else "0 of 40 spatially random London maps (50,000 incidents, real harm mix) "
                "had any hot or cold cell; a planted 19-cell cluster at 3x the rate was "
                "found 40 of 40 times. The normal approximation on harm used before "
                "flagged hot cells in 39 of 40 random maps (9.5 a map)"
            ),
        ),
        (
            "Emerging hot spots",
            "patterns of significant months and a trend (ArcGIS rules)",
            "spatial randomness in every month (exact space-time Gi*, FDR per month and "
            "on the trend)",
            "0 of 20 maps of 12 random months had any cell in any class (the per-month "
            "version used before flagged about 25 cells in every map); only effects of "
            "about 4x or more are seen at this cell size",
        ),
        (
            "Harm clusters (DBSCAN)",
            "dense places of harm",
            "none: clusters are not tested against chance",
            "not a test; read them as places, not as evidence",
        ),
    ]
    if detection.units != "cells":
        rows[2] = (
            rows[2][0],
            rows[2][1],
            rows[2][2] + "; areas are treated as exchangeable units (similar resident "
            "populations by design), which was not measured for unequal areas",
            rows[2][3],
        )
    return rows


def render_detect_report(
    detection: Detection, *, manifest: dict[str, object], min_count: int
) -> str:
    """Render ``report.html`` for a detect run.

    Parameters
    ----------
    detection
        The result of :func:`hotspots.detect.points.detect_hotspots`.
    manifest
        The run's manifest (inputs, rejects, parameters).
    min_count
        Disclosure threshold: counts below it are shown as "fewer than N".
    """
    cells = detection.cells
    gi_counts = {
        GI_LABELS[k]: int((cells["gi_class"] == k).sum())
        for k in GI_COLOURS
        if (cells["gi_class"] == k).any()
    }
    gi_colours = {GI_LABELS[k]: v for k, v in GI_COLOURS.items()}
    trend_counts = {
        k: int((cells["trend"] == k).sum()) for k in TREND_COLOURS if (cells["trend"] == k).any()
    }
    hot = int(cells["gi_class"].astype(str).str.startswith("hot").sum())
    cold = int(cells["gi_class"].astype(str).str.startswith("cold").sum())
    figures = {
        "lorenz": figure_lorenz(detection),
        "monthly": figure_monthly(detection),
        "gi": figure_classes(
            gi_counts or {"none significant": 0}, gi_colours, "Gi* classes (cells)"
        ),
        "trend": figure_classes(trend_counts, TREND_COLOURS, "Emerging trend classes (cells)")
        if trend_counts
        else "",
    }
    top = cells.sort_values("rank").head(15)
    top_cells = [
        {
            "rank": int(r["rank"]),
            "cell": cell,
            "borough": r["borough"],
            "place": r.get("place", "") or "",
            "incidents": suppress(r["incidents"], min_count),
            "harm": "suppressed" if 0 < r["incidents"] < min_count else f"{r['harm']:,.0f}",
            "gi_class": r["gi_class"],
            "trend": r["trend"],
        }
        for cell, r in top.iterrows()
    ]
    clusters = detection.clusters
    top_clusters = []
    if clusters is not None and not clusters.empty:
        for _, r in clusters.sort_values("rank").head(15).iterrows():
            top_clusters.append(
                {
                    "rank": int(r["rank"]),
                    "place": r["place"],
                    "borough": r["borough"],
                    "incidents": suppress(r["incidents"], min_count),
                    "harm": "suppressed"
                    if 0 < r["incidents"] < min_count
                    else f"{r['harm']:,.0f}",
                    "area": f"{r['area_km2']:.3f}",
                }
            )
    total_harm = float(cells["harm"].sum())

    def share(mask) -> str:  # type: ignore[no-untyped-def]
        return _pct(float(cells.loc[mask, "harm"].sum()) / total_harm) if total_harm else "n/a"

    top1 = cells["rank"] <= max(1, round(0.01 * len(cells)))
    hot_mask = cells["gi_class"].astype(str).str.startswith("hot")
    cluster_mask = cells["cluster"] >= 0
    trend_mask = cells["trend"].isin(["new", "consecutive", "intensifying", "persistent"])
    methods = [
        {
            "name": "Harm per cell",
            "what": "top 1% of cells by harm",
            "cells": f"{int(top1.sum()):,}",
            "share": share(top1),
        },
        {
            "name": "Gi* (hot)",
            "what": f"significant hot cells ({detection.gi_p_label})",
            "cells": f"{int(hot_mask.sum()):,}",
            "share": share(hot_mask),
        },
        {
            "name": "Harm clusters",
            "what": "cells in a DBSCAN harm cluster",
            "cells": f"{int(cluster_mask.sum()):,}",
            "share": share(cluster_mask),
        },
        {
            "name": "Emerging",
            "what": "new, consecutive, intensifying or persistent hot cells",
            "cells": f"{int(trend_mask.sum()):,}",
            "share": share(trend_mask),
        },
    ]
    inputs = [
        {
            "name": (i.get("member") or str(i["path"]).rsplit("/", 1)[-1]),
            "read": f"{i.get('rows_read', 0):,}",
            "accepted": f"{i.get('accepted', 0):,}",
            "rejected": f"{i.get('rejected', 0):,}",
            "sha": str(i["sha256"])[:16] + "…",
        }
        for i in manifest.get("inputs", [])  # type: ignore[union-attr]
    ]
    rejects = manifest.get("rejects_by_reason", {}) or {}
    n_clusters = 0 if clusters is None else len(clusters)
    context = {
        "title": detection.title,
        "unit": detection.unit,
        "units": detection.units,
        "place_heading": detection.place_heading,
        "period_text": f"{detection.period[0]} to {detection.period[1]}",
        "crime_types": ", ".join(detection.crime_types)
        if detection.crime_types
        else "all in the input",
        "harm_table": detection.harm_table,
        "version": metadata.version("hotspots"),
        "min_count": min_count,
        "total_incidents": int(cells["incidents"].sum()),
        "total_harm": total_harm,
        "conc_count": detection.concentration["incidents"],
        "conc_harm": detection.concentration["harm"],
        "hot_cells": hot,
        "gi_p_label": detection.gi_p_label,
        "pct": _pct,
        "figures": figures,
        "top_cells": top_cells,
        "top_clusters": top_clusters,
        "cluster_text": (
            f"{n_clusters} harm-weighted DBSCAN clusters; {detection.choices.get('clusters', '')}"
        ),
        "gi_text": (
            f"{hot:,} hot and {cold:,} cold {detection.units} are significant at 90% or more "
            + (
                "with no false-discovery-rate control (--no-fdr: expect about 10% of all "
                f"{detection.units} to be called at 90% by chance)"
                if "no FDR" in detection.gi_p_label
                else "after Benjamini-Hochberg false-discovery-rate control"
            )
            + f"; classes are drawn from the {detection.gi_p_label}. "
            + detection.choices.get("gi_star", "")
        ),
        "trend_text": detection.choices.get("emerging", ""),
        "trust": trust_rows(detection),
        "rank_text": detection.choices.get("rank", ""),
        "calibration_command": CALIBRATION_COMMAND,
        "police_generated": detection.choices.get("police_generated", ""),
        "methods": methods,
        "choices": [(k, v) for k, v in detection.choices.items()],
        "inputs": inputs,
        "rejects_text": ", ".join(f"{k} {v:,}" for k, v in rejects.items()) or "none",
    }
    return _environment().get_template("detect_report.html").render(**context)
