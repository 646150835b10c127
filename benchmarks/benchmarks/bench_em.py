"""asv benchmarks: emfast against sklearn on the standard workloads W1-W6.

Every workload runs at ``EMFAST_BENCH_SCALE`` times its number of samples
(default 0.1; 1 gives the sizes of DESIGN.md). Data generation, initial
parameters and JIT compilation happen in the untimed ``setup``. ``DefaultFit``
times whole default fits (k-means initialization, default ``tol``) on W2.
"""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from .common import (
    WORKLOAD_NAMES,
    benchmark_data,
    emfast_iteration,
    initial_parameters,
    precisions_from_parameters,
    scaled_n_samples,
    sklearn_estimator,
    sklearn_iteration,
)

LIBRARIES = ["emfast", "sklearn"]
# Bounded iteration counts keep sklearn's fits to seconds at the default scale.
PEAKMEM_MAX_ITER = 10
TRACK_MAX_ITER = 5
# The end-to-end default fit of the goal (GaussianMixture(16) on W2).
DEFAULT_FIT_WORKLOADS = ["W2"]


def _estimator_class(library):
    if library == "emfast":
        from emfast import GaussianMixture
    else:
        from sklearn.mixture import GaussianMixture
    return GaussianMixture


def _warm_up_emfast(X, workload):
    """Compile (or load from the disk cache) the kernels a fit uses."""
    from emfast import GaussianMixture

    subset = X[: 20 * workload.n_components]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixture(
            workload.n_components,
            covariance_type=workload.covariance_type,
            max_iter=2,
            random_state=0,
        ).fit(subset)


class Iteration:
    """One EM iteration (E-step + M-step) from identical initial parameters;
    emfast's under one BLAS thread, as in its ``fit``."""

    params = (WORKLOAD_NAMES, LIBRARIES)
    param_names = ("workload", "library")
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, workload, library):
        self.X, w = benchmark_data(workload, scaled_n_samples(workload))
        self.covariance_type = w.covariance_type
        self.parameters = initial_parameters(self.X, w.n_components, w.covariance_type)
        self._blas_limit = None
        if library == "emfast":
            self._blas_limit = threadpool_limits(limits=1, user_api="blas")
            emfast_iteration(self.X, self.parameters, self.covariance_type)

    def teardown(self, workload, library):
        if self._blas_limit is not None:
            self._blas_limit.restore_original_limits()

    def time_iteration(self, workload, library):
        if library == "emfast":
            emfast_iteration(self.X, self.parameters, self.covariance_type)
        else:
            sk = sklearn_estimator(self.parameters, self.covariance_type)
            sklearn_iteration(sk, self.X)


class Fit:
    """Whole fits: peak memory (default k-means initialization) and the lower
    bound reached from identical initial parameters (catches numeric drift;
    both libraries should agree to about 1e-12)."""

    params = (WORKLOAD_NAMES, LIBRARIES)
    param_names = ("workload", "library")
    timeout = 600

    def setup(self, workload, library):
        self.X, self.workload = benchmark_data(workload, scaled_n_samples(workload))
        if library == "emfast":
            _warm_up_emfast(self.X, self.workload)

    def peakmem_fit(self, workload, library):
        # asv reports the peak RSS of the whole benchmark process: Python,
        # imports and the data are included, equally for both libraries.
        w = self.workload
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _estimator_class(library)(
                w.n_components,
                covariance_type=w.covariance_type,
                max_iter=PEAKMEM_MAX_ITER,
                random_state=0,
            ).fit(self.X)

    def track_lower_bound(self, workload, library):
        w = self.workload
        parameters = initial_parameters(self.X, w.n_components, w.covariance_type)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = _estimator_class(library)(
                w.n_components,
                covariance_type=w.covariance_type,
                tol=0.0,
                max_iter=TRACK_MAX_ITER,
                init_params="random_from_data",
                weights_init=parameters[0],
                means_init=parameters[1],
                precisions_init=precisions_from_parameters(
                    parameters, w.covariance_type
                ),
                random_state=0,
            ).fit(self.X)
        return gm.lower_bound_

    track_lower_bound.unit = "mean log-likelihood"


class DefaultFit:
    """End to end with the defaults: ``GaussianMixture(K, covariance_type=...,
    random_state=0).fit(X)``, k-means initialization and default ``tol``, as
    ``emfast bench --end-to-end`` runs it; emfast's kernels are compiled in the
    untimed ``setup``. The tracked value is the final mean log-likelihood of
    the data, each library's own ``score(X)``."""

    params = (DEFAULT_FIT_WORKLOADS, LIBRARIES)
    param_names = ("workload", "library")
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, workload, library):
        self.X, self.workload = benchmark_data(workload, scaled_n_samples(workload))
        if library == "emfast":
            _warm_up_emfast(self.X, self.workload)

    def _fit(self, library):
        w = self.workload
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return _estimator_class(library)(
                w.n_components, covariance_type=w.covariance_type, random_state=0
            ).fit(self.X)

    def time_default_fit(self, workload, library):
        self._fit(library)

    def track_default_fit_loglik(self, workload, library):
        return float(self._fit(library).score(self.X))

    track_default_fit_loglik.unit = "mean log-likelihood"
