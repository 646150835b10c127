"""The data subcommands of ``emfast``: ``fit``, ``predict``, ``plot`` and
``hmm``; and ``compile``.

``emfast fit DATA -k K -o MODEL.npz`` fits a mixture to a data file and saves
it (``GaussianMixture.save``); ``emfast predict MODEL DATA -o OUT`` writes
labels or probabilities; ``emfast plot MODEL DATA -o FIG.png`` draws the fit
(of a mixture or of a hidden Markov model). ``emfast hmm fit DATA -k K -o
MODEL.npz`` fits a hidden Markov model (``GaussianHMM`` or ``GMMHMM``) to the
sequences of a data file, cut by ``--lengths FILE`` or ``--sequence-column
N``; ``emfast hmm decode MODEL DATA -o STATES`` writes the decoded states.
``emfast compile`` fills Numba's cache with every kernel ahead of time
(``_compile``). Errors reach the user as one line on stderr (see
``cli.main``).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from contextlib import nullcontext
from pathlib import Path
from time import perf_counter

import numpy as np

from ._init import INIT_PARAMS
from .selection import DEFAULT_STARTS

_SHOWN_COMPONENTS = 10
_SHOWN_COORDS = 4
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
# The hidden Markov models of ``emfast hmm fit --model``.
HMM_MODELS = ("gaussian", "gmm")


def int_at_least(minimum: int):
    """argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {value}"
            )
        return value

    return parse


_positive_int = int_at_least(1)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _k_range(text: str) -> range:
    """'1-10' or '3' -> a range of numbers of components."""
    parts = text.split("-")
    try:
        bounds = [int(p) for p in parts]
    except ValueError:
        bounds = []
    if len(bounds) == 1:
        bounds = bounds * 2
    if len(bounds) != 2 or not 1 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(
            f"expected a range of numbers of components like 1-10, got {text!r}"
        )
    return range(bounds[0], bounds[1] + 1)


def name_list(choices):
    """argparse type: comma-separated names from ``choices``."""

    def parse(text: str) -> list[str]:
        names = [name.strip().lower() for name in text.split(",") if name.strip()]
        if not names or any(name not in choices for name in names):
            raise argparse.ArgumentTypeError(
                f"expected comma-separated names from {','.join(choices)}, got {text!r}"
            )
        return list(dict.fromkeys(names))

    return parse


def _add_compile_parser(subparsers) -> None:
    from ._compile import DTYPES, MODELS

    compile_ = subparsers.add_parser(
        "compile",
        help="compile every kernel into Numba's on-disk cache, ahead of time",
        description=(
            "Compile every kernel that the models use (or load it from the "
            "cache) by running each model once on a few points, for float64 "
            "and float32 data, so that later fits do not wait for the "
            "compiler: for container images and read-only installs. The "
            "kernels go to Numba's cache (the package's __pycache__, or "
            "NUMBA_CACHE_DIR); they are kept for this CPU model."
        ),
    )
    compile_.add_argument(
        "--models",
        type=name_list(MODELS),
        default=list(MODELS),
        metavar="LIST",
        help=f"comma-separated models from {','.join(MODELS)} (default: all)",
    )
    compile_.add_argument(
        "--dtypes",
        type=name_list(DTYPES),
        default=list(DTYPES),
        metavar="LIST",
        help=f"comma-separated data types from {','.join(DTYPES)} (default: both)",
    )
    compile_.add_argument(
        "--quiet", action="store_true", help="print only the total time"
    )
    compile_.set_defaults(handler=_compile)


def _compile(args) -> int:
    from ._compile import cache_location, compile_kernels
    from ._jit import _cache_enabled

    if not _cache_enabled():
        raise ValueError(
            f"the compile cache is off (EMFAST_CACHE={os.environ['EMFAST_CACHE']}): "
            "compiled kernels would not be kept; unset EMFAST_CACHE"
        )
    start = perf_counter()
    compile_kernels(args.models, args.dtypes, progress=None if args.quiet else print)
    print(
        f"Kernels compiled or loaded in {perf_counter() - start:.1f} s; "
        f"cache: {cache_location()}"
    )
    return 0


def add_parsers(subparsers) -> None:
    """Add ``fit``, ``predict``, ``plot``, ``hmm`` and ``compile`` to the
    ``emfast`` command."""
    fit = subparsers.add_parser(
        "fit",
        help="fit a mixture to a data file and save it",
        description=(
            "Fit a Gaussian mixture to DATA (.npy, .csv/.tsv with or without a "
            "header, .parquet with pyarrow) and save it to MODEL.npz (read it "
            "back with emfast.load). Prints the components, convergence, the "
            "log-likelihood and BIC. With --select, fits every number of "
            "components in the range and keeps the best by BIC."
        ),
    )
    fit.add_argument("data", metavar="DATA", help="the data file, one point per row")
    group = fit.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "-k",
        "--n-components",
        type=_positive_int,
        metavar="K",
        help="number of components",
    )
    group.add_argument(
        "--select",
        type=_k_range,
        metavar="A-B",
        help="fit A..B components and keep the best by BIC (e.g. 1-10)",
    )
    fit.add_argument(
        "-o", "--output", required=True, metavar="MODEL.npz", help="model file to write"
    )
    fit.add_argument(
        "--covariance-type",
        choices=COVARIANCE_TYPES,
        default="full",
        help="(default: full)",
    )
    fit.add_argument(
        "--n-init", type=_positive_int, default=1, help="restarts (default: 1)"
    )
    fit.add_argument(
        "--init-params",
        choices=INIT_PARAMS,
        default=None,
        help="the start (default: kmeans; with --select, the best of small-em "
        "and kmeans per candidate)",
    )
    fit.add_argument(
        "--max-iter",
        type=_positive_int,
        default=100,
        help="EM iterations (default: 100)",
    )
    fit.add_argument(
        "--tol",
        type=_non_negative_float,
        default=1e-3,
        help="convergence threshold on the mean log-likelihood (default: 1e-3)",
    )
    fit.add_argument(
        "--reg-covar",
        type=_non_negative_float,
        default=1e-6,
        help="added to the covariances' diagonal (default: 1e-6)",
    )
    fit.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    fit.add_argument(
        "--nan-policy",
        choices=("raise", "omit", "marginalize"),
        default="raise",
        help="missing values: an error, drop their rows, or exact EM (default: raise)",
    )
    fit.add_argument(
        "--bayesian",
        action="store_true",
        help=(
            "fit a BayesianGaussianMixture (variational; -k is then an upper "
            "bound, unneeded components get weights near 0); not with --select"
        ),
    )
    fit.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no summary"
    )
    fit.set_defaults(handler=_fit)

    predict = subparsers.add_parser(
        "predict",
        help="write the component of each point (or probabilities)",
        description=(
            "Load MODEL (from emfast fit) and write, for each row of DATA, the "
            "most probable component (or with --proba the probability of each "
            "component) to OUT (.npy or .csv)."
        ),
    )
    predict.add_argument("model", metavar="MODEL", help="model file from emfast fit")
    predict.add_argument("data", metavar="DATA", help="the data file")
    predict.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help=".npy or .csv file to write",
    )
    predict.add_argument(
        "--proba", action="store_true", help="write probabilities, one column each"
    )
    predict.set_defaults(handler=_predict)

    plot = subparsers.add_parser(
        "plot",
        help="draw the data with the fitted components (or HMM states)",
        description=(
            "Draw DATA with the components of MODEL: for 1 feature a histogram "
            "with the component densities and the mixture, for 2 a scatter "
            "with 1- and 2-sigma ellipses, for more the same on the first two "
            "principal axes; beside it, the log-likelihood per iteration. For "
            "a hidden Markov model (from emfast hmm fit): the series of the "
            "first features coloured by the decoded state, and the transition "
            "matrix. Needs matplotlib (pip install 'emfast[plot]')."
        ),
    )
    plot.add_argument(
        "model", metavar="MODEL", help="model file from emfast fit or emfast hmm fit"
    )
    plot.add_argument("data", metavar="DATA", help="the data file")
    plot.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FIG.png",
        help="image file (.png, .pdf, .svg)",
    )
    plot.add_argument(
        "--max-points",
        type=_positive_int,
        default=20_000,
        help="draw at most this many points (default: 20000)",
    )
    _add_sequence_options(plot, "a hidden Markov model's ")
    plot.set_defaults(handler=_plot)
    _add_hmm_parser(subparsers)
    _add_compile_parser(subparsers)


def _add_sequence_options(parser, whose="") -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--lengths",
        metavar="FILE",
        help=(
            f"{whose}sequence lengths, one integer per line (or a 1-D .npy); "
            "they must sum to the number of rows of DATA"
        ),
    )
    group.add_argument(
        "--sequence-column",
        metavar="N",
        help=(
            "the column of DATA holding a sequence id (a 0-based index, or a "
            "name in the header): consecutive rows with the same id form a "
            "sequence; the column is not a feature"
        ),
    )


def _add_hmm_parser(subparsers) -> None:
    hmm = subparsers.add_parser(
        "hmm",
        help="fit a hidden Markov model to sequences, or decode them",
        description=(
            "Hidden Markov models (emfast.GaussianHMM, emfast.GMMHMM) on the "
            "sequences of a data file: emfast hmm fit, emfast hmm decode."
        ),
    )
    commands = hmm.add_subparsers(dest="hmm_command", metavar="COMMAND")
    commands.required = True
    fit = commands.add_parser(
        "fit",
        help="fit a hidden Markov model to a data file and save it",
        description=(
            "Fit a hidden Markov model to the sequences of DATA (.npy, "
            ".csv/.tsv, .parquet; one time step per row) and save it to "
            "MODEL.npz (read it back with emfast.load). Without --lengths or "
            "--sequence-column the whole file is one sequence. Prints the "
            "log-likelihood, the iterations, whether Baum-Welch converged, "
            "the states and the transition matrix."
        ),
    )
    fit.add_argument("data", metavar="DATA", help="the data file, one step per row")
    fit.add_argument(
        "-k",
        "--n-components",
        type=_positive_int,
        required=True,
        metavar="K",
        help="number of hidden states",
    )
    fit.add_argument(
        "-o", "--output", required=True, metavar="MODEL.npz", help="model file to write"
    )
    _add_sequence_options(fit)
    fit.add_argument(
        "--model",
        choices=HMM_MODELS,
        default="gaussian",
        help=(
            "each state emits a Gaussian (GaussianHMM) or a mixture of --n-mix "
            "Gaussians (GMMHMM) (default: gaussian)"
        ),
    )
    fit.add_argument(
        "--n-mix",
        type=_positive_int,
        default=None,
        metavar="M",
        help="Gaussians per state for --model gmm (default: 2)",
    )
    fit.add_argument(
        "--covariance-type",
        choices=COVARIANCE_TYPES,
        default="diag",
        help="(default: diag, as hmmlearn)",
    )
    fit.add_argument(
        "--n-iter",
        type=_positive_int,
        default=100,
        help="Baum-Welch iterations at most (default: 100)",
    )
    fit.add_argument(
        "--tol",
        type=_non_negative_float,
        default=1e-2,
        help="stop when the log-likelihood gains less than this (default: 1e-2)",
    )
    fit.add_argument(
        "--n-init", type=_positive_int, default=1, help="restarts (default: 1)"
    )
    fit.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    fit.add_argument(
        "--nan-policy",
        choices=("raise", "marginalize"),
        default="raise",
        help=(
            "missing values: an error, or left out of each step's emission "
            "density (default: raise)"
        ),
    )
    fit.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no summary"
    )
    fit.set_defaults(handler=_hmm_fit)

    decode = commands.add_parser(
        "decode",
        help="write the most probable state of each step",
        description=(
            "Load MODEL (from emfast hmm fit) and write the decoded state of "
            "each row of DATA to OUT (.npy or .csv): the most probable state "
            "sequence (Viterbi) by default. With --posteriors, also each "
            "state's posterior probability at each step to another file."
        ),
    )
    decode.add_argument("model", metavar="MODEL", help="model file from emfast hmm fit")
    decode.add_argument("data", metavar="DATA", help="the data file")
    decode.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help=".npy or .csv file to write",
    )
    _add_sequence_options(decode)
    decode.add_argument(
        "--algorithm",
        choices=("viterbi", "map"),
        default=None,
        help=(
            "viterbi: the most probable path; map: the most probable state at "
            "each step (default: the model's, viterbi unless set otherwise)"
        ),
    )
    decode.add_argument(
        "--posteriors",
        metavar="FILE",
        default=None,
        help="also write p(state | the whole sequence), one column per state",
    )
    decode.set_defaults(handler=_hmm_decode)


def _progress(quiet: bool):
    """A tqdm bar on stderr counting EM iterations (and restarts), as an
    iteration observer; None when quiet or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(desc="EM", unit=" iter", file=sys.stderr, leave=False)

    def observe(init, n_iter, lower_bound):
        bar.set_postfix_str(f"init {init + 1}, log-likelihood {lower_bound:.6g}")
        bar.update(1)

    observe.close = bar.close
    return observe


def _fit(args) -> int:
    from . import BayesianGaussianMixture, GaussianMixture, select_model
    from ._em import observe_iterations
    from ._io import read_data

    if args.bayesian and args.select is not None:
        raise ValueError(
            "--bayesian chooses the number of components itself: give -k (an "
            "upper bound) instead of --select"
        )
    X, names = read_data(args.data)
    if args.nan_policy == "raise" and np.isnan(X).any():
        raise ValueError(
            f"{args.data} has missing values (NaN or empty fields); use "
            "--nan-policy omit (drop those rows) or marginalize (exact EM)"
        )
    params = {
        "covariance_type": args.covariance_type,
        "n_init": args.n_init,
        "max_iter": args.max_iter,
        "tol": args.tol,
        "reg_covar": args.reg_covar,
        "random_state": args.seed,
        "nan_policy": args.nan_policy,
    }
    init = "kmeans" if args.init_params is None else args.init_params
    observer = _progress(args.quiet)
    context = observe_iterations(observer) if observer else nullcontext()
    with context, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if args.select is not None:
                selection = select_model(
                    X,
                    n_components=args.select,
                    covariance_types=(args.covariance_type,),
                    starts=DEFAULT_STARTS
                    if args.init_params is None
                    else (args.init_params,),
                    **{k: v for k, v in params.items() if k != "covariance_type"},
                )
                gm = selection.best_estimator
            elif args.bayesian:
                selection = None
                gm = BayesianGaussianMixture(
                    n_components=args.n_components, init_params=init, **params
                ).fit(X)
            else:
                selection = None
                gm = GaussianMixture(args.n_components, init_params=init, **params).fit(
                    X
                )
        finally:
            if observer:
                observer.close()
    path = gm.save(args.output)
    if not args.quiet:
        for w in caught:
            print(
                f"emfast: warning: {' '.join(str(w.message).split())}", file=sys.stderr
            )
        if selection is not None:
            print(selection)
            print()
        _print_summary(gm, X, names, path)
    return 0


def _print_summary(gm, X, names, path) -> None:
    n_samples, n_features = X.shape
    print(
        f"Fitted {gm.n_components} components ({gm.covariance_type}) to "
        f"{n_samples:,} points x {n_features} features"
    )
    coords = names[:_SHOWN_COORDS] if names else [f"x{j}" for j in range(n_features)]
    more = " ..." if n_features > _SHOWN_COORDS else ""
    shown = ", ".join(coords[:_SHOWN_COORDS])
    print(f"{'component':>9}  {'weight':>7}  mean ({shown}{more})")
    order = np.argsort(-np.asarray(gm.weights_))
    for k in order[:_SHOWN_COMPONENTS]:
        mean = ", ".join(f"{v:.4g}" for v in gm.means_[k][:_SHOWN_COORDS])
        print(f"{k:>9}  {gm.weights_[k]:7.4f}  ({mean}{more})")
    if gm.n_components > _SHOWN_COMPONENTS:
        print(f"{'':>9}  ... {gm.n_components - _SHOWN_COMPONENTS} more")
    status = "converged" if gm.converged_ else "did not converge"
    print(f"{status} after {gm.n_iter_} iterations")
    if getattr(gm, "n_samples_omitted_", 0):
        print(f"rows with NaN omitted: {gm.n_samples_omitted_:,}")
    if gm.nan_policy == "omit":
        X = X[~np.isnan(X).any(axis=1)]
    print(f"log-likelihood per point: {gm.score(X):.6f}")
    if hasattr(gm, "bic"):
        print(f"BIC: {gm.bic(X):.6g}")
    else:
        print(f"lower bound: {gm.lower_bound_:.6g}")
    print(f"saved to {path}")


def _load_model(path):
    from ._persist import load

    return load(path)


def _is_hmm(model) -> bool:
    from .hmm import BaseHMM

    return isinstance(model, BaseHMM)


def _predict(args) -> int:
    from ._io import check_output, read_data, write_array

    check_output(args.output)
    gm = _load_model(args.model)
    if _is_hmm(gm):
        raise ValueError(
            f"{args.model} holds a {type(gm).__name__}: use emfast hmm decode"
        )
    X, _ = read_data(args.data)
    if args.proba:
        values = gm.predict_proba(X)
        header = [f"p{k}" for k in range(gm.n_components)]
    else:
        values = gm.predict(X)
        header = ["label"]
    write_array(args.output, values, header)
    return 0


def _plot(args) -> int:
    from ._io import read_data
    from .plot import _figure_class, plot_fit, plot_hmm

    _figure_class()  # a clear message when matplotlib is missing
    model = _load_model(args.model)
    X, names = read_data(args.data)
    if _is_hmm(model):
        X, names, lengths = _sequences(args, X, names)
        n_features = model.n_features
    elif args.lengths is not None or args.sequence_column is not None:
        raise ValueError(
            "--lengths and --sequence-column are for hidden Markov models; "
            f"{args.model} holds a {type(model).__name__}"
        )
    else:
        n_features = model.n_features_in_
    _check_width(args, X, n_features)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    if _is_hmm(model):
        plot_hmm(
            model,
            X,
            lengths,
            args.output,
            max_points=args.max_points,
            feature_names=names,
        )
    else:
        plot_fit(model, X, args.output, max_points=args.max_points, feature_names=names)
    return 0


def _check_width(args, X, n_features) -> None:
    if X.shape[1] != n_features:
        besides = (
            " besides the sequence column"
            if getattr(args, "sequence_column", None) is not None
            else ""
        )
        raise ValueError(
            f"{args.data} has {X.shape[1]} features{besides} but the model was "
            f"fitted on {n_features} features"
        )


# ------------------------------------------------------------ emfast hmm


def _sequences(args, X, names):
    """X without its sequence column, the feature names, and the sequence
    lengths from --lengths or --sequence-column (None: one sequence)."""
    from ._io import read_lengths, split_sequence_column

    if args.sequence_column is not None:
        return split_sequence_column(X, names, args.sequence_column, args.data)
    if args.lengths is None:
        return X, names, None
    lengths = read_lengths(args.lengths)
    total = int(lengths.sum())
    if total != X.shape[0]:
        raise ValueError(
            f"the sequence lengths in {args.lengths} sum to {total:,} but "
            f"{args.data} has {X.shape[0]:,} rows"
        )
    return X, names, lengths


def _hmm_fit(args) -> int:
    from . import GMMHMM, GaussianHMM
    from ._em import observe_iterations
    from ._io import read_data

    if args.model == "gaussian" and args.n_mix is not None:
        raise ValueError("--n-mix is for --model gmm")
    X, names = read_data(args.data)
    X, names, lengths = _sequences(args, X, names)
    if args.nan_policy == "raise" and np.isnan(X).any():
        raise ValueError(
            f"{args.data} has missing values (NaN or empty fields); use "
            "--nan-policy marginalize"
        )
    params = {
        "covariance_type": args.covariance_type,
        "n_iter": args.n_iter,
        "tol": args.tol,
        "n_init": args.n_init,
        "random_state": args.seed,
    }
    if args.nan_policy != "raise":
        params["nan_policy"] = args.nan_policy
    if args.model == "gmm":
        model = GMMHMM(args.n_components, n_mix=args.n_mix or 2, **params)
    else:
        model = GaussianHMM(args.n_components, **params)
    observer = _progress(args.quiet)
    context = observe_iterations(observer) if observer else nullcontext()
    with context, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X, lengths)
        finally:
            if observer:
                observer.close()
    path = model.save(args.output)
    if not args.quiet:
        for w in caught:
            print(
                f"emfast: warning: {' '.join(str(w.message).split())}", file=sys.stderr
            )
        _print_hmm_summary(model, X, lengths, names, path)
    return 0


def _print_hmm_summary(model, X, lengths, names, path) -> None:
    n_rows, n_features = X.shape
    n_sequences = 1 if lengths is None else len(lengths)
    K = model.n_components
    mix = f", {model.n_mix} Gaussians each" if hasattr(model, "n_mix") else ""
    print(
        f"Fitted {type(model).__name__}: {K} states ({model.covariance_type}{mix}) "
        f"to {n_rows:,} rows x {n_features} feature{'s' if n_features > 1 else ''} "
        f"in {n_sequences:,} "
        f"sequence{'s' if n_sequences > 1 else ''}"
    )
    history = list(model.monitor_.history)
    # hmmlearn's monitor counts reaching n_iter as converged; say which.
    if len(history) >= 2 and history[-1] - history[-2] < model.tol:
        print(f"converged after {model.monitor_.iter} iterations")
    else:
        print(
            f"did not converge in {model.monitor_.iter} iterations (raise "
            "--n-iter or --tol)"
        )
    score = model.score(X, lengths)
    print(f"log-likelihood: {score:.6f} ({score / n_rows:.6f} per row)")
    coords = names[:_SHOWN_COORDS] if names else [f"x{j}" for j in range(n_features)]
    more = " ..." if n_features > _SHOWN_COORDS else ""
    coords = f"({', '.join(coords)}{more})"
    print(f"{'state':>9}  {'start':>7}  mean {coords}  sd {coords}")
    means, variances = _state_moments(model)
    shown = min(K, _SHOWN_COMPONENTS)
    for k in range(shown):
        mean = ", ".join(f"{v:.4g}" for v in means[k][:_SHOWN_COORDS])
        sd = ", ".join(f"{v:.4g}" for v in np.sqrt(variances[k][:_SHOWN_COORDS]))
        print(f"{k:>9}  {model.startprob_[k]:7.4f}  ({mean}{more})  ({sd}{more})")
    cut = " ..." if shown < K else ""
    if cut:
        print(f"{'':>9}  ... {K - shown} more")
    print("transition matrix (row: from, column: to):")
    print(" " * 9 + "".join(f"{k:>8}" for k in range(shown)) + cut)
    for k in range(shown):
        row = "".join(f"{p:8.4f}" for p in model.transmat_[k, :shown])
        print(f"{k:>9}{row}{cut}")
    print(f"saved to {path}")


def _state_moments(model):
    """Each state's emission mean and variances (K, D); a GMMHMM state's
    mixture as a whole."""
    if not hasattr(model, "n_mix"):
        return model.means_, np.diagonal(model.covars_, axis1=1, axis2=2)
    from .gmmhmm import full_mixture_covariances

    weights = model.weights_[..., None]
    covariances = full_mixture_covariances(
        model.covars_, model.covariance_type, model.n_mix, model.n_features
    )
    variances = np.diagonal(covariances, axis1=2, axis2=3)
    means = (weights * model.means_).sum(axis=1)
    second_moments = (weights * (variances + model.means_**2)).sum(axis=1)
    return means, np.maximum(second_moments - means**2, 0.0)


def _hmm_decode(args) -> int:
    from ._io import check_output, read_data, write_array

    check_output(args.output)
    if args.posteriors is not None:
        check_output(args.posteriors)
    model = _load_model(args.model)
    if not _is_hmm(model):
        raise ValueError(
            f"{args.model} holds a {type(model).__name__}, not a hidden Markov "
            "model: use emfast predict"
        )
    X, names = read_data(args.data)
    X, _, lengths = _sequences(args, X, names)
    _check_width(args, X, model.n_features)
    _, states = model.decode(X, lengths, algorithm=args.algorithm)
    write_array(args.output, states, ["state"])
    if args.posteriors is not None:
        header = [f"p{k}" for k in range(model.n_components)]
        write_array(args.posteriors, model.predict_proba(X, lengths), header)
    return 0
