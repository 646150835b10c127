"""Property tests (hypothesis) of ``GaussianMixture.fit`` on odd data.

Each example draws a few structural choices (shape, dtype, scale, oddities of
the data, the estimator's settings) and a seed; ``make_data`` builds X and the
sample weights from them with NumPy, so a failing example prints as a small
``Case`` that rebuilds the same data and shrinks well: ``make_data(case)``
and ``case.estimator()`` reproduce it.

The properties: a fit either gives finite parameters (weights summing to 1,
positive-definite covariances) or raises a ValueError that says what is wrong;
the lower bound never decreases from one EM iteration to the next; the
fitted model's predictions are finite and consistent.

The profile (``tests/conftest.py``) bounds the run; ``--hypothesis-profile
fuzz`` runs many more random examples to hunt for bugs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from hypothesis import event, example, given, note
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from emfast import GaussianMixture

# Every ValueError that fit may raise on valid parameters says one of these.
KNOWN_ERRORS = (
    "ill-defined empirical covariance",  # a covariance that cannot be inverted
    "n_samples >= n_components",
    "a minimum of 2 is required",  # fewer than 2 samples
    "positive sample_weight",  # fewer positive weights than components
    "every coordinate missing",  # nan_policy='marginalize', an all-NaN row
    "no observed value",  # nan_policy='marginalize', an all-NaN column
    "leaves fewer than 2 rows",  # nan_policy='omit'
    "every row left has sample_weight 0",  # nan_policy='omit'
)

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
ODDITIES = ("duplicates", "constant_column", "identical_rows", "outliers")


@dataclass(frozen=True)
class Case:
    """The choices that make one example; ``make_data`` builds X from them."""

    seed: int
    n_samples: int
    n_features: int
    n_components: int
    dtype: str = "float64"
    scale: float = 1.0
    offset: float = 0.0
    oddities: tuple = ()
    weights: str = "none"  # 'none', 'with_zeros' or 'integers'
    nan_policy: str = "raise"
    nan_fraction: float = 0.0
    covariance_type: str = "full"
    reg_covar: float = 1e-6
    init_params: str = "kmeans"
    max_iter: int = 10
    tol: float = 0.0
    n_init: int = 1

    def estimator(self) -> GaussianMixture:
        return GaussianMixture(
            self.n_components,
            covariance_type=self.covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            init_params=self.init_params,
            random_state=self.seed,
            nan_policy=self.nan_policy,
        )


def make_data(case: Case):
    """(X, sample_weight) for ``case``: blobs around up to n_components
    centres, then the oddities, the scale and offset, the dtype and NaN."""
    rng = np.random.default_rng(case.seed)
    n, d = case.n_samples, case.n_features
    n_true = int(rng.integers(1, case.n_components + 1))
    centres = rng.uniform(-5.0, 5.0, size=(n_true, d))
    spreads = rng.uniform(0.2, 1.5, size=(n_true, d))
    labels = rng.integers(n_true, size=n)
    X = centres[labels] + spreads[labels] * rng.normal(size=(n, d))
    if "duplicates" in case.oddities:
        copies = rng.integers(n, size=n // 2 + 1)
        X[rng.integers(n, size=copies.size)] = X[copies]
    if "constant_column" in case.oddities:
        X[:, rng.integers(d)] = rng.uniform(-5.0, 5.0)
    if "identical_rows" in case.oddities:
        X[:] = X[0]
    if "outliers" in case.oddities:
        far = rng.integers(n, size=max(1, n // 20))
        X[far] += rng.choice([1e3, -1e6, 1e6], size=(far.size, 1))
    X = case.offset + case.scale * X
    X = np.rint(X).astype(np.int64) if case.dtype == "int64" else X.astype(case.dtype)
    if case.nan_fraction:
        missing = rng.random(X.shape) < case.nan_fraction
        if case.nan_policy == "marginalize":
            # No all-NaN rows: test_all_nan_row_is_a_clear_error has those.
            keep = rng.integers(d, size=n)
            missing[np.arange(n), keep] = False
        X[missing] = np.nan
    if case.weights == "with_zeros":
        sample_weight = rng.uniform(0.0, 2.0, size=n)
        sample_weight[rng.random(n) < 0.3] = 0.0
        sample_weight[rng.integers(n)] = 1.0  # not all zero
    elif case.weights == "integers":
        sample_weight = rng.integers(0, 4, size=n).astype(np.float64)
        sample_weight[rng.integers(n)] = 1.0
    else:
        sample_weight = None
    return X, sample_weight


@st.composite
def cases(draw, general_position=False):
    """Any ``Case``: shapes, dtypes, scales, oddities and settings.

    With ``general_position``, data on which EM is well defined: no
    oddities, at least 4 (n_features + 1) points per component, a spread the
    dtype resolves at the offset, ``reg_covar`` negligible next to it, and
    ``tol=0`` runs of several iterations."""
    n_components = draw(st.integers(1, 5))
    n_features = draw(st.one_of(st.integers(1, 3), st.integers(4, 12)))
    dtype = draw(st.sampled_from(["float64", "float32", "int64"]))
    nan_policy = "raise"
    nan_fraction = 0.0
    if dtype != "int64":
        nan_policy = draw(st.sampled_from(["raise", "omit", "marginalize"]))
        if nan_policy == "omit":
            nan_fraction = draw(st.sampled_from([0.02, 0.1, 0.3]))
        elif nan_policy == "marginalize":
            nan_fraction = draw(st.sampled_from([0.05, 0.2, 0.5]))
    scale = draw(st.sampled_from([1.0, 1e-8, 1e6]))
    offset = draw(st.sampled_from([0.0, 1e6]))
    if general_position:
        if nan_policy == "omit":
            nan_fraction = 0.02
        complete = (1.0 - nan_fraction) ** n_features if nan_policy == "omit" else 1
        min_samples = int(4 * n_components * (n_features + 1) / complete)
        n_samples = draw(st.integers(min_samples, min_samples + 100))
        resolution = {"float64": 1e-15, "float32": 1e-6, "int64": 1.0}[dtype]
        resolution *= max(1.0, offset)
        if scale < 1e4 * resolution:
            scale = 1.0 if 1e4 * resolution <= 1.0 else 1e6
        oddities = ()
        reg_covar = 1e-10 * scale**2
        weights = draw(st.sampled_from(["none", "integers"]))
        max_iter, tol, n_init = draw(st.integers(3, 15)), 0.0, 1
    else:
        if draw(st.booleans()):
            # n_samples close to n_components, sometimes below it.
            n_samples = draw(st.integers(max(2, n_components - 1), n_components + 2))
        else:
            n_samples = draw(st.integers(max(2, n_components), 60))
        oddities = tuple(draw(st.lists(st.sampled_from(ODDITIES), unique=True)))
        reg_covar = draw(st.sampled_from([1e-6, 0.0, 1e-10, 1e-3]))
        weights = draw(st.sampled_from(["none", "with_zeros", "integers"]))
        max_iter = draw(st.integers(0, 10))
        tol = draw(st.sampled_from([0.0, 1e-3]))
        n_init = draw(st.integers(1, 2))
    return Case(
        seed=draw(st.integers(0, 2**32 - 1)),
        n_samples=n_samples,
        n_features=n_features,
        n_components=n_components,
        dtype=dtype,
        scale=scale,
        offset=offset,
        oddities=oddities,
        weights=weights,
        nan_policy=nan_policy,
        nan_fraction=nan_fraction,
        covariance_type=draw(st.sampled_from(COVARIANCE_TYPES)),
        reg_covar=reg_covar,
        init_params=draw(st.sampled_from(INIT_PARAMS)),
        max_iter=max_iter,
        tol=tol,
        n_init=n_init,
    )


def fit_or_known_error(case: Case):
    """The fitted model, or None after a ValueError with a known message."""
    X, sample_weight = make_data(case)
    note(f"X = {X!r}\nsample_weight = {sample_weight!r}")
    gm = case.estimator()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "nan_policy='omit'", UserWarning)
        try:
            gm.fit(X, sample_weight=sample_weight)
        except ValueError as error:
            message = str(error)
            known = [known for known in KNOWN_ERRORS if known in message]
            assert known, message
            event(f"ValueError: {known[0]}")
            return None, X
    return gm, X


def assert_positive_definite(gm: GaussianMixture):
    """Positive diagonals of the precision Cholesky factors (so positive-
    definite precisions), and covariances positive-definite up to rounding:
    an eigenvalue below eps * n_features * the largest is not resolved."""
    covariances = np.asarray(gm.covariances_, dtype=np.float64)
    factors = np.asarray(gm.precisions_cholesky_)
    if gm.covariance_type in ("full", "tied"):
        assert np.all(np.diagonal(factors, axis1=-2, axis2=-1) > 0)
        eigenvalues = np.linalg.eigvalsh(covariances)
        eps = np.finfo(gm.covariances_.dtype).eps
        resolution = eps * gm.n_features_in_ * eigenvalues.max(axis=-1)
        assert np.all(eigenvalues.min(axis=-1) > -resolution), eigenvalues
    else:
        assert np.all(factors > 0)
        assert np.all(covariances > 0)


def check_fitted(gm: GaussianMixture, case: Case):
    dtype = np.float32 if case.dtype == "float32" else np.float64
    for name in (
        "weights_",
        "means_",
        "covariances_",
        "precisions_",
        "precisions_cholesky_",
    ):
        value = getattr(gm, name)
        assert value.dtype == dtype, name
        assert np.all(np.isfinite(value)), name
    if case.max_iter:  # max_iter=0 keeps the initialization, as sklearn
        assert np.isfinite(gm.lower_bound_)
    assert len(gm.lower_bounds_) <= case.max_iter
    assert np.all(np.isfinite(gm.lower_bounds_))
    assert np.all(gm.weights_ >= 0)
    assert abs(gm.weights_.sum() - 1) < (1e-5 if dtype == np.float32 else 1e-10)
    assert_positive_definite(gm)


# ------------------------------------------------------------------ properties


@given(case=cases())
@example(  # float32 precisions overflowed to inf without an error
    case=Case(
        seed=336462,
        n_samples=2,
        n_features=1,
        n_components=2,
        dtype="float32",
        scale=1e-8,
        reg_covar=0.0,
        init_params="random",
        max_iter=2,
    )
)
def test_fit_gives_finite_parameters_or_a_clear_error(case):
    gm, _ = fit_or_known_error(case)
    if gm is not None:
        check_fitted(gm, case)


def collapsed(gm: GaussianMixture) -> bool:
    """Whether a fitted component is (nearly) singular in some direction, so
    that reg_covar or rounding, not EM, moves the lower bound: a variance
    below 1e6 * reg_covar or 1e-6 times the component's largest, or a
    standard deviation that float64 means cannot resolve (data far from the
    origin with a tiny spread)."""
    covariances = np.asarray(gm.covariances_, dtype=np.float64)
    if gm.covariance_type in ("full", "tied"):
        variances = np.linalg.eigvalsh(covariances)
    else:
        variances = covariances.reshape(
            -1, 1 if gm.covariance_type == "spherical" else gm.n_features_in_
        )
    smallest = variances.min(axis=-1)
    resolution = np.finfo(np.float64).eps * np.abs(gm.means_).max()
    return bool(
        np.any(smallest < 1e6 * gm.reg_covar)
        or np.any(smallest < 1e-6 * variances.max(axis=-1))
        or np.sqrt(smallest.min()) < 1e6 * resolution
    )


def assert_lower_bound_never_decreases(case: Case):
    """EM never lowers the (weighted, observed-data) log-likelihood.

    reg_covar makes the M-step inexact: adding r to a variance that should be
    lam costs at most log(1 + r/lam) - r/(r + lam) < (r/lam)**2 / 2 per
    eigenvalue, so the bound may drop when a component collapses in some
    direction (lam near r; with missing values the conditional variances
    then grow from r towards 2r, a drop of up to log(2) / 2 per coordinate).
    Examples where a component collapsed are skipped. The kernels work in
    float64 for float32 input too, so one tolerance serves both."""
    gm, _ = fit_or_known_error(case)
    if gm is None:
        return
    if collapsed(gm):
        event("a component collapsed in some direction")
        return
    lower_bounds = np.array(gm.lower_bounds_)
    assert lower_bounds.size == case.max_iter
    allowed = 1e-9 * np.maximum(1.0, np.abs(lower_bounds[:-1]))
    drops = lower_bounds[:-1] - lower_bounds[1:]
    assert np.all(drops <= allowed), (lower_bounds, drops)


@given(case=cases(general_position=True))
def test_lower_bound_never_decreases(case):
    assert_lower_bound_never_decreases(case)


@given(case=cases())
@example(  # the tied M-step was biased low by about 10 eps |mean - centre|^2
    case=Case(
        seed=0,
        n_samples=5,
        n_features=1,
        n_components=4,
        dtype="float32",
        covariance_type="tied",
        reg_covar=0.0,
        max_iter=3,
    )
)
def test_lower_bound_never_decreases_on_odd_data(case):
    case = replace(case, tol=0.0, max_iter=max(3, case.max_iter), n_init=1)
    assert_lower_bound_never_decreases(case)


@given(case=cases())
@example(  # float32 covariances rounded to a non-PD matrix: marginal scoring
    case=Case(
        seed=0,
        n_samples=16,
        n_features=4,
        n_components=1,
        dtype="float32",
        oddities=("outliers",),
        nan_policy="marginalize",
        nan_fraction=0.05,
        max_iter=0,
    )
)
def test_predictions_are_finite_and_consistent(case):
    gm, X = fit_or_known_error(case)
    if gm is None:
        return
    if case.nan_policy == "omit":
        X = X[~np.isnan(X).any(axis=1)]
    # The training points, and a few new ones far from every component.
    far = np.nan_to_num(X[:3]) + 1e3 * np.std(np.nan_to_num(X), axis=0) + 1.0
    X = np.vstack([X, far.astype(X.dtype)])
    n_samples, n_components = X.shape[0], case.n_components
    with np.errstate(over="ignore"):  # float32 log-densities below -3.4e38
        log_prob = gm.score_samples(X)
    proba = gm.predict_proba(X)
    labels = gm.predict(X)
    assert log_prob.shape == (n_samples,)
    assert proba.shape == (n_samples, n_components)
    assert labels.shape == (n_samples,)
    finite = np.isfinite(log_prob)
    if log_prob.dtype == np.float32 and not finite.all():
        # float32 holds no log-density below -3.4e38 (a point 1e20 standard
        # deviations away): -inf there.
        exact = gm.score_samples(X[~finite].astype(np.float64))
        assert np.all(exact < np.finfo(np.float32).min), exact
    else:
        assert finite.all()
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    atol = 1e-5 if proba.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=atol)
    # predict is the most probable component (ties after rounding allowed).
    rows = np.arange(n_samples)
    assert np.all(proba[rows, labels] == proba.max(axis=1))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_all_nan_row_is_a_clear_error(covariance_type):
    X = np.random.default_rng(0).normal(size=(20, 3))
    X[5] = np.nan
    gm = GaussianMixture(2, covariance_type=covariance_type, nan_policy="marginalize")
    with pytest.raises(ValueError, match="every coordinate missing"):
        gm.fit(X)
