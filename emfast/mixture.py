"""GaussianMixture: the sklearn-facing estimator, a thin layer over ``fit_em``."""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _dask, _kernels
from ._em import fit_em
from ._jit import raise_interrupt
from ._missing import fill_with_means, impute_missing, pattern_layout, score_missing
from ._params import (
    Params,
    covariances_from_cholesky,
    kernel_args,
    n_parameters,
    precision_error_message,
    precisions_from_cholesky,
)
from ._validation import (
    as_kernel_input,
    check_means,
    check_precisions,
    check_sample_weight,
    check_weights,
)

# score() works through X in chunks of this many rows.
_SCORE_CHUNK_ROWS = 1 << 20


class GaussianMixture(DensityMixin, BaseEstimator):
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
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
default='kmeans'
        How weights, means and precisions are initialized: 'kmeans' from the
        labels of k-means (k-means++ seeding and Lloyd iterations), 'k-means++'
        from k-means++ seeds, 'random' from random responsibilities,
        'random_from_data' from randomly chosen data points.
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
        Number of EM iterations of the best fit.
    lower_bound_ : float
        Mean log-likelihood per sample of the best fit (at its last E-step).
    lower_bounds_ : list of float
        The lower bound at each iteration of the best fit.
    n_samples_omitted_ : int
        Rows of X dropped by ``nan_policy='omit'`` in the last ``fit`` (0
        otherwise).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
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
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [
            StrOptions({"kmeans", "random", "random_from_data", "k-means++"})
        ],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "nan_policy": [StrOptions({"raise", "omit", "marginalize"})],
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

    # ------------------------------------------------------------------ fit

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model parameters with the EM algorithm.

        Runs ``n_init`` initializations and keeps the one with the largest
        lower bound; each iterates E- and M-steps until the change of the
        lower bound is below ``tol`` or ``max_iter`` is reached (then a
        ``ConvergenceWarning`` is issued).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one point per row. float32 input gives float32
            attributes. A memory-mapped array is read block by block, a Dask
            array chunk by chunk (see the README).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each point (a number weighs all alike).
            Integer weights give the fit of the data with each row repeated
            that many times; zero-weight rows are ignored. Used by the
            initialization too.

        Returns
        -------
        self : GaussianMixture
            The fitted mixture.

        Notes
        -----
        The fit is all or nothing: when it raises, or is interrupted
        (KeyboardInterrupt), the estimator keeps the attributes it had
        before the call.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(500, 2))
        >>> GaussianMixture(2, random_state=0).fit(X).converged_
        True
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Estimate the model parameters with EM and predict labels for X.

        Equivalent to ``fit(X).predict(X)``: a final E-step uses the fitted
        parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one point per row.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each point, as in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
        >>> labels = GaussianMixture(2, random_state=0).fit_predict(X)
        >>> len(set(labels[:3])), len(set(labels[3:])), bool(labels[0] != labels[3])
        (1, 1, True)
        """
        X, kept = self._fit(X, sample_weight)
        if _dask.is_dask_array(X):
            return _dask.lazy_scores(
                X, self._current_params(), self.covariance_type, "labels"
            )
        labels = self._score(X, want_resp=False)[1]
        if kept is None:
            return labels
        all_labels = np.full(kept.shape[0], -1, dtype=labels.dtype)
        all_labels[kept] = labels
        return all_labels

    def _fit(self, X, sample_weight=None):
        """Validate, run EM, set the fitted attributes. Returns X as the
        kernels take it and the mask of the rows kept (None when all were).

        All or nothing: if anything interrupts the fit (an error, or
        KeyboardInterrupt from Ctrl-C), the estimator gets back exactly the
        attributes it had before (its previous fit, or none)."""
        before = dict(self.__dict__)
        try:
            return self._fit_unguarded(X, sample_weight)
        except BaseException as error:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise_interrupt(error)  # from a serial kernel
            raise

    def _fit_unguarded(self, X, sample_weight):
        self._validate_params()
        if _dask.is_dask_array(X):
            return self._fit_dask(X, sample_weight)
        omit = self.nan_policy == "omit"
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
            ensure_all_finite="allow-nan" if self.nan_policy != "raise" else True,
        )
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        kept = None
        self.n_samples_omitted_ = 0
        if omit:
            complete = ~np.isnan(X).any(axis=1)
            n_omitted = int(X.shape[0] - np.count_nonzero(complete))
            if n_omitted:
                if n_omitted > X.shape[0] - 2:
                    raise ValueError(
                        f"nan_policy='omit': {n_omitted} of {X.shape[0]} rows of "
                        "X contain NaN, which leaves fewer than 2 rows to fit"
                    )
                warnings.warn(
                    f"nan_policy='omit': dropped {n_omitted} of {X.shape[0]} "
                    "rows of X that contain NaN",
                    UserWarning,
                    stacklevel=3,
                )
                X = X[complete]
                if sample_weight is not None:
                    sample_weight = sample_weight[complete]
                    if not np.any(sample_weight > 0):
                        raise ValueError(
                            "nan_policy='omit': every row left has sample_weight 0"
                        )
                kept = complete
            self.n_samples_omitted_ = n_omitted
        X = as_kernel_input(X)
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, "
                f"n_samples = {X.shape[0]}"
            )
        patterns = None
        X_init = X
        random_state = check_random_state(self.random_state)
        if self.nan_policy == "marginalize" and np.isnan(X).any():
            _check_observed_columns(X, sample_weight)
            patterns = pattern_layout(X, self.n_components)
            X_init = fill_with_means(X, sample_weight)
        if sample_weight is not None:
            n_positive = int(np.count_nonzero(sample_weight))
            if n_positive < self.n_components:
                raise ValueError(
                    "Expected at least n_components points with a positive "
                    f"sample_weight but got n_components = {self.n_components}, "
                    f"{n_positive} positive weights"
                )
        self._run_em(
            X_init, random_state, sample_weight=sample_weight, patterns=patterns
        )
        return X, kept

    def _run_em(self, X_init, random_state, **kwargs):
        """Check the user's initial parameters, run ``fit_em`` (``kwargs``:
        sample_weight, patterns, e_step) and set the fitted attributes."""
        n_features = X_init.shape[1]
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
        warm = self.warm_start and hasattr(self, "converged_")
        result = fit_em(
            X_init,
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            init_params=self.init_params,
            weights_init=weights_init,
            means_init=means_init,
            precisions_init=precisions_init,
            random_state=random_state,
            warm_params=self._current_params() if warm else None,
            warm_lower_bound=self.lower_bound_ if warm else -np.inf,
            verbose=self.verbose,
            verbose_interval=self.verbose_interval,
            **kwargs,
        )
        self._set_fitted(result, X_init.dtype)

    def _fit_dask(self, X, sample_weight):
        """``_fit`` on a Dask array: statistics per chunk (see ``_dask``),
        initialization on a random sample of rows."""
        if self.nan_policy != "raise":
            raise ValueError(
                f"nan_policy={self.nan_policy!r} is not supported for Dask "
                "arrays; use nan_policy='raise' (the default) on finite data"
            )
        X = _dask.check_dask_array(X)
        n_samples = _dask.n_rows(X)
        if n_samples < 2:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={X.shape}) while "
                "a minimum of 2 is required."
            )
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, "
                f"n_samples = {n_samples}"
            )
        self.n_features_in_ = X.shape[1]
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_samples_omitted_ = 0
        sample_weight = _dask.check_dask_weights(sample_weight, X)
        random_state = check_random_state(self.random_state)
        sample, sample_weights = _dask.initial_sample(X, sample_weight, random_state)
        e_step = _dask.make_e_step(X, sample_weight, self.covariance_type)
        self._run_em(sample, random_state, sample_weight=sample_weights, e_step=e_step)
        return X, None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.nan_policy != "raise"
        return tags

    def _current_params(self) -> Params:
        return Params(
            np.asarray(self.weights_, dtype=np.float64),
            np.asarray(self.means_, dtype=np.float64),
            np.asarray(self.covariances_, dtype=np.float64),
            np.asarray(self.precisions_cholesky_, dtype=np.float64),
        )

    def _density_params(self) -> Params:
        """The parameters for marginal densities and imputation. float32
        covariances of an ill-conditioned fit may round to a matrix that is
        not positive definite; the covariances implied by the precision
        Cholesky factors (the ones complete rows are scored with) always are."""
        params = self._current_params()
        if np.asarray(self.covariances_).dtype != np.float32:
            return params
        covariances = covariances_from_cholesky(
            params.precisions_cholesky, self.covariance_type
        )
        return Params(
            params.weights, params.means, covariances, params.precisions_cholesky
        )

    def _set_fitted(self, result, dtype):
        params = result.params

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
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = float(result.lower_bound)
        self.lower_bounds_ = [float(v) for v in result.lower_bounds]

    # ------------------------------------------------------------ inference

    def _validate_X_predict(self, X):
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            return _dask.check_dask_array(X, self.n_features_in_)
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if self.nan_policy == "marginalize" else True,
        )
        return as_kernel_input(X)

    def _lazy(self, X, what):
        """Lazy per-row results on a Dask array (see ``_dask.lazy_scores``)."""
        return _dask.lazy_scores(X, self._current_params(), self.covariance_type, what)

    def _score(self, X, want_resp):
        """Run the scoring kernel: (log p(x), labels, responsibilities)."""
        if self.nan_policy == "marginalize" and np.isnan(X).any():
            return score_missing(
                X, self._density_params(), self.covariance_type, want_resp
            )
        params = self._current_params()
        means, prec_tri, prec_diag, log_norm = kernel_args(params, self.covariance_type)
        n_samples = X.shape[0]
        log_prob = np.empty(n_samples)
        labels = np.empty(n_samples, dtype=np.int64)
        resp = np.empty((n_samples if want_resp else 0, self.n_components))
        _kernels.score_samples(
            X, means, prec_tri, prec_diag, log_norm, log_prob, labels, resp
        )
        return log_prob, labels, resp

    def score_samples(self, X):
        """Compute the log-likelihood of each sample under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one point per row.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            log p(x) of each point.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(200, 1))
        >>> gm = GaussianMixture(1).fit(X)
        >>> gm.score_samples([[0.0]]).shape
        (1,)
        """
        X = self._validate_X_predict(X)
        if _dask.is_dask_array(X):
            return self._lazy(X, "log_prob").astype(X.dtype)
        return self._score(X, want_resp=False)[0].astype(X.dtype, copy=False)

    def score(self, X, y=None, sample_weight=None):
        """Compute the mean log-likelihood per sample of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one point per row.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: the weighted mean is returned.

        Returns
        -------
        log_likelihood : float
            Mean of ``score_samples(X)``, weighted by ``sample_weight``.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(200, 1))
        >>> isinstance(GaussianMixture(1).fit(X).score(X), float)
        True
        """
        X = self._validate_X_predict(X)
        if _dask.is_dask_array(X):
            log_prob = self._lazy(X, "log_prob").astype(X.dtype)
            return _dask.mean_score(log_prob, sample_weight)
        n_samples = X.shape[0]
        sample_weight = check_sample_weight(sample_weight, n_samples)
        # Row chunks bound the per-row temporaries (a memory-mapped X stays
        # out of memory); one chunk gives exactly mean(score_samples(X)).
        total = 0.0
        for start in range(0, n_samples, _SCORE_CHUNK_ROWS):
            rows = slice(start, start + _SCORE_CHUNK_ROWS)
            log_prob = self._score(X[rows], want_resp=False)[0]
            log_prob = log_prob.astype(X.dtype, copy=False)
            if n_samples <= _SCORE_CHUNK_ROWS:
                if sample_weight is None:
                    return float(np.mean(log_prob))
                return float(np.average(log_prob, weights=sample_weight))
            if sample_weight is None:
                total += float(np.sum(log_prob, dtype=np.float64))
            else:
                total += float(log_prob @ sample_weight[rows])
        weight = n_samples if sample_weight is None else float(sample_weight.sum())
        return total / weight

    def predict(self, X):
        """Predict the most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one point per row.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
        >>> gm = GaussianMixture(2, random_state=0).fit(X)
        >>> bool(gm.predict([[0.05]])[0] == gm.predict([[0.0]])[0])
        True
        """
        X = self._validate_X_predict(X)
        if _dask.is_dask_array(X):
            return self._lazy(X, "labels")
        return self._score(X, want_resp=False)[1]

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one point per row.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities; each row sums to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
        >>> gm = GaussianMixture(2, random_state=0).fit(X)
        >>> gm.predict_proba(X).sum(axis=1).round(6).tolist()
        [1.0, 1.0, 1.0, 1.0]
        """
        X = self._validate_X_predict(X)
        if _dask.is_dask_array(X):
            return self._lazy(X, "proba")
        return self._score(X, want_resp=True)[2].astype(X.dtype, copy=False)

    def impute(self, X):
        """Fill in missing values (NaN) with their conditional expectations.

        Each NaN is replaced by its expectation under the fitted mixture
        given the row's observed values: the responsibility-weighted
        conditional means sum_k p(k | x_o) E[x_m | x_o, k], with the
        responsibilities from the marginal densities of the observed values.
        Observed values are returned unchanged; a row with every value
        missing gets the mixture's mean. Works whatever ``nan_policy`` the
        model was fitted with.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, with NaN for missing values.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            A copy of X (same dtype, float32 or float64) without NaN; a lazy
            Dask array for a Dask array.

        See Also
        --------
        GaussianMixtureImputer : The same as a transformer for pipelines.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> rng = np.random.default_rng(0)
        >>> X = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=500)
        >>> gm = GaussianMixture(1, random_state=0).fit(X)
        >>> gm.impute([[2.0, np.nan], [np.nan, -1.0]]).round(1)
        array([[ 2. ,  1.8],
               [-0.9, -1. ]])
        """
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            X = _dask.check_dask_array(X, self.n_features_in_)
            return _dask.lazy_impute(X, self._density_params(), self.covariance_type)
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
        )
        return impute_missing(
            as_kernel_input(X), self._density_params(), self.covariance_type
        )

    def save(self, path):
        """Save the fitted model to one ``.npz`` file, without pickle.

        The file holds plain arrays and the constructor parameters as JSON;
        :func:`emfast.load` reads it back with ``allow_pickle=False`` and
        validates it. See :func:`emfast.load` for what is checked.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write. ``'.npz'`` is appended to a path that does not
            end with it (as :func:`numpy.savez` does); :func:`emfast.load`
            given the same path finds the file.

        Returns
        -------
        path : pathlib.Path
            The file written.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If ``random_state`` is a ``RandomState`` or ``Generator`` (only
            None or an int can be saved without pickle: use
            ``set_params(random_state=...)`` first), or another parameter is
            not None, bool, int, float, str or (for ``*_init``) a numeric
            array.

        See Also
        --------
        emfast.load : Read the file back.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> import emfast
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> gm = emfast.GaussianMixture(2, random_state=0).fit(X)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     written = gm.save(Path(tmp) / "model")
        ...     loaded = emfast.load(Path(tmp) / "model")
        >>> written.name
        'model.npz'
        >>> bool(np.array_equal(loaded.predict(X), gm.predict(X)))
        True
        """
        from ._persist import save_model

        return save_model(self, path)

    def sample(self, n_samples=1):
        """Generate random samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Randomly generated samples.
        y : ndarray of shape (n_samples,)
            Component labels of the samples.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> Xs, ys = GaussianMixture(2, random_state=0).fit(X).sample(5)
        >>> Xs.shape, ys.shape
        ((5, 2), (5,))
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling "
                "requires at least one sample."
            )
        _, n_features = self.means_.shape
        rng = check_random_state(self.random_state)
        n_samples_comp = rng.multinomial(n_samples, self.weights_)
        if self.covariance_type == "full":
            X = np.vstack(
                [
                    rng.multivariate_normal(mean, covariance, int(sample))
                    for (mean, covariance, sample) in zip(
                        self.means_, self.covariances_, n_samples_comp
                    )
                ]
            )
        elif self.covariance_type == "tied":
            X = np.vstack(
                [
                    rng.multivariate_normal(mean, self.covariances_, int(sample))
                    for (mean, sample) in zip(self.means_, n_samples_comp)
                ]
            )
        else:
            X = np.vstack(
                [
                    mean
                    + rng.standard_normal(size=(sample, n_features))
                    * np.sqrt(covariance)
                    for (mean, covariance, sample) in zip(
                        self.means_, self.covariances_, n_samples_comp
                    )
                ]
            )
        y = np.concatenate(
            [np.full(sample, j, dtype=int) for j, sample in enumerate(n_samples_comp)]
        )
        return X, y

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


def _check_observed_columns(X, sample_weight):
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


def _n_rows(X) -> int:
    return len(X) if not hasattr(X, "shape") else X.shape[0]
