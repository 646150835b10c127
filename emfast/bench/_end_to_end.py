"""Default fits of emfast and scikit-learn, side by side, from start to
finish (``emfast bench --end-to-end``)."""

from __future__ import annotations

import warnings
from statistics import median
from time import perf_counter

from ._common import reporter, run_record, workload_case, workload_sizes
from ._format import machine_line, paragraphs, table, wall_time

# Relative tolerance for "emfast's final log-likelihood >= sklearn's".
E2E_LOGLIK_RTOL = 1e-6
# The compile warm-up fits this many points per component.
E2E_WARMUP_POINTS_PER_COMPONENT = 50


def _default_fit(cls, X, n_components, covariance_type, seed, **params):
    """Fit ``cls(n_components, covariance_type=..., random_state=seed)`` with
    every other parameter at its default (unless given in ``params``);
    returns the estimator and the wall time of ``fit``. A
    ``ConvergenceWarning`` is silenced (``converged_`` records it)."""
    from sklearn.exceptions import ConvergenceWarning

    gm = cls(n_components, covariance_type=covariance_type, random_state=seed, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = perf_counter()
        gm.fit(X)
        seconds = perf_counter() - start
    return gm, seconds


def end_to_end(
    name: str = "W2",
    *,
    n_samples: int | None = None,
    seeds=(0,),
    data_seed: int = 0,
    progress=None,
) -> dict:
    """Default fits of emfast and sklearn, side by side, on one workload.

    For each seed in ``seeds``, fits ``emfast.GaussianMixture(K,
    covariance_type=..., random_state=seed)`` and
    ``sklearn.mixture.GaussianMixture`` with the same arguments, every other
    parameter at its default (k-means initialization, ``tol=1e-3``,
    ``max_iter=100``, ``n_init=1``), on the same data, and records the wall
    time of ``fit``, ``n_iter_``, ``converged_``, ``lower_bound_`` and the
    final mean log-likelihood of the data under the fitted model, from each
    library's own ``score(X)`` (not timed).

    Compile time is not counted: before the timed fits, both libraries fit
    the first ``50 K`` points once with ``max_iter=2`` and score them, so that
    emfast's kernels are compiled (or loaded from the on-disk cache) and
    sklearn's lazy imports are done. Each fit uses the library's own thread
    settings (emfast: Numba threads and one BLAS thread; sklearn: BLAS's
    default).

    Parameters
    ----------
    name : {'W1', 'W2', 'W3', 'W4', 'W5', 'W6'}, default='W2'
        The workload: its number of components K and covariance type.
    n_samples : int, optional
        Override the workload's number of samples (default: full size).
    seeds : iterable of int, default=(0,)
        ``random_state`` of both estimators, one pair of fits per seed.
    data_seed : int, default=0
        Seed of the data (the same data for every seed).
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        ``workload``, ``n_samples``, ``n_features``, ``n_components``,
        ``covariance_type``, ``data_seed``, ``warmup_samples``;
        ``runs``, one dict per seed with ``seed``, ``emfast_seconds``,
        ``sklearn_seconds``, ``ratio`` (sklearn's seconds over emfast's: the
        speed-up), ``emfast_n_iter``, ``sklearn_n_iter``,
        ``emfast_converged``, ``sklearn_converged``, ``emfast_lower_bound``,
        ``sklearn_lower_bound``, ``emfast_log_likelihood``,
        ``sklearn_log_likelihood`` (``score(X)``) and
        ``emfast_at_least_sklearn`` (emfast's log-likelihood is at least
        sklearn's, ties within ``1e-6`` relative allowed); and over the seeds
        ``median_ratio`` and ``all_at_least_sklearn``.

    Examples
    --------
    >>> from emfast.bench import end_to_end, format_end_to_end
    >>> r = end_to_end("W2", n_samples=2000)
    >>> r["n_components"], [run["seed"] for run in r["runs"]]
    (16, [0])
    >>> print(format_end_to_end({"end_to_end": [r]}))  # doctest: +ELLIPSIS
    End to end, W2: GaussianMixture(16, covariance_type='full', ...
    ...
    | seed | emfast s | sklearn s | ratio | emfast iterations | ...
    ...
    """
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from .. import GaussianMixture

    say = reporter(progress, f"{name} end to end")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    X, w, result = workload_case(name, n_samples, data_seed)
    k, cov = w.n_components, w.covariance_type

    say("warm-up (compile or load emfast's kernels; sklearn's imports)")
    warm = X[: min(len(X), E2E_WARMUP_POINTS_PER_COMPONENT * k)]
    for cls in (GaussianMixture, SkGaussianMixture):
        gm, _ = _default_fit(cls, warm, k, cov, 0, max_iter=2)
        gm.score(warm)

    runs = []
    for seed in seeds:
        row = {"seed": seed}
        for library, cls in (
            ("emfast", GaussianMixture),
            ("sklearn", SkGaussianMixture),
        ):
            say(f"seed {seed}: {library} fit")
            gm, seconds = _default_fit(cls, X, k, cov, seed)
            row[f"{library}_seconds"] = seconds
            row[f"{library}_n_iter"] = int(gm.n_iter_)
            row[f"{library}_converged"] = bool(gm.converged_)
            row[f"{library}_lower_bound"] = float(gm.lower_bound_)
            row[f"{library}_log_likelihood"] = float(gm.score(X))
            del gm
        row["ratio"] = row["sklearn_seconds"] / row["emfast_seconds"]
        ours, theirs = row["emfast_log_likelihood"], row["sklearn_log_likelihood"]
        row["emfast_at_least_sklearn"] = bool(
            ours >= theirs - E2E_LOGLIK_RTOL * abs(theirs)
        )
        runs.append(row)
    result.update(
        data_seed=data_seed,
        warmup_samples=warm.shape[0],
        loglik_rtol=E2E_LOGLIK_RTOL,
        runs=runs,
        median_ratio=median(r["ratio"] for r in runs),
        all_at_least_sklearn=all(r["emfast_at_least_sklearn"] for r in runs),
    )
    return result


def run_end_to_end(
    workloads=None,
    *,
    quick: bool = False,
    n_samples: int | None = None,
    n_seeds: int = 1,
    data_seed: int = 0,
    progress=None,
) -> dict:
    """Default fits on several workloads (``emfast bench --end-to-end``).

    Runs :func:`end_to_end` with seeds ``0, 1, ..., n_seeds - 1`` on each
    workload.

    Parameters
    ----------
    workloads : list of str, optional
        Workload names; ``['W2']`` when None.
    quick : bool, default=False
        Reduced sizes (:func:`quick_n_samples`), unless ``n_samples`` is given.
    n_samples : int, optional
        Number of samples for every workload (default: full size).
    n_seeds : int, default=1
        Number of seeds (``random_state`` of both estimators).
    data_seed : int, default=0
        Seed of the data.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    results : dict
        ``machine`` (:func:`machine_info`), ``settings``, ``end_to_end`` (a
        list of :func:`end_to_end` results) and ``seconds`` (wall time).

    Examples
    --------
    >>> from emfast.bench import run_end_to_end, format_end_to_end
    >>> results = run_end_to_end(n_samples=20_000, n_seeds=3)  # doctest: +SKIP
    >>> print(format_end_to_end(results))  # doctest: +SKIP
    """
    start = perf_counter()
    sizes = workload_sizes(workloads, n_samples, quick)
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
    results = [
        end_to_end(
            name,
            n_samples=n,
            seeds=range(n_seeds),
            data_seed=data_seed,
            progress=progress,
        )
        for name, n in sizes
    ]
    return run_record(
        start,
        "end_to_end",
        results,
        quick=quick,
        n_samples=n_samples,
        n_seeds=n_seeds,
        data_seed=data_seed,
    )


def format_end_to_end(results: dict) -> str:
    """Markdown tables of :func:`run_end_to_end`'s results, one per workload.

    See :func:`run_end_to_end` for an example.
    """
    blocks = []
    m = results.get("machine")
    if m is not None:
        blocks.append([machine_line(m, ("python", "numpy", "numba", "scikit-learn"))])
    for r in results["end_to_end"]:
        blocks += _workload_blocks(r)
    if "seconds" in results:
        blocks.append([wall_time(results["seconds"])])
    return paragraphs(*blocks)


def _workload_blocks(r: dict) -> list[list[str]]:
    """The caption, table and summary of one :func:`end_to_end` result."""
    caption = (
        f"End to end, {r['workload']}: GaussianMixture({r['n_components']}, "
        f"covariance_type='{r['covariance_type']}', random_state=seed)"
        f".fit(X), other parameters at their defaults (k-means init, "
        f"tol=1e-3); {r['n_samples']:,} x {r['n_features']} points. "
        f"Wall time of fit; emfast's kernels compiled beforehand on "
        f"{r['warmup_samples']:,} points (compile time not counted). "
        f"Log-likelihood: score(X) of each library's fitted model"
    )
    columns = ["seed", "emfast s", "sklearn s", "ratio"]
    for what in ("iterations", "log-likelihood"):
        columns += [f"emfast {what}", f"sklearn {what}"]
    rows = [
        [
            run["seed"],
            f"{run['emfast_seconds']:.3f}",
            f"{run['sklearn_seconds']:.3f}",
            f"{run['ratio']:.1f}×",
            *(
                f"{run[f'{lib}_n_iter']}"
                + ("" if run[f"{lib}_converged"] else " (not converged)")
                for lib in ("emfast", "sklearn")
            ),
            f"{run['emfast_log_likelihood']:.6f}",
            f"{run['sklearn_log_likelihood']:.6f}",
            "yes" if run["emfast_at_least_sklearn"] else "NO",
        ]
        for run in r["runs"]
    ]
    n_runs = len(r["runs"])
    yes = sum(run["emfast_at_least_sklearn"] for run in r["runs"])
    summary = (
        f"Median ratio (sklearn s / emfast s) over {n_runs} "
        f"seed{'s' if n_runs != 1 else ''}: "
        f"{r['median_ratio']:.1f}×; emfast's log-likelihood >= sklearn's "
        f"(ties within {r['loglik_rtol']:g} relative) on {yes} of {n_runs}"
    )
    return [
        [caption],
        table([*columns, "emfast >= sklearn"], "rrrrrrrrl", rows),
        [summary],
    ]
