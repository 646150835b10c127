"""Fitting and scoring on Dask arrays: the block kernels run on each chunk
where it lives, and only sufficient statistics travel.

Each EM iteration builds one task graph: the fused statistics kernel on every
chunk of rows, then sums of the per-chunk statistics in a fixed tree (groups
of ``_FAN_IN`` in chunk order), so the result depends neither on the scheduler
nor on where the chunks ran. The client gets one set of statistics per
iteration and runs the M-step. Initialization runs in memory on a random
sample of at most ``_kmeans.SUBSAMPLE_SIZE`` rows (all rows when there are no
more). Prediction maps the scoring kernel over the chunks and stays lazy.

Dask is imported only here, and only when a Dask array is passed.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from numbers import Integral

import numba
import numpy as np

from ._kmeans import SUBSAMPLE_SIZE, sample_rows
from ._sources import GaussianStats, fused_pass, score_rows
from ._validation import as_kernel_input

# Chunk statistics are summed in groups of this many, in chunk order.
_FAN_IN = 8


def is_dask_array(X) -> bool:
    """Whether X is a ``dask.array.Array`` (without importing Dask)."""
    return type(X).__module__.split(".")[:2] == ["dask", "array"] and hasattr(
        X, "chunks"
    )


def check_dask_array(X, n_features=None):
    """Validate a Dask array: 2-D, known chunk sizes, a real numeric dtype
    (float32 and float64 kept, others cast to float64), all features in one
    chunk. Values are checked later, in the first pass over the data."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D Dask array, got {X.ndim} dimension(s) instead; "
            "reshape the data (one row per sample)"
        )
    if any(np.isnan(c) for c in X.chunks[0]) or any(np.isnan(c) for c in X.chunks[1]):
        raise ValueError(
            "The Dask array has unknown chunk sizes (NaN in X.chunks); call "
            "X.compute_chunk_sizes() first"
        )
    dtype = np.dtype(X.dtype)
    if dtype.kind not in "biuf":
        raise ValueError(
            f"The Dask array has dtype {dtype}; expected real numbers "
            "(float32 or float64; integers and booleans are cast to float64)"
        )
    if dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but GaussianMixture is expecting "
            f"{n_features} features as input."
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def check_dask_weights(sample_weight, X):
    """sample_weight as a Dask array chunked like X's rows (or None)."""
    if sample_weight is None:
        return None
    import dask.array as da

    if is_dask_array(sample_weight):
        w = sample_weight.astype(np.float64)
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(X.shape[0], float(w))
    if w.ndim != 1 or w.shape[0] != X.shape[0]:
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({X.shape[0]},)!")
    if not is_dask_array(w):
        return da.from_array(w, chunks=(X.chunks[0],))
    return w.rechunk((X.chunks[0],))


def _check_values(block, weights):
    """Raised on a worker, reaches the caller: the chunk has NaN or inf, or
    bad weights."""
    if not np.isfinite(block).all():
        raise ValueError(
            "Input X contains NaN or infinity; a Dask array must be finite "
            "(nan_policy='raise' is the only policy for Dask arrays)"
        )
    if weights is not None:
        if not np.isfinite(weights).all():
            raise ValueError("sample_weight contains NaN or infinity.")
        if (weights < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`")


@contextmanager
def _kernel_threads():
    """Numba threads for one chunk's kernel: all of them when the chunk runs
    alone in its process (the main thread), one when the scheduler runs
    chunks in several threads (each thread then keeps a core busy). The
    kernels themselves take care of threading layers that cannot launch
    from several threads at once (see ``_jit``). The number of threads never
    changes a result."""
    if threading.current_thread() is threading.main_thread():
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _chunk_stats(block, weights, args, want_entropy, check):
    """Sums of one chunk (``_sources.fused_pass`` with
    ``Components.pass_args``'s ``args``), plus the chunk's total weight."""
    if check:
        _check_values(block, weights)
    block = as_kernel_input(block)
    w = None if weights is None else np.ascontiguousarray(weights)
    with _kernel_threads():
        sums = fused_pass(block, args, w, want_entropy)
    total = float(block.shape[0]) if weights is None else float(weights.sum())
    return (*sums, total)


def _sum_stats(*parts):
    """Element-wise sum of chunk statistics, in the order given."""
    total = list(parts[0])
    for part in parts[1:]:
        for i, value in enumerate(part):
            total[i] = total[i] + value
    return tuple(total)


def _tree_sum(parts):
    """Sum delayed statistics in a fixed tree: groups of _FAN_IN in order."""
    from dask import delayed

    while len(parts) > 1:
        parts = [
            delayed(_sum_stats, pure=True)(*parts[i : i + _FAN_IN])
            for i in range(0, len(parts), _FAN_IN)
        ]
    return parts[0]


def _chunk_scores(block, components, what):
    with _kernel_threads():
        return score_rows(as_kernel_input(block), components, what)


def _chunk_impute(block, components):
    from ._missing import impute_missing

    with _kernel_threads():
        return impute_missing(as_kernel_input(block), components)


class DaskSource:
    """A validated Dask array (``check_dask_array``) with optional weights
    (``check_dask_weights``): each E-step maps the fused kernel over the
    chunks and sums the statistics in a fixed tree (chunk order), one graph
    per iteration. The first pass also checks every value (NaN, inf,
    weights). Predictions are lazy. The initialization sees a random sample
    of at most ``SUBSAMPLE_SIZE`` rows (all rows when X has no more), drawn
    with ``random_state`` when one is given."""

    def __init__(self, X, sample_weight=None, random_state=None):
        self.X = X
        self.sample_weight = sample_weight
        self._checked = False
        if random_state is not None:
            self.init_X, self.init_weight = _initial_sample(
                X, sample_weight, random_state
            )

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def e_step(self, components, want_entropy=False) -> GaussianStats:
        from dask import compute, delayed

        args = components.pass_args()
        check = not self._checked
        parts = [
            delayed(_chunk_stats, pure=True)(b, w, args, want_entropy, check)
            for b, w in _row_blocks(self.X, self.sample_weight)
        ]
        ((ll, ent, nk, sx, sxx, total),) = compute(_tree_sum(parts))
        self._checked = True
        if total <= 0:
            raise ValueError("sample_weight must not be all zero")
        return GaussianStats(ll, ent, total, nk, sx, sxx, components.means, args[-1])

    def scores(self, components, what):
        """Lazy per-row results: 'labels' (int64), 'proba' (n_samples, K)
        in X's dtype, or 'log_prob' (float64)."""
        X = self.X
        if what == "proba":
            return X.map_blocks(
                _chunk_scores,
                components,
                what,
                dtype=X.dtype,
                chunks=(X.chunks[0], (components.n_components,)),
            )
        dtype = np.int64 if what == "labels" else np.float64
        return X.map_blocks(_chunk_scores, components, what, dtype=dtype, drop_axis=1)

    def mean_score(self, components, sample_weight=None) -> float:
        """The (weighted) mean of log p(x), computed."""
        log_prob = self.scores(components, "log_prob").astype(self.dtype)
        if sample_weight is None:
            return float(log_prob.mean().compute())
        w = check_dask_weights(sample_weight, log_prob)
        from dask import compute

        total, weight = compute((log_prob * w).sum(), w.sum())
        return float(total / weight)

    def impute(self, components):
        """``impute`` of every chunk, lazily."""
        return self.X.map_blocks(_chunk_impute, components, dtype=self.X.dtype)

    def moments(self):
        """(mean, covariance with ddof=1) of all rows, weighted as frequency
        weights."""
        from dask import compute

        X = self.X.astype(np.float64)
        w = self.sample_weight
        if w is None:
            total = float(X.shape[0])
            mean = X.mean(axis=0)
            (mean,) = compute(mean)
            centred = X - mean
            scatter = centred.T @ centred
        else:
            total, weighted_sum = compute(w.sum(), (X * w[:, None]).sum(axis=0))
            mean = weighted_sum / total
            centred = X - mean
            scatter = (centred * w[:, None]).T @ centred
        (scatter,) = compute(scatter)
        return mean, np.atleast_2d(scatter / (total - 1.0))


def _row_blocks(X, sample_weight):
    blocks = X.to_delayed().ravel()
    if sample_weight is None:
        return [(b, None) for b in blocks]
    return list(zip(blocks, sample_weight.to_delayed().ravel()))


def _initial_sample(X, sample_weight, random_state):
    """A random sample of at most SUBSAMPLE_SIZE rows of X (all rows when X
    has no more), in memory, with their weights; checked for finite values."""
    n_samples = X.shape[0]
    if n_samples <= SUBSAMPLE_SIZE:
        rows = slice(None)
    else:
        rows = np.sort(sample_rows(n_samples, SUBSAMPLE_SIZE, random_state))
    from dask import compute

    if sample_weight is None:
        (sample,) = compute(X[rows])
        weights = None
    else:
        sample, weights = compute(X[rows], sample_weight[rows])
    _check_values(sample, weights)
    if weights is not None and not (weights > 0).any():
        raise ValueError("sample_weight is zero on every row of the sample")
    return as_kernel_input(np.asarray(sample)), weights


def n_rows(X) -> int:
    n = X.shape[0]
    if not isinstance(n, Integral):
        n = int(n)
    return n
