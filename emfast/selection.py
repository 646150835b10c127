"""Choosing the number of components and the covariance type by BIC or AIC."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_array

from ._validation import as_kernel_input, check_sample_weight
from .mixture import GaussianMixture

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_CRITERIA = ("bic", "aic")
_COLUMNS = (
    "n_components",
    "covariance_type",
    "bic",
    "aic",
    "log_likelihood",
    "n_iter",
    "converged",
    "n_parameters",
)


@dataclass
class ModelSelection:
    """The result of :func:`select_model`.

    Attributes
    ----------
    best_estimator : GaussianMixture
        The fitted candidate with the lowest criterion.
    best_index : int
        Its row in ``table``.
    criterion : str
        'bic' or 'aic'.
    table : dict of ndarray
        One entry per candidate, in grid order (covariance types outer,
        numbers of components inner): 'n_components', 'covariance_type',
        'bic', 'aic', 'log_likelihood' (mean per sample, weighted when sample
        weights were given), 'n_iter', 'converged' and 'n_parameters'. Pass
        it to ``pandas.DataFrame`` for a data frame.
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
    sample_weight=None,
    **params,
) -> ModelSelection:
    """Fit a grid of Gaussian mixtures and pick the best by BIC or AIC.

    Every combination of ``n_components`` and ``covariance_types`` is fitted
    with :class:`GaussianMixture` (other constructor parameters from
    ``params``, e.g. ``random_state`` or ``n_init``). X is validated and
    converted once; the fits share the compiled kernels.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data.
    n_components : iterable of int, default=range(1, 11)
        Numbers of components to try.
    covariance_types : str or iterable of str, default=('full', 'tied', \
'diag', 'spherical')
        Covariance types to try; a single string is one type.
    criterion : {'bic', 'aic'}, default='bic'
        The criterion to minimise.
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
    >>> len(result.table["bic"])
    10
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {_CRITERIA}; got {criterion!r}")
    grid_k = [int(k) for k in n_components]
    if isinstance(covariance_types, str):
        covariance_types = (covariance_types,)
    grid_types = list(covariance_types)
    if not grid_k or not grid_types:
        raise ValueError("n_components and covariance_types must not be empty")
    if min(grid_k) < 1:
        raise ValueError(f"n_components must be >= 1; got {min(grid_k)}")
    unknown = [t for t in grid_types if t not in _COVARIANCE_TYPES]
    if unknown:
        raise ValueError(
            f"Unknown covariance type(s) {unknown}; expected {list(_COVARIANCE_TYPES)}"
        )
    for name in ("n_components", "covariance_type"):
        if name in params:
            raise TypeError(f"{name!r} is set by the grid; do not pass it in params")

    X = as_kernel_input(
        check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
    )
    weights = check_sample_weight(sample_weight, X.shape[0])
    n_eff = X.shape[0] if weights is None else float(weights.sum())

    table: dict[str, list] = {key: [] for key in _COLUMNS}
    estimators = []
    for covariance_type in grid_types:
        for k in grid_k:
            gm = GaussianMixture(k, covariance_type=covariance_type, **params)
            gm.fit(X, sample_weight=weights)
            log_likelihood = gm.score(X, sample_weight=weights)
            n_params = gm._n_parameters()
            table["n_components"].append(k)
            table["covariance_type"].append(covariance_type)
            table["bic"].append(
                -2 * log_likelihood * n_eff + n_params * math.log(n_eff)
            )
            table["aic"].append(-2 * log_likelihood * n_eff + 2 * n_params)
            table["log_likelihood"].append(log_likelihood)
            table["n_iter"].append(gm.n_iter_)
            table["converged"].append(gm.converged_)
            table["n_parameters"].append(n_params)
            estimators.append(gm)

    columns = {key: np.asarray(values) for key, values in table.items()}
    best = int(np.argmin(columns[criterion]))
    return ModelSelection(estimators[best], best, criterion, columns)
