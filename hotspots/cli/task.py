"""``hotspots task``: patrol plans per team within a weekly budget of officer hours."""

from __future__ import annotations

import time

import click
from rich.table import Table

from hotspots.cli.options import console, ingest_options, settings_from_options


@click.command(name="task")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run's output in --out.")
@click.option(
    "--team-by",
    type=click.Choice(["ward", "borough", "custom"]),
    default="ward",
    show_default=True,
    help="Teams: London wards (the City of London is one team), boroughs, or --teams FILE.",
)
@click.option("--teams", "teams_file", type=click.Path(), help="Polygon file of teams.")
@click.option("--team-name", default=None, help="Column of --teams with the team name.")
@click.option("--team-code", default=None, help="Column of --teams with a unique team code.")
@click.option(
    "--borough",
    "boroughs",
    multiple=True,
    help="Plan only for teams in this borough (name or code; repeatable).",
)
@click.option("--hours-per-week", type=float, default=None, help="Officer hours per team a week.")
@click.option(
    "--total-hours",
    type=float,
    default=None,
    help="Officer hours a week for all teams, shared in proportion to harm.",
)
@click.option("--visit-minutes", type=float, default=15.0, show_default=True)
@click.option(
    "--include-police-generated",
    is_flag=True,
    help="Keep drugs and possession of weapons (mostly found by police) in the harm that places patrols.",
)
@click.option(
    "--min-gap-minutes",
    type=float,
    default=120.0,
    show_default=True,
    help="Least time between visits to one place.",
)
@click.option("--max-visits-per-day", type=int, default=4, show_default=True)
@click.option("--days-per-week", type=int, default=7, show_default=True)
@click.option(
    "--min-visits-per-week",
    type=int,
    default=7,
    show_default=True,
    help="A tasked place gets at least this many visits a week.",
)
@click.option(
    "--decay",
    type=float,
    default=0.1,
    show_default=True,
    help="Each extra visit in a week is worth this fraction less.",
)
@click.option("--max-places", type=int, default=10, show_default=True, help="Places per team.")
@click.option(
    "--places",
    "place_kind",
    type=click.Choice(["cells", "clusters"]),
    default="cells",
    show_default=True,
    help="Candidate places: H3 hotspot cells or harm clusters.",
)
@click.option("--min-incidents", type=int, default=1, show_default=True)
@click.option(
    "--bases",
    type=click.Path(),
    default=None,
    help="Bases (CSV with name, Latitude, Longitude; e.g. data/reference/police-stations.csv).",
)
@click.option(
    "--max-walk-m",
    type=float,
    default=None,
    help="Leave out places farther than this (metres, after the detour factor) from every base.",
)
@click.option("--detour", type=float, default=1.3, show_default=True)
@click.option(
    "--walk-in-budget", is_flag=True, help="Count the return walk from the base in the budget."
)
@click.option(
    "--method",
    type=click.Choice(["milp", "greedy"]),
    default="milp",
    show_default=True,
    help="Exact optimiser (greedy kept as a floor) or greedy only.",
)
@click.option("--min-count", type=int, default=5, show_default=True, help="Disclosure threshold.")
@click.option("--title", default=None, help="Title of the sheets and map.")
@ingest_options
def task(
    inputs: tuple[str, ...],
    out_dir: str,
    overwrite: bool,
    team_by: str,
    teams_file: str | None,
    team_name: str | None,
    team_code: str | None,
    boroughs: tuple[str, ...],
    hours_per_week: float | None,
    total_hours: float | None,
    visit_minutes: float,
    include_police_generated: bool,
    min_gap_minutes: float,
    max_visits_per_day: int,
    days_per_week: int,
    min_visits_per_week: int,
    decay: float,
    max_places: int,
    place_kind: str,
    min_incidents: int,
    bases: str | None,
    max_walk_m: float | None,
    detour: float,
    walk_in_budget: bool,
    method: str,
    min_count: int,
    title: str | None,
    **options: object,
) -> None:
    """Plan patrols per team: places, visits a week, time windows, exposure audit.

    INPUT is raw files (as for ingest), an ingest --out folder or a detect --out folder.
    Writes tasking.csv, tasking.html (one A4 sheet per team), tasking_map.html,
    exposure.csv, candidates.csv, teams.csv, rejects.csv and manifest.json.
    """
    from hotspots.runs.task import run_task
    from hotspots.task.patrol import Dosage
    from hotspots.task.plan import TaskOptions

    settings = settings_from_options(**options)
    dosage = Dosage(
        visit_minutes=visit_minutes,
        min_gap_minutes=min_gap_minutes,
        max_visits_per_day=max_visits_per_day,
        days_per_week=days_per_week,
        min_visits_per_week=min_visits_per_week,
    )
    task_options = TaskOptions(
        hours_per_week=hours_per_week,
        total_hours=total_hours,
        dosage=dosage,
        decay=decay,
        max_places=max_places,
        method=method,
        places=place_kind,
        min_incidents=min_incidents,
        max_walk_m=max_walk_m,
        detour=detour,
        walk_in_budget=walk_in_budget,
        timezone=str(options.get("timezone") or "Europe/London"),
        min_count=min_count,
    )
    start = time.perf_counter()
    result = run_task(
        inputs,
        out_dir,
        settings=settings,
        options=task_options,
        team_by=team_by,
        boroughs=boroughs or None,
        teams_file=teams_file,
        team_code=team_code,
        team_name=team_name,
        bases=bases,
        overwrite=overwrite,
        title=title,
        detect_options=_detect_options(
            resolution=settings.resolution, include_police_generated=include_police_generated
        ),
    )
    print_task_summary(result, time.perf_counter() - start)


def print_task_summary(result, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Print one screen: budget, plan, harm covered, objectives, timing note, files."""
    plan = result.plan
    summary = plan.summary()
    rows = result.manifest.get("rows") or {}
    if rows:
        console.print(
            f"[bold]Read {rows.get('read', 0):,} rows[/]: accepted {rows.get('accepted', 0):,} "
            f"+ rejected {rows.get('rejected', 0):,} (details in rejects.csv)."
        )
    console.print(
        f"[bold]{summary['teams']} teams[/] ({plan.options.budget_text()}), based on "
        f"{plan.period[0]} to {plan.period[1]}; took {seconds:.1f} s."
    )
    console.print(
        f"Planned {summary['planned_minutes'] / 60:,.2f} of {summary['budget_minutes'] / 60:,.2f} "
        f"hours: {summary['visits_per_week']:,} visits a week to {summary['places_tasked']:,} "
        f"places, holding {100 * summary['harm_covered_share']:.1f}% of the teams' harm."
    )
    console.print(
        f"Plan value: optimiser {summary['objective']:,.1f} vs greedy "
        f"{summary['greedy_objective']:,.1f} (optimiser ahead in "
        f"{summary['teams_where_optimiser_beats_greedy']} team(s), never behind)."
    )
    console.print(f"Times: {plan.times.note}")
    exposure = plan.exposure
    if not exposure.empty:
        overall = exposure[exposure["team"] == "ALL"]
        table = Table(
            title="Exposure audit, all teams (Census 2021 residents)", title_justify="left"
        )
        for column in ("group", "tasked places", "whole areas", "ratio"):
            table.add_column(column)
        for _, row in overall.iterrows():
            table.add_row(
                str(row["group"]),
                f"{100 * row['tasked_share']:.1f}%",
                f"{100 * row['area_share']:.1f}%",
                f"{row['ratio']:.2f}",
            )
        console.print(table)
        flagged = exposure[(exposure["team"] != "ALL") & exposure["flag"].isin(["over", "under"])]
        if len(flagged):
            console.print(
                f"{flagged['team'].nunique()} team(s) have a group over- or under-represented "
                "among the residents of their tasked places (see exposure.csv)."
            )
    for name, path in result.files.items():
        console.print(f"{name}: {path}")


def _detect_options(**options: object) -> object:
    """DetectOptions, imported when the command runs (``--help`` stays fast)."""
    from hotspots.detect.results import DetectOptions

    return DetectOptions(**options)  # type: ignore[arg-type]
