"""Deepprune: prune wide DeepBind-style CNNs to a few interpretable motif detectors.

The core estimator is :class:`DeepPruneClassifier`; sequences are turned into
one-hot arrays by :class:`SequenceOneHotEncoder`. :func:`save_model` and
:func:`load_model` write and read model files that load without running code.
"""

from sklearn_deepprune._version import __version__ as __version__
from sklearn_deepprune.classifier import DeepPruneClassifier
from sklearn_deepprune.encoding import ALPHABET, SequenceOneHotEncoder, reverse_complement
from sklearn_deepprune.persistence import load_model, save_model

__all__ = [
    "ALPHABET",
    "DeepPruneClassifier",
    "SequenceOneHotEncoder",
    "load_model",
    "reverse_complement",
    "save_model",
]
