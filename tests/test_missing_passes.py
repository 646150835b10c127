"""The two passes of models with posteriors of their own (hidden Markov
models) on data with missing values: ``PatternSource.log_densities`` (the
marginal densities of the observed coordinates) and
``PatternSource.stats_from_resp`` (the expected complete-data statistics of
given responsibilities), against naive references written here (SciPy on the
observed coordinates, conditional Gaussian formulas)."""

import textwrap

import numpy as np
import pytest
import reference as ref
from conftest import COVARIANCE_TYPES, assert_same_bits, results_by_thread_count
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emfast import _kernels, _missing
from emfast._covariance import estimate_gaussian_parameters
from emfast._sources import ArraySource, Components, PatternSource

N_COMPONENTS = 3
N_FEATURES = 4


def random_components(covariance_type, seed):
    """Random Gaussian components of the type's shape, with random log
    offsets (not log weights: the passes take any)."""
    rng = np.random.default_rng(seed)
    k, d = N_COMPONENTS, N_FEATURES
    weights = rng.dirichlet(np.full(k, 2.0))
    means = rng.uniform(-3.0, 3.0, size=(k, d))
    a = rng.normal(size=(k, d, d))
    full = a @ np.swapaxes(a, 1, 2) / d + 0.5 * np.eye(d)
    covariances = {
        "full": full,
        "tied": full[0],
        "diag": rng.uniform(0.3, 2.0, size=(k, d)),
        "spherical": rng.uniform(0.3, 2.0, size=k),
    }[covariance_type]
    return Components(
        weights,
        means,
        covariances,
        ref.precisions_cholesky(covariances, covariance_type),
        rng.normal(size=k),
        covariance_type,
    )


def data_with_holes(n_samples, seed, dtype=np.float64, n_empty=3):
    """Rows from the components' range with 30 % of the values missing (many
    patterns), a few complete rows and ``n_empty`` rows with nothing
    observed, C-ordered and read-only as the sources take them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=2.0, size=(n_samples, N_FEATURES))
    X[rng.random(X.shape) < 0.3] = np.nan
    empty = np.isnan(X).all(axis=1)
    X[empty, 0] = rng.normal(size=empty.sum())
    X[:5] = rng.normal(size=(5, N_FEATURES))
    X[rng.choice(np.arange(5, n_samples), n_empty, replace=False)] = np.nan
    X = np.ascontiguousarray(X.astype(dtype))
    X.flags.writeable = False
    return X


def full_covs(components):
    return ref.full_covariances(
        components.covariances, components.covariance_type, N_COMPONENTS, N_FEATURES
    )


def reference_log_densities(X, components):
    """log_offset[k] + log N(x_o | mean_k,o, S_k,oo), one row at a time."""
    covs = full_covs(components)
    out = np.empty((len(X), N_COMPONENTS))
    for i, x in enumerate(np.asarray(X, dtype=np.float64)):
        o = ~np.isnan(x)
        for k in range(N_COMPONENTS):
            out[i, k] = components.log_offset[k]
            if o.any():
                marginal = multivariate_normal(components.means[k][o], covs[k][o][:, o])
                out[i, k] += marginal.logpdf(x[o])
    return out


def reference_stats(X, resp, components, sample_weight):
    """nk, sx and full second moments (K, D, D) centred on the means, with
    each row's missing coordinates replaced by E[x_m | x_o, k] and the
    conditional covariance S_mm - S_mo S_oo^-1 S_om added, one row at a
    time."""
    covs = full_covs(components)
    means = components.means
    n, d = X.shape
    w = np.ones(n) if sample_weight is None else sample_weight
    nk = np.zeros(N_COMPONENTS)
    sx = np.zeros((N_COMPONENTS, d))
    sxx = np.zeros((N_COMPONENTS, d, d))
    for i, x in enumerate(np.asarray(X, dtype=np.float64)):
        o = ~np.isnan(x)
        m = ~o
        for k in range(N_COMPONENTS):
            s = covs[k]
            x_hat = x.copy()
            cond = np.zeros((d, d))
            b = s[np.ix_(m, o)] @ np.linalg.inv(s[np.ix_(o, o)])
            x_hat[m] = means[k][m] + b @ (x[o] - means[k][o])
            cond[np.ix_(m, m)] = s[np.ix_(m, m)] - b @ s[np.ix_(o, m)]
            r = w[i] * resp[i, k]
            c = x_hat - means[k]
            nk[k] += r
            sx[k] += r * c
            sxx[k] += r * (np.outer(c, c) + cond)
    return nk, sx, sxx


def check_stats(stats, expected, covariance_type):
    nk, sx, sxx = expected
    scale = float(nk.sum())
    assert_allclose(stats.nk, nk, rtol=1e-10, atol=1e-12 * scale)
    assert_allclose(stats.sx, sx, rtol=1e-10, atol=1e-10 * scale)
    if covariance_type in ("full", "tied"):
        # Per component for 'tied' too; the kernels fill lower triangles.
        assert stats.sxx.shape == (N_COMPONENTS, N_FEATURES, N_FEATURES)
        assert_allclose(
            np.tril(stats.sxx), np.tril(sxx), rtol=1e-10, atol=1e-10 * scale
        )
    else:
        assert stats.sxx.shape == (N_COMPONENTS, 1, N_FEATURES)
        diagonal = np.diagonal(sxx, axis1=1, axis2=2)
        assert_allclose(stats.sxx[:, 0], diagonal, rtol=1e-10, atol=1e-10 * scale)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_densities_are_the_marginal_densities(covariance_type, dtype):
    """Many patterns over several blocks, complete rows and rows with
    nothing observed (log_offset alone), in the rows' order."""
    X = data_with_holes(3 * _kernels.BLOCK + 17, seed=1, dtype=dtype)
    components = random_components(covariance_type, seed=2)
    got = PatternSource(X, None, N_COMPONENTS).log_densities(components)
    assert got.shape == (len(X), N_COMPONENTS) and got.dtype == np.float64
    assert_allclose(got, reference_log_densities(X, components), rtol=1e-10)
    empty = np.isnan(X).all(axis=1)
    assert empty.sum() == 3
    assert_array_equal(got[empty], np.tile(components.log_offset, (3, 1)))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_stats_from_resp_complete_the_missing_values(covariance_type, dtype, weighted):
    """nk, sx, sxx of given responsibilities: conditional means for the
    missing coordinates, conditional covariances added to the second
    moments, a row with nothing observed counting the component's mean and
    covariance; each row weighted by its sample weight."""
    X = data_with_holes(3 * _kernels.BLOCK + 17, seed=3, dtype=dtype)
    components = random_components(covariance_type, seed=4)
    rng = np.random.default_rng(5)
    resp = rng.dirichlet(np.ones(N_COMPONENTS), size=len(X))
    w = rng.uniform(0.0, 3.0, len(X)) if weighted else None
    stats = PatternSource(X, w, N_COMPONENTS).stats_from_resp(resp, components)
    check_stats(stats, reference_stats(X, resp, components, w), covariance_type)
    assert stats.per_component
    assert stats.log_likelihood == 0.0 and stats.entropy == 0.0
    assert stats.total_weight == pytest.approx(len(X) if w is None else w.sum())
    assert_array_equal(stats.centers, components.means)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_rows_with_nothing_observed(covariance_type):
    """Only rows with nothing observed: density 1 (log_offset), statistics
    nk times the component's mean (sx = 0) and covariance. A mixture's
    E-step and scores still refuse them."""
    X = np.full((40, N_FEATURES), np.nan)
    X.flags.writeable = False
    components = random_components(covariance_type, seed=6)
    source = PatternSource(X, None, N_COMPONENTS)
    assert_array_equal(
        source.log_densities(components), np.tile(components.log_offset, (40, 1))
    )
    resp = np.random.default_rng(7).dirichlet(np.ones(N_COMPONENTS), size=40)
    stats = source.stats_from_resp(resp, components)
    nk = resp.sum(axis=0)
    expected = nk[:, None, None] * full_covs(components)
    zeros = np.zeros((N_COMPONENTS, N_FEATURES))
    check_stats(stats, (nk, zeros, expected), covariance_type)
    assert_array_equal(stats.sx, 0.0)
    with pytest.raises(ValueError, match="40 row.*every coordinate missing"):
        source.e_step(components)
    with pytest.raises(ValueError, match="every coordinate missing"):
        source.scores(components, "log_prob")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_without_nan_equal_the_complete_data_passes(covariance_type):
    """A PatternSource over data without NaN (one pattern, everything
    observed) gives the ArraySource's log-densities and statistics ('tied':
    per component, so compared through the M-step)."""
    rng = np.random.default_rng(8)
    X = rng.normal(scale=2.0, size=(3 * _kernels.BLOCK + 17, N_FEATURES))
    X.flags.writeable = False
    w = rng.uniform(0.0, 3.0, len(X))
    components = random_components(covariance_type, seed=9)
    patterns = PatternSource(X, w, N_COMPONENTS)
    plain = ArraySource(X, w)
    assert_allclose(
        patterns.log_densities(components), plain.log_densities(components), rtol=1e-13
    )
    resp = rng.dirichlet(np.ones(N_COMPONENTS), size=len(X))
    got = patterns.stats_from_resp(resp, components)
    expected = plain.stats_from_resp(resp, components)
    assert_allclose(got.nk, expected.nk, rtol=1e-13)
    assert_allclose(got.sx, expected.sx, rtol=1e-12, atol=1e-12 * len(X))
    if covariance_type == "tied":
        fits = [
            estimate_gaussian_parameters(s, "tied", 1e-6, np.float64)
            for s in (got, expected)
        ]
        for a, b in zip(*fits):
            assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    else:
        assert_allclose(got.sxx, expected.sxx, rtol=1e-12, atol=1e-12 * len(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_e_step_is_stats_of_normalised_log_densities(covariance_type, weighted):
    """The mixture's E-step on data with NaN equals the statistics of the
    posteriors computed from the log-densities, to rounding, and its
    log-likelihood is the log-sum-exp of those."""
    X = data_with_holes(3 * _kernels.BLOCK + 17, seed=10, n_empty=0)
    components = random_components(covariance_type, seed=11)
    components.log_offset = np.log(components.weights)
    w = np.random.default_rng(12).uniform(0.0, 3.0, len(X)) if weighted else None
    source = PatternSource(X, w, N_COMPONENTS)
    fused = source.e_step(components)
    log_dens = source.log_densities(components)
    log_p = logsumexp(log_dens, axis=1)
    given = source.stats_from_resp(np.exp(log_dens - log_p[:, None]), components)
    for name in ("nk", "sx", "sxx"):
        assert_allclose(getattr(given, name), getattr(fused, name), rtol=1e-12)
    assert fused.log_likelihood == pytest.approx(
        log_p.sum() if w is None else log_p @ w, rel=1e-12
    )


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_several_kernel_batches_equal_one(covariance_type, monkeypatch):
    """Patterns split over several kernel calls give the passes of one."""
    X = data_with_holes(2000, seed=13)
    components = random_components(covariance_type, seed=14)
    resp = np.random.default_rng(15).dirichlet(np.ones(N_COMPONENTS), size=len(X))
    one = PatternSource(X, None, N_COMPONENTS)
    assert len(one.layout.batches) == 1
    monkeypatch.setattr(_missing, "_BATCH_DOUBLES", 1000)
    many = PatternSource(X, None, N_COMPONENTS)
    assert len(many.layout.batches) > 2
    assert_array_equal(many.log_densities(components), one.log_densities(components))
    a = one.stats_from_resp(resp, components)
    b = many.stats_from_resp(resp, components)
    for name in ("nk", "sx", "sxx"):
        assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12)


THREADS_SCRIPT = textwrap.dedent(
    """
    import sys

    import numba
    import numpy as np

    from emfast._sources import Components, PatternSource

    assert numba.get_num_threads() == int(sys.argv[2]), numba.get_num_threads()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 3))
    X[rng.random(X.shape) < 0.3] = np.nan
    X[::1000] = np.nan
    resp = rng.dirichlet(np.ones(2), size=len(X))
    w = rng.uniform(0.0, 2.0, len(X))
    means = np.array([[0.0, 0.5, -0.5], [1.0, -1.0, 0.0]])
    covs = np.array([[[1.0, 0.3, 0.1], [0.3, 2.0, 0.2], [0.1, 0.2, 1.5]]] * 2)
    pc = np.linalg.inv(np.linalg.cholesky(covs)).transpose(0, 2, 1)
    out = {}
    for covariance_type in ("full", "diag"):
        if covariance_type == "diag":
            covs = np.diagonal(covs, axis1=1, axis2=2).copy()
            pc = 1.0 / np.sqrt(covs)
        components = Components(
            np.array([0.4, 0.6]), means, covs, pc, np.log([0.4, 0.6]),
            covariance_type,
        )
        source = PatternSource(X, w, 2)
        out[covariance_type + "log_densities"] = source.log_densities(components)
        stats = source.stats_from_resp(resp, components)
        for name in ("nk", "sx", "sxx"):
            out[covariance_type + name] = getattr(stats, name)
    np.savez(sys.argv[1], **out)
    """
)


def test_bit_identical_across_thread_counts(tmp_path):
    """Fixed tasks within patterns, sums in task order: 1 and 2 threads give
    the same bits."""
    results = results_by_thread_count(THREADS_SCRIPT, tmp_path)
    assert len(results[1]) == 8
    assert_same_bits(results)
