"""The covariance types: the one home of what differs between 'full',
'tied', 'diag' and 'spherical'.

Shapes and parameter counts, the kernels' code and their form of the
precision Cholesky factors, the conversions between covariances, precisions
and their Cholesky factors, log-determinants, the M-step formula (empirical
covariances from sufficient statistics), sampling, and the checks of
user-supplied and saved precisions. All of it is small NumPy work on
(K, D, D) arrays; the models (``mixture``, ``bayesian``) and the data sources
call it and never branch on the covariance type themselves.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular

from . import _kernels

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

_EPS = float(np.finfo(np.float64).eps)

# The kernels' form of each type (see ``_kernels``): 'spherical' runs as
# 'diag' with its variance repeated over the features.
KERNEL_CODES = {
    "full": _kernels.FULL,
    "tied": _kernels.TIED,
    "diag": _kernels.DIAG,
    "spherical": _kernels.DIAG,
}


def parameter_shape(covariance_type, n_components, n_features) -> tuple:
    """Shape of ``covariances_``, ``precisions_`` and ``precisions_cholesky_``."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def precision_error_message(dtype) -> str:
    """sklearn's message for a covariance that cannot be inverted."""
    message = (
        "Fitting the mixture model failed because some components have "
        "ill-defined empirical covariance (for instance caused by singleton "
        "or collapsed samples). Try to decrease the number of components, "
        "increase reg_covar, or scale the input data."
    )
    if np.dtype(dtype) == np.float32:
        message += (
            " The numerical accuracy can also be improved by passing float64"
            " data instead of float32."
        )
    return message


def compute_precision_cholesky(covariances, covariance_type, dtype=np.float64):
    """Upper-triangular Cholesky factors of the precisions (sklearn's form)."""
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        mats = covariances if covariance_type == "full" else covariances[None]
        n_features = mats.shape[-1]
        out = np.empty_like(mats)
        eye = np.eye(n_features)
        for k in range(mats.shape[0]):
            try:
                cov_chol = np.linalg.cholesky(mats[k])
            except np.linalg.LinAlgError:
                raise ValueError(precision_error_message(dtype)) from None
            out[k] = _solve_lower(cov_chol, eye).T
        if not np.all(np.isfinite(out)):
            raise ValueError(precision_error_message(dtype))
        return out if covariance_type == "full" else out[0]
    if np.any(covariances <= 0.0) or not np.all(np.isfinite(covariances)):
        raise ValueError(precision_error_message(dtype))
    return 1.0 / np.sqrt(covariances)


def _solve_lower(lower, rhs):
    """Solve lower @ x = rhs for lower-triangular ``lower``."""
    try:
        from scipy.linalg import solve_triangular
    except ImportError:  # pragma: no cover - scipy is a dependency of sklearn
        return np.linalg.solve(lower, rhs)
    return solve_triangular(lower, rhs, lower=True)


def precision_cholesky_from_precisions(precisions, covariance_type):
    """Upper-triangular U with precision = U U^T (sklearn's flip trick)."""
    precisions = np.asarray(precisions, dtype=np.float64)
    if covariance_type == "full":
        return np.stack(
            [np.linalg.cholesky(p[::-1, ::-1])[::-1, ::-1] for p in precisions]
        )
    if covariance_type == "tied":
        return np.linalg.cholesky(precisions[::-1, ::-1])[::-1, ::-1]
    return np.sqrt(precisions)


def precisions_from_cholesky(precisions_cholesky, covariance_type):
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", precisions_cholesky, precisions_cholesky)
    if covariance_type == "tied":
        return precisions_cholesky @ precisions_cholesky.T
    return precisions_cholesky**2


def covariances_from_cholesky(precisions_cholesky, covariance_type):
    """Covariances implied by precision Cholesky factors (for user-supplied
    precisions, where the fit has not computed covariances yet, and for the
    marginal densities of float32 fits).

    With precision U U^T, the covariance is V^T V for V = U^-1: a triangular
    solve (condition number that of U) and a Gram product, symmetric and
    positive semi-definite by construction. Inverting U U^T instead squares
    the condition number: for an ill-conditioned component its small
    eigenvalues come out wrong, even negative, so that the principal
    sub-matrices of the marginal densities fail their Cholesky
    factorisation."""
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        mats = pc if covariance_type == "full" else pc[None]
        eye = np.eye(mats.shape[-1])
        inverses = [solve_triangular(u, eye, lower=False) for u in mats]
        out = np.stack([v.T @ v for v in inverses])
        return out if covariance_type == "full" else out[0]
    return 1.0 / pc**2


def log_det_cholesky(precisions_cholesky, covariance_type, n_features):
    """log det of the precision Cholesky factor, per component."""
    if covariance_type == "full":
        return np.log(np.diagonal(precisions_cholesky, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diag(precisions_cholesky)).sum()
    if covariance_type == "diag":
        return np.log(precisions_cholesky).sum(axis=1)
    return n_features * np.log(precisions_cholesky)


def kernel_precisions(precisions_cholesky, covariance_type, n_features):
    """(prec_tri, prec_diag): the precision Cholesky factors as the kernels
    take them (see ``_kernels``)."""
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    if covariance_type == "full":
        prec_tri = np.ascontiguousarray(pc)
        prec_diag = np.empty((0, n_features))
    elif covariance_type == "tied":
        prec_tri = np.ascontiguousarray(pc[None])
        prec_diag = np.empty((0, n_features))
    else:
        prec_tri = np.empty((0, n_features, n_features))
        if covariance_type == "diag":
            prec_diag = np.ascontiguousarray(pc)
        else:
            prec_diag = np.ascontiguousarray(np.repeat(pc[:, None], n_features, axis=1))
    return prec_tri, prec_diag


def log_norm(log_offset, precisions_cholesky, covariance_type, n_features):
    """Per-component log normaliser of the kernels' log-densities: the
    model's ``log_offset`` (a mixture's log weights) plus the Gaussian's log
    det(precision Cholesky) - D/2 log(2 pi)."""
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    out = (
        log_offset
        + log_det_cholesky(pc, covariance_type, n_features)
        - 0.5 * n_features * math.log(2.0 * math.pi)
    )
    return np.ascontiguousarray(out, dtype=np.float64)


def estimate_gaussian_parameters(stats, covariance_type, reg_covar, dtype):
    """The M-step's Gaussian part: (nk, means, covariances) from sufficient
    statistics (a ``_sources.GaussianStats``), as sklearn's
    ``_estimate_gaussian_parameters`` computes them from responsibilities.

    Mirrors sklearn: nk gets 10 * eps(dtype) added, and reg_covar is added to
    the diagonal. The statistics are centred on ``stats.centers`` (and the
    'tied' second moments on ``stats.tied_center``); with
    ``stats.per_component`` a 'tied' fit has per-component second moments
    (missing values), pooled here.
    """
    if covariance_type == "tied" and stats.per_component:
        nk, means, covariances = estimate_gaussian_parameters(
            stats, "full", reg_covar, dtype
        )
        return nk, means, _tied_from_full(nk, covariances, reg_covar)
    nk_raw, sx, sxx = stats.nk, stats.sx, stats.sxx
    centers, tied_center = stats.centers, stats.tied_center
    nk = nk_raw + 10.0 * float(np.finfo(dtype).eps)
    shift = sx / nk[:, None]
    means = centers + shift
    n_features = centers.shape[1]
    if covariance_type == "full":
        sxx = _symmetrize(sxx)
        # sum_i r (x - m)(x - m)^T from moments around the old centres.
        outer = sx[:, :, None] * shift[:, None, :]
        scatter = (
            sxx
            - outer
            - np.swapaxes(outer, 1, 2)
            + nk_raw[:, None, None] * shift[:, :, None] * shift[:, None, :]
        )
        covariances = scatter / nk[:, None, None]
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
    elif covariance_type == "tied":
        # The scatter around the new means, exactly: with b_k = means_k - c
        # and t_k = sum_i r_ik (x_i - c) = sx_k + nk_raw_k (centers_k - c),
        # sum_k sum_i r_ik (x_i - means_k)(x_i - means_k)^T
        #   = total - sum_k (t_k b_k^T + b_k t_k^T - nk_raw_k b_k b_k^T).
        # (With nk = nk_raw + 10 eps in the means, t_k != nk b_k: the shorter
        # form total - sum_k nk_k b_k b_k^T is off by about 10 eps |b_k|^2,
        # much in float32 far from the centre.)
        total = _symmetrize(sxx)[0]
        between = means - tied_center
        t = sx + nk_raw[:, None] * (centers - tied_center)
        cross = t.T @ between
        scatter = total - cross - cross.T + (nk_raw[:, None] * between).T @ between
        covariances = scatter / nk.sum()
        covariances.flat[:: n_features + 1] += reg_covar
    else:
        sq = sxx[:, 0, :] - 2.0 * sx * shift + nk_raw[:, None] * shift**2
        covariances = sq / nk[:, None] + reg_covar
        # Within rounding of sq (each of its terms is at most sxx), a
        # component whose weight sits on one point has no variance, and
        # without reg_covar no finite M-step. sklearn's raw-moment variance,
        # sum r x^2 / nk - m^2 with m = sum r x / nk, is exactly
        # (sum r (x - m)^2 + pad m^2) / nk, pad = nk - nk_raw (10 eps): its
        # pseudo-point at the origin keeps such a component positive. There,
        # and only there, take sklearn's value; elsewhere the values above
        # stand, bit for bit.
        noise = 4.0 * _EPS * sxx[:, 0, :] / nk[:, None]
        if covariance_type == "spherical":
            covariances = covariances.mean(axis=1)
            noise = noise.mean(axis=1)
        collapsed = covariances <= noise
        if collapsed.any():
            pad = (nk - nk_raw)[:, None]
            sk_shift = (sx - pad * centers) / nk[:, None]  # sklearn's m - centers
            sk_sq = sxx[:, 0, :] - 2.0 * sx * sk_shift + nk_raw[:, None] * sk_shift**2
            sk_cov = (sk_sq + pad * (centers + sk_shift) ** 2) / nk[:, None] + reg_covar
            if covariance_type == "spherical":
                sk_cov = sk_cov.mean(axis=1)
            covariances = np.where(collapsed, sk_cov, covariances)
    return nk, means, covariances


def _tied_from_full(nk, covariances, reg_covar):
    """The tied covariance from per-component full ones (each holding
    reg_covar on its diagonal), weighted by the responsibilities."""
    n_features = covariances.shape[-1]
    scatter = np.einsum("k,kij->ij", nk, covariances - reg_covar * np.eye(n_features))
    return scatter / nk.sum() + reg_covar * np.eye(n_features)


def _symmetrize(lower):
    """Fill the upper triangles of stacked matrices from the lower ones."""
    upper = np.tril(lower, -1)
    return np.tril(lower) + np.swapaxes(upper, -1, -2)


def n_parameters(covariance_type, n_components, n_features) -> int:
    if covariance_type == "full":
        cov_params = n_components * n_features * (n_features + 1) / 2.0
    elif covariance_type == "diag":
        cov_params = n_components * n_features
    elif covariance_type == "tied":
        cov_params = n_features * (n_features + 1) / 2.0
    else:
        cov_params = n_components
    mean_params = n_features * n_components
    return int(cov_params + mean_params + n_components - 1)


def full_covariances(covariances, covariance_type, n_components, n_features):
    """Covariances of any type as (n_components, D, D) float64 matrices."""
    cov = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.broadcast_to(cov, (n_components, n_features, n_features)).copy()
    if covariance_type == "diag":
        return cov[:, :, None] * np.eye(n_features)
    return cov[:, None, None] * np.eye(n_features)


def isotropic_covariances(covariance_type, n_components, n_features, reg_covar):
    """reg_covar * I for every component, in the type's shape (the start of
    a component at a single data point)."""
    if covariance_type == "full":
        return np.tile(np.eye(n_features) * reg_covar, (n_components, 1, 1))
    if covariance_type == "tied":
        return np.eye(n_features) * reg_covar
    if covariance_type == "diag":
        return np.full((n_components, n_features), float(reg_covar))
    return np.full(n_components, float(reg_covar))


def sample(rng, means, covariances, covariance_type, n_samples_comp):
    """Draws from each Gaussian component: ``n_samples_comp[k]`` points from
    component k, stacked in component order (sklearn's ``sample``)."""
    n_features = means.shape[1]
    if covariance_type == "full":
        parts = [
            rng.multivariate_normal(mean, covariance, int(n))
            for mean, covariance, n in zip(means, covariances, n_samples_comp)
        ]
    elif covariance_type == "tied":
        parts = [
            rng.multivariate_normal(mean, covariances, int(n))
            for mean, n in zip(means, n_samples_comp)
        ]
    else:
        parts = [
            mean + rng.standard_normal(size=(n, n_features)) * np.sqrt(covariance)
            for mean, covariance, n in zip(means, covariances, n_samples_comp)
        ]
    return np.vstack(parts)
