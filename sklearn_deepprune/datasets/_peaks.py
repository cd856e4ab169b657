"""Peaks on a reference genome: BED/narrowPeak intervals to labelled windows of DNA."""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils import Bunch, check_random_state

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.datasets._genome import open_genome
from sklearn_deepprune.datasets._io import (
    _numbered_lines,
    _open_text,
    _with_shuffled_negatives,
    check_both_labels,
    split_groups,
)
from sklearn_deepprune.encoding import ALPHABET

if TYPE_CHECKING:
    import pandas as pd

_NEGATIVE_KINDS = ("shuffle", "flank", "background")
_HEADER_PREFIXES = ("#", "track", "browser")
_NARROWPEAK_FIELDS = 10
# A genomic negative with more N than this fraction is not used.
_MAX_N_FRACTION = 0.1
# A window of a peak file (or negatives file) with more N than this is skipped.
_MAX_N_PEAK = 0.5
# GC content bins of the "background" negatives.
_GC_BINS = np.linspace(0.0, 1.0, 21)
# Flank negatives: a window this many window widths (and more) from its peak's end.
_FLANK_SHIFTS = (1, 2, 3, 4, 5)
_BACKGROUND_ROUNDS = 30
# Anything but A, C, G, T (IUPAC codes in a reference genome) is read as N.
_TO_N = str.maketrans({chr(c): "N" for c in range(256) if chr(c) not in "ACGT"})
_PART_KEYS = ("sequences", "target", "ids", "chrom", "start", "end")
_ALPHABET_BYTES = ALPHABET.encode()


# -- the genome ----------------------------------------------------------------


def _chrom_sizes(fasta: Any) -> dict[str, int]:
    return {name: len(record) for name, record in fasta.records.items()}


def _fetch(fasta: Any, chrom: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The sequences of windows (0-based, half-open), upper case, other letters as N."""
    sequences = [
        fasta.get_seq(c, int(s) + 1, int(e)).translate(_TO_N)
        for c, s, e in zip(chrom, start, end, strict=True)
    ]
    return np.array(sequences, dtype=f"U{max(end - start, default=1)}")


# -- intervals -----------------------------------------------------------------


def read_intervals(path: str | os.PathLike) -> pd.DataFrame:
    """Read a BED3/BED6/narrowPeak file (optionally gzipped) into a table.

    ``track``, ``browser`` and ``#`` lines and blank lines are skipped. Fields
    are separated by tabs, as BED is (so that a name may hold spaces); a file
    whose first line has no tab is split on any whitespace.

    Parameters
    ----------
    path : str or path-like
        The interval file.

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom`` (str), ``start``, ``end`` (int, 0-based half-open as
        in BED), ``name`` (str, ``"."`` when absent), ``summit`` (int, the
        summit's offset from ``start`` for narrowPeak, -1 when absent) and
        ``line`` (the line number in the file).

    Raises
    ------
    ValueError
        Naming the file and line: an empty file, fewer than 3 fields or a
        field count that differs from the first line's, a start or end that is
        not an integer (or too large for a position), a negative start,
        start > end, a summit outside its peak.
    """
    pd = import_optional("pandas", "genome", "read_intervals")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such interval file: {path}")
    skip: list[int] = []
    numbers: list[int] = []
    n_fields = None
    expected = 0
    last = 0
    for number, text in _numbered_lines(path):
        skip.extend(range(last, number - 1))  # blank lines (0-based indices)
        last = number
        if text.startswith(_HEADER_PREFIXES):
            skip.append(number - 1)
            continue
        if n_fields is None:
            separator = "\t" if "\t" in text else None
        fields = len(text.split(separator))
        if n_fields is None:
            n_fields, expected = fields, number
            if fields < 3:
                raise ValueError(
                    f"{path}, line {number}: {fields} field(s); a BED line needs at least "
                    "3 (chrom, start, end)"
                )
        elif fields != n_fields:
            raise ValueError(
                f"{path}, line {number}: {fields} fields, but line {expected} has {n_fields}"
            )
        numbers.append(number)
    if not numbers:
        raise ValueError(f"{path}: empty file (no interval)")
    with _open_text(path) as handle, warnings.catch_warnings():
        # A trailing tab is an empty last field (not counted above): dropped.
        warnings.filterwarnings("ignore", category=pd.errors.ParserWarning)
        table = pd.read_csv(
            handle,
            sep=r"\s+" if separator is None else "\t",
            header=None,
            index_col=False,
            quoting=csv.QUOTE_NONE,
            names=range(n_fields),
            skiprows=skip,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
        )
    lines = np.array(numbers)

    def integers(column: int, what: str) -> np.ndarray:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna().to_numpy() | (values.to_numpy() % 1 != 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{path}, line {lines[i]}: {what} {table[column].iat[i]!r} is not an integer"
            )
        huge = np.abs(values.to_numpy()) >= 2**62
        if huge.any():
            i = int(np.flatnonzero(huge)[0])
            raise ValueError(
                f"{path}, line {lines[i]}: {what} {table[column].iat[i]} is too large for a "
                "position on a chromosome"
            )
        return values.to_numpy().astype(np.int64)

    start, end = integers(1, "start"), integers(2, "end")
    _first_error(path, lines, start < 0, lambda i: f"start {start[i]} is negative")
    _first_error(path, lines, start > end, lambda i: f"start {start[i]} > end {end[i]}")
    summit = np.full(len(start), -1, dtype=np.int64)
    if n_fields == _NARROWPEAK_FIELDS:
        summit = integers(9, "summit offset (column 10)")
        _first_error(
            path,
            lines,
            (summit < -1) | (summit >= np.maximum(end - start, 1)),
            lambda i: (
                f"summit offset {summit[i]} (column 10) is outside its peak "
                f"{start[i]}-{end[i]} (0 to {max(end[i] - start[i] - 1, 0)}, or -1 for none)"
            ),
        )
    return pd.DataFrame(
        {
            "chrom": table[0].to_numpy(dtype=str),
            "start": start,
            "end": end,
            "name": table[3].to_numpy(dtype=str) if n_fields > 3 else ".",
            "summit": summit,
            "line": lines,
        }
    )


def _first_error(path: Path, lines: np.ndarray, bad: np.ndarray, message) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}, line {lines[i]}: {message(i)}")


def _check_on_genome(intervals: pd.DataFrame, sizes: dict[str, int], path: Path, genome) -> None:
    """Every interval on a chromosome of the genome and inside it, or a ValueError."""
    known = intervals["chrom"].isin(list(sizes)).to_numpy()
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        chrom = intervals["chrom"].iat[i]
        examples = ", ".join(list(sizes)[:3])
        raise ValueError(
            f"{path}, line {intervals['line'].iat[i]}: chromosome {chrom!r} is not in the "
            f"genome {genome} (its chromosomes are named like {examples})"
        )
    length = intervals["chrom"].map(sizes).to_numpy()
    end = intervals["end"].to_numpy()
    _first_error(
        path,
        intervals["line"].to_numpy(),
        end > length,
        lambda i: (
            f"end {end[i]} is past the end of {intervals['chrom'].iat[i]} "
            f"(length {length[i]} in {genome})"
        ),
    )


def _windows(intervals: pd.DataFrame, width: int, sizes: dict[str, int], path: Path) -> Bunch:
    """Windows of ``width`` centred on summits (or middles); those off a chromosome dropped."""
    start = intervals["start"].to_numpy()
    summit = intervals["summit"].to_numpy()
    centre = np.where(summit >= 0, start + summit, (start + intervals["end"].to_numpy()) // 2)
    w_start = centre - width // 2
    w_end = w_start + width
    chrom = intervals["chrom"].to_numpy(dtype=str)
    inside = (w_start >= 0) & (w_end <= intervals["chrom"].map(sizes).to_numpy())
    if not inside.all():
        warnings.warn(
            f"{path}: {int((~inside).sum())} of {len(inside)} windows of {width} bp fall off a "
            "chromosome end and were dropped",
            UserWarning,
            stacklevel=3,
        )
    if not inside.any():
        raise ValueError(f"{path}: every window of {width} bp falls off a chromosome end")
    names = intervals["name"].to_numpy(dtype=str)[inside]
    chrom, w_start, w_end = chrom[inside], w_start[inside], w_end[inside]
    coordinates = np.char.add(np.char.add(np.char.add(chrom, ":"), w_start.astype(str)), "-")
    coordinates = np.char.add(coordinates, w_end.astype(str))
    ids = np.where(names == ".", coordinates, names)
    return Bunch(ids=ids, chrom=chrom, start=w_start, end=w_end, intervals=intervals[inside])


def _read_windows(path, width: int, fasta: Any, sizes: dict[str, int], genome: Path) -> Bunch:
    path = Path(path)
    intervals = read_intervals(path)
    _check_on_genome(intervals, sizes, path, genome)
    windows = _windows(intervals, width, sizes, path)
    windows.sequences = _fetch(fasta, windows.chrom, windows.start, windows.end)
    return windows


# -- negatives -----------------------------------------------------------------


def _frame(chrom, start, end) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"chrom": chrom, "start": start, "end": end})


def _free(candidates: pd.DataFrame, occupied: pd.DataFrame) -> np.ndarray:
    """Which candidate windows overlap no occupied interval (bioframe)."""
    bioframe = import_optional("bioframe", "genome", "genomic negatives")
    with warnings.catch_warnings():
        # bioframe's own use of pandas APIs that newer pandas deprecates is not the user's.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="bioframe")
        counts = bioframe.count_overlaps(candidates.reset_index(drop=True), occupied)
    return counts["count"].to_numpy() == 0


def _n_fraction(sequences: np.ndarray) -> np.ndarray:
    return np.array([s.count("N") / max(len(s), 1) for s in sequences])


def _gc_fraction(sequences: np.ndarray) -> np.ndarray:
    gc = np.array([s.count("G") + s.count("C") for s in sequences], dtype=float)
    acgt = np.array([len(s) - s.count("N") for s in sequences], dtype=float)
    return gc / np.maximum(acgt, 1)


def _gc_bin(sequences: np.ndarray) -> np.ndarray:
    """The GC-content bin (of ``_GC_BINS``) of each sequence."""
    bins = np.digitize(_gc_fraction(sequences), _GC_BINS) - 1
    return np.clip(bins, 0, len(_GC_BINS) - 2)


def _occupied(positives: Bunch) -> pd.DataFrame:
    """The peaks and their windows: where genomic negatives must not be."""
    import pandas as pd

    peaks = positives.intervals[["chrom", "start", "end"]]
    windows = _frame(positives.chrom, positives.start, positives.end)
    return pd.concat([peaks, windows], ignore_index=True)


def _negative_part(chrom, start, end, sequences, prefix: str) -> Bunch:
    ids = np.char.add(
        np.char.add(np.char.add(np.char.add(prefix, chrom.astype(str)), ":"), start.astype(str)),
        np.char.add("-", end.astype(str)),
    )
    return Bunch(sequences=sequences, ids=ids, chrom=chrom, start=start, end=end)


def _flank_negatives(
    positives: Bunch, fasta: Any, sizes: dict[str, int], rng: np.random.RandomState
) -> Bunch:
    """One window per peak at a distance from it, overlapping no peak, with few N."""
    width = int(positives.end[0] - positives.start[0])
    peaks = positives.intervals  # row i: the peak of window i
    n = len(positives.chrom)
    left_end = np.minimum(peaks["start"].to_numpy(), positives.start)
    right_start = np.maximum(peaks["end"].to_numpy(), positives.end)
    side_first = rng.randint(2, size=n)
    options = []
    for shift in _FLANK_SHIFTS:
        gap = shift * width
        for side in (0, 1):
            use_left = (side_first == 0) == (side == 0)
            start = np.where(use_left, left_end - gap - width, right_start + gap)
            options.append(start)
    occupied = _occupied(positives)
    length = np.array([sizes[c] for c in positives.chrom])
    chosen = np.full(n, -1, dtype=np.int64)
    for start in options:
        todo = np.flatnonzero(chosen < 0)
        if not len(todo):
            break
        s = start[todo]
        ok = (s >= 0) & (s + width <= length[todo])
        todo, s = todo[ok], s[ok]
        free = _free(_frame(positives.chrom[todo], s, s + width), occupied)
        todo, s = todo[free], s[free]
        sequences = _fetch(fasta, positives.chrom[todo], s, s + width)
        good = _n_fraction(sequences) <= _MAX_N_FRACTION
        chosen[todo[good]] = s[good]
    found = chosen >= 0
    if not found.any():
        raise ValueError(
            f"no flank negative window: none of the {n} peaks has a window free of peaks and "
            "N near it (do the peaks cover the genome?); use negatives='shuffle' or a BED file"
        )
    if not found.all():
        warnings.warn(
            f"no flank window free of peaks and N for {int((~found).sum())} of {n} peaks; "
            "they have no flank negative",
            UserWarning,
            stacklevel=3,
        )
    chrom, start = positives.chrom[found], chosen[found]
    # Neighbouring peaks can pick the same window: keep it once.
    _, first = np.unique(
        np.char.add(np.char.add(chrom, ":"), start.astype(str)), return_index=True
    )
    first = np.sort(first)
    chrom, start = chrom[first], start[first]
    sequences = _fetch(fasta, chrom, start, start + width)
    return _negative_part(chrom, start, start + width, sequences, "flank_")


def _background_negatives(
    positives: Bunch, fasta: Any, sizes: dict[str, int], rng: np.random.RandomState
) -> Bunch:
    """Random windows with the positives' GC content, away from peaks, with few N."""
    width = int(positives.end[0] - positives.start[0])
    names = np.array(list(sizes))
    room = np.array([max(sizes[c] - width + 1, 0) for c in names], dtype=float)
    if room.sum() == 0:
        raise ValueError(f"no chromosome of the genome is {width} bp long")
    need = np.bincount(_gc_bin(positives.sequences), minlength=len(_GC_BINS) - 1)
    occupied = _occupied(positives)
    taken: list[Bunch] = []
    spare: list[Bunch] = []
    for _ in range(_BACKGROUND_ROUNDS):
        remaining = int(need.sum())
        if not remaining:
            break
        n = max(10 * remaining, 1000)
        index = rng.choice(len(names), size=n, p=room / room.sum())
        chrom = names[index]
        start = (rng.random_sample(n) * room[index]).astype(np.int64)
        free = _free(_frame(chrom, start, start + width), occupied)
        chrom, start = chrom[free], start[free]
        sequences = _fetch(fasta, chrom, start, start + width)
        good = _n_fraction(sequences) <= _MAX_N_FRACTION
        chrom, start, sequences = chrom[good], start[good], sequences[good]
        bins = _gc_bin(sequences)
        keep = np.zeros(len(bins), dtype=bool)
        for b in np.flatnonzero(need):
            where = np.flatnonzero(bins == b)[: need[b]]
            keep[where] = True
            need[b] -= len(where)
        taken.append(Bunch(chrom=chrom[keep], start=start[keep], sequences=sequences[keep]))
        spare.append(Bunch(chrom=chrom[~keep], start=start[~keep], sequences=sequences[~keep]))
    chrom = np.concatenate([part.chrom for part in taken])
    start = np.concatenate([part.start for part in taken])
    sequences = np.concatenate([part.sequences for part in taken])
    n_spare = sum(len(part.chrom) for part in spare)
    if not len(chrom) and not n_spare:
        raise ValueError(
            f"no background negative window: none of {_BACKGROUND_ROUNDS} rounds of random "
            "windows found one free of peaks and N (do the peaks cover the genome?); use "
            "negatives='shuffle' or a BED file"
        )
    if need.sum():
        # Rare GC contents: the spare windows closest in GC stand in.
        spare_chrom = np.concatenate([part.chrom for part in spare])
        spare_start = np.concatenate([part.start for part in spare])
        spare_sequences = np.concatenate([part.sequences for part in spare])
        spare_gc = _gc_fraction(spare_sequences)
        available = np.ones(len(spare_gc), dtype=bool)
        picks = []
        for target in np.repeat((_GC_BINS[:-1] + _GC_BINS[1:]) / 2, need):
            if not available.any():
                break
            i = np.flatnonzero(available)[np.argmin(np.abs(spare_gc[available] - target))]
            available[i] = False
            picks.append(i)
        missing = int(need.sum()) - len(picks)
        warnings.warn(
            f"the genome has too few windows with the GC content of {int(need.sum())} "
            f"positives; the closest in GC content stand in for {len(picks)}"
            + (f", and {missing} have no background negative" if missing else ""),
            UserWarning,
            stacklevel=3,
        )
        chrom = np.concatenate([chrom, spare_chrom[picks]])
        start = np.concatenate([start, spare_start[picks]])
        sequences = np.concatenate([sequences, spare_sequences[picks]])
    return _negative_part(chrom, start, start + width, sequences, "background_")


# -- splits ----------------------------------------------------------------------


def _take(part: Bunch, index: np.ndarray) -> Bunch:
    return Bunch(**{key: np.asarray(part[key])[index] for key in _PART_KEYS if key in part})


def _concat(*parts: Bunch) -> Bunch:
    return Bunch(**{key: np.concatenate([part[key] for part in parts]) for key in _PART_KEYS})


def _same_window(part: Bunch) -> np.ndarray:
    """Each window's group: windows at one place (of duplicate peaks) share one."""
    keys = np.char.add(np.char.add(part.chrom.astype(str), ":"), part.start.astype(str))
    return np.unique(keys, return_inverse=True)[1]


def _warn_duplicate_windows(part: Bunch, path) -> None:
    counts = np.bincount(_same_window(part))
    repeated = counts[counts > 1]
    if repeated.size:
        warnings.warn(
            f"{path}: {repeated.size} windows occur more than once ({int((repeated - 1).sum())} "
            "extra, of duplicate peaks); the copies are kept on one side of the split",
            UserWarning,
            stacklevel=3,
        )


def _without_n(windows: Bunch, path, what: str) -> Bunch:
    """``windows`` but those more than ``_MAX_N_PEAK`` N (gaps), counted in a warning."""
    n_rich = _n_fraction(windows.sequences) > _MAX_N_PEAK
    if not n_rich.any():
        return windows
    if n_rich.all():
        raise ValueError(f"{path}: every {what} window is more than {_MAX_N_PEAK:.0%} N")
    warnings.warn(
        f"{path}: {int(n_rich.sum())} of {len(n_rich)} {what} windows are more than "
        f"{_MAX_N_PEAK:.0%} N (gaps in the genome) and were skipped",
        UserWarning,
        stacklevel=3,
    )
    keep = np.flatnonzero(~n_rich)
    return Bunch(**_take(windows, keep), intervals=windows.intervals.iloc[keep])


def _check_apart(negatives: Bunch, positives: Bunch, path, peaks) -> None:
    """Refuse negative windows that all overlap the peaks; warn, with counts, if some do."""
    frame = _frame(negatives.chrom, negatives.start, negatives.end)
    overlap = ~_free(frame, _occupied(positives))
    n = len(overlap)
    if overlap.all():
        raise ValueError(
            f"every one of the {n} negative windows of {path} overlaps a peak of {peaks} (is "
            "it the peak file?); negatives must lie away from the peaks"
        )
    if overlap.any():
        warnings.warn(
            f"{int(overlap.sum())} of the {n} negative windows of {path} overlap a peak of "
            f"{peaks}; they are kept, labelled 0",
            UserWarning,
            stacklevel=3,
        )


def _part_summary(part: Bunch) -> str:
    positives = int(part.target.sum())
    return f"{positives} positives, {len(part.target) - positives} negatives"


def load_peaks(
    peaks: str | os.PathLike,
    genome: str | os.PathLike,
    *,
    width: int = 101,
    negatives: str | os.PathLike = "shuffle",
    test_chromosomes: Sequence[str] | None = None,
    test_size: float = 0.2,
    random_state: int | np.random.RandomState | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, ...]:
    """Load ChIP-seq peaks (BED or narrowPeak) on a genome as a labelled data set.

    Each peak becomes one window of ``width`` bp of the genome, centred on its
    summit (narrowPeak column 10) or, for BED, on its middle; the windows are
    the positives. Windows that fall off a chromosome end are dropped with a
    warning that counts them.

    Parameters
    ----------
    peaks : str or path-like
        A BED3, BED6 or narrowPeak file (e.g. ENCODE's IDR thresholded peaks),
        optionally gzipped, with or without ``track``, ``browser`` and ``#``
        lines. Coordinates are 0-based and half-open, as in every BED file.
    genome : str or path-like
        The reference genome as FASTA, plain or bgzip-compressed; indexed with
        pyfaidx on first use (``.fai`` beside it). Lower case (soft-masked)
        bases are read as upper case; IUPAC codes other than A, C, G, T as N.
    width : int, default=101
        Window length in bp (101 in the paper's data).
    negatives : {"shuffle", "flank", "background"} or path, default="shuffle"
        ``"shuffle"``: one dinucleotide-shuffled copy of each positive, placed
        right after it with its id plus ``"_shuf"`` and its coordinates (the
        paper's choice). ``"flank"``: for each peak one window at a distance
        from it (one window width beyond the peak's end, or further, on a
        random side) that overlaps no peak and is at most 10% N.
        ``"background"``: random windows of the genome with the same
        distribution of GC content as the positives (in 5% bins), overlapping
        no peak and at most 10% N, as many as positives. A path: the windows
        of a second BED/narrowPeak file, centred as the positives.
    test_chromosomes : sequence of str or None, default=None
        Chromosomes held out as the test part (e.g. ``("chr8", "chr9")``), the
        usual split in genomics: overlapping windows never land on both sides.
        ``None``: a random split, ``test_size`` of the peaks to the test part,
        a positive and its shuffle always on the same side.
    test_size : float, default=0.2
        Fraction held out when ``test_chromosomes`` is None.
    random_state : int, RandomState instance or None, default=None
        Seed of the split, the shuffles and the random negatives.
    return_X_y : bool, default=False
        Return ``(X_train, X_test, y_train, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``train`` and ``test``: Bunches with ``sequences`` (ndarray of str),
        ``target`` (1 = peak), ``ids`` (the peak's name, or ``chrom:start-end``
        of its window; negatives' ids start with ``flank_`` or ``background_``
        or end with ``_shuf``), and ``chrom``, ``start``, ``end`` (the window of
        every sequence, 0-based half-open). Also ``name`` (the peak file's
        name), ``files`` (``peaks``, ``genome``, and ``negatives`` or None),
        ``width``, ``negatives``, ``test_chromosomes`` and ``split``
        (``"chromosomes"`` or ``"random"``).
    (X_train, X_test, y_train, y_test) : tuple of ndarray
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        Naming file and line: an empty file, a chromosome missing from the
        genome, an interval past its chromosome's end, start > end, a summit
        outside its peak, a malformed line. Also for an invalid parameter, a
        test chromosome not in the genome, a negatives file whose windows all
        overlap the peaks (the peak file itself, say), no flank or background
        window to be found, or a split that leaves a part without both labels
        (a negatives file with nothing on the test chromosomes).
    ImportError
        If pyfaidx, pandas or bioframe (the ``genome`` extra) is missing.

    Warns
    -----
    UserWarning
        With counts: windows that fall off a chromosome end (dropped); windows
        of a peak or negatives file more than half N, genome gaps (skipped);
        duplicate peaks (kept, every copy of a window on one side of the
        split); negative windows that overlap a peak (kept).

    See Also
    --------
    load_chipseq : The benchmark collections, sequences already extracted.

    Examples
    --------
    >>> from sklearn_deepprune.datasets import load_peaks
    >>> data = load_peaks("peaks.narrowPeak", "hg38.fa",
    ...                   test_chromosomes=("chr8", "chr9"))  # doctest: +SKIP
    >>> data.train.sequences[0], data.train.chrom[0], data.train.start[0]  # doctest: +SKIP
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    negatives_file = None
    if isinstance(negatives, (str, os.PathLike)) and str(negatives) not in _NEGATIVE_KINDS:
        negatives_file = Path(negatives)
        if not negatives_file.is_file():
            raise ValueError(
                f"negatives must be one of {_NEGATIVE_KINDS} or a BED file; got "
                f"{str(negatives)!r}, which is neither"
            )
    elif not isinstance(negatives, str):
        raise TypeError(f"negatives must be a string or a path, got {type(negatives).__name__}")
    if isinstance(test_chromosomes, str):
        test_chromosomes = [test_chromosomes]
    for module in ("pandas", "bioframe"):
        import_optional(module, "genome", "load_peaks")
    rng = check_random_state(random_state)
    genome = Path(genome)
    fasta = open_genome(genome)
    sizes = _chrom_sizes(fasta)
    if test_chromosomes is not None:
        test_chromosomes = tuple(str(c) for c in test_chromosomes)
        missing = [c for c in test_chromosomes if c not in sizes]
        if missing or not test_chromosomes:
            raise ValueError(
                f"test chromosome(s) {', '.join(map(repr, missing))} not in the genome {genome}"
                if missing
                else "test_chromosomes is empty"
            )

    positives = _without_n(_read_windows(peaks, width, fasta, sizes, genome), peaks, "peak")
    positives.target = np.ones(len(positives.ids), dtype=int)
    _warn_duplicate_windows(positives, peaks)
    if negatives_file is not None:
        other = _read_windows(negatives_file, width, fasta, sizes, genome)
        other = _without_n(other, negatives_file, "negative")
        _check_apart(other, positives, negatives_file, peaks)
    elif negatives == "flank":
        other = _flank_negatives(positives, fasta, sizes, rng)
    elif negatives == "background":
        other = _background_negatives(positives, fasta, sizes, rng)
    else:
        other = None
    if other is not None:
        other.target = np.zeros(len(other.ids), dtype=int)

    if test_chromosomes is not None:
        split = "chromosomes"
        sides = {}
        for name, part in (("positives", positives), ("negatives", other)):
            if part is None:
                continue
            test = np.isin(part.chrom, test_chromosomes)
            sides[name] = (np.flatnonzero(~test), np.flatnonzero(test))
        n_test = len(sides["positives"][1])
        if n_test == 0 or n_test == len(positives.ids):
            raise ValueError(
                f"{peaks}: {'no' if n_test == 0 else 'every'} peak is on the test chromosomes "
                f"{', '.join(test_chromosomes)}; both parts need peaks"
            )
    else:
        split = "random"
        # Windows of one sequence (duplicate peaks) are one group: on one side.
        sides = {
            name: split_groups(_same_window(part), part.target, test_size, rng)
            for name, part in (("positives", positives), ("negatives", other))
            if part is not None
        }
    parts = {}
    for i, name in enumerate(("train", "test")):
        part = _take(positives, sides["positives"][i])
        if other is None:
            shuffled = _with_shuffled_negatives(part, rng)
            for key in ("chrom", "start", "end"):
                shuffled[key] = np.repeat(part[key], 2)
            part = shuffled
        else:
            part = _concat(part, _take(other, sides["negatives"][i]))
        parts[name] = part
    where = None
    if test_chromosomes is not None:
        on = ", ".join(test_chromosomes)
        where = {"train": f"the windows off {on}", "test": f"the windows on {on}"}
    check_both_labels(parts, negatives_file or peaks, where)
    if return_X_y:
        train, test = parts["train"], parts["test"]
        return train.sequences, test.sequences, train.target, test.target
    return Bunch(
        train=parts["train"],
        test=parts["test"],
        name=Path(peaks).name,
        files={
            "peaks": str(peaks),
            "genome": str(genome),
            "negatives": None if negatives_file is None else str(negatives_file),
        },
        width=width,
        negatives=str(negatives),
        test_chromosomes=test_chromosomes,
        split=split,
    )


# -- a synthetic genome ------------------------------------------------------------


def _write_fasta_record(handle, name: str, letters: np.ndarray, line_width: int = 60) -> None:
    """Write one record of ``letters`` (uint8 ASCII codes) in lines of ``line_width``."""
    handle.write(f">{name}\n".encode())
    full = len(letters) - len(letters) % line_width
    lines = letters[:full].reshape(-1, line_width)
    newline = np.full((len(lines), 1), ord("\n"), dtype=np.uint8)
    handle.write(np.hstack([lines, newline]).tobytes())
    if full < len(letters):
        handle.write(letters[full:].tobytes() + b"\n")


def make_genome_peaks(
    folder: str | os.PathLike,
    *,
    n_chromosomes: int = 4,
    chromosome_length: int = 100_000,
    n_peaks: int = 400,
    motif: Any = None,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    """Write a synthetic genome and a narrowPeak file of peaks with a planted motif.

    The genome is uniform random DNA; at every peak's summit one instance of
    ``motif`` (sampled from its PFM, forward strand) is planted, centred on
    the summit. Peaks extend 50 to 250 bp on either side of the summit, and
    summits are spread evenly over the chromosomes. For examples, tests and
    benchmarks of :func:`load_peaks`.

    Parameters
    ----------
    folder : str or path-like
        Where to write ``genome.fa`` (chromosomes ``chr1``, ``chr2``, ...)
        and ``peaks.narrowPeak`` (with a ``track`` line); created if needed.
    n_chromosomes : int, default=4
        Number of chromosomes.
    chromosome_length : int, default=100000
        Length of each chromosome in bp.
    n_peaks : int, default=400
        Total number of peaks, spread evenly over the chromosomes.
    motif : array-like of shape (w, 4) or None, default=None
        The PFM to plant (columns A, C, G, T); ``None``: CTCF (JASPAR
        MA0139.2, shipped with the package).
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        ``genome`` and ``peaks`` (the paths written), ``motif`` (the planted
        PFM) and ``chromosome_sizes`` (name to length).

    Raises
    ------
    ValueError
        If the chromosomes are too short for their peaks.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_deepprune.datasets import make_genome_peaks
    >>> files = make_genome_peaks(tempfile.mkdtemp(), n_peaks=8, chromosome_length=5000,
    ...                           random_state=0)
    >>> files.chromosome_sizes
    {'chr1': 5000, 'chr2': 5000, 'chr3': 5000, 'chr4': 5000}
    """
    from sklearn_deepprune.datasets._motifs import _check_pfm
    from sklearn_deepprune.datasets._simulate import _paper_motifs, _sample_codes

    rng = check_random_state(random_state)
    pfm = _paper_motifs(1, None)[2][0] if motif is None else _check_pfm(motif, "motif")
    width = len(pfm)
    if n_chromosomes < 1 or n_peaks < 1:
        raise ValueError("n_chromosomes and n_peaks must be positive")
    per_chromosome = np.bincount(np.arange(n_peaks) % n_chromosomes, minlength=n_chromosomes)
    margin = 250 + width
    step = (chromosome_length - 2 * margin) // max(int(per_chromosome[0]), 1)
    if step < width:
        raise ValueError(
            f"chromosomes of {chromosome_length} bp are too short for "
            f"{per_chromosome[0]} peaks each"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    letters = np.frombuffer(_ALPHABET_BYTES, dtype=np.uint8)
    sizes = {}
    rows = []
    with open(folder / "genome.fa", "wb") as genome:
        for c, n in enumerate(per_chromosome, start=1):
            name = f"chr{c}"
            codes = rng.randint(0, 4, size=chromosome_length).astype(np.uint8)
            summits = margin + step * np.arange(n) + rng.randint(0, step - width + 1, size=n)
            sites = summits[:, None] - width // 2 + np.arange(width)
            codes[sites] = _sample_codes(pfm, n, rng)
            _write_fasta_record(genome, name, letters[codes])
            sizes[name] = chromosome_length
            left, right = rng.randint(50, 251, size=n), rng.randint(50, 251, size=n)
            for i, (summit, before, after) in enumerate(zip(summits, left, right, strict=True)):
                rows.append(
                    f"{name}\t{summit - before}\t{summit + after}\t{name}_peak{i}\t1000\t.\t"
                    f"{rng.uniform(5, 50):.2f}\t-1\t-1\t{before}\n"
                )
    with open(folder / "peaks.narrowPeak", "w") as peaks:
        peaks.write('track type=narrowPeak name="synthetic peaks"\n')
        peaks.writelines(rows)
    return Bunch(
        genome=str(folder / "genome.fa"),
        peaks=str(folder / "peaks.narrowPeak"),
        motif=pfm,
        chromosome_sizes=sizes,
    )


# -- streaming input for prediction ----------------------------------------------


def iter_peak_windows(
    peaks: str | os.PathLike, genome: str | os.PathLike, width: int, batch_size: int = 10_000
) -> Iterator[Bunch]:
    """Yield the windows of a BED/narrowPeak file on a genome in batches.

    Windows are made as in :func:`load_peaks` (centred on summits or middles,
    those off a chromosome end dropped with a warning); only one batch of
    sequences is in memory at a time.

    Parameters
    ----------
    peaks : str or path-like
        The interval file.
    genome : str or path-like
        The genome FASTA (plain or bgzip).
    width : int
        Window length.
    batch_size : int, default=10000
        Windows per batch.

    Yields
    ------
    :class:`~sklearn.utils.Bunch`
        ``ids``, ``chrom``, ``start``, ``end`` and ``sequences`` of a batch.
    """
    genome = Path(genome)
    fasta = open_genome(genome)
    sizes = _chrom_sizes(fasta)
    path = Path(peaks)
    intervals = read_intervals(path)
    _check_on_genome(intervals, sizes, path, genome)
    windows = _windows(intervals, width, sizes, path)
    for first in range(0, len(windows.ids), batch_size):
        batch = Bunch(
            **{k: windows[k][first : first + batch_size] for k in ("ids", "chrom", "start", "end")}
        )
        batch.sequences = _fetch(fasta, batch.chrom, batch.start, batch.end)
        yield batch
