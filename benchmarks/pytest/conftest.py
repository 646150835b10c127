"""Fixtures of the pytest-benchmark suite (not part of the test suite).

Run from the repository root:

    .venv/bin/python -m pytest benchmarks/pytest --benchmark-only

Every benchmark warms up the JIT (compiles or loads the on-disk cache) before
pytest-benchmark starts timing, and runs under one BLAS thread, as emfast's
``fit`` does. ``--benchmark-autosave`` stores a run under ``.benchmarks/``;
``--benchmark-compare`` compares the current run with the last stored one.
"""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def warm_benchmark(benchmark):
    """``benchmark`` that first calls the function once, untimed (JIT)."""

    def run(fn, *args, **kwargs):
        fn(*args, **kwargs)
        return benchmark(fn, *args, **kwargs)

    return run
