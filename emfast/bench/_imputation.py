"""Imputation accuracy: emfast's GaussianMixtureImputer against
scikit-learn's imputers, on data whose missing values are known
(``emfast bench --impute``)."""

from __future__ import annotations

import warnings
from time import perf_counter

import numpy as np

from ._common import benchmark_data, check_n_samples, reporter, run_record
from ._end_to_end import E2E_WARMUP_POINTS_PER_COMPONENT
from ._format import fmt, machine_line, paragraphs, quick_note, table, wall_time
from ._missing import missing_share, with_missing

IMPUTE_FRACTION = 0.2
IMPUTE_METHODS = ("emfast", "mean", "iterative", "knn")
IMPUTE_ITERATIVE_MAX_ITER = 30
# Data sets and their default (and ``--quick``) numbers of samples: two
# correlated 3-D clusters, and the W2 workload's blobs (8-D, 16 components).
IMPUTE_DATASETS = {"two-clusters": 2000, "W2": 20_000}
IMPUTE_QUICK_N_SAMPLES = {"two-clusters": 2000, "W2": 5000}
# The second cluster of ``two_clusters``: this mean, and the first cluster's
# covariance with the signs of feature 1's correlations flipped.
_TWO_CLUSTERS_MEAN = (5.0, -4.0, 3.0)
_TWO_CLUSTERS_COV = ((1.0, 0.8, 0.6), (0.8, 1.0, 0.7), (0.6, 0.7, 1.0))
_TWO_CLUSTERS_FLIP = np.array([1.0, -1.0, 1.0])


IMPUTE_METHOD_LABELS = {
    "emfast": "emfast GaussianMixtureImputer",
    "mean": "SimpleImputer(strategy='mean')",
    "iterative": f"IterativeImputer(max_iter={IMPUTE_ITERATIVE_MAX_ITER})",
    "knn": "KNNImputer(n_neighbors=5)",
}


def two_clusters(n_samples: int = 2000, seed: int = 0):
    """Two correlated 3-D Gaussian clusters of (about) equal size.

    The first has mean ``[0, 0, 0]`` and unit variances with correlations
    0.8, 0.6 and 0.7; the second has mean ``[5, -4, 3]`` and the same
    covariance with the signs of the second feature's correlations flipped,
    so a linear model fitted to both clusters at once fits neither well.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of points: ``n_samples // 2`` in the first cluster, the rest
        in the second.
    seed : int, default=0
        Seed of the points.

    Returns
    -------
    X : ndarray of shape (n_samples, 3)
        The first cluster's points, then the second's.

    Examples
    --------
    >>> from emfast.bench import two_clusters
    >>> X = two_clusters(2000)
    >>> X.shape, np.round(X[1000:].mean(axis=0)).tolist()
    ((2000, 3), [5.0, -4.0, 3.0])
    """
    rng = np.random.default_rng(seed)
    cov = np.array(_TWO_CLUSTERS_COV)
    flipped = cov * np.outer(_TWO_CLUSTERS_FLIP, _TWO_CLUSTERS_FLIP)
    first = n_samples // 2
    return np.vstack(
        [
            rng.multivariate_normal(np.zeros(3), cov, first),
            rng.multivariate_normal(_TWO_CLUSTERS_MEAN, flipped, n_samples - first),
        ]
    )


def impute_data(dataset: str = "two-clusters", n_samples=None, seed: int = 0):
    """Complete data of an imputation data set, and its number of clusters.

    Parameters
    ----------
    dataset : {'two-clusters', 'W2'}, default='two-clusters'
        :func:`two_clusters`, or the W2 workload's blobs
        (:func:`emfast.workloads.make_workload`: 8 features, 16 components).
    n_samples : int, optional
        Number of points (default: :data:`IMPUTE_DATASETS`, 2,000 and 20,000).
    seed : int, default=0
        Seed of the data.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float64, C-contiguous and read-only.
    n_components : int
        The true number of components.

    Examples
    --------
    >>> from emfast.bench import impute_data
    >>> X, k = impute_data("W2", n_samples=100)
    >>> X.shape, k
    ((100, 8), 16)
    """
    if dataset not in IMPUTE_DATASETS:
        raise ValueError(
            f"Unknown data set {dataset!r}; expected one of {list(IMPUTE_DATASETS)}"
        )
    n = IMPUTE_DATASETS[dataset] if n_samples is None else int(n_samples)
    if dataset == "two-clusters":
        X, k = np.ascontiguousarray(two_clusters(n, seed)), 2
        X.flags.writeable = False
    else:
        X, w = benchmark_data(dataset, n, seed=seed)
        k = w.n_components
    return X, k


def _imputer(method: str, n_components: int, seed: int):
    """A fresh, unfitted imputer for ``method`` (see :data:`IMPUTE_METHODS`)."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    from .. import GaussianMixtureImputer

    if method == "emfast":
        return GaussianMixtureImputer(n_components, random_state=seed)
    if method == "mean":
        return SimpleImputer(strategy="mean")
    if method == "iterative":
        return IterativeImputer(max_iter=IMPUTE_ITERATIVE_MAX_ITER, random_state=seed)
    if method == "knn":
        return KNNImputer()
    raise ValueError(f"Unknown method {method!r}; expected some of {IMPUTE_METHODS}")


def impute_rmse(
    dataset: str = "two-clusters",
    *,
    n_samples: int | None = None,
    fraction: float = IMPUTE_FRACTION,
    seed: int = 0,
    n_components: int | None = None,
    methods=IMPUTE_METHODS,
    progress=None,
) -> dict:
    """How close each imputer's values are to the true ones.

    Sets ``fraction`` of the values of a data set (:func:`impute_data`)
    missing completely at random (:func:`with_missing`: no row entirely
    missing) and fills them in with each method; reports the root mean
    squared error over the missing values against the true values, and the
    wall time of ``fit(X).transform(X)``:

    * ``'emfast'``: :class:`emfast.GaussianMixtureImputer` (``n_components``
      components, ``random_state=seed``, other parameters at their defaults):
      each value's conditional expectation under the fitted mixture;
    * ``'mean'``: ``sklearn.impute.SimpleImputer(strategy='mean')``;
    * ``'iterative'``: ``sklearn.impute.IterativeImputer(max_iter=30,
      random_state=seed)``, round-robin linear (Bayesian ridge) regressions;
    * ``'knn'``: ``sklearn.impute.KNNImputer()``, the mean of 5 neighbours.

    emfast's kernels are compiled (or loaded from the cache) on a slice of
    the data before its timed run. A ``ConvergenceWarning`` is silenced
    (``n_iter`` records the iterations).

    Parameters
    ----------
    dataset : {'two-clusters', 'W2'}, default='two-clusters'
        The data (:func:`impute_data`).
    n_samples : int, optional
        Number of points (default: 2,000 for 'two-clusters', 20,000 for 'W2').
    fraction : float, default=0.2
        Probability that a value is missing, in [0, 1).
    seed : int, default=0
        Seed of the data, of the mask, and ``random_state`` of the imputers
        that take one.
    n_components : int, optional
        emfast's number of components (default: the true number).
    methods : iterable of str, default=('emfast', 'mean', 'iterative', 'knn')
        The imputers to run, in this order.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        ``dataset``, ``n_samples``, ``n_features``, ``n_components``,
        ``true_n_components``, ``seed``; ``fraction`` (requested) and
        ``missing_fraction`` (the share of values missing),
        ``missing_values``, ``missing_rows``; ``methods``: for each method,
        a dict with ``rmse`` (over the missing values), ``seconds`` (fit and
        transform) and ``n_iter`` (emfast's EM or IterativeImputer's rounds;
        None for the others).

    Examples
    --------
    >>> from emfast.bench import impute_rmse
    >>> r = impute_rmse(n_samples=400, methods=("emfast", "mean"))
    >>> list(r["methods"]), r["n_components"]
    (['emfast', 'mean'], 2)
    >>> bool(r["methods"]["emfast"]["rmse"] < r["methods"]["mean"]["rmse"])
    True
    """
    from sklearn.exceptions import ConvergenceWarning

    say = reporter(progress, f"{dataset} imputation")
    methods = list(methods)
    if not methods:
        raise ValueError("methods must name at least one method")
    X, true_k = impute_data(dataset, n_samples, seed)
    k = true_k if n_components is None else int(n_components)
    imputers = {method: _imputer(method, k, seed) for method in methods}
    n, d = X.shape
    check_n_samples(n, k)
    X_missing = with_missing(X, fraction, seed)
    missing = np.isnan(X_missing)
    truth = X[missing]
    missing_fraction, missing_rows = missing_share(missing)
    result = {
        "dataset": dataset,
        "n_samples": n,
        "n_features": d,
        "n_components": k,
        "true_n_components": true_k,
        "seed": seed,
        "fraction": fraction,
        "missing_fraction": missing_fraction,
        "missing_values": int(truth.size),
        "missing_rows": missing_rows,
        "methods": {},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if "emfast" in imputers:
            say("warm-up (compile or load emfast's kernels)")
            warm = X_missing[: min(n, E2E_WARMUP_POINTS_PER_COMPONENT * k)]
            _imputer("emfast", k, seed).set_params(max_iter=2).fit(warm).transform(warm)
        for method, imputer in imputers.items():
            say(method)
            start = perf_counter()
            imputed = imputer.fit(X_missing).transform(X_missing)
            seconds = perf_counter() - start
            error = imputed[missing] - truth
            n_iter = getattr(imputer, "n_iter_", None)
            result["methods"][method] = {
                "rmse": float(np.sqrt(np.mean(error**2))) if error.size else 0.0,
                "seconds": seconds,
                "n_iter": None if n_iter is None else int(n_iter),
            }
    return result


def run_impute_rmse(
    datasets=None,
    *,
    quick: bool = False,
    n_samples: int | None = None,
    fraction: float = IMPUTE_FRACTION,
    seed: int = 0,
    methods=IMPUTE_METHODS,
    progress=None,
) -> dict:
    """:func:`impute_rmse` on several data sets (``emfast bench --impute``).

    Parameters
    ----------
    datasets : list of str, optional
        Data set names; all of :data:`IMPUTE_DATASETS` when None.
    quick : bool, default=False
        Reduced sizes (:data:`IMPUTE_QUICK_N_SAMPLES`: 'W2' with 5,000
        points), unless ``n_samples`` is given.
    n_samples : int, optional
        Number of samples for every data set.
    fraction, seed, methods, progress
        As in :func:`impute_rmse`.

    Returns
    -------
    results : dict
        ``machine`` (:func:`machine_info`), ``settings``, ``impute`` (a list
        of :func:`impute_rmse` results) and ``seconds`` (wall time).

    Examples
    --------
    >>> from emfast.bench import run_impute_rmse, format_impute_rmse
    >>> results = run_impute_rmse(["two-clusters"], n_samples=400)
    >>> print(format_impute_rmse(results))  # doctest: +ELLIPSIS
    Machine: ...
    | data | N | D | K | missing values | method | RMSE | vs mean | ...
    |---|...
    | two-clusters | 400 | 3 | 2 | 20.6 % | emfast GaussianMixtureImputer | ...
    ...
    """
    start = perf_counter()
    names = list(IMPUTE_DATASETS) if datasets is None else list(datasets)
    if n_samples is None and quick:
        sizes = [(name, IMPUTE_QUICK_N_SAMPLES.get(name)) for name in names]
    else:
        sizes = [(name, n_samples) for name in names]
    results = [
        impute_rmse(
            name,
            n_samples=n,
            fraction=fraction,
            seed=seed,
            methods=methods,
            progress=progress,
        )
        for name, n in sizes
    ]
    return run_record(
        start,
        "impute",
        results,
        quick=quick,
        n_samples=n_samples,
        fraction=fraction,
        seed=seed,
        methods=list(methods),
    )


def format_impute_rmse(results: dict) -> str:
    """A Markdown table of :func:`run_impute_rmse`'s results.

    See :func:`run_impute_rmse` for an example.
    """
    s = results["settings"]
    description = (
        f"Imputation: {100 * s['fraction']:g} % of the values missing "
        f"completely at random (seed {s['seed']}, no row entirely missing); "
        "RMSE over the missing values against the true ones; vs mean: RMSE "
        "over SimpleImputer's; one fit + transform each (emfast's compile "
        "not counted). emfast: GaussianMixtureImputer(K, random_state=seed); "
        "IterativeImputer: random_state=seed" + quick_note(s)
    )
    columns = ["data", "N", "D", "K", "missing values", "method", "RMSE"]
    columns += ["vs mean", "fit + transform s", "iterations"]
    rows = []
    for r in results["impute"]:
        mean = r["methods"].get("mean")
        for method, t in r["methods"].items():
            ratio = None if not mean or not mean["rmse"] else t["rmse"] / mean["rmse"]
            rows.append(
                [
                    r["dataset"],
                    f"{r['n_samples']:,}",
                    r["n_features"],
                    r["n_components"],
                    f"{100 * r['missing_fraction']:.1f} %",
                    IMPUTE_METHOD_LABELS[method],
                    f"{t['rmse']:.3f}",
                    fmt(ratio, ".2f", "×"),
                    f"{t['seconds']:.3f}",
                    fmt(t["n_iter"], "d"),
                ]
            )
    return paragraphs(
        [
            machine_line(results["machine"], ("python", "numpy", "scikit-learn")),
            description,
        ],
        table(columns, "lrrrrlrrrr", rows),
        [wall_time(results["seconds"])],
    )
