"""Simulated binding data: random DNA with motif instances planted in the positives."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from sklearn_deepprune.datasets._motifs import MotifSource, load_motifs, read_meme_pfms
from sklearn_deepprune.encoding import ALPHABET

#: The JASPAR profiles behind the default paper simulations, by set, as
#: (matrix id, TF name). Stored in ``data/jaspar_simulation_motifs.meme``
#: (taken from the JASPAR 2026 CORE vertebrates collection shipped with
#: pyjaspar 4.0), so no JASPAR lookup happens at run time.
PAPER_SIMULATION_MOTIFS: dict[int, list[tuple[str, str]]] = {
    1: [("MA0139.2", "CTCF"), ("MA0035.5", "GATA1")],
    2: [("MA0080.7", "Spi1"), ("MA0148.5", "FOXA1")],
    3: [("MA0466.4", "CEBPB"), ("MA0138.3", "REST")],
    4: [("MA0035.5", "GATA1"), ("MA0466.4", "CEBPB"), ("MA0138.3", "REST"), ("MA0114.5", "HNF4A")],
    5: [
        ("MA0466.4", "CEBPB"),
        ("MA0138.3", "REST"),
        ("MA0035.5", "GATA1"),
        ("MA0114.5", "HNF4A"),
        ("MA0080.7", "Spi1"),
        ("MA0148.5", "FOXA1"),
        ("MA0106.3", "TP53"),
        ("MA0154.5", "EBF1"),
    ],
}
_PAPER_MOTIF_FILE = "jaspar_simulation_motifs.meme"
_STRAND_OPTIONS = ("forward", "both")


def _codes_to_strings(codes: np.ndarray) -> np.ndarray:
    """``(n, L)`` integer codes into an array of ``n`` strings over ALPHABET."""
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)[codes]
    width = codes.shape[1]
    return np.frombuffer(letters.tobytes(), dtype=f"S{width}").astype(f"U{width}")


def _sample_codes(probabilities: np.ndarray, n: int, rng: np.random.RandomState) -> np.ndarray:
    """``n`` draws from each row of an ``(L, 4)`` PFM: integer codes of shape ``(n, L)``."""
    cumulative = np.cumsum(probabilities, axis=1)
    # Dividing by the total makes it exactly 1, so letters of probability 0
    # at the end of a row can never be drawn through rounding.
    cumulative = (cumulative / cumulative[:, -1:])[:, :-1]
    uniform = rng.random_sample((n, len(probabilities), 1))
    return (uniform >= cumulative[np.newaxis]).sum(axis=2).astype(np.uint8)


def _check_background(background: Iterable[float] | None) -> np.ndarray:
    if background is None:
        return np.full(len(ALPHABET), 1 / len(ALPHABET))
    probabilities = np.asarray(background, dtype=float)
    if (
        probabilities.shape != (len(ALPHABET),)
        or np.any(probabilities < 0)
        or not np.isclose(probabilities.sum(), 1)
    ):
        raise ValueError(
            "background must be 4 non-negative probabilities (A, C, G, T) summing to 1; "
            f"got {background!r}"
        )
    return probabilities


def make_motif_sequences(
    n_samples: int,
    motifs: MotifSource | Iterable[MotifSource] | Mapping[str, MotifSource],
    *,
    length: int = 101,
    background: Iterable[float] | None = None,
    strand: str = "forward",
    positive_fraction: float = 0.5,
    random_state: int | np.random.RandomState | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Generate random DNA where positives carry one planted motif instance.

    Every sequence is drawn i.i.d. from ``background``. Each positive then gets
    one instance of one motif (motif chosen uniformly) *sampled from its PFM*
    and written over a uniformly random window. This is the simulation of the
    Deepprune paper (and of DeepBind's and Zeng et al.'s benchmarks).

    Parameters
    ----------
    n_samples : int
        Number of sequences.
    motifs : motif source, list of sources, or mapping of name to source
        The motifs to plant: PFM arrays of shape (L, 4), JASPAR ids or names,
        MEME files or text matrix files (see :func:`load_motifs`).
    length : int, default=101
        Sequence length; must be at least the longest motif.
    background : array-like of 4 floats, default=None
        Probabilities of A, C, G, T; ``None`` is uniform.
    strand : {"forward", "both"}, default="forward"
        ``"both"`` plants each instance on a random strand: with probability
        1/2 its reverse complement is written instead.
    positive_fraction : float, default=0.5
        Fraction of positives; ``round(n_samples * positive_fraction)`` exactly.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.
    return_X_y : bool, default=False
        Return ``(sequences, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With, in shuffled order, per sequence:

        sequences : ndarray of str, shape (n_samples,)
            Uppercase A/C/G/T strings.
        target : ndarray of int, shape (n_samples,)
            1 for positives, 0 for negatives.
        motif_index : ndarray of int, shape (n_samples,)
            Index into ``motifs`` of the planted motif; -1 for negatives.
        position : ndarray of int, shape (n_samples,)
            0-based start of the planted window; -1 for negatives.
        strand : ndarray of str, shape (n_samples,)
            ``"+"``, ``"-"`` (the window holds the reverse complement of the
            sampled instance), or ``"."`` for negatives.

        and, per motif, ``motif_names`` (list of str) and ``motifs`` (list of
        ndarray of shape (L, 4), rows A, C, G, T).
    (sequences, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        On a motif longer than ``length`` or an invalid argument.

    See Also
    --------
    make_paper_simulation : The paper's five simulated sets.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_deepprune.datasets import make_motif_sequences
    >>> data = make_motif_sequences(6, [np.eye(4)], length=10, random_state=0)
    >>> data.sequences.shape, int(data.target.sum())
    ((6,), 3)
    >>> i = int(np.flatnonzero(data.target)[0])
    >>> data.sequences[i][data.position[i] : data.position[i] + 4]
    'ACGT'
    """
    if strand not in _STRAND_OPTIONS:
        raise ValueError(f"strand must be one of {_STRAND_OPTIONS}, got {strand!r}")
    if not 0 <= positive_fraction <= 1:
        raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction!r}")
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    pfms = load_motifs(motifs)
    names, matrices = list(pfms), list(pfms.values())
    longest = max(len(pfm) for pfm in matrices)
    if int(length) != length or length < longest:
        raise ValueError(f"length={length!r} is shorter than the longest motif ({longest})")
    rng = check_random_state(random_state)
    background = _check_background(background)

    n_samples, length = int(n_samples), int(length)
    n_positive = int(round(n_samples * positive_fraction))
    codes = _sample_codes(np.tile(background, (length, 1)), n_samples, rng)
    target = np.zeros(n_samples, dtype=int)
    target[:n_positive] = 1
    motif_index = np.full(n_samples, -1)
    motif_index[:n_positive] = rng.randint(len(matrices), size=n_positive)
    position = np.full(n_samples, -1)
    reverse = np.zeros(n_samples, dtype=bool)
    if strand == "both":
        reverse[:n_positive] = rng.random_sample(n_positive) < 0.5
    for index, pfm in enumerate(matrices):
        rows = np.flatnonzero(motif_index == index)
        instances = _sample_codes(pfm, len(rows), rng)
        flip = reverse[rows]
        # With channels in A, C, G, T order the complement of code c is 3 - c.
        instances[flip] = 3 - instances[flip, ::-1]
        position[rows] = rng.randint(length - len(pfm) + 1, size=len(rows))
        columns = position[rows, np.newaxis] + np.arange(len(pfm))
        codes[rows[:, np.newaxis], columns] = instances

    order = rng.permutation(n_samples)
    sequences = _codes_to_strings(codes[order])
    target = target[order]
    if return_X_y:
        return sequences, target
    strands = np.where(reverse, "-", "+")
    strands[motif_index < 0] = "."
    return Bunch(
        sequences=sequences,
        target=target,
        motif_index=motif_index[order],
        position=position[order],
        strand=strands[order],
        motif_names=names,
        motifs=matrices,
    )


def _paper_motifs(k: int, motif_dir: str | os.PathLike | None) -> tuple[list, list, list]:
    """Names, ids and PFMs of simulated set ``k``."""
    expected = len(PAPER_SIMULATION_MOTIFS[k])
    if motif_dir is None:
        with resources.as_file(resources.files(__package__) / "data" / _PAPER_MOTIF_FILE) as path:
            library = read_meme_pfms(path)
        ids = [matrix_id for matrix_id, _ in PAPER_SIMULATION_MOTIFS[k]]
        names = [name for _, name in PAPER_SIMULATION_MOTIFS[k]]
        return names, ids, [library[matrix_id] for matrix_id in ids]
    folder = Path(motif_dir)
    if (folder / f"simulated{k}").is_dir():
        folder = folder / f"simulated{k}"
    if not folder.is_dir():
        raise ValueError(f"motif_dir {folder} is not a directory")
    files = sorted(path for path in folder.iterdir() if path.is_file())
    if len(files) != expected:
        raise ValueError(
            f"simulated set {k} plants {expected} motifs but {folder} holds {len(files)} files"
        )
    pfms = load_motifs(files)
    return list(pfms), list(pfms), list(pfms.values())


def make_paper_simulation(
    k: int,
    *,
    n_samples: int = 10_000,
    length: int = 101,
    motif_dir: str | os.PathLike | None = None,
    random_state: int | np.random.RandomState | None = 0,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generate one of the Deepprune paper's simulated sets 1 to 5.

    Sets 1, 2 and 3 plant one of 2 motifs (three different pairs), set 4 one of
    4 and set 5 one of 8, in 101 bp uniform random DNA, forward strand, half
    the sequences positive; train and test have the same size (the paper does
    not state its sizes; 10,000 each by default).

    By default the motifs are JASPAR CORE vertebrate profiles (the paper's
    TRANSFAC matrices are not freely redistributable), shipped with this
    package, all at most 20 bp (below the kernel width 24) and chosen to be
    clearly distinct within each set:

    ===  ====================================================================
    set  JASPAR 2026 profiles
    ===  ====================================================================
    1    MA0139.2 CTCF, MA0035.5 GATA1
    2    MA0080.7 Spi1, MA0148.5 FOXA1
    3    MA0466.4 CEBPB, MA0138.3 REST
    4    MA0035.5 GATA1, MA0466.4 CEBPB, MA0138.3 REST, MA0114.5 HNF4A
    5    MA0466.4 CEBPB, MA0138.3 REST, MA0035.5 GATA1, MA0114.5 HNF4A,
         MA0080.7 Spi1, MA0148.5 FOXA1, MA0106.3 TP53, MA0154.5 EBF1
    ===  ====================================================================

    As in the paper, set 4 reuses the first motif of set 1 and both of set 3,
    and set 5 both of set 3.

    Parameters
    ----------
    k : {1, 2, 3, 4, 5}
        The simulated set.
    n_samples : int, default=10_000
        Sequences in the train part, and again in the test part.
    length : int, default=101
        Sequence length.
    motif_dir : str or path-like, default=None
        A folder of plain-text matrices (one motif per file, rows A C G T), or
        a folder holding ``simulated1`` ... ``simulated5`` subfolders of them,
        such as the paper's TRANSFAC motifs; it must hold as many files as the
        set plants motifs. ``None`` uses the JASPAR motifs above.
    random_state : int, RandomState instance or None, default=0
        Seed; train is generated first, then test, from the same generator.
    return_X_y : bool, default=False
        Return ``(X_train, X_test, y_train, y_test)``, the order of
        :func:`~sklearn.model_selection.train_test_split`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``train`` and ``test``, each a Bunch with ``sequences``, ``target``,
        ``motif_index``, ``position`` and ``strand`` as in
        :func:`make_motif_sequences`; ``motifs`` (list of (L, 4) arrays),
        ``motif_names`` (TF names, or file stems with ``motif_dir``),
        ``motif_ids`` (JASPAR ids, or file stems) and ``k``.
    (X_train, X_test, y_train, y_test) : tuple of ndarray
        If ``return_X_y`` is True.

    See Also
    --------
    make_motif_sequences : The generator, for any motifs.

    Examples
    --------
    >>> from sklearn_deepprune.datasets import make_paper_simulation
    >>> data = make_paper_simulation(4, n_samples=100)
    >>> data.motif_names
    ['GATA1', 'CEBPB', 'REST', 'HNF4A']
    >>> data.train.sequences.shape, data.test.sequences.shape
    ((100,), (100,))
    """
    if k not in PAPER_SIMULATION_MOTIFS:
        raise ValueError(f"k must be one of {sorted(PAPER_SIMULATION_MOTIFS)}, got {k!r}")
    names, ids, pfms = _paper_motifs(k, motif_dir)
    rng = check_random_state(random_state)
    parts = {}
    for part in ("train", "test"):
        generated = make_motif_sequences(
            n_samples, dict(zip(names, pfms, strict=True)), length=length, random_state=rng
        )
        del generated["motif_names"], generated["motifs"]
        parts[part] = generated
    if return_X_y:
        train, test = parts["train"], parts["test"]
        return train.sequences, test.sequences, train.target, test.target
    return Bunch(
        train=parts["train"],
        test=parts["test"],
        motifs=pfms,
        motif_names=names,
        motif_ids=ids,
        k=k,
    )
