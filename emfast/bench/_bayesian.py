"""BayesianGaussianMixture: one variational EM iteration of emfast and of
scikit-learn side by side from identical parameters, and the peak memory of
a fit in a fresh process (``emfast bench --bayesian``)."""

from __future__ import annotations

from statistics import median
from time import perf_counter

import numpy as np

from ..engine import ArraySource, model_for
from ._common import (
    REG_COVAR,
    initial_parameters,
    machine_info,
    means_rel_diff,
    mixture_model,
    one_blas_thread,
    reporter,
    run_record,
    time_em_step,
    time_sklearn_step,
    workload_case,
    workload_sizes,
)
from ._format import (
    WORKLOAD_ALIGN,
    WORKLOAD_COLUMNS,
    fmt,
    machine_line,
    paragraphs,
    quick_note,
    table,
    wall_time,
    workload_cells,
)
from ._iteration import (
    BOUND_COLUMNS,
    bound_cells,
    bound_fractions,
    fit_peak_rss,
    iteration_flops,
    machine_rates,
    memory_table,
    rates_note,
)

# The goal for one variational iteration: sklearn's seconds over emfast's.
BAYESIAN_SPEEDUP_GOAL = 20.0
BAYESIAN_WORKLOAD = "W2"


def bayesian_start(X, n_components: int, covariance_type: str, seed: int = 0):
    """The model and the identical starting parameters of a variational
    iteration, for both libraries.

    The model is what ``emfast.BayesianGaussianMixture(n_components,
    covariance_type=..., reg_covar=REG_COVAR)`` fits on X (default priors:
    a Dirichlet process on the weights, the data's mean and covariance as
    ``mean_prior`` and ``covariance_prior``). The parameters are its
    M-step from the responsibilities of :func:`initial_parameters`' mixture
    (one ``GaussianMixture`` E-step), as scikit-learn's ``_initialize``
    starts from responsibilities.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data as :func:`benchmark_data` returns it (read-only, C-contiguous).
    n_components : int
        Number of components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.
    seed : int, default=0
        Seed of :func:`initial_parameters`.

    Returns
    -------
    model : emfast.engine.VariationalModel
        The model, its priors resolved against X.
    params : emfast.engine.VariationalParams
        The starting parameters.

    Examples
    --------
    >>> from emfast.bench import bayesian_start, benchmark_data
    >>> X, _ = benchmark_data("W2", n_samples=2000)
    >>> model, params = bayesian_start(X, 16, "full")
    >>> model.prior_type, params.means.shape, params.covariances.shape
    ('dirichlet_process', (16, 8), (16, 8, 8))
    """
    from .. import BayesianGaussianMixture

    source = ArraySource(X)
    estimator = BayesianGaussianMixture(
        n_components=n_components, covariance_type=covariance_type, reg_covar=REG_COVAR
    )
    model = model_for(estimator, source)
    mixture, start = mixture_model(
        initial_parameters(X, n_components, covariance_type, seed),
        covariance_type,
        X.dtype,
    )
    with one_blas_thread():
        stats = source.e_step(mixture.components(start))
        return model, model.m_step(stats, None)


def sklearn_bayesian_estimator(model, params):
    """A ``sklearn.mixture.BayesianGaussianMixture`` with ``model``'s
    settings and priors, holding ``params`` (copies), ready for
    :func:`sklearn_iteration`.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.bench import bayesian_start, benchmark_data
    >>> from emfast.bench import sklearn_bayesian_estimator, sklearn_iteration
    >>> from emfast.engine import ArraySource, em_step
    >>> X, _ = benchmark_data("W1", n_samples=1000)
    >>> model, params = bayesian_start(X, 4, "full")
    >>> sk = sklearn_bayesian_estimator(model, params)
    >>> theirs = sklearn_iteration(sk, X)
    >>> ours, new_params = em_step(model, ArraySource(X), params)
    >>> bool(np.allclose(new_params.means, sk.means_, rtol=1e-10))
    True
    >>> bool(np.isclose(ours, theirs, rtol=1e-10))
    True
    """
    from sklearn.mixture import BayesianGaussianMixture

    sk = BayesianGaussianMixture(
        n_components=model.n_components,
        covariance_type=model.covariance_type,
        reg_covar=model.reg_covar,
        weight_concentration_prior_type=model.prior_type,
    )
    priors = model.priors
    sk.weight_concentration_prior_ = priors.weight_concentration_prior
    sk.mean_precision_prior_ = priors.mean_precision_prior
    sk.mean_prior_ = np.array(priors.mean_prior, copy=True)
    sk.degrees_of_freedom_prior_ = priors.degrees_of_freedom_prior
    sk.covariance_prior_ = np.array(priors.covariance_prior, copy=True)
    weight_concentration = params.weight_concentration
    if isinstance(weight_concentration, tuple):
        weight_concentration = tuple(
            np.array(a, copy=True) for a in weight_concentration
        )
    else:
        weight_concentration = np.array(weight_concentration, copy=True)
    sk._set_parameters(
        (
            weight_concentration,
            *(
                np.array(a, copy=True)
                for a in (
                    params.mean_precision,
                    params.means,
                    params.degrees_of_freedom,
                    params.covariances,
                    params.precisions_cholesky,
                )
            ),
        )
    )
    return sk


def bayesian_workload(
    name: str = BAYESIAN_WORKLOAD,
    *,
    n_samples: int | None = None,
    repeat: int = 3,
    sklearn: bool = True,
    memory: bool = True,
    rates: dict | None = None,
    seed: int = 0,
    progress=None,
) -> dict:
    """Benchmark ``BayesianGaussianMixture`` on one workload, emfast and
    sklearn side by side.

    One variational EM iteration (E-step, M-step and lower bound, as each
    library's ``fit`` runs it) from identical parameters
    (:func:`bayesian_start`): emfast's :func:`emfast.engine.em_step` of the
    model under one BLAS thread (:func:`time_em_step`, after an untimed
    warm-up), sklearn's ``_e_step``, ``_m_step`` and ``_compute_lower_bound``
    (:func:`time_sklearn_step`); the median of each over ``repeat``. Then the
    peak memory of fits in fresh processes (:func:`fit_peak_rss`).

    Parameters
    ----------
    name : {'W1', 'W2', 'W3', 'W4', 'W5', 'W6'}, default='W2'
        The workload.
    n_samples : int, optional
        Override the workload's number of samples.
    repeat : int, default=3
        Timed iterations per library; the median is reported.
    sklearn : bool, default=True
        Also time (and, with ``memory``, measure) scikit-learn.
    memory : bool, default=True
        Measure the peak RSS of fits in fresh processes: emfast's default
        ``BayesianGaussianMixture`` fit (k-means initialization, up to 100
        iterations), and sklearn's with ``max_iter=1`` (its k-means and one
        iteration reach its peak, which every further iteration repeats).
    rates : dict, optional
        The machine's rates (:func:`machine_rates`), to report emfast's time
        against the matrix-multiply rate and the memory floor
        (:func:`bound_fractions`; the flops of :func:`iteration_flops`: the
        variational E-step does the same work per point as EM's).
    seed : int, default=0
        Seed of the data and of the starting parameters.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        Sizes, ``data_bytes``, ``repeat``; ``emfast_seconds`` and
        ``sklearn_seconds`` per iteration (medians), ``speedup`` and ``goal``
        (:data:`BAYESIAN_SPEEDUP_GOAL`); ``flops``, ``emfast_gflops``,
        ``matmul_fraction``, ``memory_floor_seconds`` and
        ``memory_fraction`` (:func:`bound_fractions`); ``emfast_lower_bound`` and
        ``sklearn_lower_bound`` after the iteration, ``lower_bound_rel_diff``
        and ``means_rel_diff`` (the two libraries after the same iteration);
        ``emfast_memory`` and ``sklearn_memory`` (:func:`fit_peak_rss`
        results) when measured.

    Examples
    --------
    >>> from emfast.bench import bayesian_workload
    >>> r = bayesian_workload("W2", n_samples=2000, repeat=1, memory=False)
    >>> r["n_components"], r["means_rel_diff"] < 1e-10
    (16, True)
    """
    say = reporter(progress, f"{name} BayesianGaussianMixture")
    X, w, result = workload_case(name, n_samples, seed)
    k, cov = w.n_components, w.covariance_type
    model, params = bayesian_start(X, k, cov, seed)
    result.update(data_bytes=X.nbytes, repeat=repeat)

    say("emfast iteration")
    ours = time_em_step(model, ArraySource(X), params, repeat)
    lb_emfast, params_emfast = ours.last
    t_emfast = result["emfast_seconds"] = median(ours.seconds)
    result["emfast_lower_bound"] = float(lb_emfast)
    result["goal"] = BAYESIAN_SPEEDUP_GOAL
    result["flops"] = iteration_flops(*X.shape, k, cov)
    result.update(bound_fractions(result["flops"], X.nbytes, t_emfast, rates))

    result["sklearn_seconds"] = result["speedup"] = None
    result["sklearn_lower_bound"] = result["lower_bound_rel_diff"] = None
    result["means_rel_diff"] = None
    if sklearn:
        say("sklearn iteration")
        theirs = time_sklearn_step(
            lambda: sklearn_bayesian_estimator(model, params), X, repeat
        )
        lb_sklearn, sk = theirs.last
        t_sklearn = result["sklearn_seconds"] = median(theirs.seconds)
        result["speedup"] = t_sklearn / t_emfast
        result["sklearn_lower_bound"] = float(lb_sklearn)
        result["lower_bound_rel_diff"] = float(
            abs(lb_emfast - lb_sklearn) / abs(lb_sklearn)
        )
        result["means_rel_diff"] = means_rel_diff(params_emfast.means, sk.means_)

    result["emfast_memory"] = result["sklearn_memory"] = None
    if memory:
        bgm = "BayesianGaussianMixture"
        say("emfast fit peak memory (fresh process)")
        result["emfast_memory"] = fit_peak_rss(X, k, cov, "emfast", estimator=bgm)
        if sklearn:
            say("sklearn fit peak memory (fresh process, max_iter=1)")
            result["sklearn_memory"] = fit_peak_rss(
                X, k, cov, "sklearn", max_iter=1, estimator=bgm
            )
    return result


def run_bayesian(
    workloads=None,
    *,
    quick: bool = False,
    n_samples: int | None = None,
    repeat: int = 3,
    sklearn: bool = True,
    memory: bool = True,
    seed: int = 0,
    matmul_size: int = 2000,
    progress=None,
) -> dict:
    """:func:`bayesian_workload` on several workloads (``emfast bench
    --bayesian``).

    Parameters
    ----------
    workloads : list of str, optional
        Workload names; ``['W2']`` when None.
    quick : bool, default=False
        Reduced sizes (:func:`quick_n_samples`), unless ``n_samples`` is given.
    n_samples : int, optional
        Number of samples for every workload.
    repeat, sklearn, memory, seed, progress
        As in :func:`bayesian_workload`.
    matmul_size : int, default=2000
        Size of the matrices of :func:`matmul_gflops`.

    Returns
    -------
    results : dict
        ``machine`` (:func:`machine_info` plus :func:`machine_rates`),
        ``settings``, ``bayesian`` (a
        list of :func:`bayesian_workload` results) and ``seconds``.

    Examples
    --------
    >>> from emfast.bench import run_bayesian, format_bayesian
    >>> results = run_bayesian(n_samples=2000, repeat=1, memory=False,
    ...                        matmul_size=300)
    >>> print(format_bayesian(results))  # doctest: +ELLIPSIS
    Machine: ...
    | workload | N | D | K | covariance | emfast s/iter | sklearn s/iter | ...
    |---|--:|--:|--:|---|--:|--:|--:|---|--:|--:|--:|--:|--:|
    | W2 | 2,000 | 8 | 16 | full | ...
    ...
    """
    start = perf_counter()
    sizes = workload_sizes(workloads, n_samples, quick, default=[BAYESIAN_WORKLOAD])
    machine = machine_info()
    machine.update(machine_rates(matmul_size))
    results = [
        bayesian_workload(
            name,
            n_samples=n,
            repeat=repeat,
            sklearn=sklearn,
            memory=memory,
            rates=machine,
            seed=seed,
            progress=progress,
        )
        for name, n in sizes
    ]
    return run_record(
        start,
        "bayesian",
        results,
        machine=machine,
        quick=quick,
        n_samples=n_samples,
        repeat=repeat,
        seed=seed,
        reg_covar=REG_COVAR,
        matmul_size=matmul_size,
    )


def format_bayesian(results: dict) -> str:
    """Markdown tables of :func:`run_bayesian`'s results: speed, then memory.

    See :func:`run_bayesian` for an example.
    """
    s = results["settings"]
    header = [
        machine_line(results["machine"], ("python", "numpy", "numba", "scikit-learn"))
        + rates_note(results["machine"]),
        "BayesianGaussianMixture (Dirichlet process prior, default priors): one "
        "variational EM iteration (E-step, M-step, lower bound) from identical "
        f"parameters, median of {s['repeat']}; emfast under one BLAS thread"
        + quick_note(s),
    ]
    columns = [*WORKLOAD_COLUMNS, "emfast s/iter", "sklearn s/iter", "speed-up"]
    columns += ["goal", *BOUND_COLUMNS, "means rel. diff", "lower bound rel. diff"]
    rows = [
        [
            *workload_cells(r),
            f"{r['emfast_seconds']:.4f}",
            fmt(r["sklearn_seconds"], ".4f"),
            fmt(r["speedup"], ".1f", "×"),
            _goal_cell(r),
            *bound_cells(r),
            fmt(r["means_rel_diff"], ".0e"),
            fmt(r["lower_bound_rel_diff"], ".0e"),
        ]
        for r in results["bayesian"]
    ]
    blocks = [header, table(columns, WORKLOAD_ALIGN + "rrrlrrrrr", rows)]
    measured = [r for r in results["bayesian"] if r["emfast_memory"]]
    if measured:
        caption = (
            "Peak RSS of a BayesianGaussianMixture fit in a fresh process, over "
            "the process before loading the data (data included); emfast: "
            "default fit; sklearn: max_iter=1 (k-means + one iteration)"
        )
        blocks += [[caption], memory_table(measured)]
    return paragraphs(*blocks, [wall_time(results["seconds"])])


def _goal_cell(r: dict) -> str:
    goal = f"≥ {r['goal']:g}×"
    if r["speedup"] is None:
        return goal
    return f"{'met' if r['speedup'] >= r['goal'] else 'MISSED'} {goal}"
