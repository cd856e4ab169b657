"""Motifs read out of a fitted Deepprune network: PFMs, logos, MEME files, Tomtom.

A kernel of the motif scan layer is a motif detector, but its weights are not a
motif. As in DeepBind's supplement (section 10.1, "Sequence logos"), the motif
of a kernel is read from the data instead: the sequences are scanned, the
kernel-wide windows where the kernel responds strongly are stacked into a
count matrix and normalised to a position frequency matrix (PFM). The PFMs
can then be trimmed, drawn as information-content logos, written as MEME
files and compared with JASPAR (or any motifs) by Tomtom.

Every PFM here is an array of shape ``(w, 4)``: one row per position, columns
in :data:`~sklearn_deepprune.encoding.ALPHABET` order (A, C, G, T), as in
:mod:`sklearn_deepprune.datasets`. The optional dependencies (memelite,
pyjaspar, logomaker, matplotlib, pandas) are imported only by the functions
that need them: ``pip install "sklearn-deepprune[motifs]"``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.classifier import DeepPruneClassifier
from sklearn_deepprune.datasets._motifs import (
    _check_pfm,
    _jaspar_db,
    load_motifs,
    read_meme_pfms,
    write_meme_pfms,
)
from sklearn_deepprune.encoding import ALPHABET
from sklearn_deepprune.network import same_padding

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "Motif",
    "compare_motifs",
    "extract_motifs",
    "plot_logos",
    "read_meme",
    "to_meme",
    "trim",
]

_SITES = ("max", "all")
_MATCH_COLUMNS = [
    "query",
    "target_id",
    "target_name",
    "p_value",
    "e_value",
    "q_value",
    "offset",
    "overlap",
    "orientation",
]


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


def _split_estimator(estimator: Any) -> tuple[DeepPruneClassifier, Pipeline | None]:
    """The classifier and the preprocessing steps in front of it (or None)."""
    preprocess = None
    classifier = estimator
    if isinstance(estimator, Pipeline):
        classifier = estimator.steps[-1][1]
        if len(estimator.steps) > 1:
            preprocess = estimator[:-1]
    if not isinstance(classifier, DeepPruneClassifier):
        raise TypeError(
            "extract_motifs needs a fitted DeepPruneClassifier or a Pipeline ending in one; "
            f"got {type(classifier).__name__}"
        )
    check_is_fitted(classifier)
    return classifier, preprocess


def _activations(module: Any, X: np.ndarray) -> np.ndarray:
    device = module.conv.weight.device
    with torch.no_grad():
        return module.activations(torch.as_tensor(X).to(device)).cpu().numpy()


def _window_counts(
    X: np.ndarray, sequence: np.ndarray, position: np.ndarray, width: int
) -> np.ndarray:
    """Sum of the ``(width, 4)`` windows whose activation position is ``position``.

    Columns of a window that fall into the 'same' padding count nothing.
    """
    length = X.shape[2]
    columns = position[:, np.newaxis] - same_padding(width)[0] + np.arange(width)
    inside = (columns >= 0) & (columns < length)
    # Advanced indices around a slice put their dimensions first: (m, width, 4).
    windows = X[sequence[:, np.newaxis], :, np.clip(columns, 0, length - 1)]
    return (windows * inside[:, :, np.newaxis]).sum(axis=0, dtype=np.float64)


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
    with the final network's kernels, keep the windows where a kernel's ReLU
    activation is above ``threshold`` times its maximum over all of ``X``,
    count the bases at each window position and normalise the counts to
    frequencies. Use held-out (test) sequences, as DeepBind does, so that the
    motifs are not memorised training sites.

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
        kernel's strongest response, kept if it passes the threshold; every
        bound sequence then counts once. ``"all"``: every window above the
        threshold (Basset's way), so that a sequence with repeats counts more.
    batch_size : int, default=1024
        Sequences scanned at once; the activations of a batch take
        ``batch_size * n_kernels * L`` floats.

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
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    classifier, preprocess = _split_estimator(estimator)
    if preprocess is not None:
        X = preprocess.transform(X)
    X = classifier._validate_X(X)
    if X.shape[1] != len(ALPHABET):
        raise ValueError(
            f"motifs need one-hot DNA with {len(ALPHABET)} channels ({ALPHABET}); "
            f"the input has {X.shape[1]}"
        )
    module = classifier.net_.module_
    module.eval()
    n_kernels, width = module.n_kernels, module.kernel_size
    batches = [slice(i, i + batch_size) for i in range(0, len(X), batch_size)]

    best = np.empty((len(X), n_kernels), dtype=np.float32)
    best_position = np.empty((len(X), n_kernels), dtype=np.int64)
    for batch in batches:
        activation = _activations(module, X[batch])
        best[batch] = activation.max(axis=2)
        best_position[batch] = activation.argmax(axis=2)
    cutoff = threshold * best.max(axis=0)

    counts = np.zeros((n_kernels, width, len(ALPHABET)))
    n_sites = np.zeros(n_kernels, dtype=np.int64)
    for batch in batches:
        X_batch = X[batch]
        if sites == "all":
            activation = _activations(module, X_batch)
        for k in range(n_kernels):
            if sites == "max":
                sequence = np.flatnonzero(best[batch, k] > cutoff[k])
                position = best_position[batch, k][sequence]
            else:
                sequence, position = np.nonzero(activation[:, k] > cutoff[k])
            counts[k] += _window_counts(X_batch, sequence, position, width)
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


# -- Tomtom ------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _jaspar_motifs(
    release: str | None, collection: str, tax_group: str | None
) -> tuple[Motif, ...]:
    """The latest version of each JASPAR profile of a collection (non-redundant)."""
    db = _jaspar_db(release)
    profiles = db.fetch_motifs(
        collection=collection,
        tax_group=[tax_group] if tax_group else None,
        all_versions=False,
    )
    if not profiles:
        raise ValueError(
            f"JASPAR ({db.release}) has no profile in collection {collection!r} "
            f"and tax_group {tax_group!r}"
        )
    return tuple(
        Motif(
            f"{profile.matrix_id} {profile.name}",
            np.array([profile.counts[base] for base in ALPHABET], dtype=float).T,
        )
        for profile in profiles
    )


def _q_values(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis."""
    n = p_values.shape[-1]
    order = np.argsort(p_values, axis=-1)
    ranked = np.take_along_axis(p_values, order, axis=-1) * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q_values = np.empty_like(p_values)
    np.put_along_axis(q_values, order, np.minimum(ranked, 1.0), axis=-1)
    return q_values


def compare_motifs(
    motifs: Motif | Iterable[Motif] | Mapping[str, Any] | str | os.PathLike,
    targets: Any = "JASPAR",
    *,
    n_matches: int | None = 1,
    jaspar_release: str | None = None,
    collection: str = "CORE",
    tax_group: str | None = "vertebrates",
    n_jobs: int = -1,
) -> pd.DataFrame:
    """Match motifs against a motif database with Tomtom (memelite).

    Each query is compared with every target on both strands (Tomtom's
    complete score, Euclidean column distance, overhangs allowed); p-values
    come from the score distribution over the targets' columns, as in
    Tomtom, and ``E = p * n_targets``. q-values are Benjamini-Hochberg over
    each query's p-values against all targets.

    Parameters
    ----------
    motifs : Motif, iterable of Motif, mapping of name to PFM, or path
        The queries (e.g. from :func:`extract_motifs`, best :func:`trim`-med:
        uninformative flank columns weaken the match); a mapping or a MEME
        file path is read as by :func:`sklearn_deepprune.datasets.load_motifs`.
    targets : "JASPAR", iterable of Motif, mapping of name to PFM, or path, default="JASPAR"
        ``"JASPAR"``: the latest version of every profile of JASPAR's
        ``collection`` and ``tax_group`` (CORE vertebrates non-redundant by
        default), from pyjaspar's offline database, cached after the first
        call. Otherwise any motifs, as for ``motifs``. Tomtom's p-values use
        the targets' columns as background and are unreliable with fewer than
        about 25 targets (memelite warns).
    n_matches : int or None, default=1
        Best targets kept per query, by p-value; ``None`` keeps all.
    jaspar_release : str or None, default=None
        JASPAR release, e.g. ``"JASPAR2024"``; ``None``: pyjaspar's newest.
    collection : str, default="CORE"
        JASPAR collection.
    tax_group : str or None, default="vertebrates"
        JASPAR taxonomic group; ``None`` for all.
    n_jobs : int, default=-1
        Threads for Tomtom; -1 uses all.

    Returns
    -------
    matches : pandas.DataFrame
        One row per query and kept target, sorted by query (in input order)
        then p-value, with columns ``query`` (the query's name),
        ``target_id`` and ``target_name`` (the target name's first word and
        the rest, e.g. ``"MA0139.2"`` and ``"CTCF"``; the name again if it is
        one word), ``p_value``, ``e_value``, ``q_value``, ``offset`` (the
        target position aligned with the query's first position, negative
        when the query starts before the target), ``overlap`` (aligned
        positions) and ``orientation`` (``"+"``, or ``"-"`` when the query
        matches the target's reverse complement, to which ``offset`` then
        refers). ``matches.attrs["target_pfms"]`` maps each listed target id
        to its PFM, for :func:`plot_logos`.

    Raises
    ------
    ImportError
        If memelite or pandas (or pyjaspar for JASPAR) is missing.

    See Also
    --------
    plot_logos : Draw motifs over their best matches.

    Notes
    -----
    memelite compiles Tomtom with numba on its first use (about a minute);
    set the ``NUMBA_CACHE_DIR`` environment variable to a writable folder to
    keep the compiled code between sessions.

    Examples
    --------
    >>> from sklearn_deepprune.datasets import load_motif
    >>> from sklearn_deepprune.motifs import Motif, compare_motifs
    >>> query = Motif("query", load_motif("MA0139.2")[2:15])
    >>> compare_motifs(query)[["target_id", "target_name"]].values.tolist()  # doctest: +SKIP
    [['MA0139.2', 'CTCF']]
    """
    if n_matches is not None and int(n_matches) < 1:
        raise ValueError(f"n_matches must be a positive integer or None; got {n_matches!r}")
    pd = import_optional("pandas", "motifs", "compare_motifs")
    tomtom = import_optional("memelite", "motifs", "compare_motifs").tomtom
    queries = _as_motifs(motifs)
    if isinstance(targets, str) and targets.upper() == "JASPAR":
        target_motifs = list(_jaspar_motifs(jaspar_release, collection, tax_group))
    else:
        target_motifs = _as_motifs(targets)
    p_values, _, offsets, overlaps, strands = tomtom(
        [motif.pfm.T for motif in queries],
        [motif.pfm.T for motif in target_motifs],
        n_jobs=n_jobs,
    )
    q_values = _q_values(p_values)
    n_keep = len(target_motifs) if n_matches is None else min(int(n_matches), len(target_motifs))
    rows = []
    for i, query in enumerate(queries):
        for j in np.argsort(p_values[i], kind="stable")[:n_keep]:
            words = target_motifs[j].name.split(maxsplit=1)
            rows.append(
                {
                    "query": query.name,
                    "target_id": words[0],
                    "target_name": words[-1],
                    "p_value": p_values[i, j],
                    "e_value": p_values[i, j] * len(target_motifs),
                    "q_value": q_values[i, j],
                    "offset": int(offsets[i, j]),
                    "overlap": int(overlaps[i, j]),
                    "orientation": "-" if strands[i, j] else "+",
                }
            )
    matches = pd.DataFrame(rows, columns=_MATCH_COLUMNS)
    listed = set(matches["target_id"])
    matches.attrs["target_pfms"] = {
        words[0]: motif.pfm
        for motif in target_motifs
        if (words := motif.name.split(maxsplit=1))[0] in listed
    }
    return matches


# -- logos -------------------------------------------------------------------


def _draw_logo(ax: Any, pfm: np.ndarray, first: int) -> None:
    """Information-content logo of ``pfm`` with its first row at x = ``first``."""
    import logomaker
    import pandas as pd
    from matplotlib import ticker

    heights = pd.DataFrame(
        pfm * _column_ic(pfm)[:, np.newaxis],
        columns=list(ALPHABET),
        index=np.arange(first, first + len(pfm)),
    )
    logomaker.Logo(heights, ax=ax, color_scheme="classic")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_ylim(0, np.log2(len(ALPHABET)))
    ax.set_ylabel("bits")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def plot_logos(
    motifs: Motif | Iterable[Motif],
    matches: pd.DataFrame | None = None,
    *,
    show_match: bool = True,
    panel_size: tuple[float, float] = (7.0, 1.5),
    path: str | os.PathLike | None = None,
    dpi: int = 100,
) -> Figure:
    """Information-content logos, one panel per motif, optionally over their matches.

    Parameters
    ----------
    motifs : Motif or iterable of Motif
        The motifs, e.g. from :func:`extract_motifs` or :func:`trim`.
    matches : pandas.DataFrame or None, default=None
        Output of :func:`compare_motifs` for these motifs. Each motif's best
        match (its first row) goes into its title.
    show_match : bool, default=True
        With ``matches``, draw each matched target's logo above its motif,
        aligned by Tomtom's offset (reverse complemented for orientation
        ``"-"``), so that a panel is two stacked axes.
    panel_size : tuple of float, default=(7.0, 1.5)
        Width and height in inches of one logo.
    path : str, path-like or None, default=None
        If given, also save the figure there; the suffix picks the format
        (``.png``, ``.svg``, ``.pdf``, ...).
    dpi : int, default=100
        Resolution of raster output.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; a motif's x axis is its position in the kernel. Titles
        give the kernel, dense weight, number of sites and best match with
        its E-value, where known.

    Raises
    ------
    ImportError
        If logomaker, matplotlib or pandas is missing.

    See Also
    --------
    compare_motifs : Tomtom matches to draw alongside.

    Examples
    --------
    >>> from sklearn_deepprune.motifs import Motif, plot_logos
    >>> fig = plot_logos([Motif("toy", [[0.9, 0.05, 0.03, 0.02], [0.1, 0.1, 0.7, 0.1]])])
    >>> len(fig.axes)
    1
    """
    for module in ("logomaker", "pandas"):
        import_optional(module, "motifs", "plot_logos")
    figure_module = import_optional("matplotlib.figure", "motifs", "plot_logos")
    motifs = [motifs] if isinstance(motifs, Motif) else list(motifs)
    if not motifs:
        raise ValueError("plot_logos got no motif")
    best = {}
    target_pfms = {}
    if matches is not None:
        best = {row.query: row for row in matches.drop_duplicates("query").itertuples()}
        target_pfms = matches.attrs.get("target_pfms", {})
    drawn = [best.get(motif.name) if show_match else None for motif in motifs]
    drawn = [
        match if match is not None and match.target_id in target_pfms else None for match in drawn
    ]
    n_axes = len(motifs) + sum(match is not None for match in drawn)
    figure = figure_module.Figure(
        figsize=(panel_size[0], panel_size[1] * n_axes), dpi=dpi, layout="constrained"
    )
    axes = iter(figure.subplots(n_axes, 1, squeeze=False)[:, 0])
    for motif, match in zip(motifs, drawn, strict=True):
        if match is not None:
            target_ax = next(axes)
            target = target_pfms[match.target_id]
            if match.orientation == "-":
                target = target[::-1, ::-1]
            _draw_logo(target_ax, target, motif.start - match.offset)
            target_ax.set_title(_target_label(match), fontsize=9, loc="left")
        ax = next(axes)
        _draw_logo(ax, motif.pfm, motif.start)
        ax.set_title(_logo_title(motif, best.get(motif.name)), fontsize=9, loc="left")
        if match is not None:
            ax.sharex(target_ax)
            low = min(motif.start, motif.start - match.offset) - 0.5
            high = max(motif.start + motif.width, motif.start - match.offset + len(target))
            ax.set_xlim(low, high - 0.5)
    if path is not None:
        figure.savefig(path, dpi=dpi)
    return figure


def _target_label(match: Any) -> str:
    if match.target_name == match.target_id:
        return str(match.target_id)
    return f"{match.target_name} ({match.target_id})"


def _logo_title(motif: Motif, match: Any) -> str:
    parts = [motif.name if motif.kernel is None else f"kernel {motif.kernel}"]
    if motif.dense_weight is not None:
        parts.append(f"dense weight {motif.dense_weight:+.2f}")
    if motif.n_sites is not None:
        parts.append(f"{motif.n_sites} sites")
    if match is not None:
        parts.append(f"best match {_target_label(match)}, E = {match.e_value:.2g}")
    return " | ".join(parts)
