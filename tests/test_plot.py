"""emfast.plot: the log-likelihood panel's tick labels."""

from types import SimpleNamespace

import numpy as np
import pytest

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
