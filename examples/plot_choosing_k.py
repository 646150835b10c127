"""
Choosing the number of components
=================================

A Gaussian mixture needs its number of components K. Two ways to choose
it: fit a grid of models and compare an information criterion (BIC, or
ICL, which also penalises overlapping components) with
:func:`~emfast.select_model`; or fit one variational Bayesian mixture with
more components than needed, and let its prior on the weights switch off
those the data do not use.
"""

# %%
# The data
# --------
#
# Four clusters in two dimensions: two large tilted ones and two small
# round ones that overlap each other.

import matplotlib.pyplot as plt
import numpy as np

import emfast

rng = np.random.default_rng(0)
centres = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 5.0], [4.8, 5.9]])
covariances = np.array(
    [
        [[1.5, 0.8], [0.8, 1.0]],
        [[0.6, -0.3], [-0.3, 1.2]],
        [[0.5, 0.0], [0.0, 0.5]],
        [[0.5, 0.0], [0.0, 0.5]],
    ]
)
sizes = [1200, 1000, 500, 300]
X = np.vstack(
    [
        rng.multivariate_normal(m, c, size=n)
        for m, c, n in zip(centres, covariances, sizes)
    ]
)

# %%
# A grid of models, compared by BIC and ICL
# -----------------------------------------
#
# :func:`~emfast.select_model` fits every combination of a number of
# components and a covariance type, each from two starts ('small-em' and
# 'kmeans' by default, keeping the better fit), and returns a
# :class:`~emfast.ModelSelection`: the best estimator by the chosen
# criterion (BIC by default; lower is better) and a table with one entry
# per candidate. The table holds BIC, AIC and ICL for every candidate
# whatever the criterion, so one grid serves all three.

result = emfast.select_model(X, range(1, 7), ("full", "diag"), random_state=0)
print(result)

table = result.table
best = result.best_estimator
icl_index = int(np.argmin(table["icl"]))
print(f"\nBIC picks K = {best.n_components} ({best.covariance_type!r})")
print(
    f"ICL picks K = {table['n_components'][icl_index]} "
    f"({str(table['covariance_type'][icl_index])!r})"
)

# %%
# BIC keeps falling for ``'diag'`` covariances as K grows: axis-aligned
# ellipses need extra components to cover the tilted clusters. With
# ``'full'`` covariances it has its minimum at the true K = 4. ICL adds the
# entropy of the clustering, so it prefers well-separated clusters and
# merges the two overlapping ones. (Stars mark each curve's minimum; the
# plot is zoomed on them, so the large values at K = 1 and 2 are cut off.)

fig, (ax_curve, ax_data) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
for covariance_type, marker in (("full", "o"), ("diag", "s")):
    rows = table["covariance_type"] == covariance_type
    ax_curve.plot(
        table["n_components"][rows],
        table["bic"][rows],
        marker=marker,
        label=f"BIC, {covariance_type!r}",
    )
rows = table["covariance_type"] == "full"
ax_curve.plot(
    table["n_components"][rows],
    table["icl"][rows],
    "o--",
    label="ICL, 'full'",
)
# Mark each curve's minimum, and zoom on the minima.
for key, covariance_type in (("bic", "full"), ("bic", "diag"), ("icl", "full")):
    rows = table["covariance_type"] == covariance_type
    i = np.argmin(table[key][rows])
    ax_curve.plot(
        table["n_components"][rows][i], table[key][rows][i], "k*", markersize=12
    )
lowest = min(table["bic"].min(), table["icl"].min())
ax_curve.set_ylim(lowest - 100, lowest + 1300)
ax_curve.set_xlabel("number of components K")
ax_curve.set_ylabel("criterion (lower is better)")
ax_curve.set_title("Information criteria against K")
ax_curve.legend()

ax_data.scatter(X[:, 0], X[:, 1], c=best.predict(X), cmap="tab10", s=4, vmax=9)
ax_data.plot(best.means_[:, 0], best.means_[:, 1], "k+", markersize=12)
ax_data.set_aspect("equal")
ax_data.set_title(f"Best by BIC: K = {best.n_components}, {best.covariance_type!r}")

# %%
# A Bayesian mixture that switches components off
# -----------------------------------------------
#
# :class:`~emfast.BayesianGaussianMixture` fits a variational posterior
# with a Dirichlet prior on the weights. With ten components and a small
# weight concentration prior, the fit puts almost no weight on the
# components it does not need; with a large one it spreads the weight over
# all ten. The dotted lines mark the true weights of the four clusters.

priors = (0.01, 100.0)
models = [
    emfast.BayesianGaussianMixture(
        n_components=10,
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=prior,
        max_iter=1000,
        random_state=0,
    ).fit(X)
    for prior in priors
]
for prior, model in zip(priors, models):
    used = int((model.weights_ > 0.01).sum())
    print(f"prior {prior:g}: {used} components with weight > 0.01")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True, layout="constrained")
for ax, prior, model in zip(axes, priors, models):
    weights = np.sort(model.weights_)[::-1]
    ax.bar(np.arange(1, 11), weights, color="tab:blue")
    ax.set_xticks(np.arange(1, 11))
    ax.set_xlabel("component (largest weight first)")
    ax.set_title(f"weight_concentration_prior = {prior:g}")
axes[0].set_ylabel("weight")
for true_weight in np.array(sizes) / sum(sizes):
    axes[0].axhline(true_weight, color="0.5", lw=0.8, ls=":")

plt.show()
