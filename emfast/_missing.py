"""EM for values missing at random: the E-step uses each point's observed
coordinates under the marginal Gaussians, the M-step the conditional means and
covariances of the missing ones.

Rows are grouped by missingness pattern (without copying X) and cut into
tasks that each stay within one pattern. One kernel pass runs the fused
E-step over all tasks, each with its pattern's marginal parameters embedded
in the full space (zeros on the missing features), and sums statistics over
the observed features. Since the conditional mean of the missing coordinates
is linear in the observed ones (x_m - mu_m = B (x_o - mu_o), B = S_mo S_oo^-1),
each task then completes its statistics with small matrix products, plus the
conditional covariance S_mm - B S_om per unit of responsibility. The
per-pattern parameters come from batched Cholesky factorisations, one batch
per number of observed features.

The same layout and parameters give models with posteriors of their own (a
hidden Markov model) the per-component marginal log-densities
(``pattern_log_densities``) and the statistics of their responsibilities
(``pattern_sums`` with ``resp``). There a row with nothing observed is a
step without an observation: its pattern has a zero marginal precision, a
density of 1 and, in the statistics, the components' means and covariances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import rq, solve_triangular

from . import _kernels
from ._covariance import KERNEL_CODES, log_det_cholesky, precision_error_message
from ._validation import as_kernel_input

# Budget for one kernel call's per-pattern parameters and partial sums, in
# float64 values; patterns beyond it go to further calls.
_BATCH_DOUBLES = 1 << 22
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass
class PatternLayout:
    """Rows of X (kept here, NaN included) grouped by missingness pattern,
    cut into kernel tasks.

    order lists the rows pattern by pattern (rows of a pattern in increasing
    order); pattern p holds order[bounds[p]:bounds[p + 1]]; obs[p] lists its
    observed features, then its missing ones (each increasing), n_obs[p] of
    the first kind. Task t covers order[task_lo[t]:task_hi[t]], within
    pattern task_pattern[t]; tasks are not in row order. ``batches`` are
    (first pattern, end pattern, first task, end task) ranges, each one
    kernel call. All of it depends on the data and shapes only, never on the
    number of threads. n_empty rows have every coordinate missing (a pattern
    with n_obs 0; only with ``pattern_layout(..., allow_empty=True)``).
    """

    X: np.ndarray
    order: np.ndarray
    bounds: np.ndarray
    obs: np.ndarray
    n_obs: np.ndarray
    task_lo: np.ndarray
    task_hi: np.ndarray
    task_pattern: np.ndarray
    batches: list
    n_empty: int = 0

    @property
    def n_patterns(self) -> int:
        return len(self.n_obs)

    def batch_args(self, components):
        """For each batch, the arguments the pattern kernels share:
        ``(tasks, obs, n_obs, parameters)`` with tasks = (order, task_lo,
        task_hi, task_pattern) and parameters = ``pattern_parameters``'s
        (prec_tri, prec_diag, log_norm, bmat, ccov, extra_entropy), for that
        batch."""
        for p0, p1, t0, t1 in self.batches:
            obs, n_obs = self.obs[p0:p1], self.n_obs[p0:p1]
            prec_tri, prec_diag, log_norm, bmat, ccov, extra = pattern_parameters(
                components, obs, n_obs
            )
            tasks = (
                self.order,
                self.task_lo[t0:t1],
                self.task_hi[t0:t1],
                self.task_pattern[t0:t1] - p0,
            )
            parameters = (
                prec_tri,
                prec_diag,
                np.ascontiguousarray(log_norm),
                bmat,
                np.ascontiguousarray(ccov),
                np.ascontiguousarray(extra),
            )
            yield tasks, obs, n_obs, parameters


def pattern_layout(X, n_components, allow_empty=False) -> PatternLayout:
    """Group the rows of X (with NaN) by missingness pattern.

    Raises ValueError when some rows have every coordinate missing, unless
    ``allow_empty`` (they then form a pattern with nothing observed)."""
    n_samples, n_features = X.shape
    missing = np.isnan(X)
    all_missing = int(np.count_nonzero(missing.all(axis=1)))
    if all_missing and not allow_empty:
        require_observed(all_missing)
    packed = np.packbits(missing, axis=1)
    if packed.shape[1] <= 8:
        # One integer per row: a 1-D unique is much quicker than rows.
        wide = np.zeros((n_samples, 8), dtype=np.uint8)
        wide[:, : packed.shape[1]] = packed
        codes, inverse = np.unique(wide.view(np.uint64).ravel(), return_inverse=True)
        keys = codes.view(np.uint8).reshape(-1, 8)[:, : packed.shape[1]]
    else:
        keys, inverse = np.unique(packed, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(keys))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    key_missing = np.unpackbits(keys, axis=1, count=n_features).astype(bool)
    obs = np.argsort(key_missing, axis=1, kind="stable")
    n_obs = n_features - key_missing.sum(axis=1)

    block = _kernels._block_rows(n_features)
    slot = n_components * (n_features * n_features + n_features + 1)
    per_pattern = 3 * n_components * n_features * n_features + n_components
    task_lo, task_hi, task_pattern, batches = [], [], [], []
    batch_start = (0, 0)
    used = 0
    for p in range(len(keys)):
        per_task, n_tasks = _kernels._task_layout(int(counts[p]), block, slot)
        cost = n_tasks * slot + per_pattern
        if used and used + cost > _BATCH_DOUBLES:
            batches.append((batch_start[0], p, batch_start[1], len(task_lo)))
            batch_start = (p, len(task_lo))
            used = 0
        used += cost
        lo = np.arange(n_tasks) * per_task * block + bounds[p]
        task_lo.extend(lo)
        task_hi.extend(np.minimum(lo + per_task * block, bounds[p + 1]))
        task_pattern.extend([p] * n_tasks)
    batches.append((batch_start[0], len(keys), batch_start[1], len(task_lo)))

    def index(values):
        return np.asarray(values, dtype=np.int64)

    # prange hands each thread a contiguous range of tasks. Patterns differ
    # in size (the complete one often holds most rows), so spread the tasks
    # of each batch with a fixed low-discrepancy permutation (golden-ratio
    # steps): any contiguous range then holds about its share of the work,
    # whatever the number of threads.
    task_lo, task_hi, task_pattern = index(task_lo), index(task_hi), index(task_pattern)
    for _, _, t0, t1 in batches:
        spread = t0 + np.argsort((np.arange(t1 - t0) * _GOLDEN) % 1.0, kind="stable")
        task_lo[t0:t1] = task_lo[spread]
        task_hi[t0:t1] = task_hi[spread]
        task_pattern[t0:t1] = task_pattern[spread]

    return PatternLayout(
        X,
        order.astype(np.int64),
        index(bounds),
        np.ascontiguousarray(obs, dtype=np.int64),
        index(n_obs),
        task_lo,
        task_hi,
        task_pattern,
        batches,
        all_missing,
    )


def require_observed(n_empty: int) -> None:
    """Raise ValueError when ``n_empty`` rows have every coordinate missing:
    a mixture's E-step and scores need an observed value in every row."""
    if n_empty:
        raise ValueError(
            f"{n_empty} row(s) of X have every coordinate missing (NaN); "
            "remove them or use nan_policy='omit'"
        )


def pattern_parameters(components, obs, n_obs):
    """Per-pattern kernel parameters (see ``_kernels.pattern_stats``) for the
    patterns with features ``obs`` (P, D), ``n_obs`` (P,) observed, from a
    ``_sources.Components``: the marginal precision Cholesky factors and log
    normalisers (the components' ``log_offset`` plus the marginal Gaussian
    normaliser), and for 'full' and 'tied' the regression matrices
    B = S_mo S_oo^-1 and conditional covariances S_mm - B S_om, all embedded
    in D x D with zeros; and the entropy of each component's conditional
    distribution of the missing values, (D_m / 2) (1 + log 2 pi) +
    log det(S_mm - B S_om) / 2.

    Patterns with every feature observed use the model's own factors. Returns
    (prec_tri, prec_diag, log_norm, bmat, ccov, extra_entropy)."""
    covariance_type = components.covariance_type
    n_patterns, n_features = obs.shape
    pc = np.asarray(components.precisions_cholesky, dtype=np.float64)
    log_offset = components.log_offset
    observed = np.zeros((n_patterns, n_features), dtype=bool)
    np.put_along_axis(observed, obs, np.arange(n_features) < n_obs[:, None], axis=1)
    log_norm = log_offset - 0.5 * n_obs[:, None] * math.log(2.0 * math.pi)
    # log det of the conditional covariance = log det S - log det S_oo
    # = 2 (log det of the observed block's factor - log det of the full one).
    full_log_det = log_det_cholesky(pc, covariance_type, n_features)
    n_missing = (n_features - n_obs)[:, None]
    entropy_const = 0.5 * n_missing * (1.0 + math.log(2.0 * math.pi))
    if covariance_type in ("diag", "spherical"):
        if covariance_type == "spherical":
            pc = np.repeat(pc[:, None], n_features, axis=1)
        prec_diag = pc[None] * observed[:, None, :]
        obs_log_det = (np.log(pc)[None] * observed[:, None, :]).sum(axis=2)
        log_norm = log_norm + obs_log_det
        variances = (1.0 / pc**2)[None, :, None, :]
        empty = np.empty((1, 0, n_features, n_features))
        extra = entropy_const + obs_log_det - full_log_det
        return empty, prec_diag, log_norm, empty, variances, extra

    covs = np.asarray(components.covariances, dtype=np.float64)  # (n_tri, D, D)
    if covariance_type == "tied":
        covs = covs[None]
    tri = pc if covariance_type == "full" else pc[None]
    n_tri = len(tri)
    shape = (n_patterns, n_tri, n_features, n_features)
    prec_tri = np.zeros(shape)
    bmat = np.zeros(shape)
    ccov = np.zeros(shape)
    log_det = np.zeros((n_patterns, n_tri))
    complete = n_obs == n_features
    prec_tri[complete] = tri
    log_det[complete] = np.log(np.diagonal(tri, axis1=1, axis2=2)).sum(axis=1)
    comps = np.arange(n_tri)[None, :, None, None]
    for d_o in np.unique(n_obs[~complete]):
        ps = np.flatnonzero(n_obs == d_o)
        o = obs[ps, :d_o][:, None, :, None]  # (P', 1, d_o, 1)
        m = obs[ps, d_o:][:, None, :, None]
        o_t = np.swapaxes(o, 2, 3)
        m_t = np.swapaxes(m, 2, 3)
        blocks = covs[comps, o, o_t]
        try:
            lower = np.linalg.cholesky(blocks)
            failed = []
        except np.linalg.LinAlgError:
            lower, failed = _cholesky_where_possible(blocks)
        upper = np.swapaxes(np.linalg.inv(lower), 2, 3)  # (P', n_tri, d_o, d_o)
        b = covs[comps, m, o_t] @ upper @ np.swapaxes(upper, 2, 3)  # (P', n_tri, m, o)
        c = covs[comps, m, m_t] - b @ covs[comps, o, m_t]
        for i, k in failed:
            upper[i, k], b[i, k], c[i, k] = _marginal_from_precision(
                tri[k], obs[ps[i]], d_o
            )
        pp = ps[:, None, None, None]
        prec_tri[pp, comps, o, o_t] = upper
        log_det[ps] = np.log(np.diagonal(upper, axis1=2, axis2=3)).sum(axis=2)
        bmat[pp, comps, m, o_t] = b
        ccov[pp, comps, m, m_t] = c
    log_norm = log_norm + log_det  # (P, K) + (P, n_tri)
    prec_diag = np.empty((1, 0, n_features))
    extra = entropy_const + log_det - full_log_det + np.zeros_like(log_norm)
    return prec_tri, prec_diag, log_norm, bmat, ccov, extra


def _cholesky_where_possible(blocks):
    """Cholesky factors of the blocks (..., d, d) one by one, where the
    batch failed: (lower, failed), the identity in place of each block whose
    factorisation fails, and the indices of those blocks. The others get the
    same factors as in a batch."""
    lower = np.empty_like(blocks)
    failed = []
    for index in np.ndindex(blocks.shape[:-2]):
        try:
            lower[index] = np.linalg.cholesky(blocks[index])
        except np.linalg.LinAlgError:  # noqa: PERF203 - only after a batch failed
            lower[index] = np.eye(blocks.shape[-1])
            failed.append(index)
    return lower, failed


def _marginal_from_precision(precision_cholesky, order, n_obs):
    """(marginal precision factor, B, conditional covariance) of one
    component and pattern, from the precision's Cholesky factor U alone.

    A principal sub-matrix of a positive-definite covariance is positive
    definite, but its Cholesky factorisation in floating point can fail when
    the full one did not: a component nearly singular in some direction,
    or the covariances implied by float32 factors. Here nothing is inverted
    but triangles. With the features in ``order`` (the ``n_obs`` observed
    ones first), the RQ factorisation Pi U = W Q gives the precision
    Pi U U^T Pi^T = W W^T with W = [[W_oo, W_om], [0, W_mm]] upper
    triangular, so the marginal precision of the observed features is
    W_oo W_oo^T, the conditional precision of the missing ones is
    W_mm W_mm^T, and B = -P_mm^-1 P_mo = -W_mm^-T W_om^T."""
    w, _ = rq(precision_cholesky[order], mode="economic")
    w = w * np.sign(np.diag(w))  # columns signed for a positive diagonal
    w_mm = w[n_obs:, n_obs:]
    inv_mm = solve_triangular(w_mm, np.eye(len(w_mm)), lower=False)
    b = -inv_mm.T @ w[:n_obs, n_obs:].T
    ccov = inv_mm.T @ inv_mm
    upper = w[:n_obs, :n_obs]
    values = (upper, b, ccov)
    if not (np.all(np.diag(w) > 0.0) and all(np.isfinite(v).all() for v in values)):
        raise ValueError(precision_error_message(np.float64))
    return values


def pattern_sums(
    layout: PatternLayout, components, sample_weight, want_entropy, resp=None
):
    """One pass over all patterns: (log-likelihood, entropy, nk, sx, sxx)
    sums, the statistics in the form the 'full' (full, tied) or 'diag'
    (diag, spherical) M-step takes them, centred on the current means.

    The responsibilities are the posteriors under the marginal densities or,
    when ``resp`` (n_samples, K) is given, those (rows in X's order); the
    log-likelihood and entropy are then 0."""
    X = layout.X
    n_components = components.n_components
    n_features = X.shape[1]
    diagonal = KERNEL_CODES[components.covariance_type] == _kernels.DIAG
    code = _kernels.DIAG if diagonal else _kernels.FULL
    means = np.ascontiguousarray(components.means, dtype=np.float64)
    weights = _kernels.weights_arg(sample_weight)
    if resp is None:
        given = np.empty((0, n_components))
    else:
        given = np.ascontiguousarray(resp, dtype=np.float64)
        if given.shape != (X.shape[0], n_components):
            raise ValueError(
                f"resp has shape {given.shape}, expected {(X.shape[0], n_components)}"
            )
    ll = 0.0
    ent = 0.0
    nk = np.zeros(n_components)
    sx = np.zeros((n_components, n_features))
    sxx = np.zeros(
        (n_components, n_features if code == _kernels.FULL else 1, n_features)
    )
    for tasks, obs, n_obs, parameters in layout.batch_args(components):
        prec_tri, prec_diag, log_norm, bmat, ccov, extra = parameters
        ll_b, ent_b, nk_b, sx_b, sxx_b = _kernels.pattern_stats(
            X,
            *tasks,
            obs,
            n_obs,
            means,
            prec_tri,
            prec_diag,
            log_norm,
            code,
            bmat,
            ccov,
            extra,
            weights,
            want_entropy and resp is None,
            given,
        )
        ll += ll_b
        ent += ent_b
        nk += nk_b
        sx += sx_b
        sxx += sxx_b
    return ll, ent, nk, sx, sxx


def pattern_log_densities(layout: PatternLayout, components):
    """(n_samples, K) float64: log_offset[k] + log N(x_o | means[k, o],
    covariances[k, oo]) for each row's observed features o, in X's row
    order, not normalised over the components; log_offset[k] for a row with
    nothing observed."""
    X = layout.X
    out = np.empty((X.shape[0], components.n_components))
    means = np.ascontiguousarray(components.means, dtype=np.float64)
    for tasks, _, _, parameters in layout.batch_args(components):
        prec_tri, prec_diag, log_norm = parameters[:3]
        _kernels.pattern_log_densities(
            X, *tasks, means, prec_tri, prec_diag, log_norm, out
        )
    return out


def fill_with_means(X, sample_weight=None):
    """A copy of X with each NaN replaced by its column's (weighted) mean of
    the observed values: the data the initialization sees."""
    observed = ~np.isnan(X)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    wo = observed * w[:, None]
    totals = wo.sum(axis=0)
    means = np.where(np.isnan(X), 0.0, X).T @ w / np.where(totals > 0, totals, 1.0)
    filled = np.where(observed, X, means.astype(X.dtype))
    filled = np.ascontiguousarray(filled)
    filled.flags.writeable = False
    return filled


def score_missing(X, components, want_resp: bool):
    """(log p(x_o), labels, responsibilities) of rows with NaN, from the
    marginal densities of their observed coordinates."""
    n_samples = X.shape[0]
    n_components = components.n_components
    layout = pattern_layout(X, n_components)
    log_prob, labels, resp = _kernels.score_buffers(n_samples, n_components, want_resp)
    means = np.ascontiguousarray(components.means, dtype=np.float64)
    for tasks, _, _, parameters in layout.batch_args(components):
        prec_tri, prec_diag, log_norm = parameters[:3]
        _kernels.pattern_score(
            X, *tasks, means, prec_tri, prec_diag, log_norm, log_prob, labels, resp
        )
    return log_prob, labels, resp


def impute_missing(X, components):
    """A copy of X (with NaN) in which each NaN is replaced by its conditional
    expectation under the mixture: the responsibility-weighted conditional
    means given the row's observed values. Rows with every value missing get
    the mixture's mean."""
    out = np.array(X, dtype=X.dtype, order="C", copy=True)
    missing = np.isnan(X)
    empty = missing.all(axis=1)
    weights = np.asarray(components.weights, dtype=np.float64)
    means = np.ascontiguousarray(components.means, dtype=np.float64)
    if empty.any():
        out[empty] = weights @ means
    partial = np.flatnonzero(missing.any(axis=1) & ~empty)
    if not len(partial):
        return out
    rows = as_kernel_input(X[partial])
    filled = np.array(rows)
    layout = pattern_layout(rows, len(weights))
    for tasks, obs, n_obs, parameters in layout.batch_args(components):
        prec_tri, prec_diag, log_norm, bmat = parameters[:4]
        _kernels.pattern_impute(
            rows,
            *tasks,
            obs,
            n_obs,
            means,
            prec_tri,
            prec_diag,
            log_norm,
            bmat,
            filled,
        )
    out[partial] = filled
    return out
