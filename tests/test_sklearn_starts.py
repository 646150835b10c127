"""init_params='random_from_data' against scikit-learn: the same points,
but emfast's initial weights are 1/K where sklearn's are 1/N, and sklearn's
initial 'tied' covariance comes from the raw second moments. The comparison
table of the docs' "Moving over" page says so."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import sklearn_lower_bounds
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from emfast import GaussianMixture

MOVING_OVER = Path(__file__).resolve().parents[1] / "docs/moving_over.md"
K = 3


def blobs():
    rng = np.random.default_rng(0)
    centres = ([0.0, 0.0], [4.0, 1.0], [8.0, -2.0])
    X = np.vstack([rng.normal(c, 1.0, size=(100, 2)) for c in centres])
    return X - 4.0


def both(covariance_type, seed, **kwargs):
    X = blobs()
    kwargs = {
        "covariance_type": covariance_type,
        "init_params": "random_from_data",
        "random_state": seed,
        **kwargs,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(K, **kwargs).fit(X)
        theirs = SklearnGaussianMixture(K, **kwargs).fit(X)
    return X, ours, theirs


@pytest.mark.parametrize("seed", [0, 1])
def test_first_lower_bound_is_higher_by_log_n_over_k(seed):
    X, ours, theirs = both("full", seed)
    their_bounds = sklearn_lower_bounds(theirs, X)
    difference = ours.lower_bounds_[0] - their_bounds[0]
    # The bounds are about -1e6 (covariances reg_covar): to rounding.
    assert_allclose(difference, np.log(len(X) / K), atol=1e-6)
    assert_allclose(ours.lower_bounds_[1:], their_bounds[1:], rtol=1e-10)
    assert_allclose(ours.means_, theirs.means_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_diag_and_spherical_agree_after_the_first_bound(covariance_type):
    X, ours, theirs = both(covariance_type, 0)
    difference = ours.lower_bounds_[0] - sklearn_lower_bounds(theirs, X)[0]
    # sklearn's initial variances, E[x^2] - mean^2, carry rounding errors.
    assert_allclose(difference, np.log(len(X) / K), rtol=0.1)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-10)


def test_sklearn_tied_start_uses_raw_second_moments():
    X = blobs()
    gm = SklearnGaussianMixture(
        K, covariance_type="tied", init_params="random_from_data", random_state=0
    )
    gm._initialize_parameters(X, np.random.RandomState(0))
    assert_allclose(gm.weights_, 1.0 / len(X))
    points = gm.means_
    expected = (X.T @ X - points.T @ points) / K + gm.reg_covar * np.eye(2)
    assert_allclose(gm.covariances_, expected, rtol=1e-10)


@pytest.mark.parametrize("seed", [0, 2])
def test_tied_fits_can_reach_another_optimum(seed):
    X, ours, theirs = both("tied", seed)
    # Same points, different covariance: not the log(N/K) shift, and here
    # another optimum.
    assert abs(ours.lower_bounds_[0] - sklearn_lower_bounds(theirs, X)[0]) > 1e3
    assert not np.isclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-3)


def test_comparison_table_has_the_random_from_data_row():
    rows = [
        line
        for line in MOVING_OVER.read_text().splitlines()
        if line.startswith('| `init_params="random_from_data"` |')
    ]
    assert len(rows) == 1
    row = rows[0]
    for fact in ("1/N", "1/K", "log(N/K)", "`tied`", "raw second moments"):
        assert fact in row, fact
    assert re.search(r"another optimum for the same `random_state`", row)
