"""Outputs are written atomically, re-runs are byte-identical, and --out follows one rule.

* Atomic: every file goes to a temporary name and is renamed into place only when whole,
  so an exception or Ctrl-C part-way leaves neither a partial file under the final name
  nor a stray temporary file, and a run without ``manifest.json`` is visibly unfinished.
* Reproducible: ``ingest`` and ``detect`` run twice on the same real inputs and seed give
  the same bytes in every file; the manifest differs only in its time fields
  (``started_at``, ``finished_at``, ``duration_s``, ``argv``) and the report only in its
  "Generated ..." time stamp.
* ``--out``: a folder holding ``manifest.json`` is an earlier run's output and is replaced
  only with ``--overwrite``; any other folder is used as it is.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from broken.cases import HERE as CORPUS
from conftest import DATA, street_row, write_street

from hotspots.core.errors import InputError
from hotspots.ingest.pipeline import ingest_to_store, prepare_out_dir
from hotspots.io import atomic as hio
from hotspots.io.atomic import CsvAppender, atomic_path, write_csv, write_json

CLI = ("-m", "hotspots.cli.main")
TIME_FIELDS = {"started_at", "finished_at", "duration_s", "argv"}
GENERATED = re.compile(rb"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def leftovers(folder: Path) -> list[str]:
    """Temporary files (``.name.*.partial``) or staging folders left in a folder tree."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if "partial" in p.name)


# --- atomic writes -------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_csv_interrupted_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "cells.csv"
    path.write_text("old,complete\n1,2\n", encoding="utf-8")

    def half_then_fail(self, handle, **kwargs):
        handle.write("cell,harm\n89194ad1037ffff,")
        raise Boom("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    with pytest.raises(Boom):
        write_csv(path, pd.DataFrame({"cell": ["a"], "harm": [1.0]}))
    assert path.read_text(encoding="utf-8") == "old,complete\n1,2\n"
    assert leftovers(tmp_path) == []


def test_json_interrupted_by_ctrl_c_leaves_nothing(tmp_path, monkeypatch):
    def half_then_interrupt(payload, handle, **kwargs):
        handle.write('{"rows": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(hio.json, "dump", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_json(tmp_path / "manifest.json", {"rows": 1})
    assert list(tmp_path.iterdir()) == []


def test_binary_output_interrupted_leaves_nothing(tmp_path):
    with pytest.raises(Boom), atomic_path(tmp_path / "cells.parquet", mode="wb") as handle:
        handle.write(b"PAR1" + b"\0" * 1000)
        raise Boom("crash")
    assert list(tmp_path.iterdir()) == []


def test_rejects_appender_commits_only_on_success(tmp_path):
    columns = ["source_file", "source_row", "reason", "detail", "raw"]
    frame = pd.DataFrame([["a.csv", 2, "bad_month", "=1+1", ""]], columns=columns)
    failed = CsvAppender(tmp_path / "rejects.csv", columns)
    failed.append(frame)
    failed.close(success=False)
    assert list(tmp_path.iterdir()) == []
    done = CsvAppender(tmp_path / "rejects.csv", columns)
    done.append(frame)
    done.close()
    assert (
        (tmp_path / "rejects.csv").read_text(encoding="utf-8").splitlines()[1].endswith("'=1+1,")
    )
    assert leftovers(tmp_path) == []


def interrupt_on_chunk(monkeypatch, n: int, error: BaseException) -> None:
    """Make the ingest engine fail on its n-th chunk (1-based)."""
    from hotspots.ingest import read as ingest

    real = ingest._Engine._process_chunk
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= n:
            raise error
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ingest._Engine, "_process_chunk", failing)


def two_files(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    write_street(folder / "2024-01-metropolitan-street.csv", [street_row(crime_id="a")])
    write_street(folder / "2024-02-metropolitan-street.csv", [street_row(crime_id="b")])
    return folder


def test_interrupted_ingest_commits_nothing(tmp_path, settings, monkeypatch):
    interrupt_on_chunk(monkeypatch, 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        ingest_to_store([two_files(tmp_path)], tmp_path / "out", settings=settings)
    left = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*"))
    assert left == []  # no manifest, rejects, store, staging or temporary file


def test_interrupted_overwrite_leaves_no_run_that_looks_complete(tmp_path, settings, monkeypatch):
    inputs = two_files(tmp_path)
    ingest_to_store([inputs], tmp_path / "out", settings=settings)
    assert (tmp_path / "out" / "manifest.json").exists()
    interrupt_on_chunk(monkeypatch, 1, Boom("crash"))
    with pytest.raises(Boom):
        ingest_to_store([inputs], tmp_path / "out", settings=settings, overwrite=True)
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert leftovers(tmp_path / "out") == []


def test_interrupted_detect_leaves_only_whole_files_and_no_manifest(tmp_path, monkeypatch):
    from hotspots.ingest.read import london_settings
    from hotspots.maps import draw as maps
    from hotspots.runs.detect import run_detect

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(maps, "draw_hotspot_map", crash)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_detect([CORPUS / "2024-01-city-of-london-street.csv"], out, settings=london_settings())
    assert not (out / "manifest.json").exists()
    assert leftovers(out) == []
    for path in out.iterdir():  # what was written before the crash is whole
        if path.suffix == ".parquet":
            pq.read_table(path)
        elif path.suffix == ".csv":
            pd.read_csv(path)
        elif path.suffix in (".geojson", ".json"):
            json.loads(path.read_text(encoding="utf-8"))


# --- the rule for an existing --out folder ---------------------------------------------------


def test_a_folder_without_manifest_is_used_as_it_is(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert prepare_out_dir(out, overwrite=False) == out
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert prepare_out_dir(tmp_path / "new" / "deeper", overwrite=False).is_dir()


def test_an_earlier_run_is_refused_without_overwrite_and_replaced_with_it(tmp_path, settings):
    out = tmp_path / "out"
    ingest_to_store([two_files(tmp_path)], out, settings=settings)
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(InputError, match="--overwrite"):
        prepare_out_dir(out, overwrite=False)
    assert sorted(p.name for p in out.iterdir()) == before  # nothing touched
    prepare_out_dir(out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # the run's files are gone


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="not a folder"):
        prepare_out_dir(tmp_path / "out", overwrite=True)
    result = run_cli("ingest", str(CORPUS / "crlf.csv"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "not a folder" in result.stderr


def test_overwrite_leaves_no_file_of_the_earlier_run(tmp_path):
    common = ["--months", "2024-01..2024-01", "--resolution", "8"]
    first = run_cli(
        "detect", str(CORPUS / "2024-01-city-of-london-street.csv"), "--out", "out",
        "--borough-report", "E09000001", *common, cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "out" / "boroughs").is_dir()
    second = run_cli(
        "detect", str(CORPUS / "2024-01-city-of-london-street.csv"), "--out", "out",
        "--overwrite", *common, cwd=tmp_path,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert not (tmp_path / "out" / "boroughs").exists()


# --- byte-identical re-runs ----------------------------------------------------------------


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file (the report without its time stamp), by path in the folder."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name == "report.html":
            data = GENERATED.sub(b"Generated <time>", data)
        found[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return found


def without_time(value: object, folder: Path) -> object:
    """A manifest without its time fields, and with the runs' own folder neutral."""
    if isinstance(value, dict):
        return {k: without_time(v, folder) for k, v in value.items() if k not in TIME_FIELDS}
    if isinstance(value, list):
        return [without_time(v, folder) for v in value]
    if isinstance(value, str):
        return value.replace(str(folder), "<out>")
    return value


def manifest_of(folder: Path) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return without_time(manifest, folder.parent)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def twice(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Real City of London data through ingest, then detect (with permutations), twice."""
    base = tmp_path_factory.mktemp("twice")
    city = str(DATA / "police_uk" / "city_of_london_street")
    runs: dict[str, tuple[Path, Path]] = {}
    stores = []
    for name in ("a", "b"):
        store = base / name / "store"
        result = run_cli("ingest", city, "--out", str(store))
        assert result.returncode == 0, result.stderr
        stores.append(store)
    runs["ingest"] = (stores[0], stores[1])
    detects = []
    for store in stores:
        out = store.parent / "detect"
        result = run_cli(
            "detect", str(store), "--out", str(out), "--permutations", "99", "--seed", "7",
            "--months", "2023-09..2024-08",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        detects.append(out)
    runs["detect"] = (detects[0], detects[1])
    return runs


@pytest.mark.parametrize("command", ["ingest", "detect"])
def test_rerun_gives_byte_identical_outputs(twice, command):
    first, second = twice[command]
    a, b = hashes(first), hashes(second)
    assert set(a) == set(b)
    differ = sorted(name for name in a if a[name] != b[name] and name != "manifest.json")
    assert differ == [], differ
    assert manifest_of(first) == manifest_of(second)
    expected = {"ingest": "rejects.csv", "detect": "map.html"}[command]
    assert expected in a  # the comparison covered the real outputs


def test_rerun_in_place_with_overwrite_is_identical_too(twice, tmp_path):
    store, _ = twice["ingest"]
    before = hashes(store)
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    result = run_cli(
        "ingest", str(DATA / "police_uk" / "city_of_london_street"), "--out", str(copy),
        "--overwrite",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    after = hashes(copy)
    assert {k: v for k, v in after.items() if k != "manifest.json"} == {
        k: v for k, v in before.items() if k != "manifest.json"
    }


def test_detect_outputs_name_the_seed_and_the_time_fields_are_the_only_difference(twice):
    first, second = twice["detect"]
    raw = [json.loads((f / "manifest.json").read_text(encoding="utf-8")) for f in (first, second)]
    assert raw[0]["detect"]["options"]["seed"] == 7
    assert raw[0]["detect"]["options"]["permutations"] == 99
    cells = pd.read_parquet(first / "cells.parquet")
    assert cells["gi_p_perm"].notna().all()  # permutation p-values were drawn (seeded)
