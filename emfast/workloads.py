"""The standard benchmark workloads W1-W6 and their synthetic data.

Data are float64 blobs from a fixed seed: ``n_components`` true components with
random means in [-10, 10]^D and random symmetric positive-definite
covariances.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# Rows per chunk of ``blob_chunks``: part of the data's definition (chunk i is
# drawn from its own generator), so it is a constant, not a parameter.
BLOB_CHUNK_ROWS = 1_000_000


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
        chol = _random_covariance_cholesky(rng, n_features)
        idx = np.flatnonzero(labels == k)
        z = rng.standard_normal(size=(idx.size, n_features))
        X[idx] = means[k] + z @ chol.T
    return X, labels


def _random_covariance_cholesky(rng, n_features):
    """Cholesky factor of a random SPD covariance, A Aᵀ / D + 0.1 I."""
    a = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
    return np.linalg.cholesky(a @ a.T + 0.1 * np.eye(n_features))


def blob_chunks(
    n_samples: int, n_features: int, n_components: int, *, seed: int = 0
) -> Iterator[np.ndarray]:
    """Float64 blobs like :func:`make_blobs`, generated chunk by chunk.

    For data too large to hold in memory: the mixture follows
    :func:`make_blobs`' recipe (means in [-10, 10]^D, Dirichlet weights,
    random SPD covariances), and rows come in chunks of
    :data:`BLOB_CHUNK_ROWS`, so memory stays at one chunk. The values are
    not :func:`make_blobs`' for the same seed: the mixture and every chunk
    are drawn from their own generators (children of
    ``np.random.SeedSequence(seed)``), so the first rows do not depend on
    ``n_samples``.

    Parameters
    ----------
    n_samples, n_features, n_components : int
        Sizes of the data and number of true components.
    seed : int, default=0
        Seed of the data; the same seed gives the same data.

    Yields
    ------
    chunk : ndarray of shape (rows, n_features)
        Consecutive rows, at most :data:`BLOB_CHUNK_ROWS` of them.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.workloads import blob_chunks
    >>> X = np.concatenate(list(blob_chunks(1000, 2, 3, seed=1)))
    >>> X.shape, bool(np.array_equal(X[:10], next(blob_chunks(10, 2, 3, seed=1))))
    ((1000, 2), True)
    """
    mixture_seed, *chunk_seeds = np.random.SeedSequence(seed).spawn(
        1 + -(-n_samples // BLOB_CHUNK_ROWS)
    )
    rng = np.random.default_rng(mixture_seed)
    means = rng.uniform(-10.0, 10.0, size=(n_components, n_features))
    weights = rng.dirichlet(np.full(n_components, 5.0))
    chols = [_random_covariance_cholesky(rng, n_features) for _ in means]
    for i, chunk_seed in enumerate(chunk_seeds):
        # Labels and noise from separate streams: row j's values do not
        # depend on how many rows the chunk has.
        label_rng, noise_rng = map(np.random.default_rng, chunk_seed.spawn(2))
        rows = min(BLOB_CHUNK_ROWS, n_samples - i * BLOB_CHUNK_ROWS)
        labels = label_rng.choice(n_components, size=rows, p=weights)
        z = noise_rng.standard_normal(size=(rows, n_features))
        chunk = np.empty((rows, n_features))
        for k, chol in enumerate(chols):
            idx = np.flatnonzero(labels == k)
            chunk[idx] = means[k] + z[idx] @ chol.T
        yield chunk


def save_blobs(
    path, n_samples: int, n_features: int, n_components: int, *, seed: int = 0
) -> int:
    """Write :func:`blob_chunks`' data to a float64 ``.npy`` file, chunk by
    chunk (never the whole array in memory); returns the file's size in bytes.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from emfast.workloads import blob_chunks, save_blobs
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "X.npy")
    ...     size = save_blobs(path, 1000, 2, 3, seed=1)
    ...     X = np.load(path, mmap_mode="r")
    ...     same = bool(np.array_equal(X, next(blob_chunks(1000, 2, 3, seed=1))))
    ...     del X
    >>> size - 1000 * 2 * 8, same
    (128, True)
    """
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.float64)),
        "fortran_order": False,
        "shape": (int(n_samples), int(n_features)),
    }
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for chunk in blob_chunks(n_samples, n_features, n_components, seed=seed):
            chunk.tofile(f)
        return f.tell()


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
