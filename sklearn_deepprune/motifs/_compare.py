"""Tomtom comparison of motifs with JASPAR or any other motifs (memelite)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.datasets._motifs import _jaspar_db
from sklearn_deepprune.encoding import ALPHABET
from sklearn_deepprune.motifs._pfm import Motif, _as_motifs

if TYPE_CHECKING:
    import pandas as pd

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
