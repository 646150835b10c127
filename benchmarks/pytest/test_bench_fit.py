"""Benchmarks of small whole fits and of one EM iteration through the
estimator's code path (E-step pass + M-step)."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from emfast import GaussianMixture
from emfast.bench import (
    benchmark_data,
    emfast_iteration,
    initial_parameters,
    precisions_from_parameters,
)

N_SAMPLES = 20_000


@pytest.mark.parametrize("name", ["W1", "W2", "W4"])
def test_em_iteration(warm_benchmark, name):
    X, w = benchmark_data(name, N_SAMPLES)
    parameters = initial_parameters(X, w.n_components, w.covariance_type)
    warm_benchmark(emfast_iteration, X, parameters, w.covariance_type)


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def test_fit_default_w2(warm_benchmark):
    """``GaussianMixture(16).fit(X)``: k-means initialization, default tol."""
    X, w = benchmark_data("W2", N_SAMPLES)
    warm_benchmark(_fit, GaussianMixture(w.n_components, random_state=0), X)


def test_fit_ten_iterations_w2(warm_benchmark):
    """Ten EM iterations from identical initial parameters (no k-means)."""
    X, w = benchmark_data("W2", N_SAMPLES)
    parameters = initial_parameters(X, w.n_components, w.covariance_type)
    gm = GaussianMixture(
        w.n_components,
        tol=0.0,
        max_iter=10,
        weights_init=parameters[0],
        means_init=parameters[1],
        precisions_init=precisions_from_parameters(parameters, w.covariance_type),
    )
    warm_benchmark(_fit, gm, X)
