"""The plain fitting function: initialization, the EM loop, restarts."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from time import time

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from . import _kernels
from ._kmeans import kmeans, kmeans_plusplus
from ._missing import e_step_stats_missing, m_step_missing
from ._params import (
    COV_CODES,
    Params,
    compute_precision_cholesky,
    covariances_from_cholesky,
    kernel_args,
    params_from_stats,
    precision_cholesky_from_precisions,
)

_OBSERVER: ContextVar[Callable[[int, int, float], None] | None] = ContextVar(
    "emfast_iteration_observer", default=None
)


@contextmanager
def observe_iterations(callback: Callable[[int, int, float], None]):
    """Within this context, every EM iteration of a fit in this thread (or
    task) calls ``callback(init, n_iter, lower_bound)``: the initialization
    index (from 0), the iteration (from 1) and its lower bound. For progress
    reports; the fit itself does not change."""
    token = _OBSERVER.set(callback)
    try:
        yield
    finally:
        _OBSERVER.reset(token)


@dataclass
class FitResult:
    params: Params
    converged: bool
    n_iter: int
    lower_bound: float
    lower_bounds: list = field(default_factory=list)


def _tied_center(means, weights):
    return np.ascontiguousarray(weights @ means / weights.sum())


def e_step_args(params: Params, covariance_type: str):
    """What one E-step pass needs from the parameters: (means, prec_tri,
    prec_diag, log_norm, cov_code, tied centre)."""
    means, prec_tri, prec_diag, log_norm = kernel_args(params, covariance_type)
    center = _tied_center(means, np.asarray(params.weights, dtype=np.float64))
    return means, prec_tri, prec_diag, log_norm, COV_CODES[covariance_type], center


def posterior_sums(X, args, sample_weight=None):
    """The fused E-step pass over X with ``e_step_args``'s ``args``: the raw
    sums (log-likelihood, nk, sx, sxx) of ``_kernels.sufficient_stats``."""
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
    )


def e_step_stats(X, params: Params, covariance_type: str, sample_weight=None):
    """One fused pass: (mean log-likelihood, statistics, tied centre); with
    ``sample_weight``, weighted sums and the weighted mean."""
    args = e_step_args(params, covariance_type)
    ll, nk, sx, sxx = posterior_sums(X, args, sample_weight)
    total = X.shape[0] if sample_weight is None else sample_weight.sum()
    return ll / total, (nk, sx, sxx), args[-1]


def m_step(stats, centers, covariance_type, reg_covar, dtype, tied_center) -> Params:
    weights, means, covariances = params_from_stats(
        stats, centers, covariance_type, reg_covar, dtype, tied_center
    )
    precisions_cholesky = compute_precision_cholesky(
        covariances, covariance_type, dtype
    )
    return Params(weights, means, covariances, precisions_cholesky)


def _params_from_resp(
    X,
    covariance_type,
    reg_covar,
    dtype,
    centers,
    mode,
    labels,
    seed,
    sample_weight=None,
):
    center = np.ascontiguousarray(centers.mean(axis=0))
    _, nk, sx, sxx = _kernels.sufficient_stats(
        X,
        centers,
        np.empty((0, X.shape[1], X.shape[1])),
        np.empty((0, X.shape[1])),
        np.zeros(centers.shape[0]),
        COV_CODES[covariance_type],
        center,
        mode,
        labels,
        seed,
        _kernels.weights_arg(sample_weight),
    )
    return m_step((nk, sx, sxx), centers, covariance_type, reg_covar, dtype, center)


def _params_at_points(points, n_features, covariance_type, reg_covar, dtype):
    """One data point per component, covariance reg_covar * I (sklearn's
    'random_from_data' and 'k-means++' starts)."""
    n_components = points.shape[0]
    weights = np.full(n_components, 1.0 / n_components)
    if covariance_type == "full":
        covariances = np.tile(np.eye(n_features) * reg_covar, (n_components, 1, 1))
    elif covariance_type == "tied":
        covariances = np.eye(n_features) * reg_covar
    elif covariance_type == "diag":
        covariances = np.full((n_components, n_features), float(reg_covar))
    else:
        covariances = np.full(n_components, float(reg_covar))
    return Params(
        weights,
        np.array(points, dtype=np.float64),
        covariances,
        compute_precision_cholesky(covariances, covariance_type, dtype),
    )


def initialize(
    X,
    *,
    n_components,
    covariance_type,
    reg_covar,
    init_params,
    weights_init,
    means_init,
    precisions_init,
    random_state,
    sample_weight=None,
) -> Params:
    """Initial parameters; user-supplied ones take precedence, as in sklearn.
    ``sample_weight`` weighs the points in every initialization method."""
    dtype = X.dtype
    n_features = X.shape[1]
    if weights_init is None or means_init is None or precisions_init is None:
        if init_params == "kmeans":
            centers = kmeans(X, n_components, random_state, sample_weight=sample_weight)
            params = _params_from_resp(
                X,
                covariance_type,
                reg_covar,
                dtype,
                centers,
                _kernels.RESP_NEAREST,
                _kernels.NO_LABELS,
                0,
                sample_weight,
            )
        elif init_params == "random":
            seed = int(random_state.randint(np.iinfo(np.int32).max))
            centers = np.tile(np.asarray(X[0], dtype=np.float64), (n_components, 1))
            params = _params_from_resp(
                X,
                covariance_type,
                reg_covar,
                dtype,
                centers,
                _kernels.RESP_RANDOM,
                _kernels.NO_LABELS,
                seed,
                sample_weight,
            )
        else:
            if init_params == "random_from_data":
                # sklearn's draws: the same random_state gives sklearn's start.
                p = (
                    None
                    if sample_weight is None
                    else sample_weight / sample_weight.sum()
                )
                indices = random_state.choice(
                    X.shape[0], size=n_components, replace=False, p=p
                )
            else:  # k-means++
                _, indices = kmeans_plusplus(
                    X, n_components, random_state, sample_weight
                )
            params = _params_at_points(
                np.asarray(X[indices]),
                n_features,
                covariance_type,
                reg_covar,
                dtype,
            )
    else:
        params = None

    weights = params.weights if weights_init is None else weights_init
    means = params.means if means_init is None else means_init
    if precisions_init is None:
        covariances = params.covariances
        precisions_cholesky = params.precisions_cholesky
    else:
        precisions_cholesky = precision_cholesky_from_precisions(
            precisions_init, covariance_type
        )
        covariances = covariances_from_cholesky(precisions_cholesky, covariance_type)
    return Params(
        np.asarray(weights, dtype=np.float64),
        np.asarray(means, dtype=np.float64),
        covariances,
        precisions_cholesky,
    )


class VerbosePrinter:
    """sklearn's verbose messages, word for word."""

    def __init__(self, verbose: int, verbose_interval: int):
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self._init_prev_time = self._iter_prev_time = time()

    def init_begin(self, n_init):
        if self.verbose >= 1:
            print(f"Initialization {n_init}")
        if self.verbose >= 2:
            self._init_prev_time = self._iter_prev_time = time()

    def iter_end(self, n_iter, diff_ll):
        if n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print(f"  Iteration {n_iter}")
            elif self.verbose >= 2:
                cur_time = time()
                lapse = cur_time - self._iter_prev_time
                print(
                    f"  Iteration {n_iter}\t time lapse {lapse:.5f}s\t"
                    f" ll change {diff_ll:.5f}"
                )
                self._iter_prev_time = cur_time

    def init_end(self, lb, converged):
        converged_msg = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {converged_msg}.")
        elif self.verbose >= 2:
            t = time() - self._init_prev_time
            print(
                f"Initialization {converged_msg}. time lapse {t:.5f}s\t lower bound"
                f" {lb:.5f}."
            )


def fit_em(
    X,
    *,
    n_components: int,
    covariance_type: str = "full",
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init_params: str = "kmeans",
    weights_init=None,
    means_init=None,
    precisions_init=None,
    random_state: np.random.RandomState,
    warm_params: Params | None = None,
    warm_lower_bound: float = -np.inf,
    verbose: int = 0,
    verbose_interval: int = 10,
    sample_weight: np.ndarray | None = None,
    patterns=None,
    e_step: Callable | None = None,
) -> FitResult:
    """Fit a Gaussian mixture by EM with ``n_init`` restarts; keep the best.

    ``X`` must already be validated: 2-D, C-contiguous, float32 or float64,
    finite. With ``warm_params`` a single run starts from them (warm start).
    Follows sklearn's loop exactly: each iteration's lower bound is the mean
    log-likelihood of the parameters entering that iteration's E-step, and a
    run stops when it changes by less than ``tol``. ``sample_weight``
    (validated: finite, non-negative, not all zero) weighs every point in the
    initialization and the iterations; the lower bound is then the weighted
    mean log-likelihood. With ``patterns`` (rows grouped by missingness,
    from ``_missing.pattern_layout``), the iterations are EM for values
    missing at random, and ``X`` (NaN filled in) serves the initialization
    only. With ``e_step`` (params -> (lower bound, statistics, tied centre),
    as ``e_step_stats``), the iterations take their statistics from it, and
    ``X`` (a sample of the data, for example) serves the initialization only.
    """
    # The M-step's small LAPACK calls run between parallel kernel passes; a
    # multi-threaded BLAS would spin against the kernels' threads (measured:
    # 100x slower small fits), and one BLAS thread is plenty for K x D x D.
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_em(
            X,
            n_components=n_components,
            covariance_type=covariance_type,
            tol=tol,
            reg_covar=reg_covar,
            max_iter=max_iter,
            n_init=n_init,
            init_params=init_params,
            weights_init=weights_init,
            means_init=means_init,
            precisions_init=precisions_init,
            random_state=random_state,
            warm_params=warm_params,
            warm_lower_bound=warm_lower_bound,
            verbose=verbose,
            verbose_interval=verbose_interval,
            sample_weight=sample_weight,
            patterns=patterns,
            e_step=e_step,
        )


def _fit_em(
    X,
    *,
    n_components,
    covariance_type,
    tol,
    reg_covar,
    max_iter,
    n_init,
    init_params,
    weights_init,
    means_init,
    precisions_init,
    random_state,
    warm_params,
    warm_lower_bound,
    verbose,
    verbose_interval,
    sample_weight,
    patterns,
    e_step,
):
    dtype = X.dtype
    if e_step is None and patterns is None:

        def e_step(params):
            return e_step_stats(X, params, covariance_type, sample_weight)

    printer = VerbosePrinter(verbose, verbose_interval)
    do_init = warm_params is None
    n_runs = n_init if do_init else 1
    best: FitResult | None = None
    max_lower_bound = -np.inf

    for init in range(n_runs):
        printer.init_begin(init)
        if do_init:
            params = initialize(
                X,
                n_components=n_components,
                covariance_type=covariance_type,
                reg_covar=reg_covar,
                init_params=init_params,
                weights_init=weights_init,
                means_init=means_init,
                precisions_init=precisions_init,
                random_state=random_state,
                sample_weight=sample_weight,
            )
        else:
            params = warm_params
        lower_bound = -np.inf if do_init else warm_lower_bound
        lower_bounds: list[float] = []
        if max_iter == 0:
            # As sklearn: no iterations, the last initialization is kept.
            best = FitResult(params, False, 0, lower_bound, [])
            continue
        converged = False
        for n_iter in range(1, max_iter + 1):
            prev_lower_bound = lower_bound
            if patterns is None:
                lower_bound, stats, tied_center = e_step(params)
                params = m_step(
                    stats, params.means, covariance_type, reg_covar, dtype, tied_center
                )
            else:
                lower_bound, stats = e_step_stats_missing(
                    patterns, params, covariance_type, sample_weight
                )
                params = m_step_missing(
                    stats, params.means, covariance_type, reg_covar, dtype
                )
            lower_bounds.append(lower_bound)
            change = lower_bound - prev_lower_bound
            printer.iter_end(n_iter, change)
            observer = _OBSERVER.get()
            if observer is not None:
                observer(init, n_iter, lower_bound)
            if abs(change) < tol:
                converged = True
                break
        printer.init_end(lower_bound, converged)
        if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
            max_lower_bound = lower_bound
            best = FitResult(params, converged, n_iter, lower_bound, lower_bounds)

    if not best.converged and max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. "
            "Try different init parameters, or increase max_iter, "
            "tol, or check for degenerate data.",
            ConvergenceWarning,
        )
    return best
