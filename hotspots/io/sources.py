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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hotspots.core.errors import InputError

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
        self.quotes = 0  # 1 once a quote character is seen: lines with one are re-read

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
        if not self.quotes and b'"' in data:
            self.quotes = 1
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
    reader: _BoundedReader | None = field(default=None, repr=False)

    def bytes_consumed(self) -> int:
        """Compressed bytes consumed so far (for progress bars)."""
        return int(self.position())  # type: ignore[operator]

    def quotes_seen(self) -> int:
        """Return 1 if a quote character was among the decompressed bytes read so far, else 0."""
        return self.reader.quotes if self.reader is not None else 1


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
        stream=io.BufferedReader(bounded, buffer_size=buffer_size),
        position=position,
        reader=bounded,
    )


def sniff_text(source: Source, n_bytes: int = 1 << 16) -> bytes:
    """Return the first ``n_bytes`` decompressed bytes of a CSV source."""
    opened = open_binary(source, buffer_size=n_bytes)
    try:
        return opened.stream.read(n_bytes)
    finally:
        opened.stream.close()


def guess_encoding(head: bytes, *, whole_file: bool = False) -> str:
    """Guess a CSV's encoding from its first bytes: UTF-8 (with or without BOM) or cp1252.

    ``whole_file`` says that ``head`` is all of the file: then no character can have been
    cut at its end, and any invalid UTF-8 means cp1252.
    """
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        cut = exc.reason == "unexpected end of data" and exc.start >= len(head) - 4
        if whole_file or not cut:
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
    encoding = guess_encoding(head, whole_file=len(head) < SNIFF_BYTES)
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
    blank_lines
        Blank lines (not rows: only counted; the lines after them keep their numbers).
    """

    table: pa.Table
    source_rows: list[int] | object
    malformed: list[tuple[int, str]]
    blank_lines: int = 0


def _rows_from_lines(
    texts: list[str], numbers: list[int], header: list[str]
) -> tuple[pa.Table, list[int], list[tuple[int, str]]]:
    """Parse lines that hold quotes, one line at a time, with CSV quoting rules."""
    import csv

    good: list[list[str]] = []
    good_numbers: list[int] = []
    malformed: list[tuple[int, str]] = []
    for number, text in zip(numbers, texts, strict=True):
        try:
            fields = next(csv.reader([text], strict=True), [])
        except csv.Error as exc:
            malformed.append(
                (
                    number,
                    f"cannot be read as CSV ({exc}); a quote must open and close a value "
                    "on the same line",
                )
            )
            continue
        if len(fields) != len(header):
            malformed.append((number, f"expected {len(header)} fields, got {len(fields)}"))
        else:
            good.append(fields)
            good_numbers.append(number)
    columns = [pa.array([row[i] for row in good], pa.string()) for i in range(len(header))]
    return pa.Table.from_arrays(columns, names=list(header)), good_numbers, malformed


_BLANK_RUN = re.compile(rb"(?:\r\n|\r|\n){2,}")


def _has_blank_line(data: bytes) -> bool:
    """Whether two line breaks follow each other (LF LF, LF CR or CR CR), quickly."""
    if len(data) < 2:
        return False
    has_cr = b"\r" in data
    for offset in (0, 1):
        pairs = np.frombuffer(data, "<u2", count=(len(data) - offset) // 2, offset=offset)
        if (pairs == 0x0A0A).any():  # bytes read as little-endian pairs: "\n\n"
            return True
        if has_cr and ((pairs == 0x0D0A).any() or (pairs == 0x0D0D).any()):  # "\n\r", "\r\r"
            return True
    return False


def _count_breaks(data: bytes) -> int:
    """Count line breaks in ``data`` as pyarrow does (CR LF, CR or LF)."""
    n = data.count(b"\n")
    if b"\r" in data:
        n += data.count(b"\r") - data.count(b"\r\n")
    return n


class _BlankLineFilter(io.RawIOBase):
    """Pass a CSV byte stream on with each run of blank lines replaced by one marker line.

    pyarrow would skip blank lines without saying so, and the line numbers of the rows
    after them would be wrong. The marker (a line pyarrow rejects as having too many
    fields, with a random tag no input can forge) says how many blank lines it stands for,
    so :class:`_OneRowPerLine` can count them and keep every later line number true. Files
    without blank lines cost a few vectorised comparisons per MiB.
    """

    def __init__(self, raw: io.BufferedReader, *, n_columns: int, read_size: int = 1 << 20):
        import secrets

        self._raw = raw
        self._read_size = read_size
        self.tag = f"\x00hotspots-blank-{secrets.token_hex(8)}:"
        self._tail = b"," * n_columns
        self._ready = b""
        self._pending = 0  # line breaks of a run not passed on yet
        self._cr_open = False  # the last byte read was "\r": a "\n" next belongs to it
        self._eof = False

    def readable(self) -> bool:
        return True

    def _end_run(self) -> bytes:
        blanks, self._pending = self._pending - 1, 0
        if blanks <= 0:
            return b"\n"
        return b"\n" + f"{self.tag}{blanks}".encode() + self._tail + b"\n"

    def _filter(self, data: bytes) -> bytes:
        if self._cr_open and data.startswith(b"\n"):
            data = data[1:]
        self._cr_open = False
        rest = data.lstrip(b"\r\n")
        lead = data[: len(data) - len(rest)]
        self._pending += _count_breaks(lead)
        if not rest:
            self._cr_open = lead.endswith(b"\r")
            return b""
        out = [self._end_run()] if self._pending else []
        body = rest.rstrip(b"\r\n")
        tail = rest[len(body) :]
        if _has_blank_line(body):
            position = 0
            for run in _BLANK_RUN.finditer(body):
                out.append(body[position : run.start()])
                self._pending = _count_breaks(run.group())
                out.append(self._end_run())
                position = run.end()
            body = body[position:]
        out.append(body)
        if tail:
            self._pending = _count_breaks(tail)
            self._cr_open = tail.endswith(b"\r")
        return b"".join(out) if len(out) > 1 else body

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while not self._ready and not self._eof:
            data = self._raw.read(self._read_size)
            if not data:
                self._eof = True
                self._ready = self._end_run() if self._pending else b""
                break
            self._ready = self._filter(data)
        n = min(len(buffer), len(self._ready))
        buffer[:n] = self._ready[:n]
        self._ready = self._ready[n:] if n < len(self._ready) else b""
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _OneRowPerLine:
    """Turn parsed batches into rows numbered by their line in the file, one row per line.

    pyarrow parses with quoting turned off, so every line is one record: a quote that is
    never closed cannot swallow the lines after it (up to 16 MB of them) into one bad row,
    and a value cannot continue on the next line. Lines that hold a quote character are
    then parsed again, one at a time, with CSV quoting rules (``"On or near A, B"`` is one
    value). Blank lines arrive as marker records (see :class:`_BlankLineFilter`): they are
    counted, not rows.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.next_record = 2
        self.marker_records: list[int] = []
        self.extra_lines: list[int] = [0]  # cumulative, one more than marker_records
        self.blank_lines = 0

    def _line_of(self, records: np.ndarray) -> np.ndarray:
        if not self.marker_records:
            return records
        keys = np.asarray(self.marker_records, dtype=np.int64)
        return (
            records
            + np.asarray(self.extra_lines, dtype=np.int64)[np.searchsorted(keys, records, "left")]
        )

    def chunk(
        self,
        table: pa.Table,
        invalid: list[tuple[int, str, str]],
        *,
        header: list[str],
        quoted: bool,
    ) -> Chunk:
        """Give a parsed batch its line numbers and re-read its lines that hold quotes."""
        bad_records = np.array(sorted(n for n, _, _ in invalid), dtype=np.int64)
        candidates = np.arange(
            self.next_record, self.next_record + table.num_rows + len(invalid), dtype=np.int64
        )
        records = candidates[~np.isin(candidates, bad_records)][: table.num_rows]
        last = max(int(records[-1]) if len(records) else 0, int(bad_records.max(initial=0)))
        self.next_record = max(self.next_record, last + 1)
        blank_lines = 0
        rows_invalid = []
        for number, detail, text in sorted(invalid):
            if text.startswith(self.tag):
                blanks = int(text[len(self.tag) :].rstrip(","))
                self.marker_records.append(number)  # stands for `blanks` lines
                self.extra_lines.append(self.extra_lines[-1] + blanks - 1)
                blank_lines += blanks
            else:
                rows_invalid.append((number, detail, text))
        lines = self._line_of(records)
        line_of_bad = dict(
            zip(
                [n for n, _, _ in rows_invalid],
                self._line_of(np.array([n for n, _, _ in rows_invalid], dtype=np.int64)).tolist(),
                strict=True,
            )
        )

        again: list[tuple[int, str]] = []  # (line, text) to parse with quoting rules
        has_quote = np.zeros(table.num_rows, dtype=bool)
        if quoted and table.num_rows:
            for column in table.columns:
                values = column.combine_chunks()
                data = values.buffers()[2]
                if data is not None and b'"' in data.to_pybytes():
                    hit = pc.match_substring(values, '"')
                    has_quote |= np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
            if has_quote.any():
                positions = np.flatnonzero(has_quote)
                rows = [table.column(i).take(positions).to_pylist() for i in range(len(header))]
                for k, position in enumerate(positions):
                    text = ",".join(str(rows[i][k]) for i in range(len(header)))
                    again.append((int(lines[position]), text))
        malformed: list[tuple[int, str]] = []
        for number, detail, text in rows_invalid:
            if '"' in text:
                again.append((line_of_bad[number], text))
            else:
                malformed.append((line_of_bad[number], detail))
        out = table.filter(pa.array(~has_quote)) if has_quote.any() else table
        if not again:
            return Chunk(
                table=out,
                source_rows=lines[~has_quote],
                malformed=sorted(malformed),
                blank_lines=blank_lines,
            )
        again.sort()
        fixed, fixed_lines, fixed_malformed = _rows_from_lines(
            [t for _, t in again], [n for n, _ in again], header
        )
        merged = pa.concat_tables([out, fixed.cast(out.schema)])
        merged_lines = np.concatenate([lines[~has_quote], np.asarray(fixed_lines, dtype=np.int64)])
        order = np.argsort(merged_lines, kind="stable")  # file order (the first id wins)
        return Chunk(
            table=merged.take(pa.array(order)),
            source_rows=merged_lines[order],
            malformed=sorted(malformed + fixed_malformed),
            blank_lines=blank_lines,
        )


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
    stream = _BlankLineFilter(opened.stream, n_columns=len(header))
    invalid: list[tuple[int, str, str]] = []

    def handle_invalid(row: pacsv.InvalidRow) -> str:
        number = row.number if row.number is not None else -1
        detail = f"expected {row.expected_columns} fields, got {row.actual_columns}"
        invalid.append((number, detail, row.text or ""))
        return "skip"

    # the trimmed header names, not the raw ones, so that " Month" is found as "Month"
    read_options = pacsv.ReadOptions(
        block_size=block_size,
        use_threads=False,
        encoding=encoding,
        column_names=header,
        skip_rows=1,
    )
    # one record per line (see _OneRowPerLine): no quoting here
    parse_options = pacsv.ParseOptions(
        quote_char=False, invalid_row_handler=handle_invalid, newlines_in_values=False
    )
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        reader = pacsv.open_csv(
            io.BufferedReader(stream, buffer_size=1 << 20),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except pa.ArrowInvalid as exc:
        stream.close()
        if _is_single_line(source):
            return  # a header with no line break after it: no rows
        raise InputError(f"cannot parse {source.label} as CSV: {exc}") from None
    lines = _OneRowPerLine(stream.tag)
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
            new_invalid = invalid[reported:]
            reported = len(invalid)
            if on_progress is not None:
                on_progress(opened.bytes_consumed())  # type: ignore[operator]
            yield lines.chunk(
                pa.Table.from_batches([batch]),
                new_invalid,
                header=header,
                quoted=opened.quotes_seen() > 0,
            )
        empty = pa.Table.from_arrays(
            [pa.array([], pa.string()) for _ in header], names=list(header)
        )
        if len(invalid) > reported:
            yield lines.chunk(empty, invalid[reported:], header=header, quoted=True)
    finally:
        stream.close()
