"""Save and load fitted :class:`GaussianMixture` models without pickle.

A model file is one ``.npz`` archive (written by :func:`numpy.savez`) of
plain numeric and unicode arrays, one of which is a JSON string of the
constructor parameters. It is read with ``np.load(allow_pickle=False)`` and
validated in full before a model is built, so loading a file runs no code
from it and a damaged or tampered file gives a ``ValueError`` that says what
is wrong.

Format version 1 holds these keys:

- ``format`` (``'emfast.GaussianMixture'``), ``format_version`` (1),
  ``emfast_version`` (the writer's ``emfast.__version__``);
- ``params``: ``get_params()`` as JSON; an array-valued parameter
  (``weights_init``, ``means_init``, ``precisions_init``) appears there as
  ``{"__ndarray__": name}`` and is stored as the array ``name``;
- ``dtype`` (``'float32'`` or ``'float64'``) and the fitted arrays in it:
  ``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``,
  ``precisions_``;
- ``converged_``, ``n_iter_``, ``lower_bound_``, ``lower_bounds_``,
  ``n_features_in_``; and, when the model has them, ``n_samples_omitted_``
  and ``feature_names_in_`` (a unicode array).
"""

from __future__ import annotations

import json
import math
import os
import uuid
from numbers import Integral, Real
from pathlib import Path

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
_FITTED_ARRAYS = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_cholesky_",
    "precisions_",
)
_REQUIRED_KEYS = frozenset(
    (
        "format",
        "format_version",
        "emfast_version",
        "params",
        "dtype",
        *_FITTED_ARRAYS,
        "converged_",
        "n_iter_",
        "lower_bound_",
        "lower_bounds_",
        "n_features_in_",
    )
)
_OPTIONAL_KEYS = frozenset(("n_samples_omitted_", "feature_names_in_"))
# What a model class declares for its files (see ``_base.BaseMixture``):
# ``_array_params``, constructor parameters that may be numeric arrays;
# ``_saved_extras``, fitted attributes beyond the common ones, saved as
# float64 arrays and given back to ``_restore_extras``; ``_check_loaded_params``
# checks the array parameters as ``fit`` would.
# First bytes of a zip archive: a local file header, or the end record of an
# empty archive (the two prefixes np.load recognises).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class _FormatError(ValueError):
    """What is wrong with a model file; re-raised with the file's name."""


# ------------------------------------------------------------------- save


def save_model(estimator, path: str | os.PathLike) -> Path:
    """Save a fitted :class:`GaussianMixture` to one ``.npz`` file.

    The file holds plain arrays and a JSON string only (no pickle); see
    :func:`load`. It is written to a temporary file in the same folder and
    then renamed, so an interrupted save never leaves a truncated model file
    behind, and the contents are validated as :func:`load` would validate
    them before anything is written.

    Parameters
    ----------
    estimator : GaussianMixture
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
        float or str, and ``*_init`` arrays numeric. Also if the fitted
        attributes are inconsistent (see :func:`load`).

    See Also
    --------
    load : Read the file back.
    GaussianMixture.save : The same, as a method.

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
            "save_model expects an emfast model "
            f"({', '.join(sorted(c.__name__ for c in _REGISTRY.values()))}), got "
            f"{type(estimator).__name__}"
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

    fitted = (*_FITTED_ARRAYS, "converged_", "n_iter_", "lower_bound_")
    fitted += ("lower_bounds_", "n_features_in_", *cls._saved_extras)
    missing = [name for name in fitted if not hasattr(estimator, name)]
    if missing:
        raise _FormatError(f"the model lacks the fitted attributes {missing}")
    dtype = np.asarray(estimator.weights_).dtype
    contents = {
        "format": np.array(cls._format_name),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "emfast_version": np.array(_emfast_version()),
        "params": np.array(json.dumps(params, sort_keys=True)),
        "dtype": np.array(dtype.name),
        **{name: np.asarray(getattr(estimator, name)) for name in _FITTED_ARRAYS},
        "converged_": np.array(estimator.converged_, dtype=bool),
        "n_iter_": np.array(estimator.n_iter_, dtype=np.int64),
        "lower_bound_": np.array(estimator.lower_bound_, dtype=np.float64),
        "lower_bounds_": np.array(estimator.lower_bounds_, dtype=np.float64).reshape(
            -1
        ),
        "n_features_in_": np.array(estimator.n_features_in_, dtype=np.int64),
        **arrays,
    }
    for name in cls._saved_extras:
        contents[name] = np.asarray(getattr(estimator, name), dtype=np.float64)
    if hasattr(estimator, "n_samples_omitted_"):
        contents["n_samples_omitted_"] = np.array(
            estimator.n_samples_omitted_, dtype=np.int64
        )
    if hasattr(estimator, "feature_names_in_"):
        names = [str(name) for name in estimator.feature_names_in_]
        stored = np.array(names, dtype=np.str_)
        if stored.tolist() != names:  # numpy strips trailing NUL characters
            raise _FormatError(
                "feature_names_in_ holds names that a unicode array cannot keep "
                "(trailing NUL characters)"
            )
        contents["feature_names_in_"] = stored
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
    """Load a :class:`GaussianMixture` saved by :meth:`GaussianMixture.save`.

    The file is read with ``np.load(allow_pickle=False)``: nothing in it is
    executed (no pickle, no eval). Everything is checked before the model is
    built: the format name and version, the set of keys, every array's dtype
    and shape, that the parameters are finite, that the weights are
    non-negative and sum to 1, that ``precisions_cholesky_`` is the
    upper-triangular Cholesky factor (positive diagonal) of the inverse of
    ``covariances_`` and that ``precisions_`` matches it, and that the
    constructor parameters pass scikit-learn's parameter validation. The
    loaded model predicts, scores and samples exactly as the saved one did.

    Parameters
    ----------
    path : str or os.PathLike
        The file. A path that does not exist and does not end with ``'.npz'``
        is tried with ``'.npz'`` appended, as :meth:`GaussianMixture.save`
        appends it.

    Returns
    -------
    model : GaussianMixture
        The fitted model. Array-valued parameters (``means_init`` etc.) come
        back as NumPy arrays of the dtype they were saved with, even if they
        were lists; ``feature_names_in_`` as an object array of str, as
        scikit-learn sets it.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the path is a directory or the file is not a valid model file:
        not an ``.npz`` archive, truncated or corrupted, keys missing or
        unexpected, an unknown format or a newer format version, a wrong
        dtype (including object arrays, which would need pickle), wrong
        shapes, non-finite values, weights that are negative or do not sum
        to 1, precisions inconsistent with the covariances or not positive
        definite, invalid constructor parameters, or unreadable JSON.

    See Also
    --------
    GaussianMixture.save : Write the file.

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
    keys = set(contents)
    required = _REQUIRED_KEYS | set(cls._saved_extras)
    missing = sorted(required - keys)
    if missing:
        raise _FormatError(f"missing keys {missing}")
    unexpected = sorted(keys - required - _OPTIONAL_KEYS - set(cls._array_params))
    if unexpected:
        raise _FormatError(f"unexpected keys {unexpected}")
    _scalar(contents, "emfast_version", "U")

    params = _params_from_json(contents, cls)
    model = cls(**params)
    try:
        model._validate_params()
    except (TypeError, ValueError) as exc:
        raise _FormatError(f"invalid constructor parameters: {exc}") from exc

    n_components = params["n_components"]
    n_features = _scalar(contents, "n_features_in_", "iu")
    if n_features < 1:
        raise _FormatError(f"n_features_in_ must be >= 1, got {n_features}")
    fitted = _check_fitted_arrays(
        contents, params["covariance_type"], n_components, n_features
    )
    try:
        cls._check_loaded_params(params, n_features)
    except ValueError as exc:
        raise _FormatError(str(exc)) from exc

    for name, value in fitted.items():
        setattr(model, name, value)
    extras = {}
    for name in cls._saved_extras:
        extras[name] = _array(contents, name, "f")
        if not np.isfinite(extras[name]).all():
            raise _FormatError(f"{name} holds NaN or infinite values")
    try:
        model._restore_extras(extras)
    except ValueError as exc:
        raise _FormatError(str(exc)) from exc
    model.converged_ = _scalar(contents, "converged_", "b")
    model.n_iter_ = _scalar(contents, "n_iter_", "iu")
    if model.n_iter_ < 0:
        raise _FormatError(f"n_iter_ must be >= 0, got {model.n_iter_}")
    model.lower_bound_ = np.float64(_scalar(contents, "lower_bound_", "f"))
    lower_bounds = _array(contents, "lower_bounds_", "f", ndim=1)
    for name, values in (
        ("lower_bound_", np.array([model.lower_bound_])),
        ("lower_bounds_", lower_bounds),
    ):
        # -inf is what a fit with max_iter=0 leaves.
        if np.isnan(values).any() or np.isposinf(values).any():
            raise _FormatError(f"{name} holds NaN or +inf")
    model.lower_bounds_ = [float(v) for v in lower_bounds]
    model.n_features_in_ = n_features
    if "n_samples_omitted_" in contents:
        model.n_samples_omitted_ = _scalar(contents, "n_samples_omitted_", "iu")
        if model.n_samples_omitted_ < 0:
            raise _FormatError("n_samples_omitted_ must be >= 0")
    if "feature_names_in_" in contents:
        names = _array(contents, "feature_names_in_", "U", ndim=1)
        if names.shape != (n_features,):
            raise _FormatError(
                f"feature_names_in_ has shape {names.shape}, expected "
                f"({n_features},) (n_features_in_)"
            )
        # sklearn stores the names as an object array of str.
        model.feature_names_in_ = np.asarray(names.tolist(), dtype=object)
    return model


def _params_from_json(contents: dict[str, np.ndarray], cls) -> dict:
    text = _scalar(contents, "params", "U")
    try:
        params = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _FormatError(f"'params' is not valid JSON ({exc})") from exc
    if not isinstance(params, dict):
        raise _FormatError("'params' must be a JSON object")
    expected = set(cls().get_params(deep=False))
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


def _check_fitted_arrays(contents, covariance_type, n_components, n_features):
    """dtype, shapes, finiteness, normalised weights and consistent
    precisions; returns the five fitted arrays."""
    dtype = _scalar(contents, "dtype", "U")
    if dtype not in _FLOAT_DTYPES:
        raise _FormatError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    K, D = n_components, n_features
    cov_shape = {
        "full": (K, D, D),
        "tied": (D, D),
        "diag": (K, D),
        "spherical": (K,),
    }[covariance_type]
    shapes = {
        "weights_": (K,),
        "means_": (K, D),
        "covariances_": cov_shape,
        "precisions_cholesky_": cov_shape,
        "precisions_": cov_shape,
    }
    arrays = {}
    for name, shape in shapes.items():
        array = contents[name]
        if array.dtype != np.dtype(dtype):
            raise _FormatError(
                f"{name} has dtype {array.dtype}, expected {dtype} (the 'dtype' key)"
            )
        if array.shape != shape:
            raise _FormatError(
                f"{name} has shape {array.shape}, expected {shape} for "
                f"covariance_type={covariance_type!r}, n_components={K}, "
                f"n_features_in_={D}"
            )
        if not np.isfinite(array).all():
            raise _FormatError(f"{name} holds NaN or infinite values")
        arrays[name] = np.ascontiguousarray(array)

    weights = arrays["weights_"].astype(np.float64)
    if (weights < 0).any():
        raise _FormatError(f"weights_ has negative values (min {weights.min():g})")
    total = math.fsum(weights)
    # sklearn's tolerance for weights_init.
    tol = 1e-6 if dtype == "float32" else 1e-8
    if not abs(total - 1.0) <= tol:
        raise _FormatError(f"weights_ sum to {total!r}, not 1")
    _check_precisions(
        arrays["covariances_"],
        arrays["precisions_cholesky_"],
        arrays["precisions_"],
        covariance_type,
        np.finfo(dtype).eps,
    )
    return arrays


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
