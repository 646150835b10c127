"""Starts computed on a subsample: the 'hierarchical' start, and the
density-peak start that 'small-em' also tries.

They, and small EM's random start (``random_points_stats``), see at most
``SUBSAMPLE_SIZE`` distinct rows (``_subsample``: with sample weights, rows
drawn in proportion to them, each weighted by how often it was drawn), so
their time and memory do not grow with the data, and they return statistics
(``_sources.GaussianStats``, scaled to the data's total weight) that a
model's M-step turns into its start.

**Hierarchical** (``hierarchical_stats``): model-based agglomerative
hierarchical clustering, as mclust's ``hc`` starts EM.

1. Cut the subsample into small cells with k-means (``CELLS_PER_COMPONENT``
   cells per component, at least ``MIN_CELLS``): the agglomeration starts
   from cells instead of single points, as mclust's ``hc`` can start from a
   partition.
2. Merge cells two at a time, each time the pair whose merge lowers the
   classification log-likelihood of a Gaussian partition the least, until
   ``n_components`` groups are left. For a group of weight n and scatter
   matrix W (around its mean), that log-likelihood is, up to constants,
   ``-n/2 log det(W / n + tau I)``, where the determinant is taken in the
   covariance type's form: all of W for 'full' and 'tied', its diagonal for
   'diag', its mean variance for 'spherical' (mclust's VVV, VVI and VII
   criteria). ``tau`` (``REGULARIZATION`` times the mean variance of the
   features) keeps the determinant of a cell of few or equal points finite.
3. The groups' weights, means and covariances are the start.

Merging by the likelihood of shapes keeps elongated clusters whole, which
k-means (which only sees distances to centres) cuts across.

**Density peaks** (``density_peak_stats``): the K points of the subsample
that are densest relative to their surroundings (Rodriguez and Laio's
density peaks, 2014): for each point, r is the distance to its
``NEIGHBOURS``-th nearest neighbour (small where the density is high) and
delta the distance to the nearest point of higher density; the K points with
the largest delta / r start the components, each with the covariance of its
nearest neighbours and equal weights. A tight cluster on top of a broad one
is a density peak, so it gets a component of its own, with a small
covariance; the classification likelihood of the hierarchical start instead
prefers to cut the broad cluster in two.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ._kmeans import MemoryRows, draw_rows, kmeans, nearest_labels
from ._sources import GaussianStats

# Rows the starts see at most.
SUBSAMPLE_SIZE = 2000
# The density-peak start's neighbour count for the density, and how many
# nearest neighbours it searches for a denser point (beyond them: all points).
NEIGHBOURS = 10
_DENSER_CANDIDATES = 64
# k-means cells per component the merges start from, and at least this many.
CELLS_PER_COMPONENT = 4
MIN_CELLS = 40
# tau = REGULARIZATION * mean variance of the features (see the docstring).
REGULARIZATION = 1e-4
# Doubles of the cells' scatter matrices at most (128 MiB).
_CELL_BUDGET = 2**24


def hierarchical_stats(rows, n_components, covariance_type, random_state):
    """The statistics of the hierarchical start on ``rows`` (``MemoryRows``
    or ``_dask.DaskRows``): one-hot responsibilities of the merged groups of
    a subsample, scaled to the rows' total weight, centred on the groups'
    means (``_sources.GaussianStats``; 'tied': second moments around the
    subsample's mean)."""
    sub, weight = _subsample(rows, random_state)
    n_sub, n_features = sub.shape
    X = sub.astype(np.float64)
    variance = float(np.mean(np.var(X, axis=0)))
    tau = REGULARIZATION * variance if variance > 0 else 1.0
    # The merges keep a D x D scatter matrix per cell: within _CELL_BUDGET,
    # or one per component where that is more.
    n_cells = min(
        max(CELLS_PER_COMPONENT * n_components, MIN_CELLS),
        max(_CELL_BUDGET // n_features**2, n_components),
        n_sub,
    )
    sub_rows = MemoryRows(sub, weight)
    cells = nearest_labels(sub_rows, kmeans(sub_rows, n_cells, random_state))
    groups = merge_groups(X, cells, n_components, covariance_type, tau, weight)
    counts, means, scatter = _group_moments(X, groups, n_components, weight)
    filled = counts > 0
    # A group left empty (fewer distinct cells than components) starts at a
    # subsample point with no weight, as an empty k-means cluster does.
    means[~filled] = X[: int((~filled).sum())]
    total = total_weight(rows)
    scale = total / counts.sum()
    return moment_stats(means, counts * scale, scatter * scale, covariance_type, total)


def density_peak_stats(rows, n_components, covariance_type, random_state):
    """The statistics of the density-peak start on ``rows`` (see the module
    docstring): means at the peaks, equal weights, covariances of the peaks'
    nearest neighbours."""
    sub, weight = _subsample(rows, random_state)
    X = sub.astype(np.float64)
    n_sub, n_features = X.shape
    # Weights in units of an average row (all 1 without sample weights).
    unit = np.ones(n_sub) if weight is None else weight * (n_sub / weight.sum())
    tree = cKDTree(X)
    # The nearest neighbours of every point, itself first (distance 0).
    n_query = min(_DENSER_CANDIDATES, n_sub)
    distance, neighbour = tree.query(X, k=n_query)
    distance, neighbour = distance.reshape(n_sub, -1), neighbour.reshape(n_sub, -1)
    # r: the distance within which the point and its neighbours weigh
    # NEIGHBOURS + 1 rows (the NEIGHBOURS-th neighbour's, unweighted).
    enough = np.cumsum(unit[neighbour], axis=1) >= min(NEIGHBOURS + 1, unit.sum())
    reached = np.where(enough.any(axis=1), np.argmax(enough, axis=1), n_query - 1)
    radius = distance[np.arange(n_sub), reached]
    rank = np.empty(n_sub, dtype=np.int64)
    rank[np.argsort(radius, kind="stable")] = np.arange(n_sub)  # 0: densest
    # delta: distance to the nearest denser point (the densest: infinite):
    # the first denser one among the nearest neighbours, or else (a point
    # denser than all of them: a peak) the nearest of all denser points.
    denser = rank[neighbour] < rank[:, None]
    found = denser.any(axis=1)
    delta = np.full(n_sub, np.inf)
    delta[found] = distance[found, np.argmax(denser[found], axis=1)]
    for i in np.flatnonzero(~found & (rank > 0)):
        others = np.flatnonzero(rank < rank[i])
        delta[i] = np.sqrt(((X[others] - X[i]) ** 2).sum(axis=1).min())
    # The peaks: largest delta / r first. A point of zero radius (a heavy
    # or repeated row) with a denser point at some distance scores infinity;
    # among equal scores the larger delta goes first.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        score = np.where(delta > 0, delta / radius, 0.0)
    peaks = np.lexsort((np.arange(n_sub), -delta, -score))[:n_components]
    # Too few rows (n_sub < K) repeat peaks; such a start is still valid.
    peaks = np.resize(peaks, n_components)
    n_near = min(max(2 * NEIGHBOURS + 1, 2 * n_features + 1), n_sub)
    near = tree.query(X[peaks], k=n_near)[1].reshape(n_components, -1)
    scatter = np.empty((n_components, n_features, n_features))
    for c in range(n_components):
        w = unit[near[c]]
        centred = X[near[c]] - (w @ X[near[c]]) / w.sum()
        scatter[c] = (centred * w[:, None]).T @ centred / w.sum()
    total = total_weight(rows)
    nk = np.full(n_components, total / n_components)
    return moment_stats(
        X[peaks], nk, scatter * nk[:, None, None], covariance_type, total
    )


def random_points_stats(rows, n_components, covariance_type, random_state):
    """The statistics of a random start as small EM draws it (Biernacki,
    Celeux and Govaert, 2003): means at K rows of the subsample (distinct
    where it has K rows; drawn in proportion to the sample weights), each
    component with the subsample's covariance, equal weights."""
    sub, weight = _subsample(rows, random_state)
    X = sub.astype(np.float64)
    n_sub = X.shape[0]
    w = np.ones(n_sub) if weight is None else weight
    means = X[
        random_state.choice(
            n_sub, n_components, replace=n_sub < n_components, p=w / w.sum()
        )
    ]
    centred = X - (w @ X) / w.sum()
    covariance = (centred * w[:, None]).T @ centred / w.sum()
    total = total_weight(rows)
    nk = np.full(n_components, total / n_components)
    scatter = covariance[None] * nk[:, None, None]
    return moment_stats(means, nk, scatter, covariance_type, total)


def moment_stats(means, nk, scatter, covariance_type, total):
    """``GaussianStats`` whose M-step gives weights ``nk / nk.sum()``, the
    ``means`` and covariances ``scatter / nk`` (pooled for 'tied', their
    diagonal for 'diag', its mean for 'spherical'), plus ``reg_covar``.

    nk (K,), means (K, D) and the scatter matrices around the means
    (K, D, D) are weighted sums; ``total`` is the total weight."""
    n_components, n_features = means.shape
    sx = np.zeros((n_components, n_features))
    if covariance_type == "full":
        return GaussianStats(0.0, 0.0, total, nk, sx, scatter, means)
    if covariance_type == "tied":
        center = (nk @ means) / nk.sum()
        between = means - center
        pooled = scatter.sum(axis=0) + (nk[:, None] * between).T @ between
        return GaussianStats(0.0, 0.0, total, nk, sx, pooled[None], means, center)
    diagonal = np.diagonal(scatter, axis1=1, axis2=2)[:, None, :].copy()
    return GaussianStats(0.0, 0.0, total, nk, sx, diagonal, means)


def merge_groups(X, labels, n_groups, covariance_type, tau, weight=None):
    """Merge the groups of ``labels`` (non-negative ints; unused labels are
    ignored) of the rows of X (n, D), weighted by ``weight`` (n,) when given,
    two at a time, each time the pair whose
    merge lowers the classification log-likelihood the least (see the module
    docstring), until ``n_groups`` are left or only one. Returns new labels
    0 .. n_groups - 1, numbered by the lowest label of each group. Ties go
    to the pair of lowest labels, so the result is deterministic."""
    used, labels = np.unique(labels, return_inverse=True)
    n_cells = used.size
    if n_cells <= n_groups:
        return labels
    counts, means, scatter = _group_moments(X, labels, n_cells, weight)

    def term(n, mean_a, mean_b, n_a, n_b, w_a, w_b):
        """n log det of the merged groups' covariance (+ tau I)."""
        d = mean_a - mean_b
        between = d[..., :, None] * d[..., None, :]
        w = w_a + w_b + (n_a * n_b / n)[..., None, None] * between
        return n * _log_det(w / n[..., None, None], covariance_type, tau)

    own = counts * _log_det(scatter / counts[:, None, None], covariance_type, tau)
    alive = np.ones(n_cells, dtype=bool)
    cost = np.full((n_cells, n_cells), np.inf)

    # Rows of the cost matrix are computed in slices of at most this many
    # pairs, so that the stacked D x D matrices stay within the cell budget.
    step = max(1, _CELL_BUDGET // (4 * X.shape[1] ** 2))

    def update_row(i, first=0):
        """The costs of merging i with every live group from ``first`` on."""
        others = np.flatnonzero(alive[first:]) + first
        others = others[others != i]
        for lo in range(0, others.size, step):
            o = others[lo : lo + step]
            n = counts[i] + counts[o]
            merged = term(
                n, means[i], means[o], counts[i], counts[o], scatter[i], scatter[o]
            )
            row = merged - own[i] - own[o]
            cost[i, o] = row
            cost[o, i] = row

    for i in range(n_cells):
        update_row(i, i + 1)
    group_of = np.arange(n_cells)
    for _ in range(max(n_cells - max(n_groups, 1), 0)):
        i, j = np.unravel_index(np.argmin(cost), cost.shape)
        i, j = min(i, j), max(i, j)
        n = counts[i] + counts[j]
        d = means[i] - means[j]
        scatter[i] += scatter[j] + (counts[i] * counts[j] / n) * np.outer(d, d)
        means[i] = (counts[i] * means[i] + counts[j] * means[j]) / n
        counts[i] = n
        own[i] = n * _log_det(scatter[i] / n, covariance_type, tau)
        alive[j] = False
        cost[j, :] = np.inf
        cost[:, j] = np.inf
        group_of[group_of == j] = i
        update_row(i)
    _, numbered = np.unique(group_of, return_inverse=True)
    return numbered[labels]


def _group_moments(X, labels, n_groups, weight=None):
    """Weight (count without ``weight``), mean and scatter matrix around the
    mean of each group 0 .. n_groups - 1 of the rows of X; an empty group
    has weight 0, mean 0 and no scatter."""
    n_features = X.shape[1]
    w = np.ones(X.shape[0]) if weight is None else weight
    counts = np.bincount(labels, weights=w, minlength=n_groups)
    means = np.zeros((n_groups, n_features))
    scatter = np.zeros((n_groups, n_features, n_features))
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels, minlength=n_groups)
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    for g in range(n_groups):
        members = order[bounds[g] : bounds[g + 1]]
        if members.size and counts[g] > 0:
            wg = w[members]
            means[g] = (wg @ X[members]) / counts[g]
            centred = X[members] - means[g]
            scatter[g] = (centred * wg[:, None]).T @ centred
    return counts, means, scatter


def _log_det(cov, covariance_type, tau):
    """log det(cov + tau I) of stacked (..., D, D) matrices, in the
    covariance type's form."""
    n_features = cov.shape[-1]
    diagonal = np.diagonal(cov, axis1=-2, axis2=-1) + tau
    if covariance_type == "diag":
        return np.log(diagonal).sum(axis=-1)
    if covariance_type == "spherical":
        return n_features * np.log(diagonal.mean(axis=-1))
    _, log_det = np.linalg.slogdet(cov + tau * np.eye(n_features))
    return log_det


def _subsample(rows, random_state):
    """At most ``SUBSAMPLE_SIZE`` distinct rows, in the data's dtype and
    read-only, with their weights (None: all 1). Without sample weights:
    all rows, or distinct ones drawn uniformly. With them: the rows of
    positive weight, weighted, or rows drawn in proportion to the weights
    (as k-means draws its subsample), each once, weighted by how often it
    was drawn."""
    n_samples, sample_weight = rows.n_samples, rows.weights
    if n_samples <= SUBSAMPLE_SIZE:
        if sample_weight is None:
            drawn, weight = np.arange(n_samples), None
        else:
            drawn = np.flatnonzero(sample_weight > 0)
            weight = np.asarray(sample_weight[drawn], dtype=np.float64)
    else:
        drawn = draw_rows(rows, SUBSAMPLE_SIZE, random_state)
        if sample_weight is None:
            drawn, weight = np.sort(drawn), None
        else:
            drawn, counts = np.unique(drawn, return_counts=True)
            weight = counts.astype(np.float64)
    sub = rows.take(drawn)
    sub.flags.writeable = False  # the form the kernels are compiled for
    return sub, weight


def total_weight(rows) -> float:
    """The rows' number, or the sum of their sample weights."""
    w = rows.weights
    return float(rows.n_samples) if w is None else float(w.sum())
