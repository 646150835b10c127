"""The hidden Markov model kernels (emfast._hmm_kernels) against a naive
forward-backward and Viterbi in log space (NumPy, one sequence at a time)
and against hmmlearn from identical parameters; zeros in startprob and
transmat, far outliers, length-1 and long sequences; bit-identical results
for any number of threads and (exactly, for the totals) any order of the
sequences."""

import itertools
import math
import os
import textwrap

import numba
import numpy as np
import pytest
from conftest import assert_same_bits, results_by_thread_count
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emfast import _hmm_kernels as hk

NO_WEIGHTS = np.empty(0)

hmm = pytest.importorskip("hmmlearn.hmm")
hmm_base = pytest.importorskip("hmmlearn.base")

IMPLEMENTATIONS = {"scaling": True, "log": False}  # hmmlearn's name: ``scaled``
LENGTHS = [1, 5, 17, 1, 40, 2, 9]


class GivenLogDensities(hmm_base.BaseHMM):
    """hmmlearn's HMM (its forward-backward, statistics and Viterbi) on
    emission log-densities given directly as X."""

    def _compute_log_likelihood(self, X):
        return X


def hmmlearn_on_log_b(startprob, transmat, implementation):
    model = GivenLogDensities(
        n_components=len(startprob), implementation=implementation, init_params=""
    )
    model.startprob_ = startprob
    model.transmat_ = transmat
    return model


def offsets(lengths):
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def random_hmm(rng, n_states, lengths, spread=3.0):
    """A random HMM and per-state log-densities for sequences of ``lengths``."""
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    log_b = rng.normal(scale=spread, size=(sum(lengths), n_states)) - 2.0
    return log_b, offsets(lengths), startprob, transmat


# --------------------------------------------------------------------------
# The naive reference


def naive_sequence(log_b, startprob, transmat):
    """Forward-backward in log space on one sequence: (log-likelihood,
    posteriors, expected transition counts, filtered posteriors)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pi = np.log(startprob)
        log_a = np.log(transmat)
        n_steps, n_states = log_b.shape
        fwd = np.empty((n_steps, n_states))
        fwd[0] = log_pi + log_b[0]
        for t in range(1, n_steps):
            fwd[t] = logsumexp(fwd[t - 1][:, None] + log_a, axis=0) + log_b[t]
        bwd = np.zeros((n_steps, n_states))
        for t in range(n_steps - 2, -1, -1):
            bwd[t] = logsumexp(log_a + (log_b[t + 1] + bwd[t + 1])[None, :], axis=1)
        ll = logsumexp(fwd[-1])
        gamma = np.exp(fwd + bwd - ll)
        log_xi = (
            fwd[:-1, :, None] + log_a[None] + (log_b[1:] + bwd[1:])[:, None, :] - ll
        )
        xi = np.exp(log_xi).sum(axis=0)
        filtered = np.exp(fwd - logsumexp(fwd, axis=1, keepdims=True))
    return ll, gamma, xi, filtered


def naive_viterbi_sequence(log_b, startprob, transmat):
    """(log-probability, path) of the best state path of one sequence."""
    with np.errstate(divide="ignore"):
        log_pi = np.log(startprob)
        log_a = np.log(transmat)
    delta = log_pi + log_b[0]
    back = []
    for t in range(1, len(log_b)):
        cand = delta[:, None] + log_a
        back.append(cand.argmax(axis=0))
        delta = cand.max(axis=0) + log_b[t]
    path = [int(delta.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return delta.max(), path[::-1]


def naive(log_b, starts, startprob, transmat):
    """The naive reference over all sequences, shaped like the kernels'
    outputs: dict of ll, ll_seq, gamma, start, trans, filtered, vit, vit_seq,
    path."""
    n_states = len(startprob)
    out = {
        "ll_seq": [],
        "gamma": [],
        "start": np.zeros(n_states),
        "trans": np.zeros((n_states, n_states)),
        "filtered": [],
        "vit_seq": [],
        "path": [],
    }
    for lo, hi in itertools.pairwise(starts):
        ll, gamma, xi, filtered = naive_sequence(log_b[lo:hi], startprob, transmat)
        out["ll_seq"].append(ll)
        out["gamma"].append(gamma)
        out["start"] += gamma[0]
        out["trans"] += xi
        out["filtered"].append(filtered)
        log_prob, path = naive_viterbi_sequence(log_b[lo:hi], startprob, transmat)
        out["vit_seq"].append(log_prob)
        out["path"] += path
    for name in ("ll_seq", "vit_seq", "path"):
        out[name] = np.array(out[name])
    out["gamma"] = np.vstack(out["gamma"])
    out["filtered"] = np.vstack(out["filtered"])
    out["ll"] = out["ll_seq"].sum()
    out["vit"] = out["vit_seq"].sum()
    return out


# --------------------------------------------------------------------------
# Calling the kernels


def run_kernels(log_b, starts, startprob, transmat, scaled):
    """All three kernels, outputs as in ``naive``."""
    n_steps, n_states = log_b.shape
    gamma = np.empty((n_steps, n_states))
    ll, ll_seq, start, trans = hk.forward_backward(
        log_b, starts, startprob, transmat, gamma, scaled, NO_WEIGHTS
    )
    path = np.empty(n_steps, dtype=np.int64)
    vit, vit_seq = hk.viterbi(log_b, starts, startprob, transmat, path)
    filtered = np.empty((n_steps, n_states))
    filter_seq = hk.forward_filter(log_b, starts, startprob, transmat, filtered)
    return {
        "ll": ll,
        "ll_seq": ll_seq,
        "gamma": gamma,
        "start": start,
        "trans": trans,
        "filtered": filtered,
        "filter_seq": filter_seq,
        "vit": vit,
        "vit_seq": vit_seq,
        "path": path,
    }


def assert_like_naive(ours, ref, rtol=1e-10):
    for name in ("ll", "ll_seq", "gamma", "start", "trans", "filtered", "vit"):
        assert np.all(np.isfinite(ours[name])), name
        assert_allclose(ours[name], ref[name], rtol=rtol, atol=0, err_msg=name)
    assert_allclose(ours["filter_seq"], ref["ll_seq"], rtol=rtol)
    assert_allclose(ours["vit_seq"], ref["vit_seq"], rtol=rtol)
    assert_array_equal(ours["path"], ref["path"])


# --------------------------------------------------------------------------
# The exact sums


def test_exact_sum_is_faithful_and_order_free():
    """Within one unit in the last place of the correctly rounded sum
    (math.fsum), and the same bits in any order: over the whole exponent
    range, subnormals and cancellations included."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=2000) * 10.0 ** rng.integers(-320, 300, size=2000)
    values[:5] = [5e-324, -5e-324, 1e307, 1e307, -1e307]
    values[5:10] = 0.0
    exact = math.fsum(values)
    ours = hk._exact_sum(values)
    assert abs(ours - exact) <= np.spacing(abs(exact))
    for _ in range(5):
        assert hk._exact_sum(rng.permutation(values)) == ours
    # Beyond float64's range on the way, back inside at the end.
    assert hk._exact_sum(np.array([1e308, 1e308, -1e308, 1.0])) == 1e308
    small = np.array([1e-300, 3.0, -3.0, 2e-300])
    assert hk._exact_sum(small) == math.fsum(small)
    assert hk._exact_sum(np.array([np.inf, 1.0])) == np.inf
    assert hk._exact_sum(np.array([-np.inf, -np.inf, 2.0])) == -np.inf
    assert np.isnan(hk._exact_sum(np.array([np.inf, -np.inf])))
    assert hk._exact_sum(np.zeros(0)) == 0.0


# --------------------------------------------------------------------------
# Against the naive reference


@pytest.mark.parametrize("scaled", [True, False])
@pytest.mark.parametrize("n_states", [1, 2, 3, 6])
def test_like_naive_reference(scaled, n_states):
    rng = np.random.default_rng(n_states)
    log_b, starts, startprob, transmat = random_hmm(rng, n_states, LENGTHS)
    ours = run_kernels(log_b, starts, startprob, transmat, scaled)
    assert_like_naive(ours, naive(log_b, starts, startprob, transmat))
    assert_allclose(ours["gamma"].sum(axis=1), 1.0, rtol=1e-14)
    assert_allclose(ours["trans"].sum(), sum(max(n - 1, 0) for n in LENGTHS))


@pytest.mark.parametrize("scaled", [True, False])
def test_only_length_one_and_empty_sequences(scaled):
    """Length 1: posteriors are the normalised start probabilities times the
    emissions, no transitions. An empty sequence has log-likelihood 0 and
    adds nothing."""
    rng = np.random.default_rng(5)
    log_b, starts, startprob, transmat = random_hmm(rng, 3, [1] * 12)
    ours = run_kernels(log_b, starts, startprob, transmat, scaled)
    assert_like_naive(ours, naive(log_b, starts, startprob, transmat))
    assert_array_equal(ours["trans"], 0.0)
    with_empty = np.insert(starts, 4, starts[3])
    again = run_kernels(log_b, with_empty, startprob, transmat, scaled)
    assert again["ll_seq"][3] == 0.0 and again["vit_seq"][3] == 0.0
    for name in ("ll", "start", "trans", "gamma", "vit", "path", "filtered"):
        assert_array_equal(again[name], ours[name], err_msg=name)
    assert_array_equal(np.delete(again["ll_seq"], 3), ours["ll_seq"])
    nothing = run_kernels(log_b[:0], np.zeros(1, np.int64), startprob, transmat, scaled)
    assert nothing["ll"] == 0.0 and nothing["ll_seq"].shape == (0,)
    assert_array_equal(nothing["trans"], 0.0)


# --------------------------------------------------------------------------
# Against hmmlearn from identical parameters


def gaussian_log_b(X, means, covars, covariance_type):
    cov = covars if covariance_type == "full" else [np.diag(c) for c in covars]
    return np.column_stack(
        [multivariate_normal(m, c).logpdf(X) for m, c in zip(means, cov)]
    )


@pytest.mark.parametrize("implementation", ["scaling", "log"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_like_hmmlearn_gaussian(covariance_type, implementation):
    """score_samples (log-likelihood and posteriors), the start and
    transition statistics of hmmlearn's E-step, and Viterbi decoding, for a
    GaussianHMM with the same parameters and our log-densities from SciPy:
    both our implementations against each of hmmlearn's, rtol 1e-10."""
    rng = np.random.default_rng(11)
    n_states, n_features = 4, 3
    means = rng.uniform(-2.0, 2.0, size=(n_states, n_features))
    if covariance_type == "full":
        a = rng.normal(size=(n_states, n_features, n_features))
        covars = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(n_features)
    else:
        covars = rng.uniform(0.5, 2.0, size=(n_states, n_features))
    model = hmm.GaussianHMM(
        n_states,
        covariance_type=covariance_type,
        implementation=implementation,
        init_params="",
    )
    model.n_features = n_features
    model.startprob_ = rng.dirichlet(np.ones(n_states))
    model.transmat_ = rng.dirichlet(np.ones(n_states) * 2.0, size=n_states)
    model.means_ = means
    model.covars_ = covars
    lengths = [1, 30, 7, 50, 1, 12]
    X, _ = model.sample(sum(lengths), random_state=0)
    their_ll, their_post = model.score_samples(X, lengths)
    stats, their_estep_ll = model._do_estep(X, lengths)
    their_vit, their_path = model.decode(X, lengths, algorithm="viterbi")
    log_b = gaussian_log_b(X, means, covars, covariance_type)
    for scaled in (True, False):
        ours = run_kernels(
            log_b, offsets(lengths), model.startprob_, model.transmat_, scaled
        )
        assert_allclose(ours["ll"], their_ll, rtol=1e-10)
        assert_allclose(ours["ll"], their_estep_ll, rtol=1e-10)
        assert_allclose(ours["gamma"], their_post, rtol=1e-10, atol=1e-300)
        assert_allclose(ours["start"], stats["start"], rtol=1e-10)
        assert_allclose(ours["trans"], stats["trans"], rtol=1e-10)
        assert_allclose(ours["vit"], their_vit, rtol=1e-10)
        assert_array_equal(ours["path"], their_path)


@pytest.mark.parametrize("implementation", ["scaling", "log"])
def test_zeros_in_startprob_and_transmat(implementation):
    """A left-to-right model (upper-triangular transmat) that starts in
    states 0 or 1, with a state 4 that nothing leads to: zero transitions get
    exactly zero counts, the unreachable state zero posteriors, nothing is
    NaN; as the naive reference and hmmlearn."""
    rng = np.random.default_rng(2)
    n_states = 5
    startprob = np.array([0.6, 0.4, 0.0, 0.0, 0.0])
    transmat = np.triu(rng.uniform(0.2, 1.0, size=(n_states, n_states)))
    transmat[:, 4] = 0.0
    transmat[4] = [0.0, 0.0, 0.0, 0.0, 1.0]
    transmat /= transmat.sum(axis=1, keepdims=True)
    lengths = [1, 12, 6, 25, 3]
    log_b = rng.normal(scale=2.0, size=(sum(lengths), n_states))
    starts = offsets(lengths)
    ours = run_kernels(
        log_b, starts, startprob, transmat, IMPLEMENTATIONS[implementation]
    )
    assert_like_naive(ours, naive(log_b, starts, startprob, transmat))
    assert_array_equal(ours["trans"][transmat == 0.0], 0.0)
    assert_array_equal(ours["gamma"][:, 4], 0.0)
    assert_array_equal(ours["start"][2:], 0.0)
    model = hmmlearn_on_log_b(startprob, transmat, implementation)
    their_ll, their_post = model.score_samples(log_b, lengths)
    stats, _ = model._do_estep(log_b, lengths)
    their_vit, their_path = model.decode(log_b, lengths, algorithm="viterbi")
    assert_allclose(ours["ll"], their_ll, rtol=1e-10)
    assert_allclose(ours["gamma"], their_post, rtol=1e-10, atol=1e-300)
    assert_allclose(ours["start"], stats["start"], rtol=1e-10)
    assert_allclose(ours["trans"], stats["trans"], rtol=1e-10)
    assert_array_equal(stats["trans"][transmat == 0.0], 0.0)
    assert_allclose(ours["vit"], their_vit, rtol=1e-12)
    assert_array_equal(ours["path"], their_path)


@pytest.mark.parametrize("scaled", [True, False])
def test_far_outliers(scaled):
    """Steps whose log-densities are all near -1e5 (a far outlier): exp()
    of them underflows, so hmmlearn's 'scaling' gives up there; ours
    subtracts each step's maximum. As the naive reference and hmmlearn's
    'log'."""
    rng = np.random.default_rng(4)
    log_b, starts, startprob, transmat = random_hmm(rng, 3, LENGTHS)
    log_b[[3, 10, 11, 40]] -= 1e5
    log_b[20] = [-1e5, -2e5, -1.5e5]
    ours = run_kernels(log_b, starts, startprob, transmat, scaled)
    assert_like_naive(ours, naive(log_b, starts, startprob, transmat))
    model = hmmlearn_on_log_b(startprob, transmat, "log")
    their_ll, their_post = model.score_samples(log_b, LENGTHS)
    stats, _ = model._do_estep(log_b, LENGTHS)
    assert_allclose(ours["ll"], their_ll, rtol=1e-12)
    assert_allclose(ours["gamma"], their_post, rtol=1e-10, atol=1e-300)
    assert_allclose(ours["trans"], stats["trans"], rtol=1e-10)


@pytest.mark.parametrize("scaled", [True, False])
def test_outlier_on_the_only_possible_state(scaled):
    """startprob and transmat allow only state 0 (identity transitions), and
    one step's log-density is 1e5 below state 1's: relative to the step's
    best state the only possible path has probability exp(-1e5) = 0, so the
    scaled recursions cannot go on; the sequence runs in log space. The
    log-likelihood is the sum of state 0's log-densities, exactly one
    posterior and transition per step."""
    n_steps = 12
    log_b = np.zeros((n_steps, 2))
    log_b[:, 0] = -1.0
    log_b[5] = [-1e5, 0.0]
    startprob = np.array([1.0, 0.0])
    transmat = np.eye(2)
    starts = offsets([n_steps])
    ours = run_kernels(log_b, starts, startprob, transmat, scaled)
    expected = log_b[:, 0].sum()
    assert_allclose(ours["ll"], expected, rtol=1e-15)
    assert_allclose(ours["filter_seq"], [expected], rtol=1e-15)
    assert_allclose(ours["vit"], expected, rtol=1e-15)
    assert_array_equal(ours["path"], 0)
    assert_allclose(ours["gamma"][:, 0], 1.0, rtol=1e-15)
    assert_array_equal(ours["gamma"][:, 1], 0.0)
    assert_array_equal(ours["filtered"][:, 1], 0.0)
    assert_allclose(ours["trans"], [[n_steps - 1, 0.0], [0.0, 0.0]], rtol=1e-14)


def test_impossible_sequence_has_minus_inf_log_likelihood():
    """A step that no allowed state can emit (log-density -inf where
    startprob allows): log-likelihood -inf, NaN posteriors (hmmlearn's 'log'
    gives the same), the other sequences untouched."""
    log_b = np.zeros((6, 2))
    log_b[4, 0] = -np.inf
    startprob = np.array([1.0, 0.0])
    transmat = np.eye(2)
    starts = offsets([3, 3])
    for scaled in (True, False):
        gamma = np.empty((6, 2))
        ll, ll_seq, _, _ = hk.forward_backward(
            log_b, starts, startprob, transmat, gamma, scaled, NO_WEIGHTS
        )
        assert ll == -np.inf and ll_seq[1] == -np.inf and ll_seq[0] == 0.0
        assert np.isnan(gamma[3:]).all()
        assert_array_equal(gamma[:3], [[1.0, 0.0]] * 3)


def test_long_sequence():
    """One sequence of 100,000 steps, K = 4: both implementations agree with
    hmmlearn's 'scaling' (transition counts rtol 1e-10) and 'log'. The
    posteriors within rtol 1e-9: in log space they are exp(f + b - Z) with
    terms near 1e5, a relative error of about 1e5 * eps. hmmlearn's 'log'
    divides the transition counts by the log-likelihood rather than per
    step, which leaves them all off by a common factor near 1 + 2e-8."""
    rng = np.random.default_rng(6)
    n_steps = 100_000
    log_b, starts, startprob, transmat = random_hmm(rng, 4, [n_steps], spread=1.0)
    transmat = 0.5 * transmat + 0.5 * np.eye(4)
    results = {
        scaled: run_kernels(log_b, starts, startprob, transmat, scaled)
        for scaled in (True, False)
    }
    for implementation, trans_rtol in (("scaling", 1e-10), ("log", 1e-7)):
        model = hmmlearn_on_log_b(startprob, transmat, implementation)
        their_ll, their_post = model.score_samples(log_b)
        stats, _ = model._do_estep(log_b, [n_steps])
        for ours in results.values():
            assert_allclose(ours["ll"], their_ll, rtol=1e-12)
            assert_allclose(ours["filter_seq"], [their_ll], rtol=1e-12)
            assert_allclose(ours["gamma"], their_post, rtol=1e-9)
            assert_allclose(ours["start"], stats["start"], rtol=1e-9)
            assert_allclose(ours["trans"], stats["trans"], rtol=trans_rtol)
    assert_allclose(results[True]["trans"], results[False]["trans"], rtol=1e-10)
    their_vit, their_path = model.decode(log_b, algorithm="viterbi")
    assert_allclose(results[True]["vit"], their_vit, rtol=1e-12)
    assert_array_equal(results[True]["path"], their_path)


@pytest.mark.parametrize("scaled", [True, False])
def test_viterbi_ties_as_hmmlearn(scaled):
    """Two identical states: every step is a tie. The last state is the
    first of the best (0); each earlier one the last of the best
    predecessors (1), as hmmlearn's."""
    log_b = np.zeros((6, 2))
    log_b[:, 1] = log_b[:, 0] = np.arange(6) * -0.5
    startprob = np.array([0.5, 0.5])
    transmat = np.full((2, 2), 0.5)
    ours = run_kernels(log_b, offsets([6]), startprob, transmat, scaled)
    their_vit, their_path = hmmlearn_on_log_b(startprob, transmat, "log").decode(
        log_b, algorithm="viterbi"
    )
    assert_array_equal(ours["path"], [1, 1, 1, 1, 1, 0])
    assert_array_equal(ours["path"], their_path)
    assert ours["vit"] == their_vit


# --------------------------------------------------------------------------
# Independence from the order of the sequences and the number of threads


def many_sequences(seed, n_sequences=300, n_states=4):
    """Enough sequences for several tasks of the kernels."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 60, size=n_sequences)
    assert lengths.sum() > 3 * hk.TASK_STEPS
    log_b, starts, startprob, transmat = random_hmm(rng, n_states, lengths)
    log_b[rng.random(len(log_b)) < 0.01] -= 1e5
    transmat[0, 1] = 0.0
    transmat /= transmat.sum(axis=1, keepdims=True)
    return log_b, starts, startprob, transmat, lengths


@pytest.mark.parametrize("scaled", [True, False])
def test_order_of_sequences(scaled):
    """Permuting the sequences permutes the per-sequence outputs and gives
    the same totals, to the bit: the sums over sequences are exact."""
    log_b, starts, startprob, transmat, lengths = many_sequences(7)
    order = np.random.default_rng(8).permutation(len(lengths))
    rows = np.concatenate([np.arange(starts[s], starts[s + 1]) for s in order])
    ours = run_kernels(log_b, starts, startprob, transmat, scaled)
    permuted = run_kernels(
        np.ascontiguousarray(log_b[rows]),
        offsets(lengths[order]),
        startprob,
        transmat,
        scaled,
    )
    for name in ("ll", "start", "trans", "vit"):
        assert_array_equal(permuted[name], ours[name], err_msg=name)
    for name in ("ll_seq", "vit_seq", "filter_seq"):
        assert_array_equal(permuted[name], ours[name][order], err_msg=name)
    for name in ("gamma", "filtered", "path"):
        assert_array_equal(permuted[name], ours[name][rows], err_msg=name)


THREADS_SCRIPT = textwrap.dedent(
    """
    import sys

    import numba
    import numpy as np

    sys.path.insert(0, sys.argv[3])
    from test_hmm_kernels import many_sequences, run_kernels

    assert numba.get_num_threads() == int(sys.argv[2]), numba.get_num_threads()
    log_b, starts, startprob, transmat, _ = many_sequences(9)
    out = {}
    for scaled in (True, False):
        for name, value in run_kernels(
            log_b, starts, startprob, transmat, scaled
        ).items():
            out[f"{scaled}{name}"] = np.asarray(value)
    np.savez(sys.argv[1], **out)
    """
)


@pytest.mark.parametrize("scaled", [True, False])
def test_forward_pass_alone_gives_the_same_log_likelihoods(scaled):
    """``forward_log_likelihoods`` (what ``score`` runs) gives every
    sequence's log-likelihood to the bit as forward-backward does: on many
    sequences with far outliers and a zero transition, with one sequence of
    probability zero, and on a sequence that the scaled recursions hand to
    log space (see test_outlier_on_the_only_possible_state)."""
    log_b, starts, startprob, transmat, _ = many_sequences(9)
    log_b[starts[5]] = -np.inf  # no state can emit this step
    one = np.zeros((12, 2))
    one[:, 0] = -1.0
    one[5] = [-1e5, 0.0]
    cases = [
        (log_b, starts, startprob, transmat),
        (one, offsets([12]), np.array([1.0, 0.0]), np.eye(2)),
    ]
    for log_b, starts, startprob, transmat in cases:
        gamma = np.empty_like(log_b)
        _, expected, _, _ = hk.forward_backward(
            log_b, starts, startprob, transmat, gamma, scaled, NO_WEIGHTS
        )
        work = np.empty_like(log_b)
        ours = hk.forward_log_likelihoods(
            log_b, starts, startprob, transmat, scaled, work
        )
        assert_array_equal(ours, expected)
    first = cases[0]
    gamma = np.empty_like(first[0])
    _, expected, _, _ = hk.forward_backward(*first, gamma, scaled, NO_WEIGHTS)
    assert expected[5] == -np.inf
    assert np.isfinite(np.delete(expected, 5)).all()


def test_bit_identical_across_thread_counts(tmp_path):
    """Several tasks over 300 sequences: 1 and 2 threads give the same bits
    for every output of the three kernels, both implementations."""
    here = os.path.dirname(os.path.abspath(__file__))
    results = results_by_thread_count(THREADS_SCRIPT, tmp_path, here)
    assert len(results[1]) == 2 * 10
    assert_same_bits(results)


def test_sequence_weights_scale_each_sequences_terms():
    """Weights per sequence multiply its terms in the sums; weight 0 leaves
    out even a sequence of probability zero."""
    log_b, starts, startprob, transmat, _ = many_sequences(10)
    n_sequences = starts.shape[0] - 1
    weights = np.random.default_rng(11).integers(0, 3, n_sequences).astype(float)
    for scaled in (True, False):
        gamma = np.empty_like(log_b)
        ll, ll_seq, start, trans = hk.forward_backward(
            log_b, starts, startprob, transmat, gamma, scaled, weights
        )
        ref_gamma = np.empty_like(log_b)
        _, ref_seq, _, _ = hk.forward_backward(
            log_b, starts, startprob, transmat, ref_gamma, scaled, NO_WEIGHTS
        )
        assert_array_equal(ll_seq, ref_seq)
        assert_array_equal(gamma, ref_gamma)
        assert_allclose(ll, weights @ ref_seq, rtol=1e-12)
        firsts = starts[:-1][np.diff(starts) > 0]
        used = weights[np.diff(starts) > 0]
        assert_allclose(start, used @ ref_gamma[firsts], rtol=1e-12)
        per_sequence_trans = []
        for s in range(n_sequences):
            one = np.array([starts[s], starts[s + 1]])
            g = np.empty_like(log_b)
            _, _, _, t = hk.forward_backward(
                log_b, one, startprob, transmat, g, scaled, NO_WEIGHTS
            )
            per_sequence_trans.append(t)
        expected = np.einsum("s,sij->ij", weights, np.array(per_sequence_trans))
        assert_allclose(trans, expected, rtol=1e-12, atol=1e-300)


def test_exp_within_one_unit_in_the_last_place_of_libm():
    @numba.njit
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = hk.exp(x[i])
        return out

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            -rng.exponential(5.0, 20_000),
            rng.uniform(-745.0, 709.0, 20_000),
            [0.0, -0.0, -1e-300, 1e-300, -708.4, -744.0, -745.13, 709.7],
        ]
    )
    ours = apply(x)
    with np.errstate(over="ignore"):
        ref = np.exp(x)
    ulps = np.abs(ours.view(np.int64) - ref.view(np.int64))
    assert ulps.max() <= 1
    # Underflow to 0 and overflow to inf as libm's.
    edges = np.array([-745.14, -746.0, -1e300, -np.inf, 709.79, 710.0, np.inf])
    with np.errstate(over="ignore"):
        assert_array_equal(apply(edges), np.exp(edges))


def _placed(values, gap, buffer_size=256):
    """``values`` in a buffer, followed after ``gap`` elements by an array
    of the same shape (returned second): scratch placed right after an
    input, or far from it."""
    values = np.asarray(values, dtype=np.float64)
    buffer = np.zeros(buffer_size)
    first = buffer[: values.size].reshape(values.shape)
    first[...] = values
    start = values.size + gap
    second = buffer[start : start + values.size].reshape(values.shape)
    return first, second


@pytest.mark.parametrize("n_states", [3, 4, 8])
def test_scaled_passes_do_not_depend_on_where_the_arrays_lie(n_states):
    """The same bits whether the scratch arrays lie right after the inputs
    or far from them: a loop that stores and also sums is compiled in two
    versions, chosen at run time by the arrays' addresses, that add in
    different orders; the passes keep their sums in loops that only read."""
    rng = np.random.default_rng(n_states)
    n_steps = 6
    for _ in range(200):
        startprob = rng.random(n_states)
        startprob /= startprob.sum()
        transmat = rng.random((n_states, n_states))
        transmat /= transmat.sum(axis=1, keepdims=True)
        probs = rng.random((n_steps, n_states))
        tops = np.zeros(n_steps)
        results = []
        for gap in (0, 1, 2, 100):
            start, pred = _placed(startprob, gap)
            trans, xi = _placed(transmat, gap)
            alpha = np.zeros((n_steps, n_states))
            scale = np.zeros(n_steps)
            run = np.zeros(3)
            hk.new_run(run)
            hk.forward_scaled(
                probs, tops, 0, 0, n_steps, True, start,
                np.ascontiguousarray(transmat.T), alpha, scale, pred, run,
            )  # fmt: skip
            w = np.zeros(n_states)
            beta = np.zeros(n_states)
            hk.backward_scaled(
                probs, 0, 0, n_steps, True, True, trans, alpha, scale, w, beta, xi
            )
            results.append((run.copy(), alpha, scale, xi.copy()))
        for other in results[1:]:
            for a, b in zip(results[0], other):
                assert_array_equal(a, b)
