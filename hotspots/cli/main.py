"""Command line: a thin layer over the public functions.

Exit codes: 0 success; 2 bad input or usage, with a one-line message and no traceback.
An unexpected bug keeps its traceback so that it can be reported.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hotspots.core import schema
from hotspots.core.errors import HotspotsError

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


class _Group(click.Group):
    """Turn HotspotsError (and OS errors on inputs) into one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HotspotsError as exc:
            message = " ".join(str(exc).split())  # one line, whatever the exception held
            click.echo(f"error: {message}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            err_console.print("interrupted: no partial output was left under final names")
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(package_name="hotspots")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def main(verbose: bool) -> None:
    """Harm hotspots, patrol tasking and stop-and-search reviews from police data."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")


@contextmanager
def _progress(total_bytes: int, label: str) -> Iterator[object]:
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


def _ingest_options(func):  # type: ignore[no-untyped-def]
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
    from hotspots.geo.boundaries import custom_layers, london_layers
    from hotspots.core.errors import SchemaError
    from hotspots.io.formats import parse_column_map
    from hotspots.geo.grid import check_resolution
    from hotspots.harm.table import default_harm_table, read_harm_table
    from hotspots.ingest.read import IngestSettings, Selection, parse_months

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


def print_ingest_summary(result, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """One screen: rows, rejects by reason, notes, months and where things went."""
    read, accepted, rejected = result.rows_read, result.accepted, result.rejected
    ok = "holds" if accepted + rejected == read else "BROKEN"
    console.print(
        f"[bold]Read {read:,} rows[/] from {len(result.reports)} file(s): "
        f"accepted {accepted:,} + rejected {rejected:,} = {accepted + rejected:,} ({ok})"
    )
    rate = read / seconds if seconds > 0 else 0.0
    console.print(f"Took {seconds:.1f} s ({rate:,.0f} rows/s).")
    manifest = result.manifest
    run = (manifest.get("runs") or [manifest])[-1]  # this run (a store keeps all runs)
    if run["rejects_by_reason"]:
        table = Table(
            title="Rejected rows by reason (details in rejects.csv)", title_justify="left"
        )
        table.add_column("reason")
        table.add_column("rows", justify="right")
        table.add_column("meaning")
        for reason, count in run["rejects_by_reason"].items():
            table.add_row(reason, f"{count:,}", schema.REJECT_REASONS.get(reason, ""))
        console.print(table)
    notes = run["notes"]
    if notes:
        table = Table(title="Kept, but counted", title_justify="left")
        table.add_column("note")
        table.add_column("rows", justify="right")
        for note, count in notes.items():
            table.add_row(note, f"{count:,}")
        console.print(table)
    for name, store in manifest["store"].items():
        if store["rows"]:
            console.print(
                f"{name}: {store['rows']:,} rows in {store['months']} month partition(s), "
                f"{store['first_month']} .. {store['last_month']} -> {store['path']}"
            )
    console.print(f"Harm weights: {manifest['parameters']['harm_table']}")
    console.print(f"Wrote {result.out_dir / 'rejects.csv'} and {result.out_dir / 'manifest.json'}")


_engine_options = [
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


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run's output in --out.")
@click.option("--append", is_flag=True, help="Add the inputs' months to the store in --out.")
@click.option(
    "--replace-months",
    is_flag=True,
    help="With --append: replace months the store already holds (else an error).",
)
@_engine_options[0]
@_engine_options[1]
@_ingest_options
def ingest(
    inputs: tuple[str, ...],
    out_dir: str,
    overwrite: bool,
    append: bool,
    replace_months: bool,
    engine: str,
    scheduler: str | None,
    **options: object,
) -> None:
    """Validate, geocode and harm-weight INPUT files into a GeoParquet store.

    INPUT is a file (.csv, .csv.gz, .parquet), a folder (searched recursively), a glob or
    a data.police.uk zip archive. Street-crime and stop-and-search files may be mixed.
    With --append, new months are added to an existing store and the others are left
    as they are.
    """
    from hotspots.ingest.pipeline import ingest_to_store
    from hotspots.io.sources import find_sources

    settings = settings_from_options(**options)  # type: ignore[arg-type]
    sources = find_sources(inputs)
    start = time.perf_counter()
    with _progress(sum(s.size_bytes for s in sources), "ingest") as update:
        result = ingest_to_store(
            inputs,
            out_dir,
            settings=settings,
            overwrite=overwrite,
            append=append,
            replace_months=replace_months,
            on_progress=update,
            sources=sources,
            engine=engine,
            scheduler=scheduler,
        )
    print_ingest_summary(result, time.perf_counter() - start)
    for name, months in result.months_replaced.items():
        for month, rows in months.items():
            console.print(f"[bold]Replaced[/] {name} month {month} (it held {rows:,} rows).")
    if append:
        added = ", ".join(m for months in result.months_added.values() for m in months)
        console.print(f"Run {result.run} appended month(s): {added or 'none'}.")


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run's output in --out.")
@click.option(
    "--kernel",
    default="quartic",
    show_default=True,
    help="Kernel: quartic, epanechnikov, triangular, uniform, gaussian.",
)
@click.option(
    "--bandwidth-m",
    type=float,
    default=None,
    help="Kernel bandwidth in metres (default: chosen by --bandwidth-rule).",
)
@click.option(
    "--bandwidth-rule",
    default=None,
    help="Bandwidth rule when --bandwidth-m is not given (see the report).",
)
@click.option(
    "--adjust",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply the chosen bandwidth by this.",
)
@click.option(
    "--grid-m",
    type=float,
    default=50.0,
    show_default=True,
    help="Kernel density grid size in metres.",
)
@click.option(
    "--edge-correction/--no-edge-correction",
    default=True,
    show_default=True,
    help="Correct density near the study boundary.",
)
@click.option(
    "--neighbours",
    "neighbours_k",
    type=int,
    default=1,
    show_default=True,
    help="H3 k-ring for Gi*.",
)
@click.option(
    "--permutations",
    type=int,
    default=0,
    show_default=True,
    help="Gi* permutations (0 = analytic only).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed for permutations and clustering.",
)
@click.option(
    "--fdr/--no-fdr",
    default=True,
    show_default=True,
    help="Benjamini-Hochberg FDR control for Gi* classes.",
)
@click.option(
    "--eps-m",
    type=float,
    default=None,
    help="DBSCAN radius in metres (default: automatic, see the report).",
)
@click.option(
    "--min-harm", type=float, default=None, help="DBSCAN minimum harm within eps for a core point."
)
@click.option(
    "--min-count",
    type=int,
    default=5,
    show_default=True,
    help="Suppress published counts below this.",
)
@click.option(
    "--borough-report",
    "borough_reports",
    multiple=True,
    help="Also write a map and report for this borough (name or code; 'all' for every one).",
)
@_engine_options[0]
@_engine_options[1]
@_ingest_options
def detect(
    inputs: tuple[str, ...],
    out_dir: str,
    overwrite: bool,
    kernel: str,
    bandwidth_m: float | None,
    bandwidth_rule: str | None,
    adjust: float,
    grid_m: float,
    edge_correction: bool,
    neighbours_k: int,
    permutations: int,
    seed: int,
    fdr: bool,
    eps_m: float | None,
    min_harm: float | None,
    min_count: int,
    borough_reports: tuple[str, ...],
    engine: str,
    scheduler: str | None,
    **options: object,
) -> None:
    """Find hotspots with every method: harm per cell, density, Gi*, clusters, trends.

    INPUT is raw data.police.uk files (as for ingest) or the --out folder of an earlier
    'hotspots ingest'. Writes cells.parquet, hotspots.geojson, map.html, report.html,
    rejects.csv and manifest.json.
    """
    from hotspots.detect.points import DetectOptions, run_detect

    settings = settings_from_options(**options)  # type: ignore[arg-type]
    detect_options = DetectOptions(
        resolution=settings.resolution,
        kernel=kernel,
        bandwidth_rule=bandwidth_rule,
        bandwidth_m=bandwidth_m,
        adjust=adjust,
        grid_m=grid_m,
        edge_correction=edge_correction,
        neighbours_k=neighbours_k,
        permutations=permutations,
        seed=seed,
        fdr=fdr,
        eps_m=eps_m,
        min_harm=min_harm,
        min_count=min_count,
    )
    start = time.perf_counter()
    result = run_detect(
        inputs,
        out_dir,
        settings=settings,
        options=detect_options,
        overwrite=overwrite,
        borough_reports=borough_reports,
        engine=engine,
        scheduler=scheduler,
    )
    print_detect_summary(result, time.perf_counter() - start)


def print_detect_summary(result, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Print one screen: period, concentration, Gi* classes, clusters, trends, files."""
    detection = result.detection
    cells = detection.cells
    manifest = result.manifest
    rows = manifest.get("rows") or {}
    if rows:
        left_out = (manifest.get("rejects_by_reason") or {}).get(schema.NOT_SELECTED, 0)
        console.print(
            f"[bold]Read {rows['read']:,} rows[/]: accepted {rows['accepted']:,} + rejected "
            f"{rows['rejected']:,} = {rows['accepted'] + rows['rejected']:,}"
            + (
                f" ({left_out:,} of the rejected are outside --months/--crime-type)"
                if left_out
                else ""
            )
        )
    console.print(
        f"[bold]{int(cells['incidents'].sum()):,} incidents[/], {detection.period[0]} to "
        f"{detection.period[1]}, over {len(cells):,} H3 cells (took {seconds:.1f} s)."
    )
    harm = detection.concentration["harm"]
    console.print(
        f"Concentration of harm: Gini {harm.gini:.2f}; top 1% of cells hold "
        f"{100 * harm.top_share[0.01]:.1f}%, top 5% {100 * harm.top_share[0.05]:.1f}%; "
        f"{harm.places_for_half:,} cells hold half."
    )
    gi_class = cells["gi_class"].astype(str)
    hot = int(gi_class.str.startswith("hot").sum())
    cold = int(gi_class.str.startswith("cold").sum())
    console.print(f"Gi*: {hot:,} hot and {cold:,} cold cells ({detection.gi_p_label}).")
    clusters = detection.clusters
    if clusters is not None and not clusters.empty:
        top = clusters.sort_values("rank").head(3)
        names = "; ".join(f"{r['place']} ({r['borough']})" for _, r in top.iterrows())
        console.print(f"Clusters: {len(clusters):,}; highest harm: {names}.")
    trends = cells["trend"].value_counts()
    console.print("Emerging: " + ", ".join(f"{k} {v:,}" for k, v in trends.items()))
    table = Table(title="Automatic choices", title_justify="left", show_header=False)
    for key, value in detection.choices.items():
        table.add_row(key, value)
    console.print(table)
    for name, path in result.files.items():
        console.print(f"{name}: {path}")


@main.command()
@click.option(
    "--out",
    "out_dir",
    default="demo-output",
    show_default=True,
    type=click.Path(),
    help="Output folder.",
)
@click.option(
    "--resolution",
    type=int,
    default=schema.DEFAULT_H3_RESOLUTION,
    show_default=True,
    help="H3 resolution (8-11).",
)
def demo(out_dir: str, resolution: int) -> None:
    """Run the pipeline on the bundled real London data (no network needed)."""
    from hotspots.runs.demo import demo_inputs, run_demo
    from hotspots.io.sources import find_sources

    total = sum(s.size_bytes for s in find_sources(demo_inputs()))
    with _progress(total, "demo: ingest") as update:
        result = run_demo(out_dir, resolution=resolution, on_progress=update)
    print_ingest_summary(result.ingest, result.seconds)
    for step in result.steps:
        console.print(f"[bold]{step.name}[/] ({step.seconds:.1f} s)")
        for line in step.lines:
            console.print(f"  {line}")
        for label, path in step.files.items():
            console.print(f"  {label}: {path}")
    console.print(
        f"Demo finished in {result.seconds:.1f} s. Open {result.out_dir / 'map.html'} in a browser."
    )


from hotspots.cli.evaluate import evaluate as _evaluate  # noqa: E402

main.add_command(_evaluate)

from hotspots.cli.task import task as _task  # noqa: E402

main.add_command(_task)

from hotspots.cli.stops import stops as _stops  # noqa: E402

main.add_command(_stops)

from hotspots.cli.verify import verify as _verify  # noqa: E402

main.add_command(_verify)

if __name__ == "__main__":  # pragma: no cover
    main()
