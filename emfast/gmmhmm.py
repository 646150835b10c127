"""Hidden Markov models whose states emit Gaussian mixtures: ``GMMHMM``, a
drop-in for hmmlearn's, on the HMM engine of ``hmm``.

The K states' n_mix components are K * n_mix Gaussian components of one
``Components`` (log offsets: the log mixture weights), so one kernel pass
gives every component's log-density; a state's emission log-density is the
log-sum-exp over its n_mix columns. The components' responsibilities are
the state posterior times the softmax over the state's columns, and one
``stats_from_resp`` pass gives all their statistics, centred on the current
means; the M-step is hmmlearn's, priors included.

hmmlearn's 'tied' is one full covariance per state, shared by that state's
components (not emfast's one covariance for all): the kernels get it as
'full' covariances repeated over the state's components, and its statistics
are 'full' ones summed over them.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy import linalg
from scipy.special import logsumexp
from sklearn.utils._param_validation import Interval, StrOptions

from ._covariance import compute_precision_cholesky
from ._kmeans import MemoryRows, kmeans, nearest_labels
from ._persist import Saved, positive_definite, register
from ._sources import Components, GaussianStats
from ._validation import as_kernel_input
from .hmm import (
    COVARIANCE_TYPES,
    DECODER_ALGORITHMS,
    SUMS_TO_1,
    BaseHMM,
    BaseHMMModel,
    emission_start,
)

# hmmlearn's defaults of covars_prior and covars_weight (given None), as
# functions of (n_mix, n_features): they make each covariance update the
# plain weighted scatter for 'full', 'tied' and 'diag'.
_DEFAULT_COVARS_PRIORS = {
    "full": lambda nm, nf: (0.0, -(1.0 + nf + 1.0)),
    "tied": lambda nm, nf: (0.0, -(nm + nf + 1.0)),
    "diag": lambda nm, nf: (-1.5, 0.0),
    "spherical": lambda nm, nf: (-(nm + 2.0) / 2.0, 0.0),
}


def covars_shape(covariance_type, n_components, n_mix, n_features) -> tuple:
    """Shape of ``covars_`` (hmmlearn's)."""
    return {
        "spherical": (n_components, n_mix),
        "diag": (n_components, n_mix, n_features),
        "full": (n_components, n_mix, n_features, n_features),
        "tied": (n_components, n_features, n_features),
    }[covariance_type]


def _covars_weight_shape(covariance_type, n_components, n_mix, n_features):
    return {
        "spherical": (n_components, n_mix),
        "diag": (n_components, n_mix, n_features),
        "full": (n_components, n_mix),
        "tied": (n_components,),
    }[covariance_type]


def full_mixture_covariances(covars, covariance_type, n_mix, n_features):
    """Every component's covariance as a full matrix (K, n_mix, D, D)."""
    covars = np.asarray(covars, dtype=np.float64)
    eye = np.eye(n_features)
    if covariance_type == "spherical":
        return covars[..., None, None] * eye
    if covariance_type == "diag":
        return covars[..., :, None] * eye
    if covariance_type == "tied":
        return np.repeat(covars[:, None], n_mix, axis=1)
    return covars


@dataclass
class GMMHMMPriors:
    """The priors of the emissions broadcast to hmmlearn's shapes, with its
    defaults for None covariance priors.

    weights_prior (K, n_mix); means_prior (K, n_mix, D); means_weight
    (K, n_mix); covars_prior: (K, n_mix, D, D) 'full', (K, D, D) 'tied',
    (K, n_mix, D) 'diag', (K, n_mix) 'spherical'; covars_weight: (K, n_mix)
    'full' and 'spherical', (K,) 'tied', (K, n_mix, D) 'diag'.
    """

    weights_prior: np.ndarray
    means_prior: np.ndarray
    means_weight: np.ndarray
    covars_prior: np.ndarray
    covars_weight: np.ndarray


def _broadcast(name, value, shape):
    value = np.asarray(value, dtype=np.float64)
    try:
        return np.broadcast_to(value, shape).copy()
    except ValueError:
        raise ValueError(
            f"{name} of shape {value.shape} does not broadcast to {shape}"
        ) from None


def resolve_priors(estimator, n_features) -> GMMHMMPriors:
    """The estimator's priors as hmmlearn's ``_init_covar_priors`` and
    ``_fix_priors_shape`` make them, without writing them back."""
    K, nm, ct = estimator.n_components, estimator.n_mix, estimator.covariance_type
    default_prior, default_weight = _DEFAULT_COVARS_PRIORS[ct](nm, n_features)
    covars_prior = estimator.covars_prior
    covars_weight = estimator.covars_weight
    return GMMHMMPriors(
        _broadcast("weights_prior", estimator.weights_prior, (K, nm)),
        _broadcast("means_prior", estimator.means_prior, (K, nm, n_features)),
        _broadcast("means_weight", estimator.means_weight, (K, nm)),
        _broadcast(
            "covars_prior",
            default_prior if covars_prior is None else covars_prior,
            covars_shape(ct, K, nm, n_features),
        ),
        _broadcast(
            "covars_weight",
            default_weight if covars_weight is None else covars_weight,
            _covars_weight_shape(ct, K, nm, n_features),
        ),
    )


def _has_precision(covariances) -> bool:
    """Whether ``compute_precision_cholesky`` accepts these full
    covariances."""
    try:
        compute_precision_cholesky(covariances, "full")
    except ValueError:
        return False
    return True


def _valid_covariances(covars, covariance_type):
    """Per covariance of ``covars`` (hmmlearn's shapes), whether the kernels
    can use it: finite, its eigenvalues above rounding (D * eps times the
    largest), a finite precision. A boolean array of the shape that
    indexes the covariances."""
    if covariance_type in ("spherical", "diag"):
        ok = np.isfinite(covars) & (covars > 0)
        return ok if covariance_type == "spherical" else np.all(ok, axis=-1)
    D = covars.shape[-1]
    flat = covars.reshape(-1, D, D)
    ok = np.all(np.isfinite(flat), axis=(1, 2))
    eigvals = np.linalg.eigvalsh(np.where(ok[:, None, None], flat, np.eye(D)))
    ok &= eigvals[:, 0] > D * np.finfo(np.float64).eps * np.abs(eigvals[:, -1])
    if not _has_precision(flat[ok]):
        ok[ok] = [_has_precision(c[None]) for c in flat[ok]]
    return ok.reshape(covars.shape[:-2])


def _outer(x):
    return x[..., :, None] * x[..., None, :]


@dataclass
class GMMHMMParams:
    """A GMM-HMM's parameters: startprob (K,), transmat (K, K), weights
    (K, n_mix), means (K, n_mix, D) and covars in hmmlearn's shapes
    (``covars_shape``)."""

    startprob: np.ndarray
    transmat: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covars: np.ndarray


class GMMHMMModel(BaseHMMModel):
    """The EM model of a GMM-HMM: ``BaseHMMModel`` with a Gaussian mixture
    per state, the K * n_mix components in one ``Components``, and
    hmmlearn's M-step and priors from statistics centred on the current
    means.

    Parameters
    ----------
    n_components : int
        Number of states.
    n_mix : int
        Mixture components per state.
    covariance_type : {'spherical', 'diag', 'full', 'tied'}
        hmmlearn's covariance type ('tied': one full covariance per state).
    starts : ndarray of int64
        The sequences' offsets (``hmm.sequence_starts``).
    estimator : GMMHMM
        Its priors, ``params``, ``init_params``, ``min_covar`` and
        ``implementation``, and the parameters it already has.
    seq_weight : ndarray of shape (n_sequences,), optional
        Each sequence's weight (the source carries it per row).

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GMMHMM
    >>> from emfast._sources import ArraySource
    >>> from emfast.hmm import sequence_starts
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> est = GMMHMM(2, n_mix=3, random_state=0)
    >>> model = est._hmm_model(sequence_starts(None, 50))
    >>> params = model.initialize(ArraySource(X), np.random.RandomState(0))
    >>> params.weights.shape, params.means.shape, params.covars.shape
    ((2, 3), (2, 3, 2), (2, 3, 2))
    >>> log_b, _ = model.log_emissions(ArraySource(X), model.emission_context(params))
    >>> log_b.shape
    (50, 2)
    """

    def __init__(
        self,
        n_components,
        n_mix,
        covariance_type,
        starts,
        estimator,
        seq_weight=None,
    ):
        super().__init__(n_components, starts, estimator, seq_weight)
        self.n_mix = n_mix
        self.covariance_type = covariance_type
        self._priors: GMMHMMPriors | None = None

    def priors(self, n_features) -> GMMHMMPriors:
        """The estimator's priors (``resolve_priors``), resolved once."""
        if self._priors is None:
            self._priors = resolve_priors(self.est, n_features)
        return self._priors

    # ------------------------------------------------------------ start

    def initialize(self, source, random_state) -> GMMHMMParams:
        """hmmlearn's start, each part unless already set and not in
        ``init_params``: the transitions of ``initial_transitions``; weights
        1 / n_mix; means by k-means (the data into K clusters, each cluster
        into n_mix; a cluster with fewer than n_mix rows draws its means
        from a Normal at the mean of the K centres with the data covariance
        plus ``min_covar``); every covariance that data covariance ('diag':
        its diagonal; 'spherical': the mean of all its entries)."""
        K, nm = self.n_components, self.n_mix
        D = source.n_features
        startprob, transmat = self.initial_transitions(random_state)
        data_cov = None

        def data_covariance():
            _, cov = source.moments()
            return cov + self.est.min_covar * np.eye(D)

        weights = self._given("w", "weights_")
        if weights is None:
            weights = np.full((K, nm), 1.0 / nm)
        means = self._given("m", "means_")
        if means is None:
            data_cov = data_covariance()
            means = self._kmeans_means(source, random_state, data_cov)
        covars = self._given("c", "covars_")
        if covars is None:
            if data_cov is None:
                data_cov = data_covariance()
            covars = self._distribute(data_cov, D)
        return GMMHMMParams(
            startprob,
            transmat,
            np.asarray(weights, dtype=np.float64),
            np.asarray(means, dtype=np.float64),
            np.asarray(covars, dtype=np.float64),
        )

    def _kmeans_means(self, source, random_state, data_cov):
        """(K, n_mix, D) means: k-means into K clusters, then k-means of each
        cluster into n_mix (hmmlearn's, with emfast's k-means). With
        ``emission_init`` 'hierarchical' or 'small-em', the K clusters are
        that start's components instead (each row to its most probable one,
        ``hmm.emission_start``)."""
        K, nm = self.n_components, self.n_mix
        rows = source.init_rows
        if rows.n_samples < K:
            raise ValueError(
                f"n_samples={rows.n_samples} should be >= n_components={K} "
                "to initialize the means by k-means"
            )
        centers, _, start_labels = emission_start(
            source,
            K,
            self.covariance_type,
            self.est.emission_init,
            self.est.min_covar,
            random_state,
        )
        labels = (
            nearest_labels(rows, centers) if start_labels is None else start_labels()
        )
        main_centroid = centers.mean(axis=0)
        weights = rows.weights
        means = np.empty((K, nm, rows.n_features))
        for k in range(K):
            members = labels == k
            if weights is not None:
                members &= weights > 0
            if np.count_nonzero(members) >= nm:
                cluster = MemoryRows(
                    as_kernel_input(rows.take(np.flatnonzero(members))),
                    None if weights is None else weights[members],
                )
                means[k] = kmeans(cluster, nm, random_state)
            else:
                means[k] = random_state.multivariate_normal(
                    main_centroid, data_cov, size=nm
                )
        return means

    def _distribute(self, cv, n_features):
        """The data covariance as every component's start (hmmlearn's)."""
        ct = self.covariance_type
        shape = covars_shape(ct, self.n_components, self.n_mix, n_features)
        if ct in ("full", "tied"):
            return np.broadcast_to(cv, shape).copy()
        if ct == "diag":
            return np.broadcast_to(np.diag(cv), shape).copy()
        return np.full(shape, cv.mean())

    # ------------------------------------------------------------ E-step

    def components(self, params: GMMHMMParams) -> Components:
        """The K * n_mix Gaussian components (state k's mixture in columns
        k * n_mix ... (k + 1) * n_mix - 1), log offsets the log weights."""
        K, nm = self.n_components, self.n_mix
        D = params.means.shape[-1]
        covars = params.covars
        ct = self.covariance_type
        try:
            if ct == "tied":
                precisions = np.repeat(
                    compute_precision_cholesky(covars, "full"), nm, axis=0
                )
                covariances = np.repeat(covars, nm, axis=0)
                ct = "full"
            else:
                covariances = covars.reshape(K * nm, *covars.shape[2:])
                precisions = compute_precision_cholesky(covariances, ct)
        except ValueError:
            raise ValueError(
                "A mixture component's covariance is not positive definite "
                "(for instance after collapsing onto a few samples). Try a "
                "smaller n_mix, stronger covariance priors (covars_prior, "
                "covars_weight), or scaling the input data."
            ) from None
        weights = params.weights.reshape(-1)
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        return Components(
            weights / K,
            params.means.reshape(K * nm, D),
            covariances,
            precisions,
            log_weights,
            ct,
        )

    def emission_context(self, params) -> Components:
        """What the emission passes of one E-step share: the components."""
        return self.components(params)

    def log_emissions(self, source, components, out=None):
        """(n_samples, K) emission log-densities (log-sum-exp of each
        state's weighted component log-densities; into ``out`` when given),
        and what ``emission_stats`` needs besides: the (n_samples, K *
        n_mix) weighted component log-densities and the emission
        log-densities."""
        log_dens = source.log_densities(components)
        K, nm = self.n_components, self.n_mix
        with np.errstate(under="ignore"):
            log_b = logsumexp(log_dens.reshape(-1, K, nm), axis=2)
        if out is not None:
            out[...] = log_b
            log_b = out
        return log_b, (log_dens, log_b)

    def emission_stats(self, source, components, gamma, extra) -> GaussianStats:
        """The Gaussian statistics of the components' responsibilities
        (gamma[:, k] times the softmax over state k's columns), centred on
        the current means; 'tied' as per-component full scatter (so too a
        ``PatternSource``'s, completed with conditional expectations)."""
        log_dens, log_b = extra
        K, nm = self.n_components, self.n_mix
        # In place: the log-densities become the responsibilities.
        resp = log_dens.reshape(-1, K, nm)
        resp -= np.where(np.isfinite(log_b), log_b, 0.0)[:, :, None]
        with np.errstate(under="ignore"):
            np.exp(resp, out=resp)
            resp *= gamma[:, :, None]
        return source.stats_from_resp(log_dens, components)

    # ------------------------------------------------------------ M-step

    def emission_m_step(self, g: GaussianStats, params: GMMHMMParams) -> dict:
        """hmmlearn's updates of weights, means and covariances. Where its
        formulas give 0 / 0 (a state or component without posterior mass
        and without prior weight) or a covariance that is not positive
        definite, the old value is kept; negative weights (a
        ``weights_prior`` below 1) are clipped to 0 as for ``startprob_``."""
        letters = self.est.params
        K, nm = self.n_components, self.n_mix
        D = params.means.shape[-1]
        pri = self.priors(D)
        post_mix = g.nk.reshape(K, nm)
        post_sum = post_mix.sum(axis=1)
        weights = params.weights
        if "w" in letters:
            weights = self._weights(post_mix, post_sum, pri, weights)
        means = params.means
        if "m" in letters:
            obs = (g.sx + g.nk[:, None] * g.centers).reshape(K, nm, D)
            m_n = pri.means_weight[:, :, None] * pri.means_prior + obs
            m_d = post_mix + pri.means_weight
            # hmmlearn's: an unused component (weight 0, no mass) gets m_n / 1.
            m_d = np.where((weights == 0) & np.all(m_n == 0, axis=-1), 1.0, m_d)
            safe = np.where(m_d != 0, m_d, 1.0)
            means = np.where(m_d[:, :, None] != 0, m_n / safe[:, :, None], means)
        covars = params.covars
        if "c" in letters:
            covars = self._covars(g, post_mix, post_sum, means, pri, covars)
        return {"weights": weights, "means": means, "covars": covars}

    @staticmethod
    def _weights(post_mix, post_sum, pri, old):
        alphas_minus_one = pri.weights_prior - 1.0
        w_n = post_mix + alphas_minus_one
        w_d = post_sum + alphas_minus_one.sum(axis=1)
        exact = np.all(w_n >= 0, axis=1) & (w_d > 0)
        clipped = np.maximum(w_n, 0.0)
        total = clipped.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                exact[:, None],
                w_n / w_d[:, None],
                np.where(total[:, None] > 0, clipped / total[:, None], old),
            )

    def _covars(self, g, post_mix, post_sum, means, pri, old):
        """hmmlearn's covariance update; its scatter sum_t r_t (x_t - m)
        (x_t - m)^T is about the means entering the iteration, which are
        the statistics' centres."""
        ct = self.covariance_type
        K, nm = self.n_components, self.n_mix
        D = means.shape[-1]
        lambdas = pri.means_weight
        centered_means = means - pri.means_prior
        if ct in ("full", "tied"):
            lower = g.sxx
            scatter = lower + np.swapaxes(np.tril(lower, -1), 1, 2)
            scatter = scatter.reshape(K, nm, D, D)
            psis_t = np.swapaxes(pri.covars_prior, -1, -2)
            nus = pri.covars_weight
            if ct == "full":
                c_n = psis_t + lambdas[:, :, None, None] * _outer(centered_means)
                c_n = c_n + scatter
                c_d = (post_mix + 1 + nus + D + 1)[:, :, None, None]
            else:
                c_n = np.einsum("ij,ijkl->ikl", lambdas, _outer(centered_means))
                c_n = c_n + psis_t + scatter.sum(axis=1)
                c_d = (post_sum + nm + nus + D + 1)[:, None, None]
        else:
            scatter = g.sxx[:, 0, :].reshape(K, nm, D)
            alphas, betas = pri.covars_prior, pri.covars_weight
            if ct == "diag":
                c_n = lambdas[:, :, None] * centered_means**2 + 2 * betas + scatter
                c_d = post_mix[:, :, None] + 1 + 2 * (alphas + 1)
            else:
                norm2 = np.einsum("...i,...i", centered_means, centered_means)
                c_n = lambdas * norm2 + 2 * betas + scatter.sum(axis=-1)
                c_d = D * (post_mix + 1) + 2 * (alphas + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = c_n / c_d
        ok = _valid_covariances(new, ct)
        ok = ok.reshape(ok.shape + (1,) * (new.ndim - ok.ndim))
        return np.where(ok, new, old)


def _check_emissions(est, weights, means, covars, n_features) -> None:
    """hmmlearn's checks of weights_, means_ and covars_ (None: absent),
    with its messages; clear ValueErrors where it has none."""
    K, nm, ct = est.n_components, est.n_mix, est.covariance_type
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (K, nm):
            raise ValueError(
                f"weights_ must have shape (n_components, n_mix), "
                f"actual shape: {weights.shape}"
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("weights_ must be finite and non-negative")
        BaseHMM._check_sum_1("weights_", weights)
    if means is not None:
        means = np.asarray(means, dtype=np.float64)
        if means.shape != (K, nm, n_features):
            raise ValueError(
                f"means_ must have shape (n_components, n_mix, n_features), "
                f"actual shape: {means.shape}"
            )
        if not np.all(np.isfinite(means)):
            raise ValueError("means_ must be finite")
    if covars is not None:
        _check_covars(np.asarray(covars, dtype=np.float64), ct, K, nm, n_features)


def _check_covars(covars, ct, K, nm, n_features) -> None:
    needed_shape = covars_shape(ct, K, nm, n_features)
    if covars.shape != needed_shape:
        raise ValueError(
            f"{ct!r} mixture covars must have shape {needed_shape}, "
            f"actual shape: {covars.shape}"
        )
    if not np.all(np.isfinite(covars)):
        raise ValueError("covars_ must be finite")
    if ct in ("spherical", "diag"):
        if np.any(covars < 0):
            raise ValueError(f"{ct!r} mixture covars must be non-negative")
        if np.any(covars == 0):
            # hmmlearn only warns ("Degenerate mixture covariance"), then
            # gives infinite or NaN log-densities.
            raise ValueError(f"{ct!r} mixture covars must be positive")
        return
    mats = covars if ct == "tied" else covars.reshape(K, nm, n_features, n_features)
    for i in range(K):
        for j, covar in enumerate([mats[i]] if ct == "tied" else mats[i]):
            where = f"state #{i}" if ct == "tied" else f"state #{i}, mixture #{j}"
            if not np.allclose(covar, covar.T):
                raise ValueError(f"Covariance of {where} is not symmetric")
            # hmmlearn only warns of a null eigenvalue; it has no density.
            if linalg.eigvalsh(covar).min() <= 0:
                raise ValueError(f"Covariance of {where} is not positive definite")


@register("emfast.GMMHMM")
class GMMHMM(BaseHMM):
    """Hidden Markov model whose states emit Gaussian mixtures, a drop-in for
    ``hmmlearn.hmm.GMMHMM``.

    Same constructor parameters and defaults, attributes, shapes and methods
    as hmmlearn 0.3, with the same M-step and priors; the E-step's
    component log-densities and statistics run on emfast's Gaussian kernels
    (all states' components in one pass) and forward–backward in parallel
    over sequences.

    Differences from hmmlearn:

    - The means start by emfast's Numba k-means (k-means++ seeding, Lloyd
      iterations, one seeding) where hmmlearn runs scikit-learn's
      ``KMeans(n_init=10)``, so the start differs for the same
      ``random_state``; a cluster with fewer than ``n_mix`` rows draws its
      means from ``random_state`` (hmmlearn: NumPy's global random state).
    - The priors are not written back: hmmlearn replaces ``covars_prior``
      and ``covars_weight`` of None by their defaults, and every prior by
      an array of its full shape, on the estimator.
    - Where hmmlearn gives NaN: a state never visited keeps its weights,
      means, covariances and transition row; a component with no posterior
      mass keeps its mean and covariance; a covariance update that is not
      positive definite keeps the old one; weights below 0 (a
      ``weights_prior`` below 1) are clipped to 0 and renormalised.
    - Zero variances (or a singular covariance) are refused with a
      ``ValueError``; hmmlearn only warns.
    - ``n_init`` restarts (the best log-likelihood wins).
    - Dask arrays whose row chunks hold whole sequences (``fit``,
      ``score``, ``decode``, ``predict_proba``).
    - Missing values: ``nan_policy='marginalize'``.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    n_mix : int, default=1
        Number of Gaussian components of each state's mixture.
    min_covar : float, default=1e-3
        Added to the diagonal of the data covariance that starts the
        covariances.
    startprob_prior, transmat_prior : float or array-like, default=1.0
        Dirichlet priors of ``startprob_`` and of each row of ``transmat_``.
    weights_prior : float or array-like, default=1.0
        Dirichlet prior of each row of ``weights_`` (broadcast to
        (n_components, n_mix)).
    means_prior, means_weight : float or array-like, default=0.0
        Mean and precision of the Normal prior of ``means_`` (broadcast to
        (n_components, n_mix, n_features) and (n_components, n_mix)).
    covars_prior, covars_weight : float, array-like or None, default=None
        The inverse Wishart ('full', 'tied') or inverse gamma ('diag',
        'spherical') prior of ``covars_``, as hmmlearn applies it. None:
        hmmlearn's defaults ('full': 0 and -(n_features + 2); 'tied': 0 and
        -(n_mix + n_features + 1); 'diag': -1.5 and 0; 'spherical':
        -(n_mix + 2) / 2 and 0).
    algorithm : {'viterbi', 'map'}, default='viterbi'
        The decoder of ``decode`` and ``predict``.
    covariance_type : {'spherical', 'diag', 'full', 'tied'}, default='diag'
        Each component's covariance; 'tied': the components of a state
        share one full covariance (unlike ``GaussianHMM``'s 'tied').
    random_state : int, RandomState instance or None, default=None
        Randomness of the start.
    n_iter : int, default=10
        Iterations at most.
    tol : float, default=1e-2
        Stop when the log-likelihood gains less than this.
    verbose : bool, default=False
        Print each iteration's log-likelihood to stderr (hmmlearn's columns).
    params, init_params : str, default='stmcw'
        The parameters updated by the M-step / initialized by ``fit``: 's'
        startprob, 't' transmat, 'm' means, 'c' covars, 'w' weights.
    implementation : {'log', 'scaling'}, default='log'
        Forward–backward in log space or with per-step scaling.
    n_init : int, default=1
        Starts tried (the best final log-likelihood is kept). hmmlearn's
        start (every covariance the data covariance, random transitions)
        often ends in a local optimum, or with a state's components merged
        into one; a few starts help.
    nan_policy : {'raise', 'marginalize'}, default='raise'
        Missing values (NaN) in X: 'raise' refuses them; 'marginalize' (at
        random) gives each state the mixture density of a step's observed
        coordinates (each component's marginal Gaussian, with the mixture
        weights) and completes the statistics with the missing coordinates'
        conditional expectations given each component; a step with every
        coordinate missing has no observation, and its state is inferred
        from its neighbours. The start sees NaN replaced by column means.
    emission_init : {'kmeans', 'hierarchical', 'small-em'}, default='kmeans'
        How the steps are first split into the states' clusters (each then
        split into ``n_mix`` by k-means): hmmlearn's k-means, or around the
        means of :class:`GaussianMixture`'s 'hierarchical' or 'small-em'
        start (see :class:`GaussianHMM`).

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    weights_ : ndarray of shape (n_components, n_mix)
    means_ : ndarray of shape (n_components, n_mix, n_features)
    covars_ : ndarray
        (n_components, n_mix) 'spherical', (n_components, n_mix,
        n_features) 'diag', (n_components, n_mix, n_features, n_features)
        'full', (n_components, n_features, n_features) 'tied'.
    n_features : int
    monitor_ : ConvergenceMonitor
        ``history`` of the log-likelihood per iteration, ``iter``,
        ``converged``.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GMMHMM
    >>> rng = np.random.default_rng(0)
    >>> states = np.repeat([0, 1, 0, 1], 150)
    >>> centres = np.array([[-6.0, -3.0], [3.0, 6.0]])
    >>> X = rng.normal(centres[states, rng.integers(0, 2, 600)], 0.5)[:, None]
    >>> model = GMMHMM(2, n_mix=2, n_iter=50, random_state=0).fit(X)
    >>> model.weights_.shape, model.means_.shape, model.covars_.shape
    ((2, 2), (2, 2, 1), (2, 2, 1))
    >>> high = int(np.argmax(model.means_[..., 0].mean(axis=1)))
    >>> bool(np.mean((model.predict(X) == high) == (states == 1)) > 0.95)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_mix": [Interval(Integral, 1, None, closed="left")],
        "min_covar": [Interval(Real, 0.0, None, closed="left")],
        "startprob_prior": ["array-like", Real],
        "transmat_prior": ["array-like", Real],
        "weights_prior": ["array-like", Real],
        "means_prior": ["array-like", Real],
        "means_weight": ["array-like", Real],
        "covars_prior": ["array-like", Real, None],
        "covars_weight": ["array-like", Real, None],
        "algorithm": [StrOptions(set(DECODER_ALGORITHMS))],
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
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
        "weights_prior",
        "means_prior",
        "means_weight",
        "covars_prior",
        "covars_weight",
    )
    _saved_fields = (
        *BaseHMM._saved_fields,
        Saved("weights_", "params", ("n_components", "n_mix"), checks=(SUMS_TO_1,)),
        Saved("means_", "params", ("n_components", "n_mix", "n_features")),
        Saved(
            "covars_",
            "params",
            {
                "spherical": ("n_components", "n_mix"),
                "diag": ("n_components", "n_mix", "n_features"),
                "full": ("n_components", "n_mix", "n_features", "n_features"),
                "tied": ("n_components", "n_features", "n_features"),
            },
            checks=(positive_definite,),
        ),
    )

    def __init__(
        self,
        n_components=1,
        n_mix=1,
        min_covar=1e-3,
        startprob_prior=1.0,
        transmat_prior=1.0,
        weights_prior=1.0,
        means_prior=0.0,
        means_weight=0.0,
        covars_prior=None,
        covars_weight=None,
        algorithm="viterbi",
        covariance_type="diag",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stmcw",
        init_params="stmcw",
        implementation="log",
        *,
        n_init=1,
        nan_policy="raise",
        emission_init="kmeans",
    ):
        self.n_components = n_components
        self.n_mix = n_mix
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.covariance_type = covariance_type
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

    # ------------------------------------------------------------ checks

    def _check(self):
        """hmmlearn's checks of the parameters (ValueError)."""
        self._check_transitions()
        if not hasattr(self, "n_features"):
            self.n_features = np.shape(self.means_)[-1]
        _check_emissions(
            self, self.weights_, self.means_, self.covars_, self.n_features
        )
        self.weights_ = np.asarray(self.weights_, dtype=np.float64)
        self.means_ = np.asarray(self.means_, dtype=np.float64)
        self.covars_ = np.asarray(self.covars_, dtype=np.float64)

    def _check_given(self, X):
        """Check the priors, and the parameters that ``fit`` will not
        initialize."""
        self._check_given_transitions()
        resolve_priors(self, X.shape[1])

        def given(code, name):
            if code in self.init_params or not hasattr(self, name):
                return None
            return getattr(self, name)

        _check_emissions(
            self,
            given("w", "weights_"),
            given("m", "means_"),
            given("c", "covars_"),
            X.shape[1],
        )

    def _get_n_fit_scalars_per_param(self):
        """hmmlearn's count of free scalars per parameter letter (its 'w' is
        n_mix - 1, for all states together)."""
        nc, nf, nm = self.n_components, self.n_features, self.n_mix
        return {
            "s": nc - 1,
            "t": nc * (nc - 1),
            "m": nc * nm * nf,
            "c": {
                "spherical": nc * nm,
                "diag": nc * nm * nf,
                "full": nc * nm * nf * (nf + 1) // 2,
                "tied": nc * nf * (nf + 1) // 2,
            }[self.covariance_type],
            "w": nm - 1,
        }

    def _n_emission_parameters(self):
        counts = self._get_n_fit_scalars_per_param()
        return counts["m"] + counts["c"] + counts["w"]

    # ------------------------------------------------------------ engine

    def _hmm_model(self, starts, seq_weight=None):
        return GMMHMMModel(
            self.n_components,
            self.n_mix,
            self.covariance_type,
            starts,
            self,
            seq_weight,
        )

    def _current_params(self):
        return GMMHMMParams(
            self.startprob_, self.transmat_, self.weights_, self.means_, self.covars_
        )

    def _store(self, params):
        self.startprob_ = params.startprob
        self.transmat_ = params.transmat
        self.weights_ = params.weights
        self.means_ = params.means
        self.covars_ = params.covars

    def _emit(self, states, random_state):
        """Emissions (n_samples, n_features) for a state sequence: at each
        step a component of the state's mixture, then its Gaussian; drawn
        together for all steps of a state and all draws of a component."""
        nm, D = self.n_mix, self.n_features
        covs = full_mixture_covariances(self.covars_, self.covariance_type, nm, D)
        X = np.empty((states.shape[0], D))
        noise = random_state.standard_normal(X.shape)
        for k in range(self.n_components):
            rows = np.flatnonzero(states == k)
            if rows.size == 0:
                continue
            cdf = np.cumsum(self.weights_[k])
            mix = np.searchsorted(cdf / cdf[-1], random_state.rand(rows.size), "right")
            mix = np.minimum(mix, nm - 1)
            for m in range(nm):
                chosen = rows[mix == m]
                if chosen.size:
                    factor = np.linalg.cholesky(covs[k, m])
                    X[chosen] = self.means_[k, m] + noise[chosen] @ factor.T
        return X
