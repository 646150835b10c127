"""The imputation-accuracy benchmark (``emfast bench --impute``) on small data."""

import json
import math

import numpy as np
import pytest

from emfast.bench import (
    IMPUTE_METHODS,
    format_impute_rmse,
    impute_data,
    impute_rmse,
    missing_mask,
    run_impute_rmse,
    two_clusters,
)
from emfast.cli import main


@pytest.fixture(scope="module")
def default_case():
    return impute_rmse()


def test_two_clusters():
    X = two_clusters(1001, seed=3)
    assert X.shape == (1001, 3)
    np.testing.assert_allclose(X[:500].mean(axis=0), [0, 0, 0], atol=0.15)
    np.testing.assert_allclose(X[500:].mean(axis=0), [5, -4, 3], atol=0.15)
    # The second cluster's covariance: feature 1's correlations flipped.
    np.testing.assert_allclose(
        np.cov(X[500:].T),
        [[1.0, -0.8, 0.6], [-0.8, 1.0, -0.7], [0.6, -0.7, 1.0]],
        atol=0.15,
    )
    np.testing.assert_array_equal(X, two_clusters(1001, seed=3))


def test_impute_data():
    X, k = impute_data()
    assert (X.shape, k, X.flags.writeable) == ((2000, 3), 2, False)
    X, k = impute_data("W2", n_samples=300, seed=1)
    assert (X.shape, k, X.flags.writeable) == ((300, 8), 16, False)
    with pytest.raises(ValueError, match="Unknown data set 'W9'"):
        impute_data("W9")


def test_impute_rmse_fields(default_case):
    r = default_case
    assert (r["dataset"], r["n_samples"], r["n_features"]) == ("two-clusters", 2000, 3)
    assert (r["n_components"], r["true_n_components"], r["seed"]) == (2, 2, 0)
    mask = missing_mask((2000, 3), 0.2, seed=0)
    assert r["fraction"] == 0.2
    assert r["missing_fraction"] == pytest.approx(mask.mean())
    assert r["missing_values"] == np.count_nonzero(mask)
    assert r["missing_rows"] == np.count_nonzero(mask.any(axis=1))
    assert list(r["methods"]) == list(IMPUTE_METHODS)
    for method, t in r["methods"].items():
        assert set(t) == {"rmse", "seconds", "n_iter"}
        assert math.isfinite(t["rmse"]) and t["rmse"] > 0
        assert t["seconds"] > 0
        assert (t["n_iter"] is None) == (method in ("mean", "knn"))
    assert 1 <= r["methods"]["iterative"]["n_iter"] <= 30


def test_impute_rmse_emfast_beats_mean_and_iterative(default_case):
    rmse = {method: t["rmse"] for method, t in default_case["methods"].items()}
    assert rmse["emfast"] < 0.5 * rmse["mean"]
    assert rmse["emfast"] < rmse["iterative"]
    # The mean imputation's RMSE is the spread of the missing values around
    # their column means (about 2.3 on these clusters).
    assert 2.0 < rmse["mean"] < 2.6


def test_impute_rmse_is_deterministic_for_a_seed(default_case):
    def accuracy(r):
        return {method: t["rmse"] for method, t in r["methods"].items()}

    again = impute_rmse(methods=("emfast", "iterative", "mean"))
    expected = accuracy(default_case)
    assert accuracy(again) == {m: expected[m] for m in ("emfast", "iterative", "mean")}
    other = impute_rmse(seed=1, methods=("emfast",))
    assert other["methods"]["emfast"]["rmse"] != expected["emfast"]


def test_impute_rmse_options():
    r = impute_rmse(
        "W2",
        n_samples=600,
        fraction=0.1,
        seed=2,
        n_components=4,
        methods=("mean", "emfast"),
    )
    assert list(r["methods"]) == ["mean", "emfast"]
    assert (r["n_components"], r["true_n_components"]) == (4, 16)
    assert abs(r["missing_fraction"] - 0.1) < 0.02
    with pytest.raises(ValueError, match="Unknown method 'median'"):
        impute_rmse(n_samples=100, methods=("median",))
    with pytest.raises(ValueError, match="at least one method"):
        impute_rmse(n_samples=100, methods=())


def test_format_impute_rmse():
    results = run_impute_rmse(n_samples=300, methods=("emfast", "mean", "knn"))
    assert [r["dataset"] for r in results["impute"]] == ["two-clusters", "W2"]
    table = format_impute_rmse(results)
    assert "| method | RMSE | vs mean |" in table and "20 % of the values" in table
    rows = [line for line in table.splitlines() if line.startswith("| two-clusters")]
    assert [row.split(" | ")[5] for row in rows] == [
        "emfast GaussianMixtureImputer",
        "SimpleImputer(strategy='mean')",
        "KNNImputer(n_neighbors=5)",
    ]
    assert rows[1].split(" | ")[7] == "1.00×"
    assert (
        sum(line.startswith("| W2 | 300 | 8 | 16 |") for line in table.splitlines())
        == 3
    )


def test_cli_impute_json(tmp_path, capsys):
    path = tmp_path / "impute.json"
    argv = ["bench", "--impute", "--n-samples", "400", "--seed", "1"]
    argv += ["--missing-fraction", "0.1", "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| two-clusters | 400 | 3 | 2 |" in out and "| W2 | 400 | 8 | 16 |" in out
    assert "IterativeImputer(max_iter=30)" in out
    saved = json.loads(path.read_text())
    assert [r["dataset"] for r in saved["impute"]] == ["two-clusters", "W2"]
    assert all(r["fraction"] == 0.1 and r["seed"] == 1 for r in saved["impute"])
    assert list(saved["impute"][0]["methods"]) == list(IMPUTE_METHODS)


def test_cli_impute_options(monkeypatch, capsys):
    calls = []

    def record(datasets=None, **kwargs):
        calls.append(kwargs)
        raise KeyboardInterrupt  # stop before any measurement

    monkeypatch.setattr("emfast.bench.run_impute_rmse", record)
    assert main(["bench", "--impute", "--quick"]) == 130
    assert calls[-1]["quick"] and calls[-1]["n_samples"] is None
    assert (calls[-1]["fraction"], calls[-1]["seed"]) == (0.2, 0)
    assert main(["bench", "--impute", "--seed", "3", "--n-samples", "500"]) == 130
    assert (calls[-1]["seed"], calls[-1]["n_samples"]) == (3, 500)
    assert not calls[-1]["quick"]
    for other in ("--missing", "--startup", "--end-to-end"):
        assert main(["bench", "--impute", other]) == 1
        assert "separate runs; give one" in capsys.readouterr().err
    assert main(["bench", "--missing", "--impute"]) == 1
    assert "--missing and --impute are separate runs" in capsys.readouterr().err
    assert main(["bench", "--impute", "--no-sklearn"]) == 1
    assert "drop --no-sklearn" in capsys.readouterr().err
    assert main(["bench", "--impute", "--workloads", "W1"]) == 1
    assert "drop --workloads" in capsys.readouterr().err
    assert len(calls) == 2
