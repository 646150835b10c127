"""Fitting from several threads at once, in forked children and in loky
workers, under every Numba threading layer this machine has. Each case runs
in a fresh process (the layer is chosen once per process), with a timeout, so
that a hang or an abort fails the test instead of stopping the suite."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import multiprocessing
    import sys
    import threading
    import warnings

    import numba
    import numpy as np

    from emfast import GaussianMixture

    warnings.simplefilter("ignore")
    COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


    def fit(i):
        rng = np.random.default_rng(i)
        X = np.vstack([rng.normal(c, 1.0, size=(4_000, 3)) for c in (0, 4, 8)])
        gm = GaussianMixture(
            3, covariance_type=COVARIANCE_TYPES[i % 4], random_state=i, max_iter=30
        ).fit(X)
        return np.concatenate([[gm.lower_bound_], gm.means_.ravel()])


    if __name__ == "__main__":
        mode, out = sys.argv[1], sys.argv[2]
        alone = [fit(i) for i in range(4)]  # the parent has run parallel kernels
        if mode == "threads":
            results = [None] * 4
            barrier = threading.Barrier(4)

            def work(i):
                barrier.wait()
                for _ in range(3):
                    results[i] = fit(i)

            threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        elif mode == "fork":
            with multiprocessing.get_context("fork").Pool(2) as pool:
                results = pool.map(fit, range(4))
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=2, backend="loky")(
                delayed(fit)(i) for i in range(4)
            )
        np.savez(
            out,
            alone=np.array(alone),
            results=np.array(results),
            layer=numba.threading_layer(),
        )
    """
)


def available_layers():
    layers = []
    for layer in ("tbb", "omp", "workqueue"):
        probe = (
            "import numba, numpy as np, emfast;"
            "emfast.GaussianMixture(2).fit(np.arange(20.0).reshape(10, 2));"
            "print(numba.threading_layer())"
        )
        env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
        done = subprocess.run(
            [sys.executable, "-c", probe],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip() == layer:
            layers.append(layer)
    return layers


LAYERS = available_layers()


def test_some_safe_layer_is_available():
    """pip's tbb package is a dependency on Linux x86-64 and Windows; elsewhere
    'omp' or 'workqueue' run with the safeguards of emfast._jit."""
    assert LAYERS
    assert "omp" in LAYERS or "workqueue" in LAYERS


@pytest.mark.parametrize("mode", ["threads", "fork", "loky"])
@pytest.mark.parametrize("layer", LAYERS)
def test_concurrent_fits_finish_with_the_results_of_a_lone_fit(tmp_path, layer, mode):
    if mode == "fork" and not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    path = tmp_path / "out.npz"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    subprocess.run(
        [sys.executable, str(script), mode, str(path)],
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )
    with np.load(path) as data:
        assert str(data["layer"]) == layer
        alone, results = data["alone"], data["results"]
    if mode == "fork" and layer == "omp":
        # A child forked after GNU OpenMP ran cannot start OpenMP threads: the
        # kernels run their serial twins, compiled separately, which agree to
        # rounding (LLVM may order sums differently in the two builds).
        np.testing.assert_allclose(results, alone, rtol=1e-12)
    else:
        np.testing.assert_array_equal(results, alone)
