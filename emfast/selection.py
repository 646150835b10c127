"""Choosing the number of components and the covariance type by BIC, AIC or
ICL."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_array

from ._init import INIT_PARAMS
from ._validation import as_kernel_input, check_sample_weight
from .mixture import GaussianMixture

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_CRITERIA = ("bic", "aic", "icl")
# The starts each candidate is fitted from by default (see select_model).
DEFAULT_STARTS = ("small-em", "kmeans")
# Rows per chunk of the posteriors that ICL sums over.
_ICL_CHUNK_ROWS = 65_536
_COLUMNS = (
    "n_components",
    "covariance_type",
    "bic",
    "aic",
    "icl",
    "log_likelihood",
    "start",
    "n_iter",
    "converged",
    "n_parameters",
)


@dataclass
class ModelSelection:
    """The result of :func:`select_model`: the best fit and the whole table.

    :func:`select_model` builds it; its fields are also its attributes.

    Parameters
    ----------
    best_estimator : GaussianMixture
        The fitted candidate with the lowest criterion.
    best_index : int
        Its row in ``table``.
    criterion : str
        'bic', 'aic' or 'icl'.
    table : dict of ndarray
        One entry per candidate, in grid order (covariance types outer,
        numbers of components inner): 'n_components', 'covariance_type',
        'bic', 'aic', 'icl', 'log_likelihood' (mean per sample, weighted when
        sample weights were given), 'start' (the ``init_params`` of the fit
        kept: the one with the largest log-likelihood), 'n_iter', 'converged'
        and 'n_parameters'. Pass it to ``pandas.DataFrame`` for a data
        frame.

    See Also
    --------
    select_model : Fits the candidates and returns this.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import select_model
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 0.5, size=(100, 2)) for c in (0, 6)])
    >>> result = select_model(X, [1, 2, 3], "full", random_state=0)
    >>> result.criterion, result.best_index, result.best_estimator.n_components
    ('bic', 1, 2)
    >>> [int(k) for k in result.table["n_components"]]
    [1, 2, 3]
    >>> print(str(result).splitlines()[2].endswith("<- best"))
    True
    """

    best_estimator: GaussianMixture
    best_index: int
    criterion: str
    table: dict

    def __str__(self) -> str:
        columns = _COLUMNS[:-1]  # n_parameters stays in the table only
        lines = ["  ".join(f"{c:>15}" for c in columns)]
        for i in range(len(self.table["bic"])):
            cells = []
            for c in columns:
                v = self.table[c][i]
                cells.append(f"{v:>15.4f}" if isinstance(v, float) else f"{v!s:>15}")
            mark = "  <- best" if i == self.best_index else ""
            lines.append("  ".join(cells) + mark)
        return "\n".join(lines)


def select_model(
    X,
    n_components: Iterable[int] = range(1, 11),
    covariance_types: str | Iterable[str] = _COVARIANCE_TYPES,
    *,
    criterion: str = "bic",
    starts: str | Iterable[str] = DEFAULT_STARTS,
    sample_weight=None,
    **params,
) -> ModelSelection:
    """Fit a grid of Gaussian mixtures and pick the best by BIC, AIC or ICL.

    Every combination of ``n_components`` and ``covariance_types`` is fitted
    with :class:`GaussianMixture` from each of ``starts`` (other constructor
    parameters from ``params``, e.g. ``random_state`` or ``n_init``); the fit
    with the largest log-likelihood is the candidate. X is validated and
    converted once; the fits share the compiled kernels.

    The default starts are 'small-em' and 'kmeans'. A criterion can only
    choose well among fits that reached their model's best optimum: on
    elongated or nested clusters the k-means start reaches a poor one, so
    that the true number of components fits worse than a wrong one and BIC
    picks the wrong one. Small EM (short runs from the hierarchical start,
    the density peaks, the k-means start and random starts) reaches the best
    optimum on such data; the k-means fit beside it keeps every candidate at
    least as good as the k-means start's fit (scikit-learn's default
    start).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data.
    n_components : iterable of int, default=range(1, 11)
        Numbers of components to try.
    covariance_types : str or iterable of str, default=('full', 'tied', \
'diag', 'spherical')
        Covariance types to try; a single string is one type.
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        The criterion to minimise. ICL (Biernacki, Celeux and Govaert, 2000,
        as mclust computes it) is BIC plus twice the sum over the points of
        -log of their largest posterior probability: it also penalises
        components that overlap, so it prefers well-separated clusters.
    starts : str or iterable of str, default=('small-em', 'kmeans')
        The ``init_params`` each candidate is fitted from (see
        :class:`GaussianMixture`); a single string is one start.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the points, used by every fit and criterion (the number of
        samples in BIC is then the sum of the weights).
    **params
        Other :class:`GaussianMixture` parameters, the same for every fit.

    Returns
    -------
    ModelSelection
        The best fitted estimator and the table of all candidates.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import select_model
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 0.5, size=(200, 2)) for c in (0, 5, 10)])
    >>> result = select_model(X, range(1, 6), ("full", "diag"), random_state=0)
    >>> result.best_estimator.n_components
    3
    >>> len(result.table["bic"]), str(result.table["start"][2])
    (10, 'small-em')
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {_CRITERIA}; got {criterion!r}")
    grid_k = [int(k) for k in n_components]
    if isinstance(covariance_types, str):
        covariance_types = (covariance_types,)
    grid_types = list(covariance_types)
    if isinstance(starts, str):
        starts = (starts,)
    starts = list(starts)
    if not grid_k or not grid_types:
        raise ValueError("n_components and covariance_types must not be empty")
    if not starts:
        raise ValueError("starts must not be empty")
    if min(grid_k) < 1:
        raise ValueError(f"n_components must be >= 1; got {min(grid_k)}")
    unknown = [t for t in grid_types if t not in _COVARIANCE_TYPES]
    if unknown:
        raise ValueError(
            f"Unknown covariance type(s) {unknown}; expected {list(_COVARIANCE_TYPES)}"
        )
    unknown = [s for s in starts if s not in INIT_PARAMS]
    if unknown:
        raise ValueError(f"Unknown start(s) {unknown}; expected {list(INIT_PARAMS)}")
    for name in ("n_components", "covariance_type"):
        if name in params:
            raise TypeError(f"{name!r} is set by the grid; do not pass it in params")
    if "init_params" in params:
        raise TypeError("'init_params' is set by starts; do not pass it in params")

    X = as_kernel_input(
        check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
    )
    weights = check_sample_weight(sample_weight, X.shape[0])
    n_eff = X.shape[0] if weights is None else float(weights.sum())

    table: dict[str, list] = {key: [] for key in _COLUMNS}
    estimators = []
    for covariance_type in grid_types:
        for k in grid_k:
            gm, log_likelihood, start = None, -np.inf, None
            for init_params in starts:
                fitted = GaussianMixture(
                    k,
                    covariance_type=covariance_type,
                    init_params=init_params,
                    **params,
                ).fit(X, sample_weight=weights)
                score = fitted.score(X, sample_weight=weights)
                if gm is None or score > log_likelihood:
                    gm, log_likelihood, start = fitted, score, init_params
            n_params = gm._n_parameters()
            bic = -2 * log_likelihood * n_eff + n_params * math.log(n_eff)
            table["n_components"].append(k)
            table["covariance_type"].append(covariance_type)
            table["bic"].append(bic)
            table["aic"].append(-2 * log_likelihood * n_eff + 2 * n_params)
            table["icl"].append(bic + 2.0 * _map_entropy(gm, X, weights))
            table["log_likelihood"].append(log_likelihood)
            table["start"].append(start)
            table["n_iter"].append(gm.n_iter_)
            table["converged"].append(gm.converged_)
            table["n_parameters"].append(n_params)
            estimators.append(gm)

    columns = {key: np.asarray(values) for key, values in table.items()}
    best = int(np.argmin(columns[criterion]))
    return ModelSelection(estimators[best], best, criterion, columns)


def _map_entropy(gm, X, weights):
    """sum_i w_i (-log max_k p(k | x_i)): ICL's penalty beyond BIC, over
    chunks of rows."""
    total = 0.0
    for start in range(0, X.shape[0], _ICL_CHUNK_ROWS):
        proba = gm.predict_proba(X[start : start + _ICL_CHUNK_ROWS])
        with np.errstate(divide="ignore"):
            terms = -np.log(proba.max(axis=1))
        if weights is not None:
            terms = terms * weights[start : start + _ICL_CHUNK_ROWS]
        total += float(terms.sum())
    return total
