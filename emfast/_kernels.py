"""Numba kernels: Gaussian log-densities, log-sum-exp and the fused EM pass.

Every kernel cuts the points into blocks of ``_block_rows(n_features)`` rows
(``BLOCK``, fewer for many features; the shape alone decides), and groups
consecutive blocks into tasks of ``TASK_BLOCKS`` blocks (more when the partial
sums would be large). One ``prange`` over the tasks makes one parallel region
per pass; each task adds its blocks, in order, into its own slot of partial
sums, and the slots are added in task order afterwards. Threads never share
memory, and the result does not depend on the number of threads.

Inside a block the data are transposed to (n_features, BLOCK) so that the inner
loops run over points, contiguous in memory, and vectorise.

Parameters are passed in one form for all covariance types:

* ``prec_tri`` (n_tri, D, D): upper-triangular precision Cholesky factors for
  'full' (n_tri = K) and 'tied' (n_tri = 1); empty (0, D, D) otherwise.
* ``prec_diag`` (K, D): per-feature precision Cholesky factors for 'diag' and
  'spherical' (repeated over features); empty (0, D) otherwise.
* ``log_norm`` (K,): log weight + log det(precision Cholesky) - D/2 log(2 pi).

Kernels that call each other live in this one module, so the on-disk cache
sees every change.
"""

import math

import numpy as np
from numba import prange

from ._jit import jit

BLOCK = 256
_LOG_RESP_FLOOR = -200.0
TASK_BLOCKS = 16
_PARTIALS_MAX_DOUBLES = 1 << 22

FULL = 0
TIED = 1
DIAG = 2  # also 'spherical', with its variance repeated over the features

# Empty arrays standing for "no labels" and "no sample weights" in kernel calls.
NO_LABELS = np.empty(0, dtype=np.int64)
NO_WEIGHTS = np.empty(0)


def weights_arg(sample_weight):
    """``sample_weight`` as the kernels take it: NO_WEIGHTS for None."""
    return NO_WEIGHTS if sample_weight is None else sample_weight


# Ways to obtain responsibilities in ``sufficient_stats``.
RESP_POSTERIOR = 0  # E-step from the current parameters
RESP_LABELS = 1  # one-hot from given labels
RESP_RANDOM = 2  # uniform random, normalised per point ('random' initialization)
RESP_NEAREST = 3  # one-hot to the nearest of ``means`` (k-means initialization)


@jit()
def _load_block(X, start, n, xt):
    """Copy rows start:start+n of X, transposed, into xt (D, BLOCK) as float64.
    One and two features get loops of their own: a loop over the features
    inside the loop over rows costs more than the copy there."""
    n_features = X.shape[1]
    if n_features == 1:
        row = xt[0]
        for b in range(n):
            row[b] = X[start + b, 0]
    elif n_features == 2:
        row0 = xt[0]
        row1 = xt[1]
        for b in range(n):
            row0[b] = X[start + b, 0]
            row1[b] = X[start + b, 1]
    else:
        for b in range(n):
            for d in range(n_features):
                xt[d, b] = X[start + b, d]


@jit()
def _center(xt, mean, n, diff):
    for d in range(xt.shape[0]):
        m = mean[d]
        for b in range(n):
            diff[d, b] = xt[d, b] - m


@jit()
def _block_log_prob(xt, n, means, prec_tri, prec_diag, log_norm, diff, y, logp):
    """logp[k, b] = log(weight_k) + log N(x_b | component k), for b < n."""
    n_features = xt.shape[0]
    for k in range(means.shape[0]):
        acc = logp[k]
        c = log_norm[k]
        if prec_tri.shape[0] > 0 and n_features == 1:
            # One feature: one fused loop.
            u = prec_tri[k if prec_tri.shape[0] > 1 else 0, 0, 0]
            m = means[k, 0]
            row = xt[0]
            for b in range(n):
                t = (row[b] - m) * u
                acc[b] = c - 0.5 * (t * t)
            continue
        if prec_tri.shape[0] > 0:
            u = prec_tri[k if prec_tri.shape[0] > 1 else 0]
            _center(xt, means[k], n, diff)
            # y_j = sum_{i <= j} (x - mu)_i U[i, j]; U is upper triangular.
            # Terms go in fours to cut the loads and stores of y.
            for j in range(n_features):
                u0 = u[0, j]
                r0 = diff[0]
                for b in range(n):
                    y[b] = r0[b] * u0
                i = 1
                while i + 4 <= j + 1:
                    ua, ub, uc, ud = u[i, j], u[i + 1, j], u[i + 2, j], u[i + 3, j]
                    ra, rb, rc, rd = diff[i], diff[i + 1], diff[i + 2], diff[i + 3]
                    for b in range(n):
                        y[b] += (ra[b] * ua + rb[b] * ub) + (rc[b] * uc + rd[b] * ud)
                    i += 4
                while i <= j:
                    ua = u[i, j]
                    ra = diff[i]
                    for b in range(n):
                        y[b] += ra[b] * ua
                    i += 1
                if j == 0:
                    for b in range(n):
                        acc[b] = y[b] * y[b]
                else:
                    for b in range(n):
                        acc[b] += y[b] * y[b]
        else:
            for b in range(n):
                acc[b] = 0.0
            d = 0
            while d + 4 <= n_features:
                pa = prec_diag[k, d] * prec_diag[k, d]
                pb = prec_diag[k, d + 1] * prec_diag[k, d + 1]
                pc = prec_diag[k, d + 2] * prec_diag[k, d + 2]
                pd = prec_diag[k, d + 3] * prec_diag[k, d + 3]
                ma, mb = means[k, d], means[k, d + 1]
                mc, md = means[k, d + 2], means[k, d + 3]
                ra, rb, rc, rd = xt[d], xt[d + 1], xt[d + 2], xt[d + 3]
                for b in range(n):
                    ta = ra[b] - ma
                    tb = rb[b] - mb
                    tc = rc[b] - mc
                    td = rd[b] - md
                    acc[b] += (ta * ta * pa + tb * tb * pb) + (
                        tc * tc * pc + td * td * pd
                    )
                d += 4
            while d < n_features:
                pa = prec_diag[k, d] * prec_diag[k, d]
                ma = means[k, d]
                ra = xt[d]
                for b in range(n):
                    ta = ra[b] - ma
                    acc[b] += ta * ta * pa
                d += 1
        for b in range(n):
            acc[b] = c - 0.5 * acc[b]


# exp(x) for x in [_LOG_RESP_FLOOR, 0] as Cody-Waite range reduction and a
# Taylor polynomial: plain arithmetic, so the loops vectorise (Numba calls the
# scalar libm exp otherwise). Relative error below 1e-16 on that range.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_DEGREE = 13
_INV_FACTORIALS = np.array([1.0 / math.factorial(i) for i in range(_EXP_DEGREE + 1)])
# 1.5 * 2**52: adding it rounds to an integer, which its low bits then hold.
_ROUND_MAGIC = 6755399441055744.0
_ROUND_MAGIC_BITS = 0x4338000000000000


@jit(exact_rounding=True)
def _exp_nonpositive(v):
    """exp(v) for v in [_LOG_RESP_FLOOR, 0]: v = k log 2 + r (k the integer
    nearest v / log 2, found by the addition of _ROUND_MAGIC, whose bits
    then give 2**k without a float-to-integer conversion, which AVX2 cannot
    vectorise), exp(r) by the Taylor polynomial of degree _EXP_DEGREE.
    Compiled without reassociation: the rounding steps must stay."""
    t = v * _LOG2E + _ROUND_MAGIC
    k = t - _ROUND_MAGIC
    r = (v - k * _LN2_HI) - k * _LN2_LO
    c = _INV_FACTORIALS
    p = c[13]
    p = p * r + c[12]
    p = p * r + c[11]
    p = p * r + c[10]
    p = p * r + c[9]
    p = p * r + c[8]
    p = p * r + c[7]
    p = p * r + c[6]
    p = p * r + c[5]
    p = p * r + c[4]
    p = p * r + c[3]
    p = p * r + c[2]
    p = p * r + c[1]
    p = p * r + c[0]
    bits = np.float64(t).view(np.int64) - _ROUND_MAGIC_BITS + 1023
    return p * np.int64(bits << 52).view(np.float64)


@jit()
def _exp_shifted(x, top, n, total, first, ent, want_ent):
    """x[:n] = exp(x[:n] - top[:n]) in place (0 below exp(_LOG_RESP_FLOOR)),
    added into total[:n] (or stored there when ``first``); x <= top. With
    ``want_ent``, exp(v) * v (v = x - top) is added into ent[:n] likewise."""
    for b in range(n):
        v = max(x[b] - top[b], _LOG_RESP_FLOOR)
        # Below exp(-200) a responsibility adds nothing to nk next to its
        # 10 * eps term, and zero avoids slow subnormal arithmetic.
        e = _exp_nonpositive(v) if v > _LOG_RESP_FLOOR else 0.0
        if want_ent:
            ev = e * v
            ent[b] = ev if first else ent[b] + ev
        x[b] = e
        total[b] = e if first else total[b] + e


@jit()
def _block_normalize(logp, n, work, want_ent):
    """Turn logp (K, BLOCK) into responsibilities in place (log-sum-exp with
    the max shift). Leaves the max over components in work[0] and the sum of
    the shifted exponentials in work[1], so log p(x_b) = work[0, b] +
    log(work[1, b]); with ``want_ent``, sum_k exp(v_k) v_k (v_k = logp[k, b]
    - work[0, b]) in work[4] (see ``_block_entropy``); work is (5, BLOCK)."""
    n_components = logp.shape[0]
    top = work[0]
    total = work[1]
    for b in range(n):
        top[b] = logp[0, b]
    for k in range(1, n_components):
        row = logp[k]
        for b in range(n):
            top[b] = max(top[b], row[b])
    for k in range(n_components):
        _exp_shifted(logp[k], top, n, total, k == 0, work[4], want_ent)
    inv = work[2]
    for b in range(n):
        inv[b] = 1.0 / total[b]
    for k in range(n_components):
        row = logp[k]
        for b in range(n):
            row[b] *= inv[b]


@jit()
def _block_log_likelihood(work, n):
    """sum_b log p(x_b) from _block_normalize's work: the logs of products
    of 8 sums (each in [1, K]) replace 8 scalar logs."""
    s = 0.0
    for b in range(n):
        s += work[0, b]
    b = 0
    while b + 8 <= n:
        prod = work[1, b]
        for j in range(1, 8):
            prod *= work[1, b + j]
        s += np.log(prod)
        b += 8
    for j in range(b, n):
        s += np.log(work[1, j])
    return s


@jit()
def _block_entropy(work, n, weight, weighted):
    """sum_b w_b H(r_b) from _block_normalize's work (with ``want_ent``): the
    entropy of each point's responsibilities, -sum_k r_k log r_k =
    log(sum_k e_k) - sum_k e_k v_k / sum_k e_k, with e_k = exp(v_k)."""
    s = 0.0
    for b in range(n):
        h = np.log(work[1, b]) - work[4, b] / work[1, b]
        if weighted:
            if weight[b] != 0.0:
                s += weight[b] * h
        else:
            s += h
    return s


@jit()
def _block_random_resp(seed, n, resp):
    np.random.seed(seed)  # noqa: NPY002 - Numba's per-thread generator
    for b in range(n):
        s = 0.0
        for k in range(resp.shape[0]):
            r = np.random.random()  # noqa: NPY002
            resp[k, b] = r
            s += r
        for k in range(resp.shape[0]):
            resp[k, b] /= s


@jit()
def _block_label_resp(labels, start, n, resp):
    for k in range(resp.shape[0]):
        for b in range(n):
            resp[k, b] = 0.0
    for b in range(n):
        resp[labels[start + b], b] = 1.0


@jit()
def _block_nearest_resp(xt, n, centers, resp, dist, best_dist):
    """One-hot responsibilities to the nearest centre (first on ties)."""
    for b in range(n):
        best_dist[b] = np.inf
    for k in range(centers.shape[0]):
        _block_sq_dist(xt, n, centers[k], dist)
        for b in range(n):
            best_dist[b] = min(best_dist[b], dist[b])
    for k in range(centers.shape[0]):
        _block_sq_dist(xt, n, centers[k], dist)
        for b in range(n):
            hit = dist[b] == best_dist[b]
            resp[k, b] = 1.0 if hit else 0.0
            if hit:
                best_dist[b] = -1.0  # later ties stay 0


@jit()
def _lower_products(a, c, n, out):
    """out[i, j] += sum_b a[i, b] * c[j, b] for j <= i, four j at a time (one
    load of a[i] serves four products)."""
    for i in range(a.shape[0]):
        ai = a[i]
        j = 0
        while j + 4 <= i + 1:
            c0, c1, c2, c3 = c[j], c[j + 1], c[j + 2], c[j + 3]
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            for b in range(n):
                v = ai[b]
                s0 += v * c0[b]
                s1 += v * c1[b]
                s2 += v * c2[b]
                s3 += v * c3[b]
            out[i, j] += s0
            out[i, j + 1] += s1
            out[i, j + 2] += s2
            out[i, j + 3] += s3
            j += 4
        while j <= i:
            cj = c[j]
            s = 0.0
            for b in range(n):
                s += ai[b] * cj[b]
            out[i, j] += s
            j += 1


@jit()
def _block_stats(
    xt, n, means, resp, cov_code, center, diff, wdiff, nk, sx, sxx, weight, weighted
):
    """Add the block's responsibility-weighted statistics, centred on the
    current means, into nk (K,), sx (K, D) and sxx (see ``sufficient_stats``).
    With ``weighted``, resp already includes the sample weights and
    weight[:n] holds them (for the tied scatter)."""
    n_features = xt.shape[0]
    for k in range(means.shape[0]):
        r = resp[k]
        if cov_code == DIAG or (cov_code == FULL and n_features == 1):
            # One fused loop per pair of features: no centred copies to store.
            s0 = 0.0
            for b in range(n):
                s0 += r[b]
            nk[k] += s0
            d = 0
            while d < n_features:
                d2 = min(d + 1, n_features - 1)  # a repeat of d when D is odd
                ma, mb = means[k, d], means[k, d2]
                ra, rb = xt[d], xt[d2]
                sa1 = 0.0
                sa2 = 0.0
                sb1 = 0.0
                sb2 = 0.0
                for b in range(n):
                    ta = ra[b] - ma
                    tb = rb[b] - mb
                    wa = r[b] * ta
                    wb = r[b] * tb
                    sa1 += wa
                    sa2 += wa * ta
                    sb1 += wb
                    sb2 += wb * tb
                sx[k, d] += sa1
                sxx[k, 0, d] += sa2
                if d2 > d:
                    sx[k, d2] += sb1
                    sxx[k, 0, d2] += sb2
                d += 2
            continue
        if cov_code == FULL and n_features == 2:
            # One fused loop: counts, sums and the three second moments.
            ma, mb = means[k, 0], means[k, 1]
            ra, rb = xt[0], xt[1]
            s0 = 0.0
            sa1 = 0.0
            sb1 = 0.0
            saa = 0.0
            sba = 0.0
            sbb = 0.0
            for b in range(n):
                ta = ra[b] - ma
                tb = rb[b] - mb
                wa = r[b] * ta
                wb = r[b] * tb
                s0 += r[b]
                sa1 += wa
                sb1 += wb
                saa += wa * ta
                sba += wb * ta
                sbb += wb * tb
            nk[k] += s0
            sx[k, 0] += sa1
            sx[k, 1] += sb1
            sxx[k, 0, 0] += saa
            sxx[k, 1, 0] += sba
            sxx[k, 1, 1] += sbb
            continue
        s = 0.0
        for b in range(n):
            s += r[b]
        nk[k] += s
        _center(xt, means[k], n, diff)
        for d in range(n_features):
            row = diff[d]
            wrow = wdiff[d]
            s = 0.0
            for b in range(n):
                w = r[b] * row[b]
                wrow[b] = w
                s += w
            sx[k, d] += s
        if cov_code == FULL:
            _lower_products(wdiff, diff, n, sxx[k])
    if cov_code == TIED:
        # Total scatter around a fixed centre; the M-step removes the
        # between-component part.
        _center(xt, center, n, diff)
        if weighted:
            for d in range(n_features):
                for b in range(n):
                    wdiff[d, b] = weight[b] * diff[d, b]
            _lower_products(wdiff, diff, n, sxx[0])
        else:
            _lower_products(diff, diff, n, sxx[0])


@jit()
def _block_rows(n_features):
    """Rows per block: BLOCK, fewer for many features so that a transposed
    block (n_features, rows) of float64 stays within 32 KiB of L1 cache."""
    return max(32, min(BLOCK, 4096 // max(1, n_features)))


@jit()
def _task_layout(n_samples, block, slot_doubles):
    """(blocks per task, number of tasks) for a reduction whose partial sums
    take ``slot_doubles`` per task: TASK_BLOCKS blocks per task, or more when
    that keeps all partial sums under about 32 MiB. Depends on the shapes
    only, never on the number of threads."""
    n_blocks = (n_samples + block - 1) // block
    per_task = TASK_BLOCKS
    max_tasks = max(1, _PARTIALS_MAX_DOUBLES // max(1, slot_doubles))
    if (n_blocks + per_task - 1) // per_task > max_tasks:
        per_task = (n_blocks + max_tasks - 1) // max_tasks
    return per_task, (n_blocks + per_task - 1) // per_task


@jit()
def _sxx_shape(cov_code, n_components, n_features):
    """The shape of the second moments of a fused pass, by covariance code
    (see ``sufficient_stats``)."""
    if cov_code == FULL:
        return (n_components, n_features, n_features)
    if cov_code == TIED:
        return (1, n_features, n_features)
    return (n_components, 1, n_features)


@jit()
def _partial_sums(n_tasks, n_components, n_features, sxx_shape):
    """One slot per task for each sum of a fused pass (log-likelihood,
    entropy, nk, sx, sxx): a task adds only into its own slot."""
    return (
        np.zeros(n_tasks),
        np.zeros(n_tasks),
        np.zeros((n_tasks, n_components)),
        np.zeros((n_tasks, n_components, n_features)),
        np.zeros((n_tasks, sxx_shape[0], sxx_shape[1], sxx_shape[2])),
    )


@jit()
def _task_buffers(n_features, n_components, block):
    """A task's scratch arrays: the transposed block, its centred and
    weighted-centred copies, the responsibilities, the row work of
    ``_block_normalize`` and the block's weights."""
    return (
        np.empty((n_features, block)),
        np.empty((n_features, block)),
        np.empty((n_features, block)),
        np.empty((n_components, block)),
        np.empty((5, block)),
        np.empty(block),
    )


@jit()
def _block_posterior(resp, n, work, weight, weighted, want_entropy):
    """Normalise a block's log-densities (in ``resp``) into responsibilities;
    returns the block's sums of log p(x) and (with ``want_entropy``, else 0)
    of the responsibilities' entropy, each point weighted when
    ``weighted``."""
    _block_normalize(resp, n, work, want_entropy)
    if weighted:
        ll = 0.0
        for b in range(n):
            if weight[b] != 0.0:
                ll += weight[b] * (work[0, b] + np.log(work[1, b]))
    else:
        ll = _block_log_likelihood(work, n)
    entropy = 0.0
    if want_entropy:
        entropy = _block_entropy(work, n, weight, weighted)
    return ll, entropy


@jit()
def _weigh_resp(resp, n, weight):
    """resp[k, b] *= weight[b]."""
    for k in range(resp.shape[0]):
        for b in range(n):
            resp[k, b] *= weight[b]


@jit()
def _reduce_parts(part_ll, part_ent, part_nk, part_sx, part_sxx):
    """The per-task sums added in task order: (log_likelihood, entropy, nk,
    sx, sxx)."""
    log_likelihood = 0.0
    entropy = 0.0
    nk = np.zeros(part_nk.shape[1])
    sx = np.zeros((part_sx.shape[1], part_sx.shape[2]))
    sxx = np.zeros((part_sxx.shape[1], part_sxx.shape[2], part_sxx.shape[3]))
    for t in range(part_ll.shape[0]):
        log_likelihood += part_ll[t]
        entropy += part_ent[t]
        nk += part_nk[t]
        sx += part_sx[t]
        sxx += part_sxx[t]
    return log_likelihood, entropy, nk, sx, sxx


@jit(parallel=True)
def sufficient_stats(
    X,
    means,
    prec_tri,
    prec_diag,
    log_norm,
    cov_code,
    center,
    resp_mode,
    labels,
    seed,
    sample_weight,
    want_entropy,
):
    """One fused pass over X: log-likelihood and sufficient statistics.

    ``log_norm`` (K,) is the per-component normaliser of the log-densities
    (see the module docstring): the responsibilities are r_ik proportional
    to exp(log_norm[k] - (x_i - means[k])^T P_k (x_i - means[k]) / 2), and
    "log p(x)" below is the log of their sum over k. With ``sample_weight``
    of length n_samples (else empty), every sum below weighs point i by
    sample_weight[i].

    Returns ``(log_likelihood, entropy, nk, sx, sxx)``: the sum over points of
    log p(x); with ``want_entropy``, the sum over points of the entropy of
    the responsibilities, -sum_k r_ik log r_ik (else 0); nk[k] = sum_i r_ik;
    sx[k] = sum_i r_ik (x_i - means[k]); and
    sxx, the second moments, by ``cov_code``: FULL (K, D, D) sum_i r_ik
    (x_i - means[k])(x_i - means[k])^T (lower triangle only); TIED (1, D, D)
    sum_i (x_i - center)(x_i - center)^T (lower triangle only); DIAG (K, 1, D)
    sum_i r_ik (x_i - means[k])**2. The log-likelihood and entropy are 0
    unless ``resp_mode`` is RESP_POSTERIOR.
    """
    n_samples, n_features = X.shape
    block = _block_rows(n_features)
    n_components = means.shape[0]
    sxx_shape = _sxx_shape(cov_code, n_components, n_features)
    per_task, n_tasks = _task_layout(
        n_samples, block, sxx_shape[0] * sxx_shape[1] * sxx_shape[2]
    )
    weighted = sample_weight.shape[0] == n_samples
    part_ll, part_ent, part_nk, part_sx, part_sxx = _partial_sums(
        n_tasks, n_components, n_features, sxx_shape
    )

    # One parallel region per pass: each task runs its blocks in order and
    # adds them into its own slot.
    for t in prange(n_tasks):
        xt, diff, wdiff, resp, work, weight = _task_buffers(
            n_features, n_components, block
        )
        first = t * per_task
        for blk in range(
            first, min(first + per_task, (n_samples + block - 1) // block)
        ):
            start = blk * block
            n = min(block, n_samples - start)
            _load_block(X, start, n, xt)
            if weighted:
                for b in range(n):
                    weight[b] = sample_weight[start + b]
            if resp_mode == RESP_POSTERIOR:
                _block_log_prob(
                    xt, n, means, prec_tri, prec_diag, log_norm, diff, work[0], resp
                )
                ll, entropy = _block_posterior(
                    resp, n, work, weight, weighted, want_entropy
                )
                part_ll[t] += ll
                part_ent[t] += entropy
            elif resp_mode == RESP_LABELS:
                _block_label_resp(labels, start, n, resp)
            elif resp_mode == RESP_NEAREST:
                _block_nearest_resp(xt, n, means, resp, work[0], work[1])
            else:
                _block_random_resp(seed + blk, n, resp)
            if weighted:
                _weigh_resp(resp, n, weight)
            _block_stats(
                xt,
                n,
                means,
                resp,
                cov_code,
                center,
                diff,
                wdiff,
                part_nk[t],
                part_sx[t],
                part_sxx[t],
                weight,
                weighted,
            )

    return _reduce_parts(part_ll, part_ent, part_nk, part_sx, part_sxx)


@jit()
def _store_scores(logp, work, n, order, start, log_prob_norm, labels, resp):
    """Write a normalised block's log p(x), most probable component and (when
    resp is not empty) responsibilities to rows order[start + b] (start + b
    when order is empty) of the outputs."""
    n_components = logp.shape[0]
    want_resp = resp.shape[0] > 0
    for b in range(n):
        i = order[start + b] if order.shape[0] > 0 else start + b
        log_prob_norm[i] = work[0, b] + np.log(work[1, b])
        best = 0
        for k in range(1, n_components):
            if logp[k, b] > logp[best, b]:
                best = k
        labels[i] = best
        if want_resp:
            for k in range(n_components):
                resp[i, k] = logp[k, b]


def score_buffers(n_samples, n_components, want_resp):
    """The outputs the scoring kernels write into: log p(x) (n_samples,),
    labels (n_samples,) int64 and responsibilities ((n_samples, K) when
    ``want_resp``, else (0, K))."""
    return (
        np.empty(n_samples),
        np.empty(n_samples, dtype=np.int64),
        np.empty((n_samples if want_resp else 0, n_components)),
    )


@jit(parallel=True)
def score_samples(X, means, prec_tri, prec_diag, log_norm, log_prob_norm, labels, resp):
    """Per-point log p(x) into log_prob_norm (N,), the most probable component
    into labels (N,), and responsibilities into resp (N, K) when resp has N
    rows (pass an empty (0, K) array to skip them)."""
    n_samples, n_features = X.shape
    block = _block_rows(n_features)
    n_components = means.shape[0]
    n_blocks = (n_samples + block - 1) // block
    for blk in prange(n_blocks):
        start = blk * block
        n = min(block, n_samples - start)
        xt = np.empty((n_features, block))
        diff = np.empty((n_features, block))
        logp = np.empty((n_components, block))
        work = np.empty((5, block))
        _load_block(X, start, n, xt)
        _block_log_prob(
            xt, n, means, prec_tri, prec_diag, log_norm, diff, work[0], logp
        )
        _block_normalize(logp, n, work, False)
        _store_scores(logp, work, n, NO_LABELS, start, log_prob_norm, labels, resp)


@jit(parallel=True)
def log_densities(X, means, prec_tri, prec_diag, log_norm, out):
    """Per-component log-densities into out (N, K): out[i, k] = log_norm[k] -
    (x_i - means[k])^T P_k (x_i - means[k]) / 2, with no normalisation over
    the components. With ``_covariance.log_norm`` of a zero log offset these
    are the Gaussian log-densities log N(x_i | component k) (the emissions of
    a hidden Markov model)."""
    n_samples, n_features = X.shape
    block = _block_rows(n_features)
    n_components = means.shape[0]
    n_blocks = (n_samples + block - 1) // block
    for blk in prange(n_blocks):
        start = blk * block
        n = min(block, n_samples - start)
        xt = np.empty((n_features, block))
        diff = np.empty((n_features, block))
        logp = np.empty((n_components, block))
        y = np.empty(block)
        _load_block(X, start, n, xt)
        _block_log_prob(xt, n, means, prec_tri, prec_diag, log_norm, diff, y, logp)
        for b in range(n):
            for k in range(n_components):
                out[start + b, k] = logp[k, b]


@jit(parallel=True)
def stats_from_resp(X, resp, means, cov_code, center, sample_weight):
    """The sufficient statistics of given responsibilities resp (N, K) (an
    HMM's state posteriors, say; each row sums to 1): ``(nk, sx, sxx)`` as
    ``sufficient_stats`` returns them (centred on ``means`` and, for TIED,
    the scatter about ``center``), each point weighted by sample_weight[i]
    when that is not empty. Fixed-size
    blocks and tasks, sums in task order: the result does not depend on the
    number of threads."""
    n_samples, n_features = X.shape
    block = _block_rows(n_features)
    n_components = means.shape[0]
    sxx_shape = _sxx_shape(cov_code, n_components, n_features)
    per_task, n_tasks = _task_layout(
        n_samples, block, sxx_shape[0] * sxx_shape[1] * sxx_shape[2]
    )
    weighted = sample_weight.shape[0] == n_samples
    part_ll, part_ent, part_nk, part_sx, part_sxx = _partial_sums(
        n_tasks, n_components, n_features, sxx_shape
    )
    n_blocks = (n_samples + block - 1) // block
    for t in prange(n_tasks):
        xt, diff, wdiff, respt, _, weight = _task_buffers(
            n_features, n_components, block
        )
        for blk in range(t * per_task, min((t + 1) * per_task, n_blocks)):
            start = blk * block
            n = min(block, n_samples - start)
            _load_block(X, start, n, xt)
            for b in range(n):
                for k in range(n_components):
                    respt[k, b] = resp[start + b, k]
            if weighted:
                for b in range(n):
                    weight[b] = sample_weight[start + b]
                _weigh_resp(respt, n, weight)
            _block_stats(
                xt,
                n,
                means,
                respt,
                cov_code,
                center,
                diff,
                wdiff,
                part_nk[t],
                part_sx[t],
                part_sxx[t],
                weight,
                weighted,
            )
    _, _, nk, sx, sxx = _reduce_parts(part_ll, part_ent, part_nk, part_sx, part_sxx)
    return nk, sx, sxx


# --------------------------------------------------------------------------
# k-means: k-means++ seeding and Lloyd iterations


@jit()
def _block_sq_dist(xt, n, center, out):
    """out[b] = ||x_b - center||^2."""
    for b in range(n):
        out[b] = 0.0
    for d in range(xt.shape[0]):
        c = center[d]
        row = xt[d]
        for b in range(n):
            t = row[b] - c
            out[b] += t * t


# k-means++ seeding runs on at most a bounded subsample of the points (see
# _kmeans.SUBSAMPLE_SIZE), so its two kernels are serial: quicker to compile.


@jit()
def update_closest(X, center, closest):
    """closest[i] = min(closest[i], ||x_i - center||^2), in place."""
    n_samples, n_features = X.shape
    block = _block_rows(n_features)
    xt = np.empty((n_features, block))
    dist = np.empty(block)
    for start in range(0, n_samples, block):
        n = min(block, n_samples - start)
        _load_block(X, start, n, xt)
        _block_sq_dist(xt, n, center, dist)
        for b in range(n):
            closest[start + b] = min(closest[start + b], dist[b])


@jit()
def candidate_potentials(X, candidates, closest, sample_weight):
    """For each candidate c: sum_i w_i min(closest[i], ||x_i - c||^2), summed
    block by block in order (w_i = sample_weight[i], or 1 when it is empty)."""
    weighted = sample_weight.shape[0] == X.shape[0]
    n_samples, n_features = X.shape
    block = _block_rows(n_features)
    n_cand = candidates.shape[0]
    total = np.zeros(n_cand)
    xt = np.empty((n_features, block))
    dist = np.empty(block)
    for start in range(0, n_samples, block):
        n = min(block, n_samples - start)
        _load_block(X, start, n, xt)
        for c in range(n_cand):
            _block_sq_dist(xt, n, candidates[c], dist)
            s = 0.0
            if weighted:
                for b in range(n):
                    s += sample_weight[start + b] * min(closest[start + b], dist[b])
            else:
                for b in range(n):
                    s += min(closest[start + b], dist[b])
            total[c] += s
    return total


@jit(parallel=True)
def lloyd_step(X, centers, labels, sample_weight):
    """Assign each point to its nearest centre (labels, in place, unless
    labels is empty).

    Returns ``(counts, sums, inertia)`` with sums[k] = sum over the points of
    cluster k of (x - centers[k]) (each point weighted by sample_weight, when
    that is not empty; counts are then sums of weights), so the new centre is
    centers[k] + sums[k] / counts[k] without cancellation far from the origin.
    """
    n_samples, n_features = X.shape
    block = _block_rows(n_features)
    n_clusters = centers.shape[0]
    write_labels = labels.shape[0] == n_samples
    weighted = sample_weight.shape[0] == n_samples
    n_blocks = (n_samples + block - 1) // block
    per_task, n_tasks = _task_layout(n_samples, block, n_clusters * (n_features + 1))
    part_counts = np.zeros((n_tasks, n_clusters))
    part_sums = np.zeros((n_tasks, n_clusters, n_features))
    part_inertia = np.zeros(n_tasks)
    for t in prange(n_tasks):
        xt = np.empty((n_features, block))
        best_dist = np.empty(block)
        dist = np.empty(block)
        best = np.empty(block, dtype=np.int64)
        for blk in range(t * per_task, min((t + 1) * per_task, n_blocks)):
            start = blk * block
            n = min(block, n_samples - start)
            _load_block(X, start, n, xt)
            for b in range(n):
                best_dist[b] = np.inf
                best[b] = 0
            for k in range(n_clusters):
                _block_sq_dist(xt, n, centers[k], dist)
                for b in range(n):
                    if dist[b] < best_dist[b]:
                        best_dist[b] = dist[b]
                        best[b] = k
            s = 0.0
            for b in range(n):
                k = best[b]
                if write_labels:
                    labels[start + b] = k
                w = sample_weight[start + b] if weighted else 1.0
                part_counts[t, k] += w
                s += w * best_dist[b]
                for d in range(n_features):
                    part_sums[t, k, d] += w * (xt[d, b] - centers[k, d])
            part_inertia[t] += s
    counts = np.zeros(n_clusters)
    sums = np.zeros((n_clusters, n_features))
    inertia = 0.0
    for t in range(n_tasks):
        counts += part_counts[t]
        sums += part_sums[t]
        inertia += part_inertia[t]
    return counts, sums, inertia


# --------------------------------------------------------------------------
# Missing values: rows grouped by missingness pattern (see _missing.py)


@jit()
def _load_rows(X, order, start, n, xt):
    """Like _load_block for rows order[start:start+n] of X; NaN read as 0."""
    for b in range(n):
        i = order[start + b]
        for d in range(X.shape[1]):
            v = X[i, d]
            xt[d, b] = 0.0 if np.isnan(v) else v


@jit()
def _expand_missing(obs, n_obs, nk, sx, sxx, cov_code, bmat, ccov, scratch):
    """Turn one pattern's statistics, valid on its observed features
    obs[:n_obs] only, into full-space statistics in place.

    With B = S_mo S_oo^-1 (bmat, embedded in D x D) the conditional mean of the
    missing coordinates is mu_m + B (x_o - mu_o), so the centred sums follow:
    sx_m = B sx_o, sxx_mo = B sxx_oo, sxx_mm = B sxx_oo B^T + nk C, with C the
    conditional covariance (ccov). DIAG: sx_m = 0, sxx_m = nk * variance_m
    (ccov[k, 0]). FULL reads and writes lower triangles only; scratch is
    (D, D)."""
    n_features = obs.shape[0]
    if n_obs == n_features:
        return
    for k in range(nk.shape[0]):
        if cov_code == DIAG:
            for a in range(n_obs, n_features):
                m = obs[a]
                sx[k, m] = 0.0
                sxx[k, 0, m] = nk[k] * ccov[k, 0, m]
            continue
        kc = k if bmat.shape[0] > 1 else 0
        b_k = bmat[kc]
        c_k = ccov[kc]
        s = sxx[k]
        for a in range(n_obs, n_features):
            m = obs[a]
            v = 0.0
            for c in range(n_obs):
                v += b_k[m, obs[c]] * sx[k, obs[c]]
            sx[k, m] = v
            for c in range(n_obs):
                oj = obs[c]
                v = 0.0
                for e in range(n_obs):
                    oi = obs[e]
                    v += b_k[m, oi] * s[max(oi, oj), min(oi, oj)]
                scratch[a, c] = v
        for a in range(n_obs, n_features):
            m = obs[a]
            for c in range(n_obs):
                oj = obs[c]
                s[max(m, oj), min(m, oj)] = scratch[a, c]
            for a2 in range(n_obs, a + 1):
                m2 = obs[a2]
                v = 0.0
                for c in range(n_obs):
                    v += scratch[a, c] * b_k[m2, obs[c]]
                s[m, m2] = v + nk[k] * c_k[m, m2]


@jit(parallel=True)
def pattern_stats(
    X,
    order,
    task_lo,
    task_hi,
    task_pattern,
    obs,
    n_obs,
    means,
    prec_tri,
    prec_diag,
    log_norm,
    cov_code,
    bmat,
    ccov,
    extra_entropy,
    sample_weight,
    want_entropy,
    given_resp,
):
    """``sufficient_stats`` for data with missing values: of the posteriors
    (RESP_POSTERIOR) or, when given_resp is (N, K) (else (0, K)), of those
    responsibilities (row i's in given_resp[i]; the log-likelihood and
    entropy are then 0).

    Task t covers rows order[task_lo[t]:task_hi[t]] of X, all of missingness
    pattern p = task_pattern[t], whose observed features are obs[p, :n_obs[p]]
    (the missing ones follow in obs[p]). The parameters are per pattern,
    marginal to its observed features and embedded in the full space with
    zeros: prec_tri[p] (n_tri, D, D) ((1, 0, D, D) for DIAG), prec_diag[p]
    (K, D) ((1, 0, D) for FULL), log_norm[p] (K,); bmat[p] and ccov[p] (n_tri,
    D, D) as ``_expand_missing`` takes them (DIAG: bmat is (1, 0, D, D) and
    ccov (1, K, 1, D) holds the variances). cov_code is FULL (also for 'tied') or
    DIAG. With ``want_entropy``, the entropy also gets extra_entropy[p, k]
    per unit of responsibility of component k in pattern p (the entropy of
    the conditional distribution of the missing values). Returns
    ``(log_likelihood, entropy, nk, sx, sxx)`` in the full space, as
    sufficient_stats. A pattern with nothing observed (n_obs[p] = 0) has a
    zero precision and log_norm[p] = the components' log offsets; its rows
    get the components' means and covariances.
    """
    n_features = X.shape[1]
    block = _block_rows(n_features)
    n_components = means.shape[0]
    n_tasks = task_lo.shape[0]
    sxx_shape = _sxx_shape(cov_code, n_components, n_features)
    weighted = sample_weight.shape[0] == X.shape[0]
    posterior = given_resp.shape[0] != X.shape[0]
    part_ll, part_ent, part_nk, part_sx, part_sxx = _partial_sums(
        n_tasks, n_components, n_features, sxx_shape
    )
    for t in prange(n_tasks):
        p = task_pattern[t]
        tri = prec_tri[min(p, prec_tri.shape[0] - 1)]
        dia = prec_diag[min(p, prec_diag.shape[0] - 1)]
        xt, diff, wdiff, resp, work, weight = _task_buffers(
            n_features, n_components, block
        )
        scratch = np.empty((n_features, n_features))
        for start in range(task_lo[t], task_hi[t], block):
            n = min(block, task_hi[t] - start)
            _load_rows(X, order, start, n, xt)
            if weighted:
                for b in range(n):
                    weight[b] = sample_weight[order[start + b]]
            if posterior:
                _block_log_prob(
                    xt, n, means, tri, dia, log_norm[p], diff, work[0], resp
                )
                ll, entropy = _block_posterior(
                    resp, n, work, weight, weighted, want_entropy
                )
                part_ll[t] += ll
                part_ent[t] += entropy
            else:
                for b in range(n):
                    i = order[start + b]
                    for k in range(n_components):
                        resp[k, b] = given_resp[i, k]
            if weighted:
                _weigh_resp(resp, n, weight)
            _block_stats(
                xt,
                n,
                means,
                resp,
                cov_code,
                means[0],
                diff,
                wdiff,
                part_nk[t],
                part_sx[t],
                part_sxx[t],
                weight,
                weighted,
            )
        if want_entropy and posterior:
            for k in range(n_components):
                part_ent[t] += part_nk[t, k] * extra_entropy[p, k]
        _expand_missing(
            obs[p],
            n_obs[p],
            part_nk[t],
            part_sx[t],
            part_sxx[t],
            cov_code,
            bmat[min(p, bmat.shape[0] - 1)],
            ccov[min(p, ccov.shape[0] - 1)],
            scratch,
        )
    return _reduce_parts(part_ll, part_ent, part_nk, part_sx, part_sxx)


@jit(parallel=True)
def pattern_score(
    X,
    order,
    task_lo,
    task_hi,
    task_pattern,
    means,
    prec_tri,
    prec_diag,
    log_norm,
    log_prob_norm,
    labels,
    resp,
):
    """``score_samples`` for data with missing values, over the tasks and
    per-pattern parameters of ``pattern_stats``: marginal log p(x_o), labels
    and (when resp has rows) responsibilities, written to the rows' places."""
    n_features = X.shape[1]
    block = _block_rows(n_features)
    n_components = means.shape[0]
    for t in prange(task_lo.shape[0]):
        p = task_pattern[t]
        tri = prec_tri[min(p, prec_tri.shape[0] - 1)]
        dia = prec_diag[min(p, prec_diag.shape[0] - 1)]
        xt = np.empty((n_features, block))
        diff = np.empty((n_features, block))
        logp = np.empty((n_components, block))
        work = np.empty((5, block))
        for start in range(task_lo[t], task_hi[t], block):
            n = min(block, task_hi[t] - start)
            _load_rows(X, order, start, n, xt)
            _block_log_prob(xt, n, means, tri, dia, log_norm[p], diff, work[0], logp)
            _block_normalize(logp, n, work, False)
            _store_scores(logp, work, n, order, start, log_prob_norm, labels, resp)


@jit(parallel=True)
def pattern_log_densities(
    X, order, task_lo, task_hi, task_pattern, means, prec_tri, prec_diag, log_norm, out
):
    """``log_densities`` for data with missing values, over the tasks and
    per-pattern parameters of ``pattern_stats``: out[i, k] = log_norm[p, k] -
    (x_o - means[k, o])^T P_k,oo (x_o - means[k, o]) / 2 for row i of pattern
    p (its marginal log-density on its observed features o), written to the
    rows' places."""
    n_features = X.shape[1]
    block = _block_rows(n_features)
    n_components = means.shape[0]
    for t in prange(task_lo.shape[0]):
        p = task_pattern[t]
        tri = prec_tri[min(p, prec_tri.shape[0] - 1)]
        dia = prec_diag[min(p, prec_diag.shape[0] - 1)]
        xt = np.empty((n_features, block))
        diff = np.empty((n_features, block))
        logp = np.empty((n_components, block))
        y = np.empty(block)
        for start in range(task_lo[t], task_hi[t], block):
            n = min(block, task_hi[t] - start)
            _load_rows(X, order, start, n, xt)
            _block_log_prob(xt, n, means, tri, dia, log_norm[p], diff, y, logp)
            for b in range(n):
                i = order[start + b]
                for k in range(n_components):
                    out[i, k] = logp[k, b]


@jit(parallel=True)
def pattern_impute(
    X,
    order,
    task_lo,
    task_hi,
    task_pattern,
    obs,
    n_obs,
    means,
    prec_tri,
    prec_diag,
    log_norm,
    bmat,
    out,
):
    """Conditional expectations of the missing values, over the tasks and
    per-pattern parameters of ``pattern_stats``: for each missing feature m
    of row i, out[i, m] = sum_k r_ik (means[k, m] + (B_k (x_o - means[k, o]))_m)
    with r_ik the responsibilities under the marginal densities (bmat of shape
    (1, 0, D, D) stands for B = 0: diagonal covariances)."""
    n_features = X.shape[1]
    block = _block_rows(n_features)
    n_components = means.shape[0]
    regress = bmat.shape[1] > 0
    for t in prange(task_lo.shape[0]):
        p = task_pattern[t]
        tri = prec_tri[min(p, prec_tri.shape[0] - 1)]
        dia = prec_diag[min(p, prec_diag.shape[0] - 1)]
        no = n_obs[p]
        xt = np.empty((n_features, block))
        diff = np.empty((n_features, block))
        resp = np.empty((n_components, block))
        work = np.empty((5, block))
        for start in range(task_lo[t], task_hi[t], block):
            n = min(block, task_hi[t] - start)
            _load_rows(X, order, start, n, xt)
            _block_log_prob(xt, n, means, tri, dia, log_norm[p], diff, work[0], resp)
            _block_normalize(resp, n, work, False)
            for b in range(n):
                i = order[start + b]
                for a in range(no, n_features):
                    m = obs[p, a]
                    v = 0.0
                    for k in range(n_components):
                        c = means[k, m]
                        if regress:
                            b_k = bmat[p, k if bmat.shape[1] > 1 else 0]
                            for e in range(no):
                                o = obs[p, e]
                                c += b_k[m, o] * (xt[o, b] - means[k, o])
                        v += resp[k, b] * c
                    out[i, m] = v
