"""Starting points shared by the models: sklearn's ``init_params``, and
emfast's 'hierarchical' and 'small-em'.

Each method but 'small-em' gives either the statistics of initial
responsibilities (``GaussianStats``; 'kmeans': one-hot to the nearest
k-means centre, 'random': random responsibilities normalised per point,
'hierarchical': model-based agglomeration of a subsample, see ``_seeding``)
or data points to start the components at ('random_from_data',
'k-means++'). A model turns either into its parameters
(``params_from_start`` of ``mixture.MixtureModel`` and
``bayesian.VariationalModel``); ``initial_params`` gives a model's start,
small EM's included. The methods run on the source's ``init_rows``
(``_kmeans.MemoryRows`` in memory, ``_dask.DaskRows`` chunk by chunk: the
same passes, so a start is the same on every source) and weigh the points
by its sample weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernels
from ._covariance import KERNEL_CODES
from ._em import em_step
from ._kmeans import kmeans, kmeans_plusplus
from ._seeding import (
    density_peak_stats,
    hierarchical_stats,
    random_points_stats,
    total_weight,
)
from ._sources import GaussianStats

INIT_PARAMS = (
    "kmeans",
    "k-means++",
    "random",
    "random_from_data",
    "hierarchical",
    "small-em",
)
# Small EM: short runs of SMALL_EM_ITER iterations from the hierarchical start,
# the density-peak start, the k-means start and SMALL_EM_RANDOM random
# starts; the best continues.
SMALL_EM_RANDOM = 3
SMALL_EM_ITER = 5


@dataclass
class InitialPoints:
    """Data points (K, D), float64, one per component."""

    points: np.ndarray

    def stats(self, covariance_type: str) -> GaussianStats:
        """The statistics of one-hot responsibilities at the points: each
        component holds its point alone (nk 1, no scatter)."""
        n_components, n_features = self.points.shape
        rows = 1 if KERNEL_CODES[covariance_type] == _kernels.DIAG else n_features
        return GaussianStats(
            0.0,
            0.0,
            float(n_components),
            np.ones(n_components),
            np.zeros((n_components, n_features)),
            np.zeros((n_components, rows, n_features)),
            self.points,
            None,
            per_component=True,
        )


def initial_responsibilities(
    source, n_components, covariance_type, init_params, random_state
):
    """The start of ``init_params`` on ``source``'s initialization rows:
    ``GaussianStats`` of initial responsibilities, or ``InitialPoints``."""
    rows = source.init_rows
    if init_params == "kmeans":
        return _kmeans_stats(rows, n_components, covariance_type, random_state)
    if init_params == "hierarchical":
        return hierarchical_stats(rows, n_components, covariance_type, random_state)
    if init_params == "random":
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        first = np.asarray(rows.take([0])[0], dtype=np.float64)
        centers = np.tile(first, (n_components, 1))
        return _stats_from_resp(
            rows, centers, covariance_type, _kernels.RESP_RANDOM, seed
        )
    if init_params == "random_from_data":
        # sklearn's draws: the same random_state gives sklearn's points.
        sample_weight = rows.weights
        p = None if sample_weight is None else sample_weight / sample_weight.sum()
        indices = random_state.choice(
            rows.n_samples, size=n_components, replace=False, p=p
        )
    else:  # k-means++
        _, indices = kmeans_plusplus(rows, n_components, random_state)
    return InitialPoints(np.array(rows.take(indices), dtype=np.float64))


def _stats_from_resp(rows, centers, covariance_type, mode, seed):
    center = np.ascontiguousarray(centers.mean(axis=0))
    nk, sx, sxx = rows.resp_stats(
        centers, KERNEL_CODES[covariance_type], center, mode, seed
    )
    return GaussianStats(0.0, 0.0, total_weight(rows), nk, sx, sxx, centers, center)


def _kmeans_stats(rows, n_components, covariance_type, random_state):
    """The statistics of the 'kmeans' start."""
    centers = kmeans(rows, n_components, random_state)
    return _stats_from_resp(rows, centers, covariance_type, _kernels.RESP_NEAREST, 0)


def initial_params(model, source, random_state):
    """The start of ``model.init_params`` as the model's parameters: small
    EM's, or the statistics or points of ``initial_responsibilities`` turned
    into parameters by ``model.params_from_start``."""
    if model.init_params == "small-em":
        return small_em(model, source, random_state)
    start = initial_responsibilities(
        source,
        model.n_components,
        model.covariance_type,
        model.init_params,
        random_state,
    )
    return model.params_from_start(start)


def small_em(model, source, random_state):
    """Small EM (Biernacki, Celeux and Govaert, 2003): short EM runs of
    ``model`` on ``source`` from several starts, and the parameters of the
    one with the largest lower bound. The starts are computed on subsamples;
    the runs pass over all the data (``SMALL_EM_ITER`` passes per start).

    The starts: 'hierarchical', the density peaks (see ``_seeding``),
    'kmeans', and ``SMALL_EM_RANDOM`` random ones (rows as means, the data's covariance,
    equal weights); each runs ``SMALL_EM_ITER`` iterations. A start whose
    run fails (a covariance that is not positive definite) is dropped;
    when all fail, the error of the last one is raised.
    """
    rows = source.init_rows
    k, covariance_type = model.n_components, model.covariance_type
    makers = [hierarchical_stats, density_peak_stats, _kmeans_stats]
    makers += [random_points_stats] * SMALL_EM_RANDOM
    best_bound, best_params, error = -np.inf, None, None
    for make in makers:
        stats = make(rows, k, covariance_type, random_state)
        try:
            params = model.m_step(stats, None)
            for _ in range(SMALL_EM_ITER):
                bound, params = em_step(model, source, params)
        except ValueError as exc:  # not positive definite: drop this start
            error = exc
            continue
        if best_params is None or bound > best_bound:
            best_bound, best_params = bound, params
    if best_params is None:
        raise error
    return best_params
