"""Rebuild the broken-input corpus in this folder (deterministic bytes).

Run ``python tests/broken/make_corpus.py`` from the repository root. Every file is tiny;
the 10 MB cases are generated at test time instead (see ``cases.py``). Real rows come from
the bundled ``data/police_uk`` files; the rest are made up around Trafalgar Square.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "data" / "police_uk"
ZIP_TIME = (2024, 1, 1, 0, 0, 0)

STREET = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
]
MET = "Metropolitan Police Service"


def street(
    crime_id: str = "a1",
    month: str = "2024-01",
    lon: str = "-0.128100",
    lat: str = "51.508000",
    crime_type: str = "Burglary",
    location: str = "On or near Trafalgar Square",
) -> list[str]:
    """One street-crime row in the published column order."""
    return [
        crime_id,
        month,
        MET,
        MET,
        lon,
        lat,
        location,
        "E01004736",
        "Westminster 018A",
        crime_type,
        "Under investigation",
        "",
    ]


def csv_text(header: list[str], rows: list[list[str]], newline: str = "\n") -> str:
    """Render rows as CSV text with the given line ending."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write(name: str, data: bytes | str) -> None:
    """Write one corpus file."""
    (HERE / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


def real_rows(folder: str, name: str, count: int) -> tuple[list[str], list[list[str]]]:
    """Header and the first ``count`` rows of a bundled gzipped CSV."""
    with gzip.open(DATA / folder / name, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [row for _, row in zip(range(count), reader, strict=False)]


def main() -> None:
    """Write every corpus file."""
    good = csv_text(STREET, [street("a1"), street("a2", location="On or near Strand")])
    write("empty.csv", b"")
    write("whitespace_only.csv", "\n  \n\r\n")
    write("header_only.csv", csv_text(STREET, []))
    write("header_only_no_newline.csv", ",".join(STREET))

    many = csv_text(STREET, [street(f"g{i}") for i in range(200)]).encode()
    compressed = gzip.compress(many, mtime=0)
    write("truncated.csv.gz", compressed[: len(compressed) // 2])
    write("not_gzip.csv.gz", good)
    archive = zip_bytes({"2024-01/2024-01-metropolitan-street.csv": many})
    write("truncated.zip", archive[: len(archive) // 2])
    few = csv_text(STREET, [street(f"g{i}") for i in range(20)]).encode()
    stored = bytearray(zip_bytes({"2024-01-metropolitan-street.csv": few}, compression=0))
    stored[2000] = ord("Q") if stored[2000] != ord("Q") else ord("R")  # breaks the CRC
    write("corrupt_member.zip", bytes(stored))
    encrypted = bytearray(zip_bytes({"2024-01-metropolitan-street.csv": good.encode()}))
    encrypted[6] |= 1  # "encrypted" flag in the local header ...
    central = encrypted.rfind(b"PK\x01\x02")
    encrypted[central + 8] |= 1  # ... and in the central directory
    write("encrypted_member.zip", bytes(encrypted))

    accents = csv_text(
        STREET,
        [
            street("l1", location="On or near Café Royal"),
            street("l2", location="On or near £ Street – “quoted”"),
        ],
    )
    write("latin1.csv", accents.encode("cp1252"))
    write("utf8_bom.csv", "\ufeff" + accents)
    write("crlf.csv", csv_text(STREET, [street("c1"), street("c2")], newline="\r\n"))

    without_lat = [c for c in STREET if c != "Latitude"]
    write(
        "missing_required_column.csv",
        csv_text(
            without_lat, [[v for c, v in zip(STREET, street(), strict=True) if c != "Latitude"]]
        ),
    )
    keep = ["Crime ID", "Month", "Longitude", "Latitude", "Crime type"]
    write(
        "missing_optional_columns.csv",
        csv_text(keep, [[v for c, v in zip(STREET, street(), strict=True) if c in keep]]),
    )
    write(
        "extra_columns.csv",
        csv_text([*STREET, "Notes", "Officer"], [[*street("e1"), "=1+1", "PC 123"]]),
    )
    order = list(reversed(STREET))
    write("reordered_columns.csv", csv_text(order, [list(reversed(street("r1")))]))
    padded = ",".join(f'" {c} "' if i % 2 else f"  {c} " for i, c in enumerate(STREET))
    write("padded_header.csv", padded + "\n" + csv_text(STREET, [street("p1")]).split("\n", 1)[1])
    write(
        "duplicate_column.csv",
        csv_text([*STREET, "Crime type"], [[*street("d1"), "Robbery"]]),
    )

    write(
        "swapped_lat_lon.csv",
        csv_text(
            STREET,
            [
                street("s1", lon="51.508000", lat="-0.128100"),
                street("s2", lon="51.461300", lat="-0.114600"),
                street("s3"),
            ],
        ),
    )
    write(
        "bng_in_lon_lat.csv",
        csv_text(
            STREET,
            [
                street("b1", lon="530047", lat="180422"),
                street("b2", lon="531200.5", lat="175600.25"),
                street("b3"),
            ],
        ),
    )
    odd = ["NaN", "nan", "inf", "-Infinity", "1e308", "1e999", "-1e400", "0x10", "1,5", "½"]
    rows = [street(f"n{i}", lon=value) for i, value in enumerate(odd)]
    rows += [street("n_lat_huge", lat="9" * 400), street("n_blank", lon="", lat="")]
    rows += [street("n_ok", lon=" -0.128100 ", lat="51.508000 ")]
    write("nan_inf_huge.csv", csv_text(STREET, rows))
    months = [
        "2024/01",
        "01/2024",
        "Jan 2024",
        "January 2024",
        "2024-1",
        "202401",
        "2024-01-15",
        "2024-13",
        "2024-00",
        "24-01",
        "",
    ]
    rows = [street(f"m{i}", month=value) for i, value in enumerate(months)]
    rows.append(street("m_ok", month="2024-01"))
    write("month_formats.csv", csv_text(STREET, rows))

    manchester = [
        street(f"gm{i}", lon=lon, lat=lat, location="On or near Piccadilly Gardens")
        for i, (lon, lat) in enumerate(
            [("-2.236800", "53.481200"), ("-2.242600", "53.480800"), ("-2.230000", "53.477000")]
        )
    ]
    for row in manchester:
        row[2] = row[3] = "Greater Manchester Police"
        row[7], row[8] = "E01005061", "Manchester 054C"
    write("2024-01-greater-manchester-street.csv", csv_text(STREET, manchester))
    header, rows = real_rows("city_of_london_street", "2024-01-city-of-london-street.csv.gz", 12)
    write("2024-01-city-of-london-street.csv", csv_text(header, rows))
    header, rows = real_rows(
        "met_stop_and_search", "2024-01-metropolitan-stop-and-search.csv.gz", 40
    )
    latitude = header.index("Latitude")
    unlocated = next(r for r in rows if not r[latitude])
    located = [r for r in rows if r[latitude]][:5]
    write("2024-01-metropolitan-stop-and-search.csv", csv_text(header, [*located, unlocated]))
    outcomes = [
        "Crime ID",
        "Month",
        "Reported by",
        "Falls within",
        "Longitude",
        "Latitude",
        "Location",
        "LSOA code",
        "LSOA name",
        "Outcome type",
    ]
    write(
        "2024-01-metropolitan-outcomes.csv",
        csv_text(
            outcomes,
            [
                [
                    "a1",
                    "2024-01",
                    MET,
                    MET,
                    "-0.1281",
                    "51.508",
                    "On or near X",
                    "E01004736",
                    "Westminster 018A",
                    "Offender given a caution",
                ]
            ],
        ),
    )
    good_line = csv_text(STREET, [street("ok1")]).split("\n", 1)[1].rstrip("\n")
    write(
        "malformed_rows.csv",
        ",".join(STREET)
        + "\n"
        + good_line
        + "\n"
        + good_line.replace("ok1", "too_many")
        + ",extra\n"
        + "too,few,fields\n"
        + good_line.replace("ok1", "nul\x00byte").replace("Burglary", "Bur\x00glary", 1)
        + "\n"
        + '"unbalanced,2024-01,quote\n'
        + good_line.replace("ok1", "ok2")
        + "\n\n"  # a blank line
        + good_line.replace("ok1", "ok3")
        + "\n",
    )
    write(
        "mixed_reasons.csv",
        csv_text(
            STREET,
            [
                street("x1"),
                street("x1"),  # duplicate_id
                street("", crime_type="Anti-social behaviour"),  # blank id: kept, noted
                street("x3", crime_type="Jaywalking"),  # unknown_offence
                street("x4", lon="", lat=""),  # missing_coordinates
                street("x5", lat="95.5"),  # invalid_coordinates (latitude beyond 90)
                street("x6", month="2024-1"),  # bad_month
            ],
        ),
    )
    write("binary_garbage.csv", bytes(range(256)) * 4)
    search_header, _ = real_rows(
        "met_stop_and_search", "2024-01-metropolitan-stop-and-search.csv.gz", 1
    )
    base = [
        "Person search",
        "2024-01-15T12:00:00+00:00",
        "False",
        "",
        "51.508000",
        "-0.128100",
        "Male",
        "18-24",
        "White - English/Welsh/Scottish/Northern Irish/British",
        "White",
        "Misuse of Drugs Act 1971 (section 23)",
        "Controlled drugs",
        "A no further action disposal",
        "",
        "False",
    ]
    dates = [
        "2024-01-15T12:00:00+00:00",  # ok
        "15/01/2024 12:00",  # ok: British day-first, local time
        "2024-13-01T00:00:00+00:00",  # unparseable
        "",  # unparseable
        "2024-03-31T01:30:00",  # does not exist in London (clocks go forward)
        "2024-10-27T01:30:00",  # ambiguous in London (clocks go back)
        "yesterday",  # unparseable
    ]
    write(
        "2024-01-metropolitan-stop-and-search-bad-dates.csv",
        csv_text(search_header, [[base[0], d, *base[2:]] for d in dates]),
    )


if __name__ == "__main__":
    main()
