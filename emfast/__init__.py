"""emfast: Gaussian mixture models fitted by EM, fast, on millions of points.

A drop-in replacement for :class:`sklearn.mixture.GaussianMixture` whose EM
iterations run as fused, block-parallel Numba kernels.
"""

from ._persist import load
from .impute import GaussianMixtureImputer
from .mixture import GaussianMixture
from .selection import ModelSelection, select_model

__all__ = [
    "GaussianMixture",
    "GaussianMixtureImputer",
    "ModelSelection",
    "__version__",
    "load",
    "select_model",
]
__version__ = "0.1.0"
