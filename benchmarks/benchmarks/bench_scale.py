"""asv benchmarks: scale, data in a Dask array or in a memory-mapped file.

One emfast EM iteration on W2 at ``EMFAST_BENCH_SCALE``, in memory and on the
same data as a Dask array (threaded scheduler, the rows in 8 chunks), from
identical initial parameters; the ratio of the two as ``emfast bench --dask``
measures it (goal: at most 1.5). And the anonymous memory a default fit adds
on a memory-mapped ``.npy`` file of 24,000,000 x ``EMFAST_BENCH_SCALE`` rows
(8 features), over the file's size, as ``emfast bench --memmap`` measures it
(goal: at most 0.25).
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from .common import (
    MEMMAP_N_SAMPLES,
    DaskSource,
    bench_scale,
    benchmark_data,
    dask_chunk_rows,
    dask_overhead,
    emfast_dask_iteration,
    emfast_iteration,
    initial_parameters,
    memmap_rss,
    scaled_n_samples,
)

WORKLOAD = "W2"
DATA = ["in memory", "dask threads"]
RATIO_REPEAT = 7


class DaskIteration:
    """One EM iteration (E-step + M-step) under one BLAS thread, as in
    emfast's ``fit``; on the Dask array, the per-chunk statistics run on
    Dask's threaded scheduler and the M-step on the client."""

    params = (DATA,)
    param_names = ("data",)
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, data):
        import dask
        import dask.array as da

        X, w = benchmark_data(WORKLOAD, scaled_n_samples(WORKLOAD))
        self.X, self.covariance_type = X, w.covariance_type
        self.parameters = initial_parameters(X, w.n_components, w.covariance_type)
        self.source = None
        if data == "dask threads":
            chunks = (dask_chunk_rows(X.shape[0]), X.shape[1])
            self.source = DaskSource(da.from_array(X, chunks=chunks))
        self._dask_config = dask.config.set(scheduler="threads")
        self._blas_limit = threadpool_limits(limits=1, user_api="blas")
        self.time_iteration(data)  # compile or load the cache; check values

    def teardown(self, data):
        self._blas_limit.restore_original_limits()
        self._dask_config.__exit__(None, None, None)

    def time_iteration(self, data):
        if self.source is None:
            emfast_iteration(self.X, self.parameters, self.covariance_type)
        else:
            emfast_dask_iteration(self.source, self.parameters, self.covariance_type)


class DaskOverhead:
    """:func:`emfast.bench.dask_overhead` once, in ``setup_cache``: both
    iterations timed in the same process, medians of ``RATIO_REPEAT``."""

    timeout = 600

    def setup_cache(self):
        return dask_overhead(
            WORKLOAD,
            n_samples=scaled_n_samples(WORKLOAD),
            scheduler="threads",
            repeat=RATIO_REPEAT,
        )

    def track_dask_over_memory(self, result):
        """Seconds of a Dask (threaded) iteration over an in-memory one
        (goal: <= 1.5)."""
        return result["ratio"]

    track_dask_over_memory.unit = "ratio"


class MemmapMemory:
    """:func:`emfast.bench.memmap_rss` once, in ``setup_cache``: a default fit
    (``max_iter=10``) and ``score`` in a fresh process on a memory-mapped
    file written to the temporary directory (and deleted)."""

    timeout = 900

    def setup_cache(self):
        return memmap_rss(max(200_000, int(MEMMAP_N_SAMPLES * bench_scale())))

    def track_fit_growth_over_file(self, result):
        """Peak RssAnon growth of the fit over the file's size (goal: <= 0.25)."""
        return result["fit_ratio"]

    track_fit_growth_over_file.unit = "ratio"

    def track_score_growth_over_file(self, result):
        """Peak RssAnon growth, fit and score(X), over the file's size."""
        return result["score_ratio"]

    track_score_growth_over_file.unit = "ratio"
