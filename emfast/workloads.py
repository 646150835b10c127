"""The standard benchmark workloads and their synthetic data.

W1-W6 (:data:`WORKLOADS`, :func:`make_workload`), for the mixtures: float64
blobs from a fixed seed, ``n_components`` true components with random means
in [-10, 10]^D and random symmetric positive-definite covariances.

The start data sets (:data:`START_DATASETS`, :func:`make_start_dataset`),
for the starts' benchmark: two-dimensional mixtures on which EM from the
usual starts reaches a poor local optimum, with their true parameters.

H1-H3 (:data:`HMM_WORKLOADS`, :func:`make_hmm_workload`), for the hidden
Markov models: float64 sequences simulated from a random Gaussian HMM of the
workload's shape (:func:`random_hmm`: means in [-10, 10]^D, random
covariances, a sticky random transition matrix) with a fixed seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .hmm import GaussianHMM

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
    dtype : dtype, default=np.float64
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
    """Float64 blobs like :func:`~emfast.workloads.make_blobs`, generated
    chunk by chunk.

    For data too large to hold in memory: the mixture follows
    :func:`make_blobs`' recipe (means in [-10, 10]^D, Dirichlet weights,
    random SPD covariances), and rows come in chunks of ``BLOB_CHUNK_ROWS``
    (one million), so memory stays at one chunk. The values are not
    :func:`make_blobs`' for the same seed: the mixture and every chunk
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
    chunk : ndarray
        Consecutive rows, at most ``BLOB_CHUNK_ROWS`` of them: shape
        (rows, n_features).

    See Also
    --------
    save_blobs : Write these data to a ``.npy`` file.

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
    """Write :func:`~emfast.workloads.blob_chunks`' data to a float64
    ``.npy`` file, chunk by chunk.

    The whole array is never in memory; the file can then be opened
    memory-mapped (``numpy.load(path, mmap_mode="r")``).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (overwritten).
    n_samples, n_features, n_components : int
        Sizes of the data and number of true components.
    seed : int, default=0
        Seed of the data, as in :func:`blob_chunks`.

    Returns
    -------
    size : int
        The file's size in bytes.

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
    workload : ``Workload``
        The workload's sizes and covariance type (``name``, ``n_samples``,
        ``n_features``, ``n_components``, ``covariance_type``).

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


# ---------------------------------------------------------------------------
# Hidden Markov models: H1-H3


@dataclass(frozen=True)
class HMMWorkload:
    """One standard HMM workload: sequences, sizes and covariance type."""

    name: str
    n_sequences: int
    sequence_length: int
    n_features: int
    n_components: int
    covariance_type: str

    @property
    def n_samples(self) -> int:
        """Steps in all: ``n_sequences * sequence_length``."""
        return self.n_sequences * self.sequence_length


HMM_WORKLOADS = {
    w.name: w
    for w in (
        HMMWorkload("H1", 100, 10_000, 8, 16, "full"),
        HMMWorkload("H2", 1, 1_000_000, 2, 4, "full"),
        HMMWorkload("H3", 10_000, 100, 4, 8, "diag"),
    )
}

# The chance that :func:`random_hmm`'s chain stays in its state, at least
# (each row of ``transmat`` adds a Dirichlet draw times 1 - this).
HMM_STICKINESS = 0.9


class HMMParameters(NamedTuple):
    """A Gaussian HMM's parameters, as ``GaussianHMM`` (emfast's and
    hmmlearn's) takes them: ``covars`` in the covariance type's shape,
    (K,) 'spherical', (K, D) 'diag', (K, D, D) 'full', (D, D) 'tied'."""

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covars: np.ndarray


def random_hmm(
    n_features: int, n_components: int, covariance_type: str = "full", *, seed=0
) -> HMMParameters:
    """A random Gaussian HMM: the model the HMM workloads are drawn from.

    ``startprob`` is a Dirichlet(5, ..., 5) draw; each row of ``transmat``
    is ``HMM_STICKINESS`` on the diagonal plus ``1 - HMM_STICKINESS`` times
    a Dirichlet(1, ..., 1) draw (so the chain stays in a state for 10 steps
    or more on average); the means are uniform in [-10, 10]^D; covariances
    are random SPD matrices A Aᵀ / D + 0.1 I ('full', 'tied'), variances
    uniform in [0.5, 2] ('diag', 'spherical').

    Parameters
    ----------
    n_features, n_components : int
        D and the number of states K.
    covariance_type : {'full', 'diag', 'spherical', 'tied'}, default='full'
        The covariance type, which sets the shape of ``covars``.
    seed : int, default=0
        Seed of the generator; the same seed gives the same model.

    Returns
    -------
    parameters : ``HMMParameters``
        A named tuple of ``startprob``, ``transmat``, ``means`` and
        ``covars``, as ``GaussianHMM`` takes them.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.workloads import random_hmm
    >>> p = random_hmm(2, 3, "diag", seed=1)
    >>> p.means.shape, p.covars.shape, bool(np.allclose(p.transmat.sum(1), 1))
    ((3, 2), (3, 2), True)
    >>> bool(np.all(np.diag(p.transmat) >= 0.9))
    True
    """
    rng = np.random.default_rng(seed)
    K, D = n_components, n_features
    startprob = rng.dirichlet(np.full(K, 5.0))
    rows = rng.dirichlet(np.ones(K), size=K)
    transmat = HMM_STICKINESS * np.eye(K) + (1.0 - HMM_STICKINESS) * rows
    means = rng.uniform(-10.0, 10.0, size=(K, D))
    if covariance_type == "full":
        covars = np.stack([_random_covariance(rng, D) for _ in range(K)])
    elif covariance_type == "tied":
        covars = _random_covariance(rng, D)
    elif covariance_type == "diag":
        covars = rng.uniform(0.5, 2.0, size=(K, D))
    elif covariance_type == "spherical":
        covars = rng.uniform(0.5, 2.0, size=K)
    else:
        raise ValueError(f"Unknown covariance_type {covariance_type!r}")
    return HMMParameters(startprob, transmat, means, covars)


def _random_covariance(rng, n_features):
    chol = _random_covariance_cholesky(rng, n_features)
    return chol @ chol.T


def hmm_sizes(name: str, n_samples: int | None = None) -> tuple[int, int]:
    """``(n_sequences, sequence_length)`` of an HMM workload with about
    ``n_samples`` steps in all.

    Whole sequences of the workload's length while ``n_samples`` allows
    (``n_samples // sequence_length`` of them), else one sequence of
    ``n_samples`` steps; the workload's own sizes when ``n_samples`` is None.

    Examples
    --------
    >>> from emfast.workloads import hmm_sizes
    >>> hmm_sizes("H1"), hmm_sizes("H1", 100_000), hmm_sizes("H1", 300)
    ((100, 10000), (10, 10000), (1, 300))
    >>> hmm_sizes("H2", 100_000), hmm_sizes("H3", 1_050)
    ((1, 100000), (10, 100))
    """
    w = _hmm_workload(name)
    if n_samples is None:
        return w.n_sequences, w.sequence_length
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    if n_samples >= w.sequence_length:
        return n_samples // w.sequence_length, w.sequence_length
    return 1, n_samples


def make_hmm_workload(name, n_samples=None, seed=0):
    """Data of a standard HMM workload (optionally with fewer steps).

    One path of length ``n_sequences * sequence_length`` drawn by
    :meth:`emfast.GaussianHMM.sample` from
    :func:`~emfast.workloads.random_hmm` of the
    workload's shape (model seed ``seed``, sampling from
    ``np.random.RandomState(seed)``), cut into ``n_sequences`` consecutive
    sequences: a piece starts where the chain is, not from ``startprob``,
    which the benchmarks do not mind.

    Parameters
    ----------
    name : {'H1', 'H2', 'H3'}
        The workload.
    n_samples : int, optional
        About this many steps in all (for quick runs): whole sequences of
        the workload's length while it allows (``n_samples //
        sequence_length`` of them), else one sequence of ``n_samples``
        steps.
    seed : int, default=0
        Seed of the model and of the data.

    Returns
    -------
    X : ndarray
        float64 steps, the sequences one after another: ``n_sequences *
        sequence_length`` rows (at most ``n_samples`` when given) of
        ``n_features`` values.
    lengths : ndarray of shape (n_sequences,)
        The length of each sequence (``lengths`` of ``fit``).
    workload : ``HMMWorkload``
        The workload's sizes and covariance type (the full ones:
        ``name``, ``n_sequences``, ``sequence_length``, ``n_features``,
        ``n_components``, ``covariance_type``).

    Examples
    --------
    >>> from emfast.workloads import make_hmm_workload
    >>> X, lengths, w = make_hmm_workload("H3", n_samples=1000)
    >>> X.shape, lengths.tolist() == [100] * 10, w.covariance_type
    ((1000, 4), True, 'diag')
    """
    w = _hmm_workload(name)
    n_sequences, length = hmm_sizes(name, n_samples)
    truth = random_hmm(w.n_features, w.n_components, w.covariance_type, seed=seed)
    model = GaussianHMM(w.n_components, covariance_type=w.covariance_type)
    model.startprob_, model.transmat_, model.means_, model.covars_ = truth
    model.n_features = w.n_features
    X, _ = model.sample(n_sequences * length, random_state=np.random.RandomState(seed))
    return X, np.full(n_sequences, length, dtype=np.int64), w


def _hmm_workload(name: str) -> HMMWorkload:
    if name not in HMM_WORKLOADS:
        raise ValueError(
            f"Unknown HMM workload {name!r}; expected one of {list(HMM_WORKLOADS)}"
        )
    return HMM_WORKLOADS[name]


class StartDataset(NamedTuple):
    """A start data set (:func:`make_start_dataset`): the points, their true
    components and the true mixture's parameters ('full' covariances)."""

    X: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


# name -> what it is; the sizes are make_start_dataset's.
START_DATASETS = {
    "elongated": "3 parallel elongated clusters (sd 6 along x, 0.25 across, 2 apart)",
    "nested": "one broad cluster (80 %, sd 4) with 4 tight ones (sd 0.3) on it",
    "grid": "5 x 5 grid of tight clusters (sd 0.3, 3 apart), unequal weights",
}


def make_start_dataset(name, n_samples=20_000, seed=0):
    """Draw one of the start data sets (``START_DATASETS``).

    Parameters
    ----------
    name : {'elongated', 'nested', 'grid'}
        The data set: 3 parallel elongated clusters (K = 3), a broad cluster
        with 4 tight ones on it (K = 5), or a 5 x 5 grid of tight clusters
        with weights drawn uniformly in [0.5, 2] and normalised (K = 25).
    n_samples : int, default=20000
        Number of points.
    seed : int, default=0
        Seed of the generator (of the points, and of the grid's weights).

    Returns
    -------
    ``StartDataset``
        A named tuple of the points ``X`` (float64, (n_samples, 2)), their
        true components ``labels`` and the true ``weights``, ``means`` and
        ``covariances``; the number of components is ``len(weights)``.

    Examples
    --------
    >>> from emfast.workloads import make_start_dataset
    >>> data = make_start_dataset("nested", 1000, seed=1)
    >>> data.X.shape, len(data.weights), data.weights.round(2).tolist()
    ((1000, 2), 5, [0.8, 0.05, 0.05, 0.05, 0.05])
    """
    rng = np.random.default_rng(seed)
    if name == "elongated":
        weights = np.full(3, 1.0 / 3.0)
        means = np.array([[0.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
        scales = np.tile([6.0, 0.25], (3, 1))
    elif name == "nested":
        weights = np.array([0.8, 0.05, 0.05, 0.05, 0.05])
        means = np.array(
            [[0.0, 0.0], [-3.0, -3.0], [3.0, -3.0], [-3.0, 3.0], [3.0, 3.0]]
        )
        scales = np.array([[4.0, 4.0]] + [[0.3, 0.3]] * 4)
    elif name == "grid":
        weights = rng.uniform(0.5, 2.0, 25)
        weights /= weights.sum()
        means = 3.0 * np.array(
            [[a, b] for a in range(5) for b in range(5)], dtype=float
        )
        scales = np.full((25, 2), 0.3)
    else:
        raise ValueError(
            f"Unknown start data set {name!r}; expected one of {list(START_DATASETS)}"
        )
    labels = rng.choice(len(weights), size=n_samples, p=weights)
    X = means[labels] + rng.standard_normal((n_samples, 2)) * scales[labels]
    covariances = np.stack([np.diag(s**2) for s in scales])
    return StartDataset(X, labels, weights, means, covariances)
