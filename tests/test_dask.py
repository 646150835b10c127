"""Fits and predictions on Dask arrays: on a real LocalCluster with two
worker processes, and on Dask's threaded scheduler."""

import warnings

import dask
import dask.array as da
import distributed
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from emfast import BayesianGaussianMixture, GaussianMixture, _kmeans

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
CENTRES = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 5.0, 5.0]])


def blobs(n_per_centre=2000, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = np.vstack([c + rng.normal(size=(n_per_centre, 3)) for c in CENTRES])
    return X[rng.permutation(len(X))].astype(dtype)


def start(covariance_type):
    """Initial parameters away from the optimum, for both fits."""
    precisions = {
        "full": np.array([np.eye(3)] * 3),
        "tied": np.eye(3),
        "diag": np.ones((3, 3)),
        "spherical": np.ones(3),
    }[covariance_type]
    return {
        "weights_init": np.array([0.2, 0.3, 0.5]),
        "means_init": CENTRES + 0.7,
        "precisions_init": precisions * 0.5,
    }


@pytest.fixture(scope="module")
def client():
    # Compile (or load) the kernels here first, so that the workers find them
    # in the disk cache instead of compiling them at the same time.
    X = blobs(100)
    GaussianMixture(3, random_state=0).fit(X).predict_proba(X)
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def fit_both(X, chunks, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = GaussianMixture(3, **kwargs).fit(X)
        b = GaussianMixture(3, **kwargs).fit(da.from_array(X, chunks=chunks))
    return a, b


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_cluster_fit_equals_in_memory_fit(client, covariance_type):
    X = blobs()
    a, b = fit_both(
        X,
        (1000, 3),
        covariance_type=covariance_type,
        max_iter=10,
        tol=0,
        **start(covariance_type),
    )
    assert len(client.scheduler_info()["workers"]) == 2
    assert b.n_iter_ == a.n_iter_ == 10
    assert_allclose(b.lower_bound_, a.lower_bound_, rtol=1e-8)
    assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-8)
    assert_allclose(b.means_, a.means_, rtol=1e-8)
    assert_allclose(b.covariances_, a.covariances_, rtol=1e-8)


def test_cluster_default_fit_predictions_and_weights(client):
    """Up to SUBSAMPLE_SIZE rows the sample for the initialization is all
    of X, so even the default k-means start is the in-memory one."""
    X = blobs(seed=1)
    a, b = fit_both(X, (700, 3), random_state=0)
    assert b.n_iter_ == a.n_iter_
    assert_allclose(b.lower_bound_, a.lower_bound_, rtol=1e-8)
    assert_allclose(b.means_, a.means_, rtol=1e-8)
    dX = da.from_array(X, chunks=(700, 3))
    labels = b.predict(dX)
    assert isinstance(labels, da.Array)
    assert_array_equal(labels.compute(), a.predict(X))
    proba = b.predict_proba(dX)
    assert isinstance(proba, da.Array)
    assert proba.shape == (len(X), 3)
    assert_allclose(proba.compute(), a.predict_proba(X), rtol=1e-8, atol=1e-12)
    log_prob = b.score_samples(dX)
    assert isinstance(log_prob, da.Array)
    assert_allclose(log_prob.compute(), a.score_samples(X), rtol=1e-8)
    assert_allclose(b.score(dX), a.score(X), rtol=1e-8)
    assert_allclose(b.bic(dX), a.bic(X), rtol=1e-8)

    w = np.random.default_rng(2).integers(0, 3, len(X)).astype(float)
    a = GaussianMixture(3, random_state=0, **start("full")).fit(X, sample_weight=w)
    b = GaussianMixture(3, random_state=0, **start("full")).fit(
        dX, sample_weight=da.from_array(w, chunks=700)
    )
    assert_allclose(b.means_, a.means_, rtol=1e-8)
    assert_allclose(b.score(dX, sample_weight=w), a.score(X, sample_weight=w))


def test_threaded_scheduler_and_float32():
    X = blobs(seed=3, dtype=np.float32)
    with dask.config.set(scheduler="threads"):
        a, b = fit_both(X, (500, 3), random_state=0, **start("full"))
        labels = b.fit_predict(da.from_array(X, chunks=(500, 3)))
        assert isinstance(labels, da.Array)
        assert_array_equal(labels.compute(), a.predict(X))
    assert b.means_.dtype == np.float32
    assert_allclose(b.means_, a.means_, rtol=1e-6)
    assert b.n_features_in_ == 3


def test_large_data_initialize_from_a_sample():
    """More rows than the initialization sample: k-means runs on a random
    sample, the iterations on all chunks."""
    X = blobs(20_000, seed=4)
    with dask.config.set(scheduler="threads"):
        gm = GaussianMixture(3, random_state=0).fit(da.from_array(X, chunks=10_000))
    assert gm.converged_
    found = gm.means_[np.argsort(gm.means_[:, 0] + 10 * gm.means_[:, 2])]
    expected = CENTRES[np.argsort(CENTRES[:, 0] + 10 * CENTRES[:, 2])]
    assert_allclose(found, expected, atol=0.05)


INIT_PARAMS = ["kmeans", "k-means++", "random", "random_from_data"]


def fit_memory_and_dask(model, X, chunks, sample_weight=None):
    dX = da.from_array(X, chunks=chunks)
    dw = None if sample_weight is None else da.from_array(sample_weight, chunks[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = model.fit(X, sample_weight=sample_weight)
        a = {k: getattr(a, k) for k in ("lower_bounds_", "means_", "covariances_")}
        b = model.fit(dX, sample_weight=dw)
    return a, b


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_dask_start_equals_in_memory_start(monkeypatch, init_params, weighted):
    """More rows than the in-memory initialization sample: the Dask fit
    makes the in-memory start's passes over the chunks (k-means on a
    subsample, then Lloyd iterations over all rows; k-means++ and the random
    draws over all rows) and follows the in-memory fit. The chunks are not
    aligned with the kernels' blocks of rows."""
    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 1000)
    X = blobs(1500, seed=6)
    w = np.random.default_rng(7).integers(0, 3, len(X)).astype(float)
    model = GaussianMixture(3, init_params=init_params, max_iter=5, random_state=1)
    with dask.config.set(scheduler="threads"):
        a, b = fit_memory_and_dask(model, X, (1001, 3), w if weighted else None)
    assert_allclose(b.lower_bounds_, a["lower_bounds_"], rtol=1e-10)
    assert_allclose(b.means_, a["means_"], rtol=1e-10)
    assert_allclose(b.covariances_, a["covariances_"], rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_dask_partial_start_equals_in_memory(monkeypatch, covariance_type):
    """means_init and weights_init without precisions_init: the covariances
    come from the k-means start, which the Dask fit makes over the chunks
    as the in-memory fit does over the rows."""
    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 1000)
    X = blobs(1500, seed=8)
    partial = start(covariance_type)
    del partial["precisions_init"]
    model = GaussianMixture(
        3, covariance_type=covariance_type, max_iter=5, random_state=2, **partial
    )
    with dask.config.set(scheduler="threads"):
        a, b = fit_memory_and_dask(model, X, (700, 3))
    assert_allclose(b.lower_bounds_, a["lower_bounds_"], rtol=1e-10)
    assert_allclose(b.means_, a["means_"], rtol=1e-10)
    assert_allclose(b.covariances_, a["covariances_"], rtol=1e-10)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_dask_bayesian_start_equals_in_memory_start(monkeypatch, init_params):
    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 1000)
    X = blobs(1500, seed=9)
    model = BayesianGaussianMixture(
        n_components=4, init_params=init_params, max_iter=5, random_state=3
    )
    with dask.config.set(scheduler="threads"):
        a, b = fit_memory_and_dask(model, X, (999, 3))
    assert_allclose(b.lower_bounds_, a["lower_bounds_"], rtol=1e-10)
    assert_allclose(b.means_, a["means_"], rtol=1e-10)
    assert_allclose(b.covariances_, a["covariances_"], rtol=1e-10)


def test_dask_start_on_a_cluster_equals_in_memory_start(client, monkeypatch):
    """The start's passes run on worker processes: the per-row distances of
    k-means++ travel to the workers and back."""
    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 1000)
    X = blobs(1500, seed=10)
    for init_params in ("k-means++", "kmeans"):
        model = GaussianMixture(3, init_params=init_params, max_iter=5, random_state=4)
        a, b = fit_memory_and_dask(model, X, (1100, 3))
        assert_allclose(b.lower_bounds_, a["lower_bounds_"], rtol=1e-10)
        assert_allclose(b.means_, a["means_"], rtol=1e-10)


def test_dask_rows_make_the_passes_of_memory_rows(monkeypatch):
    """Each pass of DaskRows over unaligned chunks equals MemoryRows's over
    the array (to the last bits of the sums' order)."""
    from emfast import _dask, _kernels

    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 1000)
    X = blobs(700, seed=12)
    w = np.random.default_rng(13).uniform(0, 2, len(X))
    dX, dw = da.from_array(X, chunks=333), da.from_array(w, chunks=333)
    source = _dask.DaskSource(dX, dw)
    rows, ref = source.init_rows, _kmeans.MemoryRows(X, w)
    assert isinstance(rows, _dask.DaskRows)
    assert rows.n_samples == ref.n_samples and rows.n_features == 3
    assert_array_equal(rows.weights, w)
    assert_array_equal(rows.take([5, 1999, 5, 0]), X[[5, 1999, 5, 0]])
    assert_allclose(rows.feature_variance(), ref.feature_variance(), rtol=1e-12)
    centers = CENTRES + 0.5
    for got, want in zip(rows.lloyd_step(centers), ref.lloyd_step(centers)):
        assert_allclose(got, want, rtol=1e-12)
    closest, closest_ref = np.full(len(X), np.inf), np.full(len(X), np.inf)
    rows.update_closest(centers[0], closest)
    ref.update_closest(centers[0], closest_ref)
    assert_array_equal(closest, closest_ref)
    assert_allclose(
        rows.candidate_potentials(centers[1:], closest),
        ref.candidate_potentials(centers[1:], closest_ref),
        rtol=1e-12,
    )
    center = centers.mean(axis=0)
    for mode in (_kernels.RESP_NEAREST, _kernels.RESP_RANDOM):
        for code in (_kernels.FULL, _kernels.TIED, _kernels.DIAG):
            got = rows.resp_stats(centers, code, center, mode, 17)
            want = ref.resp_stats(centers, code, center, mode, 17)
            for g, r in zip(got, want):
                assert_allclose(g, r, rtol=1e-12, atol=1e-9)


def test_dask_start_checks_values(monkeypatch):
    """NaN met by the start's first pass over the chunks is the clear error."""
    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 1000)
    X = blobs(1500, seed=11)
    X[2345, 2] = np.nan
    dX = da.from_array(X, chunks=1000)
    with dask.config.set(scheduler="threads"):
        for init_params in INIT_PARAMS:
            with pytest.raises(ValueError, match="NaN or infinity"):
                GaussianMixture(3, init_params=init_params, random_state=0).fit(dX)
        with pytest.raises(ValueError, match="all zero"):
            GaussianMixture(3, random_state=0).fit(
                da.from_array(blobs(1500, seed=11), chunks=1000),
                sample_weight=np.zeros(len(X)),
            )


def test_bad_dask_input():
    X = blobs(200)
    with_nan = X.copy()
    with_nan[123, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        GaussianMixture(3, random_state=0).fit(da.from_array(with_nan, chunks=100))
    with_inf = X.copy()
    with_inf[-1, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        GaussianMixture(3, **start("full")).fit(da.from_array(with_inf, chunks=100))
    dX = da.from_array(X, chunks=100)
    unknown = dX[dX[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        GaussianMixture(3).fit(unknown)
    with pytest.raises(ValueError, match="dtype <U"):
        GaussianMixture(3).fit(da.from_array(X.astype(str), chunks=100))
    with pytest.raises(ValueError, match="dtype complex128"):
        GaussianMixture(3).fit(da.from_array(X.astype(complex), chunks=100))
    with pytest.raises(ValueError, match="2-D"):
        GaussianMixture(3).fit(da.from_array(X[:, 0], chunks=100))
    with pytest.raises(ValueError, match="not supported for Dask"):
        GaussianMixture(3, nan_policy="marginalize").fit(dX)
    with pytest.raises(ValueError, match="Negative values"):
        GaussianMixture(3).fit(dX, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        GaussianMixture(3).fit(dX, sample_weight=np.ones(5))
    gm = GaussianMixture(3, random_state=0).fit(dX)
    with pytest.raises(ValueError, match="expecting 3 features"):
        gm.predict(da.from_array(X[:, :2], chunks=100))


def test_integer_dask_array_is_cast_to_float64():
    X = np.round(blobs(500) * 10).astype(np.int64)
    gm = GaussianMixture(3, random_state=0).fit(da.from_array(X, chunks=500))
    assert gm.means_.dtype == np.float64
    reference = GaussianMixture(3, random_state=0).fit(X.astype(np.float64))
    assert_allclose(gm.means_, reference.means_, rtol=1e-8)


def test_impute_on_dask_is_lazy():
    X = blobs(300, seed=5)
    gm = GaussianMixture(3, random_state=0).fit(X)
    holes = X.copy()
    holes[::7, 1] = np.nan
    imputed = gm.impute(da.from_array(holes, chunks=200))
    assert isinstance(imputed, da.Array)
    assert_allclose(imputed.compute(), gm.impute(holes), rtol=1e-12)
