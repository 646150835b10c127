"""Pictures of a fitted mixture: the data with the components, and the
log-likelihood per iteration. Needs matplotlib (``pip install 'emfast[plot]'``).

The functions draw on matplotlib ``Axes`` given to them, or make a
``Figure`` of their own without pyplot (so they work without a display and
leave pyplot's state alone).
"""

from __future__ import annotations

import numpy as np

from ._covariance import full_covariances

_SIGMAS = (1.0, 2.0)


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib: pip install 'emfast[plot]' "
            "(or pip install matplotlib)"
        ) from None
    return Figure


def _new_axes(ax):
    if ax is not None:
        return ax
    return _figure_class()(figsize=(6, 5), layout="constrained").add_subplot()


def _points(gm, X, max_points, random_state):
    """X as float64 without NaN (imputed), at most max_points rows."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[1] != gm.n_features_in_:
        raise ValueError(
            f"X has shape {X.shape}; the model was fitted on "
            f"{gm.n_features_in_} features"
        )
    if np.isnan(X).any():
        X = gm.impute(X)
    if X.shape[0] > max_points:
        rows = np.random.default_rng(random_state).choice(
            X.shape[0], max_points, replace=False
        )
        X = X[np.sort(rows)]
    return X


def _ellipse_path(mean, cov, scale, n=100):
    """Points on the ellipse {x : (x - mean)^T cov^-1 (x - mean) = scale^2}."""
    values, vectors = np.linalg.eigh(cov)
    angles = np.linspace(0.0, 2.0 * np.pi, n)
    circle = np.stack([np.cos(angles), np.sin(angles)])
    return mean[:, None] + vectors @ (
        scale * np.sqrt(np.maximum(values, 0))[:, None] * circle
    )


def plot_mixture(
    gm,
    X,
    ax=None,
    *,
    max_points=20_000,
    random_state=0,
    feature_names=None,
    min_weight=1e-3,
):
    """Draw the data with the fitted components.

    One feature: a histogram of X with each component's weighted density and
    the mixture's density. Two features: the points, coloured by
    :meth:`~emfast.GaussianMixture.predict`, with each component's 1-sigma
    and 2-sigma ellipses. More features: the same on the first two principal
    axes of X (the means and covariances are projected on them too). Missing
    values are imputed with :meth:`~emfast.GaussianMixture.impute`.

    Parameters
    ----------
    gm : GaussianMixture
        A fitted mixture.
    X : array-like of shape (n_samples, n_features)
        The data.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    max_points : int, default=20000
        At most this many points (a random subset) are drawn.
    random_state : int, default=0
        Seed of the subset.
    feature_names : list of str, default=None
        Names for the axes (one or two features); ``gm.feature_names_in_``
        when the model has them, else "feature 0", "feature 1".
    min_weight : float, default=1e-3
        Components whose weight is below this are not drawn (a Bayesian
        mixture leaves its unneeded components with weights near 0); the
        title says how many were left out.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianMixture
    >>> from emfast.plot import plot_mixture
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> ax = plot_mixture(GaussianMixture(2, random_state=0).fit(X), X)
    >>> len(ax.lines)  # two ellipses per component
    4
    """
    ax = _new_axes(ax)
    X = _points(gm, X, max_points, random_state)
    n_features = X.shape[1]
    covs = full_covariances(
        gm.covariances_, gm.covariance_type, gm.n_components, n_features
    )
    means = np.asarray(gm.means_, dtype=np.float64)
    weights = np.asarray(gm.weights_, dtype=np.float64)
    shown = np.flatnonzero(weights >= min_weight)
    hidden = (
        f"; {gm.n_components - shown.size} with weight < {min_weight:g} not drawn"
        if shown.size < gm.n_components
        else ""
    )
    if feature_names is None:
        feature_names = getattr(gm, "feature_names_in_", None)
    if feature_names is None:
        feature_names = [f"feature {j}" for j in range(n_features)]
    if n_features == 1:
        _plot_1d(ax, X[:, 0], weights, means[:, 0], covs[:, 0, 0], shown, hidden)
        ax.set_xlabel(str(feature_names[0]))
        return ax
    labels = gm.predict(X)
    if n_features == 2:
        points, xlabel, ylabel = X, str(feature_names[0]), str(feature_names[1])
    else:
        # First two principal axes of the (subset of the) data.
        center = X.mean(axis=0)
        _, _, vt = np.linalg.svd(X - center, full_matrices=False)
        axes = vt[:2]
        points = (X - center) @ axes.T
        means = (means - center) @ axes.T
        covs = axes @ covs @ axes.T
        xlabel, ylabel = "principal axis 1", "principal axis 2"
    colours = [f"C{k % 10}" for k in range(gm.n_components)]
    ax.scatter(
        points[:, 0],
        points[:, 1],
        s=4,
        c=[colours[k] for k in labels],
        alpha=0.4,
        linewidths=0,
        rasterized=True,
    )
    for k in shown:
        for scale, style in zip(_SIGMAS, ("-", "--")):
            path = _ellipse_path(means[k], covs[k], scale)
            ax.plot(path[0], path[1], style, color="black", linewidth=1.0)
        ax.annotate(
            f"{k}: {weights[k]:.2f}",
            means[k],
            fontsize=8,
            ha="center",
            va="center",
            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.7, "lw": 0},
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(
        f"{gm.n_components} components ({gm.covariance_type}{hidden}); "
        "ellipses at 1 and 2 sigma, labels: component: weight",
        fontsize=9,
    )
    return ax


def _plot_1d(ax, x, weights, means, variances, shown, hidden):
    ax.hist(
        x,
        bins=min(100, max(10, int(np.sqrt(x.size)))),
        density=True,
        color="0.8",
        label="data",
    )
    grid = np.linspace(x.min(), x.max(), 500)
    pad = 0.05 * (grid[-1] - grid[0] or 1.0)
    grid = np.linspace(grid[0] - pad, grid[-1] + pad, 500)
    total = np.zeros_like(grid)
    for k, (w, m, v) in enumerate(zip(weights, means, variances, strict=True)):
        density = w * np.exp(-0.5 * (grid - m) ** 2 / v) / np.sqrt(2 * np.pi * v)
        total += density
        if k not in shown:
            continue
        ax.plot(
            grid,
            density,
            color=f"C{k % 10}",
            linewidth=1.0,
            label=f"component {k} (weight {w:.2f})",
        )
    ax.plot(grid, total, color="black", linewidth=1.5, label="mixture")
    ax.set_title(f"{len(weights)} components{hidden}: weighted densities", fontsize=9)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)


def plot_lower_bounds(gm, ax=None):
    """Draw the lower bound after each EM iteration of the kept
    initialization: the mean log-likelihood of a ``GaussianMixture``, the
    variational lower bound of a ``BayesianGaussianMixture``.

    Parameters
    ----------
    gm : GaussianMixture
        A fitted mixture.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianMixture
    >>> from emfast.plot import plot_lower_bounds
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> len(plot_lower_bounds(gm).lines[0].get_xdata()) == gm.n_iter_
    True
    """
    ax = _new_axes(ax)
    bounds = np.asarray(gm.lower_bounds_, dtype=np.float64)
    ax.plot(np.arange(1, bounds.size + 1), bounds, "o-", markersize=3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    # Late iterations change the bound in its 7th or later digit: plain tick
    # labels with as many decimals as the ticks need, not Matplotlib's offset
    # ("1e-7-5.330475") or scientific notation.
    from matplotlib.ticker import ScalarFormatter

    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    ax.yaxis.set_major_formatter(formatter)
    ax.set_xlabel("iteration")
    ax.set_ylabel(getattr(gm, "_lower_bound_name", "lower bound"))
    ax.set_title(
        f"{'converged' if gm.converged_ else 'not converged'} after "
        f"{gm.n_iter_} iterations",
        fontsize=9,
    )
    return ax


def plot_fit(gm, X, path=None, *, max_points=20_000, feature_names=None):
    """A figure of :func:`plot_mixture` and :func:`plot_lower_bounds` side by
    side, saved to ``path`` when given (the format from its suffix, e.g.
    ``.png``, ``.pdf``, ``.svg``).

    Parameters
    ----------
    gm : GaussianMixture
        A fitted mixture.
    X : array-like of shape (n_samples, n_features)
        The data.
    path : str or os.PathLike, default=None
        Where to save the figure.
    max_points : int, default=20000
        At most this many points are drawn.
    feature_names : list of str, default=None
        Names for the axes, as in :func:`plot_mixture`.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianMixture
    >>> from emfast.plot import plot_fit
    >>> X = np.random.default_rng(0).normal(size=(300, 1))
    >>> fig = plot_fit(GaussianMixture(2, random_state=0).fit(X), X)
    >>> len(fig.axes)
    2
    """
    fig = _figure_class()(figsize=(11, 4.5), layout="constrained")
    data_ax, bound_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    plot_mixture(gm, X, data_ax, max_points=max_points, feature_names=feature_names)
    plot_lower_bounds(gm, bound_ax)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
