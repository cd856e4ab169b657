"""How the stage loop's skorch nets train: the sequences, their batches, the step.

At a few kernels a training step takes about a millisecond, so what surrounds
the scan matters as much as the scan itself:

- a :class:`torch.utils.data.DataLoader` over a
  :class:`~torch.utils.data.Subset` spends a fifth of a step in Python, one
  call per sequence (the sampler yields indices one by one, the subset maps
  them one by one); :class:`Batches` yields the same batches, in the same
  order, from a handful of array operations per batch;
- autograd's graph of a dozen small operations after the scan (the strands'
  kernels, their maximum, the activation, the dense layer, the loss) costs a
  fifth to a quarter of a step at a few kernels; where the fused scan
  applies, :func:`fused_step` computes the same loss and the same gradients,
  bit for bit, directly (:class:`DeepPruneNet` uses it for its training
  steps).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from skorch import NeuralNetBinaryClassifier
from skorch.dataset import unpack_data
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from sklearn_deepprune import _meanpool, network
from sklearn_deepprune.network import (
    ACTIVATIONS,
    LEAKY_CAP,
    LEAKY_SLOPE,
    MotifScanNet,
    _fused_scan,
    _fused_weight_grad,
)


class Sequences(Dataset):
    """One-hot sequences and labels that are fetched a batch at a time.

    Parameters
    ----------
    X : ndarray of shape (n, C, L)
        The sequences.
    y : ndarray of shape (n,)
        Their labels, float32.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X = X
        self.y = y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index):
        return self.X[index], self.y[index]

    def __getitems__(self, indices):
        # A DataLoader with ``collate_fn=lambda fetched: fetched`` gets the batch as it is.
        return self.batch(np.asarray(indices))

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The sequences and labels of some rows.

        Parameters
        ----------
        rows : ndarray of int
            Row indices into ``X`` and ``y``.

        Returns
        -------
        (X, y) : tuple of torch.Tensor
            New tensors (the rows are copied once, by numpy's indexing).
        """
        return torch.from_numpy(self.X[rows]), torch.from_numpy(self.y[rows])


def _is_subset_of_sequences(dataset) -> bool:
    return isinstance(dataset, Subset) and isinstance(dataset.dataset, Sequences)


class Batches:
    """The batches of ``DataLoader(subset, batch_size, shuffle)``, subset of :class:`Sequences`.

    The same batches in the same order as the DataLoader (single process, no
    sampler or generator of its own) under the same torch random state, and
    the same draws from it: each pass over the data draws the DataLoader's
    base seed, and with ``shuffle`` the random sampler's seed, then permutes
    with a generator seeded by it. skorch creates it as its
    ``iterator_train`` / ``iterator_valid``.

    Parameters
    ----------
    dataset : torch.utils.data.Subset of Sequences
        The part of the data to iterate over.
    batch_size : int
        Sequences per batch (the last batch may be smaller).
    shuffle : bool, default=False
        Whether each pass visits the sequences in a new random order.
    """

    def __init__(self, dataset: Subset, batch_size: int, shuffle: bool = False):
        if not _is_subset_of_sequences(dataset):
            raise TypeError(f"Batches iterates over a Subset of Sequences; got {dataset!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._indices = np.asarray(dataset.indices)

    def __len__(self) -> int:
        return -(-len(self._indices) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # The DataLoader's iterator draws its base seed on creation; unused here.
        torch.empty((), dtype=torch.int64).random_()
        return self._batches()

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        indices = self._indices
        if self.shuffle:
            # As torch's RandomSampler: a seed from the global generator, then a permutation.
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            generator = torch.Generator()
            generator.manual_seed(seed)
            indices = indices[torch.randperm(len(indices), generator=generator).numpy()]
        sequences = self.dataset.dataset
        for start in range(0, len(indices), self.batch_size):
            yield sequences.batch(indices[start : start + self.batch_size])


def batches(dataset, batch_size: int, shuffle: bool = False, **kwargs):
    """The stage nets' ``iterator_train`` / ``iterator_valid``.

    :class:`Batches` over a subset of :class:`Sequences` (what the stage loop
    trains and validates on); a :class:`torch.utils.data.DataLoader` for
    anything else, e.g. when a user calls ``net_.predict_proba(X)``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        What skorch iterates over.
    batch_size : int
        Sequences per batch.
    shuffle : bool, default=False
        Whether each pass visits the sequences in a new random order.
    **kwargs
        Further DataLoader arguments (only where a DataLoader is made).

    Returns
    -------
    Batches or torch.utils.data.DataLoader
    """
    if _is_subset_of_sequences(dataset) and not kwargs:
        return Batches(dataset, batch_size, shuffle)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, **kwargs)


def fused_step(
    module: MotifScanNet, X: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Loss and gradients of one training step without autograd, where the fused scan applies.

    The same computation as ``BCEWithLogitsLoss()(module(X), y).backward()``
    with the ``"scan"`` scanners, operation by operation, so the loss and the
    gradients are bit-identical to autograd's (tested); the gradients are
    stored in the parameters' ``.grad`` (added to any already there).

    Parameters
    ----------
    module : MotifScanNet
        The network, in training mode.
    X : torch.Tensor of shape (n, C, L)
        A batch of one-hot sequences.
    y : torch.Tensor of shape (n,)
        Their labels, in the parameters' dtype.

    Returns
    -------
    (loss, logits) or None
        The mean loss and the logits (both without a graph); ``None`` where
        the fused scan does not apply (the ``"conv"`` scanner, a GPU, numba
        missing, input that is not one-hot, non-finite parameters, labels of
        another dtype or shape): nothing is computed then.
    """
    weight, bias = module.conv.weight, module.conv.bias
    dense = module.dense
    if (
        module.scanner == "conv"
        or module.pooling == "lse"
        or y.dtype != weight.dtype
        or y.shape != (X.shape[0],)
        or not all(p.requires_grad for p in module.parameters())
    ):
        return None
    with torch.no_grad():
        scan_weight, scan_bias = module._scan_parameters()
        fused = _fused_scan(X, scan_weight, scan_bias, need_argmax=True)
        if fused is None:
            return None
        raw, positions, codes, table = fused
        fast = network._fast_module()
        n, n_kernels = raw.shape[0], module.n_kernels
        activation = ACTIVATIONS.index(module.activation)
        best, scores = (
            torch.from_numpy(a)
            for a in fast.head(raw.numpy(), module.n_strands, activation, LEAKY_SLOPE, LEAKY_CAP)
        )
        features = scores
        if module.pooling == "max_avg":
            mean = _meanpool._fused_mean(
                codes, scan_weight, scan_bias, module.n_strands, module.activation, table
            )
            if mean is None:
                return None
            features = torch.cat([scores, mean[0]], dim=1)
        logits = F.linear(features, dense.weight, dense.bias).squeeze(1)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        # Backward, as autograd runs it: the loss (mean), the dense layer (addmm), ...
        grad_logits = (torch.sigmoid(logits) - y).div_(n).unsqueeze(1)
        grad_dense_weight = grad_logits.t().mm(features)
        grad_dense_bias = grad_logits.sum(dim=[0], keepdim=True).view(1)
        dense_weight = dense.weight.detach()[0]
        # ... the activation and the maximum over strands (ties share the gradient), ...
        grad = fast.head_backward(
            grad_logits.numpy()[:, 0],
            dense_weight[:n_kernels].contiguous().numpy(),
            raw.numpy(),
            best.numpy(),
            activation,
            LEAKY_SLOPE,
            LEAKY_CAP,
        )
        # ... and the scan: each kernel's gradient lands on its winning window.
        grad_weight = _fused_weight_grad(
            codes, positions, grad, module.in_channels, module.kernel_size
        )
        grad_bias = torch.from_numpy(grad).sum(dim=0)
        if module.pooling == "max_avg":
            # The mean's share reaches every window (the numba backward of _ScanMean).
            grad_mean = grad_logits.mm(dense_weight[n_kernels:].unsqueeze(0))
            mean_weight, mean_bias = _meanpool.mean_weight_grad(
                codes,
                mean[1],
                mean[2],
                grad_mean,
                scan_weight.shape,
                module.n_strands,
                module.activation,
            )
        else:
            mean_weight = mean_bias = None
        grad_weight, grad_bias = _fold_strands(module, grad_weight, grad_bias)
        if mean_weight is not None:
            # Added after each is folded, in the order autograd sums the two uses of the
            # kernels, so the result stays bit-identical.
            mean_weight, mean_bias = _fold_strands(module, mean_weight, mean_bias)
            grad_weight, grad_bias = grad_weight + mean_weight, grad_bias + mean_bias
        for parameter, value in (
            (weight, grad_weight),
            (bias, grad_bias),
            (dense.weight, grad_dense_weight),
            (dense.bias, grad_dense_bias),
        ):
            if parameter.grad is None:
                parameter.grad = value.to(parameter.dtype)
            else:
                parameter.grad += value
    return loss, logits


def _fold_strands(module, grad_weight, grad_bias):
    """Gradients of the scanned kernels ``(S * K, ...)`` onto the kernels ``(K, ...)``."""
    if module.strand != "both":
        return grad_weight, grad_bias
    n_kernels = module.n_kernels
    return (
        grad_weight[:n_kernels] + grad_weight[n_kernels:].flip(1, 2),
        grad_bias[:n_kernels] + grad_bias[n_kernels:],
    )


class DeepPruneNet(NeuralNetBinaryClassifier):
    """The skorch net of one stage: its training steps use :func:`fused_step` where it applies.

    Everything else is :class:`skorch.NeuralNetBinaryClassifier`'s (callbacks,
    history, the optimizer's step); a step where the fused path does not
    apply (another criterion, extra fit parameters, a GPU, input that is not
    one-hot) runs through autograd as usual.
    """

    def train_step_single(self, batch, **fit_params):
        """One step's loss and gradients; see :meth:`skorch.NeuralNet.train_step_single`."""
        criterion = self.criterion_
        if (
            not fit_params
            and isinstance(self.module_, MotifScanNet)
            and type(criterion) is nn.BCEWithLogitsLoss
            and criterion.reduction == "mean"
            and criterion.weight is None
            and criterion.pos_weight is None
        ):
            self._set_training(True)
            Xi, yi = unpack_data(batch)
            step = fused_step(self.module_, Xi, yi)
            if step is not None:
                loss, y_pred = step
                return {"loss": loss, "y_pred": y_pred}
        return super().train_step_single(batch, **fit_params)
