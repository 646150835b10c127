"""Bad input gets a ValueError or TypeError that says what is wrong; odd but
valid input fits with finite parameters."""

import copy
import re
import warnings

import numpy as np
import pytest
import reference as ref
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from emfast import GaussianMixture

PARAMS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 8.0])


def assert_finite_fit(gm, dtype=np.float64):
    for name in PARAMS:
        value = getattr(gm, name)
        assert np.all(np.isfinite(value)), name
        assert value.dtype == dtype, name
    assert np.isfinite(gm.lower_bound_)
    assert_allclose(gm.weights_.sum(), 1.0, rtol=1e-6)


# ------------------------------------------------------------------ bad X


def with_value(X, value):
    X = X.copy()
    X[3, 1] = value
    return X


@pytest.mark.parametrize(
    "make_X, error, match",
    [
        (lambda X: with_value(X, np.nan), ValueError, "Input X contains NaN"),
        (lambda X: with_value(X, np.inf), ValueError, "Input X contains infinity"),
        (lambda X: with_value(X, -np.inf), ValueError, "Input X contains infinity"),
        (lambda X: np.empty((0, 2)), ValueError, r"0 sample\(s\)"),
        (lambda X: np.empty((10, 0)), ValueError, r"0 feature\(s\)"),
        (lambda X: X[:1], ValueError, r"1 sample\(s\).*minimum of 2"),
        (
            lambda X: np.array([["a", "b"], ["c", "d"], ["e", "f"]]),
            ValueError,
            "could not convert string to float",
        ),
        (
            lambda X: np.array([[object(), object()]] * 5, dtype=object),
            TypeError,
            "float",
        ),
        (lambda X: np.array([[{}, 1.0]] * 5, dtype=object), TypeError, "dict"),
        (lambda X: X + 1j, ValueError, "Complex data not supported"),
        (lambda X: X.reshape(-1, 2, 2), ValueError, "Found array with dim 3"),
        (lambda X: X[:, 0], ValueError, "Expected 2D array, got 1D array"),
        (lambda X: 3.0, ValueError, "Expected 2D array, got scalar array"),
    ],
    ids=[
        "nan",
        "inf",
        "-inf",
        "empty",
        "no-features",
        "one-sample",
        "strings",
        "objects",
        "object-dicts",
        "complex",
        "3d",
        "1d",
        "scalar",
    ],
)
def test_bad_X(X, make_X, error, match):
    with pytest.raises(error, match=match):
        GaussianMixture(1).fit(make_X(X))


def test_fewer_samples_than_components(X):
    with pytest.raises(
        ValueError,
        match="Expected n_samples >= n_components but got n_components = 5, "
        "n_samples = 4",
    ):
        GaussianMixture(5).fit(X[:4])


@pytest.mark.parametrize("method", ["fit", "fit_predict"])
def test_bad_X_in_fit_predict_too(X, method):
    with pytest.raises(ValueError, match="Input X contains NaN"):
        getattr(GaussianMixture(2), method)(with_value(X, np.nan))


# ---------------------------------------------------------- bad parameters


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "'n_components' parameter .* range \\[1, inf\\)"),
        ({"n_components": -1}, "'n_components' parameter .* Got -1"),
        ({"n_components": 1.5}, "'n_components' parameter .* int"),
        ({"tol": -1e-3}, "'tol' parameter .* range \\[0.0, inf\\)"),
        ({"reg_covar": -1e-6}, "'reg_covar' parameter .* range \\[0.0, inf\\)"),
        ({"covariance_type": "banana"}, "'covariance_type' parameter .* 'banana'"),
        ({"init_params": "banana"}, "'init_params' parameter .* 'banana'"),
        ({"max_iter": -1}, "'max_iter' parameter"),
        ({"n_init": 0}, "'n_init' parameter"),
        ({"verbose_interval": 0}, "'verbose_interval' parameter"),
        ({"warm_start": "yes"}, "'warm_start' parameter"),
    ],
)
def test_bad_constructor_parameters(X, params, match):
    # sklearn's InvalidParameterError subclasses both ValueError and TypeError.
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**params).fit(X)


@pytest.mark.parametrize(
    "params, match",
    [
        (
            {"weights_init": [0.5, 0.6]},
            re.escape("'weights' should be normalized, but got sum(weights) = 1.10000"),
        ),
        (
            {"weights_init": [0.2, 0.2, 0.6]},
            re.escape("'weights' should have the shape of (2,), but got (3,)"),
        ),
        ({"weights_init": [[0.5, 0.5]]}, "'weights' should have the shape of"),
        (
            {"weights_init": [-0.5, 1.5]},
            re.escape(
                "'weights' should be in the range [0, 1], but got max value "
                "1.50000, min value -0.50000"
            ),
        ),
        ({"weights_init": [np.nan, 1.0]}, "Input contains NaN"),
        ({"weights_init": ["a", "b"]}, "could not convert string to float"),
        (
            {"means_init": np.zeros((3, 2))},
            re.escape("'means' should have the shape of (2, 2), but got (3, 2)"),
        ),
        (
            {"means_init": np.zeros((2, 3))},
            re.escape("'means' should have the shape of (2, 2), but got (2, 3)"),
        ),
        ({"means_init": [[np.inf, 0.0], [0.0, 0.0]]}, "Input contains infinity"),
    ],
)
def test_bad_weights_and_means(X, params, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, **params).fit(X)


NOT_SYMMETRIC = [[1.0, 0.5], [0.0, 1.0]]
NOT_POSITIVE_DEFINITE = [[1.0, 2.0], [2.0, 1.0]]


@pytest.mark.parametrize(
    "covariance_type, precisions, match",
    [
        (
            "full",
            [np.eye(2), NOT_SYMMETRIC],
            "'full precision' should be symmetric, positive-definite",
        ),
        (
            "full",
            [np.eye(2), NOT_POSITIVE_DEFINITE],
            "'full precision' should be symmetric, positive-definite",
        ),
        (
            "full",
            [np.eye(2), -np.eye(2)],
            "'full precision' should be symmetric, positive-definite",
        ),
        (
            "full",
            np.eye(2),
            re.escape(
                "'full precision' should have the shape of (2, 2, 2), but got (2, 2)"
            ),
        ),
        (
            "full",
            np.stack([np.eye(3)] * 2),
            re.escape("'full precision' should have the shape of (2, 2, 2)"),
        ),
        (
            "tied",
            NOT_SYMMETRIC,
            "'tied precision' should be symmetric, positive-definite",
        ),
        (
            "tied",
            NOT_POSITIVE_DEFINITE,
            "'tied precision' should be symmetric, positive-definite",
        ),
        (
            "tied",
            np.eye(3),
            re.escape(
                "'tied precision' should have the shape of (2, 2), but got (3, 3)"
            ),
        ),
        ("diag", [[1.0, 1.0], [1.0, 0.0]], "'diag precision' should be positive"),
        ("diag", [[1.0, 1.0], [-1.0, 1.0]], "'diag precision' should be positive"),
        (
            "diag",
            [1.0, 1.0],
            re.escape("'diag precision' should have the shape of (2, 2), but got (2,)"),
        ),
        ("spherical", [1.0, 0.0], "'spherical precision' should be positive"),
        ("spherical", [1.0, -2.0], "'spherical precision' should be positive"),
        (
            "spherical",
            [1.0, 1.0, 1.0],
            re.escape(
                "'spherical precision' should have the shape of (2,), but got (3,)"
            ),
        ),
        ("spherical", [1.0, np.nan], "Input contains NaN"),
        ("full", [np.eye(2), [[np.inf, 0.0], [0.0, 1.0]]], "Input contains infinity"),
    ],
)
def test_bad_precisions(X, covariance_type, precisions, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(
            2, covariance_type=covariance_type, precisions_init=precisions
        ).fit(X)


def test_constructor_parameters_not_modified(X):
    weights = [0.5, 0.5]
    means = [[0.0, 0.0], [8.0, 8.0]]
    precisions = np.stack([np.eye(2), np.eye(2)])
    gm = GaussianMixture(
        2, weights_init=weights, means_init=means, precisions_init=precisions
    )
    before = copy.deepcopy(gm.get_params())
    gm.fit(X)
    params = gm.get_params()
    assert params["weights_init"] is weights and weights == [0.5, 0.5]
    assert params["means_init"] is means and means == [[0.0, 0.0], [8.0, 8.0]]
    assert params["precisions_init"] is precisions
    assert_array_equal(precisions, np.stack([np.eye(2), np.eye(2)]))
    for key, value in before.items():
        if key not in ("weights_init", "means_init", "precisions_init"):
            assert params[key] == value, key
    # The fitted model moved away from the start, the start did not move.
    assert not np.allclose(gm.precisions_, precisions)


def test_user_params_float32_not_modified(X):
    weights = np.array([0.5, 0.5], dtype=np.float32)
    weights.setflags(write=False)
    gm = GaussianMixture(2, weights_init=weights).fit(X)
    assert gm.weights_init is weights and gm.weights_init.dtype == np.float32


# --------------------------------------------------------------- inference


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic"]
)
def test_not_fitted(X, method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(GaussianMixture(2), method)(X)


def test_sample_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianMixture(2).sample(3)


@pytest.fixture(scope="module")
def fitted(X):
    return GaussianMixture(2, random_state=0).fit(X)


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic"]
)
def test_wrong_number_of_features(X, fitted, method):
    X3 = np.hstack([X, X[:, :1]])
    with pytest.raises(
        ValueError, match="X has 3 features, but GaussianMixture is expecting 2"
    ):
        getattr(fitted, method)(X3)


@pytest.mark.parametrize(
    "make_X, error, match",
    [
        (lambda X: with_value(X, np.nan), ValueError, "Input X contains NaN"),
        (lambda X: with_value(X, np.inf), ValueError, "Input X contains infinity"),
        (lambda X: X + 1j, ValueError, "Complex data not supported"),
        (
            lambda X: np.array([["a", "b"]] * 4),
            ValueError,
            "could not convert string to float",
        ),
        (lambda X: X[:, 0], ValueError, "Expected 2D array"),
        (lambda X: X.reshape(-1, 2, 2), ValueError, "Found array with dim 3"),
        (lambda X: np.empty((0, 2)), ValueError, r"0 sample\(s\)"),
    ],
    ids=["nan", "inf", "complex", "strings", "1d", "3d", "empty"],
)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples"])
def test_bad_X_after_fit(X, fitted, make_X, error, match, method):
    with pytest.raises(error, match=match):
        getattr(fitted, method)(make_X(X))


# ---------------------------------------------------- odd but valid input


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "make_X",
    [
        lambda X: X.tolist(),
        lambda X: np.round(X).astype(np.int64),
        lambda X: np.round(X).astype(np.int32),
        lambda X: np.asfortranarray(X),
        lambda X: X[::2],
        lambda X: np.repeat(X, 2, axis=1)[:, ::2],
        lambda X: readonly(X),
        lambda X: X + 1e6,
    ],
    ids=[
        "list",
        "int64",
        "int32",
        "fortran",
        "row-strided",
        "column-strided",
        "read-only",
        "offset-1e6",
    ],
)
def test_valid_inputs_fit(X, covariance_type, make_X):
    data = make_X(X)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    gm.fit(data)
    assert_finite_fit(gm)
    labels = gm.predict(data)
    assert len(set(labels.tolist())) == 2
    assert_array_equal(gm.fit_predict(data), labels)
    assert np.all(np.isfinite(gm.score_samples(data)))


def readonly(X):
    X = X.copy()
    X.setflags(write=False)
    return X


def test_layouts_give_the_same_fit(X):
    """C, Fortran, strided and read-only views of the same values fit
    identically."""
    kwargs = {"n_components": 2, "random_state": 0}
    base = GaussianMixture(**kwargs).fit(X)
    wide = np.repeat(X, 2, axis=1)
    for data in (np.asfortranarray(X), wide[:, ::2], readonly(X), X.tolist()):
        gm = GaussianMixture(**kwargs).fit(data)
        for name in PARAMS:
            assert_array_equal(getattr(gm, name), getattr(base, name), err_msg=name)
    strided = np.repeat(X, 2, axis=0)[::2]
    gm = GaussianMixture(**kwargs).fit(strided)
    assert_array_equal(gm.means_, base.means_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_fits_float32(X, covariance_type):
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    gm.fit(X.astype(np.float32))
    assert_finite_fit(gm, dtype=np.float32)
    assert gm.predict_proba(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_components", [1, 3])
@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data"]
)
def test_identical_points(covariance_type, n_components, init_params):
    X = np.full((20, 2), 3.0)
    gm = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. fewer distinct points than K
        gm.fit(X)
    assert_finite_fit(gm)
    assert_allclose(gm.means_, 3.0, rtol=1e-12)
    # Every covariance is reg_covar alone.
    mats = ref.full_covariances(gm.covariances_, covariance_type, n_components, 2)
    assert_allclose(mats, np.broadcast_to(1e-6 * np.eye(2), mats.shape), atol=1e-15)
    assert np.all(np.isfinite(gm.score_samples(X)))


def test_identical_points_far_from_origin_float32():
    X = np.full((20, 2), 1e6, dtype=np.float32)
    gm = GaussianMixture(3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    assert_finite_fit(gm, dtype=np.float32)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_single_feature(X, covariance_type):
    data = X[:, :1]
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    gm.fit(data)
    assert_finite_fit(gm)
    assert gm.means_.shape == (2, 1)
    assert_allclose(np.sort(gm.means_[:, 0]), [0.0, 8.0], atol=0.4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_component(X, covariance_type):
    gm = GaussianMixture(1, covariance_type=covariance_type).fit(X)
    assert_finite_fit(gm)
    assert_allclose(gm.weights_, [1.0])
    assert_allclose(gm.means_[0], X.mean(axis=0), rtol=1e-12)
    assert_array_equal(gm.predict(X), 0)
    assert_allclose(gm.predict_proba(X), 1.0)
