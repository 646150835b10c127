"""emfast.GaussianMixture against its golden file, bit for bit.

``tests/golden/gaussian_mixture.npz`` holds the fitted attributes,
predictions and errors of every case of the grid in
``tests/golden/grid.py``, recorded by ``tests/golden/make_golden.py``. Each
case is recomputed here and compared:

* in the recording environment (the same numpy, scipy, scikit-learn and
  numba versions and machine as recorded in the file's "versions"), every
  array must be exactly equal: same dtype, same shape, ``np.array_equal``;
* elsewhere, LAPACK/BLAS builds and compilers may change the last bits, so
  floating-point arrays are compared with ``assert_allclose(rtol=1e-10,
  atol=0)`` instead (integers, booleans and error messages stay exact), and
  every failure message says so.

A case that raised when recorded must raise the same exception class with
the same message. ``EMFAST_GOLDEN_FILE`` points the test at another file.

The grid is recomputed in a subprocess whose kernels are loaded from Numba's
disk cache: a first subprocess fills the cache (the test session's own, where
the session has already compiled most kernels; it compiles the rest), the
second loads every kernel from it. The
same source compiled in the running process and the object code Numba
writes to its cache are two compilations, and with the ``reassoc`` fastmath
flag LLVM may group the kernels' sums differently in each: results differ
in the last bits between the two (measured at f1ba118 and since, for
``_kernels.sufficient_stats``; the same kernel always gives the same bits,
whatever the thread count). The file was recorded from cached kernels, so
that is what is compared.

Across environments, precisions_ (inverses of the covariances) carry the
covariances' last-bit differences times their condition number: 1e-10.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
if str(GOLDEN_DIR) not in sys.path:
    sys.path.insert(0, str(GOLDEN_DIR))
import grid  # noqa: E402 - from the golden folder, put on sys.path above

GOLDEN_FILE = Path(
    os.environ.get("EMFAST_GOLDEN_FILE", GOLDEN_DIR / "gaussian_mixture.npz")
)
RTOL_ELSEWHERE = 1e-10


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN_FILE, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


@pytest.fixture(scope="module")
def recomputed(tmp_path_factory):
    """The outputs of the whole grid, from kernels loaded from Numba's disk
    cache (see the module docstring)."""
    tmp = tmp_path_factory.mktemp("golden")
    env = dict(os.environ)
    env.pop("EMFAST_CACHE", None)
    script = str(GOLDEN_DIR / "make_golden.py")
    for run in ("compile", "cached"):
        done = subprocess.run(
            [sys.executable, script, "--output", str(tmp / f"{run}.npz")],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    with np.load(tmp / "cached.npz", allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


@pytest.fixture(scope="module")
def mode(golden):
    """(exact, note): exact comparison in the recording environment only."""
    recorded = json.loads(str(golden["versions"][0]))
    here = grid.versions()
    if recorded == here:
        return True, "exact comparison (recording environment)"
    return False, (
        f"compared with assert_allclose(rtol={RTOL_ELSEWHERE}, atol=0), not "
        f"exactly, because the environment differs from the recording: "
        f"recorded {recorded}, here {here}"
    )


def _cases(golden):
    return {key.rsplit("/", 1)[0] for key in golden if "/" in key} - {"data"}


def test_file_holds_the_grid(golden):
    """Every case of the grid is in the file and nothing else: a grid
    changed without regenerating the file fails here."""
    assert _cases(golden) == set(grid.case_names())


def test_data_unchanged(golden):
    """The data are built without BLAS/LAPACK: the same everywhere."""
    for key, value in grid.data_arrays().items():
        assert value.dtype == golden[key].dtype, key
        assert np.array_equal(value, golden[key], equal_nan=True), key


def _compare(where, got, want, exact, note):
    assert got.dtype == want.dtype, (
        f"{where}: dtype {got.dtype} != {want.dtype}; {note}"
    )
    assert got.shape == want.shape, (
        f"{where}: shape {got.shape} != {want.shape}; {note}"
    )
    floating = np.issubdtype(want.dtype, np.inexact)
    if exact or not floating:
        if np.array_equal(got, want, equal_nan=floating):
            return
        differ = np.asarray(got != want)
        if floating:
            differ &= ~(np.isnan(got) & np.isnan(want))
        scope = "" if exact else " (integer, bool and str outputs: exactly, anywhere)"
        with np.printoptions(floatmode="unique", threshold=50):
            pytest.fail(
                f"{where}: not bit for bit equal{scope}; {note}\n"
                f"{np.count_nonzero(differ)} of {differ.size} differ, at "
                f"{np.argwhere(differ)[:5].tolist()}\n"
                f"got  {got[differ][:5]!r}\nwant {want[differ][:5]!r}"
            )
    else:
        assert_allclose(
            got, want, rtol=RTOL_ELSEWHERE, atol=0, err_msg=f"{where}: {note}"
        )


@pytest.mark.parametrize("name", grid.case_names())
def test_case(name, golden, mode, recomputed):
    exact, note = mode
    want = {
        key[len(name) + 1 :]: value
        for key, value in golden.items()
        if key.startswith(name + "/")
    }
    got = {
        key[len(name) + 1 :]: value
        for key, value in recomputed.items()
        if key.startswith(name + "/")
    }
    if "error" in want or "error" in got:
        assert (
            got.get("error", np.array([])).tolist()
            == want.get("error", np.array([])).tolist()
        ), f"{name}: errors differ (class, message)"
    assert sorted(got) == sorted(want), f"{name}: recorded outputs differ"
    for attr, value in want.items():
        _compare(f"{name}/{attr}", got[attr], value, exact, note)
