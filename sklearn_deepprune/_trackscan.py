"""Compiled kernels of :func:`sklearn_deepprune.tracks.scan_genome` (numba, imported lazily).

A chunk of a chromosome is scanned in two passes, neither of which holds a
score per position and kernel in memory:

1. :func:`scan_cells`: every kernel-strand's score at every position (the
   window of the kernel's width starting there), summed from a look-up
   table of ``g``-mers (``g = 3``: ``ceil(w / 3)`` vector adds per position
   of ``S * K`` floats, padded to lanes of 8: the 8 kernel-strand scores of
   4 kernels on both strands are one 256-bit vector); on the way, the sites
   (scores at or above their cut-off) and, per *cell* of ``step``
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
def _activate(x, activation, slope, cap):  # pragma: no cover - compiled
    if activation == 0:
        return x if x > 0 else np.float32(0)
    leaky = x if x > 0 else x * slope
    return leaky if leaky <= cap else cap


@njit(cache=True, nogil=True)
def translate(raw, code_of_byte, skip, out):  # pragma: no cover - compiled
    """Codes of the FASTA bytes ``raw`` into ``out``, bytes with ``skip`` set left out.

    Returns how many codes were written (at most ``len(out)``).
    """
    n = 0
    for i in range(raw.shape[0]):
        byte = raw[i]
        if not skip[byte]:
            if n == out.shape[0]:
                break
            out[n] = code_of_byte[byte]
            n += 1
    return n


@njit(cache=True, nogil=True)
def gmers(codes, gmer):  # pragma: no cover - compiled
    """``gmer[p]``: the look-up row (block 0) of the ``g``-mer at ``p``."""
    for p in range(gmer.shape[0]):
        row = 0
        for i in range(GROUP - 1, -1, -1):
            row = row * N_CODES + codes[p + i]
        gmer[p] = row


@njit(cache=True, nogil=True)
def _lane_sites(
    codes, gmer, t, n_blocks, width, lanes, cutoffs, lo, hi, hit_pos, hit_lane, hit_score, n_hits
):  # pragma: no cover - compiled
    """The sites at positions ``lo .. hi - 1`` of one group of lanes; return the new count.

    The slow path (scalar, every lane on its own): called only where a site
    may be, i.e. for the few cells whose maximum reaches a cut-off.
    """
    block_rows = N_CODES**GROUP
    capacity = hit_pos.shape[0]
    for a in range(lo, hi):
        clean = True
        for p in range(a, a + width):
            if codes[p] >= 4:
                clean = False
                break
        if not clean:
            continue
        for k in range(8):
            value = t[gmer[a] * 8 + k]
            for b in range(1, n_blocks):
                value += t[(b * block_rows + gmer[a + b * GROUP]) * 8 + k]
            if value >= cutoffs[lanes + k]:
                if n_hits < capacity:
                    hit_pos[n_hits] = a
                    hit_lane[n_hits] = lanes + k
                    hit_score[n_hits] = value
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
    a group. Cell ``j`` holds positions ``origin + j step .. origin + (j + 1)
    step - 1``; ``cell_max`` its maximum per lane, ``cell_head`` that of its
    first ``rest`` positions, ``cell_sum`` / ``cell_head_sum`` the same sums
    of each kernel's activation (the better strand; with ``need_mean``). A
    site is a position in ``[site_lo, site_hi)`` whose window holds no N and
    a score at or above its lane's cut-off; a cell is searched for sites only
    when its maximum reaches a cut-off. Past the capacity of ``hit_pos``
    only the count goes on. The 8 scores of a group are kept in scalars
    (registers), which numba compiles far better than a small array.
    """
    n_groups = table.shape[0]
    n_cells = cell_max.shape[0]
    per_group = 8 // n_strands
    block_rows = N_CODES**GROUP
    slope = np.float32(slope)
    cap = np.float32(cap)
    low = np.float32(-np.inf)
    cells_end = origin + n_cells * step
    n = gmer.shape[0] - (n_blocks - 1) * GROUP  # positions with a whole window of codes
    n_hits = 0
    for g in range(n_groups):
        t = table[g]
        lanes = 8 * g
        c0, c1, c2, c3 = cutoffs[lanes], cutoffs[lanes + 1], cutoffs[lanes + 2], cutoffs[lanes + 3]
        c4, c5 = cutoffs[lanes + 4], cutoffs[lanes + 5]
        c6, c7 = cutoffs[lanes + 6], cutoffs[lanes + 7]
        # Site positions outside the cells: the slow path.
        for lo, hi in ((site_lo, min(site_hi, origin)), (max(site_lo, cells_end), site_hi)):
            if lo < hi:
                n_hits = _lane_sites(
                    codes, gmer, t, n_blocks, width, lanes, cutoffs, lo, hi,
                    hit_pos, hit_lane, hit_score, n_hits,
                )  # fmt: skip
        for j in range(n_cells):
            first = origin + j * step
            m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = low
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
            # (The last cell may be needed only for its head, and end early.)
            for phase in range(min(step, n - first)):
                a = first + phase
                r = gmer[a] * 8
                a0, a1, a2, a3 = t[r], t[r + 1], t[r + 2], t[r + 3]
                a4, a5, a6, a7 = t[r + 4], t[r + 5], t[r + 6], t[r + 7]
                for b in range(1, n_blocks):
                    r = (b * block_rows + gmer[a + b * GROUP]) * 8
                    a0 += t[r]
                    a1 += t[r + 1]
                    a2 += t[r + 2]
                    a3 += t[r + 3]
                    a4 += t[r + 4]
                    a5 += t[r + 5]
                    a6 += t[r + 6]
                    a7 += t[r + 7]
                m0, m1, m2, m3 = max(m0, a0), max(m1, a1), max(m2, a2), max(m3, a3)
                m4, m5, m6, m7 = max(m4, a4), max(m5, a5), max(m6, a6), max(m7, a7)
                if need_mean:
                    if n_strands == 2:
                        s0 += _activate(max(a0, a1), activation, slope, cap)
                        s1 += _activate(max(a2, a3), activation, slope, cap)
                        s2 += _activate(max(a4, a5), activation, slope, cap)
                        s3 += _activate(max(a6, a7), activation, slope, cap)
                    else:
                        s0 += _activate(a0, activation, slope, cap)
                        s1 += _activate(a1, activation, slope, cap)
                        s2 += _activate(a2, activation, slope, cap)
                        s3 += _activate(a3, activation, slope, cap)
                        s4 += _activate(a4, activation, slope, cap)
                        s5 += _activate(a5, activation, slope, cap)
                        s6 += _activate(a6, activation, slope, cap)
                        s7 += _activate(a7, activation, slope, cap)
                if phase == rest - 1:
                    _store(cell_head[j], lanes, m0, m1, m2, m3, m4, m5, m6, m7)
                    if need_mean:
                        _store_sums(
                            cell_head_sum[j],
                            per_group * g,
                            per_group,
                            s0,
                            s1,
                            s2,
                            s3,
                            s4,
                            s5,
                            s6,
                            s7,
                        )
            _store(cell_max[j], lanes, m0, m1, m2, m3, m4, m5, m6, m7)
            if need_mean:
                _store_sums(cell_sum[j], per_group * g, per_group, s0, s1, s2, s3, s4, s5, s6, s7)
            top = max(
                max(max(m0 - c0, m1 - c1), max(m2 - c2, m3 - c3)),
                max(max(m4 - c4, m5 - c5), max(m6 - c6, m7 - c7)),
            )
            lo, hi = max(first, site_lo), min(first + step, site_hi)
            if top >= 0 and lo < hi:
                n_hits = _lane_sites(
                    codes, gmer, t, n_blocks, width, lanes, cutoffs, lo, hi,
                    hit_pos, hit_lane, hit_score, n_hits,
                )  # fmt: skip
    return n_hits


@njit(cache=True, nogil=True)
def _store(out, lanes, m0, m1, m2, m3, m4, m5, m6, m7):  # pragma: no cover - compiled
    out[lanes], out[lanes + 1], out[lanes + 2], out[lanes + 3] = m0, m1, m2, m3
    out[lanes + 4], out[lanes + 5], out[lanes + 6], out[lanes + 7] = m4, m5, m6, m7


@njit(cache=True, nogil=True)
def _store_sums(out, first, count, s0, s1, s2, s3, s4, s5, s6, s7):  # pragma: no cover - compiled
    out[first], out[first + 1], out[first + 2], out[first + 3] = s0, s1, s2, s3
    if count == 8:
        out[first + 4], out[first + 5], out[first + 6], out[first + 7] = s4, s5, s6, s7


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
    cells ``i .. i + quotient - 1`` and the head of cell ``i + quotient``.
    The cut tables are ``(n_cuts, n_groups, rows * 8)``.
    """
    n_groups = left_tables.shape[1]
    per_group = 8 // n_strands
    left, right = (width - 1) // 2, width - 1 - (width - 1) // 2
    block_rows = N_CODES**GROUP
    slope = np.float32(slope)
    cap = np.float32(cap)
    low = np.float32(-np.inf)
    for i in range(starts.shape[0]):
        s = starts[i]
        last = s + length - 1
        for g in range(n_groups):
            lane = 8 * g
            m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = low
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
            for j in range(i, i + quotient + (rest > 0)):
                row = cell_max[j] if j < i + quotient else cell_head[j]
                m0, m1 = max(m0, row[lane]), max(m1, row[lane + 1])
                m2, m3 = max(m2, row[lane + 2]), max(m3, row[lane + 3])
                m4, m5 = max(m4, row[lane + 4]), max(m5, row[lane + 5])
                m6, m7 = max(m6, row[lane + 6]), max(m7, row[lane + 7])
                if need_mean:
                    sums = cell_sum[j] if j < i + quotient else cell_head_sum[j]
                    first = per_group * g
                    s0, s1 = s0 + sums[first], s1 + sums[first + 1]
                    s2, s3 = s2 + sums[first + 2], s3 + sums[first + 3]
                    if per_group == 8:
                        s4, s5 = s4 + sums[first + 4], s5 + sums[first + 5]
                        s6, s7 = s6 + sums[first + 6], s7 + sums[first + 7]
            for side in range(2):
                for d in range(1, (left if side == 0 else right) + 1):
                    a0, a1, a2, a3 = bias[lane], bias[lane + 1], bias[lane + 2], bias[lane + 3]
                    a4, a5, a6, a7 = bias[lane + 4], bias[lane + 5], bias[lane + 6], bias[lane + 7]
                    t = left_tables[d - 1, g] if side == 0 else right_tables[d - 1, g]
                    for b in range((width - d + GROUP - 1) // GROUP):
                        if side == 0:  # the kernel's first d columns are before the window
                            r = (b * block_rows + gmer[s + b * GROUP]) * 8
                        else:  # its last d columns are past the window
                            r = (b * block_rows + gmer[last - GROUP * (b + 1) + 1]) * 8
                        a0 += t[r]
                        a1 += t[r + 1]
                        a2 += t[r + 2]
                        a3 += t[r + 3]
                        a4 += t[r + 4]
                        a5 += t[r + 5]
                        a6 += t[r + 6]
                        a7 += t[r + 7]
                    m0, m1, m2, m3 = max(m0, a0), max(m1, a1), max(m2, a2), max(m3, a3)
                    m4, m5, m6, m7 = max(m4, a4), max(m5, a5), max(m6, a6), max(m7, a7)
                    if need_mean:
                        if n_strands == 2:
                            s0 += _activate(max(a0, a1), activation, slope, cap)
                            s1 += _activate(max(a2, a3), activation, slope, cap)
                            s2 += _activate(max(a4, a5), activation, slope, cap)
                            s3 += _activate(max(a6, a7), activation, slope, cap)
                        else:
                            s0 += _activate(a0, activation, slope, cap)
                            s1 += _activate(a1, activation, slope, cap)
                            s2 += _activate(a2, activation, slope, cap)
                            s3 += _activate(a3, activation, slope, cap)
                            s4 += _activate(a4, activation, slope, cap)
                            s5 += _activate(a5, activation, slope, cap)
                            s6 += _activate(a6, activation, slope, cap)
                            s7 += _activate(a7, activation, slope, cap)
            first = per_group * g
            if n_strands == 2:
                best = (max(m0, m1), max(m2, m3), max(m4, m5), max(m6, m7), low, low, low, low)
            else:
                best = (m0, m1, m2, m3, m4, m5, m6, m7)
            mean = (s0, s1, s2, s3, s4, s5, s6, s7)
            for k in range(per_group):
                out_max[i, first + k] = best[k]
                if need_mean:
                    out_mean[i, first + k] = mean[k] / length


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
