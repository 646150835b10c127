"""What every benchmark shares: the machine's description, the data,
identical initial parameters, one emfast iteration, timing, fresh processes,
and the ``{machine, settings, <results>, seconds}`` record of a run."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from statistics import median
from time import perf_counter
from typing import NamedTuple

import numpy as np

from ..engine import (
    ArraySource,
    MixtureModel,
    Params,
    compute_precision_cholesky,
    em_step,
)
from ..workloads import WORKLOADS, make_workload

MIB = 2**20
REG_COVAR = 1e-6
# ``--quick`` divides every workload's number of samples by this (W6: by 50).
QUICK_DIVISOR = 20
QUICK_DIVISORS = {"W6": 50}

# Pasted into the scripts that run in fresh processes: a field of
# /proc/self/status (VmRSS, VmHWM, RssAnon), in bytes. Linux only.
PROC_STATUS_FUNCTION = r"""
def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field + " not in /proc/self/status")
"""


def machine_info() -> dict:
    """CPU model, core count and library versions of this machine.

    Returns
    -------
    info : dict
        ``cpu``, ``n_cpus``, ``numba_threads``, ``python``, ``numpy``,
        ``numba``, ``scikit-learn`` and ``blas`` (the BLAS libraries that
        threadpoolctl sees, with their thread counts).

    Examples
    --------
    >>> from emfast.bench import machine_info
    >>> info = machine_info()
    >>> info["n_cpus"] >= 1 and "numba" in info
    True
    """
    import numba
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return {
        "cpu": cpu,
        "n_cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "blas": blas,
    }


# ---------------------------------------------------------------------------
# Data, initial parameters and one iteration of emfast


def benchmark_data(name: str, n_samples: int | None = None, seed: int = 0):
    """A workload's data in the form emfast's kernels take.

    Parameters
    ----------
    name : {'W1', 'W2', 'W3', 'W4', 'W5', 'W6'}
        The workload.
    n_samples : int, optional
        Override the workload's number of samples.
    seed : int, default=0
        Seed of the data.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float64, C-contiguous and read-only: ``GaussianMixture.fit`` hands its
        kernels read-only arrays, so this form needs no extra compilation.
    workload : Workload
        Sizes and covariance type.

    Examples
    --------
    >>> from emfast.bench import benchmark_data
    >>> X, w = benchmark_data("W2", n_samples=100)
    >>> X.shape, X.flags.writeable, w.n_components
    ((100, 8), False, 16)
    """
    X, workload = make_workload(name, n_samples=n_samples, seed=seed)
    X = np.ascontiguousarray(X)
    X.flags.writeable = False
    return X, workload


def initial_parameters(X, n_components: int, covariance_type: str, seed: int = 0):
    """Identical starting parameters for both libraries, in sklearn's form.

    Uniform weights, means at distinct random data points, and the data's
    covariance (plus ``REG_COVAR`` on the diagonal, reduced to the covariance
    type) for every component.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data.
    n_components : int
        Number of components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.
    seed : int, default=0
        Seed of the choice of means.

    Returns
    -------
    parameters : tuple
        ``(weights, means, covariances, precisions_cholesky)``, the tuple
        sklearn's ``_set_parameters`` takes.

    Examples
    --------
    >>> from emfast.bench import benchmark_data, initial_parameters
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> weights, means, covariances, precisions_cholesky = initial_parameters(
    ...     X, 4, "full")
    >>> means.shape, covariances.shape
    ((4, 2), (4, 2, 2))
    """
    rng = np.random.default_rng(seed + 12345)
    n_samples, n_features = X.shape
    means = np.array(X[np.sort(rng.choice(n_samples, n_components, replace=False))])
    weights = np.full(n_components, 1.0 / n_components)
    cov = np.atleast_2d(np.cov(X, rowvar=False)) + REG_COVAR * np.eye(n_features)
    if covariance_type == "full":
        covariances = np.tile(cov, (n_components, 1, 1))
    elif covariance_type == "tied":
        covariances = cov
    elif covariance_type == "diag":
        covariances = np.tile(np.diag(cov), (n_components, 1))
    else:
        covariances = np.full(n_components, np.diag(cov).mean())
    precisions_cholesky = compute_precision_cholesky(covariances, covariance_type)
    return weights, means, covariances, precisions_cholesky


def precisions_from_parameters(parameters, covariance_type: str):
    """``precisions_init`` for either estimator, from :func:`initial_parameters`.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.bench import benchmark_data, initial_parameters
    >>> from emfast.bench import precisions_from_parameters
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> p = initial_parameters(X, 4, "full")
    >>> bool(np.allclose(precisions_from_parameters(p, "full")[0] @ p[2][0],
    ...                  np.eye(2)))
    True
    """
    pc = parameters[3]
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", pc, pc)
    if covariance_type == "tied":
        return pc @ pc.T
    return pc**2


def emfast_iteration(X, parameters, covariance_type: str):
    """One EM iteration of emfast: the fused E-step pass and the M-step, as
    ``fit`` runs it (:func:`emfast.engine.em_step` of a
    :class:`emfast.engine.MixtureModel` on an
    :class:`emfast.engine.ArraySource`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data as :func:`benchmark_data` returns it (read-only, C-contiguous).
    parameters : tuple
        ``(weights, means, covariances, precisions_cholesky)``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.

    Returns
    -------
    log_likelihood : float
        Mean log-likelihood of X under ``parameters`` (the E-step's).
    params : emfast.engine.Params
        The updated parameters.

    Examples
    --------
    >>> from emfast.bench import benchmark_data, emfast_iteration
    >>> from emfast.bench import initial_parameters
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> ll, params = emfast_iteration(X, initial_parameters(X, 4, "full"), "full")
    >>> params.means.shape
    (4, 2)
    """
    return mixture_iteration(ArraySource(X), parameters, covariance_type)


def mixture_model(parameters, covariance_type: str, dtype=np.float64):
    """``GaussianMixture``'s model for ``parameters`` (:data:`REG_COVAR`),
    and the parameters as its :class:`emfast.engine.Params`."""
    params = Params(*parameters)
    model = MixtureModel(
        len(params.weights), covariance_type, REG_COVAR, "kmeans", dtype
    )
    return model, params


def mixture_iteration(source, parameters, covariance_type: str):
    """One EM iteration of ``GaussianMixture``'s model on a data source
    (:mod:`emfast.engine`): (mean log-likelihood of the E-step, updated
    :class:`emfast.engine.Params`)."""
    model, params = mixture_model(parameters, covariance_type, source.dtype)
    return em_step(model, source, params)


def means_rel_diff(means, reference) -> float:
    """Largest difference of two sets of means over the largest reference
    mean, in absolute value."""
    return float(np.abs(means - reference).max() / np.abs(reference).max())


def one_blas_thread():
    """One BLAS thread, as in emfast's ``fit``: the M-step's small LAPACK
    calls then do not spin against the kernels' threads. Set once, outside
    the timing."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


# ---------------------------------------------------------------------------
# Workloads to run


def quick_n_samples(name: str) -> int:
    """The reduced number of samples ``--quick`` uses for workload ``name``.

    Examples
    --------
    >>> from emfast.bench import quick_n_samples
    >>> quick_n_samples("W2"), quick_n_samples("W6")
    (50000, 200000)
    """
    return WORKLOADS[name].n_samples // QUICK_DIVISORS.get(name, QUICK_DIVISOR)


def workload_sizes(workloads, n_samples, quick, default=("W2",)):
    """[(name, n_samples or None)] for the workloads to run (``default``
    when ``workloads`` is None), checked."""
    names = list(default if workloads is None else workloads)
    for name in names:
        if name not in WORKLOADS:
            raise ValueError(
                f"Unknown workload {name!r}; expected some of {list(WORKLOADS)}"
            )
    if n_samples is not None or not quick:
        return [(name, n_samples) for name in names]
    return [(name, quick_n_samples(name)) for name in names]


def check_n_samples(n_samples: int, n_components: int) -> None:
    if n_samples < n_components:
        raise ValueError(
            f"n_samples must be at least {n_components} (the number of components)"
        )


def workload_case(name: str, n_samples: int | None, seed: int):
    """A workload's data (:func:`benchmark_data`), its description and the
    start of its result: ``workload``, ``n_samples``, ``n_features``,
    ``n_components`` and ``covariance_type``."""
    X, w = benchmark_data(name, n_samples, seed=seed)
    n, d = X.shape
    check_n_samples(n, w.n_components)
    fields = {
        "workload": name,
        "n_samples": n,
        "n_features": d,
        "n_components": w.n_components,
        "covariance_type": w.covariance_type,
    }
    return X, w, fields


def reporter(progress, prefix: str):
    """``say(message)``: ``progress(f"{prefix}: {message}")``, or nothing
    when ``progress`` is None."""

    def say(message: str) -> None:
        if progress is not None:
            progress(f"{prefix}: {message}")

    return say


def run_record(start: float, key: str, results, machine=None, **settings) -> dict:
    """What every ``run_*`` returns: ``machine`` (:func:`machine_info` unless
    given), ``settings`` (the keyword arguments, in order), the results under
    ``key``, and ``seconds`` since ``start`` (:func:`time.perf_counter`)."""
    return {
        "machine": machine_info() if machine is None else machine,
        "settings": settings,
        key: results,
        "seconds": perf_counter() - start,
    }


# ---------------------------------------------------------------------------
# Timing and fresh processes


def median_seconds(fn, repeat: int, setup=None) -> float:
    """Median wall time of ``fn(setup())`` (``fn(None)`` without ``setup``)
    over ``repeat`` runs, ``setup`` untimed; no warm-up."""
    times = []
    for _ in range(repeat):
        arg = None if setup is None else setup()
        start = perf_counter()
        fn(arg)
        times.append(perf_counter() - start)
    return median(times)


class Timed(NamedTuple):
    """Seconds of each timed run, and the last run's return value."""

    seconds: list
    last: object


def time_em_step(model, source, params, repeat: int = 3, warm_up: bool = True):
    """Time EM iterations of an engine model, each from the same parameters.

    Runs :func:`emfast.engine.em_step` of ``model`` on ``source`` from
    ``params`` once untimed (``warm_up``: compilation or loading of the
    kernels, caches), then ``repeat`` times timed, under one BLAS thread as
    in emfast's ``fit``. Each run starts from ``params``, so every run does
    the same work.

    Parameters
    ----------
    model : emfast.engine.MixtureModel or emfast.engine.VariationalModel
        The model.
    source : emfast.engine.ArraySource, PatternSource or DaskSource
        The data.
    params : emfast.engine.Params or emfast.engine.VariationalParams
        The parameters every iteration starts from.
    repeat : int, default=3
        Timed iterations.
    warm_up : bool, default=True
        Run one untimed iteration first.

    Returns
    -------
    timed : Timed
        ``seconds`` of each timed iteration and ``last``, the last
        iteration's ``(lower_bound, new_params)``.

    Examples
    --------
    >>> from emfast.bench import benchmark_data, initial_parameters, time_em_step
    >>> from emfast.engine import ArraySource, MixtureModel, Params
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> model = MixtureModel(4, "full", 1e-6, "kmeans", X.dtype)
    >>> params = Params(*initial_parameters(X, 4, "full"))
    >>> timed = time_em_step(model, ArraySource(X), params, repeat=2)
    >>> len(timed.seconds), timed.last[1].means.shape
    (2, (4, 2))
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    with one_blas_thread():
        if warm_up:
            em_step(model, source, params)
        (timed,) = alternating_times(
            [lambda: em_step(model, source, params)], repeat, warm_up=False
        )
    return timed


def time_sklearn_step(new_estimator, X, repeat: int = 3):
    """Time scikit-learn EM iterations, each on a fresh estimator.

    ``new_estimator()`` (untimed) returns an estimator holding the starting
    parameters (:func:`sklearn_estimator`,
    :func:`sklearn_bayesian_estimator`); one iteration of its EM loop
    (:func:`sklearn_iteration`) is timed, ``repeat`` times, with
    scikit-learn's own thread settings. No warm-up: scikit-learn compiles
    nothing.

    Parameters
    ----------
    new_estimator : callable
        Returns a scikit-learn mixture ready for :func:`sklearn_iteration`.
    X : ndarray of shape (n_samples, n_features)
        The data.
    repeat : int, default=3
        Timed iterations.

    Returns
    -------
    timed : Timed
        ``seconds`` of each iteration and ``last``, the last iteration's
        ``(lower_bound, estimator)`` (the estimator after the iteration).

    Examples
    --------
    >>> from emfast.bench import benchmark_data, initial_parameters
    >>> from emfast.bench import sklearn_estimator, time_sklearn_step
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> p = initial_parameters(X, 4, "full")
    >>> timed = time_sklearn_step(lambda: sklearn_estimator(p, "full"), X, 2)
    >>> len(timed.seconds), timed.last[1].means_.shape
    (2, (4, 2))
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    seconds = []
    for _ in range(repeat):
        sk = new_estimator()
        start = perf_counter()
        lower_bound = sklearn_iteration(sk, X)
        seconds.append(perf_counter() - start)
    return Timed(seconds, (lower_bound, sk))


def sklearn_iteration(sk, X) -> float:
    """One iteration of scikit-learn's EM loop, as its ``fit`` runs it:
    ``_e_step``, ``_m_step`` and ``_compute_lower_bound``. Updates ``sk`` in
    place and returns the lower bound (for ``GaussianMixture`` the E-step's
    mean log-likelihood; see :func:`sklearn_estimator`)."""
    log_prob_norm, log_resp = sk._e_step(X)
    sk._m_step(X, log_resp)
    return float(sk._compute_lower_bound(log_resp, log_prob_norm))


def alternating_times(functions, repeat: int, warm_up: bool = True) -> list[Timed]:
    """Run each function once untimed (``warm_up``: compilation, caches),
    then all of them in turn ``repeat`` times, timed: a change in the load
    of a shared machine then touches them alike."""
    last = [fn() if warm_up else None for fn in functions]
    seconds = [[] for _ in functions]
    for _ in range(repeat):
        for i, fn in enumerate(functions):
            start = perf_counter()
            last[i] = fn()
            seconds[i].append(perf_counter() - start)
    return [Timed(s, value) for s, value in zip(seconds, last)]


def run_python(code: str, *args: str, env=None, prefix=(), cwd=None) -> str:
    """The last line ``python -c code *args`` prints, in a fresh process."""
    out = subprocess.run(
        [*prefix, sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )
    return out.stdout.strip().splitlines()[-1]
