"""Time one EM iteration of emfast and sklearn side by side, and measure the
peak memory of an emfast fit in a fresh process.

    python benchmarks/bench_w2.py                      # W2, full size
    python benchmarks/bench_w2.py --workload W3 --n-samples 200000

Both libraries start each repeat from the same initial parameters (uniform
weights, means at random data points, the data's covariance); the iteration
is emfast's fused E-step pass plus its M-step, and sklearn's ``_e_step`` plus
``_m_step``. The median over ``--repeat`` runs is reported, with the ratio.

Peak memory: the data are written to a temporary .npy file; a fresh Python
process imports emfast, warms up the JIT on a small slice, records its RSS,
loads the data, runs ``GaussianMixture(K).fit(X)`` (default k-means
initialization) and reads its peak RSS (VmHWM, reset after the warm-up). The
increase is compared with the data's size + 10 % + 64 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from statistics import median
from time import perf_counter

import numpy as np
from benchmarks.common import (
    WORKLOAD_NAMES,
    emfast_iteration,
    initial_parameters,
    sklearn_estimator,
    sklearn_iteration,
    workload_data,
)

MIB = 2**20

# Runs in the fresh process; argv: data.npy n_components covariance_type.
_PEAK_RSS_SCRIPT = r"""
import json, sys, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from emfast import GaussianMixture

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field + " not in /proc/self/status")

path, n_components, covariance_type = sys.argv[1], int(sys.argv[2]), sys.argv[3]
header = np.load(path, mmap_mode="r")
warm = np.array(header[: 50 * n_components])
del header
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    GaussianMixture(n_components, covariance_type=covariance_type,
                    max_iter=2, random_state=0).fit(warm)
del warm
baseline = status("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    reset = True
except OSError:
    reset = False
X = np.load(path)
after_load = status("VmRSS")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ConvergenceWarning)
    gm = GaussianMixture(n_components, covariance_type=covariance_type,
                         random_state=0).fit(X)
print(json.dumps({
    "baseline": baseline, "after_load": after_load, "peak": status("VmHWM"),
    "peak_reset": reset, "data_bytes": X.nbytes, "n_iter": gm.n_iter_,
    "converged": gm.converged_, "lower_bound": gm.lower_bound_,
}))
"""


def time_iterations(X, parameters, covariance_type, repeat, skip_sklearn):
    """Median seconds of one EM iteration per library, and the largest
    relative difference between the two libraries' updated means."""
    emfast_iteration(X, parameters, covariance_type)  # compile / load cache
    emfast_times = []
    for _ in range(repeat):
        start = perf_counter()
        ours = emfast_iteration(X, parameters, covariance_type)
        emfast_times.append(perf_counter() - start)
    if skip_sklearn:
        return median(emfast_times), None, None
    sklearn_times = []
    for _ in range(repeat):
        sk = sklearn_estimator(parameters, covariance_type)
        start = perf_counter()
        sklearn_iteration(sk, X)
        sklearn_times.append(perf_counter() - start)
    scale = np.abs(sk.means_).max()
    mean_diff = float(np.abs(ours.means - sk.means_).max() / scale)
    return median(emfast_times), median(sklearn_times), mean_diff


def peak_rss(X, n_components, covariance_type):
    """Peak-RSS measurement of a full emfast fit in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npy")
        np.save(path, X)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _PEAK_RSS_SCRIPT,
                path,
                str(n_components),
                covariance_type,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="W2", choices=WORKLOAD_NAMES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--n-samples",
        type=int,
        default=None,
        help="override the workload's number of samples",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-sklearn", action="store_true", help="time emfast only")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory measurement"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    X, w = workload_data(args.workload, args.n_samples, seed=args.seed)
    parameters = initial_parameters(X, w.n_components, w.covariance_type, args.seed)
    print(
        f"{w.name}: {X.shape[0]:,} x {X.shape[1]}, {w.n_components} components, "
        f"'{w.covariance_type}' covariance; {os.cpu_count()} CPUs; "
        f"median of {args.repeat}"
    )
    t_emfast, t_sklearn, mean_diff = time_iterations(
        X, parameters, w.covariance_type, args.repeat, args.no_sklearn
    )

    print()
    print("| measure | emfast | sklearn | ratio |")
    print("|---|---|---|---|")
    if t_sklearn is None:
        print(f"| one EM iteration (s) | {t_emfast:.3f} | - | - |")
    else:
        print(
            f"| one EM iteration (s) | {t_emfast:.3f} | {t_sklearn:.3f} "
            f"| {t_sklearn / t_emfast:.1f}x faster |"
        )
    if not args.no_memory:
        m = peak_rss(X, w.n_components, w.covariance_type)
        data = m["data_bytes"]
        increase = m["peak"] - m["baseline"]
        limit = 1.1 * data + 64 * MIB
        verdict = "within" if increase <= limit else "OVER"
        print(
            f"| fit peak RSS over baseline (MiB) | {increase / MIB:.0f} | - "
            f"| {verdict} data + 10 % + 64 MiB = {limit / MIB:.0f} |"
        )
    print()
    if mean_diff is not None:
        print(f"means after one iteration: max relative difference {mean_diff:.1e}")
    if not args.no_memory:
        print(
            f"memory: data {data / MIB:.0f} MiB; process RSS {m['baseline'] / MIB:.0f}"
            f" MiB before loading, {m['after_load'] / MIB:.0f} MiB after, peak "
            f"{m['peak'] / MIB:.0f} MiB during the fit ({m['n_iter']} iterations, "
            f"converged={m['converged']})"
            + ("" if m["peak_reset"] else "; VmHWM could not be reset")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
