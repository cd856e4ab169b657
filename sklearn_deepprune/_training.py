"""What the stage loop's skorch nets train on: the sequences and their batches.

At a few kernels a training step takes about a millisecond, and a
:class:`torch.utils.data.DataLoader` over a :class:`~torch.utils.data.Subset`
spends a fifth of that in Python, one call per sequence (the sampler yields
indices one by one, the subset maps them one by one). :class:`Batches` yields
the same batches, in the same order, from a handful of array operations per
batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Subset


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
        """The sequences and labels of ``rows``, as tensors."""
        return torch.from_numpy(self.X[rows]), torch.from_numpy(self.y[rows])


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
        if not (isinstance(dataset, Subset) and isinstance(dataset.dataset, Sequences)):
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
