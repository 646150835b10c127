"""Fitting and scoring on Dask arrays: the block kernels run on each chunk
where it lives, and only sufficient statistics travel.

Each EM iteration builds one task graph: the fused statistics kernel on every
chunk of rows, then sums of the per-chunk statistics in a fixed tree (groups
of ``_FAN_IN`` in chunk order), so the result depends neither on the scheduler
nor on where the chunks ran. The client gets one set of statistics per
iteration and runs the M-step. The initialization makes the passes it makes
in memory (``_kmeans.MemoryRows``) chunk by chunk (``DaskRows``): the same
random draws, subsample and Lloyd iterations over all rows, so a Dask fit
starts where the in-memory fit starts; data of at most
``_kmeans.SUBSAMPLE_SIZE`` rows are initialized in memory. Prediction maps
the scoring kernel over the chunks and stays lazy.

Hidden Markov models (``DaskSequenceSource``) need whole sequences in each
chunk: each chunk's sequences run through the in-memory E-step and inference
(``_hmm_estep``) where the chunk lives, and only their sums (or, for
inference, the chunk's results) travel.

Dask is imported only here, and only when a Dask array is passed.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from functools import cached_property
from numbers import Integral

import numba
import numpy as np

from . import _kernels, _kmeans
from ._kmeans import MemoryRows
from ._sources import ArraySource, GaussianStats, fused_pass, score_rows
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


def _tree_sum(parts, combine=_sum_stats):
    """Sum delayed statistics in a fixed tree: groups of _FAN_IN in order
    (``combine`` adds a group)."""
    from dask import delayed

    while len(parts) > 1:
        parts = [
            delayed(combine, pure=True)(*parts[i : i + _FAN_IN])
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
    """A Dask array, with optional sample weights.

    Each E-step maps the fused kernel over the chunks and sums the
    statistics in a fixed tree (chunk order), one graph per iteration, so
    the result depends neither on the scheduler nor on where the chunks
    ran. The first pass also checks every value (NaN, inf, weights).
    Predictions are lazy. The initialization passes over the chunks, or
    over the data in memory when X has at most ``SUBSAMPLE_SIZE`` rows.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        The data, validated (as the estimators' ``fit`` does): 2-D, known
        chunk sizes, float32 or float64, all features in one chunk.
    sample_weight : dask.array.Array of shape (n_samples,), optional
        float64 weight of each row, chunked like X's rows.

    See Also
    --------
    ArraySource : A NumPy array in memory or memory-mapped.

    Examples
    --------
    >>> import dask, dask.array as da
    >>> import numpy as np
    >>> from emfast.engine import ArraySource, DaskSource, MixtureModel, Params
    >>> X = np.random.default_rng(0).normal(size=(1000, 2))
    >>> X.flags.writeable = False
    >>> model = MixtureModel(2, "full", 1e-6, "kmeans", X.dtype)
    >>> params = Params(np.array([0.5, 0.5]), X[:2], np.stack([np.eye(2)] * 2),
    ...                 np.stack([np.eye(2)] * 2))
    >>> with dask.config.set(scheduler="sync"):
    ...     stats = DaskSource(da.from_array(X, chunks=(300, 2))).e_step(
    ...         model.components(params))
    >>> in_memory = ArraySource(X).e_step(model.components(params))
    >>> bool(np.allclose(stats.nk, in_memory.nk, rtol=1e-12))
    True
    """

    def __init__(self, X, sample_weight=None):
        self.X = X
        self.sample_weight = sample_weight
        self._checked = False

    @cached_property
    def init_rows(self):
        """The rows the initialization passes over.

        The passes over the chunks, or, when X has at most
        ``SUBSAMPLE_SIZE`` rows, the in-memory passes over X computed (and
        checked).

        Examples
        --------
        >>> import dask, dask.array as da
        >>> import numpy as np
        >>> from emfast.engine import DaskSource
        >>> X = da.from_array(np.arange(8.0).reshape(4, 2), chunks=(2, 2))
        >>> with dask.config.set(scheduler="sync"):
        ...     rows = DaskSource(X).init_rows
        >>> type(rows).__name__, rows.n_samples
        ('MemoryRows', 4)
        """
        if n_rows(self.X) > _kmeans.SUBSAMPLE_SIZE:
            return DaskRows(self.X, self.sample_weight)
        from dask import compute

        if self.sample_weight is None:
            (X,) = compute(self.X)
            weights = None
        else:
            X, weights = compute(self.X, self.sample_weight)
        _check_values(X, weights)
        _check_not_all_zero(weights)
        return MemoryRows(as_kernel_input(np.asarray(X)), weights)

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def e_step(self, components, want_entropy=False) -> GaussianStats:
        """The fused E-step pass over every chunk, its sums added up.

        One task graph: the kernel on each chunk where it lives, then the
        chunks' sums in a fixed tree; only the statistics travel. The
        first call also checks every value.

        Parameters
        ----------
        components : Components
            The model's components.
        want_entropy : bool, default=False
            Also sum the entropy of the responsibilities.

        Returns
        -------
        stats : GaussianStats
            The sums, centred on the components' means.

        Raises
        ------
        ValueError
            When X has NaN or infinite values or the weights are invalid
            (checked on the first call), or the weights are all zero.

        Examples
        --------
        >>> import dask, dask.array as da
        >>> import numpy as np
        >>> from emfast.engine import Components, DaskSource
        >>> X = da.from_array(np.array([[0.0], [0.2], [4.0], [4.4]]), chunks=(2, 1))
        >>> components = Components(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                         np.ones((2, 1)), np.ones((2, 1)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> with dask.config.set(scheduler="sync"):
        ...     stats = DaskSource(X).e_step(components)
        >>> stats.total_weight, stats.nk.round(3)
        (4.0, array([1.999, 2.001]))
        """
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
            raise ValueError(_ALL_ZERO)
        return GaussianStats(ll, ent, total, nk, sx, sxx, components.means, args[-1])

    def scores(self, components, what):
        """Per-row results of the components, lazily.

        Parameters
        ----------
        components : Components
            The model's components.
        what : {'log_prob', 'labels', 'proba'}
            What to compute: log p(x) of each row, the most likely
            component, or the responsibilities.

        Returns
        -------
        scores : dask.array.Array
            'log_prob': float64 of shape (n_samples,); 'labels': int64 of
            shape (n_samples,); 'proba': shape (n_samples, n_components), in
            X's dtype. Chunked like X's rows.

        Examples
        --------
        >>> import dask, dask.array as da
        >>> import numpy as np
        >>> from emfast.engine import Components, DaskSource
        >>> X = da.from_array(np.array([[0.0], [0.2], [4.0], [4.4]]), chunks=(2, 1))
        >>> components = Components(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                         np.ones((2, 1)), np.ones((2, 1)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> labels = DaskSource(X).scores(components, "labels")
        >>> with dask.config.set(scheduler="sync"):
        ...     labels.compute()
        array([0, 0, 1, 1])
        """
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
        """The (weighted) mean of log p(x) over the rows, computed.

        Parameters
        ----------
        components : Components
            The model's components.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the mean (not the source's own weights).

        Returns
        -------
        mean_score : float
            The mean log-density.

        Examples
        --------
        >>> import dask, dask.array as da
        >>> import numpy as np
        >>> from emfast.engine import Components, DaskSource
        >>> X = da.from_array(np.array([[0.0], [0.2], [4.0], [4.4]]), chunks=(2, 1))
        >>> components = Components(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                         np.ones((2, 1)), np.ones((2, 1)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> with dask.config.set(scheduler="sync"):
        ...     mean_score = DaskSource(X).mean_score(components)
        >>> round(mean_score, 4)
        -1.6367
        """
        log_prob = self.scores(components, "log_prob").astype(self.dtype)
        if sample_weight is None:
            return float(log_prob.mean().compute())
        w = check_dask_weights(sample_weight, log_prob)
        from dask import compute

        total, weight = compute((log_prob * w).sum(), w.sum())
        return float(total / weight)

    def impute(self, components):
        """X with each missing value replaced by its conditional
        expectation, lazily.

        The in-memory :meth:`ArraySource.impute` mapped over the chunks.

        Parameters
        ----------
        components : Components
            The model's components.

        Returns
        -------
        X_imputed : dask.array.Array of shape (n_samples, n_features)
            X without NaN, in its dtype and chunks.

        Examples
        --------
        >>> import dask, dask.array as da
        >>> import numpy as np
        >>> from emfast.engine import Components, DaskSource
        >>> X = da.from_array(np.array([[0.0, 0.0], [np.nan, 4.0], [4.0, 4.0]]),
        ...                   chunks=(2, 2))
        >>> components = Components(np.array([0.5, 0.5]),
        ...                         np.array([[0.0, 0.0], [4.0, 4.0]]),
        ...                         np.ones((2, 2)), np.ones((2, 2)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> with dask.config.set(scheduler="sync"):
        ...     X_imputed = DaskSource(X).impute(components).compute()
        >>> X_imputed.round(2)
        array([[0., 0.],
               [4., 4.],
               [4., 4.]])
        """
        return self.X.map_blocks(_chunk_impute, components, dtype=self.X.dtype)

    def moments(self):
        """The mean and covariance of all rows, computed, for the priors.

        Weighted as frequency weights: integer weights give the moments of
        the repeated rows.

        Returns
        -------
        mean : ndarray of shape (n_features,)
            The (weighted) mean.
        covariance : ndarray of shape (n_features, n_features)
            The (weighted) covariance, with ddof=1.

        Examples
        --------
        >>> import dask, dask.array as da
        >>> import numpy as np
        >>> from emfast.engine import DaskSource
        >>> X = da.from_array(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 2.0]]),
        ...                   chunks=(2, 2))
        >>> with dask.config.set(scheduler="sync"):
        ...     mean, covariance = DaskSource(X).moments()
        >>> mean, covariance
        (array([2., 2.]), array([[4., 1.],
               [1., 1.]]))
        """
        return _moments(self.X, self.sample_weight)


def _moments(X, w):
    """``DaskSource.moments`` of X with row weights w (or None)."""
    from dask import compute

    X = X.astype(np.float64)
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


def n_rows(X) -> int:
    n = X.shape[0]
    if not isinstance(n, Integral):
        n = int(n)
    return n


_ALL_ZERO = "sample_weight must not be all zero"


def _check_not_all_zero(weights):
    if weights is not None and not (weights > 0).any():
        raise ValueError(_ALL_ZERO)


class DaskRows:
    """The passes of ``_kmeans.MemoryRows`` over a Dask array's chunks (the
    same attributes and methods): each pass maps a kernel over the chunks
    and sums their results in the fixed tree of ``_tree_sum`` (chunk
    order). k-means++'s per-row distances and the sample weights (when
    draws need them) are held by the client, one float per row. The first
    pass checks every value."""

    def __init__(self, X, sample_weight=None):
        self.X = X
        self.sample_weight = sample_weight
        self._checked = False

    @property
    def n_samples(self) -> int:
        return n_rows(self.X)

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @cached_property
    def weights(self):
        """The sample weights, computed (checked), or None."""
        if self.sample_weight is None:
            return None
        from dask import compute

        (weights,) = compute(self.sample_weight)
        weights = np.asarray(weights, dtype=np.float64)
        if not np.isfinite(weights).all():
            raise ValueError("sample_weight contains NaN or infinity.")
        if (weights < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`")
        _check_not_all_zero(weights)
        return weights

    def take(self, indices):
        """The rows at ``indices`` (in that order, repeats kept), computed
        and checked: a C-contiguous array of X's dtype."""
        from dask import compute

        indices = np.asarray(indices, dtype=np.int64)
        unique, inverse = np.unique(indices, return_inverse=True)
        (rows,) = compute(self.X[unique])
        rows = np.asarray(rows)
        _check_values(rows, None)
        return np.ascontiguousarray(rows[inverse.ravel()])

    def feature_variance(self):
        """The (weighted) variance of each feature."""
        from dask import compute

        X = self.X.astype(np.float64)
        w = self.sample_weight
        if w is None:
            (variance,) = compute(X.var(axis=0))
            return variance
        total, weighted_sum = compute(w.sum(), (X * w[:, None]).sum(axis=0))
        mean = weighted_sum / total
        (scatter,) = compute((((X - mean) ** 2) * w[:, None]).sum(axis=0))
        return scatter / total

    def _sum(self, func, *args, per_chunk=None, X=None, sample_weight=None):
        """func(block, weights, check, *args) summed over the chunks (a
        tuple of arrays and numbers), in the fixed tree; with ``per_chunk``,
        chunk i's call gets per_chunk[i] as its last argument. ``X`` and
        ``sample_weight``: another chunking of the same rows."""
        from dask import compute, delayed

        if X is None:
            X, sample_weight = self.X, self.sample_weight
        blocks = _row_blocks(X, sample_weight)
        last = [()] * len(blocks) if per_chunk is None else [(p,) for p in per_chunk]
        check = not self._checked
        parts = [
            delayed(func, pure=True)(b, w, check, *args, *extra)
            for (b, w), extra in zip(blocks, last)
        ]
        (total,) = compute(_tree_sum(parts))
        self._checked = True
        return total

    def update_closest(self, center, closest):
        """closest[i] = min(closest[i], ||x_i - center||^2), in place (the
        client's array; each chunk returns its part)."""
        from dask import compute, delayed

        check = not self._checked
        bounds = _row_bounds(self.X)
        parts = [
            delayed(_chunk_closest, pure=True)(b, check, center, closest[lo:hi])
            for b, (lo, hi) in zip(self.X.to_delayed().ravel(), bounds)
        ]
        for (lo, hi), part in zip(bounds, compute(*parts)):
            closest[lo:hi] = part
        self._checked = True

    def labels(self, centers):
        """Each row's nearest centre (int64, computed), as
        ``_kernels.lloyd_step`` assigns them."""
        from dask import compute

        check = not self._checked
        labels = self.X.map_blocks(
            _chunk_labels, check, centers, dtype=np.int64, drop_axis=1
        )
        (labels,) = compute(labels)
        self._checked = True
        return labels

    def candidate_potentials(self, candidates, closest):
        """For each candidate c: sum_i w_i min(closest[i], ||x_i - c||^2)."""
        pieces = [closest[lo:hi] for lo, hi in _row_bounds(self.X)]
        return self._sum(_chunk_potentials, candidates, per_chunk=pieces)[0]

    def lloyd_step(self, centers):
        """(counts, sums, inertia) of ``_kernels.lloyd_step`` over all rows."""
        return self._sum(_chunk_lloyd, centers)

    def resp_stats(self, centers, cov_code, center, resp_mode, seed):
        """(nk, sx, sxx) as ``_kmeans.MemoryRows.resp_stats``. Random
        responsibilities are drawn per block of rows from ``seed`` plus the
        block's index in X: for them the chunks are cut at block
        boundaries (a lazy rechunk), so every row gets the draws it gets in
        memory."""
        X, w = self.X, self.sample_weight
        seeds = [seed] * len(X.chunks[0])
        if resp_mode == _kernels.RESP_RANDOM:
            X, w = _block_aligned(X, w)
            block = _kernels._block_rows(X.shape[1])
            seeds = [seed + lo // block for lo, _ in _row_bounds(X)]
        return self._sum(
            _chunk_resp_stats,
            centers,
            cov_code,
            center,
            resp_mode,
            per_chunk=seeds,
            X=X,
            sample_weight=w,
        )


def _row_bounds(X):
    """(first row, end row) of each chunk of rows."""
    ends = np.cumsum(X.chunks[0])
    return list(zip([0, *ends[:-1].tolist()], ends.tolist()))


def _block_aligned(X, sample_weight):
    """X (and its weights) rechunked so that every chunk starts at a
    multiple of the kernels' block of rows."""
    block = _kernels._block_rows(X.shape[1])
    n_samples = n_rows(X)
    starts = sorted({lo - lo % block for lo, _ in _row_bounds(X)})
    chunks = tuple(np.diff([*starts, n_samples]).tolist())
    X = X.rechunk({0: chunks})
    if sample_weight is not None:
        sample_weight = sample_weight.rechunk((chunks,))
    return X, sample_weight


def _chunk_input(block, weights, check):
    if check:
        _check_values(block, weights)
    w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    return as_kernel_input(block), _kernels.weights_arg(w)


def _chunk_closest(block, check, center, closest):
    block, _ = _chunk_input(block, None, check)
    closest = np.array(closest)  # the worker's own copy
    with _kernel_threads():
        _kernels.update_closest(block, center, closest)
    return closest


def _chunk_labels(block, check, centers):
    block, _ = _chunk_input(block, None, check)
    labels = np.empty(block.shape[0], dtype=np.int64)
    with _kernel_threads():
        _kernels.lloyd_step(block, centers, labels, _kernels.NO_WEIGHTS)
    return labels


def _chunk_potentials(block, weights, check, candidates, closest):
    block, w = _chunk_input(block, weights, check)
    with _kernel_threads():
        return (
            _kernels.candidate_potentials(
                block, candidates, np.ascontiguousarray(closest), w
            ),
        )


def _chunk_lloyd(block, weights, check, centers):
    block, w = _chunk_input(block, weights, check)
    with _kernel_threads():
        return _kernels.lloyd_step(block, centers, _kernels.NO_LABELS, w)


def _chunk_resp_stats(block, weights, check, centers, cov_code, center, mode, seed):
    """One chunk's ``MemoryRows.resp_stats`` (for random responsibilities
    the chunk starts at a block boundary, and ``seed`` is X's seed plus the
    index of that block)."""
    if check:
        _check_values(block, weights)
    w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    rows = MemoryRows(as_kernel_input(block), w)
    with _kernel_threads():
        return rows.resp_stats(centers, cov_code, center, mode, seed)


# --------------------------------------------------------------------------
# Sequences (hidden Markov models)


def sequence_chunk_sizes(starts, chunks) -> tuple:
    """Row chunk sizes that hold whole sequences (cut by ``starts``): each
    boundary of the row chunk sizes ``chunks`` moved to the next sequence
    start; chunks left empty are dropped."""
    n_samples = int(starts[-1])
    inner = np.cumsum(np.asarray(chunks, dtype=np.int64))[:-1]
    bounds = np.unique(starts[np.searchsorted(starts, inner)])
    bounds = bounds[(bounds > 0) & (bounds < n_samples)]
    return tuple(np.diff([0, *bounds.tolist(), n_samples]).tolist())


def chunk_sequences(starts, chunks) -> list:
    """The sequences (first, last) of each row chunk (sizes ``chunks``);
    ValueError when a chunk boundary falls inside a sequence."""
    ends = np.cumsum(np.asarray(chunks, dtype=np.int64))
    firsts = np.concatenate([[0], ends[:-1]])
    index = np.searchsorted(starts, firsts)
    inside = np.flatnonzero(starts[index] != firsts)
    if inside.size:
        row = int(firsts[inside[0]])
        s = int(index[inside[0]]) - 1
        sizes = sequence_chunk_sizes(starts, chunks)
        shown = (
            f"X.rechunk({{0: {sizes}}}), "
            if len(sizes) <= 10
            else f"X.rechunk({{0: chunks}}) with {len(sizes)} chunks, "
        )
        raise ValueError(
            "The row chunks of a Dask array of sequences must hold whole "
            f"sequences, but the chunk boundary at row {row} falls inside "
            f"sequence {s} (rows {int(starts[s])}:{int(starts[s + 1])}). "
            f"Rechunk X at sequence boundaries: for example {shown}where "
            "chunks = emfast.hmm.sequence_chunks(lengths, X.chunks[0]) moves "
            "each boundary to the next sequence start (persist the rechunked "
            "array when it is read more than once)."
        )
    lasts = np.concatenate([index[1:], [starts.shape[0] - 1]])
    return list(zip(index.tolist(), lasts.tolist()))


def _sequence_weights(starts, seq_weight, chunk_bounds):
    """The rows' weights (each sequence's weight on each of its rows),
    lazily, chunked like the rows."""
    import dask.array as da
    from dask import delayed

    parts = []
    for first, last in chunk_bounds:
        lengths = np.diff(starts[first : last + 1])
        rows = delayed(np.repeat, pure=True)(seq_weight[first:last], lengths)
        parts.append(
            da.from_delayed(rows, shape=(int(lengths.sum()),), dtype=np.float64)
        )
    return da.concatenate(parts)


def _chunk_sequences(block, starts, seq_weight, check, func, args):
    """func(source, starts, seq_weight, *args) on one chunk of whole
    sequences: an ``ArraySource`` of the chunk, its rows weighted by their
    sequence's weight."""
    if check:
        _check_values(block, None)
    weights = None
    if seq_weight.shape[0]:
        weights = np.repeat(seq_weight, np.diff(starts))
    source = ArraySource(as_kernel_input(block), weights)
    with _kernel_threads():
        return func(source, starts, seq_weight, *args)


def _checked_block(block):
    _check_values(block, None)
    return block


class DaskSequenceSource(DaskSource):
    """A validated Dask array (``check_dask_array``) of sequences cut by
    ``starts`` (``hmm.sequence_starts``), whose row chunks hold whole
    sequences (``chunk_sequences``), with optional weights per sequence
    (validated, in memory). ``map_sequences`` runs a function of one chunk's
    sequences where each chunk lives, one graph per call; the first pass
    checks every value. The start passes over the rows as ``DaskSource``
    does, each row weighted by its sequence's weight.

    Examples
    --------
    >>> import dask, dask.array as da
    >>> import numpy as np
    >>> from emfast._dask import DaskSequenceSource
    >>> X = da.from_array(np.arange(10.0).reshape(5, 2), chunks=(2, 2))
    >>> starts = np.array([0, 2, 5])  # sequences of 2 and 3 rows
    >>> DaskSequenceSource(X, starts)
    Traceback (most recent call last):
    ...
    ValueError: The row chunks of a Dask array of sequences must hold whole ...
    >>> source = DaskSequenceSource(X.rechunk({0: (2, 3)}), starts)
    >>> def shape(source, starts, seq_weight):
    ...     return source.X.shape[0], len(starts) - 1
    >>> with dask.config.set(scheduler="sync"):
    ...     source.map_sequences(shape, ())
    [(2, 1), (3, 1)]
    """

    def __init__(self, X, starts, seq_weight=None):
        self.starts = starts
        self.seq_weight = seq_weight
        self._chunk_bounds = chunk_sequences(starts, X.chunks[0])
        row_weight = None
        if seq_weight is not None:
            row_weight = _sequence_weights(starts, seq_weight, self._chunk_bounds)
            row_weight = row_weight.rechunk((X.chunks[0],))
        super().__init__(X, row_weight)

    def map_sequences(self, func, args, combine=None):
        """func(source, starts, seq_weight, *args) on every chunk, on the
        workers: ``source`` an ``ArraySource`` of the chunk (rows weighted),
        ``starts`` its sequences' offsets in the chunk, ``seq_weight`` their
        weights (or empty). Returns the results combined by ``combine`` in
        a fixed tree of chunk order (``_tree_sum``), or without
        ``combine``, the list of the chunks' results, in chunk order."""
        from dask import compute, delayed

        shared = delayed(args, traverse=False)  # once in the graph
        no_weights = np.empty(0)
        check = not self._checked
        parts = []
        blocks = self.X.to_delayed().ravel()
        for block, (first, last) in zip(blocks, self._chunk_bounds):
            starts = self.starts[first : last + 1] - self.starts[first]
            if self.seq_weight is None:
                seq_weight = no_weights
            else:
                seq_weight = self.seq_weight[first:last]
            parts.append(
                delayed(_chunk_sequences, pure=True)(
                    block, starts, seq_weight, check, func, shared
                )
            )
        if combine is None:
            result = list(compute(*parts))
        else:
            (result,) = compute(_tree_sum(parts, combine))
        self._checked = True
        return result

    def moments(self):
        """``DaskSource.moments``; a first pass over the data checks its
        values."""
        X = self.X
        if not self._checked:
            X = X.map_blocks(_checked_block, dtype=X.dtype)
        return _moments(X, self.sample_weight)
