"""GaussianHMM against hmmlearn from identical parameters, and its own
guarantees: sequence order, never-visited states, bad input."""

import itertools
import warnings

import numpy as np
import pytest
from conftest import assert_same_bits, results_by_thread_count
from hmmlearn import hmm as hl
from numpy.testing import assert_allclose, assert_array_equal

from emfast import GaussianHMM

COVARIANCE_TYPES = ["spherical", "diag", "full", "tied"]
K, D = 3, 2


def true_model(covariance_type):
    """A 3-state model to simulate from, and a start away from it."""
    startprob = np.array([0.6, 0.3, 0.1])
    transmat = np.array([[0.90, 0.07, 0.03], [0.05, 0.90, 0.05], [0.04, 0.06, 0.90]])
    means = np.array([[0.0, 0.0], [4.0, 1.0], [-2.0, 5.0]])
    covars = {
        "spherical": np.array([0.5, 1.0, 0.8]),
        "diag": np.array([[0.5, 1.0], [1.0, 0.3], [0.8, 0.8]]),
        "full": np.array(
            [
                [[1.0, 0.3], [0.3, 0.5]],
                [[0.6, -0.2], [-0.2, 0.9]],
                [[0.8, 0.0], [0.0, 0.4]],
            ]
        ),
        "tied": np.array([[1.0, 0.3], [0.3, 0.7]]),
    }[covariance_type]
    return startprob, transmat, means, covars


def simulate(covariance_type, lengths, seed=0):
    startprob, transmat, means, covars = true_model(covariance_type)
    model = hl.GaussianHMM(K, covariance_type=covariance_type, init_params="")
    model.startprob_, model.transmat_, model.means_ = startprob, transmat, means
    model.covars_ = covars
    rng = np.random.RandomState(seed)
    parts = [model.sample(n, random_state=rng)[0] for n in lengths]
    return np.vstack(parts)


def start(covariance_type):
    _, transmat, means, covars = true_model(covariance_type)
    return {
        "startprob_": np.array([0.4, 0.4, 0.2]),
        "transmat_": 0.5 * transmat + 0.5 / K,
        "means_": means + np.array([[0.5, -0.3], [-0.4, 0.2], [0.3, 0.3]]),
        "covars_": covars * 1.5,
    }


def with_start(model, covariance_type):
    for name, value in start(covariance_type).items():
        setattr(model, name, value)
    return model


def both(covariance_type, implementation="log", n_iter=5, **kwargs):
    ours = GaussianHMM(
        K,
        covariance_type=covariance_type,
        init_params="",
        n_iter=n_iter,
        tol=0,
        implementation=implementation,
        **kwargs,
    )
    theirs = hl.GaussianHMM(
        K,
        covariance_type=covariance_type,
        init_params="",
        n_iter=n_iter,
        tol=0,
        implementation=implementation,
        **kwargs,
    )
    return with_start(ours, covariance_type), with_start(theirs, covariance_type)


LENGTHS = [200, 1, 150, 60]


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_equals_hmmlearn(covariance_type, implementation):
    X = simulate(covariance_type, LENGTHS)
    ours, theirs = both(covariance_type, implementation)
    ours.fit(X, LENGTHS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X, LENGTHS)
    assert ours.monitor_.iter == theirs.monitor_.iter == 5
    assert_allclose(
        list(ours.monitor_.history), list(theirs.monitor_.history), rtol=1e-10
    )
    assert_allclose(ours.startprob_, theirs.startprob_, rtol=1e-6, atol=1e-12)
    assert_allclose(ours.transmat_, theirs.transmat_, rtol=1e-6, atol=1e-12)
    assert_allclose(ours.means_, theirs.means_, rtol=1e-6)
    assert_allclose(ours._covars_, theirs._covars_, rtol=1e-6)
    expected = theirs.covars_
    if covariance_type == "spherical":
        # hmmlearn stores a fitted spherical model's variances tiled (K, D)
        # and its covars_ getter flattens them into (K * D, D, D) matrices;
        # ours gives one matrix per state.
        assert expected.shape == (K * D, D, D)
        expected = expected[::D]
    assert ours.covars_.shape == (K, D, D)
    assert_allclose(ours.covars_, expected, rtol=1e-6)
    assert ours.monitor_.converged == theirs.monitor_.converged


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_inference_equals_hmmlearn(covariance_type):
    X = simulate(covariance_type, LENGTHS, seed=1)
    ours, theirs = both(covariance_type)
    ours.fit(X, LENGTHS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X, LENGTHS)
    # The same parameters for both: compare inference alone.
    for name in ("startprob_", "transmat_", "means_"):
        setattr(theirs, name, getattr(ours, name))
    theirs._covars_ = ours._covars_
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
    assert_allclose(ours.aic(X, LENGTHS), theirs.aic(X, LENGTHS), rtol=1e-10)
    assert_allclose(ours.bic(X, LENGTHS), theirs.bic(X, LENGTHS), rtol=1e-10)
    assert_allclose(
        ours.get_stationary_distribution(),
        theirs.get_stationary_distribution(),
        rtol=1e-10,
    )


def test_priors_equal_hmmlearn():
    X = simulate("full", LENGTHS, seed=2)
    kwargs = dict(
        startprob_prior=2.0,
        transmat_prior=1.5,
        means_prior=0.5,
        means_weight=2.0,
        covars_prior=0.3,
        covars_weight=4.0,
    )
    for covariance_type in COVARIANCE_TYPES:
        ours, theirs = both(covariance_type, **kwargs)
        ours.fit(X, LENGTHS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.fit(X, LENGTHS)
        assert_allclose(ours.means_, theirs.means_, rtol=1e-6)
        assert_allclose(ours._covars_, theirs._covars_, rtol=1e-6)
        assert_allclose(ours.transmat_, theirs.transmat_, rtol=1e-6)


def test_sequence_order_does_not_change_the_fit():
    X = simulate("diag", LENGTHS, seed=3)
    bounds = np.cumsum([0, *LENGTHS])
    pieces = [X[a:b] for a, b in itertools.pairwise(bounds)]
    order = [2, 0, 3, 1]
    X2 = np.vstack([pieces[i] for i in order])
    a = both("diag")[0].fit(X, LENGTHS)
    b = both("diag")[0].fit(X2, [LENGTHS[i] for i in order])
    assert_allclose(a.means_, b.means_, rtol=1e-12)
    assert_allclose(a.transmat_, b.transmat_, rtol=1e-12, atol=1e-15)
    assert_allclose(list(a.monitor_.history), list(b.monitor_.history), rtol=1e-12)


def test_default_start_fits_and_restarts_keep_the_best():
    X = simulate("full", [500], seed=4)
    one = GaussianHMM(K, covariance_type="full", n_iter=30, random_state=0).fit(X)
    best = GaussianHMM(
        K, covariance_type="full", n_iter=30, random_state=0, n_init=3
    ).fit(X)
    assert best.score(X) >= one.score(X) - 1e-9
    found = np.sort(best.means_[:, 0])
    assert_allclose(found, np.sort(true_model("full")[2][:, 0]), atol=0.5)


def test_never_visited_state_keeps_a_valid_row():
    """A state with no posterior mass: hmmlearn leaves its transmat row all
    zero; ours keeps the row it had."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 1))
    model = GaussianHMM(2, covariance_type="diag", init_params="", n_iter=3)
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.array([[1.0, 0.0], [0.5, 0.5]])
    model.means_ = np.array([[0.0], [100.0]])
    model.covars_ = np.array([[1.0], [1.0]])
    model.fit(X)
    assert np.all(np.isfinite(model.transmat_))
    assert_allclose(model.transmat_.sum(axis=1), 1.0)
    assert_allclose(model.transmat_[1], [0.5, 0.5])
    assert np.isfinite(model.score(X))


def test_short_sequences_and_constant_feature_give_finite_parameters():
    rng = np.random.default_rng(6)
    X = np.column_stack([rng.normal(size=40), np.full(40, 3.0)])
    for covariance_type in COVARIANCE_TYPES:
        model = GaussianHMM(2, covariance_type=covariance_type, random_state=0)
        model.fit(X, lengths=[1] * 40)
        for name in ("startprob_", "transmat_", "means_", "covars_"):
            assert np.all(np.isfinite(getattr(model, name))), (covariance_type, name)


def test_bad_input():
    X = simulate("diag", [100], seed=7)
    with pytest.raises(ValueError, match="doesn't sum to 100 samples"):
        GaussianHMM(2).fit(X, lengths=[50, 40])
    with pytest.raises(ValueError, match="lengths must be positive"):
        GaussianHMM(2).fit(X, lengths=[100, 0])
    with pytest.raises(ValueError, match="lengths must be positive"):
        GaussianHMM(2).fit(X, lengths=[110, -10])
    bad = X.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaussianHMM(2).fit(bad)
    with pytest.raises(ValueError, match="n_components"):
        GaussianHMM(0).fit(X)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianHMM(2, covariance_type="banana").fit(X)
    with pytest.raises(ValueError, match="implementation"):
        GaussianHMM(2, implementation="fast").fit(X)
    model = GaussianHMM(2, init_params="mc")
    model.startprob_ = np.array([0.5, 0.6])
    model.transmat_ = np.array([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="startprob_ must sum to 1"):
        model.fit(X)
    model.startprob_ = np.array([0.5, 0.3, 0.2])
    with pytest.raises(ValueError, match="startprob_ must have length n_components"):
        model.fit(X)
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[0.5, 0.4], [0.5, 0.5]])
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1"):
        model.fit(X)
    model = GaussianHMM(2, covariance_type="full", init_params="stm")
    with pytest.raises(ValueError, match="symmetric, positive-definite"):
        model.covars_ = np.array([np.eye(2), -np.eye(2)])
    with pytest.raises(ValueError, match="'diag' covars must be positive"):
        GaussianHMM(2, covariance_type="diag").covars_ = np.array([[1.0, -1.0]] * 2)
    fitted = GaussianHMM(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="Unknown decoder 'best'"):
        fitted.decode(X, algorithm="best")
    with pytest.raises(ValueError, match="expected 2"):
        fitted.predict(X[:, :1])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GaussianHMM(2).decode(X)


def test_sample_follows_the_chain():
    startprob, transmat, means, covars = true_model("full")
    model = GaussianHMM(K, covariance_type="full", init_params="")
    model.startprob_, model.transmat_, model.means_ = startprob, transmat, means
    model.covars_ = covars
    model.n_features = D
    X, states = model.sample(20_000, random_state=0)
    assert X.shape == (20_000, D) and states.shape == (20_000,)
    counts = np.zeros((K, K))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    assert_allclose(counts / counts.sum(axis=1, keepdims=True), transmat, atol=0.02)
    for k in range(K):
        assert_allclose(X[states == k].mean(axis=0), means[k], atol=0.1)
    again, again_states = model.sample(20_000, random_state=0)
    assert_array_equal(again, X)
    assert_array_equal(again_states, states)
    _, from_two = model.sample(5, random_state=1, currstate=2)
    assert from_two[0] == 2


def test_causal_posteriors_use_no_future_step():
    """Filtered posteriors at t depend only on steps up to t: equal on a
    prefix, and equal to the naive normalised forward pass."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    X = simulate("full", [120], seed=8)
    model = with_start(GaussianHMM(K, covariance_type="full", init_params=""), "full")
    model.fit(X)
    filtered = model.predict_proba(X, causal=True)
    assert_allclose(filtered.sum(axis=1), 1.0)
    assert_allclose(model.predict_proba(X[:70], causal=True), filtered[:70], rtol=1e-12)
    log_b = np.column_stack(
        [
            multivariate_normal(model.means_[k], model.covars_[k]).logpdf(X)
            for k in range(K)
        ]
    )
    log_alpha = np.log(model.startprob_) + log_b[0]
    expected = [np.exp(log_alpha - logsumexp(log_alpha))]
    for t in range(1, len(X)):
        log_alpha = logsumexp(log_alpha[:, None] + np.log(model.transmat_), axis=0)
        log_alpha = log_alpha + log_b[t]
        expected.append(np.exp(log_alpha - logsumexp(log_alpha)))
    assert_allclose(filtered, np.array(expected), rtol=1e-8, atol=1e-12)
    smoothed = model.predict_proba(X)
    assert_allclose(filtered[-1], smoothed[-1], rtol=1e-8, atol=1e-12)
    assert not np.allclose(filtered[:-1], smoothed[:-1])


@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_sequence_weights_are_repeated_sequences(implementation):
    """Integer weights per sequence give the fit of the sequences repeated
    (weight 0: left out) from the same start; weights of 1 change nothing,
    also from the default start."""
    X = simulate("full", LENGTHS, seed=9)
    bounds = np.cumsum([0, *LENGTHS])
    pieces = [X[a:b] for a, b in itertools.pairwise(bounds)]
    weights = [2, 1, 0, 3]
    repeated = [p for p, w in zip(pieces, weights) for _ in range(w)]
    lengths = [len(p) for p in repeated]
    kwargs = dict(covariance_type="full", implementation=implementation)
    a = with_start(GaussianHMM(K, init_params="", **kwargs), "full")
    b = with_start(GaussianHMM(K, init_params="", **kwargs), "full")
    a.fit(X, LENGTHS, sample_weight=weights)
    b.fit(np.vstack(repeated), lengths)
    assert_allclose(list(a.monitor_.history), list(b.monitor_.history), rtol=1e-9)
    assert_allclose(a.means_, b.means_, rtol=1e-8)
    assert_allclose(a.covars_, b.covars_, rtol=1e-8)
    assert_allclose(a.transmat_, b.transmat_, rtol=1e-8, atol=1e-12)
    assert_allclose(a.startprob_, b.startprob_, rtol=1e-8, atol=1e-12)
    ones = GaussianHMM(K, random_state=0, **kwargs).fit(X, LENGTHS, np.ones(4))
    plain = GaussianHMM(K, random_state=0, **kwargs).fit(X, LENGTHS)
    assert_allclose(
        list(ones.monitor_.history), list(plain.monitor_.history), rtol=1e-12
    )
    assert_allclose(ones.means_, plain.means_, rtol=1e-12)
    with pytest.raises(ValueError, match="sample_weight"):
        GaussianHMM(K).fit(X, LENGTHS, sample_weight=[1, 1])
    with pytest.raises(ValueError, match="Negative"):
        GaussianHMM(K).fit(X, LENGTHS, sample_weight=[1, -1, 1, 1])


HMM_THREADS_SCRIPT = """
import sys
import warnings

import numba
import numpy as np

from emfast import GaussianHMM
from emfast.hmm import HMMModel

assert numba.get_num_threads() == int(sys.argv[2])
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
lengths = rng.integers(1, 400, size=60)
X = rng.normal(size=(lengths.sum(), 3)) + (np.arange(lengths.sum()) // 50 % 3)[:, None]
out = {}
for implementation in ("log", "scaling"):
    for covariance_type in ("full", "diag", "tied", "spherical"):
        model = GaussianHMM(
            3, covariance_type=covariance_type, implementation=implementation,
            random_state=0, n_iter=5, tol=0,
        ).fit(X, lengths)
        key = implementation + covariance_type
        for name in ("startprob_", "transmat_", "means_", "covars_"):
            out[key + name] = getattr(model, name)
        out[key + "history"] = np.array(model.monitor_.history)
        out[key + "posteriors"] = model.predict_proba(X, lengths)
        out[key + "path"] = model.predict(X, lengths)
# Small batches: many batches, and the sequences longer than 200 steps run
# block by block.
HMMModel.batch_elements = 600
model = GaussianHMM(3, random_state=0, n_iter=5, tol=0).fit(X, lengths)
out["batched_means"] = model.means_
out["batched_history"] = np.array(model.monitor_.history)
out["batched_posteriors"] = model.predict_proba(X, lengths)
np.savez(sys.argv[1], **out)
"""


def test_fit_is_bit_identical_across_thread_counts(tmp_path):
    results = results_by_thread_count(HMM_THREADS_SCRIPT, tmp_path)
    assert len(results[1]) == 2 * 4 * 7 + 3
    assert_same_bits(results)


def test_memory_mapped_data_fit_equals_in_memory(tmp_path):
    X = simulate("diag", LENGTHS, seed=10)
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    a = both("diag")[0].fit(X, LENGTHS)
    b = both("diag")[0].fit(mapped, LENGTHS)
    assert_array_equal(a.means_, b.means_)
    assert_array_equal(a.transmat_, b.transmat_)
    assert_array_equal(b.predict(mapped, LENGTHS), a.predict(X, LENGTHS))


def naive_log_likelihood(model, X):
    """log p(X) of one sequence by the naive forward pass, the emission of
    each step the density of its observed coordinates (1 with none)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    covs = model.covars_
    log_b = np.zeros((len(X), model.n_components))
    for t, x in enumerate(X):
        seen = ~np.isnan(x)
        if seen.any():
            for k in range(model.n_components):
                log_b[t, k] = multivariate_normal(
                    model.means_[k, seen], covs[k][np.ix_(seen, seen)]
                ).logpdf(x[seen])
    log_alpha = np.log(model.startprob_) + log_b[0]
    for t in range(1, len(X)):
        log_alpha = logsumexp(log_alpha[:, None] + np.log(model.transmat_), axis=0)
        log_alpha = log_alpha + log_b[t]
    return logsumexp(log_alpha)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginalize_missing_values(covariance_type):
    """nan_policy='marginalize': the likelihood of the observed coordinates
    (a step with none observed has no observation), EM does not decrease
    it, and data without NaN fit as under 'raise'."""
    X = simulate(covariance_type, [300], seed=11)
    rng = np.random.default_rng(12)
    holes = X.copy()
    holes[rng.random(X.shape) < 0.2] = np.nan
    holes[[5, 6, 100]] = np.nan  # steps with no observation
    kwargs = dict(covariance_type=covariance_type, init_params="", n_iter=8, tol=0)
    ml = dict(covars_prior=0.0, covars_weight=1.0)
    model = with_start(
        GaussianHMM(K, nan_policy="marginalize", **kwargs, **ml), covariance_type
    )
    model.fit(holes)
    history = np.array(model.monitor_.history)
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    assert_allclose(model.score(holes), naive_log_likelihood(model, holes), rtol=1e-10)
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    post = model.predict_proba(holes)
    assert_allclose(post.sum(axis=1), 1.0)
    assert model.predict(holes).shape == (300,)
    n_params = model._n_parameters()
    assert model.bic(holes) == pytest.approx(
        -2 * model.score(holes) + n_params * np.log(300), rel=1e-12
    )
    assert model.aic(holes) == pytest.approx(
        -2 * model.score(holes) + 2 * n_params, rel=1e-12
    )
    complete = with_start(
        GaussianHMM(K, nan_policy="marginalize", **kwargs), covariance_type
    )
    plain = with_start(GaussianHMM(K, **kwargs), covariance_type)
    assert_allclose(complete.fit(X).means_, plain.fit(X).means_, rtol=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        with_start(GaussianHMM(K, **kwargs), covariance_type).fit(holes)
    no_column = holes.copy()
    no_column[:, 1] = np.nan
    with pytest.raises(ValueError, match="no observed value"):
        with_start(
            GaussianHMM(K, nan_policy="marginalize", **kwargs), covariance_type
        ).fit(no_column)


def test_iterations_reach_an_outer_observer_and_verbose_prints_hmmlearn_columns(
    capsys,
):
    from emfast._em import observe_iterations

    X = simulate("diag", [200], seed=13)
    seen = []
    with observe_iterations(lambda init, n_iter, bound: seen.append((init, n_iter))):
        model = both("diag", n_iter=4)[0].set_params(verbose=True).fit(X)
    assert seen == [(0, 1), (0, 2), (0, 3), (0, 4)]
    lines = capsys.readouterr().err.strip().split("\n")
    assert len(lines) == 4
    assert lines[0].split()[0] == "1" and lines[0].split()[2] == "+nan"
    assert float(lines[-1].split()[1]) == pytest.approx(model.monitor_.history[-1])
