"""``hotspots forecast``: expected harm per cell (or area) for the months after ``--until``.

A thin layer over :func:`hotspots.runs.forecast.run_forecast`.
"""

from __future__ import annotations

import time

import click
from rich.table import Table

from hotspots.cli.options import console, ingest_options, settings_from_options


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run's output in --out.")
@click.option(
    "--until", required=True, help="Last month of history, YYYY-MM (later months are not read)."
)
@click.option(
    "--horizon", type=int, default=6, show_default=True, help="Months to forecast after --until."
)
@click.option(
    "--method",
    type=click.Choice(["auto", "counts", "ewma", "prospective", "hawkes", "gbm", "ensemble"]),
    default="auto",
    show_default=True,
    help="Forecast method; auto chooses by a backtest on the training months only.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the tie-break order."
)
@ingest_options
def forecast(
    inputs: tuple[str, ...],
    out_dir: str,
    overwrite: bool,
    until: str,
    horizon: int,
    method: str,
    seed: int,
    **options: object,
) -> None:
    """Forecast harm per H3 cell for the --horizon months after --until, and rank the cells.

    INPUT is raw data.police.uk files (ingested first into OUT/store), the --out folder of an
    earlier 'hotspots ingest', or one MPS LSOA/ward count table (then one row per area).
    Writes forecast.parquet, forecast.csv, inner_backtest.csv, rejects.csv and manifest.json.
    """
    from hotspots.runs.forecast import run_forecast

    settings = settings_from_options(**options)  # type: ignore[arg-type]
    start = time.perf_counter()
    result = run_forecast(
        inputs,
        out_dir,
        settings=settings,
        until=until,
        horizon=horizon,
        method=method,
        seed=seed,
        overwrite=overwrite,
    )
    fc = result.forecast
    places = fc.places
    console.print(
        f"[bold]Forecast {fc.forecast_months[0]}..{fc.forecast_months[1]}[/] from "
        f"{fc.history[0]}..{fc.history[1]}: {len(places):,} places, "
        f"{places['expected_incidents'].sum():,.0f} expected incidents "
        f"(took {time.perf_counter() - start:.1f} s)."
    )
    console.print(f"Method: [bold]{fc.method}[/] — {fc.reason}")
    table = Table(title="Automatic choices", title_justify="left", show_header=False)
    for key, value in fc.choices.items():
        table.add_row(key, value)
    console.print(table)
    for name, path in result.files.items():
        console.print(f"{name}: {path}")
