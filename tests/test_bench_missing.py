"""The missing-values benchmark (``emfast bench --missing``) on tiny data."""

import json
import math

import numpy as np
import pytest

from emfast.bench import (
    benchmark_data,
    emfast_iteration,
    format_missing_cost,
    initial_parameters,
    missing_cost,
    missing_mask,
    run_missing_cost,
    with_missing,
)
from emfast.cli import main

N_SAMPLES = 3000


def test_missing_mask_fraction_seed_and_no_empty_row():
    mask = missing_mask((20_000, 8), 0.1, seed=3)
    assert abs(mask.mean() - 0.1) < 0.005
    assert not mask.all(axis=1).any()
    np.testing.assert_array_equal(mask, missing_mask((20_000, 8), 0.1, seed=3))
    assert not np.array_equal(mask, missing_mask((20_000, 8), 0.1, seed=4))
    # Two features, 90 % missing: most rows would be empty without the fix.
    assert missing_mask((1000, 2), 0.9).sum(axis=1).max() == 1
    assert not missing_mask((100, 3), 0.0).any()
    with pytest.raises(ValueError, match="fraction"):
        missing_mask((10, 2), 1.0)


def test_with_missing_keeps_observed_values():
    X, _ = benchmark_data("W2", n_samples=500)
    X_missing = with_missing(X, 0.1)
    observed = ~np.isnan(X_missing)
    assert not X_missing.flags.writeable and X_missing.flags.c_contiguous
    np.testing.assert_array_equal(X_missing[observed], X[observed])
    np.testing.assert_array_equal(~observed, missing_mask(X.shape, 0.1))


def test_missing_cost_fields_and_consistency():
    r = missing_cost("W2", n_samples=N_SAMPLES, repeat=2, seed=1)
    assert (r["workload"], r["n_samples"], r["n_features"]) == ("W2", N_SAMPLES, 8)
    assert (r["n_components"], r["covariance_type"]) == (16, "full")
    assert (r["fraction"], r["repeat"], r["seed"], r["goal"]) == (0.1, 2, 1, 3.0)
    mask = missing_mask((N_SAMPLES, 8), 0.1, seed=1)
    assert r["missing_fraction"] == pytest.approx(mask.mean())
    assert abs(r["missing_fraction"] - 0.1) < 0.01
    assert r["missing_rows"] == np.count_nonzero(mask.any(axis=1))
    assert 1 < r["n_patterns"] <= r["missing_rows"] + 1
    for key in ("complete_seconds", "missing_seconds", "layout_seconds"):
        assert math.isfinite(r[key]) and r[key] > 0
    assert r["ratio"] == r["missing_seconds"] / r["complete_seconds"]
    # The complete-data iteration starts from run_workload's parameters.
    X, _ = benchmark_data("W2", n_samples=N_SAMPLES, seed=1)
    ll, _ = emfast_iteration(X, initial_parameters(X, 16, "full", seed=1), "full")
    assert r["complete_log_likelihood"] == ll
    # Fewer coordinates per point: a larger mean log-likelihood.
    assert r["complete_log_likelihood"] < r["missing_log_likelihood"] < 0


def test_missing_cost_without_missing_values_matches_complete():
    r = missing_cost("W1", n_samples=500, fraction=0.0, repeat=1)
    assert (r["missing_fraction"], r["missing_rows"], r["n_patterns"]) == (0, 0, 1)
    assert r["missing_log_likelihood"] == pytest.approx(
        r["complete_log_likelihood"], rel=1e-12
    )


def test_format_missing_cost():
    results = run_missing_cost(["W1", "W2"], n_samples=1000, repeat=1)
    assert [r["workload"] for r in results["missing"]] == ["W1", "W2"]
    table = format_missing_cost(results)
    assert "| complete s/iter | missing s/iter | ratio |" in table
    rows = [line for line in table.splitlines() if line.startswith("| W")]
    assert [row.split(" | ")[0] for row in rows] == ["| W1", "| W2"]
    assert "10 % of the values" in table


def test_cli_missing_quick_json(tmp_path, capsys):
    path = tmp_path / "missing.json"
    argv = ["bench", "--missing", "--quick", "--n-samples", str(N_SAMPLES)]
    argv += ["--missing-fraction", "0.2", "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| W2 | 3,000 | 8 | 16 | full |" in out and "s/iter" in out
    saved = json.loads(path.read_text())
    (r,) = saved["missing"]
    assert (r["fraction"], r["repeat"]) == (0.2, 5)
    assert abs(r["missing_fraction"] - 0.2) < 0.01
    assert saved["settings"]["quick"] is True


def test_cli_missing_options(monkeypatch, capsys):
    calls = []

    def record(workloads=None, **kwargs):
        calls.append((workloads, kwargs))
        raise KeyboardInterrupt  # stop before any measurement

    monkeypatch.setattr("emfast.bench.run_missing_cost", record)
    assert main(["bench", "--missing", "--quick", "--repeat", "7"]) == 130
    workloads, kwargs = calls[-1]
    assert workloads is None and kwargs["quick"] and kwargs["n_samples"] is None
    assert (kwargs["fraction"], kwargs["repeat"], kwargs["seed"]) == (0.1, 7, 0)
    assert main(["bench", "--missing", "--workloads", "w1,W3", "--seed", "2"]) == 130
    workloads, kwargs = calls[-1]
    assert workloads == ["W1", "W3"] and not kwargs["quick"] and kwargs["seed"] == 2
    assert main(["bench", "--missing", "--startup"]) == 1
    assert "--startup and --missing are separate runs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--missing", "--missing-fraction", "1"])
