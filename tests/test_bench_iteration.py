"""The iteration timers shared by ``emfast bench`` and ``emfast demo
--compare``, the BayesianGaussianMixture benchmark (``emfast bench
--bayesian``), and the rule that the benchmarks and the command line use
emfast's public API only; on tiny data."""

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.mixture import BayesianGaussianMixture as SkBGM
from threadpoolctl import threadpool_info

from emfast import GaussianMixture
from emfast.bench import (
    REG_COVAR,
    bayesian_start,
    bayesian_workload,
    benchmark_data,
    bound_fractions,
    fit_peak_rss,
    format_bayesian,
    format_results,
    initial_parameters,
    iteration_flops,
    machine_rates,
    memory_read_gbps,
    run,
    run_bayesian,
    sklearn_bayesian_estimator,
    sklearn_estimator,
    sklearn_iteration,
    time_em_step,
    time_sklearn_step,
)
from emfast.cli import main
from emfast.engine import ArraySource, MixtureModel, Params, em_step

ROOT = Path(__file__).resolve().parents[1]
N_SAMPLES = 2000


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def _mixture_case(name="W1", covariance_type=None):
    X, w = benchmark_data(name, n_samples=N_SAMPLES)
    cov = covariance_type or w.covariance_type
    parameters = initial_parameters(X, w.n_components, cov)
    model = MixtureModel(w.n_components, cov, REG_COVAR, "kmeans", X.dtype)
    return X, parameters, model, Params(*parameters)


def test_time_em_step_times_the_same_iteration():
    X, _, model, params = _mixture_case()
    source = ArraySource(X)
    threads_before = _blas_threads()
    timed = time_em_step(model, source, params, repeat=3)
    assert _blas_threads() == threads_before
    assert len(timed.seconds) == 3 and all(t > 0 for t in timed.seconds)
    lower_bound, new_params = timed.last
    expected_bound, expected = em_step(model, source, params)
    assert lower_bound == expected_bound
    assert_allclose(new_params.means, expected.means, rtol=0, atol=0)


def test_time_em_step_without_warm_up_runs_repeat_times():
    X, _, model, params = _mixture_case()
    calls = []

    class CountingSource(ArraySource):
        def e_step(self, components, want_entropy=False):
            calls.append(1)
            return super().e_step(components, want_entropy)

    time_em_step(model, CountingSource(X), params, repeat=2, warm_up=False)
    assert len(calls) == 2
    time_em_step(model, CountingSource(X), params, repeat=2)
    assert len(calls) == 5
    with pytest.raises(ValueError, match="repeat"):
        time_em_step(model, ArraySource(X), params, repeat=0)


def test_time_sklearn_step_uses_a_fresh_estimator_each_time():
    X, parameters, _, _ = _mixture_case()
    made = []

    def new_estimator():
        made.append(sklearn_estimator(parameters, "full"))
        return made[-1]

    timed = time_sklearn_step(new_estimator, X, repeat=3)
    assert len(made) == 3 and len(set(map(id, made))) == 3
    assert len(timed.seconds) == 3 and all(t > 0 for t in timed.seconds)
    lower_bound, sk = timed.last
    assert sk is made[-1]
    # One iteration of each, from the same parameters: the same result.
    assert_allclose(made[0].means_, made[-1].means_, rtol=0, atol=0)
    ours, params = em_step(*_mixture_case()[2:3], ArraySource(X), Params(*parameters))
    assert math.isclose(lower_bound, ours, rel_tol=1e-12)
    assert_allclose(sk.means_, params.means, rtol=1e-10)
    with pytest.raises(ValueError, match="repeat"):
        time_sklearn_step(new_estimator, X, repeat=0)


def test_sklearn_iteration_returns_the_fit_loops_lower_bound():
    X, parameters, _, _ = _mixture_case()
    sk = sklearn_estimator(parameters, "full")
    log_prob_norm, _ = sklearn_estimator(parameters, "full")._e_step(X)
    assert sklearn_iteration(sk, X) == pytest.approx(log_prob_norm, rel=1e-15)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_bayesian_start_is_sklearns_start_from_the_same_responsibilities(
    covariance_type,
):
    """sklearn's default priors on X and its ``_initialize`` from the
    responsibilities of the initial mixture give the same model and start."""
    X, w = benchmark_data("W1", n_samples=N_SAMPLES)
    k = w.n_components
    model, params = bayesian_start(X, k, covariance_type)
    sk = SkBGM(n_components=k, covariance_type=covariance_type, reg_covar=REG_COVAR)
    sk._check_parameters(X)
    gm = sklearn_estimator(initial_parameters(X, k, covariance_type), covariance_type)
    _, log_resp = gm._e_step(X)
    sk._initialize(X, np.exp(log_resp))
    priors = model.priors
    assert priors.weight_concentration_prior == sk.weight_concentration_prior_
    assert priors.degrees_of_freedom_prior == sk.degrees_of_freedom_prior_
    assert_allclose(priors.mean_prior, sk.mean_prior_, rtol=1e-12)
    assert_allclose(priors.covariance_prior, sk.covariance_prior_, rtol=1e-12)
    for ours, theirs in zip(params.weight_concentration, sk.weight_concentration_):
        assert_allclose(ours, theirs, rtol=1e-10)
    for name in ("mean_precision", "means", "degrees_of_freedom", "covariances"):
        assert_allclose(
            getattr(params, name), getattr(sk, name + "_"), rtol=1e-10, err_msg=name
        )


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_sklearn_bayesian_estimator_iterates_as_emfast(covariance_type):
    X, w = benchmark_data("W2", n_samples=N_SAMPLES)
    model, params = bayesian_start(X, w.n_components, covariance_type)
    sk = sklearn_bayesian_estimator(model, params)
    theirs = [sklearn_iteration(sk, X) for _ in range(3)]
    ours, source, current = [], ArraySource(X), params
    for _ in range(3):
        lower_bound, current = em_step(model, source, current)
        ours.append(lower_bound)
    assert_allclose(ours, theirs, rtol=1e-10)
    assert_allclose(current.means, sk.means_, rtol=1e-9)
    # The estimator holds copies: the start is unchanged.
    again = sklearn_bayesian_estimator(model, params)
    assert_allclose(again.means_, params.means, rtol=0, atol=0)


def test_bayesian_workload_fields_and_agreement():
    r = bayesian_workload("W2", n_samples=N_SAMPLES, repeat=2, memory=False)
    assert (r["workload"], r["n_samples"], r["n_features"]) == ("W2", N_SAMPLES, 8)
    assert (r["n_components"], r["covariance_type"]) == (16, "full")
    assert r["data_bytes"] == N_SAMPLES * 8 * 8 and r["repeat"] == 2
    for key in ("emfast_seconds", "sklearn_seconds", "speedup"):
        assert math.isfinite(r[key]) and r[key] > 0
    assert r["speedup"] == r["sklearn_seconds"] / r["emfast_seconds"]
    assert r["goal"] == 20.0
    assert r["means_rel_diff"] < 1e-10 and r["lower_bound_rel_diff"] < 1e-10
    assert r["emfast_memory"] is None and r["sklearn_memory"] is None
    assert r["flops"] == iteration_flops(N_SAMPLES, 8, 16, "full")
    assert r["emfast_gflops"] == r["flops"] / r["emfast_seconds"] / 1e9
    assert r["matmul_fraction"] is None and r["memory_fraction"] is None


def test_memory_read_rate_is_a_rate_and_bounds_use_it():
    assert memory_read_gbps(n_bytes=16 * 2**20, repeat=2) > 0
    rates = {"matmul_gflops": 50.0, "memory_gbps": 10.0}
    f = bound_fractions(2e9, 1e9, 0.5, rates)
    assert f == {
        "emfast_gflops": 4.0,
        "matmul_fraction": 0.08,
        "memory_floor_seconds": 0.1,
        "memory_fraction": 0.2,
    }
    f = bound_fractions(2e9, 1e9, 0.5)
    assert f["emfast_gflops"] == 4.0 and f["matmul_fraction"] is None
    assert f["memory_floor_seconds"] is None and f["memory_fraction"] is None


def test_run_reports_the_matmul_and_memory_fractions():
    results = run(["W1"], n_samples=N_SAMPLES, repeat=1, memory=False, matmul_size=300)
    m = results["machine"]
    assert set(machine_rates(matmul_size=300)) <= set(m)
    (r,) = results["workloads"]
    assert r["memory_floor_seconds"] == N_SAMPLES * 2 * 8 / (m["memory_gbps"] * 1e9)
    assert r["memory_fraction"] == r["memory_floor_seconds"] / r["emfast_seconds"]
    assert r["matmul_fraction"] == r["emfast_gflops"] / m["matmul_gflops"]
    text = format_results(results)
    assert "| emfast GFLOP/s | of matmul | of memory floor |" in text
    assert f"{r['memory_fraction']:.0%} |" in text


def test_bayesian_workload_without_sklearn():
    r = bayesian_workload(
        "W1", n_samples=N_SAMPLES, repeat=1, sklearn=False, memory=False
    )
    assert r["emfast_seconds"] > 0 and math.isfinite(r["emfast_lower_bound"])
    for key in ("sklearn_seconds", "speedup", "means_rel_diff", "lower_bound_rel_diff"):
        assert r[key] is None
    table = format_bayesian(
        {
            "bayesian": [r],
            "machine": _machine(),
            "settings": {"repeat": 1, "quick": False, "n_samples": N_SAMPLES},
            "seconds": 1.0,
        }
    )
    assert "| W1 | 2,000 | 2 | 4 | full |" in table and "≥ 20×" in table


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


def test_bayesian_fit_peak_rss_within_the_limit():
    X, w = benchmark_data("W2", n_samples=5000)
    m = fit_peak_rss(
        X, w.n_components, w.covariance_type, estimator="BayesianGaussianMixture"
    )
    assert m["within"] and m["data_bytes"] == X.nbytes
    assert m["n_iter"] >= 1 and math.isfinite(m["lower_bound"])
    with pytest.raises(ValueError, match="Unknown estimator"):
        fit_peak_rss(X, 2, "full", estimator="KMeans")


def test_run_bayesian_defaults_to_w2_and_formats_memory():
    results = run_bayesian(n_samples=N_SAMPLES, repeat=1)
    (r,) = results["bayesian"]
    assert r["workload"] == "W2"
    assert r["emfast_memory"]["within"]
    assert r["sklearn_memory"]["increase"] > 0
    text = format_bayesian(results)
    assert "Peak RSS of a BayesianGaussianMixture fit" in text
    assert "| W2 | 0.1 |" in text  # MiB of data
    m = results["machine"]
    assert f"memory read {m['memory_gbps']:.1f} GB/s" in text.splitlines()[0]
    assert r["matmul_fraction"] == r["emfast_gflops"] / m["matmul_gflops"]
    assert r["memory_fraction"] == r["memory_floor_seconds"] / r["emfast_seconds"]


def test_cli_bench_bayesian_json(tmp_path, capsys):
    path = tmp_path / "bgm.json"
    argv = ["bench", "--bayesian", "--n-samples", str(N_SAMPLES), "--repeat", "1"]
    assert main([*argv, "--no-memory", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "BayesianGaussianMixture" in out and "| W2 | 2,000 | 8 | 16 |" in out
    saved = json.loads(path.read_text())
    assert [r["workload"] for r in saved["bayesian"]] == ["W2"]
    assert "workloads" not in saved


def test_cli_bench_bayesian_is_a_separate_run(capsys):
    assert main(["bench", "--bayesian", "--missing"]) == 1
    assert "--bayesian and --missing" in capsys.readouterr().err


def test_cli_demo_compare_times_one_iteration_of_each(capsys):
    assert main(["demo", "--n-samples", "3000", "--compare"]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("one EM iteration (s)"))
    ours, theirs = (float(v) for v in line.split()[-2:])
    assert ours > 0 and theirs > 0


def _emfast_imports(path: Path, package: str) -> list[tuple[str, str | None]]:
    """(module, name) of each emfast import of a file: name None for
    ``import module``; relative imports resolved against ``package``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{module}" if module else base
            found += [(module, a.name) for a in node.names]
    return [(m, n) for m, n in found if m == "emfast" or m.startswith("emfast.")]


PUBLIC_MODULES = ("emfast", "emfast.engine", "emfast.workloads", "emfast.bench")


def _is_public(module: str, name: str | None) -> bool:
    import emfast

    if module == "emfast" and name is not None:
        # "from emfast import x": x is in emfast's API or a public module.
        return name in emfast.__all__ or f"emfast.{name}" in PUBLIC_MODULES
    return module in PUBLIC_MODULES and not (name or "").startswith("_")


@pytest.mark.parametrize(
    "relative",
    [
        *(
            f"emfast/bench/{p.name}"
            for p in sorted((ROOT / "emfast/bench").glob("*.py"))
        ),
        *(
            f"benchmarks/benchmarks/{p.name}"
            for p in sorted((ROOT / "benchmarks/benchmarks").glob("*.py"))
        ),
        "emfast/cli.py",
    ],
)
def test_benchmarks_and_cli_use_the_public_api(relative):
    path = ROOT / relative
    package = {
        "emfast/bench": "emfast.bench",
        "emfast/cli.py": "emfast",
        "benchmarks/benchmarks": "benchmarks",
    }
    package = next((v for k, v in package.items() if relative.startswith(k)), None)
    imports = _emfast_imports(path, package)
    if relative.startswith("emfast/bench/"):
        # The bench package's own modules.
        imports = [
            (m, n)
            for m, n in imports
            if not (m.startswith("emfast.bench.") or m == "emfast.bench")
        ]
    if relative == "emfast/cli.py":
        # The command line's own subcommands.
        own = {("emfast", "_commands"), ("emfast._commands", "int_at_least")}
        imports = [x for x in imports if x not in own]
    assert [(m, n) for m, n in imports if not _is_public(m, n)] == []


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_model_for_and_fitted_params_continue_the_fit():
    """One em_step from a fitted estimator's model and parameters is the
    iteration a warm-started fit of the estimator runs next."""
    from emfast.engine import fitted_params, model_for, source_for

    X, _, _, _ = _mixture_case()
    gm = GaussianMixture(4, max_iter=2, tol=0, random_state=0).fit(X)
    params = fitted_params(gm)
    assert_allclose(params.means, gm.means_, rtol=0, atol=0)
    source = source_for(X)
    lower_bound, new_params = em_step(model_for(gm, source), source, params)
    gm.set_params(warm_start=True, max_iter=1).fit(X)
    assert lower_bound == pytest.approx(gm.lower_bound_, rel=1e-14)
    assert_allclose(new_params.means, gm.means_, rtol=1e-14)
