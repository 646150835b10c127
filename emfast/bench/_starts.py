"""How often each start reaches the best optimum, and its time, beside
scikit-learn's (``emfast bench --starts``)."""

from __future__ import annotations

import warnings
from statistics import median
from time import perf_counter

import numpy as np

from ._common import machine_info, reporter
from ._format import machine_line, paragraphs, table, wall_time

# A fit reaches the best optimum when its mean log-likelihood is within this
# many nats per point of the best one (distinct optima of these data sets
# differ by 0.05 or more).
STARTS_TOLERANCE = 1e-3
# Full and --quick sizes: points per synthetic data set, and data draws.
STARTS_N_SAMPLES = 20_000
STARTS_DRAWS = 10
STARTS_QUICK_N_SAMPLES = 3_000
STARTS_QUICK_DRAWS = 3
# Real data sets (scikit-learn's bundled ones, standardised): name -> K.
REAL_DATASETS = {"iris": 3, "wine": 3}
# The fits compared: name -> (library, constructor parameters).
METHODS = {
    "sklearn default": ("sklearn", {}),
    "sklearn n_init=10": ("sklearn", {"n_init": 10}),
    "emfast kmeans": ("emfast", {}),
    "emfast k-means++": ("emfast", {"init_params": "k-means++"}),
    "emfast hierarchical": ("emfast", {"init_params": "hierarchical"}),
    "emfast small-em": ("emfast", {"init_params": "small-em"}),
}
# select_model's grid on the elongated clusters (the right answer is 3).
SELECT_GRID = range(1, 7)


def _real_data(name):
    from sklearn.datasets import load_iris, load_wine
    from sklearn.preprocessing import StandardScaler

    loader = {"iris": load_iris, "wine": load_wine}[name]
    return StandardScaler().fit_transform(loader().data)


def _fit(method, X, n_components, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from .. import GaussianMixture

    library, params = METHODS[method]
    cls = GaussianMixture if library == "emfast" else SkGaussianMixture
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = perf_counter()
        gm = cls(n_components, random_state=seed, **params).fit(X)
        seconds = perf_counter() - start
    return float(gm.score(X)), seconds


def truth_score(data):
    """The mean log-likelihood of EM from a start data set's true parameters
    (``tol=1e-8``): its best optimum.

    Examples
    --------
    >>> from emfast.bench import truth_score
    >>> from emfast.workloads import make_start_dataset
    >>> round(truth_score(make_start_dataset("elongated", 600, seed=0)), 2)
    -4.31
    """
    from .. import GaussianMixture

    gm = GaussianMixture(
        len(data.weights),
        weights_init=data.weights,
        means_init=data.means,
        precisions_init=np.linalg.inv(data.covariances),
        tol=1e-8,
        max_iter=1000,
    ).fit(data.X)
    return float(gm.score(data.X))


def starts_case(name, *, n_samples=STARTS_N_SAMPLES, draws=STARTS_DRAWS, progress=None):
    """Every start of :data:`METHODS` on one data set, over draws.

    For a synthetic data set (:data:`emfast.workloads.START_DATASETS`), draw
    ``draws`` data sets of ``n_samples`` points (seeds 0, 1, ...); the best
    optimum of each is EM from its true parameters. For a real one
    (:data:`REAL_DATASETS`), the data are fixed and the best optimum is the
    best mean log-likelihood any fit of the run reached. Draw i fits every
    method with ``random_state=i``; a fit reaches the best optimum when its
    mean log-likelihood is within :data:`STARTS_TOLERANCE` of it.

    Returns
    -------
    result : dict
        ``dataset``, ``n_samples``, ``n_components``, ``draws``; ``methods``:
        per method ``hits`` (fits that reached the best optimum),
        ``rate`` (hits / draws), ``median_seconds`` and ``gaps`` (best
        minus reached mean log-likelihood, per draw).

    Examples
    --------
    >>> from emfast.bench import starts_case
    >>> r = starts_case("elongated", n_samples=600, draws=1)
    >>> r["n_components"], sorted(r["methods"])[:2]
    (3, ['emfast hierarchical', 'emfast k-means++'])
    """
    from ..workloads import make_start_dataset

    say = reporter(progress, f"starts, {name}")
    real = name in REAL_DATASETS
    scores = {m: [] for m in METHODS}
    seconds = {m: [] for m in METHODS}
    best = []
    n_rows = n_components = None
    for draw in range(1 if real else draws):
        if real:
            X, n_components, truth = _real_data(name), REAL_DATASETS[name], -np.inf
        else:
            data = make_start_dataset(name, n_samples, seed=draw)
            X, n_components = data.X, len(data.weights)
            truth = truth_score(data)
        n_rows = X.shape[0]
        seeds = range(draws) if real else (draw,)
        for seed in seeds:
            say(f"draw {draw}, seed {seed}")
            for method in METHODS:
                score, t = _fit(method, X, n_components, seed)
                scores[method].append(score)
                seconds[method].append(t)
        best.append(truth)
    if real:
        best = [max(max(v) for v in scores.values())] * draws
    else:
        best = [max(b, max(s[i] for s in scores.values())) for i, b in enumerate(best)]
    methods = {}
    for method in METHODS:
        gaps = [b - s for b, s in zip(best, scores[method], strict=True)]
        hits = sum(g <= STARTS_TOLERANCE for g in gaps)
        methods[method] = {
            "hits": int(hits),
            "rate": hits / draws,
            "median_seconds": median(seconds[method]),
            "gaps": gaps,
        }
    return {
        "dataset": name,
        "n_samples": n_rows,
        "n_components": n_components,
        "draws": draws,
        "methods": methods,
    }


def select_case(*, n_samples=STARTS_N_SAMPLES, draws=STARTS_DRAWS, progress=None):
    """``select_model`` by BIC over K = 1..6 ('full') on the elongated
    clusters, per data draw: with its default starts and with the k-means
    start alone. Returns ``draws``, ``default_picks`` and ``kmeans_picks``
    (the K chosen per draw)."""
    from .. import select_model
    from ..workloads import make_start_dataset

    say = reporter(progress, "select_model, elongated")
    picks = {"default": [], "kmeans": []}
    for draw in range(draws):
        say(f"draw {draw}")
        X = make_start_dataset("elongated", n_samples, seed=draw).X
        for key, starts in (("default", None), ("kmeans", "kmeans")):
            extra = {} if starts is None else {"starts": starts}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                chosen = select_model(
                    X, SELECT_GRID, "full", random_state=draw, **extra
                )
            picks[key].append(int(chosen.best_estimator.n_components))
    return {
        "draws": draws,
        "default_picks": picks["default"],
        "kmeans_picks": picks["kmeans"],
    }


def run_starts(
    datasets=None, *, quick=False, n_samples=None, draws=None, progress=None
):
    """The starts benchmark (``emfast bench --starts``): :func:`starts_case`
    on each data set (default: the three synthetic ones of
    :data:`emfast.workloads.START_DATASETS`, then iris and wine), and
    :func:`select_case`.

    Parameters
    ----------
    datasets : list of str, optional
        Data sets to run.
    quick : bool, default=False
        ``STARTS_QUICK_N_SAMPLES`` points and ``STARTS_QUICK_DRAWS`` draws.
    n_samples, draws : int, optional
        Override the sizes.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    results : dict
        ``machine``, ``settings``, ``starts`` (a list of :func:`starts_case`
        results), ``select`` (:func:`select_case`) and ``seconds``.

    Examples
    --------
    >>> from emfast.bench import run_starts, format_starts
    >>> print(format_starts(run_starts(quick=True)))  # doctest: +SKIP
    """
    from ..workloads import START_DATASETS

    begin = perf_counter()
    if n_samples is None:
        n_samples = STARTS_QUICK_N_SAMPLES if quick else STARTS_N_SAMPLES
    if draws is None:
        draws = STARTS_QUICK_DRAWS if quick else STARTS_DRAWS
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    if datasets is None:
        datasets = [*START_DATASETS, *REAL_DATASETS]
    unknown = [
        d for d in datasets if d not in START_DATASETS and d not in REAL_DATASETS
    ]
    if unknown:
        raise ValueError(
            f"Unknown start data set(s) {unknown}; expected "
            f"{[*START_DATASETS, *REAL_DATASETS]}"
        )
    # Compile (or load) the kernels before anything is timed.
    _fit("emfast small-em", _real_data("iris"), 3, 0)
    _fit("emfast kmeans", _real_data("iris"), 3, 0)
    cases = [
        starts_case(d, n_samples=n_samples, draws=draws, progress=progress)
        for d in datasets
    ]
    select = select_case(n_samples=n_samples, draws=draws, progress=progress)
    return {
        "machine": machine_info(),
        "settings": {"n_samples": n_samples, "draws": draws, "quick": quick},
        "starts": cases,
        "select": select,
        "seconds": perf_counter() - begin,
    }


def format_starts(results) -> str:
    """The starts benchmark as Markdown: per data set and method, how often
    the best optimum was reached and the median fit time, with the ratio to
    scikit-learn's default fit; then select_model's picks."""
    rows = []
    for case in results["starts"]:
        sk = case["methods"]["sklearn default"]["median_seconds"]
        for method, m in case["methods"].items():
            rows.append(
                [
                    case["dataset"],
                    f"{case['n_samples']:,}",
                    case["n_components"],
                    method,
                    f"{m['hits']}/{case['draws']}",
                    f"{m['median_seconds']:.3f}",
                    f"{m['median_seconds'] / sk:.2f}",
                ]
            )
    lines = table(
        [
            "data",
            "N",
            "K",
            "start",
            "best optimum reached",
            "median fit s",
            "time / sklearn default",
        ],
        "lrrlrrr",
        rows,
    )
    select = results["select"]
    picks = (
        f"select_model (BIC, K = 1..6, 'full') on the elongated clusters picked "
        f"K = 3 in {select['default_picks'].count(3)} of {select['draws']} draws "
        f"with its default starts (picks {select['default_picks']}), and in "
        f"{select['kmeans_picks'].count(3)} with the k-means start alone "
        f"(picks {select['kmeans_picks']})."
    )
    head = machine_line(
        results["machine"], ("python", "numpy", "numba", "scikit-learn")
    )
    note = (
        f"A fit reaches the best optimum when its mean log-likelihood is within "
        f"{STARTS_TOLERANCE:g} of the best (synthetic data: EM from the true "
        "parameters; real data: the best fit of the run). Synthetic data: one "
        "data draw per seed; real data: fixed, standardised, one fit per seed."
    )
    return paragraphs([head], [note], lines, [picks], [wall_time(results["seconds"])])
