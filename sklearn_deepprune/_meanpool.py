"""Pooling over every position: the mean (``pooling="max_avg"``) and the soft maximum (``"lse"``).

DeepBind pools each kernel's activations over positions both by their
maximum and by their average; the average counts weak sites and sequence
composition, which a single maximum cannot. With ``pooling="max_avg"`` a
:class:`~sklearn_deepprune.network.MotifScanNet` feeds the dense layer both:
``u_k = act(max_l z_kl)`` and ``a_k = mean_l act(z_kl)``, where ``z_kl`` is
kernel ``k``'s score at position ``l`` (the better strand at that position
with ``strand="both"``). Each kernel is still one motif, now with two dense
weights.

On CPU with numba and one-hot input, :class:`_ScanMean` computes ``a`` with
the look-up table of the ``"scan"`` scanner
(:func:`sklearn_deepprune._fastscan.scan_mean`) and its gradient with
respect to the kernels without any ``(n, K, L)`` block in memory
(:func:`~sklearn_deepprune._fastscan.mean_table_grad`); elsewhere the plain
torch formulation (conv1d, activation, mean) runs with autograd. Both are the
same function up to float rounding (tested).

With ``pooling="lse"`` each kernel gives the dense layer one score, the
log-mean-exp of its activations with a learned sharpness ``beta_k``
(:func:`~sklearn_deepprune.network.soft_max_pool`); :class:`_ScanSoftMax`
computes it and its gradients (kernels, biases and ``log beta``) by the same
numba kernels, each window's share of the gradient weighted by its softmax
weight instead of ``1 / L``.
"""

from __future__ import annotations

import numpy as np
import torch

from sklearn_deepprune import network


def conv_mean_scores(module, X: torch.Tensor) -> torch.Tensor:
    """``mean_l act(max_s z_skl)`` ``(n, K)`` by conv1d, with autograd (any input)."""
    return module.activations(X).mean(dim=2)


def _fused_mean(codes, weight, bias, n_strands: int, activation: str, table=None):
    """``(means, table, group)`` by the numba kernels, or None where they do not apply.

    ``table``: the look-up table of ``weight`` and ``bias`` where the max scan
    already built it (the training step), else built here.
    """
    K, C, w = weight.shape
    fast = network._fast_module()
    group = network._group_size(C, w)
    if table is None:
        table, finite = fast.lookup_table(weight.detach().numpy(), bias.detach().numpy(), group)
        if not finite:
            return None
    means = fast.scan_mean(
        codes.numpy(),
        table,
        C,
        w,
        group,
        n_strands,
        network.ACTIVATIONS.index(activation),
        network.LEAKY_SLOPE,
        network.LEAKY_CAP,
        network._scan_threads(),
    )
    return torch.from_numpy(means), table, group


def mean_weight_grad(
    codes, table, group, grad, weight_shape, n_strands, activation, sharpness=None, pooled=None
):
    """Gradients ``(S * K, C, w)`` and ``(S * K,)`` of ``sum grad * means`` (numba).

    With ``sharpness`` and ``pooled``: of ``sum grad * pooled``, the log-mean-exp.
    """
    K, C, w = weight_shape
    grad = grad.contiguous().numpy() if isinstance(grad, torch.Tensor) else grad
    grad_table, grad_bias = network._FAST.mean_table_grad(
        codes.numpy(),
        table,
        grad.astype(table.dtype, copy=False),
        C,
        w,
        group,
        n_strands,
        network.ACTIVATIONS.index(activation),
        network.LEAKY_SLOPE,
        network.LEAKY_CAP,
        network._scan_threads(),
        sharpness,
        pooled,
    )
    grad_weight = network._table_to_weight_grad(
        torch.from_numpy(grad_table).reshape(-1), weight_shape, group
    )
    return grad_weight.contiguous(), torch.from_numpy(grad_bias)


class _ScanMean(torch.autograd.Function):
    """``mean_l act(max_s z)`` of a one-hot batch given as base codes, with its backward."""

    @staticmethod
    def forward(ctx, codes, weight, bias, n_strands, activation, fused):
        means, table, group = fused
        ctx.saved = (codes, table, group, weight.shape, n_strands, activation)
        return means.to(weight.dtype)

    @staticmethod
    def backward(ctx, grad):
        codes, table, group, shape, n_strands, activation = ctx.saved
        grad_weight, grad_bias = mean_weight_grad(
            codes, table, group, grad, shape, n_strands, activation
        )
        return None, grad_weight, grad_bias, None, None, None


def mean_scores(module, X: torch.Tensor) -> torch.Tensor:
    """Each kernel's mean activation over positions, ``(n, K)``.

    The numba path for one-hot CPU batches with the ``"scan"`` scanners, the
    conv1d formulation otherwise; both differentiable with respect to the
    kernels.

    Parameters
    ----------
    module : MotifScanNet
        The network.
    X : torch.Tensor of shape (n, C, L)
        Input.

    Returns
    -------
    torch.Tensor of shape (n, K)
        ``mean_l act(z_kl)``, ``z`` the better strand's score at each position.
    """
    if module.scanner != "conv" and not X.requires_grad:
        weight, bias = module._scan_parameters()
        found = network._fused_codes(X, weight)
        if found is not None:
            fused = _fused_mean(found[1], weight, bias, module.n_strands, module.activation)
            if fused is not None:
                n_strands, activation = module.n_strands, module.activation
                if torch.is_grad_enabled() and weight.requires_grad:
                    return _ScanMean.apply(found[1], weight, bias, n_strands, activation, fused)
                return fused[0].to(weight.dtype)
    return conv_mean_scores(module, X)


class _ScanSoftMax(torch.autograd.Function):
    """Log-mean-exp of ``act(max_s z)`` over positions, with its backward (numba)."""

    @staticmethod
    def forward(ctx, codes, weight, bias, log_sharpness, n_strands, activation, fused):
        pooled, expected, table, group, sharpness = fused
        ctx.saved = (codes, table, group, weight.shape, n_strands, activation)
        ctx.soft = (sharpness, pooled, expected)
        return torch.from_numpy(pooled).to(weight.dtype)

    @staticmethod
    def backward(ctx, grad):
        codes, table, group, shape, n_strands, activation = ctx.saved
        sharpness, pooled, expected = ctx.soft
        grad_weight, grad_bias = mean_weight_grad(
            codes, table, group, grad, shape, n_strands, activation, sharpness, pooled
        )
        # d pooled / d log(beta) = E_p[a] - pooled.
        grad_log = (grad * torch.from_numpy(expected - pooled).to(grad.dtype)).sum(dim=0)
        return None, grad_weight, grad_bias, grad_log, None, None, None


def soft_max_scores(module, X: torch.Tensor) -> torch.Tensor:
    """Each kernel's log-mean-exp pooled score, ``(n, K)`` (``pooling="lse"``).

    The numba path for one-hot CPU batches with the ``"scan"`` scanners, the
    conv1d formulation (:func:`~sklearn_deepprune.network.soft_max_pool`)
    otherwise; both differentiable with respect to the kernels and the
    sharpness.

    Parameters
    ----------
    module : MotifScanNet
        The network, with ``pooling="lse"``.
    X : torch.Tensor of shape (n, C, L)
        Input.

    Returns
    -------
    torch.Tensor of shape (n, K)
    """
    log_sharpness = module.log_sharpness
    if module.scanner != "conv" and not X.requires_grad:
        weight, bias = module._scan_parameters()
        found = network._fused_codes(X, weight)
        fast = network._fast_module()
        if found is not None and fast is not None:
            K, C, w = weight.shape
            group = network._group_size(C, w)
            table, finite = fast.lookup_table(
                weight.detach().numpy(), bias.detach().numpy(), group
            )
            sharpness = log_sharpness.detach().exp().numpy().astype(table.dtype)
            if finite and np.isfinite(sharpness).all() and (sharpness > 0).all():
                pooled, expected = fast.scan_soft_max(
                    found[1].numpy(),
                    table,
                    C,
                    w,
                    group,
                    module.n_strands,
                    network.ACTIVATIONS.index(module.activation),
                    network.LEAKY_SLOPE,
                    network.LEAKY_CAP,
                    sharpness,
                    network._scan_threads(),
                )
                if torch.is_grad_enabled() and (
                    weight.requires_grad or log_sharpness.requires_grad
                ):
                    fused = (pooled, expected, table, group, sharpness)
                    return _ScanSoftMax.apply(
                        found[1],
                        weight,
                        bias,
                        log_sharpness,
                        module.n_strands,
                        module.activation,
                        fused,
                    )
                return torch.from_numpy(pooled).to(weight.dtype)
    return network.soft_max_pool(module.activations(X), log_sharpness)
