"""nan_policy: 'raise' (sklearn's behaviour) and 'omit' (drop rows with NaN)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from emfast import GaussianMixture

ATTRIBUTES = ["weights_", "means_", "covariances_", "precisions_cholesky_"]


def blobs_with_nan(seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(100, 3)) + c for c in (0.0, 6.0)])
    X = X[rng.permutation(len(X))]
    holes = rng.choice(len(X), size=17, replace=False)
    X[holes, rng.integers(0, 3, size=17)] = np.nan
    return X, np.isnan(X).any(axis=1)


def test_raise_is_the_default():
    X, _ = blobs_with_nan()
    assert GaussianMixture().nan_policy == "raise"
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GaussianMixture(2).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_omit_equals_fit_on_complete_rows(covariance_type):
    X, has_nan = blobs_with_nan()
    kwargs = {"covariance_type": covariance_type, "random_state": 0}
    with pytest.warns(UserWarning, match="dropped 17 of 200 rows"):
        omitted = GaussianMixture(2, nan_policy="omit", **kwargs).fit(X)
    clean = GaussianMixture(2, **kwargs).fit(X[~has_nan])
    assert omitted.n_samples_omitted_ == 17
    assert omitted.lower_bound_ == clean.lower_bound_
    for name in ATTRIBUTES:
        assert_array_equal(getattr(omitted, name), getattr(clean, name))


def test_omit_fit_predict_labels_dropped_rows_minus_one():
    X, has_nan = blobs_with_nan()
    gm = GaussianMixture(2, nan_policy="omit", random_state=0)
    with pytest.warns(UserWarning):
        labels = gm.fit_predict(X)
    assert np.all(labels[has_nan] == -1)
    assert_array_equal(labels[~has_nan], gm.predict(X[~has_nan]))


def test_omit_drops_the_weights_of_dropped_rows():
    X, has_nan = blobs_with_nan()
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X))
    with pytest.warns(UserWarning):
        a = GaussianMixture(2, nan_policy="omit", random_state=0).fit(
            X, sample_weight=w
        )
    b = GaussianMixture(2, random_state=0).fit(X[~has_nan], sample_weight=w[~has_nan])
    for name in ATTRIBUTES:
        assert_array_equal(getattr(a, name), getattr(b, name))


def test_omit_without_nan_is_a_plain_fit():
    X, has_nan = blobs_with_nan()
    X = X[~has_nan]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm = GaussianMixture(2, nan_policy="omit", random_state=0).fit(X)
    assert gm.n_samples_omitted_ == 0
    assert GaussianMixture(2, random_state=0).fit(X).lower_bound_ == gm.lower_bound_


def test_omit_errors():
    X, _ = blobs_with_nan()
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        GaussianMixture(2, nan_policy="omit").fit(X_inf)
    almost_empty = np.full((5, 2), np.nan)
    almost_empty[0] = [1.0, 2.0]
    with pytest.raises(ValueError, match="fewer than 2 rows"):
        GaussianMixture(1, nan_policy="omit").fit(almost_empty)
    gm = GaussianMixture(2, nan_policy="omit", random_state=0)
    with pytest.warns(UserWarning):
        gm.fit(X)
    with pytest.raises(ValueError, match="NaN"):
        gm.predict(X)
    with pytest.raises(ValueError, match="nan_policy"):
        GaussianMixture(2, nan_policy="ignore").fit(X)
