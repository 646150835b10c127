"""Memory-mapped input: fits and predictions read the file block by block,
without copying it into memory."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from emfast import GaussianMixture


def write_blobs(path, n_samples, n_features=8, seed=0, chunk=500_000):
    """Write an (n_samples, n_features) float64 .npy file chunk by chunk."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float64, shape=(n_samples, n_features)
    )
    centres = rng.uniform(-10, 10, size=(4, n_features))
    for start in range(0, n_samples, chunk):
        stop = min(n_samples, start + chunk)
        labels = rng.integers(0, 4, stop - start)
        out[start:stop] = centres[labels] + rng.normal(size=(stop - start, n_features))
    out.flush()
    del out


@pytest.mark.parametrize("mode", ["npy", "memmap"])
def test_memmap_gives_the_in_memory_results(tmp_path, mode):
    path = tmp_path / "X.npy"
    write_blobs(path, 20_000)
    if mode == "npy":
        X = np.load(path, mmap_mode="r")
    else:
        X = np.memmap(path, dtype=np.float64, mode="r", offset=128, shape=(20_000, 8))
    in_memory = np.load(path)
    assert_array_equal(np.asarray(X), in_memory)
    a = GaussianMixture(4, random_state=0).fit(X)
    b = GaussianMixture(4, random_state=0).fit(in_memory)
    assert a.n_iter_ == b.n_iter_
    assert_array_equal(a.means_, b.means_)
    assert_array_equal(a.covariances_, b.covariances_)
    assert_array_equal(a.predict(X), b.predict(in_memory))
    assert_array_equal(a.score_samples(X), b.score_samples(in_memory))
    assert_array_equal(a.predict_proba(X), b.predict_proba(in_memory))
    assert a.score(X) == b.score(in_memory)


RSS_SCRIPT = textwrap.dedent(
    """
    import sys
    import threading
    import time
    import warnings

    import numpy as np

    from emfast import GaussianMixture


    def rss_anon():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024


    warnings.simplefilter("ignore")
    # Compile (or load) the kernels and import everything first.
    warm = np.random.default_rng(0).normal(size=(60_000, 8))
    GaussianMixture(4, random_state=0, max_iter=2).fit(warm)
    del warm
    X = np.load(sys.argv[1], mmap_mode="r")
    base = rss_anon()
    peak = [base]
    done = threading.Event()

    def sample():  # the kernels release the GIL, so this keeps sampling
        while not done.is_set():
            peak.append(rss_anon())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    gm = GaussianMixture(4, random_state=0, max_iter=3).fit(X)
    done.set()
    sampler.join()
    print(base, max(peak), len(peak), X.nbytes)
    """
)


def test_fitting_a_memmap_streams_it(tmp_path):
    """A 2,000,000 x 8 float64 file (122 MiB): the fit's anonymous memory
    grows by under 25 % of the file (loading it would add 100 %)."""
    path = tmp_path / "big.npy"
    write_blobs(path, 2_000_000)
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.split()
    base, peak, n_samples_taken, file_bytes = map(int, out)
    assert n_samples_taken > 10  # the sampler ran during the fit
    growth = peak - base
    assert growth < 0.25 * file_bytes, (growth / 2**20, file_bytes / 2**20)


def test_score_in_row_chunks_equals_the_mean(monkeypatch):
    from emfast import _sources

    X = np.random.default_rng(3).normal(size=(5_000, 2))
    w = np.random.default_rng(4).random(5_000)
    gm = GaussianMixture(2, random_state=0).fit(X)
    whole = gm.score(X), gm.score(X, sample_weight=w)
    monkeypatch.setattr(_sources, "_SCORE_CHUNK_ROWS", 777)
    np.testing.assert_allclose(gm.score(X), whole[0], rtol=1e-14)
    np.testing.assert_allclose(gm.score(X, sample_weight=w), whole[1], rtol=1e-14)
    np.testing.assert_allclose(whole[0], gm.score_samples(X).mean(), rtol=1e-15)
