"""
Fitting a memory-mapped file
============================

EM needs only sums over the data in each iteration, so a mixture can be
fitted to data on disk without loading them. A memory-mapped array
(``np.load(path, mmap_mode="r")`` or ``np.memmap``) goes straight to
``fit``: the finite check, the k-means initialization and every EM
iteration read the file block by block, without copying it. The pages read
belong to the operating system's file cache, not to the process, and are
dropped under memory pressure. The fit is the same as on the array in
memory.
"""

# %%
# Writing the data, chunk by chunk
# --------------------------------
#
# ``np.lib.format.open_memmap`` creates a ``.npy`` file of the final shape;
# the rows are then written one chunk at a time, so the whole array is never
# in memory. Here the file holds 400,000 points in two dimensions from three
# Gaussian clusters (small, so the example runs quickly; the same code
# works for files larger than memory). The file must be in C order (rows
# contiguous, as ``np.save`` writes it); a Fortran-ordered array is copied.

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import emfast
from emfast.plot import plot_mixture

n_samples, n_features, chunk_rows = 400_000, 2, 100_000
centres = np.array([[0.0, 0.0], [4.0, 3.0], [-3.0, 4.0]])
scales = np.array([[1.0, 0.5], [0.7, 1.2], [0.8, 0.8]])
weights = np.array([0.5, 0.3, 0.2])

tmp = tempfile.TemporaryDirectory()
path = os.path.join(tmp.name, "X.npy")

rng = np.random.default_rng(0)
out = np.lib.format.open_memmap(
    path, mode="w+", dtype=np.float64, shape=(n_samples, n_features)
)
for start in range(0, n_samples, chunk_rows):
    labels = rng.choice(3, size=chunk_rows, p=weights)
    noise = rng.standard_normal((chunk_rows, n_features))
    out[start : start + chunk_rows] = centres[labels] + scales[labels] * noise
out.flush()
del out  # close the file
print(f"{os.path.basename(path)}: {os.path.getsize(path) / 2**20:.1f} MiB")

# %%
# Fitting the memory-mapped array
# -------------------------------
#
# ``np.load`` with ``mmap_mode="r"`` reads nothing yet: it maps the file
# and returns an ``np.memmap``. ``fit`` takes it as it takes any array.

X = np.load(path, mmap_mode="r")
print(type(X).__name__, X.shape, X.dtype)

gm_mapped = emfast.GaussianMixture(3, random_state=0).fit(X)
print(f"converged: {gm_mapped.converged_} after {gm_mapped.n_iter_} iterations")

# %%
# The same fit in memory
# ----------------------
#
# Loading the whole file and fitting the in-memory array from the same
# ``random_state`` gives the same model, to the last bit.

X_in_memory = np.load(path)
gm_memory = emfast.GaussianMixture(3, random_state=0).fit(X_in_memory)

print(
    "means equal:",
    np.array_equal(gm_mapped.means_, gm_memory.means_),
    "| covariances equal:",
    np.array_equal(gm_mapped.covariances_, gm_memory.covariances_),
    "| lower bounds equal:",
    gm_mapped.lower_bound_ == gm_memory.lower_bound_,
)
print(
    "max |difference| of the means:",
    np.max(np.abs(gm_mapped.means_ - gm_memory.means_)),
)

# %%
# Scoring and predicting
# ----------------------
#
# ``score`` also works through the mapped file in chunks. ``predict``,
# ``predict_proba`` and ``score_samples`` return in-memory arrays of one
# value (or row) per point: for files far larger than memory, wrap the
# memory map in a Dask array (``dask.array.from_array(X, chunks=...)``),
# on which they return lazy results to store chunk by chunk (see
# :ref:`sphx_glr_auto_examples_plot_dask_cluster.py`).

print(f"mean log-likelihood per point: {gm_mapped.score(X):.4f}")
labels = gm_mapped.predict(X)
print("points per component:", np.bincount(labels, minlength=3))

# %%
# The fitted components at one and two standard deviations, over 20,000
# points that :func:`emfast.plot.plot_mixture` draws at random from the
# mapped file.

fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
plot_mixture(gm_mapped, X, ax=ax)
ax.set_aspect("equal")
ax.set_title("Mixture fitted on a memory-mapped file")

# %%
# Removing the file
# -----------------
#
# The memory maps must be released before the temporary directory is
# deleted (on Windows an open mapping keeps the file).

del X, X_in_memory
tmp.cleanup()

plt.show()
