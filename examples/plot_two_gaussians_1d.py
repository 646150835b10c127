"""
Two Gaussians in one dimension
==============================

The classic example of the EM algorithm: points drawn from two normal
distributions, with no record of which one each point came from. EM
recovers the two means, standard deviations and mixing weights, and every
iteration raises the log-likelihood of the data.
"""

# %%
# The data
# --------
#
# 20,000 points: 30 % from :math:`\mathcal{N}(-2, 0.5^2)` and 70 % from
# :math:`\mathcal{N}(3, 1.5^2)`. The estimators take a 2-D array of shape
# ``(n_samples, n_features)``, so the points become one column.

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

import emfast

rng = np.random.default_rng(0)
true_weights = np.array([0.3, 0.7])
true_means = np.array([-2.0, 3.0])
true_sds = np.array([0.5, 1.5])

n_samples = 20_000
component = rng.choice(2, size=n_samples, p=true_weights)
x = rng.normal(true_means[component], true_sds[component])
X = x.reshape(-1, 1)

# %%
# Fitting the mixture
# -------------------
#
# :class:`~emfast.GaussianMixture` takes the same parameters as
# scikit-learn's ``GaussianMixture``. The fitted components come in no
# particular order, so they are sorted by their means before they are
# compared with the truth.

gm = emfast.GaussianMixture(2, random_state=0).fit(X)

order = np.argsort(gm.means_[:, 0])
means = gm.means_[order, 0]
sds = np.sqrt(gm.covariances_[order, 0, 0])
weights = gm.weights_[order]

print(f"converged: {gm.converged_} after {gm.n_iter_} iterations")
print(f"{'':12}{'mean (true)':>16}{'sd (true)':>16}{'weight (true)':>16}")
for k in range(2):
    print(
        f"{'component ' + str(k):12}"
        f" {means[k]:7.3f} ({true_means[k]:5.2f})"
        f" {sds[k]:7.3f} ({true_sds[k]:5.2f})"
        f" {weights[k]:7.3f} ({true_weights[k]:5.2f})"
    )

# %%
# The fitted density
# ------------------
#
# The mixture's density is the sum of the weighted component densities
# :math:`\pi_k \, \mathcal{N}(x; \mu_k, \sigma_k^2)`. Drawn over a histogram
# of the data (scaled as a density), it follows the two bumps.

grid = np.linspace(x.min() - 0.5, x.max() + 0.5, 500)
component_densities = weights[:, None] * norm.pdf(
    grid[None, :], means[:, None], sds[:, None]
)

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.hist(x, bins=120, density=True, histtype="stepfilled", color="0.8", label="data")
for k, density in enumerate(component_densities):
    ax.plot(grid, density, "--", lw=1.5, label=f"component {k}")
ax.plot(grid, component_densities.sum(axis=0), "k", lw=2, label="mixture")
ax.set_xlabel("x")
ax.set_ylabel("density")
ax.set_title("Two-component Gaussian mixture fitted by EM")
ax.legend()

# %%
# The log-likelihood per iteration
# --------------------------------
#
# ``lower_bounds_`` holds the mean log-likelihood per point after each
# iteration of the best initialization (``lower_bound_`` is its last
# value). EM never lowers it; the fit stops when an iteration gains less
# than ``tol``.

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
iterations = np.arange(1, len(gm.lower_bounds_) + 1)
ax.plot(iterations, gm.lower_bounds_, "o-")
ax.set_xlabel("iteration")
ax.set_ylabel("mean log-likelihood per point")
ax.set_xticks(iterations)
ax.set_title("EM increases the log-likelihood at every iteration")

plt.show()
