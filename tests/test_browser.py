"""Open generated maps in headless Chromium with no network: no errors, layers, legend.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package; the
test is skipped, saying why, when either is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def open_offline(path: Path, screenshot: Path) -> dict[str, object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    errors: list[str] = []
    failed: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(path.resolve().as_uri())
        page.wait_for_selector(".leaflet-container", timeout=15_000)
        page.wait_for_timeout(1500)
        result = {
            "errors": errors,
            "failed": failed,
            "layers": [
                t.strip()
                for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
            ],
            "legend_visible": page.locator("#hs-legend").is_visible(),
            "title": page.locator("#hs-title").inner_text(),
            "polygons": page.locator("path.leaflet-interactive").count(),
        }
        # hovering a cell shows a tooltip with escaped text
        page.mouse.move(700, 500)
        page.screenshot(path=str(screenshot))
        browser.close()
    return result


def test_demo_map_renders_offline_with_layers_and_legend(demo_output):
    out, result = demo_output
    assert result.returncode == 0, result.stderr
    seen = open_offline(out / "map.html", out / "map.png")
    assert seen["errors"] == []
    assert seen["failed"] == []
    assert seen["layers"] == [
        "Violence against the person per LSOA (MPS counts)",
        "Harm per H3 cell",
        "Borough boundaries",
    ]
    assert seen["legend_visible"]
    assert "2022-07 to 2024-08" in seen["title"]
    assert seen["polygons"] > 10_000
    assert (out / "map.png").stat().st_size > 50_000


def test_detect_maps_render_offline_with_every_method_layer(detect_output):
    out, result = detect_output
    assert result.returncode == 0, result.stderr
    seen = open_offline(out / "map.html", out / "map.png")
    assert seen["errors"] == [] and seen["failed"] == []
    assert seen["layers"] == [
        "Harm per H3 cell",
        "Forecast harm, next 6 months",  # 24 months of history in the store
        "Kernel density of harm",
        "Getis-Ord Gi* hot and cold spots",
        "Emerging hot spot trends",
        "Stop and search per cell",
        "Harm clusters (named places)",
        "Borough boundaries",
    ]
    assert seen["legend_visible"]
    assert "2023-09 to 2024-08" in seen["title"]
    borough = open_offline(out / "boroughs" / "lambeth" / "map.html", out / "lambeth.png")
    assert borough["errors"] == [] and borough["failed"] == []
    assert "Ward boundaries" in borough["layers"]
    assert "Lambeth" in borough["title"]


def open_report_offline(path: Path) -> dict[str, object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    errors: list[str] = []
    failed: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(offline=True).new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(path.resolve().as_uri())
        images = page.locator("img").count()
        broken = page.evaluate(
            "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length"
        )
        page.screenshot(path=str(path.with_suffix(".png")), full_page=True)
        browser.close()
    return {"errors": errors, "failed": failed, "images": images, "broken": broken}


def test_reports_open_offline_without_errors(detect_output):
    out, _ = detect_output
    for report in (out / "report.html", out / "boroughs" / "lambeth" / "report.html"):
        seen = open_report_offline(report)
        assert seen["errors"] == [] and seen["failed"] == []
        assert seen["images"] >= 3 and seen["broken"] == 0
