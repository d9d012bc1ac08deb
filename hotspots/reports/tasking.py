"""Printable tasking sheets: one A4 page per team with its places, visits, windows and a small map."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata

import geopandas as gpd
import numpy as np
import shapely

from hotspots.maps.tasking import _pct
from hotspots.task.plan import TREND_TEXT, TaskingPlan
from hotspots.task.timewindows import DAY_NAMES, HOURS_IN_WEEK

SVG_SIZE = 330


TASKED_COLOUR = "#d95f0e"


CANDIDATE_COLOURS = ("#f7f7f7", "#d9d9d9", "#bdbdbd", "#969696")


def _svg_path(geometry: shapely.Geometry, transform) -> str:  # type: ignore[no-untyped-def]
    parts = []
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon":
            continue
        for ring in [polygon.exterior, *polygon.interiors]:
            xy = transform(np.asarray(ring.coords))
            if len(xy) < 3:
                continue
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(f"M{points}Z")
    return " ".join(parts)


def team_svg(
    team: shapely.Geometry,
    places: gpd.GeoDataFrame,
    *,
    bases: gpd.GeoDataFrame | None = None,
    size: int = SVG_SIZE,
) -> str:
    """Draw a small map of one team: the area, its candidate places and numbered tasked places.

    Candidate places are grey by harm; tasked places are orange and carry their rank.
    Only numbers and fixed labels are written, so nothing from the input reaches the SVG.
    """
    shown = [team, *places.geometry.to_numpy()] if len(places) else [team]
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(shown, dtype=object))
    pad = 0.04 * max(maxx - minx, maxy - miny, 100.0)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    scale = size / max(maxx - minx, maxy - miny)
    width = (maxx - minx) * scale
    height = (maxy - miny) * scale

    def transform(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([(xy[:, 0] - minx) * scale, (maxy - xy[:, 1]) * scale])

    shapes = [
        f'<path d="{_svg_path(shapely.simplify(team, 2.0), transform)}" fill="#fbfbf8" '
        'stroke="#252525" stroke-width="1.6"/>'
    ]
    if len(places):
        harm = places["harm"].to_numpy(dtype=np.float64)
        ranks = np.argsort(np.argsort(-harm))
        classes = np.minimum(
            (len(CANDIDATE_COLOURS) * (1 - ranks / max(len(harm), 1))).astype(int),
            len(CANDIDATE_COLOURS) - 1,
        )
        for geometry, cls, visits in zip(
            places.geometry, classes, places["visits_per_week"], strict=True
        ):
            colour = TASKED_COLOUR if visits > 0 else CANDIDATE_COLOURS[cls]
            shapes.append(
                f'<path d="{_svg_path(geometry, transform)}" fill="{colour}" '
                'fill-opacity="0.85" stroke="#636363" stroke-width="0.5"/>'
            )
        tasked = places[places["visits_per_week"] > 0]
        for geometry, rank in zip(tasked.geometry, tasked["rank"], strict=True):
            x, y = transform(shapely.get_coordinates(shapely.centroid(geometry)))[0]
            shapes.append(
                f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="11" '
                'font-weight="bold" fill="#000" stroke="#fff" stroke-width="2.5" '
                f'paint-order="stroke">{int(rank)}</text>'
            )
    if bases is not None and len(bases):
        xy = transform(shapely.get_coordinates(bases.geometry.to_numpy()))
        for x, y in xy:
            if 0 <= x <= width and 0 <= y <= height:
                shapes.append(
                    f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" '
                    'fill="#2166ac" stroke="#fff" stroke-width="1"/>'
                )
    bar_m = _scale_bar_m(maxx - minx)
    bar_px = bar_m * scale
    shapes.append(
        f'<g font-size="10" fill="#333"><rect x="8" y="{height - 14:.1f}" width="{bar_px:.1f}" '
        f'height="4" fill="#333"/><text x="8" y="{height - 18:.1f}">{bar_m:,.0f} m</text></g>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" role="img" aria-label="map of the team area">'
        + "".join(shapes)
        + "</svg>"
    )


def _scale_bar_m(span_m: float) -> float:
    target = span_m / 4
    for step in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000):
        if step >= target:
            return float(step)
    return 50000.0


def heat_strip_svg(profile: np.ndarray, *, cell: int = 9) -> str:
    """Draw a 7 x 24 grid of a team's hour-of-week profile (darker = more harm)."""
    profile = np.asarray(profile, dtype=np.float64)
    top = profile.max() if profile.size and profile.max() > 0 else 1.0
    rects = []
    for how in range(HOURS_IN_WEEK):
        day, hour = divmod(how, 24)
        level = profile[how] / top
        shade = int(round(255 - 200 * level))
        rects.append(
            f'<rect x="{30 + hour * cell}" y="{day * cell}" width="{cell - 1}" '
            f'height="{cell - 1}" fill="rgb(255,{shade},{max(shade - 40, 0)})"/>'
        )
    labels = "".join(
        f'<text x="0" y="{day * cell + cell - 1}" font-size="8">{DAY_NAMES[day]}</text>'
        for day in range(7)
    )
    hours = "".join(
        f'<text x="{30 + h * cell}" y="{7 * cell + 9}" font-size="8">{h:02d}</text>'
        for h in range(0, 24, 3)
    )
    width = 30 + 24 * cell
    height = 7 * cell + 12
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="harm by hour of week">'
        + labels
        + hours
        + "".join(rects)
        + "</svg>"
    )


def render_tasking_sheets(plan: TaskingPlan) -> str:
    """Render ``tasking.html``: an overview page, then one printable A4 page per team.

    Every string from the input passes through jinja2's autoescaping; the maps are SVG
    built from numbers only.
    """
    import jinja2

    from hotspots.core.disclosure import suppress

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hotspots.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    options = plan.options
    places = plan.places
    exposure = plan.exposure
    summary = plan.summary()
    pages = []
    for code, team in plan.teams.iterrows():
        mine = places[places["team"] == code]
        bases = plan.bases
        tasked = mine[mine["visits_per_week"] > 0].sort_values("rank")
        rows = [
            {
                "rank": int(r["rank"]),
                "name": r["name"],
                "ward": r["ward"],
                "visits": int(r["visits_per_week"]),
                "per_day": _per_day(int(r["visits_per_week"]), options.dosage.days_per_week),
                "minutes": f"{r['minutes_per_visit']:g}",
                "windows": r["time_windows"],
                "share": _pct(r["harm_share"]),
                "incidents": suppress(r["incidents"], options.min_count),
                "trend": TREND_TEXT.get(str(r["trend"]), str(r["trend"]).replace("_", " ")),
                "base": (
                    f"{r['base']} ({r['walk_m']:,.0f} m)"
                    if isinstance(r.get("base"), str) and r.get("base")
                    else ""
                ),
                "reason": r["reason"],
            }
            for _, r in tasked.iterrows()
        ]
        audit = []
        if not exposure.empty:
            for _, e in exposure[exposure["team"] == code].iterrows():
                audit.append(
                    {
                        "group": e["group"],
                        "tasked": _pct(e["tasked_share"]),
                        "weighted": _pct(e["visit_weighted_share"]),
                        "area": _pct(e["area_share"]),
                        "ratio": "n/a" if not np.isfinite(e["ratio"]) else f"{e['ratio']:.2f}",
                        "flag": e["flag"],
                    }
                )
        profile = (
            plan.times.team_profiles.loc[code].to_numpy()
            if plan.times.timed and code in plan.times.team_profiles.index
            else None
        )
        pages.append(
            {
                "code": code,
                "name": team["name"],
                "borough": team["borough"],
                "kind": team["kind"],
                "note": team["note"],
                "budget_h": f"{team['budget_minutes'] / 60:,.2f}",
                "planned_h": f"{team['planned_minutes'] / 60:,.2f}",
                "unplanned_min": f"{team['unplanned_minutes']:,.0f}",
                "walk_h": f"{team['walk_minutes'] / 60:,.2f}",
                "visits": int(team["visits"]),
                "places": int(team["places_tasked"]),
                "candidates": int(team["candidates"]),
                "covered": _pct(team["harm_covered_share"]),
                "incidents": suppress(team["incidents"], options.min_count),
                "windows": team["time_windows"],
                "objective": f"{team['objective']:,.1f}",
                "greedy": f"{team['greedy_objective']:,.1f}",
                "plan_from": team["plan_from"],
                "map": team_svg(team.geometry, mine, bases=bases),
                "heat": heat_strip_svg(profile) if profile is not None else "",
                "rows": rows,
                "audit": audit,
            }
        )
    overview = [
        {
            "name": p["name"],
            "borough": p["borough"],
            "budget_h": p["budget_h"],
            "planned_h": p["planned_h"],
            "places": p["places"],
            "visits": p["visits"],
            "covered": p["covered"],
            "objective": p["objective"],
            "greedy": p["greedy"],
            "flags": ", ".join(
                f"{a['group']} {a['flag']} ({a['ratio']})"
                for a in p["audit"]
                if a["flag"] in ("over", "under")
            ),
        }
        for p in pages
    ]
    all_audit = []
    if not exposure.empty:
        for _, e in exposure[exposure["team"] == "ALL"].iterrows():
            all_audit.append(
                {
                    "group": e["group"],
                    "tasked": _pct(e["tasked_share"]),
                    "weighted": _pct(e["visit_weighted_share"]),
                    "area": _pct(e["area_share"]),
                    "ratio": "n/a" if not np.isfinite(e["ratio"]) else f"{e['ratio']:.2f}",
                    "flag": e["flag"],
                }
            )
    context = {
        "title": "Patrol tasking",
        "period_text": f"{plan.period[0]} to {plan.period[1]}",
        "crime_types": ", ".join(plan.crime_types) if plan.crime_types else "all in the input",
        "harm_table": plan.harm_table,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": metadata.version("hotspots"),
        "min_count": options.min_count,
        "summary": summary,
        "total_budget_h": f"{summary['budget_minutes'] / 60:,.1f}",
        "total_planned_h": f"{summary['planned_minutes'] / 60:,.1f}",
        "covered": _pct(summary["harm_covered_share"]),
        "objective": f"{summary['objective']:,.1f}",
        "greedy": f"{summary['greedy_objective']:,.1f}",
        "choices": list(plan.choices.items()),
        "timed": plan.times.timed,
        "time_note": plan.times.note,
        "dosage": options.dosage,
        "overview": overview,
        "all_audit": all_audit,
        "pages": pages,
        "caveat": plan.choices.get("exposure", ""),
    }
    return env.get_template("tasking.html").render(**context)


def _per_day(visits: int, days: int) -> str:
    per_day = visits / days
    if abs(per_day - round(per_day)) < 1e-9:
        return f"{int(round(per_day))} a day"
    return f"{per_day:.1f} a day on average"
