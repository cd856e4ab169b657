"""The training data path: Batches yields what a DataLoader over the subset yields."""

import copy

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


def _one_hot_with_gaps(n, length, seed):
    codes = torch.randint(0, 5, (n, length), generator=torch.Generator().manual_seed(seed))
    X = torch.zeros(n, 5, length, dtype=torch.uint8).scatter_(1, codes.unsqueeze(1), 1)
    X = X[:, :4].contiguous()
    X[: n // 4] = 0  # all-unknown sequences: both strands tie at every window
    return X


@pytest.mark.parametrize("activation", ["relu", "leaky_capped"])
@pytest.mark.parametrize("strand", ["forward", "both"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_kernels", [1, 6, 40])
def test_fused_step_is_autograd_bit_for_bit(activation, strand, dtype, n_kernels):
    pytest.importorskip("numba")
    from torch import nn

    from sklearn_deepprune._training import fused_step
    from sklearn_deepprune.network import MotifScanNet

    torch.manual_seed(n_kernels)
    X = _one_hot_with_gaps(97, 31, n_kernels)
    y = torch.randint(0, 2, (97,)).to(dtype)
    reference = MotifScanNet(n_kernels, 7, 4, "scan", activation=activation, strand=strand)
    reference = reference.to(dtype)
    with torch.no_grad():  # scores past the cap and below zero, both
        reference.conv.weight.mul_(6.0)
    net = copy.deepcopy(reference)
    expected = nn.BCEWithLogitsLoss()(reference(X), y)
    expected.backward()
    loss, logits = fused_step(net, X, y)
    assert torch.equal(loss, expected.detach())
    assert torch.equal(logits, reference(X).detach())
    for name, parameter in net.named_parameters():
        assert torch.equal(parameter.grad, dict(reference.named_parameters())[name].grad), name
    # A second step adds to the gradients, as backward() does.
    nn.BCEWithLogitsLoss()(reference(X), y).backward()
    fused_step(net, X, y)
    for parameter, expected_parameter in zip(
        net.parameters(), reference.parameters(), strict=True
    ):
        assert torch.equal(parameter.grad, expected_parameter.grad)


def test_fused_step_declines_where_the_fused_scan_does_not_apply():
    pytest.importorskip("numba")
    from sklearn_deepprune._training import fused_step
    from sklearn_deepprune.network import MotifScanNet

    X = _one_hot_with_gaps(8, 20, 0)
    y = torch.ones(8)
    assert fused_step(MotifScanNet(3, 5, 4, "conv"), X, y) is None
    net = MotifScanNet(3, 5, 4, "scan")
    assert fused_step(net, X.float() * 0.5, y) is None  # not one-hot
    assert fused_step(net, X, y.double()) is None
    assert all(p.grad is None for p in net.parameters())


def test_stage_nets_train_through_the_fused_step(monkeypatch):
    pytest.importorskip("numba")
    from sklearn_deepprune import DeepPruneClassifier, _training

    calls = []
    original = _training.fused_step

    def counting(*args):
        calls.append(original(*args))
        return calls[-1]

    monkeypatch.setattr(_training, "fused_step", counting)
    X = _one_hot_with_gaps(64, 30, 1).numpy()
    y = np.arange(64) % 2
    DeepPruneClassifier(
        n_kernels=2, n_prune_steps=1, max_epochs=2, pooling="max", random_state=0
    ).fit(X, y)
    assert calls and all(call is not None for call in calls)


def test_the_final_net_still_predicts_on_plain_arrays():
    # net_ is public: skorch's own predict path iterates over its own dataset.
    from sklearn_deepprune import DeepPruneClassifier

    X = _one_hot_with_gaps(80, 30, 2).numpy()
    y = np.arange(80) % 2
    clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, max_epochs=2, random_state=0)
    clf.fit(X, y)
    np.testing.assert_allclose(clf.net_.predict_proba(X), clf.predict_proba(X), rtol=1e-5)
