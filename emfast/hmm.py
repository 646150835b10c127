"""Hidden Markov models with Gaussian emissions: ``GaussianHMM``, a drop-in
for hmmlearn's, on the EM engine.

Baum–Welch is EM (``_em.fit_em``): the E-step takes the per-state emission
log-densities from the data source (``log_densities``, the Gaussian kernels
of the mixtures), runs forward–backward over each sequence
(``_hmm_kernels``, in parallel over sequences) and asks the source for the
sufficient statistics of the state posteriors (``stats_from_resp``); the
M-step is hmmlearn's, with its priors, computed from statistics centred on
the current means. A Dask array whose row chunks hold whole sequences is a
``_dask.DaskSequenceSource``: each chunk's sequences run through the same
E-step and inference where the chunk lives (``_hmm_estep``).
"""

from __future__ import annotations

import copy
import sys
from collections import deque
from dataclasses import dataclass, replace
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from . import _dask, _hmm_estep, _hmm_kernels
from ._covariance import compute_precision_cholesky, full_covariances
from ._em import EMModel, current_observer, fit_em, observe_iterations
from ._kmeans import kmeans
from ._persist import PersistentModel, Saved, positive_definite, probabilities, register
from ._sources import Components, GaussianStats, source_for
from ._validation import as_kernel_input, check_observed_columns, check_sample_weight
from .mixture import MixtureModel

COVARIANCE_TYPES = frozenset(("spherical", "diag", "full", "tied"))
_NO_WEIGHTS = np.empty(0)
DECODER_ALGORITHMS = frozenset(("viterbi", "map"))


def sequence_starts(lengths, n_samples: int) -> np.ndarray:
    """The first row of each sequence, and ``n_samples`` last (int64, length
    n_sequences + 1), from hmmlearn's ``lengths`` (None: one sequence)."""
    if lengths is None:
        return np.array([0, n_samples], dtype=np.int64)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(
            f"lengths must be a 1-D array of sequence lengths, got shape "
            f"{lengths.shape}"
        )
    if lengths.dtype.kind not in "iu" and not (
        lengths.dtype.kind == "f" and np.all(lengths == np.round(lengths))
    ):
        raise ValueError(f"lengths must be integers, got {lengths.dtype}")
    lengths = lengths.astype(np.int64)
    if (lengths <= 0).any():
        raise ValueError(
            f"lengths must be positive: got {lengths[lengths <= 0][:5].tolist()}"
        )
    if lengths.sum() != n_samples:
        raise ValueError(f"lengths array {lengths} doesn't sum to {n_samples} samples")
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def sequence_chunks(lengths, chunks) -> tuple:
    """Row chunk sizes for a Dask array of sequences: each chunk holds
    whole sequences, as a hidden Markov model's ``fit``, ``score`` and
    ``decode`` need.

    Parameters
    ----------
    lengths : array-like of int
        The sequences' lengths (hmmlearn's ``lengths``).
    chunks : int or tuple of int
        About how many rows a chunk should hold, or the array's row chunk
        sizes now (``X.chunks[0]``): each chunk boundary is moved to the
        next sequence start (a chunk left empty is dropped).

    Returns
    -------
    chunks : tuple of int
        Row chunk sizes, for ``X.rechunk({0: chunks})`` or
        ``dask.array.from_array(X, chunks=(chunks, -1))``.

    Examples
    --------
    >>> from emfast.hmm import sequence_chunks
    >>> sequence_chunks([3, 4, 2, 5], 5)
    (7, 7)
    >>> sequence_chunks([3, 4, 2, 5], (2, 2, 10))
    (3, 4, 7)
    """
    lengths = np.asarray(lengths)
    starts = sequence_starts(lengths, int(lengths.sum()))
    n_samples = int(starts[-1])
    if isinstance(chunks, Integral):
        if chunks < 1:
            raise ValueError(f"chunks must be positive, got {chunks}")
        chunks = [chunks] * -(-n_samples // chunks)
        chunks[-1] -= sum(chunks) - n_samples
    elif sum(chunks) != n_samples:
        raise ValueError(
            f"chunks sum to {sum(chunks)} rows, the lengths to {n_samples}"
        )
    return _dask.sequence_chunk_sizes(starts, chunks)


def _emission_covariances(covars, covariance_type, n_components):
    """hmmlearn's stored covariances (``_covars_``) in emfast's per-type
    shapes: spherical (K,) (hmmlearn keeps (K,) or (K, D) with equal
    entries), diag (K, D), full (K, D, D), tied (D, D)."""
    covars = np.asarray(covars, dtype=np.float64)
    if covariance_type == "spherical":
        return covars.reshape(n_components, -1)[:, 0].copy()
    return covars


def validate_covars(covars, covariance_type, n_components):
    """hmmlearn's checks of covariances, with its messages."""
    covars = np.asarray(covars, dtype=np.float64)
    if covariance_type == "spherical":
        if len(covars) != n_components:
            raise ValueError("'spherical' covars have length n_components")
        if np.any(covars <= 0):
            raise ValueError("'spherical' covars must be positive")
    elif covariance_type == "tied":
        if covars.ndim != 2 or covars.shape[0] != covars.shape[1]:
            raise ValueError("'tied' covars must have shape (n_dim, n_dim)")
        if not np.allclose(covars, covars.T) or np.any(linalg.eigvalsh(covars) <= 0):
            raise ValueError("'tied' covars must be symmetric, positive-definite")
    elif covariance_type == "diag":
        if covars.ndim != 2:
            raise ValueError("'diag' covars must have shape (n_components, n_dim)")
        if np.any(covars <= 0):
            raise ValueError("'diag' covars must be positive")
    elif covariance_type == "full":
        if covars.ndim != 3 or covars.shape[1] != covars.shape[2]:
            raise ValueError(
                "'full' covars must have shape (n_components, n_dim, n_dim)"
            )
        for n, cv in enumerate(covars):
            if not np.allclose(cv, cv.T) or np.any(linalg.eigvalsh(cv) <= 0):
                raise ValueError(
                    f"component {n} of 'full' covars must be symmetric, "
                    "positive-definite"
                )
    return covars


def _distribute(tied_cv, covariance_type, n_components):
    """One covariance matrix as the start of every state (hmmlearn's)."""
    if covariance_type == "spherical":
        return np.tile(tied_cv.mean() * np.ones(tied_cv.shape[1]), (n_components, 1))
    if covariance_type == "tied":
        return tied_cv
    if covariance_type == "diag":
        return np.tile(np.diag(tied_cv), (n_components, 1))
    return np.tile(tied_cv, (n_components, 1, 1))


@dataclass
class HMMParams:
    """A Gaussian HMM's parameters: startprob (K,), transmat (K, K), means
    (K, D) and covars in hmmlearn's stored form (``_covars_``)."""

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covars: np.ndarray


@dataclass
class HMMStats:
    """One Baum–Welch E-step: the total log-likelihood, the posteriors of
    the first state of each sequence summed (K,), the expected transition
    counts (K, K) and the emission model's statistics of the state
    posteriors."""

    log_likelihood: float
    start: np.ndarray
    trans: np.ndarray
    emission: object


# The starts of the states' emissions (``emission_init``).
EMISSION_INITS = ("kmeans", "hierarchical", "small-em")


def emission_start(source, n_components, covariance_type, method, reg, random_state):
    """The states' start, from the rows of ``source`` as if they were
    independent: (means (K, D), covariances in hmmlearn's shape of
    ``covariance_type`` or None, labels or None). 'kmeans': hmmlearn's
    k-means centres, and neither covariances nor labels; 'hierarchical' and
    'small-em': the means and covariances of that start of a Gaussian
    mixture (``GaussianMixture``'s ``init_params``), with ``reg`` added to
    the covariances' diagonals, and a function that gives each row's most
    probable component under it (an (n_samples,) int64 array)."""
    if method == "kmeans":
        return kmeans(source.init_rows, n_components, random_state), None, None
    model = MixtureModel(n_components, covariance_type, reg, method, source.dtype)
    params = model.initialize(source, random_state)

    def labels():
        found = source.scores(model.components(params), "labels")
        return np.asarray(found.compute() if hasattr(found, "compute") else found)

    return params.means, params.covariances, labels


class BaseHMMModel(EMModel):
    """The EM model of a hidden Markov model (see ``_em``): Baum–Welch. The
    E-step runs forward–backward over the emission log-densities
    (``log_emissions``, the subclass's) and hands the state posteriors to
    ``emission_stats``; the M-step updates startprob and transmat as
    hmmlearn does (priors, forbidden transitions kept at 0; a state never
    left keeps its row) and the emissions by ``emission_m_step``. The lower
    bound is the total log-likelihood of the parameters entering the
    iteration. Parameters are a dataclass with ``startprob`` and
    ``transmat`` fields.

    Parameters
    ----------
    n_components : int
        Number of states.
    starts : ndarray of int64
        The sequences' offsets (``sequence_starts``).
    estimator : BaseHMM
        Its priors, ``params``, ``init_params`` and ``implementation``, and
        the parameters it already has.
    seq_weight : ndarray of shape (n_sequences,), optional
        Each sequence's weight in the statistics (the source carries the
        same weights per row).
    """

    # Rows x states of one batch of the E-step (see ``_hmm_estep``).
    batch_elements = _hmm_estep.BATCH_ELEMENTS

    def __init__(self, n_components, starts, estimator, seq_weight=None):
        self.n_components = n_components
        self.starts = starts
        self.est = estimator
        self.scaled = estimator.implementation == "scaling"
        self.seq_weight = _NO_WEIGHTS if seq_weight is None else seq_weight
        self._workspace = None

    def shipped(self):
        """A copy for the tasks of a Dask array's chunks, which get their
        sequences and arrays of their own: without this fit's sequence
        offsets, weights and arrays."""
        model = copy.copy(self)
        model.starts = model.seq_weight = _NO_WEIGHTS
        model._workspace = None
        return model

    def _given(self, code, name):
        """The estimator's ``name`` when it is not to be initialized."""
        if code in self.est.init_params or not hasattr(self.est, name):
            return None
        return getattr(self.est, name)

    def initial_transitions(self, random_state):
        """hmmlearn's start: startprob and each row of transmat drawn from a
        Dirichlet(1/K), unless already set and not in ``init_params``."""
        K = self.n_components
        startprob = self._given("s", "startprob_")
        if startprob is None:
            startprob = random_state.dirichlet(np.full(K, 1.0 / K))
        transmat = self._given("t", "transmat_")
        if transmat is None:
            transmat = random_state.dirichlet(np.full(K, 1.0 / K), size=K)
        return (
            np.asarray(startprob, dtype=np.float64),
            np.asarray(transmat, dtype=np.float64),
        )

    def e_step(self, source, params) -> HMMStats:
        if self._workspace is None:
            self._workspace = _hmm_estep.Workspace()
        log_likelihood, start, trans, emission = _hmm_estep.e_step(
            self, source, params, self._workspace
        )
        return HMMStats(log_likelihood, start, trans, emission)

    def m_step(self, stats: HMMStats, params):
        est = self.est
        letters = est.params
        startprob, transmat = params.startprob, params.transmat
        if "s" in letters:
            new = np.maximum(est.startprob_prior - 1.0 + stats.start, 0.0)
            new = np.where(startprob == 0, 0.0, new)
            total = new.sum()
            startprob = new / total if total > 0 else startprob
        if "t" in letters:
            new = np.maximum(est.transmat_prior - 1.0 + stats.trans, 0.0)
            new = np.where(transmat == 0, 0.0, new)
            rows = new.sum(axis=1, keepdims=True)
            # A state never left (or never visited) keeps its row: hmmlearn
            # leaves it all zero (and then refuses the model).
            transmat = np.where(rows > 0, new / np.where(rows > 0, rows, 1.0), transmat)
        emission = self.emission_m_step(stats.emission, params)
        return replace(params, startprob=startprob, transmat=transmat, **emission)

    def lower_bound(self, stats: HMMStats, params) -> float:
        return stats.log_likelihood


class HMMModel(BaseHMMModel):
    """The EM model of a Gaussian HMM: ``BaseHMMModel`` with one Gaussian
    per state, hmmlearn's emission M-step and priors computed from
    statistics centred on the current means.

    Parameters
    ----------
    n_components : int
        Number of states.
    covariance_type : {'spherical', 'diag', 'full', 'tied'}
        The covariance type.
    starts : ndarray of int64
        The sequences' offsets (``sequence_starts``).
    estimator : GaussianHMM
        Its priors, ``params``, ``init_params``, ``min_covar`` and
        ``implementation``, and the parameters it already has.
    seq_weight : ndarray of shape (n_sequences,), optional
        Each sequence's weight.
    """

    def __init__(
        self, n_components, covariance_type, starts, estimator, seq_weight=None
    ):
        super().__init__(n_components, starts, estimator, seq_weight)
        self.covariance_type = covariance_type

    def initialize(self, source, random_state) -> HMMParams:
        """hmmlearn's start: the transitions of ``initial_transitions``,
        means by k-means, every state's covariance the data covariance plus
        ``min_covar`` (each unless already set and not in
        ``init_params``). With ``emission_init`` 'hierarchical' or
        'small-em', the means, and the covariances when they are to be
        initialized too, of that start instead (``emission_start``)."""
        K = self.n_components
        startprob, transmat = self.initial_transitions(random_state)
        means = self._given("m", "means_")
        covars = self._given("c", "_covars_")
        if means is None:
            means, start_covars, _ = emission_start(
                source,
                K,
                self.covariance_type,
                self.est.emission_init,
                self.est.min_covar,
                random_state,
            )
            if covars is None and start_covars is not None:
                covars = start_covars
        if covars is None:
            _, cov = source.moments()
            cv = cov + self.est.min_covar * np.eye(cov.shape[0])
            covars = _distribute(cv, self.covariance_type, K)
        return HMMParams(
            startprob,
            transmat,
            np.asarray(means, dtype=np.float64),
            np.asarray(covars, dtype=np.float64),
        )

    # ------------------------------------------------------------ E-step

    def components(self, params: HMMParams) -> Components:
        covariances = _emission_covariances(
            params.covars, self.covariance_type, self.n_components
        )
        return Components(
            np.full(self.n_components, 1.0 / self.n_components),
            params.means,
            covariances,
            compute_precision_cholesky(covariances, self.covariance_type),
            np.zeros(self.n_components),
            self.covariance_type,
        )

    def emission_context(self, params) -> Components:
        """What the emission passes of one E-step share: the components."""
        return self.components(params)

    def log_emissions(self, source, components, out=None):
        """(n_samples, K) log-densities of every row under every state (into
        ``out`` when given), and what ``emission_stats`` needs besides
        (nothing)."""
        return source.log_densities(components, out), None

    def emission_stats(self, source, components, gamma, extra) -> GaussianStats:
        """The Gaussian statistics of the state posteriors, centred on the
        means ('tied' as per-state full scatter: hmmlearn's tied update
        sums them)."""
        return source.stats_from_resp(gamma, components, per_component=True)

    def emission_m_step(self, g: GaussianStats, params: HMMParams) -> dict:
        est = self.est
        letters = est.params
        centers = g.centers
        post = g.nk
        means = params.means
        if "m" in letters:
            obs = g.sx + post[:, None] * centers
            denom = est.means_weight + post[:, None] * np.ones_like(means)
            # A state with no posterior mass and no prior weight keeps its
            # mean (hmmlearn's 0 / 0 gives NaN).
            means = np.where(
                denom > 0,
                (est.means_weight * est.means_prior + obs)
                / np.where(denom > 0, denom, 1),
                means,
            )
        covars = params.covars
        if "c" in letters:
            covars = self._covars(g, means, centers, params.covars)
        return {"means": np.asarray(means, dtype=np.float64), "covars": covars}

    def _covars(self, g, means, centers, old):
        """hmmlearn's covariance update, from statistics centred on
        ``centers``: sum_t g_t (x_t - m)(x_t - m)^T = S + d sx^T + sx d^T +
        n d d^T with d = centers - m."""
        est = self.est
        post = g.nk
        d = centers - means
        meandiff = means - est.means_prior
        if self.covariance_type in ("spherical", "diag"):
            scatter = g.sxx[:, 0, :] + 2.0 * d * g.sx + post[:, None] * d**2
            c_n = est.means_weight * meandiff**2 + scatter
            c_d = max(est.covars_weight - 1, 0) + post[:, None]
            covars = (est.covars_prior + c_n) / np.maximum(c_d, 1e-5)
            if self.covariance_type == "spherical":
                covars = np.tile(covars.mean(1)[:, None], (1, covars.shape[1]))
            return covars
        lower = g.sxx
        S = lower + np.swapaxes(np.tril(lower, -1), 1, 2)
        outer_d_sx = d[:, :, None] * g.sx[:, None, :]
        scatter = (
            S
            + outer_d_sx
            + np.swapaxes(outer_d_sx, 1, 2)
            + post[:, None, None] * d[:, :, None] * d[:, None, :]
        )
        md = np.asarray(meandiff) * np.ones_like(means)
        c_n = est.means_weight * md[:, :, None] * md[:, None, :] + scatter
        cvweight = max(est.covars_weight - means.shape[1], 0)
        if self.covariance_type == "tied":
            return (est.covars_prior + c_n.sum(axis=0)) / (cvweight + post.sum())
        denom = cvweight + post[:, None, None] * np.ones_like(c_n)
        # A state with no posterior mass and no prior weight keeps its
        # covariance (hmmlearn's 0 / 0 gives NaN).
        return np.where(
            denom > 0, (est.covars_prior + c_n) / np.where(denom > 0, denom, 1), old
        )


class ConvergenceMonitor:
    """hmmlearn's record of a fit: ``history`` (the log-likelihood of each
    iteration, a deque), ``iter`` (iterations run), ``tol``, ``n_iter``,
    ``verbose`` and ``converged``.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianHMM
    >>> X = np.random.default_rng(0).normal(size=(200, 1))
    >>> monitor = GaussianHMM(2, n_iter=5, random_state=0).fit(X).monitor_
    >>> monitor.iter == len(monitor.history) <= 5
    True
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol, n_iter, verbose):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        params = sorted(dict(vars(self), history=list(self.history)).items())
        body = "".join(f"    {k}={v},\n" for k, v in params)
        return f"{type(self).__name__}(\n{body})"

    def _reset(self):
        self.iter = 0
        self.history.clear()

    def report(self, log_prob):
        """Record one iteration's log-likelihood (printed to stderr with
        ``verbose``, in hmmlearn's columns)."""
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(
                self._template.format(
                    iter=self.iter + 1, log_prob=log_prob, delta=delta
                ),
                file=sys.stderr,
            )
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self):
        """hmmlearn's rule: ``n_iter`` iterations ran, or the last gain of
        the log-likelihood was below ``tol``."""
        return self.iter == self.n_iter or (
            len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol
        )


# Probabilities that sum to 1 as hmmlearn checks them (np.allclose(sums, 1)).
SUMS_TO_1 = probabilities(tol=1e-5 + 1e-8)


def _restore_monitor(model, history):
    model.monitor_ = ConvergenceMonitor(model.tol, model.n_iter, model.verbose)
    model.monitor_.history.extend(history)


class BaseHMM(PersistentModel, BaseEstimator):
    """What every hidden Markov model of emfast shares (not public): fit by
    Baum–Welch on the engine, inference (score, posteriors, decoding),
    sampling, information criteria, hmmlearn's checks of the transitions,
    saving (``save``).

    A subclass gives ``_hmm_model(starts)`` (its ``BaseHMMModel``),
    ``_current_params()``, ``_store(params)``, ``_check()``,
    ``_check_given(X)``, ``_emit(states, random_state)`` and
    ``_n_emission_parameters()``, and adds its emission arrays to
    ``_saved_fields``; its constructor takes ``nan_policy`` and its
    ``_parameter_constraints`` include ``BaseHMM._parameter_constraints``.
    """

    # What every hidden Markov model's constructor takes.
    _parameter_constraints: ClassVar[dict] = {
        "nan_policy": [StrOptions({"raise", "marginalize"})],
        "emission_init": [StrOptions(set(EMISSION_INITS))],
    }

    # Constructor parameters that older model files lack (their defaults
    # are used).
    _later_params: ClassVar[tuple] = ("emission_init",)

    # A model file (``_persist``): these besides the constructor parameters.
    _model_kind = "hidden Markov model"
    _saved_fields: ClassVar[tuple] = (
        Saved("n_features", "int", minimum=1),
        Saved("startprob_", "params", ("n_components",), checks=(SUMS_TO_1,)),
        Saved(
            "transmat_",
            "params",
            ("n_components", "n_components"),
            checks=(SUMS_TO_1,),
        ),
        Saved(
            "monitor_history",
            "bounds",
            get=lambda model: model.monitor_.history,
            put=_restore_monitor,
        ),
        Saved(
            "monitor_iter",
            "int",
            minimum=0,
            get=lambda model: model.monitor_.iter,
            put=lambda model, n_iter: setattr(model.monitor_, "iter", n_iter),
        ),
    )

    @property
    def _marginalize(self):
        """Whether missing values are marginalized (``nan_policy``)."""
        return self.nan_policy == "marginalize"

    def _validate_X(self, X, reset):
        """X checked (for a Dask array: its shape and dtype; its values in
        the first pass), in the kernels' form."""
        dask = _dask.is_dask_array(X)
        if dask:
            if self._marginalize:
                raise ValueError(
                    f"nan_policy={self.nan_policy!r} is not supported for Dask "
                    "arrays; use nan_policy='raise' (the default) on finite data"
                )
            X = _dask.check_dask_array(X)
        else:
            X = check_array(
                X,
                dtype=[np.float64, np.float32],
                ensure_all_finite="allow-nan" if self._marginalize else True,
            )
        if reset:
            # A means_ kept from before fixes the features (hmmlearn's message).
            if (
                hasattr(self, "n_features")
                and self.n_features != X.shape[1]
                and "m" not in self.init_params
                and hasattr(self, "means_")
            ):
                raise ValueError(
                    f"Unexpected number of dimensions, got {X.shape[1]} but "
                    f"expected {self.n_features}"
                )
        elif X.shape[1] != self.n_features:
            raise ValueError(
                f"Unexpected number of dimensions, got {X.shape[1]} but "
                f"expected {self.n_features}"
            )
        return X if dask else as_kernel_input(X)

    @staticmethod
    def _check_sum_1(name, value):
        s = value.sum(axis=-1)
        if not np.allclose(s, 1):
            raise ValueError(
                f"{name} must sum to 1 (got {s:.4f})"
                if s.ndim == 0
                else f"{name} rows must sum to 1 (got row sums of {s})"
            )

    def _check_transitions(self):
        """hmmlearn's checks of startprob_ and transmat_ (ValueError)."""
        K = self.n_components
        self.startprob_ = np.asarray(self.startprob_, dtype=np.float64)
        if len(self.startprob_) != K:
            raise ValueError("startprob_ must have length n_components")
        self._check_sum_1("startprob_", self.startprob_)
        self.transmat_ = np.asarray(self.transmat_, dtype=np.float64)
        if self.transmat_.shape != (K, K):
            raise ValueError("transmat_ must have shape (n_components, n_components)")
        self._check_sum_1("transmat_", self.transmat_)

    def _check_given_transitions(self):
        """The checks of ``_check_transitions`` for the transitions that
        ``fit`` will not initialize."""
        K = self.n_components
        if "s" not in self.init_params and hasattr(self, "startprob_"):
            sp = np.asarray(self.startprob_, dtype=np.float64)
            if len(sp) != K:
                raise ValueError("startprob_ must have length n_components")
            self._check_sum_1("startprob_", sp)
        if "t" not in self.init_params and hasattr(self, "transmat_"):
            tm = np.asarray(self.transmat_, dtype=np.float64)
            if tm.shape != (K, K):
                raise ValueError(
                    "transmat_ must have shape (n_components, n_components)"
                )
            self._check_sum_1("transmat_", tm)

    # ------------------------------------------------------------ fit

    def fit(self, X, lengths=None, sample_weight=None):
        """Estimate the parameters by Baum–Welch (EM).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            The sequences, one after another. A Dask array's row chunks
            must hold whole sequences (``sequence_chunks`` gives chunk sizes
            that do): each iteration runs every chunk's sequences where the
            chunk lives, and equals the in-memory fit.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence (they sum to n_samples); None: one
            sequence.
        sample_weight : array-like of shape (n_sequences,), default=None
            A non-negative weight per sequence (not per step): its terms in
            the statistics count that many times, so integer weights give
            the fit of the sequences repeated. None: all 1.

        Returns
        -------
        self : GaussianHMM
            The fitted model.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(300, 2))
        >>> model = GaussianHMM(2, random_state=0).fit(X, lengths=[100, 200])
        >>> model.transmat_.shape
        (2, 2)
        """
        self._validate_params()
        X = self._validate_X(X, reset=True)
        starts = sequence_starts(lengths, _dask.n_rows(X))
        seq_weight = None
        if sample_weight is not None:
            seq_weight = check_sample_weight(sample_weight, starts.shape[0] - 1)
        self._check_given(X)
        model = self._hmm_model(starts, seq_weight)
        source = self._fit_source(X, starts, seq_weight)
        monitor = ConvergenceMonitor(self.tol, self.n_iter, self.verbose)
        outer = current_observer()  # a progress bar around this fit, if any

        def report(init, n_iter, lower_bound):
            if n_iter == 1:
                monitor._reset()
            monitor.report(lower_bound)
            if outer is not None:
                outer(init, n_iter, lower_bound)

        with observe_iterations(report):
            result = fit_em(
                model,
                source,
                tol=self.tol,
                max_iter=self.n_iter,
                n_init=self.n_init,
                random_state=check_random_state(self.random_state),
                convergence_warning=False,
                stop_on_decrease=True,
            )
        params = result.params
        monitor._reset()
        for value in result.lower_bounds:
            monitor.history.append(value)
        monitor.iter = result.n_iter
        self._store(params)
        self.n_features = X.shape[1]
        self.monitor_ = monitor
        return self

    def _fit_source(self, X, starts, seq_weight):
        """The data source of a fit: a Dask array's chunks of whole
        sequences, or X with each row weighted by its sequence's weight."""
        if _dask.is_dask_array(X):
            return _dask.DaskSequenceSource(X, starts, seq_weight)
        row_weight = None
        if seq_weight is not None:
            row_weight = np.repeat(seq_weight, np.diff(starts))
        if self._marginalize and np.isnan(X).any():
            check_observed_columns(X, row_weight)
        return source_for(X, row_weight, self.n_components, self._marginalize)

    def _em_model(self, source, lengths=None):
        """The engine model of a fit on ``source`` cut into sequences by
        ``lengths`` (see :func:`emfast.engine.model_for`)."""
        return self._hmm_model(sequence_starts(lengths, source.X.shape[0]))

    def _get_parameters(self):
        """The fitted (or given) parameters in the model's form."""
        return self._current_params()

    # ------------------------------------------------------------ inference

    def _inference(self, X, lengths, what):
        """(log_prob, result) of ``_hmm_estep.infer(..., what)`` over the
        sequences of X, log_prob the exact sum of the sequences'. A Dask
        array's chunks of whole sequences run where they live, and their
        results are gathered in memory (NumPy arrays, as for in-memory X)."""
        check_is_fitted(self, "startprob_")
        self._check()
        X = self._validate_X(X, reset=False)
        starts = sequence_starts(lengths, _dask.n_rows(X))
        model = self._hmm_model(starts)
        params = self._current_params()
        # Small factorisations: BLAS threads woken after Numba's parallel
        # kernels cost milliseconds each, as in fit (see _em.fit_em).
        with threadpool_limits(limits=1, user_api="blas"):
            context = model.emission_context(params)
        if _dask.is_dask_array(X):
            parts = _dask.DaskSequenceSource(X, starts).map_sequences(
                _hmm_estep.infer, (model.shipped(), params, context, what)
            )
            per_sequence = np.concatenate([part[0] for part in parts])
            result = None
            if what != "score":
                result = np.concatenate([part[1] for part in parts])
        else:
            source = source_for(X, None, self.n_components, self._marginalize)
            per_sequence, result = _hmm_estep.infer(
                source, starts, _NO_WEIGHTS, model, params, context, what
            )
        return float(_hmm_kernels._exact_sum(per_sequence)), result

    def score_samples(self, X, lengths=None):
        """Log-likelihood of X and the state posteriors.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            The sequences (a Dask array's row chunks hold whole sequences,
            and run where they live; the results are NumPy arrays).
        lengths : array-like of int, default=None
            Their lengths.

        Returns
        -------
        log_prob : float
            The log-likelihood of X.
        posteriors : ndarray of shape (n_samples, n_components)
            p(state | all of the sequence) for each step.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> log_prob, post = GaussianHMM(2, random_state=0).fit(X).score_samples(X)
        >>> post.shape, bool(np.allclose(post.sum(axis=1), 1))
        ((100, 2), True)
        """
        return self._inference(X, lengths, "posteriors")

    def score(self, X, lengths=None):
        """Log-likelihood of X under the model.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            The sequences (a Dask array's row chunks hold whole sequences,
            and run where they live; the results are NumPy arrays).
        lengths : array-like of int, default=None
            Their lengths.

        Returns
        -------
        log_prob : float
            The log-likelihood.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> model = GaussianHMM(2, random_state=0).fit(X)
        >>> bool(model.score(X) == model.score_samples(X)[0])
        True
        """
        return self._inference(X, lengths, "score")[0]

    def decode(self, X, lengths=None, algorithm=None):
        """The most probable state sequence.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            The sequences (a Dask array's row chunks hold whole sequences,
            and run where they live; the results are NumPy arrays).
        lengths : array-like of int, default=None
            Their lengths.
        algorithm : {'viterbi', 'map'}, default=None
            'viterbi': the most probable path; 'map': the most probable state
            at each step. None: ``self.algorithm``.

        Returns
        -------
        log_prob : float
            'viterbi': the log-probability of the path (with X);
            'map': as hmmlearn, the sum over steps of the largest posterior.
        state_sequence : ndarray of shape (n_samples,)
            The states.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> log_prob, states = GaussianHMM(2, random_state=0).fit(X).decode(X)
        >>> states.shape
        (100,)
        """
        algorithm = algorithm or self.algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {algorithm!r}")
        if algorithm == "map":
            _, posteriors = self.score_samples(X, lengths)
            return float(np.max(posteriors, axis=1).sum()), np.argmax(
                posteriors, axis=1
            )
        return self._inference(X, lengths, "viterbi")

    def predict(self, X, lengths=None):
        """The decoded states (``decode(X, lengths)[1]``).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            The sequences (a Dask array's row chunks hold whole sequences,
            and run where they live; the results are NumPy arrays).
        lengths : array-like of int, default=None
            Their lengths.

        Returns
        -------
        state_sequence : ndarray of shape (n_samples,)
            The states.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> GaussianHMM(2, random_state=0).fit(X).predict(X).shape
        (100,)
        """
        return self.decode(X, lengths)[1]

    def predict_proba(self, X, lengths=None, *, causal=False):
        """The state posteriors at each step.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            The sequences (a Dask array's row chunks hold whole sequences,
            and run where they live; the results are NumPy arrays).
        lengths : array-like of int, default=None
            Their lengths.
        causal : bool, default=False
            False: p(state at t | the whole sequence), smoothed
            (``score_samples(X, lengths)[1]``, hmmlearn's). True: the
            filtered p(state at t | the steps up to t), which uses no
            future step: what an online decision at t can know.

        Returns
        -------
        posteriors : ndarray of shape (n_samples, n_components)
            The posteriors; each row sums to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> model = GaussianHMM(2, random_state=0).fit(X)
        >>> model.predict_proba(X).shape
        (100, 2)
        >>> filtered = model.predict_proba(X, causal=True)
        >>> bool(np.allclose(filtered[:50], model.predict_proba(X[:50], causal=True)))
        True
        """
        if not causal:
            return self.score_samples(X, lengths)[1]
        return self._inference(X, lengths, "filtered")[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draw a sequence from the model.

        Parameters
        ----------
        n_samples : int, default=1
            Its length.
        random_state : int, RandomState instance or None, default=None
            The randomness (None: ``self.random_state``).
        currstate : int, default=None
            The first state (None: drawn from ``startprob_``).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The emissions.
        state_sequence : ndarray of shape (n_samples,)
            The states.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> Xs, states = GaussianHMM(2, random_state=0).fit(X).sample(5)
        >>> Xs.shape, states.shape
        ((5, 1), (5,))
        """
        check_is_fitted(self, "startprob_")
        self._check()
        rs = check_random_state(
            self.random_state if random_state is None else random_state
        )
        K = self.n_components
        transmat_cdf = np.cumsum(self.transmat_, axis=1)
        draws = rs.rand(n_samples)
        if currstate is None:
            currstate = int((np.cumsum(self.startprob_) > draws[0]).argmax())
        elif not 0 <= int(currstate) < K:
            raise ValueError(f"currstate must be in [0, {K}), got {currstate}")
        states = _hmm_kernels.sample_states(transmat_cdf, int(currstate), draws)
        return self._emit(states, rs), states

    # ------------------------------------------------------------ criteria

    def _n_parameters(self):
        K = self.n_components
        return (K - 1) + K * (K - 1) + self._n_emission_parameters()

    def aic(self, X, lengths=None):
        """Akaike information criterion: -2 log-likelihood + 2 n_parameters.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            The sequences (a Dask array's row chunks hold whole sequences,
            and run where they live; the results are NumPy arrays).
        lengths : array-like of int, default=None
            Their lengths.

        Returns
        -------
        aic : float
            The lower the better.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> model = GaussianHMM(2, random_state=0).fit(X)
        >>> bool(model.aic(X) < model.bic(X))
        True
        """
        return -2 * self.score(X, lengths) + 2 * self._n_parameters()

    def bic(self, X, lengths=None):
        """Bayesian information criterion: -2 log-likelihood + n_parameters
        log(n_samples).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            The sequences (a Dask array's row chunks hold whole sequences,
            and run where they live; the results are NumPy arrays).
        lengths : array-like of int, default=None
            Their lengths.

        Returns
        -------
        bic : float
            The lower the better.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> bool(np.isfinite(GaussianHMM(2, random_state=0).fit(X).bic(X)))
        True
        """
        check_is_fitted(self, "startprob_")
        n_samples = self._validate_X(X, reset=False).shape[0]
        return -2 * self.score(X, lengths) + self._n_parameters() * np.log(n_samples)

    def get_stationary_distribution(self):
        """The stationary distribution of the states (the left eigenvector
        of ``transmat_`` for eigenvalue 1, normalised).

        Returns
        -------
        distribution : ndarray of shape (n_components,)
            The stationary distribution.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> model = GaussianHMM(2, init_params="")
        >>> model.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
        >>> model.get_stationary_distribution().round(3)
        array([0.667, 0.333])
        """
        check_is_fitted(self, "transmat_")
        eigvals, eigvecs = linalg.eig(np.asarray(self.transmat_).T)
        eigvec = np.real_if_close(eigvecs[:, np.argmax(eigvals)])
        return eigvec / eigvec.sum()


@register("emfast.GaussianHMM")
class GaussianHMM(BaseHMM):
    """Hidden Markov model with Gaussian emissions, a drop-in for
    ``hmmlearn.hmm.GaussianHMM``.

    Same constructor parameters and defaults, attributes and methods as
    hmmlearn 0.3; the E-step's emission densities and statistics run on
    emfast's Gaussian kernels and forward–backward runs in parallel over
    sequences. Beyond hmmlearn: ``n_init`` restarts (the best
    log-likelihood wins), transition rows that stay valid for states
    never left, and Dask arrays whose row chunks hold whole sequences.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    covariance_type : {'spherical', 'diag', 'full', 'tied'}, default='diag'
        The covariance of each state's Gaussian ('tied': one for all).
    min_covar : float, default=1e-3
        Added to the diagonal of the data covariance that starts every
        state's covariance.
    startprob_prior, transmat_prior : float or array-like, default=1.0
        Dirichlet priors of ``startprob_`` and of each row of ``transmat_``.
    means_prior, means_weight : float or array-like, default=0
        Mean and precision of the Normal prior of ``means_``.
    covars_prior, covars_weight : float or array-like, default=1e-2, 1
        The inverse gamma ('spherical', 'diag') or inverse Wishart ('full',
        'tied') prior of the covariances, as hmmlearn applies it.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        The decoder of ``decode`` and ``predict``.
    random_state : int, RandomState instance or None, default=None
        Randomness of the start.
    n_iter : int, default=10
        Iterations at most.
    tol : float, default=1e-2
        Stop when the log-likelihood gains less than this.
    verbose : bool, default=False
        Print each iteration's log-likelihood to stderr (hmmlearn's columns).
    params, init_params : str, default='stmc'
        The parameters updated by the M-step / initialized by ``fit``: 's'
        startprob, 't' transmat, 'm' means, 'c' covars.
    implementation : {'log', 'scaling'}, default='log'
        Forward–backward in log space or with per-step scaling.
    n_init : int, default=1
        Starts tried (the best final log-likelihood is kept).
    nan_policy : {'raise', 'marginalize'}, default='raise'
        Missing values (NaN) in X: 'raise' refuses them; 'marginalize' (at
        random) drops a missing coordinate out of that step's emission
        density and completes the statistics with its conditional
        expectation given the state; a step with every coordinate missing
        has no observation, and its state is inferred from its neighbours.
    emission_init : {'kmeans', 'hierarchical', 'small-em'}, default='kmeans'
        The start of the states' means (and covariances), from the steps as
        if they were independent: hmmlearn's k-means centres (with every
        covariance the data covariance), or the means and covariances of
        :class:`GaussianMixture`'s 'hierarchical' or 'small-em' start, which
        survive elongated or nested emission clusters where k-means reaches
        a poor local optimum.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    means_ : ndarray of shape (n_components, n_features)
    covars_ : ndarray of shape (n_components, n_features, n_features)
        Each state's covariance as a full matrix (hmmlearn's getter); set it
        in the per-type shape: (K,) 'spherical', (K, D) 'diag', (K, D, D)
        'full', (D, D) 'tied'.
    n_features : int
    monitor_ : ConvergenceMonitor
        ``history`` of the log-likelihood per iteration, ``iter``,
        ``converged``.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianHMM
    >>> rng = np.random.default_rng(0)
    >>> states = np.repeat([0, 1, 0, 1], 100)
    >>> X = rng.normal(loc=np.array([0.0, 5.0])[states], size=400)[:, None]
    >>> model = GaussianHMM(2, n_iter=20, random_state=0).fit(X)
    >>> bool(np.allclose(np.sort(model.means_.ravel()), [0, 5], atol=0.3))
    True
    >>> high = int(np.argmax(model.means_.ravel()))
    >>> bool(np.mean((model.predict(X) == high) == (states == 1)) > 0.95)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "min_covar": [Interval(Real, 0.0, None, closed="left")],
        "startprob_prior": ["array-like", Real],
        "transmat_prior": ["array-like", Real],
        "means_prior": ["array-like", Real],
        "means_weight": ["array-like", Real],
        "covars_prior": ["array-like", Real],
        "covars_weight": ["array-like", Real],
        "algorithm": [StrOptions(set(DECODER_ALGORITHMS))],
        "random_state": ["random_state"],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Real],
        "verbose": ["verbose", "boolean"],
        "params": [str],
        "init_params": [str],
        "implementation": [StrOptions({"log", "scaling"})],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        **BaseHMM._parameter_constraints,
    }
    _array_params = (
        "startprob_prior",
        "transmat_prior",
        "means_prior",
        "means_weight",
        "covars_prior",
        "covars_weight",
    )
    # covars_ as set (per type), not the (K, D, D) the getter gives.
    _saved_fields = (
        *BaseHMM._saved_fields,
        Saved("means_", "params", ("n_components", "n_features")),
        Saved(
            "covars_",
            "params",
            {
                "spherical": ("n_components",),
                "diag": ("n_components", "n_features"),
                "full": ("n_components", "n_features", "n_features"),
                "tied": ("n_features", "n_features"),
            },
            checks=(positive_definite,),
            get=lambda model: _emission_covariances(
                model._covars_, model.covariance_type, model.n_components
            ),
        ),
    )

    def __init__(
        self,
        n_components=1,
        covariance_type="diag",
        min_covar=1e-3,
        startprob_prior=1.0,
        transmat_prior=1.0,
        means_prior=0,
        means_weight=0,
        covars_prior=1e-2,
        covars_weight=1,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stmc",
        init_params="stmc",
        implementation="log",
        *,
        n_init=1,
        nan_policy="raise",
        emission_init="kmeans",
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_init = n_init
        self.nan_policy = nan_policy
        self.emission_init = emission_init

    # ------------------------------------------------------------ covars_

    @property
    def covars_(self):
        """Each state's covariance as a full (K, D, D) matrix.

        Set it in the form of ``covariance_type`` (hmmlearn's convention);
        it reads back full once the number of features is known (after
        ``fit``, or from ``means_`` when the model is checked).

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> model = GaussianHMM(2, covariance_type="diag", random_state=0).fit(X)
        >>> model.covars_.shape
        (2, 2, 2)
        >>> bool(np.all(model.covars_[:, 0, 1] == 0))
        True
        """
        covars = _emission_covariances(
            self._covars_, self.covariance_type, self.n_components
        )
        return full_covariances(
            covars, self.covariance_type, self.n_components, self.n_features
        )

    @covars_.setter
    def covars_(self, covars):
        covars = np.array(covars, dtype=np.float64, copy=True)
        validate_covars(covars, self.covariance_type, self.n_components)
        self._covars_ = covars

    # ------------------------------------------------------------ checks

    def _check(self):
        """hmmlearn's checks of the parameters (ValueError)."""
        K = self.n_components
        self._check_transitions()
        self.means_ = np.asarray(self.means_, dtype=np.float64)
        if self.means_.ndim != 2 or self.means_.shape[0] != K:
            raise ValueError(
                f"means_ must have shape (n_components, n_features), got "
                f"{self.means_.shape}"
            )
        self.n_features = self.means_.shape[1]
        validate_covars(self._covars_, self.covariance_type, K)
        if np.any(~np.isfinite(self.means_)):
            raise ValueError("means_ must be finite")

    def _check_given(self, X):
        """Check the parameters that ``fit`` will not initialize."""
        K = self.n_components
        self._check_given_transitions()
        if "m" not in self.init_params and hasattr(self, "means_"):
            means = np.asarray(self.means_, dtype=np.float64)
            if means.shape != (K, X.shape[1]):
                raise ValueError(
                    f"means_ must have shape ({K}, {X.shape[1]}), got {means.shape}"
                )
        if "c" not in self.init_params and hasattr(self, "_covars_"):
            validate_covars(self._covars_, self.covariance_type, K)

    def _n_emission_parameters(self):
        K, D = self.n_components, self.n_features
        covars = {
            "spherical": K,
            "diag": K * D,
            "full": K * D * (D + 1) // 2,
            "tied": D * (D + 1) // 2,
        }[self.covariance_type]
        return K * D + covars

    def _hmm_model(self, starts, seq_weight=None):
        return HMMModel(
            self.n_components, self.covariance_type, starts, self, seq_weight
        )

    def _current_params(self):
        return HMMParams(self.startprob_, self.transmat_, self.means_, self._covars_)

    def _store(self, params):
        self.startprob_ = params.startprob
        self.transmat_ = params.transmat
        self.means_ = params.means
        self._covars_ = params.covars

    def _emit(self, states, random_state):
        """Emissions (n_samples, n_features) for a state sequence: each
        state's Gaussian, drawn together for all its steps."""
        covs = self.covars_
        X = np.empty((states.shape[0], self.n_features))
        noise = random_state.standard_normal(X.shape)
        for k in range(self.n_components):
            rows = states == k
            if rows.any():
                factor = np.linalg.cholesky(covs[k])
                X[rows] = self.means_[k] + noise[rows] @ factor.T
        return X
