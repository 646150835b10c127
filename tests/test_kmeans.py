"""k-means initialization: k-means++ seeding and Lloyd iterations, on all
points and from a subsample."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from emfast import _kernels, _kmeans

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
    centers = _kmeans.kmeans(_kmeans.MemoryRows(X), 4, np.random.RandomState(0))
    assert np.all(match_centres(centers) < 0.2)
    labels = np.argmin(((X[:, None, :] - centers[None]) ** 2).sum(axis=2), axis=1)
    # Each found centre is the mean of its points (Lloyd's fixed point).
    for k in range(4):
        np.testing.assert_allclose(centers[k], X[labels == k].mean(axis=0), atol=0.05)


def test_kmeans_subsample_is_reproducible(monkeypatch):
    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 300)
    X = blobs(1000)
    a = _kmeans.kmeans(_kmeans.MemoryRows(X), 4, np.random.RandomState(3))
    b = _kmeans.kmeans(_kmeans.MemoryRows(X), 4, np.random.RandomState(3))
    assert_array_equal(a, b)


def test_kmeans_plusplus_picks_distinct_data_points():
    X = blobs(200)
    centers, indices = _kmeans.kmeans_plusplus(
        _kmeans.MemoryRows(X), 4, np.random.RandomState(0)
    )
    assert len(set(indices.tolist())) == 4
    assert_array_equal(centers, X[indices])
    # Greedy seeding on well-separated blobs puts one seed in each blob.
    assert np.all(match_centres(centers) < 4.0)


def test_nearest_centre_statistics_match_labels():
    """RESP_NEAREST (one-hot to the nearest centre, inside the pass) gives the
    statistics of explicit nearest-centre labels, with no label array."""
    from emfast._covariance import KERNEL_CODES
    from emfast._init import _stats_from_resp
    from emfast._sources import GaussianStats
    from emfast.mixture import MixtureModel

    X = blobs(300)
    centers = CENTRES + 0.3
    labels = np.argmin(((X[:, None, :] - centers[None]) ** 2).sum(axis=2), axis=1)
    for covariance_type in ("full", "tied", "diag", "spherical"):
        model = MixtureModel(4, covariance_type, 1e-6, "kmeans", X.dtype)
        # The pass of _stats_from_resp, with the labels given.
        center = np.ascontiguousarray(centers.mean(axis=0))
        _, _, nk, sx, sxx = _kernels.sufficient_stats(
            X,
            centers,
            np.empty((0, 2, 2)),
            np.empty((0, 2)),
            np.zeros(4),
            KERNEL_CODES[covariance_type],
            center,
            _kernels.RESP_LABELS,
            labels.astype(np.int64),
            0,
            _kernels.weights_arg(None),
            False,
        )
        by_labels = model.m_step(
            GaussianStats(0.0, 0.0, X.shape[0], nk, sx, sxx, centers, center), None
        )
        by_nearest = model.m_step(
            _stats_from_resp(
                _kmeans.MemoryRows(X),
                centers,
                covariance_type,
                _kernels.RESP_NEAREST,
                0,
            ),
            None,
        )
        for name in ("weights", "means", "covariances"):
            assert_array_equal(
                getattr(by_labels, name), getattr(by_nearest, name), err_msg=name
            )


def test_lloyd_step_without_labels():
    X = blobs(300)
    with_labels = np.empty(len(X), dtype=np.int64)
    a = _kernels.lloyd_step(X, CENTRES + 0.3, with_labels, np.empty(0))
    b = _kernels.lloyd_step(X, CENTRES + 0.3, np.empty(0, dtype=np.int64), np.empty(0))
    for u, v in zip(a, b):
        assert_array_equal(u, v)
    expected = np.argmin(((X[:, None, :] - CENTRES[None] - 0.3) ** 2).sum(axis=2), 1)
    assert_array_equal(with_labels, expected)


@pytest.mark.parametrize(("n_samples", "size"), [(10, 10), (10, 4), (100_000, 50)])
def test_sample_rows(n_samples, size):
    rows = _kmeans.sample_rows(n_samples, size, np.random.RandomState(0))
    assert rows.shape == (size,)
    assert len(set(rows.tolist())) == size
    assert rows.min() >= 0 and rows.max() < n_samples
    again = _kmeans.sample_rows(n_samples, size, np.random.RandomState(0))
    assert_array_equal(rows, again)
