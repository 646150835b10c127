"""Offline intersphinx inventories for the documentation build.

Sphinx's intersphinx reads each project's ``objects.inv`` from its site. A
build without network access cannot, so ``conf.py`` gives each project a
second location: the inventory this module writes, which lists the names
emfast's pages cite, at the addresses those sites give them. With network
access the sites' own inventories are used.
"""

import zlib
from pathlib import Path

#: project -> (documentation root, {name: (domain:role, page#anchor or page)}).
#: A page ending in ``#`` gets the name as its anchor.
PROJECTS = {
    "python": (
        "https://docs.python.org/3/",
        {
            "str": ("py:class", "library/stdtypes.html#"),
            "int": ("py:class", "library/functions.html#"),
            "float": ("py:class", "library/functions.html#"),
            "bool": ("py:class", "library/functions.html#"),
            "dict": ("py:class", "library/stdtypes.html#"),
            "list": ("py:class", "library/stdtypes.html#"),
            "tuple": ("py:class", "library/stdtypes.html#"),
            "object": ("py:class", "library/functions.html#"),
            "callable": ("py:function", "library/functions.html#"),
            "None": ("py:data", "library/constants.html#"),
            "True": ("py:data", "library/constants.html#"),
            "False": ("py:data", "library/constants.html#"),
            "pathlib.Path": ("py:class", "library/pathlib.html#"),
            "os.PathLike": ("py:class", "library/os.html#"),
            "pickle": ("py:module", "library/pickle.html#module-pickle"),
            "path-like object": ("std:term", "glossary.html#term-path-like-object"),
            "iterable": ("std:term", "glossary.html#term-iterable"),
            "sequence": ("std:term", "glossary.html#term-sequence"),
            "bltin-boolean-values": (
                "std:label",
                "library/stdtypes.html#boolean-values",
            ),
        },
    ),
    "numpy": (
        "https://numpy.org/doc/stable/",
        {
            "numpy.ndarray": ("py:class", "reference/generated/numpy.ndarray.html#"),
            "numpy.dtype": ("py:class", "reference/generated/numpy.dtype.html#"),
            "numpy.memmap": ("py:class", "reference/generated/numpy.memmap.html#"),
            "numpy.load": ("py:function", "reference/generated/numpy.load.html#"),
            "numpy.savez": ("py:function", "reference/generated/numpy.savez.html#"),
            "numpy.float32": ("py:attribute", "reference/arrays.scalars.html#"),
            "numpy.float64": ("py:attribute", "reference/arrays.scalars.html#"),
            "numpy.nan": ("py:data", "reference/constants.html#"),
            "numpy.random.Generator": (
                "py:class",
                "reference/random/generator.html#",
            ),
            "numpy.random.RandomState": (
                "py:class",
                "reference/random/legacy.html#",
            ),
            "array_like": ("std:term", "glossary.html#term-array_like"),
        },
    ),
    "scipy": (
        "https://docs.scipy.org/doc/scipy/",
        {
            "scipy.stats.multivariate_normal": (
                "py:data",
                "reference/generated/scipy.stats.multivariate_normal.html#",
            ),
        },
    ),
    "sklearn": (
        "https://scikit-learn.org/stable/",
        {
            f"sklearn.{name}": ("py:class", f"modules/generated/sklearn.{name}.html#")
            for name in (
                "mixture.GaussianMixture",
                "mixture.BayesianGaussianMixture",
                "pipeline.Pipeline",
                "impute.SimpleImputer",
                "impute.IterativeImputer",
                "impute.KNNImputer",
                "base.BaseEstimator",
                "cluster.KMeans",
                "exceptions.ConvergenceWarning",
                "exceptions.NotFittedError",
            )
        }
        | {
            "sklearn.pipeline.make_pipeline": (
                "py:function",
                "modules/generated/sklearn.pipeline.make_pipeline.html#",
            ),
            "sklearn.mixture": ("py:module", "api/sklearn.mixture.html#module-$"),
            "random_state": ("std:term", "glossary.html#term-random_state"),
        },
    ),
    "dask": (
        "https://docs.dask.org/en/stable/",
        {
            "dask.array.Array": ("py:class", "generated/dask.array.Array.html#"),
        },
    ),
    "distributed": (
        "https://distributed.dask.org/en/stable/",
        {
            "distributed.Client": ("py:class", "api.html#"),
            "distributed.LocalCluster": ("py:class", "api.html#"),
        },
    ),
    "pandas": (
        "https://pandas.pydata.org/docs/",
        {
            "pandas.DataFrame": (
                "py:class",
                "reference/api/pandas.DataFrame.html#",
            ),
        },
    ),
    "matplotlib": (
        "https://matplotlib.org/stable/",
        {
            "matplotlib.axes.Axes": (
                "py:class",
                "api/_as_gen/matplotlib.axes.Axes.html#",
            ),
            "matplotlib.figure.Figure": (
                "py:class",
                "api/_as_gen/matplotlib.figure.Figure.html#",
            ),
        },
    ),
    "hmmlearn": (
        "https://hmmlearn.readthedocs.io/en/stable/",
        {
            "hmmlearn.hmm.GaussianHMM": ("py:class", "api.html#"),
            "hmmlearn.hmm.GMMHMM": ("py:class", "api.html#"),
            "hmmlearn": ("py:module", "api.html#module-$"),
        },
    ),
}


def inventory_bytes(project, entries):
    """One ``objects.inv`` (Sphinx inventory version 2) as bytes."""
    lines = []
    for name, (role, page) in sorted(entries.items()):
        uri = page + "$" if page.endswith("#") else page
        lines.append(f"{name} {role} 1 {uri} -\n")
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: stable\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    return header.encode() + zlib.compress("".join(lines).encode())


def write_inventories(directory):
    """Write every project's inventory into ``directory``.

    Returns ``{project: (documentation root, inventory path)}``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for project, (url, entries) in PROJECTS.items():
        path = directory / f"{project}.inv"
        path.write_bytes(inventory_bytes(project, entries))
        out[project] = (url, path)
    return out
