"""
Clustering with covariance ellipses
===================================

A Gaussian mixture clusters points by the component most likely to have
produced each of them. Each component's covariance matrix gives the shape
of its cluster, which is drawn here as ellipses at one and two standard
deviations. The four covariance types trade the flexibility of those shapes
against the number of parameters, and BIC weighs the two.
"""

# %%
# The data
# --------
#
# Four clusters in two dimensions, each with its own orientation and
# spread, and unequal sizes.

import matplotlib.pyplot as plt
import numpy as np

import emfast
from emfast.plot import plot_mixture

rng = np.random.default_rng(1)
centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 6.0], [8.0, 7.0]])
covariances = np.array(
    [
        [[2.0, 1.2], [1.2, 1.0]],
        [[0.4, 0.0], [0.0, 2.0]],
        [[1.5, -0.9], [-0.9, 1.0]],
        [[0.6, 0.3], [0.3, 0.6]],
    ]
)
sizes = [800, 500, 600, 300]
X = np.vstack(
    [
        rng.multivariate_normal(m, c, size=n)
        for m, c, n in zip(centres, covariances, sizes)
    ]
)

# %%
# Drawing a component
# -------------------
#
# :func:`emfast.plot.plot_mixture` draws the points, coloured by
# ``predict``, and each component's ellipses at one and two standard
# deviations: the eigenvectors of the component's covariance matrix give
# the directions of the ellipse's axes and the square roots of its
# eigenvalues their lengths. It takes every covariance type (and, for
# more than two features, projects on the first two principal axes).

# %%
# A full-covariance fit
# ---------------------
#
# With ``covariance_type='full'`` each component has its own covariance
# matrix, so it can follow each cluster's tilt. ``predict`` labels each
# point with its most probable component.

gm = emfast.GaussianMixture(4, covariance_type="full", random_state=0).fit(X)

fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
plot_mixture(gm, X, ax=ax)
ax.set_aspect("equal")
ax.set_title("4 full-covariance components: 1 and 2 standard deviations")

# %%
# The four covariance types
# -------------------------
#
# ``'tied'`` shares one covariance matrix between the components,
# ``'diag'`` keeps only the variances along the axes and ``'spherical'`` one
# variance per component. Fewer parameters cost the fit its fidelity to
# tilted or unequal clusters: BIC (lower is better) penalises the
# parameters and rewards the likelihood, and picks ``'full'`` on these data.

fig, axes = plt.subplots(
    2, 2, figsize=(9, 8.5), sharex=True, sharey=True, layout="constrained"
)
bics = {}
for ax, covariance_type in zip(axes.ravel(), ["full", "tied", "diag", "spherical"]):
    model = emfast.GaussianMixture(
        4, covariance_type=covariance_type, random_state=0
    ).fit(X)
    bics[covariance_type] = model.bic(X)
    plot_mixture(model, X, ax=ax)
    ax.set_aspect("equal")
    ax.set_title(f"{covariance_type!r}: BIC = {bics[covariance_type]:,.0f}")

for covariance_type, bic in sorted(bics.items(), key=lambda item: item[1]):
    print(f"{covariance_type:>10}: BIC = {bic:,.1f}")

plt.show()
