"""The training data path: Batches yields what a DataLoader over the subset yields."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from sklearn_deepprune._training import Batches, Sequences


def _data(n=103):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 2, (n, 4, 9)).astype(np.uint8)
    return Sequences(X, rng.randint(0, 2, n).astype(np.float32))


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [1, 16, 50, 500])
def test_batches_are_the_dataloaders_batches_with_the_same_random_draws(shuffle, batch_size):
    data = _data()
    subset = Subset(data, np.random.RandomState(1).permutation(103)[:77])
    loader = DataLoader(
        subset, batch_size=batch_size, shuffle=shuffle, collate_fn=lambda fetched: fetched
    )
    batches = Batches(subset, batch_size=batch_size, shuffle=shuffle)
    assert len(batches) == len(loader)

    def passes(iterable):
        torch.manual_seed(5)
        out = [[(X.clone(), y.clone()) for X, y in iterable] for _ in range(3)]
        return out, torch.rand(1).item()

    (expected, after_expected), (got, after_got) = passes(loader), passes(batches)
    assert after_got == after_expected  # the same draws from torch's generator
    assert [len(p) for p in got] == [len(p) for p in expected]
    for pass_got, pass_expected in zip(got, expected, strict=True):
        for (X, y), (X_expected, y_expected) in zip(pass_got, pass_expected, strict=True):
            assert torch.equal(X, X_expected) and torch.equal(y, y_expected)
    orders = [torch.cat([X for X, _ in one_pass]) for one_pass in got]
    # With shuffle each pass visits the sequences in a new order; without, in the subset's.
    assert torch.equal(orders[0], orders[1]) != shuffle
    if not shuffle:
        assert torch.equal(orders[0], torch.from_numpy(subset.dataset.X[subset.indices]))


def test_batches_refuse_other_datasets():
    with pytest.raises(TypeError, match="Subset of Sequences"):
        Batches(_data(), batch_size=4)
