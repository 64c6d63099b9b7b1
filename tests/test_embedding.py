"""The embedding map (core.analysis.embedding): faithful to the features, places new images where
their look-alikes are, and every colouring accounts for every test image once."""

import numpy as np
import pytest

from core.analysis import embedding
from core.models.registry import REGISTRY
from core.reporting import charts

SHIPPED = [n for n in REGISTRY if embedding.load(n) is not None]


def _blobs(n_per: int = 80, dims: int = 64, seed: int = 0):
    """Three well-separated clusters of features and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (3, dims))
    labels = np.repeat(np.arange(3), n_per)
    return centres[labels] + rng.normal(0, 1, (len(labels), dims)), labels, centres


def _map(features) -> embedding.EmbeddingMap:
    coords, pca = embedding.fit_map(features, seed=0)
    return embedding.EmbeddingMap("toy", coords, pca["mean"], pca["axes"], pca["projected"])


@pytest.fixture(scope="module")
def toy():
    """(features, labels, cluster centres, their map): t-SNE takes seconds, so made once."""
    features, labels, centres = _blobs()
    return features, labels, centres, _map(features)


def test_clusters_in_the_features_stay_apart_on_the_map_and_new_points_join_theirs(toy):
    features, labels, centres, emap = toy
    near, _ = embedding.nearest(emap.coords, emap.coords, 5, exclude_self=True)
    assert (labels[near] == labels[:, None]).mean() > 0.98
    # A new point drawn from cluster k lands nearer cluster k's middle than any other's.
    rng = np.random.default_rng(1)
    middles = np.stack([emap.coords[labels == k].mean(axis=0) for k in range(3)])
    for k in range(3):
        placed = emap.place(centres[k] + rng.normal(0, 1, (1, features.shape[1])))[0]
        assert np.linalg.norm(middles - placed, axis=1).argmin() == k
    # An image already on the map is placed exactly where it is.
    np.testing.assert_allclose(emap.place(features[:3]), emap.coords[:3], atol=1e-3)


def test_the_same_seed_gives_the_same_map():
    features, _, _ = _blobs(n_per=30)
    a, _ = embedding.fit_map(features, seed=3)
    b, _ = embedding.fit_map(features, seed=3)
    np.testing.assert_array_equal(a, b)


def test_quality_tells_a_faithful_map_from_a_shuffled_one(toy):
    emap = toy[3]
    good = embedding.quality(emap, n=200)
    shuffled = embedding.EmbeddingMap(
        "toy",
        np.random.default_rng(0).permutation(emap.coords),
        emap.mean,
        emap.axes,
        emap.projected,
    )
    bad = embedding.quality(shuffled, n=200)
    assert good["trustworthiness"] > 0.9 > bad["trustworthiness"] + 0.2
    assert good["placement_error"] < 0.05 < bad["placement_error"]


@pytest.mark.parametrize("colouring", ["class", "correct", "agreement"])
def test_every_colouring_puts_each_image_in_exactly_one_group(colouring):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 500)
    probs = rng.dirichlet(np.ones(10), 500)
    right_counts = rng.integers(0, 4, 500)
    groups = embedding.point_groups(colouring, y_true, probs, right_counts, n_models=3)
    rows = np.concatenate([r for _, r, _ in groups])
    assert sorted(rows) == list(range(500))
    if colouring == "correct":
        assert dict((label, len(r)) for label, r, _ in groups)["right"] == int(
            (probs.argmax(1) == y_true).sum()
        )


def test_the_figure_carries_every_image_row_and_the_marks():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 200)
    probs = rng.dirichlet(np.ones(10), 200)
    coords = rng.normal(size=(200, 2))
    fig = charts.map_figure(coords, y_true, probs, "class", marks={"your image": coords[5]})
    rows = np.concatenate([t.customdata for t in fig.data if t.customdata is not None])
    assert sorted(rows.tolist()) == list(range(200))
    assert fig.data[-1].name == "your image"
    with pytest.raises(ValueError, match="unknown colouring"):
        charts.map_figure(coords, y_true, probs, "rainbow")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_maps_cover_the_test_set_and_are_faithful(name):
    emap = embedding.load(name)
    summary = embedding.summary(name)
    assert len(emap) == 10_000 == summary["n"]
    assert summary["quality"]["trustworthiness"] > 0.9
    assert summary["quality"]["placement_error"] < 0.1
