"""DeepPruneClassifier: the stage loop, the variants and the scikit-learn contract."""

import pickle
from itertools import pairwise

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.network import MotifScanNet
from sklearn_deepprune.pruning import pruning_schedule

FAST = {"kernel_size": 8, "max_epochs": 15, "patience": 4, "batch_size": 64, "lr": 0.02}


@parametrize_with_checks(
    [
        DeepPruneClassifier(
            n_kernels=2,
            n_prune_steps=1,
            kernel_size=3,
            max_epochs=12,
            patience=5,
            batch_size=64,
            # The API checks fit many times: the paper's halving (fewer stages) and the
            # maximum (no warm-up) keep them short; the slow test below checks the defaults.
            schedule="halving",
            pooling="max",
            random_state=0,
        )
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
def test_sklearn_estimator_checks_with_the_default_pooling_and_schedule():
    from sklearn.utils.estimator_checks import check_estimator

    small = {"n_kernels": 2, "n_prune_steps": 1, "kernel_size": 3, "batch_size": 64}
    estimator = DeepPruneClassifier(**small, max_epochs=30, patience=5, random_state=0)
    assert estimator.pooling == "lse" and estimator.schedule == "gradual"
    check_estimator(estimator)


@pytest.mark.parametrize(
    "schedule, counts",
    [
        ("halving", [256, 128, 64, 32, 16, 8, 4]),
        (None, [256, 128, 64, 32, 16, 12, 9, 8, 6, 5, 4]),  # the default: gradual
    ],
)
def test_default_stage_kernel_counts_256_to_4(toy_onehot, schedule, counts):
    X, y, _, _ = toy_onehot
    options = {} if schedule is None else {"schedule": schedule}
    clf = DeepPruneClassifier(max_epochs=1, kernel_size=8, random_state=0, **options)
    history = clf.fit(X[:64], y[:64]).pruning_history_
    assert [row["n_kernels"] for row in history] == counts
    assert [row["stage"] for row in history] == list(range(len(counts)))
    np.testing.assert_allclose(
        [row["lr"] for row in history], [0.01 / 1.2 ** np.log2(256 / k) for k in counts]
    )
    assert history[0]["kept"] is None and history[0]["importance"] is None
    for before, row in pairwise(history):
        assert len(row["importance"]) == before["n_kernels"]
        assert len(row["kept"]) == row["n_kernels"]
        # the survivors are the kernels with the largest importance (the default
        # criterion, ablation: the held-out loss each one's removal costs)
        order = np.argsort(-np.asarray(row["importance"]), kind="stable")
        assert set(row["kept"]) == set(order[: row["n_kernels"]])
        np.testing.assert_array_equal(row["kernel_ids"], before["kernel_ids"][row["kept"]])
    assert clf.kernels_.shape == (4, 4, 8)
    assert clf.dense_weight_.shape == (4,) and clf.kernel_bias_.shape == (4,)
    assert isinstance(clf.net_.module_, MotifScanNet)
    frame = history.to_frame()
    assert list(frame["n_kernels"]) == counts


def test_weight_criterion_keeps_the_largest_dense_weights(toy_onehot):
    X, y, _, _ = toy_onehot
    clf = DeepPruneClassifier(
        max_epochs=1, kernel_size=8, criterion="weight", activation="relu", random_state=0
    ).fit(X[:64], y[:64])
    for before, row in pairwise(clf.pruning_history_):
        np.testing.assert_allclose(row["importance"], np.abs(before["dense_weight"]))
        order = np.argsort(-np.abs(before["dense_weight"]), kind="stable")
        assert set(row["kept"]) == set(order[: row["n_kernels"]])


def test_deepprune_learns_planted_motif_in_pipeline(toy_sequences):
    train, y_train, test, y_test = toy_sequences
    # the toy motif is planted on the forward strand only, as in the paper's simulations
    pipe = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(
            n_kernels=2, n_prune_steps=2, strand="forward", random_state=0, **FAST
        ),
    )
    pipe.fit(train, y_train)
    assert pipe.score(test, y_test) > 0.9
    proba = pipe.predict_proba(test)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(pipe.predict(test)) <= {0, 1}
    assert (pipe.predict(test) == y_test).mean() > 0.8


def test_score_is_roc_auc_not_accuracy(toy_onehot):
    from sklearn.metrics import roc_auc_score

    X, y, X_test, y_test = toy_onehot
    clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, random_state=0, **FAST).fit(X, y)
    assert clf.score(X_test, y_test) == roc_auc_score(y_test, clf.decision_function(X_test))


def test_string_labels_and_classes(toy_onehot):
    X, y, X_test, _ = toy_onehot
    labels = np.array(["unbound", "bound"])[y]
    clf = DeepPruneClassifier(n_kernels=1, n_prune_steps=1, random_state=0, **FAST)
    clf.fit(X, labels)
    assert clf.classes_.tolist() == ["bound", "unbound"]
    assert set(clf.predict(X_test)) <= {"bound", "unbound"}
    # P(classes_[1] = "unbound") is high where no motif was planted
    proba = clf.predict_proba(X)[:, 1]
    assert proba[y == 0].mean() > proba[y == 1].mean()


def test_baseline_trains_n_kernels_directly(toy_onehot):
    X, y, _, _ = toy_onehot
    clf = DeepPruneClassifier(n_kernels=4, variant="baseline", random_state=0, **FAST).fit(X, y)
    assert [row["n_kernels"] for row in clf.pruning_history_] == [4]
    assert clf.kernels_.shape == (4, 4, 8)


def test_inter_is_deepprune_without_last_fine_tuning(toy_onehot):
    X, y, X_test, _ = toy_onehot
    params = {"n_kernels": 2, "n_prune_steps": 2, "random_state": 0, **FAST}
    inter = DeepPruneClassifier(variant="inter", **params).fit(X, y)
    full = DeepPruneClassifier(variant="deepprune", **params).fit(X, y)
    stages = len(pruning_schedule(2, 2, "gradual"))
    assert [row["fine_tuned"] for row in inter.pruning_history_] == [True] * (stages - 1) + [False]
    assert inter.pruning_history_[-1]["epochs"] == 0
    # same path up to the last pruning, so inter == deepprune's last stage before fine-tuning
    (_, pruned_logits), *_ = list(full.staged_decision_function(X_test, pruned=True))[-1:]
    np.testing.assert_allclose(inter.decision_function(X_test), pruned_logits, rtol=1e-5)
    assert not np.allclose(full.decision_function(X_test), pruned_logits)


def test_lottery_rewinds_survivors_to_initial_weights(toy_onehot):
    X, y, _, _ = toy_onehot
    params = {"random_state": 0, **FAST}
    lottery = DeepPruneClassifier(n_kernels=2, n_prune_steps=2, variant="lottery", **params)
    lottery.fit(X, y)
    # max_epochs=0 leaves the initial weights of the same-seeded 8-kernel network
    initial = DeepPruneClassifier(n_kernels=8, variant="baseline", **{**params, "max_epochs": 0})
    initial.fit(X, y)
    for row, state in zip(lottery.pruning_history_[1:], lottery.stage_states_[1:], strict=True):
        ids = row["kernel_ids"]
        np.testing.assert_array_equal(state["pruned"]["conv.weight"], initial.kernels_[ids])
        assert row["lr"] == 0.02
    assert lottery.pruning_history_[-1]["epochs"] > 0


@pytest.mark.parametrize("criterion", ["weight", "score", "score_weight"])
def test_each_criterion_fits(toy_onehot, criterion):
    X, y, X_test, y_test = toy_onehot
    clf = DeepPruneClassifier(
        n_kernels=2, n_prune_steps=1, criterion=criterion, random_state=0, **FAST
    ).fit(X, y)
    assert clf.pruning_history_[1]["importance"].shape == (4,)
    assert clf.score(X_test, y_test) > 0.8


def test_staged_decision_function_covers_every_stage(toy_onehot):
    X, y, X_test, _ = toy_onehot
    clf = DeepPruneClassifier(n_kernels=1, n_prune_steps=2, random_state=0, **FAST).fit(X, y)
    staged = list(clf.staged_decision_function(X_test))
    assert [k for k, _ in staged] == [4, 3, 2, 1]  # the default schedule, gradual
    np.testing.assert_allclose(staged[-1][1], clf.decision_function(X_test), rtol=1e-6)
    assert [k for k, _ in clf.staged_decision_function(X_test, pruned=True)] == [3, 2, 1]


def test_grid_search_over_criteria_and_kernel_counts(toy_sequences):
    train, y_train, _, _ = toy_sequences
    pipe = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(n_prune_steps=1, random_state=0, **{**FAST, "max_epochs": 5}),
    )
    grid = GridSearchCV(
        pipe,
        {
            "deeppruneclassifier__criterion": ["weight", "score", "score_weight"],
            "deeppruneclassifier__n_kernels": [1, 2],
        },
        cv=2,
    ).fit(train, y_train)
    assert len(grid.cv_results_["params"]) == 6
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert (
        grid.best_estimator_[-1].kernels_.shape[0]
        == grid.best_params_["deeppruneclassifier__n_kernels"]
    )


def test_cross_val_score_is_auc(toy_sequences):
    train, y_train, _, _ = toy_sequences
    pipe = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(n_kernels=1, n_prune_steps=1, random_state=0, **FAST),
    )
    scores = cross_val_score(pipe, train, y_train, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_same_random_state_same_predictions_and_rng_untouched(toy_onehot):
    X, y, X_test, _ = toy_onehot
    params = {"n_kernels": 2, "n_prune_steps": 1, **FAST}
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = DeepPruneClassifier(random_state=7, **params).fit(X, y).decision_function(X_test)
    assert torch.rand(1) == expected_next  # the user's global torch RNG is left alone
    b = DeepPruneClassifier(random_state=7, **params).fit(X, y).decision_function(X_test)
    c = DeepPruneClassifier(random_state=8, **params).fit(X, y).decision_function(X_test)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_pickle_clone_set_params(toy_onehot):
    X, y, X_test, _ = toy_onehot
    clf = DeepPruneClassifier(n_kernels=1, n_prune_steps=1, random_state=0, **FAST).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))
    fresh = clone(clf)
    assert not hasattr(fresh, "net_")
    assert fresh.get_params() == clf.get_params()
    fresh.set_params(criterion="score", n_kernels=3)
    assert fresh.criterion == "score" and fresh.n_kernels == 3


def test_uint8_input_gives_same_predictions(toy_sequences):
    train, y_train, test, _ = toy_sequences
    enc8 = SequenceOneHotEncoder(dtype=np.uint8, unknown="zero").fit(train)
    enc32 = SequenceOneHotEncoder(unknown="zero").fit(train)
    params = {"n_kernels": 1, "n_prune_steps": 1, "random_state": 0, **FAST}
    a = DeepPruneClassifier(**params).fit(enc8.transform(train), y_train)
    b = DeepPruneClassifier(**params).fit(enc32.transform(train), y_train)
    np.testing.assert_allclose(
        a.decision_function(enc8.transform(test)),
        b.decision_function(enc32.transform(test)),
        rtol=1e-5,
    )


def test_bad_inputs_get_clear_errors(toy_onehot):
    X, y, _, _ = toy_onehot
    clf = DeepPruneClassifier(n_kernels=1, n_prune_steps=1, random_state=0, **FAST)
    with pytest.raises(TypeError, match="SequenceOneHotEncoder"):
        clf.fit(["ACGT"] * 10, [0, 1] * 5)
    with pytest.raises(ValueError, match="Only binary classification"):
        clf.fit(X, np.arange(len(y)) % 3)
    with pytest.raises(ValueError, match="continuous"):
        clf.fit(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="4-dimensional|shape"):
        clf.fit(X[..., np.newaxis], y)
    with pytest.raises(ValueError, match="NaN"):
        Xn = X.copy()
        Xn[0, 0, 0] = np.nan
        clf.fit(Xn, y)
    with pytest.raises(ValueError, match="criterion"):
        clone(clf).set_params(criterion="median").fit(X, y)
    with pytest.raises(ValueError, match="variant"):
        clone(clf).set_params(variant="magic").fit(X, y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="4 features"):
        clf.predict(X[:, :3])


def test_extra_skorch_callbacks_run_in_every_stage(toy_onehot):
    from skorch.callbacks import Callback, LRScheduler

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    X, y, _, _ = toy_onehot
    clf = DeepPruneClassifier(
        n_kernels=1,
        n_prune_steps=1,
        random_state=0,
        callbacks=[("count", CountEpochs()), ("lr", LRScheduler("StepLR", step_size=1))],
        **FAST,
    ).fit(X, y)
    counted = dict(clf.net_.callbacks_)["count"].epochs
    assert counted == clf.pruning_history_[-1]["epochs"] > 0
    # the StepLR schedule (gamma 0.1 each epoch) ran in the stage
    assert clf.net_.optimizer_.param_groups[0]["lr"] < clf.pruning_history_[-1]["lr"]
    with pytest.raises(TypeError, match="pairs"):
        DeepPruneClassifier(callbacks=[CountEpochs()], **FAST).fit(X, y)


def test_strand_auto_reads_both_strands_of_dna_only(toy_onehot):
    X, y, _, _ = toy_onehot
    settings = dict(n_kernels=2, n_prune_steps=1, kernel_size=5, max_epochs=1, random_state=0)
    auto = DeepPruneClassifier(**settings).fit(X[:64], y[:64])
    assert auto.strand == "auto" and auto.strand_ == "both"
    assert auto.net_.module_.strand == "both"
    both = DeepPruneClassifier(strand="both", **settings).fit(X[:64], y[:64])
    np.testing.assert_array_equal(auto.decision_function(X), both.decision_function(X))
    forward = DeepPruneClassifier(strand="forward", **settings).fit(X[:64], y[:64])
    assert forward.strand_ == "forward" and forward.net_.module_.strand == "forward"
    signal = DeepPruneClassifier(**settings).fit(X[:64, 0, :], y[:64])  # one channel
    assert signal.strand_ == "forward"
    with pytest.raises(ValueError, match="strand='both' needs one-hot DNA"):
        DeepPruneClassifier(strand="both", **settings).fit(X[:64, 0, :], y[:64])
