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
