"""``emfast hmm fit`` and ``emfast hmm decode``, run in-process on small
files: the same model and states as the Python API, sequences from a lengths
file or a sequence-id column, and one-line errors for bad input."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import emfast
from emfast import GMMHMM, GaussianHMM
from emfast.cli import main

LENGTHS = [60, 40, 60]


def simulate(seed=0):
    """Two sticky states far apart in 2-D, 160 steps."""
    rng = np.random.default_rng(seed)
    transmat = np.array([[0.9, 0.1], [0.15, 0.85]])
    states = [0]
    for _ in range(sum(LENGTHS) - 1):
        states.append(rng.choice(2, p=transmat[states[-1]]))
    means = np.array([[0.0, 0.0], [4.0, -3.0]])
    return means[states] + rng.normal(size=(len(states), 2))


X = simulate()


@pytest.fixture
def files(tmp_path):
    """The data as .npy, a lengths file, and a .csv with a sequence-id
    column (ids repeat across sequences that are not adjacent)."""
    npy = tmp_path / "X.npy"
    np.save(npy, X)
    lengths = tmp_path / "lengths.txt"
    lengths.write_text("\n".join(map(str, LENGTHS)) + "\n")
    ids = np.repeat([7, 3, 7], LENGTHS)
    csv = tmp_path / "X.csv"
    rows = [f"{i},{a:.17g},{b:.17g}" for i, (a, b) in zip(ids, X)]
    csv.write_text("seq,a,b\n" + "\n".join(rows) + "\n")
    return npy, lengths, csv


def api_model(**params):
    params = {"n_iter": 100, "tol": 1e-2, "random_state": 0, **params}
    return GaussianHMM(2, **params).fit(X, LENGTHS)


def test_fit_with_lengths_equals_the_api(tmp_path, files, capsys):
    npy, lengths, _ = files
    model_path = tmp_path / "model.npz"
    argv = ["hmm", "fit", str(npy), "-k", "2", "--lengths", str(lengths)]
    assert main([*argv, "-o", str(model_path)]) == 0
    out = capsys.readouterr().out
    reference = api_model()
    model = emfast.load(model_path)
    assert type(model) is GaussianHMM and model.covariance_type == "diag"
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_array_equal(getattr(model, name), getattr(reference, name))
    assert (
        "Fitted GaussianHMM: 2 states (diag) to 160 rows x 2 features in 3 "
        "sequences" in out
    )
    assert f"converged after {reference.monitor_.iter} iterations" in out
    score = reference.score(X, LENGTHS)
    assert f"log-likelihood: {score:.6f} ({score / 160:.6f} per row)" in out
    assert "transition matrix (row: from, column: to):" in out
    for k in range(2):
        row = "".join(f"{p:8.4f}" for p in reference.transmat_[k])
        assert f"{k:>9}{row}" in out
    assert f"saved to {model_path}" in out


def test_decode_writes_states_and_posteriors(tmp_path, files, capsys):
    npy, lengths, _ = files
    model_path = tmp_path / "model.npz"
    fit = ["hmm", "fit", str(npy), "-k", "2", "--lengths", str(lengths), "-q"]
    assert main([*fit, "-o", str(model_path)]) == 0
    assert capsys.readouterr().out == ""  # --quiet
    model = emfast.load(model_path)
    states, posteriors = tmp_path / "states.csv", tmp_path / "post.npy"
    decode = ["hmm", "decode", str(model_path), str(npy), "--lengths", str(lengths)]
    argv = [*decode, "-o", str(states), "--posteriors", str(posteriors)]
    assert main(argv) == 0
    lines = states.read_text().split()
    assert lines[0] == "state"
    assert_array_equal(np.array(lines[1:], dtype=np.int64), model.predict(X, LENGTHS))
    assert_array_equal(np.load(posteriors), model.predict_proba(X, LENGTHS))
    map_states = tmp_path / "map.npy"
    assert main([*decode, "-o", str(map_states), "--algorithm", "map"]) == 0
    _, expected = model.decode(X, LENGTHS, algorithm="map")
    assert_array_equal(np.load(map_states), expected)


@pytest.mark.parametrize("column", ["seq", "0", "-3"])
def test_sequence_column_cuts_where_the_id_changes(tmp_path, files, column):
    """Ids 7, 3, 7: three sequences, as the lengths file says; the column is
    not a feature."""
    _, _, csv = files
    model_path = tmp_path / "model.npz"
    argv = ["hmm", "fit", str(csv), "-k", "2", "--sequence-column", column, "-q"]
    assert main([*argv, "-o", str(model_path)]) == 0
    model = emfast.load(model_path)
    assert model.n_features == 2
    assert_array_equal(model.transmat_, api_model().transmat_)
    states = tmp_path / "states.npy"
    decode = ["hmm", "decode", str(model_path), str(csv), "-o", str(states)]
    assert main([*decode, "--sequence-column", column]) == 0
    assert_array_equal(np.load(states), model.predict(X, LENGTHS))


def test_gmm_model(tmp_path, files, capsys):
    npy, lengths, _ = files
    model_path = tmp_path / "model.npz"
    argv = ["hmm", "fit", str(npy), "-k", "2", "--lengths", str(lengths)]
    argv += ["--model", "gmm", "--n-mix", "3", "--covariance-type", "full"]
    assert main([*argv, "--n-iter", "5", "-o", str(model_path)]) == 0
    out = capsys.readouterr().out
    model = emfast.load(model_path)
    reference = GMMHMM(
        2, n_mix=3, covariance_type="full", n_iter=5, tol=1e-2, random_state=0
    ).fit(X, LENGTHS)
    assert type(model) is GMMHMM and model.n_mix == 3
    assert_array_equal(model.means_, reference.means_)
    assert "Fitted GMMHMM: 2 states (full, 3 Gaussians each)" in out
    # Each state's mixture as a whole: its mean and the law of total variance.
    for k in range(2):
        w, mu = reference.weights_[k], reference.means_[k]
        mean = w @ mu
        within = np.einsum("m,mdd->d", w, reference.covars_[k])
        between = w @ (mu - mean) ** 2
        sd = np.sqrt(within + between)
        mean_text = ", ".join(f"{v:.4g}" for v in mean)
        sd_text = ", ".join(f"{v:.4g}" for v in sd)
        start = reference.startprob_[k]
        assert f"{k:>9}  {start:7.4f}  ({mean_text})  ({sd_text})" in out


@pytest.mark.parametrize(
    "model",
    [
        "gaussian",
        pytest.param(
            "gmm",
            marks=pytest.mark.skipif(
                "nan_policy" not in GMMHMM().get_params(),
                reason="this GMMHMM has no nan_policy",
            ),
        ),
    ],
)
def test_missing_values_marginalize(tmp_path, capsys, model):
    holes = X.copy()
    holes[::7, 1] = np.nan
    npy = tmp_path / "holes.npy"
    np.save(npy, holes)
    model_path = tmp_path / "model.npz"
    argv = ["hmm", "fit", str(npy), "-k", "2", "--model", model]
    argv += ["-o", str(model_path), "--n-iter", "5"]
    assert main(argv) == 1
    assert "--nan-policy marginalize" in capsys.readouterr().err
    assert main([*argv, "--nan-policy", "marginalize", "-q"]) == 0
    model = emfast.load(model_path)
    assert model.nan_policy == "marginalize"
    states = tmp_path / "states.npy"
    assert main(["hmm", "decode", str(model_path), str(npy), "-o", str(states)]) == 0
    assert_array_equal(np.load(states), model.predict(holes))


def test_without_lengths_the_file_is_one_sequence(tmp_path, files, capsys):
    npy, _, _ = files
    model_path = tmp_path / "model.npz"
    argv = ["hmm", "fit", str(npy), "-k", "2", "--n-iter", "3", "--tol", "0"]
    assert main([*argv, "-o", str(model_path)]) == 0
    out = capsys.readouterr().out
    assert "in 1 sequence\n" in out
    assert "did not converge in 3 iterations" in out
    reference = api_model(n_iter=3, tol=0.0)
    reference.fit(X)
    assert_array_equal(emfast.load(model_path).transmat_, reference.transmat_)


# ------------------------------------------------------------ errors


@pytest.fixture
def model_path(tmp_path, files):
    npy, lengths, _ = files
    path = tmp_path / "model.npz"
    argv = ["hmm", "fit", str(npy), "-k", "2", "--lengths", str(lengths), "-q"]
    assert main([*argv, "-o", str(path)]) == 0
    return path


def bad_files(tmp_path):
    paths = {}
    for name, text in [
        ("short", "60\n40\n50\n"),
        ("word", "60\nforty\n60\n"),
        ("negative", "60\n-40\n140\n"),
        ("empty", "\n\n"),
    ]:
        paths[name] = tmp_path / f"{name}.txt"
        paths[name].write_text(text)
    paths["float_npy"] = tmp_path / "lengths.npy"
    np.save(paths["float_npy"], np.array([60.5, 99.5]))
    paths["three"] = tmp_path / "three.npy"
    np.save(paths["three"], np.column_stack([X, X[:, 0]]))
    paths["holes"] = tmp_path / "holes.npy"
    holes = X.copy()
    holes[3, 0] = np.nan
    np.save(paths["holes"], holes)
    paths["mixture"] = (
        emfast.GaussianMixture(2, random_state=0).fit(X).save(tmp_path / "mixture.npz")
    )
    return paths


FIT = ["hmm", "fit", "-o", "{tmp}/m.npz"]
DECODE = ["hmm", "decode", "-o", "{tmp}/s.npy"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [*FIT, "{npy}", "-k", "2", "--lengths", "{short}"],
            "the sequence lengths in {short} sum to 150 but {npy} has 160 rows",
        ),
        (
            [*FIT, "{npy}", "-k", "2", "--lengths", "{tmp}/nope.txt"],
            "no such file: {tmp}/nope.txt",
        ),
        ([*FIT, "{tmp}/nope.npy", "-k", "2"], "no such file"),
        (
            [*FIT, "{npy}", "-k", "2", "--lengths", "{word}"],
            "{word}: line 2: expected a positive integer (a sequence length), "
            "got 'forty'",
        ),
        ([*FIT, "{npy}", "-k", "2", "--lengths", "{negative}"], "line 2"),
        (
            [*FIT, "{npy}", "-k", "2", "--lengths", "{empty}"],
            "no sequence lengths",
        ),
        (
            [*FIT, "{npy}", "-k", "2", "--lengths", "{float_npy}"],
            "positive integers, got 60.5 at index 0",
        ),
        (
            [*FIT, "{csv}", "-k", "2", "--sequence-column", "5"],
            "sequence column 5 is out of range: the file has 3 columns",
        ),
        (
            [*FIT, "{csv}", "-k", "2", "--sequence-column", "id"],
            "no column 'id' (columns: seq, a, b)",
        ),
        ([*FIT, "{holes}", "-k", "2"], "has missing values"),
        (
            [*FIT, "{npy}", "-k", "2", "--n-mix", "2"],
            "--n-mix is for --model gmm",
        ),
        (
            [*DECODE, "{model}", "{three}"],
            "{three} has 3 features but the model was fitted on 2 features",
        ),
        (
            [
                *DECODE,
                "{model}",
                "{csv}",
                "--sequence-column",
                "0",
                "--posteriors",
                "{tmp}/p.xls",
            ],
            "unknown output format .xls",
        ),
        (
            [*DECODE, "{model}", "{npy}", "--lengths", "{short}"],
            "sum to 150",
        ),
        (
            [*DECODE, "{mixture}", "{npy}"],
            "holds a GaussianMixture, not a hidden Markov model: use emfast predict",
        ),
        (
            [*DECODE, "{npy}", "{npy}"],
            "not a valid emfast model file",
        ),
        (
            ["predict", "-o", "{tmp}/s.npy", "{model}", "{npy}"],
            "holds a GaussianHMM: use emfast hmm decode",
        ),
    ],
)
def test_errors_are_one_line(tmp_path, files, model_path, capsys, argv, message):
    npy, _, csv = files
    names = {"npy": npy, "csv": csv, "tmp": tmp_path, "model": model_path}
    names.update(bad_files(tmp_path))
    before = sorted(tmp_path.iterdir())
    assert main([a.format(**names) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("emfast: error: ") and err.count("\n") == 1, err
    assert message.format(**names) in err
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_lengths_and_sequence_column_exclude_each_other(files, capsys):
    npy, lengths, _ = files
    argv = ["hmm", "fit", str(npy), "-k", "2", "-o", "m.npz"]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--lengths", str(lengths), "--sequence-column", "0"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


class _Terminal:
    """A stand-in for a terminal's stderr."""

    def __init__(self):
        self.text = []

    def isatty(self):
        return True

    def write(self, text):
        self.text.append(text)

    def flush(self):
        pass


def test_progress_bar_on_a_terminal(tmp_path, files, monkeypatch):
    npy, lengths, _ = files
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    argv = ["hmm", "fit", str(npy), "-k", "2", "--lengths", str(lengths)]
    argv += ["--n-init", "2", "-o", str(tmp_path / "m.npz")]
    assert main(argv) == 0
    shown = "".join(terminal.text)
    assert "EM" in shown and "init 2" in shown and "log-likelihood" in shown
    terminal.text.clear()
    assert main([*argv, "--quiet"]) == 0
    assert terminal.text == []
