"""Readers and splitters that the data loaders share: text files (plain or
gzipped) read line by line, shuffled negatives paired with their peaks, and
splits that keep a group (a peak and its shuffles) on one side."""

from __future__ import annotations

import gzip
import io
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from sklearn_deepprune.datasets._shuffle import dinucleotide_shuffle

_SHUFFLE_SUFFIX = "_shuf"


def _open_text(path: Path) -> io.TextIOBase:
    """Open plain or gzipped UTF-8 text (told apart by content); any line ends, no BOM."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    # utf-8-sig drops a byte-order mark; surrogateescape keeps a byte that is not
    # UTF-8 as a lone surrogate, so that it reaches the DNA check and is reported
    # with its line (see _shown) instead of as a UnicodeDecodeError.
    options = {"encoding": "utf-8-sig", "errors": "surrogateescape", "newline": None}
    if gzipped:
        return gzip.open(path, "rt", **options)
    return open(path, **options)


def _shown(character: str) -> str:
    """A character as a message shows it: a byte that was not UTF-8 as ``byte 0xE9``."""
    if "\udc80" <= character <= "\udcff":
        return f"byte 0x{ord(character) - 0xDC00:02X}"
    return f"character {character!r}"


def _id_text(text: str) -> str:
    """An id as read: UTF-8 where it is, else (a byte that is not UTF-8) read as latin-1."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("latin-1")
    return text


def _numbered_lines(path: Path, part: str | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, stripped line)`` for the non-blank lines.

    A truncated or corrupt gzip file raises a ValueError naming the file (and
    ``part``, the train or test part of a folder, when given).
    """
    with _open_text(path) as handle:
        lines = enumerate(handle, start=1)
        while True:
            try:
                number, line = next(lines)
            except StopIteration:
                return
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                what = f" ({part} part)" if part else ""
                raise ValueError(
                    f"{path}{what}: the gzip file is truncated or corrupt ({exc})"
                ) from exc
            text = line.strip()
            if text:
                yield number, text


def _warn_duplicates(part: Bunch, where: Path, stacklevel: int = 4, note: str = "") -> bool:
    """Warn, with counts, when sequences of ``part`` occur more than once; whether they do."""
    counts = np.unique(part.sequences, return_counts=True)[1]
    repeated = counts[counts > 1]
    if not repeated.size:
        return False
    both = np.intersect1d(part.sequences[part.target == 1], part.sequences[part.target == 0])
    conflict = f"; {both.size} of them with both labels" if both.size else ""
    extra = int((repeated - 1).sum())
    sequences = "1 sequence occurs" if repeated.size == 1 else f"{repeated.size} sequences occur"
    warnings.warn(
        f"{where}: {sequences} more than once ({extra} extra record{'s' * (extra > 1)})"
        f"{conflict}{note}",
        UserWarning,
        stacklevel=stacklevel,
    )
    return True


def _peak_ids(ids) -> np.ndarray:
    """Each record's peak id: its own, ``_shuf`` removed from a shuffled copy's."""
    return np.array([i.removesuffix(_SHUFFLE_SUFFIX) for i in np.asarray(ids).tolist()])


def _with_shuffled_negatives(part: Bunch, rng: np.random.RandomState) -> Bunch:
    """The positives of ``part``, each followed by one dinucleotide shuffle of it."""
    positives = part.target == 1
    sequences = part.sequences[positives]
    ids = part.ids[positives]
    shuffled = dinucleotide_shuffle(list(sequences), random_state=rng)
    n = len(sequences)
    # Interleaved (not appended) so that any contiguous slice stays balanced.
    all_sequences = np.empty(2 * n, dtype=sequences.dtype)
    all_sequences[0::2], all_sequences[1::2] = sequences, shuffled
    all_ids = np.empty(2 * n, dtype=f"U{max((len(i) for i in ids), default=0) + 5}")
    all_ids[0::2], all_ids[1::2] = ids, np.char.add(ids, _SHUFFLE_SUFFIX)
    return Bunch(sequences=all_sequences, target=np.tile([1, 0], n), ids=all_ids)


def check_both_labels(parts: dict[str, Bunch], source, where: dict | None = None) -> None:
    """Refuse, naming ``source``, a part (train or test) without both labels.

    A test part without negatives has no AUC (NaN), and a model trained on one
    label learns nothing: better a clear error before training.

    Parameters
    ----------
    parts : dict of str to Bunch
        Each part's name to a Bunch with ``target``.
    source : str or path-like
        What the message names (the file the labels come from).
    where : dict of str to str or None, default=None
        Each part's description for the message (e.g. its chromosomes).

    Raises
    ------
    ValueError
        If a part lacks positives or negatives, with the counts.
    """
    for name, part in parts.items():
        positives = int(np.sum(part.target))
        negatives = len(part.target) - positives
        if positives and negatives:
            continue
        counts = [
            f"{k} {what}s" if k else f"no {what}"
            for k, what in ((positives, "positive"), (negatives, "negative"))
        ]
        detail = f" ({where[name]})" if where and name in where else ""
        raise ValueError(
            f"{source}: the {name} part has {counts[0]} and {counts[1]}{detail}; each part "
            "needs both labels"
        )


def split_groups(
    groups: np.ndarray,
    target: np.ndarray,
    test_size: float,
    random_state: int | np.random.RandomState | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split records into train and test, keeping each group on one side.

    Groups (e.g. a peak and its shuffled copy) are split stratified by their
    highest label, so that pairs of a positive and its negative stay together
    and both parts get positives.

    Parameters
    ----------
    groups : ndarray of shape (n,)
        The group of each record.
    target : ndarray of shape (n,)
        Binary labels.
    test_size : float
        Fraction of the groups in the test part, in (0, 1).
    random_state : int, RandomState instance or None
        Seed of the split.

    Returns
    -------
    train, test : ndarray of int
        Sorted record indices.

    Raises
    ------
    ValueError
        If there are too few groups of a label to split, all records are one
        group, or a part would lack a label that the records have.
    """
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    if len(unique) == 1 and len(inverse) > 1:
        raise ValueError(
            f"cannot hold out a test part: all {len(inverse)} records are one group (their "
            f"ids, without {_SHUFFLE_SUFFIX}, are all {str(unique[0])!r}); the ids are not unique"
        )
    label = np.zeros(len(unique), dtype=int)
    np.maximum.at(label, inverse, np.asarray(target, dtype=int))
    stratify = label if np.unique(label).size > 1 and np.bincount(label).min() > 1 else None
    try:
        _, test_groups = train_test_split(
            np.arange(len(unique)),
            test_size=test_size,
            stratify=stratify,
            random_state=random_state,
        )
    except ValueError as exc:
        raise ValueError(
            f"cannot hold out a test part of {len(unique)} groups with test_size={test_size}: "
            f"{exc}"
        ) from None
    in_test = np.isin(inverse, test_groups)
    target = np.asarray(target)
    both = np.unique(target).size > 1
    for name, side in (("train", ~in_test), ("test", in_test)):
        if both and np.unique(target[side]).size < 2:
            n_groups = np.bincount(label, minlength=2)
            raise ValueError(
                f"cannot hold out a test part with test_size={test_size} that leaves both "
                f"parts both labels: the {name} part has only label {target[side][0]} "
                f"({n_groups[1]} groups with a positive, {n_groups[0]} without)"
            )
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)
