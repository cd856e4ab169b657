"""Shared fixtures: small planted-motif data sets and where the shared data lives."""

import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import make_motif_sequences

# The tests train tiny networks, where thread synchronisation costs more than it gains.
torch.set_num_threads(1)

#: Options of a tiny ``deepprune fit`` (seconds), and of a tinier one with one kernel, no Tomtom.
#: The paper's halving: two stages (8, 4) where the default gradual schedule takes four.
TINY = ["--kernel-size", "8", "--max-epochs", "2", "--patience", "2", "--n-prune-steps", "1"]
TINY += ["--schedule", "halving"]
FAST = ["-q", "--no-matches", "--n-kernels", "1", *TINY]

#: ../shared/data beside the repository (read in place, never copied).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A strong 8-bp motif (GATAAGGC with a little noise), so that tiny nets learn it.
TOY_MOTIF = np.full((8, 4), 0.02) + 0.92 * np.eye(4)[[2, 0, 3, 0, 0, 2, 2, 1]]


@pytest.fixture(autouse=True)
def _sigint_handler_left_as_found():
    """Fail the test that leaves another Ctrl-C handler behind (the Ctrl-C tests need it)."""
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after is not before:
        signal.signal(signal.SIGINT, before)
        pytest.fail(f"the test left SIGINT handled by {after!r} instead of {before!r}")


@pytest.fixture(scope="session")
def toy_sequences():
    """300 training and 200 test sequences of 40 bp, half with the toy motif."""
    data = make_motif_sequences(500, [TOY_MOTIF], length=40, random_state=0)
    return (
        list(data.sequences[:300]),
        data.target[:300],
        list(data.sequences[300:]),
        data.target[300:],
    )


@pytest.fixture(scope="session")
def toy_onehot(toy_sequences):
    """The toy sequences one-hot encoded: X_train, y_train, X_test, y_test."""
    train, y_train, test, y_test = toy_sequences
    encoder = SequenceOneHotEncoder().fit(train)
    return encoder.transform(train), y_train, encoder.transform(test), y_test


def cgt_classifier(X, strand="forward"):
    """One width-3 kernel that matches CGT: logit = 2 * relu(matches - 2.5) + 0.5.

    Fitted for zero epochs on the one-hot ``X`` (which sets its input shape),
    then given these weights: only an exact CGT (or, with ``strand="both"``,
    its reverse complement ACG) scores above zero, 0.5, so a sequence holding
    one has logit 1.5 and any other 0.5.
    """
    clf = DeepPruneClassifier(
        n_kernels=1,
        n_prune_steps=0,
        kernel_size=3,
        max_epochs=0,
        activation="relu",
        strand=strand,
        pooling="max",  # the logits above are those of the maximum
        random_state=0,
    ).fit(X, [1, 0, 1, 0])
    module = clf.net_.module_
    weight = torch.zeros(1, 4, 3)
    weight[0, [1, 2, 3], [0, 1, 2]] = 1.0  # C, G, T
    with torch.no_grad():
        module.conv.weight.copy_(weight)
        module.conv.bias.fill_(-2.5)
        module.dense.weight.fill_(2.0)
        module.dense.bias.fill_(0.5)
    return clf


def run_cli(argv, capsys):
    """``deepprune argv`` in this process: (status, stdout, stderr), SystemExit included."""
    from sklearn_deepprune.cli import main

    try:
        status = main([str(arg) for arg in argv])
    except SystemExit as exit_info:
        status = exit_info.code
    out, err = capsys.readouterr()
    return status, out, err
