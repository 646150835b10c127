"""GaussianMixture: the sklearn-facing estimator, and its EM model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._base import BaseMixture
from ._covariance import (
    compute_precision_cholesky,
    covariances_from_cholesky,
    estimate_gaussian_parameters,
    isotropic_covariances,
    n_parameters,
    precision_cholesky_from_precisions,
    precision_error_message,
    precisions_from_cholesky,
)
from ._em import EMModel
from ._init import InitialPoints, initial_params
from ._persist import register
from ._sources import Components, GaussianStats
from ._validation import check_means, check_precisions, check_weights


@dataclass
class Params:
    """Mixture parameters in float64, as sklearn stores them.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
        The mixing weights.
    means : ndarray of shape (n_components, n_features)
        The means.
    covariances : ndarray or None
        The covariances, shaped by covariance type (as ``covariances_``).
    precisions_cholesky : ndarray
        Cholesky factors of the precisions (as ``precisions_cholesky_``).

    See Also
    --------
    MixtureModel : The model whose parameters they are.
    fitted_params : A fitted estimator's parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import Params, compute_precision_cholesky
    >>> covariances = np.array([[1.0, 2.0], [4.0, 1.0]])  # 'diag'
    >>> params = Params(np.array([0.3, 0.7]), np.zeros((2, 2)), covariances,
    ...                 compute_precision_cholesky(covariances, "diag"))
    >>> params.precisions_cholesky[1]
    array([0.5, 1. ])
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray | None
    precisions_cholesky: np.ndarray


class MixtureModel(EMModel):
    """The EM model of a Gaussian mixture (see ``_em``): maximum likelihood,
    the lower bound is the (weighted) mean log-likelihood per sample.

    ``weights_init``, ``means_init`` and ``precisions_init`` (validated, or
    None) take precedence over the start of ``init_params``, as in sklearn.

    Parameters
    ----------
    n_components : int
        Number of components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.
    reg_covar : float
        Added to the diagonal of the covariances in the M-step.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical', 'small-em'}
        The start ``initialize`` computes.
    dtype : dtype
        The data's dtype (float32 data give float32-rounded covariances,
        as in sklearn).
    weights_init, means_init, precisions_init : ndarray, optional
        Validated user-supplied starting parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import MixtureModel, source_for
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> model = MixtureModel(3, "full", 1e-6, "kmeans", X.dtype)
    >>> source = source_for(X)
    >>> params = model.initialize(source, np.random.RandomState(0))
    >>> stats = source.e_step(model.components(params))
    >>> new_params = model.m_step(stats, params)
    >>> new_params.means.shape, float(new_params.weights.sum())
    ((3, 2), 1.0)
    >>> bool(model.lower_bound(stats, new_params) < 0)
    True
    """

    def __init__(
        self,
        n_components,
        covariance_type,
        reg_covar,
        init_params,
        dtype,
        weights_init=None,
        means_init=None,
        precisions_init=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.init_params = init_params
        self.dtype = dtype
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init

    def initialize(self, source, random_state) -> Params:
        """A start: the parameters of ``init_params`` on the source's rows.

        ``weights_init``, ``means_init`` and ``precisions_init`` replace the
        corresponding parameters of that start (it is not computed when all
        three are given).

        Parameters
        ----------
        source : ArraySource, PatternSource or DaskSource
            The data.
        random_state : numpy.random.RandomState
            Source of the start's randomness.

        Returns
        -------
        params : Params
            The start.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = model.initialize(source_for(X), np.random.RandomState(0))
        >>> np.sort(params.means.ravel()).round(2)
        array([0.1, 4.2])
        """
        if (
            self.weights_init is None
            or self.means_init is None
            or self.precisions_init is None
        ):
            params = initial_params(self, source, random_state)
        else:
            params = None
        weights = params.weights if self.weights_init is None else self.weights_init
        means = params.means if self.means_init is None else self.means_init
        if self.precisions_init is None:
            covariances = params.covariances
            precisions_cholesky = params.precisions_cholesky
        else:
            precisions_cholesky = precision_cholesky_from_precisions(
                self.precisions_init, self.covariance_type
            )
            covariances = covariances_from_cholesky(
                precisions_cholesky, self.covariance_type
            )
        return Params(
            np.asarray(weights, dtype=np.float64),
            np.asarray(means, dtype=np.float64),
            covariances,
            precisions_cholesky,
        )

    def params_from_start(self, start) -> Params:
        """The parameters of a start computed by the initialization.

        The start of ``init_params`` is either the statistics of initial
        responsibilities, whose M-step gives the parameters, or data points
        (``_init.InitialPoints``: 'random_from_data' and 'k-means++'), one
        per component: components at those points with weights
        1 / n_components and covariances ``reg_covar`` times the identity.

        Parameters
        ----------
        start : GaussianStats or object
            The start.

        Returns
        -------
        params : Params
            Its parameters.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> resp = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
        >>> start = source_for(X).stats_from_resp(resp, model.components(params))
        >>> model.params_from_start(start).means
        array([[0.1],
               [4.2]])
        """
        if isinstance(start, InitialPoints):
            return self._params_at_points(start.points)
        return self.m_step(start, None)

    def _params_at_points(self, points) -> Params:
        """One data point per component, weights 1/K, covariance
        reg_covar * I (the 'random_from_data' and 'k-means++' starts;
        sklearn's weights are 1/n_samples there)."""
        covariances = isotropic_covariances(
            self.covariance_type, self.n_components, points.shape[1], self.reg_covar
        )
        return Params(
            np.full(self.n_components, 1.0 / self.n_components),
            np.array(points, dtype=np.float64),
            covariances,
            compute_precision_cholesky(covariances, self.covariance_type, self.dtype),
        )

    def components(self, params: Params) -> Components:
        """The Gaussian components of the parameters, for the E-step.

        Their log offsets are the log weights.

        Parameters
        ----------
        params : Params
            The parameters.

        Returns
        -------
        components : Components
            The components, in float64.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> model.components(params).log_offset.round(4)
        array([-0.6931, -0.6931])
        """
        weights = np.asarray(params.weights, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        return Components(
            weights,
            np.asarray(params.means, dtype=np.float64),
            params.covariances,
            np.asarray(params.precisions_cholesky, dtype=np.float64),
            log_weights,
            self.covariance_type,
        )

    def m_step(self, stats: GaussianStats, params) -> Params:
        """The M-step: maximum-likelihood parameters from E-step statistics.

        As scikit-learn's ``_m_step``: weights nk / sum(nk), means, and
        covariances with ``reg_covar`` added to their diagonal.

        Parameters
        ----------
        stats : GaussianStats
            The statistics of an E-step.
        params : Params or None
            The parameters entering the iteration (not used).

        Returns
        -------
        params : Params
            The new parameters.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> stats = source_for(X).e_step(model.components(params))
        >>> model.m_step(stats, params).means.round(2)
        array([[0.1],
               [4.2]])
        """
        nk, means, covariances = estimate_gaussian_parameters(
            stats, self.covariance_type, self.reg_covar, self.dtype
        )
        precisions_cholesky = compute_precision_cholesky(
            covariances, self.covariance_type, self.dtype
        )
        return Params(nk / nk.sum(), means, covariances, precisions_cholesky)

    def lower_bound(self, stats: GaussianStats, params) -> float:
        """The bound EM watches: the (weighted) mean log-likelihood per row.

        Parameters
        ----------
        stats : GaussianStats
            The statistics of the E-step.
        params : Params
            The parameters after the M-step (not used).

        Returns
        -------
        lower_bound : float
            ``stats.log_likelihood / stats.total_weight``.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> source = source_for(X)
        >>> stats = source.e_step(model.components(params))
        >>> bound = model.lower_bound(stats, model.m_step(stats, params))
        >>> round(bound, 4), round(source.mean_score(model.components(params)), 4)
        (-1.6367, -1.6367)
        """
        return stats.log_likelihood / stats.total_weight


@register("emfast.GaussianMixture")
class GaussianMixture(BaseMixture):
    """Gaussian mixture model fitted by EM, on fused parallel Numba kernels.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: the same
    parameters, fitted attributes and methods, and the same results from the
    same initial parameters. Each EM iteration is one parallel pass over the
    data that returns the log-likelihood and the sufficient statistics, so no
    (n_samples, n_components) array is formed during ``fit``. Results do not
    depend on the number of threads.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'full': each component has its own general covariance matrix;
        'tied': all components share one general covariance matrix;
        'diag': each component has its own diagonal covariance matrix;
        'spherical': each component has its own single variance.
    tol : float, default=1e-3
        Convergence threshold: EM stops when the change of the mean
        log-likelihood per sample between iterations is below ``tol``.
    reg_covar : float, default=1e-6
        Non-negative regularization added to the diagonal of covariances.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initializations to perform; the best result is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical', 'small-em'}, default='kmeans'
        How weights, means and precisions are initialized: 'kmeans' from the
        labels of k-means (k-means++ seeding and Lloyd iterations), 'k-means++'
        from k-means++ seeds, 'random' from random responsibilities,
        'random_from_data' from randomly chosen data points (these four as
        scikit-learn). Beyond scikit-learn, two starts that survive data where
        those reach a poor local optimum: 'hierarchical' from model-based
        agglomerative hierarchical clustering of a subsample of at most 2,000
        rows (mclust's, merging k-means cells by the classification
        likelihood: keeps elongated clusters whole), and 'small-em' from the
        best of six short EM runs of 5 iterations (from the hierarchical
        start, the subsample's density peaks, which find tight clusters on a
        broad one, the k-means start and three random starts). Each run of
        ``n_init`` draws its start anew.
    weights_init : array-like of shape (n_components,), default=None
        User-provided initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        User-provided initial means.
    precisions_init : array-like, default=None
        User-provided initial precisions (inverse covariance matrices), of shape
        (n_components,) for 'spherical', (n_features, n_features) for 'tied',
        (n_components, n_features) for 'diag' and (n_components, n_features,
        n_features) for 'full'.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization and of :meth:`sample`.
    warm_start : bool, default=False
        If True, each ``fit`` starts from the previous solution, with a single
        initialization on the first call (``n_init`` is then ignored).
    verbose : int, default=0
        1 prints each initialization and iteration; 2 also prints the time and
        the change of the log-likelihood.
    verbose_interval : int, default=10
        Number of iterations between messages.
    nan_policy : {'raise', 'omit', 'marginalize'}, default='raise'
        What ``fit`` does with NaN in X: 'raise' (sklearn's behaviour) raises
        a ValueError; 'omit' fits on the rows without NaN, warns how many
        rows were dropped and records it in ``n_samples_omitted_``
        (``fit_predict`` labels the dropped rows -1); 'marginalize' runs
        exact EM for values missing at random (the E-step uses each point's
        observed coordinates under the marginal Gaussians, the M-step the
        conditional means and covariances of the missing ones; the
        initialization sees NaN replaced by column means), and then
        ``score_samples``, ``score``, ``predict`` and ``predict_proba`` accept
        NaN too. Infinite values are an error always; a row with every value
        missing is an error with 'marginalize'.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The weights of each mixture component.
    means_ : ndarray of shape (n_components, n_features)
        The mean of each mixture component.
    covariances_ : ndarray
        The covariance of each component; its shape depends on
        ``covariance_type`` as for ``precisions_init``.
    precisions_ : ndarray
        The precision matrices (inverse covariances), same shape.
    precisions_cholesky_ : ndarray
        Upper-triangular Cholesky factors of the precisions, same shape.
    converged_ : bool
        True when the best fit reached ``tol`` within ``max_iter``.
    n_iter_ : int
        Number of EM iterations of the best fit (with 'small-em', those
        after its short runs, which count as part of the start).
    lower_bound_ : float
        Mean log-likelihood per sample of the best fit (at its last E-step).
    lower_bounds_ : list of float
        The lower bound at each iteration of the best fit.
    n_samples_omitted_ : int
        Rows of X dropped by ``nan_policy='omit'`` in the last ``fit`` (0
        otherwise).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``, when X has string column names.

    See Also
    --------
    sklearn.mixture.GaussianMixture : The reference implementation.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.sort(gm.means_[:, 0]).round(3)
    array([ 1., 10.])
    >>> gm.predict([[0, 0], [12, 3]]).tolist() in ([0, 1], [1, 0])
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseMixture._parameter_constraints,
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
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
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.nan_policy = nan_policy

    _array_params = ("weights_init", "means_init", "precisions_init")
    _lower_bound_name = "mean log-likelihood"

    @classmethod
    def _check_loaded_params(cls, params, values):
        n_components = params["n_components"]
        n_features = values["n_features_in_"]
        checks = {
            "weights_init": lambda a: check_weights(a, n_components),
            "means_init": lambda a: check_means(a, n_components, n_features),
            "precisions_init": lambda a: check_precisions(
                a, params["covariance_type"], n_components, n_features
            ),
        }
        for name, check in checks.items():
            if params[name] is None:
                continue
            try:
                check(params[name])
            except ValueError as exc:
                raise ValueError(f"parameter {name} is invalid: {exc}") from exc

    # ------------------------------------------------------------ model

    def _em_model(self, source) -> MixtureModel:
        n_features = source.n_features
        weights_init = means_init = precisions_init = None
        if self.weights_init is not None:
            weights_init = check_weights(self.weights_init, self.n_components)
        if self.means_init is not None:
            means_init = check_means(self.means_init, self.n_components, n_features)
        if self.precisions_init is not None:
            precisions_init = check_precisions(
                self.precisions_init,
                self.covariance_type,
                self.n_components,
                n_features,
            )
        return MixtureModel(
            self.n_components,
            self.covariance_type,
            self.reg_covar,
            self.init_params,
            source.dtype,
            weights_init,
            means_init,
            precisions_init,
        )

    def _get_parameters(self) -> Params:
        return Params(
            np.asarray(self.weights_, dtype=np.float64),
            np.asarray(self.means_, dtype=np.float64),
            np.asarray(self.covariances_, dtype=np.float64),
            np.asarray(self.precisions_cholesky_, dtype=np.float64),
        )

    def _components(self) -> Components:
        params = self._get_parameters()
        components = MixtureModel(
            self.n_components, self.covariance_type, 0.0, None, None
        ).components(params)
        components.covariances = self._density_covariances()
        return components

    def _set_parameters(self, params: Params, dtype):
        def cast(a):
            with np.errstate(over="ignore"):
                out = np.asarray(a, dtype=dtype)
            if not np.all(np.isfinite(out)):
                # float32 attributes overflow (e.g. precisions of a collapsed
                # component): as unusable as a failed Cholesky factorisation.
                raise ValueError(precision_error_message(dtype))
            return out

        self.weights_ = cast(params.weights)
        self.means_ = cast(params.means)
        self.covariances_ = cast(params.covariances)
        self.precisions_cholesky_ = cast(params.precisions_cholesky)
        self.precisions_ = cast(
            precisions_from_cholesky(params.precisions_cholesky, self.covariance_type)
        )

    # ------------------------------------------------------ model selection

    def _n_parameters(self) -> int:
        _, n_features = self.means_.shape
        return n_parameters(self.covariance_type, self.n_components, n_features)

    def bic(self, X):
        """Bayesian information criterion of the model on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        bic : float
            ``-2 * log-likelihood + n_parameters * log(n_samples)``.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(300, 1))
        >>> gm1, gm3 = GaussianMixture(1).fit(X), GaussianMixture(3).fit(X)
        >>> bool(gm1.bic(X) < gm3.bic(X))
        True
        """
        n_samples = _n_rows(X)
        return -2 * self.score(X) * n_samples + self._n_parameters() * math.log(
            n_samples
        )

    def aic(self, X):
        """Akaike information criterion of the model on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        aic : float
            ``-2 * log-likelihood + 2 * n_parameters``.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(300, 1))
        >>> isinstance(GaussianMixture(1).fit(X).aic(X), float)
        True
        """
        return -2 * self.score(X) * _n_rows(X) + 2 * self._n_parameters()


def _n_rows(X) -> int:
    return len(X) if not hasattr(X, "shape") else X.shape[0]
