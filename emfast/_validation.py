"""Checks of user-supplied initial parameters, with sklearn's messages.

Each returns a validated float64 copy; the estimator's own parameters are
never written back to.
"""

from __future__ import annotations

from numbers import Number

import numpy as np
from sklearn.utils import check_array


def check_shape(param, param_shape, name):
    if param.shape != param_shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {param_shape}, "
            f"but got {param.shape}"
        )


def _as_float_array(value, *, allow_nd=False):
    array = check_array(
        value, dtype=[np.float64, np.float32], ensure_2d=False, allow_nd=allow_nd
    )
    return np.array(array, dtype=np.float64)


def check_weights(weights, n_components):
    """Validate ``weights_init``: shape (n_components,), in [0, 1], sum 1."""
    dtype_in = np.asarray(weights).dtype
    weights = _as_float_array(weights)
    check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        raise ValueError(
            "The parameter 'weights' should be in the range "
            f"[0, 1], but got max value {np.max(weights):.5f}, "
            f"min value {np.min(weights):.5f}"
        )
    atol = 1e-6 if dtype_in == np.float32 else 1e-8
    if not np.allclose(abs(1.0 - np.sum(weights)), 0.0, atol=atol):
        raise ValueError(
            "The parameter 'weights' should be normalized, but got "
            f"sum(weights) = {np.sum(weights):.5f}"
        )
    return weights


def check_means(means, n_components, n_features):
    """Validate ``means_init``: shape (n_components, n_features), finite."""
    means = _as_float_array(means)
    check_shape(means, (n_components, n_features), "means")
    return means


def check_precision_matrix(precision, covariance_type):
    if not (
        np.allclose(precision, precision.T)
        and np.all(np.linalg.eigvalsh(precision) > 0.0)
    ):
        raise ValueError(
            f"'{covariance_type} precision' should be symmetric, positive-definite"
        )


def check_precisions(precisions, covariance_type, n_components, n_features):
    """Validate ``precisions_init``: shape by covariance type, and symmetric
    positive-definite matrices or positive values."""
    precisions = _as_float_array(precisions, allow_nd=covariance_type == "full")
    shapes = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }
    check_shape(precisions, shapes[covariance_type], f"{covariance_type} precision")
    if covariance_type == "full":
        for k in range(precisions.shape[0]):
            check_precision_matrix(precisions[k], covariance_type)
    elif covariance_type == "tied":
        check_precision_matrix(precisions, covariance_type)
    elif np.any(precisions <= 0.0):
        raise ValueError(f"'{covariance_type} precision' should be positive")
    return precisions


def check_sample_weight(sample_weight, n_samples):
    """Validate ``sample_weight``: None, a number, or an array of shape
    (n_samples,) of finite non-negative values that are not all zero.
    Returns None or a float64 array."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    sample_weight = check_array(
        sample_weight,
        ensure_2d=False,
        dtype=np.float64,
        ensure_all_finite=True,
        input_name="sample_weight",
    )
    if sample_weight.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1-D, of shape (n_samples,) = ({n_samples},); "
            f"got shape {sample_weight.shape}"
        )
    if sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({n_samples},)!"
        )
    if np.any(sample_weight < 0):
        raise ValueError("Negative values in data passed to `sample_weight`")
    if not np.any(sample_weight > 0):
        raise ValueError(
            "Sample weights must contain at least one non-zero number; all are zero."
        )
    return np.array(sample_weight, dtype=np.float64)


def as_kernel_input(X):
    """A C-contiguous, read-only view of X (a copy only if X is not
    C-contiguous). Kernels always see read-only arrays, so each compiles once
    per dtype rather than once more for writeable input."""
    X = np.ascontiguousarray(X).view()
    X.flags.writeable = False
    return X


def check_observed_columns(X, sample_weight):
    """nan_policy='marginalize' estimates each feature's mean and variance
    from its observed values (of positive weight): there must be some."""
    observed = ~np.isnan(X)
    if sample_weight is not None:
        observed &= (sample_weight > 0)[:, None]
    empty = np.flatnonzero(~observed.any(axis=0))
    if len(empty):
        shown = ", ".join(str(j) for j in empty[:10]) + (
            " ..." if len(empty) > 10 else ""
        )
        raise ValueError(
            f"{len(empty)} column(s) of X have no observed value (all NaN, or "
            f"zero sample_weight): {shown}; nan_policy='marginalize' cannot "
            "estimate them: drop those columns"
        )
