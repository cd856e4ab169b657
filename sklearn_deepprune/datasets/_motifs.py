"""Position frequency matrices (PFMs) from JASPAR, MEME files, text files or arrays.

Every PFM in this package is a float array of shape ``(L, 4)``: one row per
motif position, columns in :data:`~sklearn_deepprune.encoding.ALPHABET` order
(A, C, G, T), each row a probability distribution.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.encoding import ALPHABET

#: A motif source: a JASPAR id or name, a file path, or a ``(L, 4)`` array.
MotifSource = str | os.PathLike | np.ndarray | list

_JASPAR_ID = re.compile(r"MA\d{4}(\.\d+)?")
_MEME_MARKERS = ("MEME version", "letter-probability matrix")
# MEME files round probabilities to a few decimals; rows must still sum to ~1.
_MEME_ROW_SUM_TOLERANCE = 0.02


def _check_pfm(matrix: Any, what: str) -> np.ndarray:
    """Validate a count or probability matrix and return it row-normalised."""
    pfm = np.asarray(matrix, dtype=float)
    if pfm.ndim != 2 or pfm.shape[1] != len(ALPHABET):
        hint = " (transposed? expected rows = positions)" if pfm.shape[:1] == (4,) else ""
        raise ValueError(
            f"{what}: a PFM must have shape (L, 4) with columns A, C, G, T; "
            f"got shape {pfm.shape}{hint}"
        )
    if pfm.shape[0] == 0:
        raise ValueError(f"{what}: the PFM has no positions")
    if not np.all(np.isfinite(pfm)):
        raise ValueError(f"{what}: the PFM contains NaN or infinite values")
    if np.any(pfm < 0):
        raise ValueError(f"{what}: the PFM contains negative values")
    row_sums = pfm.sum(axis=1, keepdims=True)
    if np.any(row_sums == 0):
        row = int(np.flatnonzero(row_sums[:, 0] == 0)[0])
        raise ValueError(f"{what}: row {row} of the PFM is all zeros")
    return pfm / row_sums


def read_meme_pfms(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the motifs of a MEME-format file (version 4, minimal or full).

    Each motif starts with a ``MOTIF identifier [alternate name]`` line and
    holds a ``letter-probability matrix:`` header followed by ``w`` rows of 4
    probabilities (A, C, G, T). Everything else (background frequencies, URL
    lines, the ``log-odds matrix`` sections of full MEME output) is skipped.

    Parameters
    ----------
    path : str or path-like
        The MEME file.

    Returns
    -------
    pfms : dict of str to ndarray of shape (L, 4)
        Motif identifier to its PFM (rows renormalised to sum to exactly 1),
        in file order.

    Raises
    ------
    ValueError
        If the file has no motif, a duplicated identifier, a DNA alphabet other
        than ACGT, a motif without a probability matrix, or a malformed row; the
        message names the file and the line.

    See Also
    --------
    write_meme_pfms : Write PFMs in this format.
    load_motif : One PFM from any source.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn_deepprune.datasets import read_meme_pfms, write_meme_pfms
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.meme")
    >>> write_meme_pfms({"toy": np.eye(4)}, path)
    >>> read_meme_pfms(path)["toy"].shape
    (4, 4)
    """
    path = Path(path)
    lines = path.read_text(encoding="latin-1").splitlines()
    pfms: dict[str, np.ndarray] = {}
    motif_name: str | None = None
    motif_line = 0
    i = 0
    while i < len(lines):
        tokens = lines[i].split()
        where = f"{path}, line {i + 1}"
        if tokens and tokens[0].startswith("ALPHABET"):
            alphabet = lines[i].split("=", 1)[-1].strip()
            if alphabet.upper() not in (ALPHABET, "ACGT", ""):
                raise ValueError(f"{where}: alphabet {alphabet!r} is not DNA (ACGT)")
        elif tokens and tokens[0] == "MOTIF":
            if motif_name is not None:
                raise ValueError(
                    f"{path}, line {motif_line}: motif {motif_name!r} has no "
                    "'letter-probability matrix:' section"
                )
            if len(tokens) < 2:
                raise ValueError(f"{where}: MOTIF line without an identifier")
            motif_name, motif_line = tokens[1], i + 1
            if motif_name in pfms:
                raise ValueError(f"{where}: motif {motif_name!r} appears twice")
        elif lines[i].strip().startswith("letter-probability matrix"):
            if motif_name is None:
                raise ValueError(f"{where}: probability matrix before any MOTIF line")
            header = dict(re.findall(r"(\w+)\s*=\s*(\S+)", lines[i]))
            if header.get("alength", "4") != "4":
                raise ValueError(f"{where}: alength={header['alength']}, expected 4 (DNA)")
            width = header.get("w")
            if width is not None:
                if not width.isdecimal() or int(width) == 0:
                    raise ValueError(
                        f"{where}: w={width!r} is not a motif width (a positive integer)"
                    )
                width = int(width)
            rows, i = _read_meme_rows(lines, i + 1, width, path)
            pfms[motif_name] = _check_pfm(rows, f"{path}, motif {motif_name!r}")
            motif_name = None
            continue
        i += 1
    if motif_name is not None:
        raise ValueError(
            f"{path}, line {motif_line}: motif {motif_name!r} has no "
            "'letter-probability matrix:' section"
        )
    if not pfms:
        raise ValueError(f"{path}: no MEME motif found (expected 'MOTIF' lines)")
    return pfms


def _read_meme_rows(
    lines: list[str], start: int, width: int | None, path: Path
) -> tuple[list[list[float]], int]:
    """Read the probability rows after a matrix header; return them and the next line."""
    rows: list[list[float]] = []
    i = start
    while i < len(lines) and (width is None or len(rows) < width):
        text = lines[i].strip()
        if not text:
            if rows and width is None:
                break
            i += 1
            continue
        try:
            values = [float(token) for token in text.split()]
        except ValueError:
            if width is None and rows:
                break
            raise ValueError(
                f"{path}, line {i + 1}: expected a row of 4 probabilities, got {text!r}"
            ) from None
        if len(values) != 4:
            raise ValueError(f"{path}, line {i + 1}: expected 4 values, got {len(values)}")
        if abs(sum(values) - 1) > _MEME_ROW_SUM_TOLERANCE:
            raise ValueError(f"{path}, line {i + 1}: probabilities sum to {sum(values):.4g}")
        rows.append(values)
        i += 1
    if width is not None and len(rows) < width:
        raise ValueError(f"{path}, line {i}: motif ends after {len(rows)} of w={width} rows")
    return rows, i


def write_meme_pfms(
    pfms: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    alternate_names: Mapping[str, str] | None = None,
    nsites: Mapping[str, int] | None = None,
) -> None:
    """Write PFMs as a MEME version 4 minimal-format file.

    Parameters
    ----------
    pfms : mapping of str to array-like of shape (L, 4)
        Motif identifier to PFM (counts are normalised per row).
    path : str or path-like
        The file to write.
    alternate_names : mapping of str to str, default=None
        Optional alternate name per identifier, written after it on the
        ``MOTIF`` line.
    nsites : mapping of str to int, default=None
        Optional number of sites per identifier, written as ``nsites= M E= 0``
        on the matrix header.

    Returns
    -------
    None

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn_deepprune.datasets import write_meme_pfms
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.meme")
    >>> pfms = {"MA0000.1": np.full((3, 4), 0.25)}
    >>> write_meme_pfms(pfms, path, alternate_names={"MA0000.1": "TOY"})
    >>> open(path).read().count("MOTIF MA0000.1 TOY")
    1
    """
    alternate_names = alternate_names or {}
    nsites = nsites or {}
    parts = [
        "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
        "Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n"
    ]
    for name, matrix in pfms.items():
        pfm = _check_pfm(matrix, f"motif {name!r}")
        alt = f" {alternate_names[name]}" if name in alternate_names else ""
        rows = "".join(" " + " ".join(f"{p:.6f}" for p in row) + "\n" for row in pfm)
        sites = f" nsites= {int(nsites[name])} E= 0" if nsites.get(name) is not None else ""
        parts.append(
            f"\nMOTIF {name}{alt}\nletter-probability matrix: alength= 4 w= {len(pfm)}{sites}\n"
            f"{rows}"
        )
    Path(path).write_text("".join(parts))


def _read_matrix_file(path: Path) -> np.ndarray:
    """Read a plain-text matrix: one row of 4 numbers (A C G T) per position."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            values = [float(token) for token in text.split()]
        except ValueError:
            raise ValueError(
                f"{path}, line {number}: expected 4 numbers (A C G T), got {text!r}"
            ) from None
        if len(values) != 4:
            raise ValueError(
                f"{path}, line {number}: expected 4 numbers (A C G T), got {len(values)}"
            )
        rows.append(values)
    if not rows:
        raise ValueError(f"{path}: empty motif file")
    return _check_pfm(rows, str(path))


@functools.lru_cache(maxsize=4)
def _jaspar_db(release: str | None) -> Any:
    jaspardb = import_optional("pyjaspar", "motifs", "JASPAR motifs").jaspardb
    return jaspardb() if release is None else jaspardb(release=release)


def _fetch_jaspar(query: str, release: str | None) -> tuple[str, np.ndarray]:
    """Return ``("MATRIX_ID NAME", pfm)`` for a JASPAR matrix id or TF name."""
    db = _jaspar_db(release)
    if _JASPAR_ID.fullmatch(query):
        motif = db.fetch_motif_by_id(query)
        if motif is None:
            raise ValueError(f"JASPAR ({db.release}) has no matrix {query!r}")
    else:
        with warnings.catch_warnings():
            # pyjaspar warns on an empty result; the ValueError below says more.
            warnings.simplefilter("ignore")
            found = db.fetch_motifs_by_name(query)
        hits = [m for m in found if m.name.upper() == query.upper()]
        if not hits:
            raise ValueError(
                f"{query!r} is neither an existing file nor a TF name in JASPAR ({db.release})"
            )
        vertebrate = [m for m in hits if m.tax_group == "vertebrates"]
        # Several profiles can share a name (CTCF: MA0139, MA1929, MA1930); the
        # oldest vertebrate one is the canonical profile.
        motif = min(vertebrate or hits, key=lambda m: m.matrix_id)
    counts = np.array([motif.counts[base] for base in ALPHABET], dtype=float).T
    return f"{motif.matrix_id} {motif.name}", _check_pfm(counts, f"JASPAR {motif.matrix_id}")


def _load_named(source: MotifSource, release: str | None) -> dict[str, np.ndarray]:
    """Load one source; a MEME file may yield several motifs."""
    if isinstance(source, np.ndarray | list | tuple):
        return {"": _check_pfm(source, "motif array")}
    path = Path(source)
    if path.is_file():
        head = path.read_text(encoding="latin-1")[:4096]
        if any(marker in head for marker in _MEME_MARKERS) or re.search(r"^MOTIF ", head, re.M):
            return read_meme_pfms(path)
        return {path.stem: _read_matrix_file(path)}
    if path.exists():
        raise ValueError(f"{path} is a directory, not a motif file")
    text = str(source)
    if os.sep in text or "/" in text or text.lower().endswith((".txt", ".meme")):
        raise FileNotFoundError(f"motif file not found: {text}")
    name, pfm = _fetch_jaspar(text, release)
    return {name: pfm}


def load_motif(source: MotifSource, *, jaspar_release: str | None = None) -> np.ndarray:
    """Load one motif as a PFM of shape ``(L, 4)``.

    Parameters
    ----------
    source : str, path-like, array-like of shape (L, 4)
        Where the motif comes from:

        - an array (probabilities or counts; each row is normalised to sum 1);
        - a JASPAR matrix id such as ``"MA0139.1"`` (``"MA0139"`` gives the
          latest version) or a TF name such as ``"CTCF"`` (exact, case
          insensitive; among several profiles of that name the vertebrate one
          with the lowest matrix id), read offline with ``pyjaspar``;
        - a MEME-format file holding exactly one motif;
        - a plain-text matrix file with one row ``A C G T`` per position (as in
          the paper's TRANSFAC simulation motifs).
    jaspar_release : str, default=None
        JASPAR release for ids and names, e.g. ``"JASPAR2024"``; ``None`` uses
        pyjaspar's default (newest) release.

    Returns
    -------
    pfm : ndarray of shape (L, 4)
        Rows are probability distributions over A, C, G, T.

    Raises
    ------
    ValueError
        If the matrix is malformed, a MEME file holds several motifs (use
        :func:`load_motifs`), or a name or id is not in JASPAR.
    ImportError
        If a JASPAR motif is asked for and pyjaspar is not installed.

    See Also
    --------
    load_motifs : Several motifs, with names.

    Examples
    --------
    >>> from sklearn_deepprune.datasets import load_motif
    >>> load_motif([[8, 0, 2, 0], [0, 0, 0, 5]])
    array([[0.8, 0. , 0.2, 0. ],
           [0. , 0. , 0. , 1. ]])
    """
    motifs = _load_named(source, jaspar_release)
    if len(motifs) != 1:
        raise ValueError(
            f"{source} holds {len(motifs)} motifs ({', '.join(motifs)}); "
            "use load_motifs or read_meme_pfms to get them all"
        )
    return next(iter(motifs.values()))


def _is_one_matrix(source: Any) -> bool:
    """Tell one ``(L, 4)`` matrix from a list of sources."""
    if isinstance(source, np.ndarray):
        return source.ndim == 2
    return (
        isinstance(source, list | tuple)
        and len(source) > 0
        and isinstance(source[0], list | tuple)
        and len(source[0]) > 0
        and isinstance(source[0][0], Real)
    )


def load_motifs(
    sources: MotifSource | Iterable[MotifSource] | Mapping[str, MotifSource],
    *,
    jaspar_release: str | None = None,
) -> dict[str, np.ndarray]:
    """Load several motifs from any mix of sources, keyed by name.

    Parameters
    ----------
    sources : source, list of sources, or mapping of name to source
        Each source as in :func:`load_motif`, except that a MEME file gives all
        its motifs. A single ``(L, 4)`` array or a single string counts as one
        source. Names are the mapping's keys if given; otherwise ``"MA0139.1
        CTCF"`` for JASPAR, the motif id for MEME files, the file stem for
        text matrices and ``"motif_<i>"`` for arrays.
    jaspar_release : str, default=None
        JASPAR release, as in :func:`load_motif`.

    Returns
    -------
    pfms : dict of str to ndarray of shape (L, 4)
        In the order given.

    Raises
    ------
    ValueError
        If two motifs get the same name, no source is given, or a source is
        malformed (see :func:`load_motif`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_deepprune.datasets import load_motifs
    >>> sorted(load_motifs([np.eye(4), np.ones((2, 4))]))
    ['motif_0', 'motif_1']
    """
    if isinstance(sources, Mapping):
        items = [(str(name), source) for name, source in sources.items()]
    else:
        single = isinstance(sources, str | os.PathLike) or _is_one_matrix(sources)
        items = [(None, source) for source in ([sources] if single else sources)]
    pfms: dict[str, np.ndarray] = {}
    for index, (given_name, source) in enumerate(items):
        loaded = _load_named(source, jaspar_release)
        if given_name is not None and len(loaded) != 1:
            raise ValueError(
                f"{source} holds {len(loaded)} motifs; cannot name them all {given_name!r}"
            )
        for name, pfm in loaded.items():
            key = given_name or name or f"motif_{index}"
            if key in pfms:
                raise ValueError(f"two motifs are named {key!r}; pass a mapping to name them")
            pfms[key] = pfm
    if not pfms:
        raise ValueError("no motif given")
    return pfms
