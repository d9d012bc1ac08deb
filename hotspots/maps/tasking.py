"""The tasking map: tasked places by visits a week, candidates, team outlines."""

from __future__ import annotations

import numpy as np

from hotspots.core import schema
from hotspots.task.plan import TaskingPlan

VISIT_COLOURS = ("#fdd0a2", "#fdae6b", "#f16913", "#a63603")
"""ColorBrewer Oranges (4): visits per week, light to dark."""


def draw_tasking_map(
    plan: TaskingPlan, *, title: str = "Patrol tasking", tiles: str | None = None
) -> object:
    """Map the plan: team areas, tasked places by visits per week, other candidates, bases.

    Returns
    -------
    folium.Map
        Offline (scripts inlined); tooltips escaped.
    """
    import folium

    from hotspots.core.disclosure import suppress
    from hotspots.maps.draw import (
        Legend,
        SharedShapes,
        add_title_and_legends,
        escape_text,
        offline_map,
    )

    teams = plan.teams
    places = plan.places
    options = plan.options
    bounds = teams.to_crs(schema.WGS84).total_bounds
    fmap = offline_map(
        location=((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2),
        zoom_start=13,
        tiles=tiles,
    )
    team_shapes = SharedShapes(
        teams,
        labels=[
            "Team",
            "Borough",
            "Budget (h/week)",
            "Planned (h/week)",
            "Places",
            "Harm covered",
        ],
        tooltips=[
            [
                str(t["name"]),
                str(t["borough"]),
                f"{t['budget_minutes'] / 60:,.1f}",
                f"{t['planned_minutes'] / 60:,.1f}",
                str(int(t["places_tasked"])),
                _pct(t["harm_covered_share"]),
            ]
            for _, t in teams.iterrows()
        ],
        decimals=4,
    )
    team_shapes.add_to(fmap)
    team_shapes.layer(
        name="Team areas",
        classes=[0] * len(teams),
        colours=("#ffffff",),
        line_weight=1.5,
        fill_opacity=0.05,
    ).add_to(fmap)
    legends = [
        Legend(
            "Team areas",
            [("#ffffff", f"{len(teams)} {teams['kind'].iloc[0]} teams")],
            layer="Team areas",
        )
    ]
    if len(places):
        place_shapes = SharedShapes(
            places,
            labels=[
                "Place",
                "Rank on the sheet",
                "Team",
                "Visits a week",
                "Minutes a visit",
                "When",
                "Share of area harm",
                "Incidents",
                "Status",
            ],
            tooltips=[
                [
                    str(p["name"]),
                    str(int(p["rank"])) if p["rank"] > 0 else "not tasked",
                    str(p["team_name"]),
                    str(int(p["visits_per_week"])),
                    f"{p['minutes_per_visit']:g}",
                    str(p["time_windows"]),
                    _pct(p["harm_share"]),
                    suppress(p["incidents"], options.min_count),
                    str(p["status"]),
                ]
                for _, p in places.iterrows()
            ],
        )
        place_shapes.add_to(fmap)
        visits = places["visits_per_week"].to_numpy()
        cap = options.dosage.max_visits_per_week
        low = options.dosage.min_visits_per_week
        uppers = np.unique(np.round(np.linspace(low, cap, len(VISIT_COLOURS) + 1)[1:]))
        uppers = uppers.astype(np.int64)
        colours = VISIT_COLOURS[len(VISIT_COLOURS) - len(uppers) :]
        visit_class = [
            None if v <= 0 else int(min(np.searchsorted(uppers, v, side="left"), len(uppers) - 1))
            for v in visits
        ]
        place_shapes.layer(
            name="Tasked places (visits a week)",
            classes=visit_class,
            colours=colours,
            line_weight=1.0,
            fill_opacity=0.85,
        ).add_to(fmap)
        rows = []
        lower = low
        for colour, upper in zip(colours, uppers, strict=True):
            text = f"{lower}" if lower == upper else f"{lower}-{upper}"
            rows.append((colour, f"{text} visits a week"))
            lower = int(upper) + 1
        legends.append(Legend("Tasked places", rows, layer="Tasked places (visits a week)"))
        other = [0 if v <= 0 else None for v in visits]
        place_shapes.layer(
            name="Other candidate places (not tasked)",
            classes=other,
            colours=("#bdbdbd",),
            show=False,
            line_weight=0.5,
            fill_opacity=0.6,
        ).add_to(fmap)
        legends.append(
            Legend(
                "Not tasked",
                [("#bdbdbd", "candidate place, not tasked")],
                layer="Other candidate places (not tasked)",
                shown=False,
            )
        )
    if len(plan.bases):
        group = folium.FeatureGroup(name="Bases (front counters, indicative)")
        for _, base in plan.bases.to_crs(schema.WGS84).iterrows():
            folium.CircleMarker(
                location=[base.geometry.y, base.geometry.x],
                radius=6,
                color="#2166ac",
                fill=True,
                fill_opacity=0.9,
                tooltip=escape_text(base["name"]),
            ).add_to(group)
        group.add_to(fmap)
        legends.append(
            Legend(
                "Bases",
                [("#2166ac", "base (front counter)")],
                layer="Bases (front counters, indicative)",
            )
        )
    folium.LayerControl(collapsed=False).add_to(fmap)
    add_title_and_legends(
        fmap,
        title=title,
        subtitle=(
            f"{plan.period[0]} to {plan.period[1]} · {options.budget_text()} · harm: "
            f"{plan.harm_table}"
        ),
        legends=legends,
        note=(
            f"Counts below {options.min_count} are shown as 'fewer than {options.min_count}'. "
            "Contains public sector information licensed under the Open Government Licence v3.0."
        ),
    )
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return fmap


def _pct(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{100 * value:.1f}%"
