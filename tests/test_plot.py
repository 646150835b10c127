"""emfast.plot: the log-likelihood panel's tick labels, a Bayesian mixture's
vanished components, and the pictures of a hidden Markov model."""

from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from emfast.plot import plot_lower_bounds

pytest.importorskip("matplotlib")


def test_lower_bound_ticks_are_plain_numbers(tmp_path):
    """Bounds that differ in their 8th digit: no offset text such as
    '1e-7-5.330475', no scientific notation; each label reads as its tick."""
    bounds = -5.330475 + 1e-7 * np.array([-3.0, -1.5, -0.8, -0.4, -0.2, -0.1, -0.05])
    gm = SimpleNamespace(lower_bounds_=list(bounds), converged_=True, n_iter_=7)
    ax = plot_lower_bounds(gm)
    ax.figure.savefig(tmp_path / "bounds.png")  # tick labels are set on drawing
    assert ax.yaxis.get_offset_text().get_text() == ""
    ticks = ax.get_yticks()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(ticks) >= 3
    values = [float(label.replace("\N{MINUS SIGN}", "-")) for label in labels]
    assert all("e" not in label.lower() for label in labels)
    assert len(set(labels)) == len(labels)
    np.testing.assert_allclose(values, ticks, rtol=0, atol=1e-12)
    assert all(-5.331 < v < -5.330 for v in values)


def test_bayesian_plot_leaves_out_vanished_components_and_names_its_bound():
    """A Bayesian mixture with more components than the data need: those
    whose weight vanished are not drawn (the title says how many), and the
    bound panel says it shows the variational lower bound."""
    from emfast import BayesianGaussianMixture, GaussianMixture
    from emfast.plot import plot_fit, plot_mixture

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 8.0])
    bgm = BayesianGaussianMixture(
        n_components=6, weight_concentration_prior=1e-3, random_state=0
    ).fit(X)
    shown = int(np.sum(bgm.weights_ >= 1e-3))
    assert 2 <= shown < 6
    ax = plot_mixture(bgm, X)
    assert len(ax.lines) == 2 * shown
    assert f"{6 - shown} with weight < 0.001 not drawn" in ax.get_title()
    assert len(plot_mixture(bgm, X, min_weight=0.0).lines) == 12
    bound_ax = plot_fit(bgm, X).axes[1]
    assert bound_ax.get_ylabel() == "variational lower bound (ELBO)"
    gm = GaussianMixture(2, random_state=0).fit(X)
    assert plot_fit(gm, X).axes[1].get_ylabel() == "mean log-likelihood"
    bgm1 = BayesianGaussianMixture(
        n_components=6, weight_concentration_prior=1e-3, random_state=0
    ).fit(X[:, :1])
    one = plot_mixture(bgm1, X[:, :1])
    assert len(one.get_legend().get_texts()) == 2 + int(np.sum(bgm1.weights_ >= 1e-3))
    with pytest.raises(ValueError, match="2 features"):
        plot_mixture(bgm, X[:, :1])


# ------------------------------------------------------------ hidden Markov models


def hmm_data(n_features=2, lengths=(80, 50, 70)):
    rng = np.random.default_rng(1)
    states = np.repeat(np.arange(len(lengths)) % 2, lengths)
    X = rng.normal(size=(states.size, n_features)) + 5.0 * states[:, None]
    return X, list(lengths)


def test_plot_hmm_colours_each_step_by_its_decoded_state():
    from matplotlib.colors import to_rgba

    from emfast import GaussianHMM
    from emfast.plot import plot_hmm

    X, lengths = hmm_data()
    model = GaussianHMM(2, n_iter=5, random_state=0).fit(X, lengths)
    fig = plot_hmm(model, X, lengths, feature_names=["price", "volume"])
    series = [ax for ax in fig.axes if ax.get_xlabel() != "to state"][:2]
    heatmap = next(ax for ax in fig.axes if ax.get_title() == "transition matrix")
    states = model.predict(X, lengths)
    for j, ax in enumerate(series):
        assert ax.get_ylabel() == ["price", "volume"][j]
        assert len(ax.collections) == 2  # one set of points per state
        for k, points in enumerate(ax.collections):
            rows = np.flatnonzero(states == k)
            assert_array_equal(
                points.get_offsets(), np.column_stack([rows, X[rows, j]])
            )
            assert tuple(points.get_facecolor()[0]) == to_rgba(f"C{k}")
        # dotted lines where the 2nd and 3rd sequences start
        boundaries = [line.get_xdata()[0] for line in ax.lines[1:]]
        assert boundaries == [79.5, 129.5]
    assert "3 sequences" in series[0].get_title()
    texts = [t.get_text() for t in heatmap.texts]
    assert texts == [f"{p:.2f}" for p in model.transmat_.ravel()]
    assert_array_equal(heatmap.images[0].get_array(), model.transmat_)


def test_plot_hmm_limits_features_and_points():
    from emfast import GMMHMM
    from emfast.plot import plot_hmm, plot_states

    X, lengths = hmm_data(n_features=6)
    model = GMMHMM(2, n_mix=2, n_iter=3, random_state=0).fit(X, lengths)
    fig = plot_hmm(model, X, lengths, max_points=50)
    assert len(fig.axes) == 4 + 2  # 4 series, the heatmap and its colorbar
    title = fig.axes[0].get_title()
    assert "first 4 of 6 features" in title and "every 4th step drawn" in title
    drawn = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert drawn == 50  # rows 0, 4, ..., 196
    with pytest.raises(ValueError, match="fitted on 6 features"):
        plot_states(model, X[:, :2])


def test_plot_hmm_into_a_given_figure():
    from matplotlib.figure import Figure

    from emfast import GaussianHMM
    from emfast.plot import plot_hmm

    X, _ = hmm_data(n_features=1)
    model = GaussianHMM(2, n_iter=3, random_state=0).fit(X)
    fig = Figure()
    assert plot_hmm(model, X[:, 0], fig=fig) is fig
    assert len(fig.axes) == 3
    assert not fig.axes[0].lines[1:]  # one sequence: no boundary


def test_emfast_plot_of_a_saved_hmm(tmp_path, capsys):
    import matplotlib.image

    from emfast import GaussianHMM, GaussianMixture
    from emfast.cli import main

    X, lengths = hmm_data()
    data = tmp_path / "X.npy"
    np.save(data, X)
    lengths_file = tmp_path / "lengths.txt"
    lengths_file.write_text("\n".join(map(str, lengths)))
    model = GaussianHMM(2, n_iter=3, random_state=0).fit(X, lengths)
    path = model.save(tmp_path / "hmm.npz")
    figure = tmp_path / "hmm.png"
    argv = ["plot", str(path), str(data), "--lengths", str(lengths_file)]
    assert main([*argv, "-o", str(figure)]) == 0
    image = matplotlib.image.imread(figure)
    assert image.shape[0] > 300 and image.shape[1] > 1000
    np.save(tmp_path / "three.npy", np.column_stack([X, X[:, 0]]))
    three = ["plot", str(path), str(tmp_path / "three.npy"), "-o", str(figure)]
    assert main(three) == 1
    assert "has 3 features but the model was fitted on 2" in capsys.readouterr().err
    mixture = GaussianMixture(2, random_state=0).fit(X).save(tmp_path / "gm.npz")
    argv = ["plot", str(mixture), str(data), "--lengths", str(lengths_file)]
    assert main([*argv, "-o", str(tmp_path / "gm.png")]) == 1
    err = capsys.readouterr().err
    assert "--lengths and --sequence-column are for hidden Markov models" in err
    assert not (tmp_path / "gm.png").exists()
