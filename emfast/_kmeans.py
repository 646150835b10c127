"""k-means++ seeding and Lloyd iterations on the block kernels.

Both run on *rows*: an object that makes the passes over the data they need
(``MemoryRows`` for an array in memory or memory-mapped; ``_dask.DaskRows``
makes the same passes chunk by chunk), so a start is the same on every data
source.
"""

from __future__ import annotations

import numpy as np

from . import _kernels


class MemoryRows:
    """Rows of an array in the kernels' form (``_validation.as_kernel_input``)
    with optional sample weights: the passes over the data that k-means and
    the starts of ``_init`` make.

    ``_dask.DaskRows`` has the same attributes and methods, chunk by chunk.
    """

    def __init__(self, X, sample_weight=None):
        self.X = X
        self.sample_weight = sample_weight
        self._weights = _kernels.weights_arg(sample_weight)

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def weights(self):
        """The sample weights as a NumPy array in memory, or None."""
        return self.sample_weight

    def take(self, indices):
        """The rows at ``indices`` (in that order, repeats kept), a new
        C-contiguous array of X's dtype."""
        return np.ascontiguousarray(self.X[indices])

    def feature_variance(self):
        """The (weighted) variance of each feature."""
        X, w = self.X, self.sample_weight
        if w is None:
            return np.var(X, axis=0)
        mean = np.average(X, axis=0, weights=w)
        return np.average((X - mean) ** 2, axis=0, weights=w)

    def update_closest(self, center, closest):
        """closest[i] = min(closest[i], ||x_i - center||^2), in place."""
        _kernels.update_closest(self.X, center, closest)

    def candidate_potentials(self, candidates, closest):
        """For each candidate c: sum_i w_i min(closest[i], ||x_i - c||^2)."""
        return _kernels.candidate_potentials(self.X, candidates, closest, self._weights)

    def lloyd_step(self, centers):
        """(counts, sums, inertia) of ``_kernels.lloyd_step``."""
        return _kernels.lloyd_step(self.X, centers, _kernels.NO_LABELS, self._weights)

    def resp_stats(self, centers, cov_code, center, resp_mode, seed):
        """(nk, sx, sxx) of ``_kernels.sufficient_stats`` for the
        responsibilities of ``resp_mode`` (RESP_NEAREST: one-hot to the
        nearest centre; RESP_RANDOM: random, drawn per block of rows from
        ``seed`` + the block's index)."""
        n_features = self.X.shape[1]
        _, _, nk, sx, sxx = _kernels.sufficient_stats(
            self.X,
            centers,
            np.empty((0, n_features, n_features)),
            np.empty((0, n_features)),
            np.zeros(centers.shape[0]),
            cov_code,
            center,
            resp_mode,
            _kernels.NO_LABELS,
            seed,
            self._weights,
            False,
        )
        return nk, sx, sxx


def kmeans_plusplus(rows, n_clusters: int, random_state: np.random.RandomState):
    """Greedy k-means++ seeding (as sklearn's ``kmeans_plusplus``) on
    ``rows`` (``MemoryRows`` or ``_dask.DaskRows``), weighted by their
    sample weights.

    Points are drawn through cumulative sums of their (weighted) probabilities,
    so integer ``sample_weight`` gives the same seeds as repeating rows.
    Returns ``(centers, indices)``: float64 centres (n_clusters, D) and the
    row indices they were taken from.
    """
    n_samples = rows.n_samples
    sample_weight = rows.weights
    n_local_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, rows.n_features))
    indices = np.empty(n_clusters, dtype=np.int64)

    if sample_weight is None:
        first = min(int(random_state.uniform() * n_samples), n_samples - 1)
    else:
        cumulative = np.cumsum(sample_weight)
        first = int(
            np.searchsorted(
                cumulative, random_state.uniform() * cumulative[-1], "right"
            )
        )
        first = min(first, n_samples - 1)
    centers[0] = rows.take([first])[0]
    indices[0] = first
    closest = np.full(n_samples, np.inf)
    rows.update_closest(centers[0], closest)

    for c in range(1, n_clusters):
        mass = closest if sample_weight is None else closest * sample_weight
        cumulative = np.cumsum(mass)
        draws = random_state.uniform(size=n_local_trials) * cumulative[-1]
        candidates = np.searchsorted(cumulative, draws)
        np.clip(candidates, None, n_samples - 1, out=candidates)
        cand_points = np.ascontiguousarray(rows.take(candidates), dtype=np.float64)
        potentials = rows.candidate_potentials(cand_points, closest)
        best = int(np.argmin(potentials))
        centers[c] = cand_points[best]
        indices[c] = candidates[best]
        rows.update_closest(centers[c], closest)
    return centers, indices


def sample_rows(n_samples: int, size: int, random_state: np.random.RandomState):
    """``size`` distinct row indices out of ``n_samples``, in random order.

    Unlike ``RandomState.choice(n_samples, size, replace=False)`` it makes no
    permutation of all ``n_samples`` rows (80 MB for ten million points)."""
    if 2 * size >= n_samples:
        return random_state.permutation(n_samples)[:size]
    rows = np.unique(random_state.randint(0, n_samples, size))
    while rows.size < size:
        more = random_state.randint(0, n_samples, size - rows.size)
        rows = np.unique(np.concatenate([rows, more]))
    return random_state.permutation(rows)


def draw_rows(rows, size: int, random_state: np.random.RandomState):
    """``size`` row indices of ``rows``: distinct ones drawn uniformly
    (``sample_rows``), or with sample weights drawn in proportion to them
    (with repeats), in random order."""
    sample_weight = rows.weights
    if sample_weight is None:
        return sample_rows(rows.n_samples, size, random_state)
    cumulative = np.cumsum(sample_weight)
    draws = random_state.uniform(size=size) * cumulative[-1]
    drawn = np.searchsorted(cumulative, draws, "right")
    return np.clip(drawn, None, rows.n_samples - 1, out=drawn)


def nearest_labels(rows, centers):
    """Each row's nearest centre (squared Euclidean distance, ties to the
    lower index), as Lloyd's step assigns them: ``MemoryRows`` or, chunk by
    chunk, ``_dask.DaskRows``."""
    if not isinstance(rows, MemoryRows):
        return rows.labels(centers)
    labels = np.empty(rows.n_samples, dtype=np.int64)
    _kernels.lloyd_step(rows.X, centers, labels, _kernels.NO_WEIGHTS)
    return labels


# k-means on more points than this starts on a random subsample of this many
# rows, then refines on all of them: seeding costs about
# n_clusters * (3 + log(n_clusters)) passes over the points it sees.
SUBSAMPLE_SIZE = 50_000
# Seedings tried on the subsample (the lowest inertia wins): each costs little
# next to one pass over all points, and a poor start costs a worse optimum.
SUBSAMPLE_INITS = 3


def _lloyd(rows, centers, max_iter, threshold):
    """Lloyd iterations from ``centers`` until the squared centre shift is at
    most ``threshold``; returns (centers, iterations run, inertia of the
    last assignment)."""
    for n_iter in range(1, max_iter + 1):
        counts, sums, inertia = rows.lloyd_step(centers)
        shift = np.zeros_like(centers)
        filled = counts > 0
        shift[filled] = sums[filled] / counts[filled, None]
        centers = centers + shift
        if np.sum(shift**2) <= threshold:
            return centers, n_iter, inertia
    return centers, max_iter, inertia


def kmeans(
    rows,
    n_clusters: int,
    random_state: np.random.RandomState,
    max_iter: int = 300,
    tol: float = 1e-4,
):
    """Lloyd's k-means from a k-means++ start, as sklearn's ``KMeans(n_init=1)``,
    on ``rows`` (``MemoryRows`` or ``_dask.DaskRows``), weighted by their
    sample weights.

    Stops when the squared centre shift is at most ``tol`` times the mean
    feature variance (of the subsample, on large data), or after ``max_iter``
    iterations. An empty cluster keeps its centre. On more than
    ``SUBSAMPLE_SIZE`` points, seeding and the first Lloyd iterations run on a
    random subsample of that size (drawn in proportion to the sample weights
    when given), from ``SUBSAMPLE_INITS`` seedings (the lowest inertia is
    kept), and Lloyd iterations on all points finish the job. Returns the
    centres; no (n_samples,) label array is made (the initial
    responsibilities are one-hot to the nearest centre, computed inside the
    statistics pass).
    """
    n_samples = rows.n_samples
    subsample_size = max(SUBSAMPLE_SIZE, 100 * n_clusters)
    if n_samples > subsample_size:
        sub = rows.take(np.sort(draw_rows(rows, subsample_size, random_state)))
        sub.flags.writeable = False  # the form the kernels are compiled for
        sub = MemoryRows(sub)
        threshold = tol * float(np.mean(sub.feature_variance()))
        best_inertia = np.inf
        for _ in range(SUBSAMPLE_INITS):
            seeds, _ = kmeans_plusplus(sub, n_clusters, random_state)
            found, _, inertia = _lloyd(sub, seeds, max_iter, threshold)
            if inertia < best_inertia:
                centers, best_inertia = found, inertia
    else:
        threshold = tol * float(np.mean(rows.feature_variance()))
        centers, _ = kmeans_plusplus(rows, n_clusters, random_state)
    centers, _, _ = _lloyd(rows, centers, max_iter, threshold)
    return centers
