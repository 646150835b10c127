"""GaussianHMM.save / GMMHMM.save and emfast.load: round trips that keep
every bit of the fitted model and of its answers, and a clear ValueError
for damaged or tampered files."""

import copy
import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

import emfast
from emfast import GMMHMM, GaussianHMM

COVARIANCE_TYPES = ["spherical", "diag", "full", "tied"]
LENGTHS = [70, 1, 50, 40]
K = 2


def simulate(seed=0):
    """Two 2-D states far apart, sticky transitions, four sequences."""
    rng = np.random.default_rng(seed)
    transmat = np.array([[0.9, 0.1], [0.2, 0.8]])
    means = np.array([[0.0, 0.0], [5.0, 3.0]])
    states = [0]
    for _ in range(sum(LENGTHS) - 1):
        states.append(rng.choice(2, p=transmat[states[-1]]))
    states = np.array(states)
    return means[states] + rng.normal(size=(states.size, 2)) * [1.0, 0.5]


X = simulate()


def make(cls, covariance_type, **params):
    if cls is GMMHMM:
        params.setdefault("n_mix", 2)
    return cls(K, covariance_type=covariance_type, n_iter=5, random_state=0, **params)


@pytest.fixture(scope="module")
def fitted():
    """A fitted model per (class, covariance type)."""
    return {
        (cls, cov): make(cls, cov).fit(X, LENGTHS)
        for cls in (GaussianHMM, GMMHMM)
        for cov in COVARIANCE_TYPES
    }


def contents_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def tampered(path, tmp_path, **changes):
    contents = contents_of(path)
    for key, value in changes.items():
        if value is None:
            del contents[key]
        else:
            contents[key] = value
    out = tmp_path / "tampered.npz"
    np.savez(out, **contents)
    return out


def edit_params(path, tmp_path, **params):
    decoded = json.loads(contents_of(path)["params"].item())
    decoded.update(params)
    return tampered(path, tmp_path, params=np.array(json.dumps(decoded)))


def assert_same_answers(original, loaded, X, lengths):
    assert_array_equal(loaded.predict(X, lengths), original.predict(X, lengths))
    for algorithm in ("viterbi", "map"):
        got = loaded.decode(X, lengths, algorithm=algorithm)
        want = original.decode(X, lengths, algorithm=algorithm)
        assert got[0] == want[0]
        assert_array_equal(got[1], want[1], strict=True)
    assert loaded.score(X, lengths) == original.score(X, lengths)
    assert_array_equal(
        loaded.predict_proba(X, lengths), original.predict_proba(X, lengths)
    )
    assert_array_equal(
        loaded.predict_proba(X, lengths, causal=True),
        original.predict_proba(X, lengths, causal=True),
    )
    for got, want in zip(loaded.sample(20), original.sample(20)):
        assert_array_equal(got, want, strict=True)


# ------------------------------------------------------------ round trips


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_round_trip_is_exact(fitted, tmp_path, cls, covariance_type):
    model = fitted[cls, covariance_type]
    path = model.save(tmp_path / "model")
    assert path.name == "model.npz"
    assert str(contents_of(path)["format"]) == f"emfast.{cls.__name__}"
    loaded = emfast.load(path)
    assert type(loaded) is cls
    assert loaded.get_params() == model.get_params()
    names = ["startprob_", "transmat_", "means_", "covars_"]
    if cls is GMMHMM:
        names.append("weights_")
    for name in names:
        assert_array_equal(getattr(loaded, name), getattr(model, name), strict=True)
    assert loaded.n_features == model.n_features == 2
    assert list(loaded.monitor_.history) == list(model.monitor_.history)
    assert loaded.monitor_.iter == model.monitor_.iter
    assert loaded.monitor_.converged == model.monitor_.converged
    assert_same_answers(model, loaded, X, LENGTHS)
    # New data, one sequence.
    X_new = simulate(seed=1)[:30]
    assert_same_answers(model, loaded, X_new, None)


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_fit_continues_from_the_loaded_model_as_from_the_original(
    fitted, tmp_path, cls
):
    """Every parameter the M-step reads is in the file: a further fit from
    the loaded parameters (init_params='') equals one from the original."""
    model = copy.deepcopy(fitted[cls, "spherical"])
    loaded = emfast.load(model.save(tmp_path / "m.npz"))
    refits = [
        m.set_params(init_params="", n_iter=2).fit(X, LENGTHS) for m in (loaded, model)
    ]
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_array_equal(getattr(refits[0], name), getattr(refits[1], name))
    assert list(refits[0].monitor_.history) == list(refits[1].monitor_.history)


def test_array_priors_round_trip(tmp_path):
    means_prior = np.array([[0.0, 0.0], [4.0, 2.0]])
    model = make(GaussianHMM, "diag", means_prior=means_prior, means_weight=0.5)
    loaded = emfast.load(model.fit(X, LENGTHS).save(tmp_path / "m"))
    assert_array_equal(loaded.means_prior, means_prior, strict=True)
    assert loaded.means_weight == 0.5
    gmm = make(GMMHMM, "full", weights_prior=[2.0, 1.0], covars_prior=None)
    loaded = emfast.load(gmm.fit(X, LENGTHS).save(tmp_path / "g"))
    assert_array_equal(loaded.weights_prior, [2.0, 1.0])
    assert loaded.covars_prior is None


def test_spherical_covariances_are_stored_per_state(fitted, tmp_path):
    """A fit leaves hmmlearn's (K, D) spherical form with equal columns; the
    file holds one variance per state, which hmmlearn also accepts."""
    path = fitted[GaussianHMM, "spherical"].save(tmp_path / "m")
    assert contents_of(path)["covars_"].shape == (K,)
    assert emfast.load(path)._covars_.shape == (K,)


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_save_unfitted_raises(cls, tmp_path):
    with pytest.raises(NotFittedError):
        cls(K).save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


def test_save_partly_set_model_raises(tmp_path):
    """Transitions set by hand, no emissions: nothing to save yet."""
    model = GaussianHMM(K, init_params="")
    model.startprob_ = np.array([0.5, 0.5])
    with pytest.raises(ValueError, match="lacks the fitted attributes.*means_"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


def test_save_refuses_random_state_instance(tmp_path):
    model = make(GaussianHMM, "diag").set_params(random_state=np.random.RandomState(0))
    with pytest.raises(ValueError, match="random_state=.*set_params"):
        model.fit(X, LENGTHS).save(tmp_path / "m.npz")


def test_save_refuses_an_inconsistent_model(fitted, tmp_path):
    model = fitted[GaussianHMM, "diag"]
    broken = emfast.load(model.save(tmp_path / "ok.npz"))
    broken.transmat_ = np.array([[0.5, 0.4], [0.2, 0.8]])
    with pytest.raises(ValueError, match=r"cannot save.*transmat_\[0\] sums to 0.9"):
        broken.save(tmp_path / "broken.npz")
    assert not (tmp_path / "broken.npz").exists()


# ------------------------------------------------------------ tampered files


@pytest.fixture(params=[GaussianHMM, GMMHMM], ids=["GaussianHMM", "GMMHMM"])
def full_file(request, fitted, tmp_path):
    """A valid 'full' model file of each class."""
    return fitted[request.param, "full"].save(tmp_path / "model.npz")


def load_error(path):
    with pytest.raises(ValueError) as info:
        emfast.load(path)
    message = str(info.value)
    assert "is not a valid emfast model file" in message
    return message


def test_transmat_rows_must_sum_to_1(full_file, tmp_path):
    transmat = contents_of(full_file)["transmat_"].copy()
    transmat[1] *= 1.01
    message = load_error(tampered(full_file, tmp_path, transmat_=transmat))
    assert "transmat_[1] sums to 1.01" in message


def test_transmat_rows_within_hmmlearn_tolerance_load(full_file, tmp_path):
    transmat = contents_of(full_file)["transmat_"].copy()
    transmat[1] *= 1 + 5e-6  # np.allclose(sums, 1), as hmmlearn checks
    loaded = emfast.load(tampered(full_file, tmp_path, transmat_=transmat))
    assert_array_equal(loaded.transmat_, transmat)


def test_negative_probabilities(full_file, tmp_path):
    message = load_error(
        tampered(full_file, tmp_path, startprob_=np.array([1.2, -0.2]))
    )
    assert "startprob_ has negative values" in message


def test_startprob_not_normalised(full_file, tmp_path):
    message = load_error(tampered(full_file, tmp_path, startprob_=np.array([0.5, 0.6])))
    assert "startprob_ sum to 1.1, not 1" in message


def test_startprob_shape(full_file, tmp_path):
    startprob = np.array([0.5, 0.25, 0.25])
    message = load_error(tampered(full_file, tmp_path, startprob_=startprob))
    assert "startprob_ has shape (3,), expected (2,) for n_components=2" in message


def test_n_components_mismatch(full_file, tmp_path):
    message = load_error(edit_params(full_file, tmp_path, n_components=3))
    assert "startprob_ has shape (2,), expected (3,)" in message


def test_n_features_mismatch(full_file, tmp_path):
    message = load_error(tampered(full_file, tmp_path, n_features=np.array(3)))
    assert "means_ has shape" in message and "n_features=3" in message


def test_n_features_must_be_positive(full_file, tmp_path):
    message = load_error(tampered(full_file, tmp_path, n_features=np.array(0)))
    assert "n_features must be >= 1, got 0" in message


def test_n_mix_mismatch(fitted, tmp_path):
    path = fitted[GMMHMM, "diag"].save(tmp_path / "m.npz")
    message = load_error(edit_params(path, tmp_path, n_mix=3))
    assert "weights_ has shape (2, 2), expected (2, 3) for n_components=2, n_mix=3" in (
        message
    )


def test_gmmhmm_weights_rows_must_sum_to_1(fitted, tmp_path):
    path = fitted[GMMHMM, "diag"].save(tmp_path / "m.npz")
    weights = np.array([[0.5, 0.5], [0.7, 0.4]])
    message = load_error(tampered(path, tmp_path, weights_=weights))
    assert "weights_[1] sums to 1.1" in message


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_covariance_type_mismatch(fitted, tmp_path, cls):
    """A 'diag' model's covariances in a file that says 'full'."""
    path = fitted[cls, "diag"].save(tmp_path / "m.npz")
    message = load_error(edit_params(path, tmp_path, covariance_type="full"))
    assert "covars_ has shape" in message and "covariance_type='full'" in message


def test_full_covariance_not_positive_definite(full_file, tmp_path):
    covars = contents_of(full_file)["covars_"].copy()
    first = (0,) * (covars.ndim - 2)
    covars[first] = [[1.0, 2.0], [2.0, 1.0]]  # eigenvalues 3 and -1
    message = load_error(tampered(full_file, tmp_path, covars_=covars))
    assert f"covars_{list(first)} is not positive definite" in message


def test_full_covariance_not_symmetric(full_file, tmp_path):
    covars = contents_of(full_file)["covars_"].copy()
    last = [size - 1 for size in covars.shape[:-2]]
    covars[(*last, 0, 1)] += 0.1
    message = load_error(tampered(full_file, tmp_path, covars_=covars))
    assert f"covars_{last} is not symmetric" in message


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_variances_must_be_positive(fitted, tmp_path, cls, covariance_type):
    path = fitted[cls, covariance_type].save(tmp_path / "m.npz")
    covars = contents_of(path)["covars_"].copy()
    covars.flat[-1] = 0.0
    message = load_error(tampered(path, tmp_path, covars_=covars))
    assert "covars_ has values <= 0" in message


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_tied_covariance_not_positive_definite(fitted, tmp_path, cls):
    path = fitted[cls, "tied"].save(tmp_path / "m.npz")
    covars = -contents_of(path)["covars_"]
    message = load_error(tampered(path, tmp_path, covars_=covars))
    assert "is not positive definite" in message


def test_nan_mean(full_file, tmp_path):
    means = contents_of(full_file)["means_"].copy()
    means.flat[0] = np.nan
    message = load_error(tampered(full_file, tmp_path, means_=means))
    assert "means_ holds NaN or infinite values" in message


def test_wrong_dtype(full_file, tmp_path):
    means = contents_of(full_file)["means_"].astype(np.float32)
    message = load_error(tampered(full_file, tmp_path, means_=means))
    assert "means_ has dtype float32, expected float64" in message


def test_monitor_entries(full_file, tmp_path):
    message = load_error(tampered(full_file, tmp_path, monitor_iter=np.array(-1)))
    assert "monitor_iter must be >= 0" in message
    history = np.array([-10.0, np.nan])
    message = load_error(tampered(full_file, tmp_path, monitor_history=history))
    assert "monitor_history holds NaN or +inf" in message
    message = load_error(tampered(full_file, tmp_path, monitor_history=None))
    assert "missing keys ['monitor_history']" in message


def test_unexpected_key(full_file, tmp_path):
    message = load_error(tampered(full_file, tmp_path, precisions_=np.eye(2)))
    assert "unexpected keys ['precisions_']" in message


def test_format_of_the_other_class(fitted, tmp_path):
    path = fitted[GaussianHMM, "diag"].save(tmp_path / "m.npz")
    message = load_error(tampered(path, tmp_path, format=np.array("emfast.GMMHMM")))
    assert "missing keys ['weights_']" in message


def test_prior_array_key_without_marker(full_file, tmp_path):
    message = load_error(tampered(full_file, tmp_path, transmat_prior=np.ones((2, 2))))
    assert "unexpected key 'transmat_prior'" in message
