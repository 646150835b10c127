"""Naive NumPy/SciPy reference for Gaussian-mixture EM.

Written for clarity, not speed: SciPy log-densities on full covariance
matrices, log-sum-exp responsibilities, an M-step in plain loops with
two-pass (centred) second moments. The conventions follow sklearn's:
``nk`` gets ``10 * eps`` added, ``reg_covar`` goes on the diagonal, and the
lower bound is the mean log-likelihood of the parameters entering the E-step.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

EPS64 = float(np.finfo(np.float64).eps)


def full_covariances(covariances, covariance_type, n_components, n_features):
    """Expand covariances of any type to (n_components, D, D) matrices."""
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return covariances.copy()
    if covariance_type == "tied":
        return np.repeat(covariances[None], n_components, axis=0)
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covariances])
    return np.stack([np.eye(n_features) * c for c in covariances])


def covariances_from_precisions(precisions, covariance_type):
    """Covariances of the type's shape from precisions of that shape."""
    precisions = np.asarray(precisions, dtype=np.float64)
    if covariance_type == "full":
        return np.stack([np.linalg.inv(p) for p in precisions])
    if covariance_type == "tied":
        return np.linalg.inv(precisions)
    return 1.0 / precisions


def precisions_cholesky(covariances, covariance_type):
    """sklearn's ``precisions_cholesky_``: upper-triangular U with
    precision = U U^T, from covariances of the type's shape."""
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        mats = covariances if covariance_type == "full" else covariances[None]
        out = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in mats])
        return out if covariance_type == "full" else out[0]
    return 1.0 / np.sqrt(covariances)


def log_gaussian_prob(X, means, covariances, covariance_type):
    """log N(x_i | mean_k, cov_k) as (n_samples, n_components), via SciPy."""
    X = np.asarray(X, dtype=np.float64)
    n_components, n_features = np.shape(means)
    mats = full_covariances(covariances, covariance_type, n_components, n_features)
    return np.column_stack(
        [
            multivariate_normal.logpdf(X, mean=means[k], cov=mats[k])
            for k in range(n_components)
        ]
    ).reshape(X.shape[0], n_components)


def log_prob_resp(X, weights, means, covariances, covariance_type):
    """(log p(x_i), responsibilities r_ik) by log-sum-exp."""
    weighted = log_gaussian_prob(X, means, covariances, covariance_type) + np.log(
        weights
    )
    log_prob_norm = logsumexp(weighted, axis=1)
    resp = np.exp(weighted - log_prob_norm[:, None])
    return log_prob_norm, resp


def m_step(X, resp, covariance_type, reg_covar, nk_eps=10 * EPS64):
    """Weights, means and covariances from responsibilities, in loops.

    Second moments are taken around the new means (two passes), so the
    result does not lose precision on data far from the origin.
    """
    X = np.asarray(X, dtype=np.float64)
    _n_samples, n_features = X.shape
    n_components = resp.shape[1]
    nk = resp.sum(axis=0) + nk_eps
    means = np.zeros((n_components, n_features))
    for k in range(n_components):
        for d in range(n_features):
            means[k, d] = np.sum(resp[:, k] * X[:, d]) / nk[k]
    scatter = np.zeros((n_components, n_features, n_features))
    for k in range(n_components):
        diff = X - means[k]
        for i in range(n_features):
            for j in range(n_features):
                scatter[k, i, j] = np.sum(resp[:, k] * diff[:, i] * diff[:, j])
    if covariance_type == "full":
        covariances = scatter / nk[:, None, None] + reg_covar * np.eye(n_features)
    elif covariance_type == "tied":
        covariances = scatter.sum(axis=0) / nk.sum() + reg_covar * np.eye(n_features)
    else:
        diag = np.diagonal(scatter, axis1=1, axis2=2) / nk[:, None] + reg_covar
        covariances = diag if covariance_type == "diag" else diag.mean(axis=1)
    return nk / nk.sum(), means, covariances


def em_step(X, weights, means, covariances, covariance_type, reg_covar):
    """One EM iteration: (lower bound of the entering parameters, new params)."""
    log_prob_norm, resp = log_prob_resp(X, weights, means, covariances, covariance_type)
    return float(np.mean(log_prob_norm)), m_step(X, resp, covariance_type, reg_covar)


def sufficient_stats(X, resp, centers, covariance_type, tied_center):
    """Naive sums matching ``_kernels.sufficient_stats``: nk, sx around
    ``centers`` and second moments by covariance type (full matrices)."""
    X = np.asarray(X, dtype=np.float64)
    n_components = resp.shape[1]
    nk = resp.sum(axis=0)
    sx = np.stack([resp[:, k] @ (X - centers[k]) for k in range(n_components)])
    if covariance_type == "tied":
        diff = X - tied_center
        sxx = (diff.T @ diff)[None]
    else:
        sxx = np.stack(
            [
                (resp[:, k, None] * (X - centers[k])).T @ (X - centers[k])
                for k in range(n_components)
            ]
        )
    return nk, sx, sxx


def two_pass_covariance(X, reg_covar=0.0):
    """Biased sample covariance, centred first, plus ``reg_covar`` * I."""
    X = np.asarray(X, dtype=np.float64)
    diff = X - X.mean(axis=0)
    return diff.T @ diff / X.shape[0] + reg_covar * np.eye(X.shape[1])
