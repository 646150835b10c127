"""The EM driver: restarts, the loop, convergence, the best run, for any
model on any data source.

A *model* (an ``EMModel``: ``mixture.MixtureModel``,
``bayesian.VariationalModel``, ``hmm.HMMModel``) knows its parameters:
``initialize(source, random_state)`` gives a start, ``components(params)``
the Gaussian components the E-step needs, ``e_step(source, params)`` the
statistics of one E-step (by default the source's fused pass; a hidden
Markov model runs forward-backward over the source's per-component
log-densities and asks the source for the statistics of its posteriors),
``m_step(stats, params)`` new parameters from them and
``lower_bound(stats, params)`` the bound that EM watches (after the M-step,
as sklearn computes it); ``want_entropy`` says whether the bound needs the
entropy of the responsibilities. A *source* (``_sources``) runs the passes
over its data. ``fit_em`` never asks which model or source it has.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from time import time
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

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


class EMModel:
    """What every model gives the EM driver (see the module docstring);
    subclasses define ``initialize``, ``components``, ``m_step`` and
    ``lower_bound``. The default E-step is the source's fused pass over the
    components: posteriors from the per-component log-densities plus the
    components' log offsets, and their sufficient statistics.

    Examples
    --------
    The default E-step, and a model that changes one step of another:

    >>> import numpy as np
    >>> from emfast.engine import EMModel, MixtureModel, Params, em_step, source_for
    >>> X = np.array([[0.0], [0.2], [4.0], [4.4], [4.6]])
    >>> source = source_for(X)
    >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
    >>> isinstance(model, EMModel)
    True
    >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
    ...                 np.ones((2, 1)), np.ones((2, 1)))
    >>> model.e_step(source, params).nk.round(2)
    array([2., 3.])
    >>> class EqualWeights(MixtureModel):  # weights stay 1 / n_components
    ...     def m_step(self, stats, params):
    ...         new_params = super().m_step(stats, params)
    ...         new_params.weights[:] = 1.0 / self.n_components
    ...         return new_params
    >>> _, new_params = em_step(EqualWeights(2, "diag", 1e-6, "kmeans", X.dtype),
    ...                         source, params)
    >>> new_params.weights
    array([0.5, 0.5])
    """

    want_entropy = False

    def e_step(self, source, params):
        """The E-step statistics of ``params`` on ``source``.

        By default the source's fused pass over the model's
        ``components(params)``, with the entropy of the responsibilities
        when the model's ``want_entropy`` says so. A model with its own
        posteriors (a hidden Markov model) overrides it.

        Parameters
        ----------
        source : ArraySource, PatternSource or DaskSource
            The data.
        params : object
            The model's parameters (:class:`~emfast.engine.Params`,
            :class:`~emfast.engine.VariationalParams`).

        Returns
        -------
        stats : GaussianStats
            The log-likelihood, the entropy and the sufficient statistics.

        Examples
        --------
        >>> import numpy as np
        >>> from emfast.engine import MixtureModel, Params, source_for
        >>> X = np.array([[0.0], [0.2], [4.0], [4.4], [4.6]])
        >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
        >>> params = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
        ...                 np.ones((2, 1)), np.ones((2, 1)))
        >>> stats = model.e_step(source_for(X), params)
        >>> stats.nk.round(2), stats.entropy
        (array([2., 3.]), 0.0)
        """
        return source.e_step(self.components(params), self.want_entropy)


def current_observer() -> Callable[[int, int, float], None] | None:
    """The callback of the innermost :func:`observe_iterations`, or None (a
    model that observes its own iterations passes them on to it)."""
    return _OBSERVER.get()


@dataclass
class FitResult:
    """What :func:`~emfast.engine.fit_em` returns: the best run of a fit.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    params : object
        The model's parameters at the end of the best run (``Params``,
        ``VariationalParams``).
    converged : bool
        Whether that run reached ``tol`` within ``max_iter``.
    n_iter : int
        Its number of iterations.
    lower_bound : float
        Its last lower bound.
    lower_bounds : list of float, optional
        Its lower bound after each iteration (empty by default).

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import MixtureModel, fit_em, source_for
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> result = fit_em(MixtureModel(1, "full", 1e-6, "kmeans", X.dtype),
    ...                 source_for(X), tol=1e-3, max_iter=10, n_init=1,
    ...                 random_state=np.random.RandomState(0))
    >>> result.converged, result.n_iter, len(result.lower_bounds)
    (True, 2, 2)
    """

    params: Any
    converged: bool
    n_iter: int
    lower_bound: float
    lower_bounds: list = field(default_factory=list)


def em_step(model, source, params):
    """One EM iteration: the E-step pass over the source with the current
    parameters, then the M-step, then the lower bound.

    This is exactly one iteration of :func:`fit_em`'s loop (and of
    scikit-learn's: its ``_e_step``, ``_m_step`` and
    ``_compute_lower_bound``).

    Parameters
    ----------
    model : MixtureModel or VariationalModel
        The model.
    source : ArraySource, PatternSource or DaskSource
        The data.
    params : Params or VariationalParams
        The parameters entering the iteration.

    Returns
    -------
    lower_bound : float
        The model's lower bound from this E-step and the new parameters:
        for a Gaussian mixture the (weighted) mean log-likelihood of the data
        under ``params``, for a variational mixture the evidence lower bound
        up to a constant.
    new_params : Params or VariationalParams
        The parameters after the M-step.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import MixtureModel, Params, em_step, source_for
    >>> X = np.array([[0.0], [0.2], [4.0], [4.4]])
    >>> model = MixtureModel(2, "diag", 1e-6, "kmeans", X.dtype)
    >>> start = Params(np.array([0.5, 0.5]), np.array([[0.0], [4.0]]),
    ...                np.ones((2, 1)), np.ones((2, 1)))
    >>> lower_bound, params = em_step(model, source_for(X), start)
    >>> params.means.round(2)
    array([[0.1],
           [4.2]])
    """
    stats = model.e_step(source, params)
    new_params = model.m_step(stats, params)
    return model.lower_bound(stats, new_params), new_params


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
    model,
    source,
    *,
    tol: float,
    max_iter: int,
    n_init: int,
    random_state: np.random.RandomState,
    warm_params=None,
    warm_lower_bound: float = -np.inf,
    verbose: int = 0,
    verbose_interval: int = 10,
    convergence_warning: bool = True,
    stop_on_decrease: bool = False,
) -> FitResult:
    """Fit ``model`` to ``source`` by EM with ``n_init`` restarts; keep the
    best (largest final lower bound).

    With ``warm_params`` a single run starts from them (warm start).
    Follows sklearn's loop exactly: each iteration (:func:`em_step`) runs
    the E-step with the parameters entering it and the M-step, then computes
    its lower bound; a run stops when the bound changes by less than
    ``tol``. BLAS is limited to one thread meanwhile. Iterations are
    reported to the observer of ``observe_iterations``, if any.

    Parameters
    ----------
    model : MixtureModel or VariationalModel
        The model (its ``initialize`` gives each run's start).
    source : ArraySource, PatternSource or DaskSource
        The data.
    tol : float
        Convergence threshold on the change of the lower bound.
    max_iter : int
        Iterations per run at most; 0 keeps the last initialization.
    n_init : int
        Number of runs (ignored with ``warm_params``).
    random_state : numpy.random.RandomState
        Source of the initializations' randomness.
    warm_params : Params or VariationalParams, optional
        Start of a single run instead of ``model.initialize``.
    warm_lower_bound : float, default=-inf
        The lower bound of ``warm_params`` (for the first change).
    verbose : int, default=0
        scikit-learn's verbose messages: 1 for each initialization and
        iteration, 2 also with times and changes.
    verbose_interval : int, default=10
        Iterations between messages.
    convergence_warning : bool, default=True
        Warn (:class:`~sklearn.exceptions.ConvergenceWarning`, as sklearn)
        when the best run did not converge.
    stop_on_decrease : bool, default=False
        Stop when the bound changes by less than ``tol`` including any
        decrease (hmmlearn's rule), instead of when its absolute change is
        below ``tol`` (sklearn's).

    Returns
    -------
    result : FitResult
        The best run.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When the best run did not converge (and ``max_iter`` > 0).

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.engine import MixtureModel, fit_em, source_for
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(2, 1, (300, 1)), rng.normal(8, 1, (300, 1))])
    >>> result = fit_em(MixtureModel(2, "full", 1e-6, "kmeans", X.dtype),
    ...                 source_for(X), tol=1e-3, max_iter=100, n_init=2,
    ...                 random_state=np.random.RandomState(0))
    >>> np.sort(result.params.means.ravel()).round()
    array([2., 8.])
    """
    # The M-step's small LAPACK calls run between parallel kernel passes; a
    # multi-threaded BLAS would spin against the kernels' threads (measured:
    # 100x slower small fits), and one BLAS thread is plenty for K x D x D.
    with threadpool_limits(limits=1, user_api="blas"):
        printer = VerbosePrinter(verbose, verbose_interval)
        do_init = warm_params is None
        n_runs = n_init if do_init else 1
        best: FitResult | None = None
        max_lower_bound = -np.inf

        for init in range(n_runs):
            printer.init_begin(init)
            params = model.initialize(source, random_state) if do_init else warm_params
            lower_bound = -np.inf if do_init else warm_lower_bound
            lower_bounds: list[float] = []
            if max_iter == 0:
                # As sklearn: no iterations, the last initialization is kept.
                best = FitResult(params, False, 0, lower_bound, [])
                continue
            converged = False
            for n_iter in range(1, max_iter + 1):
                prev_lower_bound = lower_bound
                lower_bound, params = em_step(model, source, params)
                lower_bounds.append(lower_bound)
                change = lower_bound - prev_lower_bound
                printer.iter_end(n_iter, change)
                observer = _OBSERVER.get()
                if observer is not None:
                    observer(init, n_iter, lower_bound)
                if (change if stop_on_decrease else abs(change)) < tol:
                    converged = True
                    break
            printer.init_end(lower_bound, converged)
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best = FitResult(params, converged, n_iter, lower_bound, lower_bounds)

    if convergence_warning and not best.converged and max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. "
            "Try different init parameters, or increase max_iter, "
            "tol, or check for degenerate data.",
            ConvergenceWarning,
            stacklevel=5,  # the caller of fit (fit -> _fit -> _fit_unguarded)
        )
    return best
