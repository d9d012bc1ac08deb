"""Harm-weighted clusters: hand-made points with obvious answers, then the bundled Met data."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import DATA
from sklearn.cluster import DBSCAN

from hotspots.core import schema
from hotspots.core.errors import CRSError, SchemaError
from hotspots.methods.clusters import (
    CLUSTER,
    NOISE,
    POLYGON_COLUMNS,
    Clusters,
    clusters_per_cell,
    find_clusters,
)

ORIGIN = (530_000.0, 180_000.0)  # central London, EPSG:27700


def make_incidents(
    xy_m,
    *,
    harm=1.0,
    location="On or near Electric Avenue",
    borough_code="E09000022",
    borough="Lambeth",
    cell_id="89194ad3",
    crs=schema.WORKING_CRS,
) -> gpd.GeoDataFrame:
    """Tidy incidents at (x, y) metres; scalar or per-row harm, location, borough and cell."""
    xy = np.asarray(xy_m, dtype=float).reshape(-1, 2)
    n = len(xy)

    def column(value):
        return list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * n

    frame = pd.DataFrame(
        {
            schema.HARM: np.asarray(column(harm), dtype=float),
            schema.BOROUGH_CODE: pd.array(column(borough_code), dtype="string"),
            schema.BOROUGH: pd.array(column(borough), dtype="string"),
            schema.LOCATION: pd.array(column(location), dtype="string"),
            schema.CELL_ID: pd.array(column(cell_id), dtype="string"),
        },
        index=pd.Index([f"i{k:04d}" for k in range(n)], name=schema.INCIDENT_ID),
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.points(xy), crs=crs)


def tight_group(centre, n, *, spread_m=20.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.asarray(centre) + rng.uniform(-spread_m, spread_m, size=(n, 2))


def two_groups_and_noise():
    """Group A (12 points, harm 2 each = 24) and group B (8 points, harm 1 = 8), 4 loners."""
    a = tight_group((ORIGIN[0], ORIGIN[1]), 12, seed=1)
    b = tight_group((ORIGIN[0] + 2_000, ORIGIN[1]), 8, seed=2)
    loners = np.array(
        [
            [ORIGIN[0] + dx, ORIGIN[1] + dy]
            for dx, dy in [(800, 900), (-900, 700), (1_200, -1_100), (-1_300, -900)]
        ]
    )
    xy = np.vstack([a, b, loners])
    harm = [2.0] * 12 + [1.0] * 8 + [1.0] * 4
    return make_incidents(xy, harm=harm), (np.arange(12), np.arange(12, 20), np.arange(20, 24))


def same_partition(left: np.ndarray, right: np.ndarray) -> bool:
    """True when two labellings group the same points and mark the same noise."""
    left, right = np.asarray(left), np.asarray(right)
    if not np.array_equal(left == NOISE, right == NOISE):
        return False
    pairs = set(zip(left[left != NOISE].tolist(), right[right != NOISE].tolist(), strict=True))
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


# --- known answers -----------------------------------------------------------------


def test_two_tight_groups_are_clusters_and_loners_are_noise():
    incidents, (a, b, loners) = two_groups_and_noise()
    result = find_clusters(incidents, eps_m=100, min_harm=5)
    labels = result.labels.to_numpy()
    assert set(labels[a]) == {0}  # A holds more harm (24) than B (8), so it is cluster 0
    assert set(labels[b]) == {1}
    assert set(labels[loners]) == {NOISE}
    assert result.polygons[schema.HARM].tolist() == [24.0, 8.0]
    assert result.polygons["incidents"].tolist() == [12, 8]
    assert result.polygons["rank"].tolist() == [1, 2]


def test_min_harm_decides_whether_a_low_harm_group_is_a_cluster():
    incidents, (a, b, _) = two_groups_and_noise()  # group B holds harm 8
    kept = find_clusters(incidents, eps_m=100, min_harm=8).labels.to_numpy()
    dropped = find_clusters(incidents, eps_m=100, min_harm=8.5).labels.to_numpy()
    assert set(kept[b]) == {1}
    assert set(dropped[b]) == {NOISE}
    assert set(dropped[a]) == {0}  # A (harm 24) is still a cluster


def test_harm_not_count_makes_a_core_point():
    # Two incidents on one spot: harmless (0.5 each) or harmful (300 each).
    spot = [[ORIGIN[0], ORIGIN[1]]] * 2
    harmless = find_clusters(make_incidents(spot, harm=0.5), eps_m=50, min_harm=10)
    harmful = find_clusters(make_incidents(spot, harm=300.0), eps_m=50, min_harm=10)
    assert (harmless.labels == NOISE).all()
    assert (harmful.labels == 0).all()
    assert harmful.polygons["distinct_points"].tolist() == [1]


def test_min_cluster_harm_turns_small_dbscan_clusters_into_noise():
    incidents, (a, b, _) = two_groups_and_noise()
    result = find_clusters(incidents, eps_m=100, min_harm=5, min_cluster_harm=10)
    assert set(result.labels.to_numpy()[b]) == {NOISE}
    assert len(result.polygons) == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_collapsing_stacked_points_gives_exactly_sklearn_dbscan_on_raw_points(seed):
    # A few hundred incidents stacked on 70 snap points, like data.police.uk.
    rng = np.random.default_rng(seed)
    snaps = ORIGIN + rng.uniform(0, 1_000, size=(70, 2))
    which = rng.integers(0, len(snaps), size=400)
    xy = snaps[which]
    harm = rng.choice([1.0, 2.0, 5.0], size=len(xy))
    incidents = make_incidents(xy, harm=harm)
    eps_m, min_harm = 120.0, 40
    assert len(np.unique(xy, axis=0)) < len(xy) / 4  # heavily stacked

    raw = DBSCAN(eps=eps_m, min_samples=min_harm).fit(xy, sample_weight=harm)
    ours = find_clusters(incidents, eps_m=eps_m, min_harm=min_harm).labels.to_numpy()

    assert same_partition(ours, raw.labels_)
    # Not a trivial case: several clusters, noise, and border (clustered, non-core) points.
    assert raw.labels_.max() >= 1
    assert (raw.labels_ == NOISE).any()
    border = np.ones(len(xy), dtype=bool)
    border[raw.core_sample_indices_] = False
    assert (border & (raw.labels_ >= 0)).any()


def test_place_is_the_location_holding_most_harm():
    xy = tight_group(ORIGIN, 6, seed=3)
    by_count = make_incidents(
        xy, location=["On or near Electric Avenue"] * 4 + ["On or near Coldharbour Lane"] * 2
    )
    place = find_clusters(by_count, eps_m=100, min_harm=3).polygons["place"].tolist()
    assert place == ["On or near Electric Avenue"]
    # Weighted by harm: two harmful incidents on Coldharbour Lane outweigh four minor ones.
    by_harm = by_count.assign(**{schema.HARM: [1.0] * 4 + [10.0] * 2})
    place = find_clusters(by_harm, eps_m=100, min_harm=3).polygons["place"].tolist()
    assert place == ["On or near Coldharbour Lane"]


def test_place_ties_go_alphabetically_and_generic_names_only_as_a_last_resort():
    xy = tight_group(ORIGIN, 6, seed=4)
    tied = make_incidents(xy, location=["On or near Zeal Road"] * 3 + ["On or near Acre Lane"] * 3)
    assert find_clusters(tied, eps_m=100, min_harm=3).polygons["place"].tolist() == [
        "On or near Acre Lane"
    ]
    generic = make_incidents(
        xy,
        location=["On or near Supermarket"] * 3 + ["On or near "] * 2 + ["On or near Pope's Road"],
    )
    assert find_clusters(generic, eps_m=100, min_harm=3).polygons["place"].tolist() == [
        "On or near Pope's Road"
    ]
    only_generic = make_incidents(
        xy, location=["On or near Supermarket"] * 2 + ["On or near "] * 4
    )
    assert find_clusters(only_generic, eps_m=100, min_harm=3).polygons["place"].tolist() == [
        "On or near Supermarket"
    ]


def test_borough_is_the_one_holding_most_harm_with_its_own_name():
    xy = tight_group(ORIGIN, 5, seed=5)
    incidents = make_incidents(
        xy,
        harm=[1.0, 1.0, 1.0, 5.0, 5.0],
        borough_code=["E09000022"] * 3 + ["E09000028"] * 2,
        borough=["Lambeth"] * 3 + ["Southwark"] * 2,
    )
    row = find_clusters(incidents, eps_m=100, min_harm=3).polygons.iloc[0]
    assert (row[schema.BOROUGH_CODE], row[schema.BOROUGH]) == ("E09000028", "Southwark")


def test_polygons_contain_their_points_and_one_spot_is_a_disc():
    incidents, _ = two_groups_and_noise()
    spot = make_incidents([[ORIGIN[0] + 5_000, ORIGIN[1]]] * 3, harm=3.0)
    incidents = pd.concat([incidents, spot.set_axis([f"s{k}" for k in range(3)])])
    result = find_clusters(incidents, eps_m=100, min_harm=5)
    for cluster, outline in result.polygons.geometry.items():
        members = incidents.geometry[result.labels == cluster]
        assert members.within(outline).all()
    disc = result.polygons[result.polygons["distinct_points"] == 1]
    assert len(disc) == 1
    assert disc["area_km2"].iloc[0] == pytest.approx(np.pi * 50**2 / 1e6, rel=0.02)
    polygons = result.polygons
    assert np.allclose(polygons["harm_density_per_km2"], polygons["harm"] / polygons["area_km2"])


# --- schema, determinism, errors ----------------------------------------------------


def test_output_schema():
    incidents, _ = two_groups_and_noise()
    result = find_clusters(incidents, eps_m=100, min_harm=5)
    assert isinstance(result, Clusters)
    assert result.labels.index.equals(incidents.index)
    assert result.labels.name == CLUSTER and result.labels.dtype == np.int64
    polygons = result.polygons
    assert list(polygons.columns) == [*POLYGON_COLUMNS, "geometry"]
    assert polygons.index.name == CLUSTER
    assert polygons.index.tolist() == list(range(len(polygons)))
    assert polygons.crs == incidents.crs
    assert set(polygons.geom_type) == {"Polygon"}
    assert polygons["incidents"].dtype == np.int64 and polygons["rank"].dtype == np.int64
    assert polygons["harm"].dtype == np.float64 and polygons["area_km2"].dtype == np.float64
    for column in ("borough_code", "borough", "place"):
        assert polygons[column].dtype == "string"
    assert result.parameters["min_harm_source"] == "given"
    assert result.parameters["clusters"] == 2


def test_no_clusters_gives_an_empty_table_with_every_column():
    incidents, _ = two_groups_and_noise()
    result = find_clusters(incidents, eps_m=100, min_harm=1_000)
    assert (result.labels == NOISE).all()
    assert result.polygons.empty
    assert list(result.polygons.columns) == [*POLYGON_COLUMNS, "geometry"]
    assert result.parameters["harm_share_clustered"] == 0.0


def test_same_input_gives_identical_output_and_row_order_does_not_matter():
    incidents, _ = two_groups_and_noise()
    first = find_clusters(incidents, eps_m=100, min_harm=5)
    second = find_clusters(incidents, eps_m=100, min_harm=5)
    pd.testing.assert_series_equal(first.labels, second.labels)
    pd.testing.assert_frame_equal(first.polygons, second.polygons)
    assert first.parameters == second.parameters
    shuffled = incidents.sample(frac=1.0, random_state=7)
    again = find_clusters(shuffled, eps_m=100, min_harm=5)
    pd.testing.assert_series_equal(again.labels.loc[incidents.index], first.labels)
    pd.testing.assert_frame_equal(
        again.polygons.drop(columns="geometry"), first.polygons.drop(columns="geometry")
    )


def test_input_is_not_changed():
    incidents, _ = two_groups_and_noise()
    before = incidents.copy()
    find_clusters(incidents, eps_m=100, min_harm=5)
    pd.testing.assert_frame_equal(incidents, before)


def test_automatic_min_harm_is_reported_and_follows_the_stated_rule():
    incidents, _ = two_groups_and_noise()
    result = find_clusters(incidents, eps_m=100)
    p = result.parameters
    assert p["min_harm_source"] == "automatic"
    hull_km2 = shapely.convex_hull(shapely.multipoints(incidents.geometry.values)).area / 1e6
    average = incidents["harm"].sum() * np.pi * 100**2 / 1e6 / hull_km2
    assert p["hull_area_km2"] == pytest.approx(hull_km2)
    median = np.median(incidents["harm"])  # 1.5: twelve 2s and twelve 1s
    assert p["min_harm"] == pytest.approx(max(10 * average, 5 * median))


def test_geographic_crs_is_refused():
    incidents, _ = two_groups_and_noise()
    with pytest.raises(CRSError, match="EPSG:4326.*needs metres"):
        find_clusters(incidents.to_crs(schema.WGS84), min_harm=5)
    with pytest.raises(CRSError, match="no CRS"):
        find_clusters(incidents.set_crs(None, allow_override=True), min_harm=5)


def test_missing_columns_are_named():
    incidents, _ = two_groups_and_noise()
    with pytest.raises(SchemaError, match="missing 'location'"):
        find_clusters(incidents.drop(columns=["location"]), min_harm=5)


def test_negative_or_missing_harm_is_refused():
    incidents, _ = two_groups_and_noise()
    bad = incidents.assign(harm=incidents["harm"].where(incidents.index != "i0003", -2.0))
    with pytest.raises(SchemaError, match="1 incident\\(s\\) have negative harm"):
        find_clusters(bad, min_harm=5)
    gaps = incidents.assign(harm=incidents["harm"].where(incidents.index != "i0003"))
    with pytest.raises(SchemaError, match="have no harm"):
        find_clusters(gaps, min_harm=5)


def test_bad_options_are_listed_together():
    incidents, _ = two_groups_and_noise()
    with pytest.raises(SchemaError, match="method='kmeans'.*eps_m=0.*min_harm=-1"):
        find_clusters(incidents, method="kmeans", eps_m=0, min_harm=-1)


def test_all_zero_harm_with_automatic_min_harm_explains_itself():
    incidents, _ = two_groups_and_noise()
    with pytest.raises(SchemaError, match="every incident has harm 0"):
        find_clusters(incidents.assign(harm=0.0))


# --- HDBSCAN ----------------------------------------------------------------------------


def test_hdbscan_finds_the_two_groups_and_keeps_stacks_together():
    a = np.repeat(tight_group(ORIGIN, 10, seed=6), 3, axis=0)  # each point stacked 3 times
    b = np.repeat(tight_group((ORIGIN[0] + 1_000, ORIGIN[1]), 10, seed=7), 2, axis=0)
    # HDBSCAN noise is what leaves before any cluster forms: loners farther out than the gap
    # between the groups (nearer stragglers would join a group as low-probability members).
    loners = ORIGIN + np.array([[6_000.0, 6_000.0], [-6_000.0, 5_000.0], [5_000.0, -7_000.0]])
    incidents = make_incidents(np.vstack([a, b, loners]))
    result = find_clusters(incidents, method="hdbscan", min_harm=4, min_cluster_harm=10)
    labels = result.labels.to_numpy()
    assert set(labels[:30]) == {0} and set(labels[30:50]) == {1}
    assert set(labels[50:]) == {NOISE}
    assert result.parameters["hdbscan_harm_unit"] == 1.0
    assert result.parameters["hdbscan_copies"] == len(incidents)


def test_hdbscan_repeats_points_in_proportion_to_harm():
    xy = tight_group(ORIGIN, 5, seed=8)
    incidents = make_incidents(xy, harm=[1.0, 1.0, 1.0, 1.0, 3.0])
    result = find_clusters(incidents, method="hdbscan", min_harm=2, min_cluster_harm=3)
    assert result.parameters["hdbscan_copies"] == 7
    assert result.parameters["hdbscan_min_samples"] == 2
    assert result.parameters["hdbscan_min_cluster_size"] == 3


# --- cells -------------------------------------------------------------------------------


def test_clusters_per_cell_takes_the_cluster_holding_most_of_the_cells_harm():
    incidents, (a, b, loners) = two_groups_and_noise()
    cells = np.array(["c1"] * 24, dtype=object)
    cells[a[:8]] = "c1"  # cluster 0 only
    cells[a[8:]] = "c2"  # cluster 0 (4 x harm 2 = 8) against cluster 1 (3 x harm 1 = 3)
    cells[b[:3]] = "c2"
    cells[b[3:]] = "c3"  # cluster 1 (5) against noise (2 loners, harm 2): cluster wins
    cells[loners[:2]] = "c3"
    cells[loners[2:]] = "c4"  # noise only
    incidents = incidents.assign(cell_id=cells)
    result = find_clusters(incidents, eps_m=100, min_harm=5)
    per_cell = clusters_per_cell(result, incidents)
    assert per_cell.to_dict() == {"c1": 0, "c2": 0, "c3": 1, "c4": NOISE}
    assert per_cell.index.name == schema.CELL_ID and per_cell.name == CLUSTER
    assert per_cell.dtype == np.int64


def test_clusters_per_cell_gives_a_cell_to_noise_when_noise_holds_more_harm():
    incidents, (a, b, loners) = two_groups_and_noise()
    incidents = incidents.assign(
        harm=np.where(np.isin(np.arange(24), loners), 4.0, incidents["harm"])
    )  # each loner (4) stays below min_harm (5), so noise
    cells = np.array(["c1"] * 24, dtype=object)
    cells[b] = "c2"
    cells[loners] = "c2"  # noise harm 16 against cluster 1 harm 8
    incidents = incidents.assign(cell_id=cells)
    result = find_clusters(incidents, eps_m=100, min_harm=5)
    assert clusters_per_cell(result, incidents).to_dict() == {"c1": 0, "c2": NOISE}


def test_clusters_per_cell_refuses_other_incidents():
    incidents, _ = two_groups_and_noise()
    result = find_clusters(incidents, eps_m=100, min_harm=5)
    with pytest.raises(SchemaError, match="pass the incidents that find_clusters was run on"):
        clusters_per_cell(result, incidents.iloc[:10])


# --- real data ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def met_burglary():
    from hotspots.ingest.read import Selection, london_settings, read_incidents

    settings = london_settings(selection=Selection(months=("2024-01", "2024-08")))
    return read_incidents(DATA / "police_uk" / "met_burglary", settings=settings).incidents


def test_met_burglary_clusters_have_street_names_and_boroughs(met_burglary):
    result = find_clusters(met_burglary)
    polygons = result.polygons
    assert 50 <= len(polygons) <= 1_000
    assert polygons["place"].str.startswith("On or near ").all()
    assert polygons["place"].str.len().gt(len("On or near ")).all()
    assert polygons["borough_code"].str.startswith("E09").all()
    assert polygons["harm"].is_monotonic_decreasing
    assert polygons["incidents"].sum() == (result.labels >= 0).sum()
    assert polygons["harm"].sum() == pytest.approx(met_burglary["harm"][result.labels >= 0].sum())
    # Snap points stack incidents, and clustering works on the distinct points.
    p = result.parameters
    assert p["distinct_points"] < p["incidents"] == len(met_burglary)
    assert 0 < p["harm_share_clustered"] < 0.5
    # Every clustered incident lies inside its outline.
    clustered = result.labels[result.labels >= 0]
    outlines = polygons.geometry.reindex(clustered.to_numpy()).to_numpy()
    assert shapely.within(met_burglary.geometry.loc[clustered.index].to_numpy(), outlines).all()


def test_met_burglary_collapsed_clustering_matches_sklearn_on_raw_points(met_burglary):
    sample = met_burglary.iloc[:6_000]
    xy = shapely.get_coordinates(sample.geometry.to_numpy())
    harm_in_incidents = sample["harm"].to_numpy() / sample["harm"].iloc[0]  # burglary: all 1
    raw = DBSCAN(eps=150, min_samples=4).fit(xy, sample_weight=harm_in_incidents)
    ours = find_clusters(
        sample.assign(harm=harm_in_incidents), eps_m=150, min_harm=4
    ).labels.to_numpy()
    assert same_partition(ours, raw.labels_)


def test_met_burglary_clusters_per_cell(met_burglary):
    result = find_clusters(met_burglary)
    per_cell = clusters_per_cell(result, met_burglary)
    assert per_cell.index.is_monotonic_increasing
    assert set(per_cell.index) == set(met_burglary["cell_id"])
    assert set(per_cell[per_cell >= 0]) <= set(result.polygons.index)
    assert (per_cell >= 0).sum() > 0


def test_met_burglary_hdbscan_on_one_borough(met_burglary):
    lambeth = met_burglary[met_burglary["borough_code"] == "E09000022"]
    result = find_clusters(lambeth, method="hdbscan")
    assert len(result.polygons) > 0
    assert result.polygons["place"].str.startswith("On or near ").all()
    assert result.parameters["hdbscan_copies"] == len(lambeth)  # burglary: one copy each
    assert result.labels.index.equals(lambeth.index)


def test_hdbscan_light_points_join_the_nearest_cluster_within_eps_or_are_noise():
    group = tight_group(ORIGIN, 12, seed=9)
    other = tight_group((ORIGIN[0] + 1_000, ORIGIN[1]), 12, seed=10)
    near = [[ORIGIN[0] + 60.0, ORIGIN[1]]]  # light (harm 1 against a unit of 10), 40-80 m off
    far = [[ORIGIN[0] + 500.0, ORIGIN[1] + 3_000.0]]
    incidents = make_incidents(np.vstack([group, other, near, far]), harm=[10.0] * 24 + [1.0, 1.0])
    result = find_clusters(
        incidents, method="hdbscan", eps_m=100, min_harm=30, min_cluster_harm=50
    )
    assert result.parameters["hdbscan_harm_unit"] == 10.0
    assert result.parameters["hdbscan_light_points"] == 2
    labels = result.labels.to_numpy()
    assert len(set(labels[:12])) == 1 and labels[0] != NOISE
    assert labels[24] == labels[0]
    assert labels[25] == NOISE
