"""The Dask engine on a two-worker LocalCluster gives the embedded engine's answer."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import DATA

distributed = pytest.importorskip("distributed")

from hotspots.core.errors import InputError  # noqa: E402
from hotspots.detect.points import detect_store  # noqa: E402
from hotspots.engines.dask import connect  # noqa: E402
from hotspots.geo.boundaries import london_boroughs  # noqa: E402
from hotspots.ingest.pipeline import ingest_to_store  # noqa: E402
from hotspots.ingest.read import london_settings  # noqa: E402
from hotspots.io.store import read_store  # noqa: E402

CITY = DATA / "police_uk" / "city_of_london_street"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with distributed.Client(cluster) as connected:
        yield connected
    cluster.close()


def test_dask_engine_gives_the_embedded_cells_table(tmp_path, client):
    settings = london_settings()
    embedded = ingest_to_store([CITY], tmp_path / "embedded", settings=settings)
    on_dask = ingest_to_store(
        [CITY], tmp_path / "dask", settings=settings, engine="dask", scheduler=client
    )
    # ingest: the same counts, rejects and rows (one part file per input on Dask)
    assert [r.as_dict() for r in on_dask.reports] == [r.as_dict() for r in embedded.reports]
    assert on_dask.rows_by_month == embedded.rows_by_month
    assert on_dask.manifest["runs"][-1]["engine"] == "dask"
    assert len(list((tmp_path / "dask" / "incidents").rglob("part-*.parquet"))) == len(
        on_dask.reports
    )
    pd.testing.assert_frame_equal(
        read_store(tmp_path / "embedded").drop(columns="geometry"),
        read_store(tmp_path / "dask").drop(columns="geometry"),
    )
    assert pd.read_csv(tmp_path / "embedded" / "rejects.csv").equals(
        pd.read_csv(tmp_path / "dask" / "rejects.csv")
    )
    # detect: one task per month and a tree of merges on the workers, statistics here
    study = london_boroughs()
    local = detect_store(tmp_path / "embedded", study)
    remote = detect_store(tmp_path / "dask", study, engine="dask", scheduler=client)
    pd.testing.assert_frame_equal(local.cells, remote.cells, check_exact=True)
    pd.testing.assert_frame_equal(local.clusters, remote.clusters, check_exact=True)
    assert local.choices == remote.choices
    assert json.dumps(local.parameters, default=str) == json.dumps(remote.parameters, default=str)


def test_dask_engine_appends_and_refuses_like_the_embedded_one(tmp_path, client):
    settings = london_settings()
    files = sorted(CITY.glob("2024-0*"))
    store = tmp_path / "store"
    ingest_to_store(files[:2], store, settings=settings, engine="dask", scheduler=client)
    result = ingest_to_store(
        files[2:4], store, settings=settings, append=True, engine="dask", scheduler=client
    )
    assert result.months_added["incidents"] == ("2024-03", "2024-04")
    with pytest.raises(InputError, match="already in the store"):
        ingest_to_store(
            files[3:5], store, settings=settings, append=True, engine="dask", scheduler=client
        )
    assert not (store / ".incidents.partial").exists()


def test_unreachable_scheduler_is_an_input_error():
    with (
        pytest.raises(InputError, match="cannot reach the Dask scheduler"),
        connect("tcp://127.0.0.1:9", timeout="1s"),
    ):
        pass
