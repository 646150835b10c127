"""The end-to-end benchmark (``emfast bench --end-to-end``) on tiny data."""

import json
import math

from emfast.bench import end_to_end, format_end_to_end, run_end_to_end
from emfast.cli import main

N_SAMPLES = 2000

RUN_KEYS = {
    "seed",
    "emfast_seconds",
    "sklearn_seconds",
    "ratio",
    "emfast_n_iter",
    "sklearn_n_iter",
    "emfast_converged",
    "sklearn_converged",
    "emfast_lower_bound",
    "sklearn_lower_bound",
    "emfast_log_likelihood",
    "sklearn_log_likelihood",
    "emfast_at_least_sklearn",
}


def test_end_to_end_structure():
    r = end_to_end("W2", n_samples=N_SAMPLES, seeds=[0, 1])
    assert (r["workload"], r["n_samples"], r["n_features"]) == ("W2", N_SAMPLES, 8)
    assert (r["n_components"], r["covariance_type"]) == (16, "full")
    assert [run["seed"] for run in r["runs"]] == [0, 1]
    for run in r["runs"]:
        assert set(run) == RUN_KEYS
        for key in ("emfast_seconds", "sklearn_seconds", "ratio"):
            assert math.isfinite(run[key]) and run[key] > 0
        for key in ("emfast_log_likelihood", "emfast_lower_bound"):
            assert math.isfinite(run[key])
        assert run["emfast_n_iter"] >= 1 and run["sklearn_n_iter"] >= 1
        ours, theirs = run["emfast_log_likelihood"], run["sklearn_log_likelihood"]
        assert run["emfast_at_least_sklearn"] == (ours >= theirs - 1e-6 * abs(theirs))
    assert math.isfinite(r["median_ratio"])
    assert r["all_at_least_sklearn"] == all(
        run["emfast_at_least_sklearn"] for run in r["runs"]
    )
    table = format_end_to_end({"end_to_end": [r]})
    assert "| seed | emfast s | sklearn s | ratio |" in table
    assert len([line for line in table.splitlines() if line.startswith("| 0 ")]) == 1


def test_run_end_to_end_defaults_to_w2():
    results = run_end_to_end(n_samples=N_SAMPLES)
    assert [r["workload"] for r in results["end_to_end"]] == ["W2"]
    assert [run["seed"] for run in results["end_to_end"][0]["runs"]] == [0]
    assert results["settings"]["n_seeds"] == 1


def test_cli_end_to_end_json(tmp_path, capsys):
    path = tmp_path / "e2e.json"
    argv = ["bench", "--end-to-end", "--workloads", "W2", "--e2e-seeds", "2"]
    argv += ["--n-samples", str(N_SAMPLES), "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "emfast >= sklearn" in out and "s/iter" not in out
    saved = json.loads(path.read_text())
    assert [run["seed"] for run in saved["end_to_end"][0]["runs"]] == [0, 1]
    assert "workloads" not in saved


def test_cli_end_to_end_rejects_startup(capsys):
    assert main(["bench", "--end-to-end", "--startup"]) == 1
    assert "--end-to-end" in capsys.readouterr().err
