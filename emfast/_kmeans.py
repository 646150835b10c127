"""k-means++ seeding and Lloyd iterations on the block kernels."""

from __future__ import annotations

import numpy as np

from . import _kernels


def kmeans_plusplus(
    X, n_clusters: int, random_state: np.random.RandomState, sample_weight=None
):
    """Greedy k-means++ seeding (as sklearn's ``kmeans_plusplus``).

    Points are drawn through cumulative sums of their (weighted) probabilities,
    so integer ``sample_weight`` gives the same seeds as repeating rows.
    Returns ``(centers, indices)``: float64 centres (n_clusters, D) and the
    row indices they were taken from.
    """
    n_samples = X.shape[0]
    weights = _kernels.weights_arg(sample_weight)
    n_local_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, X.shape[1]))
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
    centers[0] = X[first]
    indices[0] = first
    closest = np.full(n_samples, np.inf)
    _kernels.update_closest(X, centers[0], closest)

    for c in range(1, n_clusters):
        mass = closest if sample_weight is None else closest * sample_weight
        cumulative = np.cumsum(mass)
        draws = random_state.uniform(size=n_local_trials) * cumulative[-1]
        candidates = np.searchsorted(cumulative, draws)
        np.clip(candidates, None, n_samples - 1, out=candidates)
        cand_points = np.ascontiguousarray(X[candidates], dtype=np.float64)
        potentials = _kernels.candidate_potentials(X, cand_points, closest, weights)
        best = int(np.argmin(potentials))
        centers[c] = cand_points[best]
        indices[c] = candidates[best]
        _kernels.update_closest(X, centers[c], closest)
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


# k-means on more points than this starts on a random subsample of this many
# rows, then refines on all of them: seeding costs about
# n_clusters * (3 + log(n_clusters)) passes over the points it sees.
SUBSAMPLE_SIZE = 50_000
# Seedings tried on the subsample (the lowest inertia wins): each costs little
# next to one pass over all points, and a poor start costs a worse optimum.
SUBSAMPLE_INITS = 3


def _lloyd(X, centers, max_iter, threshold, weights=_kernels.NO_WEIGHTS):
    """Lloyd iterations from ``centers`` until the squared centre shift is at
    most ``threshold``; returns (centers, iterations run, inertia of the
    last assignment)."""
    for n_iter in range(1, max_iter + 1):
        counts, sums, inertia = _kernels.lloyd_step(
            X, centers, _kernels.NO_LABELS, weights
        )
        shift = np.zeros_like(centers)
        filled = counts > 0
        shift[filled] = sums[filled] / counts[filled, None]
        centers = centers + shift
        if np.sum(shift**2) <= threshold:
            return centers, n_iter, inertia
    return centers, max_iter, inertia


def kmeans(
    X,
    n_clusters: int,
    random_state: np.random.RandomState,
    max_iter: int = 300,
    tol: float = 1e-4,
    sample_weight=None,
):
    """Lloyd's k-means from a k-means++ start, as sklearn's ``KMeans(n_init=1)``.

    Stops when the squared centre shift is at most ``tol`` times the mean
    feature variance (of the subsample, on large data), or after ``max_iter``
    iterations. An empty cluster keeps its centre. On more than
    ``SUBSAMPLE_SIZE`` points, seeding and the first Lloyd iterations run on a
    random subsample of that size (drawn in proportion to ``sample_weight``
    when given), from ``SUBSAMPLE_INITS`` seedings (the lowest inertia is
    kept), and Lloyd iterations on all points finish the job. Returns the
    centres; no (n_samples,) label array is made (the initial
    responsibilities are one-hot to the nearest centre, computed inside the
    statistics pass).
    """
    n_samples = X.shape[0]
    weights = _kernels.weights_arg(sample_weight)
    subsample_size = max(SUBSAMPLE_SIZE, 100 * n_clusters)
    if n_samples > subsample_size:
        if sample_weight is None:
            rows = sample_rows(n_samples, subsample_size, random_state)
        else:
            cumulative = np.cumsum(sample_weight)
            draws = random_state.uniform(size=subsample_size) * cumulative[-1]
            rows = np.searchsorted(cumulative, draws, "right")
            np.clip(rows, None, n_samples - 1, out=rows)
        sub = np.ascontiguousarray(X[np.sort(rows)])
        sub.flags.writeable = False  # the form the kernels are compiled for
        threshold = tol * float(np.mean(np.var(sub, axis=0)))
        best_inertia = np.inf
        for _ in range(SUBSAMPLE_INITS):
            seeds, _ = kmeans_plusplus(sub, n_clusters, random_state)
            found, _, inertia = _lloyd(sub, seeds, max_iter, threshold)
            if inertia < best_inertia:
                centers, best_inertia = found, inertia
    else:
        if sample_weight is None:
            variance = np.var(X, axis=0)
        else:
            mean = np.average(X, axis=0, weights=sample_weight)
            variance = np.average((X - mean) ** 2, axis=0, weights=sample_weight)
        threshold = tol * float(np.mean(variance))
        centers, _ = kmeans_plusplus(X, n_clusters, random_state, sample_weight)
    centers, _, _ = _lloyd(X, centers, max_iter, threshold, weights)
    return centers
