"""The EM engine, for library authors: one driver runs any model on any data
source, with any covariance type.

Every model emfast fits is EM: an E-step that turns the parameters into
posteriors and sufficient statistics in one pass over the data, an M-step
from those statistics, and a bound to watch. The engine splits this into
three parts, each in one place, and a driver:

**The model** (an :class:`EMModel`: :class:`MixtureModel` for
``GaussianMixture``, :class:`VariationalModel` for
``BayesianGaussianMixture``) holds what differs between models: its
parameters (:class:`Params`, :class:`VariationalParams`),
``initialize(source, random_state)`` (a start), ``components(params)`` (the
:class:`Components` the E-step needs: Gaussian components and one log term
per component, log weights or expected log weights), ``e_step(source,
params)`` (the E-step's :class:`GaussianStats`; by default the source's
fused pass over the components), ``m_step(stats, params)`` (new
parameters), ``lower_bound(stats, params)`` (the bound EM watches) and
``want_entropy`` (whether that bound needs the entropy of the
responsibilities). A new model subclasses :class:`EMModel`, or a model
whose steps it shares.

**The data source** (:class:`ArraySource` for an array in memory or
memory-mapped, :class:`PatternSource` for data with missing values,
:class:`DaskSource` for a Dask array; :func:`source_for` chooses between the
first two) runs the fused E-step pass, ``e_step(components, want_entropy)``
-> :class:`GaussianStats` (log-likelihood, responsibility entropy and
sufficient statistics; the responsibilities themselves are never stored),
and also scores rows, imputes, and gives the initialization its rows. It
is chosen once, when the data are validated; no model asks which one it
has.

**The covariance type** (``'full'``, ``'tied'``, ``'diag'``,
``'spherical'``) is a string that the model hands to the covariance helpers
(for example :func:`compute_precision_cholesky`); neither the model nor the
source branches on it.

**The driver**: :func:`em_step` runs one iteration (E-step pass, M-step,
lower bound) and :func:`fit_em` a whole fit (restarts, warm start,
convergence, verbose output). ``GaussianMixture`` and
``BayesianGaussianMixture`` are thin estimators over these;
:func:`model_for` and :func:`fitted_params` give the model and parameters
of such an estimator, for example to time one of its iterations.

Examples
--------
One EM iteration of a Gaussian mixture, then a whole fit:

>>> import numpy as np
>>> from emfast.engine import MixtureModel, Params, em_step, fit_em, source_for
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(-3, 1, (500, 2)), rng.normal(3, 1, (500, 2))])
>>> source = source_for(X)
>>> model = MixtureModel(2, "full", 1e-6, "kmeans", X.dtype)
>>> start = Params(np.full(2, 0.5), X[[0, -1]], np.stack([np.eye(2)] * 2),
...                np.stack([np.eye(2)] * 2))
>>> lower_bound, params = em_step(model, source, start)
>>> np.sort(params.means[:, 0]).round()
array([-3.,  3.])
>>> result = fit_em(model, source, tol=1e-3, max_iter=100, n_init=1,
...                 random_state=np.random.RandomState(0))
>>> result.converged, np.sort(result.params.means[:, 0]).round()
(True, array([-3.,  3.]))
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from . import _covariance, _sources
from ._dask import DaskSource
from ._em import EMModel, FitResult, em_step, fit_em
from ._sources import ArraySource, Components, GaussianStats, PatternSource
from ._validation import as_kernel_input, check_sample_weight
from .bayesian import Priors, VariationalModel, VariationalParams
from .hmm import BaseHMM
from .mixture import MixtureModel, Params

__all__ = [
    "ArraySource",
    "Components",
    "DaskSource",
    "EMModel",
    "FitResult",
    "GaussianStats",
    "MixtureModel",
    "Params",
    "PatternSource",
    "Priors",
    "VariationalModel",
    "VariationalParams",
    "compute_precision_cholesky",
    "em_step",
    "fit_em",
    "fitted_params",
    "model_for",
    "source_for",
]


def source_for(X, sample_weight=None, *, n_components=1, marginalize=False):
    """The data source of an array: validated, in the form the kernels take.

    X is checked (2-D, float32 or float64, finite; NaN allowed with
    ``marginalize``) and viewed C-contiguous and read-only (copied only when
    it is not C-contiguous; a memory-mapped array stays on disk), and
    ``sample_weight`` is checked. The source is a :class:`PatternSource`
    when ``marginalize`` is true and X has NaN (rows grouped by missingness
    pattern on first use), else an :class:`ArraySource`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weight of each row.
    n_components : int, default=1
        Number of components of the model that will use the source (sizes
        the tasks of the missing-value pass).
    marginalize : bool, default=False
        Allow NaN in X, treated as missing at random.

    Returns
    -------
    source : ArraySource or PatternSource
        The data source.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import source_for
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> type(source_for(X)).__name__, source_for(X).n_features
    ('ArraySource', 2)
    >>> X[0, 1] = np.nan
    >>> type(source_for(X, n_components=2, marginalize=True)).__name__
    'PatternSource'
    """
    X = check_array(
        X,
        dtype=[np.float64, np.float32],
        ensure_all_finite="allow-nan" if marginalize else True,
    )
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    return _sources.source_for(
        as_kernel_input(X), sample_weight, n_components, marginalize
    )


def compute_precision_cholesky(covariances, covariance_type, dtype=np.float64):
    """Cholesky factors of the precisions, in scikit-learn's form.

    Parameters
    ----------
    covariances : ndarray
        The covariances, shaped by covariance type: (n_components,
        n_features, n_features) for 'full', (n_features, n_features) for
        'tied', (n_components, n_features) for 'diag', (n_components,) for
        'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.
    dtype : dtype, default=np.float64
        The data's dtype; only the error message depends on it (float32
        data are advised to be passed as float64).

    Returns
    -------
    precisions_cholesky : ndarray
        float64, of the shape of ``covariances``: upper-triangular U with
        precision = U Uᵀ for 'full' and 'tied', the inverse standard
        deviations for 'diag' and 'spherical'.

    Raises
    ------
    ValueError
        When a covariance is not positive definite (scikit-learn's message,
        which advises to increase ``reg_covar``).

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import compute_precision_cholesky
    >>> cov = np.array([[[4.0, 0.0], [0.0, 1.0]]])
    >>> compute_precision_cholesky(cov, "full")
    array([[[0.5, 0. ],
            [0. , 1. ]]])
    >>> compute_precision_cholesky(np.array([4.0, 0.25]), "spherical")
    array([0.5, 2. ])
    """
    return _covariance.compute_precision_cholesky(covariances, covariance_type, dtype)


def model_for(estimator, source, lengths=None):
    """The engine model that ``estimator.fit`` runs on ``source``.

    Parameters
    ----------
    estimator : GaussianMixture, BayesianGaussianMixture, GaussianHMM or GMMHMM
        The estimator whose constructor parameters define the model.
    source : ArraySource, PatternSource or DaskSource
        The data. A ``BayesianGaussianMixture`` resolves its priors against
        them (``mean_prior`` and ``covariance_prior`` default to the data's
        mean and covariance) and, as ``fit`` does, records them in its
        ``*_prior_`` attributes.
    lengths : array-like of int, default=None
        For the hidden Markov models: the sequences' lengths, as in their
        ``fit`` (None: one sequence). Not used by the mixtures.

    Returns
    -------
    model : MixtureModel, VariationalModel or object
        The model, with the estimator's ``weights_init``, ``means_init`` and
        ``precisions_init`` (``GaussianMixture``), priors
        (``BayesianGaussianMixture``), or sequences, priors and given
        parameters (the hidden Markov models, whose models are
        :class:`EMModel` subclasses of their own modules).

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import BayesianGaussianMixture
    >>> from emfast.engine import model_for, source_for
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> model = model_for(BayesianGaussianMixture(n_components=3), source_for(X))
    >>> type(model).__name__, model.priors.degrees_of_freedom_prior
    ('VariationalModel', 2)
    """
    if isinstance(estimator, BaseHMM):
        return estimator._em_model(source, lengths)
    return estimator._em_model(source)


def fitted_params(estimator):
    """A fitted estimator's parameters, in its model's form.

    Parameters
    ----------
    estimator : GaussianMixture, BayesianGaussianMixture, GaussianHMM or GMMHMM
        A fitted estimator (for the hidden Markov models: one whose
        parameters are set).

    Returns
    -------
    params : Params, VariationalParams or object
        Its parameters in float64, as its model's ``components`` and
        ``m_step`` take them (:func:`em_step` continues the fit from them);
        for the hidden Markov models, a dataclass of their own module with
        ``startprob``, ``transmat`` and the emission parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianMixture
    >>> from emfast.engine import em_step, fitted_params, model_for, source_for
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> source = source_for(X)
    >>> lower_bound, params = em_step(model_for(gm, source), source,
    ...                               fitted_params(gm))
    >>> bool(lower_bound >= gm.lower_bound_ - 1e-3)
    True
    """
    check_is_fitted(estimator)
    return estimator._get_parameters()
