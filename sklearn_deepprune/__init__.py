"""Deepprune: prune wide DeepBind-style CNNs to a few interpretable motif detectors.

The core estimator is :class:`DeepPruneClassifier`; sequences are turned into
one-hot arrays by :class:`SequenceOneHotEncoder`.
"""

from sklearn_deepprune.classifier import DeepPruneClassifier
from sklearn_deepprune.encoding import ALPHABET, SequenceOneHotEncoder, reverse_complement

__all__ = ["ALPHABET", "DeepPruneClassifier", "SequenceOneHotEncoder", "reverse_complement"]
__version__ = "0.1.0"
