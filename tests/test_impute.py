"""GaussianMixture.impute and GaussianMixtureImputer: conditional expectations
of missing values, against a reference written here with SciPy densities."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.exceptions import NotFittedError
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from test_marginalize import COVARIANCE_TYPES, data_with_holes, expand

from emfast import GaussianMixture, GaussianMixtureImputer


def reference_impute(X, weights, means, covariances):
    """Row by row: responsibilities from the marginal densities of the
    observed values, conditional means per component, their weighted sum."""
    out = X.copy()
    for i in range(len(X)):
        m = np.isnan(X[i])
        if not m.any():
            continue
        o = ~m
        if not o.any():
            out[i] = weights @ means
            continue
        log_p = np.array(
            [
                np.log(w)
                + multivariate_normal(mu[o], cov[np.ix_(o, o)]).logpdf(X[i, o])
                for w, mu, cov in zip(weights, means, covariances)
            ]
        )
        resp = np.exp(log_p - log_p.max())
        resp /= resp.sum()
        conditional = [
            mu[m]
            + cov[np.ix_(m, o)] @ np.linalg.solve(cov[np.ix_(o, o)], X[i, o] - mu[o])
            for mu, cov in zip(means, covariances)
        ]
        out[i, m] = resp @ np.array(conditional)
    return out


def fitted(covariance_type, X=None, **kwargs):
    X = data_with_holes() if X is None else X
    return GaussianMixture(
        2,
        covariance_type=covariance_type,
        nan_policy="marginalize",
        random_state=0,
        **kwargs,
    ).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_impute_matches_reference(covariance_type):
    X = data_with_holes()
    X[5] = np.nan  # a row with nothing observed gets the mixture's mean
    gm = fitted(covariance_type, data_with_holes())
    covariances = expand(covariance_type, gm.covariances_, 2, X.shape[1])
    expected = reference_impute(X, gm.weights_, gm.means_, covariances)
    imputed = gm.impute(X)
    assert not np.isnan(imputed).any()
    assert_allclose(imputed, expected, rtol=1e-10, atol=1e-12)
    observed = ~np.isnan(X)
    assert_array_equal(imputed[observed], X[observed])
    assert_allclose(imputed[5], gm.weights_ @ gm.means_)


def test_input_is_not_modified_and_the_result_is_a_copy():
    X = data_with_holes()
    before = X.copy()
    gm = fitted("full")
    imputed = gm.impute(X)
    assert_array_equal(X, before)
    assert not np.shares_memory(imputed, X)
    complete = data_with_holes(fraction=0.0)
    again = gm.impute(complete)
    assert_array_equal(again, complete)
    assert not np.shares_memory(again, complete)


def test_float32_is_preserved():
    X = data_with_holes().astype(np.float32)
    gm = fitted("full", X)
    imputed = gm.impute(X)
    assert imputed.dtype == np.float32
    expected = fitted("full", X.astype(np.float64)).impute(X.astype(np.float64))
    assert_allclose(imputed, expected, rtol=1e-3, atol=1e-3)


def test_a_model_fitted_without_missing_values_imputes():
    complete = data_with_holes(fraction=0.0)
    gm = GaussianMixture(2, random_state=0).fit(complete)
    X = data_with_holes()
    covariances = expand("full", gm.covariances_, 2, 3)
    expected = reference_impute(X, gm.weights_, gm.means_, covariances)
    assert_allclose(gm.impute(X), expected, rtol=1e-10, atol=1e-12)


def test_impute_bad_input():
    gm = GaussianMixture(2)
    with pytest.raises(NotFittedError):
        gm.impute(data_with_holes())
    gm = fitted("full")
    with pytest.raises(ValueError, match="3 features"):
        gm.impute(np.zeros((4, 2)))
    X = data_with_holes()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        gm.impute(X)


def test_imputer_transform_is_the_mixture_imputation():
    X = data_with_holes(seed=2)
    imputer = GaussianMixtureImputer(2, covariance_type="diag", random_state=0)
    imputed = imputer.fit_transform(X)
    gm = fitted("diag", X)
    assert imputer.n_iter_ == gm.n_iter_
    assert_array_equal(imputer.gaussian_mixture_.means_, gm.means_)
    assert_array_equal(imputed, gm.impute(X))
    assert_array_equal(imputer.transform(X), imputed)


def test_imputer_forwards_sample_weight():
    X = data_with_holes(seed=4)
    w = np.random.default_rng(5).integers(0, 3, len(X)).astype(float)
    a = GaussianMixtureImputer(2, random_state=0).fit(X, sample_weight=w)
    b = fitted("full", X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.fit(X, sample_weight=w)
    assert_array_equal(a.gaussian_mixture_.means_, b.means_)


def test_imputer_in_a_pipeline_with_feature_names():
    import pandas as pd

    X = data_with_holes(seed=1)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    y = np.nan_to_num(X).sum(axis=1)
    model = make_pipeline(GaussianMixtureImputer(2, random_state=0), LinearRegression())
    model.fit(frame, y)
    assert model.predict(frame).shape == (len(X),)
    imputer = model[0]
    assert_array_equal(imputer.get_feature_names_out(), ["a", "b", "c"])
    imputer.set_output(transform="pandas")
    out = imputer.transform(frame)
    assert list(out.columns) == ["a", "b", "c"]
    assert not out.isna().any().any()


def test_imputer_rejects_rows_with_nothing_observed():
    X = data_with_holes()
    X[[1, 2, 3]] = np.nan
    with pytest.raises(ValueError, match="3 row"):
        GaussianMixtureImputer(2).fit(X)


def test_imputer_beats_mean_imputation_on_a_mixture():
    """Two correlated clusters, 20 % of values missing at random: the
    conditional expectations are far closer to the truth than column means,
    and closer than one linear regression per feature (measured RMSE: 0.72,
    mean 2.22, iterative 1.11)."""
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.8, 0.6], [0.8, 1.0, 0.7], [0.6, 0.7, 1.0]])
    truth = np.vstack(
        [
            rng.multivariate_normal([0, 0, 0], cov, 1000),
            rng.multivariate_normal(
                [5, -4, 3], cov * [[1, -1, 1], [-1, 1, -1], [1, -1, 1]], 1000
            ),
        ]
    )
    X = truth.copy()
    holes = rng.random(X.shape) < 0.2
    holes[holes.all(axis=1), 0] = False
    X[holes] = np.nan

    def rmse(imputed):
        return np.sqrt(np.mean((imputed[holes] - truth[holes]) ** 2))

    mixture = rmse(GaussianMixtureImputer(2, random_state=0).fit_transform(X))
    mean = rmse(SimpleImputer().fit_transform(X))
    iterative = rmse(IterativeImputer(max_iter=30, random_state=0).fit_transform(X))
    assert mixture < 0.5 * mean
    assert mixture < 0.8 * iterative
