"""Dinucleotide shuffling (Altschul & Erickson 1985), the standard ChIP-seq negative."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from sklearn.utils import check_random_state


def _reaches_root(last_edge: dict[str, str], root: str) -> bool:
    """Whether every vertex's chosen last edge leads, in the end, to ``root``."""
    reaching = {root}
    for start in last_edge:
        path = []
        vertex = start
        while vertex not in reaching:
            if vertex in path:
                return False
            path.append(vertex)
            vertex = last_edge[vertex]
        reaching.update(path)
    return True


def _shuffle_one(sequence: str, rng: random.Random) -> str:
    """A uniformly random sequence with the same dinucleotide counts and ends.

    The sequence is an Eulerian path through the graph whose vertices are
    letters and whose edges are its dinucleotides. A random path is built from
    a random spanning arborescence of "last exits" towards the final letter
    (every vertex but the final one leaves for the last time along a tree
    edge, so the walk cannot get stuck) and random orders of the other exits.
    """
    if len(sequence) < 3:
        return sequence
    exits: dict[str, list[str]] = {}
    for left, right in zip(sequence, sequence[1:], strict=False):
        exits.setdefault(left, []).append(right)
    final = sequence[-1]
    while True:
        last_index = {
            vertex: rng.randrange(len(targets))
            for vertex, targets in exits.items()
            if vertex != final
        }
        last_edge = {vertex: exits[vertex][i] for vertex, i in last_index.items()}
        if _reaches_root(last_edge, final):
            break
    for vertex, targets in exits.items():
        if vertex == final:
            rng.shuffle(targets)
            continue
        last = targets.pop(last_index[vertex])
        rng.shuffle(targets)
        targets.append(last)
    # Consume each vertex's exits in order; reversed lists make pop() O(1).
    for targets in exits.values():
        targets.reverse()
    letters = [sequence[0]]
    for _ in range(len(sequence) - 1):
        letters.append(exits[letters[-1]].pop())
    return "".join(letters)


def dinucleotide_shuffle(
    sequences: str | Sequence[str] | np.ndarray,
    random_state: int | np.random.RandomState | None = None,
) -> str | list[str]:
    """Shuffle sequences keeping their dinucleotide counts exactly.

    The Altschul-Erickson algorithm (as in uShuffle, fasta-shuffle-letters
    ``-kmer 2`` and MEME): each result is drawn uniformly among all sequences
    with the same dinucleotide counts, which also fixes the first and last
    letter and the single-letter counts. Any letter is allowed; ``N`` is simply
    one more letter, so the counts of dinucleotides containing ``N`` are kept
    too. Sequences shorter than 3 letters (which have no other arrangement)
    are returned unchanged, and so is any sequence whose dinucleotides admit a
    single arrangement (e.g. ``"AAAA"``).

    Parameters
    ----------
    sequences : str or sequence of str
        One sequence or several.
    random_state : int, RandomState instance or None, default=None
        Seed or random number generator, for reproducible shuffles.

    Returns
    -------
    shuffled : str or list of str
        A string for a string input, otherwise a list in input order.

    Examples
    --------
    >>> from sklearn_deepprune.datasets import dinucleotide_shuffle
    >>> shuffled = dinucleotide_shuffle("ACGTTGCAACGTAGCT", random_state=0)
    >>> sorted(shuffled) == sorted("ACGTTGCAACGTAGCT")
    True
    >>> shuffled[0], shuffled[-1]
    ('A', 'T')
    """
    rng = random.Random(int(check_random_state(random_state).randint(2**31 - 1)))
    if isinstance(sequences, str):
        return _shuffle_one(sequences, rng)
    return [_shuffle_one(str(sequence), rng) for sequence in sequences]
