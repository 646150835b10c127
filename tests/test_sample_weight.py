"""sample_weight in fit, fit_predict and score: integer weights are repeated
rows, in the iterations and in every initialization that can match."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from emfast import GaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
ATTRIBUTES = ["weights_", "means_", "covariances_", "precisions_cholesky_"]


def three_blobs(n_per_blob=60, seed=0):
    rng = np.random.default_rng(seed)
    centres = ([0.0, 0.0], [5.0, 0.0], [0.0, 5.0])
    return np.vstack([rng.normal(size=(n_per_blob, 2)) + c for c in centres])


def integer_weights(n, seed=1):
    return np.random.default_rng(seed).integers(0, 4, n).astype(np.float64)


def fit(X, sample_weight=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(3, random_state=0, **kwargs).fit(
            X, sample_weight=sample_weight
        )


def assert_same_fit(a, b, rtol=1e-10):
    assert a.n_iter_ == b.n_iter_
    assert_allclose(a.lower_bound_, b.lower_bound_, rtol=rtol)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)
    for name in ATTRIBUTES:
        assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
def test_integer_weights_equal_repeated_rows(covariance_type, init_params):
    """Zero weights drop rows, and k-means++ draws through cumulative
    weights, so even the initialization matches the repeated data."""
    X = three_blobs()
    w = integer_weights(len(X))
    repeated = np.repeat(X, w.astype(int), axis=0)
    kwargs = {"covariance_type": covariance_type, "init_params": init_params}
    assert_same_fit(fit(X, w, **kwargs), fit(repeated, **kwargs))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["random", "random_from_data"])
def test_random_inits_draw_per_row_not_per_copy(covariance_type, init_params):
    """'random' and 'random_from_data' draw per row, so integer weights do
    not start where the repeated rows start (the user guide says so; if these
    starts ever honour the weights as copies, update it)."""
    X = three_blobs()
    w = integer_weights(len(X))
    repeated = np.repeat(X, w.astype(int), axis=0)
    kwargs = {
        "covariance_type": covariance_type,
        "init_params": init_params,
        "max_iter": 1,
    }
    a, b = fit(X, w, **kwargs), fit(repeated, **kwargs)
    assert not np.isclose(a.lower_bounds_[0], b.lower_bounds_[0], rtol=1e-6)


def test_docs_limit_the_repeated_rows_claim_to_kmeans_starts():
    """The user guide's claim matches test_integer_weights_equal_repeated_rows
    (kmeans and k-means++, every covariance type) and the test above."""
    page = Path(__file__).resolve().parents[1] / "docs/user_guide/mixtures.md"
    section = page.read_text().split("## Sample weights", 1)[1].split("\n## ", 1)[0]
    text = " ".join(section.split())
    assert "exactly the fit" not in text
    claim = text[: text.index("repeated that many times")]
    assert 'init_params="kmeans"' in claim and '"k-means++"' in claim
    caveat = text[text.index("repeated that many times") :]
    assert '"random" and "random_from_data" draw per row' in caveat.replace("`", "")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows_from_given_start(covariance_type):
    X = three_blobs()
    w = integer_weights(len(X), seed=2)
    start = fit(X, covariance_type=covariance_type, max_iter=1)
    kwargs = {
        "covariance_type": covariance_type,
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
        "tol": 0,
        "max_iter": 15,
    }
    weighted = fit(X, w, **kwargs)
    repeated = fit(np.repeat(X, w.astype(int), axis=0), **kwargs)
    assert_same_fit(weighted, repeated)


def test_scaling_all_weights_changes_nothing():
    X = three_blobs()
    w = np.random.default_rng(3).uniform(0.1, 2.0, len(X))
    assert_same_fit(fit(X, w), fit(X, 7.5 * w))


def test_unit_weights_equal_no_weights():
    X = three_blobs()
    assert_same_fit(fit(X, np.ones(len(X))), fit(X), rtol=1e-12)
    assert_same_fit(fit(X, 1.0), fit(X), rtol=1e-12)


@pytest.mark.parametrize("init_params", ["random", "random_from_data"])
def test_weighted_random_inits_fit(init_params):
    X = three_blobs()
    gm = fit(X, integer_weights(len(X)), init_params=init_params)
    for name in ATTRIBUTES:
        assert np.all(np.isfinite(getattr(gm, name)))
    assert_allclose(gm.weights_.sum(), 1.0)


def test_weights_move_the_fit():
    """Weighting one blob up raises its mixture weight accordingly."""
    X = three_blobs()
    w = np.ones(len(X))
    w[:60] = 4.0  # first blob counts four times
    gm = fit(X, w)
    first = np.argmin(np.linalg.norm(gm.means_, axis=1))
    assert_allclose(gm.weights_[first], 4 / 6, atol=0.01)


def test_score_and_fit_predict_with_weights():
    X = three_blobs()
    w = integer_weights(len(X))
    gm = fit(X, w)
    assert_allclose(
        gm.score(X, sample_weight=w),
        np.average(gm.score_samples(X), weights=w),
        rtol=1e-12,
    )
    labels = GaussianMixture(3, random_state=0).fit_predict(X, sample_weight=w)
    assert_array_equal(labels, gm.predict(X))


@pytest.mark.parametrize(
    ("sample_weight", "error", "match"),
    [
        (-np.ones(180), ValueError, "Negative values"),
        (np.r_[np.ones(179), np.nan], ValueError, "NaN"),
        (np.r_[np.ones(179), np.inf], ValueError, "infinity"),
        (np.ones(10), ValueError, r"sample_weight.shape == \(10,\), expected \(180,\)"),
        (np.ones((180, 2)), ValueError, "1-D"),
        (np.zeros(180), ValueError, "at least one non-zero"),
        (np.r_[np.ones(2), np.zeros(178)], ValueError, "2 positive weights"),
        (np.array(["a"] * 180), ValueError, "could not convert|numeric"),
    ],
)
def test_bad_sample_weight(sample_weight, error, match):
    X = three_blobs()
    with pytest.raises(error, match=match):
        GaussianMixture(3).fit(X, sample_weight=sample_weight)
