"""Forecast origins of a rolling backtest: every test month, its training window and horizon."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from hotspots.core import schema
from hotspots.core.errors import InputError

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Origin:
    """One forecast origin: train on ``train`` months, score on ``test`` months.

    Attributes
    ----------
    label
        The first test month, ``YYYY-MM`` (the ``origin`` column of the table).
    train
        First and last training month.
    test
        First and last test month.
    """

    label: str
    train: tuple[str, str]
    test: tuple[str, str]


def _month_pair(value: str | tuple[str, str] | None, *, name: str) -> tuple[str, str]:
    from hotspots.ingest.read import parse_months

    if value is None:
        raise InputError(f"{name} is required, e.g. {name} 2023-01..2023-12.")
    if isinstance(value, str):
        parsed = parse_months(value)
        if parsed is None:
            raise InputError(f"{name} is empty; give a month range like 2023-01..2023-12.")
        return parsed
    start, end = (str(v) for v in value)
    return parse_months(f"{start}..{end}") or (start, end)


def plan_origins(
    *,
    train: str | tuple[str, str],
    test: str | tuple[str, str],
    window: int = 12,
    horizon: int = 1,
) -> tuple[Origin, ...]:
    """Lay out the rolling origins of a backtest.

    Every month ``o`` of ``test`` from its start to ``horizon - 1`` months before its end
    is an origin: the method trains on the ``window`` months before ``o`` and is scored on
    ``o`` and the ``horizon - 1`` months after it. Origins step by one month, so later
    origins train on earlier test months (they are in the past by then).

    Parameters
    ----------
    train
        ``"A..B"`` or ``(A, B)``: the months available for training before the test
        period. It must end the month before ``test`` starts and reach back at least
        ``window`` months.
    test
        ``"C..D"`` or ``(C, D)``: the months scored.
    window
        Training months per origin.
    horizon
        Test months per origin.

    Returns
    -------
    tuple of Origin
        In time order.

    Raises
    ------
    InputError
        If the test period does not follow the training period, or is shorter than the
        horizon, or the training period is shorter than the window.
    """
    train_from, train_to = _month_pair(train, name="--train")
    test_from, test_to = _month_pair(test, name="--test")
    if window < 1 or horizon < 1:
        raise InputError(
            f"--window and --horizon must be at least 1 month; got {window} and {horizon}."
        )
    a, b, c, d = (pd.Period(m, freq="M") for m in (train_from, train_to, test_from, test_to))
    if c <= b:
        raise InputError(
            f"--test {test_from}..{test_to} starts before --train {train_from}..{train_to} "
            "ends; the test months must come after the training months, e.g. "
            f"--train {train_from}..{train_to} --test {b + 1}..{max(d, b + 1)}."
        )
    if c != b + 1:
        raise InputError(
            f"--train ends {train_to} but --test starts {test_from}: the training window rolls "
            "up to each test month, so --train must end the month before --test starts "
            f"({c - 1})."
        )
    months_of_test = (d - c).n + 1
    if months_of_test < horizon:
        raise InputError(
            f"--test {test_from}..{test_to} has {months_of_test} month(s), fewer than "
            f"--horizon {horizon}."
        )
    first_needed = c - window
    if first_needed < a:
        raise InputError(
            f"--window {window} needs training months from {first_needed}, but --train starts "
            f"{train_from}; start --train at {first_needed} or earlier, or use a shorter "
            "--window."
        )
    origins = []
    for step in range(months_of_test - horizon + 1):
        o = c + step
        origins.append(
            Origin(
                label=str(o),
                train=(str(o - window), str(o - 1)),
                test=(str(o), str(o + horizon - 1)),
            )
        )
    return tuple(origins)


def check_months_present(incidents: pd.DataFrame, months: Sequence[str]) -> None:
    """Raise :class:`InputError` naming every month in ``months`` with no incident.

    data.police.uk publishes every month, so a month with no incident is a month missing
    from the input (or outside the selected crime types).
    """
    schema.require_columns(incidents, [schema.MONTH], name="incidents")
    present = set(pd.PeriodIndex(incidents[schema.MONTH], freq="M").astype(str))
    missing = [m for m in months if m not in present]
    if missing:
        raise InputError(
            f"{len(missing)} of the {len(months)} month(s) that --train/--test need "
            f"({months[0]}..{months[-1]}) have no incidents in the input: "
            f"{', '.join(missing[:12])}{' ...' if len(missing) > 12 else ''}; add those months' "
            "files, or choose --train/--test (and --window) within the months the input holds."
        )
