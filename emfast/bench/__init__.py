"""Benchmarks of emfast against scikit-learn and hmmlearn: the ``emfast
bench`` command.

Everything here measures emfast and ``sklearn.mixture.GaussianMixture`` (or
``hmmlearn.hmm.GaussianHMM``) side by side, in the same run, on the standard
workloads of :mod:`emfast.workloads`:

* **One EM iteration** (E-step + M-step) from identical initial parameters:
  emfast's fused statistics pass plus its M-step (:func:`emfast.engine.em_step`
  of ``GaussianMixture``'s model on the array), under one BLAS thread as in
  emfast's ``fit``; sklearn's ``_e_step`` plus ``_m_step`` after
  ``_set_parameters``.
  The median over repeats is reported, with the ratio. Both libraries'
  iterations are timed by the same two functions, :func:`time_em_step` (any
  engine model on any source) and :func:`time_sklearn_step`, which
  ``emfast demo --compare`` uses too.
* **BayesianGaussianMixture** (:func:`bayesian_workload`,
  :func:`run_bayesian`): one variational iteration of both libraries from
  identical parameters (:func:`bayesian_start`), and the peak memory of a
  fit in a fresh process.
* **GaussianHMM** (:func:`hmm_workload`, :func:`run_hmm`, ``emfast bench
  --hmm``) on the HMM workloads H1-H3: one Baum–Welch iteration of both
  libraries from identical parameters (:func:`hmm_start`), per
  implementation ('scaling' against hmmlearn's 'scaling', 'log' against
  its 'log'): emfast's :func:`emfast.engine.em_step` of the estimator's
  model (:func:`emfast_hmm`, :func:`hmm_em_case`, :func:`time_em_step`)
  against hmmlearn's ``fit(X, lengths)`` with ``n_iter=1``
  (:func:`hmmlearn_hmm`, :func:`time_hmmlearn_step`); Viterbi decoding;
  ``sample`` (H2's model); and the peak memory of a fit in a fresh process.
* **Achieved GFLOP/s** of emfast's iteration (:func:`iteration_flops`,
  :func:`hmm_iteration_flops`) against this machine's float64
  matrix-multiply rate (:func:`matmul_gflops`), and its time against the
  memory floor, the time to read the data once at this machine's memory
  read rate (:func:`memory_read_gbps`): :func:`machine_rates`,
  :func:`bound_fractions`, for every model.
* **Peak memory** of a fit in a fresh process (:func:`fit_peak_rss`).
* **Start-up** (:func:`import_overhead`, :func:`first_fit_overhead`,
  :func:`readonly_cache_check`): import time, and the first fit in a fresh
  process with the compile cache warm, cold, and in a read-only package.
* **End to end** (:func:`end_to_end`, :func:`run_end_to_end`): default fits
  (k-means initialization, default ``tol``) of both libraries on the same
  data, for one or more seeds: wall time of ``fit`` (emfast's compile left
  out), iterations, and the final log-likelihood from each ``score(X)``.
* **Missing values** (:func:`missing_cost`, :func:`run_missing_cost`): one
  emfast iteration with a fraction of the values missing completely at
  random (``nan_policy='marginalize'``) against one on the complete data,
  from the same initial parameters; and the one-off grouping of the rows by
  missingness pattern. emfast only: sklearn does not fit data with NaN.
* **Imputation accuracy** (:func:`impute_rmse`, :func:`run_impute_rmse`):
  values set missing completely at random in data whose true values are
  known, filled in by :class:`emfast.GaussianMixtureImputer` and by
  scikit-learn's ``SimpleImputer`` (mean), ``IterativeImputer`` and
  ``KNNImputer``; the RMSE over the missing values and the time of each.
* **Data larger than memory** (:func:`memmap_rss`, :func:`run_memmap_rss`):
  the anonymous memory a default fit, and then ``score``, add in a fresh
  process on a ``.npy`` file opened with ``np.load(path, mmap_mode='r')``,
  against the file's size. emfast only.
* **Starts** (:func:`starts_case`, :func:`select_case`, :func:`run_starts`,
  ``emfast bench --starts``): how often each start (scikit-learn's default
  and ``n_init=10``; emfast's 'kmeans', 'k-means++', 'hierarchical' and
  'small-em') reaches the best optimum on data where starts matter
  (:data:`emfast.workloads.START_DATASETS`, iris and wine), with its fit
  time; and how often ``select_model`` picks the right number of components
  on the elongated clusters.
* **Dask** (:func:`dask_overhead`, :func:`run_dask_overhead`): one emfast
  iteration on a ``dask.array`` (threaded scheduler, or a ``LocalCluster`` of
  worker processes) against one in memory, from the same initial parameters.
  emfast only.

The functions return plain dicts (what ``emfast bench --json`` saves);
:func:`format_results` and :func:`format_startup` turn them into the tables
the command prints; :func:`format_bayesian` those of
``BayesianGaussianMixture``, :func:`format_hmm` those of ``GaussianHMM``,
:func:`format_end_to_end` that of the end-to-end fits,
:func:`format_missing_cost` that of the missing values,
:func:`format_impute_rmse` that of the imputation accuracy, and
:func:`format_memmap_rss` and :func:`format_dask_overhead` those of the scale
benchmarks.

Everything public is imported from here. The code lives in private modules,
one a benchmark: ``_iteration`` (one iteration, GFLOP/s, peak memory),
``_bayesian``, ``_hmm``, ``_end_to_end``, ``_missing``, ``_imputation``,
``_scale`` (memory-mapped file and Dask) and ``_startup``; on top of
``_common`` (machine, data, initial parameters, the iteration timers, fresh
processes, the record a ``run_*`` returns) and ``_format`` (the machine
line, Markdown tables and cells of the reports).
"""

from __future__ import annotations

from ._bayesian import (
    BAYESIAN_SPEEDUP_GOAL,
    BAYESIAN_WORKLOAD,
    bayesian_start,
    bayesian_workload,
    format_bayesian,
    run_bayesian,
    sklearn_bayesian_estimator,
)
from ._common import (
    MIB,
    QUICK_DIVISOR,
    QUICK_DIVISORS,
    REG_COVAR,
    Timed,
    benchmark_data,
    emfast_iteration,
    initial_parameters,
    machine_info,
    precisions_from_parameters,
    quick_n_samples,
    sklearn_iteration,
    time_em_step,
    time_sklearn_step,
)
from ._end_to_end import (
    E2E_LOGLIK_RTOL,
    E2E_WARMUP_POINTS_PER_COMPONENT,
    end_to_end,
    format_end_to_end,
    run_end_to_end,
)
from ._hmm import (
    HMM_FIT_N_ITER,
    HMM_IMPLEMENTATIONS,
    HMM_QUICK_DIVISOR,
    HMM_QUICK_SAMPLE_N,
    HMM_SAMPLE_GOAL,
    HMM_SAMPLE_N,
    HMM_SAMPLE_WORKLOADS,
    HMM_SPEEDUP_GOALS,
    HMM_VITERBI_GOAL,
    HMM_WARM_UP_STEPS,
    emfast_hmm,
    format_hmm,
    hmm_benchmark_data,
    hmm_em_case,
    hmm_iteration_flops,
    hmm_params_rel_diff,
    hmm_quick_n_samples,
    hmm_start,
    hmm_workload,
    hmmlearn_hmm,
    run_hmm,
    time_hmmlearn_step,
)
from ._imputation import (
    IMPUTE_DATASETS,
    IMPUTE_FRACTION,
    IMPUTE_ITERATIVE_MAX_ITER,
    IMPUTE_METHOD_LABELS,
    IMPUTE_METHODS,
    IMPUTE_QUICK_N_SAMPLES,
    format_impute_rmse,
    impute_data,
    impute_rmse,
    run_impute_rmse,
    two_clusters,
)
from ._iteration import (
    PEAK_RSS_ESTIMATORS,
    bound_fractions,
    fit_peak_rss,
    format_results,
    iteration_flops,
    machine_rates,
    matmul_gflops,
    memory_read_gbps,
    run,
    run_workload,
    sklearn_estimator,
)
from ._missing import (
    MISSING_FRACTION,
    MISSING_RATIO_GOAL,
    MISSING_REPEAT,
    emfast_missing_iteration,
    format_missing_cost,
    missing_cost,
    missing_mask,
    run_missing_cost,
    with_missing,
)
from ._scale import (
    DASK_CLUSTER_WORKERS,
    DASK_N_CHUNKS,
    DASK_RATIO_GOAL,
    DASK_REPEAT,
    DASK_SCHEDULERS,
    MEMMAP_GROWTH_GOAL,
    MEMMAP_MAX_ITER,
    MEMMAP_N_SAMPLES,
    MEMMAP_QUICK_N_SAMPLES,
    MEMMAP_WORKLOAD,
    dask_chunk_rows,
    dask_overhead,
    emfast_dask_iteration,
    format_dask_overhead,
    format_memmap_rss,
    memmap_rss,
    run_dask_overhead,
    run_memmap_rss,
)
from ._starts import (
    METHODS as STARTS_METHODS,
)
from ._starts import (
    REAL_DATASETS as STARTS_REAL_DATASETS,
)
from ._starts import (
    STARTS_DRAWS,
    STARTS_N_SAMPLES,
    STARTS_QUICK_DRAWS,
    STARTS_QUICK_N_SAMPLES,
    STARTS_TOLERANCE,
    format_starts,
    run_starts,
    select_case,
    starts_case,
    truth_score,
)
from ._startup import (
    STARTUP_N_SAMPLES,
    STARTUP_WORKLOAD,
    first_fit_overhead,
    format_startup,
    import_overhead,
    readonly_cache_check,
    startup,
)

__all__ = [
    "BAYESIAN_SPEEDUP_GOAL",
    "BAYESIAN_WORKLOAD",
    "DASK_CLUSTER_WORKERS",
    "DASK_N_CHUNKS",
    "DASK_RATIO_GOAL",
    "DASK_REPEAT",
    "DASK_SCHEDULERS",
    "E2E_LOGLIK_RTOL",
    "E2E_WARMUP_POINTS_PER_COMPONENT",
    "HMM_FIT_N_ITER",
    "HMM_IMPLEMENTATIONS",
    "HMM_QUICK_DIVISOR",
    "HMM_QUICK_SAMPLE_N",
    "HMM_SAMPLE_GOAL",
    "HMM_SAMPLE_N",
    "HMM_SAMPLE_WORKLOADS",
    "HMM_SPEEDUP_GOALS",
    "HMM_VITERBI_GOAL",
    "HMM_WARM_UP_STEPS",
    "IMPUTE_DATASETS",
    "IMPUTE_FRACTION",
    "IMPUTE_ITERATIVE_MAX_ITER",
    "IMPUTE_METHODS",
    "IMPUTE_METHOD_LABELS",
    "IMPUTE_QUICK_N_SAMPLES",
    "MEMMAP_GROWTH_GOAL",
    "MEMMAP_MAX_ITER",
    "MEMMAP_N_SAMPLES",
    "MEMMAP_QUICK_N_SAMPLES",
    "MEMMAP_WORKLOAD",
    "MIB",
    "MISSING_FRACTION",
    "MISSING_RATIO_GOAL",
    "MISSING_REPEAT",
    "PEAK_RSS_ESTIMATORS",
    "QUICK_DIVISOR",
    "QUICK_DIVISORS",
    "REG_COVAR",
    "STARTS_DRAWS",
    "STARTS_METHODS",
    "STARTS_N_SAMPLES",
    "STARTS_QUICK_DRAWS",
    "STARTS_QUICK_N_SAMPLES",
    "STARTS_REAL_DATASETS",
    "STARTS_TOLERANCE",
    "STARTUP_N_SAMPLES",
    "STARTUP_WORKLOAD",
    "Timed",
    "bayesian_start",
    "bayesian_workload",
    "benchmark_data",
    "bound_fractions",
    "dask_chunk_rows",
    "dask_overhead",
    "emfast_dask_iteration",
    "emfast_hmm",
    "emfast_iteration",
    "emfast_missing_iteration",
    "end_to_end",
    "first_fit_overhead",
    "fit_peak_rss",
    "format_bayesian",
    "format_dask_overhead",
    "format_end_to_end",
    "format_hmm",
    "format_impute_rmse",
    "format_memmap_rss",
    "format_missing_cost",
    "format_results",
    "format_starts",
    "format_startup",
    "hmm_benchmark_data",
    "hmm_em_case",
    "hmm_iteration_flops",
    "hmm_params_rel_diff",
    "hmm_quick_n_samples",
    "hmm_start",
    "hmm_workload",
    "hmmlearn_hmm",
    "import_overhead",
    "impute_data",
    "impute_rmse",
    "initial_parameters",
    "iteration_flops",
    "machine_info",
    "machine_rates",
    "matmul_gflops",
    "memmap_rss",
    "memory_read_gbps",
    "missing_cost",
    "missing_mask",
    "precisions_from_parameters",
    "quick_n_samples",
    "readonly_cache_check",
    "run",
    "run_bayesian",
    "run_dask_overhead",
    "run_end_to_end",
    "run_hmm",
    "run_impute_rmse",
    "run_memmap_rss",
    "run_missing_cost",
    "run_starts",
    "run_workload",
    "select_case",
    "sklearn_bayesian_estimator",
    "sklearn_estimator",
    "sklearn_iteration",
    "starts_case",
    "startup",
    "time_em_step",
    "time_hmmlearn_step",
    "time_sklearn_step",
    "truth_score",
    "two_clusters",
    "with_missing",
]
