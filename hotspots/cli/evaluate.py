"""``hotspots evaluate``: rolling-origin backtests of every hotspot method.

A thin layer over :func:`hotspots.evaluate.backtest.run_evaluate`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hotspots.cli.options import console, err_console, ingest_options, settings_from_options
from hotspots.core.errors import InputError


def parse_coverage(text: str) -> tuple[float, ...]:
    """Parse ``"1,2,5,10"`` (percent of the study area) into numbers.

    Raises
    ------
    InputError
        If a value is not a number in (0, 100].
    """
    values = []
    for part in text.split(","):
        part = part.strip().rstrip("%")
        try:
            value = float(part)
        except ValueError:
            raise InputError(
                f"--coverage {text!r}: {part!r} is not a number; give percentages of the area, "
                "e.g. --coverage 1,2,5,10."
            ) from None
        if not 0 < value <= 100:
            raise InputError(
                f"--coverage {text!r}: {value:g} is outside (0, 100]; give percentages of the "
                "area, e.g. --coverage 1,2,5,10."
            )
        values.append(value)
    if not values:
        raise InputError("--coverage is empty; e.g. --coverage 1,2,5,10.")
    return tuple(dict.fromkeys(values))


@contextmanager
def _origin_progress() -> Iterator[object]:
    with Progress(
        TextColumn("[bold]evaluate"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("origins"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("evaluate", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@click.command(name="evaluate")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run's output in --out.")
@click.option(
    "--train",
    "train",
    required=True,
    help="Months available for training, e.g. 2021-09..2022-08; must end the month before --test.",
)
@click.option(
    "--test",
    "test",
    required=True,
    help="Months scored, e.g. 2022-09..2024-08; every month is a forecast origin.",
)
@click.option(
    "--coverage",
    default="1,2,5,10",
    show_default=True,
    help="Shares of the study area to flag, in percent.",
)
@click.option(
    "--window", type=int, default=12, show_default=True, help="Training months per origin."
)
@click.option("--horizon", type=int, default=1, show_default=True, help="Test months per origin.")
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the tie-break order and the random baseline.",
)
@click.option(
    "--per-borough/--no-per-borough",
    default=True,
    show_default=True,
    help="Also rank and score each borough on its own.",
)
@ingest_options
def evaluate(
    inputs: tuple[str, ...],
    out_dir: str,
    overwrite: bool,
    train: str,
    test: str,
    coverage: str,
    window: int,
    horizon: int,
    seed: int,
    per_borough: bool,
    **options: object,
) -> None:
    """Backtest every hotspot method on months it did not see: PAI, RRI, PEI, hit rate.

    INPUT is raw data.police.uk files (as for ingest) or the --out folder of an earlier
    'hotspots ingest'. For every month of --test, each method (harm per cell, kernel
    density, Gi*, DBSCAN clusters, emerging trends, and the baselines last month and
    random) trains on the --window months before it, flags the top cells covering each
    --coverage share of the area, and is scored on that month's incidents and harm.
    Writes evaluation.csv, origins.csv, pai.png, evaluation.html, rejects.csv and
    manifest.json.
    """
    from hotspots.detect.points import DetectOptions
    from hotspots.evaluate.backtest import METHOD_LABELS
    from hotspots.runs.evaluate import run_evaluate

    if options.get("months"):
        raise InputError("evaluate takes its months from --train and --test; leave out --months.")
    coverages = parse_coverage(coverage)
    settings = settings_from_options(**options)  # type: ignore[arg-type]
    start = time.perf_counter()
    with _origin_progress() as update:
        result = run_evaluate(
            inputs,
            out_dir,
            settings=settings,
            train=train,
            test=test,
            coverage_pct=coverages,
            window=window,
            horizon=horizon,
            seed=seed,
            options=DetectOptions(resolution=settings.resolution, seed=seed),
            per_borough=per_borough,
            overwrite=overwrite,
            on_origin=update,  # type: ignore[arg-type]
        )
    seconds = time.perf_counter() - start
    backtest = result.backtest
    origins = backtest.origins
    console.print(
        f"[bold]{len(origins)} rolling origin(s)[/] {origins['origin'].iloc[0]}.."
        f"{origins['test_to'].iloc[-1]}, training window {backtest.parameters['window_months']} "
        f"months, horizon {backtest.parameters['horizon_months']}; "
        f"{int(origins['test_incidents'].sum()):,} test incidents; "
        f"{len(backtest.methods)} methods (took {seconds:.1f} s)."
    )
    same_harm = "harm_note" in backtest.choices
    for measure in ("counts",) if same_harm else ("counts", "harm"):
        what = "incidents" if measure == "counts" else "harm"
        table = Table(
            title=f"Best method per coverage, scored on {what} (median PAI across origins)",
            title_justify="left",
        )
        for column in (
            "area",
            "best method",
            "PAI [IQR]",
            "12-month counts",
            "last month",
            "random",
        ):
            table.add_column(column)

        def against(baseline: dict | None) -> str:
            if not baseline:
                return "-"
            return f"{baseline['median']:.2f} (x{baseline['ratio_median']:.2f})"

        for verdict in (v for v in result.verdicts if v.measure == measure):
            table.add_row(
                f"{verdict.coverage:g}%",
                METHOD_LABELS[verdict.method],
                f"{verdict.median:.2f} [{verdict.q25:.2f}-{verdict.q75:.2f}]",
                against(verdict.baselines.get("counts_12m")),
                against(verdict.baselines.get("last_month")),
                against(verdict.baselines.get("random")),
            )
        console.print(table)
    console.print(
        "(x: median per-origin ratio of the best method's PAI to the baseline's; details and "
        "per-borough results in evaluation.html)"
    )
    for key in ("harm_note", "emerging"):
        if key in backtest.choices:
            console.print(f"{key}: {backtest.choices[key]}")
    for name, path in result.files.items():
        console.print(f"{name}: {path}")
    console.print(f"rejects: {result.out_dir / 'rejects.csv'}")
    console.print(f"manifest: {result.out_dir / 'manifest.json'}")
