"""The HMM E-step in bounded memory (``emfast._hmm_estep``): batches of whole
sequences and long sequences run block by block give the same sums as one
pass over everything."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from emfast import GMMHMM, GaussianHMM
from emfast._hmm_estep import Workspace, sequence_batches
from emfast._sources import source_for
from emfast.engine import fitted_params, model_for

LENGTHS = [40, 130, 1, 79]


def _data(seed=0, nan=False):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [rng.normal(m, 1.0, (n, 2)) for m, n in zip((0, 4, -3), (90, 80, 80))]
    )
    if nan:
        X[rng.random(X.shape) < 0.1] = np.nan
    return X


def _stats(est, X, lengths, batch_elements=None, sample_weight=None):
    K = est.n_components * getattr(est, "n_mix", 1)
    source = source_for(
        X, None, K, getattr(est, "nan_policy", "raise") == "marginalize"
    )
    model = model_for(est, source, lengths)
    if sample_weight is not None:
        model.seq_weight = np.asarray(sample_weight, dtype=np.float64)
    if batch_elements is not None:
        model.batch_elements = batch_elements
    return model.e_step(source, fitted_params(est))


def _assert_same(a, b):
    # The exact sums are the same bits however the sequences are batched.
    assert a.log_likelihood == b.log_likelihood
    assert_array_equal(a.start, b.start)
    assert_array_equal(a.trans, b.trans)
    for name in ("nk", "sx", "sxx"):
        ref = getattr(a.emission, name)
        assert_allclose(
            getattr(b.emission, name), ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max()
        )


def test_sequence_batches_cover_every_sequence_once():
    starts = np.cumsum([0, 5, 30, 2, 2, 9, 0, 3])
    # 3 states, 24 values: at most 8 rows per batch; 30 and 9 are long.
    batches = sequence_batches(starts, 3, 24)
    assert batches == [
        (0, 1, False),
        (1, 2, True),
        (2, 4, False),
        (4, 5, True),
        (5, 7, False),
    ]
    covered = [s for first, last, _ in batches for s in range(first, last)]
    assert covered == list(range(7))
    assert sequence_batches(starts, 3) == [(0, 7, False)]


@pytest.mark.parametrize("implementation", ["scaling", "log"])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_batches_and_blocks_give_the_same_sums(implementation, covariance_type):
    X = _data()
    est = GaussianHMM(
        3,
        covariance_type=covariance_type,
        implementation=implementation,
        n_iter=2,
        random_state=0,
    ).fit(X, LENGTHS)
    whole = _stats(est, X, LENGTHS)
    # 100 values: batches of at most 33 rows; the 40-, 130- and 79-step
    # sequences run in blocks of 33 rows.
    _assert_same(whole, _stats(est, X, LENGTHS, 100))
    # Blocks of one row.
    _assert_same(whole, _stats(est, X, LENGTHS, 3))


def test_blocks_with_weights_missing_values_and_mixture_emissions():
    X = _data(1, nan=True)
    est = GaussianHMM(3, nan_policy="marginalize", n_iter=2, random_state=0)
    est.fit(X, LENGTHS, sample_weight=[1.0, 0.5, 2.0, 0.0])
    w = [1.0, 0.5, 2.0, 0.0]
    _assert_same(
        _stats(est, X, LENGTHS, sample_weight=w), _stats(est, X, LENGTHS, 50, w)
    )
    X = _data(2)
    est = GMMHMM(2, n_mix=2, n_iter=2, random_state=0).fit(X, LENGTHS)
    _assert_same(_stats(est, X, LENGTHS), _stats(est, X, LENGTHS, 20))


def _stuck_model(implementation):
    """Two states, started in state 0, which state 1 follows with
    probability 1e-250, and data that from step 60 on only state 1 can have
    emitted: the scaled forward pass's normaliser there is about 1e-250,
    below its limit, and the sequence runs in log space."""
    est = GaussianHMM(
        2, covariance_type="spherical", implementation=implementation, init_params=""
    )
    est.startprob_ = np.array([1.0, 0.0])
    est.transmat_ = np.array([[1.0 - 1e-250, 1e-250], [0.0, 1.0]])
    est.means_ = np.array([[0.0], [100.0]])
    est.covars_ = np.array([1.0, 1.0])
    est.n_features = 1
    X = np.zeros((120, 1))
    X[60:] = 100.0
    X[5] = 3.0
    return est, X


@pytest.mark.parametrize("implementation", ["scaling", "log"])
def test_long_sequence_falls_back_to_log_space_block_by_block(implementation):
    est, X = _stuck_model(implementation)
    whole = _stats(est, X, [120])
    assert np.isfinite(whole.log_likelihood)
    for batch_elements in (40, 2):
        _assert_same(whole, _stats(est, X, [120], batch_elements))
    ref = GaussianHMM(
        2, covariance_type="spherical", implementation="log", init_params=""
    )
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        setattr(ref, name, getattr(est, name))
    ref.n_features = 1
    assert_allclose(_stats(ref, X, [120], 40).trans, whole.trans, rtol=1e-10)


def test_fit_with_small_batches_matches_the_default():
    X = _data(3)
    a = GaussianHMM(3, n_iter=5, random_state=0).fit(X, LENGTHS)
    est = GaussianHMM(3, n_iter=5, random_state=0)
    model_class = type(est._hmm_model(np.array([0, 1])))
    old = model_class.batch_elements
    try:
        model_class.batch_elements = 30
        b = est.fit(X, LENGTHS)
    finally:
        model_class.batch_elements = old
    assert_allclose(b.transmat_, a.transmat_, rtol=1e-10)
    assert_allclose(b.means_, a.means_, rtol=1e-10)
    assert_allclose(b.monitor_.history, a.monitor_.history, rtol=1e-12)


def test_workspace_reuses_its_arrays():
    ws = Workspace()
    a = ws.array("x", (10, 3))
    b = ws.array("x", (4, 3))
    assert np.shares_memory(a, b) and b.shape == (4, 3)
    c = ws.array("x", (20, 3))
    assert c.shape == (20, 3)


def test_inference_in_batches_matches_one_pass():
    X = _data(4)
    est = GaussianHMM(3, n_iter=3, random_state=0).fit(X, LENGTHS)
    ref = (
        est.decode(X, LENGTHS),
        est.predict_proba(X, LENGTHS),
        est.predict_proba(X, LENGTHS, causal=True),
        est.score(X, LENGTHS),
    )
    model_class = type(est._hmm_model(np.array([0, 1])))
    old = model_class.batch_elements
    try:
        # Batches of at most 30 rows; the three long sequences alone.
        model_class.batch_elements = 90
        got = (
            est.decode(X, LENGTHS),
            est.predict_proba(X, LENGTHS),
            est.predict_proba(X, LENGTHS, causal=True),
            est.score(X, LENGTHS),
        )
    finally:
        model_class.batch_elements = old
    assert got[0][0] == ref[0][0]
    assert_array_equal(got[0][1], ref[0][1])
    assert_array_equal(got[1], ref[1])
    assert_array_equal(got[2], ref[2])
    assert got[3] == ref[3]
