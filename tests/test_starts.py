"""init_params='hierarchical' and 'small-em': the starts that survive data
where k-means reaches a poor local optimum, against naive references of
their parts, on every covariance type, with weights, missing values, float32,
Dask, and independent of the thread count."""

import itertools
import warnings

import numpy as np
import pytest
from conftest import assert_same_bits, results_by_thread_count
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from emfast import BayesianGaussianMixture, GaussianMixture
from emfast._covariance import estimate_gaussian_parameters
from emfast._kmeans import MemoryRows
from emfast._seeding import (
    _log_det,
    density_peak_stats,
    hierarchical_stats,
    merge_groups,
    moment_stats,
)
from emfast.bench import truth_score
from emfast.workloads import make_start_dataset

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
NEW_STARTS = ("hierarchical", "small-em")


def fit(X, k, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(k, **kwargs).fit(X)


# ---------------------------------------------------------------- the optimum


@pytest.mark.parametrize(
    ("name", "init_params"),
    [("elongated", "hierarchical"), ("elongated", "small-em"), ("nested", "small-em")],
)
def test_new_starts_reach_the_best_optimum_where_kmeans_does_not(name, init_params):
    data = make_start_dataset(name, 3000, seed=1)
    k = len(data.weights)
    best = truth_score(data)
    kmeans = fit(data.X, k, random_state=0).score(data.X)
    assert kmeans < best - 0.05  # the data are hard for k-means
    for seed in (0, 1):
        found = fit(data.X, k, init_params=init_params, random_state=seed)
        assert found.score(data.X) > best - 1e-3


def test_the_hierarchical_start_cuts_a_broad_cluster_but_small_em_does_not():
    """The classification likelihood prefers to split the broad cluster (the
    reason small EM also tries the density peaks)."""
    data = make_start_dataset("nested", 3000, seed=1)
    best = truth_score(data)
    assert (
        fit(data.X, 5, init_params="hierarchical", random_state=0).score(data.X)
        < best - 0.05
    )
    assert (
        fit(data.X, 5, init_params="small-em", random_state=0).score(data.X)
        > best - 1e-3
    )


# ------------------------------------------------------- naive references


def naive_merges(X, labels, n_groups, covariance_type, tau):
    """Agglomeration by brute force: at each step every pair of groups is
    merged in turn and the classification log-likelihood of the whole
    partition recomputed from its points."""
    groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]

    def cost(members):
        n = members.size
        centred = X[members] - X[members].mean(axis=0)
        cov = centred.T @ centred / n
        return n * _log_det(cov, covariance_type, tau)

    while len(groups) > n_groups:
        best = None
        for a, b in itertools.combinations(range(len(groups)), 2):
            merged = np.concatenate([groups[a], groups[b]])
            total = sum(
                cost(g) for i, g in enumerate(groups) if i not in (a, b)
            ) + cost(merged)
            if best is None or total < best[0] - 1e-9:
                best = (total, a, b)
        _, a, b = best
        groups[a] = np.concatenate([groups[a], groups[b]])
        del groups[b]
    out = np.empty(len(X), dtype=np.int64)
    for g, members in enumerate(sorted(groups, key=lambda m: labels[m].min())):
        out[members] = g
    return out


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_merges_match_a_brute_force_agglomeration(covariance_type):
    rng = np.random.default_rng(3)
    X = np.vstack(
        [rng.normal(c, s, size=(30, 3)) for c, s in ((0, 1), (5, 0.5), (10, 2))]
    )
    X[:, 1] *= 3.0
    # Ten cells of nine neighbouring points, as k-means gives them.
    labels = np.argsort(np.argsort(X[:, 0])) // 9
    ours = merge_groups(X, labels, 3, covariance_type, 0.01)
    assert_array_equal(ours, naive_merges(X, labels, 3, covariance_type, 0.01))
    assert_array_equal(np.unique(ours), [0, 1, 2])


def test_merging_to_more_groups_than_cells_keeps_the_cells():
    X = np.arange(12.0).reshape(6, 2)
    labels = np.array([5, 5, 7, 7, 9, 9])
    assert_array_equal(merge_groups(X, labels, 4, "full", 1.0), [0, 0, 1, 1, 2, 2])


def naive_density_peaks(X, k, n_peaks):
    n = len(X)
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2))
    radius = np.array([np.sort(d[i])[k] for i in range(n)])
    order = sorted(range(n), key=lambda i: (radius[i], i))
    rank = {i: r for r, i in enumerate(order)}
    score = np.empty(n)
    for i in range(n):
        denser = [j for j in range(n) if rank[j] < rank[i]]
        score[i] = np.inf if not denser else min(d[i, j] for j in denser) / radius[i]
    return sorted(range(n), key=lambda i: (-score[i], i))[:n_peaks]


def test_density_peaks_match_a_naive_computation():
    rng = np.random.default_rng(4)
    X = np.vstack(
        [
            rng.normal(0.0, 3.0, size=(150, 2)),
            rng.normal([4.0, 4.0], 0.2, size=(30, 2)),
            rng.normal([-4.0, 3.0], 0.2, size=(30, 2)),
        ]
    )
    stats = density_peak_stats(MemoryRows(X), 3, "full", np.random.RandomState(0))
    peaks = naive_density_peaks(X, 10, 3)
    assert_array_equal(stats.centers, X[peaks])
    # The two tight clusters are peaks, with small covariances.
    _, means, covariances = estimate_gaussian_parameters(stats, "full", 0.0, X.dtype)
    tight = [np.linalg.norm(means - c, axis=1).min() for c in ([4, 4], [-4, 3])]
    assert max(tight) < 0.5
    assert sorted(np.trace(covariances, axis1=1, axis2=2))[1] < 0.5


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_moment_stats_give_the_intended_parameters(covariance_type):
    rng = np.random.default_rng(5)
    means = rng.normal(size=(3, 2))
    nk = np.array([10.0, 30.0, 60.0])
    covariances = np.stack([np.eye(2) * s + 0.3 for s in (1.0, 2.0, 3.0)])
    stats = moment_stats(
        means, nk, covariances * nk[:, None, None], covariance_type, 100.0
    )
    got_nk, got_means, got = estimate_gaussian_parameters(
        stats, covariance_type, 0.0, np.float64
    )
    assert_allclose(got_nk, nk)
    assert_allclose(got_means, means, atol=1e-12)
    expected = {
        "full": covariances,
        "tied": (covariances * nk[:, None, None]).sum(axis=0) / nk.sum(),
        "diag": np.diagonal(covariances, axis1=1, axis2=2),
        "spherical": np.diagonal(covariances, axis1=1, axis2=2).mean(axis=1),
    }[covariance_type]
    assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "make", [hierarchical_stats, density_peak_stats], ids=["hierarchical", "peaks"]
)
def test_unit_weights_give_the_unweighted_start(make):
    """Weights of 1 on at most SUBSAMPLE_SIZE rows: every row once, as
    without weights (drawn rows with repeats would make the density peaks
    meaningless)."""
    data = make_start_dataset("nested", 1500, seed=12)
    a = make(MemoryRows(data.X), 5, "full", np.random.RandomState(0))
    b = make(MemoryRows(data.X, np.ones(1500)), 5, "full", np.random.RandomState(0))
    assert_allclose(b.centers, a.centers, rtol=1e-12, atol=1e-12)
    assert_allclose(b.sxx, a.sxx, rtol=1e-10, atol=1e-10)
    assert_allclose(b.nk, a.nk, rtol=1e-12)


def test_weights_act_as_repeats_in_the_subsample():
    """Weight 3 on a tight cluster's rows: its density peak is found as if
    each row were there three times."""
    rng = np.random.default_rng(13)
    broad = rng.normal(0.0, 3.0, size=(600, 2))
    tight = rng.normal([4.0, 4.0], 0.1, size=(4, 2))
    X = np.vstack([broad, tight])
    w = np.concatenate([np.ones(600), np.full(4, 3.0)])
    repeated = np.vstack([broad, tight, tight, tight])
    a = density_peak_stats(MemoryRows(X, w), 2, "full", np.random.RandomState(0))
    b = density_peak_stats(MemoryRows(repeated), 2, "full", np.random.RandomState(0))
    near = [np.linalg.norm(s.centers - [4.0, 4.0], axis=1).min() for s in (a, b)]
    assert max(near) < 0.5  # both find the tight cluster
    # Without the weights its 4 rows are too few to be a peak.
    c = density_peak_stats(MemoryRows(X), 2, "full", np.random.RandomState(0))
    assert np.linalg.norm(c.centers - [4.0, 4.0], axis=1).min() > 0.5


def test_hierarchical_stats_are_scaled_to_the_total_weight():
    data = make_start_dataset("elongated", 5000, seed=2)
    weights = np.full(5000, 0.5)
    stats = hierarchical_stats(
        MemoryRows(data.X, weights), 3, "full", np.random.RandomState(0)
    )
    assert_allclose(stats.nk.sum(), 2500.0)
    assert stats.total_weight == 2500.0


# ------------------------------------------------------ every configuration


@pytest.mark.parametrize("init_params", NEW_STARTS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_every_covariance_type(init_params, covariance_type):
    data = make_start_dataset("grid", 1500, seed=3)
    gm = fit(
        data.X,
        25,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=0,
    )
    assert np.isfinite(gm.lower_bound_)
    # Every true cluster gets a component near it.
    nearest = np.linalg.norm(data.means[:, None] - gm.means_[None], axis=2).min(axis=1)
    assert nearest.max() < 0.5


@pytest.mark.parametrize("init_params", NEW_STARTS)
def test_zero_weight_rows_do_not_attract_a_component(init_params):
    data = make_start_dataset("elongated", 2000, seed=4)
    far = np.random.default_rng(0).normal([100.0, 100.0], 0.1, size=(500, 2))
    X = np.vstack([data.X, far])
    weights = np.concatenate([np.ones(2000), np.zeros(500)])
    gm = fit(X, 3, init_params=init_params, random_state=0)
    assert np.linalg.norm(gm.means_ - [100, 100], axis=1).min() < 1  # unweighted
    gm = GaussianMixture(3, init_params=init_params, max_iter=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X, sample_weight=weights)
    assert np.abs(gm.means_).max() < 20


@pytest.mark.parametrize("init_params", NEW_STARTS)
def test_integer_weights_match_repeated_rows_in_distribution(init_params):
    """Weights 2 on half the rows: the same optimum as those rows twice."""
    data = make_start_dataset("elongated", 1500, seed=5)
    weights = np.where(np.arange(1500) % 2 == 0, 2.0, 1.0)
    repeated = np.vstack([data.X, data.X[::2]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        b = GaussianMixture(3, init_params=init_params, random_state=0).fit(
            data.X, sample_weight=weights
        )
    c = fit(repeated, 3, init_params=init_params, random_state=0)
    assert_allclose(
        b.score(data.X, sample_weight=weights), c.score(repeated), atol=1e-3
    )


@pytest.mark.parametrize("init_params", NEW_STARTS)
def test_missing_values_marginalized(init_params):
    data = make_start_dataset("elongated", 2000, seed=6)
    X = data.X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    gm = fit(X, 3, init_params=init_params, nan_policy="marginalize", random_state=0)
    assert np.isfinite(gm.lower_bound_)
    assert_allclose(np.sort(gm.means_[:, 1]), [0.0, 2.0, 4.0], atol=0.1)


@pytest.mark.parametrize("init_params", NEW_STARTS)
def test_float32_data(init_params):
    data = make_start_dataset("elongated", 2000, seed=7)
    X = data.X.astype(np.float32)
    ours = fit(X, 3, init_params=init_params, random_state=0)
    assert ours.means_.dtype == fit(X, 3, random_state=0).means_.dtype
    assert_allclose(np.sort(ours.means_[:, 1]), [0.0, 2.0, 4.0], atol=0.05)


@pytest.mark.parametrize("init_params", NEW_STARTS)
def test_bayesian_mixture_uses_the_new_starts(init_params):
    data = make_start_dataset("elongated", 2000, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm = BayesianGaussianMixture(
            n_components=3, init_params=init_params, random_state=0, max_iter=200
        ).fit(data.X)
    assert_allclose(np.sort(bgm.means_[:, 1]), [0.0, 2.0, 4.0], atol=0.05)


@pytest.mark.parametrize("init_params", NEW_STARTS)
def test_same_random_state_same_bits_and_n_init_keeps_the_best(init_params):
    data = make_start_dataset("nested", 1500, seed=9)
    a = fit(data.X, 5, init_params=init_params, random_state=3)
    b = fit(data.X, 5, init_params=init_params, random_state=3)
    assert a.means_.tobytes() == b.means_.tobytes()
    assert a.covariances_.tobytes() == b.covariances_.tobytes()
    runs = [
        fit(data.X, 5, init_params=init_params, random_state=np.random.RandomState(3))
    ]
    both = fit(data.X, 5, init_params=init_params, n_init=3, random_state=3)
    assert both.lower_bound_ >= runs[0].lower_bound_ - 1e-12


def test_dask_array_gives_the_same_start():
    da = pytest.importorskip("dask.array")
    data = make_start_dataset("elongated", 3000, seed=10)
    a = GaussianMixture(3, init_params="small-em", random_state=0).fit(data.X)
    b = GaussianMixture(3, init_params="small-em", random_state=0).fit(
        da.from_array(data.X, chunks=700)
    )
    assert_allclose(a.means_, b.means_, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bad", ["small_em", "Hierarchical", "mclust", 3])
def test_bad_init_params_is_a_clear_error(bad):
    X = make_start_dataset("elongated", 100).X
    with pytest.raises(InvalidParameterError, match="init_params"):
        GaussianMixture(3, init_params=bad).fit(X)


THREADS_SCRIPT = """
import sys
import warnings

import numba
import numpy as np

from emfast import GaussianMixture
from emfast.workloads import make_start_dataset

assert numba.get_num_threads() == int(sys.argv[2])
warnings.simplefilter("ignore")
data = make_start_dataset("nested", 4000, seed=11)
out = {}
for init in ("hierarchical", "small-em"):
    for cov in ("full", "diag"):
        gm = GaussianMixture(5, covariance_type=cov, init_params=init, max_iter=0,
                             random_state=0).fit(data.X)
        out[init + cov + "start"] = gm.means_
        gm = GaussianMixture(5, covariance_type=cov, init_params=init,
                             random_state=0).fit(data.X)
        out[init + cov] = gm.means_
np.savez(sys.argv[1], **out)
"""


def test_bit_identical_across_thread_counts(tmp_path):
    results = results_by_thread_count(THREADS_SCRIPT, tmp_path)
    assert len(results[1]) == 8
    assert_same_bits(results)


# ------------------------------------------------------------ hidden Markov


def sticky_lines(n_steps=3000, seed=0):
    """A 3-state HMM (staying probability 0.95) whose states emit the
    elongated clusters."""
    rng = np.random.default_rng(seed)
    states = np.empty(n_steps, dtype=np.int64)
    states[0] = 0
    for t in range(1, n_steps):
        stay = rng.random() < 0.95
        states[t] = states[t - 1] if stay else rng.integers(3)
    X = np.column_stack(
        [rng.normal(0, 6, n_steps), 2.0 * states + rng.normal(0, 0.25, n_steps)]
    )
    return X, states


@pytest.mark.parametrize("emission_init", NEW_STARTS)
def test_gaussian_hmm_emission_start(emission_init):
    from emfast import GaussianHMM

    X, _ = sticky_lines()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GaussianHMM(3, emission_init=emission_init, random_state=0, n_iter=50)
        ours.fit(X)
        kmeans = GaussianHMM(3, random_state=0, n_iter=50).fit(X)
    assert_allclose(np.sort(ours.means_[:, 1]), [0.0, 2.0, 4.0], atol=0.05)
    assert ours.score(X) > kmeans.score(X) + 100
    # The start's covariances are the groups' (elongated), not the data's.
    start = GaussianHMM(3, emission_init=emission_init, random_state=0, n_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start.fit(X)
    assert np.all(start.covars_[:, 1, 1] < 0.5)


def test_gmmhmm_emission_start_splits_the_states_along_the_lines():
    from emfast import GMMHMM

    X, _ = sticky_lines()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GMMHMM(
            3, n_mix=2, emission_init="hierarchical", random_state=0, n_iter=0
        ).fit(X)
    # Each state's two start means lie on one line.
    rows = np.sort(model.means_[:, :, 1].mean(axis=1))
    assert_allclose(rows, [0.0, 2.0, 4.0], atol=0.1)
    assert np.abs(np.diff(model.means_[:, :, 1], axis=1)).max() < 0.2


@pytest.mark.parametrize("cls_name", ["GaussianHMM", "GMMHMM"])
def test_bad_emission_init_is_a_clear_error(cls_name):
    import emfast

    X, _ = sticky_lines(200)
    model = getattr(emfast, cls_name)(3, emission_init="k-means++")
    with pytest.raises(InvalidParameterError, match="emission_init"):
        model.fit(X)


def test_model_files_without_emission_init_still_load(tmp_path):
    import json

    import emfast

    X, _ = sticky_lines(300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = emfast.GaussianHMM(3, random_state=0, n_iter=3).fit(X)
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path) as data:
        contents = dict(data)
    params = json.loads(str(contents["params"]))
    del params["emission_init"]
    contents["params"] = np.array(json.dumps(params))
    np.savez(path, **contents)
    loaded = emfast.load(path)
    assert loaded.emission_init == "kmeans"
    assert_array_equal(loaded.means_, model.means_)
