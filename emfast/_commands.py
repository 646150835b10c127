"""The data subcommands of ``emfast``: ``fit``, ``predict`` and ``plot``.

``emfast fit DATA -k K -o MODEL.npz`` fits a mixture to a data file and saves
it (``GaussianMixture.save``); ``emfast predict MODEL DATA -o OUT`` writes
labels or probabilities; ``emfast plot MODEL DATA -o FIG.png`` draws the fit.
Errors reach the user as one line on stderr (see ``cli.main``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np

_SHOWN_COMPONENTS = 10
_SHOWN_COORDS = 4
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


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


def add_parsers(subparsers) -> None:
    """Add ``fit``, ``predict`` and ``plot`` to the ``emfast`` command."""
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
        help="draw the data with the fitted components",
        description=(
            "Draw DATA with the components of MODEL: for 1 feature a histogram "
            "with the component densities and the mixture, for 2 a scatter "
            "with 1- and 2-sigma ellipses, for more the same on the first two "
            "principal axes; beside it, the log-likelihood per iteration. "
            "Needs matplotlib (pip install 'emfast[plot]')."
        ),
    )
    plot.add_argument("model", metavar="MODEL", help="model file from emfast fit")
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
    plot.set_defaults(handler=_plot)


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
                    **{k: v for k, v in params.items() if k != "covariance_type"},
                )
                gm = selection.best_estimator
            elif args.bayesian:
                selection = None
                gm = BayesianGaussianMixture(
                    n_components=args.n_components, **params
                ).fit(X)
            else:
                selection = None
                gm = GaussianMixture(args.n_components, **params).fit(X)
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


def _predict(args) -> int:
    from ._io import read_data, write_array

    gm = _load_model(args.model)
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
    from .plot import _figure_class, plot_fit

    _figure_class()  # a clear message when matplotlib is missing
    gm = _load_model(args.model)
    X, names = read_data(args.data)
    if X.shape[1] != gm.n_features_in_:
        raise ValueError(
            f"{args.data} has {X.shape[1]} features but the model was fitted "
            f"on {gm.n_features_in_} features"
        )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    plot_fit(gm, X, args.output, max_points=args.max_points, feature_names=names)
    return 0
