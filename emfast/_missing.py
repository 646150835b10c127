"""EM for values missing at random: the E-step uses each point's observed
coordinates under the marginal Gaussians, the M-step the conditional means and
covariances of the missing ones.

Rows are grouped by missingness pattern. For each pattern the fused kernel
runs on the observed columns with the marginal parameters and returns
statistics in the observed space; since the conditional mean of the missing
coordinates is linear in the observed ones (x_m - mu_m = B (x_o - mu_o),
B = S_mo S_oo^-1), the full statistics follow from them with small matrix
products, plus the conditional covariance S_mm - B S_om per unit of
responsibility.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernels
from ._params import (
    Params,
    compute_precision_cholesky,
    kernel_args,
    params_from_stats,
)


@dataclass
class Pattern:
    """Rows sharing one set of observed features."""

    observed: np.ndarray  # (D,) bool
    rows: np.ndarray  # (n,) row indices into X
    X: np.ndarray  # (n, n_observed) observed values, read-only C array
    sample_weight: np.ndarray | None


def group_patterns(X, sample_weight=None) -> list[Pattern]:
    """Group the rows of X (with NaN) by missingness pattern.

    Raises ValueError when some rows have every coordinate missing."""
    missing = np.isnan(X)
    all_missing = int(np.count_nonzero(missing.all(axis=1)))
    if all_missing:
        raise ValueError(
            f"{all_missing} row(s) of X have every coordinate missing (NaN); "
            "remove them or use nan_policy='omit'"
        )
    keys, inverse = np.unique(np.packbits(missing, axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(keys)))[:-1]
    patterns = []
    for rows in np.split(order, bounds):
        observed = ~missing[rows[0]]
        Xp = np.ascontiguousarray(X[np.ix_(rows, np.flatnonzero(observed))])
        Xp.flags.writeable = False
        weights = None if sample_weight is None else sample_weight[rows]
        patterns.append(Pattern(observed, rows, Xp, weights))
    return patterns


def _marginal(params: Params, covariance_type: str, observed):
    """Marginal parameters of the observed features, for kernel_args."""
    o = np.flatnonzero(observed)
    means = np.ascontiguousarray(params.means[:, o])
    if covariance_type == "full":
        cov = params.covariances[np.ix_(np.arange(len(means)), o, o)]
    elif covariance_type == "tied":
        cov = params.covariances[np.ix_(o, o)]
    elif covariance_type == "diag":
        cov = params.covariances[:, o]
    else:
        cov = params.covariances
    if covariance_type in ("full", "tied"):
        chol = compute_precision_cholesky(cov, covariance_type)
    elif covariance_type == "diag":
        chol = params.precisions_cholesky[:, o]
    else:
        chol = params.precisions_cholesky
    return Params(params.weights, means, cov, chol)


def _full_covariances(params: Params, covariance_type: str, n_features: int):
    cov = np.asarray(params.covariances, dtype=np.float64)
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.broadcast_to(cov, (len(params.weights), n_features, n_features))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(n_features) * c for c in cov])


def e_step_stats_missing(patterns, params: Params, covariance_type: str, n_features):
    """One pass over all patterns: (mean log-likelihood, statistics in the
    form ``_params.params_from_stats`` takes for 'full' (full, tied) or
    'diag' (diag, spherical)), all centred on the current means."""
    n_components = len(params.weights)
    full_like = covariance_type in ("full", "tied")
    code = _kernels.FULL if full_like else _kernels.DIAG
    nk = np.zeros(n_components)
    sx = np.zeros((n_components, n_features))
    if full_like:
        sxx = np.zeros((n_components, n_features, n_features))
        covs = _full_covariances(params, covariance_type, n_features)
    else:
        sxx = np.zeros((n_components, 1, n_features))
        variances = _full_covariances(params, covariance_type, n_features)
        variances = np.diagonal(variances, axis1=1, axis2=2)
    ll = 0.0
    total_weight = 0.0
    for p in patterns:
        o = np.flatnonzero(p.observed)
        m = np.flatnonzero(~p.observed)
        marginal = _marginal(params, covariance_type, p.observed)
        means_o, prec_tri, prec_diag, log_norm = kernel_args(marginal, covariance_type)
        weights = _kernels.weights_arg(p.sample_weight)
        ll_p, nk_p, sx_o, sxx_o = _kernels.sufficient_stats(
            p.X,
            means_o,
            prec_tri,
            prec_diag,
            log_norm,
            code,
            means_o[0],
            _kernels.RESP_POSTERIOR,
            _kernels.NO_LABELS,
            0,
            weights,
        )
        ll += ll_p
        total_weight += p.X.shape[0] if p.sample_weight is None else weights.sum()
        nk += nk_p
        sx[:, o] += sx_o
        if not full_like:
            sxx[:, 0, o] += sxx_o[:, 0, :]
            if len(m):
                sxx[:, 0, m] += nk_p[:, None] * variances[:, m]
            continue
        s_oo = np.tril(sxx_o) + np.swapaxes(np.tril(sxx_o, -1), 1, 2)
        sxx[np.ix_(np.arange(n_components), o, o)] += s_oo
        if len(m) == 0:
            continue
        # B_k = S_mo S_oo^-1 for every component at once (S_oo is SPD).
        cov_oo = covs[np.ix_(np.arange(n_components), o, o)]
        cov_om = covs[np.ix_(np.arange(n_components), o, m)]
        b = np.swapaxes(np.linalg.solve(cov_oo, cov_om), 1, 2)  # (K, m, o)
        sx[:, m] += np.einsum("kmo,ko->km", b, sx_o)
        b_s = b @ s_oo  # (K, m, o)
        sxx[np.ix_(np.arange(n_components), m, o)] += b_s
        sxx[np.ix_(np.arange(n_components), o, m)] += np.swapaxes(b_s, 1, 2)
        conditional = covs[np.ix_(np.arange(n_components), m, m)] - b @ cov_om
        sxx[np.ix_(np.arange(n_components), m, m)] += (
            b_s @ np.swapaxes(b, 1, 2) + nk_p[:, None, None] * conditional
        )
    if full_like:
        # params_from_stats reads the lower triangle.
        sxx = np.tril(sxx)
    return ll / total_weight, (nk, sx, sxx)


def tied_from_full(weights_nk, covariances, reg_covar):
    """The tied covariance from per-component full ones (each holding
    reg_covar on its diagonal), weighted by the responsibilities."""
    n_features = covariances.shape[-1]
    scatter = np.einsum(
        "k,kij->ij", weights_nk, covariances - reg_covar * np.eye(n_features)
    )
    return scatter / weights_nk.sum() + reg_covar * np.eye(n_features)


def m_step_missing(stats, centers, covariance_type, reg_covar, dtype) -> Params:
    """The M-step from ``e_step_stats_missing``'s statistics."""
    kind = "full" if covariance_type in ("full", "tied") else covariance_type
    weights, means, covariances = params_from_stats(
        stats, centers, kind, reg_covar, dtype, None
    )
    if covariance_type == "tied":
        nk = stats[0] + 10.0 * float(np.finfo(dtype).eps)
        covariances = tied_from_full(nk, covariances, reg_covar)
    chol = compute_precision_cholesky(covariances, covariance_type, dtype)
    return Params(weights, means, covariances, chol)


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


def score_missing(X, params: Params, covariance_type: str, want_resp: bool):
    """(log p(x_o), labels, responsibilities) of rows with NaN, from the
    marginal densities of their observed coordinates."""
    n_samples = X.shape[0]
    n_components = len(params.weights)
    log_prob = np.empty(n_samples)
    labels = np.empty(n_samples, dtype=np.int64)
    resp = np.empty((n_samples if want_resp else 0, n_components))
    for p in group_patterns(X):
        marginal = _marginal(params, covariance_type, p.observed)
        means_o, prec_tri, prec_diag, log_norm = kernel_args(marginal, covariance_type)
        n = p.X.shape[0]
        lp = np.empty(n)
        lab = np.empty(n, dtype=np.int64)
        r = np.empty((n if want_resp else 0, n_components))
        _kernels.score_samples(p.X, means_o, prec_tri, prec_diag, log_norm, lp, lab, r)
        log_prob[p.rows] = lp
        labels[p.rows] = lab
        if want_resp:
            resp[p.rows] = r
    return log_prob, labels, resp
