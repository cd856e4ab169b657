"""Compiled kernels of :func:`sklearn_deepprune.tracks.scan_genome` (numba, imported lazily).

One chunk of a chromosome is scanned in three passes, none of which holds
more than a few ``(n, S * K)`` float32 blocks:

1. :func:`_full_scores`: every kernel-strand's score at every position of
   the chunk (a window of the kernel's width starting there), summed from a
   look-up table of ``g``-mers (``g = 3``: ``ceil(w / 3)`` vector adds of
   ``S * K`` floats per position, 8 floats being one 256-bit vector for 4
   kernels on both strands), the better strand of each kernel, and the
   sites: kernel-strands whose score reaches their cut-off.
2. :func:`_running_max`: van Herk / Gil-Werman prefix and suffix maxima over
   blocks of the window's interior positions, so that the maximum over any
   window costs two look-ups; and a cumulative sum of the activations for
   mean pooling.
3. :func:`_windows`: at each output position, the window's maximum (and
   mean) over its positions, the positions at the window's ends included,
   where the window's zero 'same' padding cuts the kernel: their score is
   the full score minus the columns that fall outside the window.

Base codes are 0-3 for A, C, G, T and 4 for N (and for anything outside
the chromosome); the per-column weights of code 4 are what the model's
encoder gives an N (the mean of the four columns for ``unknown="uniform"``,
zero for ``"zero"``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Codes per position: A, C, G, T and N.
N_CODES = 5

#: Positions per look-up row.
GROUP = 3


def lookup_table(columns: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The ``g``-mer table ``(n_blocks * 5**g, S * K)`` of per-column weights ``(w, 5, S * K)``.

    Row ``b * 5**g + sum_i c_i 5**i`` holds ``sum_i columns[b g + i, c_i]``
    (columns past the kernel weigh nothing), plus ``bias`` for ``b = 0``.
    """
    width, n_codes, n_lanes = columns.shape
    n_blocks = -(-width // GROUP)
    padded = np.zeros((n_blocks * GROUP, n_codes, n_lanes), np.float64)
    padded[:width] = columns
    rows = np.arange(n_codes**GROUP)
    digits = [(rows // n_codes**i) % n_codes for i in range(GROUP)]
    table = np.zeros((n_blocks, n_codes**GROUP, n_lanes), np.float64)
    for b in range(n_blocks):
        for i in range(GROUP):
            table[b] += padded[b * GROUP + i][digits[i]]
    table[0] += bias
    return np.ascontiguousarray(table.reshape(-1, n_lanes), dtype=np.float32)


@njit(cache=True, nogil=True)
def _activate(x, activation, slope, cap):  # pragma: no cover - compiled
    if activation == 0:
        return x if x > 0 else np.float32(0)
    leaky = x if x > 0 else x * slope
    return leaky if leaky <= cap else cap


@njit(cache=True, nogil=True)
def full_scores(
    codes,
    table,
    width,
    n_kernels,
    cutoffs,
    site_lo,
    site_hi,
    scores,
    best,
    hit_pos,
    hit_lane,
    hit_score,
):  # pragma: no cover - compiled
    """Pass 1 into ``scores (n, S*K)`` and ``best (n, K)``; the sites; return their count.

    ``codes`` holds ``n + n_blocks * g - 1`` codes (padded with N). A site is
    a position ``a`` in ``[site_lo, site_hi)`` whose window holds no N and a
    kernel-strand score of at least its cut-off; when more sites are found
    than ``hit_pos`` holds, only the count goes on.
    """
    n, n_lanes = scores.shape
    block_rows = N_CODES**GROUP
    n_blocks = (width + GROUP - 1) // GROUP
    span = codes.shape[0] - GROUP + 1
    gmer = np.empty(span, np.int32)
    for s in range(span):
        gmer[s] = codes[s] + N_CODES * (codes[s + 1] + N_CODES * codes[s + 2])
    n_strands = n_lanes // n_kernels
    capacity = hit_pos.shape[0]
    n_hits = 0
    n_run = 0  # N-free positions ending at a + width - 1
    for s in range(width - 1):
        n_run = n_run + 1 if codes[s] < 4 else 0
    acc = np.empty(n_lanes, np.float32)
    for a in range(n):
        row = gmer[a]
        for k in range(n_lanes):
            acc[k] = table[row, k]
        for b in range(1, n_blocks):
            row = b * block_rows + gmer[a + b * GROUP]
            for k in range(n_lanes):
                acc[k] += table[row, k]
        for k in range(n_lanes):
            scores[a, k] = acc[k]
        for k in range(n_kernels):
            value = acc[k]
            for s in range(1, n_strands):
                other = acc[s * n_kernels + k]
                if other > value:
                    value = other
            best[a, k] = value
        n_run = n_run + 1 if codes[a + width - 1] < 4 else 0
        if site_lo <= a < site_hi and n_run >= width:
            for k in range(n_lanes):
                if acc[k] >= cutoffs[k]:
                    if n_hits < capacity:
                        hit_pos[n_hits] = a
                        hit_lane[n_hits] = k
                        hit_score[n_hits] = acc[k]
                    n_hits += 1
    return n_hits


@njit(cache=True, nogil=True)
def running_max(best, block, prefix, suffix):  # pragma: no cover - compiled
    """Pass 2: maxima of ``best`` from each block's start (``prefix``) and to its end (``suffix``).

    The maximum over ``best[s : s + block]`` is then
    ``max(suffix[s], prefix[s + block - 1])``.
    """
    n, n_kernels = best.shape
    for start in range(0, n, block):
        stop = min(start + block, n)
        for k in range(n_kernels):
            prefix[start, k] = best[start, k]
        for a in range(start + 1, stop):
            for k in range(n_kernels):
                prefix[a, k] = max(prefix[a - 1, k], best[a, k])
        for k in range(n_kernels):
            suffix[stop - 1, k] = best[stop - 1, k]
        for a in range(stop - 2, start - 1, -1):
            for k in range(n_kernels):
                suffix[a, k] = max(suffix[a + 1, k], best[a, k])


@njit(cache=True, nogil=True)
def activation_sums(best, activation, slope, cap, sums):  # pragma: no cover - compiled
    """Pass 2 for mean pooling: ``sums[a] = sum_{b < a} act(best[b])`` (float64)."""
    n, n_kernels = best.shape
    slope = np.float32(slope)
    cap = np.float32(cap)
    for k in range(n_kernels):
        sums[0, k] = 0.0
    for a in range(n):
        for k in range(n_kernels):
            sums[a + 1, k] = sums[a, k] + _activate(best[a, k], activation, slope, cap)


@njit(cache=True, nogil=True)
def windows(
    codes,
    columns,
    scores,
    prefix,
    suffix,
    sums,
    starts,
    length,
    n_kernels,
    activation,
    slope,
    cap,
    need_mean,
    out_max,
    out_mean,
):  # pragma: no cover - compiled
    """Pass 3: each window's best score ``out_max (m, K)`` and mean activation ``out_mean``.

    Window ``i`` covers codes ``starts[i] .. starts[i] + length - 1``; its
    positions are the kernel starts ``starts[i] - left .. starts[i] + length
    - 1 - left`` ('same' padding), the inner ones (the whole kernel inside
    the window) read from ``prefix``/``suffix``/``sums``, the ``w - 1`` at the
    ends recomputed without the columns outside the window.
    """
    width, _, n_lanes = columns.shape
    left = (width - 1) // 2
    right = width - 1 - left
    inner = length - width + 1
    n_strands = n_lanes // n_kernels
    slope = np.float32(slope)
    cap = np.float32(cap)
    part = np.empty(n_lanes, np.float32)
    for i in range(starts.shape[0]):
        s = starts[i]
        last = s + inner - 1
        for k in range(n_kernels):
            out_max[i, k] = max(suffix[s, k], prefix[last, k])
            if need_mean:
                out_mean[i, k] = sums[last + 1, k] - sums[s, k]
        for side in range(2):
            for d in range(1, (left if side == 0 else right) + 1):
                if side == 0:  # the kernel starts d before the window: its first d columns out
                    a = s - d
                    lo, hi = 0, d
                else:  # the kernel ends d past the window: its last d columns out
                    a = last + d
                    lo, hi = width - d, width
                for k in range(n_lanes):
                    part[k] = scores[a, k]
                for j in range(lo, hi):
                    code = codes[a + j]
                    for k in range(n_lanes):
                        part[k] -= columns[j, code, k]
                for k in range(n_kernels):
                    value = part[k]
                    for t in range(1, n_strands):
                        other = part[t * n_kernels + k]
                        if other > value:
                            value = other
                    if value > out_max[i, k]:
                        out_max[i, k] = value
                    if need_mean:
                        out_mean[i, k] += _activate(value, activation, slope, cap)
        if need_mean:
            for k in range(n_kernels):
                out_mean[i, k] /= length


@njit(cache=True, nogil=True)
def survival(int_columns, probabilities, smallest, size):  # pragma: no cover - compiled
    """``P(S >= smallest + i)`` for ``i < size``, ``S = sum_j int_columns[j, b_j]``, ``b_j ~ p``.

    The dynamic programming of FIMO over the integer (binned) column scores
    ``(w, 4)``, in float64, the tail summed from the top down.
    """
    width = int_columns.shape[0]
    pdf = np.zeros(size, np.float64)
    pdf[-smallest] = 1.0  # the empty sum
    for j in range(width):
        new = np.zeros(size, np.float64)
        for v in range(size):
            p = pdf[v]
            if p == 0.0:
                continue
            for b in range(4):
                new[v + int_columns[j, b]] += p * probabilities[b]
        pdf = new
    tail = np.zeros(size + 1, np.float64)
    for v in range(size - 1, -1, -1):
        tail[v] = tail[v + 1] + pdf[v]
    return tail[:size]
