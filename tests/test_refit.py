"""The ``"refit"`` criterion: backward elimination with the dense layer refitted."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from sklearn_deepprune import DeepPruneClassifier
from sklearn_deepprune.pruning import (
    CRITERIA,
    ablation_importance,
    keep_half,
    refit_importance,
)


def _duplicates(rng, n=2000):
    """Kernels 0 and 1 carry the same strong signal, kernel 2 a weak one of its own."""
    y = rng.integers(0, 2, n)
    strong = 2.0 * y + rng.normal(0, 1, n)
    weak = 0.5 * y + rng.normal(0, 1, n)
    return np.column_stack([strong, strong, weak, rng.normal(0, 1, n)]), y


def test_refit_keeps_one_of_two_redundant_kernels_where_ablation_keeps_both():
    rng = np.random.default_rng(0)
    scores, y = _duplicates(rng)
    train_scores, train_y = _duplicates(rng)
    # A trained dense layer: the strong signal's weight shared by its two copies.
    fitted = LogisticRegression(C=1e6).fit(train_scores[:, 1:], train_y)
    strong, weak, noise = fitted.coef_[0]
    dense, bias = np.array([strong / 2, strong / 2, weak, noise]), float(fitted.intercept_[0])
    # Weights held fixed, removing either copy takes half the strong signal's share,
    # and the weak kernel goes instead.
    assert keep_half(ablation_importance(dense, scores, y, bias=bias)).tolist() == [0, 1]
    refit = refit_importance(dense, scores, y, bias, train_scores=train_scores, train_y=train_y)
    kept = keep_half(refit).tolist()
    assert 2 in kept and len({0, 1} & set(kept)) == 1
    assert CRITERIA["refit"] is refit_importance


def test_refit_follows_exact_refits():
    # Greedy elimination with every candidate refitted from scratch (scikit-learn's
    # logistic regression with the same penalty) removes the kernels in the same order.
    rng = np.random.default_rng(1)
    n, k = 1500, 6
    y = rng.integers(0, 2, 2 * n)
    signal = rng.normal(0, 1, (2 * n, k)) + np.outer(y, [1.5, 1.0, 0.7, 0.4, 0.2, 0.0])
    signal[:, 3] += 0.8 * signal[:, 0]  # correlated with kernel 0
    dense = rng.uniform(0.5, 1.5, k)
    train, judge = slice(0, n), slice(n, None)
    ridge = 1e-3
    importance = refit_importance(
        dense, signal[judge], y[judge], 0.0,
        train_scores=signal[train], train_y=y[train], ridge=ridge,
    )  # fmt: skip
    contribution = signal * dense
    alive, order = list(range(k)), []
    for _ in range(k // 2):
        losses = {}
        for c in alive:
            cols = [a for a in alive if a != c]
            model = LogisticRegression(C=1 / (ridge * n), tol=1e-10, max_iter=1000)
            model.fit(contribution[train][:, cols], y[train])
            losses[c] = log_loss(y[judge], model.predict_proba(contribution[judge][:, cols])[:, 1])
        removed = min(losses, key=losses.get)
        alive.remove(removed)
        order.append(removed)
    assert np.argsort(importance)[: k // 2].tolist() == order


def test_refit_without_training_scores_refits_on_the_judged_ones():
    scores, y = _duplicates(np.random.default_rng(2), n=600)
    dense = np.array([1.0, 1.0, 0.5, 0.0])
    alone = refit_importance(dense, scores, y, -2.5)
    same = refit_importance(dense, scores, y, -2.5, train_scores=scores, train_y=y)
    np.testing.assert_array_equal(alone, same)
    assert sorted(alone[keep_half(alone)]) == [2, 3]  # the survivors ranked above the removed


def test_refit_checks_shapes():
    with pytest.raises(ValueError, match="scores must have shape"):
        refit_importance(np.ones(3), np.ones((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="train_scores must have shape"):
        refit_importance(
            np.ones(2), np.ones((4, 2)), np.array([0, 1, 0, 1]),
            train_scores=np.ones((3, 3)), train_y=np.array([0, 1, 0]),
        )  # fmt: skip


@pytest.mark.parametrize("pooling", ["max", "lse", "max_avg"])
def test_estimator_prunes_with_refit(toy_onehot, pooling):
    X, y, X_test, y_test = toy_onehot
    params = {"kernel_size": 8, "max_epochs": 15, "patience": 4, "batch_size": 64, "lr": 0.02}
    clf = DeepPruneClassifier(
        n_kernels=2, n_prune_steps=1, criterion="refit", pooling=pooling, schedule="halving",
        random_state=0, **params,
    ).fit(X, y)  # fmt: skip
    importance = clf.pruning_history_[1]["importance"]
    assert sorted(importance) == [0, 1, 2, 3]  # two removed in turn, two survivors ranked
    assert clf.pruning_history_[1]["kept"].tolist() == np.sort(np.argsort(importance)[2:]).tolist()
    assert clf.score(X_test, y_test) > 0.8
