"""Writing outputs safely: atomic files, CSV cells neutralised against formula injection."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: str | Path, path: Path) -> None:
    """Give a temporary file normal permissions (as ``open`` would) and move it into place."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def neutralise_cell(value: object) -> object:
    """Prefix a text cell with ``'`` if a spreadsheet would run it as a formula.

    Numbers are left alone (``-0.12`` is a longitude, not a formula); only strings that
    start with ``=``, ``+``, ``-``, ``@``, tab or carriage return are changed.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


@contextmanager
def atomic_path(
    path: str | Path, *, mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO]:
    """Open a temporary file next to ``path`` and move it into place only on success.

    A crash or Ctrl-C leaves the old file (or none), never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        text = "b" not in mode
        with os.fdopen(
            fd, mode, encoding=encoding if text else None, newline="" if text else None
        ) as handle:
            yield handle
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, payload: object) -> Path:
    """Write JSON atomically, keys in a stable order, UTF-8."""
    with atomic_path(path) as handle:
        json.dump(payload, handle, indent=2, ensure_ascii=False, default=str)
        handle.write("\n")
    return Path(path)


def _has_carriage_return(value: object) -> bool:
    return isinstance(value, str) and "\r" in value


def write_csv(path: str | Path, frame: pd.DataFrame, *, index: bool = False) -> Path:
    """Write a frame as CSV atomically, with text cells neutralised (see neutralise_cell).

    Lines end with a line feed. Python's csv writer only quotes the line-ending characters it
    writes itself, so a cell holding a lone carriage return would split its row when read
    back; a frame with such a cell is written with every field quoted.
    """
    safe = frame.copy()
    quoting = csv.QUOTE_MINIMAL
    for column in safe.columns:
        if (
            safe[column].dtype == object
            or pd.api.types.is_string_dtype(safe[column])
            or isinstance(safe[column].dtype, pd.CategoricalDtype)
        ):
            safe[column] = safe[column].astype(object).map(neutralise_cell)
            if safe[column].map(_has_carriage_return).any():
                quoting = csv.QUOTE_ALL
    with atomic_path(path) as handle:
        safe.to_csv(handle, index=index, lineterminator="\n", quoting=quoting)
    return Path(path)


class CsvAppender:
    """Append rows to a CSV as they come (for rejects), neutralising text cells.

    Rows go to a temporary file that :meth:`close` moves into place, so an interrupted
    run never leaves a partial CSV under the final name.
    """

    def __init__(self, path: str | Path, columns: Iterable[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent
        )
        self._tmp = Path(tmp)
        self._handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._handle, lineterminator="\n")
        self._quote_all = csv.writer(self._handle, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self._writer.writerow(list(columns))
        self.rows = 0

    def append(self, frame: pd.DataFrame) -> None:
        """Write the rows of ``frame`` (columns in the order given at creation)."""
        for row in frame.itertuples(index=False, name=None):
            cells = [neutralise_cell(v) for v in row]
            writer = self._quote_all if any(map(_has_carriage_return, cells)) else self._writer
            writer.writerow(cells)
        self.rows += len(frame)

    def close(self, *, success: bool = True) -> None:
        """Move the file into place, or discard it if ``success`` is False."""
        self._handle.close()
        if success:
            _publish(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)


def sha256_file(path: str | Path, *, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()
