"""
Regime switching with a Gaussian HMM
====================================

A series of daily returns that switches between a calm, a nervous and a
turbulent regime, each with its own mean and volatility, and stays in a
regime for weeks at a time. A hidden Markov model with Gaussian emissions
learns the regimes and the transition probabilities between them, and
recovers which regime each day was in. :class:`~emfast.GaussianHMM` is a
drop-in for ``hmmlearn.hmm.GaussianHMM``.
"""

# %%
# A regime-switching series
# -------------------------
#
# Three regimes with a sticky transition matrix: each day the series stays
# in its regime with probability 0.95 to 0.98. The returns are normal with
# the regime's mean and standard deviation.

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

import emfast

rng = np.random.default_rng(0)
names = ["calm", "nervous", "turbulent"]
true_means = np.array([0.05, 0.0, -0.2])
true_sds = np.array([0.5, 1.2, 3.0])
true_transmat = np.array(
    [
        [0.98, 0.015, 0.005],
        [0.02, 0.96, 0.02],
        [0.01, 0.04, 0.95],
    ]
)

n_steps = 2000
states = np.empty(n_steps, dtype=int)
states[0] = 0
for t in range(1, n_steps):
    states[t] = rng.choice(3, p=true_transmat[states[t - 1]])
returns = rng.normal(true_means[states], true_sds[states])
X = returns.reshape(-1, 1)  # one feature: shape (n_steps, 1)

# %%
# Fitting the HMM
# ---------------
#
# The parameters are those of hmmlearn; ``n_iter`` bounds the number of
# Baum-Welch iterations. Beyond hmmlearn, ``n_init`` runs several starts
# and keeps the one with the best log-likelihood: from a single start, EM
# can settle in a poor local optimum that splits the calm regime in two and
# merges the others.
#
# The states of a fitted model come in no particular order; sorting them by
# their variance matches them with the regimes above.

model = emfast.GaussianHMM(
    n_components=3, covariance_type="diag", n_iter=200, n_init=5, random_state=0
).fit(X)
print(f"converged: {model.monitor_.converged} after {model.monitor_.iter} iterations")

order = np.argsort(model.covars_[:, 0, 0])
fitted_means = model.means_[order, 0]
fitted_sds = np.sqrt(model.covars_[order, 0, 0])
fitted_transmat = model.transmat_[np.ix_(order, order)]
rank = np.argsort(order)  # fitted state -> regime

print(f"\n{'':>10}{'mean (true)':>16}{'sd (true)':>16}")
for k, name in enumerate(names):
    print(
        f"{name:>10}"
        f" {fitted_means[k]:7.3f} ({true_means[k]:5.2f})"
        f" {fitted_sds[k]:7.3f} ({true_sds[k]:5.2f})"
    )
with np.printoptions(precision=3, suppress=True):
    print("\nlearned transition matrix:")
    print(fitted_transmat)
    print("true transition matrix:")
    print(true_transmat)

# %%
# Decoding the regimes
# --------------------
#
# ``predict`` returns the most probable sequence of states (the Viterbi
# path); ``predict_proba`` the posterior probability of each state at each
# step, given the whole series.

decoded = rank[model.predict(X)]
posteriors = model.predict_proba(X)[:, order]
print(f"\ndays in the right regime: {np.mean(decoded == states):.1%}")

# %%
# The series, shaded by the decoded regime, and the posterior probability
# of each regime. The strip between the two panels shows the true regimes.

colors = ["tab:green", "tab:orange", "tab:red"]
cmap = ListedColormap(colors)
days = np.arange(n_steps)
strip = dict(
    aspect="auto", cmap=cmap, vmin=0, vmax=2, interpolation="nearest", origin="lower"
)
fig, (ax_series, ax_true, ax_proba) = plt.subplots(
    3,
    1,
    figsize=(10, 6.5),
    sharex=True,
    height_ratios=[3, 0.4, 2],
    layout="constrained",
)
low, high = returns.min() - 0.5, returns.max() + 0.5
ax_series.imshow(
    decoded[None, :], extent=(-0.5, n_steps - 0.5, low, high), alpha=0.3, **strip
)
ax_series.plot(days, returns, color="k", lw=0.5)
ax_series.set_ylim(low, high)
ax_series.set_ylabel("return")
ax_series.legend(
    handles=[
        Patch(color=color, alpha=0.3, label=f"decoded: {name}")
        for name, color in zip(names, colors)
    ],
    loc="lower left",
    ncols=3,
)
ax_series.set_title("Returns, shaded by the regime Viterbi decodes")

ax_true.imshow(states[None, :], extent=(-0.5, n_steps - 0.5, 0, 1), **strip)
ax_true.set_yticks([])
ax_true.set_ylabel("true", rotation=0, ha="right", va="center")

ax_proba.stackplot(days, posteriors.T, colors=colors, labels=names, alpha=0.8)
ax_proba.set_ylim(0, 1)
ax_proba.set_xlim(0, n_steps - 1)
ax_proba.set_xlabel("day")
ax_proba.set_ylabel("posterior probability")
ax_proba.legend(loc="lower left", ncols=3)

plt.show()
