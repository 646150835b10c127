"""k-means initialization: k-means++ seeding and Lloyd iterations, on all
points and from a subsample."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from emfast import _kmeans

CENTRES = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


def blobs(n_per_blob, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([c + rng.normal(size=(n_per_blob, 2)) for c in CENTRES])
    return np.ascontiguousarray(X[rng.permutation(len(X))])


def match_centres(found):
    """Distance from each true centre to the nearest found centre."""
    d = np.linalg.norm(found[:, None, :] - CENTRES[None, :, :], axis=2)
    return d.min(axis=0)


@pytest.mark.parametrize("subsample_size", [None, 300])
def test_kmeans_finds_separated_blobs(monkeypatch, subsample_size):
    if subsample_size is not None:
        monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", subsample_size)
    X = blobs(1000)
    centers, labels = _kmeans.kmeans(X, 4, np.random.RandomState(0))
    assert np.all(match_centres(centers) < 0.2)
    # Labels are each point's nearest final centre.
    nearest = np.argmin(((X[:, None, :] - centers[None]) ** 2).sum(axis=2), axis=1)
    assert_array_equal(labels, nearest)
    # Each found centre is the mean of its points (Lloyd's fixed point).
    for k in range(4):
        np.testing.assert_allclose(centers[k], X[labels == k].mean(axis=0), atol=0.05)


def test_kmeans_subsample_is_reproducible(monkeypatch):
    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 300)
    X = blobs(1000)
    a = _kmeans.kmeans(X, 4, np.random.RandomState(3))
    b = _kmeans.kmeans(X, 4, np.random.RandomState(3))
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])


def test_kmeans_plusplus_picks_distinct_data_points():
    X = blobs(200)
    centers, indices = _kmeans.kmeans_plusplus(X, 4, np.random.RandomState(0))
    assert len(set(indices.tolist())) == 4
    assert_array_equal(centers, X[indices])
    # Greedy seeding on well-separated blobs puts one seed in each blob.
    assert np.all(match_centres(centers) < 4.0)
