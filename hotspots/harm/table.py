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

    def describe(self) -> dict[str, object]:
        """Name, source and the weights, for manifests."""
        return {
            "name": self.name,
            "source": self.source,
            "weights": {str(k): float(v) for k, v in self.weights.items()},
        }


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
    )


def read_harm_table(path: str | Path, *, name: str | None = None) -> HarmTable:
    """Read a user harm table: a CSV with columns ``offence`` and ``harm``.

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
    return HarmTable(weights=weights, name=name or f"user table {path.name}", source=str(path))
