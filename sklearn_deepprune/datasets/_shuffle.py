"""Dinucleotide shuffling (Altschul & Erickson 1985), the standard ChIP-seq negative."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.utils import check_random_state

# Sequences shuffled together, to bound the memory of the per-edge arrays.
_CHUNK = 8192
# Vectorised rejection rounds before the rare rows still without a tree of last
# exits (low acceptance, e.g. a rare final letter) switch to Wilson's algorithm.
_REJECTION_ROUNDS = 30


def _reaches_final(successor: np.ndarray, final: np.ndarray) -> np.ndarray:
    """Whether, per row, following ``successor`` from every letter ends at ``final``."""
    n_letters = successor.shape[1]
    reached = np.broadcast_to(np.arange(n_letters), successor.shape)
    for _ in range(n_letters):
        reached = np.take_along_axis(successor, reached, 1)
    return np.all(reached == final[:, np.newaxis], axis=1)


def _wilson_last_exits(
    by_source: np.ndarray,
    target: np.ndarray,
    counts: np.ndarray,
    starts: np.ndarray,
    final: int,
    rng: np.random.RandomState,
) -> np.ndarray:
    """Last exits of one row by Wilson's loop-erased random walk towards ``final``.

    It draws the same distribution as rejection sampling (uniform exit per
    letter, conditioned on forming a tree) without retries.
    """
    last_exit = np.zeros(len(counts), dtype=np.intp)
    in_tree = counts == 0
    in_tree[final] = True
    for start in np.flatnonzero(~in_tree):
        letter = start
        while not in_tree[letter]:
            edge = by_source[starts[letter] + rng.randint(counts[letter])]
            last_exit[letter] = edge
            letter = target[edge]
        letter = start
        while not in_tree[letter]:
            in_tree[letter] = True
            letter = target[last_exit[letter]]
    return last_exit


def _shuffle_codes(codes: np.ndarray, n_letters: int, rng: np.random.RandomState) -> np.ndarray:
    """Shuffle rows of letter codes, keeping each row's dinucleotide counts.

    A row is an Eulerian path through the graph whose vertices are letters and
    whose edges are its dinucleotides. Each letter but the final one draws a
    last exit uniformly among its exits; the walk cannot get stuck exactly when
    those last exits form a tree towards the final letter, so rows where they
    do not are redrawn (a few rounds, then Wilson's algorithm, which samples
    the same conditional distribution). The other exits are used in random
    order. Accepted
    rows are uniform over all sequences with the same dinucleotide counts (the
    BEST theorem bijection, as in Altschul-Erickson).
    """
    n_rows, n_edges = codes.shape[0], codes.shape[1] - 1
    source, target = codes[:, :-1], codes[:, 1:]
    final = codes[:, -1]
    rows = np.arange(n_rows)
    # Edge positions grouped by source letter, and where each letter's group starts.
    by_source = np.argsort(source, axis=1, kind="stable")
    counts = np.stack([(source == letter).sum(axis=1) for letter in range(n_letters)], 1)
    starts = np.cumsum(counts, axis=1) - counts
    last_exit = np.zeros((n_rows, n_letters), dtype=np.intp)
    pending = rows
    for _ in range(_REJECTION_ROUNDS):
        if not pending.size:
            break
        pick = (rng.random_sample((pending.size, n_letters)) * counts[pending]).astype(np.intp)
        group_index = np.minimum(starts[pending] + pick, n_edges - 1)
        chosen = np.take_along_axis(by_source[pending], group_index, 1)
        successor = np.where(
            counts[pending] > 0,
            np.take_along_axis(target[pending], chosen, 1),
            final[pending, np.newaxis],
        )
        successor[np.arange(pending.size), final[pending]] = final[pending]
        last_exit[pending] = chosen
        pending = pending[~_reaches_final(successor, final[pending])]
    for row in pending:
        last_exit[row] = _wilson_last_exits(
            by_source[row], target[row], counts[row], starts[row], final[row], rng
        )

    # Random order of exits within each letter, the chosen last exit last
    # (keys in [0, 1) and 1 for the last exit; letters 2 apart never mix).
    keys = rng.random_sample((n_rows, n_edges))
    has_last = (counts > 0) & (np.arange(n_letters) != final[:, np.newaxis])
    keys[np.nonzero(has_last)[0], last_exit[has_last]] = 1.0
    order = np.argsort(2 * source + keys, axis=1)
    sorted_target = np.take_along_axis(target, order, 1)
    next_exit = starts.copy()
    shuffled = np.empty_like(codes)
    current = shuffled[:, 0] = codes[:, 0]
    for step in range(1, codes.shape[1]):
        exit_index = next_exit[rows, current]
        next_exit[rows, current] += 1
        current = shuffled[:, step] = sorted_target[rows, exit_index]
    return shuffled


def dinucleotide_shuffle(
    sequences: str | Sequence[str] | np.ndarray,
    random_state: int | np.random.RandomState | None = None,
) -> str | list[str]:
    """Shuffle sequences keeping their dinucleotide counts exactly.

    The Altschul-Erickson shuffle (as in uShuffle and MEME's
    ``fasta-shuffle-letters -kmer 2``), vectorised over sequences: each result
    is drawn uniformly among all sequences with the same dinucleotide counts,
    which also fixes the first and last letter and the letter counts. Any
    letter is allowed; ``N`` is one more letter, so dinucleotides containing
    ``N`` keep their counts too. Sequences shorter than 3 letters have no other
    arrangement and are returned unchanged, as is any sequence whose
    dinucleotides admit only one (such as ``"AAAA"``).

    Parameters
    ----------
    sequences : str or sequence of str
        One sequence or several (of any lengths).
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
    rng = check_random_state(random_state)
    if isinstance(sequences, str):
        return dinucleotide_shuffle([sequences], rng)[0]
    sequences = [str(sequence) for sequence in sequences]
    shuffled = list(sequences)
    by_length: dict[int, list[int]] = {}
    for index, sequence in enumerate(sequences):
        by_length.setdefault(len(sequence), []).append(index)
    for length in sorted(by_length):
        if length < 3:
            continue
        for start in range(0, len(by_length[length]), _CHUNK):
            indices = by_length[length][start : start + _CHUNK]
            # UCS-4 code points: one integer per letter, whatever the letter.
            points = np.array([sequences[i] for i in indices], dtype=f"U{length}")
            points = points.view(np.uint32).reshape(len(indices), length)
            present = np.bincount(points.ravel()) > 0
            letters = np.flatnonzero(present).astype(np.uint32)
            codes = (np.cumsum(present) - 1)[points]
            new_points = letters[_shuffle_codes(codes, len(letters), rng)]
            new_sequences = np.ascontiguousarray(new_points).view(f"U{length}").ravel()
            for index, sequence in zip(indices, new_sequences.tolist(), strict=True):
                shuffled[index] = sequence
    return shuffled
