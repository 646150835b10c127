"""emfast: the EM algorithm, fast, on millions of points.

Drop-in replacements for :class:`sklearn.mixture.GaussianMixture` and
:class:`sklearn.mixture.BayesianGaussianMixture` whose EM iterations run as
fused, block-parallel Numba kernels. :mod:`emfast.engine` is the EM engine
under them (models, data sources, the EM driver) for other libraries;
:mod:`emfast.bench` the benchmarks of ``emfast bench``.
"""

from ._persist import load
from .bayesian import BayesianGaussianMixture
from .gmmhmm import GMMHMM
from .hmm import GaussianHMM
from .impute import GaussianMixtureImputer
from .mixture import GaussianMixture
from .selection import ModelSelection, select_model

__all__ = [
    "GMMHMM",
    "BayesianGaussianMixture",
    "GaussianHMM",
    "GaussianMixture",
    "GaussianMixtureImputer",
    "ModelSelection",
    "__version__",
    "load",
    "select_model",
]
__version__ = "0.1.0"
