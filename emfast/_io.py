"""Reading and writing the data files of the ``emfast`` command: ``.npy``,
``.csv`` / ``.tsv`` (header detected) and ``.parquet`` (with pyarrow)."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np

_MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}
DATA_SUFFIXES = (".npy", ".csv", ".tsv", ".txt", ".parquet")


def read_data(path) -> tuple[np.ndarray, list[str] | None]:
    """Read a data file into a 2-D float array, one point per row.

    ``.npy``: memory-mapped (read block by block by the kernels), float32
    kept, integers and booleans cast to float64. ``.csv``, ``.tsv``, ``.txt``:
    comma-, tab- or whitespace-separated numbers; a first row with any
    non-numeric field is the header; empty fields and NA, NaN, null, ? are
    missing values (NaN). ``.parquet``: every column must be numeric (needs
    pyarrow). Returns ``(X, column names or None)``.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, an unknown suffix, a non-numeric value (with its row
        and column), ragged rows, an empty file, or data that is not 2-D.
    ImportError
        A ``.parquet`` file without pyarrow installed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "points.csv"
    >>> _ = path.write_text("x,y\\n1,2\\n3,\\n")
    >>> X, names = read_data(path)
    >>> X.tolist(), names
    ([[1.0, 2.0], [3.0, nan]], ['x', 'y'])
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a data file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        X, names = _read_npy(path), None
    elif suffix in (".csv", ".tsv", ".txt"):
        X, names = _read_text(path, suffix)
    elif suffix == ".parquet":
        X, names = _read_parquet(path)
    else:
        raise ValueError(
            f"{path}: unknown data format {suffix or '(no suffix)'}; expected "
            + ", ".join(DATA_SUFFIXES)
        )
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array, got {X.ndim} dimensions")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path}: no data (shape {X.shape})")
    return X, names


def _read_npy(path: Path) -> np.ndarray:
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric .npy file ({exc})") from None
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: dtype {X.dtype} is not numeric")
    if X.dtype not in (np.float32, np.float64):
        X = np.asarray(X, dtype=np.float64)
    return X


def _number(text: str, row: int, column: int, path: Path) -> float:
    token = text.strip()
    if token.lower() in _MISSING:
        return math.nan
    try:
        return float(token)
    except ValueError:
        raise ValueError(
            f"{path}: non-numeric value {token!r} in row {row}, column {column}"
        ) from None


def _is_number(text: str) -> bool:
    token = text.strip()
    if token.lower() in _MISSING:
        return True
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_text(path: Path, suffix: str):
    with open(path, newline="") as f:
        sample = f.read(65536)
    if suffix == ".tsv" or ("\t" in sample and "," not in sample):
        delimiter = "\t"
    elif suffix == ".txt" and "," not in sample:
        delimiter = None  # whitespace
    else:
        delimiter = ","
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path}: the file is empty")
    first = lines[0].split(delimiter) if delimiter else lines[0].split()
    names = None
    if not all(_is_number(field) for field in first):
        names = [field.strip() for field in first]
    # Fast path: plain numbers (NumPy's C parser). Its "input contained no
    # data" warning is silenced: a header without data is an error below.
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message="loadtxt: input contained no data",
                category=UserWarning,
            )
            X = np.loadtxt(
                path,
                delimiter=delimiter,
                skiprows=_leading_lines(path) + (names is not None),
                ndmin=2,
            )
    except ValueError:
        X = None
    if X is not None and (names is None or X.shape[1] == len(names)):
        if X.shape[0] == 0:
            raise ValueError(f"{path}: a header but no data")
        return X, names
    # Slow path: missing values, or an error to locate.
    with open(path, newline="") as f:
        if delimiter is None:
            rows = [line.split() for line in f]
        else:
            rows = list(csv.reader(f, delimiter=delimiter))
    rows = [r for r in rows if r and any(field.strip() for field in r)]
    if names is not None:
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{path}: a header but no data")
    width = len(rows[0]) if names is None else len(names)
    X = np.empty((len(rows), width))
    first_row = 2 if names is not None else 1
    for i, fields in enumerate(rows):
        if len(fields) != width:
            raise ValueError(
                f"{path}: row {i + first_row} has {len(fields)} fields, "
                f"expected {width}"
            )
        X[i] = [_number(v, i + first_row, j + 1, path) for j, v in enumerate(fields)]
    return X, names


def _leading_lines(path: Path) -> int:
    """Blank lines before the first line with content."""
    count = 0
    with open(path) as f:
        for line in f:
            if line.strip():
                break
            count += 1
    return count


def _read_parquet(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"reading {path} needs pyarrow: pip install pyarrow"
        ) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable parquet file ({exc})") from None
    columns = []
    for name, column in zip(table.column_names, table.columns):
        values = column.to_numpy(zero_copy_only=False)
        if values.dtype.kind not in "biuf":
            raise ValueError(
                f"{path}: column {name!r} is not numeric (type {column.type})"
            )
        columns.append(values.astype(np.float64))
    if not columns:
        raise ValueError(f"{path}: no columns")
    return np.column_stack(columns), list(table.column_names)


def check_output(path) -> str:
    """The suffix of an output file of :func:`write_array` (``.npy``,
    ``.csv``, ``.tsv``, ``.txt``), or a ValueError for another one.

    Examples
    --------
    >>> check_output("states.CSV")
    '.csv'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in (".npy", ".csv", ".tsv", ".txt"):
        raise ValueError(
            f"{path}: unknown output format {suffix or '(no suffix)'}; use .npy or .csv"
        )
    return suffix


def write_array(path, values, header: list[str] | None = None) -> None:
    """Write a 1-D or 2-D array to ``.npy`` or ``.csv`` (by the suffix).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> write_array(path, np.array([0, 1, 1]), header=["label"])
    >>> path.read_text().split()
    ['label', '0', '1', '1']
    """
    path = Path(path)
    suffix = check_output(path)
    if suffix == ".npy":
        np.save(path, values)
        return
    delimiter = "\t" if suffix == ".tsv" else ","
    fmt = "%d" if values.dtype.kind in "iub" else "%.17g"
    np.savetxt(
        path,
        values,
        fmt=fmt,
        delimiter=delimiter,
        header=delimiter.join(header) if header else "",
        comments="",
    )


def read_lengths(path) -> np.ndarray:
    """Read a file of sequence lengths (hidden Markov models): ``.npy``, a
    1-D array of integers, or text, one integer per line (blank lines are
    skipped). Returns an int64 array of positive lengths.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, a value that is not a positive integer (with its
        line), or no lengths at all.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "lengths.txt"
    >>> _ = path.write_text("100\\n\\n250\\n")
    >>> read_lengths(path).tolist()
    [100, 250]
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a lengths file")
    if path.suffix.lower() == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{path}: not a numeric .npy file ({exc})") from None
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1 or values.dtype.kind not in "iuf":
            raise ValueError(
                f"{path}: expected a 1-D array of sequence lengths, got "
                f"{values.dtype} of shape {values.shape}"
            )
        bad = np.flatnonzero((values <= 0) | (values != np.round(values)))
        if bad.size:
            raise ValueError(
                f"{path}: sequence lengths must be positive integers, got "
                f"{values[bad[0]]} at index {bad[0]}"
            )
        lengths = values.astype(np.int64)
    else:
        lengths = []
        with open(path) as f:
            for number, line in enumerate(f, start=1):
                text = line.strip()
                if not text:
                    continue
                try:
                    value = int(text)
                except ValueError:
                    value = 0
                if value <= 0:
                    raise ValueError(
                        f"{path}: line {number}: expected a positive integer "
                        f"(a sequence length), got {text!r}"
                    )
                lengths.append(value)
        lengths = np.array(lengths, dtype=np.int64)
    if lengths.size == 0:
        raise ValueError(f"{path}: no sequence lengths")
    return lengths


def split_sequence_column(X, names, column: str, path):
    """Take the sequence-id column out of ``X``: consecutive rows with the
    same id form one sequence (a new one starts wherever the id changes).

    ``column`` is a 0-based column index (negative counts from the end) or,
    for a file with a header, a column name. Returns ``(X without the
    column, its names or None, lengths)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[7, 0.1], [7, 0.2], [3, 0.3], [7, 0.4]])
    >>> features, names, lengths = split_sequence_column(X, None, "0", "X.npy")
    >>> features.ravel().tolist(), lengths.tolist()
    ([0.1, 0.2, 0.3, 0.4], [2, 1, 1])
    """
    n_columns = X.shape[1]
    if names is not None and column in names:
        index = names.index(column)
    else:
        try:
            index = int(column)
        except ValueError:
            known = f" (columns: {', '.join(names)})" if names else ""
            raise ValueError(
                f"{path}: no column {column!r}{known}; give a 0-based index or "
                "a name from the header"
            ) from None
        if not -n_columns <= index < n_columns:
            raise ValueError(
                f"{path}: sequence column {index} is out of range: the file has "
                f"{n_columns} columns (0 to {n_columns - 1})"
            )
        index %= n_columns
    if n_columns < 2:
        raise ValueError(
            f"{path}: the sequence column is its only column; there are no "
            "features left"
        )
    ids = np.asarray(X[:, index])
    missing = np.flatnonzero(np.isnan(ids))
    if missing.size:
        raise ValueError(
            f"{path}: the sequence column has a missing value (row {missing[0]})"
        )
    starts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    lengths = np.diff(np.concatenate([[0], starts, [ids.size]])).astype(np.int64)
    features = np.delete(np.asarray(X), index, axis=1)
    if names is not None:
        names = names[:index] + names[index + 1 :]
    return features, names, lengths
