"""The GaussianHMM benchmark (``emfast bench --hmm``) and the HMM workloads
H1-H3, on tiny sizes: the workloads' definitions, that both libraries'
iterations start from the same parameters and reach the same ones (which
makes the comparison honest), the result dicts, the report and the command
line."""

import json
import math
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from emfast.bench import (
    HMM_IMPLEMENTATIONS,
    HMM_QUICK_SAMPLE_N,
    HMM_SPEEDUP_GOALS,
    emfast_hmm,
    fit_peak_rss,
    format_hmm,
    hmm_benchmark_data,
    hmm_em_case,
    hmm_iteration_flops,
    hmm_params_rel_diff,
    hmm_quick_n_samples,
    hmm_start,
    hmm_workload,
    hmmlearn_hmm,
    run_hmm,
    time_hmmlearn_step,
)
from emfast.cli import main
from emfast.engine import em_step
from emfast.workloads import (
    HMM_STICKINESS,
    HMM_WORKLOADS,
    hmm_sizes,
    make_hmm_workload,
    random_hmm,
)

N_STEPS = 300

RESULT_KEYS = {
    "workload",
    "n_sequences",
    "sequence_length",
    "n_samples",
    "n_features",
    "n_components",
    "covariance_type",
    "data_bytes",
    "repeat",
    "goal",
    "iterations",
    "viterbi",
    "sample",
    "emfast_memory",
    "hmmlearn_memory",
}
ITERATION_KEYS = {
    "implementation",
    "emfast_seconds",
    "hmmlearn_seconds",
    "speedup",
    "speedup_vs_scaling",
    "emfast_log_likelihood",
    "hmmlearn_log_likelihood",
    "log_likelihood_rel_diff",
    "params_rel_diff",
    "flops",
    "emfast_gflops",
    "matmul_fraction",
    "memory_floor_seconds",
    "memory_fraction",
}
# What an iteration row has without hmmlearn and without the machine's rates.
EMFAST_ONLY_KEYS = {
    "implementation",
    "emfast_seconds",
    "emfast_log_likelihood",
    "flops",
    "emfast_gflops",
}
VITERBI_KEYS = {
    "emfast_seconds",
    "hmmlearn_seconds",
    "speedup",
    "goal",
    "log_prob_rel_diff",
    "states_equal",
}
SAMPLE_KEYS = {
    "n_samples",
    "emfast_seconds",
    "hmmlearn_seconds",
    "hmmlearn_repeat",
    "speedup",
    "goal",
}


def test_hmm_workloads_are_design_mds():
    shapes = {
        name: (w.n_sequences, w.sequence_length, w.n_features, w.n_components)
        for name, w in HMM_WORKLOADS.items()
    }
    assert shapes == {
        "H1": (100, 10_000, 8, 16),
        "H2": (1, 1_000_000, 2, 4),
        "H3": (10_000, 100, 4, 8),
    }
    covariance = {name: w.covariance_type for name, w in HMM_WORKLOADS.items()}
    assert covariance == {"H1": "full", "H2": "full", "H3": "diag"}
    assert {w.n_samples for w in HMM_WORKLOADS.values()} == {1_000_000}


def test_hmm_sizes_cut_whole_sequences_or_one_shorter():
    assert hmm_sizes("H1") == (100, 10_000)
    assert hmm_sizes("H1", 25_000) == (2, 10_000)
    assert hmm_sizes("H1", 300) == (1, 300)
    assert hmm_sizes("H2", 1234) == (1, 1234)
    assert hmm_sizes("H3", 350) == (3, 100)
    assert hmm_sizes("H3", 50) == (1, 50)
    with pytest.raises(ValueError, match="at least 1"):
        hmm_sizes("H1", 0)
    with pytest.raises(ValueError, match="Unknown HMM workload"):
        hmm_sizes("W2")


def test_hmm_quick_sizes_divide_by_ten():
    quick = {name: hmm_sizes(name, hmm_quick_n_samples(name)) for name in HMM_WORKLOADS}
    assert quick == {"H1": (10, 10_000), "H2": (1, 100_000), "H3": (1000, 100)}


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_random_hmm_is_a_valid_sticky_model(covariance_type):
    p = random_hmm(3, 5, covariance_type, seed=4)
    assert_allclose(p.startprob.sum(), 1.0)
    assert_allclose(p.transmat.sum(axis=1), np.ones(5))
    assert np.all(np.diag(p.transmat) >= HMM_STICKINESS)
    assert np.all(np.abs(p.means) <= 10.0)
    shapes = {"full": (5, 3, 3), "diag": (5, 3), "spherical": (5,), "tied": (3, 3)}
    assert p.covars.shape == shapes[covariance_type]
    if covariance_type in ("full", "tied"):
        assert np.all(np.linalg.eigvalsh(p.covars) > 0)
    else:
        assert np.all(p.covars > 0)
    again = random_hmm(3, 5, covariance_type, seed=4)
    for ours, theirs in zip(p, again):
        assert_allclose(ours, theirs, rtol=0, atol=0)
    with pytest.raises(ValueError, match="covariance_type"):
        random_hmm(3, 5, "banded")


def test_make_hmm_workload_is_reproducible_and_follows_its_model():
    X, lengths, w = make_hmm_workload("H3", n_samples=2000, seed=3)
    assert X.shape == (2000, 4) and X.dtype == np.float64
    assert lengths.tolist() == [100] * 20 and w is HMM_WORKLOADS["H3"]
    again, _, _ = make_hmm_workload("H3", n_samples=2000, seed=3)
    assert_allclose(X, again, rtol=0, atol=0)
    other, _, _ = make_hmm_workload("H3", n_samples=2000, seed=4)
    assert not np.allclose(X, other)
    # Every step is near one of the model's means (variances at most 2).
    truth = random_hmm(4, 8, "diag", seed=3)
    nearest = np.min(np.linalg.norm(X[:, None, :] - truth.means[None], axis=2), axis=1)
    assert np.median(nearest) < 3.0


def test_hmm_benchmark_data_is_read_only_and_contiguous():
    X, lengths, w = hmm_benchmark_data("H1", n_samples=N_STEPS)
    assert X.shape == (N_STEPS, 8) and not X.flags.writeable
    assert X.flags.c_contiguous and lengths.tolist() == [N_STEPS]
    assert w.name == "H1"


def test_hmm_start_is_a_fixed_valid_perturbation_of_the_truth():
    for name, w in HMM_WORKLOADS.items():
        start = hmm_start(name)
        truth = random_hmm(w.n_features, w.n_components, w.covariance_type)
        assert_allclose(start.transmat.sum(axis=1), np.ones(w.n_components))
        assert_allclose(start.startprob.sum(), 1.0)
        assert not np.allclose(start.means, truth.means)
        assert_allclose(start.covars, 1.5 * truth.covars)
        again = hmm_start(name)
        assert_allclose(start.means, again.means, rtol=0, atol=0)
    assert not np.allclose(hmm_start("H2", seed=1).means, hmm_start("H2").means)


@pytest.mark.parametrize("implementation", HMM_IMPLEMENTATIONS)
def test_both_libraries_start_from_the_same_parameters(implementation):
    start = hmm_start("H1")
    ours = emfast_hmm(start, "full", implementation)
    theirs = hmmlearn_hmm(start, "full", implementation)
    assert ours.implementation == theirs.implementation == implementation
    assert ours.init_params == theirs.init_params == ""
    assert theirs.n_iter == 1
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=0, atol=0)
    assert ours.n_features == theirs.n_features == 8
    # Copies: iterating one leaves the start alone.
    X, lengths, _ = hmm_benchmark_data("H1", n_samples=N_STEPS)
    theirs.fit(X, lengths)
    assert_allclose(hmm_start("H1").means, start.means, rtol=0, atol=0)
    assert_allclose(ours.means_, start.means, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(HMM_WORKLOADS))
@pytest.mark.parametrize("implementation", HMM_IMPLEMENTATIONS)
def test_one_iteration_of_each_library_gives_the_same_parameters(name, implementation):
    """What the benchmark times is the same Baum–Welch iteration: from the
    same start, emfast's em_step and hmmlearn's fit(n_iter=1) reach the
    same parameters and log-likelihood."""
    X, lengths, w = hmm_benchmark_data(name, n_samples=N_STEPS)
    start = hmm_start(name)
    cov = w.covariance_type
    log_likelihood, params = em_step(
        *hmm_em_case(emfast_hmm(start, cov, implementation), X, lengths)
    )
    theirs = hmmlearn_hmm(start, cov, implementation).fit(X, lengths)
    assert theirs.monitor_.iter == 1
    assert math.isclose(
        log_likelihood, theirs.monitor_.history[-1], rel_tol=1e-10, abs_tol=0
    )
    assert_allclose(params.startprob, theirs.startprob_, rtol=1e-6, atol=1e-12)
    assert_allclose(params.transmat, theirs.transmat_, rtol=1e-6, atol=1e-12)
    assert_allclose(params.means, theirs.means_, rtol=1e-6)
    assert_allclose(params.covars, theirs._covars_, rtol=1e-6)
    assert hmm_params_rel_diff(params, theirs) < 1e-6
    # And the iteration moved the parameters: the comparison is not void.
    assert not np.allclose(params.means, start.means)


def test_hmm_params_rel_diff_sees_a_difference():
    X, lengths, _ = hmm_benchmark_data("H3", n_samples=N_STEPS)
    start = hmm_start("H3")
    _, params = em_step(*hmm_em_case(emfast_hmm(start, "diag"), X, lengths))
    theirs = hmmlearn_hmm(start, "diag", "log").fit(X, lengths)
    theirs.means_ = theirs.means_ * (1 + 1e-3)
    assert hmm_params_rel_diff(params, theirs) == pytest.approx(1e-3, rel=1e-2)


def test_time_hmmlearn_step_uses_a_fresh_estimator_each_time():
    X, lengths, _ = hmm_benchmark_data("H3", n_samples=N_STEPS)
    start = hmm_start("H3")
    made = []

    def new_estimator():
        made.append(hmmlearn_hmm(start, "diag"))
        return made[-1]

    timed = time_hmmlearn_step(new_estimator, X, lengths, repeat=3)
    assert len(made) == 4 and len(set(map(id, made))) == 4  # warm-up + 3
    assert made[0].monitor_.history[-1] != made[-1].monitor_.history[-1]
    assert len(timed.seconds) == 3 and all(t > 0 for t in timed.seconds)
    log_likelihood, model = timed.last
    assert model is made[-1] and model.monitor_.iter == 1
    assert log_likelihood == model.monitor_.history[-1]
    assert_allclose(made[1].means_, made[-1].means_, rtol=0, atol=0)
    made.clear()
    time_hmmlearn_step(new_estimator, X, lengths, repeat=2, warm_up=False)
    assert len(made) == 2
    with pytest.raises(ValueError, match="repeat"):
        time_hmmlearn_step(new_estimator, X, lengths, repeat=0)


def test_hmm_workload_fields_and_agreement():
    r = hmm_workload("H2", n_samples=N_STEPS, repeat=2, memory=False, sample_n=500)
    assert set(r) == RESULT_KEYS
    assert (r["n_sequences"], r["sequence_length"], r["n_samples"]) == (1, 300, 300)
    assert (r["n_features"], r["n_components"], r["covariance_type"]) == (2, 4, "full")
    assert r["data_bytes"] == N_STEPS * 2 * 8 and r["repeat"] == 2
    assert r["goal"] == HMM_SPEEDUP_GOALS["H2"] == 10.0
    rows = r["iterations"]
    assert [row["implementation"] for row in rows] == ["scaling", "log"]
    scaling = rows[0]["hmmlearn_seconds"]
    for row in rows:
        assert set(row) == ITERATION_KEYS
        assert row["emfast_seconds"] > 0 and row["hmmlearn_seconds"] > 0
        assert row["speedup"] == row["hmmlearn_seconds"] / row["emfast_seconds"]
        assert row["speedup_vs_scaling"] == scaling / row["emfast_seconds"]
        assert row["params_rel_diff"] < 1e-6
        assert row["log_likelihood_rel_diff"] < 1e-10
        assert row["flops"] == hmm_iteration_flops(N_STEPS, 2, 4, "full")
        assert row["emfast_gflops"] == row["flops"] / row["emfast_seconds"] / 1e9
        # No machine rates given: no fractions.
        assert row["matmul_fraction"] is None and row["memory_fraction"] is None
    v = r["viterbi"]
    assert set(v) == VITERBI_KEYS and v["goal"] == 10.0
    assert v["states_equal"] == 1.0 and v["log_prob_rel_diff"] < 1e-10
    assert v["speedup"] == v["hmmlearn_seconds"] / v["emfast_seconds"]
    s = r["sample"]
    assert set(s) == SAMPLE_KEYS and s["n_samples"] == 500 and s["goal"] == 100.0
    assert s["hmmlearn_repeat"] == 1 and s["speedup"] > 0
    assert r["emfast_memory"] is None and r["hmmlearn_memory"] is None
    json.dumps(r)


def test_hmm_iteration_flops_adds_the_recursions_to_the_mixture_count():
    from emfast.bench import iteration_flops

    for cov in ("full", "diag"):
        mixture = iteration_flops(1000, 3, 5, cov)
        assert hmm_iteration_flops(1000, 3, 5, cov) == mixture + 6 * 1000 * 25


def test_hmm_workload_without_hmmlearn():
    r = hmm_workload("H3", n_samples=N_STEPS, repeat=1, hmmlearn=False, memory=False)
    assert r["sample"] is None  # only H2's model is sampled
    for row in r["iterations"]:
        assert row["emfast_seconds"] > 0 and math.isfinite(row["emfast_log_likelihood"])
        for key in ITERATION_KEYS - EMFAST_ONLY_KEYS:
            assert row[key] is None, key
    assert r["viterbi"]["hmmlearn_seconds"] is None
    results = {
        "hmm": [r],
        "machine": {**_machine(), "hmmlearn": None},
        "settings": {"repeat": 1, "quick": False, "n_samples": N_STEPS},
        "seconds": 1.0,
    }
    text = format_hmm(results)
    assert "| H3 | 3 × 100 | 4 | 8 | diag | scaling |" in text
    assert re.search(r"\| - \| - \| - \| ≥ 30× \| [0-9.]+ \| - \| - \| - \|", text)
    assert "hmmlearn 0" not in text and "memory read" not in text


def _machine():
    return {
        "cpu": "x86",
        "n_cpus": 2,
        "numba_threads": 2,
        "python": "3",
        "numpy": "2",
        "numba": "0",
        "scikit-learn": "1",
    }


def test_format_hmm_goal_cells():
    row = {
        "implementation": "scaling",
        "emfast_seconds": 0.01,
        "hmmlearn_seconds": 0.5,
        "speedup": 50.0,
        "speedup_vs_scaling": 50.0,
        "params_rel_diff": 1e-14,
        "emfast_gflops": 12.5,
        "matmul_fraction": 0.25,
        "memory_fraction": 0.031,
    }
    slow = {**row, "implementation": "log", "speedup": 12.0}
    slow["speedup_vs_scaling"] = 20.0
    r = {
        "workload": "H1",
        "n_sequences": 100,
        "sequence_length": 10_000,
        "n_features": 8,
        "n_components": 16,
        "covariance_type": "full",
        "goal": 30.0,
        "iterations": [row, slow],
        "viterbi": {
            "emfast_seconds": 0.1,
            "hmmlearn_seconds": 0.5,
            "speedup": 5.0,
            "goal": 10.0,
            "states_equal": 1.0,
        },
        "sample": None,
        "emfast_memory": None,
    }
    results = {
        "hmm": [r],
        "machine": {**_machine(), "hmmlearn": "0.3.3"},
        "settings": {"repeat": 3, "quick": True, "n_samples": None},
        "seconds": 12.0,
    }
    text = format_hmm(results)
    lines = text.splitlines()
    assert lines[0].endswith("hmmlearn 0.3.3") and "(--quick sizes)" in lines[1]
    assert "| H1 | 100 × 10,000 | 8 | 16 | full | scaling | 0.0100 | 0.5000 |" in text
    assert "| 50.0× | 50.0× | met ≥ 30× | 12.50 | 25% | 3% | 1e-14 |" in text
    assert "| 12.0× | 20.0× | MISSED ≥ 30× |" in text
    assert "| 5.0× | MISSED ≥ 10× | 100.00% |" in text
    assert "sample(n)" not in text and "Peak RSS" not in text
    assert lines[-1] == "Total wall time: 12 s"


def test_fit_peak_rss_of_a_gaussian_hmm():
    X, lengths, _ = hmm_benchmark_data("H3", n_samples=2000)
    m = fit_peak_rss(X, 8, "diag", "emfast", 5, "GaussianHMM", lengths)
    assert m["within"] and m["data_bytes"] == X.nbytes
    assert 1 <= m["n_iter"] <= 5 and math.isfinite(m["lower_bound"])
    theirs = fit_peak_rss(X, 8, "diag", "hmmlearn", 1, "GaussianHMM", lengths)
    assert theirs["n_iter"] == 1 and theirs["increase"] > 0
    with pytest.raises(ValueError, match="Unknown library"):
        fit_peak_rss(X, 8, "diag", "sklearn", estimator="GaussianHMM")
    with pytest.raises(ValueError, match="Unknown library"):
        fit_peak_rss(X, 8, "diag", "hmmlearn", estimator="GaussianMixture")
    with pytest.raises(ValueError, match="lengths goes with"):
        fit_peak_rss(X, 8, "diag", lengths=lengths)


def test_run_hmm_measures_memory_and_formats_it():
    results = run_hmm(["H3"], n_samples=N_STEPS, repeat=1)
    (r,) = results["hmm"]
    assert r["emfast_memory"]["within"] and r["hmmlearn_memory"]["increase"] > 0
    assert results["machine"]["hmmlearn"] == "0.3.3"
    assert results["settings"]["fit_n_iter"] == 10
    text = format_hmm(results)
    assert "Peak RSS of a GaussianHMM fit(X, lengths)" in text
    assert "| hmmlearn fit (MiB) | hmmlearn / data |" in text
    assert "| H3 | 0.0 |" in text  # MiB of data
    m = results["machine"]
    assert m["matmul_gflops"] > 0 and m["memory_gbps"] > 0
    assert f"memory read {m['memory_gbps']:.1f} GB/s" in text.splitlines()[0]
    assert "| of matmul | of memory floor |" in text
    for row in r["iterations"]:
        floor = r["data_bytes"] / (m["memory_gbps"] * 1e9)
        assert row["memory_floor_seconds"] == floor
        assert row["memory_fraction"] == floor / row["emfast_seconds"]
        assert row["matmul_fraction"] == row["emfast_gflops"] / m["matmul_gflops"]


def test_run_hmm_sizes(monkeypatch):
    import emfast.bench._hmm as module

    calls = []

    def fake(name, **kwargs):
        calls.append((name, kwargs["n_samples"], kwargs["sample_n"]))
        return {"workload": name}

    monkeypatch.setattr(module, "hmm_workload", fake)
    results = run_hmm(quick=True)
    assert [r["workload"] for r in results["hmm"]] == ["H1", "H2", "H3"]
    assert calls == [
        ("H1", 100_000, HMM_QUICK_SAMPLE_N),
        ("H2", 100_000, HMM_QUICK_SAMPLE_N),
        ("H3", 100_000, HMM_QUICK_SAMPLE_N),
    ]
    calls.clear()
    run_hmm(["H2"], quick=True, n_samples=500)
    assert calls == [("H2", 500, 500)]
    calls.clear()
    run_hmm(["H1"])
    assert calls == [("H1", None, None)]
    with pytest.raises(ValueError, match="Unknown HMM workload"):
        run_hmm(["W2"])


def test_cli_bench_hmm_json(tmp_path, capsys):
    path = tmp_path / "hmm.json"
    argv = ["bench", "--hmm", "--workloads", "h2,H3", "--n-samples", str(N_STEPS)]
    assert main([*argv, "--repeat", "1", "--no-memory", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "GaussianHMM: one Baum–Welch iteration" in out
    assert "| H2 | 1 × 300 | 2 | 4 | full | log |" in out
    assert "| H3 | 3 × 100 | 4 | 8 | diag | scaling |" in out
    saved = json.loads(path.read_text())
    assert set(saved) == {"machine", "settings", "hmm", "seconds"}
    assert [r["workload"] for r in saved["hmm"]] == ["H2", "H3"]
    assert saved["settings"]["n_samples"] == N_STEPS
    assert set(saved["hmm"][0]) == RESULT_KEYS
    assert saved["hmm"][0]["sample"]["n_samples"] == N_STEPS


def test_cli_bench_hmm_no_sklearn_skips_hmmlearn(capsys):
    argv = ["bench", "--hmm", "--workloads", "H3", "--n-samples", "200"]
    assert main([*argv, "--repeat", "1", "--no-memory", "--no-sklearn"]) == 0
    out = capsys.readouterr().out
    assert (
        "| H3 | 2 × 100 | 4 | 8 | diag | scaling |" in out and "hmmlearn 0" not in out
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hmm", "--workloads", "W2"], "--hmm runs H1,H2,H3; got W2"),
        (["--workloads", "H1,W2"], "H1,H2,H3 go with --hmm; got H1"),
        (["--hmm", "--bayesian"], "--bayesian and --hmm are separate runs"),
    ],
)
def test_cli_bench_hmm_rejects(argv, message, capsys):
    assert main(["bench", *argv]) == 1
    assert message in capsys.readouterr().err


def test_cli_bench_unknown_workload_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--hmm", "--workloads", "H4"])
    assert exc.value.code == 2
    assert "W1,W2,W3,W4,W5,W6,H1,H2,H3" in capsys.readouterr().err
