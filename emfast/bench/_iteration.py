"""One EM iteration of emfast and of scikit-learn side by side on the
standard workloads (``emfast bench``): seconds, GFLOP/s, and the peak memory
of a fit in a fresh process."""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from statistics import median
from time import perf_counter

import numba
import numpy as np

from ..engine import ArraySource
from ..workloads import WORKLOADS
from ._common import (
    MIB,
    PROC_STATUS_FUNCTION,
    REG_COVAR,
    initial_parameters,
    machine_info,
    means_rel_diff,
    mixture_model,
    reporter,
    run_python,
    run_record,
    time_em_step,
    time_sklearn_step,
    workload_case,
    workload_sizes,
)
from ._format import (
    WORKLOAD_ALIGN,
    WORKLOAD_COLUMNS,
    cpus,
    fmt,
    paragraphs,
    quick_note,
    table,
    verdict,
    versions,
    wall_time,
    workload_cells,
)

# ---------------------------------------------------------------------------
# Machine and flop counts


def matmul_gflops(n: int = 2000, repeat: int = 3) -> float:
    """The machine's float64 matrix-multiply rate, in GFLOP/s.

    Times ``np.dot`` of two random ``n`` x ``n`` float64 matrices (with
    BLAS's default number of threads) and counts ``2 n**3`` flops; the best of
    ``repeat`` runs after one warm-up is reported.

    Parameters
    ----------
    n : int, default=2000
        Size of the square matrices.
    repeat : int, default=3
        Number of timed products.

    Returns
    -------
    gflops : float
        Billions of floating-point operations per second.

    Examples
    --------
    >>> from emfast.bench import matmul_gflops
    >>> matmul_gflops(n=200, repeat=2) > 0
    True
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    b = rng.standard_normal((n, n))
    np.dot(a, b)
    best = np.inf
    for _ in range(repeat):
        start = perf_counter()
        np.dot(a, b)
        best = min(best, perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def memory_read_gbps(n_bytes: int = 256 * MIB, repeat: int = 3) -> float:
    """The machine's rate of reading memory, in GB/s (10**9 bytes).

    Each of Numba's threads (``numba.get_num_threads()``, the threads that
    emfast's kernels use) sums its share of a float64 array of ``n_bytes``
    with ``np.add.reduce``, which reads it once and releases the GIL; the
    best of ``repeat`` passes after one warm-up is reported. The array
    should be much larger than the caches.

    Parameters
    ----------
    n_bytes : int, default=256 MiB
        Size of the array read.
    repeat : int, default=3
        Number of timed passes.

    Returns
    -------
    gbps : float
        Bytes read per second, in units of 10**9.

    Examples
    --------
    >>> from emfast.bench import memory_read_gbps
    >>> memory_read_gbps(n_bytes=8 * 2**20, repeat=2) > 0
    True
    """
    threads = numba.get_num_threads()
    x = np.ones(max(threads, n_bytes // 8))
    parts = np.array_split(x, threads)
    best = np.inf
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.add.reduce, parts))
        for _ in range(repeat):
            start = perf_counter()
            list(pool.map(np.add.reduce, parts))
            best = min(best, perf_counter() - start)
    return x.nbytes / best / 1e9


def machine_rates(matmul_size: int = 2000) -> dict:
    """The two rates that bound an EM iteration on this machine:
    ``matmul_gflops`` (:func:`matmul_gflops`) and ``memory_gbps``
    (:func:`memory_read_gbps`).

    Parameters
    ----------
    matmul_size : int, default=2000
        Size of the matrices of :func:`matmul_gflops`.

    Returns
    -------
    rates : dict
        ``{"matmul_gflops": float, "memory_gbps": float}``.

    Examples
    --------
    >>> from emfast.bench import machine_rates
    >>> sorted(machine_rates(matmul_size=200))
    ['matmul_gflops', 'memory_gbps']
    """
    return {
        "matmul_gflops": matmul_gflops(matmul_size),
        "memory_gbps": memory_read_gbps(),
    }


def bound_fractions(flops, data_bytes, seconds, rates=None) -> dict:
    """How close ``seconds`` per iteration comes to the machine's bounds, as
    the fields of a benchmark result (what :func:`bound_cells` reads).

    Parameters
    ----------
    flops : float
        Floating-point operations of the iteration (e.g.
        :func:`iteration_flops`).
    data_bytes : int
        Bytes of data the iteration must read (X once).
    seconds : float
        Measured seconds of emfast's iteration.
    rates : dict, optional
        :func:`machine_rates`; without it the fractions are None.

    Returns
    -------
    fractions : dict
        ``emfast_gflops`` (flops / seconds, in 10**9), ``matmul_fraction``
        (that rate over ``matmul_gflops``), ``memory_floor_seconds`` (the
        time to read ``data_bytes`` at ``memory_gbps``) and
        ``memory_fraction`` (that floor over ``seconds``: 100 % means bound
        by reading the data).

    Examples
    --------
    >>> from emfast.bench import bound_fractions
    >>> f = bound_fractions(4e9, 8e8, 0.2, {"matmul_gflops": 40.0,
    ...                                      "memory_gbps": 16.0})
    >>> f["emfast_gflops"], f["matmul_fraction"]
    (20.0, 0.5)
    >>> f["memory_floor_seconds"], f["memory_fraction"]
    (0.05, 0.25)
    """
    gflops = flops / seconds / 1e9
    floor = None if rates is None else data_bytes / (rates["memory_gbps"] * 1e9)
    return dict(
        emfast_gflops=gflops,
        matmul_fraction=None if rates is None else gflops / rates["matmul_gflops"],
        memory_floor_seconds=floor,
        memory_fraction=None if rates is None else floor / seconds,
    )


# The columns of ``bound_cells``.
BOUND_COLUMNS = ["emfast GFLOP/s", "of matmul", "of memory floor"]


def bound_cells(r: dict) -> list[str]:
    """Table cells of a result's :func:`bound_fractions` (``emfast_gflops``,
    ``matmul_fraction``, ``memory_fraction``), under ``BOUND_COLUMNS``; '-'
    for what was not measured."""
    return [
        fmt(r.get("emfast_gflops"), ".2f"),
        fmt(r.get("matmul_fraction"), ".0%"),
        fmt(r.get("memory_fraction"), ".0%"),
    ]


def rates_note(machine: dict) -> str:
    """The machine's rates (:func:`machine_rates`) for a report's first
    line: '; float64 matmul ... GFLOP/s, memory read ... GB/s', or '' when
    they were not measured.

    Examples
    --------
    >>> from emfast.bench._iteration import rates_note
    >>> rates_note({"matmul_gflops": 79.4, "memory_gbps": 18.25})
    '; float64 matmul 79.4 GFLOP/s, memory read 18.2 GB/s'
    >>> rates_note({})
    ''
    """
    if "matmul_gflops" not in machine or "memory_gbps" not in machine:
        return ""
    return (
        f"; float64 matmul {machine['matmul_gflops']:.1f} GFLOP/s, memory read "
        f"{machine['memory_gbps']:.1f} GB/s"
    )


def iteration_flops(
    n_samples: int, n_features: int, n_components: int, covariance_type: str
) -> float:
    """Approximate floating-point operations of one EM iteration.

    A multiply-add counts as 2 flops. Per point and component, with
    ``D = n_features``:

    * ``'full'``: whitening by the triangular precision Cholesky factor
      (D(D+1)/2 multiply-adds), the squared norm (D), the weighted sum (D),
      the lower triangle of the weighted second moments (D(D+1)/2), and about
      10 for exp, log-sum-exp and the responsibility: in all
      ``2 N K (D**2 + 3 D + 10)``.
    * ``'tied'``: the same E-step, but the second moments once per point:
      ``2 N (K (D**2 / 2 + 3 D + 10) + D**2 / 2)``.
    * ``'diag'`` and ``'spherical'``: scaled difference, squared norm,
      weighted sum and weighted squares (D each), plus 10:
      ``2 N K (4 D + 10)``.

    The M-step (O(K D**3)) and the centring subtractions are left out.

    Parameters
    ----------
    n_samples, n_features, n_components : int
        N, D and K.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.

    Returns
    -------
    flops : float
        The operation count.

    Examples
    --------
    >>> from emfast.bench import iteration_flops
    >>> iteration_flops(1_000_000, 8, 16, "full") / 1e9  # W2: GFLOP
    3.136
    """
    n, d, k = float(n_samples), float(n_features), float(n_components)
    if covariance_type == "full":
        return 2.0 * n * k * (d * d + 3.0 * d + 10.0)
    if covariance_type == "tied":
        return 2.0 * n * (k * (d * d / 2.0 + 3.0 * d + 10.0) + d * d / 2.0)
    if covariance_type in ("diag", "spherical"):
        return 2.0 * n * k * (4.0 * d + 10.0)
    raise ValueError(f"Unknown covariance_type {covariance_type!r}")


# ---------------------------------------------------------------------------
# One iteration of sklearn


def sklearn_estimator(parameters, covariance_type: str, reg_covar: float = REG_COVAR):
    """A ``sklearn.mixture.GaussianMixture`` holding ``parameters`` (copies),
    ready for :func:`sklearn_iteration`.

    Examples
    --------
    >>> from emfast.bench import benchmark_data, initial_parameters
    >>> from emfast.bench import sklearn_estimator, sklearn_iteration
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> sk = sklearn_estimator(initial_parameters(X, 4, "full"), "full")
    >>> ll = sklearn_iteration(sk, X)
    >>> sk.means_.shape
    (4, 2)
    """
    from sklearn.mixture import GaussianMixture

    sk = GaussianMixture(
        len(parameters[0]), covariance_type=covariance_type, reg_covar=reg_covar
    )
    sk._set_parameters(tuple(np.array(p, copy=True) for p in parameters))
    return sk


# ---------------------------------------------------------------------------
# Peak memory of a fit in a fresh process

# The estimators fit_peak_rss fits, and the libraries that have each.
PEAK_RSS_ESTIMATORS = {
    "GaussianMixture": ("emfast", "sklearn"),
    "BayesianGaussianMixture": ("emfast", "sklearn"),
    "GaussianHMM": ("emfast", "hmmlearn"),
}

# argv: data.npy lengths.npy-or-"-" library estimator n_components
# covariance_type max_iter
_PEAK_RSS_SCRIPT = (
    PROC_STATUS_FUNCTION
    + r"""
import importlib, json, sys, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning

path, lengths_path, library, estimator, n_components, covariance_type, max_iter = (
    sys.argv[1:8])
n_components, max_iter = int(n_components), int(max_iter)
modules = {"emfast": "emfast", "sklearn": "sklearn.mixture", "hmmlearn": "hmmlearn.hmm"}
Estimator = getattr(importlib.import_module(modules[library]), estimator)
hmm = estimator == "GaussianHMM"
lengths = None if lengths_path == "-" else np.load(lengths_path)

def make(max_iter):
    return Estimator(n_components=n_components, covariance_type=covariance_type,
                     random_state=0, **{"n_iter" if hmm else "max_iter": max_iter})

def fit(model, X, lengths=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X) if lengths is None else model.fit(X, lengths)

# Compile (emfast) or import lazily loaded modules (all) on a small slice.
header = np.load(path, mmap_mode="r")
warm = np.array(header[: 50 * n_components])
del header
fit(make(2), warm)
del warm
baseline = status("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    reset = True
except OSError:
    reset = False
X = np.load(path)
after_load = status("VmRSS")
model = fit(make(max_iter), X, lengths)
if hmm:
    monitor = model.monitor_
    n_iter, converged = monitor.iter, monitor.converged
    lower_bound = monitor.history[-1]
else:
    n_iter, converged = model.n_iter_, model.converged_
    lower_bound = model.lower_bound_
print(json.dumps({
    "baseline": baseline, "after_load": after_load, "peak": status("VmHWM"),
    "peak_reset": reset, "data_bytes": X.nbytes, "n_iter": int(n_iter),
    "converged": bool(converged), "lower_bound": float(lower_bound),
}))
"""
)


def fit_peak_rss(
    X,
    n_components: int,
    covariance_type: str,
    library: str = "emfast",
    max_iter=100,
    estimator: str = "GaussianMixture",
    lengths=None,
) -> dict:
    """Peak memory of a fit in a fresh process: ``GaussianMixture``,
    ``BayesianGaussianMixture`` or ``GaussianHMM``.

    The data (and ``lengths``) go to temporary ``.npy`` files; a fresh Python
    process imports the library, fits a small slice (compilation, lazy
    imports), records its RSS (the baseline), resets the peak RSS
    (``/proc/self/clear_refs``), ``np.load``-s the data and fits
    ``estimator(n_components=n_components, covariance_type=...,
    max_iter=max_iter, random_state=0)`` with its default start (k-means;
    for ``GaussianHMM``, ``n_iter=max_iter`` and ``fit(X, lengths)``).
    Linux only (``/proc/self/status``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data.
    n_components : int
        Number of components (states).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.
    library : {'emfast', 'sklearn', 'hmmlearn'}, default='emfast'
        Whose estimator to fit: ``emfast``'s, ``sklearn.mixture``'s (the
        mixtures) or ``hmmlearn.hmm``'s (``GaussianHMM``).
    max_iter : int, default=100
        EM iterations at most.
    estimator : {'GaussianMixture', 'BayesianGaussianMixture', \
'GaussianHMM'}, default='GaussianMixture'
        The estimator class (:data:`PEAK_RSS_ESTIMATORS`).
    lengths : array-like of int, optional
        ``GaussianHMM`` only: the sequences' lengths (None: one sequence).

    Returns
    -------
    result : dict
        ``increase`` (peak RSS over the baseline, data included, bytes),
        ``limit`` (data + 10 % + 64 MiB), ``within`` (bool), and the raw
        ``baseline``, ``after_load``, ``peak`` (VmHWM), ``peak_reset``
        (whether VmHWM could be reset: if not, ``peak`` may include the
        warm-up), ``data_bytes``, ``n_iter``, ``converged``, ``lower_bound``
        (for ``GaussianHMM``: the last log-likelihood of ``monitor_``).

    Examples
    --------
    >>> from emfast.bench import benchmark_data, fit_peak_rss
    >>> X, w = benchmark_data("W1", n_samples=5000)
    >>> m = fit_peak_rss(X, 4, "full")
    >>> m["within"], m["data_bytes"]
    (True, 80000)
    """
    if estimator not in PEAK_RSS_ESTIMATORS:
        raise ValueError(
            f"Unknown estimator {estimator!r}; expected one of "
            f"{list(PEAK_RSS_ESTIMATORS)}"
        )
    if library not in PEAK_RSS_ESTIMATORS[estimator]:
        raise ValueError(
            f"Unknown library {library!r} for {estimator}; expected one of "
            f"{list(PEAK_RSS_ESTIMATORS[estimator])}"
        )
    if lengths is not None and estimator != "GaussianHMM":
        raise ValueError("lengths goes with estimator='GaussianHMM'")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npy")
        np.save(path, X)
        lengths_path = "-"
        if lengths is not None:
            lengths_path = os.path.join(tmp, "lengths.npy")
            np.save(lengths_path, np.asarray(lengths, dtype=np.int64))
        out = run_python(
            _PEAK_RSS_SCRIPT,
            path,
            lengths_path,
            library,
            estimator,
            str(n_components),
            covariance_type,
            str(max_iter),
        )
    result = json.loads(out)
    result["increase"] = result["peak"] - result["baseline"]
    result["limit"] = 1.1 * result["data_bytes"] + 64 * MIB
    result["within"] = result["increase"] <= result["limit"]
    return result


# ---------------------------------------------------------------------------
# One workload, side by side


def run_workload(
    name: str,
    *,
    n_samples: int | None = None,
    repeat: int = 3,
    sklearn: bool = True,
    memory: bool = True,
    rates: dict | None = None,
    seed: int = 0,
    progress=None,
) -> dict:
    """Benchmark one workload: emfast and sklearn side by side.

    Parameters
    ----------
    name : {'W1', 'W2', 'W3', 'W4', 'W5', 'W6'}
        The workload.
    n_samples : int, optional
        Override the workload's number of samples.
    repeat : int, default=3
        Timed iterations per library; the median is reported.
    sklearn : bool, default=True
        Also time (and, with ``memory``, measure) scikit-learn.
    memory : bool, default=True
        Measure the peak RSS of fits in fresh processes
        (:func:`fit_peak_rss`): emfast's default fit, and sklearn's fit with
        ``max_iter=1`` (its k-means and one iteration reach its peak, which
        every further iteration repeats).
    rates : dict, optional
        The machine's rates (:func:`machine_rates`), to report emfast's time
        against the matrix-multiply rate and the memory floor
        (:func:`bound_fractions`).
    seed : int, default=0
        Seed of the data and of the initial parameters.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        Sizes; ``emfast_seconds`` and ``sklearn_seconds`` per iteration
        (median), ``speedup``; ``flops``, ``emfast_gflops``,
        ``matmul_fraction``, ``memory_floor_seconds`` and ``memory_fraction``
        (:func:`bound_fractions`); ``means_rel_diff`` and ``log_likelihood_diff``
        (the two libraries after the same iteration); ``emfast_memory`` and
        ``sklearn_memory`` (:func:`fit_peak_rss` results) when measured.

    Examples
    --------
    >>> from emfast.bench import run_workload
    >>> r = run_workload("W1", n_samples=2000, repeat=1, memory=False)
    >>> r["n_samples"], r["means_rel_diff"] < 1e-10
    (2000, True)
    """
    say = reporter(progress, name)
    X, w, result = workload_case(name, n_samples, seed)
    k, cov = w.n_components, w.covariance_type
    parameters = initial_parameters(X, k, cov, seed)
    result["data_bytes"] = X.nbytes
    result["repeat"] = repeat
    result["flops"] = iteration_flops(*X.shape, k, cov)

    say("emfast iteration")
    ours = time_em_step(*_mixture_case(X, parameters, cov), repeat)
    ll_emfast, params_emfast = ours.last
    t_emfast = result["emfast_seconds"] = median(ours.seconds)
    result.update(bound_fractions(result["flops"], X.nbytes, t_emfast, rates))

    if sklearn:
        say("sklearn iteration")
        theirs = time_sklearn_step(
            lambda: sklearn_estimator(parameters, cov), X, repeat
        )
        ll_sklearn, sk = theirs.last
        t_sklearn = result["sklearn_seconds"] = median(theirs.seconds)
        result["speedup"] = t_sklearn / t_emfast
        result["means_rel_diff"] = means_rel_diff(params_emfast.means, sk.means_)
        result["log_likelihood_diff"] = float(abs(ll_emfast - ll_sklearn))
    else:
        result["sklearn_seconds"] = result["speedup"] = None
        result["means_rel_diff"] = result["log_likelihood_diff"] = None

    result["emfast_memory"] = result["sklearn_memory"] = None
    if memory:
        say("emfast fit peak memory (fresh process)")
        result["emfast_memory"] = fit_peak_rss(X, k, cov, "emfast")
        if sklearn:
            say("sklearn fit peak memory (fresh process, max_iter=1)")
            result["sklearn_memory"] = fit_peak_rss(X, k, cov, "sklearn", max_iter=1)
    return result


def _mixture_case(X, parameters, covariance_type: str):
    """(model, source, params) of :func:`emfast_iteration`, for
    :func:`time_em_step`."""
    model, params = mixture_model(parameters, covariance_type, X.dtype)
    return model, ArraySource(X), params


def run(
    workloads=None,
    *,
    quick: bool = False,
    n_samples: int | None = None,
    repeat: int = 3,
    sklearn: bool = True,
    memory: bool = True,
    seed: int = 0,
    matmul_size: int = 2000,
    progress=None,
) -> dict:
    """Benchmark several workloads (what ``emfast bench`` runs).

    Parameters
    ----------
    workloads : list of str, optional
        Workload names; all six when None.
    quick : bool, default=False
        Reduced sizes (:func:`quick_n_samples`), unless ``n_samples`` is given.
    n_samples : int, optional
        Number of samples for every workload.
    repeat, sklearn, memory, seed, progress
        As in :func:`run_workload`.
    matmul_size : int, default=2000
        Size of the matrices of :func:`matmul_gflops`.

    Returns
    -------
    results : dict
        ``machine`` (:func:`machine_info` plus :func:`machine_rates`),
        ``settings``, ``workloads`` (a list of :func:`run_workload` results)
        and ``seconds`` (wall time of the whole run).

    Examples
    --------
    >>> from emfast.bench import run, format_results
    >>> results = run(["W1"], n_samples=2000, repeat=1, memory=False,
    ...               matmul_size=300)
    >>> print(format_results(results))  # doctest: +ELLIPSIS
    Machine: ...
    | workload | N | D | K | covariance | emfast s/iter | sklearn s/iter | ...
    ...
    """
    start = perf_counter()
    sizes = workload_sizes(workloads, n_samples, quick, default=list(WORKLOADS))
    if progress is not None:
        progress("measuring the matrix-multiply rate")
    machine = machine_info()
    machine.update(machine_rates(matmul_size))
    results = [
        run_workload(
            name,
            n_samples=n,
            repeat=repeat,
            sklearn=sklearn,
            memory=memory,
            rates=machine,
            seed=seed,
            progress=progress,
        )
        for name, n in sizes
    ]
    return run_record(
        start,
        "workloads",
        results,
        machine=machine,
        quick=quick,
        n_samples=n_samples,
        repeat=repeat,
        seed=seed,
        reg_covar=REG_COVAR,
        matmul_size=matmul_size,
    )


def format_results(results: dict) -> str:
    """Markdown tables of :func:`run`'s results: speed, then memory.

    See :func:`run` for an example.
    """
    m = results["machine"]
    s = results["settings"]
    header = [
        f"{cpus(m)}{rates_note(m)}",
        f"{versions(m, ('python', 'numpy', 'numba', 'scikit-learn'))}; one EM "
        f"iteration from identical initial parameters, median of {s['repeat']}"
        + quick_note(s),
    ]
    columns = [*WORKLOAD_COLUMNS, "emfast s/iter", "sklearn s/iter", "speed-up"]
    columns += [*BOUND_COLUMNS, "means rel. diff"]
    rows = [
        [
            *workload_cells(r),
            f"{r['emfast_seconds']:.4f}",
            fmt(r["sklearn_seconds"], ".4f"),
            fmt(r["speedup"], ".1f", "×"),
            *bound_cells(r),
            fmt(r["means_rel_diff"], ".0e"),
        ]
        for r in results["workloads"]
    ]
    speed = table(columns, WORKLOAD_ALIGN + "rrrrrrr", rows)
    blocks = [header, speed]
    measured = [r for r in results["workloads"] if r["emfast_memory"]]
    if measured:
        caption = (
            "Peak RSS of a fit in a fresh process, over the process before "
            "loading the data (data included); emfast: default fit; sklearn: "
            "max_iter=1 (k-means + one iteration)"
        )
        blocks += [[caption], memory_table(measured)]
    return paragraphs(*blocks, [wall_time(results["seconds"])])


def memory_table(results, other: str = "sklearn") -> list[str]:
    """The peak-memory table of the results with an ``emfast_memory``,
    against the ``f"{other}_memory"`` of the other library."""
    rows = []
    for r in results:
        e, k = r["emfast_memory"], r[f"{other}_memory"]
        rows.append(
            [
                r["workload"],
                f"{e['data_bytes'] / MIB:.1f}",
                f"{e['increase'] / MIB:.1f}",
                f"{verdict(e['within'])} {e['limit'] / MIB:.0f}",
                e["n_iter"],
                fmt(None if k is None else k["increase"] / MIB, ".1f"),
                fmt(None if k is None else k["increase"] / k["data_bytes"], ".1f", "×"),
            ]
        )
    columns = [
        "workload",
        "data (MiB)",
        "emfast fit (MiB)",
        "limit: data + 10 % + 64 MiB",
        "emfast iterations",
        f"{other} fit (MiB)",
        f"{other} / data",
    ]
    return table(columns, "lrrlrrr", rows)
