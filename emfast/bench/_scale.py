"""Scale: data larger than memory (a memory-mapped file, ``emfast bench
--memmap``) and Dask arrays (``emfast bench --dask``). emfast only."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from contextlib import ExitStack, contextmanager
from statistics import median
from time import perf_counter

from ..engine import DaskSource
from ..workloads import WORKLOADS, save_blobs
from ._common import (
    MIB,
    PROC_STATUS_FUNCTION,
    REG_COVAR,
    alternating_times,
    emfast_iteration,
    initial_parameters,
    means_rel_diff,
    mixture_iteration,
    one_blas_thread,
    reporter,
    run_python,
    run_record,
    workload_case,
    workload_sizes,
)
from ._format import (
    WORKLOAD_ALIGN,
    WORKLOAD_COLUMNS,
    machine_line,
    paragraphs,
    quick_note,
    size_cells,
    table,
    verdict,
    wall_time,
    workload_cells,
)

# ---------------------------------------------------------------------------
# Data larger than memory: a fit on a memory-mapped file

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
_MEMMAP_RSS_SCRIPT = (
    PROC_STATUS_FUNCTION
    + r"""
import json, sys, threading, time, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from emfast import GaussianMixture

def rss_anon():
    return status("RssAnon")

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
)


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
    say = reporter(progress, "memmap")
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
        out = run_python(
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
    return run_record(
        start,
        "memmap",
        result,
        quick=quick,
        n_samples=n_samples,
        max_iter=max_iter,
        seed=seed,
    )


def format_memmap_rss(results: dict) -> str:
    """A Markdown table of :func:`run_memmap_rss`'s results.

    See :func:`run_memmap_rss` for an example.
    """
    r = results["memmap"]
    description = (
        "Anonymous memory (RssAnon, sampled every ms) of a fresh process "
        "over X = np.load(path, mmap_mode='r') of a float64 .npy file of "
        f"blobs (seed {r['seed']}): GaussianMixture({r['n_components']}, "
        f"random_state=0, max_iter={r['max_iter']}).fit(X), then "
        "gm.score(X); kernels warmed up first on a slice in memory. Growth: "
        "peak minus RssAnon before the fit (with the file open), for the "
        "score too; loading the file would add 100 % of it"
    )
    columns = ["N", "D", "K", "file", "step", "RssAnon at start", "peak RssAnon"]
    columns += ["growth", "growth / file", "goal", "seconds"]
    columns += ["iterations", "readings"]
    starts = {"fit": r["baseline"], "score": r["score_start"]}
    rows = []
    for step in ("fit", "score"):
        iterations = (
            f"{r['n_iter']}{'' if r['converged'] else ' (cap)'}"
            if step == "fit"
            else "-"
        )
        rows.append(
            [
                *size_cells(r),
                f"{r['file_bytes'] / MIB:,.0f} MiB",
                step,
                f"{starts[step] / MIB:,.1f} MiB",
                f"{r[f'{step}_peak'] / MIB:,.1f} MiB",
                f"{r[f'{step}_growth'] / MIB:,.1f} MiB",
                f"{100 * r[f'{step}_ratio']:.1f} %",
                f"{verdict(r[f'{step}_within'])} {100 * r['goal']:g} %",
                f"{r[f'{step}_seconds']:.1f}",
                iterations,
                f"{r[f'{step}_rss_samples']:,}",
            ]
        )
    trailer = (
        f"File written in {r['write_seconds']:.1f} s (then deleted). "
        f"{wall_time(results['seconds'])}"
    )
    return paragraphs(
        [machine_line(results["machine"], ("python", "numpy", "numba")), description],
        table(columns, "rrrrlrrrrlrrr", rows),
        [trailer],
    )


# ---------------------------------------------------------------------------
# Dask: an iteration on a Dask array against one in memory

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


def emfast_dask_iteration(source, parameters, covariance_type: str):
    """One EM iteration of emfast on a Dask array, as ``fit`` runs it: the
    statistics of every chunk (on the active Dask scheduler), summed, and
    the M-step on the client (:func:`emfast.engine.em_step` of a
    :class:`emfast.engine.MixtureModel` on the source).

    Parameters
    ----------
    source : emfast.engine.DaskSource
        ``emfast.engine.DaskSource(X)`` of the Dask array X (its first
        iteration also checks every value, as ``fit``'s does).
    parameters : tuple
        ``(weights, means, covariances, precisions_cholesky)``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.

    Returns
    -------
    log_likelihood : float
        Mean log-likelihood of X under ``parameters``.
    params : emfast.engine.Params
        The updated parameters.

    Examples
    --------
    >>> import dask, dask.array as da
    >>> import numpy as np
    >>> from emfast.engine import DaskSource
    >>> from emfast.bench import benchmark_data, emfast_dask_iteration
    >>> from emfast.bench import emfast_iteration, initial_parameters
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> p = initial_parameters(X, 4, "full")
    >>> source = DaskSource(da.from_array(X, chunks=(300, 2)))
    >>> with dask.config.set(scheduler="sync"):
    ...     ll, params = emfast_dask_iteration(source, p, "full")
    >>> bool(np.allclose(params.means, emfast_iteration(X, p, "full")[1].means))
    True
    """
    return mixture_iteration(source, parameters, covariance_type)


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

    say = reporter(progress, f"{name} Dask ({scheduler})")
    X, w, result = workload_case(name, n_samples, seed)
    n, d = X.shape
    k, cov = w.n_components, w.covariance_type
    parameters = initial_parameters(X, k, cov, seed)
    chunk_rows = min(n, dask_chunk_rows(n) if chunk_rows is None else chunk_rows)
    dX = da.from_array(X, chunks=(chunk_rows, d))
    result.update(
        repeat=repeat,
        seed=seed,
        scheduler=scheduler,
        chunk_rows=chunk_rows,
        n_chunks=len(dX.chunks[0]),
    )
    with ExitStack() as stack:
        stack.enter_context(one_blas_thread())
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
        source = DaskSource(dX)
        say(f"in-memory and Dask iterations ({result['n_chunks']} chunks), in turn")
        in_memory, on_dask = alternating_times(
            (
                lambda: emfast_iteration(X, parameters, cov),
                lambda: emfast_dask_iteration(source, parameters, cov),
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
    result["means_rel_diff"] = means_rel_diff(params_dask.means, params_memory.means)
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
    sizes = workload_sizes(workloads, n_samples, quick)
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
    return run_record(
        start,
        "dask",
        results,
        quick=quick,
        n_samples=n_samples,
        schedulers=schedulers,
        chunk_rows=chunk_rows,
        repeat=repeat,
        seed=seed,
        reg_covar=REG_COVAR,
    )


def format_dask_overhead(results: dict) -> str:
    """A Markdown table of :func:`run_dask_overhead`'s results.

    See :func:`run_dask_overhead` for an example.
    """
    import dask

    s = results["settings"]
    description = (
        "One emfast EM iteration from identical initial parameters, median "
        f"of {s['repeat']}, one BLAS thread: in memory against the same "
        "data as dask.array.from_array(X, chunks=(rows, D)), as fit runs "
        "it (statistics per chunk, summed in a fixed tree, M-step on the "
        "client). threads: Dask's threaded scheduler, one Numba thread per "
        "chunk; distributed: a LocalCluster of worker processes with one "
        "thread each, the array persisted on the workers" + quick_note(s)
    )
    columns = [*WORKLOAD_COLUMNS, "scheduler", "chunks", "in memory s/iter"]
    columns += ["Dask s/iter", "ratio", "goal", "means rel. diff"]
    rows = []
    for r in results["dask"]:
        if r["scheduler"] == "threads":
            where = f"threads ({r['n_workers']} threads)"
        else:
            where = f"distributed ({r['n_workers']} processes x 1 thread)"
        rows.append(
            [
                *workload_cells(r),
                where,
                f"{r['n_chunks']} x {r['chunk_rows']:,}",
                f"{r['memory_seconds']:.4f}",
                f"{r['dask_seconds']:.4f}",
                f"{r['ratio']:.2f}×",
                f"{verdict(r['ratio'] <= r['goal'])} {r['goal']:g}×",
                f"{r['means_rel_diff']:.1e}",
            ]
        )
    machine = machine_line(
        results["machine"],
        ("python", "numpy", "numba"),
        extra=[("Dask", dask.__version__)],
    )
    return paragraphs(
        [machine, description],
        table(columns, WORKLOAD_ALIGN + "lrrrrlr", rows),
        [wall_time(results["seconds"])],
    )
