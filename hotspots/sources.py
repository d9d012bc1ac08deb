"""Find input files and stream their rows in chunks.

An INPUT on the command line is a file (``.csv``, ``.csv.gz``, ``.parquet``), a folder
(searched recursively, so data.police.uk's monthly sub-folders work), a glob pattern, or
the archive ``.zip`` as downloaded from data.police.uk. Archive members are streamed from
memory: nothing is ever extracted to a path taken from an entry name, and decompression is
bounded so that a zip bomb is refused with a clear error.
"""

from __future__ import annotations

import glob
import gzip
import io
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hotspots.errors import InputError

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
ZIP_SUFFIX = ".zip"

MAX_EXPANSION_RATIO = 200
"""A compressed member may grow at most this many times (plus 64 MiB) when read."""

MIN_EXPANSION_ALLOWANCE = 64 * 2**20


@dataclass(frozen=True)
class Source:
    """One readable table: a file on disk, or a member of a zip archive.

    Attributes
    ----------
    path
        The file on disk (the archive, for a member).
    member
        Name of the archive member, or ``None``.
    size_bytes
        Bytes on disk (compressed size for archive members), for progress bars.
    """

    path: Path
    member: str | None = None
    size_bytes: int = 0

    @property
    def label(self) -> str:
        """Name used in rejects and manifests: ``file`` or ``archive.zip!member``."""
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @property
    def name(self) -> str:
        """Short name: the file (or member) name without folders."""
        return Path(self.member).name if self.member else self.path.name

    @property
    def is_parquet(self) -> bool:
        """Whether the source is a Parquet file."""
        return self.name.lower().endswith(PARQUET_SUFFIXES)


def _is_table_name(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


def _zip_members(path: Path) -> list[Source]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputError(
            f"{path} is not a readable zip archive ({exc}); re-download it or unzip it "
            "and pass the folder instead."
        ) from None
    return [
        Source(path=path, member=i.filename, size_bytes=i.compress_size)
        for i in sorted(infos, key=lambda i: i.filename)
        if _is_table_name(i.filename)
    ]


def _sources_from_path(path: Path) -> list[Source]:
    if path.is_dir():
        found: list[Source] = []
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.name.lower().endswith(ZIP_SUFFIX):
                found.extend(_zip_members(child))
            elif _is_table_name(child.name):
                found.append(Source(path=child, size_bytes=child.stat().st_size))
        return found
    if path.name.lower().endswith(ZIP_SUFFIX):
        return _zip_members(path)
    return [Source(path=path, size_bytes=path.stat().st_size)]


def find_sources(inputs: Sequence[str | Path]) -> list[Source]:
    """Expand files, folders, globs and zip archives into readable sources.

    Parameters
    ----------
    inputs
        Paths or glob patterns, as given on the command line.

    Returns
    -------
    list of Source
        In a stable order (inputs in the order given, files sorted within each),
        each source once even if named twice.

    Raises
    ------
    InputError
        If an input does not exist or matches no readable table.
    """
    if not inputs:
        raise InputError("no input given; pass a file, a folder, a glob or a zip archive.")
    sources: list[Source] = []
    for raw in inputs:
        text = str(raw)
        path = Path(text)
        if path.exists():
            found = _sources_from_path(path)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            found = [s for m in matches for s in _sources_from_path(Path(m))]
        else:
            raise InputError(f"no such file or folder: {text}")
        if not found:
            raise InputError(
                f"{text} holds no .csv, .csv.gz, .parquet or .zip file to read; check the path."
            )
        sources.extend(found)
    unique: dict[tuple[str, str | None], Source] = {}
    for source in sources:
        unique.setdefault((str(source.path.resolve()), source.member), source)
    return list(unique.values())


class _BoundedReader(io.RawIOBase):
    """Read from ``raw`` but refuse to deliver more than ``limit`` bytes."""

    def __init__(
        self, raw: io.BufferedIOBase, limit: int, label: str, owned: tuple[object, ...] = ()
    ) -> None:
        self._raw = raw
        self._owned = owned  # underlying handles that closing ``raw`` leaves open
        self._limit = limit
        self._label = label
        self.delivered = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        try:
            data = self._raw.read(len(buffer))
        except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
            raise InputError(
                f"{self._label} is truncated or corrupt ({exc}); re-download it."
            ) from None
        n = len(data)
        self.delivered += n
        if self.delivered > self._limit:
            raise InputError(
                f"{self._label} expands to more than {self._limit:,} bytes when "
                "decompressed; refusing it as a possible zip bomb. Unpack it yourself if "
                "it is genuine."
            )
        buffer[:n] = data
        return n

    def close(self) -> None:
        self._raw.close()
        for handle in self._owned:
            handle.close()  # type: ignore[attr-defined]
        super().close()


@dataclass
class OpenedSource:
    """A binary stream over a source's decompressed bytes, with progress in bytes."""

    stream: io.BufferedReader
    position: object = field(repr=False)

    def bytes_consumed(self) -> int:
        """Compressed bytes consumed so far (for progress bars)."""
        return int(self.position())  # type: ignore[operator]


def open_binary(source: Source, *, buffer_size: int = 1 << 20) -> OpenedSource:
    """Open a source for reading decompressed bytes.

    Gzip files and zip members are decompressed on the fly, never to disk, with at most
    ``MAX_EXPANSION_RATIO`` times their compressed size (plus 64 MiB) allowed out.
    """
    name = source.name.lower()
    try:
        if source.member is not None:
            archive = zipfile.ZipFile(source.path)
            info = archive.getinfo(source.member)
            if info.flag_bits & 0x1:
                raise InputError(
                    f"{source.label} is encrypted; unzip it with its password and pass the "
                    "files instead."
                )
            raw: io.BufferedIOBase = archive.open(info)  # type: ignore[assignment]
            if name.endswith(".gz"):
                raw = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
            limit = max(info.compress_size * MAX_EXPANSION_RATIO, MIN_EXPANSION_ALLOWANCE)
            if info.file_size > limit:
                raise InputError(
                    f"{source.label} declares {info.file_size:,} bytes uncompressed from "
                    f"{info.compress_size:,} compressed; refusing it as a possible zip bomb."
                )
            handle = archive.fp
            position = (lambda: handle.tell()) if handle is not None else (lambda: 0)
            owned: tuple[object, ...] = (archive,)
        else:
            file_handle = open(source.path, "rb")  # noqa: SIM115 (closed by the caller)
            position = file_handle.tell
            raw = gzip.GzipFile(fileobj=file_handle) if name.endswith(".gz") else file_handle
            owned = (file_handle,) if raw is not file_handle else ()
            limit = max(source.size_bytes * MAX_EXPANSION_RATIO, MIN_EXPANSION_ALLOWANCE)
            if not name.endswith(".gz"):
                limit = 2**62
    except (OSError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise InputError(f"cannot open {source.label}: {exc}") from None
    bounded = _BoundedReader(raw, limit, source.label, owned)
    return OpenedSource(
        stream=io.BufferedReader(bounded, buffer_size=buffer_size), position=position
    )


def sniff_text(source: Source, n_bytes: int = 1 << 16) -> bytes:
    """Return the first ``n_bytes`` decompressed bytes of a CSV source."""
    opened = open_binary(source, buffer_size=n_bytes)
    try:
        return opened.stream.read(n_bytes)
    finally:
        opened.stream.close()


def guess_encoding(head: bytes) -> str:
    """Guess a CSV's encoding from its first bytes: UTF-8 (with or without BOM) or cp1252."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start < len(head) - 4:
            return "cp1252"
    return "utf-8"


SNIFF_BYTES = 1 << 16
"""A CSV header must end within this many bytes."""


def _check_unique(names: list[str], label: str) -> list[str]:
    counts = Counter(n for n in names if n)
    repeated = [n for n, c in counts.items() if c > 1]
    if repeated:
        raise InputError(
            f"{label} has the column(s) {', '.join(repr(n[:60]) for n in repeated[:5])} more "
            "than once in its header; give every column a unique name."
        )
    return names


def read_header(source: Source) -> tuple[list[str], str]:
    """Column names of a source (trimmed) and the encoding to read it with.

    Raises
    ------
    InputError
        If the file is empty, its first line is not a plausible header (longer than
        ``SNIFF_BYTES``), or a column name appears twice.
    """
    if source.is_parquet:
        with _open_parquet(source) as parquet:
            return _check_unique(list(parquet.schema_arrow.names), source.label), "utf-8"
    head = sniff_text(source, SNIFF_BYTES)
    if not head.strip():
        raise InputError(f"{source.label} is empty; expected a CSV with a header row.")
    if len(head) >= SNIFF_BYTES and not re.search(rb"[\r\n]", head):
        raise InputError(
            f"{source.label} has no line break in its first {SNIFF_BYTES:,} bytes; expected "
            "a CSV file starting with a header row."
        )
    encoding = guess_encoding(head)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    first_line = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]  # line breaks as pyarrow sees them
    import csv

    header = next(csv.reader([first_line]), [])
    return _check_unique([h.strip() for h in header], source.label), encoding


def _is_single_line(source: Source) -> bool:
    """Whether a CSV source is one line with no line break (a header without rows)."""
    head = sniff_text(source, SNIFF_BYTES)
    return len(head) < SNIFF_BYTES and not re.search(rb"[\r\n]", head)


class _open_parquet:  # noqa: N801 (context manager used like a function)
    def __init__(self, source: Source) -> None:
        self.source = source

    def __enter__(self) -> pq.ParquetFile:
        if self.source.member is not None:
            opened = open_binary(self.source)
            self._buffer = pa.BufferReader(opened.stream.read())
            opened.stream.close()
            target = self._buffer
        else:
            target = str(self.source.path)
        try:
            self._file = pq.ParquetFile(target)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(
                f"{self.source.label} is not a readable Parquet file: {exc}"
            ) from None
        return self._file

    def __exit__(self, *exc: object) -> None:
        self._file.close()


@dataclass(frozen=True)
class Chunk:
    """A batch of rows read from one source, all values as strings (CSV) or typed (Parquet).

    Attributes
    ----------
    table
        The rows, as a pyarrow Table.
    source_rows
        Line number of each row in its file (header is line 1).
    malformed
        ``(line, detail)`` for lines of this stretch that could not be parsed.
    """

    table: pa.Table
    source_rows: list[int] | object
    malformed: list[tuple[int, str]]


def iter_chunks(
    source: Source,
    *,
    header: list[str] | None = None,
    encoding: str = "utf-8",
    block_size: int = 16 << 20,
    on_progress: object = None,
) -> Iterator[Chunk]:
    """Stream a source in chunks of rows.

    CSV columns are all read as strings so that validation, not the parser, decides what
    a bad value is. Rows with the wrong number of fields come back in ``malformed``.

    Parameters
    ----------
    source
        What to read.
    encoding
        Text encoding of a CSV (see :func:`guess_encoding`).
    block_size
        Bytes parsed per chunk; memory use is a small multiple of this.
    on_progress
        Optional callable receiving the compressed bytes consumed so far.
    """
    import numpy as np

    if source.is_parquet:
        with _open_parquet(source) as parquet:
            line = 1
            for batch in parquet.iter_batches(batch_size=262_144):
                table = pa.Table.from_batches([batch])
                rows = np.arange(line + 1, line + 1 + table.num_rows, dtype=np.int64)
                line += table.num_rows
                yield Chunk(table=table, source_rows=rows, malformed=[])
        return

    if header is None:
        header, encoding = read_header(source)
    opened = open_binary(source)
    invalid: list[tuple[int, str]] = []

    def handle_invalid(row: pacsv.InvalidRow) -> str:
        number = row.number if row.number is not None else -1
        invalid.append(
            (number, f"expected {row.expected_columns} fields, got {row.actual_columns}")
        )
        return "skip"

    # the trimmed header names, not the raw ones, so that " Month" is found as "Month"
    read_options = pacsv.ReadOptions(
        block_size=block_size,
        use_threads=False,
        encoding=encoding,
        column_names=header,
        skip_rows=1,
    )
    parse_options = pacsv.ParseOptions(
        invalid_row_handler=handle_invalid, newlines_in_values=False
    )
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        reader = pacsv.open_csv(
            opened.stream,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except pa.ArrowInvalid as exc:
        opened.stream.close()
        if _is_single_line(source):
            return  # a header with no line break after it: no rows
        raise InputError(f"cannot parse {source.label} as CSV: {exc}") from None
    next_line = 2  # header is line 1
    reported = 0
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise InputError(
                    f"cannot parse {source.label} as {encoding} CSV: {exc}. If the file is not "
                    "UTF-8, save it as UTF-8 and try again."
                ) from None
            skip = {n for n, _ in invalid}
            rows = np.empty(batch.num_rows, dtype=np.int64)
            filled = 0
            while filled < batch.num_rows:
                if next_line in skip:
                    next_line += 1
                    continue
                # fast path: no invalid line within the rest of this batch
                end = next_line + (batch.num_rows - filled)
                if not any(next_line <= n < end for n in skip):
                    rows[filled:] = np.arange(next_line, end, dtype=np.int64)
                    next_line = end
                    filled = batch.num_rows
                else:
                    rows[filled] = next_line
                    filled += 1
                    next_line += 1
            new_invalid = invalid[reported:]
            reported = len(invalid)
            if on_progress is not None:
                on_progress(opened.bytes_consumed())  # type: ignore[operator]
            yield Chunk(
                table=pa.Table.from_batches([batch]), source_rows=rows, malformed=new_invalid
            )
        if len(invalid) > reported:
            yield Chunk(
                table=pa.table({name: pa.array([], pa.string()) for name in header}),
                source_rows=np.empty(0, dtype=np.int64),
                malformed=invalid[reported:],
            )
    finally:
        opened.stream.close()
