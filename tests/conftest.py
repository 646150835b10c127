"""Shared fixtures.

``SCIPY_ARRAY_API`` must be set before SciPy or scikit-learn is imported:
without it sklearn's ``check_array_api_input`` estimator check is skipped
instead of run.
"""

import os
import re
import warnings

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest
import sklearn
from hypothesis import HealthCheck, settings
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

# (major, minor) of the installed scikit-learn, for the few comparisons whose
# expectations changed between the versions emfast supports (>= 1.6).
SKLEARN_VERSION = tuple(
    int(part) for part in re.match(r"(\d+)\.(\d+)", sklearn.__version__).groups()
)


def sklearn_lower_bounds(theirs, X):
    """The lower bound after each iteration of a fitted sklearn mixture
    (``n_init=1``, not warm-started), fitted on ``X``: its ``lower_bounds_``
    (scikit-learn >= 1.7); before 1.7, which keeps only the last one, a replay
    of the fit from the same start one iteration at a time (``warm_start``,
    ``max_iter=1``: the same arithmetic, checked against ``lower_bounds_`` by
    test_vs_sklearn.py::test_lower_bounds_like_sklearn_step_by_step)."""
    if SKLEARN_VERSION >= (1, 7):
        return list(theirs.lower_bounds_)
    assert theirs.n_init == 1 and not theirs.warm_start
    stepper = clone(theirs).set_params(max_iter=1, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [stepper.fit(X).lower_bound_ for _ in range(theirs.n_iter_)]


COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

# Three well-separated 2-D components with distinct shapes and weights.
TRUE_WEIGHTS = np.array([0.3, 0.5, 0.2])
TRUE_MEANS = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, -2.0]])
TRUE_COVARIANCES = np.array(
    [
        [[1.0, 0.3], [0.3, 0.5]],
        [[0.6, -0.2], [-0.2, 1.2]],
        [[0.8, 0.0], [0.0, 0.8]],
    ]
)


def sample_mixture(n_samples, weights, means, covariances, seed):
    """Points drawn from a full-covariance Gaussian mixture, shuffled."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_samples, weights)
    X = np.vstack(
        [
            rng.multivariate_normal(m, c, size=n)
            for m, c, n in zip(means, covariances, counts)
        ]
    )
    return X[rng.permutation(n_samples)]


def initial_params(covariance_type):
    """Fixed starting parameters, off the truth, in ``precisions_init`` form
    for ``covariance_type``."""
    weights = np.array([0.25, 0.45, 0.3])
    means = TRUE_MEANS + np.array([[0.7, -0.4], [-0.5, 0.6], [0.4, 0.5]])
    covariances = TRUE_COVARIANCES * np.array([1.8, 0.7, 1.3])[:, None, None]
    if covariance_type == "full":
        precisions = np.linalg.inv(covariances)
    elif covariance_type == "tied":
        precisions = np.linalg.inv(covariances.mean(axis=0))
    elif covariance_type == "diag":
        precisions = 1.0 / np.diagonal(covariances, axis1=1, axis2=2)
    else:
        precisions = 1.0 / np.diagonal(covariances, axis1=1, axis2=2).mean(axis=1)
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


@pytest.fixture(scope="session")
def blobs():
    """1,500 points from three well-separated 2-D Gaussians (float64)."""
    return sample_mixture(1500, TRUE_WEIGHTS, TRUE_MEANS, TRUE_COVARIANCES, seed=0)


@pytest.fixture(params=COVARIANCE_TYPES)
def covariance_type(request):
    return request.param


@pytest.fixture
def start(covariance_type):
    """``initial_params`` for the ``covariance_type`` under test."""
    return initial_params(covariance_type)


# Hypothesis profiles: 'ci' (the default) is bounded and reproducible;
# '--hypothesis-profile fuzz' hunts with many random examples.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


def results_by_thread_count(script, tmp_path, *args):
    """Run ``script`` (it writes an .npz to ``sys.argv[1]`` and finds the
    thread count in ``sys.argv[2]``, then ``args``) in fresh processes with
    NUMBA_NUM_THREADS 1 and 2, after one run that fills Numba's cache (so
    both load the same compiled kernels: an in-process compilation may group
    sums differently under fastmath reassoc). Returns {1: arrays, 2: arrays}.
    """
    import subprocess
    import sys

    def run(path, n_threads):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(n_threads))
        subprocess.run(
            [sys.executable, "-c", script, str(path), str(n_threads), *map(str, args)],
            env=env,
            check=True,
            timeout=600,
        )
        with np.load(path) as data:
            return dict(data)

    run(tmp_path / "warm.npz", 2)
    return {n: run(tmp_path / f"{n}.npz", n) for n in (1, 2)}


def assert_same_bits(results):
    """Every array of ``results_by_thread_count`` equal to the bit."""
    for name, value in results[1].items():
        assert value.tobytes() == results[2][name].tobytes(), name
