"""The standard benchmark workloads W1-W6 and their synthetic data.

Data are float64 blobs from a fixed seed: ``n_components`` true components with
random means in [-10, 10]^D and random symmetric positive-definite
covariances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    """One standard workload: sizes and covariance type."""

    name: str
    n_samples: int
    n_features: int
    n_components: int
    covariance_type: str


WORKLOADS = {
    w.name: w
    for w in (
        Workload("W1", 1_000_000, 2, 4, "full"),
        Workload("W2", 1_000_000, 8, 16, "full"),
        Workload("W3", 1_000_000, 32, 16, "full"),
        Workload("W4", 1_000_000, 32, 16, "diag"),
        Workload("W5", 200_000, 64, 32, "full"),
        Workload("W6", 10_000_000, 1, 2, "full"),
    )
}


def make_blobs(n_samples, n_features, n_components, *, seed=0, dtype=np.float64):
    """Sample a Gaussian mixture with random means and SPD covariances.

    Parameters
    ----------
    n_samples, n_features, n_components : int
        Sizes of the data and number of true components.
    seed : int, default=0
        Seed of the generator; the same seed gives the same data.
    dtype : numpy dtype, default=np.float64
        dtype of the returned data.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The points, in random component order.
    labels : ndarray of shape (n_samples,)
        The true component of each point.

    Examples
    --------
    >>> from emfast.workloads import make_blobs
    >>> X, y = make_blobs(1000, 2, 3, seed=1)
    >>> X.shape, sorted(set(y.tolist()))
    ((1000, 2), [0, 1, 2])
    """
    rng = np.random.default_rng(seed)
    means = rng.uniform(-10.0, 10.0, size=(n_components, n_features))
    weights = rng.dirichlet(np.full(n_components, 5.0))
    labels = rng.choice(n_components, size=n_samples, p=weights)
    X = np.empty((n_samples, n_features), dtype=dtype)
    for k in range(n_components):
        a = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
        cov = a @ a.T + 0.1 * np.eye(n_features)
        chol = np.linalg.cholesky(cov)
        idx = np.flatnonzero(labels == k)
        z = rng.standard_normal(size=(idx.size, n_features))
        X[idx] = means[k] + z @ chol.T
    return X, labels


def make_workload(name, n_samples=None, seed=0):
    """Data of a standard workload (optionally with fewer samples).

    Parameters
    ----------
    name : {'W1', 'W2', 'W3', 'W4', 'W5', 'W6'}
        The workload.
    n_samples : int, optional
        Override the workload's number of samples (for quick runs).
    seed : int, default=0
        Seed of the data.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float64 data.
    workload : Workload
        The workload's sizes and covariance type.

    Examples
    --------
    >>> from emfast.workloads import make_workload
    >>> X, w = make_workload("W1", n_samples=500)
    >>> X.shape, w.n_components, w.covariance_type
    ((500, 2), 4, 'full')
    """
    if name not in WORKLOADS:
        raise ValueError(
            f"Unknown workload {name!r}; expected one of {list(WORKLOADS)}"
        )
    w = WORKLOADS[name]
    n = w.n_samples if n_samples is None else int(n_samples)
    X, _ = make_blobs(n, w.n_features, w.n_components, seed=seed)
    return X, w
