"""asv benchmarks: start-up costs, measured in fresh processes.

Import time of emfast over ``import numba, sklearn``, and the first
``GaussianMixture(16).fit(X)`` in a fresh process with the compile cache warm
and cold (a fresh ``NUMBA_CACHE_DIR``). The measurements are those of
``emfast bench --startup`` (:mod:`emfast.bench`); they run once, in
``setup_cache``, because a cold-cache run compiles every kernel (10-20 s).
"""

from __future__ import annotations

from emfast.bench import first_fit_overhead, import_overhead

IMPORT_REPEAT = 5
WARM_REPEAT = 3


def _seconds(track):
    track.unit = "seconds"
    return track


class ImportTime:
    """``import emfast`` in a fresh process, numba and sklearn already
    imported (asv's own fresh-process timer)."""

    repeat = (5, 10, 30.0)

    def timeraw_import_emfast(self):
        return "import emfast", "import numba, sklearn"


class Startup:
    """Seconds, each the median over fresh processes."""

    timeout = 600

    def setup_cache(self):
        return {
            "import": import_overhead(repeat=IMPORT_REPEAT),
            "warm": first_fit_overhead("warm", repeat=WARM_REPEAT),
            "cold": first_fit_overhead("cold", repeat=1),
        }

    @_seconds
    def track_import_overhead(self, results):
        """``import emfast`` minus ``import numba, sklearn`` (goal: <= 0.3 s)."""
        return results["import"]["overhead"]

    @_seconds
    def track_first_fit_warm_cache(self, results):
        """The first fit in a fresh process, compile cache warm."""
        return results["warm"]["first"]

    @_seconds
    def track_first_fit_warm_cache_overhead(self, results):
        """The first fit minus the same fit warmed up (goal: <= 0.5 s)."""
        return results["warm"]["overhead"]

    @_seconds
    def track_first_fit_cold_cache(self, results):
        """The first fit in a fresh process with an empty NUMBA_CACHE_DIR."""
        return results["cold"]["first"]

    @_seconds
    def track_compile_overhead(self, results):
        """The cold first fit minus the same fit warmed up (goal: <= 10 s)."""
        return results["cold"]["overhead"]
