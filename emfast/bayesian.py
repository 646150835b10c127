"""BayesianGaussianMixture: variational inference for a Gaussian mixture, on
the same engine and kernels as ``GaussianMixture``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import ClassVar

import numpy as np
from scipy.special import betaln, digamma, gammaln
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseMixture
from ._covariance import (
    compute_precision_cholesky,
    estimate_gaussian_parameters,
    log_det_cholesky,
    precision_error_message,
    precisions_from_cholesky,
)
from ._em import EMModel
from ._init import InitialPoints, initial_params
from ._persist import register
from ._sources import Components, GaussianStats
from ._validation import check_precision_matrix, check_shape


@dataclass
class VariationalParams:
    """The variational posterior's parameters, as sklearn stores them.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    weight_concentration : tuple of ndarray or ndarray
        For 'dirichlet_process', a pair of arrays of shape (n_components,):
        the Beta distributions of the stick-breaking weights; for
        'dirichlet_distribution', the Dirichlet's array of shape
        (n_components,).
    mean_precision : ndarray of shape (n_components,)
        The precisions of the Gaussian posteriors of the means (beta).
    means : ndarray of shape (n_components, n_features)
        The posterior means of the means.
    degrees_of_freedom : ndarray of shape (n_components,) or float
        The Wishart posteriors' degrees of freedom (nu), a number for
        'tied'.
    covariances : ndarray
        The covariances the Wishart scales imply, shaped by covariance type
        (as ``covariances_``).
    precisions_cholesky : ndarray
        Cholesky factors of their precisions (as ``precisions_cholesky_``).

    See Also
    --------
    VariationalModel : The model whose parameters they are.
    fitted_params : A fitted estimator's parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import BayesianGaussianMixture
    >>> from emfast.engine import fitted_params
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> bgm = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    >>> params = fitted_params(bgm)
    >>> type(params).__name__, len(params.weight_concentration)
    ('VariationalParams', 2)
    >>> bool(np.allclose(params.means, bgm.means_))
    True
    """

    weight_concentration: tuple | np.ndarray
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: np.ndarray | float
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


@dataclass
class Priors:
    """The priors of the variational mixture, resolved against the data.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    weight_concentration_prior : float
        Dirichlet concentration (gamma for the Dirichlet process).
    mean_precision_prior : float
        Precision of the prior on the means (beta).
    mean_prior : ndarray of shape (n_features,)
        Prior on the means.
    degrees_of_freedom_prior : float
        Degrees of freedom of the Wishart prior (nu).
    covariance_prior : ndarray or float
        Prior on the covariances, shaped by covariance type.

    See Also
    --------
    VariationalModel : The model that takes them.
    model_for : The model of an estimator, with its priors resolved.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import Priors
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> priors = Priors(1 / 3, 1.0, X.mean(axis=0), 2.0, np.cov(X.T))
    >>> priors.covariance_prior.shape
    (2, 2)
    """

    weight_concentration_prior: float
    mean_precision_prior: float
    mean_prior: np.ndarray
    degrees_of_freedom_prior: float
    covariance_prior: np.ndarray | float


def weights_from_concentration(weight_concentration, prior_type):
    """The expected mixing weights (sklearn's ``weights_``)."""
    if prior_type == "dirichlet_process":
        a, b = weight_concentration
        total = a + b
        weights = a / total * np.hstack((1, np.cumprod((b / total)[:-1])))
        return weights / np.sum(weights)
    return weight_concentration / np.sum(weight_concentration)


class VariationalModel(EMModel):
    """The EM model of a variational Gaussian mixture (see ``_em``).

    The E-step responsibilities come from the kernels' Gaussian densities
    with ``log_offset`` = E[log pi_k] + (E[log det Lambda_k] - D / beta_k) / 2
    + log det(covariances_k) / 2: the expected log weights and the expected
    log-density terms that the Gaussian with the Wishart scale does not
    carry. The M-step updates the Dirichlet (or stick-breaking Beta),
    Gaussian and Wishart posteriors from the statistics; the lower bound is
    sklearn's (the evidence lower bound up to a constant), which needs the
    entropy of the responsibilities.

    Parameters
    ----------
    n_components : int
        Number of components (an upper bound on those used).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.
    reg_covar : float
        Added to the diagonal of the empirical covariances.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical', 'small-em'}
        The start ``initialize`` computes.
    dtype : dtype
        The data's dtype.
    weight_concentration_prior_type : {'dirichlet_process', \
'dirichlet_distribution'}
        The prior on the weights (``prior_type``).
    priors : Priors
        The priors, resolved against the data.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import Priors, VariationalModel, fit_em, source_for
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-4, 1, (300, 2)), rng.normal(4, 1, (300, 2))])
    >>> priors = Priors(1 / 5, 1.0, X.mean(axis=0), 2.0, np.cov(X.T))
    >>> model = VariationalModel(5, "full", 1e-6, "kmeans", X.dtype,
    ...                          "dirichlet_process", priors)
    >>> result = fit_em(model, source_for(X), tol=1e-3, max_iter=200,
    ...                 n_init=1, random_state=np.random.RandomState(0))
    >>> weights = model.components(result.params).weights
    >>> int((weights > 0.05).sum())  # two components carry the data
    2
    """

    want_entropy = True

    def __init__(
        self,
        n_components,
        covariance_type,
        reg_covar,
        init_params,
        dtype,
        weight_concentration_prior_type,
        priors: Priors,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.init_params = init_params
        self.dtype = dtype
        self.prior_type = weight_concentration_prior_type
        self.priors = priors

    def initialize(self, source, random_state) -> VariationalParams:
        """A start: the parameters of ``init_params`` on the source's rows.

        Parameters
        ----------
        source : ArraySource, PatternSource or DaskSource
            The data.
        random_state : numpy.random.RandomState
            Source of the start's randomness.

        Returns
        -------
        params : VariationalParams
            The start.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Priors, VariationalModel, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> priors = Priors(0.5, 1.0, X.mean(axis=0), 1.0, np.array([1.0]))
        >>> model = VariationalModel(2, "diag", 1e-6, "kmeans", X.dtype,
        ...                          "dirichlet_distribution", priors)
        >>> source = source_for(X)
        >>> params = model.initialize(source, np.random.RandomState(0))
        >>> np.sort(params.means.ravel()).round(2)
        array([0.78, 3.52])
        """
        return initial_params(self, source, random_state)

    def params_from_start(self, start) -> VariationalParams:
        """The parameters of a start computed by the initialization.

        The start of ``init_params`` is either the statistics of initial
        responsibilities or data points (``_init.InitialPoints``:
        'random_from_data' and 'k-means++'), one per component; the
        parameters are the M-step of those statistics, or of one-hot
        responsibilities at the points.

        Parameters
        ----------
        start : GaussianStats or object
            The start.

        Returns
        -------
        params : VariationalParams
            Its parameters.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components, Priors, VariationalModel, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> priors = Priors(0.5, 1.0, X.mean(axis=0), 1.0, np.array([1.0]))
        >>> model = VariationalModel(2, "diag", 1e-6, "kmeans", X.dtype,
        ...                          "dirichlet_distribution", priors)
        >>> components = Components(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                         np.ones((2, 1)), np.ones((2, 1)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> resp = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
        >>> start = source_for(X).stats_from_resp(resp, components)
        >>> params = model.params_from_start(start)
        >>> params.weight_concentration, params.means.round(2)
        (array([2.5, 2.5]), array([[0.78],
               [3.52]]))
        """
        if isinstance(start, InitialPoints):
            start = start.stats(self.covariance_type)
        return self.m_step(start, None)

    def m_step(self, stats: GaussianStats, params) -> VariationalParams:
        """The M-step: the variational posteriors from E-step statistics.

        As scikit-learn's ``_m_step``: the Dirichlet (or stick-breaking
        Beta) posterior of the weights, the Gaussian posteriors of the
        means and the Wishart posteriors of the precisions.

        Parameters
        ----------
        stats : GaussianStats
            The statistics of an E-step.
        params : VariationalParams or None
            The parameters entering the iteration (not used).

        Returns
        -------
        params : VariationalParams
            The new parameters.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Priors, VariationalModel, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> priors = Priors(0.5, 1.0, X.mean(axis=0), 1.0, np.array([1.0]))
        >>> model = VariationalModel(2, "diag", 1e-6, "kmeans", X.dtype,
        ...                          "dirichlet_distribution", priors)
        >>> source = source_for(X)
        >>> params = model.initialize(source, np.random.RandomState(0))
        >>> stats = source.e_step(model.components(params), want_entropy=True)
        >>> new_params = model.m_step(stats, params)
        >>> round(float(new_params.weight_concentration.sum()), 9)  # 2 * 0.5 + 4 rows
        5.0
        """
        nk, xk, sk = estimate_gaussian_parameters(
            stats, self.covariance_type, self.reg_covar, self.dtype
        )
        p = self.priors
        if self.prior_type == "dirichlet_process":
            weight_concentration = (
                1.0 + nk,
                p.weight_concentration_prior
                + np.hstack((np.cumsum(nk[::-1])[-2::-1], 0)),
            )
        else:
            weight_concentration = p.weight_concentration_prior + nk
        mean_precision = p.mean_precision_prior + nk
        means = (
            p.mean_precision_prior * p.mean_prior + nk[:, np.newaxis] * xk
        ) / mean_precision[:, np.newaxis]
        dof, covariances = self._wishart(nk, xk, sk, mean_precision)
        precisions_cholesky = compute_precision_cholesky(
            covariances, self.covariance_type, self.dtype
        )
        return VariationalParams(
            weight_concentration,
            mean_precision,
            means,
            dof,
            covariances,
            precisions_cholesky,
        )

    def _wishart(self, nk, xk, sk, mean_precision):
        """(degrees_of_freedom, covariances): the Wishart posterior of the
        precisions, its scale stored as the covariance it implies."""
        p = self.priors
        n_components, n_features = xk.shape
        diff = xk - p.mean_prior
        if self.covariance_type == "full":
            dof = p.degrees_of_freedom_prior + nk
            covariances = np.empty((n_components, n_features, n_features))
            for k in range(n_components):
                covariances[k] = (
                    p.covariance_prior
                    + nk[k] * sk[k]
                    + nk[k]
                    * p.mean_precision_prior
                    / mean_precision[k]
                    * np.outer(diff[k], diff[k])
                )
            covariances /= dof[:, np.newaxis, np.newaxis]
        elif self.covariance_type == "tied":
            dof = p.degrees_of_freedom_prior + nk.sum() / n_components
            covariances = (
                p.covariance_prior
                + sk * nk.sum() / n_components
                + p.mean_precision_prior
                / n_components
                * np.dot((nk / mean_precision) * diff.T, diff)
            )
            covariances /= dof
        elif self.covariance_type == "diag":
            dof = p.degrees_of_freedom_prior + nk
            covariances = p.covariance_prior + nk[:, np.newaxis] * (
                sk
                + (p.mean_precision_prior / mean_precision)[:, np.newaxis]
                * np.square(diff)
            )
            covariances /= dof[:, np.newaxis]
        else:
            dof = p.degrees_of_freedom_prior + nk
            covariances = p.covariance_prior + nk * (
                sk
                + p.mean_precision_prior / mean_precision * np.mean(np.square(diff), 1)
            )
            covariances /= dof
        return dof, covariances

    def expected_log_weights(self, params: VariationalParams):
        """The expected log mixing weights E[log pi_k] under the posterior.

        Parameters
        ----------
        params : VariationalParams
            The parameters.

        Returns
        -------
        log_weights : ndarray of shape (n_components,)
            E[log pi_k], of the Dirichlet distribution or of the
            stick-breaking Beta distributions.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Priors, VariationalModel, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> priors = Priors(0.5, 1.0, X.mean(axis=0), 1.0, np.array([1.0]))
        >>> model = VariationalModel(2, "diag", 1e-6, "kmeans", X.dtype,
        ...                          "dirichlet_distribution", priors)
        >>> source = source_for(X)
        >>> params = model.initialize(source, np.random.RandomState(0))
        >>> model.expected_log_weights(params).round(4)
        array([-0.803, -0.803])
        """
        wc = params.weight_concentration
        if self.prior_type == "dirichlet_process":
            digamma_sum = digamma(wc[0] + wc[1])
            digamma_a = digamma(wc[0])
            digamma_b = digamma(wc[1])
            return (
                digamma_a
                - digamma_sum
                + np.hstack((0, np.cumsum(digamma_b - digamma_sum)[:-1]))
            )
        return digamma(wc) - digamma(np.sum(wc))

    def components(self, params: VariationalParams) -> Components:
        """The Gaussian components of the parameters, for the E-step.

        Gaussians with the covariances the Wishart scales imply; their log
        offsets are the expected log weights plus the expected
        log-density terms those Gaussians do not carry. Their weights are
        the expected mixing weights (scikit-learn's ``weights_``).

        Parameters
        ----------
        params : VariationalParams
            The parameters.

        Returns
        -------
        components : Components
            The components, in float64.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Priors, VariationalModel, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> priors = Priors(0.5, 1.0, X.mean(axis=0), 1.0, np.array([1.0]))
        >>> model = VariationalModel(2, "diag", 1e-6, "kmeans", X.dtype,
        ...                          "dirichlet_distribution", priors)
        >>> source = source_for(X)
        >>> params = model.initialize(source, np.random.RandomState(0))
        >>> components = model.components(params)
        >>> components.weights, components.log_offset.round(4)
        (array([0.5, 0.5]), array([-1.1541, -1.1541]))
        """
        n_features = params.means.shape[1]
        dof = params.degrees_of_freedom
        log_lambda = n_features * np.log(2.0) + np.sum(
            digamma(0.5 * (dof - np.arange(0, n_features)[:, np.newaxis])), 0
        )
        log_offset = (
            self.expected_log_weights(params)
            - 0.5 * n_features * np.log(dof)
            + 0.5 * (log_lambda - n_features / params.mean_precision)
        )
        return Components(
            weights_from_concentration(params.weight_concentration, self.prior_type),
            np.asarray(params.means, dtype=np.float64),
            np.asarray(params.covariances, dtype=np.float64),
            np.asarray(params.precisions_cholesky, dtype=np.float64),
            np.ascontiguousarray(log_offset, dtype=np.float64),
            self.covariance_type,
        )

    def lower_bound(self, stats: GaussianStats, params: VariationalParams) -> float:
        """The bound EM watches: scikit-learn's evidence lower bound.

        Up to a constant, as scikit-learn's ``_compute_lower_bound``; it
        needs the entropy of the responsibilities (``want_entropy`` is
        True).

        Parameters
        ----------
        stats : GaussianStats
            The statistics of the E-step, with the entropy.
        params : VariationalParams
            The parameters after the M-step.

        Returns
        -------
        lower_bound : float
            The bound.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Priors, VariationalModel, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> priors = Priors(0.5, 1.0, X.mean(axis=0), 1.0, np.array([1.0]))
        >>> model = VariationalModel(2, "diag", 1e-6, "kmeans", X.dtype,
        ...                          "dirichlet_distribution", priors)
        >>> source = source_for(X)
        >>> params = model.initialize(source, np.random.RandomState(0))
        >>> stats = source.e_step(model.components(params), want_entropy=True)
        >>> round(model.lower_bound(stats, model.m_step(stats, params)), 4)
        -5.8506
        """
        n_features = params.means.shape[1]
        dof = params.degrees_of_freedom
        log_det_precisions_chol = log_det_cholesky(
            params.precisions_cholesky, self.covariance_type, n_features
        ) - 0.5 * n_features * np.log(dof)
        log_wishart = _log_wishart_norm(dof, log_det_precisions_chol, n_features)
        if self.covariance_type == "tied":
            # One Wishart shared by the components, counted once for each.
            log_wishart = self.n_components * np.sum(log_wishart)
        else:
            log_wishart = np.sum(log_wishart)
        wc = params.weight_concentration
        if self.prior_type == "dirichlet_process":
            log_norm_weight = -np.sum(betaln(wc[0], wc[1]))
        else:
            log_norm_weight = gammaln(np.sum(wc)) - np.sum(gammaln(wc))
        return float(
            stats.entropy
            - log_wishart
            - log_norm_weight
            - 0.5 * n_features * np.sum(np.log(params.mean_precision))
        )


def _log_wishart_norm(degrees_of_freedom, log_det_precisions_chol, n_features):
    """Log normaliser of the Wishart distributions (sklearn's)."""
    return -(
        degrees_of_freedom * log_det_precisions_chol
        + degrees_of_freedom * n_features * 0.5 * math.log(2.0)
        + np.sum(
            gammaln(0.5 * (degrees_of_freedom - np.arange(n_features)[:, np.newaxis])),
            0,
        )
    )


@register("emfast.BayesianGaussianMixture")
class BayesianGaussianMixture(BaseMixture):
    """Variational Bayesian estimation of a Gaussian mixture, on fused
    parallel Numba kernels.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`:
    the same parameters, fitted attributes and methods, and the same results
    from the same initial parameters. The variational posterior has a
    Dirichlet process (stick-breaking) or Dirichlet distribution prior on the
    weights, a Gaussian prior on the means and a Wishart prior on the
    precisions; the fit can shrink the weights of components the data do not
    need towards 0, so ``n_components`` is an upper bound on the number of
    components used. Each iteration is one parallel pass over the data, as
    for :class:`GaussianMixture`, with sample weights, missing values
    (``nan_policy``), memory-mapped and Dask arrays, and save/load.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components (an upper bound on those used).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The form of the covariances, as in :class:`GaussianMixture`.
    tol : float, default=1e-3
        Convergence threshold: EM stops when the change of the lower bound
        (not per sample) between iterations is below ``tol``.
    reg_covar : float, default=1e-6
        Non-negative regularization added to the diagonal of the empirical
        covariances.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initializations to perform; the best result is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical', 'small-em'}, default='kmeans'
        How the responsibilities are initialized (see
        :class:`GaussianMixture`).
    weight_concentration_prior_type : {'dirichlet_process', \
'dirichlet_distribution'}, default='dirichlet_process'
        The prior on the weights: a Dirichlet process (stick-breaking
        representation) or a Dirichlet distribution.
    weight_concentration_prior : float or None, default=None
        The Dirichlet concentration of each component on the weights
        (gamma for the process); larger values put more mass in the center
        and lead to more active components. None means 1 / n_components.
        Must be positive.
    mean_precision_prior : float or None, default=None
        The precision prior on the means (beta): how far the means may move
        from ``mean_prior``. None means 1. Must be positive.
    mean_prior : array-like of shape (n_features,), default=None
        The prior on the means. None means the mean of X.
    degrees_of_freedom_prior : float or None, default=None
        The number of degrees of freedom of the Wishart prior on the
        precisions (nu); must be greater than n_features - 1. None means
        n_features.
    covariance_prior : float or array-like, default=None
        The prior on the covariances (the inverse of the Wishart scale):
        (n_features, n_features) for 'full' and 'tied', (n_features,) for
        'diag', a positive number for 'spherical'. None means the empirical
        covariance of X (its variances for 'diag', their mean for
        'spherical').
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization and of :meth:`sample`.
    warm_start : bool, default=False
        If True, each ``fit`` starts from the previous solution.
    verbose : int, default=0
        1 prints each initialization and iteration; 2 also prints the time
        and the change of the lower bound.
    verbose_interval : int, default=10
        Number of iterations between messages.
    nan_policy : {'raise', 'omit', 'marginalize'}, default='raise'
        What ``fit`` does with NaN in X, as in :class:`GaussianMixture`;
        'marginalize' treats the missing values as latent variables of the
        variational posterior (their conditional Gaussians given the
        observed values enter the statistics, and their entropy the lower
        bound). The priors computed from X (``mean_prior``,
        ``covariance_prior`` when None) then use NaN replaced by the
        columns' means.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The expected weights of the components.
    means_ : ndarray of shape (n_components, n_features)
        The means of the components (of the variational posterior).
    covariances_ : ndarray
        The covariances (the inverse Wishart scale divided by the degrees of
        freedom), shaped as in :class:`GaussianMixture`.
    precisions_ : ndarray
        Their inverses.
    precisions_cholesky_ : ndarray
        Upper-triangular Cholesky factors of the precisions.
    converged_ : bool
        True when the best fit reached ``tol`` within ``max_iter``.
    n_iter_ : int
        Number of EM iterations of the best fit (with 'small-em', those
        after its short runs, which count as part of the start).
    lower_bound_ : float
        The lower bound on the evidence of the best fit (up to a constant).
    lower_bounds_ : list of float
        The lower bound at each iteration of the best fit.
    weight_concentration_prior_ : float
        The concentration prior used.
    weight_concentration_ : ndarray or tuple of ndarray
        The Dirichlet concentrations ('dirichlet_distribution',
        (n_components,)) or the two parameters of the Beta distributions
        ('dirichlet_process', a tuple of two (n_components,) arrays).
    mean_precision_prior_ : float
        The precision prior on the means used.
    mean_precision_ : ndarray of shape (n_components,)
        The precision of each component's mean.
    mean_prior_ : ndarray of shape (n_features,)
        The prior on the means used.
    degrees_of_freedom_prior_ : float
        The Wishart degrees of freedom prior used.
    degrees_of_freedom_ : ndarray of shape (n_components,) or float
        The Wishart degrees of freedom of each component (one number for
        'tied').
    covariance_prior_ : float or ndarray
        The covariance prior used.
    n_samples_omitted_ : int
        Rows of X dropped by ``nan_policy='omit'`` in the last ``fit``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``, when X has string column names.

    See Also
    --------
    GaussianMixture : The maximum-likelihood mixture.
    sklearn.mixture.BayesianGaussianMixture : The reference implementation.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import BayesianGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-5, 1, (300, 2)), rng.normal(5, 1, (300, 2))])
    >>> bgm = BayesianGaussianMixture(n_components=6, random_state=0).fit(X)
    >>> int((bgm.weights_ > 0.05).sum())  # the data need two components
    2
    >>> np.sort(bgm.means_[bgm.weights_ > 0.05, 0]).round(0)
    array([-5.,  5.])
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseMixture._parameter_constraints,
        "weight_concentration_prior_type": [
            StrOptions({"dirichlet_process", "dirichlet_distribution"})
        ],
        "weight_concentration_prior": [
            None,
            Interval(Real, 0.0, None, closed="neither"),
        ],
        "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [
            None,
            "array-like",
            Interval(Real, 0.0, None, closed="neither"),
        ],
    }

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        nan_policy="raise",
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.nan_policy = nan_policy

    _array_params = ("mean_prior", "covariance_prior")
    _lower_bound_name = "variational lower bound (ELBO)"
    _saved_extras = (
        "weight_concentration_",
        "mean_precision_",
        "degrees_of_freedom_",
        "weight_concentration_prior_",
        "mean_precision_prior_",
        "mean_prior_",
        "degrees_of_freedom_prior_",
        "covariance_prior_",
    )

    def _restore_extras(self, extras):
        n_components, n_features = self.means_.shape
        scalar = ()
        per_component = (n_components,)
        shapes = {
            "weight_concentration_": (2, n_components)
            if self.weight_concentration_prior_type == "dirichlet_process"
            else per_component,
            "mean_precision_": per_component,
            "degrees_of_freedom_": scalar
            if self.covariance_type == "tied"
            else per_component,
            "weight_concentration_prior_": scalar,
            "mean_precision_prior_": scalar,
            "mean_prior_": (n_features,),
            "degrees_of_freedom_prior_": scalar,
            "covariance_prior_": {
                "full": (n_features, n_features),
                "tied": (n_features, n_features),
                "diag": (n_features,),
                "spherical": scalar,
            }[self.covariance_type],
        }
        for name, shape in shapes.items():
            value = extras[name]
            if value.shape != shape:
                raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
            if value.ndim == 2 and name == "covariance_prior_":
                check_precision_matrix(value, self.covariance_type)
            elif name != "mean_prior_" and not (value > 0).all():
                raise ValueError(f"{name} must be positive")
            if value.ndim == 0:
                value = float(value)
            elif name == "weight_concentration_" and value.ndim == 2:
                value = (value[0], value[1])
            setattr(self, name, value)
        if not self.degrees_of_freedom_prior_ > n_features - 1:
            raise ValueError(f"degrees_of_freedom_prior_ must be > {n_features - 1}")
        weights = weights_from_concentration(
            self.weight_concentration_, self.weight_concentration_prior_type
        )
        if not np.allclose(weights, self.weights_, rtol=1e-12, atol=0):
            raise ValueError("weights_ do not match weight_concentration_")

    # ------------------------------------------------------------ model

    def _em_model(self, source) -> VariationalModel:
        priors = self._check_priors(source)
        self.weight_concentration_prior_ = priors.weight_concentration_prior
        self.mean_precision_prior_ = priors.mean_precision_prior
        self.mean_prior_ = priors.mean_prior
        self.degrees_of_freedom_prior_ = priors.degrees_of_freedom_prior
        self.covariance_prior_ = priors.covariance_prior
        return VariationalModel(
            self.n_components,
            self.covariance_type,
            self.reg_covar,
            self.init_params,
            source.dtype,
            self.weight_concentration_prior_type,
            priors,
        )

    def _check_priors(self, source) -> Priors:
        """The priors, from the parameters or the data, with sklearn's checks
        and messages."""
        n_features = source.n_features
        dtype = source.dtype
        moments = None

        def data_moments():
            nonlocal moments
            if moments is None:
                moments = source.moments()
            return moments

        weight_concentration_prior = (
            1.0 / self.n_components
            if self.weight_concentration_prior is None
            else self.weight_concentration_prior
        )
        mean_precision_prior = (
            1.0 if self.mean_precision_prior is None else self.mean_precision_prior
        )
        if self.mean_prior is None:
            mean_prior = data_moments()[0].astype(dtype)
        else:
            mean_prior = check_array(
                self.mean_prior, dtype=[np.float64, np.float32], ensure_2d=False
            )
            check_shape(mean_prior, (n_features,), "means")
        if self.degrees_of_freedom_prior is None:
            degrees_of_freedom_prior = n_features
        elif self.degrees_of_freedom_prior > n_features - 1.0:
            degrees_of_freedom_prior = self.degrees_of_freedom_prior
        else:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' should be greater "
                f"than {n_features - 1:d}, but got "
                f"{self.degrees_of_freedom_prior:.3f}."
            )
        covariance_prior = self._check_covariance_prior(data_moments, n_features)
        return Priors(
            weight_concentration_prior,
            mean_precision_prior,
            mean_prior,
            degrees_of_freedom_prior,
            covariance_prior,
        )

    def _check_covariance_prior(self, data_moments, n_features):
        covariance_type = self.covariance_type
        if self.covariance_prior is None:
            cov = data_moments()[1]
            variances = np.diag(cov).copy()
            return {
                "full": cov,
                "tied": cov,
                "diag": variances,
                "spherical": variances.mean(),
            }[covariance_type]
        if covariance_type == "spherical":
            value = np.asarray(self.covariance_prior, dtype=np.float64)
            if value.ndim != 0 or not value > 0 or not np.isfinite(value):
                raise ValueError(
                    "'spherical covariance_prior' should be a positive number, "
                    f"but got {self.covariance_prior!r}"
                )
            return float(value)
        prior = check_array(
            self.covariance_prior, dtype=[np.float64, np.float32], ensure_2d=False
        )
        name = f"{covariance_type} covariance_prior"
        if covariance_type in ("full", "tied"):
            check_shape(prior, (n_features, n_features), name)
            check_precision_matrix(prior, covariance_type)
        else:
            check_shape(prior, (n_features,), name)
            if np.any(np.less_equal(prior, 0.0)):
                raise ValueError(f"'{covariance_type} precision' should be positive")
        return prior

    def _get_parameters(self) -> VariationalParams:
        return VariationalParams(
            self.weight_concentration_,
            self.mean_precision_,
            np.asarray(self.means_, dtype=np.float64),
            self.degrees_of_freedom_,
            np.asarray(self.covariances_, dtype=np.float64),
            np.asarray(self.precisions_cholesky_, dtype=np.float64),
        )

    def _model(self) -> VariationalModel:
        """The model of the fitted estimator (its priors as fitted)."""
        priors = Priors(
            self.weight_concentration_prior_,
            self.mean_precision_prior_,
            self.mean_prior_,
            self.degrees_of_freedom_prior_,
            self.covariance_prior_,
        )
        return VariationalModel(
            self.n_components,
            self.covariance_type,
            self.reg_covar,
            self.init_params,
            np.asarray(self.means_).dtype,
            self.weight_concentration_prior_type,
            priors,
        )

    def _components(self) -> Components:
        components = self._model().components(self._get_parameters())
        components.covariances = self._density_covariances()
        return components

    def _set_parameters(self, params: VariationalParams, dtype):
        for value in (params.means, params.covariances, params.precisions_cholesky):
            if not np.all(np.isfinite(value)):
                raise ValueError(precision_error_message(dtype))
        self.weight_concentration_ = params.weight_concentration
        self.mean_precision_ = params.mean_precision
        self.means_ = params.means
        self.degrees_of_freedom_ = params.degrees_of_freedom
        self.covariances_ = params.covariances
        self.precisions_cholesky_ = params.precisions_cholesky
        self.weights_ = weights_from_concentration(
            params.weight_concentration, self.weight_concentration_prior_type
        )
        self.precisions_ = precisions_from_cholesky(
            params.precisions_cholesky, self.covariance_type
        )
