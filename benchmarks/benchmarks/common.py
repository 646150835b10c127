"""Shared pieces of the asv benchmarks, on top of :mod:`emfast.bench`.

``EMFAST_BENCH_SCALE`` (default 0.1) multiplies every workload's number of
samples (for the HMM workloads H1-H3: of steps, and the length of the
sampled sequence), so that ``asv run --quick`` finishes in minutes; set it to 1 for the
full sizes of DESIGN.md.
"""

from __future__ import annotations

import os

from emfast.bench import (
    HMM_FIT_N_ITER,
    HMM_SAMPLE_N,
    HMM_WARM_UP_STEPS,
    MEMMAP_N_SAMPLES,
    bayesian_start,
    benchmark_data,
    dask_chunk_rows,
    dask_overhead,
    emfast_dask_iteration,
    emfast_hmm,
    emfast_iteration,
    emfast_missing_iteration,
    hmm_benchmark_data,
    hmm_em_case,
    hmm_start,
    hmmlearn_hmm,
    impute_rmse,
    initial_parameters,
    memmap_rss,
    missing_cost,
    precisions_from_parameters,
    sklearn_bayesian_estimator,
    sklearn_estimator,
    sklearn_iteration,
    with_missing,
)
from emfast.engine import ArraySource, DaskSource, PatternSource, em_step
from emfast.workloads import HMM_WORKLOADS, WORKLOADS, random_hmm

__all__ = [
    "HMM_FIT_N_ITER",
    "HMM_SAMPLE_N",
    "HMM_WARM_UP_STEPS",
    "HMM_WORKLOADS",
    "HMM_WORKLOAD_NAMES",
    "MEMMAP_N_SAMPLES",
    "WORKLOAD_NAMES",
    "ArraySource",
    "DaskSource",
    "PatternSource",
    "bayesian_start",
    "bench_scale",
    "benchmark_data",
    "dask_chunk_rows",
    "dask_overhead",
    "em_step",
    "emfast_dask_iteration",
    "emfast_hmm",
    "emfast_iteration",
    "emfast_missing_iteration",
    "hmm_benchmark_data",
    "hmm_em_case",
    "hmm_start",
    "hmmlearn_hmm",
    "impute_rmse",
    "initial_parameters",
    "memmap_rss",
    "missing_cost",
    "precisions_from_parameters",
    "random_hmm",
    "scaled_hmm_n_samples",
    "scaled_n_samples",
    "sklearn_bayesian_estimator",
    "sklearn_estimator",
    "sklearn_iteration",
    "with_missing",
]

WORKLOAD_NAMES = list(WORKLOADS)
HMM_WORKLOAD_NAMES = list(HMM_WORKLOADS)


def bench_scale() -> float:
    """The sample-count multiplier of the asv suite (``EMFAST_BENCH_SCALE``)."""
    value = float(os.environ.get("EMFAST_BENCH_SCALE", "0.1"))
    if not 0.0 < value <= 1.0:
        raise ValueError(f"EMFAST_BENCH_SCALE must be in (0, 1], got {value}")
    return value


def scaled_n_samples(name: str) -> int:
    """The workload's number of samples times ``EMFAST_BENCH_SCALE``."""
    workload = WORKLOADS[name]
    return max(10 * workload.n_components, int(workload.n_samples * bench_scale()))


def scaled_hmm_n_samples(name: str) -> int:
    """The HMM workload's steps times ``EMFAST_BENCH_SCALE`` (at least 10
    per state), cut into sequences by :func:`emfast.workloads.hmm_sizes`."""
    workload = HMM_WORKLOADS[name]
    return max(10 * workload.n_components, int(workload.n_samples * bench_scale()))
