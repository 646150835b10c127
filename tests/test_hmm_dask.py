"""GaussianHMM and GMMHMM on Dask arrays whose row chunks hold whole
sequences: fits, scores and decodings equal the in-memory ones, on Dask's
threaded scheduler and on a LocalCluster with worker processes."""

import dask
import dask.array as da
import distributed
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from emfast import GMMHMM, GaussianHMM, _kmeans
from emfast.hmm import BaseHMMModel, sequence_chunks

COVARIANCE_TYPES = ["spherical", "diag", "full", "tied"]
LENGTHS = [40, 25, 60, 35, 50, 30, 45, 20, 55, 40]
# Three chunks of several whole sequences each.
CHUNKS = (125, 160, 115)
MEANS = np.array([[0.0, 0.0], [4.0, 1.0], [-2.0, 5.0]])


def sequences(lengths=LENGTHS, seed=0, dtype=np.float64):
    """Sequences of a sticky 3-state chain with Gaussian emissions."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in lengths:
        states = np.empty(n, dtype=np.int64)
        states[0] = rng.integers(3)
        for t in range(1, n):
            stay = rng.random() < 0.9
            states[t] = states[t - 1] if stay else rng.integers(3)
        parts.append(MEANS[states] + rng.normal(size=(n, 2)))
    return np.vstack(parts).astype(dtype)


def weights(seed=1):
    return np.random.default_rng(seed).integers(0, 4, len(LENGTHS)).astype(float)


def assert_same_fit(a, b, rtol=1e-10):
    assert b.monitor_.iter == a.monitor_.iter
    assert_allclose(b.monitor_.history, a.monitor_.history, rtol=rtol)
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_allclose(getattr(b, name), getattr(a, name), rtol=rtol, atol=1e-13)


def fit_both(model, X, chunks=CHUNKS, lengths=LENGTHS, sample_weight=None):
    """The model fitted in memory and on X in row chunks ``chunks``."""
    a = clone(model).fit(X, lengths, sample_weight=sample_weight)
    dX = da.from_array(X, chunks=(chunks, -1))
    b = clone(model).fit(dX, lengths, sample_weight=sample_weight)
    return a, b


@pytest.fixture(autouse=True)
def threads():
    with dask.config.set(scheduler="threads"):
        yield


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weighted_fit_equals_in_memory_fit(covariance_type, implementation):
    X = sequences()
    a, b = fit_both(
        GaussianHMM(
            3,
            covariance_type=covariance_type,
            implementation=implementation,
            n_iter=8,
            tol=0,
            random_state=1,
        ),
        X,
        sample_weight=weights(),
    )
    assert_same_fit(a, b)


def test_default_fit_and_inference_equal_in_memory():
    """The default start (k-means, the data covariance) over the chunks is
    the in-memory one; inference runs per chunk of whole sequences and
    gathers NumPy arrays equal to the in-memory ones."""
    X = sequences(seed=2)
    a, b = fit_both(GaussianHMM(3, n_iter=20, random_state=0), X)
    assert_same_fit(a, b)
    dX = da.from_array(X, chunks=(CHUNKS, -1))
    assert b.score(dX, LENGTHS) == b.score(X, LENGTHS)
    log_prob, post = b.score_samples(dX, LENGTHS)
    ref_log_prob, ref_post = b.score_samples(X, LENGTHS)
    assert log_prob == ref_log_prob
    assert isinstance(post, np.ndarray)
    assert_array_equal(post, ref_post)
    for algorithm in ("viterbi", "map"):
        log_prob, path = b.decode(dX, LENGTHS, algorithm=algorithm)
        ref_log_prob, ref_path = b.decode(X, LENGTHS, algorithm=algorithm)
        assert log_prob == ref_log_prob
        assert isinstance(path, np.ndarray)
        assert_array_equal(path, ref_path)
    assert_array_equal(b.predict(dX, LENGTHS), b.predict(X, LENGTHS))
    assert_array_equal(b.predict_proba(dX, LENGTHS), ref_post)
    assert_array_equal(
        b.predict_proba(dX, LENGTHS, causal=True),
        b.predict_proba(X, LENGTHS, causal=True),
    )
    assert b.bic(dX, LENGTHS) == b.bic(X, LENGTHS)


def test_start_over_the_chunks_equals_in_memory(monkeypatch):
    """More rows than the initialization sample: k-means makes its passes
    over the chunks (``DaskRows``), for GMMHMM's clusters too."""
    monkeypatch.setattr(_kmeans, "SUBSAMPLE_SIZE", 100)
    X = sequences(seed=3)
    a, b = fit_both(
        GaussianHMM(3, "full", n_iter=5, tol=0, random_state=2),
        X,
        sample_weight=weights(4),
    )
    assert_same_fit(a, b)
    a, b = fit_both(
        GMMHMM(2, n_mix=2, covariance_type="diag", n_iter=5, random_state=0),
        X,
    )
    assert_same_fit(a, b)
    assert_allclose(b.weights_, a.weights_, rtol=1e-10)


def test_gmmhmm_fit_and_decode_equal_in_memory():
    X = sequences(seed=5)
    a, b = fit_both(
        GMMHMM(2, n_mix=2, covariance_type="tied", n_iter=5, random_state=0),
        X,
        sample_weight=weights(6),
    )
    assert_same_fit(a, b)
    assert_allclose(b.weights_, a.weights_, rtol=1e-10)
    dX = da.from_array(X, chunks=(CHUNKS, -1))
    assert_array_equal(b.predict(dX, LENGTHS), b.predict(X, LENGTHS))
    assert b.score(dX, LENGTHS) == b.score(X, LENGTHS)


def test_long_sequences_block_by_block(monkeypatch):
    """Sequences longer than a batch run block by block in their chunk, as
    in memory; float32 stays float32 in the chunks."""
    monkeypatch.setattr(BaseHMMModel, "batch_elements", 60)
    X = sequences(seed=7, dtype=np.float32)
    for implementation in ("log", "scaling"):
        a, b = fit_both(
            GaussianHMM(
                3,
                "diag",
                n_iter=5,
                tol=0,
                implementation=implementation,
                random_state=5,
            ),
            X,
            chunks=(125, 275),
            sample_weight=weights(8),
        )
        assert_same_fit(a, b)


def test_chunk_boundary_inside_a_sequence():
    X = sequences()
    model = GaussianHMM(3, n_iter=2, random_state=0)
    dX = da.from_array(X, chunks=(100, -1))
    with pytest.raises(
        ValueError, match=r"row 100 falls inside sequence 2 \(rows 65:125\)"
    ):
        model.fit(dX, LENGTHS)
    with pytest.raises(ValueError, match="falls inside sequence 0"):
        model.fit(dX)  # one sequence
    aligned = sequence_chunks(LENGTHS, dX.chunks[0])
    assert aligned == (125, 85, 95, 95)
    assert sequence_chunks(LENGTHS, 100) == aligned
    assert sequence_chunks(LENGTHS, len(X)) == (len(X),)
    model.fit(dX.rechunk({0: aligned}), LENGTHS)
    with pytest.raises(ValueError, match="falls inside"):
        model.predict(dX, LENGTHS)
    with pytest.raises(ValueError, match="chunks sum to"):
        sequence_chunks(LENGTHS, (100, 100))


def test_empty_chunks_and_one_chunk():
    X = sequences(seed=9)
    model = GaussianHMM(3, "tied", n_iter=4, tol=0, random_state=3)
    a = clone(model).fit(X, LENGTHS)
    dX = da.from_array(X, chunks=((125, 0, 275), -1))
    assert dX.chunks[0] == (125, 0, 275)
    assert_same_fit(a, clone(model).fit(dX, LENGTHS))
    assert_same_fit(a, clone(model).fit(da.from_array(X, chunks=-1), LENGTHS))
    # A chunk per sequence: two levels of the tree of sums.
    assert_same_fit(
        a, clone(model).fit(da.from_array(X, chunks=(tuple(LENGTHS), -1)), LENGTHS)
    )
    assert_array_equal(a.predict(dX, LENGTHS), a.predict(X, LENGTHS))


def test_bad_dask_input():
    X = sequences()
    X[130, 1] = np.nan
    dX = da.from_array(X, chunks=(CHUNKS, -1))
    model = GaussianHMM(3, "diag", random_state=0).fit(sequences(), LENGTHS)
    # The first pass over the data: k-means, the data covariance, the E-step.
    for init_params in ("stmc", "stc", ""):
        model.set_params(init_params=init_params)
        with pytest.raises(ValueError, match="NaN or infinity"):
            model.fit(dX, LENGTHS)
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.score(dX, LENGTHS)
    good = da.from_array(sequences(), chunks=(CHUNKS, -1))
    with pytest.raises(ValueError, match="not supported for Dask"):
        GaussianHMM(3, nan_policy="marginalize").fit(good, LENGTHS)
    with pytest.raises(ValueError, match="Unexpected number of dimensions"):
        model.predict(good[:, :1], LENGTHS)
    with pytest.raises(ValueError, match="doesn't sum to"):
        model.fit(good, LENGTHS[:-1])
    with pytest.raises(ValueError, match="Negative values"):
        model.fit(good, LENGTHS, sample_weight=-weights())


def test_cluster_fit_and_decode_equal_in_memory():
    """Worker processes: the model, its parameters and the chunks' sums
    travel between processes."""
    X = sequences(seed=11)
    w = weights(12)
    model = GaussianHMM(3, "full", n_iter=5, tol=0, random_state=4)
    a = clone(model).fit(
        X, LENGTHS, sample_weight=w
    )  # compiles before the workers start
    a.predict(X, LENGTHS)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        dX = da.from_array(X, chunks=(CHUNKS, -1))
        b = clone(model).fit(dX, LENGTHS, sample_weight=w)
        assert len(client.scheduler_info()["workers"]) == 2
        assert_same_fit(a, b)
        assert_array_equal(b.predict(dX, LENGTHS), b.predict(X, LENGTHS))
        assert b.score(dX, LENGTHS) == b.score(X, LENGTHS)
