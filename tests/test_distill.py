"""Distillation from the wide network (``distill``): soft targets for the pruned stages."""

import numpy as np
from torch.utils.data import Subset

from sklearn_deepprune import DeepPruneClassifier
from sklearn_deepprune._training import Sequences
from sklearn_deepprune.classifier import _distilled


def test_soft_targets_mix_labels_and_teacher_on_the_training_rows_only():
    X = np.zeros((6, 4, 5), np.float32)
    y = np.array([1, 0, 1, 0, 1, 0], np.float32)
    data = Subset(Sequences(X, y), np.array([0, 1, 3]))
    teacher = np.array([0.0, np.log(3.0), -np.log(3.0)])  # p = 0.5, 0.75, 0.25
    soft = _distilled(data, teacher, 0.4)
    np.testing.assert_allclose(soft.dataset.y[[0, 1, 3]], [0.8, 0.3, 0.1], rtol=1e-6)
    # The other rows (the validation part) keep their labels; the input is shared, not copied.
    np.testing.assert_array_equal(soft.dataset.y[[2, 4, 5]], y[[2, 4, 5]])
    assert soft.dataset.X is X
    np.testing.assert_array_equal(soft.indices, data.indices)
    np.testing.assert_array_equal(y, [1, 0, 1, 0, 1, 0])  # not changed in place


def test_distillation_changes_the_pruned_stages_not_the_wide_one(toy_onehot):
    X, y, X_test, _ = toy_onehot
    params = dict(
        n_kernels=2, n_prune_steps=2, kernel_size=8, max_epochs=8, pooling="max", random_state=0
    )
    plain = DeepPruneClassifier(**params).fit(X, y)
    taught = DeepPruneClassifier(distill=0.7, **params).fit(X, y)
    (_, wide_plain), *pruned_plain = plain.staged_decision_function(X_test)
    (_, wide_taught), *pruned_taught = taught.staged_decision_function(X_test)
    np.testing.assert_array_equal(wide_plain, wide_taught)
    assert not np.array_equal(pruned_plain[-1][1], pruned_taught[-1][1])
    again = DeepPruneClassifier(distill=0.7, **params).fit(X, y)
    np.testing.assert_array_equal(
        again.decision_function(X_test), taught.decision_function(X_test)
    )
    assert taught.score(X_test, toy_onehot[3]) > 0.9


def test_distillation_is_ignored_by_the_baseline(toy_onehot):
    X, y, X_test, _ = toy_onehot
    params = dict(n_kernels=2, kernel_size=8, max_epochs=5, variant="baseline", random_state=0)
    a = DeepPruneClassifier(**params).fit(X, y).decision_function(X_test)
    b = DeepPruneClassifier(distill=0.5, **params).fit(X, y).decision_function(X_test)
    np.testing.assert_array_equal(a, b)


def test_command_line_passes_pooling_and_distill_to_the_estimator():
    from sklearn_deepprune.cli import build_parser
    from sklearn_deepprune.cli._common import estimator_params

    args = build_parser().parse_args(
        ["fit", "simulated3", "-o", "x", "--pooling", "max_avg", "--distill", "0.5"]
    )
    assert estimator_params(args)["pooling"] == "max_avg"
    assert estimator_params(args)["distill"] == 0.5
    plain = estimator_params(build_parser().parse_args(["fit", "simulated3", "-o", "x"]))
    assert "pooling" not in plain and "distill" not in plain  # the estimator's defaults
