"""GaussianHMM: one Baum–Welch iteration of emfast and of hmmlearn side by
side from identical parameters, Viterbi decoding, sampling, and the peak
memory of a fit in a fresh process (``emfast bench --hmm``), on the HMM
workloads H1-H3 of :mod:`emfast.workloads`."""

from __future__ import annotations

from functools import partial
from statistics import median
from time import perf_counter

import numpy as np

from .. import GaussianHMM
from ..engine import fitted_params, model_for, source_for
from ..workloads import (
    HMM_WORKLOADS,
    HMMParameters,
    hmm_sizes,
    make_hmm_workload,
    random_hmm,
)
from ._common import (
    Timed,
    machine_info,
    reporter,
    run_record,
    time_em_step,
)
from ._format import fmt, machine_line, paragraphs, quick_note, table, wall_time
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

# Goals, hmmlearn's seconds over emfast's: one iteration (against hmmlearn's
# faster implementation, 'scaling'), Viterbi decoding, sampling.
HMM_SPEEDUP_GOALS = {"H1": 30.0, "H2": 10.0, "H3": 30.0}
HMM_VITERBI_GOAL = 10.0
HMM_SAMPLE_GOAL = 100.0
# Both libraries' forward-backward implementations, each timed against the
# other library's same one; 'scaling' is hmmlearn's faster.
HMM_IMPLEMENTATIONS = ("scaling", "log")
# ``--quick`` divides every HMM workload's steps by this (:func:`hmm_sizes`
# cuts them: fewer sequences for H1 and H3, a shorter one for H2).
HMM_QUICK_DIVISOR = 10
# ``sample(n)`` of both libraries from the model of these workloads;
# hmmlearn's draws step by step in Python (about 80 s for 1,000,000).
HMM_SAMPLE_WORKLOADS = ("H2",)
HMM_SAMPLE_N = 1_000_000
HMM_QUICK_SAMPLE_N = 10_000
# Steps of :func:`time_hmmlearn_step`'s untimed warm-up fit.
HMM_WARM_UP_STEPS = 100
# The fit of the peak-memory measurement (hmmlearn's: one iteration, whose
# peak every further one repeats).
HMM_FIT_N_ITER = 10


def _hmmlearn_hmm_module():
    try:
        from hmmlearn import hmm
    except ImportError as exc:  # pragma: no cover - hmmlearn is a test dependency
        raise ImportError(
            "the HMM benchmarks compare with hmmlearn: pip install 'hmmlearn>=0.3.3' "
            "(or run emfast only: hmmlearn=False, --no-sklearn)"
        ) from exc
    return hmm


def hmm_benchmark_data(name: str, n_samples: int | None = None, seed: int = 0):
    """An HMM workload's data in the form emfast's kernels take.

    Parameters
    ----------
    name : {'H1', 'H2', 'H3'}
        The workload.
    n_samples : int, optional
        About this many steps in all (:func:`emfast.workloads.hmm_sizes`):
        whole sequences of the workload's length, or one shorter sequence.
    seed : int, default=0
        Seed of the model and of the data.

    Returns
    -------
    X : ndarray of shape (n_steps, n_features)
        float64, C-contiguous and read-only, the sequences one after another.
    lengths : ndarray of shape (n_sequences,)
        The length of each sequence.
    workload : emfast.workloads.HMMWorkload
        The workload's (full) sizes and covariance type.

    Examples
    --------
    >>> from emfast.bench import hmm_benchmark_data
    >>> X, lengths, w = hmm_benchmark_data("H3", n_samples=500)
    >>> X.shape, lengths.tolist(), X.flags.writeable, w.n_components
    ((500, 4), [100, 100, 100, 100, 100], False, 8)
    """
    X, lengths, workload = make_hmm_workload(name, n_samples=n_samples, seed=seed)
    X = np.ascontiguousarray(X)
    X.flags.writeable = False
    return X, lengths, workload


def hmm_start(name: str, seed: int = 0) -> HMMParameters:
    """Identical starting parameters of an HMM workload, for both libraries:
    a fixed perturbation of the model its data are drawn from.

    From :func:`emfast.workloads.random_hmm` of the workload's shape and
    ``seed``: ``startprob`` and each row of ``transmat`` halfway to uniform,
    every mean moved by a standard normal draw per coordinate, covariances
    times 1.5.

    Parameters
    ----------
    name : {'H1', 'H2', 'H3'}
        The workload.
    seed : int, default=0
        Seed of the model (as for the data) and of the perturbation.

    Returns
    -------
    parameters : emfast.workloads.HMMParameters
        ``startprob``, ``transmat``, ``means`` and ``covars`` (in the
        covariance type's shape).

    Examples
    --------
    >>> import numpy as np
    >>> from emfast.bench import hmm_start
    >>> start = hmm_start("H2")
    >>> start.transmat.shape, start.covars.shape
    ((4, 4), (4, 2, 2))
    >>> bool(np.allclose(start.transmat.sum(axis=1), 1.0))
    True
    """
    w = HMM_WORKLOADS[name]
    truth = random_hmm(w.n_features, w.n_components, w.covariance_type, seed=seed)
    rng = np.random.default_rng(seed + 12345)
    uniform = 1.0 / w.n_components
    return HMMParameters(
        startprob=0.5 * truth.startprob + 0.5 * uniform,
        transmat=0.5 * truth.transmat + 0.5 * uniform,
        means=truth.means + rng.standard_normal(truth.means.shape),
        covars=1.5 * truth.covars,
    )


def _set_parameters(model, parameters: HMMParameters, n_features: int):
    model.startprob_ = np.array(parameters.startprob, copy=True)
    model.transmat_ = np.array(parameters.transmat, copy=True)
    model.means_ = np.array(parameters.means, copy=True)
    model.covars_ = np.array(parameters.covars, copy=True)
    model.n_features = n_features
    return model


def emfast_hmm(
    parameters: HMMParameters, covariance_type: str, implementation: str = "log"
):
    """An ``emfast.GaussianHMM`` holding ``parameters`` (copies), with
    ``init_params=''`` so that a fit starts from them.

    Its one Baum–Welch iteration is
    ``em_step(model_for(est, source, lengths), source, fitted_params(est))``
    (:func:`hmm_em_case` gives the three for :func:`time_em_step`).

    Examples
    --------
    >>> from emfast.bench import emfast_hmm, hmm_start
    >>> est = emfast_hmm(hmm_start("H3"), "diag", "scaling")
    >>> est.implementation, est.means_.shape, est.n_features
    ('scaling', (8, 4), 4)
    """
    model = GaussianHMM(
        len(parameters.startprob),
        covariance_type=covariance_type,
        implementation=implementation,
        init_params="",
    )
    return _set_parameters(model, parameters, parameters.means.shape[1])


def hmmlearn_hmm(
    parameters: HMMParameters,
    covariance_type: str,
    implementation: str = "scaling",
    n_iter: int = 1,
):
    """An ``hmmlearn.hmm.GaussianHMM`` holding ``parameters`` (copies), with
    ``init_params=''`` and ``n_iter`` (default 1): its ``fit(X, lengths)`` is
    then one Baum–Welch iteration from them (:func:`time_hmmlearn_step`).

    Examples
    --------
    >>> from emfast.bench import hmm_benchmark_data, hmm_start, hmmlearn_hmm
    >>> X, lengths, _ = hmm_benchmark_data("H2", n_samples=300)
    >>> h = hmmlearn_hmm(hmm_start("H2"), "full").fit(X, lengths)
    >>> h.monitor_.iter, h.means_.shape
    (1, (4, 2))
    """
    hmm = _hmmlearn_hmm_module()
    model = hmm.GaussianHMM(
        len(parameters.startprob),
        covariance_type=covariance_type,
        implementation=implementation,
        init_params="",
        n_iter=n_iter,
    )
    return _set_parameters(model, parameters, parameters.means.shape[1])


def hmm_em_case(estimator, X, lengths=None):
    """``(model, source, params)`` of one Baum–Welch iteration of an emfast
    HMM holding its parameters (:func:`emfast_hmm`), for
    :func:`time_em_step` or :func:`emfast.engine.em_step`.

    Examples
    --------
    >>> from emfast.bench import emfast_hmm, hmm_benchmark_data, hmm_em_case
    >>> from emfast.bench import hmm_start
    >>> from emfast.engine import em_step
    >>> X, lengths, _ = hmm_benchmark_data("H2", n_samples=300)
    >>> log_likelihood, params = em_step(
    ...     *hmm_em_case(emfast_hmm(hmm_start("H2"), "full"), X, lengths))
    >>> params.transmat.shape
    (4, 4)
    """
    source = source_for(X)
    return model_for(estimator, source, lengths), source, fitted_params(estimator)


def time_hmmlearn_step(
    new_estimator, X, lengths=None, repeat: int = 3, warm_up: bool = True
):
    """Time hmmlearn Baum–Welch iterations, each on a fresh estimator.

    ``new_estimator()`` (untimed) returns an ``hmmlearn.hmm.GaussianHMM``
    holding the starting parameters with ``init_params=''`` and
    ``n_iter=1`` (:func:`hmmlearn_hmm`); its ``fit(X, lengths)`` (one
    E-step and M-step, with hmmlearn's checks of the input) is timed,
    ``repeat`` times, with hmmlearn's own thread settings. hmmlearn
    compiles nothing, but its first fit in a process imports modules
    lazily: ``warm_up`` fits a fresh estimator on the first
    :data:`HMM_WARM_UP_STEPS` steps first, untimed.

    Parameters
    ----------
    new_estimator : callable
        Returns an hmmlearn HMM ready to fit one iteration.
    X : ndarray of shape (n_samples, n_features)
        The sequences, one after another.
    lengths : array-like of int, optional
        Their lengths (None: one sequence).
    repeat : int, default=3
        Timed iterations.
    warm_up : bool, default=True
        Fit one estimator on the first steps first, untimed.

    Returns
    -------
    timed : Timed
        ``seconds`` of each iteration and ``last``, the last iteration's
        ``(log_likelihood, estimator)``: the E-step's log-likelihood (the
        last of ``monitor_.history``) and the estimator after the iteration.

    Examples
    --------
    >>> from emfast.bench import hmm_benchmark_data, hmm_start, hmmlearn_hmm
    >>> from emfast.bench import time_hmmlearn_step
    >>> X, lengths, _ = hmm_benchmark_data("H3", n_samples=300)
    >>> start = hmm_start("H3")
    >>> timed = time_hmmlearn_step(lambda: hmmlearn_hmm(start, "diag"), X,
    ...                            lengths, repeat=2)
    >>> len(timed.seconds), timed.last[1].means_.shape
    (2, (8, 4))
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    if warm_up:
        new_estimator().fit(X[:HMM_WARM_UP_STEPS])
    seconds = []
    for _ in range(repeat):
        model = new_estimator()
        start = perf_counter()
        model.fit(X, lengths)
        seconds.append(perf_counter() - start)
    return Timed(seconds, (float(model.monitor_.history[-1]), model))


def hmm_params_rel_diff(params, hmmlearn_model) -> float:
    """The largest difference between emfast's parameters (an HMM
    iteration's, :func:`emfast.engine.em_step`) and an hmmlearn model's,
    each parameter's over its largest absolute value: ``startprob``,
    ``transmat``, ``means`` and the stored covariances.

    Examples
    --------
    >>> from emfast.bench import emfast_hmm, hmm_benchmark_data, hmm_em_case
    >>> from emfast.bench import hmm_params_rel_diff, hmm_start, hmmlearn_hmm
    >>> from emfast.engine import em_step
    >>> X, lengths, _ = hmm_benchmark_data("H3", n_samples=500)
    >>> start = hmm_start("H3")
    >>> _, ours = em_step(*hmm_em_case(emfast_hmm(start, "diag"), X, lengths))
    >>> theirs = hmmlearn_hmm(start, "diag", "log").fit(X, lengths)
    >>> hmm_params_rel_diff(ours, theirs) < 1e-6
    True
    """
    pairs = [
        (params.startprob, hmmlearn_model.startprob_),
        (params.transmat, hmmlearn_model.transmat_),
        (params.means, hmmlearn_model.means_),
        (params.covars, hmmlearn_model._covars_),
    ]
    worst = 0.0
    for ours, theirs in pairs:
        ours, theirs = np.asarray(ours), np.asarray(theirs)
        if theirs.shape != ours.shape:  # hmmlearn's tiled 'spherical' storage
            theirs = theirs.reshape(ours.shape[0], -1)[:, 0]
        worst = max(worst, float(np.abs(ours - theirs).max() / np.abs(theirs).max()))
    return worst


def _time_calls(fn, repeat: int, warm_up: bool) -> Timed:
    """``fn()`` once untimed (``warm_up``), then ``repeat`` times timed."""
    last = fn() if warm_up else None
    seconds = []
    for _ in range(repeat):
        start = perf_counter()
        last = fn()
        seconds.append(perf_counter() - start)
    return Timed(seconds, last)


def _ratio(theirs, ours):
    return None if theirs is None else theirs / ours


def hmm_iteration_flops(
    n_samples: int, n_features: int, n_components: int, covariance_type: str
) -> float:
    """Approximate floating-point operations of one Baum–Welch iteration.

    A multiply-add counts as 2 flops. The emission log-densities and the
    posterior-weighted statistics do per step what a mixture's iteration
    does per point (:func:`iteration_flops`); the forward pass, the backward
    pass and the expected transition counts each add one multiply-add per
    pair of states per step: in all ``iteration_flops(N, D, K, cov) + 6 N
    K**2``. The exp of the scaled recursions, the log-space recursions'
    extra work and the M-step are left out.

    Parameters
    ----------
    n_samples, n_features, n_components : int
        Steps (all sequences together), D and K.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type.

    Returns
    -------
    flops : float
        The operation count.

    Examples
    --------
    >>> from emfast.bench import hmm_iteration_flops
    >>> hmm_iteration_flops(1_000_000, 4, 8, "diag") / 1e9  # H3: GFLOP
    0.8
    """
    flops = iteration_flops(n_samples, n_features, n_components, covariance_type)
    return flops + 6.0 * n_samples * n_components**2


def _iterations(X, lengths, start, covariance_type, repeat, hmmlearn, say, rates):
    """One Baum–Welch iteration of each implementation of both libraries:
    a result per implementation, and emfast's new parameters (the first
    implementation's)."""
    flops = hmm_iteration_flops(*X.shape, start.startprob.shape[0], covariance_type)
    rows, fitted = [], None
    for implementation in HMM_IMPLEMENTATIONS:
        say(f"emfast iteration ({implementation!r})")
        est = emfast_hmm(start, covariance_type, implementation)
        ours = time_em_step(*hmm_em_case(est, X, lengths), repeat)
        ll_emfast, params = ours.last
        fitted = params if fitted is None else fitted
        row = {
            "implementation": implementation,
            "emfast_seconds": median(ours.seconds),
            "flops": flops,
            "emfast_log_likelihood": float(ll_emfast),
            "hmmlearn_seconds": None,
            "hmmlearn_log_likelihood": None,
            "log_likelihood_rel_diff": None,
            "params_rel_diff": None,
        }
        row.update(bound_fractions(flops, X.nbytes, row["emfast_seconds"], rates))
        if hmmlearn:
            say(f"hmmlearn iteration ({implementation!r})")
            theirs = time_hmmlearn_step(
                partial(hmmlearn_hmm, start, covariance_type, implementation),
                X,
                lengths,
                repeat,
            )
            ll_hmmlearn, model = theirs.last
            row["hmmlearn_seconds"] = median(theirs.seconds)
            row["hmmlearn_log_likelihood"] = ll_hmmlearn
            row["log_likelihood_rel_diff"] = float(
                abs(ll_emfast - ll_hmmlearn) / abs(ll_hmmlearn)
            )
            row["params_rel_diff"] = hmm_params_rel_diff(params, model)
        rows.append(row)
    scaling = rows[HMM_IMPLEMENTATIONS.index("scaling")]["hmmlearn_seconds"]
    for row in rows:
        row["speedup"] = _ratio(row["hmmlearn_seconds"], row["emfast_seconds"])
        row["speedup_vs_scaling"] = _ratio(scaling, row["emfast_seconds"])
    return rows, fitted


def _as_parameters(params, covariance_type: str) -> HMMParameters:
    """An iteration's parameters as ``covars_`` takes them."""
    covars = np.asarray(params.covars)
    if covariance_type == "spherical":
        covars = covars.reshape(len(params.startprob), -1)[:, 0]
    return HMMParameters(params.startprob, params.transmat, params.means, covars)


def _viterbi(X, lengths, parameters, covariance_type, repeat, hmmlearn, say):
    """``decode(X, lengths, algorithm='viterbi')`` of both libraries with
    the same parameters."""
    say("emfast Viterbi")
    ours_model = emfast_hmm(parameters, covariance_type)
    first = X[: int(lengths[0])]
    ours_model.decode(first, algorithm="viterbi")  # compile or load
    ours = _time_calls(
        lambda: ours_model.decode(X, lengths, algorithm="viterbi"), repeat, False
    )
    result = {
        "emfast_seconds": median(ours.seconds),
        "hmmlearn_seconds": None,
        "speedup": None,
        "goal": HMM_VITERBI_GOAL,
        "log_prob_rel_diff": None,
        "states_equal": None,
    }
    if hmmlearn:
        say("hmmlearn Viterbi")
        theirs_model = hmmlearn_hmm(parameters, covariance_type)
        theirs = _time_calls(
            lambda: theirs_model.decode(X, lengths, algorithm="viterbi"),
            repeat,
            False,
        )
        (lp_ours, path_ours), (lp_theirs, path_theirs) = ours.last, theirs.last
        result["hmmlearn_seconds"] = median(theirs.seconds)
        result["speedup"] = result["hmmlearn_seconds"] / result["emfast_seconds"]
        result["log_prob_rel_diff"] = float(abs(lp_ours - lp_theirs) / abs(lp_theirs))
        result["states_equal"] = float(np.mean(path_ours == path_theirs))
    return result


def _sample(name, n_samples, covariance_type, repeat, hmmlearn, seed, say):
    """``sample(n_samples)`` of both libraries from the workload's model
    (emfast: median of ``repeat`` after a warm-up; hmmlearn: once)."""
    w = HMM_WORKLOADS[name]
    truth = random_hmm(w.n_features, w.n_components, covariance_type, seed=seed)
    say(f"emfast sample({n_samples:,})")
    ours_model = emfast_hmm(truth, covariance_type)
    ours = _time_calls(
        lambda: ours_model.sample(n_samples, random_state=0), repeat, True
    )
    result = {
        "n_samples": n_samples,
        "emfast_seconds": median(ours.seconds),
        "hmmlearn_seconds": None,
        "hmmlearn_repeat": 1,
        "speedup": None,
        "goal": HMM_SAMPLE_GOAL,
    }
    if hmmlearn:
        say(f"hmmlearn sample({n_samples:,}) (once)")
        theirs_model = hmmlearn_hmm(truth, covariance_type)
        theirs = _time_calls(
            lambda: theirs_model.sample(n_samples, random_state=0), 1, False
        )
        result["hmmlearn_seconds"] = theirs.seconds[0]
        result["speedup"] = result["hmmlearn_seconds"] / result["emfast_seconds"]
    return result


def hmm_workload(
    name: str,
    *,
    n_samples: int | None = None,
    repeat: int = 3,
    hmmlearn: bool = True,
    memory: bool = True,
    sample_n: int | None = None,
    rates: dict | None = None,
    seed: int = 0,
    progress=None,
) -> dict:
    """Benchmark ``GaussianHMM`` on one HMM workload, emfast and hmmlearn
    side by side.

    * One Baum–Welch iteration per implementation ('scaling', 'log') from
      identical parameters (:func:`hmm_start`): emfast's
      :func:`emfast.engine.em_step` of the estimator's model
      (:func:`hmm_em_case`) under one BLAS thread (:func:`time_em_step`,
      after an untimed warm-up) against hmmlearn's ``fit(X, lengths)`` with
      ``n_iter=1`` of the same implementation (:func:`time_hmmlearn_step`);
      medians over ``repeat``.
    * Viterbi: ``decode(X, lengths, algorithm='viterbi')`` of both with
      emfast's parameters after that iteration (emfast warmed up on the
      first sequence).
    * Sample (workloads in :data:`HMM_SAMPLE_WORKLOADS`): ``sample(sample_n)``
      of both from the model the data are drawn from; hmmlearn's once.
    * Peak memory of a default fit (``n_iter=HMM_FIT_N_ITER``; hmmlearn's:
      one iteration) in a fresh process (:func:`fit_peak_rss`).

    Parameters
    ----------
    name : {'H1', 'H2', 'H3'}
        The workload.
    n_samples : int, optional
        About this many steps (:func:`emfast.workloads.hmm_sizes`).
    repeat : int, default=3
        Timed runs per library; the median is reported.
    hmmlearn : bool, default=True
        Also time (and, with ``memory``, measure) hmmlearn.
    memory : bool, default=True
        Measure the peak RSS of fits in fresh processes.
    sample_n : int, optional
        Length of the sampled sequence (:data:`HMM_SAMPLE_N` when None).
    rates : dict, optional
        The machine's rates (:func:`machine_rates`), to report each
        iteration's time against the matrix-multiply rate and the memory
        floor (:func:`bound_fractions` of :func:`hmm_iteration_flops`).
    seed : int, default=0
        Seed of the model, the data and the starting parameters.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    result : dict
        ``workload``, ``n_sequences``, ``sequence_length``, ``n_samples``
        (steps), ``n_features``, ``n_components``, ``covariance_type``,
        ``data_bytes``, ``repeat``, ``goal`` (:data:`HMM_SPEEDUP_GOALS`);
        ``iterations``, one dict per implementation: ``implementation``,
        ``emfast_seconds`` and ``hmmlearn_seconds`` per iteration,
        ``speedup`` (same implementation), ``speedup_vs_scaling``
        (hmmlearn's 'scaling' over this emfast implementation: the goal's
        ratio), ``flops``, ``emfast_gflops``, ``matmul_fraction``,
        ``memory_floor_seconds`` and ``memory_fraction``
        (:func:`bound_fractions`), the log-likelihoods of the E-step,
        ``log_likelihood_rel_diff`` and ``params_rel_diff``
        (:func:`hmm_params_rel_diff`); ``viterbi``: ``emfast_seconds``,
        ``hmmlearn_seconds``, ``speedup``, ``goal``, ``log_prob_rel_diff``
        and ``states_equal`` (the fraction of equal states); ``sample``
        (None unless measured): ``n_samples``, ``emfast_seconds``,
        ``hmmlearn_seconds``, ``hmmlearn_repeat``, ``speedup``, ``goal``;
        ``emfast_memory`` and ``hmmlearn_memory`` (:func:`fit_peak_rss`
        results) when measured. hmmlearn's figures are None without it.

    Examples
    --------
    >>> from emfast.bench import hmm_workload
    >>> r = hmm_workload("H3", n_samples=500, repeat=1, memory=False)
    >>> [row["implementation"] for row in r["iterations"]]
    ['scaling', 'log']
    >>> r["n_sequences"], max(row["params_rel_diff"] for row in r["iterations"]) < 1e-6
    (5, True)
    """
    say = reporter(progress, f"{name} GaussianHMM")
    X, lengths, w = hmm_benchmark_data(name, n_samples, seed)
    cov = w.covariance_type
    result = {
        "workload": name,
        "n_sequences": len(lengths),
        "sequence_length": int(lengths[0]),
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "n_components": w.n_components,
        "covariance_type": cov,
        "data_bytes": X.nbytes,
        "repeat": repeat,
        "goal": HMM_SPEEDUP_GOALS[name],
    }
    start = hmm_start(name, seed)
    result["iterations"], fitted = _iterations(
        X, lengths, start, cov, repeat, hmmlearn, say, rates
    )
    result["viterbi"] = _viterbi(
        X, lengths, _as_parameters(fitted, cov), cov, repeat, hmmlearn, say
    )
    result["sample"] = None
    if name in HMM_SAMPLE_WORKLOADS:
        n = HMM_SAMPLE_N if sample_n is None else int(sample_n)
        result["sample"] = _sample(name, n, cov, repeat, hmmlearn, seed, say)
    result["emfast_memory"] = result["hmmlearn_memory"] = None
    if memory:
        k = w.n_components
        say(f"emfast fit peak memory (fresh process, n_iter={HMM_FIT_N_ITER})")
        result["emfast_memory"] = fit_peak_rss(
            X, k, cov, "emfast", HMM_FIT_N_ITER, "GaussianHMM", lengths
        )
        if hmmlearn:
            say("hmmlearn fit peak memory (fresh process, n_iter=1)")
            result["hmmlearn_memory"] = fit_peak_rss(
                X, k, cov, "hmmlearn", 1, "GaussianHMM", lengths
            )
    return result


def hmm_quick_n_samples(name: str) -> int:
    """The steps ``--quick`` uses for HMM workload ``name``: its steps
    over :data:`HMM_QUICK_DIVISOR`.

    Examples
    --------
    >>> from emfast.bench import hmm_quick_n_samples
    >>> from emfast.workloads import hmm_sizes
    >>> [hmm_sizes(n, hmm_quick_n_samples(n)) for n in ("H1", "H2", "H3")]
    [(10, 10000), (1, 100000), (1000, 100)]
    """
    return HMM_WORKLOADS[name].n_samples // HMM_QUICK_DIVISOR


def run_hmm(
    workloads=None,
    *,
    quick: bool = False,
    n_samples: int | None = None,
    repeat: int = 3,
    hmmlearn: bool = True,
    memory: bool = True,
    seed: int = 0,
    matmul_size: int = 2000,
    progress=None,
) -> dict:
    """:func:`hmm_workload` on several HMM workloads (``emfast bench
    --hmm``).

    Parameters
    ----------
    workloads : list of str, optional
        HMM workload names; all three (H1, H2, H3) when None.
    quick : bool, default=False
        Reduced sizes (:func:`hmm_quick_n_samples`, and
        :data:`HMM_QUICK_SAMPLE_N` samples), unless ``n_samples`` is given.
    n_samples : int, optional
        About this many steps for every workload
        (:func:`emfast.workloads.hmm_sizes`), and as many samples.
    repeat, hmmlearn, memory, seed, progress
        As in :func:`hmm_workload`.
    matmul_size : int, default=2000
        Size of the matrices of :func:`matmul_gflops`.

    Returns
    -------
    results : dict
        ``machine`` (:func:`machine_info`, :func:`machine_rates` and
        ``hmmlearn``, its version),
        ``settings``, ``hmm`` (a list of :func:`hmm_workload` results) and
        ``seconds``.

    Examples
    --------
    >>> from emfast.bench import format_hmm, run_hmm
    >>> results = run_hmm(["H2", "H3"], n_samples=300, repeat=1, memory=False,
    ...                   matmul_size=300)
    >>> print(format_hmm(results))  # doctest: +ELLIPSIS
    Machine: ...
    | workload | sequences × length | D | K | covariance | implementation | ...
    |---|--:|--:|--:|---|---|--:|--:|--:|--:|---|--:|--:|--:|--:|
    | H2 | 1 × 300 | 2 | 4 | full | scaling | ...
    ...
    | H3 | 3 × 100 | 4 | 8 | diag | log | ...
    ...
    """
    start = perf_counter()
    names = list(HMM_WORKLOADS if workloads is None else workloads)
    for name in names:
        if name not in HMM_WORKLOADS:
            raise ValueError(
                f"Unknown HMM workload {name!r}; expected some of {list(HMM_WORKLOADS)}"
            )
    machine = machine_info()
    machine.update(machine_rates(matmul_size))
    machine["hmmlearn"] = None
    if hmmlearn:
        import hmmlearn as hmmlearn_package

        machine["hmmlearn"] = hmmlearn_package.__version__
    results = []
    for name in names:
        steps, sample_n = n_samples, n_samples
        if n_samples is None and quick:
            steps, sample_n = hmm_quick_n_samples(name), HMM_QUICK_SAMPLE_N
        hmm_sizes(name, steps)  # checked before anything runs
        results.append(
            hmm_workload(
                name,
                n_samples=steps,
                repeat=repeat,
                hmmlearn=hmmlearn,
                memory=memory,
                sample_n=sample_n,
                rates=machine,
                seed=seed,
                progress=progress,
            )
        )
    return run_record(
        start,
        "hmm",
        results,
        machine=machine,
        quick=quick,
        n_samples=n_samples,
        repeat=repeat,
        seed=seed,
        fit_n_iter=HMM_FIT_N_ITER,
        matmul_size=matmul_size,
    )


# ---------------------------------------------------------------------------
# The report

_HMM_COLUMNS = ["workload", "sequences × length", "D", "K", "covariance"]


def _hmm_cells(r: dict) -> list:
    shape = f"{r['n_sequences']:,} × {r['sequence_length']:,}"
    return [r["workload"], shape, r["n_features"], r["n_components"]]


def _goal_cell(speedup, goal) -> str:
    text = f"≥ {goal:g}×"
    if speedup is None:
        return text
    return f"{'met' if speedup >= goal else 'MISSED'} {text}"


def _seconds(value) -> str:
    return fmt(value, ".4f")


def format_hmm(results: dict) -> str:
    """Markdown tables of :func:`run_hmm`'s results: the iterations, Viterbi,
    sampling, then memory.

    See :func:`run_hmm` for an example.
    """
    m, s = results["machine"], results["settings"]
    extra = [] if m.get("hmmlearn") is None else [("hmmlearn", m["hmmlearn"])]
    runs = results["hmm"]
    header = [
        machine_line(m, ("python", "numpy", "numba"), extra) + rates_note(m),
        "GaussianHMM: one Baum–Welch iteration (E-step + M-step) from identical "
        f"parameters, median of {s['repeat']}; emfast: engine em_step under one "
        "BLAS thread; hmmlearn: fit(X, lengths) with n_iter=1, init_params=''; "
        "goal against hmmlearn's 'scaling'" + quick_note(s),
    ]
    columns = [*_HMM_COLUMNS, "implementation", "emfast s/iter", "hmmlearn s/iter"]
    columns += ["speed-up", "vs hmmlearn 'scaling'", "goal", *BOUND_COLUMNS]
    columns += ["params rel. diff"]
    rows = [
        [
            *_hmm_cells(r),
            r["covariance_type"],
            row["implementation"],
            _seconds(row["emfast_seconds"]),
            _seconds(row["hmmlearn_seconds"]),
            fmt(row["speedup"], ".1f", "×"),
            fmt(row["speedup_vs_scaling"], ".1f", "×"),
            _goal_cell(row["speedup_vs_scaling"], r["goal"]),
            *bound_cells(row),
            fmt(row["params_rel_diff"], ".0e"),
        ]
        for r in runs
        for row in r["iterations"]
    ]
    blocks = [header, table(columns, "lrrrllrrrrlrrrr", rows)]

    viterbi = [
        [
            *_hmm_cells(r),
            _seconds(r["viterbi"]["emfast_seconds"]),
            _seconds(r["viterbi"]["hmmlearn_seconds"]),
            fmt(r["viterbi"]["speedup"], ".1f", "×"),
            _goal_cell(r["viterbi"]["speedup"], r["viterbi"]["goal"]),
            fmt(r["viterbi"]["states_equal"], ".2%"),
        ]
        for r in runs
    ]
    columns = [*_HMM_COLUMNS[:4], "emfast s", "hmmlearn s", "speed-up", "goal"]
    blocks += [
        [
            "Viterbi: decode(X, lengths, algorithm='viterbi') with the same "
            f"parameters (emfast's after the iteration), median of {s['repeat']}"
        ],
        table([*columns, "states equal"], "lrrrrrrlr", viterbi),
    ]

    sampled = [r for r in runs if r["sample"] is not None]
    if sampled:
        rows = [
            [
                r["workload"],
                f"{r['sample']['n_samples']:,}",
                _seconds(r["sample"]["emfast_seconds"]),
                fmt(r["sample"]["hmmlearn_seconds"], ".2f"),
                fmt(r["sample"]["speedup"], ".0f", "×"),
                _goal_cell(r["sample"]["speedup"], r["sample"]["goal"]),
            ]
            for r in sampled
        ]
        columns = ["workload", "samples", "emfast s", "hmmlearn s (once)"]
        blocks += [
            [
                "sample(n) from the workload's model: emfast median of "
                f"{s['repeat']} after a warm-up, hmmlearn once"
            ],
            table([*columns, "speed-up", "goal"], "lrrrrl", rows),
        ]

    measured = [r for r in runs if r["emfast_memory"]]
    if measured:
        caption = (
            "Peak RSS of a GaussianHMM fit(X, lengths) in a fresh process, over "
            "the process before loading the data (data included); emfast: "
            f"default start, n_iter={s['fit_n_iter']}; hmmlearn: default start, "
            "n_iter=1"
        )
        blocks += [[caption], memory_table(measured, "hmmlearn")]
    return paragraphs(*blocks, [wall_time(results["seconds"])])
