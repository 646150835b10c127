"""nan_policy='marginalize' on nearly singular components: a fit that
succeeds gives a model whose marginal densities (the observed coordinates of
rows with NaN) can be computed, and computed right.

A principal sub-matrix of a positive-definite covariance is positive
definite, so once the fit accepted a component's covariance, every marginal
of it exists. The marginal log-densities are checked against an exact
computation in rational arithmetic from the fitted float32 attributes.
"""

import math
import warnings
from fractions import Fraction

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from emfast import GaussianMixture
from emfast._covariance import covariances_from_cholesky
from emfast._missing import pattern_parameters
from emfast._sources import Components

nan = np.nan

# float32, 5 x 11: duplicated rows, a constant column (index 2), an outlier
# row (+1000), 20 % NaN. With K=1, reg_covar=1e-6 and max_iter=0 the fitted
# covariance has seven eigenvalues at reg_covar and one near 1.4e6. The
# float32 precision factor was stored, and the covariances implied by it
# were computed as inv(U U^T), which squares its condition number (1.2e6):
# eigenvalues down to -2e-2, so every marginal failed its Cholesky
# factorisation and score_samples raised "ill-defined empirical covariance".
OUTLIER_ROWS = np.array(
    [
        [1.2342097759246826, -1.8400287628173828, 0.2931216061115265, nan,
         2.814222812652588, 2.9089126586914062, 0.6526196002960205, nan,
         -0.3204522430896759, 4.301187992095947, 3.1009647846221924],
        [1.4797114133834839, -2.0199365615844727, 0.2931216061115265,
         -5.58568000793457, 3.0771820545196533, 5.1640753746032715,
         2.416269540786743, 1.5525884628295898, 1.5709258317947388,
         4.669448375701904, 3.441032886505127],
        [1.691948652267456, nan, 0.2931216061115265, -7.365569591522217, nan,
         5.031479358673096, 1.973838210105896, 1.9306318759918213,
         1.8018354177474976, 4.038025856018066, nan],
        [1001.2341918945312, nan, 1000.2931518554688, 995.2732543945312,
         1002.814208984375, 1002.908935546875, 1000.6526489257812,
         1002.4248046875, 999.6795654296875, 1004.3012084960938, nan],
        [1.691948652267456, -0.5663525462150574, 0.2931216061115265,
         -7.365569591522217, 3.154989004135132, 5.031479358673096,
         1.973838210105896, 1.9306318759918213, 1.8018354177474976,
         4.038025856018066, 2.9193480014801025],
    ],
    dtype=np.float32,
)  # fmt: skip

# float32, 8 x 9 near 1e6 with duplicated rows and reg_covar=0: 8 points in
# 9 dimensions, a covariance singular but for rounding (condition number
# about 1e18 as implied by the float32 factor). Even from well-computed
# covariances, the observed blocks of some patterns may fail their Cholesky
# factorisation (one did with this machine's LAPACK) and then come from the
# precision factor.
SINGULAR_ROWS = np.array(
    [
        [1000000.8125, 999995.5625, nan, nan, 999995.75, 1000001.5625,
         999996.625, 999997.0625, 1000004.0625],
        [1000000.3125, 999995.875, 1000005.0, 999997.625, 999996.375,
         1000001.25, 999999.75, 999996.4375, 1000005.4375],
        [1000000.3125, 999995.875, nan, 999997.625, 999996.375, 1000001.25,
         999999.75, 999996.4375, nan],
        [1000000.625, nan, 1000004.9375, 999999.75, 999995.6875, 1000001.375,
         999998.0625, 999997.4375, 1000003.3125],
        [1000000.625, 999995.6875, 1000004.9375, nan, 999995.6875,
         1000001.375, 999998.0625, 999997.4375, 1000003.3125],
        [1000000.375, 999996.1875, 1000005.1875, 999998.875, 999998.1875,
         1000000.6875, nan, 999997.25, 1000005.0],
        [1000000.5625, 999996.1875, 1000004.125, 999998.1875, 999997.1875,
         1000000.5625, 999997.9375, 999995.4375, 1000004.25],
        [1000000.5625, 999995.875, 1000002.875, 999999.0625, 999996.4375,
         999999.6875, 999996.4375, 999996.3125, 1000004.5],
    ],
    dtype=np.float32,
)  # fmt: skip


def fit(X, reg_covar):
    gm = GaussianMixture(
        1,
        covariance_type="full",
        reg_covar=reg_covar,
        max_iter=0,
        random_state=0,
        nan_policy="marginalize",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return gm.fit(X)


def assert_predicts(gm, X):
    """score_samples, predict_proba and predict: finite and consistent (one
    component: probability 1, label 0)."""
    log_prob = gm.score_samples(X)
    assert log_prob.dtype == X.dtype and np.all(np.isfinite(log_prob))
    assert_array_equal(gm.predict_proba(X), np.ones((len(X), 1), dtype=X.dtype))
    assert_array_equal(gm.predict(X), np.zeros(len(X)))
    assert_allclose(gm.score(X), log_prob.astype(np.float64).mean(), rtol=1e-6)
    return log_prob


def exact_log_density(x, mean, precision_cholesky):
    """log N(x_o | mean_o, S_oo) of the observed coordinates of x, with
    S = (U U^T)^-1 for the given (float32) U, in exact rational arithmetic
    (rounded once, at the end)."""
    u = [[Fraction(float(v)) for v in row] for row in precision_cholesky]
    d = len(u)
    precision = [
        [sum(u[i][k] * u[j][k] for k in range(d)) for j in range(d)] for i in range(d)
    ]
    identity = [[Fraction(int(i == j)) for j in range(d)] for i in range(d)]
    covariance, _ = _solve(precision, identity)
    o = [i for i in range(d) if not math.isnan(x[i])]
    block = [[covariance[i][j] for j in o] for i in o]
    diff = [[Fraction(float(x[i])) - Fraction(float(mean[i]))] for i in o]
    solved, det = _solve(block, diff)
    quad = sum(a[0] * b[0] for a, b in zip(diff, solved))
    log_det = math.log(det.numerator) - math.log(det.denominator)
    return -0.5 * (len(o) * math.log(2.0 * math.pi) + log_det + float(quad))


def _solve(a, rhs):
    """(a^-1 rhs, det a) by Gauss-Jordan elimination on Fractions."""
    n = len(a)
    rows = [row[:] + r[:] for row, r in zip(a, rhs)]
    det = Fraction(1)
    for c in range(n):
        p = next(r for r in range(c, n) if rows[r][c] != 0)
        if p != c:
            rows[c], rows[p] = rows[p], rows[c]
            det = -det
        pivot = rows[c][c]
        det *= pivot
        rows[c] = [v / pivot for v in rows[c]]
        for r in range(n):
            if r != c and rows[r][c] != 0:
                f = rows[r][c]
                rows[r] = [v - f * w for v, w in zip(rows[r], rows[c])]
    return [row[n:] for row in rows], det


def test_float32_fit_with_an_outlier_predicts_from_its_marginals():
    gm = fit(OUTLIER_ROWS, reg_covar=1e-6)
    log_prob = assert_predicts(gm, OUTLIER_ROWS)
    exact = [
        exact_log_density(x, gm.means_[0], gm.precisions_cholesky_[0])
        for x in OUTLIER_ROWS
    ]
    complete = ~np.isnan(OUTLIER_ROWS).any(axis=1)
    assert complete.sum() == 2
    assert_allclose(log_prob[complete], np.array(exact)[complete], rtol=1e-6)
    # The observed blocks of a covariance with condition number 1.4e12,
    # formed in float64: about eps * 1.4e12 relative in its small
    # eigenvalues (3.4e-6 relative seen here).
    assert_allclose(log_prob[~complete], np.array(exact)[~complete], rtol=1e-4)


def test_covariances_implied_by_float32_factors_are_positive_definite():
    gm = fit(OUTLIER_ROWS, reg_covar=1e-6)
    factors = np.asarray(gm.precisions_cholesky_, dtype=np.float64)
    covariance = covariances_from_cholesky(factors, "full")[0]
    assert_array_equal(covariance, covariance.T)
    eigenvalues = np.linalg.eigvalsh(covariance)
    # Five points in 11 dimensions, a constant column and two NaN filled
    # with column means: seven directions without spread, reg_covar there.
    assert_allclose(eigenvalues[:7], 1e-6, rtol=1e-3)
    assert eigenvalues[7] > 0.1


def test_nearly_singular_float32_fit_predicts_and_imputes():
    gm = fit(SINGULAR_ROWS, reg_covar=0.0)
    log_prob = assert_predicts(gm, SINGULAR_ROWS)
    complete = ~np.isnan(SINGULAR_ROWS).any(axis=1)
    exact = [
        exact_log_density(x, gm.means_[0], gm.precisions_cholesky_[0])
        for x in SINGULAR_ROWS[complete]
    ]
    assert_allclose(log_prob[complete], exact, rtol=1e-6)
    imputed = gm.impute(SINGULAR_ROWS)
    assert np.all(np.isfinite(imputed))
    observed = ~np.isnan(SINGULAR_ROWS)
    assert_array_equal(imputed[observed], SINGULAR_ROWS[observed])


def test_a_block_that_fails_cholesky_takes_its_marginal_from_the_factor():
    """Two components and one pattern (features 2, 0 observed, 1 missing).
    Component 0's covariances are corrupted in the observed block so that
    its factorisation fails; its marginal parameters must then be those of
    its precision factor's model, and component 1's stay bit for bit those
    of the batched factorisation."""
    rng = np.random.default_rng(0)
    true_covs = np.empty((2, 3, 3))
    for k in range(2):
        a = rng.normal(size=(3, 3))
        true_covs[k] = a @ a.T + np.eye(3)
    factors = np.stack([np.linalg.inv(np.linalg.cholesky(s)).T for s in true_covs])
    corrupted = true_covs.copy()
    corrupted[0, 0, 2] = corrupted[0, 2, 0] = 10.0 * true_covs[0, 0, 0]

    def parameters(covs):
        components = Components(
            np.full(2, 0.5),
            np.zeros((2, 3)),
            covs,
            factors,
            np.log(np.full(2, 0.5)),
            "full",
        )
        obs = np.array([[2, 0, 1]])
        return pattern_parameters(components, obs, np.array([2]))

    prec_tri, _, log_norm, bmat, ccov, extra = parameters(corrupted)
    got = (prec_tri, log_norm, bmat, ccov, extra)
    reference = parameters(true_covs)
    reference = reference[:1] + reference[2:]
    for value, expected in zip(got, reference):
        assert_array_equal(value[:, 1], expected[:, 1])
    o, m = [2, 0], [1]
    s_oo = true_covs[0][np.ix_(o, o)]
    b = true_covs[0][np.ix_(m, o)] @ np.linalg.inv(s_oo)
    c = true_covs[0][np.ix_(m, m)] - b @ true_covs[0][np.ix_(o, m)]
    upper = prec_tri[0, 0][np.ix_(o, o)]
    assert np.all(np.diag(upper) > 0) and upper[1, 0] == 0.0  # triangular
    assert_allclose(upper @ upper.T, np.linalg.inv(s_oo), rtol=1e-12)
    assert_allclose(bmat[0, 0][np.ix_(m, o)], b, rtol=1e-12)
    assert_allclose(ccov[0, 0][np.ix_(m, m)], c, rtol=1e-12)
    # Embedded with zeros elsewhere.
    for array, rows, cols in ((prec_tri, o, o), (bmat, m, o), (ccov, m, m)):
        outside = array[0, 0].copy()
        outside[np.ix_(rows, cols)] = 0.0
        assert not outside.any()
    assert_allclose(log_norm[0, 0], reference[1][0, 0], rtol=1e-12)
    assert_allclose(extra[0, 0], reference[4][0, 0], rtol=1e-12)
