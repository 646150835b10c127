"""Benchmarks of emfast's Numba kernels on reduced standard workloads.

``sufficient_stats`` is the fused E-step pass of every EM iteration;
``score_samples`` serves ``score_samples``, ``predict`` and ``predict_proba``.
Data are the workloads of ``emfast.workloads`` at ``N_SAMPLES`` points, in the
form the estimator hands the kernels (read-only, C-contiguous float64).
"""

import numpy as np
import pytest

from emfast import _kernels
from emfast.bench import benchmark_data, initial_parameters
from emfast.engine import Components
from emfast.workloads import WORKLOADS

N_SAMPLES = 50_000
NO_LABELS = np.empty(0, dtype=np.int64)


def _case(name, covariance_type=None):
    X, w = benchmark_data(name, N_SAMPLES)
    covariance_type = covariance_type or w.covariance_type
    weights, means, covariances, precisions_cholesky = initial_parameters(
        X, w.n_components, covariance_type
    )
    components = Components(
        weights,
        means,
        covariances,
        precisions_cholesky,
        np.log(weights),
        covariance_type,
    )
    return X, components


def _stats_args(X, components):
    # (means, prec_tri, prec_diag, log_norm, covariance code, tied centre)
    return (
        X,
        *components.pass_args(),
        _kernels.RESP_POSTERIOR,
        NO_LABELS,
        0,
        np.empty(0),
        False,  # want_entropy: GaussianMixture's E-step does not need it
    )


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_sufficient_stats(warm_benchmark, name):
    X, components = _case(name)
    warm_benchmark(_kernels.sufficient_stats, *_stats_args(X, components))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_sufficient_stats_w2_covariance_types(warm_benchmark, covariance_type):
    X, components = _case("W2", covariance_type)
    warm_benchmark(_kernels.sufficient_stats, *_stats_args(X, components))


@pytest.mark.parametrize("want_resp", [False, True], ids=["log_prob", "with_resp"])
@pytest.mark.parametrize("name", ["W1", "W2", "W3"])
def test_score_samples(warm_benchmark, name, want_resp):
    X, components = _case(name)
    means, prec_tri, prec_diag, log_norm = components.kernel_args()
    n_samples, n_components = X.shape[0], means.shape[0]
    log_prob = np.empty(n_samples)
    labels = np.empty(n_samples, dtype=np.int64)
    resp = np.empty((n_samples if want_resp else 0, n_components))
    warm_benchmark(
        _kernels.score_samples,
        X,
        means,
        prec_tri,
        prec_diag,
        log_norm,
        log_prob,
        labels,
        resp,
    )
