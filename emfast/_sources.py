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
    row with nothing observed. All arrays are float64.

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
        """(means, prec_tri, prec_diag, log_norm) as the kernels take them."""
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
        """The centre of the 'tied' second moments: the weighted mean of the
        means (any point is exact; a central one keeps the sums small)."""
        weights = np.asarray(self.weights, dtype=np.float64)
        return np.ascontiguousarray(weights @ self.means / weights.sum())

    def pass_args(self):
        """The E-step pass's parameters: ``kernel_args`` plus the kernels'
        covariance code and the tied centre (a plain tuple, to ship to Dask
        workers)."""
        return (
            *self.kernel_args(),
            _covariance.KERNEL_CODES[self.covariance_type],
            self.tied_center(),
        )


@dataclass
class GaussianStats:
    """What one E-step pass returns (sums over the rows, weighted by the
    sample weights).

    log_likelihood: sum_i w_i log p(x_i) (for a variational model, log of the
    sum of the unnormalised responsibilities); entropy: sum_i w_i H(r_i) when
    asked for (plus, with missing values, the entropy of the missing values'
    conditional distributions), else 0; total_weight: sum_i w_i; nk, sx, sxx
    as ``_kernels.sufficient_stats`` returns them, centred on ``centers``
    (K, D) and, for 'tied', ``tied_center``. ``per_component``: sxx holds per
    component second moments even for 'tied' (missing values).

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
        """The statistics of both passes' rows together (passes centred on
        the same means, over different rows)."""
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
    """A NumPy array (in memory or memory-mapped), validated: 2-D,
    C-contiguous, read-only, float32 or float64, finite; optional validated
    sample weights.

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
        """The source of rows lo:hi (views of X and the weights; kept, so
        that a source with missing values groups its rows once), or this
        source for all its rows."""
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
        """The data the initialization and the priors' moments see."""
        return self.X

    @cached_property
    def init_rows(self) -> MemoryRows:
        """The rows the initialization passes over."""
        return MemoryRows(self.init_X, self.sample_weight)

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def total_weight(self) -> float:
        w = self.sample_weight
        return self.X.shape[0] if w is None else w.sum()

    def e_step(self, components: Components, want_entropy=False) -> GaussianStats:
        args = components.pass_args()
        ll, ent, nk, sx, sxx = fused_pass(
            self.X, args, self.sample_weight, want_entropy
        )
        return GaussianStats(
            ll, ent, self.total_weight(), nk, sx, sxx, components.means, args[-1]
        )

    def scores(self, components: Components, what: str):
        return score_rows(self.X, components, what)

    def log_densities(self, components: Components, out=None):
        """(n_samples, K) float64: log_offset[k] + log N(x_i | component k)
        for every row and component, not normalised over the components (a
        model with its own posteriors, such as a hidden Markov model, takes
        these with a zero log_offset); written into ``out`` (C-contiguous
        (n_samples, K) float64) when given."""
        means, prec_tri, prec_diag, log_norm = components.kernel_args()
        if out is None:
            out = np.empty((self.X.shape[0], components.n_components))
        _kernels.log_densities(self.X, means, prec_tri, prec_diag, log_norm, out)
        return out

    def stats_from_resp(
        self, resp, components: Components, per_component=False
    ) -> GaussianStats:
        """The sufficient statistics of given responsibilities resp
        (n_samples, K) (weighted by the sample weights), centred on the
        components' means (and, for 'tied', their ``tied_center``, or per
        component with ``per_component``); the log-likelihood and entropy
        are left 0."""
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
        """The (weighted) mean of log p(x), in row chunks: the per-row
        temporaries stay bounded (a memory-mapped X stays out of memory);
        one chunk gives exactly mean(score_samples(X))."""
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
        return _missing.impute_missing(self.X, components)

    def moments(self):
        """(mean, covariance with ddof=1): weighted as frequency weights, so
        integer weights give the moments of the repeated rows."""
        return _weighted_moments(self.init_X, self.sample_weight)


class PatternSource(ArraySource):
    """An array with NaN (missing at random): the E-step on the marginal
    densities of the observed values, completed with conditional
    expectations (``_missing``). The initialization sees NaN replaced by
    the columns' (weighted) means.

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
        """Rows grouped by pattern, rows with nothing observed included (the
        mixtures' ``e_step`` and ``scores`` raise on those)."""
        return _missing.pattern_layout(self.X, self.n_components, allow_empty=True)

    @cached_property
    def init_X(self):
        return _missing.fill_with_means(self.X, self.sample_weight)

    def e_step(self, components: Components, want_entropy=False) -> GaussianStats:
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
        log_prob, labels, resp = _missing.score_missing(
            self.X, components, what == "proba"
        )
        return _pick(what, self.X.dtype, log_prob, labels, resp)

    def _chunk(self, rows):
        return source_for(rows, None, n_components=1, marginalize=True)

    def log_densities(self, components: Components, out=None):
        """(n_samples, K) float64: log_offset[k] + log N(x_o | component k)
        of each row's observed coordinates x_o under the component's marginal
        Gaussian (missing at random), not normalised over the components; a
        row with nothing observed gets log_offset[k] (a step without an
        observation, for a hidden Markov model). Copied into ``out`` when
        given."""
        result = _missing.pattern_log_densities(self.layout, components)
        if out is None:
            return result
        out[...] = result
        return out

    def stats_from_resp(
        self, resp, components: Components, per_component=True
    ) -> GaussianStats:
        """The expected complete-data sufficient statistics of given
        responsibilities resp (n_samples, K) (weighted by the sample
        weights): for each row and component, the missing coordinates
        replaced by their conditional expectation given the observed ones
        and the second moments completed with the conditional covariance (a
        row with nothing observed: the component's mean and covariance).
        Centred on the components' means; 'tied' second moments per
        component (``per_component`` is always so here), as in ``e_step``.
        The log-likelihood and entropy are left 0."""
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
