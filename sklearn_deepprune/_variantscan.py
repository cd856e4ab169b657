"""The compiled scan of :func:`sklearn_deepprune.variants.score_variants` (numba, imported lazily).

For each variant the kernels scan its REF window in full and its ALT window
only where it differs: a window whose bases are the same in both alleles
has the same score, so only the positions whose kernel-wide window overlaps
the first-to-last differing base are scanned again (``kernel_size``
positions for an SNV); the rest of the ALT maximum comes from the REF
profile. The window scores are sums of the look-up table rows of
:func:`sklearn_deepprune._fastscan.lookup_table`, as in the fused scan of
the network, and each window is read on every scanned kernel (forward
kernels, then reverse-complemented ones) in one pass.

Base codes: 0-3 are A, C, G, T; 4 is the encoder's ``N`` (a fifth
"channel" of the table holding what an ``N`` column contributes); 5 is the
all-zero 'same' padding outside the window.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sklearn_deepprune._fastscan import _gmers, _parts, _run, _window_sum

# Work (variants x positions x kernels) below which a call stays on one thread.
_MIN_SPLIT = 1 << 15

# Table columns summed at a time by the scan without the mean.
_CHUNK = 8


def scan_pairs(
    ref: np.ndarray,
    alt: np.ndarray,
    table: np.ndarray,
    kernel_size: int,
    group: int,
    n_strands: int,
    mean: tuple[int, float, float] | None = None,
    n_threads: int = 1,
) -> tuple[np.ndarray, ...]:
    """Each scanned kernel's best window score and its first position, in both windows.

    Parameters
    ----------
    ref, alt : ndarray of shape (n, L), uint8
        Base codes of the REF and ALT windows (0-4, see the module docstring).
    table : ndarray of shape (n_blocks * 6**g, S * K), float32 or float64
        :func:`sklearn_deepprune._fastscan.lookup_table` of the scanned
        kernels (forward ones, then reverse ones) extended by the ``N``
        channel (5 channels).
    kernel_size, group : int
        ``w`` and ``g``.
    n_strands : int
        ``S``.
    mean : tuple of (int, float, float) or None, default=None
        Also each kernel's mean activation over positions (the better strand
        at each), for ``pooling="max_avg"``: the activation (0 for ReLU, 1
        for the leaky capped one, as in :func:`sklearn_deepprune._fastscan.head`),
        its slope and its cap.
    n_threads : int, default=1
        Threads to use.

    Returns
    -------
    ref_best, ref_pos, alt_best, alt_pos : ndarray of shape (n, S * K)
        The maximum over positions of each scanned kernel's (pre-activation)
        score and its first position, for each window.
    ref_mean, alt_mean : ndarray of shape (n, K)
        With ``mean``: each kernel's mean activation (otherwise zeros).
    """
    n, length = ref.shape
    n_scanned = table.shape[1]
    n_kernels = n_scanned // n_strands
    out = []
    for _ in range(2):
        out += [np.empty((n, n_scanned), table.dtype), np.empty((n, n_scanned), np.int32)]
    out += [np.zeros((n, n_kernels), table.dtype), np.zeros((n, n_kernels), table.dtype)]
    activation, slope, cap = (-1, 0.0, 0.0) if mean is None else mean
    parts = _parts(n, n * length * n_scanned, n_threads, _MIN_SPLIT)
    if mean is None:  # the usual case: eight columns at a time, in registers
        chunks = chunked_table(table)
        _run(
            _scan_pairs_max,
            parts,
            lambda a, b: (
                ref[a:b],
                alt[a:b],
                chunks,
                kernel_size,
                group,
                *(x[a:b] for x in out[:4]),
            ),
        )
        return tuple(out)
    _run(
        _scan_pairs,
        parts,
        lambda a, b: (
            ref[a:b],
            alt[a:b],
            table,
            kernel_size,
            group,
            n_strands,
            activation,
            slope,
            cap,
            *(x[a:b] for x in out),
        ),
    )
    return tuple(out)


def chunked_table(table: np.ndarray) -> np.ndarray:
    """``table``'s columns in chunks of eight ``(n_chunks, n_rows, 8)``, the last padded with 0."""
    n_rows, n_scanned = table.shape
    n_chunks = -(-n_scanned // _CHUNK)
    padded = np.zeros((n_rows, n_chunks * _CHUNK), table.dtype)
    padded[:, :n_scanned] = table
    return np.ascontiguousarray(padded.reshape(n_rows, n_chunks, _CHUNK).transpose(1, 0, 2))


@njit(cache=True, nogil=True)
def _scan_pairs_max(
    ref, alt, chunks, kernel_size, group, ref_best, ref_pos, alt_best, alt_pos
):  # pragma: no cover - compiled
    """:func:`scan_pairs` without the mean, eight table columns at a time.

    Each window's eight sums are kept in registers (written out as
    ``a0 .. a7``: numba does not vectorise a loop of eight), with the REF
    window's running maximum; the ALT maximum of a column whose REF best
    window is not among the rescanned ones follows from the REF one (see
    :func:`_alt_best`). The same sums in the same order as :func:`_scan_pairs`.
    """
    n, length = ref.shape
    n_scanned = ref_best.shape[1]
    n_chunks = chunks.shape[0]
    n_channels = 5
    block_rows = (n_channels + 1) ** group
    n_blocks = (kernel_size + group - 1) // group
    span = length + (n_blocks - 1) * group
    left = (kernel_size - 1) // 2
    padded = np.empty(span + group - 1, np.int32)
    gmer = np.empty(span, np.int32)
    alt_gmer = np.empty(span, np.int32)
    profile = np.empty((n_chunks, length, _CHUNK), chunks.dtype)
    changed = np.empty((length, _CHUNK), chunks.dtype)
    best = np.empty(_CHUNK, chunks.dtype)
    where = np.empty(_CHUNK, np.int32)
    for i in range(n):
        _gmers(ref[i], n_channels, kernel_size, group, padded, gmer)
        first, last = -1, -1
        for q in range(length):
            if ref[i, q] != alt[i, q]:
                if first < 0:
                    first = q
                last = q
        lo, hi = 0, -1
        if first >= 0:
            # Windows at positions lo..hi overlap the changed bases first..last.
            lo = max(0, first + left - kernel_size + 1)
            hi = min(length - 1, last + left)
            _gmer_range(alt[i], n_channels, left, group, lo, hi + (n_blocks - 1) * group, alt_gmer)
        for c in range(n_chunks):
            _chunk_scan(
                chunks[c],
                gmer,
                block_rows,
                n_blocks,
                group,
                0,
                length - 1,
                profile[c],
                best,
                where,
            )
            for k in range(min(_CHUNK, n_scanned - c * _CHUNK)):
                ref_best[i, c * _CHUNK + k] = best[k]
                ref_pos[i, c * _CHUNK + k] = where[k]
            if first < 0:  # the same window: the same scores
                for k in range(min(_CHUNK, n_scanned - c * _CHUNK)):
                    alt_best[i, c * _CHUNK + k] = best[k]
                    alt_pos[i, c * _CHUNK + k] = where[k]
                continue
            _chunk_scan(
                chunks[c], alt_gmer, block_rows, n_blocks, group, lo, hi, changed, best, where
            )
            for k in range(min(_CHUNK, n_scanned - c * _CHUNK)):
                j = c * _CHUNK + k
                alt_best[i, j], alt_pos[i, j] = _alt_best(
                    profile[c],
                    changed,
                    k,
                    lo,
                    hi,
                    ref_best[i, j],
                    ref_pos[i, j],
                    best[k],
                    where[k],
                )


@njit(cache=True, nogil=True, inline="always")
def _gmer_range(codes, n_channels, left, group, first, last, gmer):  # pragma: no cover - compiled
    """``gmer[first..last]`` as :func:`sklearn_deepprune._fastscan._gmers` fills them."""
    length = codes.shape[0]
    base = n_channels + 1
    for s in range(first, last + 1):
        q = s + group - 1 - left
        row = codes[q] if 0 <= q < length else n_channels
        for t in range(group - 2, -1, -1):
            q = s + t - left
            row = row * base + (codes[q] if 0 <= q < length else n_channels)
        gmer[s] = row


@njit(cache=True, nogil=True, inline="always")
def _alt_best(profile, changed, k, lo, hi, ref_best, ref_pos, new_best, new_pos):
    """Column ``k``'s first maximum over REF's ``profile`` with positions ``lo..hi`` changed.

    When REF's first best window is before ``lo``, the rest of REF is no
    higher, so the changed windows win only if strictly higher; when it is
    after ``hi``, the windows before it are lower, so the changed ones win
    when at least as high; only when it is among the changed ones is REF's
    profile read again, in position order as by a running maximum.
    """
    if ref_pos < lo:
        return (new_best, new_pos) if new_best > ref_best else (ref_best, ref_pos)
    if ref_pos > hi:
        return (new_best, new_pos) if new_best >= ref_best else (ref_best, ref_pos)
    top, at = new_best, new_pos
    if lo > 0:
        top, at = profile[0, k], 0
        for pos in range(1, lo):
            if profile[pos, k] > top:
                top, at = profile[pos, k], pos
        if new_best > top:
            top, at = new_best, new_pos
    for pos in range(hi + 1, profile.shape[0]):
        if profile[pos, k] > top:
            top, at = profile[pos, k], pos
    return top, at


@njit(cache=True, nogil=True, inline="always")
def _chunk_scan(
    table, gmer, block_rows, n_blocks, group, first, last, profile, best, where
):  # pragma: no cover - compiled
    """Eight columns' window scores at positions ``first..last`` into ``profile``, and their
    first maximum and its position into ``best`` and ``where``."""
    for pos in range(first, last + 1):
        row = gmer[pos]
        a0, a1, a2, a3 = table[row, 0], table[row, 1], table[row, 2], table[row, 3]
        a4, a5, a6, a7 = table[row, 4], table[row, 5], table[row, 6], table[row, 7]
        for b in range(1, n_blocks):
            row = b * block_rows + gmer[pos + b * group]
            a0 += table[row, 0]
            a1 += table[row, 1]
            a2 += table[row, 2]
            a3 += table[row, 3]
            a4 += table[row, 4]
            a5 += table[row, 5]
            a6 += table[row, 6]
            a7 += table[row, 7]
        out = profile[pos]
        out[0], out[1], out[2], out[3] = a0, a1, a2, a3
        out[4], out[5], out[6], out[7] = a4, a5, a6, a7
        if pos == first:
            m0, m1, m2, m3, m4, m5, m6, m7 = a0, a1, a2, a3, a4, a5, a6, a7
            w0 = w1 = w2 = w3 = w4 = w5 = w6 = w7 = pos
        else:
            # Branch-free selects: the first maximum.
            w0 = pos if a0 > m0 else w0
            m0 = a0 if a0 > m0 else m0
            w1 = pos if a1 > m1 else w1
            m1 = a1 if a1 > m1 else m1
            w2 = pos if a2 > m2 else w2
            m2 = a2 if a2 > m2 else m2
            w3 = pos if a3 > m3 else w3
            m3 = a3 if a3 > m3 else m3
            w4 = pos if a4 > m4 else w4
            m4 = a4 if a4 > m4 else m4
            w5 = pos if a5 > m5 else w5
            m5 = a5 if a5 > m5 else m5
            w6 = pos if a6 > m6 else w6
            m6 = a6 if a6 > m6 else m6
            w7 = pos if a7 > m7 else w7
            m7 = a7 if a7 > m7 else m7
    best[0], best[1], best[2], best[3] = m0, m1, m2, m3
    best[4], best[5], best[6], best[7] = m4, m5, m6, m7
    where[0], where[1], where[2], where[3] = w0, w1, w2, w3
    where[4], where[5], where[6], where[7] = w4, w5, w6, w7


@njit(cache=True, nogil=True)
def _window_scores(gmer, table, block_rows, n_blocks, group, first, last, profile, acc):
    """Scores of the windows at positions ``first..last`` into ``profile`` rows."""
    for pos in range(first, last + 1):
        _window_sum(table, gmer, pos, block_rows, n_blocks, group, acc)
        for k in range(acc.shape[0]):
            profile[pos, k] = acc[k]


@njit(cache=True, nogil=True)
def _running_max(profile, first, last, best, where, started):
    """Fold positions ``first..last`` of ``profile`` into ``best``/``where`` (first maximum)."""
    n_scanned = profile.shape[1]
    for pos in range(first, last + 1):
        if not started:
            for k in range(n_scanned):
                best[k] = profile[pos, k]
                where[k] = pos
            started = True
            continue
        for k in range(n_scanned):
            if profile[pos, k] > best[k]:
                best[k] = profile[pos, k]
                where[k] = pos
    return started


@njit(cache=True, nogil=True)
def _activated_sum(profile, first, last, n_strands, activation, slope, cap, out):
    """Add ``act(max_s profile[l, s * K + k])`` over positions ``first..last`` to ``out[k]``."""
    n_kernels = out.shape[0]
    slope = profile.dtype.type(slope)
    cap = profile.dtype.type(cap)
    for pos in range(first, last + 1):
        for k in range(n_kernels):
            value = profile[pos, k]
            for s in range(1, n_strands):
                other = profile[pos, s * n_kernels + k]
                if other > value:
                    value = other
            if activation == 0:
                value = value if value > 0 else 0
            else:
                value = value if value > 0 else value * slope
                value = value if value <= cap else cap
            out[k] += value


@njit(cache=True, nogil=True)
def _scan_pairs(
    ref,
    alt,
    table,
    kernel_size,
    group,
    n_strands,
    activation,
    slope,
    cap,
    ref_best,
    ref_pos,
    alt_best,
    alt_pos,
    ref_mean,
    alt_mean,
):  # pragma: no cover - compiled
    """:func:`scan_pairs` of a part, into the output arrays."""
    n, length = ref.shape
    n_scanned = table.shape[1]
    n_channels = 5  # A, C, G, T and N; code 5 is the padding
    block_rows = (n_channels + 1) ** group
    n_blocks = (kernel_size + group - 1) // group
    span = length + (n_blocks - 1) * group
    left = (kernel_size - 1) // 2
    padded = np.empty(span + group - 1, np.int32)
    gmer = np.empty(span, np.int32)
    profile = np.empty((length, n_scanned), table.dtype)
    changed = np.empty((length, n_scanned), table.dtype)
    acc = np.empty(n_scanned, table.dtype)
    for i in range(n):
        _gmers(ref[i], n_channels, kernel_size, group, padded, gmer)
        _window_scores(gmer, table, block_rows, n_blocks, group, 0, length - 1, profile, acc)
        _running_max(profile, 0, length - 1, ref_best[i], ref_pos[i], False)
        if activation >= 0:
            _activated_sum(profile, 0, length - 1, n_strands, activation, slope, cap, ref_mean[i])
            ref_mean[i] /= length
        first, last = -1, -1
        for q in range(length):
            if ref[i, q] != alt[i, q]:
                if first < 0:
                    first = q
                last = q
        if first < 0:  # the same window: the same scores
            alt_best[i] = ref_best[i]
            alt_pos[i] = ref_pos[i]
            alt_mean[i] = ref_mean[i]
            continue
        # Windows at positions lo..hi overlap the changed bases first..last.
        lo = max(0, first + left - kernel_size + 1)
        hi = min(length - 1, last + left)
        _gmers(alt[i], n_channels, kernel_size, group, padded, gmer)
        _window_scores(gmer, table, block_rows, n_blocks, group, lo, hi, changed, acc)
        started = _running_max(profile, 0, lo - 1, alt_best[i], alt_pos[i], False)
        started = _running_max(changed, lo, hi, alt_best[i], alt_pos[i], started)
        _running_max(profile, hi + 1, length - 1, alt_best[i], alt_pos[i], started)
        if activation >= 0:
            # In position order, as for REF.
            _activated_sum(profile, 0, lo - 1, n_strands, activation, slope, cap, alt_mean[i])
            _activated_sum(changed, lo, hi, n_strands, activation, slope, cap, alt_mean[i])
            _activated_sum(
                profile, hi + 1, length - 1, n_strands, activation, slope, cap, alt_mean[i]
            )
            alt_mean[i] /= length


def window_codes(
    length: int,
    pos0: np.ndarray,
    ref_length: np.ndarray,
    genome: tuple[np.ndarray, np.ndarray, np.ndarray],
    allele: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """:func:`sklearn_deepprune.variants._window_codes`, compiled (the same arguments)."""
    out = np.empty((len(pos0), length), dtype=np.uint8)
    _window_codes(length, pos0, ref_length, *genome, *allele, out)
    return out


@njit(cache=True, nogil=True)
def _window_codes(
    length, pos0, ref_length, buffer, origin, size, codes, offsets, lengths, out
):  # pragma: no cover - compiled
    """Fill ``out`` with each row's window: the allele centred, the genome around it, N past it."""
    for i in range(len(pos0)):
        m = lengths[i]
        start = pos0[i] + m // 2 - length // 2
        shift = ref_length[i] - m
        for j in range(length):
            x = start + j
            inside = x - pos0[i]
            if 0 <= inside < m:
                out[i, j] = codes[offsets[i] + inside]
                continue
            g = x if inside < 0 else x + shift
            out[i, j] = buffer[origin[i] + g] if 0 <= g < size[i] else 4
