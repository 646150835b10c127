"""The Numba kernels against the naive reference in ``reference.py``."""

import warnings

import numpy as np
import pytest
import reference as ref
from conftest import COVARIANCE_TYPES
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from emfast import GaussianMixture, _kernels
from emfast._covariance import KERNEL_CODES
from emfast._em import em_step
from emfast._sources import ArraySource, Components
from emfast.mixture import MixtureModel, Params

BLOCK = _kernels.BLOCK
# Many blocks: more than one group of blocks whose partial sums the kernels
# reduce separately (8,192 rows per group was the first layout).
MANY = 32 * BLOCK + 300
# Fewer rows than a block, exactly one block, a ragged tail, many blocks.
N_SAMPLES = (1, 37, BLOCK, 3 * BLOCK + 17, MANY)
NO_LABELS = np.empty(0, dtype=np.int64)
NO_WEIGHTS = np.empty(0)


def random_params(covariance_type, n_components, n_features, seed):
    """Random weights, means and SPD covariances of the type's shape."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(n_components, 2.0))
    means = rng.uniform(-3.0, 3.0, size=(n_components, n_features))
    a = rng.normal(size=(n_components, n_features, n_features))
    full = a @ np.swapaxes(a, 1, 2) / n_features + 0.5 * np.eye(n_features)
    if covariance_type == "full":
        covariances = full
    elif covariance_type == "tied":
        covariances = full[0]
    elif covariance_type == "diag":
        covariances = rng.uniform(0.3, 2.0, size=(n_components, n_features))
    else:
        covariances = rng.uniform(0.3, 2.0, size=n_components)
    return weights, means, covariances


def make_data(n_samples, n_features, seed, dtype=np.float64):
    """Random points as the estimator hands them to the kernels: C-ordered
    and read-only."""
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=2.0, size=(n_samples, n_features)).astype(dtype)
    X.flags.writeable = False
    return X


def params_for(covariance_type, n_components, n_features, seed):
    weights, means, covariances = random_params(
        covariance_type, n_components, n_features, seed
    )
    pc = ref.precisions_cholesky(covariances, covariance_type)
    return weights, means, covariances, Params(weights, means, covariances, pc)


def components_for(params, covariance_type):
    """The mixture's components as a source takes them (log weights as
    the log offsets)."""
    return Components(
        params.weights,
        params.means,
        params.covariances,
        params.precisions_cholesky,
        np.log(params.weights),
        covariance_type,
    )


def run_score_samples(X, params, covariance_type, want_resp=True):
    components = components_for(params, covariance_type)
    means, prec_tri, prec_diag, log_norm = components.kernel_args()
    n_samples, n_components = X.shape[0], means.shape[0]
    log_prob = np.empty(n_samples)
    labels = np.empty(n_samples, dtype=np.int64)
    resp = np.empty((n_samples if want_resp else 0, n_components))
    _kernels.score_samples(
        X, means, prec_tri, prec_diag, log_norm, log_prob, labels, resp
    )
    return log_prob, labels, resp


@pytest.mark.parametrize("n_samples", [1, 37, 3 * BLOCK + 17])
@pytest.mark.parametrize("n_features", [1, 3])
def test_score_samples_matches_scipy(covariance_type, n_samples, n_features):
    X = make_data(n_samples, n_features, seed=1)
    weights, means, covariances, params = params_for(
        covariance_type, 4, n_features, seed=2
    )
    log_prob, labels, resp = run_score_samples(X, params, covariance_type)
    ref_log_prob, ref_resp = ref.log_prob_resp(
        X, weights, means, covariances, covariance_type
    )
    assert_allclose(log_prob, ref_log_prob, rtol=1e-10, atol=1e-12)
    assert_allclose(resp, ref_resp, rtol=1e-10, atol=1e-14)
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(labels, ref_resp.argmax(axis=1))

    # Without responsibilities: same log-likelihood and labels.
    log_prob2, labels2, resp2 = run_score_samples(
        X, params, covariance_type, want_resp=False
    )
    assert resp2.shape == (0, 4)
    assert_array_equal(log_prob2, log_prob)
    assert_array_equal(labels2, labels)


def test_score_samples_float32_input(covariance_type):
    X32 = make_data(3 * BLOCK + 5, 3, seed=3, dtype=np.float32)
    weights, means, covariances, params = params_for(covariance_type, 3, 3, seed=4)
    log_prob, labels, resp = run_score_samples(X32, params, covariance_type)
    # The kernel widens each float32 value to float64, so the reference on the
    # same values, widened, is met to float64 accuracy.
    ref_log_prob, ref_resp = ref.log_prob_resp(
        X32.astype(np.float64), weights, means, covariances, covariance_type
    )
    assert_allclose(log_prob, ref_log_prob, rtol=1e-10, atol=1e-12)
    assert_allclose(resp, ref_resp, rtol=1e-10, atol=1e-14)
    assert_array_equal(labels, ref_resp.argmax(axis=1))


def test_score_samples_far_tails():
    """A point far from every component: log-sum-exp with the max shift keeps
    log p(x) finite where exp() of the log-densities underflows."""
    X = np.array([[0.0, 0.0], [400.0, -300.0]])
    weights, means, covariances, params = params_for("full", 3, 2, seed=5)
    log_prob, _, resp = run_score_samples(X, params, "full")
    ref_log_prob, ref_resp = ref.log_prob_resp(X, weights, means, covariances, "full")
    assert np.all(np.isfinite(log_prob)) and log_prob[1] < -1e4
    assert_allclose(log_prob, ref_log_prob, rtol=1e-10)
    assert_allclose(resp, ref_resp, rtol=1e-8, atol=1e-14)


def run_sufficient_stats(
    X,
    params,
    covariance_type,
    mode=_kernels.RESP_POSTERIOR,
    labels=NO_LABELS,
    seed=0,
    sample_weight=NO_WEIGHTS,
):
    components = components_for(params, covariance_type)
    means, prec_tri, prec_diag, log_norm = components.kernel_args()
    center = components.tied_center()
    ll, _, nk, sx, sxx = _kernels.sufficient_stats(
        X,
        means,
        prec_tri,
        prec_diag,
        log_norm,
        KERNEL_CODES[covariance_type],
        center,
        mode,
        labels,
        seed,
        sample_weight,
        False,
    )
    return (ll, nk, sx, sxx), center


def check_stats(stats, ref_stats, covariance_type):
    nk, sx, sxx = stats
    ref_nk, ref_sx, ref_sxx = ref_stats
    n_components, n_features = sx.shape
    scale = max(1.0, float(ref_nk.sum()))
    assert_allclose(nk, ref_nk, rtol=1e-10, atol=1e-12 * scale)
    assert_allclose(sx, ref_sx, rtol=1e-10, atol=1e-10 * scale)
    if covariance_type == "full":
        assert sxx.shape == (n_components, n_features, n_features)
        # The kernel fills the lower triangles only.
        assert_allclose(np.tril(sxx), np.tril(ref_sxx), rtol=1e-10, atol=1e-10 * scale)
    elif covariance_type == "tied":
        assert sxx.shape == (1, n_features, n_features)
        assert_allclose(np.tril(sxx), np.tril(ref_sxx), rtol=1e-10, atol=1e-10 * scale)
    else:
        assert sxx.shape == (n_components, 1, n_features)
        ref_diag = np.diagonal(ref_sxx, axis1=1, axis2=2)
        assert_allclose(sxx[:, 0, :], ref_diag, rtol=1e-10, atol=1e-10 * scale)


@pytest.mark.parametrize("n_samples", N_SAMPLES)
def test_sufficient_stats_posterior(covariance_type, n_samples):
    X = make_data(n_samples, 2, seed=6)
    weights, means, covariances, params = params_for(covariance_type, 3, 2, seed=7)
    (ll, nk, sx, sxx), center = run_sufficient_stats(X, params, covariance_type)
    ref_log_prob, ref_resp = ref.log_prob_resp(
        X, weights, means, covariances, covariance_type
    )
    assert_allclose(ll, ref_log_prob.sum(), rtol=1e-11)
    check_stats(
        (nk, sx, sxx),
        ref.sufficient_stats(X, ref_resp, means, covariance_type, center),
        covariance_type,
    )


def test_sufficient_stats_large_moments():
    """Large K * D * D: the per-group partial sums of the second moments are
    big (the kernels bound their memory by regrouping blocks), and the sums
    still match the naive ones over many blocks."""
    n_components, n_features = 16, 91
    X = make_data(31 * BLOCK + 100, n_features, seed=27)
    weights, means, covariances, params = params_for(
        "full", n_components, n_features, seed=28
    )
    # Spread the components over the data so every one takes points.
    means[:] = X[:: X.shape[0] // n_components][:n_components] * 0.9
    (ll, nk, sx, sxx), center = run_sufficient_stats(X, params, "full")
    ref_log_prob, ref_resp = ref.log_prob_resp(X, weights, means, covariances, "full")
    assert np.all(ref_resp.sum(axis=0) > 1.0)
    assert_allclose(ll, ref_log_prob.sum(), rtol=1e-11)
    check_stats(
        (nk, sx, sxx),
        ref.sufficient_stats(X, ref_resp, means, "full", center),
        "full",
    )


@pytest.mark.parametrize("n_samples", [37, MANY])
def test_sufficient_stats_float32_input(covariance_type, n_samples):
    X32 = make_data(n_samples, 2, seed=8, dtype=np.float32)
    X = X32.astype(np.float64)
    weights, means, covariances, params = params_for(covariance_type, 3, 2, seed=9)
    (ll, nk, sx, sxx), center = run_sufficient_stats(X32, params, covariance_type)
    (ll64, nk64, sx64, sxx64), _ = run_sufficient_stats(X, params, covariance_type)
    # float32 data accumulate in float64: the widened data's sums, up to the
    # summation order the float32 specialisation vectorises with.
    assert_allclose(nk, nk64, rtol=1e-13)
    assert_allclose(sx, sx64, rtol=1e-13, atol=1e-12)
    assert_allclose(sxx, sxx64, rtol=1e-13, atol=1e-12)
    assert_allclose(ll, ll64, rtol=1e-14)
    ref_log_prob, ref_resp = ref.log_prob_resp(
        X, weights, means, covariances, covariance_type
    )
    assert_allclose(ll, ref_log_prob.sum(), rtol=1e-11)
    check_stats(
        (nk, sx, sxx),
        ref.sufficient_stats(X, ref_resp, means, covariance_type, center),
        covariance_type,
    )


@pytest.mark.parametrize("n_samples", [37, MANY])
def test_sufficient_stats_from_labels(covariance_type, n_samples):
    X = make_data(n_samples, 3, seed=10)
    _, _, _, params = params_for(covariance_type, 4, 3, seed=11)
    labels = np.random.default_rng(12).integers(0, 4, size=n_samples)
    (ll, nk, sx, sxx), center = run_sufficient_stats(
        X, params, covariance_type, mode=_kernels.RESP_LABELS, labels=labels
    )
    assert ll == 0.0
    one_hot = np.eye(4)[labels]
    check_stats(
        (nk, sx, sxx),
        ref.sufficient_stats(X, one_hot, params.means, covariance_type, center),
        covariance_type,
    )
    assert_array_equal(nk, np.bincount(labels, minlength=4))


def test_sufficient_stats_random_responsibilities():
    X = make_data(3 * BLOCK + 17, 2, seed=13)
    _, _, _, params = params_for("full", 3, 2, seed=14)
    (_, nk, sx, sxx), _ = run_sufficient_stats(
        X, params, "full", mode=_kernels.RESP_RANDOM, seed=5
    )
    (_, nk2, sx2, sxx2), _ = run_sufficient_stats(
        X, params, "full", mode=_kernels.RESP_RANDOM, seed=5
    )
    (_, nk3, _, _), _ = run_sufficient_stats(
        X, params, "full", mode=_kernels.RESP_RANDOM, seed=6
    )
    # Each point's responsibilities sum to 1; a seed fixes them.
    assert_allclose(nk.sum(), X.shape[0], rtol=1e-12)
    assert np.all(nk > 0.2 * X.shape[0])
    assert_array_equal(nk, nk2)
    assert_array_equal(sx, sx2)
    assert_array_equal(sxx, sxx2)
    assert not np.array_equal(nk, nk3)


@pytest.mark.parametrize("n_samples", [37, MANY])
def test_m_step_matches_reference(covariance_type, n_samples):
    X = make_data(n_samples, 3, seed=15)
    weights, means, covariances, params = params_for(covariance_type, 3, 3, seed=16)
    reg_covar = 1e-4
    model = MixtureModel(3, covariance_type, reg_covar, "kmeans", X.dtype)
    lower_bound, new = em_step(model, ArraySource(X), params)
    ref_lower_bound, (ref_w, ref_m, ref_c) = ref.em_step(
        X, weights, means, covariances, covariance_type, reg_covar
    )
    assert_allclose(lower_bound, ref_lower_bound, rtol=1e-12)
    assert_allclose(new.weights, ref_w, rtol=1e-10)
    assert_allclose(new.means, ref_m, rtol=1e-9, atol=1e-12)
    assert_allclose(new.covariances, ref_c, rtol=1e-9, atol=1e-12)
    assert_allclose(
        new.precisions_cholesky,
        ref.precisions_cholesky(ref_c, covariance_type),
        rtol=1e-9,
        atol=1e-12,
    )


def test_em_iterations_match_reference(blobs, covariance_type, start):
    """The estimator's first EM iterations from a given start are the naive
    reference's, iteration by iteration."""
    n_iter = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(
            3, covariance_type=covariance_type, tol=0, max_iter=n_iter, **start
        ).fit(blobs)
    weights, means = start["weights_init"], start["means_init"]
    covariances = ref.covariances_from_precisions(
        start["precisions_init"], covariance_type
    )
    lower_bounds = []
    for _ in range(n_iter):
        lower_bound, (weights, means, covariances) = ref.em_step(
            blobs, weights, means, covariances, covariance_type, reg_covar=1e-6
        )
        lower_bounds.append(lower_bound)
    assert_allclose(gm.lower_bounds_, lower_bounds, rtol=1e-12)
    assert_allclose(gm.weights_, weights, rtol=1e-10)
    assert_allclose(gm.means_, means, rtol=1e-10, atol=1e-12)
    assert_allclose(gm.covariances_, covariances, rtol=1e-9)
    log_prob, resp = ref.log_prob_resp(
        blobs, weights, means, covariances, covariance_type
    )
    assert_allclose(gm.score_samples(blobs), log_prob, rtol=1e-9)
    assert_allclose(gm.predict_proba(blobs), resp, rtol=1e-8, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    n_samples=st.integers(1, 700),
    n_features=st.integers(1, 4),
    n_components=st.integers(1, 4),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    seed=st.integers(0, 2**16),
)
def test_kernels_match_reference_any_shape(
    n_samples, n_features, n_components, covariance_type, seed
):
    X = make_data(n_samples, n_features, seed=seed)
    weights, means, covariances, params = params_for(
        covariance_type, n_components, n_features, seed=seed + 1
    )
    ref_log_prob, ref_resp = ref.log_prob_resp(
        X, weights, means, covariances, covariance_type
    )
    log_prob, _, resp = run_score_samples(X, params, covariance_type)
    assert_allclose(log_prob, ref_log_prob, rtol=1e-10, atol=1e-12)
    assert_allclose(resp, ref_resp, rtol=1e-9, atol=1e-14)
    (ll, nk, sx, sxx), center = run_sufficient_stats(X, params, covariance_type)
    assert_allclose(ll, ref_log_prob.sum(), rtol=1e-10)
    check_stats(
        (nk, sx, sxx),
        ref.sufficient_stats(X, ref_resp, means, covariance_type, center),
        covariance_type,
    )


# ------------------------------------------------------------------ k-means


def brute_force_sq_dist(X, centers):
    return ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)


@pytest.mark.parametrize("n_samples", N_SAMPLES)
def test_lloyd_step(n_samples):
    X = make_data(n_samples, 3, seed=17)
    centers = make_data(5, 3, seed=18)
    labels = np.full(n_samples, -1, dtype=np.int64)
    counts, sums, inertia = _kernels.lloyd_step(X, centers, labels, NO_WEIGHTS)
    d2 = brute_force_sq_dist(X, centers)
    ref_labels = d2.argmin(axis=1)
    assert_array_equal(labels, ref_labels)
    assert_array_equal(counts, np.bincount(ref_labels, minlength=5))
    ref_sums = np.stack(
        [(X[ref_labels == k] - centers[k]).sum(axis=0) for k in range(5)]
    )
    assert_allclose(sums, ref_sums, rtol=1e-10, atol=1e-9)
    assert_allclose(inertia, d2.min(axis=1).sum(), rtol=1e-11)


def test_lloyd_step_float32_input():
    X32 = make_data(MANY, 2, seed=19, dtype=np.float32)
    centers = make_data(4, 2, seed=20)
    labels = np.empty(X32.shape[0], dtype=np.int64)
    counts, _, inertia = _kernels.lloyd_step(X32, centers, labels, NO_WEIGHTS)
    d2 = brute_force_sq_dist(X32.astype(np.float64), centers)
    assert_array_equal(labels, d2.argmin(axis=1))
    assert_allclose(inertia, d2.min(axis=1).sum(), rtol=1e-11)
    assert counts.sum() == X32.shape[0]


@pytest.mark.parametrize("n_samples", N_SAMPLES)
def test_update_closest(n_samples):
    X = make_data(n_samples, 3, seed=21)
    center = np.array([0.5, -1.0, 2.0])
    start = np.random.default_rng(22).uniform(0.0, 30.0, size=n_samples)
    closest = start.copy()
    _kernels.update_closest(X, center, closest)
    d2 = brute_force_sq_dist(X, center[None])[:, 0]
    assert_allclose(closest, np.minimum(start, d2), rtol=1e-13)

    # From +inf: the squared distances themselves.
    closest = np.full(n_samples, np.inf)
    _kernels.update_closest(X, center, closest)
    assert_allclose(closest, d2, rtol=1e-13)


@pytest.mark.parametrize("n_samples", N_SAMPLES)
def test_candidate_potentials(n_samples):
    X = make_data(n_samples, 2, seed=23)
    candidates = make_data(3, 2, seed=24)
    closest = np.random.default_rng(25).uniform(0.0, 20.0, size=n_samples)
    before = closest.copy()
    potentials = _kernels.candidate_potentials(X, candidates, closest, NO_WEIGHTS)
    d2 = brute_force_sq_dist(X, candidates)
    expected = np.minimum(closest[:, None], d2).sum(axis=0)
    assert_allclose(potentials, expected, rtol=1e-11)
    assert_array_equal(closest, before)  # read only


@pytest.mark.parametrize("n_samples", N_SAMPLES)
def test_log_densities_match_scipy(covariance_type, n_samples):
    """Per-component log-densities with a zero log offset are SciPy's
    Gaussian log-densities, not normalised over the components; with the
    mixture's log weights they are SciPy's plus log weights."""
    from scipy.stats import multivariate_normal

    X = make_data(n_samples, 3, seed=21)
    weights, means, covariances, params = params_for(covariance_type, 4, 3, seed=22)
    full = ref.full_covariances(covariances, covariance_type, 4, 3)
    expected = np.stack(
        [
            np.atleast_1d(multivariate_normal(means[k], full[k]).logpdf(X))
            for k in range(4)
        ],
        axis=1,
    )
    zero = Components(
        weights,
        means,
        covariances,
        params.precisions_cholesky,
        np.zeros(4),
        covariance_type,
    )
    got = ArraySource(X).log_densities(zero)
    assert got.shape == (n_samples, 4) and got.dtype == np.float64
    assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    weighted = ArraySource(X).log_densities(components_for(params, covariance_type))
    assert_allclose(weighted, expected + np.log(weights), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_samples", N_SAMPLES)
@pytest.mark.parametrize("weighted", [False, True])
def test_stats_from_given_responsibilities(covariance_type, n_samples, weighted):
    """Statistics of responsibilities the caller brings (an HMM's state
    posteriors, say): the naive sums, weighted by the sample weights (the
    tied scatter is sum_i w_i (x_i - c)(x_i - c)^T: each row's
    responsibilities sum to 1)."""
    X = make_data(n_samples, 3, seed=23)
    _, _, _, params = params_for(covariance_type, 4, 3, seed=24)
    rng = np.random.default_rng(25)
    resp = rng.dirichlet(np.ones(4), size=n_samples)
    w = rng.uniform(0.0, 3.0, n_samples) if weighted else None
    components = components_for(params, covariance_type)
    stats = ArraySource(X, w).stats_from_resp(resp, components)
    center = components.tied_center()
    ref_resp = resp if w is None else resp * w[:, None]
    nk, sx, sxx = ref.sufficient_stats(
        X, ref_resp, params.means, covariance_type, center
    )
    if covariance_type == "tied" and w is not None:
        diff = X - center
        sxx = ((diff * w[:, None]).T @ diff)[None]
    check_stats((stats.nk, stats.sx, stats.sxx), (nk, sx, sxx), covariance_type)
    assert stats.total_weight == (n_samples if w is None else w.sum())
    assert_array_equal(stats.centers, params.means)


def test_stats_from_posterior_responsibilities_equal_the_fused_pass(covariance_type):
    """The fused E-step pass and the statistics of the same posteriors, given:
    the same sums (to rounding)."""
    X = make_data(3 * BLOCK + 17, 2, seed=26)
    _, _, _, params = params_for(covariance_type, 3, 2, seed=27)
    components = components_for(params, covariance_type)
    source = ArraySource(X)
    fused = source.e_step(components)
    log_p = source.log_densities(components)
    resp = np.exp(log_p - np.logaddexp.reduce(log_p, axis=1, keepdims=True))
    given = source.stats_from_resp(resp, components)
    for name in ("nk", "sx", "sxx"):
        assert_allclose(getattr(given, name), getattr(fused, name), rtol=1e-12)


@pytest.mark.parametrize("n_features", [1, 2, 3, 8])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_load_block_copies_rows_transposed(n_features, dtype):
    X = make_data(600, n_features, 0, dtype)
    block = _kernels._block_rows(n_features)
    xt = np.full((n_features, block), np.nan)
    for start, n in [(0, block), (37, block), (600 - 5, 5)]:
        _kernels._load_block(X, start, n, xt)
        assert xt.dtype == np.float64
        assert_array_equal(xt[:, :n], X[start : start + n].T.astype(np.float64))


def test_exp_shifted_is_within_one_ulp_and_zero_below_the_floor():
    """exp(x - top) against long-double exp, over the whole range it is used
    on, with the sums, the entropy terms and the floor."""
    floor = _kernels._LOG_RESP_FLOOR
    rng = np.random.default_rng(3)
    v = np.concatenate(
        [
            -rng.uniform(0, -floor, 5000),
            [0.0, -1e-300, -0.5 * np.log(2), floor + 1e-9, floor, floor - 1, -1e4],
            -np.arange(0, 200) * np.log(2),  # exactly between two reductions
        ]
    )
    top = rng.normal(size=v.size)
    x = v + top
    shifted = x - top  # what the kernel exponentiates
    total = np.full(v.size, 0.25)
    ent = np.full(v.size, 0.5)
    out = x.copy()
    _kernels._exp_shifted(out, top, v.size, total, False, ent, True)
    live = shifted > floor
    exact = np.exp(shifted[live].astype(np.longdouble))
    rel = np.abs((out[live].astype(np.longdouble) - exact) / exact).astype(float)
    assert rel.max() <= np.finfo(np.float64).eps
    assert np.all(out[~live] == 0.0)
    assert_array_equal(total, 0.25 + out)
    assert_allclose(ent, 0.5 + out * np.maximum(shifted, floor), rtol=1e-15, atol=0)
    first = x.copy()
    total2 = np.empty(v.size)
    _kernels._exp_shifted(first, top, v.size, total2, True, ent, False)
    assert_array_equal(first, out)
    assert_array_equal(total2, out)
