"""The ``emfast`` command: ``emfast demo`` fits the W2 workload and prints the
model, optionally side by side with scikit-learn; ``emfast bench`` times emfast
against scikit-learn on the standard workloads (``--bayesian``: the same for
``BayesianGaussianMixture``; ``--hmm``: ``GaussianHMM`` against hmmlearn on the
HMM workloads; ``--missing``: what values missing at random cost
emfast's iteration; ``--impute``: how close imputed values are to the true
ones, emfast against sklearn's imputers; ``--memmap``: the memory a fit adds
on a memory-mapped file; ``--dask``: emfast's iteration on a Dask array
against one in memory). The other subcommands live in ``_commands``."""

from __future__ import annotations

import argparse
import sys
from time import perf_counter

import numpy as np

from . import _commands
from ._commands import int_at_least as _int_at_least

_DEMO_WORKLOAD = "W2"
_SHOWN_COORDS = 4
# ``bench --missing`` and ``--dask`` compare two medians; fewer repeats make a
# noisy ratio.
_RATIO_MIN_REPEAT = 5


def _fraction(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line on stderr (exit status 2), no usage dump."""

    def error(self, message):
        self.exit(2, f"emfast: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="emfast",
        description="Gaussian mixture models fitted by EM, fast.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True

    demo = subparsers.add_parser(
        "demo",
        help="fit synthetic data (workload W2) and print the model",
        description=(
            "Generate the W2 workload (1,000,000 points, 8 features, 16 true "
            "components), fit emfast.GaussianMixture(16) with k-means "
            "initialization, and print the fitted model, the number of "
            "iterations, the log-likelihood and the wall time."
        ),
    )
    demo.add_argument(
        "--n-samples",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="number of points (default: 1,000,000)",
    )
    demo.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed of the data and of the initialization (default: 0)",
    )
    demo.add_argument(
        "--compare",
        action="store_true",
        help="also fit sklearn.mixture.GaussianMixture and print both side by side",
    )
    demo.set_defaults(handler=_demo)
    _add_bench_parser(subparsers)
    _commands.add_parsers(subparsers)
    return parser


def _workload_list(text: str) -> list[str]:
    """argparse type: comma-separated workload names (W1-W6, or H1-H3 for
    --hmm; which ones go with the run is checked by ``_bench``)."""
    from .workloads import HMM_WORKLOADS, WORKLOADS

    known = [*WORKLOADS, *HMM_WORKLOADS]
    names = [name.strip().upper() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names from {','.join(known)}, got {text!r}"
        )
    return names


def _scheduler_list(text: str) -> list[str]:
    """argparse type: comma-separated Dask schedulers."""
    from .bench import DASK_SCHEDULERS

    return _commands.name_list(DASK_SCHEDULERS)(text)


def _add_bench_parser(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="time emfast against scikit-learn on the standard workloads",
        description=(
            "For each workload, time one EM iteration (E-step + M-step) of "
            "emfast and of scikit-learn from identical initial parameters "
            "(median over --repeat), and print the ratio, emfast's achieved "
            "GFLOP/s against this machine's float64 matrix-multiply rate, and "
            "the peak memory of a fit in a fresh process. With --bayesian, "
            "the same for BayesianGaussianMixture instead (workload W2 unless "
            "--workloads is given; goal: at least 20x). With --hmm, "
            "GaussianHMM against hmmlearn on the HMM workloads H1-H3 instead "
            "(one Baum-Welch iteration per implementation from identical "
            "parameters, Viterbi decoding, sampling from H2's model, and the "
            "peak memory of a fit in a fresh process). With --startup, "
            "measure start-up instead: import time, and the first fit in a "
            "fresh process with a warm, a cold and a read-only cache. With "
            "--end-to-end, compare default fits instead (k-means init, "
            "default tol; workload W2 unless --workloads is given): fit wall "
            "time, iterations and final log-likelihood, per seed. With "
            "--missing, time one emfast iteration on data with some of the "
            "values (--missing-fraction, default 10 %) missing completely at "
            "random (nan_policy='marginalize') "
            "against one on the complete data, from identical initial "
            "parameters (workload W2 unless --workloads is given), and the "
            "one-off grouping of the rows by missingness pattern. With "
            "--impute, compare imputation accuracy instead: values missing "
            "completely at random (--missing-fraction, default 20 %) in "
            "synthetic mixtures whose true values are known, filled in by "
            "emfast's GaussianMixtureImputer and by sklearn's SimpleImputer "
            "(mean), IterativeImputer and KNNImputer: RMSE over the missing "
            "values and fit + transform time. With --memmap, measure data "
            "larger than memory instead: write a float64 .npy file of blobs "
            "(24,000,000 x 8, 1.4 GiB; --quick: 2,000,000 rows) and, in a "
            "fresh process, the peak anonymous memory (RssAnon) that a "
            "default fit (max_iter 10) and then score add on "
            "np.load(path, mmap_mode='r'), against the file's size (goal: "
            "at most 25 %). With --dask, time one emfast iteration on the "
            "data as a Dask array against one in memory, from identical "
            "initial parameters (workload W2 unless --workloads is given; "
            "goal: at most 1.5x), on Dask's threaded scheduler or a "
            "LocalCluster (--dask-scheduler)."
        ),
    )
    bench.add_argument(
        "--workloads",
        type=_workload_list,
        default=None,
        metavar="W1,W2,...",
        help=(
            "workloads to run (default: all six, W1-W6; with --bayesian, "
            "--end-to-end, --missing or --dask: W2; with --hmm: H1,H2,H3)"
        ),
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help=(
            "reduced sizes: N/20 (W6: N/50); with --hmm: steps/10 (fewer "
            "sequences for H1 and H3, a shorter one for H2) and 10,000 "
            "samples; about a minute or two on 2 cores"
        ),
    )
    bench.add_argument(
        "--n-samples",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help=(
            "number of samples for every workload (overrides --quick); with "
            "--hmm: about N steps (whole sequences of the workload's length, "
            "or one sequence of N) and sample(N)"
        ),
    )
    bench.add_argument(
        "--repeat",
        type=_int_at_least(1),
        default=3,
        help="timed iterations per library, median reported (default: 3)",
    )
    bench.add_argument(
        "--seed", type=_int_at_least(0), default=0, help="seed of the data"
    )
    bench.add_argument(
        "--no-sklearn",
        action="store_true",
        help="run emfast only (with --hmm: no hmmlearn)",
    )
    bench.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the peak-memory fits in fresh processes",
    )
    bench.add_argument(
        "--bayesian",
        action="store_true",
        help=(
            "run BayesianGaussianMixture instead of GaussianMixture: one "
            "variational EM iteration (E-step, M-step, lower bound) of emfast "
            "and sklearn from identical parameters (default workload W2), and "
            "the peak memory of a fit in a fresh process"
        ),
    )
    bench.add_argument(
        "--hmm",
        action="store_true",
        help=(
            "run GaussianHMM against hmmlearn on the HMM workloads instead "
            "(H1: 100 x 10,000 steps, D=8, K=16, full; H2: 1 x 1,000,000, "
            "D=2, K=4, full; H3: 10,000 x 100, D=4, K=8, diag): one "
            "Baum-Welch iteration from identical parameters with each "
            "implementation ('scaling', 'log') of both libraries, "
            "decode(algorithm='viterbi'), sample(1,000,000) from H2's model "
            "(hmmlearn once: a minute or more), and the peak memory of a "
            "default fit in a fresh process. Goals: H1 and H3 at least 30x, "
            "H2 10x against hmmlearn's 'scaling'; Viterbi 10x; sample 100x"
        ),
    )
    bench.add_argument(
        "--startup",
        action="store_true",
        help=(
            "measure start-up instead of the workloads: import overhead, "
            "first fit with a warm and a cold compile cache, read-only package"
        ),
    )
    bench.add_argument(
        "--end-to-end",
        action="store_true",
        help=(
            "run only the end-to-end comparison instead of the workloads: "
            "default fits GaussianMixture(K, covariance_type=..., "
            "random_state=seed).fit(X) of emfast and sklearn on the same data "
            "(default workload W2, full size), wall time of fit (emfast's "
            "compile not counted), iterations and final log-likelihood"
        ),
    )
    bench.add_argument(
        "--starts",
        action="store_true",
        help=(
            "run only the starts benchmark instead of the workloads: how often "
            "each start (sklearn's default and n_init=10; emfast's kmeans, "
            "k-means++, hierarchical and small-em) reaches the best optimum on "
            "data where starts matter (elongated, nested and grid clusters, "
            "20,000 points, 10 draws; iris and wine), its fit time, and "
            "select_model's pick on the elongated clusters"
        ),
    )
    bench.add_argument(
        "--draws",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="with --starts: data draws (seeds) per data set (default: 10; --quick: 3)",
    )
    bench.add_argument(
        "--e2e-seeds",
        type=_int_at_least(1),
        default=1,
        metavar="N",
        help="with --end-to-end: fits per library, seeds 0..N-1 (default: 1)",
    )
    bench.add_argument(
        "--missing",
        action="store_true",
        help=(
            "run only the missing-values cost instead of the workloads: one "
            "emfast iteration with --missing-fraction of the values missing "
            "completely at random (nan_policy='marginalize') against one on "
            "the complete data (default workload W2, full size; --repeat at "
            f"least {_RATIO_MIN_REPEAT}), and the one-off grouping by "
            "missingness pattern"
        ),
    )
    bench.add_argument(
        "--impute",
        action="store_true",
        help=(
            "run only the imputation accuracy instead of the workloads: RMSE "
            "over values missing completely at random, emfast's "
            "GaussianMixtureImputer against sklearn's SimpleImputer (mean), "
            "IterativeImputer(max_iter=30) and KNNImputer, on two correlated "
            "3-D clusters (2,000 points) and W2's blobs (20,000 points; "
            "--quick: 5,000)"
        ),
    )
    bench.add_argument(
        "--memmap",
        action="store_true",
        help=(
            "run only the memory-mapped-file benchmark instead of the "
            "workloads: peak RssAnon growth of a default "
            "GaussianMixture(16, max_iter=10).fit(X) and of score(X) on "
            "np.load(path, mmap_mode='r') of a 24,000,000 x 8 float64 file "
            "(1.4 GiB; --quick: 2,000,000 rows; --n-samples rows), in a fresh "
            "process, over the file's size; the file is deleted afterwards"
        ),
    )
    bench.add_argument(
        "--memmap-dir",
        default=None,
        metavar="DIR",
        help=(
            "with --memmap: where to write the temporary file (default: the "
            "system's temporary directory; its free space is checked first)"
        ),
    )
    bench.add_argument(
        "--dask",
        action="store_true",
        help=(
            "run only the Dask overhead instead of the workloads: one emfast "
            "iteration on dask.array.from_array(X) against one in memory, "
            "from identical initial parameters (default workload W2, full "
            f"size; --repeat at least {_RATIO_MIN_REPEAT}), and the largest "
            "relative difference of the resulting means"
        ),
    )
    bench.add_argument(
        "--dask-scheduler",
        type=_scheduler_list,
        default=None,
        metavar="threads,distributed",
        help=(
            "with --dask: Dask schedulers to measure, comma-separated "
            "(default: threads). threads: Dask's threaded scheduler in this "
            "process; distributed: a LocalCluster of 2 worker processes with "
            "one thread each, the array persisted on the workers"
        ),
    )
    bench.add_argument(
        "--chunk-rows",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="with --dask: rows per chunk (default: the rows in 8 chunks)",
    )
    bench.add_argument(
        "--missing-fraction",
        type=_fraction,
        default=None,
        metavar="F",
        help=(
            "with --missing or --impute: probability that a value is missing "
            "(default: 0.1; with --impute: 0.2)"
        ),
    )
    bench.add_argument(
        "--json", metavar="FILE", default=None, help="also save the results as JSON"
    )
    bench.set_defaults(handler=_bench)


def _bench(args) -> int:
    import json

    from . import bench

    def progress(message: str) -> None:
        print(f"[{perf_counter() - start:6.1f} s] {message}", file=sys.stderr)

    modes = [
        flag
        for flag, given in (
            ("--bayesian", args.bayesian),
            ("--hmm", args.hmm),
            ("--end-to-end", args.end_to_end),
            ("--startup", args.startup),
            ("--missing", args.missing),
            ("--impute", args.impute),
            ("--memmap", args.memmap),
            ("--dask", args.dask),
            ("--starts", args.starts),
        )
        if given
    ]
    if len(modes) > 1:
        raise ValueError(f"{' and '.join(modes)} are separate runs; give one")
    for option, value, mode, given in (
        ("--memmap-dir", args.memmap_dir, "--memmap", args.memmap),
        ("--dask-scheduler", args.dask_scheduler, "--dask", args.dask),
        ("--chunk-rows", args.chunk_rows, "--dask", args.dask),
    ):
        if value is not None and not given:
            raise ValueError(f"{option} goes with {mode}")
    _check_workload_kind(args.workloads, args.hmm)
    if args.memmap and args.workloads is not None:
        raise ValueError("--memmap writes its own data (W2's shape); drop --workloads")
    if args.end_to_end and args.no_sklearn:
        raise ValueError("--end-to-end compares with sklearn; drop --no-sklearn")
    if args.impute and args.no_sklearn:
        raise ValueError("--impute compares with sklearn; drop --no-sklearn")
    if args.impute and args.workloads is not None:
        raise ValueError("--impute runs its own data sets; drop --workloads")
    if args.starts and (args.workloads is not None or args.no_sklearn):
        raise ValueError(
            "--starts runs its own data sets beside sklearn; drop --workloads "
            "and --no-sklearn"
        )
    if args.draws is not None and not args.starts:
        raise ValueError("--draws goes with --starts")
    start = perf_counter()
    if args.bayesian:
        results = bench.run_bayesian(
            args.workloads,
            quick=args.quick,
            n_samples=args.n_samples,
            repeat=args.repeat,
            sklearn=not args.no_sklearn,
            memory=not args.no_memory,
            seed=args.seed,
            progress=progress,
        )
        print(bench.format_bayesian(results))
    elif args.hmm:
        results = bench.run_hmm(
            args.workloads,
            quick=args.quick,
            n_samples=args.n_samples,
            repeat=args.repeat,
            hmmlearn=not args.no_sklearn,
            memory=not args.no_memory,
            seed=args.seed,
            progress=progress,
        )
        print(bench.format_hmm(results))
    elif args.end_to_end:
        results = bench.run_end_to_end(
            args.workloads,
            quick=args.quick,
            n_samples=args.n_samples,
            n_seeds=args.e2e_seeds,
            data_seed=args.seed,
            progress=progress,
        )
        print(bench.format_end_to_end(results))
    elif args.missing:
        results = bench.run_missing_cost(
            args.workloads,
            quick=args.quick,
            n_samples=args.n_samples,
            fraction=_or(args.missing_fraction, bench.MISSING_FRACTION),
            repeat=max(args.repeat, _RATIO_MIN_REPEAT),
            seed=args.seed,
            progress=progress,
        )
        print(bench.format_missing_cost(results))
    elif args.memmap:
        results = bench.run_memmap_rss(
            quick=args.quick,
            n_samples=args.n_samples,
            directory=args.memmap_dir,
            seed=args.seed,
            progress=progress,
        )
        print(bench.format_memmap_rss(results))
    elif args.dask:
        results = bench.run_dask_overhead(
            args.workloads,
            schedulers=_or(args.dask_scheduler, ["threads"]),
            quick=args.quick,
            n_samples=args.n_samples,
            chunk_rows=args.chunk_rows,
            repeat=max(args.repeat, _RATIO_MIN_REPEAT),
            seed=args.seed,
            progress=progress,
        )
        print(bench.format_dask_overhead(results))
    elif args.impute:
        results = bench.run_impute_rmse(
            quick=args.quick,
            n_samples=args.n_samples,
            fraction=_or(args.missing_fraction, bench.IMPUTE_FRACTION),
            seed=args.seed,
            progress=progress,
        )
        print(bench.format_impute_rmse(results))
    elif args.starts:
        results = bench.run_starts(
            quick=args.quick,
            n_samples=args.n_samples,
            draws=args.draws,
            progress=progress,
        )
        print(bench.format_starts(results))
    elif args.startup:
        progress("start-up measurements (fresh processes; one cold compile)")
        results = bench.startup(repeat=max(args.repeat, 5))
        print(bench.format_startup(results))
    else:
        results = bench.run(
            args.workloads,
            quick=args.quick,
            n_samples=args.n_samples,
            repeat=args.repeat,
            sklearn=not args.no_sklearn,
            memory=not args.no_memory,
            seed=args.seed,
            progress=progress,
        )
        print(bench.format_results(results))
    if args.json is not None:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        print(f"Results saved to {args.json}")
    return 0


def _check_workload_kind(workloads, hmm: bool) -> None:
    """--hmm runs the HMM workloads (H1-H3), every other run the mixture
    workloads (W1-W6)."""
    from .workloads import HMM_WORKLOADS, WORKLOADS

    hmm_names = ",".join(HMM_WORKLOADS)
    wrong = [
        name
        for name in workloads or ()
        if name not in (HMM_WORKLOADS if hmm else WORKLOADS)
    ]
    if wrong and hmm:
        raise ValueError(f"--hmm runs {hmm_names}; got {','.join(wrong)}")
    if wrong:
        raise ValueError(f"{hmm_names} go with --hmm; got {','.join(wrong)}")


def _or(value, default):
    return default if value is None else value


def _fit_timed(estimator, X):
    start = perf_counter()
    estimator.fit(X)
    return perf_counter() - start


def _print_model(gm) -> None:
    n_features = gm.means_.shape[1]
    shown = min(n_features, _SHOWN_COORDS)
    header = "  k  weight  " + "".join(f"{f'mean[{d}]':>10}" for d in range(shown))
    if shown < n_features:
        header += "  ..."
    print(header)
    order = np.argsort(-gm.weights_, kind="stable")
    for k in order:
        coords = "".join(f"{v:10.3f}" for v in gm.means_[k, :shown])
        print(f"{k:3d}  {gm.weights_[k]:.4f}  {coords}")


def _time_one_iteration(gm, X) -> tuple[float, float]:
    """Seconds of one E-step + M-step of emfast and of sklearn, both from the
    parameters of the fitted emfast model ``gm``."""
    from .bench import sklearn_estimator, time_em_step, time_sklearn_step
    from .engine import fitted_params, model_for, source_for

    source = source_for(X)
    ours = time_em_step(
        model_for(gm, source), source, fitted_params(gm), repeat=1, warm_up=False
    )
    parameters = (gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_)
    theirs = time_sklearn_step(
        lambda: sklearn_estimator(parameters, gm.covariance_type, gm.reg_covar),
        X,
        repeat=1,
    )
    return ours.seconds[0], theirs.seconds[0]


def _demo(args) -> int:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from . import GaussianMixture
    from .workloads import make_workload

    X, workload = make_workload(
        _DEMO_WORKLOAD, n_samples=args.n_samples, seed=args.seed
    )
    n_components = workload.n_components
    if X.shape[0] < n_components:
        raise ValueError(
            f"--n-samples must be at least {n_components} (the number of components)"
        )
    print(
        f"Data: workload {workload.name}, {X.shape[0]:,} points x "
        f"{X.shape[1]} features ({X.nbytes / 2**20:.0f} MiB), "
        f"{n_components} true components, covariance '{workload.covariance_type}'"
    )

    def make(cls):
        return cls(
            n_components,
            covariance_type=workload.covariance_type,
            random_state=args.seed,
        )

    # Compile (or load from the on-disk cache) outside the timed fit.
    start = perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make(GaussianMixture).set_params(max_iter=2).fit(X[: 50 * n_components])
    print(f"Kernels compiled or loaded from cache in {perf_counter() - start:.1f} s")

    gm = make(GaussianMixture)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        seconds = _fit_timed(gm, X)
    print(f"\nemfast.GaussianMixture({n_components}, random_state={args.seed}):")
    _print_model(gm)
    print(f"iterations:     {gm.n_iter_}")
    print(f"converged:      {gm.converged_}")
    print(f"log-likelihood: {gm.lower_bound_:.6f} (mean per sample)")
    print(f"wall time:      {seconds:.2f} s")
    if caught:
        print("note: EM did not converge within max_iter")

    if args.compare:
        from sklearn.mixture import GaussianMixture as SkGaussianMixture

        print("\nFitting sklearn.mixture.GaussianMixture with the same settings ...")
        sk = make(SkGaussianMixture)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            sk_seconds = _fit_timed(sk, X)
        t_ours, t_sk = _time_one_iteration(gm, X)
        rows = [
            ("", "emfast", "sklearn"),
            ("iterations", f"{gm.n_iter_}", f"{sk.n_iter_}"),
            ("converged", f"{gm.converged_}", f"{sk.converged_}"),
            ("log-likelihood", f"{gm.lower_bound_:.6f}", f"{sk.lower_bound_:.6f}"),
            ("fit wall time (s)", f"{seconds:.2f}", f"{sk_seconds:.2f}"),
            ("one EM iteration (s)", f"{t_ours:.3f}", f"{t_sk:.3f}"),
        ]
        print()
        for name, a, b in rows:
            print(f"{name:<22}{a:>14}{b:>14}")
        print(
            f"speed-up: fit {sk_seconds / seconds:.1f}x, "
            f"one EM iteration {t_sk / t_ours:.1f}x"
        )
        print("(each fit starts from its own k-means and may reach another optimum;")
        print(" the single iteration starts both from emfast's fitted model)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``emfast`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments, without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        The exit status: 0 on success, 1 when the command failed (a one-line
        message goes to stderr), 2 for bad arguments, 130 when interrupted.

    Examples
    --------
    >>> from emfast.cli import main
    >>> main(["demo", "--n-samples", "20000"])  # doctest: +SKIP
    Data: workload W2, 20,000 points x 8 features (1 MiB), 16 true components, ...
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("emfast: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a line for the user, not a traceback
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"emfast: error: {message}", file=sys.stderr)
        return 1
