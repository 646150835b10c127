"""Interrupted fits leave the estimator as it was; degenerate fits recover
or fail with a clear message."""

import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from emfast import GaussianMixture
from emfast.mixture import MixtureModel


def blobs(n=600, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 1.0, size=(n // 3, d)) for c in (0, 5, 10)])


def interrupt_on_call(monkeypatch, n):
    """Make the n-th M-step raise KeyboardInterrupt (as Ctrl-C would)."""
    calls = [0]
    m_step = MixtureModel.m_step

    def interrupted(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt
        return m_step(*args, **kwargs)

    monkeypatch.setattr(MixtureModel, "m_step", interrupted)


def test_interrupted_first_fit_leaves_the_estimator_unfitted(monkeypatch):
    gm = GaussianMixture(3, random_state=0)
    before = dict(gm.__dict__)
    interrupt_on_call(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        gm.fit(blobs())
    assert gm.__dict__ == before
    assert not hasattr(gm, "n_features_in_")
    with pytest.raises(NotFittedError):
        gm.predict(blobs())


@pytest.mark.parametrize("method", ["fit", "fit_predict"])
def test_interrupted_refit_keeps_the_previous_fit(monkeypatch, method):
    X = blobs()
    gm = GaussianMixture(3, random_state=0).fit(X)
    before = {
        k: (v.copy() if isinstance(v, np.ndarray) else v)
        for k, v in gm.__dict__.items()
    }
    labels = gm.predict(X)
    interrupt_on_call(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        getattr(gm, method)(blobs(900, d=3, seed=1))  # other data, other D
    assert gm.__dict__.keys() == before.keys()
    for name, value in before.items():
        assert_array_equal(getattr(gm, name), value)
    assert gm.n_features_in_ == 2
    assert_array_equal(gm.predict(X), labels)


def test_failed_fit_keeps_the_previous_fit():
    X = blobs()
    gm = GaussianMixture(3, random_state=0).fit(X)
    means = gm.means_.copy()
    with pytest.raises(ValueError):
        gm.fit(np.full((10, 2), np.nan))
    assert_array_equal(gm.means_, means)
    assert gm.n_features_in_ == 2


SIGINT_SCRIPT = textwrap.dedent(
    """
    import sys
    import warnings

    import numpy as np

    from emfast import GaussianMixture

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400_000, 8))
    gm = GaussianMixture(4, random_state=0, max_iter=3).fit(X[:1000])
    before = gm.means_.copy()
    print("fitting", flush=True)
    try:
        gm.set_params(max_iter=100_000, tol=0).fit(X)
    except KeyboardInterrupt:
        same = np.array_equal(gm.means_, before) and gm.n_iter_ <= 3
        print("interrupted", "unchanged" if same else "CHANGED", flush=True)
        sys.exit(0)
    print("not interrupted", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX")
def test_ctrl_c_during_a_long_fit(tmp_path):
    """A real SIGINT, delivered while the kernels run. The child gets the
    default SIGINT disposition: a test run started as a background job of a
    non-interactive shell (as CI's oldest combination is) inherits SIGINT
    ignored, and Python then installs no KeyboardInterrupt handler."""
    process = subprocess.Popen(
        [sys.executable, "-c", SIGINT_SCRIPT],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout.readline().strip() == "fitting"
        import time

        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert out.strip() == "interrupted unchanged"
    assert process.returncode == 0


# ---------------------------------------------------------------- degenerate


def with_duplicates():
    """Three clusters and five identical far-away points."""
    return np.vstack([blobs(), np.full((5, 2), 40.0)])


def test_collapsed_component_without_regularization_is_a_clear_error():
    X = with_duplicates()
    means = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 10.0], [40.0, 40.0]])
    gm = GaussianMixture(4, reg_covar=0.0, means_init=means, random_state=0)
    with pytest.raises(ValueError, match="increase reg_covar"):
        gm.fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_collapsed_component_with_regularization_recovers(covariance_type):
    X = with_duplicates()
    means = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 10.0], [40.0, 40.0]])
    gm = GaussianMixture(
        4, covariance_type=covariance_type, means_init=means, random_state=0
    ).fit(X)
    assert gm.converged_
    assert np.isfinite(gm.means_).all() and np.isfinite(gm.covariances_).all()
    assert np.isclose(gm.weights_.sum(), 1.0)
    assert_array_equal(gm.means_[3], [40.0, 40.0])
    if covariance_type == "full":
        # The collapsed component's covariance is reg_covar * I.
        np.testing.assert_allclose(gm.covariances_[3], 1e-6 * np.eye(2), rtol=1e-6)
    assert np.isfinite(gm.score_samples(X)).all()


def test_component_that_empties_stays_finite():
    """A component started far from every point gets no responsibility: its
    weight goes to ~0 and the fit goes on with finite parameters."""
    X = blobs()
    means = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 10.0], [1e4, -1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(4, means_init=means, random_state=0, max_iter=20).fit(X)
    assert gm.weights_[3] < 1e-10
    assert np.isclose(gm.weights_.sum(), 1.0)
    for name in ("means_", "covariances_", "precisions_cholesky_"):
        assert np.isfinite(getattr(gm, name)).all(), name
    assert np.isfinite(gm.predict_proba(X)).all()
    assert set(gm.predict(X)) == {0, 1, 2}
