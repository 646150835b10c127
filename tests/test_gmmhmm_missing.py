"""GMMHMM(nan_policy='marginalize'): each state's emission density of a step
is its mixture's density of the observed coordinates and the statistics
take the missing coordinates' conditional expectations per component,
against a naive forward-backward pass written here (SciPy's marginal
densities, the conditional Gaussian formulas)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import emfast
from emfast import GMMHMM
from emfast.gmmhmm import full_mixture_covariances

COVARIANCE_TYPES = ["spherical", "diag", "full", "tied"]
K, NM, D = 2, 2, 3
LENGTHS = [120, 1, 80]


def true_params(covariance_type):
    """Two states, each a mixture of two correlated Gaussians in 3-D."""
    full = np.array(
        [
            [
                [[1.0, 0.5, 0.2], [0.5, 0.8, 0.3], [0.2, 0.3, 0.6]],
                [[0.5, -0.2, 0.0], [-0.2, 0.7, 0.1], [0.0, 0.1, 0.4]],
            ],
            [
                [[0.7, 0.3, -0.1], [0.3, 0.9, 0.2], [-0.1, 0.2, 0.5]],
                [[0.6, 0.0, 0.2], [0.0, 0.4, -0.1], [0.2, -0.1, 0.8]],
            ],
        ]
    )
    covars = {
        "spherical": np.array([[0.6, 0.3], [0.5, 0.9]]),
        "diag": np.diagonal(full, axis1=2, axis2=3).copy(),
        "full": full,
        "tied": full[:, 0],
    }[covariance_type]
    return {
        "startprob_": np.array([0.7, 0.3]),
        "transmat_": np.array([[0.9, 0.1], [0.15, 0.85]]),
        "weights_": np.array([[0.6, 0.4], [0.3, 0.7]]),
        "means_": np.array(
            [[[0.0, 0.0, 0.0], [2.0, -1.0, 1.0]], [[4.0, 3.0, -2.0], [3.0, 5.0, 0.0]]]
        ),
        "covars_": covars,
    }


def given(covariance_type, **kwargs):
    """A GMMHMM that starts from ``true_params`` (nothing initialized)."""
    model = GMMHMM(
        K, n_mix=NM, covariance_type=covariance_type, init_params="", **kwargs
    )
    for name, value in true_params(covariance_type).items():
        setattr(model, name, value.copy())
    model.n_features = D
    return model


def simulate(covariance_type, seed, fraction=0.2):
    """Sequences of the true model with ``fraction`` of the values missing
    at random, and steps 5, 6 and 120 (within a sequence, the only step
    of one) with nothing observed."""
    X, _ = given(covariance_type).sample(sum(LENGTHS), random_state=seed)
    X[np.random.default_rng(seed).random(X.shape) < fraction] = np.nan
    X[[5, 6, 120]] = np.nan
    return X


def naive_log_emissions(model, X):
    """(n_samples, K): each state's mixture density of a step's observed
    coordinates (0 with none observed)."""
    covs = full_mixture_covariances(model.covars_, model.covariance_type, NM, D)
    log_b = np.zeros((len(X), K))
    for t, x in enumerate(X):
        seen = ~np.isnan(x)
        if not seen.any():
            continue
        for k in range(K):
            log_b[t, k] = logsumexp(
                [
                    np.log(model.weights_[k, j])
                    + multivariate_normal(
                        model.means_[k, j, seen], covs[k, j][np.ix_(seen, seen)]
                    ).logpdf(x[seen])
                    for j in range(NM)
                ]
            )
    return log_b


def naive_forward_backward(model, X, lengths):
    """(log-likelihood, state posteriors) by the textbook forward and
    backward recursions in log space, one sequence at a time."""
    log_b = naive_log_emissions(model, X)
    log_a = np.log(model.transmat_)
    total = 0.0
    gamma = np.empty_like(log_b)
    for end, n in zip(np.cumsum(lengths), lengths):
        b = log_b[end - n : end]
        alpha = np.empty_like(b)
        beta = np.zeros_like(b)
        alpha[0] = np.log(model.startprob_) + b[0]
        for t in range(1, n):
            alpha[t] = logsumexp(alpha[t - 1][:, None] + log_a, axis=0) + b[t]
        for t in range(n - 2, -1, -1):
            beta[t] = logsumexp(log_a + (b[t + 1] + beta[t + 1])[None, :], axis=1)
        log_prob = logsumexp(alpha[-1])
        total += log_prob
        gamma[end - n : end] = np.exp(alpha + beta - log_prob)
    return total, gamma


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_and_posteriors_match_naive_forward_backward(
    covariance_type, implementation
):
    X = simulate(covariance_type, seed=1)
    model = given(
        covariance_type, nan_policy="marginalize", implementation=implementation
    )
    log_prob, gamma = naive_forward_backward(model, X, LENGTHS)
    assert_allclose(model.score(X, LENGTHS), log_prob, rtol=1e-10)
    assert_allclose(model.predict_proba(X, LENGTHS), gamma, rtol=1e-8, atol=1e-12)
    assert_array_equal(
        model.decode(X, LENGTHS, algorithm="map")[1], np.argmax(gamma, axis=1)
    )
    assert model.predict(X, LENGTHS).shape == (len(X),)


def naive_m_step(model, X, lengths):
    """One Baum-Welch iteration's weights, means and covariances with the
    default priors (plain weighted scatter about the current means, as
    hmmlearn's GMMHMM does): each component's responsibilities, the missing
    coordinates filled with their conditional mean given the component and
    the second moments completed with the conditional covariance."""
    ct = model.covariance_type
    covs = full_mixture_covariances(model.covars_, ct, NM, D)
    _, gamma = naive_forward_backward(model, X, lengths)
    nk = np.zeros((K, NM))
    sx = np.zeros((K, NM, D))
    sxx = np.zeros((K, NM, D, D))
    for t, x in enumerate(X):
        o = ~np.isnan(x)
        m = ~o
        log_r = np.empty((K, NM))
        x_hat = np.empty((K, NM, D))
        cond = np.zeros((K, NM, D, D))
        for k in range(K):
            for j in range(NM):
                mu, cov = model.means_[k, j], covs[k, j]
                log_r[k, j] = np.log(model.weights_[k, j])
                x_hat[k, j] = mu
                if o.any():
                    log_r[k, j] += multivariate_normal(mu[o], cov[np.ix_(o, o)]).logpdf(
                        x[o]
                    )
                    gain = cov[np.ix_(m, o)] @ np.linalg.inv(cov[np.ix_(o, o)])
                    x_hat[k, j, o] = x[o]
                    x_hat[k, j, m] = mu[m] + gain @ (x[o] - mu[o])
                    cond[k, j][np.ix_(m, m)] = (
                        cov[np.ix_(m, m)] - gain @ cov[np.ix_(o, m)]
                    )
                else:
                    cond[k, j] = cov
        r = np.exp(log_r - logsumexp(log_r, axis=1, keepdims=True))
        r *= gamma[t][:, None]
        centred = x_hat - model.means_
        nk += r
        sx += r[..., None] * x_hat
        sxx += r[..., None, None] * (
            centred[..., :, None] * centred[..., None, :] + cond
        )
    weights = nk / nk.sum(axis=1, keepdims=True)
    means = sx / nk[..., None]
    if ct == "full":
        covars = sxx / nk[..., None, None]
    elif ct == "diag":
        covars = np.diagonal(sxx, axis1=2, axis2=3) / nk[..., None]
    else:
        covars = sxx.sum(axis=1) / nk.sum(axis=1)[:, None, None]
    return weights, means, covars


@pytest.mark.parametrize("covariance_type", ["diag", "full", "tied"])
def test_one_iteration_matches_naive_expected_statistics(covariance_type):
    """'tied' (one full covariance per state): PatternSource's per-component
    second moments, summed over the state's components."""
    X = simulate(covariance_type, seed=2)
    model = given(covariance_type, nan_policy="marginalize", n_iter=1)
    weights, means, covars = naive_m_step(model, X, LENGTHS)
    model.fit(X, LENGTHS)
    assert_allclose(model.weights_, weights, rtol=1e-9)
    assert_allclose(model.means_, means, rtol=1e-9, atol=1e-12)
    assert_allclose(model.covars_, covars, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_without_nan_marginalize_fits_as_raise(covariance_type):
    X = given(covariance_type).sample(200, random_state=3)[0]
    kwargs = dict(n_iter=5, tol=0, random_state=0)
    a = GMMHMM(K, n_mix=NM, covariance_type=covariance_type, **kwargs).fit(X)
    b = GMMHMM(
        K,
        n_mix=NM,
        covariance_type=covariance_type,
        nan_policy="marginalize",
        **kwargs,
    ).fit(X)
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert_array_equal(a.monitor_.history, b.monitor_.history)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_with_ten_percent_missing(covariance_type, tmp_path):
    """From the default start (k-means on NaN filled with column means):
    the log-likelihood does not decrease, the parameters stay finite, and
    a saved model keeps nan_policy."""
    X = simulate(covariance_type, seed=4, fraction=0.1)
    model = GMMHMM(
        K,
        n_mix=NM,
        covariance_type=covariance_type,
        nan_policy="marginalize",
        n_iter=15,
        tol=0,
        random_state=0,
    ).fit(X, LENGTHS)
    history = np.array(model.monitor_.history)
    assert len(history) >= 2
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert model.predict(X, LENGTHS).shape == (len(X),)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = emfast.load(path)
    assert loaded.nan_policy == "marginalize"
    assert loaded.score(X, LENGTHS) == model.score(X, LENGTHS)


def test_steps_with_nothing_observed_have_no_observation():
    """A sequence with nothing observed: log-likelihood 0, posteriors the
    state distribution propagated from startprob_."""
    model = given("full", nan_policy="marginalize")
    X = np.full((3, D), np.nan)
    assert_allclose(model.score(X), 0.0, atol=1e-12)  # log of summed weights
    expected = [model.startprob_]
    for _ in range(2):
        expected.append(expected[-1] @ model.transmat_)
    assert_allclose(model.predict_proba(X), expected, rtol=1e-12)
    # Within a sequence, such a step only relays its neighbours.
    seq = model.sample(4, random_state=5)[0]
    holed = np.insert(seq, 2, np.nan, axis=0)
    _, gamma = naive_forward_backward(model, holed, [5])
    assert_allclose(model.predict_proba(holed), gamma, rtol=1e-8, atol=1e-12)


def test_errors():
    X = simulate("diag", seed=6)
    with pytest.raises(ValueError, match="NaN"):
        given("diag", n_iter=1).fit(X, LENGTHS)
    with pytest.raises(ValueError, match="NaN"):
        given("diag").score(X, LENGTHS)
    no_column = X.copy()
    no_column[:, 1] = np.nan
    with pytest.raises(ValueError, match="column.*no observed value"):
        given("diag", nan_policy="marginalize", n_iter=1).fit(no_column, LENGTHS)
    with pytest.raises(ValueError, match="nan_policy"):
        given("diag", nan_policy="omit").fit(np.nan_to_num(X), LENGTHS)


@pytest.mark.parametrize("covariance_type", ["diag", "tied"])
def test_sample_weights_with_missing_values(covariance_type):
    """Integer weights per sequence equal the sequences repeated; a
    sequence of weight 0 does not count."""
    X = simulate(covariance_type, seed=7)
    a, b, c = np.split(X, np.cumsum(LENGTHS)[:-1])
    junk = np.full((10, D), 50.0)
    junk[::2, 0] = np.nan
    kwargs = dict(nan_policy="marginalize", n_iter=3, tol=0)
    weighted = given(covariance_type, **kwargs).fit(
        np.vstack([a, b, junk, c]),
        [*LENGTHS[:2], 10, LENGTHS[2]],
        sample_weight=[2, 1, 0, 1],
    )
    repeated = given(covariance_type, **kwargs).fit(
        np.vstack([a, a, b, c]), [LENGTHS[0], *LENGTHS]
    )
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert_allclose(
            getattr(weighted, name),
            getattr(repeated, name),
            rtol=1e-9,
            atol=1e-12,
            err_msg=name,
        )
