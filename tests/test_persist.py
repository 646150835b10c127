"""GaussianMixture.save / emfast.load: round trips that keep every bit, and a
clear ValueError for every kind of damaged or tampered file."""

import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from conftest import (
    COVARIANCE_TYPES,
    TRUE_COVARIANCES,
    TRUE_MEANS,
    TRUE_WEIGHTS,
    initial_params,
    sample_mixture,
)
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

import emfast
from emfast import GaussianMixture
from emfast._persist import FORMAT_VERSION, save_model

FITTED_ARRAYS = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_cholesky_",
    "precisions_",
)


def assert_same_params(a, b):
    pa, pb = a.get_params(), b.get_params()
    assert pa.keys() == pb.keys()
    for name, value in pa.items():
        if isinstance(value, np.ndarray):
            assert_array_equal(pb[name], value, strict=True)
        else:
            assert pb[name] == value
            assert type(pb[name]) is type(value), name


def assert_same_model(original, loaded, X):
    assert type(loaded) is GaussianMixture
    assert_same_params(original, loaded)
    for name in FITTED_ARRAYS:
        assert_array_equal(getattr(loaded, name), getattr(original, name), strict=True)
    for name in ("converged_", "n_iter_", "lower_bound_", "lower_bounds_"):
        assert getattr(loaded, name) == getattr(original, name)
        assert type(getattr(loaded, name)) is type(getattr(original, name))
    assert loaded.n_features_in_ == original.n_features_in_
    assert loaded.n_samples_omitted_ == original.n_samples_omitted_
    assert_array_equal(loaded.predict(X), original.predict(X), strict=True)
    assert_array_equal(loaded.predict_proba(X), original.predict_proba(X), strict=True)
    assert_array_equal(loaded.score_samples(X), original.score_samples(X), strict=True)
    assert loaded.score(X) == original.score(X)
    assert loaded.bic(X) == original.bic(X)
    for got, want in zip(loaded.sample(50), original.sample(50)):
        assert_array_equal(got, want, strict=True)


def round_trip(model, tmp_path, name="model.npz"):
    return emfast.load(model.save(tmp_path / name))


@pytest.fixture(scope="module")
def fitted_models(blobs):
    """A fitted model per (covariance type, dtype)."""
    return {
        (cov, dtype): GaussianMixture(3, covariance_type=cov, random_state=0).fit(
            blobs.astype(dtype)
        )
        for cov in COVARIANCE_TYPES
        for dtype in (np.float32, np.float64)
    }


@pytest.fixture(scope="module")
def blobs():
    """600 points (the session fixture has 1,500: fewer keep this file fast)."""
    return sample_mixture(600, TRUE_WEIGHTS, TRUE_MEANS, TRUE_COVARIANCES, seed=0)


@pytest.fixture
def model_file(fitted_models, tmp_path):
    """A valid full-covariance float64 model file."""
    return fitted_models["full", np.float64].save(tmp_path / "model.npz")


def contents_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def resave(tmp_path, contents, name="tampered.npz"):
    path = tmp_path / name
    np.savez(path, **contents)
    return path


def tampered(model_file, tmp_path, **changes):
    contents = contents_of(model_file)
    for key, value in changes.items():
        if value is None:
            del contents[key]
        else:
            contents[key] = value
    return resave(tmp_path, contents)


def edit_params(model_file, tmp_path, **params):
    contents = contents_of(model_file)
    decoded = json.loads(contents["params"].item())
    decoded.update(params)
    contents["params"] = np.array(json.dumps(decoded))
    return resave(tmp_path, contents)


# ------------------------------------------------------------ round trips


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_is_exact(fitted_models, blobs, tmp_path, covariance_type, dtype):
    original = fitted_models[covariance_type, dtype]
    loaded = round_trip(original, tmp_path)
    assert loaded.means_.dtype == dtype
    assert_same_model(original, loaded, blobs.astype(dtype))


def test_round_trip_with_feature_names(blobs, tmp_path):
    import pandas as pd

    df = pd.DataFrame(blobs, columns=["height", "weight"])
    original = GaussianMixture(3, random_state=0).fit(df)
    loaded = round_trip(original, tmp_path)
    assert_array_equal(loaded.feature_names_in_, original.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X has feature names" warnings
        assert_same_model(original, loaded, df)
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(df.rename(columns={"weight": "mass"}))
    assert "feature_names_in_" in contents_of(tmp_path / "model.npz")
    assert contents_of(tmp_path / "model.npz")["feature_names_in_"].dtype.kind == "U"


def test_round_trip_marginalize(blobs, tmp_path):
    X = blobs.copy()
    rng = np.random.default_rng(1)
    X[rng.choice(len(X), 60, replace=False), rng.integers(0, 2, 60)] = np.nan
    original = GaussianMixture(3, nan_policy="marginalize", random_state=0).fit(X)
    loaded = round_trip(original, tmp_path)
    assert loaded.nan_policy == "marginalize"
    assert_same_model(original, loaded, X)
    assert_array_equal(loaded.impute(X), original.impute(X))


def test_round_trip_keeps_n_samples_omitted(blobs, tmp_path):
    X = blobs.copy()
    X[:5, 0] = np.nan
    with pytest.warns(UserWarning, match="dropped 5"):
        original = GaussianMixture(3, nan_policy="omit", random_state=0).fit(X)
    loaded = round_trip(original, tmp_path)
    assert loaded.n_samples_omitted_ == 5
    assert_same_model(original, loaded, blobs)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_with_initial_parameters(blobs, tmp_path, covariance_type):
    start = initial_params(covariance_type)
    start["weights_init"] = start["weights_init"].astype(np.float32)
    original = GaussianMixture(
        3, covariance_type=covariance_type, random_state=7, tol=1e-4, **start
    ).fit(blobs)
    loaded = round_trip(original, tmp_path)
    assert loaded.weights_init.dtype == np.float32  # kept, not widened
    assert_same_model(original, loaded, blobs)
    # Refitting the loaded model gives the same fit as refitting the original.
    assert_array_equal(loaded.fit(blobs).means_, original.fit(blobs).means_)


def test_round_trip_max_iter_0(blobs, tmp_path):
    original = GaussianMixture(3, max_iter=0, random_state=0).fit(blobs)
    assert original.lower_bound_ == -np.inf
    loaded = round_trip(original, tmp_path)
    assert loaded.lower_bound_ == -np.inf and loaded.lower_bounds_ == []
    assert_same_model(original, loaded, blobs)


# numpy's multivariate_normal finds the float32 covariance not exactly
# symmetric in sample(), for the original model as for the loaded one.
@pytest.mark.filterwarnings("ignore:covariance is not symmetric:RuntimeWarning")
def test_round_trip_float32_badly_conditioned(tmp_path):
    """Rounding to float32 breaks inv(cov) == U U^T by about cond * eps; the
    check compares cov with U^-T U^-1 instead, which stays tight."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 1))
    X = np.hstack(
        [x, x + 1e-4 * rng.normal(size=(2000, 1)), rng.normal(size=(2000, 1))]
    )
    original = GaussianMixture(2, reg_covar=1e-12, random_state=0).fit(
        X.astype(np.float32)
    )
    assert np.linalg.cond(original.covariances_[0].astype(np.float64)) > 1e6
    assert_same_model(original, round_trip(original, tmp_path), X.astype(np.float32))


def test_pickle_still_works(fitted_models, blobs, tmp_path):
    original = fitted_models["tied", np.float64]
    assert_same_model(original, pickle.loads(pickle.dumps(original)), blobs)
    loaded = round_trip(original, tmp_path)
    assert_same_model(original, pickle.loads(pickle.dumps(loaded)), blobs)


# -------------------------------------------------------- paths and errors


def test_npz_suffix_is_appended(fitted_models, tmp_path):
    model = fitted_models["diag", np.float64]
    written = model.save(str(tmp_path / "model"))
    assert written == tmp_path / "model.npz" and written.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temp
    for path in (str(tmp_path / "model"), tmp_path / "model", written):
        assert_array_equal(emfast.load(path).means_, model.means_)
    assert save_model(model, tmp_path / "other.npz") == tmp_path / "other.npz"


def test_save_overwrites(fitted_models, tmp_path):
    path = fitted_models["full", np.float64].save(tmp_path / "m.npz")
    fitted_models["spherical", np.float32].save(path)
    assert emfast.load(path).covariance_type == "spherical"
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_save_unfitted_raises(tmp_path):
    with pytest.raises(NotFittedError):
        GaussianMixture(2).save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


def test_save_random_state_instance_raises(blobs, tmp_path):
    model = GaussianMixture(3, random_state=np.random.RandomState(0)).fit(blobs)
    with pytest.raises(ValueError, match="random_state=.*RandomState.*set_params"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())
    loaded = round_trip(model.set_params(random_state=np.int64(3)), tmp_path)
    assert loaded.random_state == 3 and type(loaded.random_state) is int


def test_save_refuses_non_numeric_init(fitted_models, tmp_path):
    model = pickle.loads(pickle.dumps(fitted_models["full", np.float64]))
    model.set_params(means_init=[["a", "b"]] * 3)
    with pytest.raises(ValueError, match="means_init"):
        model.save(tmp_path / "m.npz")


def test_save_type_errors(fitted_models, tmp_path):
    with pytest.raises(
        TypeError,
        match=r"expects an emfast model \(BayesianGaussianMixture, GaussianMixture\)",
    ):
        save_model(object(), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        fitted_models["full", np.float64].save(io.BytesIO())
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        emfast.load(123)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no emfast model file"):
        emfast.load(tmp_path / "nothing")


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        emfast.load(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        emfast.load(tmp_path / "e.npz")


def test_random_bytes(tmp_path):
    (tmp_path / "r.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="not an .npz file"):
        emfast.load(tmp_path / "r.npz")


def test_pickle_file_is_not_loaded(fitted_models, tmp_path):
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(fitted_models["full", np.float64]))
    with pytest.raises(ValueError, match="not an .npz file"):
        emfast.load(path)


def test_npy_file(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3.0))
    with pytest.raises(ValueError, match="not an .npz file"):
        emfast.load(tmp_path / "a.npy")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(model_file, tmp_path, fraction):
    data = model_file.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError, match="zip archive cannot be read"):
        emfast.load(cut)


def test_corrupted_bytes(fitted_models, tmp_path):
    path = fitted_models["full", np.float64].save(tmp_path / "m.npz")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("means_.npy")
    # The member's data follows its local header (30 bytes, the name and an
    # extra field whose length is at byte 28). Flip its last byte: the zip
    # CRC catches it.
    start = info.header_offset
    extra = int.from_bytes(data[start + 28 : start + 30], "little")
    data[start + 30 + len(info.filename) + extra + info.file_size - 1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="'means_' cannot be read.*CRC"):
        emfast.load(path)


def test_missing_key(model_file, tmp_path):
    with pytest.raises(ValueError, match=r"missing keys \['covariances_'\]"):
        emfast.load(tampered(model_file, tmp_path, covariances_=None))


def test_missing_format_key(model_file, tmp_path):
    with pytest.raises(ValueError, match="no 'format' key"):
        emfast.load(tampered(model_file, tmp_path, format=None))


def test_unrelated_npz_names_its_keys(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3.0), b=np.zeros((2, 2)))
    with pytest.raises(ValueError) as info:
        emfast.load(path)
    message = str(info.value)
    assert "no 'format' key: not an emfast model file (keys: ['a', 'b'])" in message
    assert str(path) in message


def test_extra_key(model_file, tmp_path):
    with pytest.raises(ValueError, match=r"unexpected keys \['extra'\]"):
        emfast.load(tampered(model_file, tmp_path, extra=np.zeros(2)))


def test_non_npy_member(model_file, tmp_path):
    with zipfile.ZipFile(model_file, "a") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="'notes.txt' is not a .npy array"):
        emfast.load(model_file)


def test_object_array_is_refused(model_file, tmp_path):
    evil = np.array([{"a": 1}, None], dtype=object)
    path = tampered(model_file, tmp_path, means_=evil)
    with pytest.raises(ValueError, match="'means_' is an object array"):
        emfast.load(path)


def test_newer_format_version(model_file, tmp_path):
    path = tampered(model_file, tmp_path, format_version=np.array(FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match="format version 2 .*upgrade emfast"):
        emfast.load(path)


def test_invalid_format_version(model_file, tmp_path):
    with pytest.raises(ValueError, match="invalid format version 0"):
        emfast.load(tampered(model_file, tmp_path, format_version=np.array(0)))
    with pytest.raises(ValueError, match="'format_version' has dtype"):
        emfast.load(tampered(model_file, tmp_path, format_version=np.array(1.0)))


def test_unknown_format_name(model_file, tmp_path):
    path = tampered(model_file, tmp_path, format=np.array("sklearn.KMeans"))
    with pytest.raises(ValueError, match="unknown format 'sklearn.KMeans'"):
        emfast.load(path)


def test_corrupt_json(model_file, tmp_path):
    path = tampered(model_file, tmp_path, params=np.array('{"n_components": 3,'))
    with pytest.raises(ValueError, match="'params' is not valid JSON"):
        emfast.load(path)


def test_json_not_an_object(model_file, tmp_path):
    with pytest.raises(ValueError, match="must be a JSON object"):
        emfast.load(tampered(model_file, tmp_path, params=np.array("[1, 2]")))


def test_json_missing_parameter(model_file, tmp_path):
    contents = contents_of(model_file)
    decoded = json.loads(contents["params"].item())
    del decoded["tol"]
    contents["params"] = np.array(json.dumps(decoded))
    with pytest.raises(ValueError, match=r"missing \['tol'\]"):
        emfast.load(resave(tmp_path, contents))


def test_json_unknown_parameter(model_file, tmp_path):
    with pytest.raises(ValueError, match=r"unexpected \['exec'\]"):
        emfast.load(edit_params(model_file, tmp_path, exec="import os"))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"covariance_type": "bogus"}, "covariance_type"),
        ({"n_components": -1}, "n_components"),
        ({"tol": "small"}, "tol"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_invalid_parameters(model_file, tmp_path, params, message):
    with pytest.raises(ValueError, match=f"invalid constructor parameters.*{message}"):
        emfast.load(edit_params(model_file, tmp_path, **params))


def test_json_list_parameter(model_file, tmp_path):
    path = edit_params(model_file, tmp_path, means_init=[[0.0, 0.0]] * 3)
    with pytest.raises(ValueError, match="means_init must be null or"):
        emfast.load(path)


def test_n_components_mismatch(model_file, tmp_path):
    with pytest.raises(ValueError, match=r"weights_ has shape \(3,\), expected \(4,\)"):
        emfast.load(edit_params(model_file, tmp_path, n_components=4))


def test_n_features_mismatch(model_file, tmp_path):
    path = tampered(model_file, tmp_path, n_features_in_=np.array(3))
    with pytest.raises(
        ValueError, match=r"means_ has shape \(3, 2\), expected \(3, 3\)"
    ):
        emfast.load(path)


def test_wrong_shape(model_file, tmp_path):
    means = contents_of(model_file)["means_"]
    with pytest.raises(ValueError, match="means_ has shape"):
        emfast.load(tampered(model_file, tmp_path, means_=means[:, :1]))


def test_covariances_wrong_shape_for_type(model_file, tmp_path):
    """A diag-shaped covariances_ in a 'full' model."""
    cov = contents_of(model_file)["covariances_"]
    diag = np.ascontiguousarray(np.diagonal(cov, axis1=1, axis2=2))
    with pytest.raises(ValueError, match="covariance_type='full'"):
        emfast.load(tampered(model_file, tmp_path, covariances_=diag))


def test_wrong_dtype(model_file, tmp_path):
    means = contents_of(model_file)["means_"]
    path = tampered(model_file, tmp_path, means_=means.astype(np.float32))
    with pytest.raises(ValueError, match="means_ has dtype float32, expected float64"):
        emfast.load(path)


def test_wrong_dtype_key(model_file, tmp_path):
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        emfast.load(tampered(model_file, tmp_path, dtype=np.array("float16")))


def test_wrong_scalar_dtype(model_file, tmp_path):
    with pytest.raises(ValueError, match="'n_iter_' has dtype float64"):
        emfast.load(tampered(model_file, tmp_path, n_iter_=np.array(3.0)))
    with pytest.raises(ValueError, match="'converged_' has shape"):
        emfast.load(tampered(model_file, tmp_path, converged_=np.array([True])))


def test_nan(model_file, tmp_path):
    means = contents_of(model_file)["means_"].copy()
    means[1, 0] = np.nan
    with pytest.raises(ValueError, match="means_ holds NaN or infinite values"):
        emfast.load(tampered(model_file, tmp_path, means_=means))


def test_nan_lower_bound(model_file, tmp_path):
    path = tampered(model_file, tmp_path, lower_bound_=np.array(np.nan))
    with pytest.raises(ValueError, match="lower_bound_ holds NaN"):
        emfast.load(path)


def test_weights_not_normalised(model_file, tmp_path):
    weights = contents_of(model_file)["weights_"] * 1.01
    with pytest.raises(ValueError, match="weights_ sum to"):
        emfast.load(tampered(model_file, tmp_path, weights_=weights))


def test_negative_weights(model_file, tmp_path):
    weights = np.array([1.2, -0.1, -0.1])
    with pytest.raises(ValueError, match="weights_ has negative values"):
        emfast.load(tampered(model_file, tmp_path, weights_=weights))


def test_precision_cholesky_not_positive_definite(model_file, tmp_path):
    chol = contents_of(model_file)["precisions_cholesky_"].copy()
    chol[1] = -chol[1]  # same U U^T, but not the Cholesky factor
    with pytest.raises(ValueError, match=r"precisions_cholesky_\[1\] has a diagonal"):
        emfast.load(tampered(model_file, tmp_path, precisions_cholesky_=chol))


def test_precision_cholesky_not_triangular(model_file, tmp_path):
    chol = contents_of(model_file)["precisions_cholesky_"].copy()
    chol[0, 1, 0] = 0.5
    with pytest.raises(ValueError, match=r"precisions_cholesky_\[0\] is not upper"):
        emfast.load(tampered(model_file, tmp_path, precisions_cholesky_=chol))


def test_precision_cholesky_inconsistent_with_covariances(model_file, tmp_path):
    chol = contents_of(model_file)["precisions_cholesky_"][[1, 0, 2]]
    prec = contents_of(model_file)["precisions_"][[1, 0, 2]]
    path = tampered(model_file, tmp_path, precisions_cholesky_=chol, precisions_=prec)
    with pytest.raises(ValueError, match=r"covariances_\[0\] does not match"):
        emfast.load(path)


def test_precisions_inconsistent(model_file, tmp_path):
    prec = contents_of(model_file)["precisions_"] * 1.001
    with pytest.raises(ValueError, match=r"precisions_\[0\] does not match"):
        emfast.load(tampered(model_file, tmp_path, precisions_=prec))


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "tied"])
def test_non_positive_precision_other_types(fitted_models, tmp_path, covariance_type):
    path = fitted_models[covariance_type, np.float64].save(tmp_path / "m.npz")
    chol = -contents_of(path)["precisions_cholesky_"]
    with pytest.raises(ValueError, match="precisions_cholesky_"):
        emfast.load(tampered(path, tmp_path, precisions_cholesky_=chol))


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "tied"])
def test_covariances_inconsistent_other_types(fitted_models, tmp_path, covariance_type):
    path = fitted_models[covariance_type, np.float64].save(tmp_path / "m.npz")
    cov = contents_of(path)["covariances_"] * 1.5
    with pytest.raises(ValueError, match="covariances_.* does not match"):
        emfast.load(tampered(path, tmp_path, covariances_=cov))


def test_feature_names_wrong_length(model_file, tmp_path):
    path = tampered(model_file, tmp_path, feature_names_in_=np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"feature_names_in_ has shape \(3,\)"):
        emfast.load(path)


def test_feature_names_wrong_dtype(model_file, tmp_path):
    path = tampered(model_file, tmp_path, feature_names_in_=np.array([1, 2]))
    with pytest.raises(ValueError, match="'feature_names_in_' has dtype"):
        emfast.load(path)


def test_init_array_key_without_marker(model_file, tmp_path):
    path = tampered(model_file, tmp_path, weights_init=np.array([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="unexpected key 'weights_init'"):
        emfast.load(path)


def test_init_array_missing(blobs, tmp_path):
    model = GaussianMixture(
        3, random_state=0, means_init=initial_params("full")["means_init"]
    )
    path = model.fit(blobs).save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="missing key 'means_init'"):
        emfast.load(tampered(path, tmp_path, means_init=None))


def test_init_array_invalid(blobs, tmp_path):
    model = GaussianMixture(3, random_state=0, weights_init=[0.2, 0.3, 0.5])
    path = model.fit(blobs).save(tmp_path / "m.npz")
    bad = tampered(path, tmp_path, weights_init=np.array([0.2, 0.3, 0.6]))
    with pytest.raises(ValueError, match="parameter weights_init is invalid"):
        emfast.load(bad)


def test_error_names_the_file(model_file, tmp_path):
    path = tampered(model_file, tmp_path, covariances_=None)
    with pytest.raises(ValueError, match=f"{os.path.basename(path)}' is not a valid"):
        emfast.load(path)
