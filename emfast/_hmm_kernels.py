"""Numba kernels for hidden Markov models: forward-backward (the Baum-Welch
E-step), Viterbi decoding and the forward filter, over many sequences at once.

Sequences are consecutive rows of one (N, K) array ``log_b`` of per-state
emission log-densities (what ``ArraySource.log_densities`` gives), cut by
``starts`` (S + 1,) int64: sequence s is rows starts[s]:starts[s + 1]
(hmmlearn's ``lengths`` as cumulative offsets; a sequence may be empty).
``startprob`` (K,) and ``transmat`` (K, K) are probabilities and may hold
exact zeros (log(0) = -inf is handled; a zero transition gets zero counts).
Arrays are C-contiguous float64 (``starts`` and ``path`` int64); outputs are
written into arrays the caller allocates.

Parallel layout: consecutive sequences are grouped into tasks of at least
``TASK_STEPS`` time steps (more when there are very many, see
``_sequence_tasks``); a sequence is never split, and the shapes alone decide.
One ``prange`` runs over the tasks; each sequence runs serially in time.

Sums over sequences are exact: each sequence's contribution (a float, computed
serially within the sequence) goes into a fixed-point accumulator of int64
bins that spans the whole float64 range (``_acc_add``). Integer addition is
associative, so the totals are the same bits for any number of threads and
any order of the sequences; they are rounded to float64 once, at the end
(within one unit in the last place of the exact sum).

Kernels that call each other live in this one module, so the on-disk cache
sees every change.
"""

import math

import numpy as np
from numba import prange

from ._jit import jit

TASK_STEPS = 2048
_MIN_TASKS = 64
# Rows per task of ``emission_probabilities``.
_EMISSION_ROWS = 4096
_ACC_MAX_INTS = 1 << 22

# The exact accumulator: bin b holds bits 32 b .. 32 b + 31 of the sum,
# counted from 2**-_ACC_OFFSET; 1127 = 1074 + 53 puts the lowest mantissa bit
# of every float64 (subnormals included) at bit 1 or above, and 70 bins reach
# 2**(70 * 32 - 1127), past float64's largest value with room for carries.
_ACC_BITS = 32
_ACC_MASK = (1 << 32) - 1
_ACC_OFFSET = 1127
_ACC_BINS = 70
# One addition moves a bin by less than 2**33: carries are propagated every
# 2**24 additions, far before an int64 bin could overflow.
_ACC_CARRY_EVERY = 1 << 24
_MANT_MASK = (1 << 52) - 1
# ``exp``: log2(e), log(2) in two parts (the high part exact in 32 bits),
# and 1.5 * 2**52, whose addition rounds to an integer (and its bits).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LN2 = 0.6931471805599453
_ROUND_MAGIC = 6755399441055744.0
_ROUND_MAGIC_BITS = 0x4338000000000000
_HIDDEN_BIT = 1 << 52

# The scaled recursions give up on a sequence (which then runs in log space)
# when a step's normaliser falls below _MIN_SCALE or a backward weight exceeds
# _MAX_WEIGHT: far from overflow and from subnormal precision.
_MIN_SCALE = 1e-200
_MAX_WEIGHT = 1e200


# --------------------------------------------------------------------------
# Exact sums


@jit()
def _acc_add(bins, special, slot, v):
    """Add v exactly into accumulator ``slot``: bins[slot] (_ACC_BINS,)
    int64; infinities and NaN go into special[slot], a float sum (those sums
    do not depend on the order either)."""
    bits = np.float64(v).view(np.int64)
    biased = (bits >> 52) & 0x7FF
    if biased == 0x7FF:
        special[slot] += v
        return
    mant = bits & _MANT_MASK
    if biased == 0:  # zero or subnormal: mant * 2**-1074
        if mant == 0:
            return
        p = _ACC_OFFSET - 1074
    else:  # mant (53 bits) * 2**(biased - 1075)
        mant |= _HIDDEN_BIT
        p = biased - 1075 + _ACC_OFFSET  # the position of the lowest bit
    b = p >> 5
    r = p & 31
    low = (mant & _ACC_MASK) << r
    high = (mant >> _ACC_BITS) << r
    d0 = low & _ACC_MASK
    d1 = (low >> _ACC_BITS) + (high & _ACC_MASK)
    d2 = high >> _ACC_BITS
    if bits < 0:
        bins[slot, b] -= d0
        bins[slot, b + 1] -= d1
        bins[slot, b + 2] -= d2
    else:
        bins[slot, b] += d0
        bins[slot, b + 1] += d1
        bins[slot, b + 2] += d2


@jit()
def _acc_carry(row):
    """Propagate carries: every bin but the last in [0, 2**32), the last
    signed. The same exact sum always gives the same bins."""
    for b in range(row.shape[0] - 1):
        c = row[b] >> _ACC_BITS  # floor division by 2**32
        row[b] -= c << _ACC_BITS
        row[b + 1] += c


@jit()
def _acc_value(row, special):
    """The float64 nearest (within one unit in the last place) to the exact
    sum in ``row``, or ``special`` when an infinity or NaN was added. Leaves
    ``row`` with its carries propagated."""
    if special != 0.0:
        return special if special == special else np.nan
    _acc_carry(row)
    sign = 1.0
    if row[row.shape[0] - 1] < 0:
        for b in range(row.shape[0]):
            row[b] = -row[b]
        _acc_carry(row)
        sign = -1.0
    top = row.shape[0] - 1
    while top >= 0 and row[top] == 0:
        top -= 1
    if top < 0:
        return 0.0
    # The top three bins hold at least 65 significant bits; lower ones cannot
    # change the result by more than a unit in the last place.
    x = 0.0
    for b in range(max(top - 2, 0), top + 1):
        x += math.ldexp(float(row[b]), _ACC_BITS * b - _ACC_OFFSET)
    return sign * x


@jit()
def _acc_reduce(bins, special):
    """Values of the accumulators of all tasks: bins (n_tasks, n_slots,
    _ACC_BINS), each task's carried; special (n_tasks, n_slots). Returns
    (n_slots,) float64."""
    n_tasks, n_slots = special.shape
    out = np.zeros(n_slots)
    total = np.zeros(_ACC_BINS, dtype=np.int64)
    for s in range(n_slots):
        total[:] = 0
        spec = 0.0
        for t in range(n_tasks):
            spec += special[t, s]
            for b in range(_ACC_BINS):
                total[b] += bins[t, s, b]
        out[s] = _acc_value(total, spec)
    return out


@jit()
def _exact_sum(values):
    """The sum of ``values`` (1-D float64) through the exact accumulator:
    the same bits in any order."""
    bins = np.zeros((1, _ACC_BINS), dtype=np.int64)
    special = np.zeros(1)
    for i in range(values.shape[0]):
        _acc_add(bins, special, 0, values[i])
        if (i + 1) % _ACC_CARRY_EVERY == 0:
            _acc_carry(bins[0])
    return _acc_value(bins[0], special[0])


# --------------------------------------------------------------------------
# Task layout


@jit()
def _sequence_tasks(starts, slot_ints):
    """Task boundaries (n_tasks + 1,) over the sequences: task t runs
    sequences bounds[t]:bounds[t + 1], consecutive ones taken until they hold
    at least ``TASK_STEPS`` time steps, or more when that keeps the tasks'
    accumulators (``slot_ints`` int64 each) under about _ACC_MAX_INTS (but
    allows _MIN_TASKS tasks). Depends on the shapes only, never on the number
    of threads."""
    n_sequences = starts.shape[0] - 1
    n_steps = starts[n_sequences] - starts[0] if n_sequences > 0 else 0
    max_tasks = max(_MIN_TASKS, _ACC_MAX_INTS // max(1, slot_ints))
    target = max(TASK_STEPS, (n_steps + max_tasks - 1) // max_tasks)
    bounds = np.empty(n_sequences + 1, dtype=np.int64)
    bounds[0] = 0
    n_tasks = 0
    steps = 0
    for s in range(n_sequences):
        steps += starts[s + 1] - starts[s]
        if steps >= target or s == n_sequences - 1:
            n_tasks += 1
            bounds[n_tasks] = s + 1
            steps = 0
    return bounds[: n_tasks + 1]


@jit()
def _longest(starts, first, last):
    """The length of the longest of sequences first:last."""
    n = 0
    for s in range(first, last):
        n = max(n, starts[s + 1] - starts[s])
    return n


@jit()
def log_params(startprob, transmat):
    """log(startprob), log(transmat) and its transpose (C-contiguous), with
    log(0) = -inf."""
    log_startprob = np.log(startprob)
    log_transmat = np.log(transmat)
    return log_startprob, log_transmat, np.ascontiguousarray(log_transmat.T)


# --------------------------------------------------------------------------
# Emission probabilities for the scaled recursions


@jit(exact_rounding=True)
def exp(x):
    """exp(x) within one unit in the last place (0 below -745.2, +inf above
    709.8 as libm's), as straight-line arithmetic that the compiler can
    vectorise: x = n log 2 + r with |r| <= log(2) / 2, exp(r) by its Taylor
    polynomial of degree 13 (remainder below 2**-60), times 2**n built in
    two factors (so that subnormal results come out right). Compiled
    without the fastmath set: its rounding steps must not be reassociated."""
    v = min(max(x, -746.0), 710.0)
    t = v * _LOG2E + _ROUND_MAGIC
    n = t - _ROUND_MAGIC
    r = v - n * _LN2_HI
    r = r - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    k = np.float64(t).view(np.int64) - _ROUND_MAGIC_BITS
    half = k >> 1
    first = np.int64((half + 1023) << 52).view(np.float64)
    second = np.int64((k - half + 1023) << 52).view(np.float64)
    return p * first * second


@jit(parallel=True)
def emission_probabilities(log_b, probs, tops):
    """Per step t: tops[t] = max_k log_b[t, k] and probs[t, k] =
    exp(log_b[t, k] - tops[t]) (``exp``), the emission probabilities
    relative to the step's best state (so that far outliers cannot
    underflow); a step whose maximum is not finite gets probs 0 (the scaled
    recursions then give up on its sequence). Rows are independent:
    parallel over fixed blocks of rows."""
    n_rows, n_states = log_b.shape
    n_blocks = (n_rows + _EMISSION_ROWS - 1) // _EMISSION_ROWS
    for block in prange(n_blocks):
        lo = block * _EMISSION_ROWS
        hi = min(n_rows, lo + _EMISSION_ROWS)
        for t in range(lo, hi):
            top = log_b[t, 0]
            for k in range(1, n_states):
                top = max(top, log_b[t, k])
            tops[t] = top
            finite = math.isfinite(top)
            for k in range(n_states):
                probs[t, k] = log_b[t, k] - top if finite else -np.inf
        # Then exp over the block's values as one flat loop: a vector loop
        # even when there are only a few states.
        flat = probs[lo:hi].reshape(-1)
        for e in range(flat.shape[0]):
            flat[e] = exp(flat[e])


# --------------------------------------------------------------------------
# One sequence, scaled: probabilities relative to each step's best state
#
# The passes below run over rows lo:hi of one sequence: the whole sequence,
# or one block of a sequence too long to hold its emissions at once (see
# hmm.py), in which case they are called block after block, forward in time
# and then backward, and carry their state in the arrays they are given.
# ``alpha``/``gamma`` and ``scale`` are indexed by row; the emissions
# (``probs``, ``tops``, ``log_b``) by row - ``off``. ``first``: row lo is
# the sequence's first step; ``last``: row hi - 1 is its last.


@jit()
def forward_scaled(
    probs, tops, off, lo, hi, first, startprob, transmat_t, alpha, scale, pred, run
):
    """The scaled forward pass: alpha[t] = p(z_t | x_0..t) (normalised
    forward variables) and scale[t] (the normaliser c_t); ``transmat_t`` is
    the transition matrix transposed (C-contiguous). ``run`` (3,) carries
    the log-likelihood of the steps so far (``new_run``, ``run_value``):
    the sum of tops[t], and the product of the c_t as a float times 2 to
    an integer power, so that no step pays for a logarithm. Returns ok:
    False when a step's maximum is not finite or c_t < _MIN_SCALE (the
    caller then runs the sequence in log space). pred (K,) is scratch."""
    n_states = transmat_t.shape[0]
    top_sum = run[0]
    product = run[1]
    for t in range(lo, hi):
        top = tops[t - off]
        if not math.isfinite(top):
            return False
        if t == lo and first:
            for k in range(n_states):
                pred[k] = startprob[k] * probs[t - off, k]
        else:
            # One dot product per state, accumulated in a register.
            for j in range(n_states):
                acc = 0.0
                for i in range(n_states):
                    acc += alpha[t - 1, i] * transmat_t[j, i]
                pred[j] = acc * probs[t - off, j]
        # The normaliser in a loop of its own, which only reads: a loop that
        # also stores would be compiled in two versions, chosen at run time
        # by where the arrays lie, that add in different orders.
        c = 0.0
        for k in range(n_states):
            c += pred[k]
        if not c >= _MIN_SCALE:
            return False
        inv = 1.0 / c
        for k in range(n_states):
            alpha[t, k] = pred[k] * inv
        scale[t] = c
        top_sum += top
        # c <= 1 (up to rounding) and >= _MIN_SCALE: renormalised below
        # 1e-90, the product stays a normal number.
        product *= c
        if product < 1e-90:
            m, e = math.frexp(product)
            product = m
            run[2] += e
        run[0] = top_sum
        run[1] = product
    return True


@jit()
def new_run(run):
    """Reset a ``forward_scaled`` run (3,) to no steps."""
    run[0] = 0.0
    run[1] = 1.0
    run[2] = 0.0


@jit()
def run_value(run):
    """The log-likelihood of a ``forward_scaled`` run."""
    return run[0] + (math.log(run[1]) + run[2] * _LN2)


@jit()
def backward_scaled(
    probs, off, lo, hi, first, last, transmat, gamma, scale, w, beta, xi
):
    """The scaled backward pass over rows hi - 1 down to lo after
    ``forward_scaled`` (which left alpha in gamma): gamma becomes the
    posteriors p(z_t | all x), normalised per step, and xi (K, K) gathers
    sum_t alpha_t(i) w_t+1(j) (the caller multiplies by A_ij at the end of
    the sequence). w (K,) carries w_t+1(j) = p(x_t+1 | z_t+1 = j)
    beta_t+1(j) / c_t+1 (relative to the step's best state) from the row
    after hi - 1, unless ``last``. Returns False when a w exceeds
    _MAX_WEIGHT. beta (K,) is scratch."""
    n_states = transmat.shape[0]
    for t in range(hi - 1, lo - 1, -1):
        if t == hi - 1 and last:
            for i in range(n_states):
                beta[i] = 1.0
        else:
            total = 0.0
            for i in range(n_states):
                ai = gamma[t, i]
                # The sum in a loop that only reads (see forward_scaled).
                s = 0.0
                for j in range(n_states):
                    s += transmat[i, j] * w[j]
                for j in range(n_states):
                    xi[i, j] += ai * w[j]
                beta[i] = s
                g = ai * s
                gamma[t, i] = g
                total += g
            inv_total = 1.0 / total
            for i in range(n_states):
                gamma[t, i] *= inv_total
        if t == lo and first:
            break
        inv = 1.0 / scale[t]
        top = 0.0
        for j in range(n_states):
            v = probs[t - off, j] * beta[j] * inv
            w[j] = v
            top = max(top, v)
        if not top <= _MAX_WEIGHT:
            return False
    return True


# --------------------------------------------------------------------------
# One sequence, in log space


@jit()
def logsumexp(v):
    top = v[0]
    for k in range(1, v.shape[0]):
        top = max(top, v[k])
    if not math.isfinite(top):
        return top
    s = 0.0
    for k in range(v.shape[0]):
        s += math.exp(v[k] - top)
    return top + math.log(s)


@jit()
def forward_log(log_b, off, lo, hi, first, log_startprob, log_transmat_t, fwd, buf):
    """fwd[t, j] = log p(x_0..t, z_t = j) over rows lo:hi (buf: (K,)
    scratch). The sequence's log-likelihood is logsumexp(fwd[last row])."""
    n_states = log_startprob.shape[0]
    for t in range(lo, hi):
        if t == lo and first:
            for j in range(n_states):
                fwd[t, j] = log_startprob[j] + log_b[t - off, j]
            continue
        for j in range(n_states):
            for i in range(n_states):
                buf[i] = fwd[t - 1, i] + log_transmat_t[j, i]
            fwd[t, j] = logsumexp(buf) + log_b[t - off, j]


@jit()
def backward_log(log_b, off, lo, hi, first, last, log_transmat, gamma, rows, terms, xi):
    """The backward pass in log space over rows hi - 1 down to lo after
    ``forward_log`` (which left the log forward variables f_t in gamma):
    gamma becomes the posteriors and xi (K, K) gathers the expected
    transition counts. rows (4, K) and terms (K, K) are scratch; rows[1]
    carries u_t+1(j) = log p(x_t+1 | z_t+1 = j) + b_t+1(j) from the row
    after hi - 1, unless ``last``.

    Each step is normalised by its own Z_t = logsumexp_i(f_t(i) + b_t(i))
    (the log-likelihood in exact arithmetic): the posteriors, as hmmlearn's,
    and the transition counts too. (hmmlearn divides those by the
    log-likelihood; the rounding of f_t and b_t, terms of the size of the
    log-likelihood, then leaves all counts off by one common factor, about
    1e-8 after 1e5 steps.)"""
    n_states = log_transmat.shape[0]
    bwd, u, v, tops = rows[0], rows[1], rows[2], rows[3]
    for t in range(hi - 1, lo - 1, -1):
        if t == hi - 1 and last:
            for i in range(n_states):
                bwd[i] = 0.0
                v[i] = gamma[t, i]
            z = logsumexp(v)
            for i in range(n_states):
                gamma[t, i] = math.exp(v[i] - z)
        else:
            for i in range(n_states):
                # b_t(i) = logsumexp_j(log A_ij + u_j); its terms, relative
                # to their maximum, serve xi_t(i, j) too.
                top = -np.inf
                for j in range(n_states):
                    top = max(top, log_transmat[i, j] + u[j])
                tops[i] = top
                if top == -np.inf:
                    bwd[i] = -np.inf
                    continue
                s = 0.0
                for j in range(n_states):
                    e = math.exp(log_transmat[i, j] + u[j] - top)
                    terms[i, j] = e
                    s += e
                bwd[i] = top + math.log(s)
            for i in range(n_states):
                v[i] = gamma[t, i] + bwd[i]
            z = logsumexp(v)
            for i in range(n_states):
                if tops[i] > -np.inf:
                    factor = math.exp(gamma[t, i] + tops[i] - z)
                    for j in range(n_states):
                        xi[i, j] += terms[i, j] * factor
                gamma[t, i] = math.exp(v[i] - z)
        if t == lo and first:
            break
        for j in range(n_states):
            u[j] = log_b[t - off, j] + bwd[j]


@jit()
def _fill_nan(a, lo, hi):
    for t in range(lo, hi):
        for k in range(a.shape[1]):
            a[t, k] = np.nan


# --------------------------------------------------------------------------
# The kernels


@jit()
def _forward_sequence(
    log_b,
    probs,
    tops,
    lo,
    hi,
    startprob,
    transmat_t,
    log_startprob,
    log_transmat_t,
    alpha,
    scale,
    work,
    run,
    scaled,
):
    """The forward pass of the whole sequence in rows lo:hi: with
    ``scaled``, ``forward_scaled``, and where it gives up (or without
    ``scaled``) ``forward_log``. Returns (ok, log-likelihood): ok when the
    scaled pass held (alpha: its normalised forward variables, scale: its
    normalisers); otherwise alpha holds the log forward variables. work
    (K,) and run (3,) are scratch."""
    if scaled:
        new_run(run)
        ok = forward_scaled(
            probs,
            tops,
            0,
            lo,
            hi,
            True,
            startprob,
            transmat_t,
            alpha,
            scale,
            work,
            run,
        )
        if ok:
            return True, run_value(run)
    forward_log(log_b, 0, lo, hi, True, log_startprob, log_transmat_t, alpha, work)
    return False, logsumexp(alpha[hi - 1])


@jit()
def accumulator(n_states):
    """An exact accumulator for the sums of ``sequences_e_step``: bins
    (1 + K + K * K, _ACC_BINS) int64 and special (1 + K + K * K,) float64,
    slot 0 the log-likelihood, 1..K the start counts, then the transition
    counts."""
    n_slots = 1 + n_states + n_states * n_states
    return np.zeros((n_slots, _ACC_BINS), dtype=np.int64), np.zeros(n_slots)


@jit()
def _add_sequence(bins, special, log_likelihood, start, xi, weight):
    """Add one sequence's terms times ``weight`` to an ``accumulator``,
    without propagating carries (callers carry at least every
    _ACC_CARRY_EVERY sequences); nothing for a weight of 0."""
    if weight == 0.0:
        return
    n_states = start.shape[0]
    _acc_add(bins, special, 0, weight * log_likelihood)
    for k in range(n_states):
        _acc_add(bins, special, 1 + k, weight * start[k])
    for i in range(n_states):
        for j in range(n_states):
            _acc_add(bins, special, 1 + n_states + i * n_states + j, weight * xi[i, j])


@jit()
def accumulate(bins, special, log_likelihood, start, xi, weight):
    """Add one sequence's terms (its log-likelihood, posterior at the first
    step (K,) and transition counts (K, K)), times ``weight``, to an
    ``accumulator``; nothing for a weight of 0."""
    _add_sequence(bins, special, log_likelihood, start, xi, weight)
    for slot in range(bins.shape[0]):
        _acc_carry(bins[slot])


@jit()
def accumulated(bins, special):
    """(log_likelihood, start_counts (K,), transition_counts (K, K)) of an
    ``accumulator``, each rounded once."""
    n_slots = special.shape[0]
    n_states = 0
    while 1 + n_states + n_states * n_states < n_slots:
        n_states += 1
    totals = np.empty(n_slots)
    row = np.empty(_ACC_BINS, dtype=np.int64)
    for slot in range(n_slots):
        row[:] = bins[slot]
        totals[slot] = _acc_value(row, special[slot])
    start = totals[1 : 1 + n_states].copy()
    trans = totals[1 + n_states :].copy().reshape((n_states, n_states))
    return totals[0], start, trans


@jit(parallel=True)
def sequences_e_step(
    log_b,
    probs,
    tops,
    starts,
    startprob,
    transmat,
    gamma,
    scale,
    scaled,
    seq_weight,
    bins,
    special,
):
    """The Baum-Welch E-step over whole sequences: forward-backward per
    sequence, the posteriors written into ``gamma`` (N, K) in place, the
    sums added to an ``accumulator`` (bins, special).

    With ``scaled``, hmmlearn's 'scaling' recursions on the emission
    probabilities relative to each step's best state (``probs`` and
    ``tops`` from ``emission_probabilities``; ``scale`` (N,) is scratch); a
    sequence on which they would lose precision (a step's normaliser below
    _MIN_SCALE, which zeros in transmat can cause next to outliers, a
    backward weight above _MAX_WEIGHT, or a step with no finite maximum)
    runs in log space instead. Otherwise hmmlearn's 'log' recursions
    (log-sum-exp over log(startprob), log(transmat)); ``probs``, ``tops``
    and ``scale`` are then not used.

    Adds per sequence s, times its weight (``seq_weight`` of length S, else
    empty: 1; a sequence of weight 0 adds nothing, even when its
    probability is 0): log p(x_s), the posteriors at its first step and its
    expected transition counts sum_t p(z_t = i, z_t+1 = j | x_s). Returns
    (S,) the per-sequence log-likelihoods (0 for an empty sequence). A
    sequence of probability zero under the model gets log-likelihood -inf
    and NaN posteriors, which make the counts NaN (as hmmlearn's 'log'
    does).
    """
    n_states = transmat.shape[0]
    n_sequences = starts.shape[0] - 1
    log_startprob, log_transmat, log_transmat_t = log_params(startprob, transmat)
    transmat_t = np.ascontiguousarray(transmat.T)
    n_slots = bins.shape[0]
    task_bounds = _sequence_tasks(starts, n_slots * _ACC_BINS)
    n_tasks = task_bounds.shape[0] - 1
    task_bins = np.zeros((n_tasks, n_slots, _ACC_BINS), dtype=np.int64)
    task_special = np.zeros((n_tasks, n_slots))
    per_sequence = np.zeros(n_sequences)
    weighted = seq_weight.shape[0] == n_sequences
    for task in prange(n_tasks):
        first = task_bounds[task]
        last = task_bounds[task + 1]
        rows = np.empty((4, n_states))
        pred = np.empty(n_states)
        run = np.empty(3)
        xi = np.empty((n_states, n_states))
        terms = np.empty((n_states, n_states))
        t_bins = task_bins[task]
        t_special = task_special[task]
        for s in range(first, last):
            lo = starts[s]
            hi = starts[s + 1]
            if hi == lo:
                continue
            xi[:, :] = 0.0
            ok, ll = _forward_sequence(
                log_b,
                probs,
                tops,
                lo,
                hi,
                startprob,
                transmat_t,
                log_startprob,
                log_transmat_t,
                gamma,
                scale,
                pred,
                run,
                scaled,
            )
            if ok:
                ok = backward_scaled(
                    probs,
                    0,
                    lo,
                    hi,
                    True,
                    True,
                    transmat,
                    gamma,
                    scale,
                    rows[0],
                    rows[1],
                    xi,
                )
                if ok:
                    for i in range(n_states):
                        for j in range(n_states):
                            xi[i, j] *= transmat[i, j]
                else:
                    xi[:, :] = 0.0
                    forward_log(
                        log_b,
                        0,
                        lo,
                        hi,
                        True,
                        log_startprob,
                        log_transmat_t,
                        gamma,
                        pred,
                    )
                    ll = logsumexp(gamma[hi - 1])
            if not ok:
                if math.isfinite(ll):
                    backward_log(
                        log_b,
                        0,
                        lo,
                        hi,
                        True,
                        True,
                        log_transmat,
                        gamma,
                        rows,
                        terms,
                        xi,
                    )
                else:
                    _fill_nan(gamma, lo, hi)
                    xi[:, :] = np.nan
            per_sequence[s] = ll
            w = seq_weight[s] if weighted else 1.0
            _add_sequence(t_bins, t_special, ll, gamma[lo], xi, w)
            if (s - first + 1) % _ACC_CARRY_EVERY == 0:
                for slot in range(n_slots):
                    _acc_carry(t_bins[slot])
        for slot in range(n_slots):
            _acc_carry(t_bins[slot])
    for slot in range(n_slots):
        for task in range(n_tasks):
            special[slot] += task_special[task, slot]
            for b in range(_ACC_BINS):
                bins[slot, b] += task_bins[task, slot, b]
        _acc_carry(bins[slot])
    return per_sequence


def _scaled_inputs(log_b, scaled):
    """(probs, tops, scale) for the scaled recursions on ``log_b``: the
    emission probabilities relative to each step's best state, the steps'
    maxima and a scratch array of normalisers; empty arrays without
    ``scaled`` (the log-space recursions do not read them)."""
    if not scaled:
        return np.empty((0, log_b.shape[1])), np.empty(0), np.empty(0)
    probs = np.empty_like(log_b)
    tops = np.empty(log_b.shape[0])
    emission_probabilities(log_b, probs, tops)
    return probs, tops, np.empty(log_b.shape[0])


def forward_backward(log_b, starts, startprob, transmat, gamma, scaled, seq_weight):
    """``sequences_e_step`` on its own (for tests and one-off use): the
    posteriors into ``gamma`` in place; returns ``(log_likelihood,
    log_likelihood_per_sequence, start_counts, transition_counts)``, the
    sums rounded once."""
    probs, tops, scale = _scaled_inputs(log_b, scaled)
    bins, special = accumulator(transmat.shape[0])
    per_sequence = sequences_e_step(
        log_b,
        probs,
        tops,
        starts,
        startprob,
        transmat,
        gamma,
        scale,
        scaled,
        seq_weight,
        bins,
        special,
    )
    log_likelihood, start, trans = accumulated(bins, special)
    return log_likelihood, per_sequence, start, trans


@jit()
def _viterbi_sequence(log_b, lo, hi, log_startprob, log_transmat_t, path, v, nv, back):
    """The most probable state path of rows lo:hi into path[lo:hi]; returns
    its log-probability. Ties as hmmlearn's: the last state at the end is the
    first best one; going back, the predecessor is the last best one."""
    n_states = log_startprob.shape[0]
    for j in range(n_states):
        v[j] = log_startprob[j] + log_b[lo, j]
    for t in range(1, hi - lo):
        for j in range(n_states):
            best = -np.inf
            arg = 0
            for i in range(n_states):
                c = v[i] + log_transmat_t[j, i]
                # Branch-free (selects): which state wins is data-dependent.
                better = c >= best
                arg = i if better else arg
                best = c if better else best
            nv[j] = best + log_b[lo + t, j]
            back[t, j] = arg
        for j in range(n_states):
            v[j] = nv[j]
    state = 0
    for j in range(1, n_states):
        if v[j] > v[state]:
            state = j
    log_prob = v[state]
    path[hi - 1] = state
    for t in range(hi - lo - 1, 0, -1):
        state = back[t, state]
        path[lo + t - 1] = state
    return log_prob


@jit(parallel=True)
def viterbi(log_b, starts, startprob, transmat, path):
    """Viterbi decoding of every sequence: the most probable state sequence
    into ``path`` (N,) int64 in place.

    Returns ``(log_prob, log_prob_per_sequence)``: the sum over sequences
    (exact, see the module docstring) and (S,) each sequence's log
    p(x_s, best path) (0 for an empty sequence). Ties are broken as
    hmmlearn's ``_hmmc.viterbi`` does: the last state is the first of the
    best at the last step; each earlier one is the last of the best
    predecessors.
    """
    n_states = transmat.shape[0]
    n_sequences = starts.shape[0] - 1
    log_startprob, _, log_transmat_t = log_params(startprob, transmat)
    bounds = _sequence_tasks(starts, 0)
    n_tasks = bounds.shape[0] - 1
    per_sequence = np.zeros(n_sequences)
    for task in prange(n_tasks):
        first = bounds[task]
        last = bounds[task + 1]
        back = np.empty((max(1, _longest(starts, first, last)), n_states), np.int32)
        v = np.empty(n_states)
        nv = np.empty(n_states)
        for s in range(first, last):
            lo = starts[s]
            hi = starts[s + 1]
            if hi > lo:
                per_sequence[s] = _viterbi_sequence(
                    log_b, lo, hi, log_startprob, log_transmat_t, path, v, nv, back
                )
    return _exact_sum(per_sequence), per_sequence


@jit(parallel=True)
def _filter(
    log_b, probs, tops, starts, startprob, transmat, alpha, scale, scaled, posteriors
):
    n_states = transmat.shape[0]
    n_sequences = starts.shape[0] - 1
    log_startprob, _, log_transmat_t = log_params(startprob, transmat)
    transmat_t = np.ascontiguousarray(transmat.T)
    bounds = _sequence_tasks(starts, 0)
    n_tasks = bounds.shape[0] - 1
    per_sequence = np.zeros(n_sequences)
    for task in prange(n_tasks):
        work = np.empty(n_states)
        run = np.empty(3)
        for s in range(bounds[task], bounds[task + 1]):
            lo = starts[s]
            hi = starts[s + 1]
            if hi == lo:
                continue
            ok, ll = _forward_sequence(
                log_b,
                probs,
                tops,
                lo,
                hi,
                startprob,
                transmat_t,
                log_startprob,
                log_transmat_t,
                alpha,
                scale,
                work,
                run,
                scaled,
            )
            if not ok and posteriors:
                for t in range(lo, hi):
                    norm = logsumexp(alpha[t])
                    for k in range(n_states):
                        alpha[t, k] = math.exp(alpha[t, k] - norm)
            per_sequence[s] = ll
    return per_sequence


def forward_filter(log_b, starts, startprob, transmat, alpha):
    """The filtered posteriors p(z_t | x_0..t) of every step into ``alpha``
    (N, K) in place (the scaled forward pass; a sequence it cannot keep
    precise runs in log space, see ``sequences_e_step``).

    Returns (S,) the per-sequence log-likelihoods (0 for an empty sequence;
    -inf, with NaN filtered posteriors from the first impossible step on, for
    a sequence of probability zero)."""
    probs, tops, scale = _scaled_inputs(log_b, True)
    return _filter(
        log_b, probs, tops, starts, startprob, transmat, alpha, scale, True, True
    )


def forward_log_likelihoods(log_b, starts, startprob, transmat, scaled, work):
    """Each sequence's log-likelihood (S,) by the forward pass alone, as
    ``sequences_e_step`` computes it (scaled or in log space); ``work`` is
    an (N, K) scratch array."""
    probs, tops, scale = _scaled_inputs(log_b, scaled)
    return _filter(
        log_b, probs, tops, starts, startprob, transmat, work, scale, scaled, False
    )


@jit()
def sample_states(transmat_cdf, first, draws):
    """A state sequence of len(draws) steps from state ``first``: the state
    after s is the first k with transmat_cdf[s, k] > draws[t] (the last
    state when rounding leaves the row's total below the draw); draws[0]
    is not used."""
    n_steps = draws.shape[0]
    n_states = transmat_cdf.shape[0]
    states = np.empty(n_steps, dtype=np.int64)
    if n_steps == 0:
        return states
    state = first
    states[0] = state
    for t in range(1, n_steps):
        u = draws[t]
        k = 0
        while k < n_states - 1 and not transmat_cdf[state, k] > u:
            k += 1
        state = k
        states[t] = state
    return states
