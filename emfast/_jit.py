"""The one place for Numba JIT options, and for running parallel kernels
safely under every Numba threading layer.

Compilation is cached on disk by default (``EMFAST_CACHE=0`` switches it off,
``NUMBA_CACHE_DIR`` moves the cache, e.g. when site-packages is read-only).
The fastmath set keeps ``-inf`` and NaN semantics, which log-sum-exp needs:
no ``nnan`` / ``ninf``.

Threading layers (Numba picks one at the first parallel call, for the whole
process): 'tbb' is safe with threads and fork; 'omp' with GNU OpenMP cannot
run a parallel region in a child forked after the parent ran one; 'workqueue'
aborts the process when two threads launch parallel regions at once. So:

* pip's ``tbb`` package (a dependency where it has wheels) installs its
  library outside a virtual environment's search path; it is loaded here,
  before Numba chooses, so that Numba's default order (tbb first) finds it;
* under 'workqueue' parallel kernels take a process-wide lock;
* in a child forked from a process that ran 'omp' regions, kernels run their
  serial twin: the same code compiled without ``parallel``. Results do not
  depend on the number of threads, so the twin gives the same bits.
"""

import ctypes
import functools
import os
import sys
import threading
import types

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


def _njit(parallel: bool, fastmath=FASTMATH):
    return numba.njit(
        cache=_cache_enabled(),
        parallel=dict(PARALLEL_PRANGE_ONLY) if parallel else False,
        fastmath=set(fastmath),
        error_model="numpy",
        nogil=True,
    )


def jit(*, parallel: bool = False, exact_rounding: bool = False):
    """Return a decorator that compiles with emfast's options: ``numba.njit``,
    or for ``parallel`` a :class:`ParallelKernel` (callable from Python
    only). With ``exact_rounding``, a function whose rounding steps must
    stay as written (no reassociation: only ``contract``, fused
    multiply-add, of the fastmath set); LLVM keeps these flags per
    instruction when it inlines the function into a fastmath caller."""
    if parallel:
        return ParallelKernel
    return _njit(False, {"contract"} if exact_rounding else FASTMATH)


_LIBTBB = {"linux": "libtbb.so.12", "win32": "tbb12.dll", "darwin": "libtbb.12.dylib"}


def _load_tbb() -> bool:
    """Load the library of pip's ``tbb`` package, if installed, so that
    Numba's TBB layer can find it (a virtual environment's ``lib`` folder is
    not on the loader's path). Returns whether it was loaded."""
    name = _LIBTBB.get(sys.platform)
    if name is None:
        return False
    try:
        from importlib.metadata import PackageNotFoundError, files

        found = [f for f in files("tbb") or () if f.name == name]
    except PackageNotFoundError:
        return False
    for f in found:
        try:
            ctypes.CDLL(str(f.locate()), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
            return True
        except OSError:  # noqa: PERF203 - a few candidate paths, tried once
            continue
    return False


_load_tbb()

_launch_lock = threading.Lock()
_serial_only = False


def _layer():
    """The threading layer in use, or None before the first parallel call."""
    try:
        return numba.threading_layer()
    except ValueError:
        return None


def _after_fork_in_child():
    global _serial_only
    if _layer() == "omp":
        _serial_only = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ParallelKernel:
    """A ``prange`` kernel compiled with ``parallel``, plus its serial twin
    (compiled on first use, cached on disk under its own name), called by
    the rules in this module's docstring."""

    def __init__(self, func):
        functools.update_wrapper(self, func)
        self.func = func
        self.parallel = _njit(True)(func)
        self._serial = None

    @property
    def serial(self):
        if self._serial is None:
            # A distinct function object and name: Numba's cache keys entries
            # by function, not by options.
            twin = types.FunctionType(
                self.func.__code__,
                self.func.__globals__,
                self.func.__name__ + "_serial",
                self.func.__defaults__,
                self.func.__closure__,
            )
            twin.__qualname__ = self.func.__qualname__ + "_serial"
            twin.__module__ = self.func.__module__
            self._serial = _njit(False)(twin)
        return self._serial

    def __call__(self, *args):
        try:
            if _serial_only:
                return self.serial(*args)
            layer = _layer()
            if layer is None or layer == "workqueue":
                with _launch_lock:
                    return self.parallel(*args)
            return self.parallel(*args)
        except SystemError as error:
            raise_interrupt(error)
            raise


def raise_interrupt(error: BaseException) -> None:
    """Raise the KeyboardInterrupt behind ``error``, if there is one.

    Ctrl-C while a compiled function runs without the GIL surfaces when its
    result goes back to Python; CPython then reports ``SystemError(... returned
    a result with an exception set)`` chained (once or more) to the
    KeyboardInterrupt."""
    cause = error
    while isinstance(cause, SystemError):
        cause = cause.__cause__
    if isinstance(cause, KeyboardInterrupt) and cause is not error:
        raise cause from None
