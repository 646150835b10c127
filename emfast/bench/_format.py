"""The pieces of the Markdown reports the ``format_*`` functions print: the
machine line, tables, cells, and paragraphs."""

from __future__ import annotations

_VERSION_LABELS = {
    "python": "Python",
    "numpy": "NumPy",
    "numba": "Numba",
    "scikit-learn": "scikit-learn",
}
_ALIGN = {"l": "---", "r": "--:"}
# The columns that name a workload's data, and their alignment.
WORKLOAD_COLUMNS = ["workload", "N", "D", "K", "covariance"]
WORKLOAD_ALIGN = "lrrrl"


def cpus(machine: dict, numba_threads: bool = True) -> str:
    """``Machine: <cpu>, <n> CPUs (<t> Numba threads)``."""
    text = f"Machine: {machine['cpu']}, {machine['n_cpus']} CPUs"
    if numba_threads:
        text += f" ({machine['numba_threads']} Numba threads)"
    return text


def versions(machine: dict, libraries, extra=()) -> str:
    """``Python 3.12.1, NumPy 2.1.0, ...``: the versions of ``libraries``
    (keys of :func:`machine_info`), then the ``(label, version)`` pairs of
    ``extra``."""
    pairs = [(_VERSION_LABELS[name], machine[name]) for name in libraries]
    return ", ".join(f"{label} {version}" for label, version in [*pairs, *extra])


def machine_line(machine: dict, libraries, extra=()) -> str:
    """The first line of a report: CPUs, Numba threads and versions.

    Examples
    --------
    >>> from emfast.bench._format import machine_line
    >>> m = {"cpu": "x86", "n_cpus": 2, "numba_threads": 2, "python": "3.12",
    ...      "numpy": "2.1"}
    >>> machine_line(m, ("python", "numpy"), extra=[("Dask", "2024.1")])
    'Machine: x86, 2 CPUs (2 Numba threads); Python 3.12, NumPy 2.1, Dask 2024.1'
    """
    return f"{cpus(machine)}; {versions(machine, libraries, extra)}"


def table(columns, align: str, rows) -> list[str]:
    """The lines of a Markdown table.

    Parameters
    ----------
    columns : list of str
        Column titles.
    align : str
        One letter a column: ``'l'`` (left) or ``'r'`` (right).
    rows : iterable of lists
        The cells of each row (formatted with ``str``).

    Examples
    --------
    >>> from emfast.bench._format import table
    >>> print("\\n".join(table(["name", "seconds"], "lr", [["a", "1.5"]])))
    | name | seconds |
    |---|--:|
    | a | 1.5 |
    """
    if len(align) != len(columns):
        raise ValueError(f"{len(columns)} columns but alignment {align!r}")
    return [
        _row(columns),
        f"|{'|'.join(_ALIGN[a] for a in align)}|",
        *(_row(cells) for cells in rows),
    ]


def _row(cells) -> str:
    return f"| {' | '.join(str(cell) for cell in cells)} |"


def workload_cells(r: dict) -> list:
    """The cells of :data:`WORKLOAD_COLUMNS` for a result."""
    return [r["workload"], *size_cells(r), r["covariance_type"]]


def size_cells(r: dict) -> list:
    """N (with thousands separators), D and K of a result."""
    return [f"{r['n_samples']:,}", r["n_features"], r["n_components"]]


def fmt(value, spec: str, suffix: str = "", missing: str = "-") -> str:
    """``format(value, spec) + suffix``, or ``missing`` when value is None."""
    return missing if value is None else format(value, spec) + suffix


def verdict(within: bool) -> str:
    return "within" if within else "OVER"


def quick_note(settings: dict) -> str:
    """`` (--quick sizes)`` when the sizes were ``--quick``'s."""
    quick = settings["quick"] and settings["n_samples"] is None
    return " (--quick sizes)" if quick else ""


def wall_time(seconds: float) -> str:
    return f"Total wall time: {seconds:.0f} s"


def paragraphs(*blocks) -> str:
    """Blocks of lines, a blank line between two blocks."""
    return "\n\n".join("\n".join(block) for block in blocks)
