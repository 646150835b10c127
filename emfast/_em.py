"""The EM driver: restarts, the loop, convergence, the best run, for any
model on any data source.

A *model* (``mixture.MixtureModel``, ``bayesian.VariationalModel``) knows its
parameters: ``initialize(source, random_state)`` gives a start,
``components(params)`` the Gaussian components the E-step needs,
``m_step(stats, params)`` new parameters from the E-step's statistics and
``lower_bound(stats, params)`` the bound that EM watches (after the M-step,
as sklearn computes it); ``want_entropy`` says whether the bound needs the
entropy of the responsibilities. A *source* (``_sources``) runs the E-step
pass over its data. ``fit_em`` never asks which model or source it has.
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


@dataclass
class FitResult:
    params: Any
    converged: bool
    n_iter: int
    lower_bound: float
    lower_bounds: list = field(default_factory=list)


def em_step(model, source, params):
    """One EM iteration: the E-step pass over the source with the current
    parameters, then the M-step. Returns (lower bound, new parameters)."""
    stats = source.e_step(model.components(params), model.want_entropy)
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
) -> FitResult:
    """Fit ``model`` to ``source`` by EM with ``n_init`` restarts; keep the
    best (largest final lower bound).

    With ``warm_params`` a single run starts from them (warm start).
    Follows sklearn's loop exactly: each iteration runs the E-step with the
    parameters entering it and the M-step, then computes its lower bound;
    a run stops when the bound changes by less than ``tol``.
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
