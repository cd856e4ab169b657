"""Mean pooling (``pooling="max_avg"``, DeepBind's): the numba path, the fused step, the stages."""

import numpy as np
import pytest
import torch

from sklearn_deepprune import DeepPruneClassifier, load_model, save_model
from sklearn_deepprune._meanpool import conv_mean_scores, mean_scores
from sklearn_deepprune._training import fused_step
from sklearn_deepprune.network import MotifScanNet
from sklearn_deepprune.pruning import shrink_network

pytest.importorskip("numba")


def _one_hot(n, length, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length))
    X = np.zeros((n, 4, length), dtype)
    X[np.arange(n)[:, None], codes, np.arange(length)[None]] = 1
    X[0, :, 3] = 0  # an N
    return torch.from_numpy(X)


@pytest.mark.parametrize("strand", ["forward", "both"])
@pytest.mark.parametrize("activation", ["relu", "leaky_capped"])
@pytest.mark.parametrize("n_kernels", [3, 24])
def test_numba_mean_and_its_gradient_equal_the_conv_formulation(strand, activation, n_kernels):
    X = _one_hot(40, 37)
    torch.manual_seed(0)
    fast = MotifScanNet(n_kernels, 7, 4, "scan", activation, strand, pooling="max_avg")
    with torch.no_grad():
        fast.conv.weight.mul_(8)  # scores on both sides of 0 and of the cap
    conv = MotifScanNet(n_kernels, 7, 4, "conv", activation, strand, pooling="max_avg")
    conv.load_state_dict(fast.state_dict())
    # The definition, spelled out: the better strand at each position, activated, averaged.
    by_hand = conv.strand_activations(X).amax(dim=1).mean(dim=2)
    torch.testing.assert_close(mean_scores(fast, X), by_hand, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv_mean_scores(conv, X), by_hand)
    y = torch.from_numpy(np.random.default_rng(1).random(40).astype(np.float32))
    for module in (fast, conv):
        torch.nn.functional.binary_cross_entropy_with_logits(module(X), y).backward()
    for (name, a), b in zip(fast.named_parameters(), conv.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("strand", ["forward", "both"])
def test_fused_step_equals_autograd_with_mean_pooling(strand):
    X = _one_hot(64, 51, seed=2, dtype=np.uint8)
    y = torch.from_numpy((np.random.default_rng(3).random(64) > 0.5).astype(np.float32))
    torch.manual_seed(0)
    fused = MotifScanNet(20, 9, 4, "scan", "leaky_capped", strand, pooling="max_avg")
    autograd = MotifScanNet(20, 9, 4, "scan", "leaky_capped", strand, pooling="max_avg")
    autograd.load_state_dict(fused.state_dict())
    loss, logits = fused_step(fused, X, y)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(autograd(X), y)
    expected.backward()
    assert float(loss) == float(expected.detach())
    for a, b in zip(fused.parameters(), autograd.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)


def test_shrinking_keeps_both_dense_weights_of_each_kept_kernel():
    X = _one_hot(30, 41, seed=4)
    torch.manual_seed(0)
    wide = MotifScanNet(8, 7, 4, "scan", "leaky_capped", "both", pooling="max_avg")
    keep = np.array([1, 4, 6, 7])
    masked = MotifScanNet(8, 7, 4, "scan", "leaky_capped", "both", pooling="max_avg")
    masked.load_state_dict(wide.state_dict())
    drop = np.setdiff1d(np.arange(8), keep)
    with torch.no_grad():
        masked.dense.weight[:, drop] = 0
        masked.dense.weight[:, drop + 8] = 0
    small = shrink_network(wide, keep)
    assert small.dense.weight.shape == (1, 8)
    torch.testing.assert_close(small(X), masked(X), rtol=1e-5, atol=1e-5)


def test_estimator_with_mean_pooling_fits_reproducibly_and_round_trips(toy_onehot, tmp_path):
    X, y, X_test, y_test = toy_onehot
    params = dict(n_kernels=2, n_prune_steps=2, kernel_size=8, max_epochs=15, random_state=0)
    clf = DeepPruneClassifier(pooling="max_avg", **params).fit(X, y)
    again = DeepPruneClassifier(pooling="max_avg", **params).fit(X, y)
    np.testing.assert_array_equal(clf.decision_function(X_test), again.decision_function(X_test))
    assert clf.score(X_test, y_test) > 0.9
    assert clf.dense_weight_.shape == clf.dense_mean_weight_.shape == (2,)
    assert np.any(clf.dense_mean_weight_ != 0)
    # The logit is sum_k w_k u_k + v_k a_k + b.
    module = clf.net_.module_
    with torch.no_grad():
        x = torch.as_tensor(X_test[:20])
        u, a = module.kernel_scores(x).numpy(), mean_scores(module, x).numpy()
    by_hand = u @ clf.dense_weight_ + a @ clf.dense_mean_weight_ + float(module.dense.bias)
    np.testing.assert_allclose(clf.decision_function(X_test[:20]), by_hand, rtol=1e-5, atol=1e-5)
    stages = [k for k, _ in clf.staged_decision_function(X_test)]
    assert stages == [8, 6, 5, 4, 3, 2]  # the default schedule, gradual
    path = save_model(clf, tmp_path / "m.deepprune")
    loaded = load_model(path)
    assert loaded.pooling == "max_avg"
    np.testing.assert_array_equal(loaded.decision_function(X_test), clf.decision_function(X_test))


def test_max_pooling_has_zero_mean_weights(toy_onehot):
    X, y, _, _ = toy_onehot
    clf = DeepPruneClassifier(
        n_kernels=2, n_prune_steps=1, kernel_size=8, max_epochs=3, pooling="max", random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(clf.dense_mean_weight_, np.zeros(2, np.float32))
    assert clf.net_.module_.dense.weight.shape == (1, 2)
