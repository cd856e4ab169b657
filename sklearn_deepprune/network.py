"""The DeepBind network as a torch module: motif scanner, max pool, dense layer.

    one-hot DNA (n, C, L)
      -> scanner: Conv1d(C -> K kernels, width w, 'same' padding, bias)
      -> ReLU -> global max over positions      # kernel score u_k
      -> Linear(K -> 1)                         # logit of P(bound)

The paper masks pruned kernels; here a pruned network is rebuilt physically
smaller instead (:func:`sklearn_deepprune.pruning.shrink_network`), which is
the same function and makes later stages cheaper, so no mask is needed.

The module's interface is deliberately small -- its parameters
(``conv.weight`` of shape ``(K, C, w)``, ``conv.bias``, ``dense.weight`` of
shape ``(1, K)``, ``dense.bias``), :meth:`MotifScanNet.forward`,
:meth:`MotifScanNet.kernel_scores` and :meth:`MotifScanNet.activations` -- so
that how the scan is computed can change without touching anything else.
"""

from __future__ import annotations

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
SCANNERS = ("conv",)


def default_scanner(device: str | torch.device) -> str:
    """The fastest scanner for a device.

    Parameters
    ----------
    device : str or torch.device
        Where the network runs.

    Returns
    -------
    str
        One of :data:`SCANNERS`.
    """
    return "conv"


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
    scanner : {"conv"}, default="conv"
        How the motif scan is computed. ``"conv"``: :func:`torch.nn.functional.conv1d`.

    Attributes
    ----------
    conv : torch.nn.Conv1d
        Holds the kernels ``(K, C, w)`` and their biases.
    dense : torch.nn.Linear
        The output layer ``K -> 1``.
    """

    def __init__(
        self, n_kernels: int = 256, kernel_size: int = 24, in_channels: int = 4, scanner="conv"
    ):
        super().__init__()
        if scanner not in SCANNERS:
            raise ValueError(f"scanner must be one of {SCANNERS}; got {scanner!r}")
        self.scanner = scanner
        self.n_kernels = n_kernels
        self.kernel_size = kernel_size
        self.in_channels = in_channels
        self.conv = nn.Conv1d(in_channels, n_kernels, kernel_size)
        self.dense = nn.Linear(n_kernels, 1)

    def activations(self, X: torch.Tensor) -> torch.Tensor:
        """ReLU activations of every kernel at every position.

        Parameters
        ----------
        X : torch.Tensor of shape (n, C, L)
            Input; any dtype, cast to the parameters' dtype.

        Returns
        -------
        torch.Tensor of shape (n, K, L)
            ``relu(conv(X))`` with 'same' padding; position ``l`` is the window
            starting at ``l - (w - 1) // 2``.
        """
        X = X.to(self.conv.weight.dtype)
        return F.relu(
            F.conv1d(F.pad(X, same_padding(self.kernel_size)), self.conv.weight, self.conv.bias)
        )

    def kernel_scores(self, X: torch.Tensor) -> torch.Tensor:
        """Kernel scores ``u_k``: the maximum activation over positions.

        Parameters
        ----------
        X : torch.Tensor of shape (n, C, L)
            Input.

        Returns
        -------
        torch.Tensor of shape (n, K)
            ``max_l relu(conv(X))``.
        """
        return self.activations(X).amax(dim=2)

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
        return self.dense(self.kernel_scores(X)).squeeze(1)
