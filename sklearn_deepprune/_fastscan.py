"""Fused one-hot scan kernels for CPU tensors, compiled by numba (imported lazily).

The ``"scan"`` scanner of :class:`~sklearn_deepprune.network.MotifScanNet`
uses these when numba is installed and the batch is a one-hot CPU tensor
(``uint8``, ``bool``, ``float32`` or ``float64``); without numba it falls
back to its pure-torch path, which computes the same function. The kernels
release the GIL and run on a small thread pool of their own, split over
sequences. The compiled code is cached on disk
(``cache=True``: next to this file, or in ``NUMBA_CACHE_DIR``), so only the
first call on a machine pays for the compilation.

The kernels work on base codes ``(n, L)`` (code ``c < C`` is channel ``c``,
code ``C`` an all-zero column) and on the look-up table of
:func:`sklearn_deepprune.network._lookup_table`: row
``b * (C + 1)**g + sum_i c_i (C + 1)**i`` holds the summed weights (plus the
bias for ``b = 0``) of the ``g``-mer ``c_0 .. c_{g-1}`` at offset ``b g`` of
the window, for every kernel. The score of a window is the sum of its
``ceil(w / g)`` rows; each sequence is scanned in one pass with a running
maximum and arg-max, so no ``(n, L, K)`` block is ever in memory.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, types
from numba.extending import overload

# Work (sequences x positions x channels, or x kernels x width) below which a call
# stays on the calling thread: handing a part to another thread costs tens of
# microseconds.
_MIN_SPLIT_WORK = 1 << 18

# The same for the scan (sequences x positions x kernels), whose cost per
# position does not fall with the kernels: even at 4 kernels a batch of 256
# sequences is worth splitting (measured: 0.55 ms on one thread, 0.37 ms on two).
_MIN_SPLIT_SCAN = 1 << 15

# The pool of the extra threads, its size and the process that started it.
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_PID: int | None = None


def _parts(
    n: int, work: int, n_threads: int, min_work: int | None = None
) -> list[tuple[int, int]]:
    """Contiguous ranges of ``n`` items (sequences or kernels), one per thread worth starting."""
    min_work = _MIN_SPLIT_WORK if min_work is None else min_work
    n_parts = max(1, min(n_threads, n, work // min_work))
    bounds = [n * i // n_parts for i in range(n_parts + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _run(function, parts, arguments):
    """``function(*arguments(start, stop))`` for each part: the first on this thread.

    The kernels release the GIL, so the parts run in parallel; the pool's
    idle threads sleep (no spin-waiting that would take the cores from
    torch's own threads).
    """
    global _POOL, _POOL_SIZE, _POOL_PID
    if len(parts) > 1 and (_POOL_SIZE < len(parts) - 1 or _POOL_PID != os.getpid()):
        # (A forked child has the pool object but not its threads: it starts its own.)
        _POOL = ThreadPoolExecutor(len(parts) - 1, thread_name_prefix="deepprune-scan")
        _POOL_SIZE, _POOL_PID = len(parts) - 1, os.getpid()
    futures = [_POOL.submit(function, *arguments(*part)) for part in parts[1:]]
    first = function(*arguments(*parts[0]))
    return [first] + [future.result() for future in futures]


def one_hot_codes(X: np.ndarray, n_threads: int = 1) -> tuple[np.ndarray, bool]:
    """Base codes ``(n, L)`` uint8 of a batch ``(n, C < 255, L)``; whether it is one-hot.

    Parameters
    ----------
    X : ndarray of shape (n, C, L)
        The batch: uint8, or float32 / float64 (compiled on first use).
    n_threads : int, default=1
        Threads to use.

    Returns
    -------
    codes : ndarray of shape (n, L), uint8
        Channel of the 1 in each column; ``C`` for an all-zero column.
    one_hot : bool
        False when some column is not all zero or a single 1 (``codes`` is then meaningless).
    """
    n, n_channels, length = X.shape
    codes = np.empty((n, length), np.uint8)
    parts = _parts(n, n * length * n_channels, n_threads)
    kernel = _codes if X.dtype == np.uint8 else _codes_any
    return codes, all(_run(kernel, parts, lambda a, b: (X[a:b], codes[a:b])))


def lookup_table(weight: np.ndarray, bias: np.ndarray, group: int) -> tuple[np.ndarray, bool]:
    """The look-up table of :func:`sklearn_deepprune.network._lookup_table`, and finiteness.

    The same table (the sums in the same order), built in one compiled pass
    instead of a dozen torch operations, which matters once per training step.

    Parameters
    ----------
    weight : ndarray of shape (K, C, w), float32 or float64
        The kernels.
    bias : ndarray of shape (K,)
        Their biases, in ``weight``'s dtype.
    group : int
        ``g``.

    Returns
    -------
    table : ndarray of shape (ceil(w / g) * (C + 1)**g, K)
        In ``weight``'s dtype.
    finite : bool
        Whether every weight and bias is finite (otherwise ``table`` is meaningless).
    """
    n_kernels, n_channels, kernel_size = weight.shape
    n_rows = -(-kernel_size // group) * (n_channels + 1) ** group
    table = np.empty((n_rows, n_kernels), weight.dtype)
    # Kernels last, so that the compiled loops run along contiguous memory.
    by_position = np.ascontiguousarray(weight.transpose(1, 2, 0))
    return table, _table(by_position, np.ascontiguousarray(bias), group, table)


def scan_max(
    codes: np.ndarray,
    table: np.ndarray,
    n_channels: int,
    kernel_size: int,
    group: int,
    need_argmax: bool,
    n_threads: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum over positions of every kernel's window score, and its first position.

    Parameters
    ----------
    codes : ndarray of shape (n, L), uint8
        Base codes (see :func:`one_hot_codes`).
    table : ndarray of shape (n_blocks * (C + 1)**g, K), float32 or float64
        The look-up table (see :func:`sklearn_deepprune.network._lookup_table`).
    n_channels, kernel_size, group : int
        ``C``, ``w`` and ``g``.
    need_argmax : bool
        Whether to track the positions.
    n_threads : int, default=1
        Threads to use.

    Returns
    -------
    values : ndarray of shape (n, K)
        The best score of each kernel, in the table's dtype.
    positions : ndarray of shape (n, K), int64
        Its first position (zeros without ``need_argmax``).
    """
    n, length = codes.shape
    n_kernels = table.shape[1]
    values = np.empty((n, n_kernels), table.dtype)
    positions = np.zeros((n, n_kernels), np.int64)
    parts = _parts(n, n * length * n_kernels, n_threads, _MIN_SPLIT_SCAN)
    _run(
        _scan_max,
        parts,
        lambda a, b: (
            codes[a:b],
            table,
            n_channels,
            kernel_size,
            group,
            need_argmax,
            values[a:b],
            positions[a:b],
        ),
    )
    return values, positions


def weight_grad(
    codes: np.ndarray,
    positions: np.ndarray,
    grad: np.ndarray,
    n_channels: int,
    kernel_size: int,
    n_threads: int = 1,
) -> np.ndarray:
    """Gradient ``(K, C, w)`` of ``sum_nk grad[n, k] * score[n, k]`` with respect to the kernels.

    Only the winning window ``positions[n, k]`` of each kernel has a
    gradient: ``grad[n, k]`` lands on the weight of each base of that window.

    Parameters
    ----------
    codes : ndarray of shape (n, L), uint8
        Base codes.
    positions : ndarray of shape (n, K), int64
        The winning positions (from :func:`scan_max`).
    grad : ndarray of shape (n, K)
        Gradient with respect to the scores.
    n_channels, kernel_size : int
        ``C`` and ``w``.
    n_threads : int, default=1
        Threads to use (the result does not depend on them, bit for bit).

    Returns
    -------
    ndarray of shape (K, C, w)
        In ``grad``'s dtype.
    """
    n, n_kernels = grad.shape
    # Split over kernels, not sequences: each weight's sum then runs over the
    # sequences in order on one thread, so its rounding (and a fit's result)
    # does not depend on the number of threads.
    parts = _parts(n_kernels, n * n_kernels * kernel_size * 4, n_threads)
    partial = _run(
        _weight_grad,
        parts,
        lambda a, b: (codes, positions[:, a:b], grad[:, a:b], n_channels, kernel_size),
    )
    return partial[0] if len(partial) == 1 else np.concatenate(partial)


def head(
    raw: np.ndarray, n_strands: int, activation: int, slope: float, cap: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each kernel's best score over strands, and its activation.

    Parameters
    ----------
    raw : ndarray of shape (n, S * K)
        Best window scores of the scanned kernels (forward ones, then reverse ones).
    n_strands : int
        ``S``.
    activation : int
        0 for ``max(x, 0)``; 1 for ``min(x > 0 ? x : slope x, cap)``.
    slope, cap : float
        Of the second activation.

    Returns
    -------
    best, scores : ndarray of shape (n, K)
        The maximum over strands and its activation, in ``raw``'s dtype.
    """
    n = raw.shape[0]
    best = np.empty((n, raw.shape[1] // n_strands), raw.dtype)
    scores = np.empty_like(best)
    _head(raw, n_strands, activation, slope, cap, best, scores)
    return best, scores


def head_backward(
    grad_logits: np.ndarray,
    dense_weight: np.ndarray,
    raw: np.ndarray,
    best: np.ndarray,
    activation: int,
    slope: float,
    cap: float,
) -> np.ndarray:
    """Gradient with respect to ``raw`` of the logits ``dense_weight . act(best)``.

    The operations of autograd's backward pass through the dense layer, the
    activation and the maximum over strands (ties share the gradient), one
    by one, so the result is bit-identical to autograd's.

    Parameters
    ----------
    grad_logits : ndarray of shape (n,)
        Gradient with respect to the logits.
    dense_weight : ndarray of shape (K,)
        The dense layer's weights.
    raw : ndarray of shape (n, S * K)
        As for :func:`head`.
    best : ndarray of shape (n, K)
        From :func:`head`.
    activation : int
        As for :func:`head`.
    slope, cap : float
        As for :func:`head`.

    Returns
    -------
    ndarray of shape (n, S * K)
        In ``raw``'s dtype.
    """
    grad = np.empty_like(raw)
    _head_backward(grad_logits, dense_weight, raw, best, activation, slope, cap, grad)
    return grad


@njit(cache=True, nogil=True)
def _head(raw, n_strands, activation, slope, cap, best, scores):  # pragma: no cover - compiled
    """:func:`head` into ``best`` and ``scores``."""
    n, n_kernels = best.shape
    slope = raw.dtype.type(slope)
    cap = raw.dtype.type(cap)
    for i in range(n):
        for k in range(n_kernels):
            value = raw[i, k]
            for s in range(1, n_strands):
                other = raw[i, s * n_kernels + k]
                if other > value:
                    value = other
            best[i, k] = value
            if activation == 0:
                scores[i, k] = value if value > 0 else 0
            else:
                leaky = value if value > 0 else value * slope
                scores[i, k] = leaky if leaky <= cap else cap


@njit(cache=True, nogil=True)
def _head_backward(
    grad_logits, dense_weight, raw, best, activation, slope, cap, grad
):  # pragma: no cover - compiled
    """:func:`head_backward` into ``grad``."""
    n, n_kernels = best.shape
    n_strands = raw.shape[1] // n_kernels
    slope = raw.dtype.type(slope)
    cap = raw.dtype.type(cap)
    for i in range(n):
        for k in range(n_kernels):
            g = grad_logits[i] * dense_weight[k]
            value = best[i, k]
            if activation == 0:
                if not value > 0:
                    g = 0
            else:
                leaky = value if value > 0 else value * slope
                if not leaky <= cap:
                    g = 0
                if not value > 0:
                    g = g * slope
            count = 0
            for s in range(n_strands):
                count += raw[i, s * n_kernels + k] == value
            shared = g if n_strands == 1 else g / count
            for s in range(n_strands):
                grad[i, s * n_kernels + k] = shared if raw[i, s * n_kernels + k] == value else 0


@njit(cache=True, nogil=True)
def _codes(X, codes):  # pragma: no cover - compiled
    """Fill ``codes`` from the uint8 batch ``X``; return whether it is one-hot."""
    n, n_channels, length = X.shape
    one_hot = True
    for i in range(n):
        count = np.zeros(length, np.uint8)
        code = np.zeros(length, np.uint8)
        seen = np.uint8(0)
        for c in range(n_channels):
            for pos in range(length):
                v = X[i, c, pos]
                seen |= v
                count[pos] += v
                code[pos] += v * np.uint8(c)
        one_hot &= seen <= 1
        for pos in range(length):
            one_hot &= count[pos] <= 1
            codes[i, pos] = code[pos] if count[pos] else n_channels
    return one_hot


@njit(cache=True, nogil=True)
def _codes_any(X, codes):  # pragma: no cover - compiled
    """:func:`_codes` for a batch of another dtype (float)."""
    n, n_channels, length = X.shape
    one_hot = True
    for i in range(n):
        for pos in range(length):
            code = n_channels
            for c in range(n_channels):
                v = X[i, c, pos]
                if v == 1 and code == n_channels:
                    code = c
                elif v != 0:
                    one_hot = False
            codes[i, pos] = code
    return one_hot


@njit(cache=True, nogil=True)
def _table(weight, bias, group, table):  # pragma: no cover - compiled
    """Fill ``table`` from ``weight`` ``(C, w, K)``; return whether all is finite."""
    n_channels, kernel_size, n_kernels = weight.shape
    base = n_channels + 1
    block_rows = base**group
    finite = True
    for c in range(n_channels):
        for j in range(kernel_size):
            for k in range(n_kernels):
                finite &= np.isfinite(weight[c, j, k])
    for k in range(n_kernels):
        finite &= np.isfinite(bias[k])
    for row in range(table.shape[0]):
        block, rest = divmod(row, block_rows)
        out = table[row]
        out[:] = 0
        for i in range(group):
            code = rest % base
            rest //= base
            j = block * group + i
            if code < n_channels and j < kernel_size:
                for k in range(n_kernels):
                    out[k] += weight[code, j, k]
        if block == 0:
            for k in range(n_kernels):
                out[k] += bias[k]
    return finite


@njit(cache=True, nogil=True)
def _gmers(codes, n_channels, kernel_size, group, padded, gmer):  # pragma: no cover - compiled
    """Fill ``gmer[s]``, the table row (block 0) of the ``g``-mer at padded position ``s``.

    ``codes`` is one sequence; ``padded`` a work array of ``len(gmer) + g - 1``.
    """
    length = codes.shape[0]
    base = n_channels + 1
    left = (kernel_size - 1) // 2
    padded[:] = n_channels
    for q in range(min(length, padded.shape[0] - left)):
        padded[left + q] = codes[q]
    for s in range(gmer.shape[0]):
        row = padded[s + group - 1]
        for t in range(group - 2, -1, -1):
            row = row * base + padded[s + t]
        gmer[s] = row


@njit(cache=True, nogil=True, inline="always")
def _window_sum(table, gmer, pos, block_rows, n_blocks, group, acc):  # pragma: no cover - compiled
    """``acc[:] =`` the scores of every table column at the window of padded position ``pos``.

    The sum of the window's ``n_blocks`` table rows (see :func:`_gmers`), in block order.
    """
    row = gmer[pos]
    for k in range(acc.shape[0]):
        acc[k] = table[row, k]
    for b in range(1, n_blocks):
        row = b * block_rows + gmer[pos + b * group]
        for k in range(acc.shape[0]):
            acc[k] += table[row, k]


@njit(cache=True, nogil=True)
def _scan_max(
    codes, table, n_channels, kernel_size, group, need_argmax, values, positions
):  # pragma: no cover - compiled
    """:func:`scan_max` of a part, written into ``values`` and ``positions``."""
    n, length = codes.shape
    n_kernels = table.shape[1]
    block_rows = (n_channels + 1) ** group
    n_blocks = (kernel_size + group - 1) // group
    span = length + (n_blocks - 1) * group
    padded = np.empty(span + group - 1, np.int32)
    gmer = np.empty(span, np.int32)
    acc = np.empty(n_kernels, table.dtype)
    for i in range(n):
        _gmers(codes[i], n_channels, kernel_size, group, padded, gmer)
        best = values[i]
        where = positions[i]
        for pos in range(length):
            _window_sum(table, gmer, pos, block_rows, n_blocks, group, acc)
            if pos == 0:
                for k in range(n_kernels):
                    best[k] = acc[k]
            elif need_argmax:
                for k in range(n_kernels):
                    if acc[k] > best[k]:
                        best[k] = acc[k]
                        where[k] = pos
            else:
                for k in range(n_kernels):
                    best[k] = max(best[k], acc[k])


@njit(cache=True, nogil=True)
def _weight_grad(codes, positions, grad, n_channels, kernel_size):  # pragma: no cover - compiled
    """:func:`weight_grad` of a part of the sequences."""
    n, length = codes.shape
    n_kernels = grad.shape[1]
    left = (kernel_size - 1) // 2
    out = np.zeros((n_kernels, n_channels, kernel_size), grad.dtype)
    for i in range(n):
        for k in range(n_kernels):
            g = grad[i, k]
            start = positions[i, k] - left
            for j in range(kernel_size):
                q = start + j
                if 0 <= q < length:
                    code = codes[i, q]
                    if code < n_channels:
                        out[k, code, j] += g
    return out


# -- mean pooling (``pooling="max_avg"``) -------------------------------------


def scan_mean(
    codes: np.ndarray,
    table: np.ndarray,
    n_channels: int,
    kernel_size: int,
    group: int,
    n_strands: int,
    activation: int,
    slope: float,
    cap: float,
    n_threads: int = 1,
) -> np.ndarray:
    """Each kernel's mean activation over positions (the better strand at each position).

    Parameters
    ----------
    codes : ndarray of shape (n, L), uint8
        Base codes (see :func:`one_hot_codes`).
    table : ndarray of shape (n_blocks * (C + 1)**g, S * K)
        The look-up table of the scanned kernels (forward ones, then reverse ones).
    n_channels, kernel_size, group : int
        ``C``, ``w`` and ``g``.
    n_strands : int
        ``S``.
    activation : int
        As for :func:`head`.
    slope, cap : float
        As for :func:`head`.
    n_threads : int, default=1
        Threads to use (split over sequences; each sequence's sum is one thread's).

    Returns
    -------
    ndarray of shape (n, K)
        ``mean_l act(max_s score[s, k, l])``, in the table's dtype.
    """
    no_sharpness = np.empty(0, table.dtype)
    return _scan_pool(
        codes,
        table,
        n_channels,
        kernel_size,
        group,
        n_strands,
        activation,
        slope,
        cap,
        no_sharpness,
        n_threads,
    )[0]


def scan_soft_max(
    codes: np.ndarray,
    table: np.ndarray,
    n_channels: int,
    kernel_size: int,
    group: int,
    n_strands: int,
    activation: int,
    slope: float,
    cap: float,
    sharpness: np.ndarray,
    n_threads: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Each kernel's log-mean-exp of its activations over positions (``pooling="lse"``).

    Parameters
    ----------
    codes, table, n_channels, kernel_size, group, n_strands, activation, slope, cap
        As for :func:`scan_mean`.
    sharpness : ndarray of shape (K,)
        ``beta_k`` of each kernel, in the table's dtype.
    n_threads : int, default=1
        As for :func:`scan_mean`.

    Returns
    -------
    pooled : ndarray of shape (n, K)
        ``log(mean_l exp(beta_k a_kl)) / beta_k``, ``a`` the better strand's
        activation at each position.
    expected : ndarray of shape (n, K)
        ``sum_l p_kl a_kl`` with ``p_kl = exp(beta_k a_kl) / sum_l exp(beta_k
        a_kl)``: the derivative of ``beta_k * pooled`` w.r.t. ``beta_k``.
    """
    return _scan_pool(
        codes,
        table,
        n_channels,
        kernel_size,
        group,
        n_strands,
        activation,
        slope,
        cap,
        np.ascontiguousarray(sharpness, dtype=table.dtype),
        n_threads,
    )


def _scan_pool(
    codes,
    table,
    n_channels,
    kernel_size,
    group,
    n_strands,
    activation,
    slope,
    cap,
    sharpness,
    n_threads,
):
    """The mean (``sharpness`` empty) or log-mean-exp pooling, with the expected activation."""
    n, length = codes.shape
    pooled = np.empty((n, table.shape[1] // n_strands), table.dtype)
    expected = np.empty_like(pooled) if sharpness.size else pooled[:0]
    parts = _parts(n, n * length * table.shape[1], n_threads, _MIN_SPLIT_SCAN)
    _run(
        _scan_mean,
        parts,
        lambda a, b: (
            codes[a:b],
            table,
            n_channels,
            kernel_size,
            group,
            n_strands,
            activation,
            slope,
            cap,
            sharpness,
            pooled[a:b],
            expected[a:b] if sharpness.size else expected,
        ),
    )
    return pooled, expected


def mean_table_grad(
    codes: np.ndarray,
    table: np.ndarray,
    grad: np.ndarray,
    n_channels: int,
    kernel_size: int,
    group: int,
    n_strands: int,
    activation: int,
    slope: float,
    cap: float,
    n_threads: int = 1,
    sharpness: np.ndarray | None = None,
    pooled: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of ``sum_nk grad[n, k] * mean[n, k]`` (:func:`scan_mean`) w.r.t. the table.

    Every window of every kernel has a gradient here (unlike after the
    maximum): ``grad[n, k] / L`` times the activation's slope at the window,
    on the better strand (ties share it, as autograd's maximum does). With
    ``sharpness``, the same for :func:`scan_soft_max`: window ``l``'s share
    is ``grad[n, k] * p_kl``.

    Parameters
    ----------
    codes, table, n_channels, kernel_size, group, n_strands, activation, slope, cap
        As for :func:`scan_mean`.
    grad : ndarray of shape (n, K)
        Gradient with respect to the means, in the table's dtype.
    n_threads : int, default=1
        Threads to use (split over kernels, so the result does not depend on
        them, bit for bit).
    sharpness : ndarray of shape (K,), optional
        ``beta_k`` (:func:`scan_soft_max`); None: the mean.
    pooled : ndarray of shape (n, K), optional
        :func:`scan_soft_max`'s pooled scores, with ``sharpness``.

    Returns
    -------
    grad_table : ndarray of the table's shape
        Gradient with respect to each table entry (the bias excluded).
    grad_bias : ndarray of shape (S * K,)
        Gradient with respect to the scanned kernels' biases.
    """
    n, length = codes.shape
    n_kernels = table.shape[1] // n_strands
    if sharpness is None:
        sharpness, pooled = np.empty(0, table.dtype), np.empty((0, 0), table.dtype)
    sharpness = np.ascontiguousarray(sharpness, dtype=table.dtype)
    pooled = np.ascontiguousarray(pooled, dtype=table.dtype)
    parts = _parts(n_kernels, n * length * table.shape[1], n_threads, _MIN_SPLIT_SCAN)
    results = _run(
        _mean_table_grad,
        parts,
        lambda a, b: (
            codes,
            table,
            grad,
            n_channels,
            kernel_size,
            group,
            n_strands,
            activation,
            slope,
            cap,
            sharpness,
            pooled,
            a,
            b,
        ),
    )
    # Each part holds (rows, S * its kernels), strand by strand: put the kernels back in order.
    rows = table.shape[0]
    grad_table = np.concatenate(
        [r[0].reshape(rows, n_strands, -1) for r in results], axis=2
    ).reshape(table.shape)
    grad_bias = np.concatenate([r[1].reshape(n_strands, -1) for r in results], axis=1)
    grad_bias = grad_bias.reshape(-1)
    return grad_table, grad_bias


def _power_of_two(n, like):  # pragma: no cover - replaced by the overload below
    """``2.0**n`` in the type of ``like``, for an integer ``n`` in the normal range."""
    raise NotImplementedError


@overload(_power_of_two, inline="always")
def _power_of_two_overload(n, like):
    if like == types.float32:
        return lambda n, like: np.int32((n + 127) << 23).view(np.float32)
    return lambda n, like: np.int64((n + 1023) << 52).view(np.float64)


@njit(cache=True, nogil=True, inline="always")
def _exp_nonpositive(x):  # pragma: no cover - compiled
    """``exp(x)`` for ``x <= log(L)``, branch-free so that loops over it vectorise.

    Cody-Waite reduction ``x = n log 2 + r``, ``|r| <= log(2) / 2``, and a
    degree-7 Taylor polynomial: a relative error of about 1e-7 (float32
    rounding); below ``exp(-87)`` it returns ``exp(-87)``, which no sum of
    one or more terms of 1 or above can hold in float32.
    """
    x = max(x, x * 0 - 87)
    n = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - n * 0.693145751953125 - n * 1.4286068203094173e-06
    p = 1 + r * (
        1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r / 5040)))))
    )
    return p * _power_of_two(np.int32(n), x)


@njit(cache=True, nogil=True, inline="always")
def _activate_one(value, activation, slope, cap):  # pragma: no cover - compiled
    """``relu`` (``activation == 0``) or ``min(leaky_relu, cap)`` of one value, branch-free."""
    if activation == 0:
        return max(value, value * 0)
    return min(max(value, value * slope), cap)


@njit(cache=True, nogil=True, inline="always")
def _activation_slope(value, activation, slope, cap):  # pragma: no cover - compiled
    """d act / d value, as autograd's backward of ``relu`` or ``clamp(leaky_relu)``."""
    one = slope / slope
    positive = one * (value > 0)
    if activation == 0:
        return positive
    leaky = max(value, value * slope)
    return (positive + (one - positive) * slope) * (leaky <= cap)


@njit(cache=True, nogil=True)
def _scan_mean(
    codes,
    table,
    n_channels,
    kernel_size,
    group,
    n_strands,
    activation,
    slope,
    cap,
    sharpness,
    means,
    expected,
):  # pragma: no cover - compiled
    """:func:`scan_mean` (``sharpness`` empty) or :func:`scan_soft_max` of a part, into ``means``.

    The log-mean-exp runs online: per kernel the largest activation so far
    ``top``, ``sum exp(beta (a - top))`` and ``sum exp(beta (a - top)) a``,
    rescaled when ``top`` rises.
    """
    n, length = codes.shape
    n_columns = table.shape[1]
    n_kernels = n_columns // n_strands
    block_rows = (n_channels + 1) ** group
    n_blocks = (kernel_size + group - 1) // group
    span = length + (n_blocks - 1) * group
    padded = np.empty(span + group - 1, np.int32)
    gmer = np.empty(span, np.int32)
    acc = np.empty(n_columns, table.dtype)
    slope = table.dtype.type(slope)
    cap = table.dtype.type(cap)
    soft = sharpness.shape[0] > 0
    top = np.empty(n_kernels, table.dtype)
    weighted = np.empty(n_kernels, table.dtype)
    # With sharpness: the sequence's activations, position by position, for a second pass.
    values = np.empty((length if soft else 0, n_kernels), table.dtype)
    for i in range(n):
        _gmers(codes[i], n_channels, kernel_size, group, padded, gmer)
        total = means[i]
        total[:] = 0
        for pos in range(length):
            _window_sum(table, gmer, pos, block_rows, n_blocks, group, acc)
            for k in range(n_kernels):
                value = acc[k]
                for s in range(1, n_strands):
                    value = max(value, acc[s * n_kernels + k])
                value = _activate_one(value, activation, slope, cap)
                if soft:
                    values[pos, k] = value
                else:
                    total[k] += value
        if not soft:
            for k in range(n_kernels):
                total[k] /= length
            continue
        top[:] = values[0]
        for pos in range(1, length):
            for k in range(n_kernels):
                top[k] = max(top[k], values[pos, k])
        weighted[:] = 0
        for pos in range(length):
            for k in range(n_kernels):
                value = values[pos, k]
                e = _exp_nonpositive(sharpness[k] * (value - top[k]))
                total[k] += e
                weighted[k] += e * value
        for k in range(n_kernels):
            expected[i, k] = weighted[k] / total[k]
            total[k] = top[k] + np.log(total[k] / length) / sharpness[k]


@njit(cache=True, nogil=True)
def _mean_table_grad(
    codes,
    table,
    grad,
    n_channels,
    kernel_size,
    group,
    n_strands,
    activation,
    slope,
    cap,
    sharpness,
    pooled,
    k0,
    k1,
):  # pragma: no cover - compiled
    """:func:`mean_table_grad` for kernels ``k0 .. k1 - 1``: ``(rows, S * (k1 - k0))``, ``(.,)``.

    Position by position as the forward scan: the scores of the part's
    columns summed from the table, each window's share of the gradient, then
    that share added onto the window's table rows, along contiguous rows.
    """
    n, length = codes.shape
    n_kernels = table.shape[1] // n_strands
    width = k1 - k0
    columns = n_strands * width
    block_rows = (n_channels + 1) ** group
    n_blocks = (kernel_size + group - 1) // group
    span = length + (n_blocks - 1) * group
    padded = np.empty(span + group - 1, np.int32)
    gmer = np.empty(span, np.int32)
    acc = np.empty(columns, table.dtype)
    share = np.empty(columns, table.dtype)
    scale = np.empty(width, table.dtype)
    weight = np.empty(width, table.dtype)
    soft = sharpness.shape[0] > 0
    beta = sharpness[k0:k1] if soft else sharpness
    pooled_i = pooled[0, :0] if soft else np.empty(0, table.dtype)
    out = np.zeros((table.shape[0], columns), table.dtype)
    out_bias = np.zeros(columns, table.dtype)
    slope = table.dtype.type(slope)
    cap = table.dtype.type(cap)
    zero = table.dtype.type(0)
    for i in range(n):
        for k in range(width):
            scale[k] = grad[i, k0 + k] / length
        if soft:
            pooled_i = pooled[i, k0:k1]
        _gmers(codes[i], n_channels, kernel_size, group, padded, gmer)
        for pos in range(length):
            for s in range(n_strands):
                first = s * n_kernels + k0
                part = acc[s * width : (s + 1) * width]
                row = table[gmer[pos]]
                for k in range(width):
                    part[k] = row[first + k]
                for b in range(1, n_blocks):
                    row = table[b * block_rows + gmer[pos + b * group]]
                    for k in range(width):
                        part[k] += row[first + k]
            if soft:  # window l's weight in the log-mean-exp: exp(beta (a_l - pooled)) / L
                weight[:] = acc[:width]
                for s in range(1, n_strands):
                    for k in range(width):
                        weight[k] = max(weight[k], acc[s * width + k])
                for k in range(width):  # (branch-free, so that it vectorises)
                    a = _activate_one(weight[k], activation, slope, cap)
                    weight[k] = _exp_nonpositive(beta[k] * (a - pooled_i[k]))
            if n_strands == 1:
                for k in range(width):
                    g = scale[k] * _activation_slope(acc[k], activation, slope, cap)
                    share[k] = g * weight[k] if soft else g
            else:  # the better strand takes the gradient; a tie shares it (as autograd's max)
                for k in range(width):
                    forward, reverse = acc[k], acc[width + k]
                    best = max(forward, reverse)
                    g = scale[k] * _activation_slope(best, activation, slope, cap)
                    if soft:
                        g = g * weight[k]
                    if forward == reverse:
                        g = g / 2
                    share[k] = g if forward == best else zero
                    share[width + k] = g if reverse == best else zero
            for c in range(columns):
                out_bias[c] += share[c]
            for b in range(n_blocks):
                row = out[b * block_rows + gmer[pos + b * group]]
                for c in range(columns):
                    row[c] += share[c]
    return out, out_bias
