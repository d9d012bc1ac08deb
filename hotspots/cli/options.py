"""Options, console and error handling shared by every command."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from hotspots.core import schema
from hotspots.core.errors import HotspotsError

console = Console(stderr=False, highlight=False)


err_console = Console(stderr=True, highlight=False)


class CommandGroup(click.Group):
    """Turn HotspotsError (and OS errors on inputs) into one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a HotspotsError becomes one line on stderr and exit code 2."""
        try:
            return super().invoke(ctx)
        except HotspotsError as exc:
            message = " ".join(str(exc).split())  # one line, whatever the exception held
            click.echo(f"error: {message}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            err_console.print("interrupted: no partial output was left under final names")
            sys.exit(130)


@contextmanager
def progress_bar(total_bytes: int, label: str) -> Iterator[object]:
    """Yield a callback taking bytes done; the bar shows only on a terminal."""
    quiet = not sys.stderr.isatty()
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=quiet,
    ) as progress:
        task = progress.add_task(label, total=max(total_bytes, 1))
        yield lambda done: progress.update(task, completed=done)


def ingest_options(func):  # type: ignore[no-untyped-def]
    """Add the options every incident-reading command shares (boundaries, harm, months)."""
    options = [
        click.option(
            "--areas",
            type=click.Path(),
            help="Boundary file of the study area (default: London boroughs).",
        ),
        click.option(
            "--area-code",
            default=None,
            help="Column of --areas with a unique code per area (default: --area-name).",
        ),
        click.option("--area-name", default=None, help="Column of --areas with the area name."),
        click.option(
            "--columns",
            "columns",
            default=None,
            help="Map a generic table: 'offence=Type,occurred_at=Date,lon=Lon,lat=Lat' (or x=,y=).",
        ),
        click.option(
            "--crs",
            default="EPSG:27700",
            show_default=True,
            help="CRS of x/y columns in --columns.",
        ),
        click.option(
            "--timezone",
            default="Europe/London",
            show_default=True,
            help="Time zone of date-times without one.",
        ),
        click.option(
            "--harm",
            "harm_path",
            type=click.Path(),
            default=None,
            help="CSV with columns offence,harm replacing the bundled CCHI weights.",
        ),
        click.option(
            "--resolution",
            type=int,
            default=schema.DEFAULT_H3_RESOLUTION,
            show_default=True,
            help="H3 resolution (8-11).",
        ),
        click.option(
            "--months", default=None, help="Inclusive month range, e.g. 2023-01..2023-12."
        ),
        click.option(
            "--crime-type",
            "crime_types",
            multiple=True,
            help="Keep only this crime type (repeatable).",
        ),
        click.option(
            "--wards/--no-wards",
            default=False,
            show_default=True,
            help="Also assign London wards (Dec 2024).",
        ),
        click.option(
            "--lsoas/--no-lsoas",
            default=False,
            show_default=True,
            help="Also assign London LSOAs (2021).",
        ),
        click.option(
            "--snap-m",
            type=float,
            default=50.0,
            show_default=True,
            help="Give points this close outside every area to the nearest area.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def settings_from_options(
    *,
    areas: str | None,
    area_code: str | None,
    area_name: str | None,
    columns: str | None,
    crs: str,
    timezone: str,
    harm_path: str | None,
    resolution: int,
    months: str | None,
    crime_types: Sequence[str],
    wards: bool,
    lsoas: bool,
    snap_m: float,
):  # type: ignore[no-untyped-def]
    """Build :class:`hotspots.ingest.read.IngestSettings` from command-line options."""
    from hotspots.core.errors import SchemaError
    from hotspots.geo.boundaries import custom_layers, london_layers
    from hotspots.geo.grid import check_resolution
    from hotspots.harm.table import default_harm_table, read_harm_table
    from hotspots.ingest.read import IngestSettings, Selection, parse_months
    from hotspots.io.formats import parse_column_map

    check_resolution(resolution)
    if areas:
        if not (area_code or area_name):
            raise SchemaError(
                "--areas needs --area-name (and optionally --area-code) naming the column "
                "that identifies each area."
            )
        layers = custom_layers(areas, code_column=area_code or area_name, name_column=area_name)
        if wards or lsoas:
            raise SchemaError("--wards/--lsoas are London layers; leave them off with --areas.")
    else:
        layers = london_layers(with_wards=wards, with_lsoas=lsoas)
    column_map = parse_column_map(columns, crs=crs, timezone=timezone) if columns else None
    harm = read_harm_table(harm_path) if harm_path else default_harm_table("police_uk")
    selection = Selection(months=parse_months(months), crime_types=tuple(crime_types) or None)
    return IngestSettings(
        layers=layers,
        harm=harm,
        resolution=resolution,
        snap_m=snap_m,
        selection=selection,
        column_map=column_map,
    )


engine_options = [
    click.option(
        "--engine",
        type=click.Choice(["embedded", "dask"]),
        default="embedded",
        show_default=True,
        help="Run on this machine, or on a dask.distributed cluster.",
    ),
    click.option(
        "--scheduler",
        default=None,
        help="Dask scheduler address (tcp://host:8786); default: a local cluster.",
    ),
]
