"""Numerical properties: thread-count independence, and precision on data
far from the origin."""

import textwrap
import warnings

import numpy as np
import pytest
import reference as ref
from conftest import (
    COVARIANCE_TYPES,
    TRUE_COVARIANCES,
    TRUE_MEANS,
    assert_same_bits,
    results_by_thread_count,
    sample_mixture,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from emfast import GaussianMixture, _kernels

FIT_SCRIPT = textwrap.dedent(
    """
    import sys
    import warnings

    import numba
    import numpy as np

    from emfast import GaussianMixture
    from emfast._sources import ArraySource
    from emfast._validation import as_kernel_input

    assert numba.get_num_threads() == int(sys.argv[2]), numba.get_num_threads()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    centres = rng.uniform(-5.0, 5.0, size=(4, 3))
    X = np.vstack([c + rng.normal(size=(5_000, 3)) for c in centres])
    X = X[rng.permutation(len(X))]
    out = {}
    for covariance_type in ("full", "tied", "diag", "spherical"):
        gm = GaussianMixture(
            4, covariance_type=covariance_type, random_state=0, max_iter=20
        ).fit(X)
        for name in ("weights_", "means_", "covariances_",
                     "precisions_cholesky_", "lower_bounds_"):
            out[covariance_type + name] = np.asarray(getattr(gm, name))
        out[covariance_type + "score_samples"] = gm.score_samples(X[:3000])
        out[covariance_type + "predict_proba"] = gm.predict_proba(X[:3000])
        # The engine's per-component log-densities, and the statistics of
        # given responsibilities (what a hidden Markov model uses).
        source = ArraySource(as_kernel_input(X))
        components = gm._components()
        out[covariance_type + "log_densities"] = source.log_densities(components)
        resp = gm.predict_proba(X)
        stats = source.stats_from_resp(resp, components)
        out[covariance_type + "given_stats"] = np.concatenate(
            [stats.nk.ravel(), stats.sx.ravel(), stats.sxx.ravel()]
        )
    X[rng.random(X.shape) < 0.1] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    for covariance_type in ("full", "diag"):
        gm = GaussianMixture(
            4, covariance_type=covariance_type, random_state=0, max_iter=10,
            nan_policy="marginalize",
        ).fit(X)
        for name in ("means_", "covariances_", "lower_bounds_"):
            out["nan" + covariance_type + name] = np.asarray(getattr(gm, name))
        out["nan" + covariance_type + "score_samples"] = gm.score_samples(X)
    np.savez(sys.argv[1], **out)
    """
)


def test_bit_identical_across_thread_counts(tmp_path):
    """20,000 points are 79 blocks, several groups of blocks for the threads:
    the partial sums are reduced in block order, so 1 and 2 threads give the
    same bits; also with missing values (tasks within missingness patterns)."""
    assert 64 * _kernels.BLOCK < 20_000
    results = results_by_thread_count(FIT_SCRIPT, tmp_path)
    assert len(results[1]) == 4 * 9 + 2 * 4
    assert_same_bits(results)


def start_params(covariance_type, shift):
    weights = np.array([0.3, 0.4, 0.3])
    means = TRUE_MEANS + np.array([[0.5, 0.2], [-0.3, 0.4], [0.2, -0.5]]) + shift
    covariances = TRUE_COVARIANCES * 1.5
    precisions = {
        "full": np.linalg.inv(covariances),
        "tied": np.linalg.inv(covariances.mean(axis=0)),
        "diag": 1.0 / np.diagonal(covariances, axis1=1, axis2=2),
        "spherical": 1.0 / np.diagonal(covariances, axis1=1, axis2=2).mean(axis=1),
    }[covariance_type]
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_offset_data_same_covariances(blobs, covariance_type):
    """X and X + 1e6 from the same start (means shifted too) give the same
    covariances: second moments are centred, not raw."""
    shift = 1e6
    results = []
    for offset in (0.0, shift):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(
                3,
                covariance_type=covariance_type,
                tol=0,
                max_iter=10,
                **start_params(covariance_type, offset),
            ).fit(blobs + offset)
        results.append(gm)
    near, far = results
    assert_allclose(far.covariances_, near.covariances_, rtol=1e-6)
    assert_allclose(far.precisions_cholesky_, near.precisions_cholesky_, rtol=1e-6)
    assert_allclose(far.means_ - shift, near.means_, atol=1e-6)
    assert_allclose(far.weights_, near.weights_, rtol=1e-6)
    assert_allclose(far.lower_bounds_, near.lower_bounds_, rtol=1e-6)
    assert_array_equal(far.predict(blobs + shift), near.predict(blobs))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_data_one_component_two_pass(covariance_type):
    """Points near 1e6 with unit spread: one component's covariance is the
    two-pass sample covariance (a raw-moment formula loses every digit)."""
    rng = np.random.default_rng(1)
    X = 1e6 + rng.normal(size=(3000, 3)) @ np.array(
        [[1.0, 0.0, 0.0], [0.5, 0.8, 0.0], [0.0, 0.3, 1.2]]
    )
    reg_covar = 1e-6
    gm = GaussianMixture(
        1, covariance_type=covariance_type, reg_covar=reg_covar, random_state=0
    ).fit(X)
    expected = ref.two_pass_covariance(X, reg_covar)
    if covariance_type == "full":
        expected = expected[None]
    elif covariance_type == "diag":
        expected = np.diag(expected)[None]
    elif covariance_type == "spherical":
        expected = np.diag(expected).mean()[None]
    assert_allclose(gm.covariances_, expected, rtol=1e-9)
    assert_allclose(gm.means_[0], X.mean(axis=0), rtol=1e-14)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_data_em_iteration_matches_two_pass_reference(covariance_type):
    """Three components near 1e6: one EM iteration from a given start equals
    the reference's two-pass M-step."""
    shift = 1e6
    X = sample_mixture(
        2000, [0.3, 0.5, 0.2], TRUE_MEANS + shift, TRUE_COVARIANCES, seed=2
    )
    start = start_params(covariance_type, shift)
    covariances = ref.covariances_from_precisions(
        start["precisions_init"], covariance_type
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(
            3, covariance_type=covariance_type, tol=0, max_iter=1, **start
        ).fit(X)
    lower_bound, (weights, means, ref_covariances) = ref.em_step(
        X,
        start["weights_init"],
        start["means_init"],
        covariances,
        covariance_type,
        reg_covar=1e-6,
    )
    assert_allclose(gm.lower_bound_, lower_bound, rtol=1e-10)
    assert_allclose(gm.weights_, weights, rtol=1e-9)
    assert_allclose(gm.means_, means, rtol=1e-14)
    assert_allclose(gm.covariances_, ref_covariances, rtol=1e-7)
