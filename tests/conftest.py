"""Shared fixtures: small planted-motif data sets and where the shared data lives."""

from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_deepprune import SequenceOneHotEncoder
from sklearn_deepprune.datasets import make_motif_sequences

# The tests train tiny networks, where thread synchronisation costs more than it gains.
torch.set_num_threads(1)

#: ../shared/data beside the repository (read in place, never copied).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A strong 8-bp motif (GATAAGGC with a little noise), so that tiny nets learn it.
TOY_MOTIF = np.full((8, 4), 0.02) + 0.92 * np.eye(4)[[2, 0, 3, 0, 0, 2, 2, 1]]


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
