"""Start-up: import time, and the first fit in a fresh process with the
compile cache warm, cold, and in a read-only package
(``emfast bench --startup``)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from statistics import median
from time import perf_counter

from ._common import machine_info, run_python
from ._format import cpus, paragraphs, table, versions, wall_time

# Small data for the start-up measurements: W2's shape, default fit.
STARTUP_WORKLOAD = "W2"
STARTUP_N_SAMPLES = 20_000
# The emfast package (this file is emfast/bench/_startup.py), which
# readonly_cache_check copies.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_IMPORT_SCRIPT = r"""
import sys, time
start = time.perf_counter()
if sys.argv[1] == "emfast":
    import emfast
    print(time.perf_counter() - start)
else:
    import numba, sklearn
    middle = time.perf_counter()
    import emfast
    print(middle - start, time.perf_counter() - middle)
"""

# argv: workload n_samples. Prints JSON: the first fit's seconds, and the
# fastest of three more ("warmed_up": the fit without loading or compiling).
_FIRST_FIT_SCRIPT = r"""
import json, os, sys, time, warnings
from sklearn.exceptions import ConvergenceWarning
import emfast
from emfast import GaussianMixture
from emfast.workloads import make_workload

X, w = make_workload(sys.argv[1], n_samples=int(sys.argv[2]))

def fit():
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(w.n_components).fit(X)
    return time.perf_counter() - start, gm

first, gm = fit()
warmed_up = min(fit()[0] for _ in range(3))
package = os.path.dirname(emfast.__file__)
print(json.dumps({
    "first": first, "warmed_up": warmed_up, "n_iter": gm.n_iter_,
    "package": package, "package_writable": os.access(package, os.W_OK),
}))
"""


def import_overhead(repeat: int = 5) -> dict:
    """How much ``import emfast`` adds to importing numba and sklearn.

    Each repeat runs two fresh processes: one times ``import numba, sklearn``
    and then ``import emfast`` (the increment), the other times ``import
    emfast`` alone (which imports numba and the parts of sklearn it uses).

    Parameters
    ----------
    repeat : int, default=5
        Pairs of processes; medians are reported.

    Returns
    -------
    result : dict
        Medians in seconds: ``numba_sklearn`` (``import numba, sklearn``),
        ``emfast`` (``import emfast`` alone), ``overhead`` (``emfast`` minus
        ``numba_sklearn``) and ``increment`` (``import emfast`` after numba
        and sklearn).

    Examples
    --------
    >>> from emfast.bench import import_overhead
    >>> import_overhead(repeat=1)["overhead"] < 5.0  # doctest: +SKIP
    True
    """
    base, increment, alone = [], [], []
    for _ in range(repeat):
        a, b = map(float, run_python(_IMPORT_SCRIPT, "numba_sklearn").split())
        base.append(a)
        increment.append(b)
        alone.append(float(run_python(_IMPORT_SCRIPT, "emfast")))
    return {
        "numba_sklearn": median(base),
        "emfast": median(alone),
        "overhead": median(alone) - median(base),
        "increment": median(increment),
        "repeat": repeat,
    }


def _first_fit(n_samples: int, env=None, prefix=(), cwd=None) -> dict:
    out = run_python(
        _FIRST_FIT_SCRIPT,
        STARTUP_WORKLOAD,
        str(n_samples),
        env=env,
        prefix=prefix,
        cwd=cwd,
    )
    result = json.loads(out)
    result["overhead"] = result["first"] - result["warmed_up"]
    return result


def first_fit_overhead(
    cache: str = "warm", repeat: int = 3, n_samples: int = STARTUP_N_SAMPLES
) -> dict:
    """Extra time of the first ``GaussianMixture(16).fit(X)`` in a fresh process.

    A fresh process fits W2-shaped data (``n_samples`` x 8) four times with
    the defaults (k-means initialization); the first fit's time minus the
    fastest of the other three is what loading (warm cache) or compiling (cold
    cache) the kernels costs.

    Parameters
    ----------
    cache : {'warm', 'cold'}, default='warm'
        'warm': the current cache (a first, untimed process fills it if
        needed). 'cold': every process gets a fresh, empty
        ``NUMBA_CACHE_DIR``, so the kernels compile.
    repeat : int, default=3
        Fresh processes; medians are reported.
    n_samples : int, default=20000
        Number of points.

    Returns
    -------
    result : dict
        Medians in seconds: ``first`` (the first fit), ``warmed_up`` (the
        fastest later fit) and ``overhead`` (their difference); ``runs``, the
        per-process results.

    Examples
    --------
    >>> from emfast.bench import first_fit_overhead
    >>> first_fit_overhead("warm", repeat=1)["overhead"] < 5.0  # doctest: +SKIP
    True
    """
    if cache not in ("warm", "cold"):
        raise ValueError(f"cache must be 'warm' or 'cold', got {cache!r}")
    runs = []
    if cache == "warm":
        _first_fit(n_samples)  # fill the cache if it is not already warm
        runs = [_first_fit(n_samples) for _ in range(repeat)]
    else:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as cache_dir:
                env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
                runs.append(_first_fit(n_samples, env=env))
    return {
        "cache": cache,
        "n_samples": n_samples,
        "first": median(r["first"] for r in runs),
        "warmed_up": median(r["warmed_up"] for r in runs),
        "overhead": median(r["overhead"] for r in runs),
        "runs": runs,
    }


def _without_write_permission_prefix() -> tuple[list[str], bool]:
    """Command prefix under which file permissions bind: root ignores them
    unless the capabilities that bypass them are dropped."""
    if os.geteuid() != 0:
        return [], True
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return [], False
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"], True


def readonly_cache_check(n_samples: int = STARTUP_N_SAMPLES) -> dict:
    """Does the compile cache work from a read-only package with
    ``NUMBA_CACHE_DIR`` set?

    Copies the ``emfast`` package into a temporary directory, removes all
    write permission from it, and runs two fresh processes that import that
    copy (``PYTHONPATH``) with ``NUMBA_CACHE_DIR`` pointing at a new writable
    directory: the first compiles and writes the cache, the second should
    load it. As root, the processes run without the capabilities that bypass
    file permissions (``setpriv``), so the package really is read-only to
    them.

    Returns
    -------
    result : dict
        ``compile`` and ``load``: the first fit's overhead (seconds) in the
        first and the second process; ``cache_files``: files written to
        ``NUMBA_CACHE_DIR``; ``package_writable``: whether the processes
        could write to the package (False when the check holds);
        ``package_unchanged``: nothing was written to it; ``works``: all of
        these, and the second process loaded instead of compiling.

    Examples
    --------
    >>> from emfast.bench import readonly_cache_check
    >>> readonly_cache_check()["works"]  # doctest: +SKIP
    True
    """
    prefix, enforced = _without_write_permission_prefix()
    root = tempfile.mkdtemp(prefix="emfast-readonly-")
    package = os.path.join(root, "site", "emfast")
    cache_dir = os.path.join(root, "cache")
    try:
        shutil.copytree(
            _PACKAGE_DIR,
            package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        os.mkdir(cache_dir)
        before = sorted(_walk(package))
        _set_writable(package, False)
        env = dict(
            os.environ,
            NUMBA_CACHE_DIR=cache_dir,
            PYTHONPATH=os.path.join(root, "site"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.pop("EMFAST_CACHE", None)
        # Run from ``root``: ``python -c`` puts the working directory first on
        # sys.path, where a source checkout would shadow the copy.
        compiled = _first_fit(n_samples, env=env, prefix=prefix, cwd=root)
        loaded = _first_fit(n_samples, env=env, prefix=prefix, cwd=root)
        cache_files = len(list(_walk(cache_dir)))
        unchanged = sorted(_walk(package)) == before
        used_copy = compiled["package"] == package
        writable = compiled["package_writable"] or loaded["package_writable"]
    finally:
        if os.path.isdir(package):
            _set_writable(package, True)
        shutil.rmtree(root, ignore_errors=True)
    return {
        "compile": compiled["overhead"],
        "load": loaded["overhead"],
        "cache_files": cache_files,
        "read_only_enforced": enforced,
        "imported_the_copy": used_copy,
        "package_writable": writable,
        "package_unchanged": unchanged,
        "works": bool(
            used_copy
            and not writable
            and unchanged
            and cache_files > 0
            and loaded["overhead"] < 0.5 * compiled["overhead"]
        ),
    }


def _walk(top):
    for dirpath, _dirnames, filenames in os.walk(top):
        for filename in filenames:
            yield os.path.relpath(os.path.join(dirpath, filename), top)


def _set_writable(top: str, writable: bool) -> None:
    """Add or remove write permission on a tree (directories kept readable)."""
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for dirpath, dirnames, filenames in os.walk(top, topdown=not writable):
        for name in [*filenames, *dirnames, None]:
            path = dirpath if name is None else os.path.join(dirpath, name)
            mode = os.stat(path).st_mode
            os.chmod(path, (mode | stat.S_IWUSR) if writable else (mode & ~write))


def startup(repeat: int = 5, cold_repeat: int = 1, readonly: bool = True) -> dict:
    """All start-up measurements (what ``emfast bench --startup`` runs).

    Parameters
    ----------
    repeat : int, default=5
        Repeats of the import and warm-cache measurements.
    cold_repeat : int, default=1
        Repeats of the cold-cache compile (each compiles every kernel).
    readonly : bool, default=True
        Also run :func:`readonly_cache_check`.

    Returns
    -------
    result : dict
        ``machine``, ``import`` (:func:`import_overhead`), ``warm_cache`` and
        ``cold_cache`` (:func:`first_fit_overhead`), ``readonly``
        (:func:`readonly_cache_check` or None), ``seconds``.

    Examples
    --------
    >>> from emfast.bench import startup, format_startup
    >>> print(format_startup(startup(repeat=1)))  # doctest: +SKIP
    """
    start = perf_counter()
    result = {
        "machine": machine_info(),
        "import": import_overhead(repeat),
        "warm_cache": first_fit_overhead("warm", repeat=max(1, min(repeat, 3))),
        "cold_cache": first_fit_overhead("cold", repeat=cold_repeat),
        "readonly": readonly_cache_check() if readonly else None,
    }
    result["seconds"] = perf_counter() - start
    return result


def format_startup(result: dict) -> str:
    """A Markdown table of :func:`startup`'s result."""
    m = result["machine"]
    imp, warm, cold = result["import"], result["warm_cache"], result["cold_cache"]
    n_warm, n_cold = len(warm["runs"]), len(cold["runs"])
    rows = [
        ("`import numba, sklearn`", imp["numba_sklearn"], ""),
        ("`import emfast`", imp["emfast"], ""),
        (
            "import overhead: `import emfast` minus `import numba, sklearn`",
            imp["overhead"],
            "≤ 0.3",
        ),
        (
            "`import emfast` after `import numba, sklearn` (same process)",
            imp["increment"],
            "",
        ),
        (
            "the fit, warmed up (fastest of 3 after the first, same process)",
            warm["warmed_up"],
            "",
        ),
        ("first fit, warm cache", warm["first"], ""),
        (
            "warm-cache overhead: first fit minus warmed-up fit",
            warm["overhead"],
            "≤ 0.5",
        ),
        ("first fit, cold cache (empty NUMBA_CACHE_DIR)", cold["first"], ""),
        (
            "compile overhead: cold first fit minus warmed-up fit",
            cold["overhead"],
            "≤ 10",
        ),
    ]
    header = [
        f"{cpus(m, numba_threads=False)}; {versions(m, ('numba', 'scikit-learn'))}",
        (
            f"Fresh processes; imports: median of {imp['repeat']}; the fit "
            f"GaussianMixture(16).fit(X) on {warm['n_samples']:,} x 8 points "
            f"({STARTUP_WORKLOAD}-shaped): median of {n_warm} (warm cache) and "
            f"{n_cold} (cold cache) processes"
        ),
    ]
    blocks = [
        header,
        table(
            ["start-up measure", "seconds", "goal"],
            "lrl",
            ([label, f"{value:.3f}", goal] for label, value, goal in rows),
        ),
    ]
    ro = result.get("readonly")
    if ro is not None:
        works = "works" if ro["works"] else "DOES NOT WORK"
        blocks.append(
            [
                f"Read-only package with NUMBA_CACHE_DIR set: the cache {works} "
                f"(the first process compiled, {ro['compile']:.1f} s of overhead, "
                f"and wrote {ro['cache_files']} cache files; the second loaded "
                f"them, {ro['load']:.2f} s of overhead; package writable: "
                f"{ro['package_writable']}, unchanged: {ro['package_unchanged']}"
                + ("" if ro["read_only_enforced"] else "; read-only NOT enforced")
                + ")"
            ]
        )
    return paragraphs(*blocks, [wall_time(result["seconds"])])
