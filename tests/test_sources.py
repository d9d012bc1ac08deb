"""Inputs: files, gzip, folders, globs, zip archives; empty and broken files."""

from __future__ import annotations

import gzip
import zipfile

import pytest
from conftest import street_row, write_street

from hotspots.core.errors import InputError
from hotspots.ingest.read import read_incidents
from hotspots.io.sources import find_sources


def rows(n: int, prefix: str = "id") -> list[dict[str, str]]:
    return [street_row(crime_id=f"{prefix}{i}") for i in range(n)]


def test_plain_gzip_folder_glob_and_zip_inputs_read_the_same_rows(tmp_path, settings):
    plain = write_street(tmp_path / "plain" / "2024-01-metropolitan-street.csv", rows(3, "a"))
    write_street(
        tmp_path / "tree" / "2024-01" / "2024-01-metropolitan-street.csv.gz", rows(3, "a"), gz=True
    )
    write_street(tmp_path / "tree" / "2024-02" / "2024-02-metropolitan-street.csv", rows(2, "b"))
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(plain, "2024-01/2024-01-metropolitan-street.csv")
    assert read_incidents(plain, settings=settings).rows_read == 3
    assert read_incidents(tmp_path / "tree", settings=settings).rows_read == 5
    assert (
        read_incidents(str(tmp_path / "tree" / "*" / "*.csv*"), settings=settings).rows_read == 5
    )
    from_zip = read_incidents(archive, settings=settings)
    assert from_zip.rows_read == 3
    assert (
        from_zip.incidents["source_file"]
        .iloc[0]
        .endswith("download.zip!2024-01/2024-01-metropolitan-street.csv")
    )


def test_the_same_file_named_twice_is_read_once(tmp_path):
    path = write_street(tmp_path / "a.csv", rows(1))
    assert len(find_sources([path, tmp_path])) == 1


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        find_sources([tmp_path / "nope.csv"])


def test_folder_without_tables_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="holds no .csv"):
        find_sources([tmp_path])


def test_empty_file_is_a_clear_error(tmp_path, settings):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="is empty"):
        read_incidents(tmp_path / "empty.csv", settings=settings)


def test_header_only_file_reads_zero_rows(tmp_path, settings):
    path = write_street(tmp_path / "a.csv", [])
    loaded = read_incidents(path, settings=settings)
    assert loaded.rows_read == 0 and len(loaded.incidents) == 0


def test_truncated_gzip_is_a_clear_error(tmp_path, settings):
    path = write_street(tmp_path / "a.csv.gz", rows(2000), gz=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_incidents(path, settings=settings)


def test_broken_zip_is_a_clear_error(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a readable zip"):
        find_sources([tmp_path / "bad.zip"])


def test_zip_bomb_is_refused(tmp_path, settings):
    archive = tmp_path / "bomb.zip"
    header = ",".join(street_row().keys()) + "\n"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("2024-01-x-street.csv", header + "\n" * (300 * 2**20))
    with pytest.raises(InputError, match="zip bomb"):
        read_incidents(archive, settings=settings)


def test_zip_entry_names_are_never_used_as_paths(tmp_path, settings):
    archive = tmp_path / "slip.zip"
    source = write_street(tmp_path / "src.csv", rows(1))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source, "../../evil-street.csv")
    before = {p.name for p in tmp_path.parent.iterdir()}
    loaded = read_incidents(archive, settings=settings)
    assert loaded.rows_read == 1
    assert {p.name for p in tmp_path.parent.iterdir()} == before


def test_utf8_bom_crlf_and_latin1_files_are_read(tmp_path, settings):
    base = write_street(tmp_path / "base.csv", [street_row(location="On or near Café Street")])
    text = base.read_text(encoding="utf-8")
    (tmp_path / "bom.csv").write_bytes(
        "\ufeff".encode() + text.replace("\n", "\r\n").encode("utf-8")
    )
    (tmp_path / "latin1.csv").write_bytes(text.encode("latin-1"))
    for name in ("bom.csv", "latin1.csv"):
        loaded = read_incidents(tmp_path / name, settings=settings)
        assert len(loaded.incidents) == 1, name
        assert loaded.incidents["location"].iloc[0] == "On or near Café Street"


def test_gzip_member_in_zip(tmp_path, settings):
    archive = tmp_path / "x.zip"
    source = write_street(tmp_path / "src.csv", rows(4))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("2024-01-x-street.csv.gz", gzip.compress(source.read_bytes()))
    assert read_incidents(archive, settings=settings).rows_read == 4
