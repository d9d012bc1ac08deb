"""Harm weights: offence -> days of custody (Cambridge Crime Harm Index by default).

Three bundled tables, derived in ``data/harm/README.md``:

* ``police_uk``: one weight per data.police.uk street-crime category (count-weighted mean
  of the CCHI values of the Home Office offence subgroups in that category);
* ``mps_minor``: one weight per MPS minor category, for the Met's area counts;
* ``home_office``: one weight per Home Office offence code, for force exports.

A user CSV with columns ``offence,harm`` replaces them (``read_harm_table``). Matching is
exact after trimming spaces and ignoring case. An offence missing from the table is never
given a guessed weight: ingest rejects the row as ``unknown_offence``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.errors import InputError, SchemaError
from hotspots.core.paths import bundled
from hotspots.core.schema import HARM, OFFENCE, require_columns

CCHI_CITATION = (
    "Cambridge Crime Harm Index (2026 update; Sherman, Neyroud & Neyroud 2016), "
    "values per Home Office offence subgroup"
)

POLICE_GENERATED_SUBGROUPS = (
    "Possession of drugs",
    "Trafficking of drugs",
    "Possession of weapons offences",
)
"""Home Office offence subgroups that police mostly find themselves (by stop and search,
patrol or warrant) rather than have reported to them. Their recorded numbers follow police
activity, so a harm layer that counts them and then guides searches or patrols feeds on
its own activity. ``hotspots detect`` and ``hotspots task`` leave them out by default."""

POLICE_GENERATED_NOTE = (
    "offences police mostly find themselves (drugs, possession of weapons) are left out of "
    "the harm layer, because it guides searches and patrols and they would follow past "
    "police activity"
)

_BUNDLED = {
    "police_uk": ("cchi_police_uk.csv", "category", "harm_days"),
    "mps_minor": ("cchi_mps_minor.csv", "minor_category", "harm_days"),
    "home_office": ("cchi_home_office_codes.csv", "ho_code", "harm_days"),
}


@dataclass(frozen=True)
class HarmTable:
    """A lookup from offence label to harm weight.

    Attributes
    ----------
    weights
        Harm per offence, indexed by the offence label as published.
    name
        What the table is, stated on every output.
    source
        File it was read from.
    """

    weights: pd.Series
    name: str
    source: str
    police_generated: frozenset[str] = frozenset()
    """Offence labels (the table's spelling) that police mostly find themselves."""

    @staticmethod
    def _key(labels: pd.Series) -> pd.Series:
        return labels.astype("string").str.strip().str.casefold()

    @cached_property
    def _by_key(self) -> pd.DataFrame:
        """Weights and the table's spelling, indexed by the normalised label."""
        keys = self._key(pd.Series(self.weights.index, dtype=object))
        frame = pd.DataFrame(
            {
                "harm": self.weights.to_numpy(dtype=np.float64),
                "label": self.weights.index.to_numpy(dtype=object),
            },
            index=keys.to_numpy(dtype=object),
        )
        return frame[~frame.index.duplicated()]

    def _match(self, offences: pd.Series | np.ndarray, column: str) -> np.ndarray:
        offences = pd.Series(offences, copy=False, dtype=object)
        codes, uniques = pd.factorize(self._key(offences), use_na_sentinel=True)
        values = (
            self._by_key[column].reindex(pd.Index(uniques, dtype=object)).to_numpy(dtype=object)
        )
        out = np.full(len(offences), None, dtype=object)
        valid = codes >= 0
        out[valid] = values[codes[valid]]
        return out

    def lookup(self, offences: pd.Series | np.ndarray) -> np.ndarray:
        """Harm per offence label; NaN where the label is not in the table."""
        matched = self._match(offences, "harm")
        return pd.to_numeric(pd.Series(matched, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64
        )

    def canonical(self, offences: pd.Series | np.ndarray) -> np.ndarray:
        """Return the table's own spelling of each offence (``None`` where unknown)."""
        matched = self._match(offences, "label")
        matched[pd.isna(matched)] = None
        return matched

    def is_police_generated(self, offences: pd.Series | np.ndarray) -> np.ndarray:
        """Whether each offence label is one that police mostly find themselves."""
        matched = self.canonical(offences)
        return np.array([m in self.police_generated for m in matched], dtype=bool)

    def describe(self) -> dict[str, object]:
        """Name, source, the weights and the police-generated offences, for manifests."""
        return {
            "name": self.name,
            "source": self.source,
            "weights": {str(k): float(v) for k, v in self.weights.items()},
            "police_generated": sorted(self.police_generated),
        }


def _police_generated(table: pd.DataFrame, key: str) -> frozenset[str]:
    """Labels of a bundled table whose offence subgroup(s) are all police-generated."""
    wanted = {s.casefold() for s in POLICE_GENERATED_SUBGROUPS}
    if "prc_subgroup" in table:
        subgroups = table["prc_subgroup"].astype(str).map(lambda s: [s])
    elif "components" in table:  # police_uk: "Possession of drugs=3x27152; Trafficking ..."
        subgroups = (
            table["components"]
            .fillna("")
            .astype(str)
            .map(lambda text: [part.split("=")[0].strip() for part in text.split(";") if part])
        )
    else:
        return frozenset()
    flagged = subgroups.map(
        lambda parts: bool(parts) and all(p.casefold() in wanted for p in parts)
    )
    return frozenset(table.loc[flagged.to_numpy(dtype=bool), key].astype(str))


def default_harm_table(scheme: str = "police_uk") -> HarmTable:
    """Bundled CCHI table for ``scheme``: ``police_uk``, ``mps_minor`` or ``home_office``."""
    if scheme not in _BUNDLED:
        raise SchemaError(f"unknown harm scheme {scheme!r}; use one of {sorted(_BUNDLED)}.")
    filename, key, value = _BUNDLED[scheme]
    path = bundled("harm", filename)
    table = pd.read_csv(path, dtype={key: "string"})
    weights = pd.Series(
        table[value].to_numpy(dtype=np.float64), index=table[key].to_numpy(dtype=object)
    )
    return HarmTable(
        weights=weights,
        name=f"{CCHI_CITATION}; {scheme} table (data/harm/{filename})",
        source=str(path),
        police_generated=_police_generated(table, key),
    )


def read_harm_table(path: str | Path, *, name: str | None = None) -> HarmTable:
    """Read a user harm table: a CSV with columns ``offence`` and ``harm``.

    An optional ``police_generated`` column (true/false, yes/no, 1/0) marks offences that
    police mostly find themselves; they are then left out of harm layers by default.

    Raises
    ------
    InputError
        If the file is missing or unreadable.
    SchemaError
        If columns are missing, an offence repeats, or a weight is negative or not a number.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"harm table not found: {path}")
    try:
        table = pd.read_csv(path, dtype={OFFENCE: "string"}, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read harm table {path}: {exc}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    require_columns(table, [OFFENCE, HARM], name=f"harm table {path}")
    harm = pd.to_numeric(table[HARM], errors="coerce")
    bad = table[OFFENCE][harm.isna() | (harm < 0) | ~np.isfinite(harm.fillna(0))]
    if len(bad):
        raise SchemaError(
            f"harm table {path}: weights must be numbers >= 0; check offence(s) "
            f"{', '.join(repr(str(b)) for b in bad[:3])}."
        )
    keys = table[OFFENCE].str.strip().str.casefold()
    if keys.duplicated().any():
        raise SchemaError(
            f"harm table {path}: offence {table[OFFENCE][keys.duplicated()].iloc[0]!r} "
            "appears twice; give each offence one weight."
        )
    weights = pd.Series(
        harm.to_numpy(dtype=np.float64), index=table[OFFENCE].to_numpy(dtype=object)
    )
    flagged: frozenset[str] = frozenset()
    if "police_generated" in table:
        marks = table["police_generated"].astype(str).str.strip().str.casefold()
        flagged = frozenset(table.loc[marks.isin(["true", "yes", "1", "y"]), OFFENCE].astype(str))
    return HarmTable(
        weights=weights,
        name=name or f"user table {path.name}",
        source=str(path),
        police_generated=flagged,
    )


@dataclass(frozen=True)
class PoliceGeneratedChoice:
    """Which police-generated offences a harm layer leaves out, and the sentence to print."""

    exclude: tuple[str, ...]
    """Offence labels to leave out (empty when they are kept)."""
    sentence: str
    """What was done and why, for manifests, reports and the command line."""


def police_generated_choice(
    harm: HarmTable, *, crime_types: Sequence[str] | None = None, include: bool = False
) -> PoliceGeneratedChoice:
    """Decide whether police-generated offences enter a harm layer that guides patrols.

    Parameters
    ----------
    harm
        The harm table (it knows which of its offences are police-generated).
    crime_types
        Crime types chosen with ``--crime-type``; an explicit choice is respected, with a
        warning in the sentence.
    include
        ``--include-police-generated``: keep them, and say what that means.
    """
    flagged = sorted(harm.police_generated)
    if not flagged:
        return PoliceGeneratedChoice((), "the harm table marks no offence as police-generated")
    if include:
        return PoliceGeneratedChoice(
            (),
            f"police-generated offences ({', '.join(flagged)}) are included "
            "(--include-police-generated): this harm layer follows past police activity as "
            "well as harm, so it must not be used to place searches or patrols",
        )
    if crime_types:
        chosen = [c for c in harm.canonical(np.array(list(crime_types), dtype=object)) if c]
        asked = sorted(set(chosen) & harm.police_generated)
        if asked:
            return PoliceGeneratedChoice(
                (),
                f"{', '.join(asked)} chosen with --crime-type: police mostly find these "
                "offences themselves, so this layer maps past police activity, not harm "
                "reported to police; do not use it to place searches or patrols",
            )
        return PoliceGeneratedChoice((), f"{POLICE_GENERATED_NOTE} (none was chosen)")
    return PoliceGeneratedChoice(
        tuple(flagged),
        f"{', '.join(flagged)} left out: {POLICE_GENERATED_NOTE} "
        "(--include-police-generated keeps them)",
    )
