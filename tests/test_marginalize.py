"""nan_policy='marginalize': exact EM for values missing at random, against a
naive reference written here (per-point loops, SciPy marginal densities)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

from emfast import GaussianMixture, _kernels, _missing

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
ATTRIBUTES = ["weights_", "means_", "covariances_", "precisions_cholesky_"]
START_MEANS = np.array([[0.5, 0.0, 0.0], [3.5, 4.0, 0.5]])
START_PRECISIONS = {
    "full": np.array([np.eye(3), np.eye(3)]),
    "tied": np.eye(3),
    "diag": np.ones((2, 3)),
    "spherical": np.ones(2),
}


def data_with_holes(seed=0, fraction=0.15):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [
            rng.multivariate_normal(
                [0, 0, 0], [[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]], 150
            ),
            rng.multivariate_normal(
                [4, 4, 0], [[1, -0.3, 0], [-0.3, 1, 0.2], [0, 0.2, 2]], 150
            ),
        ]
    )
    holes = rng.random(X.shape) < fraction
    holes[holes.all(axis=1), 0] = False  # keep one value in every row
    X[holes] = np.nan
    return X


def expand(covariance_type, covariances, n_components, n_features):
    """Covariances of any type as (K, D, D) matrices."""
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.array([covariances] * n_components)
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in covariances])
    return np.array([np.eye(n_features) * c for c in covariances])


def reference_em(X, weights, means, covariances, covariance_type, reg, n_iter):
    """EM with missing values, one point at a time. Returns the lower bounds
    and the final weights, means and covariances (in the type's shape)."""
    n, d = X.shape
    k_count = len(weights)
    covs = expand(covariance_type, covariances, k_count, d)
    bounds = []
    for _ in range(n_iter):
        resp = np.zeros((n, k_count))
        x_hat = np.zeros((n, k_count, d))
        cond = np.zeros((n, k_count, d, d))
        total = 0.0
        for i in range(n):
            o = ~np.isnan(X[i])
            m = ~o
            log_p = np.array(
                [
                    np.log(weights[k])
                    + multivariate_normal(means[k][o], covs[k][np.ix_(o, o)]).logpdf(
                        X[i][o]
                    )
                    for k in range(k_count)
                ]
            )
            top = log_p.max()
            s = np.exp(log_p - top).sum()
            total += top + np.log(s)
            resp[i] = np.exp(log_p - top) / s
            for k in range(k_count):
                x_hat[i, k, o] = X[i][o]
                if m.any():
                    b = covs[k][np.ix_(m, o)] @ np.linalg.inv(covs[k][np.ix_(o, o)])
                    x_hat[i, k, m] = means[k][m] + b @ (X[i][o] - means[k][o])
                    cond[i, k][np.ix_(m, m)] = (
                        covs[k][np.ix_(m, m)] - b @ covs[k][np.ix_(o, m)]
                    )
        bounds.append(total / n)
        nk = resp.sum(axis=0) + 10 * np.finfo(float).eps
        means = np.einsum("nk,nkd->kd", resp, x_hat) / nk[:, None]
        scatter = np.zeros((k_count, d, d))
        for k in range(k_count):
            diff = x_hat[:, k] - means[k]
            outer = diff[:, :, None] * diff[:, None, :] + cond[:, k]
            scatter[k] = (resp[:, k, None, None] * outer).sum(axis=0)
        if covariance_type == "full":
            covariances = scatter / nk[:, None, None] + reg * np.eye(d)
        elif covariance_type == "tied":
            covariances = scatter.sum(axis=0) / nk.sum() + reg * np.eye(d)
        elif covariance_type == "diag":
            covariances = np.array([np.diag(s) for s in scatter]) / nk[:, None] + reg
        else:
            covariances = np.array([np.diag(s).mean() for s in scatter]) / nk + reg
        weights = nk / nk.sum()
        covs = expand(covariance_type, covariances, k_count, d)
    return bounds, weights, means, covariances


def fit_from_start(X, covariance_type, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(
            2,
            covariance_type=covariance_type,
            nan_policy="marginalize",
            weights_init=[0.5, 0.5],
            means_init=START_MEANS,
            precisions_init=START_PRECISIONS[covariance_type],
            tol=0,
            **kwargs,
        ).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_matches_reference_em(covariance_type):
    X = data_with_holes()
    gm = fit_from_start(X, covariance_type, max_iter=5)
    start_cov = {
        "full": np.array([np.eye(3)] * 2),
        "tied": np.eye(3),
        "diag": np.ones((2, 3)),
        "spherical": np.ones(2),
    }[covariance_type]
    bounds, weights, means, covariances = reference_em(
        X, np.array([0.5, 0.5]), START_MEANS, start_cov, covariance_type, 1e-6, 5
    )
    assert_allclose(gm.lower_bounds_, bounds, rtol=1e-6)
    assert_allclose(gm.lower_bound_, bounds[-1], rtol=1e-6)
    assert_allclose(gm.weights_, weights, rtol=1e-5)
    assert_allclose(gm.means_, means, rtol=1e-5)
    assert_allclose(gm.covariances_, covariances, rtol=1e-5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_without_nan_equals_the_plain_fit(covariance_type):
    X = data_with_holes(fraction=0.0)
    a = GaussianMixture(
        2, covariance_type=covariance_type, nan_policy="marginalize", random_state=0
    ).fit(X)
    b = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert a.lower_bound_ == b.lower_bound_
    for name in ATTRIBUTES:
        assert_array_equal(getattr(a, name), getattr(b, name))


def test_methods_use_marginal_densities():
    X = data_with_holes()
    gm = fit_from_start(X, "full", max_iter=10)
    log_prob = gm.score_samples(X)
    for i in range(0, len(X), 7):
        o = ~np.isnan(X[i])
        expected = np.log(
            sum(
                gm.weights_[k]
                * multivariate_normal(
                    gm.means_[k][o], gm.covariances_[k][np.ix_(o, o)]
                ).pdf(X[i][o])
                for k in range(2)
            )
        )
        assert_allclose(log_prob[i], expected, rtol=1e-10)
    resp = gm.predict_proba(X)
    assert_allclose(resp.sum(axis=1), 1.0)
    assert_array_equal(gm.predict(X), resp.argmax(axis=1))
    assert_allclose(gm.score(X), log_prob.mean())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_initialization_fits(dtype, covariance_type):
    X = data_with_holes(seed=3).astype(dtype)
    gm = GaussianMixture(
        2, covariance_type=covariance_type, nan_policy="marginalize", random_state=0
    ).fit(X)
    assert gm.means_.dtype == dtype
    for name in ATTRIBUTES:
        assert np.all(np.isfinite(getattr(gm, name)))
    assert np.all(np.isfinite(gm.score_samples(X)))


def test_integer_weights_equal_repeated_rows():
    X = data_with_holes(seed=4)
    w = np.random.default_rng(5).integers(0, 3, len(X))
    a = fit_from_start(X, "full", max_iter=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(X, sample_weight=w.astype(float))
    b = fit_from_start(np.repeat(X, w, axis=0), "full", max_iter=4)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)
    for name in ATTRIBUTES:
        assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-12)


def test_rows_with_every_value_missing_are_an_error():
    X = data_with_holes()
    X[[3, 8]] = np.nan
    with pytest.raises(ValueError, match="2 row"):
        GaussianMixture(2, nan_policy="marginalize").fit(X)
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_replicated_data_give_the_same_fit(covariance_type):
    """EM on 70 copies of the data equals EM on the data: patterns of many
    blocks and several tasks add up like the one-block patterns."""
    X = data_with_holes(seed=6)
    copies = np.tile(X, (70, 1))
    layout = _missing.pattern_layout(copies, 2)
    assert np.diff(layout.bounds).max() > 2 * _kernels.TASK_BLOCKS * _kernels.BLOCK
    a = fit_from_start(X, covariance_type, max_iter=5)
    b = fit_from_start(copies, covariance_type, max_iter=5)
    assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-12)
    for name in ATTRIBUTES:
        assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_several_kernel_batches_equal_one(covariance_type, monkeypatch):
    """Many patterns split over several kernel calls (a small budget) give
    the fit of one call."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, 6)) + np.repeat([[0.0] * 6, [3.0] * 6], 1000, axis=0)
    X[rng.random(X.shape) < 0.3] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    one = _missing.pattern_layout(X, 2)
    assert len(one.batches) == 1
    assert one.n_patterns > 40
    kwargs = {
        "covariance_type": covariance_type,
        "nan_policy": "marginalize",
        "random_state": 0,
    }
    a = GaussianMixture(2, **kwargs).fit(X)
    monkeypatch.setattr(_missing, "_BATCH_DOUBLES", 2000)
    many = _missing.pattern_layout(X, 2)
    assert len(many.batches) > 10
    b = GaussianMixture(2, **kwargs).fit(X)
    assert a.n_iter_ == b.n_iter_
    assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-12)
    for name in ATTRIBUTES:
        assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-10, atol=1e-13)
    assert_allclose(b.score_samples(X), a.score_samples(X), rtol=1e-12)


@pytest.mark.parametrize("n_features", [12, 70])  # 2 and 9 bytes of pattern bits
def test_layout_covers_every_row_once(n_features):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(5000, n_features))
    X[rng.random(X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    layout = _missing.pattern_layout(X, 3)
    assert_array_equal(np.sort(layout.order), np.arange(len(X)))
    covered = np.concatenate(
        [layout.order[lo:hi] for lo, hi in zip(layout.task_lo, layout.task_hi)]
    )
    assert_array_equal(np.sort(covered), np.arange(len(X)))
    for t, p in enumerate(layout.task_pattern):
        rows = layout.order[layout.task_lo[t] : layout.task_hi[t]]
        missing = np.isnan(X[rows])
        expected = np.ones(n_features, dtype=bool)
        expected[layout.obs[p, : layout.n_obs[p]]] = False
        assert (missing == expected).all()


def test_a_column_with_no_observed_value_is_an_error():
    X = data_with_holes()
    X[:, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"1 column\(s\) of X have no observed value.*: 1;"
    ):
        GaussianMixture(2, nan_policy="marginalize").fit(X)
    X = data_with_holes()
    w = np.ones(len(X))
    w[~np.isnan(X[:, 2])] = 0.0  # the observed values of column 2 weigh nothing
    with pytest.raises(ValueError, match="zero sample_weight"):
        GaussianMixture(2, nan_policy="marginalize").fit(X, sample_weight=w)
