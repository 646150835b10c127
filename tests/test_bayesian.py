"""BayesianGaussianMixture: sklearn's results from identical starts, the
engine's sources (weights, missing values, memmap, Dask), save/load, bad
input, and sklearn's estimator checks."""

import unittest
import warnings

import numpy as np
import pytest
from conftest import sklearn_lower_bounds
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBGM
from sklearn.utils.estimator_checks import parametrize_with_checks

import emfast
from emfast import BayesianGaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
STATE = (
    "weight_concentration_",
    "mean_precision_",
    "means_",
    "degrees_of_freedom_",
    "covariances_",
    "precisions_cholesky_",
)


def blobs(n=200, seed=0, d=3):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 1.0, (n, d)) for c in (0.0, 4.0, 8.0)])


def quiet_fit(estimator, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **kwargs)


def relative_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_iterations_as_sklearn_from_identical_parameters(
    covariance_type, prior_type
):
    """Both libraries warm-start from sklearn's state after its
    initialization and run 20 iterations (sklearn one ``fit`` per iteration,
    which records every bound on every sklearn version)."""
    X = blobs()
    params = dict(
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
    )
    start = quiet_fit(SkBGM(max_iter=1, random_state=0, **params), X)
    ours = BayesianGaussianMixture(max_iter=20, tol=0, warm_start=True, **params)
    theirs = SkBGM(max_iter=1, tol=0, warm_start=True, **params)
    for estimator in (ours, theirs):
        for name in STATE:
            setattr(estimator, name, getattr(start, name))
        estimator.converged_ = False
        estimator.lower_bound_ = -np.inf
    quiet_fit(ours, X)
    their_bounds = [quiet_fit(theirs, X).lower_bound_ for _ in range(20)]
    assert ours.n_iter_ == 20
    for name in ("weights_", "means_", "covariances_", "precisions_"):
        assert relative_error(getattr(ours, name), getattr(theirs, name)) < 1e-8, name
    for name in ("mean_precision_", "degrees_of_freedom_", "weight_concentration_"):
        assert relative_error(getattr(ours, name), getattr(theirs, name)) < 1e-8, name
    assert relative_error(ours.lower_bound_, theirs.lower_bound_) < 1e-8
    assert_allclose(ours.lower_bounds_, np.ravel(their_bounds), rtol=1e-8, atol=0)
    assert isinstance(ours.lower_bound_, np.float64)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)
    assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-10)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_random_from_data_starts_as_sklearn(covariance_type, prior_type):
    """'random_from_data' draws sklearn's points from the same random_state
    and starts each component at one of them, as sklearn does."""
    X = blobs(seed=1)
    params = dict(
        n_components=3,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        init_params="random_from_data",
        random_state=3,
        max_iter=5,
        tol=0,
    )
    ours = quiet_fit(BayesianGaussianMixture(**params), X)
    theirs = quiet_fit(SkBGM(**params), X)
    for name in ("weights_", "means_", "covariances_"):
        assert relative_error(getattr(ours, name), getattr(theirs, name)) < 1e-8, name
    assert_allclose(
        ours.lower_bounds_, np.ravel(sklearn_lower_bounds(theirs, X)), rtol=1e-8
    )


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_same_fixed_point_as_sklearn_from_the_default_start(prior_type):
    X = blobs(300, seed=2)
    params = dict(
        n_components=5,
        weight_concentration_prior_type=prior_type,
        tol=1e-10,
        max_iter=1000,
        random_state=0,
    )
    ours = BayesianGaussianMixture(**params).fit(X)
    theirs = SkBGM(**params).fit(X)
    assert ours.converged_ and theirs.converged_
    order_a, order_b = np.argsort(ours.means_[:, 0]), np.argsort(theirs.means_[:, 0])
    used = ours.weights_[order_a] > 0.01
    assert used.sum() == 3
    assert_allclose(ours.weights_[order_a], theirs.weights_[order_b], atol=1e-6)
    assert_allclose(ours.means_[order_a][used], theirs.means_[order_b][used], rtol=1e-6)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)


def test_unneeded_components_get_vanishing_weights():
    """The docstring's example: two clusters, six components; the weights of
    four vanish, as in sklearn."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-5, 1, (300, 2)), rng.normal(5, 1, (300, 2))])
    ours = BayesianGaussianMixture(n_components=6, random_state=0).fit(X)
    theirs = SkBGM(n_components=6, random_state=0).fit(X)
    for model in (ours, theirs):
        assert (model.weights_ > 0.05).sum() == 2
        assert model.weights_[model.weights_ < 0.05].sum() < 0.01
    assert_allclose(np.sort(ours.weights_), np.sort(theirs.weights_), atol=1e-4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
def test_integer_weights_equal_repeated_rows(covariance_type, init_params):
    X = blobs(60, seed=5)
    weights = np.random.default_rng(0).integers(0, 4, len(X))
    params = dict(
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=0,
        max_iter=10,
    )
    weighted = quiet_fit(BayesianGaussianMixture(**params), X, sample_weight=weights)
    repeated = quiet_fit(BayesianGaussianMixture(**params), np.repeat(X, weights, 0))
    for name in ("weights_", "means_", "covariances_", "degrees_of_freedom_"):
        assert_allclose(
            getattr(weighted, name), getattr(repeated, name), rtol=1e-9, err_msg=name
        )
    assert_allclose(weighted.mean_prior_, repeated.mean_prior_, rtol=1e-12)
    assert_allclose(weighted.covariance_prior_, repeated.covariance_prior_, rtol=1e-9)
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-9)


def _reference_missing_iteration(bgm, X, covariance_type):
    """One variational E-step with missing values, written plainly: the
    responsibilities from the marginal Gaussians of the observed values plus
    the model's per-component terms, the missing values' conditional means
    and covariances from covariances_; returns (nk, means of the completed
    data, entropy term of the lower bound)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    comp = bgm._components()
    cov = emfast._covariance.full_covariances(
        comp.covariances, covariance_type, bgm.n_components, X.shape[1]
    )
    n, d = X.shape
    K = bgm.n_components
    log_r = np.empty((n, K))
    cond_means = np.empty((n, K, d))
    cond_entropy = np.zeros((n, K))
    for i in range(n):
        o = ~np.isnan(X[i])
        m = ~o
        for k in range(K):
            s_oo = cov[k][np.ix_(o, o)]
            log_r[i, k] = comp.log_offset[k] + multivariate_normal.logpdf(
                X[i, o], comp.means[k, o], s_oo
            )
            full = comp.means[k].copy()
            full[o] = X[i, o]
            if m.any():
                b = cov[k][np.ix_(m, o)] @ np.linalg.inv(s_oo)
                full[m] = comp.means[k, m] + b @ (X[i, o] - comp.means[k, o])
                c = cov[k][np.ix_(m, m)] - b @ cov[k][np.ix_(o, m)]
                cond_entropy[i, k] = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * c)[1]
            cond_means[i, k] = full
    log_r -= logsumexp(log_r, axis=1, keepdims=True)
    r = np.exp(log_r)
    entropy = -np.sum(r * log_r) + np.sum(r * cond_entropy)
    nk = r.sum(axis=0)
    xk = np.einsum("nk,nkd->kd", r, cond_means) / nk[:, None]
    return nk, xk, entropy


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginalize_matches_a_plain_reference(covariance_type):
    X = blobs(40, seed=6)
    rng = np.random.default_rng(1)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    bgm = quiet_fit(
        BayesianGaussianMixture(
            n_components=3,
            covariance_type=covariance_type,
            nan_policy="marginalize",
            random_state=0,
            max_iter=3,
        ),
        X,
    )
    nk, xk, entropy = _reference_missing_iteration(bgm, X, covariance_type)
    model = bgm._model()
    source = emfast._sources.source_for(
        emfast._validation.as_kernel_input(X), None, 3, marginalize=True
    )
    stats = source.e_step(model.components(bgm._get_parameters()), True)
    nk_ours, xk_ours, _ = emfast._covariance.estimate_gaussian_parameters(
        stats, covariance_type, 0.0, np.float64
    )
    assert_allclose(nk_ours, nk, rtol=1e-10)
    assert_allclose(xk_ours, xk, rtol=1e-9, atol=1e-10)
    assert_allclose(stats.entropy, entropy, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginalize_lower_bound_increases(covariance_type):
    """With the missing values' entropy in it, the bound is the evidence
    lower bound (up to a constant), which variational EM never lowers."""
    X = blobs(100, seed=7)
    rng = np.random.default_rng(2)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    bgm = quiet_fit(
        BayesianGaussianMixture(
            n_components=4,
            covariance_type=covariance_type,
            nan_policy="marginalize",
            random_state=0,
            max_iter=30,
            tol=0,
        ),
        X,
    )
    steps = np.diff(bgm.lower_bounds_)
    assert np.all(steps > -1e-9 * np.abs(bgm.lower_bounds_[1:])), steps.min()


def test_marginalize_without_nan_is_the_plain_fit():
    X = blobs(50, seed=8)
    a = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    b = BayesianGaussianMixture(
        n_components=3, random_state=0, nan_policy="marginalize"
    ).fit(X)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        assert_array_equal(getattr(a, name), getattr(b, name))


def test_omit_drops_rows_with_nan():
    X = blobs(50, seed=9)
    Xn = X.copy()
    Xn[:5, 1] = np.nan
    with pytest.warns(UserWarning, match="dropped 5 of"):
        a = BayesianGaussianMixture(
            n_components=3, random_state=0, nan_policy="omit"
        ).fit(Xn)
    b = BayesianGaussianMixture(n_components=3, random_state=0).fit(X[5:])
    assert_array_equal(a.means_, b.means_)
    assert a.n_samples_omitted_ == 5


def test_memmap_fit_equals_in_memory_fit(tmp_path):
    X = blobs(100, seed=10)
    np.save(tmp_path / "X.npy", X)
    Xm = np.load(tmp_path / "X.npy", mmap_mode="r")
    a = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    b = BayesianGaussianMixture(n_components=3, random_state=0).fit(Xm)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_save_load_round_trip(tmp_path, covariance_type, prior_type):
    X = blobs(50, seed=11)
    bgm = quiet_fit(
        BayesianGaussianMixture(
            n_components=3,
            covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type,
            random_state=0,
        ),
        X,
    )
    loaded = emfast.load(bgm.save(tmp_path / "model"))
    assert type(loaded) is BayesianGaussianMixture
    assert loaded.get_params() == bgm.get_params()
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert_array_equal(getattr(loaded, name), getattr(bgm, name))
    assert_allclose(
        np.asarray(loaded.weight_concentration_),
        np.asarray(bgm.weight_concentration_),
        rtol=0,
    )
    assert type(loaded.weight_concentration_) is type(bgm.weight_concentration_)
    assert_array_equal(loaded.predict_proba(X), bgm.predict_proba(X))
    assert_array_equal(loaded.score_samples(X), bgm.score_samples(X))
    # warm start continues from the loaded state exactly as from the original
    for model in (loaded, bgm):
        model.set_params(warm_start=True, max_iter=2)
        quiet_fit(model, X)
    assert_array_equal(loaded.means_, bgm.means_)


def test_load_refuses_inconsistent_weights(tmp_path):
    X = blobs(50, seed=12)
    bgm = BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    bgm.mean_precision_ = -bgm.mean_precision_
    with pytest.raises(ValueError, match="mean_precision_ must be positive"):
        bgm.save(tmp_path / "m")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"weight_concentration_prior": -1.0}, "weight_concentration_prior"),
        ({"mean_precision_prior": 0.0}, "mean_precision_prior"),
        ({"degrees_of_freedom_prior": 1.5}, "should be greater than 2, but got 1.500"),
        ({"mean_prior": [0.0, 0.0]}, r"'means' should have the shape of \(3,\)"),
        (
            {"covariance_prior": np.eye(2)},
            r"'full covariance_prior' should have the shape of \(3, 3\)",
        ),
        (
            {"covariance_prior": -np.eye(3)},
            "'full precision' should be symmetric, positive-definite",
        ),
        (
            {"covariance_type": "diag", "covariance_prior": [1.0, -1.0, 1.0]},
            "'diag precision' should be positive",
        ),
        (
            {"covariance_type": "spherical", "covariance_prior": [1.0, 2.0]},
            "'spherical covariance_prior' should be a positive number",
        ),
        (
            {"weight_concentration_prior_type": "beta"},
            "weight_concentration_prior_type",
        ),
    ],
)
def test_bad_priors_are_clear_errors(params, match):
    X = blobs(20, seed=13)
    with pytest.raises(ValueError, match=match):
        BayesianGaussianMixture(n_components=2, **params).fit(X)
    if params.get("covariance_type") != "spherical":  # sklearn does not check it
        with pytest.raises(ValueError, match=match):
            SkBGM(n_components=2, **params).fit(X)


def test_sklearn_messages_for_bad_data():
    X = blobs(20, seed=14)
    for bad in (X[:1], np.array([[np.inf, 0.0, 0.0]] * 3)):
        with pytest.raises(ValueError) as ours:
            BayesianGaussianMixture(n_components=1).fit(bad)
        with pytest.raises(ValueError) as theirs:
            SkBGM(n_components=1).fit(bad)
        assert str(ours.value) == str(theirs.value)


def test_dask_threaded_fit_equals_in_memory_fit():
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    X = blobs(200, seed=15)
    with dask.config.set(scheduler="threads"):
        for covariance_type in COVARIANCE_TYPES:
            params = dict(
                n_components=3, covariance_type=covariance_type, random_state=0
            )
            a = quiet_fit(BayesianGaussianMixture(**params), X)
            b = quiet_fit(
                BayesianGaussianMixture(**params), da.from_array(X, chunks=150)
            )
            for name in ("weights_", "means_", "covariances_"):
                assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-8)
            assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-8)
            assert_array_equal(b.predict(da.from_array(X, chunks=150)), a.predict(X))


def test_local_cluster_fit_equals_in_memory_fit():
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    X = blobs(300, seed=16)
    w = np.random.default_rng(3).integers(1, 3, len(X)).astype(float)
    params = dict(n_components=3, random_state=0, max_iter=20)
    a = quiet_fit(BayesianGaussianMixture(**params), X, sample_weight=w)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        with distributed.Client(cluster):
            b = quiet_fit(
                BayesianGaussianMixture(**params),
                da.from_array(X, chunks=200),
                sample_weight=da.from_array(w, chunks=200),
            )
    finally:
        cluster.close()
    for name in ("weights_", "means_", "covariances_", "degrees_of_freedom_"):
        assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-8)
    assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-8)


def test_fit_is_all_or_nothing():
    X = blobs(30, seed=17)
    bgm = BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    before = bgm.means_.copy()
    with pytest.raises(ValueError):
        bgm.set_params(degrees_of_freedom_prior=0.5).fit(X)
    assert_array_equal(bgm.means_, before)


@parametrize_with_checks([BayesianGaussianMixture()])
def test_sklearn_estimator_checks(estimator, check, request):
    assert request.node.get_closest_marker("xfail") is None
    assert request.node.get_closest_marker("skip") is None
    try:
        check(estimator)
    except (unittest.SkipTest, pytest.skip.Exception) as exc:
        pytest.fail(f"{getattr(check, 'func', check).__name__} was skipped: {exc}")


def test_command_line_fit_bayesian(tmp_path, capsys):
    from emfast.cli import main

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-5, 1, (300, 2)), rng.normal(5, 1, (300, 2))])
    np.save(tmp_path / "X.npy", X)
    assert (
        main(
            [
                "fit",
                str(tmp_path / "X.npy"),
                "-k",
                "4",
                "--bayesian",
                "-q",
                "-o",
                str(tmp_path / "m.npz"),
            ]
        )
        == 0
    )
    model = emfast.load(tmp_path / "m.npz")
    assert type(model) is BayesianGaussianMixture
    assert (model.weights_ > 0.05).sum() == 2
    assert (
        main(
            [
                "fit",
                str(tmp_path / "X.npy"),
                "--select",
                "1-3",
                "--bayesian",
                "-o",
                str(tmp_path / "n.npz"),
            ]
        )
        == 1
    )
    assert "--bayesian chooses the number of components" in capsys.readouterr().err
