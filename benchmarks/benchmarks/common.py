"""Shared pieces of the benchmarks: workload data, identical initial
parameters, and one EM iteration of each library.

``EMFAST_BENCH_SCALE`` (default 0.1) multiplies every workload's number of
samples in the asv suite, so that ``asv run --quick`` finishes in minutes;
set it to 1 for the full sizes of DESIGN.md.
"""

from __future__ import annotations

import os

import numpy as np

from emfast import _em
from emfast._params import Params, compute_precision_cholesky
from emfast.workloads import WORKLOADS, make_workload

WORKLOAD_NAMES = list(WORKLOADS)
REG_COVAR = 1e-6


def bench_scale() -> float:
    """The sample-count multiplier of the asv suite (``EMFAST_BENCH_SCALE``)."""
    value = float(os.environ.get("EMFAST_BENCH_SCALE", "0.1"))
    if not 0.0 < value <= 1.0:
        raise ValueError(f"EMFAST_BENCH_SCALE must be in (0, 1], got {value}")
    return value


def workload_data(name: str, n_samples: int | None = None, seed: int = 0):
    """(X, workload): the workload's float64 data as a read-only C array, the
    form emfast's kernels take (so no extra compilation for writeable input)."""
    X, workload = make_workload(name, n_samples=n_samples, seed=seed)
    X = np.ascontiguousarray(X)
    X.flags.writeable = False
    return X, workload


def scaled_n_samples(name: str) -> int:
    workload = WORKLOADS[name]
    return max(10 * workload.n_components, int(workload.n_samples * bench_scale()))


def initial_parameters(X, n_components: int, covariance_type: str, seed: int = 0):
    """(weights, means, covariances, precisions_cholesky) in sklearn's form:
    uniform weights, means at distinct random data points, and the data's
    covariance (reduced to the covariance type) for every component."""
    rng = np.random.default_rng(seed + 12345)
    n_samples, n_features = X.shape
    means = np.array(X[np.sort(rng.choice(n_samples, n_components, replace=False))])
    weights = np.full(n_components, 1.0 / n_components)
    cov = np.atleast_2d(np.cov(X, rowvar=False)) + REG_COVAR * np.eye(n_features)
    if covariance_type == "full":
        covariances = np.tile(cov, (n_components, 1, 1))
    elif covariance_type == "tied":
        covariances = cov
    elif covariance_type == "diag":
        covariances = np.tile(np.diag(cov), (n_components, 1))
    else:
        covariances = np.full(n_components, np.diag(cov).mean())
    precisions_cholesky = compute_precision_cholesky(covariances, covariance_type)
    return weights, means, covariances, precisions_cholesky


def precisions_from_parameters(parameters, covariance_type: str):
    """``precisions_init`` for the estimators, from initial_parameters()."""
    pc = parameters[3]
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", pc, pc)
    if covariance_type == "tied":
        return pc @ pc.T
    return pc**2


def emfast_iteration(X, parameters, covariance_type: str) -> Params:
    """One fused E-step pass and the M-step, as emfast's EM loop runs them."""
    params = Params(*parameters)
    _lower_bound, stats, tied_center = _em.e_step_stats(X, params, covariance_type)
    return _em.m_step(
        stats, params.means, covariance_type, REG_COVAR, X.dtype, tied_center
    )


def sklearn_estimator(parameters, covariance_type: str):
    """A sklearn GaussianMixture holding the given parameters, ready for
    ``_e_step`` / ``_m_step``."""
    from sklearn.mixture import GaussianMixture

    sk = GaussianMixture(
        len(parameters[0]), covariance_type=covariance_type, reg_covar=REG_COVAR
    )
    sk._set_parameters(tuple(np.array(p, copy=True) for p in parameters))
    return sk


def sklearn_iteration(sk, X) -> None:
    """One E-step and M-step of sklearn's EM loop (updates ``sk`` in place)."""
    _lower_bound, log_resp = sk._e_step(X)
    sk._m_step(X, log_resp)
