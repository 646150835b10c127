"""Benchmarks of emfast against scikit-learn: the ``emfast bench`` command.

Everything here measures emfast and ``sklearn.mixture.GaussianMixture`` side
by side, in the same run, on the standard workloads of
:mod:`emfast.workloads`:

* **One EM iteration** (E-step + M-step) from identical initial parameters:
  emfast's fused statistics pass (:func:`emfast._em.e_step_stats`) plus its
  M-step (:func:`emfast._em.m_step`), under one BLAS thread as in emfast's
  ``fit``; sklearn's ``_e_step`` plus ``_m_step`` after ``_set_parameters``.
  The median over repeats is reported, with the ratio.
* **Achieved GFLOP/s** of emfast's iteration (:func:`iteration_flops`), against
  this machine's float64 matrix-multiply rate (:func:`matmul_gflops`).
* **Peak memory** of a fit in a fresh process (:func:`fit_peak_rss`).
* **Start-up** (:func:`import_overhead`, :func:`first_fit_overhead`,
  :func:`readonly_cache_check`): import time, and the first fit in a fresh
  process with the compile cache warm, cold, and in a read-only package.
* **End to end** (:func:`end_to_end`, :func:`run_end_to_end`): default fits
  (k-means initialization, default ``tol``) of both libraries on the same
  data, for one or more seeds: wall time of ``fit`` (emfast's compile left
  out), iterations, and the final log-likelihood from each ``score(X)``.
* **Missing values** (:func:`missing_cost`, :func:`run_missing_cost`): one
  emfast iteration with a fraction of the values missing completely at
  random (``nan_policy='marginalize'``) against one on the complete data,
  from the same initial parameters; and the one-off grouping of the rows by
  missingness pattern. emfast only: sklearn does not fit data with NaN.
* **Imputation accuracy** (:func:`impute_rmse`, :func:`run_impute_rmse`):
  values set missing completely at random in data whose true values are
  known, filled in by :class:`emfast.GaussianMixtureImputer` and by
  scikit-learn's ``SimpleImputer`` (mean), ``IterativeImputer`` and
  ``KNNImputer``; the RMSE over the missing values and the time of each.
* **Data larger than memory** (:func:`memmap_rss`, :func:`run_memmap_rss`):
  the anonymous memory a default fit, and then ``score``, add in a fresh
  process on a ``.npy`` file opened with ``np.load(path, mmap_mode='r')``,
  against the file's size. emfast only.
* **Dask** (:func:`dask_overhead`, :func:`run_dask_overhead`): one emfast
  iteration on a ``dask.array`` (threaded scheduler, or a ``LocalCluster`` of
  worker processes) against one in memory, from the same initial parameters.
  emfast only.

The functions return plain dicts (what ``emfast bench --json`` saves);
:func:`format_results` and :func:`format_startup` turn them into the tables
the command prints; :func:`format_end_to_end` that of the end-to-end fits,
:func:`format_missing_cost` that of the missing values,
:func:`format_impute_rmse` that of the imputation accuracy, and
:func:`format_memmap_rss` and :func:`format_dask_overhead` those of the scale
benchmarks.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
from contextlib import ExitStack, contextmanager
from statistics import median
from time import perf_counter
from typing import NamedTuple

import numpy as np

from ._params import Params, compute_precision_cholesky
from .workloads import WORKLOADS, make_workload, save_blobs

MIB = 2**20
REG_COVAR = 1e-6
# ``--quick`` divides every workload's number of samples by this (W6: by 50).
QUICK_DIVISOR = 20
QUICK_DIVISORS = {"W6": 50}
# Small data for the start-up measurements: W2's shape, default fit.
STARTUP_WORKLOAD = "W2"
STARTUP_N_SAMPLES = 20_000

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
# Data, initial parameters and one iteration of each library


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
    """One EM iteration of emfast: the fused E-step pass and the M-step.

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
    params : emfast._params.Params
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
    from . import _em

    params = Params(*parameters)
    log_likelihood, stats, tied_center = _em.e_step_stats(X, params, covariance_type)
    new = _em.m_step(
        stats, params.means, covariance_type, REG_COVAR, X.dtype, tied_center
    )
    return log_likelihood, new


def sklearn_estimator(parameters, covariance_type: str):
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
        len(parameters[0]), covariance_type=covariance_type, reg_covar=REG_COVAR
    )
    sk._set_parameters(tuple(np.array(p, copy=True) for p in parameters))
    return sk


def sklearn_iteration(sk, X) -> float:
    """One E-step and M-step of sklearn's EM loop; updates ``sk`` in place and
    returns the E-step's mean log-likelihood (see :func:`sklearn_estimator`)."""
    log_likelihood, log_resp = sk._e_step(X)
    sk._m_step(X, log_resp)
    return float(log_likelihood)


# ---------------------------------------------------------------------------
# Peak memory of a fit in a fresh process

# argv: data.npy library n_components covariance_type max_iter
_PEAK_RSS_SCRIPT = r"""
import json, sys, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field + " not in /proc/self/status")

path, library, n_components, covariance_type, max_iter = sys.argv[1:6]
n_components, max_iter = int(n_components), int(max_iter)
if library == "emfast":
    from emfast import GaussianMixture
else:
    from sklearn.mixture import GaussianMixture

def make(max_iter):
    return GaussianMixture(n_components, covariance_type=covariance_type,
                           max_iter=max_iter, random_state=0)

# Compile (emfast) or import lazily loaded modules (both) on a small slice.
header = np.load(path, mmap_mode="r")
warm = np.array(header[: 50 * n_components])
del header
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    make(2).fit(warm)
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
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    gm = make(max_iter).fit(X)
print(json.dumps({
    "baseline": baseline, "after_load": after_load, "peak": status("VmHWM"),
    "peak_reset": reset, "data_bytes": X.nbytes, "n_iter": gm.n_iter_,
    "converged": bool(gm.converged_), "lower_bound": float(gm.lower_bound_),
}))
"""


def fit_peak_rss(
    X, n_components: int, covariance_type: str, library: str = "emfast", max_iter=100
) -> dict:
    """Peak memory of a ``GaussianMixture`` fit in a fresh process.

    The data go to a temporary ``.npy`` file; a fresh Python process imports
    the library, fits a small slice (compilation, lazy imports), records its
    RSS (the baseline), resets the peak RSS (``/proc/self/clear_refs``),
    ``np.load``-s the data and fits ``GaussianMixture(n_components,
    covariance_type=..., max_iter=max_iter, random_state=0)`` with the default
    k-means initialization. Linux only (``/proc/self/status``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data.
    n_components : int
        Number of components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.
    library : {'emfast', 'sklearn'}, default='emfast'
        Whose ``GaussianMixture`` to fit.
    max_iter : int, default=100
        EM iterations at most.

    Returns
    -------
    result : dict
        ``increase`` (peak RSS over the baseline, data included, bytes),
        ``limit`` (data + 10 % + 64 MiB), ``within`` (bool), and the raw
        ``baseline``, ``after_load``, ``peak`` (VmHWM), ``peak_reset``
        (whether VmHWM could be reset: if not, ``peak`` may include the
        warm-up), ``data_bytes``, ``n_iter``, ``converged``, ``lower_bound``.

    Examples
    --------
    >>> from emfast.bench import benchmark_data, fit_peak_rss
    >>> X, w = benchmark_data("W1", n_samples=5000)
    >>> m = fit_peak_rss(X, 4, "full")
    >>> m["within"], m["data_bytes"]
    (True, 80000)
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npy")
        np.save(path, X)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _PEAK_RSS_SCRIPT,
                path,
                library,
                str(n_components),
                covariance_type,
                str(max_iter),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["increase"] = result["peak"] - result["baseline"]
    result["limit"] = 1.1 * result["data_bytes"] + 64 * MIB
    result["within"] = result["increase"] <= result["limit"]
    return result


# ---------------------------------------------------------------------------
# One workload, side by side


def quick_n_samples(name: str) -> int:
    """The reduced number of samples ``--quick`` uses for workload ``name``.

    Examples
    --------
    >>> from emfast.bench import quick_n_samples
    >>> quick_n_samples("W2"), quick_n_samples("W6")
    (50000, 200000)
    """
    return WORKLOADS[name].n_samples // QUICK_DIVISORS.get(name, QUICK_DIVISOR)


def _workload_sizes(names, n_samples, quick):
    """[(name, n_samples or None)] for the workloads to run, checked."""
    for name in names:
        if name not in WORKLOADS:
            raise ValueError(
                f"Unknown workload {name!r}; expected some of {list(WORKLOADS)}"
            )
    if n_samples is not None or not quick:
        return [(name, n_samples) for name in names]
    return [(name, quick_n_samples(name)) for name in names]


def _median_seconds(fn, repeat: int, setup=None) -> float:
    times = []
    for _ in range(repeat):
        arg = None if setup is None else setup()
        start = perf_counter()
        fn(arg)
        times.append(perf_counter() - start)
    return median(times)


def run_workload(
    name: str,
    *,
    n_samples: int | None = None,
    repeat: int = 3,
    sklearn: bool = True,
    memory: bool = True,
    matmul: float | None = None,
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
    matmul : float, optional
        The machine's matrix-multiply GFLOP/s (:func:`matmul_gflops`), to
        report emfast's rate as a fraction of it.
    seed : int, default=0
        Seed of the data and of the initial parameters.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        Sizes; ``emfast_seconds`` and ``sklearn_seconds`` per iteration
        (median), ``speedup``; ``emfast_gflops``, ``flops`` and
        ``matmul_fraction``; ``means_rel_diff`` and ``log_likelihood_diff``
        (the two libraries after the same iteration); ``emfast_memory`` and
        ``sklearn_memory`` (:func:`fit_peak_rss` results) when measured.

    Examples
    --------
    >>> from emfast.bench import run_workload
    >>> r = run_workload("W1", n_samples=2000, repeat=1, memory=False)
    >>> r["n_samples"], r["means_rel_diff"] < 1e-10
    (2000, True)
    """
    from threadpoolctl import threadpool_limits

    def say(message):
        if progress is not None:
            progress(f"{name}: {message}")

    X, w = benchmark_data(name, n_samples, seed=seed)
    n, d = X.shape
    k, cov = w.n_components, w.covariance_type
    parameters = initial_parameters(X, k, cov, seed)
    result = {
        "workload": name,
        "n_samples": n,
        "n_features": d,
        "n_components": k,
        "covariance_type": cov,
        "data_bytes": X.nbytes,
        "repeat": repeat,
        "flops": iteration_flops(n, d, k, cov),
    }

    say("emfast iteration")
    # As in emfast's fit: one BLAS thread, so the M-step's small LAPACK calls
    # do not spin against the kernels' threads. Set once, outside the timing.
    with threadpool_limits(limits=1, user_api="blas"):
        emfast_iteration(X, parameters, cov)  # compile or load the cache
        ours = []
        t_emfast = _median_seconds(
            lambda _: ours.append(emfast_iteration(X, parameters, cov)), repeat
        )
    ll_emfast, params_emfast = ours[-1]
    result["emfast_seconds"] = t_emfast
    result["emfast_gflops"] = result["flops"] / t_emfast / 1e9
    result["matmul_gflops"] = matmul
    result["matmul_fraction"] = (
        None if matmul is None else result["emfast_gflops"] / matmul
    )

    if sklearn:
        say("sklearn iteration")
        estimators = []

        def new_estimator():
            estimators.append(sklearn_estimator(parameters, cov))
            return estimators[-1]

        lls = []
        t_sklearn = _median_seconds(
            lambda sk: lls.append(sklearn_iteration(sk, X)), repeat, new_estimator
        )
        sk = estimators[-1]
        result["sklearn_seconds"] = t_sklearn
        result["speedup"] = t_sklearn / t_emfast
        scale = np.abs(sk.means_).max()
        result["means_rel_diff"] = float(
            np.abs(params_emfast.means - sk.means_).max() / scale
        )
        result["log_likelihood_diff"] = float(abs(ll_emfast - lls[-1]))
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
        ``machine`` (:func:`machine_info` plus ``matmul_gflops``),
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
    names = list(WORKLOADS) if workloads is None else list(workloads)
    sizes = _workload_sizes(names, n_samples, quick)
    if progress is not None:
        progress("measuring the matrix-multiply rate")
    machine = machine_info()
    machine["matmul_gflops"] = matmul_gflops(matmul_size)
    results = []
    for name, n in sizes:
        results.append(
            run_workload(
                name,
                n_samples=n,
                repeat=repeat,
                sklearn=sklearn,
                memory=memory,
                matmul=machine["matmul_gflops"],
                seed=seed,
                progress=progress,
            )
        )
    return {
        "machine": machine,
        "settings": {
            "quick": quick,
            "n_samples": n_samples,
            "repeat": repeat,
            "seed": seed,
            "reg_covar": REG_COVAR,
            "matmul_size": matmul_size,
        },
        "workloads": results,
        "seconds": perf_counter() - start,
    }


def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def format_results(results: dict) -> str:
    """Markdown tables of :func:`run`'s results: speed, then memory.

    See :func:`run` for an example.
    """
    m = results["machine"]
    s = results["settings"]
    lines = [
        (
            f"Machine: {m['cpu']}, {m['n_cpus']} CPUs ({m['numba_threads']} Numba "
            f"threads); float64 matmul {m['matmul_gflops']:.1f} GFLOP/s"
        ),
        f"Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']}, "
        f"scikit-learn {m['scikit-learn']}; one EM iteration from identical "
        f"initial parameters, median of {s['repeat']}"
        + (" (--quick sizes)" if s["quick"] and s["n_samples"] is None else ""),
        "",
        (
            "| workload | N | D | K | covariance | emfast s/iter | sklearn s/iter "
            "| speed-up | emfast GFLOP/s | of matmul | means rel. diff |"
        ),
        "|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results["workloads"]:
        lines.append(
            f"| {r['workload']} | {r['n_samples']:,} | {r['n_features']} "
            f"| {r['n_components']} | {r['covariance_type']} "
            f"| {r['emfast_seconds']:.4f} | {_fmt(r['sklearn_seconds'], '.4f')} "
            f"| {_fmt(r['speedup'], '.1f')}{'' if r['speedup'] is None else '×'} "
            f"| {r['emfast_gflops']:.2f} | {_fmt(r['matmul_fraction'], '.0%')} "
            f"| {_fmt(r['means_rel_diff'], '.0e')} |"
        )
    if any(r["emfast_memory"] for r in results["workloads"]):
        lines += [
            "",
            (
                "Peak RSS of a fit in a fresh process, over the process before "
                "loading the data (data included); emfast: default fit; sklearn: "
                "max_iter=1 (k-means + one iteration)"
            ),
            "",
            (
                "| workload | data (MiB) | emfast fit (MiB) | limit: data + 10 % + "
                "64 MiB | emfast iterations | sklearn fit (MiB) | sklearn / data |"
            ),
            "|---|--:|--:|---|--:|--:|--:|",
        ]
        for r in results["workloads"]:
            e, k = r["emfast_memory"], r["sklearn_memory"]
            if e is None:
                continue
            verdict = "within" if e["within"] else "OVER"
            sk_mib = None if k is None else k["increase"] / MIB
            sk_ratio = None if k is None else k["increase"] / k["data_bytes"]
            lines.append(
                f"| {r['workload']} | {e['data_bytes'] / MIB:.1f} "
                f"| {e['increase'] / MIB:.1f} | {verdict} {e['limit'] / MIB:.0f} "
                f"| {e['n_iter']} | {_fmt(sk_mib, '.1f')} "
                f"| {_fmt(sk_ratio, '.1f')}{'' if sk_ratio is None else '×'} |"
            )
    lines += ["", f"Total wall time: {results['seconds']:.0f} s"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# End to end: default fits, emfast against sklearn

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

    from .mixture import GaussianMixture

    def say(message):
        if progress is not None:
            progress(f"{name} end to end: {message}")

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    X, w = benchmark_data(name, n_samples, seed=data_seed)
    n, d = X.shape
    k, cov = w.n_components, w.covariance_type
    if n < k:
        raise ValueError(f"n_samples must be at least {k} (the number of components)")

    say("warm-up (compile or load emfast's kernels; sklearn's imports)")
    warm = X[: min(n, E2E_WARMUP_POINTS_PER_COMPONENT * k)]
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
    return {
        "workload": name,
        "n_samples": n,
        "n_features": d,
        "n_components": k,
        "covariance_type": cov,
        "data_seed": data_seed,
        "warmup_samples": warm.shape[0],
        "loglik_rtol": E2E_LOGLIK_RTOL,
        "runs": runs,
        "median_ratio": median(r["ratio"] for r in runs),
        "all_at_least_sklearn": all(r["emfast_at_least_sklearn"] for r in runs),
    }


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
    names = ["W2"] if workloads is None else list(workloads)
    sizes = _workload_sizes(names, n_samples, quick)
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
    results = []
    for name, n in sizes:
        results.append(
            end_to_end(
                name,
                n_samples=n,
                seeds=range(n_seeds),
                data_seed=data_seed,
                progress=progress,
            )
        )
    return {
        "machine": machine_info(),
        "settings": {
            "quick": quick,
            "n_samples": n_samples,
            "n_seeds": n_seeds,
            "data_seed": data_seed,
        },
        "end_to_end": results,
        "seconds": perf_counter() - start,
    }


def format_end_to_end(results: dict) -> str:
    """Markdown tables of :func:`run_end_to_end`'s results, one per workload.

    See :func:`run_end_to_end` for an example.
    """
    lines = []
    m = results.get("machine")
    if m is not None:
        lines += [
            (
                f"Machine: {m['cpu']}, {m['n_cpus']} CPUs ({m['numba_threads']} "
                f"Numba threads); Python {m['python']}, NumPy {m['numpy']}, "
                f"Numba {m['numba']}, scikit-learn {m['scikit-learn']}"
            ),
            "",
        ]
    for r in results["end_to_end"]:
        yes = sum(run["emfast_at_least_sklearn"] for run in r["runs"])
        lines += [
            (
                f"End to end, {r['workload']}: GaussianMixture({r['n_components']}, "
                f"covariance_type='{r['covariance_type']}', random_state=seed)"
                f".fit(X), other parameters at their defaults (k-means init, "
                f"tol=1e-3); {r['n_samples']:,} x {r['n_features']} points. "
                f"Wall time of fit; emfast's kernels compiled beforehand on "
                f"{r['warmup_samples']:,} points (compile time not counted). "
                f"Log-likelihood: score(X) of each library's fitted model"
            ),
            "",
            (
                "| seed | emfast s | sklearn s | ratio | emfast iterations "
                "| sklearn iterations | emfast log-likelihood "
                "| sklearn log-likelihood | emfast >= sklearn |"
            ),
            "|--:|--:|--:|--:|--:|--:|--:|--:|---|",
        ]
        for run in r["runs"]:
            lines.append(
                f"| {run['seed']} | {run['emfast_seconds']:.3f} "
                f"| {run['sklearn_seconds']:.3f} | {run['ratio']:.1f}× "
                f"| {run['emfast_n_iter']}"
                f"{'' if run['emfast_converged'] else ' (not converged)'} "
                f"| {run['sklearn_n_iter']}"
                f"{'' if run['sklearn_converged'] else ' (not converged)'} "
                f"| {run['emfast_log_likelihood']:.6f} "
                f"| {run['sklearn_log_likelihood']:.6f} "
                f"| {'yes' if run['emfast_at_least_sklearn'] else 'NO'} |"
            )
        lines += [
            "",
            (
                f"Median ratio (sklearn s / emfast s) over {len(r['runs'])} "
                f"seed{'s' if len(r['runs']) != 1 else ''}: "
                f"{r['median_ratio']:.1f}×; emfast's log-likelihood >= sklearn's "
                f"(ties within {r['loglik_rtol']:g} relative) on {yes} of "
                f"{len(r['runs'])}"
            ),
            "",
        ]
    if "seconds" in results:
        lines.append(f"Total wall time: {results['seconds']:.0f} s")
    return "\n".join(lines).rstrip("\n")


# ---------------------------------------------------------------------------
# Missing values: an EM iteration with nan_policy='marginalize' against a
# complete-data one

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


def emfast_missing_iteration(layout, parameters, covariance_type: str):
    """One EM iteration of emfast for values missing at random, as
    ``GaussianMixture(nan_policy='marginalize')`` runs it: the E-step over
    the missingness patterns and the M-step.

    Parameters
    ----------
    layout : emfast._missing.PatternLayout
        The rows grouped by missingness pattern
        (``emfast._missing.pattern_layout``, once per fit).
    parameters : tuple
        ``(weights, means, covariances, precisions_cholesky)``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.

    Returns
    -------
    log_likelihood : float
        Mean log-likelihood of the observed values under ``parameters``.
    params : emfast._params.Params
        The updated parameters.

    Examples
    --------
    >>> from emfast._missing import pattern_layout
    >>> from emfast.bench import benchmark_data, emfast_missing_iteration
    >>> from emfast.bench import initial_parameters, with_missing
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> layout = pattern_layout(with_missing(X, 0.1), 4)
    >>> ll, params = emfast_missing_iteration(
    ...     layout, initial_parameters(X, 4, "full"), "full")
    >>> params.means.shape
    (4, 2)
    """
    from . import _missing

    params = Params(*parameters)
    log_likelihood, stats = _missing.e_step_stats_missing(
        layout, params, covariance_type
    )
    new = _missing.m_step_missing(
        stats, params.means, covariance_type, REG_COVAR, layout.X.dtype
    )
    return log_likelihood, new


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
    from threadpoolctl import threadpool_limits

    from ._missing import pattern_layout

    def say(message):
        if progress is not None:
            progress(f"{name} missing values: {message}")

    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    X, w = benchmark_data(name, n_samples, seed=seed)
    n, d = X.shape
    k, cov = w.n_components, w.covariance_type
    if n < k:
        raise ValueError(f"n_samples must be at least {k} (the number of components)")
    parameters = initial_parameters(X, k, cov, seed)
    X_missing = with_missing(X, fraction, seed)
    missing = np.isnan(X_missing)
    result = {
        "workload": name,
        "n_samples": n,
        "n_features": d,
        "n_components": k,
        "covariance_type": cov,
        "repeat": repeat,
        "seed": seed,
        "fraction": fraction,
        "missing_fraction": float(missing.mean()),
        "missing_rows": int(np.count_nonzero(missing.any(axis=1))),
    }
    del missing
    layouts = []

    def group(_):
        layouts[:] = [pattern_layout(X_missing, k)]

    complete, marginalized = [], []
    # One BLAS thread, as in emfast's fit (see run_workload).
    with threadpool_limits(limits=1, user_api="blas"):
        say("complete-data iteration")
        emfast_iteration(X, parameters, cov)  # compile or load the cache
        result["complete_seconds"] = _median_seconds(
            lambda _: complete.append(emfast_iteration(X, parameters, cov)), repeat
        )
        say("grouping the rows by missingness pattern")
        result["layout_seconds"] = _median_seconds(group, repeat)
        layout = layouts[0]
        say(f"marginalize iteration ({layout.n_patterns} patterns)")
        emfast_missing_iteration(layout, parameters, cov)
        result["missing_seconds"] = _median_seconds(
            lambda _: marginalized.append(
                emfast_missing_iteration(layout, parameters, cov)
            ),
            repeat,
        )
    result["n_patterns"] = layout.n_patterns
    result["ratio"] = result["missing_seconds"] / result["complete_seconds"]
    result["goal"] = MISSING_RATIO_GOAL
    result["complete_log_likelihood"] = float(complete[-1][0])
    result["missing_log_likelihood"] = float(marginalized[-1][0])
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
    names = ["W2"] if workloads is None else list(workloads)
    sizes = _workload_sizes(names, n_samples, quick)
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
    return {
        "machine": machine_info(),
        "settings": {
            "quick": quick,
            "n_samples": n_samples,
            "fraction": fraction,
            "repeat": repeat,
            "seed": seed,
            "reg_covar": REG_COVAR,
        },
        "missing": results,
        "seconds": perf_counter() - start,
    }


def format_missing_cost(results: dict) -> str:
    """A Markdown table of :func:`run_missing_cost`'s results.

    See :func:`run_missing_cost` for an example.
    """
    m = results["machine"]
    s = results["settings"]
    lines = [
        (
            f"Machine: {m['cpu']}, {m['n_cpus']} CPUs ({m['numba_threads']} Numba "
            f"threads); Python {m['python']}, NumPy {m['numpy']}, Numba "
            f"{m['numba']}"
        ),
        (
            "One emfast EM iteration from identical initial parameters, median "
            f"of {s['repeat']}, one BLAS thread: complete data against the same "
            f"data with {100 * s['fraction']:g} % of the values missing completely at "
            f"random (seed {s['seed']}, no row entirely missing), "
            "nan_policy='marginalize'. Layout: grouping the rows by missingness "
            "pattern, once per fit"
            + (" (--quick sizes)" if s["quick"] and s["n_samples"] is None else "")
        ),
        "",
        (
            "| workload | N | D | K | covariance | missing values | rows with NaN "
            "| patterns | complete s/iter | missing s/iter | ratio | goal "
            "| layout s (once) |"
        ),
        "|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for r in results["missing"]:
        verdict = "within" if r["ratio"] <= r["goal"] else "OVER"
        lines.append(
            f"| {r['workload']} | {r['n_samples']:,} | {r['n_features']} "
            f"| {r['n_components']} | {r['covariance_type']} "
            f"| {100 * r['missing_fraction']:.1f} % | {r['missing_rows']:,} "
            f"| {r['n_patterns']:,} | {r['complete_seconds']:.4f} "
            f"| {r['missing_seconds']:.4f} | {r['ratio']:.2f}× "
            f"| {verdict} {r['goal']:g}× | {r['layout_seconds']:.4f} |"
        )
    lines += ["", f"Total wall time: {results['seconds']:.0f} s"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Imputation accuracy: emfast's GaussianMixtureImputer against sklearn's
# imputers, on data whose missing values are known

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

    from .impute import GaussianMixtureImputer

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

    def say(message):
        if progress is not None:
            progress(f"{dataset} imputation: {message}")

    methods = list(methods)
    if not methods:
        raise ValueError("methods must name at least one method")
    X, true_k = impute_data(dataset, n_samples, seed)
    k = true_k if n_components is None else int(n_components)
    imputers = {method: _imputer(method, k, seed) for method in methods}
    n, d = X.shape
    if n < k:
        raise ValueError(f"n_samples must be at least {k} (the number of components)")
    X_missing = with_missing(X, fraction, seed)
    missing = np.isnan(X_missing)
    truth = X[missing]
    result = {
        "dataset": dataset,
        "n_samples": n,
        "n_features": d,
        "n_components": k,
        "true_n_components": true_k,
        "seed": seed,
        "fraction": fraction,
        "missing_fraction": float(missing.mean()),
        "missing_values": int(truth.size),
        "missing_rows": int(np.count_nonzero(missing.any(axis=1))),
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
    return {
        "machine": machine_info(),
        "settings": {
            "quick": quick,
            "n_samples": n_samples,
            "fraction": fraction,
            "seed": seed,
            "methods": list(methods),
        },
        "impute": results,
        "seconds": perf_counter() - start,
    }


def format_impute_rmse(results: dict) -> str:
    """A Markdown table of :func:`run_impute_rmse`'s results.

    See :func:`run_impute_rmse` for an example.
    """
    m = results["machine"]
    s = results["settings"]
    lines = [
        (
            f"Machine: {m['cpu']}, {m['n_cpus']} CPUs ({m['numba_threads']} Numba "
            f"threads); Python {m['python']}, NumPy {m['numpy']}, scikit-learn "
            f"{m['scikit-learn']}"
        ),
        (
            f"Imputation: {100 * s['fraction']:g} % of the values missing "
            f"completely at random (seed {s['seed']}, no row entirely missing); "
            "RMSE over the missing values against the true ones; vs mean: RMSE "
            "over SimpleImputer's; one fit + transform each (emfast's compile "
            "not counted). emfast: GaussianMixtureImputer(K, random_state=seed); "
            f"IterativeImputer: random_state=seed"
            + (" (--quick sizes)" if s["quick"] and s["n_samples"] is None else "")
        ),
        "",
        (
            "| data | N | D | K | missing values | method | RMSE | vs mean "
            "| fit + transform s | iterations |"
        ),
        "|---|--:|--:|--:|--:|---|--:|--:|--:|--:|",
    ]
    for r in results["impute"]:
        mean = r["methods"].get("mean")
        for method, t in r["methods"].items():
            ratio = None if not mean or not mean["rmse"] else t["rmse"] / mean["rmse"]
            lines.append(
                f"| {r['dataset']} | {r['n_samples']:,} | {r['n_features']} "
                f"| {r['n_components']} | {100 * r['missing_fraction']:.1f} % "
                f"| {IMPUTE_METHOD_LABELS[method]} | {t['rmse']:.3f} "
                f"| {_fmt(ratio, '.2f')}{'' if ratio is None else '×'} "
                f"| {t['seconds']:.3f} | {_fmt(t['n_iter'], 'd')} |"
            )
    lines += ["", f"Total wall time: {results['seconds']:.0f} s"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Scale: data larger than memory (a memory-mapped file) and Dask arrays

MEMMAP_N_SAMPLES = 24_000_000
MEMMAP_QUICK_N_SAMPLES = 2_000_000
# The memory-mapped data have W2's features and true components.
MEMMAP_WORKLOAD = "W2"
MEMMAP_MAX_ITER = 10
# The goal for the anonymous memory a fit adds, as a share of the file.
MEMMAP_GROWTH_GOAL = 0.25
# Free disk space asked for on top of the file.
_DISK_MARGIN = 64 * MIB
# Rows of the warm-up fit: more than k-means' subsample (50,000 rows), so the
# warm-up compiles (or loads) every kernel the measured fit runs.
_MEMMAP_WARM_ROWS = 60_000

# argv: data.npy n_components max_iter warm_rows. Prints JSON.
_MEMMAP_RSS_SCRIPT = r"""
import json, sys, threading, time, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from emfast import GaussianMixture

def rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("RssAnon not in /proc/self/status")

class PeakRssAnon:
    # Samples RssAnon every millisecond from a thread during a with-block
    # (the kernels release the GIL, so the thread keeps sampling).
    def __enter__(self):
        self.peak, self.samples = rss_anon(), 1
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.is_set():
            self.peak = max(self.peak, rss_anon())
            self.samples += 1
            time.sleep(0.001)

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon())

path = sys.argv[1]
n_components, max_iter, warm_rows = map(int, sys.argv[2:5])
warnings.simplefilter("ignore", ConvergenceWarning)
X = np.load(path, mmap_mode="r")
# Compile (or load) the kernels and import everything on a slice in memory.
warm = np.array(X[:warm_rows])
GaussianMixture(n_components, random_state=0, max_iter=2).fit(warm).score(warm)
del warm
baseline = rss_anon()
with PeakRssAnon() as fit_rss:
    start = time.perf_counter()
    gm = GaussianMixture(n_components, random_state=0, max_iter=max_iter).fit(X)
    fit_seconds = time.perf_counter() - start
score_start = rss_anon()
with PeakRssAnon() as score_rss:
    start = time.perf_counter()
    score = gm.score(X)
    score_seconds = time.perf_counter() - start
print(json.dumps({
    "baseline": baseline, "fit_peak": fit_rss.peak, "score_start": score_start,
    "score_peak": score_rss.peak,
    "fit_rss_samples": fit_rss.samples, "score_rss_samples": score_rss.samples,
    "fit_seconds": fit_seconds, "n_iter": gm.n_iter_,
    "converged": bool(gm.converged_), "lower_bound": float(gm.lower_bound_),
    "score_seconds": score_seconds, "score": float(score),
}))
"""


def memmap_rss(
    n_samples: int = MEMMAP_N_SAMPLES,
    n_features: int = WORKLOADS[MEMMAP_WORKLOAD].n_features,
    n_components: int = WORKLOADS[MEMMAP_WORKLOAD].n_components,
    *,
    directory=None,
    max_iter: int = MEMMAP_MAX_ITER,
    seed: int = 0,
    progress=None,
) -> dict:
    """The memory a fit adds on a memory-mapped file, against the file's size.

    Writes float64 blobs (:func:`emfast.workloads.save_blobs`, chunk by
    chunk: the data are never in memory whole) to a ``.npy`` file in a new
    temporary directory; then, in a fresh Python process, fits and scores a
    slice in memory (compilation, lazy imports), opens the file with
    ``np.load(path, mmap_mode='r')`` and records the anonymous memory
    (``RssAnon`` in ``/proc/self/status``: the file's pages, which the
    kernels read block by block, are not anonymous) before, and its peak
    during, ``GaussianMixture(n_components, random_state=0,
    max_iter=max_iter).fit(X)`` (default k-means initialization) and then
    ``score(X)``, sampled every millisecond from a thread. The file is
    deleted afterwards. Loading the file into memory would add 100 % of its
    size; the goal is at most :data:`MEMMAP_GROWTH_GOAL`. Linux only.

    Parameters
    ----------
    n_samples : int, default=24,000,000
        Rows of the file (1.4 GiB with the default 8 features).
    n_features : int, default=8
        Columns of the file (W2's).
    n_components : int, default=16
        True components of the data and components of the fit (W2's).
    directory : str or path, optional
        Where to write the file; :func:`tempfile.gettempdir` when None. The
        free space there is checked first.
    max_iter : int, default=10
        EM iterations at most (a cap to keep the run short: every iteration
        reads the whole file and allocates the same).
    seed : int, default=0
        Seed of the data.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        ``n_samples``, ``n_features``, ``n_components``, ``max_iter``,
        ``seed``, ``directory``; ``file_bytes`` and ``write_seconds``;
        ``baseline`` (RssAnon with the file open, before the fit, bytes) and
        ``score_start`` (before the score: what the fit kept); for the fit
        and the score, ``fit_peak`` / ``score_peak`` (peak RssAnon),
        ``fit_growth`` / ``score_growth`` (peak minus ``baseline``: what the
        process holds beyond the open file),
        ``fit_ratio`` / ``score_ratio`` (growth over ``file_bytes``),
        ``fit_rss_samples`` / ``score_rss_samples`` (RssAnon readings) and
        ``fit_seconds`` / ``score_seconds``, ``fit_within`` /
        ``score_within`` (the ratio at most ``goal``,
        :data:`MEMMAP_GROWTH_GOAL`); ``n_iter``, ``converged``,
        ``lower_bound`` and ``score``.

    Examples
    --------
    >>> from emfast.bench import memmap_rss
    >>> r = memmap_rss(200_000, max_iter=2)
    >>> r["file_bytes"], r["n_iter"] <= 2, r["fit_ratio"] == r["fit_growth"] / r[
    ...     "file_bytes"]
    (12800128, True, True)
    """

    def say(message):
        if progress is not None:
            progress(f"memmap: {message}")

    for value, label, minimum in (
        (n_samples, "n_samples", max(1, n_components)),
        (n_features, "n_features", 1),
        (n_components, "n_components", 1),
        (max_iter, "max_iter", 1),
    ):
        if value < minimum:
            raise ValueError(f"{label} must be at least {minimum}, got {value}")
    if not os.path.exists("/proc/self/status"):
        raise OSError("memmap_rss reads RssAnon from /proc/self/status (Linux only)")
    directory = tempfile.gettempdir() if directory is None else os.fspath(directory)
    data_bytes = 8 * n_samples * n_features
    free = shutil.disk_usage(directory).free
    if free < data_bytes + _DISK_MARGIN:
        raise OSError(
            f"memmap_rss writes a {data_bytes / 2**30:.2f} GiB file to "
            f"{directory}, which has {free / 2**30:.2f} GiB free (64 MiB more "
            "are kept free); choose another directory (emfast bench "
            "--memmap-dir) or fewer samples"
        )
    result = {
        "n_samples": n_samples,
        "n_features": n_features,
        "n_components": n_components,
        "max_iter": max_iter,
        "seed": seed,
        "directory": directory,
    }
    with tempfile.TemporaryDirectory(prefix="emfast-memmap-", dir=directory) as tmp:
        path = os.path.join(tmp, "X.npy")
        say(f"writing {n_samples:,} x {n_features} float64 blobs to {path}")
        start = perf_counter()
        result["file_bytes"] = save_blobs(
            path, n_samples, n_features, n_components, seed=seed
        )
        result["write_seconds"] = perf_counter() - start
        say("fit and score in a fresh process")
        out = _run_python(
            _MEMMAP_RSS_SCRIPT,
            path,
            str(n_components),
            str(max_iter),
            str(_MEMMAP_WARM_ROWS),
        )
    result.update(json.loads(out))
    for step in ("fit", "score"):
        growth = result[f"{step}_peak"] - result["baseline"]
        result[f"{step}_growth"] = growth
        result[f"{step}_ratio"] = growth / result["file_bytes"]
        result[f"{step}_within"] = result[f"{step}_ratio"] <= MEMMAP_GROWTH_GOAL
    result["goal"] = MEMMAP_GROWTH_GOAL
    return result


def run_memmap_rss(
    *,
    quick: bool = False,
    n_samples: int | None = None,
    directory=None,
    max_iter: int = MEMMAP_MAX_ITER,
    seed: int = 0,
    progress=None,
) -> dict:
    """:func:`memmap_rss` with the machine's description (``emfast bench
    --memmap``).

    Parameters
    ----------
    quick : bool, default=False
        :data:`MEMMAP_QUICK_N_SAMPLES` rows (2,000,000: 122 MiB) instead of
        :data:`MEMMAP_N_SAMPLES` (24,000,000: 1.4 GiB), unless ``n_samples``
        is given.
    n_samples : int, optional
        Rows of the file.
    directory, max_iter, seed, progress
        As in :func:`memmap_rss`.

    Returns
    -------
    results : dict
        ``machine`` (:func:`machine_info`), ``settings``, ``memmap`` (the
        :func:`memmap_rss` result) and ``seconds`` (wall time).

    Examples
    --------
    >>> from emfast.bench import run_memmap_rss, format_memmap_rss
    >>> results = run_memmap_rss(n_samples=200_000, max_iter=2)
    >>> print(format_memmap_rss(results))  # doctest: +ELLIPSIS
    Machine: ...
    | N | D | K | file | step | RssAnon at start | peak RssAnon | growth | ...
    |--:|...
    | 200,000 | 8 | 16 | 12 MiB | fit | ...
    | 200,000 | 8 | 16 | 12 MiB | score | ...
    ...
    """
    start = perf_counter()
    if n_samples is None:
        n_samples = MEMMAP_QUICK_N_SAMPLES if quick else MEMMAP_N_SAMPLES
    result = memmap_rss(
        n_samples, directory=directory, max_iter=max_iter, seed=seed, progress=progress
    )
    return {
        "machine": machine_info(),
        "settings": {
            "quick": quick,
            "n_samples": n_samples,
            "max_iter": max_iter,
            "seed": seed,
        },
        "memmap": result,
        "seconds": perf_counter() - start,
    }


def format_memmap_rss(results: dict) -> str:
    """A Markdown table of :func:`run_memmap_rss`'s results.

    See :func:`run_memmap_rss` for an example.
    """
    m = results["machine"]
    r = results["memmap"]
    lines = [
        (
            f"Machine: {m['cpu']}, {m['n_cpus']} CPUs ({m['numba_threads']} Numba "
            f"threads); Python {m['python']}, NumPy {m['numpy']}, Numba "
            f"{m['numba']}"
        ),
        (
            "Anonymous memory (RssAnon, sampled every ms) of a fresh process "
            "over X = np.load(path, mmap_mode='r') of a float64 .npy file of "
            f"blobs (seed {r['seed']}): GaussianMixture({r['n_components']}, "
            f"random_state=0, max_iter={r['max_iter']}).fit(X), then "
            "gm.score(X); kernels warmed up first on a slice in memory. Growth: "
            "peak minus RssAnon before the fit (with the file open), for the "
            "score too; loading the file would add 100 % of it"
        ),
        "",
        (
            "| N | D | K | file | step | RssAnon at start | peak RssAnon "
            "| growth | growth / file | goal | seconds | iterations | readings |"
        ),
        "|--:|--:|--:|--:|---|--:|--:|--:|--:|---|--:|--:|--:|",
    ]
    starts = {"fit": r["baseline"], "score": r["score_start"]}
    for step in ("fit", "score"):
        ratio = r[f"{step}_ratio"]
        verdict = "within" if r[f"{step}_within"] else "OVER"
        iterations = (
            f"{r['n_iter']}{'' if r['converged'] else ' (cap)'}"
            if step == "fit"
            else "-"
        )
        lines.append(
            f"| {r['n_samples']:,} | {r['n_features']} | {r['n_components']} "
            f"| {r['file_bytes'] / MIB:,.0f} MiB | {step} "
            f"| {starts[step] / MIB:,.1f} MiB | {r[f'{step}_peak'] / MIB:,.1f} MiB "
            f"| {r[f'{step}_growth'] / MIB:,.1f} MiB | {100 * ratio:.1f} % "
            f"| {verdict} {100 * r['goal']:g} % | {r[f'{step}_seconds']:.1f} "
            f"| {iterations} | {r[f'{step}_rss_samples']:,} |"
        )
    lines += [
        "",
        (
            f"File written in {r['write_seconds']:.1f} s (then deleted). "
            f"Total wall time: {results['seconds']:.0f} s"
        ),
    ]
    return "\n".join(lines)


DASK_SCHEDULERS = ("threads", "distributed")
DASK_REPEAT = 5
# The goal for one iteration on a Dask array, as a multiple of one in memory.
DASK_RATIO_GOAL = 1.5
# Default chunking: this many chunks of rows (W2: 125,000 rows each), so the
# --quick sizes keep the same structure.
DASK_N_CHUNKS = 8
# The "distributed" scheduler's LocalCluster: worker processes, one thread each.
DASK_CLUSTER_WORKERS = 2


def dask_chunk_rows(n_samples: int) -> int:
    """Rows per chunk of :func:`dask_overhead` by default: the rows in
    :data:`DASK_N_CHUNKS` chunks, rounded up.

    Examples
    --------
    >>> from emfast.bench import dask_chunk_rows
    >>> dask_chunk_rows(1_000_000), dask_chunk_rows(50_001), dask_chunk_rows(3)
    (125000, 6251, 1)
    """
    return max(1, -(-n_samples // DASK_N_CHUNKS))


def emfast_dask_iteration(e_step, parameters, covariance_type: str):
    """One EM iteration of emfast on a Dask array, as ``fit`` runs it: the
    statistics of every chunk (on the active Dask scheduler), summed, and
    the M-step on the client.

    Parameters
    ----------
    e_step : callable
        ``emfast._dask.make_e_step(X, None, covariance_type)`` of the Dask
        array X.
    parameters : tuple
        ``(weights, means, covariances, precisions_cholesky)``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.

    Returns
    -------
    log_likelihood : float
        Mean log-likelihood of X under ``parameters``.
    params : emfast._params.Params
        The updated parameters.

    Examples
    --------
    >>> import dask, dask.array as da
    >>> from emfast._dask import make_e_step
    >>> from emfast.bench import benchmark_data, emfast_dask_iteration
    >>> from emfast.bench import emfast_iteration, initial_parameters
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> p = initial_parameters(X, 4, "full")
    >>> e_step = make_e_step(da.from_array(X, chunks=(300, 2)), None, "full")
    >>> with dask.config.set(scheduler="sync"):
    ...     ll, params = emfast_dask_iteration(e_step, p, "full")
    >>> bool(np.allclose(params.means, emfast_iteration(X, p, "full")[1].means))
    True
    """
    from . import _em

    params = Params(*parameters)
    log_likelihood, stats, tied_center = e_step(params)
    new = _em.m_step(
        stats, params.means, covariance_type, REG_COVAR, np.float64, tied_center
    )
    return log_likelihood, new


class _Timed(NamedTuple):
    seconds: list  # of each timed run
    last: object  # the last run's return value


def _alternating_times(functions, repeat: int) -> list[_Timed]:
    """Run each function once untimed (compilation, caches), then all of them
    in turn ``repeat`` times, timed: a change in the load of a shared
    machine then touches them alike."""
    last = [fn() for fn in functions]
    seconds = [[] for _ in functions]
    for _ in range(repeat):
        for i, fn in enumerate(functions):
            start = perf_counter()
            last[i] = fn()
            seconds[i].append(perf_counter() - start)
    return [_Timed(s, value) for s, value in zip(seconds, last)]


def _check_scheduler(scheduler: str) -> None:
    if scheduler not in DASK_SCHEDULERS:
        raise ValueError(
            f"Unknown scheduler {scheduler!r}; expected one of {DASK_SCHEDULERS}"
        )


@contextmanager
def _local_cluster(n_workers: int):
    """A ``dask.distributed`` client of a LocalCluster of ``n_workers``
    worker processes with one thread each (spawned: the caller's main module
    must be import-safe)."""
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError(
            "scheduler='distributed' needs dask.distributed: pip install 'emfast[dask]'"
        ) from exc
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def dask_overhead(
    name: str = "W2",
    *,
    n_samples: int | None = None,
    chunk_rows: int | None = None,
    scheduler: str = "threads",
    repeat: int = DASK_REPEAT,
    seed: int = 0,
    progress=None,
) -> dict:
    """What running on a Dask array costs one EM iteration of emfast.

    Times one iteration on a workload's data in memory
    (:func:`emfast_iteration`) and one on the same data as
    ``dask.array.from_array(X, chunks=(chunk_rows, n_features))``
    (:func:`emfast_dask_iteration`: what ``fit`` runs on a Dask array), from
    the same :func:`initial_parameters` (those of :func:`run_workload`),
    under one BLAS thread as emfast's ``fit``. Each is run once untimed
    first (compilation or cache loading; for Dask also the one-off check of
    the values), then the two in turn, so that a change in the machine's
    load touches both alike. The resulting means of the two are compared.

    Parameters
    ----------
    name : {'W1', 'W2', 'W3', 'W4', 'W5', 'W6'}, default='W2'
        The workload.
    n_samples : int, optional
        Override the workload's number of samples.
    chunk_rows : int, optional
        Rows per chunk; by default :func:`dask_chunk_rows`: the rows in
        :data:`DASK_N_CHUNKS` chunks (W2: 125,000 rows each).
    scheduler : {'threads', 'distributed'}, default='threads'
        ``'threads'``: Dask's threaded scheduler in this process (one Numba
        thread per chunk, chunks in parallel). ``'distributed'``: a
        ``dask.distributed.LocalCluster`` of :data:`DASK_CLUSTER_WORKERS`
        worker processes with one thread each, the array persisted on the
        workers before the timing; the workers are spawned processes, so a
        script calling this needs an ``if __name__ == "__main__":`` guard.
    repeat : int, default=5
        Timed runs of each; the median is reported.
    seed : int, default=0
        Seed of the data and of the initial parameters.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        ``workload``, ``n_samples``, ``n_features``, ``n_components``,
        ``covariance_type``, ``repeat``, ``seed``, ``scheduler``,
        ``n_workers`` and ``threads_per_worker`` (of the Dask scheduler),
        ``chunk_rows``, ``n_chunks``; in seconds, ``memory_times`` and
        ``dask_times`` (every timed iteration) and their medians
        ``memory_seconds`` and ``dask_seconds``; ``ratio``
        (``dask_seconds / memory_seconds``) and ``goal``
        (:data:`DASK_RATIO_GOAL`); ``means_rel_diff`` (largest difference of
        the two iterations' means over the largest mean, in absolute value)
        and ``log_likelihood_diff``; ``threading_layer`` (Numba's, in this
        process).

    Examples
    --------
    >>> from emfast.bench import dask_overhead
    >>> r = dask_overhead("W1", n_samples=4000, repeat=1)
    >>> r["n_chunks"], r["chunk_rows"], r["means_rel_diff"] < 1e-12
    (8, 500, True)
    """
    _check_scheduler(scheduler)
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    if chunk_rows is not None and chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    import dask
    import dask.array as da
    import numba
    from threadpoolctl import threadpool_limits

    from ._dask import make_e_step

    def say(message):
        if progress is not None:
            progress(f"{name} Dask ({scheduler}): {message}")

    X, w = benchmark_data(name, n_samples, seed=seed)
    n, d = X.shape
    k, cov = w.n_components, w.covariance_type
    if n < k:
        raise ValueError(f"n_samples must be at least {k} (the number of components)")
    parameters = initial_parameters(X, k, cov, seed)
    chunk_rows = min(n, dask_chunk_rows(n) if chunk_rows is None else chunk_rows)
    dX = da.from_array(X, chunks=(chunk_rows, d))
    result = {
        "workload": name,
        "n_samples": n,
        "n_features": d,
        "n_components": k,
        "covariance_type": cov,
        "repeat": repeat,
        "seed": seed,
        "scheduler": scheduler,
        "chunk_rows": chunk_rows,
        "n_chunks": len(dX.chunks[0]),
    }
    with ExitStack() as stack:
        # One BLAS thread, as in emfast's fit (see run_workload).
        stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        if scheduler == "threads":
            from dask.system import CPU_COUNT

            stack.enter_context(dask.config.set(scheduler="threads"))
            result["n_workers"] = dask.config.get("num_workers", None) or CPU_COUNT
        else:
            from distributed import wait

            say(f"starting a LocalCluster ({DASK_CLUSTER_WORKERS} processes)")
            client = stack.enter_context(_local_cluster(DASK_CLUSTER_WORKERS))
            with warnings.catch_warnings():
                # The data travel to the workers once, here, before the timing.
                warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
                dX = client.persist(dX)
                wait(dX)
            result["n_workers"] = DASK_CLUSTER_WORKERS
        result["threads_per_worker"] = 1
        e_step = make_e_step(dX, None, cov)
        say(f"in-memory and Dask iterations ({result['n_chunks']} chunks), in turn")
        in_memory, on_dask = _alternating_times(
            (
                lambda: emfast_iteration(X, parameters, cov),
                lambda: emfast_dask_iteration(e_step, parameters, cov),
            ),
            repeat,
        )
    result["memory_times"] = in_memory.seconds
    result["dask_times"] = on_dask.seconds
    result["memory_seconds"] = median(in_memory.seconds)
    result["dask_seconds"] = median(on_dask.seconds)
    (ll_memory, params_memory), (ll_dask, params_dask) = in_memory.last, on_dask.last
    result["ratio"] = result["dask_seconds"] / result["memory_seconds"]
    result["goal"] = DASK_RATIO_GOAL
    result["means_rel_diff"] = float(
        np.abs(params_dask.means - params_memory.means).max()
        / np.abs(params_memory.means).max()
    )
    result["log_likelihood_diff"] = float(abs(ll_dask - ll_memory))
    result["memory_log_likelihood"] = float(ll_memory)
    result["threading_layer"] = numba.threading_layer()
    return result


def run_dask_overhead(
    workloads=None,
    *,
    schedulers=("threads",),
    quick: bool = False,
    n_samples: int | None = None,
    chunk_rows: int | None = None,
    repeat: int = DASK_REPEAT,
    seed: int = 0,
    progress=None,
) -> dict:
    """:func:`dask_overhead` on several workloads and schedulers
    (``emfast bench --dask``).

    Parameters
    ----------
    workloads : list of str, optional
        Workload names; ``['W2']`` when None.
    schedulers : sequence of {'threads', 'distributed'}, default=('threads',)
        The Dask schedulers, each measured on every workload.
    quick : bool, default=False
        Reduced sizes (:func:`quick_n_samples`), unless ``n_samples`` is given.
    n_samples : int, optional
        Number of samples for every workload (default: full size).
    chunk_rows, repeat, seed, progress
        As in :func:`dask_overhead`.

    Returns
    -------
    results : dict
        ``machine`` (:func:`machine_info`), ``settings``, ``dask`` (a list
        of :func:`dask_overhead` results) and ``seconds`` (wall time).

    Examples
    --------
    >>> from emfast.bench import run_dask_overhead, format_dask_overhead
    >>> results = run_dask_overhead(n_samples=2000, repeat=1)
    >>> print(format_dask_overhead(results))  # doctest: +ELLIPSIS
    Machine: ...
    | workload | N | D | K | covariance | scheduler | chunks | in memory s/iter | ...
    |---|...
    | W2 | 2,000 | 8 | 16 | full | threads (... threads) | 8 x 250 | ...
    ...
    """
    start = perf_counter()
    schedulers = list(schedulers)
    for scheduler in schedulers:
        _check_scheduler(scheduler)
    names = ["W2"] if workloads is None else list(workloads)
    sizes = _workload_sizes(names, n_samples, quick)
    results = [
        dask_overhead(
            name,
            n_samples=n,
            chunk_rows=chunk_rows,
            scheduler=scheduler,
            repeat=repeat,
            seed=seed,
            progress=progress,
        )
        for name, n in sizes
        for scheduler in schedulers
    ]
    return {
        "machine": machine_info(),
        "settings": {
            "quick": quick,
            "n_samples": n_samples,
            "schedulers": schedulers,
            "chunk_rows": chunk_rows,
            "repeat": repeat,
            "seed": seed,
            "reg_covar": REG_COVAR,
        },
        "dask": results,
        "seconds": perf_counter() - start,
    }


def format_dask_overhead(results: dict) -> str:
    """A Markdown table of :func:`run_dask_overhead`'s results.

    See :func:`run_dask_overhead` for an example.
    """
    import dask

    m = results["machine"]
    s = results["settings"]
    lines = [
        (
            f"Machine: {m['cpu']}, {m['n_cpus']} CPUs ({m['numba_threads']} Numba "
            f"threads); Python {m['python']}, NumPy {m['numpy']}, Numba "
            f"{m['numba']}, Dask {dask.__version__}"
        ),
        (
            "One emfast EM iteration from identical initial parameters, median "
            f"of {s['repeat']}, one BLAS thread: in memory against the same "
            "data as dask.array.from_array(X, chunks=(rows, D)), as fit runs "
            "it (statistics per chunk, summed in a fixed tree, M-step on the "
            "client). threads: Dask's threaded scheduler, one Numba thread per "
            "chunk; distributed: a LocalCluster of worker processes with one "
            "thread each, the array persisted on the workers"
            + (" (--quick sizes)" if s["quick"] and s["n_samples"] is None else "")
        ),
        "",
        (
            "| workload | N | D | K | covariance | scheduler | chunks "
            "| in memory s/iter | Dask s/iter | ratio | goal | means rel. diff |"
        ),
        "|---|--:|--:|--:|---|---|--:|--:|--:|--:|---|--:|",
    ]
    for r in results["dask"]:
        verdict = "within" if r["ratio"] <= r["goal"] else "OVER"
        if r["scheduler"] == "threads":
            where = f"threads ({r['n_workers']} threads)"
        else:
            where = f"distributed ({r['n_workers']} processes x 1 thread)"
        lines.append(
            f"| {r['workload']} | {r['n_samples']:,} | {r['n_features']} "
            f"| {r['n_components']} | {r['covariance_type']} | {where} "
            f"| {r['n_chunks']} x {r['chunk_rows']:,} "
            f"| {r['memory_seconds']:.4f} | {r['dask_seconds']:.4f} "
            f"| {r['ratio']:.2f}× | {verdict} {r['goal']:g}× "
            f"| {r['means_rel_diff']:.1e} |"
        )
    lines += ["", f"Total wall time: {results['seconds']:.0f} s"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Start-up: import time, first fit with a warm / cold / read-only cache

_IMPORT_SCRIPT = r"""
import sys, time
start = time.perf_counter()
if sys.argv[1] == "emfast":
    import emfast
    print(time.perf_counter() - start)
else:
    import numba, sklearn
    middle = time.perf_counter()
    import emfast
    print(middle - start, time.perf_counter() - middle)
"""

# argv: workload n_samples. Prints JSON: the first fit's seconds, and the
# fastest of three more ("warmed_up": the fit without loading or compiling).
_FIRST_FIT_SCRIPT = r"""
import json, os, sys, time, warnings
from sklearn.exceptions import ConvergenceWarning
import emfast
from emfast import GaussianMixture
from emfast.workloads import make_workload

X, w = make_workload(sys.argv[1], n_samples=int(sys.argv[2]))

def fit():
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(w.n_components).fit(X)
    return time.perf_counter() - start, gm

first, gm = fit()
warmed_up = min(fit()[0] for _ in range(3))
package = os.path.dirname(emfast.__file__)
print(json.dumps({
    "first": first, "warmed_up": warmed_up, "n_iter": gm.n_iter_,
    "package": package, "package_writable": os.access(package, os.W_OK),
}))
"""


def _run_python(code: str, *args: str, env=None, prefix=(), cwd=None) -> str:
    out = subprocess.run(
        [*prefix, sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )
    return out.stdout.strip().splitlines()[-1]


def import_overhead(repeat: int = 5) -> dict:
    """How much ``import emfast`` adds to importing numba and sklearn.

    Each repeat runs two fresh processes: one times ``import numba, sklearn``
    and then ``import emfast`` (the increment), the other times ``import
    emfast`` alone (which imports numba and the parts of sklearn it uses).

    Parameters
    ----------
    repeat : int, default=5
        Pairs of processes; medians are reported.

    Returns
    -------
    result : dict
        Medians in seconds: ``numba_sklearn`` (``import numba, sklearn``),
        ``emfast`` (``import emfast`` alone), ``overhead`` (``emfast`` minus
        ``numba_sklearn``) and ``increment`` (``import emfast`` after numba
        and sklearn).

    Examples
    --------
    >>> from emfast.bench import import_overhead
    >>> import_overhead(repeat=1)["overhead"] < 5.0  # doctest: +SKIP
    True
    """
    base, increment, alone = [], [], []
    for _ in range(repeat):
        a, b = map(float, _run_python(_IMPORT_SCRIPT, "numba_sklearn").split())
        base.append(a)
        increment.append(b)
        alone.append(float(_run_python(_IMPORT_SCRIPT, "emfast")))
    return {
        "numba_sklearn": median(base),
        "emfast": median(alone),
        "overhead": median(alone) - median(base),
        "increment": median(increment),
        "repeat": repeat,
    }


def _first_fit(n_samples: int, env=None, prefix=(), cwd=None) -> dict:
    out = _run_python(
        _FIRST_FIT_SCRIPT,
        STARTUP_WORKLOAD,
        str(n_samples),
        env=env,
        prefix=prefix,
        cwd=cwd,
    )
    result = json.loads(out)
    result["overhead"] = result["first"] - result["warmed_up"]
    return result


def first_fit_overhead(
    cache: str = "warm", repeat: int = 3, n_samples: int = STARTUP_N_SAMPLES
) -> dict:
    """Extra time of the first ``GaussianMixture(16).fit(X)`` in a fresh process.

    A fresh process fits W2-shaped data (``n_samples`` x 8) four times with
    the defaults (k-means initialization); the first fit's time minus the
    fastest of the other three is what loading (warm cache) or compiling (cold
    cache) the kernels costs.

    Parameters
    ----------
    cache : {'warm', 'cold'}, default='warm'
        'warm': the current cache (a first, untimed process fills it if
        needed). 'cold': every process gets a fresh, empty
        ``NUMBA_CACHE_DIR``, so the kernels compile.
    repeat : int, default=3
        Fresh processes; medians are reported.
    n_samples : int, default=20000
        Number of points.

    Returns
    -------
    result : dict
        Medians in seconds: ``first`` (the first fit), ``warmed_up`` (the
        fastest later fit) and ``overhead`` (their difference); ``runs``, the
        per-process results.

    Examples
    --------
    >>> from emfast.bench import first_fit_overhead
    >>> first_fit_overhead("warm", repeat=1)["overhead"] < 5.0  # doctest: +SKIP
    True
    """
    if cache not in ("warm", "cold"):
        raise ValueError(f"cache must be 'warm' or 'cold', got {cache!r}")
    runs = []
    if cache == "warm":
        _first_fit(n_samples)  # fill the cache if it is not already warm
        runs = [_first_fit(n_samples) for _ in range(repeat)]
    else:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as cache_dir:
                env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
                runs.append(_first_fit(n_samples, env=env))
    return {
        "cache": cache,
        "n_samples": n_samples,
        "first": median(r["first"] for r in runs),
        "warmed_up": median(r["warmed_up"] for r in runs),
        "overhead": median(r["overhead"] for r in runs),
        "runs": runs,
    }


def _without_write_permission_prefix() -> tuple[list[str], bool]:
    """Command prefix under which file permissions bind: root ignores them
    unless the capabilities that bypass them are dropped."""
    if os.geteuid() != 0:
        return [], True
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return [], False
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"], True


def readonly_cache_check(n_samples: int = STARTUP_N_SAMPLES) -> dict:
    """Does the compile cache work from a read-only package with
    ``NUMBA_CACHE_DIR`` set?

    Copies the ``emfast`` package into a temporary directory, removes all
    write permission from it, and runs two fresh processes that import that
    copy (``PYTHONPATH``) with ``NUMBA_CACHE_DIR`` pointing at a new writable
    directory: the first compiles and writes the cache, the second should
    load it. As root, the processes run without the capabilities that bypass
    file permissions (``setpriv``), so the package really is read-only to
    them.

    Returns
    -------
    result : dict
        ``compile`` and ``load``: the first fit's overhead (seconds) in the
        first and the second process; ``cache_files``: files written to
        ``NUMBA_CACHE_DIR``; ``package_writable``: whether the processes
        could write to the package (False when the check holds);
        ``package_unchanged``: nothing was written to it; ``works``: all of
        these, and the second process loaded instead of compiling.

    Examples
    --------
    >>> from emfast.bench import readonly_cache_check
    >>> readonly_cache_check()["works"]  # doctest: +SKIP
    True
    """
    source = os.path.dirname(os.path.abspath(__file__))
    prefix, enforced = _without_write_permission_prefix()
    root = tempfile.mkdtemp(prefix="emfast-readonly-")
    package = os.path.join(root, "site", "emfast")
    cache_dir = os.path.join(root, "cache")
    try:
        shutil.copytree(
            source, package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        os.mkdir(cache_dir)
        before = sorted(_walk(package))
        _set_writable(package, False)
        env = dict(
            os.environ,
            NUMBA_CACHE_DIR=cache_dir,
            PYTHONPATH=os.path.join(root, "site"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.pop("EMFAST_CACHE", None)
        # Run from ``root``: ``python -c`` puts the working directory first on
        # sys.path, where a source checkout would shadow the copy.
        compiled = _first_fit(n_samples, env=env, prefix=prefix, cwd=root)
        loaded = _first_fit(n_samples, env=env, prefix=prefix, cwd=root)
        cache_files = len(list(_walk(cache_dir)))
        unchanged = sorted(_walk(package)) == before
        used_copy = compiled["package"] == package
        writable = compiled["package_writable"] or loaded["package_writable"]
    finally:
        if os.path.isdir(package):
            _set_writable(package, True)
        shutil.rmtree(root, ignore_errors=True)
    return {
        "compile": compiled["overhead"],
        "load": loaded["overhead"],
        "cache_files": cache_files,
        "read_only_enforced": enforced,
        "imported_the_copy": used_copy,
        "package_writable": writable,
        "package_unchanged": unchanged,
        "works": bool(
            used_copy
            and not writable
            and unchanged
            and cache_files > 0
            and loaded["overhead"] < 0.5 * compiled["overhead"]
        ),
    }


def _walk(top):
    for dirpath, _dirnames, filenames in os.walk(top):
        for filename in filenames:
            yield os.path.relpath(os.path.join(dirpath, filename), top)


def _set_writable(top: str, writable: bool) -> None:
    """Add or remove write permission on a tree (directories kept readable)."""
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for dirpath, dirnames, filenames in os.walk(top, topdown=not writable):
        for name in [*filenames, *dirnames, None]:
            path = dirpath if name is None else os.path.join(dirpath, name)
            mode = os.stat(path).st_mode
            os.chmod(path, (mode | stat.S_IWUSR) if writable else (mode & ~write))


def startup(repeat: int = 5, cold_repeat: int = 1, readonly: bool = True) -> dict:
    """All start-up measurements (what ``emfast bench --startup`` runs).

    Parameters
    ----------
    repeat : int, default=5
        Repeats of the import and warm-cache measurements.
    cold_repeat : int, default=1
        Repeats of the cold-cache compile (each compiles every kernel).
    readonly : bool, default=True
        Also run :func:`readonly_cache_check`.

    Returns
    -------
    result : dict
        ``machine``, ``import`` (:func:`import_overhead`), ``warm_cache`` and
        ``cold_cache`` (:func:`first_fit_overhead`), ``readonly``
        (:func:`readonly_cache_check` or None), ``seconds``.

    Examples
    --------
    >>> from emfast.bench import startup, format_startup
    >>> print(format_startup(startup(repeat=1)))  # doctest: +SKIP
    """
    start = perf_counter()
    result = {
        "machine": machine_info(),
        "import": import_overhead(repeat),
        "warm_cache": first_fit_overhead("warm", repeat=max(1, min(repeat, 3))),
        "cold_cache": first_fit_overhead("cold", repeat=cold_repeat),
        "readonly": readonly_cache_check() if readonly else None,
    }
    result["seconds"] = perf_counter() - start
    return result


def format_startup(result: dict) -> str:
    """A Markdown table of :func:`startup`'s result."""
    m = result["machine"]
    imp, warm, cold = result["import"], result["warm_cache"], result["cold_cache"]
    n_warm, n_cold = len(warm["runs"]), len(cold["runs"])
    rows = [
        ("`import numba, sklearn`", imp["numba_sklearn"], ""),
        ("`import emfast`", imp["emfast"], ""),
        (
            "import overhead: `import emfast` minus `import numba, sklearn`",
            imp["overhead"],
            "≤ 0.3",
        ),
        (
            "`import emfast` after `import numba, sklearn` (same process)",
            imp["increment"],
            "",
        ),
        (
            "the fit, warmed up (fastest of 3 after the first, same process)",
            warm["warmed_up"],
            "",
        ),
        ("first fit, warm cache", warm["first"], ""),
        (
            "warm-cache overhead: first fit minus warmed-up fit",
            warm["overhead"],
            "≤ 0.5",
        ),
        ("first fit, cold cache (empty NUMBA_CACHE_DIR)", cold["first"], ""),
        (
            "compile overhead: cold first fit minus warmed-up fit",
            cold["overhead"],
            "≤ 10",
        ),
    ]
    lines = [
        (
            f"Machine: {m['cpu']}, {m['n_cpus']} CPUs; Numba {m['numba']}, "
            f"scikit-learn {m['scikit-learn']}"
        ),
        (
            f"Fresh processes; imports: median of {imp['repeat']}; the fit "
            f"GaussianMixture(16).fit(X) on {warm['n_samples']:,} x 8 points "
            f"({STARTUP_WORKLOAD}-shaped): median of {n_warm} (warm cache) and "
            f"{n_cold} (cold cache) processes"
        ),
        "",
        "| start-up measure | seconds | goal |",
        "|---|--:|---|",
        *(f"| {label} | {value:.3f} | {goal} |" for label, value, goal in rows),
    ]
    ro = result.get("readonly")
    if ro is not None:
        works = "works" if ro["works"] else "DOES NOT WORK"
        lines += [
            "",
            f"Read-only package with NUMBA_CACHE_DIR set: the cache {works} "
            f"(the first process compiled, {ro['compile']:.1f} s of overhead, "
            f"and wrote {ro['cache_files']} cache files; the second loaded "
            f"them, {ro['load']:.2f} s of overhead; package writable: "
            f"{ro['package_writable']}, unchanged: {ro['package_unchanged']}"
            + ("" if ro["read_only_enforced"] else "; read-only NOT enforced")
            + ")",
        ]
    lines += ["", f"Total wall time: {result['seconds']:.0f} s"]
    return "\n".join(lines)
