"""The scikit-learn-facing layer every mixture shares.

``BaseMixture`` validates the data once and picks its source (``_sources``,
``_dask``), runs the EM driver (``_em.fit_em``) on the model the subclass
builds, makes the fit all or nothing, and answers predictions, scores,
imputation, sampling and saving from the subclass's Gaussian components.
A subclass (``GaussianMixture``, ``BayesianGaussianMixture``) adds only its
constructor, its model (``_em_model``), how its fitted attributes are set
from the model's parameters (``_set_parameters``, ``_get_parameters``) and read back
as components (``_components``), and its own extras.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _covariance, _dask
from ._em import fit_em
from ._init import INIT_PARAMS
from ._jit import raise_interrupt
from ._persist import PersistentModel, Saved, precisions_match, probabilities
from ._sources import Components, source_for
from ._validation import (
    as_kernel_input,
    check_observed_columns,
    check_sample_weight,
)

# The shape of covariances_ and of its precisions, by covariance type.
_COVARIANCE_SHAPES = {
    "full": ("n_components", "n_features_in_", "n_features_in_"),
    "tied": ("n_features_in_", "n_features_in_"),
    "diag": ("n_components", "n_features_in_"),
    "spherical": ("n_components",),
}


class BaseMixture(PersistentModel, DensityMixin, BaseEstimator):
    """Shared fit, prediction and I/O of emfast's mixtures (not public)."""

    # The constructor parameters every mixture has, as scikit-learn checks
    # them; an estimator adds its own (``{**BaseMixture._parameter_constraints,
    # ...}``).
    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(_covariance.COVARIANCE_TYPES))],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions(set(INIT_PARAMS))],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "nan_policy": [StrOptions({"raise", "omit", "marginalize"})],
    }

    # What ``lower_bound_`` is, in words (plots and messages).
    _lower_bound_name = "lower bound"
    # A model file (``_persist``): the fitted attributes and their checks; a
    # subclass adds its constructor parameters that may be arrays
    # (``_array_params``) and its own attributes (``_saved_extras``).
    _saved_fields: ClassVar[tuple] = (
        Saved("n_features_in_", "int", minimum=1),
        Saved("weights_", "params", ("n_components",), checks=(probabilities(),)),
        Saved("means_", "params", ("n_components", "n_features_in_")),
        *(
            Saved(name, "params", _COVARIANCE_SHAPES)
            for name in ("covariances_", "precisions_cholesky_", "precisions_")
        ),
        Saved("converged_", "bool"),
        Saved("n_iter_", "int", minimum=0),
        Saved("lower_bound_", "bound"),
        Saved("lower_bounds_", "bounds"),
        Saved("n_samples_omitted_", "int", minimum=0, optional=True),
        Saved("feature_names_in_", "names", ("n_features_in_",), optional=True),
    )
    _saved_checks: ClassVar[tuple] = (precisions_match,)

    # ------------------------------------------------------------ hooks

    def _em_model(self, source):  # pragma: no cover - abstract
        """The EM model of this estimator for ``source`` (validated data);
        checks the user's model parameters against the data."""
        raise NotImplementedError

    def _set_parameters(self, params, dtype):  # pragma: no cover - abstract
        """Set the fitted attributes from the model's parameters."""
        raise NotImplementedError

    def _get_parameters(self):  # pragma: no cover - abstract
        """The model's parameters from the fitted attributes (warm start)."""
        raise NotImplementedError

    def _components(self) -> Components:  # pragma: no cover - abstract
        """The fitted Gaussian components, for scoring and imputation."""
        raise NotImplementedError

    # ------------------------------------------------------------ fit

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
            array chunk by chunk (see the user guide's "Data larger than
            memory" page).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each point (a number weighs all alike).
            With the k-means starts ('kmeans', 'k-means++'), integer weights
            give the fit of the data with each row repeated that many times;
            zero-weight rows are ignored. Used by the initialization too.

        Returns
        -------
        self : object
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
            Component labels (-1 for rows dropped by ``nan_policy='omit'``).

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixture
        >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
        >>> labels = GaussianMixture(2, random_state=0).fit_predict(X)
        >>> len(set(labels[:3])), len(set(labels[3:])), bool(labels[0] != labels[3])
        (1, 1, True)
        """
        source, kept = self._fit(X, sample_weight)
        labels = source.scores(self._components(), "labels")
        if kept is None:
            return labels
        all_labels = np.full(kept.shape[0], -1, dtype=labels.dtype)
        all_labels[kept] = labels
        return all_labels

    def _fit(self, X, sample_weight=None):
        """Validate, run EM, set the fitted attributes. Returns the data
        source and the mask of the rows kept (None when all were).

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
        random_state = check_random_state(self.random_state)
        if _dask.is_dask_array(X):
            source, kept = self._dask_source(X, sample_weight), None
        else:
            source, kept = self._array_source(X, sample_weight)
        model = self._em_model(source)
        warm = self.warm_start and hasattr(self, "converged_")
        result = fit_em(
            model,
            source,
            tol=self.tol,
            max_iter=self.max_iter,
            n_init=self.n_init,
            random_state=random_state,
            warm_params=self._get_parameters() if warm else None,
            warm_lower_bound=self.lower_bound_ if warm else -np.inf,
            verbose=self.verbose,
            verbose_interval=self.verbose_interval,
        )
        self._set_parameters(result.params, source.dtype)
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = np.float64(result.lower_bound)
        self.lower_bounds_ = [float(v) for v in result.lower_bounds]
        return source, kept

    def _array_source(self, X, sample_weight):
        """Validate an array-like X (and sample_weight) and choose its source;
        apply ``nan_policy``. Returns the source and the mask of the rows
        kept (None when all were)."""
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
        if self.nan_policy == "omit":
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
                    stacklevel=5,
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
        _check_n_samples(X.shape[0], self.n_components)
        marginalize = self.nan_policy == "marginalize"
        if marginalize and np.isnan(X).any():
            check_observed_columns(X, sample_weight)
        source = source_for(X, sample_weight, self.n_components, marginalize)
        # Rows with nothing observed are an error now, not in the first pass.
        getattr(source, "layout", None)
        source.init_rows  # noqa: B018 - computed once, before the weights check
        if sample_weight is not None:
            n_positive = int(np.count_nonzero(sample_weight))
            if n_positive < self.n_components:
                raise ValueError(
                    "Expected at least n_components points with a positive "
                    f"sample_weight but got n_components = {self.n_components}, "
                    f"{n_positive} positive weights"
                )
        return source, kept

    def _dask_source(self, X, sample_weight):
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
        _check_n_samples(n_samples, self.n_components)
        self.n_features_in_ = X.shape[1]
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_samples_omitted_ = 0
        sample_weight = _dask.check_dask_weights(sample_weight, X)
        return _dask.DaskSource(X, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.nan_policy != "raise"
        return tags

    # ------------------------------------------------------------ inference

    def _predict_source(self, X, allow_nan=None):
        """The source of X for predictions (validated against the fit)."""
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            return _dask.DaskSource(_dask.check_dask_array(X, self.n_features_in_))
        marginalize = self.nan_policy == "marginalize"
        if allow_nan is None:
            allow_nan = marginalize
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if allow_nan else True,
        )
        return source_for(as_kernel_input(X), None, self.n_components, marginalize)

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
        source = self._predict_source(X)
        log_prob = source.scores(self._components(), "log_prob")
        return log_prob.astype(source.dtype, copy=False)

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
        source = self._predict_source(X)
        return source.mean_score(self._components(), sample_weight)

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
        return self._predict_source(X).scores(self._components(), "labels")

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
        return self._predict_source(X).scores(self._components(), "proba")

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
        source = self._predict_source(X, allow_nan=True)
        return source.impute(self._components())

    def _density_covariances(self):
        """The fitted covariances for marginal densities and imputation, as
        float64. float32 covariances of an ill-conditioned fit may round to
        a matrix that is not positive definite; the covariances implied by
        the precision Cholesky factors (the ones complete rows are scored
        with) always are."""
        if np.asarray(self.covariances_).dtype != np.float32:
            return np.asarray(self.covariances_, dtype=np.float64)
        return _covariance.covariances_from_cholesky(
            np.asarray(self.precisions_cholesky_, dtype=np.float64),
            self.covariance_type,
        )

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
        rng = check_random_state(self.random_state)
        n_samples_comp = rng.multinomial(n_samples, self.weights_)
        X = _covariance.sample(
            rng, self.means_, self.covariances_, self.covariance_type, n_samples_comp
        )
        y = np.concatenate(
            [np.full(sample, j, dtype=int) for j, sample in enumerate(n_samples_comp)]
        )
        return X, y


def _check_n_samples(n_samples, n_components):
    if n_samples < n_components:
        raise ValueError(
            "Expected n_samples >= n_components "
            f"but got n_components = {n_components}, "
            f"n_samples = {n_samples}"
        )
