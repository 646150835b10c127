"""Write tests/golden/gaussian_mixture.npz: the outputs of every case of the
grid in ``grid.py`` from the installed emfast.

    python tests/golden/make_golden.py [--output PATH]

Regenerating the committed file is allowed only with a written explanation
of every difference (see README.md). The file is read with
``allow_pickle=False``: plain arrays only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grid

GOLDEN_FILE = Path(__file__).resolve().parent / "gaussian_mixture.npz"


def build(names=None, progress=False):
    """{key: ndarray} of the whole file: "versions", "data/...", and
    "{case}/{attribute}" for every case."""
    arrays = {"versions": np.array([grid.versions_json()])}
    arrays.update(grid.data_arrays())
    names = grid.case_names() if names is None else names
    for i, name in enumerate(names):
        for attr, value in grid.run_case(name).items():
            arrays[f"{name}/{attr}"] = value
        if progress and (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(names)} cases", file=sys.stderr)
    return arrays


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=GOLDEN_FILE)
    args = parser.parse_args(argv)

    import emfast

    print(f"emfast from {Path(emfast.__file__).parent}")
    print(f"versions: {grid.versions_json()}")
    start = time.perf_counter()
    grid.run_case(grid.case_names()[0])  # JIT compile (or cache load) first
    compiled = time.perf_counter()
    arrays = build(progress=True)
    done = time.perf_counter()
    np.savez_compressed(args.output, **arrays)
    names = grid.case_names()
    errors = [n for n in names if f"{n}/error" in arrays]
    print(
        f"{len(names)} cases, {len(arrays)} arrays, "
        f"{args.output.stat().st_size / 1e6:.2f} MB -> {args.output}\n"
        f"first case (JIT compile or cache load) {compiled - start:.1f} s, "
        f"grid {done - compiled:.1f} s"
    )
    for name in errors:
        kind, message = arrays[f"{name}/error"]
        print(f"  raised: {name}: {kind}: {message}")


if __name__ == "__main__":
    main()
