"""Pictures of a fitted mixture: the data with the components, and the
log-likelihood per iteration; and of a fitted hidden Markov model: the
series coloured by the decoded state, and the transition matrix. Needs
matplotlib (``pip install 'emfast[plot]'``).

The functions draw on matplotlib ``Axes`` given to them, or make a
``Figure`` of their own without pyplot (so they work without a display and
leave pyplot's state alone).
"""

from __future__ import annotations

import math

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
    """A figure of :func:`~emfast.plot.plot_mixture` and
    :func:`~emfast.plot.plot_lower_bounds` side by side, saved to ``path``
    when given (the format from its suffix, e.g. ``.png``, ``.pdf``,
    ``.svg``).

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


# ------------------------------------------------------------ hidden Markov models

# Sequence boundaries are drawn for at most this many sequences.
_MAX_BOUNDARIES = 50
# Transition probabilities are written in the cells up to this many states.
_MAX_ANNOTATED_STATES = 12


def _series(model, X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[1] != model.n_features:
        raise ValueError(
            f"X has shape {X.shape}; the model was fitted on "
            f"{model.n_features} features"
        )
    return X


def plot_states(
    model,
    X,
    lengths=None,
    axes=None,
    *,
    max_points=20_000,
    max_features=4,
    feature_names=None,
):
    """Draw the series, each step coloured by its decoded state.

    One panel per feature (the first ``max_features``), the steps of all
    sequences one after another, with dotted lines where a sequence starts.
    The states are :meth:`~emfast.GaussianHMM.predict` of all of X (the
    model's ``algorithm``); a long series is drawn at every n-th step.

    Parameters
    ----------
    model : GaussianHMM or GMMHMM
        A fitted hidden Markov model.
    X : array-like of shape (n_samples, n_features)
        The sequences, one after another.
    lengths : array-like of int, default=None
        Their lengths; None: one sequence.
    axes : matplotlib.axes.Axes or sequence of matplotlib.axes.Axes, default=None
        Where to draw, one per feature shown; a new figure when None.
    max_points : int, default=20000
        At most this many steps are drawn (every n-th step of a longer
        series).
    max_features : int, default=4
        At most this many features are drawn (the first ones).
    feature_names : list of str, default=None
        Names for the panels; "feature 0", "feature 1"... when None.

    Returns
    -------
    axes : list of matplotlib.axes.Axes
        The axes drawn on, one per feature shown.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianHMM
    >>> from emfast.plot import plot_states
    >>> X = np.concatenate([np.zeros(50), np.full(50, 5.0)])[:, None]
    >>> X = X + np.random.default_rng(0).normal(size=X.shape)
    >>> model = GaussianHMM(2, random_state=0).fit(X, lengths=[60, 40])
    >>> axes = plot_states(model, X, lengths=[60, 40])
    >>> len(axes), len(axes[0].collections)  # one set of points per state
    (1, 2)
    """
    X = _series(model, X)
    states = model.predict(X, lengths)
    n_rows, n_features = X.shape
    n_shown = min(n_features, max_features)
    if axes is None:
        fig = _figure_class()(figsize=(9, 1.2 + 1.6 * n_shown), layout="constrained")
        axes = fig.subplots(n_shown, 1, sharex=True, squeeze=False)[:, 0]
    axes = list(np.atleast_1d(axes))
    if len(axes) < n_shown:
        raise ValueError(f"{n_shown} features to draw but {len(axes)} axes given")
    if feature_names is None:
        feature_names = [f"feature {j}" for j in range(n_features)]
    step = max(1, math.ceil(n_rows / max_points))
    rows = np.arange(0, n_rows, step)
    starts = np.cumsum(lengths)[:-1] if lengths is not None else []
    for j, ax in enumerate(axes[:n_shown]):
        ax.plot(rows, X[rows, j], color="0.75", linewidth=0.6, zorder=1)
        for k in range(model.n_components):
            shown = rows[states[rows] == k]
            ax.scatter(
                shown,
                X[shown, j],
                s=5,
                color=f"C{k % 10}",
                linewidths=0,
                label=f"state {k}",
                rasterized=True,
                zorder=2,
            )
        if len(starts) <= _MAX_BOUNDARIES:
            for start in starts:
                ax.axvline(start - 0.5, color="0.3", linestyle=":", linewidth=0.8)
        ax.set_ylabel(str(feature_names[j]))
    axes[n_shown - 1].set_xlabel("step (the sequences one after another)")
    n_sequences = 1 if lengths is None else len(lengths)
    notes = [f"{n_sequences} sequence{'s' if n_sequences > 1 else ''}"]
    if n_shown < n_features:
        notes.append(f"first {n_shown} of {n_features} features")
    if step > 1:
        notes.append(f"every {step}th step drawn")
    axes[0].set_title(
        f"{model.n_components} states, decoded ({model.algorithm}); "
        + ", ".join(notes),
        fontsize=9,
    )
    if model.n_components <= 10:
        axes[0].legend(
            fontsize=8, ncols=model.n_components, loc="upper right", markerscale=2
        )
    return axes[:n_shown]


def plot_transitions(model, ax=None):
    """Draw the transition matrix as a heatmap, with the probabilities
    written in the cells (up to 12 states).

    Parameters
    ----------
    model : GaussianHMM or GMMHMM
        A fitted hidden Markov model.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianHMM
    >>> from emfast.plot import plot_transitions
    >>> model = GaussianHMM(2, init_params="")
    >>> model.transmat_ = np.array([[0.9, 0.1], [0.25, 0.75]])
    >>> [text.get_text() for text in plot_transitions(model).texts]
    ['0.90', '0.10', '0.25', '0.75']
    """
    ax = _new_axes(ax)
    transmat = np.asarray(model.transmat_, dtype=np.float64)
    K = transmat.shape[0]
    image = ax.imshow(transmat, vmin=0.0, vmax=1.0, cmap="Blues")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="probability")
    if K <= _MAX_ANNOTATED_STATES:
        for i in range(K):
            for j in range(K):
                p = transmat[i, j]
                ax.text(
                    j,
                    i,
                    f"{p:.2f}",
                    ha="center",
                    va="center",
                    fontsize=9 if K <= 6 else 7,
                    color="white" if p > 0.6 else "black",
                )
    ticks = np.arange(K)
    ax.set_xticks(ticks, [str(k) for k in ticks])
    ax.set_yticks(ticks, [str(k) for k in ticks])
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        for k, label in enumerate(labels):
            label.set_color(f"C{k % 10}")
    ax.set_xlabel("to state")
    ax.set_ylabel("from state")
    ax.set_title("transition matrix", fontsize=9)
    return ax


def plot_hmm(
    model,
    X,
    lengths=None,
    path=None,
    *,
    fig=None,
    max_points=20_000,
    max_features=4,
    feature_names=None,
):
    """A figure of :func:`~emfast.plot.plot_states` and
    :func:`~emfast.plot.plot_transitions` side by side, saved to ``path``
    when given (the format from its suffix).

    Parameters
    ----------
    model : GaussianHMM or GMMHMM
        A fitted hidden Markov model.
    X : array-like of shape (n_samples, n_features)
        The sequences, one after another.
    lengths : array-like of int, default=None
        Their lengths; None: one sequence.
    path : str or os.PathLike, default=None
        Where to save the figure.
    fig : matplotlib.figure.Figure, default=None
        The (empty) figure to draw in, e.g. ``plt.figure()``; a new one of
        its own when None.
    max_points, max_features, feature_names
        As in :func:`plot_states`.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast import GaussianHMM
    >>> from emfast.plot import plot_hmm
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)) + np.repeat([[0, 0], [4, 4]], 100, axis=0)
    >>> model = GaussianHMM(2, random_state=0).fit(X)
    >>> fig = plot_hmm(model, X)
    >>> [ax.get_title() for ax in fig.axes][-2:]  # the heatmap and its colorbar
    ['transition matrix', '']
    """
    n_shown = min(_series(model, X).shape[1], max_features)
    if fig is None:
        fig = _figure_class()(figsize=(12, 1.6 + 1.6 * n_shown), layout="constrained")
    grid = fig.add_gridspec(n_shown, 2, width_ratios=(3, 1.2))
    series = [fig.add_subplot(grid[0, 0])]
    series += [fig.add_subplot(grid[j, 0], sharex=series[0]) for j in range(1, n_shown)]
    plot_states(
        model,
        X,
        lengths,
        series,
        max_points=max_points,
        max_features=max_features,
        feature_names=feature_names,
    )
    plot_transitions(model, fig.add_subplot(grid[:, 1]))
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
