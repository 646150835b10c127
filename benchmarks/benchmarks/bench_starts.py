"""asv benchmarks: starts (``emfast bench --starts``).

How often each start reaches the best optimum on the data sets where starts
matter (:data:`emfast.workloads.START_DATASETS` at ``EMFAST_BENCH_SCALE``
times 20,000 points, at least 3,000; iris and wine), over 5 draws, and its
median fit time over scikit-learn's default fit in the same run. A fall in
the rate of 'hierarchical' or 'small-em' flags a regression of the starts.
"""

from __future__ import annotations

from emfast.bench import STARTS_METHODS, STARTS_N_SAMPLES, starts_case

from .common import bench_scale

DATASETS = ["elongated", "nested", "grid", "iris", "wine"]
METHODS = list(STARTS_METHODS)
DRAWS = 5


class Starts:
    """:func:`emfast.bench.starts_case` once per data set, in ``setup_cache``."""

    params = (DATASETS, METHODS)
    param_names = ("data", "start")
    timeout = 1200

    def setup_cache(self):
        n_samples = max(3000, int(STARTS_N_SAMPLES * bench_scale()))
        return {
            dataset: starts_case(dataset, n_samples=n_samples, draws=DRAWS)
            for dataset in DATASETS
        }

    def track_best_optimum_rate(self, results, data, start):
        """Fraction of the draws that reached the best optimum."""
        return results[data]["methods"][start]["rate"]

    track_best_optimum_rate.unit = "fraction"

    def track_time_over_sklearn_default(self, results, data, start):
        """Median fit time over scikit-learn's default fit's (lower is better)."""
        methods = results[data]["methods"]
        return (
            methods[start]["median_seconds"]
            / methods["sklearn default"]["median_seconds"]
        )

    track_time_over_sklearn_default.unit = "ratio"
