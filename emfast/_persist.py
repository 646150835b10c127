"""Save and load fitted models without pickle.

A model file is one ``.npz`` archive (written by :func:`numpy.savez`) of
plain numeric and unicode arrays, one of which is a JSON string of the
constructor parameters. It is read with ``np.load(allow_pickle=False)`` and
validated in full before a model is built, so loading a file runs no code
from it and a damaged or tampered file gives a ``ValueError`` that says what
is wrong.

Every file (format version 1) holds:

- ``format`` (the model's name, e.g. ``'emfast.GaussianMixture'``,
  ``'emfast.GaussianHMM'``), ``format_version`` (1), ``emfast_version``
  (the writer's ``emfast.__version__``);
- ``params``: ``get_params()`` as JSON; an array-valued parameter (the
  class's ``_array_params``: ``means_init``, an HMM's priors...) appears
  there as ``{"__ndarray__": name}`` and is stored as the array ``name``;
- ``dtype`` (``'float32'`` or ``'float64'``): the dtype of the fitted
  parameter arrays;
- the entries the model class declares in ``_saved_fields`` (a tuple of
  :class:`Saved`: key, kind, shape, checks), and the float64 arrays named
  by ``_saved_extras``, which the class checks itself
  (``_restore_extras``).

A ``GaussianMixture`` or ``BayesianGaussianMixture`` file holds
``n_features_in_``, ``weights_``, ``means_``, ``covariances_``,
``precisions_cholesky_``, ``precisions_``, ``converged_``, ``n_iter_``,
``lower_bound_``, ``lower_bounds_`` and, when the model has them,
``n_samples_omitted_`` and ``feature_names_in_``. A ``GaussianHMM`` or
``GMMHMM`` file holds ``n_features``, ``startprob_``, ``transmat_``,
``monitor_history`` and ``monitor_iter`` (its ``monitor_``), ``means_``,
``covars_`` and, for ``GMMHMM``, ``weights_``.

A new model class registers its format name (:func:`register`), inherits
:class:`PersistentModel` and declares its entries; nothing here changes.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import ClassVar

import numpy as np
from scipy.linalg import solve_triangular
from sklearn.utils.validation import check_is_fitted

FORMAT_VERSION = 1

# Model classes by format name, filled by ``register`` in each model's module.
_REGISTRY: dict[str, type] = {}


def register(format_name: str):
    """Class decorator: files with ``format`` = ``format_name`` hold models
    of the decorated class."""

    def decorate(cls):
        if format_name in _REGISTRY:
            raise ValueError(f"format {format_name!r} is already registered")
        _REGISTRY[format_name] = cls
        cls._format_name = format_name
        return cls

    return decorate


_FLOAT_DTYPES = ("float32", "float64")
_ARRAY_MARKER = "__ndarray__"
_HEADER_KEYS = frozenset(("format", "format_version", "emfast_version"))
_COMMON_KEYS = _HEADER_KEYS | {"params", "dtype"}
# First bytes of a zip archive: a local file header, or the end record of an
# empty archive (the two prefixes np.load recognises).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# What ``Saved.value_of`` gives for an attribute the model does not have.
_ABSENT = object()


class _FormatError(ValueError):
    """What is wrong with a model file; re-raised with the file's name."""


# ------------------------------------------------------------- entries


@dataclass(frozen=True)
class Saved:
    """One entry of a model file, as a model class declares it in its
    ``_saved_fields``.

    Parameters
    ----------
    name : str
        The key in the file, and the model's attribute unless ``get`` and
        ``put`` say otherwise.
    kind : {'params', 'float64', 'int', 'bool', 'bound', 'bounds', 'names'}
        How it is stored and checked. 'params': a float array in the file's
        ``dtype``, finite; 'float64': a finite float64 array; 'int': an
        integer scalar (a Python int) of at least ``minimum``; 'bool': a
        bool scalar; 'bound': a float scalar (``np.float64``), not NaN or
        +inf (-inf is what a fit of no iteration leaves); 'bounds': a 1-D
        float array (a list of float), no NaN or +inf; 'names': a 1-D
        unicode array (an object array of str, as scikit-learn keeps
        feature names).
    shape : tuple or dict, default=None
        The expected shape of an array, as sizes: ints, or names of
        constructor parameters or of 'int' entries declared before it, e.g.
        ``("n_components", "n_features")``; or a dict of such shapes by
        ``covariance_type``. None: not checked here.
    checks : tuple of callables, default=()
        ``check(name, value, params)``, raising ValueError: what else the
        value must satisfy (:func:`probabilities`,
        :func:`positive_definite`).
    optional : bool, default=False
        The entry may be absent (a model without the attribute).
    minimum : int, default=None
        The least value of an 'int'.
    get, put : callable, default=None
        ``get(model)`` and ``put(model, value)`` in place of reading and
        setting the attribute ``name``.

    Examples
    --------
    >>> from emfast._persist import Saved, probabilities
    >>> entry = Saved("transmat_", "params", ("n_components", "n_components"),
    ...               checks=(probabilities(),))
    >>> entry.name, entry.kind
    ('transmat_', 'params')
    """

    name: str
    kind: str
    shape: tuple | dict | None = None
    checks: tuple = ()
    optional: bool = False
    minimum: int | None = None
    get: Callable | None = None
    put: Callable | None = None

    def value_of(self, model):
        """The model's value of this entry; ``_ABSENT`` when it has none."""
        try:
            return self.get(model) if self.get else getattr(model, self.name)
        except AttributeError:
            return _ABSENT

    def set_on(self, model, value) -> None:
        """Give a loaded (checked) value to the model."""
        if self.put:
            self.put(model, value)
        else:
            setattr(model, self.name, value)


def _names_to_file(value):
    names = [str(name) for name in value]
    stored = np.array(names, dtype=np.str_)
    if stored.tolist() != names:  # numpy strips trailing NUL characters
        raise _FormatError(
            "feature_names_in_ holds names that a unicode array cannot keep "
            "(trailing NUL characters)"
        )
    return stored


# How each kind of entry goes into the file (value, the file's dtype).
_TO_FILE = {
    "params": lambda value, dtype: np.asarray(value),
    "float64": lambda value, dtype: np.asarray(value, dtype=np.float64),
    "int": lambda value, dtype: np.array(value, dtype=np.int64),
    "bool": lambda value, dtype: np.array(value, dtype=bool),
    "bound": lambda value, dtype: np.array(value, dtype=np.float64),
    "bounds": lambda value, dtype: np.array(list(value), dtype=np.float64).reshape(-1),
    "names": lambda value, dtype: _names_to_file(value),
}


# ------------------------------------------------------------------ checks


def probabilities(tol: float | None = None):
    """A check (for :class:`Saved`): non-negative values that sum to 1
    along the last axis, within ``tol``.

    Parameters
    ----------
    tol : float, default=None
        The largest difference of a sum from 1; None: scikit-learn's for
        ``weights_init`` (1e-6 for float32 values, 1e-8 for float64).

    Returns
    -------
    check : callable
        ``check(name, value, params)``, raising ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> from emfast._persist import probabilities
    >>> probabilities()("transmat_", np.array([[0.9, 0.1], [0.5, 0.6]]), {})
    Traceback (most recent call last):
    ...
    ValueError: transmat_[1] sums to 1.1, not 1
    """

    def check(name, value, params):
        limit = tol
        if limit is None:
            limit = 1e-6 if value.dtype == np.float32 else 1e-8
        value = value.astype(np.float64)
        if (value < 0).any():
            raise ValueError(f"{name} has negative values (min {value.min():g})")
        for index in np.ndindex(value.shape[:-1]):
            total = math.fsum(value[index])
            if not abs(total - 1.0) <= limit:
                if index:
                    raise ValueError(f"{name}{list(index)} sums to {total:.12g}, not 1")
                raise ValueError(f"{name} sum to {total:.12g}, not 1")

    return check


def positive_definite(name, value, params):
    """A check (for :class:`Saved`): covariances by
    ``params['covariance_type']``, symmetric positive-definite matrices
    (the last two axes) for 'full' and 'tied', positive variances for
    'diag' and 'spherical'. Symmetry is checked as hmmlearn does
    (``np.allclose(c, c.T)``).

    Examples
    --------
    >>> import numpy as np
    >>> from emfast._persist import positive_definite
    >>> c = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]])
    >>> positive_definite("covars_", c, {"covariance_type": "full"})
    Traceback (most recent call last):
    ...
    ValueError: covars_[1] is not positive definite (smallest eigenvalue -1)
    """
    if params["covariance_type"] not in ("full", "tied"):
        if not (value > 0).all():
            raise ValueError(
                f"{name} has values <= 0 (min {value.min():g}): variances must "
                "be positive"
            )
        return
    for index in np.ndindex(value.shape[:-2]):
        matrix = value[index].astype(np.float64)
        where = list(index) if index else ""
        if not np.allclose(matrix, matrix.T):
            raise ValueError(f"{name}{where} is not symmetric")
        smallest = np.linalg.eigvalsh(matrix).min()
        if not smallest > 0:
            raise ValueError(
                f"{name}{where} is not positive definite (smallest eigenvalue "
                f"{smallest:g})"
            )


def precisions_match(values, params) -> None:
    """A mixture's check of its entries together (``_saved_checks``):
    ``precisions_cholesky_`` is the Cholesky factor of the inverse of
    ``covariances_``, and ``precisions_`` is its product with its
    transpose (see ``_check_precisions``)."""
    _check_precisions(
        values["covariances_"],
        values["precisions_cholesky_"],
        values["precisions_"],
        params["covariance_type"],
        np.finfo(values["covariances_"].dtype).eps,
    )


# ------------------------------------------------------------------- save


class PersistentModel:
    """What makes a model class savable (a mixin): :meth:`save`, and the
    declarations :func:`save_model` and :func:`load` read.

    A subclass registers its format name (:func:`register`) and declares
    ``_saved_fields`` (a tuple of :class:`Saved`), and as needed
    ``_array_params`` (constructor parameters that may be numeric arrays),
    ``_saved_checks`` (functions ``check(values, params)`` of the entries
    together), ``_saved_extras`` with ``_restore_extras`` (float64 arrays it
    checks itself), ``_check_loaded_params``, ``_model_kind`` (its kind
    of model, in words) and ``_later_params`` (constructor parameters added
    after its first file format: a file without them loads with their
    defaults).

    Examples
    --------
    >>> from emfast import GaussianHMM, GaussianMixture
    >>> from emfast._persist import PersistentModel
    >>> issubclass(GaussianMixture, PersistentModel)
    True
    >>> [entry.name for entry in GaussianHMM._saved_fields][:3]
    ['n_features', 'startprob_', 'transmat_']
    """

    _format_name: ClassVar[str]
    _model_kind: ClassVar[str] = "model"
    _array_params: ClassVar[tuple] = ()
    _saved_fields: ClassVar[tuple] = ()
    _saved_checks: ClassVar[tuple] = ()
    _saved_extras: ClassVar[tuple] = ()
    _later_params: ClassVar[tuple] = ()

    @classmethod
    def _check_loaded_params(cls, params, values):
        """Check a loaded file's array parameters as ``fit`` would, given
        its checked entries (ValueError)."""

    def _restore_extras(self, extras):
        """Set the ``_saved_extras`` attributes from a loaded file's arrays
        (checked finite); ValueError when they do not fit the model."""

    def save(self, path):
        """Save the fitted model to one ``.npz`` file, without pickle.

        The file holds plain arrays and the constructor parameters as JSON;
        :func:`emfast.load` reads it back with ``allow_pickle=False`` and
        validates it. See :func:`emfast.load` for what is checked.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write. ``'.npz'`` is appended to a path that does not
            end with it (as :func:`numpy.savez` does); :func:`emfast.load`
            given the same path finds the file.

        Returns
        -------
        path : pathlib.Path
            The file written.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If ``random_state`` is a ``RandomState`` or ``Generator`` (only
            None or an int can be saved without pickle: use
            ``set_params(random_state=...)`` first), another parameter is
            not None, bool, int, float, str or a numeric array, or the
            fitted attributes are inconsistent (see :func:`emfast.load`).

        See Also
        --------
        emfast.load : Read the file back.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> import emfast
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> gm = emfast.GaussianMixture(2, random_state=0).fit(X)
        >>> hmm = emfast.GaussianHMM(2, random_state=0).fit(X, lengths=[50, 150])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     written = gm.save(Path(tmp) / "model")
        ...     loaded = emfast.load(Path(tmp) / "model")
        ...     loaded_hmm = emfast.load(hmm.save(Path(tmp) / "hmm.npz"))
        >>> written.name
        'model.npz'
        >>> bool(np.array_equal(loaded.predict(X), gm.predict(X)))
        True
        >>> bool(loaded_hmm.score(X, [50, 150]) == hmm.score(X, [50, 150]))
        True
        """
        return save_model(self, path)


def save_model(estimator, path: str | os.PathLike) -> Path:
    """Save a fitted emfast model to one ``.npz`` file.

    The file holds plain arrays and a JSON string only (no pickle); see
    :func:`load`. It is written to a temporary file in the same folder and
    then renamed, so an interrupted save never leaves a truncated model file
    behind, and the contents are validated as :func:`load` would validate
    them before anything is written.

    Parameters
    ----------
    estimator : GaussianMixture, BayesianGaussianMixture, GaussianHMM or GMMHMM
        A fitted model.
    path : str or os.PathLike
        Where to write. As with :func:`numpy.savez`, ``'.npz'`` is appended
        to a path that does not end with it; :func:`load` given the same
        path finds the file.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If a parameter cannot be stored without pickle: ``random_state`` must
        be None or an int (a ``RandomState`` instance is refused rather than
        silently dropped; ``estimator.set_params(random_state=None)`` first
        if its state does not matter), other parameters None, bool, int,
        float or str, and array parameters numeric. Also if the fitted
        attributes are missing or inconsistent (see :func:`load`).

    See Also
    --------
    load : Read the file back.
    GaussianMixture.save, GaussianHMM.save : The same, as a method.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from emfast import GaussianMixture, load
    >>> from emfast._persist import save_model
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = save_model(gm, Path(tmp) / "model")
    ...     loaded = load(Path(tmp) / "model")
    >>> written.name
    'model.npz'
    >>> bool(np.array_equal(loaded.score_samples(X), gm.score_samples(X)))
    True
    """
    if type(estimator) not in _REGISTRY.values():
        raise TypeError(
            f"save_model expects {_registered_models()}, got {type(estimator).__name__}"
        )
    check_is_fitted(estimator)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not str(path).endswith(".npz"):
        path = path.with_name(path.name + ".npz")
    try:
        contents = _contents_from_model(estimator)
        _model_from_contents(contents)
    except _FormatError as exc:
        raise ValueError(f"cannot save the model: {exc}") from exc.__cause__
    # Write next to the target and rename: the rename is atomic, so readers
    # see the old file or the new one, never half a file.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **contents)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _registered_models() -> str:
    """'an emfast model (A, B) or hidden Markov model (C, D)': the
    registered classes by kind."""
    kinds: dict[str, list[str]] = {}
    for cls in _REGISTRY.values():
        kinds.setdefault(cls._model_kind, []).append(cls.__name__)
    order = sorted(kinds, key=lambda kind: (kind != "model", kind))
    groups = [f"{kind} ({', '.join(sorted(kinds[kind]))})" for kind in order]
    return "an emfast " + " or ".join(groups)


def _contents_from_model(estimator) -> dict[str, np.ndarray]:
    """The arrays of the file (format version 1) for a fitted model."""
    cls = type(estimator)
    params = {}
    arrays = {}
    for name, value in estimator.get_params(deep=False).items():
        if name in cls._array_params and not (
            value is None or isinstance(value, (Real, np.number))
        ):
            try:
                array = np.asarray(value)
            except ValueError as exc:  # ragged nested lists
                raise _FormatError(f"parameter {name} is not an array ({exc})") from exc
            if array.dtype.kind not in "fiu":
                raise _FormatError(
                    f"parameter {name} has dtype {array.dtype}; only numeric "
                    "arrays can be saved"
                )
            arrays[name] = array
            params[name] = {_ARRAY_MARKER: name}
        else:
            params[name] = _json_scalar(name, value)

    values = {field.name: field.value_of(estimator) for field in cls._saved_fields}
    missing = [
        field.name
        for field in cls._saved_fields
        if values[field.name] is _ABSENT and not field.optional
    ]
    values = {name: value for name, value in values.items() if value is not _ABSENT}
    missing += [name for name in cls._saved_extras if not hasattr(estimator, name)]
    if missing:
        raise _FormatError(f"the model lacks the fitted attributes {missing}")
    first = next(f.name for f in cls._saved_fields if f.kind == "params")
    dtype = np.asarray(values[first]).dtype
    contents = {
        "format": np.array(cls._format_name),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "emfast_version": np.array(_emfast_version()),
        "params": np.array(json.dumps(params, sort_keys=True)),
        "dtype": np.array(dtype.name),
        **arrays,
    }
    for field in cls._saved_fields:
        if field.name in values:
            contents[field.name] = _TO_FILE[field.kind](values[field.name], dtype)
    for name in cls._saved_extras:
        contents[name] = np.asarray(getattr(estimator, name), dtype=np.float64)
    return contents


def _json_scalar(name: str, value):
    """A constructor parameter as a JSON value, or a clear error."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if name == "random_state":
        raise _FormatError(
            f"random_state={value!r} cannot be saved without pickle; set it to "
            "None or an int first, e.g. model.set_params(random_state=0)"
        )
    raise _FormatError(
        f"parameter {name}={value!r} cannot be saved: only None, bool, int, "
        "float and str values can be"
    )


def _emfast_version() -> str:
    from . import __version__

    return __version__


# ------------------------------------------------------------------- load


def load(path: str | os.PathLike) -> object:
    """Load a model saved by ``save`` (:meth:`GaussianMixture.save`,
    :meth:`GaussianHMM.save`, ...).

    The file is read with ``np.load(allow_pickle=False)``: nothing in it is
    executed (no pickle, no eval). Everything is checked before the model is
    built: the format name and version, the set of keys, every array's
    dtype and shape (against ``n_components``, the number of features,
    ``n_mix`` and ``covariance_type``), that the parameters are finite and
    that the constructor parameters pass the class's parameter validation.
    For a mixture, that the weights are non-negative and sum to 1, that
    ``precisions_cholesky_`` is the upper-triangular Cholesky factor
    (positive diagonal) of the inverse of ``covariances_`` and that
    ``precisions_`` matches it. For a hidden Markov model, that
    ``startprob_``, each row of ``transmat_`` (and of a ``GMMHMM``'s
    ``weights_``) are non-negative and sum to 1 (within hmmlearn's
    tolerance), and that the covariances are positive definite. The loaded
    model predicts, scores, decodes and samples exactly as the saved one
    did.

    Parameters
    ----------
    path : str or os.PathLike
        The file. A path that does not exist and does not end with ``'.npz'``
        is tried with ``'.npz'`` appended, as ``save`` appends it.

    Returns
    -------
    model : GaussianMixture, BayesianGaussianMixture, GaussianHMM or GMMHMM
        The fitted model. Array-valued parameters (``means_init``, an HMM's
        priors etc.) come back as NumPy arrays of the dtype they were saved
        with, even if they were lists; ``feature_names_in_`` as an object
        array of str, as scikit-learn sets it. A ``GaussianHMM``'s
        'spherical' covariances come back as one variance per state (hmmlearn
        accepts that shape and the (n_components, n_features) one a fit
        leaves, with equal columns).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the path is a directory or the file is not a valid model file:
        not an ``.npz`` archive, truncated or corrupted, keys missing or
        unexpected, an unknown format or a newer format version, a wrong
        dtype (including object arrays, which would need pickle), wrong
        shapes, non-finite values, probabilities that are negative or do not
        sum to 1, covariances or precisions inconsistent or not positive
        definite, invalid constructor parameters, or unreadable JSON.

    See Also
    --------
    GaussianMixture.save, GaussianHMM.save : Write the file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import emfast
    >>> X = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    >>> gm = emfast.GaussianMixture(2, covariance_type="diag", random_state=0)
    >>> gm = gm.fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = gm.save(Path(tmp) / "model.npz")
    ...     loaded = emfast.load(Path(tmp) / "model.npz")
    >>> loaded.means_.dtype, loaded.covariance_type
    (dtype('float32'), 'diag')
    >>> bool(np.array_equal(loaded.predict_proba(X), gm.predict_proba(X)))
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = _resolve_load_path(Path(path))
    try:
        contents = _read_npz(path)
        return _model_from_contents(contents)
    except _FormatError as exc:
        raise ValueError(
            f"{str(path)!r} is not a valid emfast model file: {exc}"
        ) from exc.__cause__


def _resolve_load_path(path: Path) -> Path:
    candidates = [path]
    if not str(path).endswith(".npz"):
        candidates.append(path.with_name(path.name + ".npz"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not an emfast model file")
    tried = " or ".join(repr(str(c)) for c in candidates)
    raise FileNotFoundError(f"no emfast model file at {tried}")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, the header keys checked first (a file of
    a newer format is reported as such, whatever else it holds)."""
    with open(path, "rb") as f:
        magic = f.read(4)
        if not magic:
            raise _FormatError("the file is empty")
        if magic not in _ZIP_MAGIC:
            raise _FormatError("not an .npz file (not a zip archive)")
        f.seek(0)
        try:
            npz = np.load(f, allow_pickle=False)
        except Exception as exc:
            raise _FormatError(f"the zip archive cannot be read ({exc})") from exc
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise _FormatError("not an .npz archive")
        with npz:
            if "format" not in npz.files:
                # _check_format would see the header keys only (none here).
                raise _FormatError(
                    "no 'format' key: not an emfast model file "
                    f"(keys: {sorted(npz.files)})"
                )
            header = {
                key: _read_member(npz, key)
                for key in ("format", "format_version", "emfast_version")
                if key in npz.files
            }
            _check_format(header)
            return {key: _read_member(npz, key) for key in npz.files}


def _read_member(npz, key: str) -> np.ndarray:
    try:
        value = npz[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise _FormatError(
                f"{key!r} is an object array; model files hold no Python "
                "objects and pickled data is never loaded"
            ) from exc
        raise _FormatError(f"{key!r} cannot be read ({exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile (bad CRC), zlib.error, EOF...
        raise _FormatError(
            f"{key!r} cannot be read, the file is truncated or corrupted ({exc})"
        ) from exc
    if not isinstance(value, np.ndarray):
        raise _FormatError(f"{key!r} is not a .npy array")
    return value


# ------------------------------------------------------------- validation


def _check_format(contents: dict) -> None:
    if "format" not in contents:
        raise _FormatError(
            f"no 'format' key: not an emfast model file (keys: {sorted(contents)})"
        )
    name = _scalar(contents, "format", "U")
    if name not in _REGISTRY:
        raise _FormatError(
            f"unknown format {name!r}, expected one of {sorted(_REGISTRY)}"
        )
    if "format_version" not in contents:
        raise _FormatError("missing key 'format_version'")
    version = _scalar(contents, "format_version", "iu")
    if version > FORMAT_VERSION:
        writer = contents.get("emfast_version")
        writer = f"emfast {writer}" if writer is not None else "a newer emfast"
        raise _FormatError(
            f"format version {version} was written by {writer}; this emfast "
            f"({_emfast_version()}) reads format versions up to {FORMAT_VERSION}: "
            "upgrade emfast"
        )
    if version < 1:
        raise _FormatError(f"invalid format version {version}")


def _model_from_contents(contents: dict[str, np.ndarray]) -> object:
    """Validate the arrays of a model file and build the model."""
    _check_format(contents)
    cls = _REGISTRY[_scalar(contents, "format", "U")]
    fields = cls._saved_fields
    keys = set(contents)
    required = _COMMON_KEYS | set(cls._saved_extras)
    required |= {field.name for field in fields if not field.optional}
    missing = sorted(required - keys)
    if missing:
        raise _FormatError(f"missing keys {missing}")
    optional = {field.name for field in fields if field.optional}
    unexpected = sorted(keys - required - optional - set(cls._array_params))
    if unexpected:
        raise _FormatError(f"unexpected keys {unexpected}")
    _scalar(contents, "emfast_version", "U")

    params = _params_from_json(contents, cls)
    model = cls(**params)
    try:
        model._validate_params()
    except (TypeError, ValueError) as exc:
        raise _FormatError(f"invalid constructor parameters: {exc}") from exc
    dtype = _scalar(contents, "dtype", "U")
    if dtype not in _FLOAT_DTYPES:
        raise _FormatError(f"dtype must be 'float32' or 'float64', got {dtype!r}")

    values = {}
    for field in fields:
        if field.name in contents:
            values[field.name] = _read_entry(contents, field, dtype, params, values)
    for check in cls._saved_checks:
        _run_check(check, values, params)
    _run_check(cls._check_loaded_params, params, values)
    for field in fields:
        if field.name in values:
            _run_check(field.set_on, model, values[field.name])
    extras = {}
    for name in cls._saved_extras:
        extras[name] = _array(contents, name, "f")
        if not np.isfinite(extras[name]).all():
            raise _FormatError(f"{name} holds NaN or infinite values")
    _run_check(model._restore_extras, extras)
    return model


def _run_check(function, *args) -> None:
    """``function(*args)``, its ValueError as a file's error."""
    try:
        function(*args)
    except _FormatError:
        raise
    except ValueError as exc:
        raise _FormatError(str(exc)) from exc


def _read_entry(contents, field: Saved, dtype: str, params: dict, sizes: dict):
    """One entry of the file, checked (dtype, shape, values, the field's
    checks) and converted to what the model holds."""
    name, kind = field.name, field.kind
    if kind in ("int", "bool", "bound"):
        value = _scalar(contents, name, {"int": "iu", "bool": "b", "bound": "f"}[kind])
        if kind == "int" and field.minimum is not None and value < field.minimum:
            raise _FormatError(f"{name} must be >= {field.minimum}, got {value}")
        if kind == "bound":
            # -inf is what a fit with max_iter=0 leaves.
            if math.isnan(value) or value == math.inf:
                raise _FormatError(f"{name} holds NaN or +inf")
            return np.float64(value)
        return value
    array = _array(contents, name, {"names": "U", "params": "f"}.get(kind, "f"))
    if kind == "params" and array.dtype != np.dtype(dtype):
        raise _FormatError(
            f"{name} has dtype {array.dtype}, expected {dtype} (the 'dtype' key)"
        )
    if kind in ("bounds", "names") and array.ndim != 1:
        raise _FormatError(f"{name!r} has shape {array.shape}, expected a 1-d array")
    if field.shape is not None:
        _check_shape(name, array, field.shape, params, sizes)
    if kind == "names":
        # scikit-learn stores the names as an object array of str.
        return np.asarray(array.tolist(), dtype=object)
    if kind == "bounds":
        if np.isnan(array).any() or np.isposinf(array).any():
            raise _FormatError(f"{name} holds NaN or +inf")
        return [float(v) for v in array]
    if not np.isfinite(array).all():
        raise _FormatError(f"{name} holds NaN or infinite values")
    if kind == "float64":
        array = array.astype(np.float64)
    array = np.ascontiguousarray(array)
    for check in field.checks:
        _run_check(check, name, array, params)
    return array


def _check_shape(name, array, shape, params, sizes) -> None:
    """``array.shape`` against the declared shape: sizes resolved from the
    constructor parameters and the entries read before."""
    context = {}
    if isinstance(shape, dict):
        covariance_type = params["covariance_type"]
        context["covariance_type"] = covariance_type
        shape = shape[covariance_type]
    expected = []
    for size in shape:
        if isinstance(size, str):
            context[size] = params[size] if size in params else sizes[size]
            expected.append(context[size])
        else:
            expected.append(size)
    expected = tuple(expected)
    if array.shape != expected:
        where = ", ".join(f"{key}={value!r}" for key, value in context.items())
        raise _FormatError(
            f"{name} has shape {array.shape}, expected {expected}"
            + (f" for {where}" if where else "")
        )


def _params_from_json(contents: dict[str, np.ndarray], cls) -> dict:
    text = _scalar(contents, "params", "U")
    try:
        params = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _FormatError(f"'params' is not valid JSON ({exc})") from exc
    if not isinstance(params, dict):
        raise _FormatError("'params' must be a JSON object")
    defaults = cls().get_params(deep=False)
    expected = set(defaults)
    # Parameters added after a model's first file format: an older file
    # without them gets their defaults.
    for name in cls._later_params:
        if name not in params and name in defaults:
            params[name] = defaults[name]
    if set(params) != expected:
        raise _FormatError(
            f"'params' does not hold the {cls.__name__} parameters: missing "
            f"{sorted(expected - set(params))}, unexpected "
            f"{sorted(set(params) - expected)}"
        )
    for name, value in params.items():
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if name in cls._array_params and value is not None and not is_number:
            if value != {_ARRAY_MARKER: name}:
                raise _FormatError(
                    f"parameter {name} must be null or "
                    f'{{"{_ARRAY_MARKER}": "{name}"}}, got {value!r}'
                )
            if name not in contents:
                raise _FormatError(f"missing key {name!r} (the {name} parameter)")
            params[name] = _array(contents, name, "fiu")
        elif name in cls._array_params and name in contents:
            raise _FormatError(
                f"unexpected key {name!r}: parameter {name} is null in 'params'"
            )
        elif isinstance(value, (list, dict)):
            raise _FormatError(f"parameter {name} must be a scalar, got {value!r}")
    return params


def _check_precisions(covariances, prec_chol, precisions, covariance_type, eps):
    """``precisions_cholesky_`` is the upper-triangular Cholesky factor, with
    positive diagonal, of the inverse of ``covariances_``, and ``precisions_``
    is its product with its transpose.

    The tolerance is sqrt(eps) of the stored dtype, relative to the scale of
    each entry (sqrt(c_ii c_jj)). ``covariances_`` is compared with
    U^-T U^-1 (a triangular solve), not ``U U^T`` with inv(covariances_):
    that error does not grow with the condition number, so a float32 model
    of badly conditioned covariances still loads.
    """
    tol = math.sqrt(eps)
    cov = covariances.astype(np.float64)
    chol = prec_chol.astype(np.float64)
    prec = precisions.astype(np.float64)
    if covariance_type in ("diag", "spherical"):
        if not (chol > 0).all():
            raise _FormatError(
                "precisions_cholesky_ has values <= 0: the precisions are not "
                "positive definite"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            cov_error = np.abs(chol * chol * cov - 1.0)
            prec_error = np.abs(prec - chol * chol) / (chol * chol)
        _check_close(cov_error, tol, "covariances_", "1 / precisions_cholesky_**2")
        _check_close(prec_error, tol, "precisions_", "precisions_cholesky_**2")
        return
    if covariance_type == "tied":
        cov, chol, prec = cov[None], chol[None], prec[None]
    eye = np.eye(chol.shape[-1])
    for k in range(chol.shape[0]):
        where = "" if covariance_type == "tied" else f"[{k}]"
        u = chol[k]
        if (np.tril(u, -1) != 0).any():
            raise _FormatError(f"precisions_cholesky_{where} is not upper triangular")
        if not (np.diagonal(u) > 0).all():
            raise _FormatError(
                f"precisions_cholesky_{where} has a diagonal value <= 0: not the "
                "Cholesky factor of a positive-definite precision"
            )
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            u_inv = solve_triangular(u, eye, lower=False)
            implied_cov = u_inv.T @ u_inv
            implied_prec = u @ u.T
            cov_scale = np.sqrt(np.diagonal(implied_cov))
            prec_scale = np.sqrt(np.diagonal(implied_prec))
            cov_error = np.abs(implied_cov - cov[k]) / np.outer(cov_scale, cov_scale)
            prec_error = np.abs(implied_prec - prec[k]) / np.outer(
                prec_scale, prec_scale
            )
        _check_close(
            cov_error,
            tol,
            f"covariances_{where}",
            f"the inverse of precisions_cholesky_{where} @ its transpose",
        )
        _check_close(
            prec_error,
            tol,
            f"precisions_{where}",
            f"precisions_cholesky_{where} @ its transpose",
        )


def _check_close(error, tol, name, reference):
    worst = float(np.max(error))
    if not worst <= tol:  # NaN fails too
        raise _FormatError(
            f"{name} does not match {reference} (relative difference {worst:.3g}, "
            f"tolerance {tol:.3g})"
        )


def _check_close(error, tol, name, reference):
    worst = float(np.max(error))
    if not worst <= tol:  # NaN fails too
        raise _FormatError(
            f"{name} does not match {reference} (relative difference {worst:.3g}, "
            f"tolerance {tol:.3g})"
        )


def _scalar(contents, key, kinds):
    """A 0-d array of one of the dtype ``kinds``, as a Python scalar."""
    array = _array(contents, key, kinds, ndim=0)
    return array.item()


def _array(contents, key, kinds, ndim=None):
    array = contents[key]
    if array.dtype.kind not in kinds:
        names = {"U": "str", "b": "bool", "f": "float", "iu": "integer"}
        wanted = names.get(kinds, "numeric")
        raise _FormatError(f"{key!r} has dtype {array.dtype}, expected {wanted}")
    if ndim is not None and array.ndim != ndim:
        raise _FormatError(
            f"{key!r} has shape {array.shape}, expected a "
            + ("scalar" if ndim == 0 else f"{ndim}-d array")
        )
    return array
