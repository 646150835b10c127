"""``emfast compile``: every kernel in Numba's cache ahead of time."""

import json
import os
import subprocess
import sys

import pytest

from emfast._compile import cache_location, compile_kernels
from emfast.cli import main

# Runs typical calls in a fresh process, then prints, as JSON, the kernels
# that were compiled rather than loaded from the cache ("misses") and the
# number loaded ("hits").
CHECK = """
import json, sys, warnings
import numpy as np
import emfast

warnings.simplefilter("ignore")
rng = np.random.default_rng(1)
X = np.concatenate([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 5])
gm = emfast.GaussianMixture(2, random_state=1).fit(X)
gm.predict(X)
gm.score_samples(X)
emfast.GaussianMixture(2, covariance_type="diag", random_state=1).fit(
    X, sample_weight=np.ones(len(X)))
Xm = X.copy()
Xm[::5, 1] = np.nan
emfast.GaussianMixture(2, nan_policy="marginalize", random_state=1).fit(Xm)
hmm = emfast.GaussianHMM(2, n_iter=3, random_state=1).fit(X, [60, 60])
hmm.decode(X, [60, 60])
hmm.predict_proba(X, [60, 60])
emfast.GMMHMM(2, n_mix=2, n_iter=2, random_state=1).fit(X, [60, 60])

misses, hits = {}, 0
for name, module in list(sys.modules.items()):
    if not name.startswith("emfast"):
        continue
    for attr, obj in vars(module).items():
        for d in (obj, getattr(obj, "parallel", None), getattr(obj, "_serial", None)):
            stats = getattr(d, "stats", None)
            if stats is None or not hasattr(stats, "cache_misses"):
                continue
            hits += sum(stats.cache_hits.values())
            if sum(stats.cache_misses.values()):
                misses[f"{name}.{attr}"] = [str(s) for s in stats.cache_misses]
print(json.dumps({"misses": misses, "hits": hits}))
"""


def _env():
    env = dict(os.environ)
    env.pop("EMFAST_CACHE", None)
    return env


def test_after_compile_typical_calls_compile_nothing():
    """After ``emfast compile`` (float64, every model), a fresh process's
    fits and predictions load every kernel from the cache."""
    done = subprocess.run(
        [sys.executable, "-m", "emfast", "compile", "--dtypes", "float64", "--quiet"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Kernels compiled or loaded in" in done.stdout
    assert "cache:" in done.stdout
    check = subprocess.run(
        [sys.executable, "-c", CHECK],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    result = json.loads(check.stdout.strip().splitlines()[-1])
    assert result["misses"] == {}
    assert result["hits"] > 10  # the kernels were there, and were loaded


def test_refuses_when_the_cache_is_off(monkeypatch, capsys):
    monkeypatch.setenv("EMFAST_CACHE", "0")
    assert main(["compile", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "compile cache is off (EMFAST_CACHE=0)" in err
    assert err.endswith("\n") and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--models", "mixture,foo"], "expected comma-separated names from mixture"),
        (["--dtypes", "float16"], "expected comma-separated names from float64"),
        (["--models", ","], "expected comma-separated names from mixture"),
    ],
)
def test_bad_arguments_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compile", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_compile_kernels_checks_its_arguments():
    with pytest.raises(ValueError, match="models must be among"):
        compile_kernels(models=("mixtures",))
    with pytest.raises(ValueError, match="models must be among"):
        compile_kernels(models=())
    with pytest.raises(ValueError, match="dtypes must be among"):
        compile_kernels(dtypes=("int64",))


def test_compile_kernels_reports_each_model_and_type():
    lines = []
    done = compile_kernels(("impute",), ("float64", "float32"), progress=lines.append)
    assert [(m, d) for m, d, _ in done] == [
        ("impute", "float64"),
        ("impute", "float32"),
    ]
    assert all(seconds >= 0 for _, _, seconds in done)
    assert lines[0].startswith("impute (float64): ")


def test_cache_location_is_a_folder_name():
    location = cache_location()
    assert isinstance(location, str) and location
