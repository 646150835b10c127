"""select_model: a grid of fits, the criteria table, the best model."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from emfast import GaussianMixture, ModelSelection, select_model

CENTRES = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])


def four_blobs(n_per_blob=150, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([c + rng.normal(size=(n_per_blob, 2)) for c in CENTRES])


@pytest.mark.parametrize("criterion", ["bic", "aic", "icl"])
def test_recovers_true_number_of_components(criterion):
    result = select_model(
        four_blobs(), range(1, 8), ("full", "diag"), criterion=criterion, random_state=0
    )
    assert isinstance(result, ModelSelection)
    assert result.best_estimator.n_components == 4
    assert result.criterion == criterion
    assert result.best_index == int(np.argmin(result.table[criterion]))


def test_table_matches_each_fit():
    X = four_blobs()
    result = select_model(X, [2, 4], ["tied", "spherical"], random_state=0)
    table = result.table
    assert table["n_components"].tolist() == [2, 4, 2, 4]
    assert table["covariance_type"].tolist() == [
        "tied",
        "tied",
        "spherical",
        "spherical",
    ]
    for i in range(4):
        # The candidate is the better of the two default starts' fits.
        fits = {
            start: GaussianMixture(
                int(table["n_components"][i]),
                covariance_type=str(table["covariance_type"][i]),
                init_params=start,
                random_state=0,
            ).fit(X)
            for start in ("small-em", "kmeans")
        }
        gm = fits[str(table["start"][i])]
        assert gm.score(X) >= max(f.score(X) for f in fits.values())
        proba = gm.predict_proba(X)
        assert_allclose(
            table["icl"][i],
            gm.bic(X) - 2 * np.log(proba.max(axis=1)).sum(),
            rtol=1e-10,
        )
        assert_allclose(table["bic"][i], gm.bic(X), rtol=1e-10)
        assert_allclose(table["aic"][i], gm.aic(X), rtol=1e-10)
        assert_allclose(table["log_likelihood"][i], gm.score(X), rtol=1e-10)
        assert table["n_iter"][i] == gm.n_iter_
        assert bool(table["converged"][i]) == gm.converged_
        assert table["n_parameters"][i] == gm._n_parameters()
    text = str(result)
    assert "<- best" in text and text.count("\n") == 4


def test_integer_weights_equal_repeated_rows():
    X = four_blobs(60)
    w = np.random.default_rng(1).integers(0, 3, len(X)).astype(float)
    repeated = np.repeat(X, w.astype(int), axis=0)
    # With the k-means start (the subsample starts draw rows in proportion
    # to the weights, so they match repeated rows in distribution only).
    a = select_model(
        X, [3, 4], ["full"], sample_weight=w, starts="kmeans", random_state=0
    )
    b = select_model(repeated, [3, 4], ["full"], starts="kmeans", random_state=0)
    assert_allclose(a.table["bic"], b.table["bic"], rtol=1e-9)
    assert_allclose(a.table["aic"], b.table["aic"], rtol=1e-9)


def test_single_covariance_type_string():
    X = four_blobs(40)
    result = select_model(X, [1, 4], covariance_types="diag", random_state=0)
    assert result.table["covariance_type"].tolist() == ["diag", "diag"]
    with pytest.raises(ValueError, match=r"Unknown covariance type\(s\) \['round'\]"):
        select_model(X, [1], covariance_types="round")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"criterion": "likelihood"}, ValueError, "criterion must be one of"),
        ({"n_components": []}, ValueError, "must not be empty"),
        ({"n_components": [0, 1]}, ValueError, "n_components must be >= 1"),
        ({"covariance_types": ["round"]}, ValueError, "Unknown covariance type"),
        ({"covariance_type": "full"}, TypeError, "set by the grid"),
        ({"init_params": "kmeans"}, TypeError, "set by starts"),
        ({"starts": []}, ValueError, "starts must not be empty"),
        (
            {"starts": ["kmeans", "mclust"]},
            ValueError,
            r"Unknown start\(s\) \['mclust'\]",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        select_model(four_blobs(20), **kwargs)


def test_bad_data():
    with pytest.raises(ValueError, match="NaN"):
        select_model([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]], [1])


@pytest.mark.parametrize("seed", [0, 1])
def test_default_starts_pick_three_elongated_clusters_where_kmeans_does_not(seed):
    from emfast.workloads import make_start_dataset

    X = make_start_dataset("elongated", 2000, seed=seed).X
    chosen = select_model(X, range(1, 6), "full", random_state=seed)
    assert chosen.best_estimator.n_components == 3
    kmeans = select_model(X, range(1, 6), "full", starts="kmeans", random_state=seed)
    assert kmeans.best_estimator.n_components != 3
    assert set(kmeans.table["start"]) == {"kmeans"}
    # Each candidate is at least as good as the k-means fit alone.
    assert np.all(
        chosen.table["log_likelihood"] >= kmeans.table["log_likelihood"] - 1e-12
    )


def test_icl_penalises_overlapping_components():
    """Two components on one Gaussian: BIC barely cares, ICL does."""
    X = np.random.default_rng(2).normal(size=(2000, 1))
    result = select_model(X, [1, 2], "full", criterion="icl", random_state=0)
    assert result.best_estimator.n_components == 1
    icl, bic = result.table["icl"], result.table["bic"]
    assert icl[0] == bic[0]  # one component: every posterior is 1
    assert icl[1] - bic[1] > 100
