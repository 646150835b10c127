"""``emfast fit``, ``emfast predict`` and ``emfast plot``: each run as a
subprocess on real files, plus their error paths."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import emfast
from emfast.cli import main

CENTRES = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 0.0], [0.0, 6.0, 6.0]])


def blobs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([c + rng.normal(size=(n // 3, 3)) for c in CENTRES])


def run(*args, check=True):
    done = subprocess.run(
        [sys.executable, "-m", "emfast", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


_API_FIT = """
import sys
import numpy as np
import emfast
X = np.load(sys.argv[1])
gm = emfast.GaussianMixture(3, random_state=1).fit(X)
np.savez(sys.argv[2], means=gm.means_, labels=gm.predict(X),
         proba=gm.predict_proba(X), score=gm.score(X))
"""


def api_fit_in_subprocess(npy, out):
    """The same fit through the API, in a fresh process that loads the
    kernels from Numba's disk cache, as the command's process does (the
    first run fills the cache). A kernel compiled in this process and the
    cached object code of the same kernel may group sums differently under
    fastmath reassoc, so the last bits of an in-process fit may differ."""
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", _API_FIT, str(npy), str(out)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    with np.load(out) as f:
        return {key: f[key] for key in f.files}


@pytest.fixture
def data(tmp_path):
    X = blobs()
    npy = tmp_path / "X.npy"
    np.save(npy, X)
    csv = tmp_path / "X.csv"
    np.savetxt(csv, X, delimiter=",", header="a,b,c", comments="")
    return X, npy, csv


def test_fit_predict_and_plot_as_subprocesses(tmp_path, data):
    _, npy, csv = data
    model = tmp_path / "model.npz"
    reference = api_fit_in_subprocess(npy, tmp_path / "reference.npz")
    done = run("fit", npy, "-k", 3, "--seed", 1, "-o", model)
    assert "Fitted 3 components (full) to 600 points x 3 features" in done.stdout
    assert "converged after" in done.stdout
    assert "BIC:" in done.stdout
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    gm = emfast.load(model)
    assert_array_equal(gm.means_, reference["means"])
    assert f"log-likelihood per point: {reference['score']:.6f}" in done.stdout

    labels_path = tmp_path / "labels.csv"
    run("predict", model, csv, "-o", labels_path)
    labels = np.loadtxt(labels_path, skiprows=1, dtype=np.int64)
    assert_array_equal(labels, reference["labels"])

    proba_path = tmp_path / "proba.npy"
    run("predict", model, npy, "-o", proba_path, "--proba")
    assert_allclose(np.load(proba_path), reference["proba"])

    figure = tmp_path / "fig.png"
    run("plot", model, npy, "-o", figure)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image  # the test extra has matplotlib

    image = matplotlib.image.imread(figure)
    assert image.shape[0] > 200 and image.shape[1] > 400


def test_fit_from_csv_with_header_equals_npy(tmp_path, data):
    _, npy, csv = data
    run("fit", csv, "-k", 3, "-o", tmp_path / "a.npz", "--covariance-type", "diag")
    run("fit", npy, "-k", 3, "-o", tmp_path / "b.npz", "--covariance-type", "diag")
    a, b = emfast.load(tmp_path / "a.npz"), emfast.load(tmp_path / "b.npz")
    assert_allclose(a.means_, b.means_, rtol=1e-12)
    assert a.covariance_type == "diag"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "{missing}", "-k", "2", "-o", "{tmp}/m.npz"], "no such file"),
        (["fit", "{bad_csv}", "-k", "2", "-o", "{tmp}/m.npz"], "non-numeric value 'x'"),
        (["fit", "{npy}", "-k", "0", "-o", "{tmp}/m.npz"], "expected an integer >= 1"),
        (
            ["predict", "{npy}", "{npy}", "-o", "{tmp}/l.csv"],
            "not a valid emfast model",
        ),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, data, args, message):
    _, npy, _ = data
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n3,x\n")
    names = {
        "missing": tmp_path / "nope.npy",
        "bad_csv": bad_csv,
        "npy": npy,
        "tmp": tmp_path,
    }
    done = run(*[a.format(**names) for a in args], check=False)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("emfast: error: ")
    assert message in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("name", "text"), [("h.csv", "x,y\n"), ("h.tsv", "x\ty\n")])
def test_header_without_data_is_one_line(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    done = run("fit", path, "-k", 2, "-o", tmp_path / "m.npz", check=False)
    assert done.returncode == 1
    # The whole of stderr: no NumPy warning, no source line.
    assert done.stderr == f"emfast: error: {path}: a header but no data\n"


def test_more_errors_in_process(tmp_path, data, capsys):
    X, npy, _ = data
    model = tmp_path / "m.npz"
    assert main(["fit", str(npy), "-k", "2", "-o", str(model), "-q"]) == 0
    assert capsys.readouterr().out == ""  # --quiet
    two = tmp_path / "two.npy"
    np.save(two, X[:, :2])
    for argv, message in [
        (
            ["predict", str(model), str(two), "-o", str(tmp_path / "l.csv")],
            "3 features",
        ),
        (["plot", str(model), str(two), "-o", str(tmp_path / "f.png")], "3 features"),
        (
            ["predict", str(model), str(npy), "-o", str(tmp_path / "l.xls")],
            "unknown output",
        ),
        (["fit", str(tmp_path / "X.xls"), "-k", "2", "-o", str(model)], "no such file"),
        (["fit", str(tmp_path), "-k", "2", "-o", str(model)], "directory"),
    ]:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("emfast: error: ") and message in err, err
        assert len(err.splitlines()) == 1
    words = tmp_path / "words.npy"
    np.save(words, np.array([["a", "b"], ["c", "d"]]))
    assert main(["fit", str(words), "-k", "1", "-o", str(model)]) == 1
    assert "not numeric" in capsys.readouterr().err


def test_select_keeps_the_best_by_bic(tmp_path, data, capsys):
    _, npy, _ = data
    model = tmp_path / "m.npz"
    assert main(["fit", str(npy), "--select", "1-5", "-o", str(model)]) == 0
    out = capsys.readouterr().out
    assert "BIC" in out
    assert emfast.load(model).n_components == 3


def test_nan_policy_and_missing_values_in_csv(tmp_path, capsys):
    path = tmp_path / "holes.csv"
    X = blobs()
    lines = ["a,b,c"] + [
        ",".join("" if (i + j) % 11 == 0 else f"{v:.17g}" for j, v in enumerate(row))
        for i, row in enumerate(X)
    ]
    path.write_text("\n".join(lines) + "\n")
    model = tmp_path / "m.npz"
    assert main(["fit", str(path), "-k", "3", "-o", str(model)]) == 1
    assert "NaN" in capsys.readouterr().err
    argv = ["fit", str(path), "-k", "3", "-o", str(model), "--nan-policy"]
    assert main([*argv, "marginalize"]) == 0
    assert main([*argv, "omit"]) == 0
    assert "rows with NaN omitted" in capsys.readouterr().out


def test_plot_without_matplotlib_says_how_to_install(tmp_path, data):
    _, npy, _ = data
    model = tmp_path / "m.npz"
    run("fit", npy, "-k", 2, "-o", model, "-q")
    code = (
        "import sys; sys.modules['matplotlib'] = None; "
        "from emfast.cli import main; "
        f"sys.exit(main(['plot', {str(model)!r}, {str(npy)!r}, '-o', 'f.png']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "pip install 'emfast[plot]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_parquet_and_tsv_input(tmp_path, data):
    # The test extra has pyarrow (.parquet input needs pyarrow >= 13).
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, _, _ = data
    table = pa.table({"a": X[:, 0], "b": X[:, 1].astype(np.float32), "c": X[:, 2]})
    pq.write_table(table, tmp_path / "X.parquet")
    tsv = tmp_path / "X.tsv"
    np.savetxt(tsv, X, delimiter="\t")
    for path in (tmp_path / "X.parquet", tsv):
        model = tmp_path / f"{path.suffix[1:]}.npz"
        assert main(["fit", str(path), "-k", "3", "-o", str(model), "-q"]) == 0
    a, b = emfast.load(tmp_path / "parquet.npz"), emfast.load(tmp_path / "tsv.npz")
    assert_allclose(a.means_, b.means_, rtol=1e-5)
    pq.write_table(pa.table({"a": ["x", "y"]}), tmp_path / "words.parquet")
    argv = ["fit", str(tmp_path / "words.parquet"), "-k", "1", "-o", str(model)]
    assert main(argv) == 1


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


def test_progress_bar_on_a_terminal_only(tmp_path, data, monkeypatch, capsys):
    _, npy, _ = data
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["fit", str(npy), "-k", "3", "--n-init", "2", "-o", str(tmp_path / "m.npz")]
    assert main(argv) == 0
    shown = "".join(terminal.text)
    assert "EM" in shown and "init 2" in shown and "log-likelihood" in shown
    terminal.text.clear()
    assert main([*argv, "--quiet"]) == 0
    assert terminal.text == []
