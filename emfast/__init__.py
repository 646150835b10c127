"""emfast: Gaussian mixture models fitted by EM, fast, on millions of points.

A drop-in replacement for :class:`sklearn.mixture.GaussianMixture` whose EM
iterations run as fused, block-parallel Numba kernels.
"""

from .mixture import GaussianMixture

__all__ = ["GaussianMixture", "__version__"]
__version__ = "0.1.0"
