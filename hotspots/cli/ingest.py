"""``hotspots ingest``: validate, geocode and harm-weight files into a store."""

from __future__ import annotations

import time

import click
from rich.table import Table

from hotspots.cli.options import (
    console,
    engine_options,
    ingest_options,
    progress_bar,
    settings_from_options,
)
from hotspots.core import schema


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


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run's output in --out.")
@click.option("--append", is_flag=True, help="Add the inputs' months to the store in --out.")
@click.option(
    "--replace-months",
    is_flag=True,
    help="With --append: replace months the store already holds (else an error).",
)
@engine_options[0]
@engine_options[1]
@ingest_options
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
    with progress_bar(sum(s.size_bytes for s in sources), "ingest") as update:
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
