"""Missing values: what ``nan_policy='marginalize'`` costs one EM iteration
of emfast against one on complete data (``emfast bench --missing``)."""

from __future__ import annotations

from statistics import median
from time import perf_counter

import numpy as np

from ..engine import ArraySource, PatternSource
from ._common import (
    REG_COVAR,
    initial_parameters,
    median_seconds,
    mixture_iteration,
    mixture_model,
    one_blas_thread,
    reporter,
    run_record,
    time_em_step,
    workload_case,
    workload_sizes,
)
from ._format import (
    WORKLOAD_ALIGN,
    WORKLOAD_COLUMNS,
    machine_line,
    paragraphs,
    quick_note,
    table,
    verdict,
    wall_time,
    workload_cells,
)

MISSING_FRACTION = 0.1
MISSING_REPEAT = 5
# The goal for one marginalize iteration, as a multiple of a complete one.
MISSING_RATIO_GOAL = 3.0
# Offset of the mask's seed from the data's (as initial_parameters' 12345).
_MASK_SEED_OFFSET = 54321


def missing_mask(shape, fraction: float, seed: int = 0):
    """Values missing completely at random, with no row entirely missing.

    Each value is missing with probability ``fraction``, independently; in a
    row where all are, one value chosen at random is kept.

    Parameters
    ----------
    shape : tuple of int
        ``(n_samples, n_features)``.
    fraction : float
        Probability that a value is missing, in [0, 1).
    seed : int, default=0
        Seed of the mask (the same seed gives the same mask).

    Returns
    -------
    mask : ndarray of bool, shape ``shape``
        True where a value is missing.

    Examples
    --------
    >>> from emfast.bench import missing_mask
    >>> mask = missing_mask((10_000, 2), 0.5)
    >>> bool(mask.all(axis=1).any()), round(float(mask.mean()), 1)
    (False, 0.4)
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed + _MASK_SEED_OFFSET)
    mask = rng.random(shape) < fraction
    all_missing = np.flatnonzero(mask.all(axis=1))
    mask[all_missing, rng.integers(shape[1], size=len(all_missing))] = False
    return mask


def with_missing(X, fraction: float, seed: int = 0):
    """A copy of X with the values of :func:`missing_mask` set to NaN.

    Returns
    -------
    X_missing : ndarray of shape (n_samples, n_features)
        C-contiguous and read-only, as :func:`benchmark_data` returns X.

    Examples
    --------
    >>> from emfast.bench import benchmark_data, with_missing
    >>> X, _ = benchmark_data("W2", n_samples=100)
    >>> X_missing = with_missing(X, 0.1)
    >>> bool(np.isnan(X_missing).any()), bool(np.isnan(X).any())
    (True, False)
    """
    X_missing = np.array(X, order="C", copy=True)
    X_missing[missing_mask(X.shape, fraction, seed)] = np.nan
    X_missing.flags.writeable = False
    return X_missing


def missing_share(missing) -> tuple[float, int]:
    """The share of values missing, and the rows with one, of a NaN mask."""
    return float(missing.mean()), int(np.count_nonzero(missing.any(axis=1)))


def emfast_missing_iteration(source, parameters, covariance_type: str):
    """One EM iteration of emfast for values missing at random, as
    ``GaussianMixture(nan_policy='marginalize')`` runs it: the E-step over
    the missingness patterns and the M-step (:func:`emfast.engine.em_step`
    of a :class:`emfast.engine.MixtureModel` on the source).

    Parameters
    ----------
    source : emfast.engine.PatternSource
        The data with NaN; its rows grouped by missingness pattern
        (``source.layout``, once per fit: the first iteration groups them,
        later ones reuse the grouping).
    parameters : tuple
        ``(weights, means, covariances, precisions_cholesky)``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.

    Returns
    -------
    log_likelihood : float
        Mean log-likelihood of the observed values under ``parameters``.
    params : emfast.engine.Params
        The updated parameters.

    Examples
    --------
    >>> from emfast.engine import PatternSource
    >>> from emfast.bench import benchmark_data, emfast_missing_iteration
    >>> from emfast.bench import initial_parameters, with_missing
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> source = PatternSource(with_missing(X, 0.1), None, 4)
    >>> ll, params = emfast_missing_iteration(
    ...     source, initial_parameters(X, 4, "full"), "full")
    >>> params.means.shape
    (4, 2)
    """
    return mixture_iteration(source, parameters, covariance_type)


def missing_cost(
    name: str = "W2",
    *,
    fraction: float = MISSING_FRACTION,
    n_samples: int | None = None,
    repeat: int = MISSING_REPEAT,
    seed: int = 0,
    progress=None,
) -> dict:
    """What values missing at random cost one EM iteration of emfast.

    Times one iteration on a workload's complete data
    (:func:`emfast_iteration`) and one on the same data with ``fraction`` of
    the values missing completely at random (:func:`with_missing`), as
    ``GaussianMixture(nan_policy='marginalize')`` runs it
    (:func:`emfast_missing_iteration`). Both start from the same
    :func:`initial_parameters` (those of :func:`run_workload`, from the
    complete data) and run under one BLAS thread, as emfast's ``fit``; each
    is warmed up (compiled or loaded from the cache) before the timing. The
    grouping of the rows by missingness pattern, which ``fit`` does once, is
    timed on its own.

    Parameters
    ----------
    name : {'W1', 'W2', 'W3', 'W4', 'W5', 'W6'}, default='W2'
        The workload.
    fraction : float, default=0.1
        Probability that a value is missing, in [0, 1).
    n_samples : int, optional
        Override the workload's number of samples.
    repeat : int, default=5
        Timed runs of each; the median is reported.
    seed : int, default=0
        Seed of the data, of the initial parameters and of the mask.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        ``workload``, ``n_samples``, ``n_features``, ``n_components``,
        ``covariance_type``, ``repeat``, ``seed``; ``fraction`` (requested)
        and ``missing_fraction`` (the share of values missing), ``missing_rows``
        (rows with a missing value), ``n_patterns``; in seconds (medians)
        ``complete_seconds`` and ``missing_seconds`` per iteration and
        ``layout_seconds`` (the grouping, once per fit); ``ratio``
        (``missing_seconds / complete_seconds``) and ``goal``
        (:data:`MISSING_RATIO_GOAL`); ``complete_log_likelihood`` and
        ``missing_log_likelihood`` (each E-step's mean log-likelihood).

    Examples
    --------
    >>> from emfast.bench import missing_cost
    >>> r = missing_cost("W1", n_samples=2000, repeat=1)
    >>> r["n_patterns"], r["ratio"] == r["missing_seconds"] / r["complete_seconds"]
    (3, True)
    """
    say = reporter(progress, f"{name} missing values")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    X, w, result = workload_case(name, n_samples, seed)
    k, cov = w.n_components, w.covariance_type
    parameters = initial_parameters(X, k, cov, seed)
    X_missing = with_missing(X, fraction, seed)
    missing_fraction, missing_rows = missing_share(np.isnan(X_missing))
    result.update(
        repeat=repeat,
        seed=seed,
        fraction=fraction,
        missing_fraction=missing_fraction,
        missing_rows=missing_rows,
    )
    sources = []

    def group(_):
        source = PatternSource(X_missing, None, k)
        _ = source.layout  # the grouping, cached on the source
        sources[:] = [source]

    model, params = mixture_model(parameters, cov, X.dtype)
    say("complete-data iteration")
    complete = time_em_step(model, ArraySource(X), params, repeat)
    result["complete_seconds"] = median(complete.seconds)
    say("grouping the rows by missingness pattern")
    with one_blas_thread():
        result["layout_seconds"] = median_seconds(group, repeat)
    source = sources[0]
    layout = source.layout
    say(f"marginalize iteration ({layout.n_patterns} patterns)")
    marginalized = time_em_step(model, source, params, repeat)
    result["missing_seconds"] = median(marginalized.seconds)
    result["n_patterns"] = layout.n_patterns
    result["ratio"] = result["missing_seconds"] / result["complete_seconds"]
    result["goal"] = MISSING_RATIO_GOAL
    result["complete_log_likelihood"] = float(complete.last[0])
    result["missing_log_likelihood"] = float(marginalized.last[0])
    return result


def run_missing_cost(
    workloads=None,
    *,
    quick: bool = False,
    n_samples: int | None = None,
    fraction: float = MISSING_FRACTION,
    repeat: int = MISSING_REPEAT,
    seed: int = 0,
    progress=None,
) -> dict:
    """:func:`missing_cost` on several workloads (``emfast bench --missing``).

    Parameters
    ----------
    workloads : list of str, optional
        Workload names; ``['W2']`` when None.
    quick : bool, default=False
        Reduced sizes (:func:`quick_n_samples`), unless ``n_samples`` is given.
    n_samples : int, optional
        Number of samples for every workload (default: full size).
    fraction, repeat, seed, progress
        As in :func:`missing_cost`.

    Returns
    -------
    results : dict
        ``machine`` (:func:`machine_info`), ``settings``, ``missing`` (a list
        of :func:`missing_cost` results) and ``seconds`` (wall time).

    Examples
    --------
    >>> from emfast.bench import run_missing_cost, format_missing_cost
    >>> results = run_missing_cost(n_samples=2000, repeat=1)
    >>> print(format_missing_cost(results))  # doctest: +ELLIPSIS
    Machine: ...
    | workload | N | D | K | covariance | missing values | rows with NaN | ...
    |---|...
    | W2 | 2,000 | 8 | 16 | full | ...
    ...
    """
    start = perf_counter()
    sizes = workload_sizes(workloads, n_samples, quick)
    results = [
        missing_cost(
            name,
            fraction=fraction,
            n_samples=n,
            repeat=repeat,
            seed=seed,
            progress=progress,
        )
        for name, n in sizes
    ]
    return run_record(
        start,
        "missing",
        results,
        quick=quick,
        n_samples=n_samples,
        fraction=fraction,
        repeat=repeat,
        seed=seed,
        reg_covar=REG_COVAR,
    )


def format_missing_cost(results: dict) -> str:
    """A Markdown table of :func:`run_missing_cost`'s results.

    See :func:`run_missing_cost` for an example.
    """
    s = results["settings"]
    description = (
        "One emfast EM iteration from identical initial parameters, median "
        f"of {s['repeat']}, one BLAS thread: complete data against the same "
        f"data with {100 * s['fraction']:g} % of the values missing completely at "
        f"random (seed {s['seed']}, no row entirely missing), "
        "nan_policy='marginalize'. Layout: grouping the rows by missingness "
        "pattern, once per fit" + quick_note(s)
    )
    columns = [
        *WORKLOAD_COLUMNS,
        "missing values",
        "rows with NaN",
        "patterns",
        "complete s/iter",
        "missing s/iter",
        "ratio",
        "goal",
        "layout s (once)",
    ]
    rows = [
        [
            *workload_cells(r),
            f"{100 * r['missing_fraction']:.1f} %",
            f"{r['missing_rows']:,}",
            f"{r['n_patterns']:,}",
            f"{r['complete_seconds']:.4f}",
            f"{r['missing_seconds']:.4f}",
            f"{r['ratio']:.2f}×",
            f"{verdict(r['ratio'] <= r['goal'])} {r['goal']:g}×",
            f"{r['layout_seconds']:.4f}",
        ]
        for r in results["missing"]
    ]
    return paragraphs(
        [machine_line(results["machine"], ("python", "numpy", "numba")), description],
        table(columns, WORKLOAD_ALIGN + "rrrrrrlr", rows),
        [wall_time(results["seconds"])],
    )
