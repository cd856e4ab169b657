"""Readers for ChIP-seq binding data: the 690-set collection, DeepBind's sets, FASTA."""

from __future__ import annotations

import itertools
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, check_random_state

from sklearn_deepprune.datasets._io import (
    _id_text,
    _numbered_lines,
    _peak_ids,
    _shown,
    _warn_duplicates,
    _with_shuffled_negatives,
    check_both_labels,
    split_groups,
)

_NOT_DNA = re.compile(r"[^ACGTN]")
_DEEPBIND_HEADER = ["FoldID", "EventID", "seq", "Bound"]
_LABELS = {"0": 0, "1": 1}
_NEGATIVES_OPTIONS = (None, "shuffle", "replace")
# File names of the train and test parts in a data set folder, by format.
_PART_PATTERNS = {
    "train": ("train.data", "train.data.gz", "*_AC.seq", "*_AC.seq.gz"),
    "test": ("test.data", "test.data.gz", "*_B.seq", "*_B.seq.gz"),
}


def _check_dna(sequence: str, path: Path, number: int) -> str:
    sequence = sequence.upper()
    if not sequence:
        raise ValueError(f"{path}, line {number}: empty sequence")
    bad = _NOT_DNA.search(sequence)
    if bad:
        raise ValueError(
            f"{path}, line {number}: {_shown(bad.group())} at position "
            f"{bad.start() + 1} of the sequence is not one of A, C, G, T, N"
        )
    return sequence


def _check_label(label: str, path: Path, number: int) -> int:
    if label not in _LABELS:
        raise ValueError(f"{path}, line {number}: label {label!r} is not 0 or 1")
    return _LABELS[label]


def _binding_records(
    path: Path, part_name: str | None = None
) -> tuple[str, Iterator[tuple[int, str, str, int]]]:
    """The format of a 690 or DeepBind file and its ``(line, id, sequence, label)`` records.

    The records are read one at a time, as they are asked for.
    """
    lines = _numbered_lines(path, part_name)
    first = next(lines, None)
    if first is None:
        raise ValueError(f"{path}: empty file")
    number, text = first
    if text.split("\t") == _DEEPBIND_HEADER:
        return "deepbind", _deepbind_records(path, lines)
    if text.startswith(">") and len(text.split()) != 3:
        raise ValueError(f"{path}, line {number}: this looks like FASTA; use load_fasta")
    return "690", _690_records(path, itertools.chain([first], lines))


def _deepbind_records(path: Path, lines) -> Iterator[tuple[int, str, str, int]]:
    for number, text in lines:
        fields = text.split("\t")
        if len(fields) != 4:
            raise ValueError(
                f"{path}, line {number}: expected 4 tab-separated fields "
                f"(FoldID EventID seq Bound), got {len(fields)}"
            )
        sequence = _check_dna(fields[2].strip(), path, number)
        label = _check_label(fields[3].strip(), path, number)
        yield number, _id_text(fields[1].strip()), sequence, label


def _690_records(path: Path, lines) -> Iterator[tuple[int, str, str, int]]:
    for number, text in lines:
        fields = text.split()
        if len(fields) != 3:
            raise ValueError(
                f"{path}, line {number}: expected 3 fields "
                f"(LOCATION SEQUENCE LABEL), got {len(fields)}"
            )
        location = fields[0].removeprefix(">")
        if not location:
            raise ValueError(f"{path}, line {number}: empty LOCATION")
        sequence = _check_dna(fields[1], path, number)
        yield number, _id_text(location), sequence, _check_label(fields[2], path, number)


def iter_binding_file(path: str | os.PathLike) -> Iterator[tuple[str, str, int]]:
    """Yield ``(id, sequence, label)`` for each record of a 690 or DeepBind file.

    Reads as :func:`~sklearn_deepprune.datasets.load_chipseq` reads one file
    (either format, gzipped or not) without holding the file in memory; the
    lengths of the sequences are not compared.

    Parameters
    ----------
    path : str or path-like
        The file.

    Yields
    ------
    id : str
        The record's LOCATION (690) or EventID (DeepBind).
    sequence : str
        Upper case.
    label : int
        0 or 1.

    Raises
    ------
    ValueError
        As :func:`~sklearn_deepprune.datasets.load_chipseq`, naming file and line.
    """
    _, records = _binding_records(Path(path))
    for _, record_id, sequence, label in records:
        yield record_id, sequence, label


def _read_binding_file(path: Path, part_name: str | None = None) -> tuple[Bunch, str]:
    """Read a 690-format or DeepBind-format file into a part; return it and the format."""
    file_format, records = _binding_records(path, part_name)
    rows = list(records)
    if not rows:
        raise ValueError(f"{path}: no records after the header")
    line_numbers, ids, sequences, labels = zip(*rows, strict=True)
    lengths = np.fromiter(map(len, sequences), dtype=int, count=len(sequences))
    if np.any(lengths != lengths[0]):
        record = int(np.flatnonzero(lengths != lengths[0])[0])
        raise ValueError(
            f"{path}, line {line_numbers[record]}: sequence length {lengths[record]} differs "
            f"from {lengths[0]} (line {line_numbers[0]}); all sequences of a ChIP-seq set "
            "must have the same length"
        )
    part = Bunch(
        sequences=np.array(sequences),
        target=np.array(labels, dtype=int),
        ids=np.array(ids),
    )
    _warn_duplicates(part, path)
    return part, file_format


def _warn_overlap(train: Bunch, test: Bunch, where: Path) -> None:
    """Warn, with counts, when test sequences also occur in the train part."""
    shared = np.isin(test.sequences, train.sequences)
    if shared.any():
        warnings.warn(
            f"{where}: {int(shared.sum())} of the {len(shared)} test records also occur in "
            "the train part; test scores on them are not held-out scores",
            UserWarning,
            stacklevel=3,
        )


def _shuffle_groups(ids: np.ndarray) -> np.ndarray | None:
    """:func:`_peak_ids` if some shuffled copy's peak is in ``ids`` too; else None."""
    stripped = _peak_ids(ids)
    shuffles = stripped != ids
    if not shuffles.any() or not np.isin(stripped[shuffles], ids[~shuffles]).any():
        return None
    return stripped


def _subset(part: Bunch, indices: np.ndarray) -> Bunch:
    return Bunch(**{key: values[indices] for key, values in part.items()})


def _apply_negatives(part: Bunch, negatives: str | None, rng: np.random.RandomState) -> Bunch:
    if negatives is None or (negatives == "shuffle" and np.any(part.target == 0)):
        return part
    return _with_shuffled_negatives(part, rng)


def _check_negatives(negatives: str | None) -> None:
    if negatives not in _NEGATIVES_OPTIONS:
        raise ValueError(f"negatives must be one of {_NEGATIVES_OPTIONS}, got {negatives!r}")


def _part_files(folder: Path, part: str) -> list[Path]:
    return sorted({path for pattern in _PART_PATTERNS[part] for path in folder.glob(pattern)})


def _is_data_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a train or a test file that :func:`load_chipseq` reads."""
    return any(_part_files(folder, part) for part in _PART_PATTERNS)


def _find_part_files(folder: Path) -> dict[str, Path]:
    files = {}
    for part in _PART_PATTERNS:
        matches = _part_files(folder, part)
        if len(matches) > 1:
            raise ValueError(
                f"{folder}: several {part} files ({', '.join(p.name for p in matches)})"
            )
        if matches:
            files[part] = matches[0]
    if not files:
        raise ValueError(
            f"{folder}: no train or test file (expected train.data[.gz]/test.data[.gz] "
            "or DeepBind's NAME_AC.seq.gz/NAME_B.seq.gz)"
        )
    return files


def load_chipseq(
    path: str | os.PathLike,
    *,
    negatives: str | None = None,
    test_size: float = 0.2,
    random_state: int | np.random.RandomState | None = 0,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, ...]:
    """Load a ChIP-seq binding data set: a folder with train/test files, or one file.

    Two formats are recognised from the content (gzipped or not, LF or CRLF):

    - the 690-set collection of Zeng et al. 2016: lines
      ``[>]LOCATION SEQUENCE LABEL``; ids are the locations (without ``>``);
    - DeepBind's sets: tab-separated with the header ``FoldID EventID seq
      Bound``; ids are the EventIDs. In a folder ``NAME_AC.seq.gz`` is the
      train part (peaks only) and ``NAME_B.seq.gz`` the test part.

    A folder with only one of its two files (e.g. ``test.data`` alone) is split
    into train and test, stratified by label and seeded by ``random_state``;
    where the file holds peaks and their shuffled copies (ids ``ID`` and
    ``ID_shuf``, as ``negatives="shuffle"`` names them), each pair stays on
    one side.

    Parameters
    ----------
    path : str or path-like
        A data set folder, or a single file.
    negatives : {None, "shuffle", "replace"}, default=None
        ``None`` keeps the records as they are. ``"shuffle"`` gives every part
        that has no negatives (such as DeepBind's ``_AC`` peaks) one
        dinucleotide-shuffled copy of each positive, labelled 0, with the
        positive's id plus ``"_shuf"``, placed right after it; parts that have
        negatives are kept. ``"replace"`` does this for every part, dropping
        the negatives of the file. Shuffles are made after any split, so a
        positive and its shuffle are always in the same part.
    test_size : float, default=0.2
        Fraction held out as test when a folder has only one file.
    random_state : int, RandomState instance or None, default=0
        Seed for the split and the shuffles.
    return_X_y : bool, default=False
        Return arrays instead of a Bunch: ``(X, y)`` for a file,
        ``(X_train, X_test, y_train, y_test)`` for a folder.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        For a file: ``sequences`` (ndarray of str), ``target`` (ndarray of int,
        1 = bound), ``ids`` (ndarray of str), ``format`` (``"690"`` or
        ``"deepbind"``) and ``file``. For a folder: ``train`` and ``test``
        (Bunches with ``sequences``, ``target`` and ``ids``), ``name`` (the
        folder name), ``format``, ``files`` (part to file path, ``None`` for a
        missing part) and ``split`` (the name of the part that was split, or
        ``None``).
    (X, y) or (X_train, X_test, y_train, y_test) : tuple of ndarray
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        On a malformed file (wrong field count, label other than 0/1, a
        character other than A, C, G, T, N, an empty file, sequences of
        different lengths), naming the file and line; on a truncated or
        corrupt gzip file, naming it; on a folder without recognisable files,
        with several candidates for one part, or whose only file has too few
        records of a label to split.

    Warns
    -----
    UserWarning
        When a file holds the same sequence more than once, or test sequences
        also occur in the train part; the message gives the counts.

    See Also
    --------
    load_fasta : Positives from a FASTA file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_deepprune.datasets import load_chipseq
    >>> path = os.path.join(tempfile.mkdtemp(), "train.data")
    >>> with open(path, "w") as f:
    ...     _ = f.write(">chr1:1-8 ACGTTGCA 1\\n>chr1:1-8_shuf ATGCACGA 0\\n")
    >>> data = load_chipseq(path)
    >>> data.ids.tolist(), data.target.tolist()
    (['chr1:1-8', 'chr1:1-8_shuf'], [1, 0])
    """
    _check_negatives(negatives)
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    rng = check_random_state(random_state)
    if path.is_file():
        part, file_format = _read_binding_file(path)
        part = _apply_negatives(part, negatives, rng)
        if return_X_y:
            return part.sequences, part.target
        return Bunch(**part, format=file_format, file=str(path))

    files = _find_part_files(path)
    parts = {}
    formats = set()
    for name, file in files.items():
        parts[name], file_format = _read_binding_file(file, name)
        formats.add(file_format)
    if len(formats) > 1:
        raise ValueError(f"{path}: train and test files are in different formats")
    split = None
    if len(parts) == 1:
        ((split, only),) = parts.items()
        groups = _shuffle_groups(only.ids)
        try:
            if groups is not None:
                # the file holds peaks and their shuffles: keep each pair on one side

                train_index, test_index = split_groups(groups, only.target, test_size, rng)
            else:
                train_index, test_index = train_test_split(
                    np.arange(len(only.target)),
                    test_size=test_size,
                    stratify=only.target,
                    random_state=rng,
                )
        except ValueError as exc:
            negative, positive = np.bincount(only.target, minlength=2)
            raise ValueError(
                f"{files[split]}: cannot split its {len(only.target)} records ({positive} "
                f"positive, {negative} negative) into "
                f"train and test parts stratified by label with test_size={test_size}: {exc}"
            ) from None
        parts = {
            "train": _subset(only, np.sort(train_index)),
            "test": _subset(only, np.sort(test_index)),
        }
    lengths = {name: len(part.sequences[0]) for name, part in parts.items()}
    if lengths["train"] != lengths["test"]:
        raise ValueError(
            f"{files['test']}: sequences of length {lengths['test']}, but the train part "
            f"({files['train']}) has length {lengths['train']}"
        )
    _warn_overlap(parts["train"], parts["test"], path)
    parts = {name: _apply_negatives(part, negatives, rng) for name, part in parts.items()}
    if negatives is not None:  # as for training: each part needs both labels
        check_both_labels(parts, path, {name: str(files[name]) for name in files})
    if return_X_y:
        train, test = parts["train"], parts["test"]
        return train.sequences, test.sequences, train.target, test.target
    return Bunch(
        train=parts["train"],
        test=parts["test"],
        name=path.name,
        format=formats.pop(),
        files={name: str(files[name]) if name in files else None for name in _PART_PATTERNS},
        split=split,
    )


def iter_fasta(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Yield ``(id, sequence)`` for each record of a FASTA file, one at a time.

    Reads as :func:`~sklearn_deepprune.datasets.load_fasta` does (gzipped or
    not, multi-line records, ``;`` comments, upper-cased, A, C, G, T, N only)
    without holding the file in memory.

    Parameters
    ----------
    path : str or path-like
        The FASTA file.

    Yields
    ------
    id : str
        The first word of the header.
    sequence : str
        The record's sequence.

    Raises
    ------
    ValueError
        As :func:`~sklearn_deepprune.datasets.load_fasta`, naming file and line.
    """
    path = Path(path)
    record_id = None
    header_line = 0
    chunks: list[str] = []
    for number, text in _numbered_lines(path):
        if text.startswith(";"):
            continue
        if text.startswith(">"):
            if record_id is not None:
                if not chunks:
                    raise ValueError(
                        f"{path}, line {header_line}: record {record_id!r} has no sequence"
                    )
                yield record_id, "".join(chunks)
                chunks = []
            words = text[1:].split()
            if not words:
                raise ValueError(f"{path}, line {number}: header without an id")
            record_id, header_line = _id_text(words[0]), number
        elif record_id is None:
            raise ValueError(f"{path}, line {number}: sequence before the first '>' header")
        else:
            chunks.append(_check_dna(text, path, number))
    if record_id is None:
        raise ValueError(f"{path}: empty file (no FASTA record)")
    if not chunks:
        raise ValueError(f"{path}, line {header_line}: record {record_id!r} has no sequence")
    yield record_id, "".join(chunks)


def _unique_ids(ids: np.ndarray, path: Path) -> np.ndarray:
    """``ids``, those that occur more than once numbered by record order (``ID#N``), warned."""
    unique, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    shared = counts[inverse] > 1
    if not shared.any():
        return ids
    n_ids = int((counts > 1).sum())
    example = str(unique[counts > 1][0])
    warnings.warn(
        f"{path}: the ids are not unique ({int(shared.sum())} records share {n_ids} id"
        f"{'s' * (n_ids > 1)}, e.g. {example!r}); those records are told apart by record "
        f"order, as ID#N for the N-th record ({example}#1, ...)",
        UserWarning,
        stacklevel=3,
    )
    numbered = np.char.add(np.char.add(ids, "#"), (np.arange(len(ids)) + 1).astype(str))
    return np.where(shared, numbered, ids)


def load_fasta(
    path: str | os.PathLike,
    *,
    target: int = 1,
    negatives: str | None = None,
    random_state: int | np.random.RandomState | None = 0,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load the sequences of a FASTA file (e.g. peaks) as a labelled data set.

    Records start with a ``>id [description]`` header; sequences may span
    several lines and may differ in length. Lower case is turned to upper
    case; ``;`` comment lines are skipped. The file may be gzipped.

    Parameters
    ----------
    path : str or path-like
        The FASTA file.
    target : {0, 1}, default=1
        The label of every record.
    negatives : {None, "shuffle"}, default=None
        ``"shuffle"`` follows every record with one dinucleotide shuffle of
        it, labelled 0, with the id plus ``"_shuf"`` (needs ``target=1``).
    random_state : int, RandomState instance or None, default=0
        Seed for the shuffles.
    return_X_y : bool, default=False
        Return ``(sequences, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``sequences`` (ndarray of str), ``target`` (ndarray of int), ``ids``
        (ndarray of str: the first word of each header) and ``file``.
    (sequences, target) : tuple of ndarray
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        On an empty file, sequence text before the first header, a header
        without sequence or id, or a character other than A, C, G, T, N; the
        message names the file and line. On a truncated or corrupt gzip file.

    Warns
    -----
    UserWarning
        When the file holds the same sequence more than once, with the counts;
        when ids occur more than once (``bedtools getfasta -name`` writes ``.``
        for every unnamed peak): those become ``ID#N``, N the record's number.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_deepprune.datasets import load_fasta
    >>> path = os.path.join(tempfile.mkdtemp(), "peaks.fa")
    >>> with open(path, "w") as f:
    ...     _ = f.write(">peak1 chr1\\nACGTAC\\ngtac\\n>peak2\\nTTGCA\\n")
    >>> data = load_fasta(path)
    >>> data.ids.tolist(), data.sequences.tolist()
    (['peak1', 'peak2'], ['ACGTACGTAC', 'TTGCA'])
    """
    if negatives not in (None, "shuffle"):
        raise ValueError(f"negatives must be None or 'shuffle', got {negatives!r}")
    if target not in (0, 1):
        raise ValueError(f"target must be 0 or 1, got {target!r}")
    if negatives == "shuffle" and target != 1:
        raise ValueError("negatives='shuffle' needs positive records (target=1)")
    path = Path(path)
    ids, sequences = [], []
    for record_id, sequence in iter_fasta(path):
        ids.append(record_id)
        sequences.append(sequence)
    part = Bunch(
        sequences=np.array(sequences),
        target=np.full(len(sequences), target, dtype=int),
        ids=_unique_ids(np.array(ids), path),
    )
    _warn_duplicates(part, path, stacklevel=3)
    if negatives == "shuffle":
        part = _with_shuffled_negatives(part, check_random_state(random_state))
    if return_X_y:
        return part.sequences, part.target
    return Bunch(**part, file=str(path))
