"""emfast.GaussianMixture against sklearn.mixture.GaussianMixture: the same
results from the same start, and the same behaviour around the fit."""

import pickle
import re
import warnings

import numpy as np
import pytest
import reference as ref
from conftest import COVARIANCE_TYPES, SKLEARN_VERSION, initial_params
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emfast import GaussianMixture

PARAMS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")

# scikit-learn 1.7 added ``lower_bounds_`` (the lower bound after each
# iteration of the best initialization) and made a fit on float32 data keep
# float32 throughout; 1.6 keeps only the final ``lower_bound_`` and returns
# float64 attributes for float32 data unless the start is float32 and the
# covariance 'diag' or 'spherical'. emfast has both behaviours of 1.7 on
# every scikit-learn version.
SKLEARN_HAS_LOWER_BOUNDS = SKLEARN_VERSION >= (1, 7)
SKLEARN_KEEPS_FLOAT32 = SKLEARN_VERSION >= (1, 7)


def fit_both(X, **kwargs):
    """Fit emfast and sklearn with the same arguments; warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(**kwargs).fit(X)
        theirs = SkGaussianMixture(**kwargs).fit(X)
    return ours, theirs


def assert_same_lower_bounds(ours, theirs, *, rtol, first=0):
    """``ours.lower_bounds_`` (one per iteration) against sklearn's from
    ``first`` on; scikit-learn < 1.7 records only the last one, its
    ``lower_bound_`` (``test_lower_bounds_like_sklearn_step_by_step``
    compares the whole history there)."""
    assert len(ours.lower_bounds_) == ours.n_iter_
    if SKLEARN_HAS_LOWER_BOUNDS:
        assert_allclose(
            ours.lower_bounds_[first:], theirs.lower_bounds_[first:], rtol=rtol
        )
    else:
        assert not hasattr(theirs, "lower_bounds_")
        assert len(ours.lower_bounds_) == theirs.n_iter_
        assert_allclose(ours.lower_bounds_[-1:], [theirs.lower_bound_], rtol=rtol)


def assert_same_fit(ours, theirs, X, *, rtol_params=1e-4, rtol_lower_bound=1e-6):
    """Fitted attributes and every method agree (float64 tolerances)."""
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=rtol_lower_bound)
    assert_same_lower_bounds(ours, theirs, rtol=rtol_lower_bound)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    for name in PARAMS:
        assert_allclose(
            getattr(ours, name),
            getattr(theirs, name),
            rtol=rtol_params,
            atol=1e-10,
            err_msg=name,
        )
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-8)
    assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-6)
    assert_allclose(ours.score(X), theirs.score(X), rtol=1e-6)
    assert_allclose(ours.bic(X), theirs.bic(X), rtol=1e-6)
    assert_allclose(ours.aic(X), theirs.aic(X), rtol=1e-6)
    assert ours.n_features_in_ == theirs.n_features_in_


def test_same_start_fixed_iterations(blobs, covariance_type, start):
    kwargs = dict(
        n_components=3, covariance_type=covariance_type, tol=0, max_iter=15, **start
    )
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        ours = GaussianMixture(**kwargs).fit(blobs)
    with pytest.warns(ConvergenceWarning):
        theirs = SkGaussianMixture(**kwargs).fit(blobs)
    assert ours.n_iter_ == 15 and len(ours.lower_bounds_) == 15
    assert not ours.converged_
    assert_same_fit(ours, theirs, blobs)


def test_same_start_default_tol(blobs, covariance_type, start):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours, theirs = fit_both(
            blobs, n_components=3, covariance_type=covariance_type, **start
        )
    assert ours.converged_ and ours.n_iter_ >= 2
    assert_same_fit(ours, theirs, blobs)


def test_lower_bounds_like_sklearn_step_by_step(blobs, covariance_type, start):
    """Every entry of ``lower_bounds_`` is sklearn's lower bound after that
    iteration, on every scikit-learn version: sklearn, warm-started, runs one
    iteration per fit and reports its ``lower_bound_`` (the same arithmetic
    as one fit; where sklearn records ``lower_bounds_`` (>= 1.7) the replay
    is checked against it too)."""
    kwargs = dict(n_components=3, covariance_type=covariance_type, tol=0, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(max_iter=12, **kwargs).fit(blobs)
        stepper = SkGaussianMixture(max_iter=1, warm_start=True, **kwargs)
        replayed = [stepper.fit(blobs).lower_bound_ for _ in range(12)]
        if SKLEARN_HAS_LOWER_BOUNDS:
            theirs = SkGaussianMixture(max_iter=12, **kwargs).fit(blobs)
            assert_allclose(replayed, theirs.lower_bounds_, rtol=1e-12)
    assert len(ours.lower_bounds_) == 12
    assert_allclose(ours.lower_bounds_, replayed, rtol=1e-6)
    assert ours.lower_bound_ == ours.lower_bounds_[-1]


def test_same_start_float32(blobs, covariance_type, start):
    """float32 data give float32 attributes, as in sklearn.

    emfast widens each float32 value and computes in float64, so it meets
    sklearn's float64 fit on the same (widened) values to float32 rounding of
    the attributes, and the lower bound to float64 accuracy. sklearn's own
    float32 fit computes its E- and M-steps in float32 (eps 1.2e-7) and the
    rounding errors compound over the iterations (its 'tied' covariance is a
    difference of raw second moments, which cancels most): after 30
    iterations it is measured up to 5e-5 relative from emfast on the
    parameters (score_samples: 2.5e-4 absolute) and 5e-7 on the lower bound.
    We hold 1e-3 and 1e-5 against it.
    """
    X32 = blobs.astype(np.float32)
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "tol": 0,
        "max_iter": 30,
    }
    # float32 starting values keep every step of sklearn's fit in float32.
    start32 = {key: value.astype(np.float32) for key, value in start.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(**kwargs, **start).fit(X32)
        theirs64 = SkGaussianMixture(**kwargs, **start).fit(X32.astype(np.float64))
        ours32 = GaussianMixture(**kwargs, **start32).fit(X32)
        theirs32 = SkGaussianMixture(**kwargs, **start32).fit(X32)

    for name in PARAMS:
        assert getattr(ours, name).dtype == np.float32, name
        assert getattr(ours32, name).dtype == np.float32, name
        if SKLEARN_KEEPS_FLOAT32:
            assert getattr(theirs32, name).dtype == np.float32, name
    assert ours.predict_proba(X32).dtype == np.float32
    assert ours.score_samples(X32).dtype == np.float32

    # Against sklearn in float64 on the same values: float32 rounding only.
    assert_allclose(ours.lower_bound_, theirs64.lower_bound_, rtol=1e-12)
    assert_same_lower_bounds(ours, theirs64, rtol=1e-10)
    for name in PARAMS:
        assert_allclose(
            getattr(ours, name),
            getattr(theirs64, name),
            rtol=1e-6,
            atol=1e-7,
            err_msg=name,
        )
    assert_array_equal(ours.predict(X32), theirs64.predict(X32))

    # Against sklearn's float32 arithmetic: its rounding errors, compounded.
    assert_allclose(ours32.lower_bound_, theirs32.lower_bound_, rtol=1e-5)
    assert_same_lower_bounds(ours32, theirs32, rtol=1e-5)
    for name in PARAMS:
        assert_allclose(
            getattr(ours32, name),
            getattr(theirs32, name),
            rtol=1e-3,
            atol=1e-5,
            err_msg=name,
        )
    assert_allclose(
        ours32.score_samples(X32), theirs32.score_samples(X32), rtol=0, atol=2e-3
    )
    assert_array_equal(ours32.predict(X32), theirs32.predict(X32))


def test_float32_attributes_like_sklearn(blobs, covariance_type):
    X32 = blobs.astype(np.float32)
    ours, theirs = fit_both(
        X32, n_components=3, covariance_type=covariance_type, random_state=0
    )
    for name in PARAMS:
        if SKLEARN_KEEPS_FLOAT32:
            assert getattr(ours, name).dtype == getattr(theirs, name).dtype, name
        assert getattr(ours, name).dtype == np.float32, name
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-5)
    for method in ("predict_proba", "score_samples"):
        assert getattr(ours, method)(X32).dtype == np.float32
        if SKLEARN_KEEPS_FLOAT32:
            assert (
                getattr(ours, method)(X32).dtype == getattr(theirs, method)(X32).dtype
            )
    # float64 data scored by a float32 model: as sklearn, the data's dtype.
    assert ours.score_samples(blobs).dtype == theirs.score_samples(blobs).dtype


def test_warm_start(blobs, covariance_type, start):
    """A warm-started second fit continues the first: two fits of 4
    iterations are one fit of 8, and match sklearn's warm start."""
    kwargs = dict(
        n_components=3,
        covariance_type=covariance_type,
        tol=0,
        max_iter=4,
        warm_start=True,
        **start,
    )
    ours = GaussianMixture(**kwargs)
    theirs = SkGaussianMixture(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(blobs)
        theirs.fit(blobs)
        first_lower_bounds = list(ours.lower_bounds_)
        ours.fit(blobs)
        theirs.fit(blobs)
        once = GaussianMixture(**{**kwargs, "max_iter": 8, "warm_start": False})
        once.fit(blobs)
    assert_same_fit(ours, theirs, blobs)
    assert ours.n_iter_ == 4
    assert_allclose(
        first_lower_bounds + ours.lower_bounds_, once.lower_bounds_, rtol=1e-12
    )
    for name in PARAMS:
        assert_allclose(
            getattr(ours, name), getattr(once, name), rtol=1e-10, atol=1e-14
        )


def test_warm_start_false_restarts(blobs):
    kwargs = dict(n_components=3, tol=0, max_iter=3, **initial_params("full"))
    gm = GaussianMixture(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = gm.fit(blobs).lower_bounds_
        second = gm.fit(blobs).lower_bounds_
    assert_array_equal(first, second)


def test_n_init_keeps_best(blobs, capsys):
    """With several initializations the fit keeps the one with the largest
    lower bound (read from verbose=2 output), and from 'random_from_data'
    (the same draws as sklearn) it reaches sklearn's result."""
    kwargs = {
        "n_components": 3,
        "covariance_type": "diag",
        "init_params": "random",
        "n_init": 4,
        "random_state": 3,
        "max_iter": 200,
    }
    gm = GaussianMixture(verbose=2, **kwargs).fit(blobs)
    out = capsys.readouterr().out
    bounds = [float(v) for v in re.findall(r"lower bound (-?[\d.]+)\.", out)]
    assert len(bounds) == 4
    assert_allclose(gm.lower_bound_, max(bounds), atol=1e-5)
    assert_allclose(gm.score(blobs), gm.lower_bound_, rtol=1e-4)

    kwargs["init_params"] = "random_from_data"
    ours, theirs = fit_both(blobs, **kwargs)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_
    # sklearn's 'random_from_data' start has weights 1/n_samples each (they
    # sum to n_components / n_samples), emfast's 1/n_components: the first
    # lower bound differs by log(n_samples / n_components), the
    # responsibilities and so every later iteration do not.
    assert_same_lower_bounds(ours, theirs, rtol=1e-9, first=1)
    for name in PARAMS:
        assert_allclose(
            getattr(ours, name), getattr(theirs, name), rtol=1e-6, atol=1e-10
        )


def test_max_iter_zero(blobs, covariance_type, start):
    """No iterations: the initial parameters, lower bound -inf, no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm = GaussianMixture(
            3, covariance_type=covariance_type, max_iter=0, **start
        ).fit(blobs)
    assert gm.n_iter_ == 0
    assert not gm.converged_
    assert gm.lower_bound_ == -np.inf
    assert gm.lower_bounds_ == []
    assert_allclose(gm.weights_, start["weights_init"])
    assert_allclose(gm.means_, start["means_init"])
    assert_allclose(gm.precisions_, start["precisions_init"], rtol=1e-12)
    assert np.all(np.isfinite(gm.covariances_))
    # Labels and scores come from the initial parameters.
    covariances = ref.covariances_from_precisions(
        start["precisions_init"], covariance_type
    )
    assert_allclose(gm.covariances_, covariances, rtol=1e-10)
    log_prob, resp = ref.log_prob_resp(
        blobs,
        start["weights_init"],
        start["means_init"],
        covariances,
        covariance_type,
    )
    assert_array_equal(gm.predict(blobs), resp.argmax(axis=1))
    assert_allclose(gm.score_samples(blobs), log_prob, rtol=1e-10)


def test_max_iter_zero_kmeans_init(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm = GaussianMixture(3, max_iter=0, random_state=0).fit(blobs)
    assert gm.n_iter_ == 0 and gm.lower_bound_ == -np.inf
    assert_allclose(gm.weights_.sum(), 1.0)
    # k-means on well-separated blobs: one centre per blob.
    assert_allclose(np.sort(gm.means_[:, 0]), [-6.0, 0.0, 6.0], atol=0.2)


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_output(blobs, capsys, verbose):
    kwargs = dict(
        n_components=3,
        tol=0,
        max_iter=5,
        n_init=2,
        verbose=verbose,
        verbose_interval=2,
        **initial_params("full"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixture(**kwargs).fit(blobs)
        ours = capsys.readouterr().out
        SkGaussianMixture(**kwargs).fit(blobs)
        theirs = capsys.readouterr().out

    def without_times(text):
        return re.sub(r"time lapse \d+\.\d{5}s", "time lapse Ts", text)

    assert without_times(ours) == without_times(theirs)
    expected_lines = 2 * (1 + 2 + 1)  # per init: begin, iterations 2 and 4, end
    assert len(ours.splitlines()) == expected_lines
    if verbose == 1:
        assert ours == theirs
        assert ours.splitlines()[:4] == [
            "Initialization 0",
            "  Iteration 2",
            "  Iteration 4",
            "Initialization did not converge.",
        ]


def test_silent_by_default(blobs, capsys):
    GaussianMixture(3, random_state=0).fit(blobs)
    assert capsys.readouterr().out == ""


def test_convergence_warning(blobs):
    with pytest.warns(
        ConvergenceWarning, match="Best performing initialization did not converge"
    ):
        gm = GaussianMixture(3, max_iter=2, tol=1e-12, random_state=0).fit(blobs)
    assert not gm.converged_ and gm.n_iter_ == 2


def test_no_warning_when_converged(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm = GaussianMixture(3, random_state=0).fit(blobs)
    assert gm.converged_


@pytest.mark.parametrize("max_iter", [1, 2, 100])
def test_fit_predict_equals_fit_then_predict(blobs, covariance_type, max_iter):
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "max_iter": max_iter,
        "random_state": 1,
        "init_params": "random",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = GaussianMixture(**kwargs).fit_predict(blobs)
        gm = GaussianMixture(**kwargs).fit(blobs)
    assert_array_equal(labels, gm.predict(blobs))
    assert_array_equal(gm.predict(blobs), gm.predict_proba(blobs).argmax(axis=1))


def test_clone_and_pickle(blobs, covariance_type):
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    cloned = clone(gm)
    assert cloned.get_params() == gm.get_params()
    gm.fit(blobs)
    assert not hasattr(clone(gm), "means_")

    restored = pickle.loads(pickle.dumps(gm))
    assert_array_equal(restored.predict(blobs), gm.predict(blobs))
    assert_array_equal(restored.predict_proba(blobs), gm.predict_proba(blobs))
    assert_array_equal(restored.score_samples(blobs), gm.score_samples(blobs))
    for name in PARAMS:
        assert_array_equal(getattr(restored, name), getattr(gm, name))

    # A clone refitted with the same seed gives the same model.
    refit = clone(gm).fit(blobs)
    assert_array_equal(refit.predict(blobs), gm.predict(blobs))
    assert_array_equal(refit.means_, gm.means_)


def test_pipeline(blobs):
    pipe = make_pipeline(StandardScaler(), GaussianMixture(3, random_state=0))
    labels = pipe.fit_predict(blobs)
    assert_array_equal(labels, pipe.predict(blobs))
    scaled = StandardScaler().fit_transform(blobs)
    direct = GaussianMixture(3, random_state=0).fit(scaled)
    assert_allclose(pipe.score(blobs), direct.score(scaled), rtol=1e-10)
    assert pipe.predict_proba(blobs).shape == (blobs.shape[0], 3)


def test_grid_search(blobs):
    search = GridSearchCV(
        GaussianMixture(random_state=0), {"n_components": [1, 2, 3, 4]}, cv=3
    ).fit(blobs)
    # The default score (mean log-likelihood) picks at least the 3 true blobs.
    assert search.best_params_["n_components"] >= 3
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] > scores[1] > scores[0]


def test_sample(blobs, covariance_type):
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=7)
    gm.fit(blobs)
    X, y = gm.sample(5000)
    assert X.shape == (5000, 2) and y.shape == (5000,)
    assert np.issubdtype(y.dtype, np.integer)
    assert set(np.unique(y)) <= {0, 1, 2}
    assert_allclose(np.bincount(y, minlength=3) / 5000, gm.weights_, atol=0.03)
    for k in range(3):
        assert_allclose(X[y == k].mean(axis=0), gm.means_[k], atol=0.15)
    # The same random_state gives the same samples, one sample works.
    X2, y2 = clone(gm).fit(blobs).sample(5000)
    assert_array_equal(X, X2)
    assert_array_equal(y, y2)
    X1, y1 = gm.sample()
    assert X1.shape == (1, 2) and y1.shape == (1,)
    # sklearn with the same parameters and random_state draws the same points.
    theirs = SkGaussianMixture(3, covariance_type=covariance_type, random_state=7)
    theirs.fit(blobs)
    for name in ("weights_", "means_", "covariances_"):
        setattr(theirs, name, getattr(gm, name))
    X3, y3 = theirs.sample(5000)
    assert_array_equal(y, y3)
    assert_allclose(X, X3, rtol=1e-12)


def test_sample_rejects_zero(blobs):
    gm = GaussianMixture(3, random_state=0).fit(blobs)
    with pytest.raises(ValueError, match="'n_samples': 0 .*at least one sample"):
        gm.sample(0)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_init_params(blobs, covariance_type, init_params):
    """Every initialization gives finite parameters and a lower bound at
    least as good as sklearn's from the same init_params and seed; the
    default ('kmeans') reaches sklearn's optimum."""
    ours, theirs = fit_both(
        blobs,
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        n_init=2,
        random_state=0,
        tol=1e-6,
        max_iter=300,
    )
    for name in PARAMS:
        assert np.all(np.isfinite(getattr(ours, name))), name
    assert_allclose(ours.weights_.sum(), 1.0, rtol=1e-12)
    assert np.isfinite(ours.lower_bound_)
    assert ours.lower_bound_ >= theirs.lower_bound_ - 1e-6 * abs(theirs.lower_bound_)
    if init_params == "kmeans":
        assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-6)
        order = np.argsort(ours.means_[:, 0])
        their_order = np.argsort(theirs.means_[:, 0])
        assert_allclose(
            ours.means_[order], theirs.means_[their_order], rtol=1e-4, atol=1e-6
        )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_init_params_reach_optimum(blobs, covariance_type):
    """On well-separated blobs k-means and k-means++ starts find the
    optimum that a start near the truth reaches."""
    best = GaussianMixture(
        3, covariance_type=covariance_type, tol=1e-8, **initial_params(covariance_type)
    ).fit(blobs)
    for init_params in ("kmeans", "k-means++"):
        gm = GaussianMixture(
            3,
            covariance_type=covariance_type,
            tol=1e-8,
            init_params=init_params,
            random_state=0,
        ).fit(blobs)
        assert_allclose(gm.lower_bound_, best.lower_bound_, rtol=1e-7)
