"""Check the oldest environment that .ci/oldest built: every pin in the
constraints file is installed at exactly that version, and it is the minimum
that pyproject.toml declares (for the dependencies and the extras named on
the command line), so the two files cannot drift apart.

    python .ci/check_oldest.py CONSTRAINTS PYPROJECT EXTRA...
"""

import sys
from importlib.metadata import PackageNotFoundError, version

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10: pytest (the test extra) brings tomli
    import tomli as tomllib


def main(constraints_path, pyproject_path, *extras):
    pins = {}
    with open(constraints_path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, pinned = line.partition("==")
                pins[canonicalize_name(name)] = Version(pinned.strip())

    with open(pyproject_path, "rb") as f:
        project = tomllib.load(f)["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]

    errors = []
    declared = set()
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        declared.add(name)
        minimums = [Version(s.version) for s in req.specifier if s.operator == ">="]
        if name not in pins:
            errors.append(f"{req.name}: declared ({text}) but not pinned")
        elif minimums and max(minimums) != pins[name]:
            errors.append(f"{req.name}: declares {text}, pinned =={pins[name]}")
    for name, pinned in sorted(pins.items()):
        if name not in declared:
            errors.append(f"{name}: pinned =={pinned} but declared nowhere")
        try:
            installed = Version(version(name))
        except PackageNotFoundError:
            errors.append(f"{name}: pinned =={pinned} but not installed")
            continue
        if installed != pinned:
            errors.append(f"{name}: pinned =={pinned}, installed {installed}")

    if errors:
        print("check_oldest: the oldest environment is not the declared one:")
        for error in errors:
            print(f"  {error}")
        return 1
    summary = ", ".join(f"{name} {pinned}" for name, pinned in sorted(pins.items()))
    print(f"check_oldest: Python {sys.version.split()[0]}; {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
