"""The grid of fits recorded in ``gaussian_mixture.npz``, shared by
``make_golden.py`` (which writes the file) and ``tests/test_golden.py``
(which recomputes every case and compares).

Each case is a name such as ``"full-f64-w0-raise-memory-kmeans"``:
covariance type, dtype (f32/f64), sample weights (w0: none, w1: integer
weights), nan_policy, data source (memory/memmap/dask) and initialization
(one of ``INITS``; "partial" gives means_init and weights_init only). A few
extra cases append a suffix (see ``EXTRAS``). ``run_case(name)`` returns
the case's outputs as ``{attribute: ndarray}``; the file holds them under
the keys ``f"{name}/{attribute}"``. When the fit or a prediction raises,
the outputs gathered until then are kept and ``"error"`` holds the
exception's class name and message.
"""

from __future__ import annotations

import json
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np

N_COMPONENTS = 3
N_PER_BLOB = 80  # 240 rows
N_FEATURES = 3
SEED = 20240611
NAN_FRACTION = 0.1

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
DTYPES = {"f32": np.float32, "f64": np.float64}
WEIGHTS = ("w0", "w1")
NAN_POLICIES = ("raise", "omit", "marginalize")
SOURCES = ("memory", "memmap", "dask")
INITS = ("kmeans", "k-means++", "random", "random_from_data", "partial")
# Initializations per data source. A memory-mapped X gives exactly the
# in-memory results (same code after validation), so memmap keeps two
# initializations: k-means, and random_from_data (which indexes rows of X).
# A Dask fit costs ~5x an in-memory one (a compute per EM iteration); its
# initialization runs in memory on the sample, so Dask keeps k-means and
# user-given means. This keeps the recompute under a minute on 2 cores.
SOURCE_INITS = {
    "memory": INITS,
    "memmap": ("kmeans", "random_from_data"),
    "dask": ("kmeans", "partial"),
}
# predict_proba and score_samples are recorded on every 10th row (24 rows)
# to keep the file small; score and fit_predict cover all rows.
PROBE = slice(None, None, 10)

# Estimator parameters of every case.
BASE_PARAMS = {
    "n_components": N_COMPONENTS,
    "random_state": 0,
    "max_iter": 15,
    "tol": 1e-10,
}
# "partial" initialization: user means and weights, precisions from k-means.
PARTIAL_MEANS = np.array([[9.0, -3.5, 2.0], [17.0, 6.0, 2.5], [10.0, 4.0, 13.0]])
PARTIAL_WEIGHTS = np.array([0.25, 0.35, 0.40])

# Extra cases: suffix -> (base case without the covariance type, what differs).
EXTRAS = {
    "warm_start": ("f64-w0-raise-memory-kmeans", {"warm_start": True}),
    "n_init2": ("f32-w1-raise-memory-random", {"n_init": 2}),
    "reg_covar0.1": ("f64-w1-marginalize-memory-kmeans", {"reg_covar": 0.1}),
    "impute": ("f64-w0-marginalize-memory-kmeans", {}),
    "impute32": ("f32-w1-omit-memory-k-means++", {}),
    "sample": ("f64-w0-raise-memory-kmeans", {}),
    # Dask refuses nan_policy='omit': the error must stay the same.
    "dask_omit": ("f64-w0-omit-dask-kmeans", {}),
}

# Attributes recorded after each fit, in this order.
FITTED = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_",
    "precisions_cholesky_",
    "lower_bound_",
    "lower_bounds_",
    "n_iter_",
    "converged_",
)

# The libraries whose builds decide the last bits of a result.
VERSIONED = ("numpy", "scipy", "sklearn", "numba")


def versions() -> dict:
    """Library versions and machine of this process (recorded as JSON)."""
    import numba
    import scipy
    import sklearn

    modules = {"numpy": np, "scipy": scipy, "sklearn": sklearn, "numba": numba}
    out = {name: modules[name].__version__ for name in VERSIONED}
    out["machine"] = platform.machine()
    return out


def make_data():
    """(X, X_nan, sample_weight): 240 x 3 float64 points from three
    correlated Gaussian blobs with offsets and scales far from 0 and 1;
    X_nan is X with about 10% of its values NaN (no row all NaN); integer
    weights in 0..3. Built from a fixed seed with elementwise arithmetic
    only (no BLAS or LAPACK), so the same on every machine."""
    rng = np.random.default_rng(SEED)
    centres = np.array([[8.0, -4.0, 1.0], [18.0, 5.0, 3.0], [11.0, 3.0, 12.0]])
    # Lower-triangular factors of each blob's covariance.
    factors = np.array(
        [
            [[2.0, 0.0, 0.0], [0.8, 1.1, 0.0], [-0.3, 0.4, 0.7]],
            [[1.2, 0.0, 0.0], [-0.9, 1.6, 0.0], [0.0, 0.5, 0.9]],
            [[0.6, 0.0, 0.0], [0.2, 2.4, 0.0], [0.5, -0.6, 1.3]],
        ]
    )
    blobs = []
    for centre, factor in zip(centres, factors):
        z = rng.standard_normal((N_PER_BLOB, N_FEATURES))
        x = np.zeros_like(z)
        for j in range(N_FEATURES):
            for k in range(j + 1):
                x[:, j] += factor[j, k] * z[:, k]
        blobs.append(x + centre)
    X = np.vstack(blobs)[rng.permutation(N_PER_BLOB * 3)]
    X = np.round(X, 6)  # short decimals: the data are easy to read and share
    X_nan = X.copy()
    X_nan[rng.random(X.shape) < NAN_FRACTION] = np.nan
    all_nan = np.isnan(X_nan).all(axis=1)
    X_nan[all_nan, 0] = X[all_nan, 0]
    sample_weight = rng.integers(0, 4, size=X.shape[0]).astype(np.float64)
    assert np.count_nonzero(sample_weight) >= N_COMPONENTS
    return X, X_nan, sample_weight


def base_case_names():
    names = []
    for cov in COVARIANCE_TYPES:
        for dt in DTYPES:
            for w in WEIGHTS:
                for nan in NAN_POLICIES:
                    for src in SOURCES:
                        if src == "dask" and nan != "raise":
                            continue  # Dask supports only nan_policy='raise'
                        names.extend(
                            f"{cov}-{dt}-{w}-{nan}-{src}-{init}"
                            for init in SOURCE_INITS[src]
                        )
    return names


def extra_case_names():
    return [
        f"{cov}-{base}-{suffix}"
        for suffix, (base, _) in EXTRAS.items()
        for cov in COVARIANCE_TYPES
    ]


def case_names():
    """Every case, in the order of the file."""
    return base_case_names() + extra_case_names()


def parse(name):
    """The case's settings: a dict of its grid coordinates and extra."""
    extra = None
    for suffix in EXTRAS:
        if name.endswith("-" + suffix):
            extra, name = suffix, name[: -len(suffix) - 1]
            break
    cov, dt, w, nan, src, init = name.split("-", 5)
    return {
        "covariance_type": cov,
        "dtype": dt,
        "weights": w,
        "nan_policy": nan,
        "source": src,
        "init": init,
        "extra": extra,
    }


def _array(value):
    """A fitted value as a plain array (lists of floats as float64)."""
    if isinstance(value, list):
        return np.asarray(value, dtype=np.float64)
    return np.asarray(value)


class _Source:
    """X as the case's data source: the array itself, a read-only
    memory-mapped .npy copy, or a Dask array of three row chunks; results
    of Dask come back computed."""

    def __init__(self, kind):
        self.kind = kind
        self._tmp = None

    def __enter__(self):
        if self.kind == "memmap":
            self._tmp = tempfile.TemporaryDirectory(prefix="emfast-golden-")
        elif self.kind == "dask":
            import dask

            self._config = dask.config.set(scheduler="synchronous")
            self._config.__enter__()
        return self

    def __exit__(self, *exc):
        if self._tmp is not None:
            self._tmp.cleanup()
        if self.kind == "dask":
            self._config.__exit__(*exc)

    def wrap(self, X, tag):
        if self.kind == "memmap":
            path = Path(self._tmp.name) / f"{tag}.npy"
            np.save(path, X)
            return np.load(path, mmap_mode="r")
        if self.kind == "dask":
            import dask.array as da

            return da.from_array(X, chunks=(X.shape[0] // 3, X.shape[1]))
        return X

    def result(self, value):
        if self.kind == "dask" and hasattr(value, "compute"):
            return value.compute()
        return value


def run_case(name):
    """Fit the case and return its outputs, ``{attribute: ndarray}``."""
    from sklearn.exceptions import ConvergenceWarning

    from emfast import GaussianMixture

    s = parse(name)
    X, X_nan, sample_weight = make_data()
    dtype = DTYPES[s["dtype"]]
    data = X if s["nan_policy"] == "raise" else X_nan
    data = data.astype(dtype)
    weights = sample_weight if s["weights"] == "w1" else None
    params = dict(BASE_PARAMS, covariance_type=s["covariance_type"])
    if s["init"] == "partial":
        params.update(
            init_params="kmeans",
            means_init=PARTIAL_MEANS,
            weights_init=PARTIAL_WEIGHTS,
        )
    else:
        params["init_params"] = s["init"]
    params["nan_policy"] = s["nan_policy"]
    if s["extra"] is not None:
        params.update(EXTRAS[s["extra"]][1])
    # Predictions on the training data, NaN rows included, but for 'omit'
    # (whose predictions refuse NaN): its complete rows.
    if s["nan_policy"] == "omit":
        predict_on = data[~np.isnan(data).any(axis=1)]
    else:
        predict_on = data

    out = {}
    with warnings.catch_warnings(), _Source(s["source"]) as source:
        # ConvergenceWarning (max_iter=15, tol=1e-10) and 'omit''s
        # dropped-rows UserWarning: expected, not recorded.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            Xs = source.wrap(data, "X")
            gm = GaussianMixture(**params)
            if s["extra"] == "warm_start":
                gm.fit(Xs, sample_weight=weights)
                out["first_lower_bound_"] = _array(gm.lower_bound_)
            labels = source.result(gm.fit_predict(Xs, sample_weight=weights))
            for attr in FITTED:
                out[attr] = _array(getattr(gm, attr))
            if s["nan_policy"] == "omit":
                out["n_samples_omitted_"] = _array(gm.n_samples_omitted_)
            out["fit_predict"] = _array(labels)
            P = source.wrap(predict_on, "P")
            proba = source.result(gm.predict_proba(P))
            log_prob = source.result(gm.score_samples(P))
            out["predict_proba"] = np.ascontiguousarray(_array(proba)[PROBE])
            out["score_samples"] = np.ascontiguousarray(_array(log_prob)[PROBE])
            out["score"] = _array(gm.score(P))
            if s["extra"] in ("impute", "impute32"):
                out["impute"] = _array(gm.impute(X_nan.astype(dtype)))
            if s["extra"] == "sample":
                Xs_, ys_ = gm.sample(5)
                out["sample_X"] = _array(Xs_)
                out["sample_y"] = _array(ys_)
        except Exception as error:
            out["error"] = np.array([type(error).__name__, str(error)])
    return out


def versions_json() -> str:
    return json.dumps(versions(), sort_keys=True)


def data_arrays():
    """The data of every case, stored beside the results under "data/"."""
    X, X_nan, sample_weight = make_data()
    return {"data/X": X, "data/X_nan": X_nan, "data/sample_weight": sample_weight}
