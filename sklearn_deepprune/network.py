"""The DeepBind network as a torch module: motif scanner, max pool, dense layer.

::

    one-hot DNA (n, C, L)
      -> scanner: Conv1d(C -> K kernels, width w, 'same' padding, bias)
         (with strand="both" also the reverse-complemented kernels)
      -> global max over positions (and strands)
      -> activation (ReLU, or the authors' leaky capped one)   # kernel score u_k
      -> Linear(K -> 1)                                        # logit of P(bound)

The paper masks pruned kernels; here a pruned network is rebuilt physically
smaller instead (:func:`sklearn_deepprune.pruning.shrink_network`), which is
the same function and makes later stages cheaper, so no mask is needed.

The module's interface is deliberately small -- its parameters
(``conv.weight`` of shape ``(K, C, w)``, ``conv.bias``, ``dense.weight`` of
shape ``(1, K)``, ``dense.bias``), :meth:`MotifScanNet.forward`,
:meth:`MotifScanNet.kernel_scores` and :meth:`MotifScanNet.activations` -- so
that how the scan is computed can change without touching anything else.

How the scan is computed (the ``scanner``)
------------------------------------------
``"conv"``
    :func:`torch.nn.functional.conv1d`, ReLU, max, with autograd: the plain
    PyTorch formulation.
``"scan"``
    A custom autograd function for ``max_l conv`` that exploits the
    model's structure. Forward: if the batch is one-hot (every column all zero
    or a single 1, e.g. uint8 from
    :class:`~sklearn_deepprune.encoding.SequenceOneHotEncoder`), the score of a
    window is a sum of table look-ups: the kernels are folded into a table of
    the summed weights of every ``g``-mer at each of the ``ceil(w / g)``
    offsets of the window (``g = 3`` for DNA: ``5**3`` rows per offset, the
    fifth "base" being an all-zero column), so a window costs ``ceil(w / g)``
    vector adds of length ``K`` instead of ``C * w`` multiply-adds
    (:func:`torch.nn.functional.embedding_bag`). Other input is unfolded into
    windows, ``(n * L, C * w)``, and multiplied by the ``(C * w, K)`` kernels in
    one matrix product. Then the maximum over positions and its position (the
    first, as :func:`torch.argmax`). Backward: after the global max only the
    winning window of each kernel has a gradient, so the weight gradient is
    ``sum_n g[n, k] * window[n, argmax[n, k]]``, accumulated for one-hot input
    as an ``index_add`` into the look-up table and folded back; no gradient
    flows to the input (it is data). In fp32 this is the ``"conv"`` function
    up to float rounding (the sums are ordered differently).

    On CPU, with numba installed (the ``fast`` extra), one-hot batches take
    a fused path instead (``sklearn_deepprune._fastscan``, compiled on
    first use and cached on disk): each sequence is scanned in one pass, the
    ``ceil(w / g)`` table rows of every window summed into one ``K``-vector
    with a running maximum and arg-max, so no ``(n, L, K)`` block is ever in
    memory; the backward pass adds ``g[n, k]`` onto the weight of each base
    of the winning window directly. The same function, several times faster;
    the estimator runs torch on one thread meanwhile and the kernels on
    torch's threads (``_fused_scan_threads``). Without numba (or on a
    GPU) the torch paths above run.
``"scan_bf16"``
    ``"scan"`` with the search for the best window in bfloat16 (fp32
    accumulation), after which the winner's score is recomputed exactly in
    the parameters' dtype; so the output is the exact score of the chosen
    window, and the choice can differ from ``"conv"``'s only between windows
    whose scores are within bf16 rounding of each other. Worth it where bf16
    matrix products are fast (GPUs; CPUs with AMX) and the input is not
    one-hot. One-hot CPU batches take the exact fused path when numba is
    installed, as with ``"scan"``.
"""

from __future__ import annotations

import contextlib
import importlib
import math

import torch
from torch import nn
from torch.nn import functional as F


def same_padding(kernel_size: int) -> tuple[int, int]:
    """Left and right zero padding that keeps the length (as ``padding='same'``).

    Parameters
    ----------
    kernel_size : int
        Kernel width ``w``.

    Returns
    -------
    tuple of int
        ``((w - 1) // 2, w - 1 - (w - 1) // 2)``, as PyTorch pads.
    """
    left = (kernel_size - 1) // 2
    return left, kernel_size - 1 - left


#: The ways of computing the scan that :class:`MotifScanNet` offers.
SCANNERS = ("conv", "scan", "scan_bf16")

# Score-matrix elements (n * L * K) computed at once by the "scan" scanners;
# larger batches are processed in chunks of sequences (64 MiB of fp32).
_CHUNK_ELEMENTS = 1 << 24

# Up to this many kernels, the "scan" scanner computes its forward pass with
# conv1d (faster than the look-up for few kernels on CPU).
_CONV_MAX_KERNELS = 16

# Whether the "scan" scanners may use the numba kernels of
# sklearn_deepprune._fastscan for one-hot CPU batches (tests switch it off to
# reach the pure-torch paths); _FAST caches the module (False: numba missing).
_USE_NUMBA = True
_FAST = None

# Threads for the fused kernels while :func:`_fused_scan_threads` holds torch to one thread.
_SCAN_THREADS: int | None = None

# Rows per offset of the one-hot look-up table: the group size g is the largest
# with (C + 1) ** g <= this (g = 3 for DNA, as measured fastest on CPU).
_MAX_TABLE_ROWS = 256


def default_scanner(device: str | torch.device) -> str:
    """The fastest scanner for a device.

    ``"scan"`` everywhere: on CPU one-hot batches take the look-up path, where
    bf16 gains little (measured in ``benchmarks/train_throughput.py``), and
    ``"scan"`` is exact in fp32. ``"scan_bf16"`` is opt-in.

    Parameters
    ----------
    device : str or torch.device
        Where the network runs.

    Returns
    -------
    str
        One of :data:`SCANNERS`.
    """
    torch.device(device)  # validate
    return "scan"


# -- the "scan" autograd function ---------------------------------------------


def _one_hot_codes(X: torch.Tensor) -> torch.Tensor | None:
    """Per-position base codes ``(n, L)`` of a one-hot batch, or ``None``.

    Code ``c < C`` is channel ``c``; code ``C`` is an all-zero column (padding,
    unknown base). ``None`` when some column is not all zero or a single 1.
    """
    if X.dtype == torch.bool:
        X = X.to(torch.uint8)
    if not bool(((X == 0) | (X == 1)).all()):
        return None
    total = X.sum(dim=1)
    if bool((total > 1).any()):
        return None
    n_channels = X.shape[1]
    channel = torch.arange(n_channels, device=X.device).view(1, n_channels, 1)
    codes = (X.to(torch.int32) * channel).sum(dim=1, dtype=torch.int32)
    return codes.masked_fill_(total == 0, n_channels)


def _group_size(n_channels: int, kernel_size: int) -> int:
    g = max(1, int(math.log(_MAX_TABLE_ROWS) / math.log(n_channels + 1) + 1e-9))
    return min(g, kernel_size)


def _lookup_indices(codes: torch.Tensor, n_channels: int, kernel_size: int) -> torch.Tensor:
    """Table rows ``(n, L, n_blocks)`` of each window's ``g``-mers (see :func:`_lookup_table`)."""
    g = _group_size(n_channels, kernel_size)
    n_blocks = -(-kernel_size // g)
    base = n_channels + 1
    n, length = codes.shape
    left, right = same_padding(kernel_size)
    padded = F.pad(codes, (left, right + n_blocks * g - kernel_size), value=n_channels)
    span = length + (n_blocks - 1) * g
    gmer = padded[:, :span].clone()
    for i in range(1, g):
        gmer += padded[:, i : i + span] * base**i
    rows = gmer.unfold(1, (n_blocks - 1) * g + 1, 1)[:, :, ::g]
    offsets = torch.arange(n_blocks, dtype=rows.dtype, device=codes.device) * base**g
    return rows + offsets


def _lookup_table(weight: torch.Tensor, bias: torch.Tensor, group: int) -> torch.Tensor:
    """Summed weights of every ``g``-mer at every offset: ``(n_blocks * (C+1)**g, K)``.

    Row ``j * (C+1)**g + sum_i c_i (C+1)**i`` holds
    ``sum_i weight[:, c_i, j*g + i]`` (channel ``C`` and offsets past the
    kernel weigh zero); the bias is folded into block 0.
    """
    K, C, w = weight.shape
    n_blocks = -(-w // group)
    ext = weight.new_zeros(K, C + 1, n_blocks * group)
    ext[:, :C, :w] = weight
    ext = ext.view(K, C + 1, n_blocks, group).permute(2, 0, 1, 3)  # (nb, K, C+1, g)
    table = weight.new_zeros((n_blocks, K) + (C + 1,) * group)
    for i in range(group):
        shape = [n_blocks, K] + [1] * group
        shape[2 + group - 1 - i] = C + 1
        table = table + ext[..., i].reshape(shape)
    table[0] += bias.view((K,) + (1,) * group)
    return table.reshape(n_blocks, K, -1).transpose(1, 2).reshape(-1, K)


def _table_to_weight_grad(grad_table: torch.Tensor, shape: torch.Size, group: int):
    """Fold a gradient of :func:`_lookup_table` (bias excluded) back onto the weight."""
    K, C, w = shape
    n_blocks = -(-w // group)
    grad = grad_table.view((n_blocks,) + (C + 1,) * group + (K,))
    out = grad_table.new_empty(K, C + 1, n_blocks, group)
    for i in range(group):
        axis = 1 + group - 1 - i
        others = tuple(a for a in range(1, 1 + group) if a != axis)
        part = grad.sum(dim=others) if others else grad  # (nb, C+1, K)
        out[..., i] = part.permute(2, 1, 0)
    return out.view(K, C + 1, n_blocks * group)[:, :C, :w]


def _max_argmax(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum over dim 1 of ``(n, L, K)`` and its first position, both ``(n, K)``.

    Blockwise (max of block maxima, then the first position inside the first
    winning block), because max-with-indices over a middle dimension is slow
    on CPU; ties go to the first position, as in :func:`torch.argmax`.
    """
    n, length, K = scores.shape
    block = max(1, math.isqrt(length))
    n_full = length // block
    maxima = scores[:, : n_full * block].view(n, n_full, block, K).amax(dim=2)
    if n_full * block < length:
        rest = scores[:, n_full * block :].amax(dim=1, keepdim=True)
        maxima = torch.cat([maxima, rest], dim=1)
    values = maxima.amax(dim=1)
    which = _first_equal(maxima, values)
    steps = torch.arange(block, device=scores.device).view(1, block, 1)
    index = (which.unsqueeze(1) * block + steps).clamp_(max=length - 1)
    inside = _first_equal(scores.gather(1, index), values)
    return values, (which * block + inside).clamp_(max=length - 1)


def _first_equal(candidates: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """First index ``i`` along dim 1 of ``(n, m, K)`` with ``candidates[:, i] == values``.

    ``m - max_i (m - i) [equal]`` with small integers, because
    :func:`torch.argmax` over a middle dimension is slow on CPU.
    """
    m = candidates.shape[1]
    dtype = torch.uint8 if m < 256 else torch.int32
    rank = torch.arange(m, 0, -1, dtype=dtype, device=candidates.device).view(1, m, 1)
    hit = torch.where(candidates == values.unsqueeze(1), rank, torch.zeros((), dtype=dtype))
    return m - hit.amax(dim=1).long()


def _scan_chunk(X, weight, bias, bf16, need_argmax):
    """Best window score (pre-ReLU) ``(n, K)`` of each kernel, its position, look-up rows.

    Returns ``(values, positions or None, rows or None)``; ``rows`` are the
    one-hot look-up rows ``(n, L, n_blocks)``, ``None`` for other input.
    """
    K, C, w = weight.shape
    n, _, length = X.shape
    if n == 0:
        empty = torch.zeros(0, K, dtype=torch.long, device=X.device)
        return weight.new_zeros(0, K), empty, None
    if K <= _CONV_MAX_KERNELS and not bf16:
        # Few kernels: per-window overheads dominate the look-up; conv1d is
        # cheaper here, and the arg-max backward still applies.
        scores = F.conv1d(F.pad(X.to(weight.dtype), same_padding(w)), weight, bias)
        if not need_argmax:
            return scores.amax(dim=2), None, None
        values, positions = _max_argmax(scores.transpose(1, 2))
        return values, positions, None
    codes = _one_hot_codes(X)
    search_dtype = torch.bfloat16 if bf16 else weight.dtype
    if codes is not None:
        rows = _lookup_indices(codes, C, w)
        table = _lookup_table(weight, bias, _group_size(C, w))
        scores = F.embedding_bag(
            rows.reshape(n * length, -1), table.to(search_dtype), mode="sum"
        ).view(n, length, K)
    else:
        rows = None
        windows = F.pad(X.to(weight.dtype), same_padding(w)).unfold(2, w, 1)
        windows = windows.permute(0, 2, 1, 3).reshape(n * length, C * w)
        flat = weight.reshape(K, C * w)
        if bf16:
            scores = (windows.to(search_dtype) @ flat.to(search_dtype).t()).view(n, length, K)
        else:
            scores = torch.addmm(bias, windows, flat.t()).view(n, length, K)
    if not (need_argmax or bf16):
        return scores.amax(dim=1), None, rows
    values, positions = _max_argmax(scores)
    if bf16:  # exact score of the chosen window
        if rows is not None:
            chosen = rows.gather(1, positions.unsqueeze(2).expand(n, K, rows.shape[2]))
            kernel = torch.arange(K, device=X.device).view(1, K, 1)
            values = table.reshape(-1)[chosen * K + kernel].sum(dim=2)
        else:
            chosen = _argmax_windows(X.to(weight.dtype), positions, w)
            values = torch.einsum("nkcw,kcw->nk", chosen, weight)
            values = values + bias
    return values, positions, rows


def _argmax_windows(X: torch.Tensor, positions: torch.Tensor, kernel_size: int):
    """The winning window of each kernel: ``(n, K, C, w)``."""
    windows = F.pad(X, same_padding(kernel_size)).unfold(2, kernel_size, 1)  # (n, C, L, w)
    windows = windows.permute(0, 2, 1, 3)  # (n, L, C, w)
    batch = torch.arange(X.shape[0], device=X.device).unsqueeze(1)
    return windows[batch, positions]


def _fast_module():
    """The numba kernels (:mod:`sklearn_deepprune._fastscan`), or None without numba."""
    global _FAST
    if not _USE_NUMBA:
        return None
    if _FAST is None:
        try:
            module = importlib.import_module("sklearn_deepprune._fastscan")
        except ImportError:
            module = False
        _FAST = module
    return _FAST or None


def _scan_threads() -> int:
    return _SCAN_THREADS or torch.get_num_threads()


def _fused_codes(X: torch.Tensor, weight: torch.Tensor):
    """``(kernels module, base codes (n, L) uint8)`` where the fused scan applies, else None.

    It applies to one-hot CPU batches (any dtype; uint8, bool, float32 and
    float64 are read by a compiled kernel) with float32 or float64 CPU
    parameters, when numba is installed.
    """
    if (
        X.device.type != "cpu"
        or weight.device.type != "cpu"
        or weight.dtype not in (torch.float32, torch.float64)
        or X.ndim != 3
        or X.shape[1] >= 255
        or X.shape[0] == 0
        or X.shape[2] == 0
    ):
        return None
    fast = _fast_module()
    if fast is None:
        return None
    if X.dtype == torch.bool:
        X = X.view(torch.uint8)
    if X.dtype in (torch.uint8, torch.float32, torch.float64):
        codes, one_hot = fast.one_hot_codes(X.contiguous().numpy(), _scan_threads())
        return (fast, torch.from_numpy(codes)) if one_hot else None
    codes = _one_hot_codes(X)
    return None if codes is None else (fast, codes.to(torch.uint8))


def _fused_scan(X, weight, bias, need_argmax):
    """The fused numba scan of a one-hot CPU batch, or ``None`` where it does not apply.

    Returns ``(values, positions or None, codes, table)`` with the base codes
    ``(n, L)`` uint8 that the backward pass needs and the look-up table (which
    mean pooling reuses).
    """
    K, C, w = weight.shape
    fused = _fused_codes(X, weight)
    if fused is None:
        return None
    fast, codes = fused
    group = _group_size(C, w)
    table, finite = fast.lookup_table(weight.detach().numpy(), bias.detach().numpy(), group)
    if not finite:
        return None  # let the torch path propagate NaN and infinity as conv1d does
    values, positions = fast.scan_max(
        codes.numpy(), table, C, w, group, need_argmax, _scan_threads()
    )
    positions = torch.from_numpy(positions) if need_argmax else None
    return torch.from_numpy(values), positions, codes, table


def _fused_weight_grad(codes, positions, grad, n_channels, kernel_size) -> torch.Tensor:
    """The weight gradient ``(K, C, w)`` after :func:`_fused_scan` (which imported the kernels).

    ``grad`` is the gradient with respect to its values, a tensor or an array.
    """
    grad = grad.contiguous().numpy() if isinstance(grad, torch.Tensor) else grad
    return torch.from_numpy(
        _FAST.weight_grad(
            codes.numpy(), positions.numpy(), grad, n_channels, kernel_size, _scan_threads()
        )
    )


@contextlib.contextmanager
def _fused_scan_threads(module: MotifScanNet, sample: torch.Tensor):
    """Run torch on one thread and the fused scan kernels on torch's threads, for a while.

    With the fused kernels (numba, one-hot CPU input) doing the heavy work,
    the remaining torch operations of a training step are small; torch's
    OpenMP threads, which spin-wait after each parallel operation, would only
    take the cores from the kernels' threads (measured on 2 cores: up to 8x
    slower training). Inside this context torch uses one thread and the
    kernels all the threads torch had; where the fused kernels do not apply
    (``scanner="conv"``, numba missing, a GPU, input that is not one-hot as
    judged on ``sample``), nothing changes.

    Parameters
    ----------
    module : MotifScanNet
        The network about to be trained or evaluated.
    sample : torch.Tensor of shape (n, C, L)
        A few input sequences.

    Yields
    ------
    None
    """
    global _SCAN_THREADS
    weight = module.conv.weight
    if module.scanner == "conv" or _SCAN_THREADS or _fused_codes(sample, weight) is None:
        yield
        return
    threads = torch.get_num_threads()
    _SCAN_THREADS = threads
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        _SCAN_THREADS = None


def _scan_max(X, weight, bias, bf16, need_argmax):
    """:func:`_scan_chunk` over chunks of sequences, or :func:`_fused_scan`.

    Returns ``(values, positions or None, saved)``: ``saved`` is what the
    backward pass reads, ``("codes", base codes)`` after the fused scan,
    ``("rows", look-up rows)`` after the torch look-up, ``("dense", None)``
    otherwise.
    """
    fused = _fused_scan(X, weight, bias, need_argmax)
    if fused is not None:
        return fused[0], fused[1], ("codes", fused[2])
    values, positions, rows = _scan_chunks(X, weight, bias, bf16, need_argmax)
    return values, positions, ("dense", None) if rows is None else ("rows", rows)


def _scan_chunks(X, weight, bias, bf16, need_argmax):
    """:func:`_scan_chunk` over chunks of sequences; the same three results."""
    n = X.shape[0]
    chunk = max(1, _CHUNK_ELEMENTS // max(1, X.shape[2] * weight.shape[0]))
    parts = [
        _scan_chunk(X[i : i + chunk], weight, bias, bf16, need_argmax)
        for i in range(0, max(n, 1), chunk)
    ]
    if len(parts) == 1:
        return parts[0]
    values = torch.cat([p[0] for p in parts])
    positions = torch.cat([p[1] for p in parts]) if need_argmax else None
    one_hot = all(p[2] is not None for p in parts)
    rows = torch.cat([p[2] for p in parts]) if one_hot else None
    return values, positions, rows


class _ScanMax(torch.autograd.Function):
    """``max_l conv1d(X, weight, bias, 'same')`` with an arg-max backward.

    The activation is applied after the maximum by ordinary autograd ops: a
    monotone activation commutes with the maximum.
    """

    @staticmethod
    def forward(ctx, X, weight, bias, bf16):
        values, positions, (kind, data) = _scan_max(X, weight, bias, bf16, need_argmax=True)
        ctx.kind = kind
        ctx.weight_shape = weight.shape
        if kind == "dense":
            data = X.to(weight.dtype)
        ctx.save_for_backward(data, positions)
        return values

    @staticmethod
    def backward(ctx, grad):
        data, positions = ctx.saved_tensors
        K, C, w = ctx.weight_shape
        grad_bias = grad.sum(dim=0)
        if ctx.kind == "codes":
            grad_weight = _fused_weight_grad(data, positions, grad, C, w)
        elif ctx.kind == "rows":
            group = _group_size(C, w)
            n_blocks = data.shape[2]
            chosen = data.gather(1, positions.unsqueeze(2).expand(-1, K, n_blocks))
            kernel = torch.arange(K, device=grad.device).view(1, K, 1)
            grad_table = grad.new_zeros(n_blocks * (C + 1) ** group * K)
            grad_table.index_add_(
                0,
                (chosen * K + kernel).reshape(-1),
                grad.unsqueeze(2).expand_as(chosen).reshape(-1),
            )
            grad_weight = _table_to_weight_grad(grad_table, ctx.weight_shape, group)
        else:
            grad_weight = torch.einsum("nk,nkcw->kcw", grad, _argmax_windows(data, positions, w))
        return None, grad_weight, grad_bias, None


#: The slope below zero of the ``"leaky_capped"`` activation (see :func:`activate`).
LEAKY_SLOPE = 0.5

#: The cap of the ``"leaky_capped"`` activation (see :func:`activate`).
LEAKY_CAP = 10.0

#: The activations a :class:`MotifScanNet` offers (see :func:`activate`).
ACTIVATIONS = ("relu", "leaky_capped")

#: Which strands a kernel reads: the given sequence only, or it and its reverse complement.
STRANDS = ("forward", "both")

#: How a kernel's activations are pooled over positions: their maximum (the paper),
#: their maximum and their mean (DeepBind; see :mod:`sklearn_deepprune._meanpool`), or
#: a soft maximum with a learned sharpness per kernel (see :func:`soft_max_pool`).
POOLINGS = ("max", "max_avg", "lse")
#: ``beta_k`` of every kernel when the soft maximum is switched on, ``pooling="lse"``
#: (the estimator trains its first stage under the maximum first). At 1 (between the
#: mean and the maximum) the measured ChIP-seq gains hold (user guide, Results); started
#: at 4 (near the maximum) the kernels stay sharp and most of the gain is lost (STAT3 at
#: 4 kernels 0.738 instead of 0.800, EZH2 0.625 instead of 0.675).
INITIAL_SHARPNESS = 1.0


def activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    """Apply a kernel activation.

    ``"relu"`` is ``max(x, 0)``, the activation the paper's text names.
    ``"leaky_capped"`` is ``min(max(x, 0.5 x), 10)``: the authors' script
    (``K.relu(x, alpha=0.5, max_value=10)`` in Keras) has slope 0.5 below zero
    and caps at 10, so a kernel that never matches still has a gradient. Both
    are monotone, so they commute with the maximum over positions.

    Parameters
    ----------
    x : torch.Tensor
        Pre-activation scores.
    activation : {"relu", "leaky_capped"}
        Which activation.

    Returns
    -------
    torch.Tensor
        The activated scores, same shape.
    """
    if activation == "relu":
        return F.relu(x)
    if activation == "leaky_capped":
        return F.leaky_relu(x, LEAKY_SLOPE).clamp(max=LEAKY_CAP)
    raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")


def soft_max_pool(activations: torch.Tensor, log_sharpness: torch.Tensor) -> torch.Tensor:
    """Log-mean-exp pooling over positions, ``pooling="lse"``.

    ``s_k = log(mean_l exp(beta_k a_kl)) / beta_k`` with ``beta_k =
    exp(log_sharpness_k)``: the free energy of kernel ``k``'s sites in the
    window, as a biophysical occupancy model sums over every position. It
    lies between the mean (``beta -> 0``) and the maximum (``beta -> inf``)
    of the activations; a window with several sites scores above one with a
    single site of the same strength, and never above its best site.

    Parameters
    ----------
    activations : torch.Tensor of shape (n, K, L)
        Activations ``a`` of every kernel at every position.
    log_sharpness : torch.Tensor of shape (K,)
        ``log beta`` of each kernel.

    Returns
    -------
    torch.Tensor of shape (n, K)
        The pooled scores.
    """
    beta = log_sharpness.exp()[:, None]
    length = activations.shape[-1]
    return (torch.logsumexp(activations * beta, dim=-1) - math.log(length)) / beta[:, 0]


def reverse_complement_kernels(weight: torch.Tensor) -> torch.Tensor:
    """Kernels that read the reverse strand: flipped along channels and positions.

    With channels in A, C, G, T order, reversing the channel axis swaps each
    base with its complement, so ``conv(X, reverse_complement_kernels(W))`` at
    a window equals ``conv`` of ``W`` on that window's reverse complement.

    Parameters
    ----------
    weight : torch.Tensor of shape (K, 4, w)
        Kernels.

    Returns
    -------
    torch.Tensor of shape (K, 4, w)
        The reverse-complemented kernels.
    """
    return weight.flip(1, 2)


class MotifScanNet(nn.Module):
    """DeepBind's single-layer network: motif scanners, global max pool, dense.

    Parameters
    ----------
    n_kernels : int, default=256
        Number of motif scanners (convolution kernels) ``K``.
    kernel_size : int, default=24
        Kernel width ``w`` in positions.
    in_channels : int, default=4
        Input channels ``C`` (4 for one-hot DNA).
    scanner : {"conv", "scan", "scan_bf16"}, default="conv"
        How the motif scan is computed (see the module docstring): ``"conv"``,
        :func:`torch.nn.functional.conv1d` with autograd; ``"scan"``, a
        one-hot look-up (or windows-times-kernels matrix product) forward and
        an arg-max-window backward, the same function in fp32 and several
        times faster to train; ``"scan_bf16"``, ``"scan"`` searching the best
        window in bfloat16. The ``"scan"`` scanners give no gradient with
        respect to the input.
    activation : {"relu", "leaky_capped"}, default="relu"
        Applied to each kernel's best score (see :func:`activate`).
    strand : {"forward", "both"}, default="forward"
        ``"forward"`` (the paper): a kernel scans the given sequence.
        ``"both"``: it also scans the reverse complement (its
        reverse-complemented copy scans the sequence, sharing its weights),
        and its score is the maximum over both strands. Needs one-hot DNA in
        A, C, G, T order (``in_channels=4``).
    pooling : {"max", "max_avg", "lse"}, default="max"
        ``"max"`` (the paper): each kernel gives the dense layer its best
        score ``u_k``. ``"max_avg"`` (DeepBind): also its mean activation over
        positions ``a_k``, with a second dense weight. ``"lse"``: a soft
        maximum over positions with a learned sharpness per kernel (see
        :func:`soft_max_pool` and :meth:`features`).

    Attributes
    ----------
    conv : torch.nn.Conv1d
        Holds the kernels ``(K, C, w)`` and their biases.
    dense : torch.nn.Linear
        The output layer ``P * K -> 1`` (``P = 1`` for ``"max"`` and
        ``"lse"``, 2 for ``"max_avg"``: the weights of ``u`` first, then those
        of ``a``).
    log_sharpness : torch.nn.Parameter of shape (K,)
        ``pooling="lse"`` only: ``log beta_k`` of each kernel, initially
        ``log(INITIAL_SHARPNESS)``.
    """

    def __init__(
        self,
        n_kernels: int = 256,
        kernel_size: int = 24,
        in_channels: int = 4,
        scanner: str = "conv",
        activation: str = "relu",
        strand: str = "forward",
        pooling: str = "max",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
        if scanner not in SCANNERS:
            raise ValueError(f"scanner must be one of {SCANNERS}; got {scanner!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
        if strand not in STRANDS:
            raise ValueError(f"strand must be one of {STRANDS}; got {strand!r}")
        if strand == "both" and in_channels != 4:
            raise ValueError(
                f"strand='both' needs one-hot DNA with 4 channels (A, C, G, T); got "
                f"in_channels={in_channels}"
            )
        self.scanner = scanner
        self.activation = activation
        self.strand = strand
        self.pooling = pooling
        self.n_kernels = n_kernels
        self.kernel_size = kernel_size
        self.in_channels = in_channels
        self.conv = nn.Conv1d(in_channels, n_kernels, kernel_size)
        self.dense = nn.Linear(n_kernels * self.n_pools, 1)
        if pooling == "lse":
            start = math.log(INITIAL_SHARPNESS)
            self.log_sharpness = nn.Parameter(torch.full((n_kernels,), start))

    @property
    def n_pools(self) -> int:
        """Features per kernel: 1 for ``pooling="max"`` and ``"lse"``, 2 for ``"max_avg"``."""
        return 2 if self.pooling == "max_avg" else 1

    @property
    def n_strands(self) -> int:
        """1 for ``strand="forward"``, 2 for ``"both"``."""
        return 2 if self.strand == "both" else 1

    def _scan_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernels ``(S * K, C, w)`` and biases as scanned: forward ones, then reverse ones."""
        weight, bias = self.conv.weight, self.conv.bias
        if self.strand == "both":
            weight = torch.cat([weight, reverse_complement_kernels(weight)])
            bias = torch.cat([bias, bias])
        return weight, bias

    def _conv_scan(self, X: torch.Tensor) -> torch.Tensor:
        """Raw scores ``(n, S * K, L)`` of every scanned kernel by :func:`F.conv1d`."""
        weight, bias = self._scan_parameters()
        return F.conv1d(F.pad(X.to(weight.dtype), same_padding(self.kernel_size)), weight, bias)

    def strand_activations(self, X: torch.Tensor) -> torch.Tensor:
        """Activations of every kernel on every strand at every position.

        Always computed with :func:`torch.nn.functional.conv1d`, whatever the
        scanner.

        Parameters
        ----------
        X : torch.Tensor of shape (n, C, L)
            Input; any dtype, cast to the parameters' dtype.

        Returns
        -------
        torch.Tensor of shape (n, S, K, L)
            ``S = 1`` (``strand="forward"``) or 2 (``"both"``); index 0 is the
            forward strand, index 1 the reverse one: the kernel read on the
            reverse complement of the window. Position ``l`` is the window
            starting at ``l - (w - 1) // 2``, on either strand.
        """
        scores = activate(self._conv_scan(X), self.activation)
        return scores.view(X.shape[0], self.n_strands, self.n_kernels, scores.shape[-1])

    def activations(self, X: torch.Tensor) -> torch.Tensor:
        """Activations of every kernel at every position (the better strand).

        Always computed with :func:`torch.nn.functional.conv1d`, whatever the
        scanner.

        Parameters
        ----------
        X : torch.Tensor of shape (n, C, L)
            Input; any dtype, cast to the parameters' dtype.

        Returns
        -------
        torch.Tensor of shape (n, K, L)
            ``act(conv(X))`` with 'same' padding, the maximum over strands
            with ``strand="both"``; position ``l`` is the window starting at
            ``l - (w - 1) // 2``.
        """
        return self.strand_activations(X).amax(dim=1)

    def kernel_scores(self, X: torch.Tensor) -> torch.Tensor:
        """Kernel scores ``u_k``: the maximum activation over positions (and strands).

        Parameters
        ----------
        X : torch.Tensor of shape (n, C, L)
            Input; any dtype (uint8 one-hot is not copied to float by the
            ``"scan"`` scanners).

        Returns
        -------
        torch.Tensor of shape (n, K)
            ``act(max_l conv(X))``.
        """
        if self.scanner == "conv":
            raw = self._conv_scan(X).amax(dim=2)
        else:
            weight, bias = self._scan_parameters()
            if X.requires_grad:
                raise ValueError(
                    f"scanner={self.scanner!r} computes no gradient with respect to the input; "
                    "use scanner='conv'"
                )
            if X.ndim != 3 or X.shape[1] != self.in_channels:
                raise ValueError(
                    f"expected input of shape (n, {self.in_channels}, L); got {tuple(X.shape)}"
                )
            bf16 = self.scanner == "scan_bf16" and weight.dtype == torch.float32
            if torch.is_grad_enabled() and (weight.requires_grad or bias.requires_grad):
                raw = _ScanMax.apply(X, weight, bias, bf16)
            else:
                raw = _scan_max(X, weight, bias, bf16, need_argmax=False)[0]
        if self.strand == "both":
            raw = raw.view(raw.shape[0], 2, self.n_kernels).amax(dim=1)
        return activate(raw, self.activation)

    def features(self, X: torch.Tensor) -> torch.Tensor:
        """What the dense layer reads: ``(n, P * K)``.

        ``u`` (:meth:`kernel_scores`) for ``pooling="max"``; ``[u, a]`` for
        ``"max_avg"``, ``a_k`` the mean activation of kernel ``k`` over
        positions (the better strand at each), ``mean_l act(z_kl)``; for
        ``"lse"``, :func:`soft_max_pool` of those activations.

        Parameters
        ----------
        X : torch.Tensor of shape (n, C, L)
            Input.

        Returns
        -------
        torch.Tensor of shape (n, P * K)
        """
        if self.pooling == "lse":
            from sklearn_deepprune._meanpool import soft_max_scores

            return soft_max_scores(self, X)
        scores = self.kernel_scores(X)
        if self.pooling == "max":
            return scores
        from sklearn_deepprune._meanpool import mean_scores

        return torch.cat([scores, mean_scores(self, X)], dim=1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logit of P(bound).

        Parameters
        ----------
        X : torch.Tensor of shape (n, C, L)
            Input.

        Returns
        -------
        torch.Tensor of shape (n,)
            The logits.
        """
        return self.dense(self.features(X)).squeeze(1)
