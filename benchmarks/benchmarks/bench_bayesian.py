"""asv benchmarks: ``BayesianGaussianMixture``, emfast against sklearn on W2.

W2 at ``EMFAST_BENCH_SCALE`` times its number of samples (default 0.1; 1
gives the size of DESIGN.md). One variational EM iteration (E-step, M-step,
lower bound) from identical parameters, as ``emfast bench --bayesian``
times it (goal: emfast at least 20x faster at full size); the peak memory
of a fit; and the lower bound after a few iterations from identical
parameters, which catches numeric drift. Data, starting parameters and JIT
compilation are in the untimed ``setup``.
"""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from .common import (
    ArraySource,
    bayesian_start,
    benchmark_data,
    em_step,
    scaled_n_samples,
    sklearn_bayesian_estimator,
    sklearn_iteration,
)

WORKLOADS = ["W2"]
LIBRARIES = ["emfast", "sklearn"]
# Bounded iteration counts keep sklearn's fits to seconds at the default scale.
PEAKMEM_MAX_ITER = 10
TRACK_MAX_ITER = 5


def _estimator_class(library):
    if library == "emfast":
        from emfast import BayesianGaussianMixture
    else:
        from sklearn.mixture import BayesianGaussianMixture
    return BayesianGaussianMixture


def _make(library, workload, max_iter):
    return _estimator_class(library)(
        n_components=workload.n_components,
        covariance_type=workload.covariance_type,
        max_iter=max_iter,
        random_state=0,
    )


class BayesianIteration:
    """One variational EM iteration from identical parameters; emfast's
    under one BLAS thread, as in its ``fit``."""

    params = (WORKLOADS, LIBRARIES)
    param_names = ("workload", "library")
    number = 1
    repeat = (1, 5, 60.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self, workload, library):
        self.X, w = benchmark_data(workload, scaled_n_samples(workload))
        self.model, self.params = bayesian_start(
            self.X, w.n_components, w.covariance_type
        )
        self.source = ArraySource(self.X)
        self._blas_limit = None
        if library == "emfast":
            self._blas_limit = threadpool_limits(limits=1, user_api="blas")
            em_step(self.model, self.source, self.params)  # compile or load

    def teardown(self, workload, library):
        if self._blas_limit is not None:
            self._blas_limit.restore_original_limits()

    def time_iteration(self, workload, library):
        if library == "emfast":
            em_step(self.model, self.source, self.params)
        else:
            sk = sklearn_bayesian_estimator(self.model, self.params)
            sklearn_iteration(sk, self.X)

    def track_lower_bound(self, workload, library):
        """The lower bound after ``TRACK_MAX_ITER`` iterations from the same
        start (both libraries should agree to about 1e-12)."""
        if library == "emfast":
            params = self.params
            for _ in range(TRACK_MAX_ITER):
                lower_bound, params = em_step(self.model, self.source, params)
            return float(lower_bound)
        sk = sklearn_bayesian_estimator(self.model, self.params)
        for _ in range(TRACK_MAX_ITER):
            lower_bound = sklearn_iteration(sk, self.X)
        return lower_bound

    track_lower_bound.unit = "lower bound"


class BayesianFit:
    """Peak memory of a fit (default k-means initialization, at most
    ``PEAKMEM_MAX_ITER`` iterations)."""

    params = (WORKLOADS, LIBRARIES)
    param_names = ("workload", "library")
    timeout = 900

    def setup(self, workload, library):
        self.X, self.workload = benchmark_data(workload, scaled_n_samples(workload))
        if library == "emfast":
            # Compile (or load from the disk cache) the kernels a fit uses.
            subset = self.X[: 20 * self.workload.n_components]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                _make(library, self.workload, 2).fit(subset)

    def peakmem_fit(self, workload, library):
        # asv reports the peak RSS of the whole benchmark process: Python,
        # imports and the data are included, equally for both libraries.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _make(library, self.workload, PEAKMEM_MAX_ITER).fit(self.X)
