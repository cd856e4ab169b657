"""A genome FASTA opened for random access (pyfaidx), its ``.fai`` index checked first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sklearn_deepprune._optional import import_optional

# How far back from a record's first base its header line is looked for.
_MAX_HEADER = 1 << 16


def _is_plain_gzip(path: Path) -> bool:
    """Whether ``path`` is gzip-compressed without bgzip's blocks (pyfaidx reads only bgzip)."""
    with open(path, "rb") as file:
        head = file.read(18)
    if head[:2] != b"\x1f\x8b":
        return False
    # BGZF: the FEXTRA flag and a 'BC' extra subfield (SAM specification, section 4.1).
    return not (len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC")


def _record_problem(file, size: int, fields: list[str], last: bool) -> str | None:
    """What in ``file`` contradicts one ``.fai`` line (name, length, offset, line bases, width)."""
    name, length, offset, bases, width = fields[0], *map(int, fields[1:5])
    if not 0 < offset <= size:
        return f"{name!r} starts at byte {offset}, past the end of the file ({size} bytes)"
    file.seek(max(offset - _MAX_HEADER, 0))
    before = file.read(offset - max(offset - _MAX_HEADER, 0))
    header = before[before.rfind(b"\n", 0, len(before) - 1) + 1 :].rstrip(b"\r\n")
    words = header[1:].split()
    if not before.endswith(b"\n") or not header.startswith(b">") or not words:
        return f"byte {offset} does not follow the header of {name!r}"
    if words[0] != name.encode():
        return f"the header before byte {offset} is {header[:60].decode(errors='replace')!r}"
    if length == 0:
        return None
    full, rest = divmod(length, bases) if bases else (0, length)
    end = offset + full * width + rest  # just after the record's last base
    if rest == 0 and full:
        end -= width - bases
    file.seek(end - 1)
    tail = file.read(_MAX_HEADER if last else 2)
    if end > size or tail[:1].isspace() or tail[1:2] not in b"\r\n":
        return f"{name!r} ({length} bp in lines of {bases}) does not end at byte {end}"
    if length > bases > 0:
        file.seek(offset + bases)
        if file.read(width - bases) not in (b"\n", b"\r\n"):
            return f"the lines of {name!r} are not {bases} bases long"
    if last and (size - end > len(tail) - 1 or tail[1:].strip()):
        return f"the file goes on after {name!r}, its last record ({size} bytes, not {end})"
    return None


def check_index(path: str | os.PathLike) -> None:
    """Check that ``path``'s ``.fai`` index still describes it, if there is one.

    pyfaidx trusts an index that is newer than its FASTA. A genome rewritten
    (another line width, other records) beside an index touched later would
    then be read at the old offsets: wrong sequences, silently. The file's
    size and the first and last records' headers, line widths and ends are
    compared with the index. A bgzip genome is not checked (its offsets are
    into the uncompressed text).

    Parameters
    ----------
    path : str or path-like
        A plain FASTA file.

    Raises
    ------
    ValueError
        If the index does not match the file, saying how and what to do.
    """
    path = Path(path)
    fai = Path(f"{path}.fai")
    if not fai.is_file() or _is_gzip(path):
        return
    with open(fai, encoding="utf-8", errors="replace") as handle:
        rows = [line.rstrip("\r\n").split("\t") for line in handle if line.strip()]
    size = path.stat().st_size
    problem = None
    if not rows or any(len(row) < 5 or not all(f.isdigit() for f in row[1:5]) for row in rows):
        problem = "it is not a FASTA index"
    else:
        with open(path, "rb") as file:
            for row, last in ((rows[0], len(rows) == 1), (rows[-1], True)):
                problem = problem or _record_problem(file, size, row, last)
    if problem:
        raise ValueError(
            f"{fai} does not match {path} ({problem}): the genome changed after it was "
            f"indexed; delete {fai.name} and it is indexed again"
        )


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(2) == b"\x1f\x8b"


def open_genome(genome: str | os.PathLike) -> Any:
    """Open a genome FASTA for random access with pyfaidx, indexing it on first use.

    Parameters
    ----------
    genome : str or path-like
        A FASTA file, plain or bgzip-compressed (``bgzip genome.fa``; a plain
        gzip file cannot be read at random). Its index (``.fai``, and ``.gzi``
        for bgzip) is written beside it the first time; an existing ``.fai``
        is checked against the file first (:func:`check_index`).

    Returns
    -------
    pyfaidx.Fasta
        Returning upper-case strings.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is gzip but not bgzip, cannot be indexed as FASTA, has two
        records of one name, or has a stale index; if it has no index and its
        folder cannot be written to.
    ImportError
        If pyfaidx (the ``genome`` extra) is missing.
    """
    pyfaidx = import_optional("pyfaidx", "genome", "reading a genome")
    path = Path(genome)
    if not path.is_file():
        raise FileNotFoundError(f"no such genome FASTA: {path}")
    if _is_plain_gzip(path):
        raise ValueError(
            f"{path} is gzip-compressed, which cannot be read at random: decompress it "
            "(gunzip) or compress it with bgzip instead (gunzip -c X.fa.gz | bgzip > X.fa.gz)"
        )
    check_index(path)
    had_index = Path(f"{path}.fai").is_file()
    unwritable = (
        f"{path}: cannot write the index {path}.fai beside the genome (its folder is not "
        "writable); index it once where you may write (samtools faidx), or link the genome "
        "into a writable folder (ln -s GENOME DIR/) and give that path"
    )
    if not had_index and not os.access(path.parent, os.W_OK):
        raise ValueError(unwritable)
    try:
        return pyfaidx.Fasta(str(path), as_raw=True, sequence_always_upper=True)
    except (
        pyfaidx.FastaIndexingError,
        pyfaidx.FetchError,
        UnicodeDecodeError,
        RuntimeError,
    ) as exc:  # pyfaidx raises RuntimeError on some malformed files (blank lines)
        raise ValueError(f"{path}: cannot index it as FASTA ({exc})") from None
    except ValueError as exc:
        if str(exc).startswith("Duplicate key"):
            name = str(exc).removeprefix("Duplicate key").strip().strip('"')
            raise ValueError(
                f"{path}: the record name {name!r} occurs more than once; each chromosome "
                "must have one record"
            ) from None
        raise
    except OSError:
        if had_index:
            raise
        raise ValueError(unwritable) from None
