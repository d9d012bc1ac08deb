"""When harm happens: hour-of-week profiles, aoristic weighting, recommended visit windows.

Hour of week counts local clock hours from Monday 00:00-01:00 (0) to Sunday 23:00-24:00
(167), in the force's time zone (Europe/London by default). Incidents stored with one
date-time (``occurred_at``, UTC) put their whole weight in one hour. Incidents known only
to lie between two date-times (``occurred_from`` .. ``occurred_to``, e.g. a burglary
discovered after a weekend away) are spread over the interval in proportion to the time
spent in each local hour: aoristic weighting (Ratcliffe 2002), so each incident's weights
sum to 1. Real elapsed time is split, then labelled with the local hour, so on the night
the clocks go forward the missing hour gets nothing and on the night they go back the
repeated hour gets two hours' worth.

data.police.uk street crime carries the month only. Then there are no times to profile
and :data:`MONTH_ONLY_NOTE` says so instead of inventing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core.errors import SchemaError

HOURS_IN_WEEK = 168
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
OCCURRED_FROM = "occurred_from"
OCCURRED_TO = "occurred_to"
DEFAULT_TIMEZONE = "Europe/London"
STEP_MINUTES = 15
"""Intervals are cut at UTC quarter-hours, which are local hour boundaries in every zone."""
MAX_SPAN_DAYS = 14.0
"""Ranges longer than this say little about the time of day; they are left out and counted."""
DEFAULT_PRIOR_WEIGHT = 10.0
DEFAULT_WINDOW_HOURS = 2
DEFAULT_WINDOWS = 3

MONTH_ONLY_NOTE = (
    "No visit times: the data give the month of each incident only (data.police.uk street "
    "crime is published by month), so the time of day and day of week are unknown. Spread "
    "visits across the day and the week, in a random order."
)


def _as_utc(values: pd.Series | pd.DatetimeIndex, *, timezone: str, name: str) -> pd.Series:
    """Return UTC date-times; naive values are local to ``timezone`` (ambiguous: error)."""
    series = pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(series):
        try:
            series = pd.to_datetime(series, utc=False)
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"{name} holds values that are not date-times: {exc}") from None
    if series.dt.tz is None:
        try:
            series = series.dt.tz_localize(timezone, ambiguous="raise", nonexistent="raise")
        except Exception as exc:  # noqa: BLE001 (pandas raises several types here)
            raise SchemaError(
                f"{name} has a local time that is ambiguous or does not exist in {timezone} "
                f"(clock change): {exc}. Give times with a UTC offset instead."
            ) from None
    return series.dt.tz_convert("UTC")


def hour_of_week(
    times: pd.Series | pd.DatetimeIndex, *, timezone: str = DEFAULT_TIMEZONE
) -> np.ndarray:
    """Local hour of week (Monday 00:00 = 0 .. Sunday 23:00 = 167) of each date-time.

    NaT gives -1. Naive date-times are taken as local to ``timezone``.
    """
    utc = _as_utc(times, timezone=timezone, name="times")
    local = utc.dt.tz_convert(timezone)
    how = (local.dt.day_of_week * 24 + local.dt.hour).to_numpy(dtype="float64")
    return np.where(np.isnan(how), -1, how).astype(np.int64)


@dataclass(frozen=True)
class AoristicWeights:
    """Incidents spread over hours of the week.

    Attributes
    ----------
    row
        Position of the incident in the input (several entries per incident).
    hour
        Local hour of week, 0..167.
    weight
        Share of the incident in that hour; the shares of an incident sum to 1.
    skipped
        Reason per input position for incidents left out (``missing_time``,
        ``end_before_start``, ``longer_than_14_days``), or "" if kept.
    """

    row: np.ndarray
    hour: np.ndarray
    weight: np.ndarray
    skipped: np.ndarray

    def as_frame(self) -> pd.DataFrame:
        """Long table: row, hour, weight."""
        return pd.DataFrame({"row": self.row, "hour": self.hour, "weight": self.weight})


def aoristic_weights(
    start: pd.Series | pd.DatetimeIndex,
    end: pd.Series | pd.DatetimeIndex | None = None,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    max_span_days: float = MAX_SPAN_DAYS,
) -> AoristicWeights:
    """Spread each incident over the local hours of the week it may have happened in.

    Parameters
    ----------
    start
        Earliest date-time of each incident (tz-aware, or naive local to ``timezone``).
    end
        Latest date-time; ``None`` or NaT means an exact time (all weight in one hour).
    timezone
        Zone whose clock defines the hours of the week.
    max_span_days
        Intervals longer than this are left out (``skipped`` says so).

    Returns
    -------
    AoristicWeights
        Entries (row, hour, weight); each kept incident's weights sum to 1.
    """
    start_utc = _as_utc(start, timezone=timezone, name="start").reset_index(drop=True)
    if end is None:
        end_utc = start_utc.copy()
    else:
        end_utc = _as_utc(end, timezone=timezone, name="end").reset_index(drop=True)
        if len(end_utc) != len(start_utc):
            raise SchemaError(f"start has {len(start_utc)} values but end has {len(end_utc)}.")
        end_utc = end_utc.fillna(start_utc)
    n = len(start_utc)
    skipped = np.full(n, "", dtype=object)
    missing = start_utc.isna().to_numpy()
    skipped[missing] = "missing_time"
    s = start_utc.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    e = end_utc.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    span_ns = e - s
    backwards = ~missing & (span_ns < 0)
    skipped[backwards] = "end_before_start"
    too_long = ~missing & ~backwards & (span_ns > max_span_days * 86_400e9)
    skipped[too_long] = "longer_than_14_days"
    keep = np.flatnonzero(skipped == "")
    step = STEP_MINUTES * 60 * 10**9
    s_k, e_k = s[keep], e[keep]
    point = e_k == s_k
    # cut every interval at UTC quarter-hours: pieces [max(s, q), min(e, q + step))
    first = (s_k // step) * step
    last = np.where(point, first, ((e_k - 1) // step) * step)
    pieces = ((last - first) // step + 1).astype(np.int64)
    owner = np.repeat(np.arange(len(keep)), pieces)
    offset = np.arange(int(pieces.sum())) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    q = first[owner] + offset * step
    lo = np.maximum(q, s_k[owner])
    hi = np.minimum(q + step, e_k[owner])
    span = (e_k - s_k).astype(np.float64)
    weight = np.where(point[owner], 1.0, (hi - lo) / np.where(span > 0, span, 1.0)[owner])
    local = pd.DatetimeIndex(lo.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(timezone)
    hour = (local.day_of_week * 24 + local.hour).to_numpy(dtype=np.int64)
    # merge the quarter-hours of one incident that fall in the same hour
    frame = pd.DataFrame({"row": keep[owner], "hour": hour, "weight": weight})
    frame = frame[frame["weight"] > 0].groupby(["row", "hour"], sort=True)["weight"].sum()
    return AoristicWeights(
        row=frame.index.get_level_values("row").to_numpy(dtype=np.int64),
        hour=frame.index.get_level_values("hour").to_numpy(dtype=np.int64),
        weight=frame.to_numpy(dtype=np.float64),
        skipped=skipped,
    )


def time_columns(incidents: pd.DataFrame) -> tuple[str, str | None] | None:
    """Which columns hold times: ``(from, to)`` for ranges, ``(occurred_at, None)``, or None.

    Returns None when no incident has a time (month precision only).
    """
    if OCCURRED_FROM in incidents.columns and incidents[OCCURRED_FROM].notna().any():
        to = OCCURRED_TO if OCCURRED_TO in incidents.columns else None
        return OCCURRED_FROM, to
    if "occurred_at" in incidents.columns and incidents["occurred_at"].notna().any():
        return "occurred_at", None
    return None


def hour_of_week_profiles(
    incidents: pd.DataFrame,
    groups: pd.Series,
    *,
    weight: str | None = "harm",
    timezone: str = DEFAULT_TIMEZONE,
) -> tuple[pd.DataFrame, pd.Series]:
    """Sum incidents (or their harm) per group and local hour of week.

    Parameters
    ----------
    incidents
        Incidents with ``occurred_at``, or ``occurred_from``/``occurred_to`` ranges
        (aoristic weighting).
    groups
        Group of each incident (e.g. its place), aligned with ``incidents``; NaN = none.
    weight
        Column to weight by (``"harm"``) or None to count incidents.
    timezone
        Zone whose clock defines the hours.

    Returns
    -------
    profiles : DataFrame
        One row per group, 168 columns (hours of week), weighted sums.
    timed : Series
        Number of incidents with a usable time per group.
    """
    columns = time_columns(incidents)
    if columns is None:
        empty = pd.DataFrame(columns=range(HOURS_IN_WEEK), dtype=np.float64)
        return empty, pd.Series(dtype=np.int64)
    start_col, end_col = columns
    end = incidents[end_col] if end_col else None
    spread = aoristic_weights(incidents[start_col], end, timezone=timezone)
    group_codes, group_labels = pd.factorize(pd.Series(groups).reset_index(drop=True))
    w = np.ones(len(incidents)) if weight is None else incidents[weight].to_numpy(dtype=np.float64)
    owner = group_codes[spread.row]
    use = owner >= 0
    matrix = np.zeros((len(group_labels), HOURS_IN_WEEK))
    np.add.at(matrix, (owner[use], spread.hour[use]), spread.weight[use] * w[spread.row[use]])
    kept = np.zeros(len(incidents), dtype=bool)
    kept[np.unique(spread.row)] = True
    timed = np.bincount(group_codes[kept & (group_codes >= 0)], minlength=len(group_labels))
    index = pd.Index(group_labels, name=getattr(groups, "name", None))
    return (
        pd.DataFrame(matrix, index=index, columns=range(HOURS_IN_WEEK)),
        pd.Series(timed, index=index, name="timed_incidents"),
    )


def shrink_profile(
    place: np.ndarray, team: np.ndarray, *, incidents: float, prior_weight: float
) -> np.ndarray:
    """Share of a place's harm per hour, pulled toward its team's when it has few incidents.

    ``p = (n * p_place + k * p_team) / (n + k)`` with ``n`` timed incidents at the place and
    ``k = prior_weight``: a place with 10 incidents and ``k = 10`` is half its own profile
    and half the team's. Profiles are normalised to sum to 1 first.
    """
    place = np.asarray(place, dtype=np.float64)
    team = np.asarray(team, dtype=np.float64)
    p_place = place / place.sum() if place.sum() > 0 else np.zeros_like(place)
    p_team = team / team.sum() if team.sum() > 0 else np.full_like(team, 1.0 / len(team))
    n = float(incidents) if place.sum() > 0 else 0.0
    return (n * p_place + prior_weight * p_team) / (n + prior_weight)


@dataclass(frozen=True)
class Window:
    """A recommended visit window: ``hours`` local hours from hour of week ``start``."""

    start: int
    hours: int
    share: float

    def label(self) -> str:
        """Say it like ``Fri 20:00-22:00`` (or ``Sun 23:00-Mon 01:00``)."""
        end = (self.start + self.hours) % HOURS_IN_WEEK
        day, hour = divmod(self.start, 24)
        end_day, end_hour = divmod(end, 24)
        end_text = "24:00" if end_hour == 0 and end_day == (day + 1) % 7 else f"{end_hour:02d}:00"
        if end_day != day and not (end_hour == 0 and end_day == (day + 1) % 7):
            end_text = f"{DAY_NAMES[end_day]} {end_text}"
        return f"{DAY_NAMES[day]} {hour:02d}:00-{end_text}"


def recommend_windows(
    profile: np.ndarray,
    *,
    window_hours: int = DEFAULT_WINDOW_HOURS,
    windows: int = DEFAULT_WINDOWS,
    min_lift: float = 1.5,
) -> list[Window]:
    """Pick the busiest non-overlapping windows of the week from an hour-of-week profile.

    The week wraps (Sunday night runs into Monday morning). A window is kept only if it
    holds at least ``min_lift`` times the share an even spread would give it
    (``window_hours / 168``); a flat profile gives no windows.

    Parameters
    ----------
    profile
        168 non-negative weights (need not be normalised).
    window_hours
        Length of each window.
    windows
        Most windows to return.
    min_lift
        Least concentration over an even spread for a window to count.

    Returns
    -------
    list of Window
        Busiest first.
    """
    profile = np.asarray(profile, dtype=np.float64)
    if profile.shape != (HOURS_IN_WEEK,):
        raise SchemaError(f"a profile has {HOURS_IN_WEEK} hours; got shape {profile.shape}.")
    if not 1 <= window_hours <= 24:
        raise SchemaError(f"window_hours must be 1..24; got {window_hours}.")
    total = profile.sum()
    if total <= 0:
        return []
    share = profile / total
    wrapped = np.concatenate([share, share[: window_hours - 1]])
    sums = np.convolve(wrapped, np.ones(window_hours), mode="valid")[:HOURS_IN_WEEK]
    taken = np.zeros(HOURS_IN_WEEK, dtype=bool)
    even = window_hours / HOURS_IN_WEEK
    chosen: list[Window] = []
    for _ in range(windows):
        hours = (np.arange(HOURS_IN_WEEK)[:, None] + np.arange(window_hours)) % HOURS_IN_WEEK
        free = ~taken[hours].any(axis=1)
        candidates = np.where(free, sums, -1.0)
        best = int(np.argmax(candidates))  # ties: the earliest hour of the week
        if candidates[best] < min_lift * even:
            break
        chosen.append(Window(start=best, hours=window_hours, share=float(sums[best])))
        taken[hours[best]] = True
    return chosen


def describe_windows(windows: list[Window]) -> str:
    """Say ``Fri 20:00-22:00 (12%); Sat 21:00-23:00 (9%)`` or that there is no clear peak."""
    if not windows:
        return "no clear peak: spread visits through the week"
    return "; ".join(f"{w.label()} ({100 * w.share:.0f}%)" for w in windows)


@dataclass(frozen=True)
class PlaceTimes:
    """Visit windows per place and per team, from incident times.

    Attributes
    ----------
    timed
        Whether any incident had a usable time; if not, ``note`` is :data:`MONTH_ONLY_NOTE`.
    places
        Indexed by place: ``time_windows`` (text), ``timed_incidents``.
    teams
        Indexed by team: ``time_windows`` (text), ``timed_incidents``.
    team_profiles
        Share of harm per hour of week per team (rows sum to 1), for a heat strip.
    note
        One plain sentence on what the times are based on.
    """

    timed: bool
    places: pd.DataFrame
    teams: pd.DataFrame
    team_profiles: pd.DataFrame
    note: str


def windows_for_places(
    incidents: pd.DataFrame,
    place: pd.Series,
    team: pd.Series,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    weight: str | None = "harm",
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    window_hours: int = DEFAULT_WINDOW_HOURS,
    windows: int = DEFAULT_WINDOWS,
) -> PlaceTimes:
    """Recommend visit windows per place (shrunk toward its team's profile) and per team.

    Parameters
    ----------
    incidents
        Incidents with ``occurred_at`` (or ``occurred_from``/``occurred_to``) and ``harm``.
    place, team
        Place and team of each incident, aligned with ``incidents`` (NaN = none).
    timezone, weight
        As for :func:`hour_of_week_profiles`.
    prior_weight
        Strength of the pull toward the team's profile, in incidents
        (see :func:`shrink_profile`).
    window_hours, windows
        As for :func:`recommend_windows`.
    """
    columns = time_columns(incidents)
    if columns is None:
        empty = pd.DataFrame({"time_windows": pd.Series(dtype=object), "timed_incidents": 0})
        return PlaceTimes(
            timed=False,
            places=empty,
            teams=empty.copy(),
            team_profiles=pd.DataFrame(columns=range(HOURS_IN_WEEK), dtype=np.float64),
            note=MONTH_ONLY_NOTE,
        )
    place_profiles, place_timed = hour_of_week_profiles(
        incidents, place, weight=weight, timezone=timezone
    )
    team_profiles, team_timed = hour_of_week_profiles(
        incidents, team, weight=weight, timezone=timezone
    )
    team_of_place = (
        pd.DataFrame({"place": pd.Series(place).to_numpy(), "team": pd.Series(team).to_numpy()})
        .dropna()
        .drop_duplicates("place")
        .set_index("place")["team"]
    )
    place_rows = []
    for key, row in place_profiles.iterrows():
        team_key = team_of_place.get(key)
        team_row = (
            team_profiles.loc[team_key].to_numpy()
            if team_key in team_profiles.index
            else np.ones(HOURS_IN_WEEK)
        )
        shrunk = shrink_profile(
            row.to_numpy(), team_row, incidents=float(place_timed[key]), prior_weight=prior_weight
        )
        chosen = recommend_windows(shrunk, window_hours=window_hours, windows=windows)
        place_rows.append(
            {
                "place": key,
                "time_windows": describe_windows(chosen),
                "timed_incidents": int(place_timed[key]),
            }
        )
    team_rows = []
    for key, row in team_profiles.iterrows():
        chosen = recommend_windows(row.to_numpy(), window_hours=window_hours, windows=windows)
        team_rows.append(
            {
                "team": key,
                "time_windows": describe_windows(chosen),
                "timed_incidents": int(team_timed[key]),
            }
        )
    total = len(incidents)
    timed_count = int(incidents[columns[0]].notna().sum())
    note = (
        f"Visit windows from the times of {timed_count:,} of {total:,} incidents "
        f"({'aoristic: ranges spread over the hours they cover' if columns[1] else 'exact times'}"
        f"), local time ({timezone}), weighted by {'harm' if weight else 'count'}; a place's "
        f"profile is pulled toward its team's with the weight of {prior_weight:g} incidents. "
        f"Windows are {window_hours}-hour blocks holding at least 1.5 times an even share."
    )
    sums = team_profiles.sum(axis=1).replace(0, np.nan)
    return PlaceTimes(
        timed=True,
        places=pd.DataFrame(place_rows).set_index("place")
        if place_rows
        else pd.DataFrame(columns=["time_windows", "timed_incidents"]),
        teams=pd.DataFrame(team_rows).set_index("team")
        if team_rows
        else pd.DataFrame(columns=["time_windows", "timed_incidents"]),
        team_profiles=team_profiles.div(sums, axis=0).fillna(0.0),
        note=note,
    )
