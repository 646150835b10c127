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
from matplotlib.patches import Ellipse

import emfast

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
# The eigenvectors of a covariance matrix give the directions of the
# ellipse's axes and the square roots of its eigenvalues their lengths
# (one standard deviation along each axis). ``covariances_`` has a
# different shape for each covariance type; ``full_covariances`` turns
# them all into one ``(n_components, n_features, n_features)`` array.


def full_covariances(gm):
    """The covariance matrix of each component of a fitted mixture."""
    k, d = gm.means_.shape
    if gm.covariance_type == "full":
        return gm.covariances_
    if gm.covariance_type == "tied":
        return np.broadcast_to(gm.covariances_, (k, d, d))
    if gm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in gm.covariances_])
    return gm.covariances_[:, None, None] * np.eye(d)


def draw_ellipses(ax, gm, colors):
    """Draw each component's 1-sigma and 2-sigma ellipses on ax."""
    for mean, cov, color in zip(gm.means_, full_covariances(gm), colors):
        eigenvalues, eigenvectors = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(eigenvectors[1, 1], eigenvectors[0, 1]))
        for n_sd in (1, 2):
            # The largest eigenvalue comes last: it sets the width.
            width, height = 2 * n_sd * np.sqrt(eigenvalues[::-1])
            ax.add_patch(
                Ellipse(
                    mean,
                    width,
                    height,
                    angle=angle,
                    fill=False,
                    edgecolor=color,
                    linewidth=2 if n_sd == 1 else 1,
                    linestyle="-" if n_sd == 1 else "--",
                )
            )
        ax.plot(*mean, "k+", markersize=10)


# %%
# A full-covariance fit
# ---------------------
#
# With ``covariance_type='full'`` each component has its own covariance
# matrix, so it can follow each cluster's tilt. ``predict`` labels each
# point with its most probable component.

gm = emfast.GaussianMixture(4, covariance_type="full", random_state=0).fit(X)
labels = gm.predict(X)
colors = plt.cm.tab10(np.arange(gm.n_components))

fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
ax.scatter(X[:, 0], X[:, 1], c=colors[labels], s=4, alpha=0.5)
draw_ellipses(ax, gm, colors)
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
    ax.scatter(X[:, 0], X[:, 1], c=colors[model.predict(X)], s=3, alpha=0.4)
    draw_ellipses(ax, model, colors)
    ax.set_aspect("equal")
    ax.set_title(f"{covariance_type!r}: BIC = {bics[covariance_type]:,.0f}")

for covariance_type, bic in sorted(bics.items(), key=lambda item: item[1]):
    print(f"{covariance_type:>10}: BIC = {bic:,.1f}")

plt.show()
