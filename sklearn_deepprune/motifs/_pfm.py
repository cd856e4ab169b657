"""Motifs as position frequency matrices: read out of the kernels, trimmed, as MEME files."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from sklearn_deepprune.classifier import DeepPruneClassifier
from sklearn_deepprune.datasets._motifs import (
    _check_pfm,
    load_motifs,
    read_meme_pfms,
    write_meme_pfms,
)
from sklearn_deepprune.encoding import ALPHABET
from sklearn_deepprune.motifs._sites import (
    _SITES,
    _batches,
    _best_sites,
    _check_batch_size,
    _prepare,
    _strand_activations,
    _windows,
)


def _column_ic(pfm: np.ndarray) -> np.ndarray:
    """Information content of each row of a PFM, in bits, against a uniform background."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pfm > 0, pfm * np.log2(pfm * len(ALPHABET)), 0.0)
    return terms.sum(axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Motif:
    """A DNA motif as a position frequency matrix, with where it came from.

    Motifs read from a network by :func:`extract_motifs` carry their kernel's
    index, dense weight and number of sites; motifs read from a file have
    ``None`` there.

    Parameters
    ----------
    name : str
        Identifier, e.g. ``"kernel_3"`` or ``"MA0139.2 CTCF"`` (an id, then
        optionally a name after a space).
    pfm : array-like of shape (w, 4)
        Counts or probabilities of A, C, G, T per position; rows are
        normalised to sum to 1.
    kernel : int or None, default=None
        Index of the kernel in the classifier's final network.
    n_sites : int or None, default=None
        Number of sequence windows the PFM was counted from.
    dense_weight : float or None, default=None
        The kernel's dense-layer weight: positive for evidence of binding,
        negative against it, larger in magnitude for more influence.
    start : int, default=0
        Position of the PFM's first row within the kernel (non-zero after
        :func:`trim`).

    Attributes
    ----------
    width : int
        Number of positions ``w``.
    column_ic : ndarray of shape (w,)
        Information content of each position in bits (uniform background):
        ``2 + sum_b p_b log2 p_b``.
    information_content : float
        Sum of ``column_ic``: the motif's information content in bits.
    consensus : str
        The most frequent base at each position.

    See Also
    --------
    extract_motifs : Motifs of a fitted classifier's kernels.
    read_meme : Motifs from a MEME file.

    Examples
    --------
    >>> from sklearn_deepprune.motifs import Motif
    >>> motif = Motif("toy", [[1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0, 0, 0.5, 0.5]])
    >>> motif.column_ic.tolist()
    [2.0, 0.0, 1.0]
    >>> motif.consensus
    'AAG'
    """

    name: str
    pfm: np.ndarray
    kernel: int | None = None
    n_sites: int | None = None
    dense_weight: float | None = None
    start: int = 0

    def __post_init__(self):
        object.__setattr__(self, "pfm", _check_pfm(self.pfm, f"motif {self.name!r}"))

    @property
    def width(self) -> int:
        return len(self.pfm)

    @property
    def column_ic(self) -> np.ndarray:
        return _column_ic(self.pfm)

    @property
    def information_content(self) -> float:
        return float(self.column_ic.sum())

    @property
    def consensus(self) -> str:
        return "".join(ALPHABET[i] for i in self.pfm.argmax(axis=1))

    def __repr__(self) -> str:
        fields = [repr(self.name)]
        if self.kernel is not None:
            fields.append(f"kernel={self.kernel}")
        if self.dense_weight is not None:
            fields.append(f"dense_weight={self.dense_weight:+.3g}")
        if self.n_sites is not None:
            fields.append(f"n_sites={self.n_sites}")
        fields += [f"ic={self.information_content:.1f} bits", f"consensus={self.consensus!r}"]
        return f"Motif({', '.join(fields)})"


# -- reading motifs out of a network -------------------------------------------


def extract_motifs(
    estimator: DeepPruneClassifier | Pipeline,
    X: Any,
    threshold: float = 0.5,
    *,
    sites: str = "max",
    batch_size: int = 1024,
) -> list[Motif]:
    """Read a PFM out of each kernel of a fitted classifier.

    DeepBind's method (supplement, section 10.1): scan the sequences ``X``
    with the final network's kernels, keep the windows where a kernel's
    activation is above ``threshold`` times its maximum over all of ``X``,
    count the bases at each window position and normalise the counts to
    frequencies. Use held-out (test) sequences, as DeepBind does, so that the
    motifs are not memorised training sites.

    With ``strand="both"`` a kernel also reads the reverse strand; a site
    there contributes its window reverse complemented, the way the kernel
    read it, so that every PFM is in its kernel's forward orientation.

    Parameters
    ----------
    estimator : DeepPruneClassifier or Pipeline
        A fitted classifier, or a fitted pipeline ending in one (e.g.
        ``make_pipeline(SequenceOneHotEncoder(), DeepPruneClassifier())``),
        in which case ``X`` goes through the earlier steps first.
    X : array-like of shape (n, 4, L), or list of str for a pipeline
        The sequences to scan: one-hot DNA for a classifier, the pipeline's
        input (DNA strings) for a pipeline.
    threshold : float, default=0.5
        A window is a site of a kernel if its activation exceeds
        ``threshold * max activation of that kernel over X``. In ``[0, 1)``.
    sites : {"max", "all"}, default="max"
        ``"max"`` (DeepBind): at most one site per sequence, the window of the
        kernel's strongest response (over positions and strands), kept if it
        passes the threshold; every bound sequence then counts once.
        ``"all"``: every window above the threshold on either strand (Basset's
        way), so that a sequence with repeats counts more.
    batch_size : int, default=1024
        Sequences scanned at once; the activations of a batch take
        ``batch_size * n_strands * n_kernels * L`` floats.

    Returns
    -------
    motifs : list of Motif
        One per kernel, in kernel order, named ``"kernel_<k>"``, each of the
        kernel's width, with ``kernel``, ``n_sites`` and ``dense_weight`` set.
        A window that overlaps the sequence ends (the 'same' padding) adds
        counts only at its positions inside the sequence; each row is
        normalised by its own count, and a row with no count at all is
        uniform. No pseudocounts. A kernel with no site (it never fires on
        ``X``) gets a uniform PFM, ``n_sites=0`` and a warning.

    Raises
    ------
    TypeError
        If ``estimator`` is not a DeepPruneClassifier or a pipeline ending in
        one, or if DNA strings are passed to a bare classifier.
    sklearn.exceptions.NotFittedError
        If the classifier is not fitted.
    ValueError
        If ``X`` is not one-hot DNA (4 channels) of the fitted kind, or the
        parameters are out of range.

    See Also
    --------
    find_sites : The sites themselves, as a table.
    trim : Cut the uninformative flanks off a motif.
    plot_logos : Draw the motifs.
    compare_motifs : Match them to JASPAR with Tomtom.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
    >>> from sklearn_deepprune.motifs import extract_motifs
    >>> seqs = ["ACGTTGCAAC", "TTTTACGTAA", "GGGGCCCCAA", "ACACACACAC"] * 10
    >>> y = [1, 1, 0, 0] * 10
    >>> clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, kernel_size=4,
    ...                           max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(seqs, y)
    >>> motifs = extract_motifs(pipe, seqs)
    >>> [(motif.name, motif.pfm.shape) for motif in motifs]
    [('kernel_0', (4, 4)), ('kernel_1', (4, 4))]
    """
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1); got {threshold!r}")
    if sites not in _SITES:
        raise ValueError(f"sites must be one of {_SITES}; got {sites!r}")
    batch_size = _check_batch_size(batch_size)
    classifier, module, X = _prepare(estimator, X, "extract_motifs")
    n_kernels, width = module.n_kernels, module.kernel_size
    batches = _batches(len(X), batch_size)

    best, best_strand, best_position = _best_sites(module, X, batches)
    cutoff = threshold * best.max(axis=0)

    counts = np.zeros((n_kernels, width, len(ALPHABET)))
    n_sites = np.zeros(n_kernels, dtype=np.int64)
    for batch in batches:
        X_batch = X[batch]
        if sites == "all":
            activation = _strand_activations(module, X_batch)
        for k in range(n_kernels):
            if sites == "max":
                sequence = np.flatnonzero(best[batch, k] > cutoff[k])
                strand = best_strand[batch, k][sequence]
                position = best_position[batch, k][sequence]
            else:
                sequence, strand, position = np.nonzero(activation[:, :, k] > cutoff[k])
            windows = _windows(X_batch, sequence, position, strand, width)
            counts[k] += windows.sum(axis=0, dtype=np.float64)
            n_sites[k] += len(sequence)

    silent = np.flatnonzero(n_sites == 0)
    if len(silent):
        warnings.warn(
            f"kernel(s) {silent.tolist()} never fire on these sequences; their PFMs are uniform",
            UserWarning,
            stacklevel=2,
        )
    dense_weight = classifier.dense_weight_
    totals = counts.sum(axis=2, keepdims=True)
    pfms = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), 1 / len(ALPHABET))
    return [
        Motif(
            f"kernel_{k}",
            pfms[k],
            kernel=k,
            n_sites=int(n_sites[k]),
            dense_weight=float(dense_weight[k]),
        )
        for k in range(n_kernels)
    ]


def trim(motif: Motif, min_ic: float = 0.25) -> Motif:
    """Cut a motif's low-information flanks.

    Kernels are wider than the motifs they detect (24 bp for ~10 bp motifs),
    so a kernel's PFM is mostly background at its ends. The trimmed motif runs
    from the first to the last position with at least ``min_ic`` bits;
    positions in between are kept whatever their information.

    Parameters
    ----------
    motif : Motif
        The motif to trim.
    min_ic : float, default=0.25
        Information content in bits (of 2) that an end position must reach.

    Returns
    -------
    Motif
        A copy with the shorter PFM and ``start`` advanced by the number of
        positions cut on the left; the other fields are kept.

    Raises
    ------
    ValueError
        If no position reaches ``min_ic``.

    Examples
    --------
    >>> from sklearn_deepprune.motifs import Motif, trim
    >>> flat, sharp = [0.25] * 4, [0.9, 0.05, 0.03, 0.02]
    >>> trimmed = trim(Motif("m", [flat, sharp, flat, sharp, flat]))
    >>> trimmed.width, trimmed.start
    (3, 1)
    """
    informative = np.flatnonzero(motif.column_ic >= min_ic)
    if len(informative) == 0:
        raise ValueError(
            f"no position of motif {motif.name!r} has min_ic={min_ic} bits "
            f"(the most is {motif.column_ic.max():.3g}); nothing to keep"
        )
    first, last = informative[0], informative[-1]
    return dataclasses.replace(
        motif, pfm=motif.pfm[first : last + 1], start=motif.start + int(first)
    )


# -- files -------------------------------------------------------------------


def _as_motifs(source: Any) -> list[Motif]:
    """Motif objects from motifs, a mapping of PFMs, PFM arrays or a MEME file."""
    if isinstance(source, Motif):
        return [source]
    if isinstance(source, Sequence) and source and all(isinstance(m, Motif) for m in source):
        return list(source)
    return [Motif(name, pfm) for name, pfm in load_motifs(source).items()]


def to_meme(motifs: Motif | Iterable[Motif], path: str | os.PathLike) -> None:
    """Write motifs as a MEME version 4 (minimal format) file.

    The file has the DNA alphabet, both strands and a uniform background, so
    MEME suite tools (Tomtom, FIMO, ...) and memelite's reader take it.

    Parameters
    ----------
    motifs : Motif or iterable of Motif
        The motifs; each one's ``name`` is its MOTIF identifier (a second word
        of the name, as in ``"MA0139.2 CTCF"``, becomes the alternate name).
    path : str or path-like
        The file to write.

    Returns
    -------
    None

    See Also
    --------
    read_meme : Read such a file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_deepprune.motifs import Motif, read_meme, to_meme
    >>> path = os.path.join(tempfile.mkdtemp(), "kernels.meme")
    >>> to_meme([Motif("kernel_0", [[1, 0, 0, 0], [0, 1, 0, 0]])], path)
    >>> read_meme(path)[0].consensus
    'AC'
    """
    motifs = [motifs] if isinstance(motifs, Motif) else list(motifs)
    if not motifs:
        raise ValueError("to_meme got no motif")
    identifiers = [motif.name.split(maxsplit=1) for motif in motifs]
    if any(not words for words in identifiers):
        raise ValueError("every motif needs a non-empty name to write it as MEME")
    write_meme_pfms(
        {words[0]: motif.pfm for words, motif in zip(identifiers, motifs, strict=True)},
        path,
        alternate_names={words[0]: words[1] for words in identifiers if len(words) > 1},
        nsites={words[0]: motif.n_sites for words, motif in zip(identifiers, motifs, strict=True)},
    )


def read_meme(path: str | os.PathLike) -> list[Motif]:
    """Read the motifs of a MEME-format file.

    Parameters
    ----------
    path : str or path-like
        A MEME file (version 4, minimal or full, e.g. from :func:`to_meme`,
        MEME, STREME or JASPAR's downloads).

    Returns
    -------
    motifs : list of Motif
        In file order, named by their MOTIF identifiers.

    See Also
    --------
    to_meme : Write motifs in this format.
    sklearn_deepprune.datasets.read_meme_pfms : The same, as a dict of arrays.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_deepprune.motifs import Motif, read_meme, to_meme
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.meme")
    >>> to_meme(Motif("toy", [[0.5, 0.5, 0, 0]]), path)
    >>> read_meme(path)
    [Motif('toy', ic=1.0 bits, consensus='A')]
    """
    return [Motif(name, pfm) for name, pfm in read_meme_pfms(path).items()]
