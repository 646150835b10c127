"""Compiling the kernels ahead of time: ``emfast compile``.

emfast's kernels are compiled by Numba on their first call and kept in
Numba's on-disk cache (see ``_jit``); a fresh install therefore pays for the
compilation in its first fit. ``compile_kernels`` runs every model's
operations once on a few points, for each floating-point type, so that the
cache holds every kernel before the first real call: in a container image
build (``RUN emfast compile`` after the install), or before the package is
made read-only.

Numba keeps a compiled kernel for the CPU it was compiled on: a cache built
on another CPU model is compiled again (Numba's ``NUMBA_CPU_NAME=generic``
builds one that any x86-64 CPU loads, at some cost in speed).
"""

from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np

# What ``compile_kernels`` can compile, in this order.
MODELS = ("mixture", "bayesian", "impute", "hmm")
DTYPES = ("float64", "float32")
_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_INITS = ("kmeans", "k-means++", "random", "random_from_data")


def cache_location() -> str:
    """Where Numba keeps the kernels of this installation: the package's
    ``__pycache__``, ``NUMBA_CACHE_DIR``, or Numba's per-user folder when
    the package is read-only."""
    from . import _kernels

    return str(_kernels._center.stats.cache_path)


def _data(dtype):
    """Small data with three clusters, and a copy with missing values."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 4.0, 4.0]])
    X = np.concatenate([c + rng.normal(size=(40, 3)) for c in centers])
    X = X[rng.permutation(len(X))].astype(dtype)
    X_missing = X.copy()
    X_missing[rng.random(X.shape) < 0.1] = np.nan
    X_missing[::7] = X[::7]  # some complete rows
    empty = np.isnan(X_missing).all(axis=1)
    X_missing[empty, 0] = X[empty, 0]  # and none without an observation
    return X, X_missing


def _mixture(X, X_missing):
    from .mixture import GaussianMixture

    weights = np.linspace(0.5, 1.5, len(X))
    for cov in _COVARIANCE_TYPES:
        for init in _INITS if cov == "full" else ("kmeans",):
            gm = GaussianMixture(
                3, covariance_type=cov, init_params=init, max_iter=3, random_state=0
            ).fit(X)
        gm.predict(X)
        gm.predict_proba(X)
        gm.score_samples(X)
        gm.sample(5)
        GaussianMixture(3, covariance_type=cov, max_iter=3, random_state=0).fit(
            X, sample_weight=weights
        )
        gm = GaussianMixture(
            3, covariance_type=cov, nan_policy="marginalize", max_iter=3, random_state=0
        ).fit(X_missing)
        gm.predict_proba(X_missing)
        gm.score_samples(X_missing)
        GaussianMixture(
            3, covariance_type=cov, nan_policy="omit", max_iter=3, random_state=0
        ).fit(X_missing).predict(X)


def _bayesian(X, X_missing):
    from .bayesian import BayesianGaussianMixture

    for cov in _COVARIANCE_TYPES:
        for prior in ("dirichlet_process", "dirichlet_distribution"):
            bgm = BayesianGaussianMixture(
                n_components=3,
                covariance_type=cov,
                weight_concentration_prior_type=prior,
                max_iter=3,
                random_state=0,
            ).fit(X)
            bgm.predict_proba(X)
            bgm.score_samples(X)
        BayesianGaussianMixture(
            n_components=3,
            covariance_type=cov,
            nan_policy="marginalize",
            max_iter=3,
            random_state=0,
        ).fit(X_missing).predict(X_missing)


def _impute(X, X_missing):
    from .impute import GaussianMixtureImputer

    for cov in _COVARIANCE_TYPES:
        GaussianMixtureImputer(
            n_components=3, covariance_type=cov, max_iter=3, random_state=0
        ).fit_transform(X_missing)


@contextlib.contextmanager
def _small_batches():
    """The HMMs' E-step in batches of a few steps, so that a sequence runs
    block by block (the path of sequences too long for one batch)."""
    from .hmm import BaseHMMModel

    saved = BaseHMMModel.batch_elements
    BaseHMMModel.batch_elements = 64
    try:
        yield
    finally:
        BaseHMMModel.batch_elements = saved


def _hmm(X, X_missing):
    from .gmmhmm import GMMHMM
    from .hmm import GaussianHMM

    lengths = [len(X) // 2, len(X) - len(X) // 2]
    for cov in _COVARIANCE_TYPES:
        for implementation in ("scaling", "log"):
            for small in (False, True):
                with _small_batches() if small else contextlib.nullcontext():
                    model = GaussianHMM(
                        3,
                        covariance_type=cov,
                        implementation=implementation,
                        n_iter=2,
                        random_state=0,
                    ).fit(X, lengths)
            model.decode(X, lengths, algorithm="viterbi")
            model.decode(X, lengths, algorithm="map")
            model.predict_proba(X, lengths, causal=True)
            model.score_samples(X, lengths)
            model.sample(5, random_state=0)
        GaussianHMM(
            3, covariance_type=cov, nan_policy="marginalize", n_iter=2, random_state=0
        ).fit(X_missing, lengths).predict(X_missing, lengths)
        GaussianHMM(3, covariance_type=cov, n_iter=2, random_state=0).fit(
            X, lengths, sample_weight=[1.0, 2.0]
        )
        gmmhmm = GMMHMM(2, n_mix=2, covariance_type=cov, n_iter=2, random_state=0)
        gmmhmm.fit(X, lengths).predict_proba(X, lengths)
        GMMHMM(
            2,
            n_mix=2,
            covariance_type=cov,
            nan_policy="marginalize",
            n_iter=2,
            random_state=0,
        ).fit(X_missing, lengths)


_RUNS = {"mixture": _mixture, "bayesian": _bayesian, "impute": _impute, "hmm": _hmm}


def compile_kernels(models=MODELS, dtypes=DTYPES, progress=None):
    """Compile (or load from Numba's cache) every kernel that ``models``
    use on data of ``dtypes``, by running each model's operations once on
    a few points.

    Parameters
    ----------
    models : sequence of str, default=MODELS
        From 'mixture' (GaussianMixture and select_model), 'bayesian'
        (BayesianGaussianMixture), 'impute' (GaussianMixtureImputer) and
        'hmm' (GaussianHMM and GMMHMM).
    dtypes : sequence of str, default=('float64', 'float32')
        The floating-point types of the data the kernels will see.
    progress : callable, optional
        Called with a line of text as each model and type is done.

    Returns
    -------
    seconds : list of (str, str, float)
        (model, dtype, seconds) of each run, in order.
    """
    unknown = [m for m in models if m not in _RUNS]
    if unknown or not models:
        raise ValueError(f"models must be among {', '.join(MODELS)}, got {models!r}")
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise ValueError(f"dtypes must be among {', '.join(DTYPES)}, got {dtypes!r}")
    done = []
    for dtype in dtypes:
        X, X_missing = _data(dtype)
        for model in models:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _RUNS[model](X, X_missing)
            seconds = time.perf_counter() - start
            done.append((model, dtype, seconds))
            if progress is not None:
                progress(f"{model} ({dtype}): {seconds:.1f} s")
    return done
