"""asv benchmarks: values missing at random (``nan_policy='marginalize'``).

One emfast EM iteration on W2 at ``EMFAST_BENCH_SCALE`` with 10 % of the
values missing completely at random (fixed seed, no row entirely missing),
next to the same iteration on the complete data, from identical initial
parameters; and the ratio of the two, as ``emfast bench --missing`` measures
it (goal: at most 3).
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from .common import (
    PatternSource,
    benchmark_data,
    emfast_iteration,
    emfast_missing_iteration,
    initial_parameters,
    missing_cost,
    scaled_n_samples,
    with_missing,
)

WORKLOAD = "W2"
FRACTION = 0.1
DATA = ["complete", "10% missing"]
RATIO_REPEAT = 7


class MissingIteration:
    """One EM iteration (E-step + M-step) under one BLAS thread, as in
    emfast's ``fit``; the grouping of the rows by missingness pattern (once
    per fit) is in the untimed ``setup``."""

    params = (DATA,)
    param_names = ("data",)
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, data):
        X, w = benchmark_data(WORKLOAD, scaled_n_samples(WORKLOAD))
        self.covariance_type = w.covariance_type
        self.parameters = initial_parameters(X, w.n_components, w.covariance_type)
        if data == "complete":
            self.X, self.source = X, None
        else:
            self.source = PatternSource(with_missing(X, FRACTION), None, w.n_components)
            _ = self.source.layout  # the grouping, cached on the source
        self._blas_limit = threadpool_limits(limits=1, user_api="blas")
        self.time_iteration(data)  # compile or load the cache

    def teardown(self, data):
        self._blas_limit.restore_original_limits()

    def time_iteration(self, data):
        if self.source is None:
            emfast_iteration(self.X, self.parameters, self.covariance_type)
        else:
            emfast_missing_iteration(self.source, self.parameters, self.covariance_type)


class MissingCost:
    """:func:`emfast.bench.missing_cost` once, in ``setup_cache``: both
    iterations timed in the same process, medians of ``RATIO_REPEAT``."""

    timeout = 600

    def setup_cache(self):
        return missing_cost(
            WORKLOAD,
            fraction=FRACTION,
            n_samples=scaled_n_samples(WORKLOAD),
            repeat=RATIO_REPEAT,
        )

    def track_missing_over_complete(self, result):
        """Seconds of a marginalize iteration over a complete one (goal: <= 3)."""
        return result["ratio"]

    track_missing_over_complete.unit = "ratio"

    def track_layout_seconds(self, result):
        """Grouping the rows by missingness pattern, once per fit."""
        return result["layout_seconds"]

    track_layout_seconds.unit = "seconds"
