"""asv benchmarks: imputation accuracy (``emfast bench --impute``).

The RMSE over values missing completely at random (20 %, fixed seed, no row
entirely missing) against the true values, for emfast's
``GaussianMixtureImputer`` and sklearn's ``SimpleImputer`` (mean),
``IterativeImputer(max_iter=30)`` and ``KNNImputer``, on the data sets of
:func:`emfast.bench.impute_rmse` at their default sizes (accuracy depends on
the size, so ``EMFAST_BENCH_SCALE`` does not apply). A rise in emfast's RMSE
flags a regression of the fit or of the imputation.
"""

from __future__ import annotations

from .common import impute_rmse

DATASETS = ["two-clusters", "W2"]
METHODS = ["emfast", "mean", "iterative", "knn"]


class ImputeAccuracy:
    """:func:`emfast.bench.impute_rmse` once per data set, in ``setup_cache``."""

    params = (DATASETS, METHODS)
    param_names = ("data", "method")
    timeout = 600

    def setup_cache(self):
        return {dataset: impute_rmse(dataset, methods=METHODS) for dataset in DATASETS}

    def track_rmse(self, results, data, method):
        """RMSE over the missing values, against the true values."""
        return results[data]["methods"][method]["rmse"]

    track_rmse.unit = "RMSE"

    def track_rmse_over_mean(self, results, data, method):
        """RMSE over that of mean imputation (scale-free; lower is better)."""
        methods = results[data]["methods"]
        return methods[method]["rmse"] / methods["mean"]["rmse"]

    track_rmse_over_mean.unit = "ratio"
