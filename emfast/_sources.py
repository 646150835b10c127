"""Where the data live: the data sources of the EM engine.

A source answers, for the Gaussian components a model gives it
(``Components``), the questions EM asks of data: the fused E-step pass
(``e_step``: log-likelihood, entropy of the responsibilities and the
sufficient statistics, in one ``GaussianStats``), per-row scores
(``scores``: log p(x), labels or responsibilities), the mean score, and
imputation. A source is chosen once, when the data are validated
(``_base``); models and the EM driver never ask which one they have.

- ``ArraySource``: a NumPy array in memory or memory-mapped (the kernels read
  it block by block), with optional sample weights.
- ``PatternSource``: an array with missing values (NaN), rows grouped by
  missingness pattern (``_missing``): marginal densities of the observed
  values, conditional expectations of the missing ones.
- ``_dask.DaskSource``: a Dask array, statistics chunk by chunk.

Every source also has ``init_rows``: the rows the initialization passes
over (``_kmeans.MemoryRows`` of the data itself or, with missing values, of
the data with NaN filled in with column means; ``_dask.DaskRows`` of a Dask
array's chunks).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import _covariance, _kernels, _missing
from ._kmeans import MemoryRows

# score() works through X in chunks of this many rows.
_SCORE_CHUNK_ROWS = 1 << 20


@dataclass
class Components:
    """The Gaussian components as a model hands them to a source.

    The E-step responsibilities are r_ik proportional to
    exp(log_offset[k]) N(x_i | means[k], covariances[k]); a mixture's
    ``log_offset`` is its log weights, a variational mixture's its expected
    log weights plus the expected log-determinant terms. ``weights`` (the
    mixing weights) place the 'tied' centring point and give the mean of a
    row with nothing observed. All arrays are float64. Each parameter is
    kept as the attribute of the same name.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
        The mixing weights.
    means : ndarray of shape (n_components, n_features)
        The components' means.
    covariances : ndarray or None
        The covariances, shaped by covariance type (as
        ``GaussianMixture.covariances_``); None where only the precisions
        are known.
    precisions_cholesky : ndarray
        Cholesky factors of the precisions, shaped by covariance type (as
        ``GaussianMixture.precisions_cholesky_``).
    log_offset : ndarray of shape (n_components,)
        The log term added to each component's log-density.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.

    See Also
    --------
    MixtureModel.components : A Gaussian mixture's components.
    VariationalModel.components : A variational mixture's components.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import MixtureModel, Params
    >>> model = MixtureModel(2, "spherical", 1e-6, "kmeans", np.float64)
    >>> params = Params(np.array([0.25, 0.75]), np.zeros((2, 3)),
    ...                 np.array([1.0, 4.0]), np.array([1.0, 0.5]))
    >>> components = model.components(params)
    >>> components.n_components, components.log_offset.round(3)
    (2, array([-1.386, -0.288]))
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    log_offset: np.ndarray
    covariance_type: str

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def kernel_args(self):
        """The components as the Numba kernels take them.

        Returns
        -------
        means : ndarray of shape (n_components, n_features)
            The means, C-contiguous float64.
        prec_tri : ndarray
            The triangular precision Cholesky factors, of shape (m,
            n_features, n_features): m = n_components for 'full', 1 for
            'tied', 0 for 'diag' and 'spherical'.
        prec_diag : ndarray
            The inverse standard deviations, of shape (m, n_features):
            m = n_components for 'diag' and 'spherical' (a spherical
            variance repeated over the features), 0 for 'full' and 'tied'.
        log_norm : ndarray of shape (n_components,)
            Each component's log normaliser: ``log_offset`` plus the
            Gaussian's log det(precision Cholesky) - D/2 log(2 pi).

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params
        >>> model = MixtureModel(2, "spherical", 1e-6, "kmeans", np.float64)
        >>> params = Params(np.array([0.25, 0.75]), np.zeros((2, 3)),
        ...                 np.array([1.0, 4.0]), np.array([1.0, 0.5]))
        >>> means, prec_tri, prec_diag, log_norm = model.components(
        ...     params).kernel_args()
        >>> prec_tri.shape, prec_diag
        ((0, 3, 3), array([[1. , 1. , 1. ],
               [0.5, 0.5, 0.5]]))
        """
        means = np.ascontiguousarray(self.means, dtype=np.float64)
        n_features = means.shape[1]
        prec_tri, prec_diag = _covariance.kernel_precisions(
            self.precisions_cholesky, self.covariance_type, n_features
        )
        log_norm = _covariance.log_norm(
            self.log_offset,
            self.precisions_cholesky,
            self.covariance_type,
            n_features,
        )
        return means, prec_tri, prec_diag, log_norm

    def tied_center(self):
        """The centre of the 'tied' second moments: the means' weighted mean.

        Any point is exact; a central one keeps the sums small.

        Returns
        -------
        center : ndarray of shape (n_features,)
            The mean of ``means`` weighted by ``weights``.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components
        >>> components = Components(np.array([0.25, 0.75]),
        ...                         np.array([[0.0, 0.0], [4.0, 8.0]]), None,
        ...                         np.ones((2, 2)), np.zeros(2), "diag")
        >>> components.tied_center()
        array([3., 6.])
        """
        weights = np.asarray(self.weights, dtype=np.float64)
        return np.ascontiguousarray(weights @ self.means / weights.sum())

    def pass_args(self):
        """The parameters of the fused E-step pass, as a plain tuple.

        A plain tuple of arrays and a number, to ship to Dask workers.

        Returns
        -------
        args : tuple
            The four arrays of :meth:`kernel_args`, then the kernels' code
            of the covariance type (an int) and :meth:`tied_center`.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components
        >>> components = Components(np.array([0.25, 0.75]),
        ...                         np.array([[0.0, 0.0], [4.0, 8.0]]), None,
        ...                         np.ones((2, 2)), np.zeros(2), "diag")
        >>> args = components.pass_args()
        >>> len(args), args[-1]
        (6, array([3., 6.]))
        """
        return (
            *self.kernel_args(),
            _covariance.KERNEL_CODES[self.covariance_type],
            self.tied_center(),
        )


@dataclass
class GaussianStats:
    """What one E-step pass returns: sums over the rows.

    Every sum weighs row i by its sample weight w_i (1 without weights), and
    r_ik are the responsibilities. Each parameter is kept as the attribute
    of the same name.

    Parameters
    ----------
    log_likelihood : float
        sum_i w_i log p(x_i) (for a variational model, the log of the sum of
        the unnormalised responsibilities).
    entropy : float
        sum_i w_i H(r_i) when asked for (plus, with missing values, the
        entropy of the missing values' conditional distributions), else 0.
    total_weight : float
        sum_i w_i.
    nk : ndarray of shape (n_components,)
        sum_i w_i r_ik.
    sx : ndarray of shape (n_components, n_features)
        sum_i w_i r_ik (x_i - centers[k]).
    sxx : ndarray
        The second moments, by covariance type: (n_components, n_features,
        n_features) sum_i w_i r_ik (x_i - centers[k])(x_i - centers[k])^T
        for 'full' (lower triangle only); (1, n_features, n_features)
        sum_i w_i (x_i - tied_center)(x_i - tied_center)^T for 'tied';
        (n_components, 1, n_features) sum_i w_i r_ik (x_i - centers[k])**2
        for 'diag' and 'spherical'.
    centers : ndarray of shape (n_components, n_features)
        The points the statistics are centred on (the components' means).
    tied_center : ndarray of shape (n_features,), optional
        The centre of the 'tied' second moments.
    per_component : bool, default=False
        Whether ``sxx`` holds per-component second moments even for 'tied'
        (with missing values).

    See Also
    --------
    ArraySource.e_step : The fused E-step pass that returns them.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import MixtureModel, Params, source_for
    >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
    >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
    >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
    ...                 np.ones((2, 1)), np.ones((2, 1)))
    >>> stats = source_for(X).e_step(model.components(params), want_entropy=True)
    >>> stats.nk.shape, stats.sx.shape, bool(stats.entropy > 0)
    ((2,), (2, 1), True)
    """

    log_likelihood: float
    entropy: float
    total_weight: float
    nk: np.ndarray
    sx: np.ndarray
    sxx: np.ndarray
    centers: np.ndarray
    tied_center: np.ndarray | None = None
    per_component: bool = False

    def merged(self, other: GaussianStats) -> GaussianStats:
        """The statistics of both passes' rows together.

        Parameters
        ----------
        other : GaussianStats
            The statistics of a pass over other rows, centred on the same
            points.

        Returns
        -------
        stats : GaussianStats
            The sums of both.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> components = model.components(params)
        >>> source = source_for(X)
        >>> both = source.rows(0, 2).e_step(components).merged(
        ...     source.rows(2, 4).e_step(components))
        >>> bool(np.allclose(both.nk, source.e_step(components).nk))
        True
        """
        return GaussianStats(
            self.log_likelihood + other.log_likelihood,
            self.entropy + other.entropy,
            self.total_weight + other.total_weight,
            self.nk + other.nk,
            self.sx + other.sx,
            self.sxx + other.sxx,
            self.centers,
            self.tied_center,
            self.per_component,
        )


def fused_pass(X, args, sample_weight=None, want_entropy=False):
    """The fused E-step kernel over X with ``Components.pass_args``'s
    ``args``: (log-likelihood, entropy, nk, sx, sxx) sums."""
    means, prec_tri, prec_diag, log_norm, cov_code, center = args
    return _kernels.sufficient_stats(
        X,
        means,
        prec_tri,
        prec_diag,
        log_norm,
        cov_code,
        center,
        _kernels.RESP_POSTERIOR,
        _kernels.NO_LABELS,
        0,
        _kernels.weights_arg(sample_weight),
        want_entropy,
    )


def score_rows(X, components: Components, what: str):
    """Per-row scores of a NaN-free X: 'log_prob' (float64), 'labels'
    (int64) or 'proba' ((n_samples, K), X's dtype)."""
    means, prec_tri, prec_diag, log_norm = components.kernel_args()
    log_prob, labels, resp = _kernels.score_buffers(
        X.shape[0], components.n_components, what == "proba"
    )
    _kernels.score_samples(
        X, means, prec_tri, prec_diag, log_norm, log_prob, labels, resp
    )
    return _pick(what, X.dtype, log_prob, labels, resp)


def _pick(what, dtype, log_prob, labels, resp):
    if what == "labels":
        return labels
    if what == "proba":
        return resp.astype(dtype, copy=False)
    return log_prob


class ArraySource:
    """A NumPy array in memory or memory-mapped, with optional sample weights.

    The source takes them validated, as :func:`emfast.engine.source_for`
    gives them; it checks nothing itself.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data: 2-D, C-contiguous, read-only, float32 or float64, finite.
    sample_weight : ndarray of shape (n_samples,), optional
        Non-negative float64 weight of each row.

    See Also
    --------
    source_for : Validate an array and give its source.
    PatternSource : An array with missing values.
    DaskSource : A Dask array.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import ArraySource, MixtureModel, Params
    >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
    >>> X.flags.writeable = False  # the kernels take read-only arrays
    >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
    >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
    ...                 np.ones((2, 1)), np.ones((2, 1)))
    >>> stats = ArraySource(X).e_step(model.components(params))
    >>> stats.total_weight, stats.nk.round(2)
    (4, array([2., 2.]))
    """

    def __init__(self, X, sample_weight=None):
        self.X = X
        self.sample_weight = sample_weight
        self._row_sources = {}

    def rows(self, lo: int, hi: int):
        """The source of a range of rows.

        The source of rows ``lo:hi`` holds views of X and of the weights. It
        is kept, so that a source with missing values groups its rows once.

        Parameters
        ----------
        lo, hi : int
            The first row and the end (one past the last row).

        Returns
        -------
        source : ArraySource or PatternSource
            A source of the same kind over those rows; this source itself
            for all its rows.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import source_for
        >>> source = source_for(np.arange(8.0).reshape(4, 2))
        >>> source.rows(1, 3).X
        array([[2., 3.],
               [4., 5.]])
        >>> source.rows(0, 4) is source, source.rows(1, 3) is source.rows(1, 3)
        (True, True)
        """
        if lo == 0 and hi == self.X.shape[0]:
            return self
        key = (lo, hi)
        if key not in self._row_sources:
            w = self.sample_weight
            self._row_sources[key] = self._of_rows(
                self.X[lo:hi], None if w is None else w[lo:hi]
            )
        return self._row_sources[key]

    def _of_rows(self, X, sample_weight):
        return ArraySource(X, sample_weight)

    @property
    def init_X(self):
        """The data the initialization and the priors' moments see.

        X itself; with missing values (:class:`PatternSource`), X with NaN
        filled in with the columns' (weighted) means.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import source_for
        >>> X = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, 6.0]])
        >>> source_for(X[[0, 2]]).init_X
        array([[1., 2.],
               [3., 6.]])
        >>> source_for(X, marginalize=True).init_X
        array([[1., 2.],
               [2., 4.],
               [3., 6.]])
        """
        return self.X

    @cached_property
    def init_rows(self) -> MemoryRows:
        """The rows the initialization passes over.

        The in-memory passes of k-means and of the other starts over
        :attr:`init_X` and the sample weights.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import source_for
        >>> rows = source_for(np.arange(8.0).reshape(4, 2)).init_rows
        >>> rows.n_samples, rows.n_features
        (4, 2)
        """
        return MemoryRows(self.init_X, self.sample_weight)

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def total_weight(self) -> float:
        """The sum of the sample weights.

        Returns
        -------
        total_weight : float
            The sum of the weights, or the number of rows (an int) without
            weights.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import source_for
        >>> X = np.zeros((3, 2))
        >>> source_for(X).total_weight()
        3
        >>> float(source_for(X, [1.0, 2.0, 0.5]).total_weight())
        3.5
        """
        w = self.sample_weight
        return self.X.shape[0] if w is None else w.sum()

    def e_step(self, components: Components, want_entropy=False) -> GaussianStats:
        """The fused E-step pass: log-likelihood and sufficient statistics.

        One parallel pass over the rows computes each row's responsibilities
        and adds them up; they are never stored.

        Parameters
        ----------
        components : Components
            The model's components.
        want_entropy : bool, default=False
            Also sum the entropy of the responsibilities.

        Returns
        -------
        stats : GaussianStats
            The sums, centred on the components' means.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> stats = source_for(X).e_step(model.components(params))
        >>> stats.nk.round(3), stats.sx.round(3)
        (array([1.999, 2.001]), array([[0.201],
               [0.396]]))
        """
        args = components.pass_args()
        ll, ent, nk, sx, sxx = fused_pass(
            self.X, args, self.sample_weight, want_entropy
        )
        return GaussianStats(
            ll, ent, self.total_weight(), nk, sx, sxx, components.means, args[-1]
        )

    def scores(self, components: Components, what: str):
        """Per-row results of the components: log-densities, labels or
        responsibilities.

        Parameters
        ----------
        components : Components
            The model's components.
        what : {'log_prob', 'labels', 'proba'}
            What to compute: log p(x) of each row, the most likely
            component, or the responsibilities.

        Returns
        -------
        scores : ndarray
            'log_prob': float64 of shape (n_samples,); 'labels': int64 of
            shape (n_samples,); 'proba': shape (n_samples, n_components), in
            X's dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> source = source_for(X)
        >>> source.scores(model.components(params), "labels")
        array([0, 0, 1, 1])
        >>> source.scores(model.components(params), "log_prob").round(3)
        array([-1.612, -1.631, -1.612, -1.692])
        """
        return score_rows(self.X, components, what)

    def log_densities(self, components: Components, out=None):
        """The log-density of every row under every component, plus its
        log offset.

        Not normalised over the components: a model with its own
        posteriors, such as a hidden Markov model, takes these with a zero
        ``log_offset``.

        Parameters
        ----------
        components : Components
            The components.
        out : ndarray of shape (n_samples, n_components), optional
            C-contiguous float64 array to write the result into.

        Returns
        -------
        log_densities : ndarray of shape (n_samples, n_components)
            log_offset[k] + log N(x_i | component k), float64 (``out`` when
            given).

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components, source_for
        >>> X = np.array([[0.0], [1.0], [4.0]])
        >>> components = Components(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                         np.ones((2, 1)), np.ones((2, 1)), np.zeros(2),
        ...                         "diag")
        >>> source_for(X).log_densities(components).round(3)
        array([[-0.919, -8.919],
               [-1.419, -5.419],
               [-8.919, -0.919]])
        """
        means, prec_tri, prec_diag, log_norm = components.kernel_args()
        if out is None:
            out = np.empty((self.X.shape[0], components.n_components))
        _kernels.log_densities(self.X, means, prec_tri, prec_diag, log_norm, out)
        return out

    def stats_from_resp(
        self, resp, components: Components, per_component=False
    ) -> GaussianStats:
        """The sufficient statistics of given responsibilities.

        Weighted by the sample weights and centred on the components' means
        (and, for 'tied', on their :meth:`Components.tied_center`, or per
        component with ``per_component``); the log-likelihood and entropy
        are left 0.

        Parameters
        ----------
        resp : array-like of shape (n_samples, n_components)
            The responsibilities.
        components : Components
            The components whose means (and covariance type) centre the
            statistics.
        per_component : bool, default=False
            For 'tied': second moments per component, as with missing
            values (ignored for the other covariance types).

        Returns
        -------
        stats : GaussianStats
            The statistics.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> components = Components(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                         np.ones((2, 1)), np.ones((2, 1)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> resp = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
        >>> stats = source_for(X).stats_from_resp(resp, components)
        >>> stats.nk, stats.sx
        (array([2., 2.]), array([[0.2],
               [0.4]]))
        """
        means = np.ascontiguousarray(components.means, dtype=np.float64)
        center = components.tied_center()
        covariance_type = components.covariance_type
        per_component = per_component and covariance_type == "tied"
        nk, sx, sxx = _kernels.stats_from_resp(
            self.X,
            np.ascontiguousarray(resp, dtype=np.float64),
            means,
            _covariance.KERNEL_CODES["full" if per_component else covariance_type],
            center,
            _kernels.weights_arg(self.sample_weight),
        )
        return GaussianStats(
            0.0,
            0.0,
            self.total_weight(),
            nk,
            sx,
            sxx,
            means,
            None if per_component else center,
            per_component=per_component,
        )

    def mean_score(self, components: Components, sample_weight=None) -> float:
        """The (weighted) mean of log p(x) over the rows.

        Computed in chunks of rows, so that the per-row temporaries stay
        bounded (a memory-mapped X stays out of memory); data of one chunk
        give exactly the mean of ``score_samples``.

        Parameters
        ----------
        components : Components
            The model's components.
        sample_weight : ndarray of shape (n_samples,), optional
            Weights of the mean (not the source's own weights).

        Returns
        -------
        mean_score : float
            The mean log-density.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> round(source_for(X).mean_score(model.components(params)), 4)
        -1.6367
        """
        X = self.X
        n_samples = X.shape[0]
        total = 0.0
        for start in range(0, n_samples, _SCORE_CHUNK_ROWS):
            rows = slice(start, start + _SCORE_CHUNK_ROWS)
            log_prob = self._chunk(X[rows]).scores(components, "log_prob")
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

    def _chunk(self, rows):
        return type(self)(rows)

    def impute(self, components: Components):
        """X with each missing value replaced by its conditional expectation.

        The expectation given the row's observed values under the mixture
        of ``components`` (missing at random); a row with nothing observed
        gets the mixture's mean.

        Parameters
        ----------
        components : Components
            The model's components.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            A copy of X, in its dtype, without NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components, source_for
        >>> X = np.array([[0.0, 0.0], [np.nan, 4.0], [4.0, 4.0]])
        >>> components = Components(np.array([0.5, 0.5]),
        ...                         np.array([[0.0, 0.0], [4.0, 4.0]]),
        ...                         np.ones((2, 2)), np.ones((2, 2)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> source_for(X, marginalize=True).impute(components).round(2)
        array([[0., 0.],
               [4., 4.],
               [4., 4.]])
        """
        return _missing.impute_missing(self.X, components)

    def moments(self):
        """The mean and covariance of the rows, for the priors.

        Weighted as frequency weights: integer weights give the moments of
        the repeated rows. Computed from :attr:`init_X`.

        Returns
        -------
        mean : ndarray of shape (n_features,)
            The (weighted) mean.
        covariance : ndarray of shape (n_features, n_features)
            The (weighted) covariance, with ddof=1.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import source_for
        >>> X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 2.0]])
        >>> mean, covariance = source_for(X).moments()
        >>> mean, covariance
        (array([2., 2.]), array([[4., 1.],
               [1., 1.]]))
        """
        return _weighted_moments(self.init_X, self.sample_weight)


class PatternSource(ArraySource):
    """An array with missing values (NaN), missing at random.

    The E-step works on the marginal densities of the observed values and
    completes the statistics with conditional expectations; rows are
    grouped by missingness pattern on first use. The initialization sees
    NaN replaced by the columns' (weighted) means.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data, validated as for :class:`ArraySource` but with NaN
        allowed.
    sample_weight : ndarray of shape (n_samples,), optional
        Non-negative float64 weight of each row.
    n_components : int, default=1
        Number of components of the model that will use the source (sizes
        the tasks of the missing-value pass).

    See Also
    --------
    source_for : Validate an array and give its source.
    ArraySource : An array without missing values.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import MixtureModel, Params, PatternSource
    >>> X = np.array([[0.0, 1.0], [np.nan, 1.2], [4.0, np.nan], [4.4, 5.0]])
    >>> X.flags.writeable = False
    >>> source = PatternSource(X, None, n_components=2)
    >>> source.layout.n_patterns
    3
    >>> model = MixtureModel(2, "full", 1e-6, "kmeans", X.dtype)
    >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0, 1.0], [4.0, 5.0]]),
    ...                 np.stack([np.eye(2)] * 2), np.stack([np.eye(2)] * 2))
    >>> stats = source.e_step(model.components(params))
    >>> float(stats.total_weight), stats.nk.round(2)
    (4.0, array([2., 2.]))
    """

    def __init__(self, X, sample_weight=None, n_components=1):
        super().__init__(X, sample_weight)
        self.n_components = n_components

    def _of_rows(self, X, sample_weight):
        return PatternSource(X, sample_weight, self.n_components)

    @cached_property
    def layout(self):
        """The rows grouped by missingness pattern, computed on first use.

        Rows with nothing observed are included (the mixtures' ``e_step``
        and ``scores`` raise on those); ``n_patterns`` and ``n_empty`` count
        the patterns and those rows.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import source_for
        >>> X = np.array([[0.0, 1.0], [np.nan, 1.2], [np.nan, 2.0],
        ...               [np.nan, np.nan]])
        >>> layout = source_for(X, marginalize=True).layout
        >>> layout.n_patterns, layout.n_empty
        (3, 1)
        """
        return _missing.pattern_layout(self.X, self.n_components, allow_empty=True)

    @cached_property
    def init_X(self):
        return _missing.fill_with_means(self.X, self.sample_weight)

    def e_step(self, components: Components, want_entropy=False) -> GaussianStats:
        """The E-step pass over the rows, pattern by pattern.

        Each row's responsibilities come from the marginal densities of its
        observed values; the sufficient statistics are completed with the
        missing values' conditional expectations and covariances (second
        moments per component, also for 'tied').

        Parameters
        ----------
        components : Components
            The model's components.
        want_entropy : bool, default=False
            Also sum the entropy of the responsibilities and of the missing
            values' conditional distributions.

        Returns
        -------
        stats : GaussianStats
            The sums, centred on the components' means.

        Raises
        ------
        ValueError
            When a row has every value missing.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components, source_for
        >>> X = np.array([[0.0, 0.0], [np.nan, 4.0], [4.0, 4.0]])
        >>> components = Components(np.array([0.5, 0.5]),
        ...                         np.array([[0.0, 0.0], [4.0, 4.0]]),
        ...                         np.ones((2, 2)), np.ones((2, 2)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> source = source_for(X, n_components=2, marginalize=True)
        >>> stats = source.e_step(components)
        >>> stats.nk.round(3), stats.per_component
        (array([1., 2.]), True)
        """
        _missing.require_observed(self.layout.n_empty)
        ll, ent, nk, sx, sxx = _missing.pattern_sums(
            self.layout, components, self.sample_weight, want_entropy
        )
        return GaussianStats(
            ll,
            ent,
            self.total_weight(),
            nk,
            sx,
            sxx,
            components.means,
            None,
            per_component=True,
        )

    def scores(self, components: Components, what: str):
        """Per-row results of the components, from each row's observed
        values.

        Parameters
        ----------
        components : Components
            The model's components.
        what : {'log_prob', 'labels', 'proba'}
            What to compute: the log-density of each row's observed values,
            the most likely component, or the responsibilities.

        Returns
        -------
        scores : ndarray
            'log_prob': float64 of shape (n_samples,); 'labels': int64 of
            shape (n_samples,); 'proba': shape (n_samples, n_components), in
            X's dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components, source_for
        >>> X = np.array([[0.0, 0.0], [np.nan, 4.0], [4.0, 4.0]])
        >>> components = Components(np.array([0.5, 0.5]),
        ...                         np.array([[0.0, 0.0], [4.0, 4.0]]),
        ...                         np.ones((2, 2)), np.ones((2, 2)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> source = source_for(X, n_components=2, marginalize=True)
        >>> source.scores(components, "labels")
        array([0, 1, 1])
        >>> source.scores(components, "log_prob").round(3)
        array([-2.531, -1.612, -2.531])
        """
        log_prob, labels, resp = _missing.score_missing(
            self.X, components, what == "proba"
        )
        return _pick(what, self.X.dtype, log_prob, labels, resp)

    def _chunk(self, rows):
        return source_for(rows, None, n_components=1, marginalize=True)

    def log_densities(self, components: Components, out=None):
        """The log-density of every row's observed values under every
        component, plus its log offset.

        Each row's observed coordinates x_o under the component's marginal
        Gaussian (missing at random), not normalised over the components; a
        row with nothing observed gets ``log_offset[k]`` (a step without an
        observation, for a hidden Markov model).

        Parameters
        ----------
        components : Components
            The components.
        out : ndarray of shape (n_samples, n_components), optional
            Array to copy the result into.

        Returns
        -------
        log_densities : ndarray of shape (n_samples, n_components)
            log_offset[k] + log N(x_o | component k), float64 (``out`` when
            given).

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components, source_for
        >>> X = np.array([[0.0, 0.0], [np.nan, 4.0], [np.nan, np.nan]])
        >>> components = Components(np.array([0.5, 0.5]),
        ...                         np.array([[0.0, 0.0], [4.0, 4.0]]),
        ...                         np.ones((2, 2)), np.ones((2, 2)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> source = source_for(X, n_components=2, marginalize=True)
        >>> source.log_densities(components).round(3)
        array([[ -2.531, -18.531],
               [ -9.612,  -1.612],
               [ -0.693,  -0.693]])
        """
        result = _missing.pattern_log_densities(self.layout, components)
        if out is None:
            return result
        out[...] = result
        return out

    def stats_from_resp(
        self, resp, components: Components, per_component=True
    ) -> GaussianStats:
        """The expected complete-data sufficient statistics of given
        responsibilities.

        Weighted by the sample weights: for each row and component, the
        missing coordinates are replaced by their conditional expectation
        given the observed ones, and the second moments completed with the
        conditional covariance (a row with nothing observed: the
        component's mean and covariance). Centred on the components' means;
        'tied' second moments are per component, as in ``e_step``. The
        log-likelihood and entropy are left 0.

        Parameters
        ----------
        resp : array-like of shape (n_samples, n_components)
            The responsibilities.
        components : Components
            The components (their conditional distributions complete the
            rows).
        per_component : bool, default=True
            Ignored: the second moments are always per component here.

        Returns
        -------
        stats : GaussianStats
            The statistics.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import Components, source_for
        >>> X = np.array([[0.0, 0.0], [np.nan, 4.0], [4.0, 4.0]])
        >>> components = Components(np.array([0.5, 0.5]),
        ...                         np.array([[0.0, 0.0], [4.0, 4.0]]),
        ...                         np.ones((2, 2)), np.ones((2, 2)),
        ...                         np.log([0.5, 0.5]), "diag")
        >>> resp = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
        >>> source = source_for(X, n_components=2, marginalize=True)
        >>> stats = source.stats_from_resp(resp, components)
        >>> stats.nk, stats.sx
        (array([1., 2.]), array([[0., 0.],
               [0., 0.]]))
        """
        _, _, nk, sx, sxx = _missing.pattern_sums(
            self.layout, components, self.sample_weight, False, resp
        )
        return GaussianStats(
            0.0,
            0.0,
            self.total_weight(),
            nk,
            sx,
            sxx,
            components.means,
            None,
            per_component=True,
        )


def source_for(X, sample_weight=None, n_components=1, marginalize=False):
    """The source of a validated X: a ``PatternSource`` when missing values
    are to be marginalized and X has NaN, else an ``ArraySource``."""
    if marginalize and np.isnan(X).any():
        return PatternSource(X, sample_weight, n_components)
    return ArraySource(X, sample_weight)


# Moments are summed over this many rows at a time: float64 copies of a
# chunk, not of X (a memory-mapped or float32 X stays as it is).
_MOMENT_CHUNK_ROWS = 1 << 16


def _weighted_moments(X, sample_weight):
    """(mean, covariance with ddof=1) of X's rows, weighted as frequency
    weights, in two passes over row chunks (sums in chunk order)."""
    n_samples, n_features = X.shape
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    total = float(n_samples) if w is None else float(w.sum())
    chunks = [
        slice(start, start + _MOMENT_CHUNK_ROWS)
        for start in range(0, n_samples, _MOMENT_CHUNK_ROWS)
    ]
    first = np.zeros(n_features)
    for rows in chunks:
        block = np.asarray(X[rows], dtype=np.float64)
        first += block.sum(axis=0) if w is None else w[rows] @ block
    mean = first / total
    scatter = np.zeros((n_features, n_features))
    for rows in chunks:
        centred = np.asarray(X[rows], dtype=np.float64) - mean
        weighted = centred if w is None else centred * w[rows, None]
        scatter += weighted.T @ centred
    return mean, np.atleast_2d(scatter / (total - 1.0))
