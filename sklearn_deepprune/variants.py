"""Which variants change binding, and through which motif: score_variants and plot_variant.

A variant is scored by the model on two windows of the model's input length,
one holding the REF allele and one the ALT allele, both centred on their
allele and filled out with the genome around it. The score is the change of
the logit, ``logit_alt - logit_ref``; because the network is a few motif
kernels, a global max pool and a dense layer, the change is the sum of the
kernels' changes in contribution (dense weight times the kernel's activated
maximum), and the kernel whose contribution changes most names the motif the
variant breaks or creates.

The REF window is scanned in full and the ALT window only at the
``kernel_size`` positions (per changed base) whose window holds a changed
base; the other window scores are the REF ones (the compiled scan of
:mod:`sklearn_deepprune._variantscan`, with numba; without it both windows
are scanned with :func:`torch.nn.functional.conv1d`).
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from torch.nn import functional as F

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.classifier import DeepPruneClassifier
from sklearn_deepprune.encoding import ALPHABET, SequenceOneHotEncoder
from sklearn_deepprune.network import MotifScanNet, activate, same_padding, soft_max_pool

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["plot_variant", "score_variants"]

#: What ``on_ref_mismatch`` may say.
ON_REF_MISMATCH = ("flag", "skip", "error")

# Base codes of the windows: A, C, G, T, then N (filled as the encoder fills
# N), then the all-zero 'same' padding of the scan (outside the window).
_N, _PAD = 4, 5
_CODES = np.full(256, 255, dtype=np.uint8)
for _code, _letter in enumerate(ALPHABET + "N"):
    _CODES[ord(_letter)] = _CODES[ord(_letter.lower())] = _code
# Genome and sequence letters: anything but A, C, G, T is read as N, as when peaks are read.
_GENOME_CODES = np.where(_CODES < _N, _CODES, _N).astype(np.uint8)
# The letters a sequence of sequence input may hold (IUPAC codes).
_IUPAC = np.zeros(256, dtype=bool)
for _letter in "ACGTNURYSWKMBDHV":
    _IUPAC[ord(_letter)] = _IUPAC[ord(_letter.lower())] = True
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
_STRANDS = np.array(["+", "-"], dtype=object)

# ALT alleles that are not sequence: missing, the spanning deletion, symbolic, breakends.
_MISSING_ALTS = frozenset({"", ".", "*"})

# Windows of one chromosome closer than this (bp) are fetched from the genome at once.
_FETCH_GAP = 1000

# A best match of a kernel in matches.tsv names it if its q-value is at most
# this (Tomtom's default reporting threshold).
_MATCH_Q_VALUE = 0.5

# Whether the compiled scan may be used (tests switch it off to reach the torch path).
_USE_NUMBA = True

_LOCATION = {"genome": ["chrom", "pos"], "sequence": ["sequence", "position"]}
_SCORE_COLUMNS = [
    "id",
    "ref",
    "alt",
    "ref_match",
    "prob_ref",
    "prob_alt",
    "logit_ref",
    "logit_alt",
    "logit_diff",
    "kernel",
    "motif",
    "kernel_diff",
    "site_ref",
    "strand_ref",
    "site_alt",
    "strand_alt",
    "filled_n",
]


# -- the model -------------------------------------------------------------------------------


@dataclass
class _Model:
    """What scoring needs of a fitted model."""

    classifier: DeepPruneClassifier
    module: MotifScanNet
    length: int
    n_fill: float  # what an N column holds in each channel: 0.25 or 0
    names: list[str | None]
    weight: torch.Tensor = field(init=False)  # scanned kernels (S * K, 4, w), CPU
    bias: torch.Tensor = field(init=False)
    table: Any = None  # the compiled scan's look-up table and group, once built

    def __post_init__(self):
        with torch.no_grad():
            weight, bias = self.module._scan_parameters()
            self.weight = weight.detach().cpu().clone()
            self.bias = bias.detach().cpu().clone()

    @property
    def n_kernels(self) -> int:
        return self.module.n_kernels

    @property
    def kernel_size(self) -> int:
        return self.module.kernel_size


def _load_model(model: Any, window: int | None, motif_names: Any) -> _Model:
    """Resolve a pipeline, classifier, model file or fit folder into a :class:`_Model`."""
    names_file = None
    if isinstance(model, (str, os.PathLike)):
        from sklearn_deepprune.persistence import load_model

        path = Path(model)
        if path.is_dir():
            if not (path / "model.deepprune").is_file():
                raise ValueError(
                    f"{path} holds no model.deepprune (the model file 'deepprune fit' writes)"
                )
            names_file = path / "matches.tsv" if (path / "matches.tsv").is_file() else None
            path = path / "model.deepprune"
        model = load_model(path, device="cpu")
    coder = None
    classifier = model
    if isinstance(model, Pipeline):
        steps = [step for _, step in model.steps]
        if len(steps) == 2 and isinstance(steps[0], SequenceOneHotEncoder):
            coder, classifier = steps
        elif len(steps) == 1:
            classifier = steps[0]
        else:
            raise TypeError(
                "score_variants needs a DeepPruneClassifier or a pipeline SequenceOneHotEncoder "
                f"-> DeepPruneClassifier; got a pipeline of "
                f"{', '.join(type(step).__name__ for step in steps)}"
            )
    if not isinstance(classifier, DeepPruneClassifier):
        raise TypeError(
            "score_variants needs a fitted DeepPruneClassifier, a pipeline ending in one, a "
            f"model file or a 'deepprune fit' folder; got {type(classifier).__name__}"
        )
    check_is_fitted(classifier)
    module = classifier.net_.module_
    if module.in_channels != len(ALPHABET):
        raise ValueError(
            f"score_variants needs a model of one-hot DNA ({len(ALPHABET)} channels); this "
            f"one reads {module.in_channels}"
        )
    if coder is not None:
        check_is_fitted(coder)
    if window is None:
        if coder is None:
            raise ValueError(
                "a bare DeepPruneClassifier does not know its input length: pass window= (the "
                "length of the sequences it was trained on) or the fitted pipeline"
            )
        window = int(coder.length_)
    if int(window) != window or window < 1:
        raise ValueError(f"window must be a positive integer; got {window!r}")
    n_fill = 0.25 if coder is None or coder.unknown == "uniform" else 0.0
    n_kernels = module.n_kernels
    if motif_names is None and names_file is not None:
        motif_names = _matched_names(names_file, n_kernels)
    if motif_names is None:
        names: list[str | None] = [None] * n_kernels
    elif isinstance(motif_names, Mapping):
        names = [motif_names.get(k) for k in range(n_kernels)]
    else:
        names = list(motif_names)
        if len(names) != n_kernels:
            raise ValueError(
                f"motif_names must name each of the {n_kernels} kernels; got {len(names)} names"
            )
    return _Model(classifier, module, int(window), n_fill, names)


def _matched_names(path: Path, n_kernels: int) -> list[str | None]:
    """Each kernel's JASPAR match in a fit folder's ``matches.tsv``, where one is significant."""
    pd = import_optional("pandas", "genome", "score_variants")
    try:
        table = pd.read_csv(path, sep="\t")
        best = table.drop_duplicates("query").set_index("query")
    except (ValueError, KeyError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path}: not a table of motif matches ({exc})") from None
    names: list[str | None] = []
    for k in range(n_kernels):
        name = None
        if f"kernel_{k}" in best.index:
            row = best.loc[f"kernel_{k}"]
            if "q_value" not in row or row["q_value"] <= _MATCH_Q_VALUE:
                target, name_part = str(row["target_id"]), str(row.get("target_name", ""))
                name = target if name_part in ("", target) else f"{name_part} ({target})"
        names.append(name)
    return names


# -- the variants, in batches ----------------------------------------------------------------


@dataclass
class _Records:
    """A batch of input records, one or more ALT alleles each."""

    chrom: list  # chromosome names, or sequence labels
    pos0: np.ndarray  # 0-based position of REF's first base
    ids: list
    ref: list
    alts: list | np.ndarray  # tuples of ALT alleles (None: missing); or one ALT each (str)
    where: Callable[[int], str]  # record index -> "file, line N" or "row N"
    sequences: list | None = None  # the sequences of sequence input
    pos_out: Any = None  # the location column as given (pos or position)
    alt_sequence: np.ndarray | None = None  # with one ALT each: whether it is bases


def _read_vcf(path: Path, batch_size: int) -> Iterator[_Records]:
    """Batches of a VCF/BCF file (plain or bgzipped).

    pysam opens the file (and checks its header); a text VCF's plain lines
    are then read by :func:`_text_batches`, anything else record by record by
    pysam.
    """
    pysam = import_optional("pysam", "genome", "reading a VCF")
    if not path.is_file():
        raise FileNotFoundError(f"no such VCF file: {path}")
    verbosity = pysam.set_verbosity(0)  # htslib's own messages; ours name the line
    try:
        try:
            handle = pysam.VariantFile(str(path))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a VCF or BCF file ({exc})") from None
        with handle:
            n_header = None if handle.is_bcf else _header_lines(path)

            def where(number: int) -> str:
                """Where record ``number`` (1-based) is."""
                if n_header is None:
                    return f"{path}, record {number}"
                return f"{path}, line {n_header + number}"

            done = 0
            if n_header is not None:
                try:
                    for batch in _text_batches(path, n_header, batch_size, where):
                        yield batch
                        done += len(batch.ref)
                    return
                except _Unusual:  # pysam reads on from there, as it reads any record
                    pass
            records = iter(handle)
            for _ in itertools.islice(records, done):  # those the text reader gave
                pass
            while True:
                chrom, pos, ids, ref, alts = [], [], [], [], []
                try:
                    for record in itertools.islice(records, batch_size):
                        chrom.append(record.chrom)
                        pos.append(record.pos)
                        ids.append(record.id)
                        ref.append(record.ref)
                        alts.append(record.alts)
                except (OSError, ValueError) as exc:
                    number = done + len(chrom) + 1
                    shown = "" if n_header is None else _line_text(path, n_header + number)
                    raise ValueError(
                        f"{where(number)}: cannot read this VCF record{shown} ({exc})"
                    ) from None
                if not chrom:
                    return
                start = done
                done += len(chrom)
                yield _Records(
                    chrom,
                    np.asarray(pos, dtype=np.int64) - 1,
                    ids,
                    ref,
                    alts,
                    lambda i, start=start: where(start + i + 1),
                    pos_out=pos,
                )
    finally:
        pysam.set_verbosity(verbosity)


class _Unusual(Exception):
    """A record the text reader of :func:`_text_batches` leaves to pysam."""


# Decompressed bytes of a VCF read at a time by the text reader.
_READ_BYTES = 1 << 22

# Fields longer than this are cut out one by one instead of through a (rows, width) block.
_WIDE_FIELD = 64


def _text_batches(
    path: Path, n_header: int, batch_size: int, where: Callable[[int], str]
) -> Iterator[_Records]:
    """Batches of a text VCF (plain or bgzipped), its columns CHROM to ALT cut out at once.

    Reading record by record through pysam costs more than the scoring; a
    batch of plain lines is read here in a few array operations instead, with
    the values pysam gives for them. A line that is not plain (fewer than 8
    fields, an empty field, a POS that is not digits, non-ASCII bytes, a
    CHROM starting with ``#``, an empty ALT allele) raises :class:`_Unusual`
    before its batch is given, and pysam reads on from that batch (and says
    what is wrong, if anything is).
    """
    done, skip, pending = 0, n_header, b""
    with _open_text(path, binary=True) as handle:
        while True:
            chunk = handle.read(_READ_BYTES)
            data = pending + chunk if pending else chunk
            if not chunk and data and not data.endswith(b"\n"):
                data += b"\n"
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            start = 0
            if skip:  # the header lines
                k = min(skip, len(ends))
                start = int(ends[k - 1]) + 1 if k else 0
                skip -= k
                ends = ends[k:]
            # Whole batches; the rest waits for the next chunk, unless there is none.
            n_whole = len(ends) if not chunk else len(ends) // batch_size * batch_size
            for first in range(0, n_whole, batch_size):
                stop = int(ends[min(first + batch_size, n_whole) - 1]) + 1
                yield _parse_lines(data[start:stop], done, where)
                done += min(batch_size, n_whole - first)
                start = stop
            if not chunk:
                return
            pending = data[start:]


def _parse_lines(blob: bytes, done: int, where: Callable[[int], str]) -> _Records:
    """The records of ``blob``, whole VCF lines from record ``done + 1`` (see _text_batches)."""
    b = np.frombuffer(blob, dtype=np.uint8)
    ends = np.flatnonzero(b == 10)
    starts = np.zeros(len(ends), dtype=np.int64)
    starts[1:] = ends[:-1] + 1
    if (b >= 128).any() or (b == 0).any() or (b[starts] == ord("#")).any():
        raise _Unusual
    tabs = np.flatnonzero(b == 9)
    first = np.searchsorted(tabs, starts)
    if (first + 6 >= len(tabs)).any() or (
        tabs[np.minimum(first + 6, len(tabs) - 1)] >= ends
    ).any():
        raise _Unusual  # fewer than the 8 fixed fields
    cut = [tabs[first + j] for j in range(5)]
    lo = [starts] + [c + 1 for c in cut[:4]]  # CHROM, POS, ID, REF, ALT
    hi = cut
    if any((end <= begin).any() for begin, end in zip(lo, hi, strict=True)):
        raise _Unusual
    pos = _parse_digits(b, lo[1], hi[1])
    ids, ref, alt = (_strings(blob, b, lo[j], hi[j]) for j in (2, 3, 4))
    # CHROM: the same name in long runs (a sorted VCF); each run's name is read once.
    same = np.zeros(len(starts), dtype=bool)
    lengths = hi[0] - lo[0]
    same[1:] = lengths[1:] == lengths[:-1]
    for step in range(int(lengths.max(initial=0))):
        same[1:] &= (
            b[np.minimum(lo[0][1:] + step, hi[0][1:] - 1)]
            == b[np.minimum(lo[0][:-1] + step, hi[0][:-1] - 1)]
        )
    heads = np.flatnonzero(~same)
    names = _strings(blob, b, lo[0][heads], hi[0][heads])
    chrom = names[np.cumsum(~same) - 1]
    ids[(hi[2] - lo[2] == 1) & (b[lo[2]] == ord("."))] = None
    # ALT: one allele each (the usual case), or several, or missing (.).
    commas = np.concatenate([[0], np.cumsum(b == ord(","))])
    several = commas[hi[4]] > commas[lo[4]]
    missing = (hi[4] - lo[4] == 1) & (b[lo[4]] == ord("."))
    alt_sequence = None
    if several.any() or missing.any():
        edges = (b[lo[4]] == ord(",")) | (b[hi[4] - 1] == ord(","))
        doubled = np.concatenate([[0], np.cumsum((b[:-1] == ord(",")) & (b[1:] == ord(",")))])
        if (edges | (doubled[hi[4] - 1] > doubled[lo[4]])).any():
            raise _Unusual  # an empty ALT allele: as pysam reads it
        alts: Any = [None if a == "." else tuple(a.split(",")) for a in alt.tolist()]
    else:
        brackets = np.concatenate([[0], np.cumsum((b == ord("[")) | (b == ord("]")))])
        alt_sequence = ~(
            ((hi[4] - lo[4] == 1) & (b[lo[4]] == ord("*")))
            | (b[lo[4]] == ord("<"))
            | (brackets[hi[4]] > brackets[lo[4]])
        )
        alts = alt
    return _Records(
        chrom,
        pos - 1,
        ids,
        ref,
        alts,
        lambda i: where(done + i + 1),
        pos_out=pos,
        alt_sequence=alt_sequence,
    )


def _parse_digits(b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The integers written in ``b[lo:hi]`` (digits only, or :class:`_Unusual`)."""
    digits = hi - lo
    width = int(digits.max(initial=1))
    if width > 18:
        raise _Unusual
    columns = np.arange(width)
    index = hi[:, np.newaxis] - width + columns
    inside = columns >= (width - digits)[:, np.newaxis]
    values = b[np.where(inside, index, 0)].astype(np.int64) - ord("0")
    if ((values < 0) | (values > 9))[inside].any():
        raise _Unusual
    return (np.where(inside, values, 0) * 10 ** (width - 1 - columns)).sum(axis=1)


_ASCII = np.array([chr(i) for i in range(128)], dtype=object)


def _strings(blob: bytes, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``blob[lo:hi]`` of each row as ``str``, in an object array."""
    lengths = hi - lo
    width = int(lengths.max(initial=1))
    if width == 1:  # SNV alleles: one of 128 strings each
        return _ASCII[b[lo]]
    if width > _WIDE_FIELD:
        out = np.empty(len(lo), dtype=object)
        out[:] = [blob[a:z].decode("ascii") for a, z in zip(lo.tolist(), hi.tolist(), strict=True)]
        return out
    columns = np.arange(width)
    index = lo[:, np.newaxis] + columns
    block = np.where(columns < lengths[:, np.newaxis], b[np.minimum(index, len(b) - 1)], 0)
    return block.astype(np.uint8).view(f"S{width}")[:, 0].astype("U").astype(object)


def _open_text(path: Path, binary: bool = False):
    """A text (or ``binary``) handle on a plain or gzipped (bgzipped) file."""
    import gzip

    with open(path, "rb") as raw:
        zipped = raw.read(2) == b"\x1f\x8b"
    if binary:
        return gzip.open(path, "rb") if zipped else open(path, "rb")
    return gzip.open(path, "rt", errors="replace") if zipped else open(path, errors="replace")


def _header_lines(path: Path) -> int:
    """The number of header lines (``#...``) at the top of a VCF text file."""
    count = 0
    with _open_text(path) as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def _line_text(path: Path, number: int) -> str:
    """`` 'LINE'`` of a text file's line ``number`` (plain or gzipped), for an error."""
    try:
        with _open_text(path) as handle:
            line = next(itertools.islice(handle, number - 1, None), "")
    except (OSError, EOFError):
        return ""
    line = line.rstrip("\n")
    return f" {line[:80]!r}" if line else ""


def _read_frame(frame: pd.DataFrame, kind: str, batch_size: int) -> Iterator[_Records]:
    """Batches of a DataFrame of coordinates (``kind="genome"``) or of sequences."""
    location = _LOCATION[kind][0], ("pos" if kind == "genome" else "position")
    columns = [*location, "ref", "alt"]
    labels = frame.index.tolist()
    for first in range(0, len(frame), batch_size):
        part = frame.iloc[first : first + batch_size]
        values = {name: part[name].tolist() for name in columns}
        where = lambda i, first=first: f"row {labels[first + i]!r}"  # noqa: E731
        try:
            given = np.asarray(values[location[1]], dtype=np.float64)
        except (TypeError, ValueError):
            given = None
        if given is None or not np.all(np.isfinite(given)) or np.any(given != np.round(given)):
            bad = next(
                i
                for i, v in enumerate(values[location[1]])
                if not isinstance(v, (int, np.integer, float, np.floating))
                or not np.isfinite(v)
                or v != int(v)
            )
            raise ValueError(
                f"{where(bad)}: {location[1]} must be an integer; got {values[location[1]][bad]!r}"
            )
        pos0 = given.astype(np.int64) - (1 if kind == "genome" else 0)
        refs = values["ref"]
        for i, value in enumerate(refs):
            if not isinstance(value, str):
                raise ValueError(f"{where(i)}: ref must be a string of bases; got {value!r}")
        alts = [
            tuple(str(value).split(",")) if isinstance(value, str) else None
            for value in values["alt"]
        ]
        ids = part["id"].tolist() if "id" in part.columns else [None] * len(part)
        sequences = None
        chrom = values[location[0]]
        if kind == "sequence":
            sequences = chrom
            for i, value in enumerate(sequences):
                if not isinstance(value, str):
                    raise ValueError(f"{where(i)}: sequence must be a string; got {value!r}")
            chrom = labels[first : first + batch_size]
        yield _Records(
            [str(c) for c in chrom] if kind == "genome" else chrom,
            pos0,
            ids,
            refs,
            alts,
            where,
            sequences,
            values[location[1]],
        )


# -- the genome ------------------------------------------------------------------------------


class _Genome:
    """Chromosome lengths, name reconciliation and batched fetches of a FASTA."""

    def __init__(self, genome: str | os.PathLike):
        from sklearn_deepprune.datasets._peaks import _chrom_sizes, open_genome

        self.path = Path(genome)
        self.fasta = open_genome(genome)
        self.sizes = _chrom_sizes(self.fasta)
        self.resolved: dict[str, str | None] = {}
        self.renamed: dict[str, str] = {}

    def name(self, chrom: str) -> str | None:
        """The genome's name of ``chrom`` (``1`` for ``chr1``, ``MT`` for ``chrM``...), or None."""
        if chrom in self.resolved:
            return self.resolved[chrom]
        found = None
        if chrom in self.sizes:
            found = chrom
        else:
            bare = chrom[3:] if chrom.lower().startswith("chr") else chrom
            candidates = [bare, f"chr{bare}"]
            if bare.upper() in ("M", "MT"):
                candidates += ["chrM", "MT", "M", "chrMT"]
            found = next((c for c in candidates if c in self.sizes), None)
            if found is not None:
                self.renamed[chrom] = found
        self.resolved[chrom] = found
        return found

    def fetch(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base codes of ``[start, end)`` of ``chrom`` (inside it)."""
        text = self.fasta.get_seq(chrom, start + 1, end)
        text = text if isinstance(text, str) else text.seq
        return _GENOME_CODES[np.frombuffer(text.encode("latin-1"), dtype=np.uint8)]


def _gather(
    source: _Genome | None,
    records: _Records,
    rows: np.ndarray,
    chrom: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One buffer of base codes holding ``[lo, hi)`` of each row's chromosome (or sequence).

    Returns ``(buffer, origin)``: position ``x`` of row ``r``'s chromosome is
    ``buffer[origin[r] + x]``.
    """
    origin = np.zeros(len(rows), dtype=np.int64)
    if source is None:  # sequence input: the record's sequence plays the genome
        texts = [records.sequences[r] for r in rows.tolist()]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        origin[1:] = np.cumsum(lengths)[:-1]
        raw = np.frombuffer("".join(texts).encode("latin-1", errors="replace"), dtype=np.uint8)
        if not _IUPAC[raw].all():
            at = int(np.flatnonzero(~_IUPAC[raw])[0])
            row = int(np.searchsorted(origin, at, side="right")) - 1
            raise ValueError(
                f"{records.where(rows[row])}: the sequence holds {chr(raw[at])!r} at position "
                f"{at - origin[row]}, which is not a DNA (IUPAC) code"
            )
        return _GENOME_CODES[raw], origin
    parts, size = [], 0
    pd = import_optional("pandas", "genome", "score_variants")
    which, names = pd.factorize(chrom)  # hashing, not sorting and comparing strings
    for code, name in enumerate(names):
        members = np.flatnonzero(which == code)
        order = members[np.argsort(lo[members], kind="stable")]
        reach = np.maximum.accumulate(hi[order])
        breaks = np.flatnonzero(lo[order][1:] > reach[:-1] + _FETCH_GAP) + 1
        for group in np.split(order, breaks):
            start, end = int(lo[group].min()), int(hi[group].max())
            codes = source.fetch(str(name), start, end)
            parts.append(codes)
            origin[group] = size - start
            size += len(codes)
    buffer = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
    return buffer, origin


def _allele_codes(alleles: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes of alleles in one buffer: ``(buffer, offsets, lengths, valid)``.

    ``valid`` says which alleles are non-empty and only A, C, G, T or N.
    """
    lengths = np.fromiter(map(len, alleles), dtype=np.int64, count=len(alleles))
    offsets = np.zeros(len(alleles), dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)[:-1]
    raw = "".join(alleles).encode("latin-1", errors="replace")
    buffer = _CODES[np.frombuffer(raw, dtype=np.uint8)] if raw else np.zeros(0, np.uint8)
    bad = np.concatenate([[0], np.cumsum(buffer == 255)])
    valid = (lengths > 0) & (bad[offsets + lengths] == bad[offsets])
    return buffer, offsets, lengths, valid


def _window_codes(
    length: int,
    pos0: np.ndarray,
    ref_length: np.ndarray,
    genome: tuple[np.ndarray, np.ndarray, np.ndarray],
    allele: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Base codes ``(n, length)`` of each row's window holding an allele, centred on it.

    The allele (``buffer, offsets, lengths``) replaces REF (``ref_length``
    bases from ``pos0``); the window is the allele's middle base at index
    ``length // 2``, the genome's bases (``buffer, origin, chromosome
    length``) around it, N past a chromosome end.
    """
    fast = _fast_scan()
    if fast is not None:
        return fast.window_codes(length, pos0, ref_length, genome, allele)
    buffer, origin, size = genome
    codes, offsets, lengths = allele
    # x: coordinates along the allele's sequence (genome left of pos0, then the allele).
    x = (pos0 + lengths // 2 - length // 2)[:, np.newaxis] + np.arange(length)
    inside = x - pos0[:, np.newaxis]
    in_allele = (inside >= 0) & (inside < lengths[:, np.newaxis])
    genome_x = np.where(inside < 0, x, x + (ref_length - lengths)[:, np.newaxis])
    on_genome = ~in_allele & (genome_x >= 0) & (genome_x < size[:, np.newaxis])
    out = np.full(x.shape, _N, dtype=np.uint8)
    out[on_genome] = buffer[(origin[:, np.newaxis] + genome_x)[on_genome]]
    out[in_allele] = codes[(offsets[:, np.newaxis] + inside)[in_allele]]
    return out


# -- the scan and the head -------------------------------------------------------------------


def _fast_scan():
    """The compiled scan (:mod:`sklearn_deepprune._variantscan`), or None without numba."""
    if not _USE_NUMBA:
        return None
    try:
        from sklearn_deepprune import _variantscan
    except ImportError:
        return None
    return _variantscan


def _scan(model: _Model, ref: np.ndarray, alt: np.ndarray, n_threads: int = 1):
    """Each scanned kernel's best score and its first position, and the mean activations.

    Returns ``ref_best, ref_pos, alt_best, alt_pos`` of shape ``(n, S * K)``
    (pre-activation maxima over positions; forward kernels, then reverse
    ones) and ``ref_mean, alt_mean`` of shape ``(n, K)`` (each kernel's mean
    activation over positions, the better strand at each; only computed for
    ``pooling="max_avg"``; for ``pooling="lse"`` each kernel's soft maximum
    over positions instead, both windows scanned whole; else None).
    """
    module = model.module
    weight, bias = model.weight, model.bias
    pools = _pools(module)
    with_mean = pools == ("max", "mean")
    fast = _fast_scan()
    if fast is not None and weight.dtype in (torch.float32, torch.float64):
        from sklearn_deepprune._fastscan import lookup_table
        from sklearn_deepprune.network import ACTIVATIONS, LEAKY_CAP, LEAKY_SLOPE, _group_size

        if model.table is None:
            n_column = weight.sum(dim=1, keepdim=True) * model.n_fill
            extended = torch.cat([weight, n_column], dim=1).numpy()
            group = _group_size(5, model.kernel_size)
            table, finite = lookup_table(extended, bias.numpy(), group)
            model.table = (table, group) if finite else False
        if model.table:
            table, group = model.table
            mean = (ACTIVATIONS.index(module.activation), LEAKY_SLOPE, LEAKY_CAP)
            out = fast.scan_pairs(
                ref,
                alt,
                table,
                model.kernel_size,
                group,
                module.n_strands,
                mean if with_mean else None,
                n_threads,
            )
            if pools == ("lse",):  # the soft maximum reads every window: both scanned whole
                from sklearn_deepprune._fastscan import scan_soft_max

                sharpness = module.log_sharpness.detach().exp().numpy().astype(table.dtype)
                soft = [
                    scan_soft_max(
                        codes, table, 5, model.kernel_size, group, module.n_strands,
                        *mean, sharpness, n_threads,
                    )[0]
                    for codes in (ref, alt)
                ]  # fmt: skip
                return out[:4] + tuple(soft)
            return out[:4] + ((out[4], out[5]) if with_mean else (None, None))
    out, means = [], []
    for codes in (ref, alt):
        X = _one_hot(codes, model.n_fill, weight.dtype)
        with torch.no_grad():
            raw = F.conv1d(F.pad(X, same_padding(model.kernel_size)), weight, bias)
            if with_mean or pools == ("lse",):
                per_strand = raw.view(len(X), module.n_strands, module.n_kernels, raw.shape[-1])
                activations = activate(per_strand.amax(dim=1), module.activation)
                if with_mean:
                    means.append(activations.mean(2).numpy())
                else:
                    sharpness = module.log_sharpness.detach().to(activations.dtype)
                    means.append(soft_max_pool(activations, sharpness).numpy())
        raw = raw.numpy()
        position = raw.argmax(axis=2)
        out += [np.take_along_axis(raw, position[:, :, np.newaxis], 2)[:, :, 0], position]
    return tuple(out) + (tuple(means) if means else (None, None))


def _one_hot(codes: np.ndarray, n_fill: float, dtype=torch.float32) -> torch.Tensor:
    """One-hot ``(n, 4, L)`` of base codes, N as the encoder fills it."""
    table = np.zeros((_PAD + 1, len(ALPHABET)), dtype=np.float32)
    table[np.arange(4), np.arange(4)] = 1.0
    table[_N] = n_fill
    return torch.from_numpy(np.ascontiguousarray(table[codes].transpose(0, 2, 1))).to(dtype)


def _pools(module: MotifScanNet) -> tuple[str, ...]:
    """What the dense layer reads of each kernel, in the order of its weights."""
    pooling = getattr(module, "pooling", "max")
    if pooling == "max":
        return ("max",)
    if pooling == "max_avg":
        return ("max", "mean")
    if pooling == "lse":
        return ("lse",)
    raise ValueError(f"score_variants cannot score a model with pooling={pooling!r}")


def _head(
    module: MotifScanNet, best: np.ndarray, mean: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each kernel's contribution to the logit, and the logit, from the pooled scan.

    ``best`` is the maximum over positions of each scanned kernel ``(n, S * K)``
    (forward kernels, then reverse ones), as the network's max pool sees it;
    ``mean`` each kernel's mean activation ``(n, K)``, for the pooling that
    also reads it (for ``pooling="lse"``, the soft maximum that replaces the
    activated maximum). The network's own operations follow: the maximum over
    strands, the activation and the dense layer. A kernel's contribution is
    the sum of its dense weights times what they read of it (its activated
    maximum, and its mean activation), the logit the sum of the
    contributions plus the bias. Another pooling must be added here and in
    :func:`_pools` (the tests check these logits against ``decision_function``).

    Returns
    -------
    contributions : ndarray of shape (n, K), float64
    logits : ndarray of shape (n,), float64
    """
    pools = _pools(module)
    n, n_kernels = len(best), module.n_kernels
    raw = torch.from_numpy(np.ascontiguousarray(best)).view(n, module.n_strands, n_kernels)
    dense_weight = module.dense.weight.detach().cpu()
    dense_bias = module.dense.bias.detach().cpu()
    with torch.no_grad():
        if pools == ("lse",):  # the soft maximum, computed by the scan
            features = [torch.from_numpy(np.ascontiguousarray(mean)).to(dense_weight.dtype)]
        else:
            features = [activate(raw.amax(dim=1).to(dense_weight.dtype), module.activation)]
        if "mean" in pools:
            features.append(torch.from_numpy(np.ascontiguousarray(mean)).to(dense_weight.dtype))
        features = torch.cat(features, dim=1)
        logits = F.linear(features, dense_weight, dense_bias)[:, 0]
        weighted = (features * dense_weight[0]).view(n, len(pools), n_kernels)
        contributions = weighted.sum(dim=1)
    return contributions.numpy().astype(np.float64), logits.numpy().astype(np.float64)


def _best_sites(module: MotifScanNet, best: np.ndarray, position: np.ndarray):
    """Each kernel's best strand (0 forward; ties go to it) and position ``(n, K)``."""
    n, n_kernels = len(best), module.n_kernels
    best = best.reshape(n, module.n_strands, n_kernels)
    strand = best.argmax(axis=1)
    position = position.reshape(n, module.n_strands, n_kernels)
    return strand, np.take_along_axis(position, strand[:, np.newaxis], 1)[:, 0]


# -- one batch -------------------------------------------------------------------------------


@dataclass
class _Counts:
    """How often each edge case was met, and where first."""

    counts: dict = field(default_factory=dict)

    def add(self, kind: str, n: int, where: str) -> None:
        if n:
            count, first = self.counts.get(kind, (0, where))
            self.counts[kind] = (count + n, first)


_MESSAGES = {
    "multiallelic": "{n} multi-allelic record(s) gave one row per ALT allele (first at {first})",
    "symbolic": "skipped {n} symbolic or missing ALT allele(s) (<DEL>, *, ., breakends; first "
    "at {first})",
    "not_dna": "skipped {n} allele(s) that are not DNA (A, C, G, T, N; first at {first})",
    "unknown_chrom": "skipped {n} variant(s) on chromosomes that are not in the genome (first "
    "at {first})",
    "off_chrom": "skipped {n} variant(s) whose REF runs past the end of its chromosome or "
    "sequence (first at {first})",
    "ref_mismatch_flag": "{n} REF allele(s) do not match the genome (first at {first}): "
    "flagged ref_match=False and scored as given",
    "ref_mismatch_skip": "skipped {n} variant(s) whose REF does not match the genome (first "
    "at {first})",
    "filled": "{n} window(s) run past a chromosome end or through N (first at {first}): filled "
    "as the encoder fills N and counted in column filled_n",
}


def _take(values: list, rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` as an object array."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array[rows]


def _alt_rows(records: _Records, counts: _Counts) -> tuple[np.ndarray, np.ndarray]:
    """One row per ALT allele that is sequence: the record of each, and the alleles."""
    alts = records.alts
    if isinstance(alts, np.ndarray):  # one ALT each, read by the text reader
        sequence = records.alt_sequence
        for i in np.flatnonzero(~sequence)[:1]:
            counts.add("symbolic", int((~sequence).sum()), records.where(i))
        rows = np.flatnonzero(sequence)
        return rows, alts[rows]
    if all(a is not None and len(a) == 1 for a in alts):  # the usual case: one ALT each
        alleles = np.empty(len(alts), dtype=object)
        alleles[:] = [a[0] for a in alts]
        sequence = np.fromiter(map(_is_sequence, alleles), dtype=bool, count=len(alleles))
        for i in np.flatnonzero(~sequence)[:1]:
            counts.add("symbolic", int((~sequence).sum()), records.where(i))
        rows = np.flatnonzero(sequence)
        return rows, alleles[rows]
    rows, alleles = [], []
    for i, record_alts in enumerate(alts):
        if record_alts is None or len(record_alts) == 0:
            counts.add("symbolic", 1, records.where(i))
            continue
        if len(record_alts) > 1:
            counts.add("multiallelic", 1, records.where(i))
        for allele in record_alts:
            if not _is_sequence(allele):
                counts.add("symbolic", 1, records.where(i))
                continue
            rows.append(i)
            alleles.append(allele)
    out = np.empty(len(alleles), dtype=object)
    out[:] = alleles
    return np.asarray(rows, dtype=np.int64), out


def _is_sequence(allele: str | None) -> bool:
    """Whether an ALT allele is bases: not missing, ``*``, symbolic or a breakend."""
    return not (
        allele is None
        or allele in _MISSING_ALTS
        or allele[0] == "<"
        or "[" in allele
        or "]" in allele
    )


@dataclass
class _Prepared:
    """A batch's rows to score (one per kept ALT allele) and their windows."""

    records: _Records
    rows: np.ndarray  # the record of each row
    refs: np.ndarray
    alts: np.ndarray
    ref_match: np.ndarray
    lengths: tuple[np.ndarray, np.ndarray]  # of REF and ALT
    ref_windows: np.ndarray
    alt_windows: np.ndarray
    filled: np.ndarray


def _score_batch(
    model: _Model,
    records: _Records,
    source: _Genome | None,
    counts: _Counts,
    on_ref_mismatch: str,
    all_kernels: bool,
    kind: str,
    n_threads: int = 1,
    keep_windows: bool = False,
):
    """Score one batch of records: a DataFrame of effects (and the windows, if asked)."""
    prepared = _prepare_batch(model, records, source, counts, on_ref_mismatch)
    scanned = _scan(model, prepared.ref_windows, prepared.alt_windows, n_threads)
    frame = _finish_batch(model, prepared, scanned, all_kernels, kind)
    if keep_windows:
        return frame, prepared.ref_windows, prepared.alt_windows
    return frame


def _prepare_batch(
    model: _Model,
    records: _Records,
    source: _Genome | None,
    counts: _Counts,
    on_ref_mismatch: str,
) -> _Prepared:
    """The rows of a batch to score and their windows; the edge cases counted."""
    pd = import_optional("pandas", "genome", "score_variants")
    rows, alts = _alt_rows(records, counts)
    # Object arrays: taking rows of them is one vectorised step.
    record_ref = np.empty(len(records.ref), dtype=object)
    record_ref[:] = records.ref
    refs = record_ref[rows]
    ref_codes, ref_offsets, ref_lengths, ref_valid = _allele_codes(refs.tolist())
    alt_codes, alt_offsets, alt_lengths, alt_valid = _allele_codes(alts.tolist())
    keep = ref_valid & alt_valid
    for j in np.flatnonzero(~keep)[:1]:
        counts.add("not_dna", int((~keep).sum()), records.where(rows[j]))
    pos0 = records.pos0[rows]
    # The chromosome of each row, by the genome's name (or the record's sequence).
    if source is None:
        lengths = np.fromiter(map(len, records.sequences), dtype=np.int64)
        sizes = lengths[rows]
        chrom = rows
    else:
        given, found = pd.factorize(np.asarray(records.chrom, dtype=object)[rows])
        names = np.array([source.name(str(name)) or "" for name in found], dtype=object)
        known = names[given] != ""
        unknown = keep & ~known
        for j in np.flatnonzero(unknown)[:1]:
            counts.add("unknown_chrom", int(unknown.sum()), records.where(rows[j]))
        keep &= known
        chrom = names[given]
        sizes = np.array([source.sizes.get(name, 0) for name in names], dtype=np.int64)[given]
    off = keep & ((pos0 < 0) | (pos0 + ref_lengths > sizes))
    for j in np.flatnonzero(off)[:1]:
        counts.add("off_chrom", int(off.sum()), records.where(rows[j]))
    keep &= ~off
    # Only the kept rows from here on.
    (index,) = np.nonzero(keep)
    rows, pos0, sizes, chrom = rows[index], pos0[index], sizes[index], chrom[index]
    ref_allele = (ref_codes, ref_offsets[index], ref_lengths[index])
    alt_allele = (alt_codes, alt_offsets[index], alt_lengths[index])
    alts, refs = alts[index], refs[index]
    length = model.length
    half = length // 2
    lr, la = ref_allele[2], alt_allele[2]
    lo = np.minimum(pos0 + np.minimum(lr, la) // 2 - half, pos0)
    hi = np.maximum(pos0 + lr // 2 - half + length, pos0 + la // 2 - half + length + lr - la)
    hi = np.maximum(hi, pos0 + lr)
    lo, hi = np.clip(lo, 0, sizes), np.clip(hi, 0, sizes)
    buffer, origin = _gather(source, records, rows, chrom, lo, hi)
    # Does REF match the genome?
    steps = np.arange(max(int(lr.max(initial=0)), 1))
    inside = steps < lr[:, np.newaxis]
    genome_ref = np.where(
        inside, buffer[np.where(inside, origin[:, np.newaxis] + pos0[:, np.newaxis] + steps, 0)], 0
    )
    given_ref = np.where(
        inside, ref_codes[np.where(inside, ref_allele[1][:, np.newaxis] + steps, 0)], 0
    )
    ref_match = (genome_ref == given_ref).all(axis=1)
    mismatch = np.flatnonzero(~ref_match)
    if len(mismatch):
        first = records.where(rows[mismatch[0]])
        if on_ref_mismatch == "error":
            found = _LETTERS[genome_ref[mismatch[0], : lr[mismatch[0]]]].tobytes().decode()
            raise ValueError(
                f"{first}: REF {refs[mismatch[0]]} does not match the genome, which has {found} "
                "there (on_ref_mismatch='error')"
            )
        counts.add(f"ref_mismatch_{on_ref_mismatch}", len(mismatch), first)
        if on_ref_mismatch == "skip":
            (index,) = np.nonzero(ref_match)
            rows, pos0, sizes, origin = rows[index], pos0[index], sizes[index], origin[index]
            ref_allele = tuple(a if a is ref_codes else a[index] for a in ref_allele)
            alt_allele = tuple(a if a is alt_codes else a[index] for a in alt_allele)
            alts, refs = alts[index], refs[index]
            ref_match = ref_match[index]
            lr = ref_allele[2]
    genome = (buffer, origin, sizes)
    ref_windows = _window_codes(length, pos0, lr, genome, ref_allele)
    alt_windows = _window_codes(length, pos0, lr, genome, alt_allele)
    filled = np.maximum((ref_windows == _N).sum(axis=1), (alt_windows == _N).sum(axis=1))
    for j in np.flatnonzero(filled)[:1]:
        counts.add("filled", int(np.count_nonzero(filled)), records.where(rows[j]))
    return _Prepared(
        records, rows, refs, alts, ref_match, (lr, alt_allele[2]), ref_windows, alt_windows, filled
    )


def _finish_batch(
    model: _Model,
    prepared: _Prepared,
    scanned: tuple,
    all_kernels: bool,
    kind: str,
    as_columns: bool = False,
) -> pd.DataFrame | dict[str, Any]:
    """The table of a prepared batch from its scan (:func:`_scan`).

    With ``as_columns``, its columns (a dict, in order) instead: what
    ``deepprune variants`` writes without a DataFrame in between.
    """
    pd = import_optional("pandas", "genome", "score_variants")
    records, rows = prepared.records, prepared.rows
    location = _LOCATION[kind]
    columns = {
        location[0]: _take(records.chrom, rows),
        location[1]: _take(records.pos_out, rows),
        "id": _take(records.ids, rows),
    }
    missing = pd.isna(columns["id"])
    if missing.any():
        columns["id"][missing] = "."
    columns["ref"] = prepared.refs
    columns["alt"] = prepared.alts
    columns["ref_match"] = prepared.ref_match
    columns.update(_effect_columns(model, scanned, prepared.lengths, all_kernels))
    columns["filled_n"] = prepared.filled.astype(np.int64)
    order = location + _SCORE_COLUMNS
    if all_kernels:
        order += [f"k{k}_diff" for k in range(model.n_kernels)]
    columns = {name: columns[name] for name in order}
    if as_columns:
        if isinstance(records.pos_out, np.ndarray):  # read by the text reader: no objects
            columns[location[1]] = records.pos_out[rows]
        return columns
    return pd.DataFrame(columns)  # one frame, built once


def _effect_columns(
    model: _Model,
    scanned: tuple,
    lengths: tuple[np.ndarray, np.ndarray],
    all_kernels: bool,
) -> dict[str, Any]:
    """The score columns of scanned windows (:func:`_scan`)."""
    pd = import_optional("pandas", "genome", "score_variants")
    module = model.module
    ref_best, ref_pos, alt_best, alt_pos, ref_mean, alt_mean = scanned
    n = len(ref_best)
    contribution_ref, logit_ref = _head(module, ref_best, ref_mean)
    contribution_alt, logit_alt = _head(module, alt_best, alt_mean)
    diff = contribution_alt - contribution_ref
    kernel = np.abs(diff).argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    changed = np.abs(diff).max(axis=1, initial=0.0) > 0 if n else np.zeros(0, dtype=bool)
    rows = np.arange(n)
    left = same_padding(model.kernel_size)[0]
    half = model.length // 2
    columns: dict[str, Any] = {
        "prob_ref": _probability(logit_ref),
        "prob_alt": _probability(logit_alt),
        "logit_ref": logit_ref,
        "logit_alt": logit_alt,
        "logit_diff": logit_alt - logit_ref,
        "kernel": pd.array(np.where(changed, kernel, -1), dtype="Int64"),
        "motif": np.array([*model.names, None], dtype=object)[np.where(changed, kernel, -1)],
        "kernel_diff": diff[rows, kernel] if n else np.zeros(0),
    }
    columns["kernel"][~changed] = pd.NA
    for allele, best, position, allele_length in (
        ("ref", ref_best, ref_pos, lengths[0]),
        ("alt", alt_best, alt_pos, lengths[1]),
    ):
        strand, where = _best_sites(module, best, position)
        # The site's first base, counted from the allele's first base.
        site = where[rows, kernel] - left - (half - allele_length // 2)
        columns[f"site_{allele}"] = pd.array(np.where(changed, site, 0), dtype="Int64")
        columns[f"site_{allele}"][~changed] = pd.NA
        signs = _STRANDS[strand[rows, kernel]] if n else np.zeros(0, dtype=object)
        columns[f"strand_{allele}"] = np.where(changed, signs, None)
    if all_kernels:
        for k in range(model.n_kernels):
            columns[f"k{k}_diff"] = diff[:, k]
    return columns


def _probability(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


# -- the public functions --------------------------------------------------------------------


def _records(variants: Any, genome: Any, batch_size: int) -> tuple[str, Iterator[_Records]]:
    """The kind of input (``"genome"`` or ``"sequence"``) and its batches."""
    if isinstance(variants, (str, os.PathLike)):
        if genome is None:
            raise ValueError(
                f"scoring the VCF {variants} needs the genome FASTA it refers to (genome=)"
            )
        return "genome", _read_vcf(Path(variants), batch_size)
    if hasattr(variants, "columns") and hasattr(variants, "iloc"):
        columns = set(variants.columns)
        if {"chrom", "pos", "ref", "alt"} <= columns:
            if genome is None:
                raise ValueError(
                    "variants with columns chrom and pos need the genome FASTA (genome=); "
                    "without one, give columns sequence, position, ref and alt"
                )
            return "genome", _read_frame(variants, "genome", batch_size)
        if {"sequence", "position", "ref", "alt"} <= columns:
            if genome is not None:
                raise ValueError(
                    "variants with a sequence column carry their own sequence: drop genome= "
                    "(or give columns chrom and pos)"
                )
            return "sequence", _read_frame(variants, "sequence", batch_size)
        raise ValueError(
            "a DataFrame of variants needs columns chrom, pos (1-based), ref, alt (with a "
            "genome) or sequence, position (0-based), ref, alt; got "
            f"{', '.join(map(str, variants.columns))}"
        )
    raise TypeError(
        f"variants must be a VCF/BCF path or a pandas DataFrame; got {type(variants).__name__}"
    )


def _effect_batches(
    model: Any,
    variants: Any,
    genome: Any = None,
    *,
    window: int | None = None,
    on_ref_mismatch: str = "flag",
    all_kernels: bool = False,
    motif_names: Any = None,
    batch_size: int = 10_000,
    progress: Callable[[int], None] | None = None,
    as_columns: bool = False,
) -> Iterator[pd.DataFrame | dict[str, Any]]:
    """:func:`score_variants` one batch of records at a time; the warnings at the end.

    With ``as_columns``, each batch is a dict of its columns (see :func:`_finish_batch`).
    """
    if on_ref_mismatch not in ON_REF_MISMATCH:
        raise ValueError(
            f"on_ref_mismatch must be one of {ON_REF_MISMATCH}; got {on_ref_mismatch!r}"
        )
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    resolved = _load_model(model, window, motif_names)
    kind, batches = _records(variants, genome, int(batch_size))
    source = _Genome(genome) if kind == "genome" else None
    counts = _Counts()
    threads = torch.get_num_threads()
    empty = True
    # The compiled scan of a batch runs on its own thread (it releases the GIL) while this
    # one reads and prepares the next batch and the caller writes the one before.
    background = _fast_scan() is not None
    pool = ThreadPoolExecutor(1, thread_name_prefix="deepprune-variants") if background else None
    pending: deque = deque()  # (prepared batch, its scan or the future of it)

    def finish() -> tuple[pd.DataFrame, int]:
        """The oldest pending batch's table, and its number of records."""
        prepared, scanned = pending.popleft()
        # Torch's small operations on one thread (its spin-waiting threads would only
        # take the cores from the compiled scan's).
        torch.set_num_threads(1)
        try:
            scanned = scanned.result() if background else scanned
            frame = _finish_batch(resolved, prepared, scanned, all_kernels, kind, as_columns)
        finally:
            torch.set_num_threads(threads)
        return frame, len(prepared.records.ref)

    try:
        for records in batches:
            empty = False
            torch.set_num_threads(1)
            try:
                prepared = _prepare_batch(resolved, records, source, counts, on_ref_mismatch)
            finally:
                torch.set_num_threads(threads)
            windows = (resolved, prepared.ref_windows, prepared.alt_windows, threads)
            scanned = pool.submit(_scan, *windows) if background else _scan(*windows)
            pending.append((prepared, scanned))
            while len(pending) > (1 if background else 0):
                frame, n_records = finish()
                yield frame
                if progress is not None:
                    progress(n_records)
        while pending:
            frame, n_records = finish()
            yield frame
            if progress is not None:
                progress(n_records)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if empty:  # no record at all: a table with the columns, and no row
        pd = import_optional("pandas", "genome", "score_variants")
        columns = _LOCATION[kind] + _SCORE_COLUMNS
        if all_kernels:
            columns += [f"k{k}_diff" for k in range(resolved.n_kernels)]
        yield {name: [] for name in columns} if as_columns else pd.DataFrame(columns=columns)
    if source is not None and source.renamed:
        pairs = list(source.renamed.items())
        shown = ", ".join(f"{a} as {b}" for a, b in pairs[:3])
        more = f" and {len(pairs) - 3} more" if len(pairs) > 3 else ""
        warnings.warn(
            f"the variants name chromosomes differently from the genome {source.path.name}: "
            f"read {shown}{more}",
            UserWarning,
            stacklevel=3,
        )
    for kind_name, (n, first) in counts.counts.items():
        warnings.warn(_MESSAGES[kind_name].format(n=n, first=first), UserWarning, stacklevel=3)


def score_variants(
    model: Any,
    variants: Any,
    genome: str | os.PathLike | None = None,
    *,
    window: int | None = None,
    on_ref_mismatch: str = "flag",
    all_kernels: bool = False,
    motif_names: Sequence[str | None] | Mapping[int, str] | None = None,
    batch_size: int = 10_000,
) -> pd.DataFrame:
    """Score how each variant changes binding, and which motif kernel explains it.

    Each variant is scored on two windows of the model's input length: the
    REF window, the genome around the variant with the REF allele centred in
    it, and the ALT window, the ALT allele centred the same way (for an
    indel, filled out with the genome on both sides so that both windows
    have the model's length). The kernels read the strands the model was
    trained on.

    Parameters
    ----------
    model : Pipeline, DeepPruneClassifier, str or path-like
        A fitted pipeline ``SequenceOneHotEncoder -> DeepPruneClassifier``, a
        bare fitted classifier (then give ``window``), a model file written by
        :func:`~sklearn_deepprune.save_model` (``model.deepprune``), or a
        ``deepprune fit`` output folder, whose ``matches.tsv`` also gives the
        kernels' JASPAR names.
    variants : str, path-like or pandas.DataFrame
        A VCF or BCF file (plain or bgzipped; with ``genome``); a DataFrame
        with columns ``chrom``, ``pos`` (1-based), ``ref``, ``alt`` and
        optionally ``id`` (with ``genome``); or, without a genome, a
        DataFrame with columns ``sequence``, ``position`` (0-based, of REF's
        first base in the sequence), ``ref``, ``alt`` and optionally ``id``,
        where each sequence plays the genome (windows that run past its ends
        are filled with N). An ``alt`` of several comma-separated alleles
        gives one row per allele.
    genome : str, path-like or None, default=None
        The genome FASTA (plain or bgzip; indexed on first use) the
        coordinates refer to.
    window : int or None, default=None
        Window length; ``None``: the encoder's length, the length the model
        was trained on (required for a bare classifier).
    on_ref_mismatch : {"flag", "skip", "error"}, default="flag"
        A REF allele that is not what the genome holds there: ``"flag"``
        scores the given alleles anyway with ``ref_match=False``;
        ``"skip"`` leaves the variant out; ``"error"`` raises.
    all_kernels : bool, default=False
        Add each kernel's change in contribution as columns ``k0_diff``,
        ``k1_diff``, ...; they sum to ``logit_diff``.
    motif_names : sequence or mapping of str, or None, default=None
        A name for each kernel (for column ``motif``); ``None``: from the
        fit folder's ``matches.tsv``, if there is one.
    batch_size : int, default=10000
        Records read and scored at a time.

    Returns
    -------
    effects : pandas.DataFrame
        One row per variant and ALT allele, in input order (skipped ones
        left out), with columns

        - ``chrom``, ``pos`` (or ``sequence``, the row label, and
          ``position`` for sequence input), ``id`` (``"."`` if none),
          ``ref``, ``alt``, as given;
        - ``ref_match``: whether REF is the genome's bases there;
        - ``prob_ref``, ``prob_alt``, ``logit_ref``, ``logit_alt``: the
          model's probability of binding and its logit on each window
          (what ``predict_proba`` and ``decision_function`` give on them);
        - ``logit_diff``: ``logit_alt - logit_ref``; positive when ALT binds
          more (a site created or strengthened), negative when it binds less;
        - ``kernel``: the kernel whose contribution to the logit (its dense
          weight times its activated maximum over the window) changes most
          in absolute value, ``<NA>`` when none changes; ``motif``: its name
          (e.g. its JASPAR match), where known; ``kernel_diff``: the change
          of its contribution, alt minus ref;
        - ``site_ref``, ``strand_ref``, ``site_alt``, ``strand_alt``: where
          that kernel's best site is in each window, as the offset of the
          site's first base from the allele's first base (``pos +
          site_ref`` is its 1-based genome position; 0 to ``-(w - 1)``
          overlap the variant's first base) and the strand it is read on
          (``"+"``, or ``"-"``: the reverse complement);
        - ``filled_n``: how many window positions were filled as N (past
          a chromosome end, or N in the genome), the larger of the two
          windows; 0 for most variants;
        - with ``all_kernels``, ``k0_diff`` ...

    Raises
    ------
    ValueError
        For bad input, naming the file and line (or the row); with
        ``on_ref_mismatch="error"``, at the first REF that does not match.
    TypeError
        If ``model`` or ``variants`` is of the wrong kind.
    ImportError
        If pandas, pysam or pyfaidx (the ``genome`` extra) is missing.

    Warns
    -----
    UserWarning
        One line per kind of edge case met, with its count and where it was
        first seen: multi-allelic records (one row per ALT), symbolic or
        missing ALT alleles (``<DEL>``, ``*``, ``.``: skipped), alleles that
        are not DNA (skipped), chromosomes not in the genome (skipped), REF
        running past a chromosome end (skipped), REF not matching the genome,
        and windows filled with N; and once if chromosome names were
        reconciled (``chr1`` and ``1``, ``chrM`` and ``MT``).

    See Also
    --------
    plot_variant : Draw the attribution maps of a scored variant.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
    >>> from sklearn_deepprune.variants import score_variants
    >>> seqs = ["ACGTTGCAAC", "TTTTACGTAA", "GGGGCCCCAA", "ACACACACAC"] * 10
    >>> clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, kernel_size=4,
    ...                           max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(seqs, [1, 1, 0, 0] * 10)
    >>> variants = pd.DataFrame({"sequence": ["TTTTACGTAA"], "position": [5],
    ...                          "ref": ["C"], "alt": ["T"]})
    >>> effects = score_variants(pipe, variants)
    >>> effects.columns[:6].tolist()
    ['sequence', 'position', 'id', 'ref', 'alt', 'ref_match']
    """
    pd = import_optional("pandas", "genome", "score_variants")
    frames = list(
        _effect_batches(
            model,
            variants,
            genome,
            window=window,
            on_ref_mismatch=on_ref_mismatch,
            all_kernels=all_kernels,
            motif_names=motif_names,
            batch_size=batch_size,
        )
    )
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


# -- the picture -----------------------------------------------------------------------------


def plot_variant(
    model: Any,
    variant: Any,
    genome: str | os.PathLike | None = None,
    *,
    method: str = "ism",
    kernel: int | None = None,
    window: int | None = None,
    figsize: tuple[float, float] = (10.0, 4.0),
    path: str | os.PathLike | None = None,
    dpi: int = 100,
) -> Figure:
    """Draw the attribution maps of a variant's REF and ALT windows, one above the other.

    Each panel is the logo of :func:`~sklearn_deepprune.motifs.plot_attribution`
    (which bases the logit depends on) for one allele's window, with the
    variant outlined and the kernel's best site in that window shaded; the
    titles give each allele's logit and probability.

    Parameters
    ----------
    model : Pipeline, DeepPruneClassifier, str or path-like
        As for :func:`score_variants`.
    variant : mapping or pandas.Series
        One variant: ``chrom``, ``pos`` (1-based), ``ref`` and ``alt`` with
        ``genome`` (e.g. a row of :func:`score_variants`' output), or
        ``sequence`` (the DNA), ``position`` (0-based), ``ref`` and ``alt``
        without one. One ALT allele.
    genome : str, path-like or None, default=None
        The genome FASTA, for a variant given by coordinates.
    method : {"ism", "gradient"}, default="ism"
        In-silico mutagenesis (:func:`~sklearn_deepprune.motifs.in_silico_mutagenesis`,
        exact) or gradient times input
        (:func:`~sklearn_deepprune.motifs.gradient_x_input`, needs tangermeme).
    kernel : int or None, default=None
        The kernel whose site is shaded; ``None``: the one
        :func:`score_variants` names (the one whose contribution changes
        most), none if no kernel changes.
    window : int or None, default=None
        As for :func:`score_variants`.
    figsize : tuple of float, default=(10.0, 4.0)
        Size of the figure in inches.
    path : str, path-like or None, default=None
        If given, also save the figure there (the suffix picks the format).
    dpi : int, default=100
        Resolution.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: REF above ALT, positions along the window.

    Raises
    ------
    ValueError
        If the variant cannot be scored (e.g. a symbolic ALT, an unknown
        chromosome) or ``method`` is unknown.
    ImportError
        If matplotlib, logomaker or pandas (or tangermeme for
        ``"gradient"``) is missing.

    See Also
    --------
    score_variants : Score many variants; pass one of its rows here.
    sklearn_deepprune.motifs.plot_attribution : One sequence's map.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
    >>> from sklearn_deepprune.variants import plot_variant
    >>> seqs = ["ACGTTGCAAC", "TTTTACGTAA", "GGGGCCCCAA", "ACACACACAC"] * 10
    >>> clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, kernel_size=4,
    ...                           max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(seqs, [1, 1, 0, 0] * 10)
    >>> variant = {"sequence": "TTTTACGTAA", "position": 5, "ref": "C", "alt": "T"}
    >>> len(plot_variant(pipe, variant).axes)
    2
    """
    pd = import_optional("pandas", "plot", "plot_variant")
    figure_module = import_optional("matplotlib.figure", "plot", "plot_variant")
    from sklearn_deepprune.motifs import gradient_x_input, in_silico_mutagenesis, plot_attribution

    if method not in ("ism", "gradient"):
        raise ValueError(f"method must be 'ism' or 'gradient'; got {method!r}")
    fields = dict(variant)
    if "sequence" in fields and isinstance(fields.get("sequence"), str) and genome is None:
        columns = ["sequence", "position", "ref", "alt"]
    else:
        columns = ["chrom", "pos", "ref", "alt"]
    missing = [name for name in columns if name not in fields]
    if missing:
        raise ValueError(f"variant needs {', '.join(columns)}; it has no {', '.join(missing)}")
    frame = pd.DataFrame([{name: fields[name] for name in columns}])
    resolved = _load_model(model, window, None)
    kind, batches = _records(frame, genome, 1)
    source = _Genome(genome) if kind == "genome" else None
    counts = _Counts()
    scored, ref_window, alt_window = _score_batch(
        resolved, next(batches), source, counts, "flag", False, kind, keep_windows=True
    )
    if len(scored) == 0:
        reasons = "; ".join(
            _MESSAGES[name].format(n=n, first=first) for name, (n, first) in counts.counts.items()
        )
        raise ValueError(f"this variant cannot be scored: {reasons}")
    row = scored.iloc[0]
    if kernel is None and not pd.isna(row["kernel"]):
        kernel = int(row["kernel"])
    X = _one_hot(np.concatenate([ref_window, alt_window]), resolved.n_fill).numpy()
    attribute = in_silico_mutagenesis if method == "ism" else gradient_x_input
    maps = attribute(resolved.classifier, X)

    figure = figure_module.Figure(figsize=figsize, dpi=dpi, layout="constrained")
    axes = figure.subplots(2, 1, sharex=True, sharey=True)
    length, width = resolved.length, resolved.kernel_size
    half, left = length // 2, same_padding(width)[0]
    for i, allele in enumerate(("ref", "alt")):
        text = str(row[allele])
        start = half - len(text) // 2
        sites = []
        if kernel is not None:
            position, strand = _strand_site(resolved, X[i : i + 1], kernel)
            first = position - left
            name = resolved.names[kernel]
            label = f"kernel {kernel} ({'+-'[strand]})" + (f" {name}" if name else "")
            sites = [(max(first, 0), min(first + width, length), label)]
        shown = text if len(text) <= 12 else f"{text[:5]}...{text[-5:]}"
        plot_attribution(
            maps[i],
            X[i],
            sites=sites,
            highlight=[(start, start + len(text), "variant")],
            ax=axes[i],
            title=f"{allele.upper()} {shown}: logit {row[f'logit_{allele}']:.3f}, "
            f"P(bound) {row[f'prob_{allele}']:.3f}",
        )
    axes[0].set_xlabel("")
    axes[1].set_xlabel(f"position in the {length}-bp window")
    if path is not None:
        figure.savefig(path, dpi=dpi)
    return figure


def _strand_site(model: _Model, X: np.ndarray, kernel: int) -> tuple[int, int]:
    """The best window ``(position, strand)`` of ``kernel`` in one one-hot window ``(1, 4, L)``."""
    with torch.no_grad():
        raw = F.conv1d(
            F.pad(torch.from_numpy(X).to(model.weight.dtype), same_padding(model.kernel_size)),
            model.weight,
            model.bias,
        )[0]
    per_strand = raw.view(model.module.n_strands, model.n_kernels, -1)[:, kernel].numpy()
    flat = int(per_strand.argmax())  # ties: the forward strand, then the first position
    strand, position = divmod(flat, per_strand.shape[1])
    return position, strand
