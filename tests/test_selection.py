"""select_model: a grid of fits, the criteria table, the best model."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from emfast import GaussianMixture, ModelSelection, select_model

CENTRES = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])


def four_blobs(n_per_blob=150, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([c + rng.normal(size=(n_per_blob, 2)) for c in CENTRES])


@pytest.mark.parametrize("criterion", ["bic", "aic"])
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
        gm = GaussianMixture(
            int(table["n_components"][i]),
            covariance_type=str(table["covariance_type"][i]),
            random_state=0,
        ).fit(X)
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
    a = select_model(X, [3, 4], ["full"], sample_weight=w, random_state=0)
    b = select_model(repeated, [3, 4], ["full"], random_state=0)
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
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        select_model(four_blobs(20), **kwargs)


def test_bad_data():
    with pytest.raises(ValueError, match="NaN"):
        select_model([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]], [1])
