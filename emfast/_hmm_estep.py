"""The Baum–Welch E-step of the hidden Markov models over a data source, in
bounded memory.

The sequences are cut into *batches* of consecutive whole sequences whose
emission arrays (rows × states) hold at most ``BATCH_ELEMENTS`` values. For
each batch, the model's emission log-densities are computed on the batch's
rows (``source.rows``), forward–backward runs over its sequences in
parallel (``_hmm_kernels.sequences_e_step``), and the model turns the state
posteriors into the batch's emission statistics. A sequence too long for one
batch is a batch of its own, run *block by block*: the forward pass over its
blocks keeps only the forward variables and the per-step normalisers (K + 1
values per step); the backward pass recomputes each block's emission
densities, in reverse block order, and hands each block's posteriors to the
emission statistics. The same kernels run both ways, with the same
arithmetic in the same order, so a long sequence's posteriors,
log-likelihood and transition counts are the same bits as in one pass (its
emission statistics are summed block by block, so their last bits
differ).

Memory: besides the data, a fit holds the batch arrays (emissions,
emission probabilities, posteriors: 3 × 8 × ``BATCH_ELEMENTS`` bytes), and
for a long sequence its forward variables (8 × (K + 1) bytes per step). The
arrays are kept by the model and reused by every iteration.

Sums: the transition counts, start counts and log-likelihood go into one
exact accumulator (``_hmm_kernels.accumulator``), so they do not depend on
the number of threads or the order of the sequences; the emission statistics
are sums of the batches' statistics, in batch order. The batches depend on
the sequences' lengths and the number of states only.

Dask: a Dask array whose row chunks hold whole sequences
(``_dask.DaskSequenceSource``) runs ``sums`` on each chunk where it lives
(``chunk_sums``, batches cut within the chunk) and adds the chunks' sums in
a fixed tree in chunk order (``add_sums``): the accumulators add as
integers, so the log-likelihood and the start and transition counts are the
same bits as in memory; the emission statistics differ from the in-memory
ones only in the order of their floating-point sums. ``infer`` gives the
inference results (posteriors, Viterbi paths, filtered posteriors) of
whole sequences, in memory or chunk by chunk.
"""

from __future__ import annotations

import numpy as np

from . import _hmm_kernels

# Values (rows x states) of one batch's emission arrays: 8 MiB each.
BATCH_ELEMENTS = 1 << 20


def sequence_batches(starts, n_states, batch_elements=BATCH_ELEMENTS):
    """Batches (first, last, long) of sequences first:last: consecutive
    whole sequences with at most ``batch_elements`` rows × states in all,
    or one sequence longer than that (``long``), run block by block."""
    lengths = np.diff(starts)
    limit = max(1, batch_elements // n_states)
    batches = []
    first = 0
    rows = 0
    for s, n in enumerate(lengths.tolist()):
        if n > limit:
            if s > first:
                batches.append((first, s, False))
            batches.append((s, s + 1, True))
            first = s + 1
            rows = 0
            continue
        if rows + n > limit and s > first:
            batches.append((first, s, False))
            first = s
            rows = 0
        rows += n
    if first < len(lengths):
        batches.append((first, len(lengths), False))
    return batches


class Workspace:
    """Arrays kept between E-steps: one per name, grown as needed, views of
    the requested shape handed out (each first touch of new memory costs a
    page fault, which on large arrays costs as much as the pass itself)."""

    def __init__(self):
        self._arrays = {}

    def array(self, name, shape):
        size = int(np.prod(shape))
        buf = self._arrays.get(name)
        if buf is None or buf.shape[0] < size:
            buf = np.empty(size)
            self._arrays[name] = buf
        return buf[:size].reshape(shape)


def e_step(model, source, params, workspace):
    """The E-step of ``model`` (a ``BaseHMMModel``) over ``source``: returns
    ``(log_likelihood, start_counts, transition_counts, emission_stats)``.

    A source in chunks of whole sequences (``_dask.DaskSequenceSource``)
    runs ``chunk_sums`` on every chunk and adds them (``add_sums``); any
    other source is one chunk (``sums``)."""
    context = model.emission_context(params)
    if hasattr(source, "map_sequences"):
        bins, special, emission = source.map_sequences(
            chunk_sums, (model.shipped(), params, context), combine=add_sums
        )
    else:
        bins, special, emission = sums(
            model,
            source,
            params,
            context,
            model.starts,
            model.seq_weight,
            workspace,
        )
    log_likelihood, start, trans = _hmm_kernels.accumulated(bins, special)
    return float(log_likelihood), start, trans, emission


def sums(model, source, params, context, starts, seq_weight, workspace):
    """The E-step's sums over the sequences of an in-memory ``source`` cut
    by ``starts`` (``seq_weight``: one weight per sequence, or empty),
    batch by batch: ``(bins, special, emission_stats)``, the exact
    accumulator of ``_hmm_kernels.accumulator`` (log-likelihood, start and
    transition counts) and the emission statistics (None without rows).
    ``context`` is ``model.emission_context(params)``."""
    K = model.n_components
    weighted = seq_weight.shape[0] == starts.shape[0] - 1
    bins, special = _hmm_kernels.accumulator(K)
    emission = None
    for first, last, long in sequence_batches(starts, K, model.batch_elements):
        if long:
            weight = float(seq_weight[first]) if weighted else 1.0
            part = _long_sequence(
                model,
                source,
                params,
                context,
                starts,
                first,
                weight,
                bins,
                special,
                workspace,
            )
        else:
            part = _whole_sequences(
                model,
                source,
                params,
                context,
                starts,
                first,
                last,
                seq_weight[first:last] if weighted else seq_weight,
                bins,
                special,
                workspace,
            )
        if part is not None:
            emission = part if emission is None else emission.merged(part)
    return bins, special, emission


def chunk_sums(source, starts, seq_weight, model, params, context):
    """``sums`` over one chunk of whole sequences (a task of
    ``DaskSequenceSource.map_sequences``), with arrays of its own."""
    return sums(model, source, params, context, starts, seq_weight, Workspace())


def add_sums(*parts):
    """``sums`` of consecutive chunks added, in the order given: the
    accumulators exactly (integer bins), the emission statistics merged."""
    bins, special, emission = parts[0]
    bins, special = bins.copy(), special.copy()
    for more_bins, more_special, more_emission in parts[1:]:
        bins += more_bins
        special += more_special
        if more_emission is not None:
            emission = (
                more_emission if emission is None else emission.merged(more_emission)
            )
    return bins, special, emission


def _whole_sequences(
    model, source, params, context, starts, first, last, seq_weight, bins, special, ws
):
    lo, hi = int(starts[first]), int(starts[last])
    if hi == lo:
        return None
    K = model.n_components
    batch = source.rows(lo, hi)
    local_starts = starts[first : last + 1] - lo
    log_b, extra = model.log_emissions(batch, context, ws.array("log_b", (hi - lo, K)))
    gamma = ws.array("gamma", (hi - lo, K))
    if model.scaled:
        probs = ws.array("probs", (hi - lo, K))
        tops = ws.array("tops", (hi - lo,))
        scale = ws.array("scale", (hi - lo,))
        _hmm_kernels.emission_probabilities(log_b, probs, tops)
    else:
        probs = np.empty((0, K))
        tops = scale = np.empty(0)
    _hmm_kernels.sequences_e_step(
        log_b,
        probs,
        tops,
        local_starts,
        params.startprob,
        params.transmat,
        gamma,
        scale,
        model.scaled,
        seq_weight,
        bins,
        special,
    )
    return model.emission_stats(batch, context, gamma, extra)


def _long_sequence(
    model, source, params, context, starts, s, weight, bins, special, ws
):
    """One sequence, block by block (see the module docstring)."""
    K = model.n_components
    lo, hi = int(starts[s]), int(starts[s + 1])
    n = hi - lo
    block = max(1, model.batch_elements // K)
    blocks = [(a, min(a + block, n)) for a in range(0, n, block)]
    alpha = ws.array("alpha", (n, K))
    scale = ws.array("scale", (n,))
    xi = np.zeros((K, K))
    rows = np.empty((4, K))
    terms = np.empty((K, K))
    startprob, transmat = params.startprob, params.transmat
    transmat_t = np.ascontiguousarray(transmat.T)

    def emissions(a, b):
        batch = source.rows(lo + a, lo + b)
        log_b, extra = model.log_emissions(
            batch, context, ws.array("log_b", (b - a, K))
        )
        return batch, log_b, extra

    def probabilities(log_b):
        probs = ws.array("probs", log_b.shape)
        tops = ws.array("tops", log_b.shape[:1])
        _hmm_kernels.emission_probabilities(log_b, probs, tops)
        return probs, tops

    ll = 0.0
    ok = model.scaled
    emission = None
    if ok:
        run = np.empty(3)
        _hmm_kernels.new_run(run)
        for a, b in blocks:
            _, log_b, _ = emissions(a, b)
            probs, tops = probabilities(log_b)
            ok = _hmm_kernels.forward_scaled(
                probs,
                tops,
                a,
                a,
                b,
                a == 0,
                startprob,
                transmat_t,
                alpha,
                scale,
                rows[0],
                run,
            )
            if not ok:
                break
        ll = _hmm_kernels.run_value(run)
    if ok:
        for a, b in reversed(blocks):
            batch, log_b, extra = emissions(a, b)
            probs, _ = probabilities(log_b)
            ok = _hmm_kernels.backward_scaled(
                probs,
                a,
                a,
                b,
                a == 0,
                b == n,
                transmat,
                alpha,
                scale,
                rows[0],
                rows[1],
                xi,
            )
            if not ok:
                break
            part = model.emission_stats(batch, context, alpha[a:b], extra)
            emission = part if emission is None else emission.merged(part)
        if ok:
            xi *= transmat
    if not ok:
        ll, xi, emission = _long_sequence_log(
            model, params, context, n, blocks, alpha, rows, terms, emissions
        )
    _hmm_kernels.accumulate(bins, special, ll, alpha[0].copy(), xi, weight)
    return emission


def _long_sequence_log(
    model, params, context, n, blocks, alpha, rows, terms, emissions
):
    """The log-space passes of a long sequence (``model.scaled`` off, or the
    scaled passes gave up): (log-likelihood, transition counts, emission
    statistics)."""
    K = model.n_components
    log_startprob, log_transmat, log_transmat_t = _hmm_kernels.log_params(
        params.startprob, params.transmat
    )
    xi = np.zeros((K, K))
    for a, b in blocks:
        _, log_b, _ = emissions(a, b)
        _hmm_kernels.forward_log(
            log_b, a, a, b, a == 0, log_startprob, log_transmat_t, alpha, rows[0]
        )
    ll = _hmm_kernels.logsumexp(alpha[n - 1])
    finite = np.isfinite(ll)
    if not finite:
        alpha[...] = np.nan
        xi[...] = np.nan
    emission = None
    for a, b in reversed(blocks):
        batch, log_b, extra = emissions(a, b)
        if finite:
            _hmm_kernels.backward_log(
                log_b, a, a, b, a == 0, b == n, log_transmat, alpha, rows, terms, xi
            )
        part = model.emission_stats(batch, context, alpha[a:b], extra)
        emission = part if emission is None else emission.merged(part)
    return ll, xi, emission


def infer(source, starts, seq_weight, model, params, context, what):
    """Inference over the sequences of an in-memory ``source`` cut by
    ``starts`` (``seq_weight`` is not used; the signature is
    ``DaskSequenceSource.map_sequences``'s): ``(log_prob_per_sequence,
    result)``. ``what``: 'posteriors' (smoothed, (n_samples, K)), 'score'
    (no result: the forward pass alone), 'viterbi' (the best path,
    (n_samples,) int64, and each sequence's log p(x, path)) or 'filtered'
    (p(state at t | steps up to t), (n_samples, K)).

    Runs the E-step's batches of whole sequences (``sequence_batches``),
    with emission arrays of one batch reused from batch to batch; a
    sequence longer than a batch is one batch of its own. Every sequence's
    result is what one pass over all the data would give."""
    K = model.n_components
    n_rows = int(starts[-1])
    startprob, transmat = params.startprob, params.transmat
    per_sequence = np.zeros(starts.shape[0] - 1)
    if what == "viterbi":
        result = np.empty(n_rows, dtype=np.int64)
    elif what == "score":
        result = None
    else:
        result = np.empty((n_rows, K))
    ws = Workspace()
    for first, last, _ in sequence_batches(starts, K, model.batch_elements):
        lo, hi = int(starts[first]), int(starts[last])
        if hi == lo:
            continue
        local = starts[first : last + 1] - lo
        log_b, _ = model.log_emissions(
            source.rows(lo, hi), context, ws.array("log_b", (hi - lo, K))
        )
        if what == "viterbi":
            _, part = _hmm_kernels.viterbi(
                log_b, local, startprob, transmat, result[lo:hi]
            )
        elif what == "filtered":
            part = _hmm_kernels.forward_filter(
                log_b, local, startprob, transmat, result[lo:hi]
            )
        elif what == "score":
            part = _hmm_kernels.forward_log_likelihoods(
                log_b,
                local,
                startprob,
                transmat,
                model.scaled,
                ws.array("gamma", (hi - lo, K)),
            )
        else:
            _, part, _, _ = _hmm_kernels.forward_backward(
                log_b,
                local,
                startprob,
                transmat,
                result[lo:hi],
                model.scaled,
                np.empty(0),
            )
        per_sequence[first:last] = part
    return per_sequence, result
