"""GaussianMixtureImputer: missing values filled in by a Gaussian mixture, as
a scikit-learn transformer."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .mixture import GaussianMixture

_MIXTURE_PARAMS = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "weights_init",
    "means_init",
    "precisions_init",
    "random_state",
    "verbose",
    "verbose_interval",
)


class GaussianMixtureImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute missing values with their conditional expectations under a
    Gaussian mixture.

    ``fit`` fits a :class:`GaussianMixture` with ``nan_policy='marginalize'``
    (exact EM for values missing at random); ``transform`` replaces each NaN
    by its expectation under that mixture given the row's observed values
    (:meth:`GaussianMixture.impute`). Unlike a per-column mean, the imputed
    values follow the correlations between features and the cluster a row
    most likely belongs to.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Covariance type of the mixture. With 'diag' and 'spherical' the
        features are independent within a component, so a missing value
        is imputed from the component means only.
    tol : float, default=1e-3
        Convergence threshold of EM.
    reg_covar : float, default=1e-6
        Non-negative regularization added to the diagonal of covariances.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initializations to perform; the best result is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical', 'small-em'}, default='kmeans'
        How the mixture is initialized (see :class:`GaussianMixture`); the
        initialization sees missing values filled with column means.
    weights_init : array-like of shape (n_components,), default=None
        User-provided initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        User-provided initial means.
    precisions_init : array-like, default=None
        User-provided initial precisions (see :class:`GaussianMixture`).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization.
    verbose : int, default=0
        Verbosity of the fit.
    verbose_interval : int, default=10
        Number of iterations between two verbose messages.

    Attributes
    ----------
    gaussian_mixture_ : GaussianMixture
        The fitted mixture.
    n_iter_ : int
        Number of EM iterations of the best fit.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``, when X has feature names
        that are all strings.

    See Also
    --------
    GaussianMixture.impute : The imputation of a fitted mixture.
    sklearn.impute.SimpleImputer : Per-column statistics.
    sklearn.impute.IterativeImputer : Round-robin regression of each feature.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from emfast import GaussianMixtureImputer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.multivariate_normal([0, 0, 0], np.eye(3) + 0.8, size=400)
    >>> y = X.sum(axis=1)
    >>> X[rng.random(400) < 0.2, 0] = np.nan  # a fifth of the first feature
    >>> imputer = GaussianMixtureImputer(2, random_state=0).fit(X)
    >>> bool(np.isnan(imputer.transform(X)).any())
    False
    >>> imputer = GaussianMixtureImputer(random_state=0)
    >>> model = make_pipeline(imputer, LinearRegression())
    >>> bool(model.fit(X, y).score(X, y) > 0.9)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        name: GaussianMixture._parameter_constraints[name] for name in _MIXTURE_PARAMS
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
        verbose=0,
        verbose_interval=10,
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
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture to X, missing values included.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, with NaN for missing values. A row with every value
            missing is an error.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row, as in :meth:`GaussianMixture.fit`.

        Returns
        -------
        self : GaussianMixtureImputer
            The fitted imputer.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixtureImputer
        >>> X = np.array([[0.0, 0.0], [1.0, np.nan], [2.0, 2.1], [3.0, 2.9]])
        >>> GaussianMixtureImputer().fit(X).gaussian_mixture_.means_.shape
        (1, 2)
        """
        self._validate_params()
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
            ensure_all_finite="allow-nan",
        )
        params = {name: getattr(self, name) for name in _MIXTURE_PARAMS}
        mixture = GaussianMixture(**params, nan_policy="marginalize")
        self.gaussian_mixture_ = mixture.fit(X, sample_weight=sample_weight)
        self.n_iter_ = mixture.n_iter_
        return self

    def transform(self, X):
        """Replace each NaN of X by its conditional expectation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, with NaN for missing values.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            A copy of X without NaN (same dtype, float32 or float64);
            observed values are unchanged.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast import GaussianMixtureImputer
        >>> X = np.array([[0.0, 0.0], [1.0, 1.1], [2.0, 2.1], [3.0, 2.9]])
        >>> imputer = GaussianMixtureImputer().fit(X)
        >>> imputer.transform([[1.5, np.nan]]).round(1)
        array([[1.5, 1.5]])
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
        )
        return self.gaussian_mixture_.impute(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
