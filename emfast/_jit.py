"""The one place for Numba JIT options.

Compilation is cached on disk by default (``EMFAST_CACHE=0`` switches it off,
``NUMBA_CACHE_DIR`` moves the cache, e.g. when site-packages is read-only).
The fastmath set keeps ``-inf`` and NaN semantics, which log-sum-exp needs:
no ``nnan`` / ``ninf``.
"""

import os

import numba

FASTMATH = {"contract", "reassoc", "arcp", "nsz"}

# Only explicit ``prange`` loops run in parallel. Letting Numba turn every
# array expression (np.zeros, +=, slicing assignments) into a parallel loop of
# its own adds a compiled gufunc per expression and slows compilation.
PARALLEL_PRANGE_ONLY = {
    "prange": True,
    "comprehension": False,
    "numpy": False,
    "reduction": False,
    "setitem": False,
    "stencil": False,
    "fusion": False,
    "inplace_binop": False,
}


def _cache_enabled() -> bool:
    return os.environ.get("EMFAST_CACHE", "1").lower() not in {"0", "false", "no", ""}


def jit(*, parallel: bool = False):
    """Return a ``numba.njit`` decorator with emfast's options."""
    return numba.njit(
        cache=_cache_enabled(),
        parallel=dict(PARALLEL_PRANGE_ONLY) if parallel else False,
        fastmath=set(FASTMATH),
        error_model="numpy",
        nogil=True,
    )
