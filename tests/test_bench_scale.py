"""The scale benchmarks (``emfast bench --memmap`` and ``--dask``) on tiny
data. The LocalCluster path itself is tested in test_dask.py; here only its
argument checks."""

import json
import math
import os

import numpy as np
import pytest

import emfast.workloads
from emfast import GaussianMixture
from emfast.bench import (
    DASK_RATIO_GOAL,
    MEMMAP_GROWTH_GOAL,
    benchmark_data,
    dask_overhead,
    emfast_iteration,
    format_dask_overhead,
    format_memmap_rss,
    initial_parameters,
    memmap_rss,
    run_dask_overhead,
    run_memmap_rss,
)
from emfast.cli import main
from emfast.workloads import blob_chunks, save_blobs

MEMMAP_N_SAMPLES = 200_000
DASK_N_SAMPLES = 4000


def test_blob_chunks_are_seeded_and_do_not_depend_on_length(monkeypatch):
    monkeypatch.setattr(emfast.workloads, "BLOB_CHUNK_ROWS", 700)
    chunks = list(blob_chunks(2000, 3, 4, seed=5))
    assert [len(c) for c in chunks] == [700, 700, 600]
    X = np.concatenate(chunks)
    assert X.dtype == np.float64 and np.isfinite(X).all()
    np.testing.assert_array_equal(
        X, np.concatenate(list(blob_chunks(2000, 3, 4, seed=5)))
    )
    np.testing.assert_array_equal(
        X[:1000], np.concatenate(list(blob_chunks(1000, 3, 4, seed=5)))
    )
    assert not np.array_equal(X, np.concatenate(list(blob_chunks(2000, 3, 4, seed=6))))


def test_save_blobs_writes_an_npy_file(tmp_path, monkeypatch):
    monkeypatch.setattr(emfast.workloads, "BLOB_CHUNK_ROWS", 300)
    path = tmp_path / "X.npy"
    size = save_blobs(path, 1000, 2, 3, seed=1)
    assert size == os.path.getsize(path) == 128 + 1000 * 2 * 8
    X = np.load(path)
    assert X.shape == (1000, 2) and X.dtype == np.float64
    np.testing.assert_array_equal(
        X, np.concatenate(list(blob_chunks(1000, 2, 3, seed=1)))
    )


@pytest.fixture(scope="module")
def memmap_case(tmp_path_factory):
    directory = tmp_path_factory.mktemp("memmap")
    return directory, memmap_rss(MEMMAP_N_SAMPLES, max_iter=2, directory=directory)


def test_memmap_rss_fields_and_consistency(memmap_case):
    directory, r = memmap_case
    assert os.listdir(directory) == []  # the file is deleted
    assert (r["n_samples"], r["n_features"], r["n_components"]) == (
        MEMMAP_N_SAMPLES,
        8,
        16,
    )
    assert (r["max_iter"], r["seed"], r["goal"]) == (2, 0, MEMMAP_GROWTH_GOAL)
    assert r["directory"] == str(directory)
    assert r["file_bytes"] == 128 + MEMMAP_N_SAMPLES * 8 * 8
    assert r["score_start"] >= r["baseline"] > 0
    for step in ("fit", "score"):
        assert r[f"{step}_growth"] == r[f"{step}_peak"] - r["baseline"]
        assert r[f"{step}_ratio"] == r[f"{step}_growth"] / r["file_bytes"]
        assert r[f"{step}_within"] == (r[f"{step}_ratio"] <= r["goal"])
        assert r[f"{step}_seconds"] > 0 and r[f"{step}_rss_samples"] >= 2
    # Streamed, not loaded: well under the file's 12 MiB (k-means' subsample
    # and the kernels' buffers are a few MiB whatever the file's size).
    assert r["fit_growth"] < 0.9 * r["file_bytes"]
    assert 1 <= r["n_iter"] <= 2 and isinstance(r["converged"], bool)
    # The same fit in memory on the same data gives the same model.
    X = np.concatenate(list(blob_chunks(MEMMAP_N_SAMPLES, 8, 16, seed=0)))
    gm = GaussianMixture(16, random_state=0, max_iter=2).fit(X)
    assert (gm.n_iter_, gm.lower_bound_) == (r["n_iter"], r["lower_bound"])
    assert gm.score(X) == r["score"]


def test_memmap_rss_checks(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="n_samples must be at least 16"):
        memmap_rss(10)
    with pytest.raises(ValueError, match="max_iter"):
        memmap_rss(1000, max_iter=0)

    class Usage:
        free = 2**30

    monkeypatch.setattr("emfast.bench._scale.shutil.disk_usage", lambda path: Usage)
    with pytest.raises(OSError, match=r"1\.43 GiB file to .*1\.00 GiB free"):
        memmap_rss(directory=tmp_path)
    assert os.listdir(tmp_path) == []


def test_format_memmap_rss(memmap_case, monkeypatch):
    _, r = memmap_case
    monkeypatch.setattr("emfast.bench._scale.memmap_rss", lambda *a, **k: r)
    results = run_memmap_rss(quick=True, max_iter=2)
    assert results["settings"]["n_samples"] == 2_000_000  # --quick's size
    table = format_memmap_rss(results)
    assert "| growth / file | goal |" in table
    rows = [line for line in table.splitlines() if line.startswith("| 200,000 ")]
    assert [row.split(" | ")[4] for row in rows] == ["fit", "score"]
    assert f"{100 * r['fit_ratio']:.1f} %" in rows[0]


def test_dask_overhead_fields_and_consistency():
    r = dask_overhead("W2", n_samples=DASK_N_SAMPLES, repeat=2, seed=1)
    assert (r["workload"], r["n_samples"], r["n_features"]) == (
        "W2",
        DASK_N_SAMPLES,
        8,
    )
    assert (r["n_components"], r["covariance_type"], r["scheduler"]) == (
        16,
        "full",
        "threads",
    )
    assert (r["repeat"], r["seed"], r["goal"]) == (2, 1, DASK_RATIO_GOAL)
    assert (r["n_chunks"], r["chunk_rows"]) == (8, 500)
    assert r["n_workers"] >= 1 and r["threads_per_worker"] == 1
    for kind in ("memory", "dask"):
        assert len(r[f"{kind}_times"]) == 2
        assert r[f"{kind}_seconds"] == np.median(r[f"{kind}_times"]) > 0
        assert math.isfinite(r[f"{kind}_seconds"])
    assert r["ratio"] == r["dask_seconds"] / r["memory_seconds"]
    # Same start, same iteration: only the order of the sums differs.
    assert r["means_rel_diff"] < 1e-12 and r["log_likelihood_diff"] < 1e-10
    X, _ = benchmark_data("W2", n_samples=DASK_N_SAMPLES, seed=1)
    ll, _ = emfast_iteration(X, initial_parameters(X, 16, "full", seed=1), "full")
    assert r["memory_log_likelihood"] == ll


def test_dask_overhead_chunk_rows():
    r = dask_overhead("W1", n_samples=1000, chunk_rows=400, repeat=1)
    assert (r["n_chunks"], r["chunk_rows"]) == (3, 400)
    r = dask_overhead("W1", n_samples=1000, chunk_rows=5000, repeat=1)
    assert (r["n_chunks"], r["chunk_rows"]) == (1, 1000)
    assert r["means_rel_diff"] < 1e-12


def test_dask_overhead_checks_arguments_before_starting_anything():
    with pytest.raises(ValueError, match="Unknown scheduler 'processes'"):
        dask_overhead(scheduler="processes")
    for scheduler in ("threads", "distributed"):
        with pytest.raises(ValueError, match="repeat"):
            dask_overhead(scheduler=scheduler, repeat=0)
        with pytest.raises(ValueError, match="chunk_rows"):
            dask_overhead(scheduler=scheduler, chunk_rows=0)
    with pytest.raises(ValueError, match="Unknown scheduler 'sync'"):
        run_dask_overhead(schedulers=["distributed", "sync"])
    with pytest.raises(ValueError, match="Unknown workload"):
        run_dask_overhead(["W9"], schedulers=["distributed"])


def test_format_dask_overhead():
    results = run_dask_overhead(["W1", "W2"], n_samples=1000, repeat=1)
    assert [r["workload"] for r in results["dask"]] == ["W1", "W2"]
    assert results["settings"]["schedulers"] == ["threads"]
    table = format_dask_overhead(results)
    assert "| in memory s/iter | Dask s/iter | ratio | goal |" in table
    rows = [line for line in table.splitlines() if line.startswith("| W")]
    assert [row.split(" | ")[0] for row in rows] == ["| W1", "| W2"]
    assert all("| 8 x 125 |" in row for row in rows)


def test_cli_dask_json(tmp_path, capsys):
    path = tmp_path / "dask.json"
    argv = ["bench", "--dask", "--n-samples", "2000", "--chunk-rows", "700"]
    assert main([*argv, "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| W2 | 2,000 | 8 | 16 | full | threads (" in out and "| 3 x 700 |" in out
    (r,) = json.loads(path.read_text())["dask"]
    assert (r["repeat"], r["scheduler"], r["chunk_rows"]) == (5, "threads", 700)


def test_cli_memmap_json(memmap_case, monkeypatch, tmp_path, capsys):
    _, r = memmap_case
    calls = []

    def record(n_samples, **kwargs):
        calls.append((n_samples, kwargs))
        return r

    monkeypatch.setattr("emfast.bench._scale.memmap_rss", record)
    path = tmp_path / "memmap.json"
    argv = ["bench", "--memmap", "--memmap-dir", str(tmp_path), "--seed", "3"]
    assert main([*argv, "--json", str(path)]) == 0
    n_samples, kwargs = calls[-1]
    assert (n_samples, kwargs["directory"]) == (24_000_000, str(tmp_path))
    assert (kwargs["max_iter"], kwargs["seed"]) == (10, 3)
    assert "| 200,000 | 8 | 16 | 12 MiB | fit |" in capsys.readouterr().out
    assert json.loads(path.read_text())["memmap"]["fit_ratio"] == r["fit_ratio"]
    assert main(["bench", "--memmap", "--quick"]) == 0
    assert calls[-1][0] == 2_000_000
    assert main(["bench", "--memmap", "--quick", "--n-samples", "300000"]) == 0
    assert calls[-1][0] == 300_000


def test_cli_dask_options_and_exclusions(monkeypatch, capsys):
    calls = []

    def record(workloads=None, **kwargs):
        calls.append((workloads, kwargs))
        raise KeyboardInterrupt  # stop before any measurement

    monkeypatch.setattr("emfast.bench.run_dask_overhead", record)
    assert main(["bench", "--dask", "--quick", "--repeat", "2"]) == 130
    workloads, kwargs = calls[-1]
    assert workloads is None and kwargs["quick"] and kwargs["n_samples"] is None
    assert (kwargs["schedulers"], kwargs["repeat"], kwargs["chunk_rows"]) == (
        ["threads"],
        5,
        None,
    )
    argv = ["bench", "--dask", "--dask-scheduler", "Distributed,threads,distributed"]
    assert main([*argv, "--workloads", "w1"]) == 130
    workloads, kwargs = calls[-1]
    assert workloads == ["W1"] and kwargs["schedulers"] == ["distributed", "threads"]
    for argv, message in (
        (["--dask", "--memmap"], "--memmap and --dask are separate runs"),
        (["--dask", "--missing"], "--missing and --dask are separate runs"),
        (["--memmap", "--startup"], "--startup and --memmap are separate runs"),
        (["--dask-scheduler", "threads"], "--dask-scheduler goes with --dask"),
        (["--memmap", "--chunk-rows", "10"], "--chunk-rows goes with --dask"),
        (["--dask", "--memmap-dir", "/tmp"], "--memmap-dir goes with --memmap"),
        (["--memmap", "--workloads", "W2"], "drop --workloads"),
    ):
        assert main(["bench", *argv]) == 1
        assert message in capsys.readouterr().err
    for bad in (["--dask-scheduler", "processes"], ["--chunk-rows", "0"]):
        with pytest.raises(SystemExit):
            main(["bench", "--dask", *bad])
