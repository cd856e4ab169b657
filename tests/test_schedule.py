"""Pruning schedules: the paper's halving and the gradual end (``schedule="gradual"``)."""

from itertools import pairwise

import numpy as np
import pytest

from sklearn_deepprune import DeepPruneClassifier
from sklearn_deepprune.pruning import (
    GRADUAL_BELOW,
    ablation_importance,
    keep_half,
    keep_top,
    pruning_schedule,
)


@pytest.mark.parametrize("n_kernels", [1, 2, 3, 4, 5, 8, 16])
@pytest.mark.parametrize("steps", [0, 1, 3, 6])
def test_gradual_schedule_keeps_the_halving_path_and_removes_at_most_a_quarter_below_16(
    n_kernels, steps
):
    halving = pruning_schedule(n_kernels, steps)
    assert halving == [n_kernels * 2**s for s in range(steps, -1, -1)]
    gradual = pruning_schedule(n_kernels, steps, "gradual")
    assert gradual[0] == halving[0] and gradual[-1] == n_kernels
    assert set(halving) <= set(gradual)  # every count of the halving path is a stage
    assert all(b < a for a, b in pairwise(gradual))
    for a, b in pairwise(gradual):
        if a <= GRADUAL_BELOW:
            assert a - b == max(1, a // 4) or b in halving
            assert a - b <= max(1, a // 4)
        else:
            assert b == a // 2
    # The path to n_kernels starts as the path to twice as many does (one fit, two counts).
    if steps > 0:
        wider = pruning_schedule(2 * n_kernels, steps - 1, "gradual")
        assert gradual[: len(wider)] == wider


def test_gradual_schedule_of_the_defaults():
    assert pruning_schedule(4, 6, "gradual") == [256, 128, 64, 32, 16, 12, 9, 8, 6, 5, 4]
    with pytest.raises(ValueError, match="schedule must be one of"):
        pruning_schedule(4, 6, "cubic")


def test_keep_top_is_keep_half_at_half_and_agrees_with_greedy_ablation():
    rng = np.random.default_rng(0)
    importance = rng.normal(size=9)
    np.testing.assert_array_equal(keep_top(importance, 4), keep_half(importance))
    assert keep_top(np.array([1.0, 3.0, 3.0, 2.0]), 3).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="n_keep must be between 1 and 4"):
        keep_top(np.ones(4), 5)
    # Ablation ranks by removal order: keeping the top K-1 removes the greedy first choice.
    scores = rng.normal(size=(200, 6))
    weight = rng.normal(size=6)
    y = (scores @ weight + rng.normal(size=200) > 0).astype(int)
    ranks = ablation_importance(weight, scores, y)
    for n in range(3, 6):
        removed_first = set(np.argsort(ranks)[: 6 - n])
        assert set(keep_top(ranks, n)) == set(range(6)) - removed_first


def test_gradual_fit_runs_the_schedule_stage_by_stage(toy_onehot):
    X, y, X_test, y_test = toy_onehot
    params = dict(n_kernels=2, n_prune_steps=3, kernel_size=8, max_epochs=6, pooling="max")
    clf = DeepPruneClassifier(schedule="gradual", random_state=0, **params).fit(X, y)
    sizes = [16, 12, 9, 8, 6, 5, 4, 3, 2]
    assert [row["n_kernels"] for row in clf.pruning_history_] == sizes
    assert [n for n, _ in clf.staged_decision_function(X_test)] == sizes
    assert clf.kernels_.shape[0] == 2
    # Each stage keeps kernels of the one before; the decay follows log2 of the width.
    for before, row in pairwise(clf.pruning_history_):
        assert set(row["kernel_ids"]) <= set(before["kernel_ids"])
        assert row["lr"] == pytest.approx(0.01 / 1.2 ** np.log2(16 / row["n_kernels"]))
    halving = DeepPruneClassifier(schedule="halving", random_state=0, **params).fit(X, y)
    assert [row["lr"] for row in halving.pruning_history_] == [0.01 / 1.2**i for i in range(4)]
    # The first stage is the same fit whatever the schedule.
    np.testing.assert_array_equal(
        next(iter(clf.staged_decision_function(X_test)))[1],
        next(iter(halving.staged_decision_function(X_test)))[1],
    )
    assert clf.score(X_test, y_test) > 0.9
    again = DeepPruneClassifier(schedule="gradual", random_state=0, **params).fit(X, y)
    np.testing.assert_array_equal(again.decision_function(X_test), clf.decision_function(X_test))


def test_command_line_passes_the_schedule():
    from sklearn_deepprune.cli import build_parser
    from sklearn_deepprune.cli._common import estimator_params

    args = build_parser().parse_args(["fit", "simulated3", "-o", "x", "--schedule", "gradual"])
    assert estimator_params(args)["schedule"] == "gradual"
    plain = estimator_params(build_parser().parse_args(["fit", "simulated3", "-o", "x"]))
    assert "schedule" not in plain
