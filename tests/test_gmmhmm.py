"""GMMHMM against hmmlearn's from identical parameters, and its own
guarantees: finite parameters where hmmlearn gives NaN, bad input, the
default start, sampling."""

import itertools
import warnings

import numpy as np
import pytest
from hmmlearn import hmm as hl
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from emfast import GMMHMM

COVARIANCE_TYPES = ["spherical", "diag", "full", "tied"]
K, NM, D = 3, 2, 2
LENGTHS = [200, 1, 150, 60]


def true_model(covariance_type):
    """A 3-state model, each state a mixture of 2 Gaussians in 2-D."""
    startprob = np.array([0.6, 0.3, 0.1])
    transmat = np.array([[0.90, 0.07, 0.03], [0.05, 0.90, 0.05], [0.04, 0.06, 0.90]])
    weights = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]])
    means = np.array(
        [
            [[0.0, 0.0], [1.5, -1.0]],
            [[6.0, 1.0], [4.0, 3.0]],
            [[-3.0, 6.0], [-1.0, 8.0]],
        ]
    )
    full = np.array(
        [
            [[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 0.4]]],
            [[[0.6, -0.2], [-0.2, 0.9]], [[0.5, 0.1], [0.1, 0.3]]],
            [[[0.8, 0.0], [0.0, 0.4]], [[0.3, -0.1], [-0.1, 0.6]]],
        ]
    )
    covars = {
        "spherical": np.array([[0.5, 0.3], [1.0, 0.4], [0.8, 0.6]]),
        "diag": np.diagonal(full, axis1=2, axis2=3).copy(),
        "full": full,
        "tied": full[:, 0],
    }[covariance_type]
    return {
        "startprob_": startprob,
        "transmat_": transmat,
        "weights_": weights,
        "means_": means,
        "covars_": covars,
    }


def set_params(model, params):
    for name, value in params.items():
        setattr(model, name, np.array(value, copy=True))
    return model


def separated(covariance_type):
    """The true model with its states 20 apart along the diagonal."""
    params = true_model(covariance_type)
    params["means_"] = params["means_"] + 20.0 * np.arange(K)[:, None, None]
    return params


def simulate(covariance_type, lengths, seed=0, params=None):
    """Sequences drawn by hmmlearn's GMMHMM.sample from the true model (or
    from ``params``)."""
    model = hl.GMMHMM(K, n_mix=NM, covariance_type=covariance_type, init_params="")
    set_params(model, params or true_model(covariance_type))
    model.n_features = D
    rng = np.random.RandomState(seed)
    return np.vstack([model.sample(n, random_state=rng)[0] for n in lengths])


def start(covariance_type):
    """A start away from the true model."""
    params = true_model(covariance_type)
    params["startprob_"] = np.array([0.4, 0.4, 0.2])
    params["transmat_"] = 0.5 * params["transmat_"] + 0.5 / K
    params["weights_"] = np.array([[0.5, 0.5], [0.6, 0.4], [0.3, 0.7]])
    params["means_"] = params["means_"] + np.array([0.4, -0.3])
    params["covars_"] = params["covars_"] * 1.5
    return params


def both(covariance_type, implementation="log", n_iter=5, **kwargs):
    """Ours and hmmlearn's, from the same start."""
    models = [
        cls(
            K,
            n_mix=NM,
            covariance_type=covariance_type,
            init_params="",
            n_iter=n_iter,
            tol=0,
            implementation=implementation,
            **kwargs,
        )
        for cls in (GMMHMM, hl.GMMHMM)
    ]
    return [set_params(model, start(covariance_type)) for model in models]


def fit_hmmlearn(model, X, lengths=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, lengths)


def assert_params_close(ours, theirs, rtol):
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        ref = getattr(theirs, name)
        assert getattr(ours, name).shape == ref.shape, name
        assert_allclose(getattr(ours, name), ref, rtol=rtol, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_equals_hmmlearn(covariance_type, implementation):
    X = simulate(covariance_type, LENGTHS)
    ours, theirs = both(covariance_type, implementation)
    ours.fit(X, LENGTHS)
    fit_hmmlearn(theirs, X, LENGTHS)
    assert ours.monitor_.iter == theirs.monitor_.iter == 5
    assert_allclose(
        list(ours.monitor_.history), list(theirs.monitor_.history), rtol=1e-10
    )
    assert_params_close(ours, theirs, rtol=1e-6)
    assert ours.monitor_.converged == theirs.monitor_.converged


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_inference_equals_hmmlearn(covariance_type, implementation):
    X = simulate(covariance_type, LENGTHS, seed=1)
    ours, theirs = both(covariance_type, implementation, n_iter=3)
    ours.fit(X, LENGTHS)
    fit_hmmlearn(theirs, X, LENGTHS)
    # The same parameters for both: compare inference alone.
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        setattr(theirs, name, getattr(ours, name).copy())
    assert_allclose(ours.score(X, LENGTHS), theirs.score(X, LENGTHS), rtol=1e-10)
    log_prob, post = ours.score_samples(X, LENGTHS)
    ref_log_prob, ref_post = theirs.score_samples(X, LENGTHS)
    assert_allclose(log_prob, ref_log_prob, rtol=1e-10)
    assert_allclose(post, ref_post, rtol=1e-8, atol=1e-12)
    for algorithm in ("viterbi", "map"):
        lp, path = ours.decode(X, LENGTHS, algorithm=algorithm)
        ref_lp, ref_path = theirs.decode(X, LENGTHS, algorithm=algorithm)
        assert_allclose(lp, ref_lp, rtol=1e-10)
        assert_array_equal(path, ref_path)
    assert_array_equal(ours.predict(X, LENGTHS), theirs.predict(X, LENGTHS))
    assert_allclose(ours.predict_proba(X, LENGTHS), ref_post, rtol=1e-8, atol=1e-12)
    assert ours._get_n_fit_scalars_per_param() == (
        theirs._get_n_fit_scalars_per_param()
    )
    assert_allclose(ours.aic(X, LENGTHS), theirs.aic(X, LENGTHS), rtol=1e-10)
    assert_allclose(ours.bic(X, LENGTHS), theirs.bic(X, LENGTHS), rtol=1e-10)


PRIORS = {
    # Inverse Wishart: covars_prior is the scale matrix, covars_weight the
    # degrees of freedom; inverse gamma: hmmlearn's covars_prior is alpha
    # (the denominator) and covars_weight beta (the numerator).
    "full": dict(covars_prior=0.3 * np.eye(D), covars_weight=4.0),
    "tied": dict(covars_prior=0.3 * np.eye(D), covars_weight=np.array([3, 4, 5])),
    "diag": dict(covars_prior=0.5, covars_weight=np.array([0.3, 0.2])),
    "spherical": dict(covars_prior=0.5, covars_weight=0.3),
}


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_priors_equal_hmmlearn(covariance_type, implementation):
    X = simulate(covariance_type, LENGTHS, seed=2)
    kwargs = dict(
        startprob_prior=2.0,
        transmat_prior=1.5,
        weights_prior=np.array([2.0, 3.0]),
        means_prior=np.array([0.5, -0.5]),
        means_weight=np.array([[2.0, 1.0], [0.5, 0.5], [1.0, 3.0]]),
        **PRIORS[covariance_type],
    )
    ours, theirs = both(covariance_type, implementation, **kwargs)
    ours.fit(X, LENGTHS)
    fit_hmmlearn(theirs, X, LENGTHS)
    assert_allclose(
        list(ours.monitor_.history), list(theirs.monitor_.history), rtol=1e-10
    )
    assert_params_close(ours, theirs, rtol=1e-6)
    # hmmlearn writes the broadcast priors back; ours stay as given.
    assert theirs.means_weight.shape == (K, NM)
    assert ours.means_prior.shape == (D,)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weights_prior_below_one_equals_hmmlearn_while_positive(covariance_type):
    X = simulate(covariance_type, [300], seed=3)
    ours, theirs = both(covariance_type, weights_prior=0.8, params="wmc")
    ours.fit(X)
    fit_hmmlearn(theirs, X)
    assert_params_close(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_params_letters_equal_hmmlearn(covariance_type):
    """Each letter left out of ``params`` keeps that parameter (covariances
    then use the scatter about the means entering the iteration)."""
    X = simulate(covariance_type, [300], seed=4)
    for params in ("stc", "mw", "c"):
        ours, theirs = both(covariance_type, n_iter=3, params=params)
        ours.fit(X)
        fit_hmmlearn(theirs, X)
        assert_params_close(ours, theirs, rtol=1e-6)


def test_default_covariance_priors_are_not_written_back():
    X = simulate("full", [200], seed=5)
    model = GMMHMM(K, n_mix=NM, covariance_type="full", random_state=0)
    before = model.get_params()
    model.fit(X)
    after = model.get_params()
    assert after["covars_prior"] is None and after["covars_weight"] is None
    assert after["weights_prior"] == before["weights_prior"] == 1.0
    clone(model).fit(X)
    # hmmlearn replaces them with its defaults, broadcast.
    theirs = fit_hmmlearn(hl.GMMHMM(K, n_mix=NM, covariance_type="full"), X)
    assert theirs.covars_prior.shape == (K, NM, D, D)


def test_sequence_order_does_not_change_the_fit():
    X = simulate("diag", LENGTHS, seed=6)
    bounds = np.cumsum([0, *LENGTHS])
    pieces = [X[a:b] for a, b in itertools.pairwise(bounds)]
    order = [2, 0, 3, 1]
    X2 = np.vstack([pieces[i] for i in order])
    a = both("diag")[0].fit(X, LENGTHS)
    b = both("diag")[0].fit(X2, [LENGTHS[i] for i in order])
    for name in ("transmat_", "weights_", "means_", "covars_"):
        assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10)
    assert_allclose(list(a.monitor_.history), list(b.monitor_.history), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_start_recovers_separated_states(covariance_type):
    """hmmlearn's start (k-means means, the data covariance everywhere,
    random transitions) often ends in a local optimum, for hmmlearn too (its
    start is ours for the same random transitions): the best of a few
    starts recovers the states. With 'tied' the components of a state stay
    close together (the start's broad shared covariance), as in hmmlearn."""
    params = separated(covariance_type)
    X = simulate(covariance_type, [1500], seed=7, params=params)
    kwargs = dict(covariance_type=covariance_type, n_iter=100, random_state=0)
    one = GMMHMM(K, n_mix=NM, **kwargs).fit(X)
    model = GMMHMM(K, n_mix=NM, n_init=5, **kwargs).fit(X)
    assert model.score(X) >= one.score(X) - 1e-6
    truth = set_params(hl.GMMHMM(K, n_mix=NM, covariance_type=covariance_type), params)
    # Match the states by their mean location.
    state_means = np.einsum("km,kmd->kd", model.weights_, model.means_)
    true_state_means = np.einsum("km,kmd->kd", params["weights_"], params["means_"])
    mapping = [
        int(np.argmin(np.linalg.norm(true_state_means - m, axis=1)))
        for m in state_means
    ]
    assert sorted(mapping) == list(range(K))
    assert_allclose(state_means, true_state_means[mapping], atol=0.3)
    found = np.array(mapping)[model.predict(X)]
    assert np.mean(found == truth.predict(X)) > 0.99
    assert_allclose(
        model.transmat_, params["transmat_"][np.ix_(mapping, mapping)], atol=0.05
    )
    if covariance_type == "tied":
        return
    assert model.score(X) > truth.score(X)
    for k, j in enumerate(mapping):
        dist = model.means_[k][:, None] - params["means_"][j][None]
        nearest = np.argmin(np.linalg.norm(dist, axis=2), axis=1)
        assert sorted(nearest) == list(range(NM))
        assert_allclose(model.means_[k], params["means_"][j, nearest], atol=0.35)
        assert_allclose(model.weights_[k], params["weights_"][j, nearest], atol=0.1)


def test_never_visited_state_stays_finite():
    """A state with no posterior mass: hmmlearn's M-step gives 0 / 0 (NaN
    weights, means and covariances, a zero transmat row) and NaN spreads to
    every state; ours keeps that state's parameters and row."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 1))
    models = []
    for cls in (GMMHMM, hl.GMMHMM):
        model = cls(2, n_mix=2, covariance_type="diag", init_params="", n_iter=3)
        set_params(
            model,
            {
                "startprob_": [1.0, 0.0],
                "transmat_": [[1.0, 0.0], [0.5, 0.5]],
                "weights_": [[0.5, 0.5], [0.5, 0.5]],
                "means_": [[[0.0], [1.0]], [[100.0], [101.0]]],
                "covars_": np.ones((2, 2, 1)),
            },
        )
        models.append(model)
    ours, theirs = models
    ours.fit(X)
    fit_hmmlearn(theirs, X)
    assert np.isnan(theirs.means_).all() and np.isnan(theirs.weights_).all()
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert np.all(np.isfinite(getattr(ours, name))), name
    assert_allclose(ours.transmat_[1], [0.5, 0.5])
    assert_allclose(ours.weights_[1], [0.5, 0.5])
    assert_allclose(ours.means_[1].ravel(), [100.0, 101.0])
    assert np.isfinite(ours.score(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_unused_component_stays_finite(covariance_type):
    """A component of weight 0: hmmlearn sets its mean to 0 and divides 0 by
    0 for its covariance (NaN, then NaN everywhere, or a crash for 'full'
    and 'tied'); ours has the same mean and keeps the covariance."""
    X = np.random.default_rng(9).normal(size=(300, 1))
    covars = {
        "spherical": np.ones((1, 2)),
        "diag": np.ones((1, 2, 1)),
        "full": np.ones((1, 2, 1, 1)),
        "tied": np.ones((1, 1, 1)),
    }[covariance_type]
    model = GMMHMM(1, n_mix=2, covariance_type=covariance_type, init_params="")
    set_params(
        model,
        {
            "startprob_": [1.0],
            "transmat_": [[1.0]],
            "weights_": [[1.0, 0.0]],
            "means_": [[[0.0], [3.0]]],
            "covars_": covars,
        },
    )
    model.fit(X)
    assert_allclose(model.weights_, [[1.0, 0.0]])
    assert model.means_[0, 1, 0] == 0.0
    assert_allclose(model.means_[0, 0, 0], X.mean(), rtol=1e-8)
    if covariance_type != "tied":
        assert_allclose(model.covars_.ravel()[1], 1.0)
    for name in ("weights_", "means_", "covars_"):
        assert np.all(np.isfinite(getattr(model, name))), name


def test_collapsed_component_keeps_its_covariance():
    """A component that takes only copies of one point: hmmlearn's variance
    becomes exactly 0 (a degenerate density, a log-likelihood of +1300
    here); ours keeps the variance it had."""
    rng = np.random.default_rng(10)
    X = np.vstack([rng.normal(size=(300, 1)), np.full((5, 1), 50.0)])
    models = []
    for cls in (GMMHMM, hl.GMMHMM):
        model = cls(1, n_mix=2, covariance_type="diag", init_params="", n_iter=3)
        set_params(
            model,
            {
                "startprob_": [1.0],
                "transmat_": [[1.0]],
                "weights_": [[0.5, 0.5]],
                "means_": [[[0.0], [50.0]]],
                "covars_": np.ones((1, 2, 1)),
            },
        )
        models.append(model)
    ours, theirs = models
    ours.fit(X)
    fit_hmmlearn(theirs, X)
    assert theirs.covars_[0, 1, 0] == 0.0
    assert ours.covars_[0, 1, 0] == 1.0
    assert_allclose(ours.weights_, theirs.weights_, rtol=1e-10)
    assert_allclose(ours.covars_[0, 0], theirs.covars_[0, 0], rtol=1e-10)
    assert np.all(np.isfinite(ours.monitor_.history))


def test_weights_prior_below_one_clips_negative_weights():
    """hmmlearn's weights go negative (then NaN); ours are clipped to 0."""
    X = np.random.default_rng(11).normal(size=(300, 1))
    models = []
    for cls in (GMMHMM, hl.GMMHMM):
        model = cls(
            1, n_mix=3, covariance_type="diag", init_params="", weights_prior=0.2
        )
        set_params(
            model,
            {
                "startprob_": [1.0],
                "transmat_": [[1.0]],
                "weights_": [[0.5, 0.49, 0.01]],
                "means_": [[[0.0], [1.0], [40.0]]],
                "covars_": np.ones((1, 3, 1)),
            },
        )
        models.append(model)
    ours, theirs = models
    ours.fit(X)
    fit_hmmlearn(theirs, X)
    assert np.isnan(theirs.weights_).all()
    assert np.all(ours.weights_ >= 0)
    assert ours.weights_[0, 2] == 0.0
    assert_allclose(ours.weights_.sum(axis=1), 1.0)
    assert np.all(np.isfinite(ours.covars_))


def test_short_sequences_and_few_rows_per_cluster_give_finite_parameters():
    rng = np.random.default_rng(12)
    X = np.column_stack([rng.normal(size=40), rng.normal(size=40) * 0.1])
    for covariance_type in COVARIANCE_TYPES:
        model = GMMHMM(
            3, n_mix=4, covariance_type=covariance_type, random_state=0, n_iter=3
        )
        model.fit(X, lengths=[1] * 40)
        for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
            assert np.all(np.isfinite(getattr(model, name))), (covariance_type, name)


def test_default_shapes():
    X = simulate("diag", [100], seed=13)
    for covariance_type, shape in [
        ("spherical", (K, NM)),
        ("diag", (K, NM, D)),
        ("full", (K, NM, D, D)),
        ("tied", (K, D, D)),
    ]:
        model = GMMHMM(K, n_mix=NM, covariance_type=covariance_type, n_iter=0)
        model.fit(X)
        assert model.covars_.shape == shape
        assert model.means_.shape == (K, NM, D)
        assert_allclose(model.weights_, 1.0 / NM)
        cv = np.cov(X.T) + 1e-3 * np.eye(D)
        expected = {
            "spherical": cv.mean(),
            "diag": np.diag(cv),
            "full": cv,
            "tied": cv,
        }[covariance_type]
        assert_allclose(model.covars_, np.broadcast_to(expected, shape))


def both_raise(message, X, lengths=None, covariance_type="diag", **attributes):
    """Ours and hmmlearn's raise ValueError with ``message`` (a regular
    expression) when fitted from the start with ``attributes`` replaced."""
    for cls in (GMMHMM, hl.GMMHMM):
        model = cls(K, n_mix=NM, covariance_type=covariance_type, init_params="")
        set_params(model, dict(start(covariance_type), **attributes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ValueError, match=message):
                model.fit(X, lengths)


def test_bad_parameters_raise_hmmlearn_messages():
    X = simulate("diag", [100], seed=14)
    both_raise(
        r"weights_ must have shape \(n_components, n_mix\), actual shape: \(3, 3\)",
        X,
        weights_=np.full((K, 3), 1 / 3),
    )
    both_raise(
        r"weights_ rows must sum to 1",
        X,
        weights_=np.array([[0.5, 0.6], [0.5, 0.5], [0.5, 0.5]]),
    )
    both_raise(
        r"means_ must have shape \(n_components, n_mix, n_features\), "
        r"actual shape: \(3, 2, 3\)",
        X,
        means_=np.zeros((K, NM, 3)),
    )
    both_raise(
        r"'diag' mixture covars must have shape \(3, 2, 2\), actual shape: \(3, 2\)",
        X,
        covars_=np.ones((K, NM)),
    )
    both_raise(
        r"'spherical' mixture covars must be non-negative",
        X,
        covariance_type="spherical",
        covars_=-np.ones((K, NM)),
    )
    both_raise(
        r"'diag' mixture covars must be non-negative",
        X,
        covars_=np.array([[[1.0, -1.0]] * NM] * K),
    )
    not_pd = np.array([[1.0, 2.0], [2.0, 1.0]])
    full = np.broadcast_to(np.eye(D), (K, NM, D, D)).copy()
    full[1, 1] = not_pd
    both_raise(
        r"Covariance of state #1, mixture #1 is not positive definite",
        X,
        covariance_type="full",
        covars_=full,
    )
    full[1, 1] = [[1.0, 0.5], [0.0, 1.0]]
    both_raise(
        r"Covariance of state #1, mixture #1 is not symmetric",
        X,
        covariance_type="full",
        covars_=full,
    )
    tied = np.broadcast_to(np.eye(D), (K, D, D)).copy()
    tied[2] = not_pd
    both_raise(
        r"Covariance of state #2 is not positive definite",
        X,
        covariance_type="tied",
        covars_=tied,
    )
    both_raise(r"startprob_ must sum to 1", X, startprob_=np.array([0.5, 0.4, 0.3]))
    both_raise(
        r"transmat_ rows must sum to 1",
        X,
        transmat_=np.full((K, K), 0.5),
    )
    both_raise(r"doesn't sum to 100 samples", X, [50, 40])


def test_bad_input_without_hmmlearn_message():
    """Where hmmlearn only warns or fails later (NaN, a LinAlgError), ours
    raises a clear ValueError."""
    X = simulate("diag", [100], seed=15)
    params = start("diag")

    def fit(covariance_type="diag", **kwargs):
        model = GMMHMM(K, n_mix=NM, covariance_type=covariance_type, init_params="")
        values = dict(start(covariance_type), **kwargs)
        set_params(model, values).fit(X)

    with pytest.raises(ValueError, match="'diag' mixture covars must be positive"):
        fit(covars_=np.where(np.arange(D) == 0, 0.0, params["covars_"]))
    with pytest.raises(ValueError, match="'spherical' mixture covars must be pos"):
        fit("spherical", covars_=np.zeros((K, NM)))
    singular = np.broadcast_to([[1.0, 0.0], [0.0, 0.0]], (K, D, D))
    with pytest.raises(ValueError, match="state #0 is not positive definite"):
        fit("tied", covars_=singular)
    with pytest.raises(ValueError, match="weights_ must be finite and non-neg"):
        fit(weights_=np.array([[1.5, -0.5]] * K))
    with pytest.raises(ValueError, match="means_ must be finite"):
        fit(means_=np.full((K, NM, D), np.nan))
    with pytest.raises(ValueError, match="means_prior of shape"):
        GMMHMM(K, n_mix=NM, means_prior=np.zeros(3)).fit(X)
    with pytest.raises(ValueError, match="covars_weight of shape"):
        GMMHMM(K, n_mix=NM, covariance_type="tied", covars_weight=[1, 2]).fit(X)
    with pytest.raises(ValueError, match="n_mix"):
        GMMHMM(K, n_mix=0).fit(X)
    with pytest.raises(ValueError, match="covariance_type"):
        GMMHMM(K, covariance_type="banana").fit(X)
    with pytest.raises(ValueError, match="should be >= n_components"):
        GMMHMM(5, n_mix=NM).fit(X[:3])
    with pytest.raises(ValueError, match="lengths must be positive"):
        GMMHMM(K).fit(X, lengths=[100, 0])
    bad = X.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GMMHMM(K).fit(bad)
    fitted = GMMHMM(K, n_mix=NM, random_state=0).fit(X)
    with pytest.raises(ValueError, match="expected 2"):
        fitted.predict(X[:, :1])
    with pytest.raises(ValueError, match="Unknown decoder 'best'"):
        fitted.decode(X, algorithm="best")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_statistics(covariance_type):
    params = separated(covariance_type)
    # Components far apart, so each draw's component is its nearest mean.
    params["means_"] = params["means_"] * np.array([[[1.0, 1.0], [3.0, 3.0]]])
    model = set_params(
        GMMHMM(K, n_mix=NM, covariance_type=covariance_type, init_params=""), params
    )
    n = 30_000
    X, states = model.sample(n, random_state=0)
    assert X.shape == (n, D) and states.shape == (n,)
    counts = np.zeros((K, K))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    assert_allclose(
        counts / counts.sum(axis=1, keepdims=True), params["transmat_"], atol=0.02
    )
    from emfast.gmmhmm import full_mixture_covariances

    covs = full_mixture_covariances(params["covars_"], covariance_type, NM, D)
    for k in range(K):
        Xk = X[states == k]
        dist = np.linalg.norm(Xk[:, None, :] - params["means_"][k][None], axis=2)
        comp = np.argmin(dist, axis=1)
        assert_allclose(
            np.bincount(comp, minlength=NM) / len(Xk), params["weights_"][k], atol=0.03
        )
        for m in range(NM):
            assert_allclose(
                Xk[comp == m].mean(axis=0), params["means_"][k, m], atol=0.1
            )
            assert_allclose(np.cov(Xk[comp == m].T), covs[k, m], atol=0.1)
    again, again_states = model.sample(n, random_state=0)
    assert_array_equal(again, X)
    assert_array_equal(again_states, states)
    _, from_two = model.sample(5, random_state=1, currstate=2)
    assert from_two[0] == 2


def test_sample_follows_zero_weights():
    params = true_model("diag")
    params["weights_"] = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    model = set_params(GMMHMM(K, n_mix=NM, init_params=""), params)
    X, states = model.sample(3000, random_state=2)
    for k in range(K):
        m = int(np.argmax(params["weights_"][k]))
        assert_allclose(X[states == k].mean(axis=0), params["means_"][k, m], atol=0.1)


@pytest.mark.parametrize("covariance_type", ["diag", "tied"])
def test_sequence_weights_are_repeated_sequences(covariance_type):
    """Integer weights per sequence give the fit of the sequences repeated
    (weight 0: left out) from the same start; weights of 1 change nothing,
    also from the default start."""
    X = simulate(covariance_type, LENGTHS, seed=16)
    bounds = np.cumsum([0, *LENGTHS])
    pieces = [X[a:b] for a, b in itertools.pairwise(bounds)]
    weights = [2, 1, 0, 3]
    repeated = [p for p, w in zip(pieces, weights) for _ in range(w)]
    a, _ = both(covariance_type)
    b, _ = both(covariance_type)
    a.fit(X, LENGTHS, sample_weight=weights)
    b.fit(np.vstack(repeated), [len(p) for p in repeated])
    assert_allclose(list(a.monitor_.history), list(b.monitor_.history), rtol=1e-9)
    assert_params_close(a, b, rtol=1e-8)
    kwargs = dict(covariance_type=covariance_type, random_state=0)
    ones = GMMHMM(K, n_mix=NM, **kwargs).fit(X, LENGTHS, np.ones(4))
    plain = GMMHMM(K, n_mix=NM, **kwargs).fit(X, LENGTHS)
    assert_allclose(
        list(ones.monitor_.history), list(plain.monitor_.history), rtol=1e-12
    )
    assert_allclose(ones.means_, plain.means_, rtol=1e-12)
