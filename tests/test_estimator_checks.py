"""scikit-learn's estimator checks: every one runs and passes, none is
skipped and none is expected to fail."""

import os
import unittest

import pytest
from conftest import SKLEARN_VERSION
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    estimator_checks_generator,
    parametrize_with_checks,
)

from emfast import GaussianMixture, GaussianMixtureImputer


def check_name(check):
    return getattr(check, "func", check).__name__


@parametrize_with_checks([GaussianMixture(), GaussianMixtureImputer()])
def test_sklearn_estimator_checks(estimator, check, request):
    assert request.node.get_closest_marker("xfail") is None
    assert request.node.get_closest_marker("skip") is None
    try:
        check(estimator)
    except (unittest.SkipTest, pytest.skip.Exception) as exc:
        # A skipped check would pass silently under pytest: make it fail.
        pytest.fail(f"{check_name(check)} was skipped: {exc}")


@pytest.mark.parametrize("estimator", [GaussianMixture(), GaussianMixtureImputer()])
def test_array_api_check_is_run(estimator):
    """From scikit-learn 1.9 on, ``check_array_api_input`` (NumPy namespace,
    array API dispatch on) is among every estimator's checks, and conftest
    set SCIPY_ARRAY_API before scikit-learn was imported, so it runs instead
    of skipping. scikit-learn 1.6 to 1.8 yield it only for an estimator whose
    tags declare array API support, which emfast's estimators do not."""
    assert os.environ.get("SCIPY_ARRAY_API") is not None
    names = [
        check_name(check)
        for _, check in estimator_checks_generator(estimator, mark=None)
    ]
    expected = SKLEARN_VERSION >= (1, 9) or get_tags(estimator).array_api_support
    assert ("check_array_api_input" in names) == expected
    assert len(names) >= 40
