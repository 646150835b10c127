"""sklearn's test_gaussian_mixture_setting_best_params: components collapsed
onto single points (spherical, reg_covar=0, precisions up to 1e6) fit as in
scikit-learn, whose raw-moment variance keeps them positive."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from emfast import GaussianMixture

MEANS_INIT = np.array(
    [
        [0.670637869618158, 0.21038256107384043, 0.12892629765485303],
        [0.09394051075844147, 0.5759464955561779, 0.929296197576212],
        [0.5033230372781258, 0.9569852381759425, 0.08654043447295741],
        [0.18578301420435747, 0.5531158970919143, 0.19388943970532435],
        [0.4548589928173794, 0.35182513658825276, 0.568146063202464],
        [0.609279894978321, 0.7929063819678847, 0.9620097270828052],
    ]
)
PRECISIONS_INIT = np.array(
    [
        999999.999604483,
        999999.9990869573,
        553.7603944542167,
        204.78596008931834,
        15.867423501783637,
        85.4595728389735,
    ]
)
WEIGHTS_INIT = [
    0.03333333333333341,
    0.03333333333333341,
    0.06666666666666674,
    0.06666666666666674,
    0.7000000000000001,
    0.10000000000000007,
]


@pytest.mark.parametrize("Estimator", [GaussianMixture, SkGaussianMixture])
def test_collapsed_components_fit(Estimator):
    X = np.random.RandomState(0).uniform(size=(30, 3))
    gmm = Estimator(
        covariance_type="spherical",
        reg_covar=0,
        means_init=MEANS_INIT,
        weights_init=WEIGHTS_INIT,
        random_state=np.random.RandomState(0),
        n_components=6,
        precisions_init=PRECISIONS_INIT,
        max_iter=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(X)
    assert not gmm.converged_
    assert gmm.n_iter_ == 1
    assert np.isfinite(gmm.lower_bound_)
    assert np.all(gmm.covariances_ > 0)


def test_collapsed_components_match_sklearn():
    X = np.random.RandomState(0).uniform(size=(30, 3))
    params = dict(
        covariance_type="spherical",
        reg_covar=0,
        means_init=MEANS_INIT,
        weights_init=WEIGHTS_INIT,
        n_components=6,
        precisions_init=PRECISIONS_INIT,
        max_iter=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(**params).fit(X)
        theirs = SkGaussianMixture(**params).fit(X)
    assert_allclose(ours.means_, theirs.means_, rtol=1e-12)
    assert_allclose(ours.weights_, theirs.weights_, rtol=1e-12)
    # Components 2-5 are well defined; 0 and 1 sit on single points, where
    # sklearn's own float result is its exact value to within 5-7 %.
    assert_allclose(ours.covariances_[2:], theirs.covariances_[2:], rtol=1e-10)
    assert_allclose(ours.covariances_[:2], theirs.covariances_[:2], rtol=0.1)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-12)
