"""One-hot encoding of DNA sequences: strings -> ``(n, 4, L)`` arrays.

Channels are in :data:`ALPHABET` order (A, C, G, T), so the reverse
complement of an encoded sequence is the array flipped on both the channel and
the position axis.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

#: The DNA alphabet; the order of the channels of every one-hot array.
ALPHABET = "ACGT"

#: IUPAC nucleotide codes and the bases each one stands for.
IUPAC_CODES = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "U": "T",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}

_COMPLEMENT = str.maketrans("ACGTURYSWKMBDHVNacgturyswkmbdhvn", "TGCAAYRSWMKVHDBNtgcaayrswmkvhdbn")

# Row 0..15 of the lookup: one code each; _PAD marks padding (all-zero row),
# _INVALID a byte that is not a nucleotide code.
_CODES = list(IUPAC_CODES)
_PAD = len(_CODES)
_INVALID = 255


def _byte_lookup() -> np.ndarray:
    lookup = np.full(256, _INVALID, dtype=np.uint8)
    for i, code in enumerate(_CODES):
        lookup[ord(code)] = i
        lookup[ord(code.lower())] = i
    return lookup


_LOOKUP = _byte_lookup()


def _code_table(unknown: str) -> np.ndarray:
    """Return the ``(len(_CODES) + 1, 4)`` table from code index to one-hot row."""
    table = np.zeros((len(_CODES) + 1, 4), dtype=np.float32)
    for i, bases in enumerate(IUPAC_CODES.values()):
        if len(bases) == 1 or unknown == "uniform":
            for base in bases:
                table[i, ALPHABET.index(base)] = 1.0 / len(bases)
    return table


def reverse_complement(sequences):
    """Reverse complement DNA given as strings or as one-hot arrays.

    Parameters
    ----------
    sequences : str, iterable of str, or ndarray of shape (n, 4, L) or (4, L)
        IUPAC strings (case is kept; ambiguity codes are complemented, for
        example R <-> Y), or one-hot arrays with channels in ``ALPHABET`` order.

    Returns
    -------
    str, list of str, or ndarray
        The reverse complement, of the same kind as the input.

    Examples
    --------
    >>> reverse_complement("AACGTN")
    'NACGTT'
    >>> reverse_complement(["AC", "gg"])
    ['GT', 'cc']
    """
    if isinstance(sequences, str):
        return sequences.translate(_COMPLEMENT)[::-1]
    if isinstance(sequences, np.ndarray) and sequences.dtype.kind in "fiub":
        if sequences.ndim not in (2, 3) or sequences.shape[-2] != 4:
            raise ValueError(
                "one-hot input to reverse_complement must have shape (4, L) or (n, 4, L); "
                f"got {sequences.shape}"
            )
        return np.ascontiguousarray(sequences[..., ::-1, ::-1])
    return [reverse_complement(str(s)) for s in sequences]


def _as_sequence_list(X) -> list[str]:
    if isinstance(X, str):
        raise TypeError(
            "expected a list or array of DNA sequences, got a single string; wrap it in a list"
        )
    if isinstance(X, (Set, Mapping, Iterator)):
        reasons = {
            Set: "whose order is arbitrary",
            Mapping: "whose keys would be read as sequences",
            Iterator: "which reading would use up",
        }
        reason = next(text for base, text in reasons.items() if isinstance(X, base))
        raise TypeError(
            f"expected a list or array of DNA sequences, got a {type(X).__name__}, {reason}; "
            "pass a list, an array, a pandas Series or a one-column DataFrame"
        )
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # a pandas DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                "expected one column of DNA sequences, got a DataFrame with "
                f"{X.shape[1]} columns ({', '.join(map(str, X.columns))}); select one"
            )
        X = X.iloc[:, 0].to_numpy()
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1:
        X = X[:, 0]
    if isinstance(X, np.ndarray) and X.ndim != 1:
        raise ValueError(f"expected a 1-d list or array of DNA sequences, got shape {X.shape}")
    if not isinstance(X, Iterable):
        raise TypeError(f"expected a list or array of DNA sequences, got {type(X).__name__}")
    sequences = list(X)
    for i, s in enumerate(sequences):
        if not isinstance(s, (str, np.str_)):
            raise TypeError(
                f"sequence {i} is a {type(s).__name__}, not a string; "
                "SequenceOneHotEncoder takes DNA strings"
            )
    return [str(s) for s in sequences]


def _sequence_codes(sequences: list[str], length: int, align: str) -> np.ndarray:
    """Code index matrix ``(n, length)``; pads with ``_PAD``, raises on non-DNA."""
    codes = np.full((len(sequences), length), _PAD, dtype=np.uint8)
    for i, s in enumerate(sequences):
        raw = np.frombuffer(s.encode("utf-8"), dtype=np.uint8)
        if raw.size != len(s):
            bad = next(c for c in s if ord(c) > 127)
            raise ValueError(f"sequence {i} contains {bad!r}, which is not a DNA (IUPAC) code")
        row = _LOOKUP[raw]
        if (row == _INVALID).any():
            pos = int(np.flatnonzero(row == _INVALID)[0])
            raise ValueError(
                f"sequence {i} contains {s[pos]!r} at position {pos}, "
                f"which is not a DNA (IUPAC) code"
            )
        excess = row.size - length
        if excess > 0:
            start = excess // 2 if align == "center" else 0
            row = row[start : start + length]
        offset = (length - row.size) // 2 if align == "center" else 0
        codes[i, offset : offset + row.size] = row
    return codes


class SequenceOneHotEncoder(TransformerMixin, BaseEstimator):
    """Encode DNA strings as one-hot arrays of shape ``(n, 4, L)``.

    Channels are A, C, G, T (:data:`ALPHABET`). Input is case-insensitive. IUPAC
    ambiguity codes (N, R, Y, ...) become either their bases' uniform
    distribution (N -> 0.25 in each channel, R -> 0.5 in A and G) or all-zero
    rows, as ``unknown`` says; padding is always all-zero. Any other character
    raises a ``ValueError`` naming the sequence and position.

    Parameters
    ----------
    length : int or None, default=None
        Length ``L`` of the output. ``None`` learns it in :meth:`fit` as the
        longest training sequence; shorter sequences are padded and a longer
        one at transform time is an error (so that a sequence's encoding never
        depends on the other sequences in a call). An int pads shorter and
        crops longer sequences to exactly this length.
    align : {"center", "left"}, default="center"
        Where a padded or cropped sequence sits: centred (ChIP-seq peaks are
        centred on the summit) or starting at position 0.
    unknown : {"uniform", "zero"}, default="uniform"
        Encoding of ambiguity codes: uniform over the bases they stand for, or
        an all-zero row.
    dtype : {numpy.float32, numpy.float64, numpy.uint8}, default=numpy.float32
        Output dtype. ``numpy.uint8`` stores a quarter of the memory (for very
        large sets; :class:`DeepPruneClassifier` expands it per batch) and
        requires ``unknown="zero"``.

    Attributes
    ----------
    length_ : int
        The output length ``L``.
    n_features_in_ : int
        Always 1: the input is one column of sequences.

    See Also
    --------
    reverse_complement : Reverse complement strings or encoded arrays.
    DeepPruneClassifier : The classifier that consumes these arrays.

    Examples
    --------
    >>> from sklearn_deepprune import SequenceOneHotEncoder
    >>> X = SequenceOneHotEncoder().fit_transform(["ACGT", "acN"])
    >>> X.shape
    (2, 4, 4)
    >>> X[1].T.tolist()
    [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.0, 0.0]]
    """

    _parameter_constraints: dict = {
        "length": [Interval(Integral, 1, None, closed="left"), None],
        "align": [StrOptions({"center", "left"})],
        "unknown": [StrOptions({"uniform", "zero"})],
        "dtype": [type, np.dtype],
    }

    def __init__(self, length=None, align="center", unknown="uniform", dtype=np.float32):
        self.length = length
        self.align = align
        self.unknown = unknown
        self.dtype = dtype

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the output length from the training sequences.

        Parameters
        ----------
        X : list, array, pandas Series or one-column DataFrame of str
            DNA sequences (not a set, mapping or iterator: their order is
            arbitrary or they are used up).
        y : None
            Ignored.

        Returns
        -------
        self : SequenceOneHotEncoder
            The fitted encoder.
        """
        self._check_dtype()
        sequences = _as_sequence_list(X)
        if not sequences:
            raise ValueError("SequenceOneHotEncoder.fit got no sequences")
        self.length_ = self.length or max(len(s) for s in sequences)
        if self.length_ == 0:
            raise ValueError("all sequences are empty")
        self.n_features_in_ = 1
        return self

    def _check_dtype(self) -> None:
        """Raise a ValueError unless ``dtype`` is supported and fits ``unknown``."""
        dtype = np.dtype(self.dtype)
        if dtype not in (np.float32, np.float64, np.uint8):
            raise ValueError(f"dtype must be float32, float64 or uint8; got {dtype}")
        if dtype == np.uint8 and self.unknown != "zero":
            raise ValueError(
                'dtype=uint8 cannot hold fractions: use unknown="zero" '
                "(ambiguity codes such as N become all-zero columns)"
            )

    def transform(self, X):
        """Encode sequences.

        Parameters
        ----------
        X : list, array, pandas Series or one-column DataFrame of str
            DNA sequences (not a set, mapping or iterator: their order is
            arbitrary or they are used up).

        Returns
        -------
        ndarray of shape (n, 4, ``length_``)
            One-hot encoding, channels in ``ALPHABET`` order.
        """
        check_is_fitted(self)
        sequences = _as_sequence_list(X)
        if self.length is None:
            for i, s in enumerate(sequences):
                if len(s) > self.length_:
                    raise ValueError(
                        f"sequence {i} has length {len(s)}, longer than the {self.length_} bp "
                        "seen in fit; set length= to crop"
                    )
        codes = _sequence_codes(sequences, self.length_, self.align)
        table = _code_table(self.unknown).astype(self.dtype)
        return np.ascontiguousarray(table[codes].transpose(0, 2, 1))

    def get_feature_names_out(self, input_features=None):
        """Names of the output channels.

        Parameters
        ----------
        input_features : None
            Ignored; present for API compatibility.

        Returns
        -------
        ndarray of str
            ``["A", "C", "G", "T"]``: the channels of axis 1 of the output.
        """
        check_is_fitted(self)
        return np.asarray(list(ALPHABET), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
