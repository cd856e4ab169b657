"""Importance criteria, the keep-half rule and physical shrinking."""

import numpy as np
import pytest
import torch

from sklearn_deepprune.network import MotifScanNet
from sklearn_deepprune.pruning import (
    CRITERIA,
    ablation_importance,
    keep_half,
    score_importance,
    score_weight_importance,
    shrink_network,
    weight_importance,
)

# Three kernels, four sequences (two bound); worked out by hand below.
DENSE = np.array([0.5, -2.0, 1.0])
SCORES = np.array(
    [
        [1.0, 0.0, 2.0],  # positive
        [3.0, 1.0, 2.0],  # positive
        [0.0, 1.0, 1.0],  # negative
        [2.0, 3.0, 3.0],  # negative
    ]
)
Y = np.array([1, 1, 0, 0])


def test_weight_importance_is_absolute_dense_weight():
    np.testing.assert_allclose(weight_importance(DENSE), [0.5, 2.0, 1.0])


def test_score_importance_by_hand():
    # class means: pos = [2, 0.5, 2], neg = [1, 2, 2]
    np.testing.assert_allclose(score_importance(DENSE, SCORES, Y), [1.0, 1.5, 0.0])


def test_score_weight_importance_by_hand():
    # w * u class means: pos = [1, -1, 2], neg = [0.5, -4, 2]
    np.testing.assert_allclose(score_weight_importance(DENSE, SCORES, Y), [0.5, 3.0, 0.0])


def test_criteria_registry_and_selection():
    assert CRITERIA["weight"] is weight_importance
    assert CRITERIA["score"] is score_importance
    assert CRITERIA["score_weight"] is score_weight_importance
    kept = {name: keep_half(f(DENSE, SCORES, Y)).tolist() for name, f in CRITERIA.items()}
    assert kept == {
        "weight": [1],
        "score": [1],
        "score_weight": [1],
        "ablation": [1],
        "refit": [1],
    }
    four = np.array([0.1, 3.0, 0.2, 1.0])
    scores = np.array([[5.0, 0, 0, 1], [5.0, 0, 0, 1], [0.0, 0, 0, 0], [0.0, 0, 1, 0]])
    assert keep_half(weight_importance(four)).tolist() == [1, 3]
    assert keep_half(score_importance(four, scores, Y)).tolist() == [0, 3]


def test_score_criteria_need_both_classes():
    with pytest.raises(ValueError, match="both positive and negative"):
        score_importance(DENSE, SCORES, np.ones(4))


@pytest.mark.parametrize("k", [2, 3, 8, 256, 257])
def test_keep_half_keeps_exactly_half(k):
    importance = np.random.default_rng(k).normal(size=k)
    kept = keep_half(importance)
    assert len(kept) == k // 2
    assert np.all(np.diff(kept) > 0)
    dropped = np.setdiff1d(np.arange(k), kept)
    assert importance[kept].min() >= importance[dropped].max()


def test_keep_half_breaks_ties_by_lower_index():
    assert keep_half(np.ones(8)).tolist() == [0, 1, 2, 3]
    assert keep_half(np.array([2.0, 1.0, 1.0, 1.0, 1.0, 0.0])).tolist() == [0, 1, 2]


def test_keep_half_rejects_nan_and_tiny_input():
    with pytest.raises(ValueError, match="NaN"):
        keep_half(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="at least 2"):
        keep_half(np.array([1.0]))


def test_shrink_network_equals_masked_network():
    torch.manual_seed(0)
    wide = MotifScanNet(8, 5)
    X = torch.rand(6, 4, 30)
    keep = [1, 4, 6]
    small = shrink_network(wide, keep)
    assert small.n_kernels == 3
    assert small.conv.weight.shape == (3, 4, 5)
    masked = MotifScanNet(8, 5)
    masked.load_state_dict(wide.state_dict())
    with torch.no_grad():
        masked.dense.weight[:, [0, 2, 3, 5, 7]] = 0.0
    torch.testing.assert_close(small(X), masked(X))
    torch.testing.assert_close(small.kernel_scores(X), wide.kernel_scores(X)[:, keep])
    # the original is left unchanged and the copy does not share storage
    with torch.no_grad():
        small.conv.weight.zero_()
    assert wide.conv.weight.abs().sum() > 0


def test_ablation_by_hand():
    # Logits b + u @ w with b = 0: [-0.5, 3, 2.5, 0]; the mean-replaced removal of
    # kernel k subtracts w_k (u_k - mean u_k). With two kernels one removal is made.
    dense = np.array([1.0, -1.0])
    scores = np.array([[0.0, 1.0], [2.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    y = np.array([1, 1, 0, 0])
    logits = scores @ dense
    centred = (scores - scores.mean(axis=0)) * dense

    def loss(z):
        return np.mean(np.logaddexp(0, np.where(y == 1, -z, z)))

    without = [loss(logits - centred[:, k]) for k in range(2)]
    expected_first = int(np.argmin(without))
    importance = ablation_importance(dense, scores, y)
    assert importance[expected_first] == 0
    assert keep_half(importance).tolist() == [1 - expected_first]


def _informative_and_decoys(rng, n=400):
    """Kernel 0 tells the classes apart but has a small weight; the others do not."""
    y = np.repeat([1, 0], n // 2)
    scores = np.column_stack(
        [
            2.0 * y + rng.normal(0, 0.3, n),  # the motif: fires in bound sequences
            np.zeros(n),  # silent
            np.full(n, 3.0),  # constant
            np.zeros(n),  # silent
        ]
    )
    dense = np.array([0.4, 5.0, 4.0, 3.0])
    return dense, scores, y


def test_ablation_keeps_the_informative_kernel_where_weight_keeps_silent_ones():
    dense, scores, y = _informative_and_decoys(np.random.default_rng(0))
    assert keep_half(weight_importance(dense)).tolist() == [1, 2]  # silent + constant
    kept = keep_half(ablation_importance(dense, scores, y, bias=-1.2 - 12.0)).tolist()
    assert 0 in kept


def test_ablation_on_a_hand_built_network_drops_silent_kernels():
    # Kernel 0 matches GATA; kernels 1-3 are silent (large negative bias) but weigh more.
    from sklearn_deepprune import SequenceOneHotEncoder
    from sklearn_deepprune.datasets import make_motif_sequences

    motif = np.full((4, 4), 0.01) + 0.96 * np.eye(4)[[2, 0, 3, 0]]
    data = make_motif_sequences(300, [motif], length=30, random_state=0)
    X = torch.as_tensor(SequenceOneHotEncoder().fit_transform(data.sequences))
    net = MotifScanNet(4, 4, 4, "scan")
    with torch.no_grad():
        net.conv.weight.zero_()
        net.conv.weight[0] = torch.as_tensor(np.eye(4)[[2, 0, 3, 0]].T * 1.0)
        net.conv.bias[:] = torch.tensor([-3.0, -50.0, -50.0, -50.0])
        net.dense.weight[:] = torch.tensor([[0.5, 4.0, 3.0, 2.0]])
        net.dense.bias[:] = -0.2
        scores = net.kernel_scores(X).numpy()
    assert np.all(scores[:, 1:] == 0)
    assert keep_half(weight_importance(net.dense.weight.detach().numpy()[0])).tolist() == [1, 2]
    importance = ablation_importance(
        net.dense.weight.detach().numpy()[0], scores, data.target, bias=-0.2
    )
    assert 0 in keep_half(importance).tolist()


def test_ablation_checks_shapes():
    with pytest.raises(ValueError, match="scores must have shape"):
        ablation_importance(np.ones(3), np.ones((4, 2)), np.array([0, 1, 0, 1]))
