"""Compiled kernels of :func:`sklearn_deepprune.tracks.scan_genome` (numba, imported lazily).

A chunk of a chromosome is scanned in two passes, neither of which holds a
score per position and kernel in memory:

1. :func:`scan_cells`: every kernel-strand's score at every position (the
   window of the kernel's width starting there), summed from a look-up
   table of ``g``-mers (``g = 3``: ``ceil(w / 3)`` vector adds per position
   of ``S * K`` floats, padded to lanes of 8: the 8 kernel-strand scores of
   4 kernels on both strands are one vector, see :mod:`sklearn_deepprune._simd`);
   on the way, the sites (scores at or above their cut-off, tested for all 8
   lanes at once) and, per *cell* of ``step``
   positions, the maximum of each kernel-strand over the cell and over its
   first ``r`` positions (and the sums of the activations, for mean
   pooling). The windows of successive output bins start ``step`` apart, so
   the inner positions of a window (the kernel wholly inside it) are ``q``
   whole cells and the first ``r`` positions of the next, ``q, r =
   divmod(L - w + 1, step)``.
2. :func:`pool_windows`: per output bin, the maximum (and mean) over the
   window's positions: the inner ones from the cells, and the ``w - 1``
   positions at the window's ends, where its zero 'same' padding cuts the
   kernel, from tables of the cut kernels (the left ones all start at the
   window's first base, the right ones all end at its last).

Base codes are 0-3 for A, C, G, T and 4 for N (and for anything outside
the chromosome); the per-column weights of code 4 are what the model's
encoder gives an N (the mean of the four columns for ``unknown="uniform"``,
zero for ``"zero"``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sklearn_deepprune._simd import (
    add8,
    add8d,
    any_ge8,
    leaky8,
    load8,
    load8d,
    max8,
    relu8,
    splat8,
    store8,
    store8d,
    swap_pairs8,
    widen_add8,
    zeros8d,
)

#: Codes per position: A, C, G, T and N.
N_CODES = 5

#: Positions per look-up row.
GROUP = 3


def lookup_table(columns: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The ``g``-mer table ``(G, n_blocks * 5**g * 8)`` of per-column weights ``(w, 5, 8 G)``.

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
    return _grouped(table.reshape(1, -1, n_lanes))[0]


def _grouped(table: np.ndarray) -> np.ndarray:
    """``(..., rows, 8 G)`` as ``(..., G, rows * 8)`` float32: each group of 8 lanes contiguous."""
    *lead, rows, n_lanes = table.shape
    grouped = table.reshape(*lead, rows, n_lanes // 8, 8).swapaxes(-2, -3)
    return np.ascontiguousarray(grouped.reshape(*lead, n_lanes // 8, rows * 8), np.float32)


@njit(cache=True, nogil=True)
def translate(
    raw, code_of_byte, column, line_bases, line_bytes, out
):  # pragma: no cover - compiled
    """Codes of the FASTA bytes ``raw`` into ``out``; return how many were written, -1 if bad.

    ``raw`` holds lines of ``line_bases`` bases in ``line_bytes`` bytes (as
    the FASTA index says) and starts at base ``column`` of its line; the
    bytes between lines must be line ends (``\\n``, ``\\r``), else -1.
    """
    i = n = 0
    total = out.shape[0]
    while n < total and i < raw.shape[0]:
        k = min(line_bases - column, total - n, raw.shape[0] - i)
        for j in range(k):
            out[n + j] = code_of_byte[raw[i + j]]
        n += k
        i += k
        if n < total:
            for j in range(i, min(i + line_bytes - line_bases, raw.shape[0])):
                if raw[j] != 10 and raw[j] != 13:
                    return -1
            i += line_bytes - line_bases
        column = 0
    return n


@njit(cache=True, nogil=True)
def byte_counts(raw, counts):  # pragma: no cover - compiled
    """Add how often each byte value occurs in ``raw`` to ``counts`` (256,)."""
    parts = np.zeros((4, 256), np.int64)  # 4 histograms: no chain of increments of one bin
    n = raw.shape[0] - raw.shape[0] % 4
    for i in range(0, n, 4):
        parts[0, raw[i]] += 1
        parts[1, raw[i + 1]] += 1
        parts[2, raw[i + 2]] += 1
        parts[3, raw[i + 3]] += 1
    for i in range(n, raw.shape[0]):
        parts[0, raw[i]] += 1
    for v in range(256):
        counts[v] += parts[0, v] + parts[1, v] + parts[2, v] + parts[3, v]


@njit(cache=True, nogil=True)
def gmers(codes, gmer):  # pragma: no cover - compiled
    """``gmer[p]``: where the look-up row (block 0) of the ``g``-mer at ``p`` starts (row * 8)."""
    for p in range(gmer.shape[0]):
        row = 0
        for i in range(GROUP - 1, -1, -1):
            row = row * N_CODES + codes[p + i]
        gmer[p] = row * 8


@njit(cache=True, nogil=True, inline="always")
def _rows(t, gmer, first, stride, b0, n_blocks, acc):  # pragma: no cover - compiled
    """``acc`` plus the rows of blocks ``b0 .. n_blocks - 1``, ``b`` at ``first + b stride``."""
    block = 8 * N_CODES**GROUP
    for b in range(b0, n_blocks):
        acc = add8(acc, load8(t, b * block + gmer[first + b * stride]))
    return acc


@njit(cache=True, nogil=True, inline="always")
def _score(t, gmer, a, n_blocks):  # pragma: no cover - compiled
    """The 8 lanes' scores of the kernel window starting at ``a`` (bias in block 0)."""
    return _rows(t, gmer, a, GROUP, 1, n_blocks, load8(t, gmer[a]))


@njit(cache=True, nogil=True, inline="always")
def _activated(x, n_strands, activation, slopes, caps):  # pragma: no cover - compiled
    """Each kernel's activation of its better strand (lane ``k S`` for kernel ``k``)."""
    if n_strands == 2:
        x = max8(x, swap_pairs8(x))
    if activation == 0:
        return relu8(x)
    return leaky8(x, slopes, caps)


@njit(cache=True, nogil=True)
def _record(
    codes, a, width, scores, lanes, cutoffs, hit_pos, hit_lane, hit_score, n_hits
):  # pragma: no cover - compiled
    """Record the lanes of ``scores`` (of the window at ``a``) at their cut-offs; the new count.

    A window with an N is no site. Past the capacity only the count goes on.
    """
    for p in range(a, a + width):
        if codes[p] >= 4:
            return n_hits
    for k in range(8):
        if scores[k] >= cutoffs[lanes + k]:
            if n_hits < hit_pos.shape[0]:
                hit_pos[n_hits] = a
                hit_lane[n_hits] = lanes + k
                hit_score[n_hits] = scores[k]
            n_hits += 1
    return n_hits


@njit(cache=True, nogil=True)
def scan_cells(
    codes,
    gmer,
    table,
    n_blocks,
    width,
    n_strands,
    cutoffs,
    site_lo,
    site_hi,
    origin,
    step,
    rest,
    activation,
    slope,
    cap,
    need_mean,
    cell_max,
    cell_head,
    cell_sum,
    cell_head_sum,
    hit_pos,
    hit_lane,
    hit_score,
):  # pragma: no cover - compiled
    """Pass 1: cell statistics and sites; return the site count.

    ``table`` is ``(n_groups, rows * 8)``: lanes in groups of 8, kernel-strand
    ``k * S + s`` in lane ``k * S + s``, so that the strands of a kernel share
    a group; each group's 8 scores of a position are one vector. Cell ``j``
    holds positions ``origin + j step .. origin + (j + 1) step - 1``; the
    flat ``(n_cells * lanes)`` arrays ``cell_max`` hold its maximum per lane,
    ``cell_head`` that of its first ``rest`` positions, ``cell_sum`` /
    ``cell_head_sum`` (float64) the same sums of each kernel's activation
    (the better strand, in lane ``k S``; with ``need_mean``). A site is a
    position in ``[site_lo, site_hi)`` whose window holds no N and a score
    at or above its lane's cut-off. Past the capacity of ``hit_pos`` only
    the count goes on.
    """
    n_groups = table.shape[0]
    n_lanes = 8 * n_groups
    n_cells = cell_max.shape[0] // n_lanes
    slopes, caps = splat8(slope), splat8(cap)
    low = splat8(-np.inf)
    scores = np.empty(8, np.float32)
    cells_end = origin + n_cells * step
    n = gmer.shape[0] - (n_blocks - 1) * GROUP  # positions with a whole window of codes
    n_hits = 0
    for g in range(n_groups):
        t = table[g]
        lanes = 8 * g
        cut = load8(cutoffs, lanes)
        # Site positions outside the cells.
        for lo, hi in ((site_lo, min(site_hi, origin)), (max(site_lo, cells_end), site_hi)):
            for a in range(lo, hi):
                acc = _score(t, gmer, a, n_blocks)
                if any_ge8(acc, cut):
                    store8(scores, 0, acc)
                    n_hits = _record(
                        codes, a, width, scores, lanes, cutoffs,
                        hit_pos, hit_lane, hit_score, n_hits,
                    )  # fmt: skip
        for j in range(n_cells):
            first = origin + j * step
            at = j * n_lanes + lanes
            m = low
            total = zeros8d()
            # (The last cell may be needed only for its head, and end early.)
            for phase in range(min(step, n - first)):
                a = first + phase
                acc = _score(t, gmer, a, n_blocks)
                m = max8(m, acc)
                if need_mean:
                    total = widen_add8(total, _activated(acc, n_strands, activation, slopes, caps))
                if any_ge8(acc, cut) and site_lo <= a < site_hi:
                    store8(scores, 0, acc)
                    n_hits = _record(
                        codes, a, width, scores, lanes, cutoffs,
                        hit_pos, hit_lane, hit_score, n_hits,
                    )  # fmt: skip
                if phase == rest - 1:
                    store8(cell_head, at, m)
                    if need_mean:
                        store8d(cell_head_sum, at, total)
            store8(cell_max, at, m)
            if need_mean:
                store8d(cell_sum, at, total)
    return n_hits


def cut_tables(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Look-up tables of the kernels cut by a window's ends: ``(left, right)``.

    ``left[d - 1]`` (``d = 1 .. (w - 1) // 2``) is the table of columns
    ``d .. w - 1`` with blocks from the window's first base (rows
    ``b * 5**g + gmer``); ``right[d - 1]`` (``d = 1 .. w - 1 - (w - 1) // 2``)
    that of columns ``0 .. w - 1 - d`` with block ``b`` the ``g``-mer starting
    ``g (b + 1) - 1`` bases before the window's last base. Both padded with
    zero blocks to a common block count.
    """
    width, n_codes, n_lanes = columns.shape
    left, right = (width - 1) // 2, width - 1 - (width - 1) // 2
    n_blocks = -(-width // GROUP) + 1
    rows = np.arange(n_codes**GROUP)
    digits = [(rows // n_codes**i) % n_codes for i in range(GROUP)]
    out = []
    for count, cut in ((left, "left"), (right, "right")):
        tables = np.zeros((max(count, 1), n_blocks, n_codes**GROUP, n_lanes), np.float64)
        for d in range(1, count + 1):
            kept = width - d
            for b in range(n_blocks):
                for i in range(GROUP):
                    # The column of g-mer position i of block b, in the cut kernel.
                    col = b * GROUP + i if cut == "left" else kept - GROUP * (b + 1) + i
                    if 0 <= col < kept:
                        source = col + d if cut == "left" else col
                        tables[d - 1, b] += columns[source][digits[i]]
        out.append(_grouped(tables.reshape(max(count, 1), -1, n_lanes)))
    return out[0], out[1]


@njit(cache=True, nogil=True)
def pool_windows(
    gmer,
    bias,
    left_tables,
    right_tables,
    width,
    length,
    cell_max,
    cell_head,
    cell_sum,
    cell_head_sum,
    starts,
    quotient,
    rest,
    n_strands,
    activation,
    slope,
    cap,
    need_mean,
    out_max,
    out_mean,
):  # pragma: no cover - compiled
    """Pass 2: each window's best score ``out_max (m, K)`` and mean activation ``out_mean``.

    Window ``i`` starts at position ``starts[i]``; its inner positions are
    cells ``i .. i + quotient - 1`` and the head of cell ``i + quotient``
    (the flat arrays of :func:`scan_cells`). The positions at its ends, where
    its zero padding cuts the kernel, are summed from the cut tables
    ``(n_cuts, n_groups, rows * 8)``.
    """
    n_groups = left_tables.shape[1]
    n_lanes = 8 * n_groups
    per_group = 8 // n_strands
    left, right = (width - 1) // 2, width - 1 - (width - 1) // 2
    slopes, caps = splat8(slope), splat8(cap)
    low = splat8(-np.inf)
    best = np.empty(8, np.float32)
    sums = np.empty(8, np.float64)
    for i in range(starts.shape[0]):
        s = starts[i]
        last = s + length - 1
        for g in range(n_groups):
            lanes = 8 * g
            m = low
            total = zeros8d()
            for j in range(i, i + quotient + (rest > 0)):
                at = j * n_lanes + lanes
                inner = j < i + quotient
                m = max8(m, load8(cell_max if inner else cell_head, at))
                if need_mean:
                    total = add8d(total, load8d(cell_sum if inner else cell_head_sum, at))
            for side in range(2):
                for d in range(1, (left if side == 0 else right) + 1):
                    n_blocks = (width - d + GROUP - 1) // GROUP
                    if side == 0:  # the kernel's first d columns are before the window
                        t = left_tables[d - 1, g]
                        acc = _rows(t, gmer, s, GROUP, 0, n_blocks, load8(bias, lanes))
                    else:  # its last d columns are past the window
                        t = right_tables[d - 1, g]
                        acc = _rows(
                            t, gmer, last + 1 - GROUP, -GROUP, 0, n_blocks, load8(bias, lanes)
                        )
                    m = max8(m, acc)
                    if need_mean:
                        total = widen_add8(
                            total, _activated(acc, n_strands, activation, slopes, caps)
                        )
            if n_strands == 2:
                m = max8(m, swap_pairs8(m))  # each kernel's better strand, in lane k S
            store8(best, 0, m)
            store8d(sums, 0, total)
            first = per_group * g
            for k in range(per_group):
                out_max[i, first + k] = best[k * n_strands]
                if need_mean:
                    out_mean[i, first + k] = sums[k * n_strands] / length


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
