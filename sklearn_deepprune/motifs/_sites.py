"""Where the kernels fire: the scan shared by the motif readers, and :func:`find_sites`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.classifier import DeepPruneClassifier
from sklearn_deepprune.encoding import ALPHABET
from sklearn_deepprune.network import MotifScanNet, same_padding

if TYPE_CHECKING:
    import pandas as pd

#: How many windows per kernel and sequence count as sites (see extract_motifs).
_SITES = ("max", "all")

_SITE_COLUMNS = ["sequence", "kernel", "start", "end", "strand", "score", "bases"]
_STRAND_SIGNS = np.array(["+", "-"])
# Letters of the base codes of _base_codes: the four bases, N (not one-hot), and
# a marker for the 'same' padding outside the sequence.
_LETTERS = np.frombuffer((ALPHABET + "N ").encode(), dtype=np.uint8)
_UNKNOWN, _OUTSIDE = len(ALPHABET), len(ALPHABET) + 1


def _split_estimator(estimator: Any, purpose: str) -> tuple[DeepPruneClassifier, Pipeline | None]:
    """The classifier and the preprocessing steps in front of it (or None)."""
    preprocess = None
    classifier = estimator
    if isinstance(estimator, Pipeline):
        classifier = estimator.steps[-1][1]
        if len(estimator.steps) > 1:
            preprocess = estimator[:-1]
    if not isinstance(classifier, DeepPruneClassifier):
        raise TypeError(
            f"{purpose} needs a fitted DeepPruneClassifier or a Pipeline ending in one; "
            f"got {type(classifier).__name__}"
        )
    check_is_fitted(classifier)
    return classifier, preprocess


def _prepare(
    estimator: Any, X: Any, purpose: str
) -> tuple[DeepPruneClassifier, MotifScanNet, np.ndarray]:
    """The fitted classifier, its final network (in eval mode) and ``X`` as one-hot DNA."""
    classifier, preprocess = _split_estimator(estimator, purpose)
    if preprocess is not None:
        X = preprocess.transform(X)
    X = classifier._validate_X(X)
    if X.shape[1] != len(ALPHABET):
        raise ValueError(
            f"{purpose} needs one-hot DNA with {len(ALPHABET)} channels ({ALPHABET}); "
            f"the input has {X.shape[1]}"
        )
    module = classifier.net_.module_
    module.eval()
    return classifier, module, X


def _check_batch_size(batch_size: int) -> int:
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    return int(batch_size)


def _batches(n: int, batch_size: int) -> list[slice]:
    return [slice(i, i + batch_size) for i in range(0, n, batch_size)]


def _strand_activations(module: MotifScanNet, X: np.ndarray) -> np.ndarray:
    """``module.strand_activations`` of a batch, as an ``(n, S, K, L)`` array."""
    device = module.conv.weight.device
    with torch.no_grad():
        return module.strand_activations(torch.as_tensor(X).to(device)).cpu().numpy()


def _best_sites(
    module: MotifScanNet, X: np.ndarray, batches: list[slice]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each kernel's strongest window in each sequence, over positions and strands.

    Returns
    -------
    score, strand, position : ndarray of shape (n, K)
        The activation there, the strand (0 forward, 1 reverse; ties go to the
        forward strand, then to the first position) and the position.
    """
    n, n_kernels = len(X), module.n_kernels
    score = np.empty((n, n_kernels), dtype=np.float32)
    strand = np.empty((n, n_kernels), dtype=np.int64)
    position = np.empty((n, n_kernels), dtype=np.int64)
    for batch in batches:
        activation = _strand_activations(module, X[batch])
        size, n_strands, _, length = activation.shape
        flat = activation.transpose(0, 2, 1, 3).reshape(size, n_kernels, n_strands * length)
        best = flat.argmax(axis=2)
        score[batch] = np.take_along_axis(flat, best[:, :, np.newaxis], axis=2)[:, :, 0]
        strand[batch], position[batch] = np.divmod(best, length)
    return score, strand, position


def _window_columns(position: np.ndarray, width: int, length: int):
    """Columns ``(m, width)`` of the windows at ``position`` and which are inside the sequence."""
    columns = position[:, np.newaxis] - same_padding(width)[0] + np.arange(width)
    return columns, (columns >= 0) & (columns < length)


def _windows(
    X: np.ndarray,
    sequence: np.ndarray,
    position: np.ndarray,
    strand: np.ndarray | None,
    width: int,
) -> np.ndarray:
    """The one-hot windows ``(m, width, 4)`` at ``position``, as their kernel reads them.

    A window on the reverse strand (``strand == 1``) is reverse complemented, so
    that every window is in its kernel's forward orientation. Columns in the
    'same' padding are all zero.
    """
    length = X.shape[2]
    columns, inside = _window_columns(position, width, length)
    # Advanced indices around a slice put their dimensions first: (m, width, 4).
    windows = X[sequence[:, np.newaxis], :, np.clip(columns, 0, length - 1)]
    windows = windows * inside[:, :, np.newaxis]
    if strand is not None:
        reverse = strand == 1
        # With channels in A, C, G, T order, reversing them complements the bases.
        windows[reverse] = windows[reverse, ::-1, ::-1]
    return windows


def _base_codes(X: np.ndarray) -> np.ndarray:
    """Base code ``(n, L)`` per position: 0-3 for A, C, G, T, 4 for a non-one-hot column."""
    # Channel by channel: reductions over the middle axis of (n, 4, L) are slow.
    total = sum(X[:, channel].astype(np.float32) for channel in range(len(ALPHABET)))
    codes = np.full(total.shape, _UNKNOWN, dtype=np.uint8)
    for channel in range(len(ALPHABET)):
        codes[(X[:, channel] == 1) & (total == 1)] = channel
    return codes


def _site_bases(
    codes: np.ndarray, sequence: np.ndarray, position: np.ndarray, strand: np.ndarray, width: int
) -> list[str]:
    """The bases of each site's window inside the sequence, read on its strand."""
    length = codes.shape[1]
    columns, inside = _window_columns(position, width, length)
    window = np.where(
        inside, codes[sequence[:, np.newaxis], np.clip(columns, 0, length - 1)], _OUTSIDE
    )
    reverse = strand == 1
    flipped = window[reverse, ::-1]
    window[reverse] = np.where(flipped < _UNKNOWN, len(ALPHABET) - 1 - flipped, flipped)
    letters = np.ascontiguousarray(_LETTERS[window])
    bases = np.frombuffer(letters.tobytes(), dtype=f"S{width}").astype(f"U{width}").tolist()
    for i in np.flatnonzero(~inside.all(axis=1)):
        bases[i] = bases[i].strip()
    return bases


def find_sites(
    estimator: DeepPruneClassifier | Pipeline,
    X: Any,
    threshold: float = 0.5,
    *,
    relative: bool = True,
    sites: str = "max",
    ids: Sequence[Any] | None = None,
    batch_size: int = 4096,
) -> pd.DataFrame:
    """Where each kernel fires in each sequence: a table of sites.

    The sequences are scanned by the final network's kernels (on both
    strands with ``strand="both"``), and every window whose activation
    passes the threshold becomes a row: which sequence, which kernel, where,
    on which strand, how strongly, and the bases there.

    Parameters
    ----------
    estimator : DeepPruneClassifier or Pipeline
        A fitted classifier, or a fitted pipeline ending in one, in which
        case ``X`` goes through the earlier steps first.
    X : array-like of shape (n, 4, L), or list of str for a pipeline
        The sequences to scan: one-hot DNA for a classifier, the pipeline's
        input (DNA strings) for a pipeline.
    threshold : float, default=0.5
        With ``relative=True`` (as :func:`extract_motifs`), a window is a site
        of a kernel if its activation exceeds ``threshold`` times that
        kernel's maximum activation over all of ``X``; in ``[0, 1)``. So the
        sites depend on which sequences are scanned together: scan a test
        set, not one sequence (whose every kernel passes half its own best).
        With ``relative=False``, it is an activation value that a site must
        exceed, the same for every kernel and every call.
    relative : bool, default=True
        Whether ``threshold`` is a fraction of each kernel's maximum over
        ``X`` or an absolute activation.
    sites : {"max", "all"}, default="max"
        ``"max"``: at most one site per sequence and kernel, the window of the
        kernel's strongest response (the one that makes its score), kept if it
        passes the threshold. ``"all"``: every window above the threshold on
        either strand; the windows next to a strong site often pass too.
    ids : sequence or None, default=None
        One identifier per sequence (e.g. FASTA names), added as column
        ``id``.
    batch_size : int, default=4096
        Sequences scanned at once; the activations of a batch take
        ``batch_size * n_strands * n_kernels * L`` floats.

    Returns
    -------
    sites : pandas.DataFrame
        One row per site, sorted by sequence, kernel and start, with columns
        ``sequence`` (the index into ``X``), ``id`` (only with ``ids``),
        ``kernel``, ``start`` and ``end`` (0-based, end exclusive, in the
        coordinates of the one-hot arrays), ``strand`` (``"+"``, or ``"-"``
        when the kernel read the window's reverse complement), ``score`` (the
        activation) and ``bases`` (the window's bases as the kernel read them:
        reverse complemented on ``"-"``; ``N`` for a position that is not
        one-hot). A window is the kernel's width; one that overhangs an end
        of the sequence (the 'same' padding) is clipped to it, so ``start``,
        ``end`` and ``bases`` cover only its part inside the sequence.

    Raises
    ------
    TypeError
        If ``estimator`` is not a DeepPruneClassifier or a pipeline ending in
        one, or if DNA strings are passed to a bare classifier.
    sklearn.exceptions.NotFittedError
        If the classifier is not fitted.
    ValueError
        If ``X`` is not one-hot DNA of the fitted kind, ``ids`` has the wrong
        length, or a parameter is out of range.
    ImportError
        If pandas is missing.

    See Also
    --------
    extract_motifs : Stack the sites of each kernel into a PFM.
    plot_attribution : Draw a sequence's attribution with its sites.

    Notes
    -----
    With the default encoder and fixed-length sequences the positions are
    positions in the DNA strings; a :class:`~sklearn_deepprune.SequenceOneHotEncoder`
    that pads (or crops) sequences of other lengths shifts them by its
    padding (cropping).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
    >>> from sklearn_deepprune.motifs import find_sites
    >>> seqs = ["ACGTTGCAAC", "TTTTACGTAA", "GGGGCCCCAA", "ACACACACAC"] * 10
    >>> y = [1, 1, 0, 0] * 10
    >>> clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, kernel_size=4,
    ...                           max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(seqs, y)
    >>> list(find_sites(pipe, seqs).columns)
    ['sequence', 'kernel', 'start', 'end', 'strand', 'score', 'bases']
    """
    pd = import_optional("pandas", "motifs", "find_sites")
    if sites not in _SITES:
        raise ValueError(f"sites must be one of {_SITES}; got {sites!r}")
    if relative and not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1) with relative=True; got {threshold!r}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number; got {threshold!r}")
    batch_size = _check_batch_size(batch_size)
    _, module, X = _prepare(estimator, X, "find_sites")
    if ids is not None:
        ids = np.asarray(ids)
        if ids.shape != (len(X),):
            raise ValueError(
                f"ids must hold one identifier per sequence ({len(X)}); got shape {ids.shape}"
            )
    width = module.kernel_size
    batches = _batches(len(X), batch_size)

    if sites == "max":
        score, strand, position = _best_sites(module, X, batches)
        cutoff = threshold * score.max(axis=0) if relative else np.float32(threshold)
        sequence, kernel = np.nonzero(score > cutoff)
        score, strand, position = (a[sequence, kernel] for a in (score, strand, position))
    else:
        if relative:
            peak = np.full(module.n_kernels, -np.inf, dtype=np.float32)
            for batch in batches:
                activation = _strand_activations(module, X[batch])
                peak = np.maximum(peak, activation.max(axis=(0, 1, 3)))
            cutoff = threshold * peak
        else:
            cutoff = np.full(module.n_kernels, threshold, dtype=np.float32)
        found = []
        for batch in batches:
            activation = _strand_activations(module, X[batch])
            hit = activation > cutoff[np.newaxis, np.newaxis, :, np.newaxis]
            where = np.nonzero(hit)  # sequence, strand, kernel, position
            found.append((where[0] + batch.start, where[2], where[1], where[3], activation[hit]))
        sequence, kernel, strand, position, score = (
            np.concatenate(a) for a in zip(*found, strict=True)
        )

    order = np.lexsort((strand, position, kernel, sequence))
    sequence, kernel, strand, position, score = (
        a[order] for a in (sequence, kernel, strand, position, score)
    )
    start = position - same_padding(width)[0]
    table = {
        "sequence": sequence.astype(np.int64),
        "kernel": kernel.astype(np.int64),
        "start": np.maximum(start, 0),
        "end": np.minimum(start + width, X.shape[2]),
        "strand": _STRAND_SIGNS[strand],
        "score": score.astype(np.float64),
        "bases": _site_bases(_base_codes(X), sequence, position, strand, width),
    }
    columns = list(_SITE_COLUMNS)
    if ids is not None:
        table["id"] = ids[sequence]
        columns.insert(1, "id")
    return pd.DataFrame(table, columns=columns)
