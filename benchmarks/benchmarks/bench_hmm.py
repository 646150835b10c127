"""asv benchmarks: ``GaussianHMM``, emfast against hmmlearn on H1-H3.

The HMM workloads at ``EMFAST_BENCH_SCALE`` times their steps (default 0.1:
fewer sequences for H1 and H3, a shorter one for H2; 1 gives the sizes of
DESIGN.md), as ``emfast bench --hmm`` measures them: one Baum–Welch
iteration from identical parameters with each implementation ('scaling',
'log') of both libraries (goals at full size, against hmmlearn's
'scaling': H1 and H3 at least 30x, H2 10x); the log-likelihood after a few
iterations from the same start, which catches numeric drift; Viterbi
decoding (goal 10x); ``sample`` from H2's model (goal 100x); and the peak
memory of a fit. Data, starting parameters, JIT compilation and hmmlearn's
lazy imports are in the untimed ``setup``.
"""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from .common import (
    HMM_FIT_N_ITER,
    HMM_SAMPLE_N,
    HMM_WARM_UP_STEPS,
    HMM_WORKLOAD_NAMES,
    HMM_WORKLOADS,
    bench_scale,
    em_step,
    emfast_hmm,
    hmm_benchmark_data,
    hmm_em_case,
    hmm_start,
    hmmlearn_hmm,
    random_hmm,
    scaled_hmm_n_samples,
)

LIBRARIES = ["emfast", "hmmlearn"]
IMPLEMENTATIONS = ["scaling", "log"]
TRACK_N_ITER = 3
SAMPLE_WORKLOAD = "H2"


def _data(workload):
    X, lengths, w = hmm_benchmark_data(workload, scaled_hmm_n_samples(workload))
    return X, lengths, w.covariance_type


def _estimator_class(library):
    if library == "emfast":
        from emfast import GaussianHMM
    else:
        from hmmlearn.hmm import GaussianHMM
    return GaussianHMM


class HMMIteration:
    """One Baum–Welch iteration from identical parameters; emfast's
    (``em_step`` of the estimator's model) under one BLAS thread, as in its
    ``fit``; hmmlearn's ``fit(X, lengths)`` with ``n_iter=1``."""

    params = (HMM_WORKLOAD_NAMES, LIBRARIES, IMPLEMENTATIONS)
    param_names = ("workload", "library", "implementation")
    number = 1
    repeat = (1, 5, 60.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self, workload, library, implementation):
        self.X, self.lengths, self.cov = _data(workload)
        self.start = hmm_start(workload)
        self._blas_limit = None
        if library == "emfast":
            estimator = emfast_hmm(self.start, self.cov, implementation)
            self.case = hmm_em_case(estimator, self.X, self.lengths)
            self._blas_limit = threadpool_limits(limits=1, user_api="blas")
            em_step(*self.case)  # compile or load
        else:
            warm = hmmlearn_hmm(self.start, self.cov, implementation)
            warm.fit(self.X[:HMM_WARM_UP_STEPS])  # lazy imports

    def teardown(self, workload, library, implementation):
        if self._blas_limit is not None:
            self._blas_limit.restore_original_limits()

    def time_iteration(self, workload, library, implementation):
        if library == "emfast":
            em_step(*self.case)
        else:
            hmmlearn_hmm(self.start, self.cov, implementation).fit(self.X, self.lengths)

    def track_log_likelihood(self, workload, library, implementation):
        """The E-step's log-likelihood of the ``TRACK_N_ITER``-th iteration
        from the same start (both libraries should agree to about 1e-10)."""
        if library == "emfast":
            model, source, params = self.case
            for _ in range(TRACK_N_ITER):
                log_likelihood, params = em_step(model, source, params)
            return float(log_likelihood)
        # init_params='': each fit of one iteration continues from the last.
        hmm = hmmlearn_hmm(self.start, self.cov, implementation)
        for _ in range(TRACK_N_ITER):
            hmm.fit(self.X, self.lengths)
        return float(hmm.monitor_.history[-1])

    track_log_likelihood.unit = "log-likelihood"


class HMMViterbi:
    """``decode(X, lengths, algorithm='viterbi')`` with the starting
    parameters of :class:`HMMIteration`."""

    params = (HMM_WORKLOAD_NAMES, LIBRARIES)
    param_names = ("workload", "library")
    number = 1
    repeat = (1, 5, 60.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self, workload, library):
        self.X, self.lengths, cov = _data(workload)
        start = hmm_start(workload)
        make = emfast_hmm if library == "emfast" else hmmlearn_hmm
        self.model = make(start, cov)
        first = self.X[: int(self.lengths[0])]
        self.model.decode(first, algorithm="viterbi")  # compile or load

    def time_decode(self, workload, library):
        self.model.decode(self.X, self.lengths, algorithm="viterbi")


class HMMSample:
    """``sample(n)`` from H2's model, n = ``HMM_SAMPLE_N`` times
    ``EMFAST_BENCH_SCALE`` (hmmlearn draws step by step in Python: about
    8 s for 100,000)."""

    params = (LIBRARIES,)
    param_names = ("library",)
    number = 1
    repeat = (1, 3, 30.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self, library):
        self.n_samples = max(1, int(HMM_SAMPLE_N * bench_scale()))
        w = HMM_WORKLOADS[SAMPLE_WORKLOAD]
        truth = random_hmm(w.n_features, w.n_components, w.covariance_type)
        make = emfast_hmm if library == "emfast" else hmmlearn_hmm
        self.model = make(truth, w.covariance_type)
        self.model.sample(10, random_state=0)  # compile or load

    def time_sample(self, library):
        self.model.sample(self.n_samples, random_state=0)


class HMMFit:
    """Peak memory of a default fit (emfast's default start, ``n_iter`` =
    ``HMM_FIT_N_ITER``; hmmlearn's: one iteration, whose peak every further
    one repeats)."""

    params = (HMM_WORKLOAD_NAMES, LIBRARIES)
    param_names = ("workload", "library")
    timeout = 900

    def setup(self, workload, library):
        self.X, self.lengths, self.cov = _data(workload)
        self.n_components = hmm_start(workload).means.shape[0]
        # Compile (or load from the disk cache) the kernels a fit uses, or
        # import hmmlearn's lazily loaded modules.
        self._make(library, 2).fit(self.X[: 50 * self.n_components])

    def _make(self, library, n_iter):
        return _estimator_class(library)(
            n_components=self.n_components,
            covariance_type=self.cov,
            n_iter=n_iter,
            random_state=0,
        )

    def peakmem_fit(self, workload, library):
        # asv reports the peak RSS of the whole benchmark process: Python,
        # imports and the data are included, equally for both libraries.
        n_iter = HMM_FIT_N_ITER if library == "emfast" else 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._make(library, n_iter).fit(self.X, self.lengths)
