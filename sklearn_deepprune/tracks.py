"""Genome-wide binding maps: a fitted model scanned along whole chromosomes.

:func:`scan_genome` slides the model's input window along a genome and
writes what a genome browser shows:

* the **binding track**: the model's probability (and logit) for the window
  centred at every ``step``-th position, exactly what ``predict_proba`` gives
  for that window (N outside the chromosome), as bigWig;
* optionally each kernel's **kernel track**: the kernel's pooled score
  ``u_k`` of the same windows (what the dense layer reads), as bigWig;
* the **sites**: every kernel window whose score has a p-value of at most
  ``p_value`` under the genome's base composition (FIMO's definition,
  computed by FIMO's dynamic programming), as a sorted, bgzipped and
  tabix-indexed BED.

The kernels' scores are computed once per position of a chunk (compiled, see
:mod:`sklearn_deepprune._trackscan`); a window's maximum over its positions
is a sliding maximum, its mean a difference of cumulative sums, so the cost
per base does not grow with the window. Chromosomes are cut into chunks that
overlap by one window, so every window is whole in some chunk; chunks run on
threads, or on a Dask cluster.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from sklearn_deepprune._guards import write_atomic
from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.encoding import ALPHABET

__all__ = [
    "DEFAULT_STEP",
    "SCAN_FILES",
    "check_scan_folder",
    "kernel_score_pvalues",
    "scan_genome",
]

#: Default distance in bp between track values. A window of ``L`` bp has
#: ``L - w + 1`` inner positions (the kernel wholly inside), so with a step of
#: at most that every base is inside some sampled window and no site is
#: missed by the track (50 <= 101 - 24 + 1); a human genome's track (3.1 Gb)
#: is then 62 million values, a few hundred MB of bigWig.
DEFAULT_STEP = 50

#: The files a scan writes into its output folder (``kernel_K.bw`` with kernel tracks).
SCAN_FILES = ("binding.bw", "sites.bed.gz", "sites.bed.gz.tbi", "scan.json")

# Score bins of the p-value dynamic programming over a kernel's whole score range.
_PVALUE_BINS = 10_000
# Bytes per chunk for the scan's arrays (several chunks run at once, one per thread), and
# the most bases in a chunk.
_CHUNK_BYTES = 64 << 20
_MAX_CHUNK = 1 << 22
# The poolings scan_genome knows: what each pools over a window, in the dense layer's order.
# "lse" (the soft maximum) reads every position of a window: each window is cut out and
# scanned whole (_soft_max_features), so such models' tracks cost about a predict.
_POOLS = {"max": ("max",), "max_avg": ("max", "mean"), "lse": ("lse",)}
# Windows scanned at a time (pooling="lse").
_WINDOW_BATCH = 2048
_ACTIVATIONS = ("relu", "leaky_capped")
_CODE_OF_BYTE = np.full(256, 4, dtype=np.uint8)
for _i, _base in enumerate(ALPHABET):
    _CODE_OF_BYTE[ord(_base)] = _CODE_OF_BYTE[ord(_base.lower())] = _i
_SITE_HEADER = "#chrom\tstart\tend\tname\tscore\tstrand\tkernel_score\tp_value\n"


# -- the model -------------------------------------------------------------------


def _load(model: Any) -> tuple[Any, list[str] | None, str]:
    """The fitted model, kernel names from a fit folder's matches.tsv (or None), a label."""
    if not isinstance(model, (str, os.PathLike)):
        return model, None, type(model).__name__
    from sklearn_deepprune.persistence import load_model

    path = Path(model)
    names = None
    if path.is_dir():
        folder, path = path, path / "model.deepprune"
        if not path.is_file():
            raise ValueError(
                f"{folder} holds no model.deepprune (the model file 'deepprune fit' writes)"
            )
        if (folder / "matches.tsv").is_file():
            names = _match_names(folder / "matches.tsv")
    return load_model(path), names, str(path)


def _match_names(path: Path) -> dict[str, str]:
    """Each query's best target from a fit folder's Tomtom matches (queries ``kernel_K``)."""
    pd = import_optional("pandas", "genome", "scan_genome")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if not {"query", "target_name"} <= set(table.columns):
        return {}
    return table.drop_duplicates("query").set_index("query")["target_name"].to_dict()


def _kernel_names(n_kernels: int, matches: dict[str, str] | None) -> list[str]:
    """``kernel_K``, or ``kernel_K:NAME`` with the kernel's best JASPAR match."""
    names = [f"kernel_{k}" for k in range(n_kernels)]
    best = matches or {}
    names = [f"{name}:{best[name]}" if best.get(name) else name for name in names]
    return ["_".join(name.split()) for name in names]


def _split_model(model: Any, window: int | None):
    """``(classifier, N column weights (4,), window length)`` of a fitted DNA model."""
    from sklearn_deepprune.classifier import DeepPruneClassifier
    from sklearn_deepprune.encoding import SequenceOneHotEncoder

    steps = [step for _, step in model.steps] if isinstance(model, Pipeline) else [model]
    classifier = steps[-1]
    if not isinstance(classifier, DeepPruneClassifier) or len(steps) > 2:
        raise TypeError(
            "scan_genome needs a fitted DeepPruneClassifier or a pipeline "
            "SequenceOneHotEncoder -> DeepPruneClassifier; got "
            + " -> ".join(type(step).__name__ for step in steps)
        )
    check_is_fitted(classifier)
    module = classifier.net_.module_
    if module.in_channels != len(ALPHABET):
        raise ValueError(
            f"the model reads input with {module.in_channels} channel(s), not one-hot DNA "
            f"({len(ALPHABET)} channels, {ALPHABET}): it cannot scan a genome"
        )
    unknown = np.zeros(4)
    if len(steps) == 2:
        encoder = steps[0]
        if not isinstance(encoder, SequenceOneHotEncoder):
            raise TypeError(
                f"scan_genome needs a pipeline SequenceOneHotEncoder -> DeepPruneClassifier; "
                f"its first step is a {type(encoder).__name__}"
            )
        check_is_fitted(encoder)
        if encoder.unknown == "uniform":
            unknown = np.full(4, 0.25)
        window = int(encoder.length_) if window is None else window
    if window is None:
        raise ValueError(
            "a bare DeepPruneClassifier has no input length: give window= (the bp it reads)"
        )
    if int(window) != window or window < module.kernel_size:
        raise ValueError(
            f"window must be an integer of at least the kernel width {module.kernel_size}; "
            f"got {window!r}"
        )
    return classifier, unknown, int(window)


def _pools(module) -> tuple[str, ...]:
    """What the network pools each kernel's activations by over a window (its ``pooling``)."""
    pooling = getattr(module, "pooling", "max")
    if pooling not in _POOLS:
        raise ValueError(f"scan_genome cannot compute pooling={pooling!r} (knows {list(_POOLS)})")
    return _POOLS[pooling]


@dataclass
class _Plan:
    """Everything a chunk needs, small and picklable (sent to Dask workers)."""

    width: int
    table: np.ndarray  # g-mer look-up table of the kernel-strands' columns, bias in block 0
    left_tables: np.ndarray  # and of the kernels cut by a window's ends
    right_tables: np.ndarray
    bias: np.ndarray  # (lanes,) float32
    cutoffs: np.ndarray  # (lanes,) float32: the lowest score of a site (inf in padding lanes)
    p_value: float
    n_kernels: int
    n_strands: int
    activation: int
    slope: float
    cap: float
    pools: tuple[str, ...]
    dense_weight: np.ndarray  # (P * K,) float32
    dense_bias: float
    window: int
    step: int
    kernel_tracks: bool
    pvalues: _PValues | None = None  # each kernel-strand's p-value table
    names: tuple[str, ...] = ()  # the kernels' names in the sites
    soft: tuple | None = None  # pooling="lse" only: what _soft_max_features scans with


def _columns(module, unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column weights ``(w, 5, K * S)`` of the scanned kernels, and their biases.

    Lane ``k * S + s`` is kernel ``k`` on strand ``s`` (0 forward, 1 reverse).
    """
    weight, bias = module._scan_parameters()  # forward kernels, then reverse ones
    order = np.arange(len(bias)).reshape(module.n_strands, module.n_kernels).T.ravel()
    weight = weight.detach().cpu().double().numpy()[order]  # (K * S, 4, w)
    bias = bias.detach().cpu().double().numpy()[order]
    columns = np.empty((weight.shape[2], 5, weight.shape[0]))
    columns[:, :4] = weight.transpose(2, 1, 0)
    columns[:, 4] = np.einsum("c,kcw->wk", unknown, weight)
    return columns, bias


def _activation_id(module) -> tuple[int, float, float]:
    from sklearn_deepprune.network import LEAKY_CAP, LEAKY_SLOPE

    return _ACTIVATIONS.index(module.activation), LEAKY_SLOPE, LEAKY_CAP


def _activate(x: np.ndarray, plan: _Plan) -> np.ndarray:
    if plan.activation == 0:
        return np.maximum(x, np.float32(0))
    return np.minimum(np.where(x > 0, x, x * np.float32(plan.slope)), np.float32(plan.cap))


def _window_features(plan: _Plan, maxima: np.ndarray, means: np.ndarray | None) -> np.ndarray:
    """The dense layer's input ``(m, P * K)`` from each window's pooled kernel scores.

    ``maxima`` are the best raw scores over the window's positions and
    strands, ``means`` the mean activations; the network's pooling
    (:func:`_pools`) says which go in, in its order.
    """
    pooled = {"max": lambda: _activate(maxima, plan), "mean": lambda: means}
    return np.concatenate([pooled[pool]() for pool in plan.pools], axis=1)


def _soft_max_features(plan: _Plan, codes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each window's soft maximum per kernel ``(m, K)`` (``pooling="lse"``).

    The soft maximum reads every position of a window, the cut ones at its
    ends included, so each window's base codes are cut out and pooled by
    the network's compiled scan (:func:`_fastscan.scan_soft_max`) on a
    table with N as its own column (the encoder's ``unknown`` fill), in
    batches of a fixed size; a window's value does not depend on its batch.
    """
    from sklearn_deepprune import _fastscan
    from sklearn_deepprune.network import LEAKY_CAP, LEAKY_SLOPE

    table, group, sharpness = plan.soft
    out = np.empty((len(starts), plan.n_kernels), np.float32)
    offsets = np.arange(plan.window)
    for lo in range(0, len(starts), _WINDOW_BATCH):
        window = np.ascontiguousarray(codes[starts[lo : lo + _WINDOW_BATCH, np.newaxis] + offsets])
        pooled, _ = _fastscan.scan_soft_max(
            window,
            table,
            5,
            plan.width,
            group,
            plan.n_strands,
            plan.activation,
            LEAKY_SLOPE,
            LEAKY_CAP,
            sharpness,
        )
        out[lo : lo + len(window)] = pooled
    return out


def _soft_max_plan(module, unknown: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """What :func:`_soft_max_features` scans with: a look-up table, its group, ``beta``."""
    from sklearn_deepprune import _fastscan
    from sklearn_deepprune.network import _group_size

    weight, bias = module._scan_parameters()  # forward kernels, then reverse ones
    weight = weight.detach().cpu().float().numpy()
    n_column = np.einsum("c,kcw->kw", unknown.astype(np.float32), weight)[:, np.newaxis]
    extended = np.ascontiguousarray(np.concatenate([weight, n_column], axis=1))
    group = _group_size(5, weight.shape[2])
    table, finite = _fastscan.lookup_table(extended, bias.detach().cpu().float().numpy(), group)
    sharpness = module.log_sharpness.detach().cpu().exp().float().numpy()
    if not finite or not (np.isfinite(sharpness).all() and (sharpness > 0).all()):
        raise ValueError("the model has weights or sharpnesses that are not finite")
    return table, group, sharpness


# -- p-values --------------------------------------------------------------------


def _score_table(
    columns: np.ndarray, bias: float, background: np.ndarray, bin_size: float | None
) -> tuple[float, int, np.ndarray, float]:
    """``(bin size, smallest bin, P(S >= bin), slack)`` of one kernel-strand ``(w, 4)``.

    ``slack`` is the most that rounding the columns to bins can move a
    window's binned score from its score (in bins): a score ``s`` is looked up
    at the lowest bin that a window scoring ``s`` can fall in, so that a
    p-value is never below the exact one (and equal to it when the columns
    are multiples of the bin).
    """
    from sklearn_deepprune import _trackscan

    if bin_size is None:
        spread = float((columns.max(axis=1) - columns.min(axis=1)).sum())
        bin_size = spread / _PVALUE_BINS if spread > 0 else 1.0
    binned = np.round(columns / bin_size).astype(np.int64)
    low = np.concatenate([[0], np.cumsum(binned.min(axis=1))])
    high = np.concatenate([[0], np.cumsum(binned.max(axis=1))])
    smallest = int(low.min())
    size = int(high.max()) - smallest + 1
    tail = _trackscan.survival(binned, np.asarray(background, np.float64), smallest, size)
    slack = float(np.abs(binned - columns / bin_size).max(axis=1).sum())
    return bin_size, smallest, tail, slack


def kernel_score_pvalues(
    kernel: np.ndarray,
    scores: np.ndarray,
    background: Sequence[float] = (0.25, 0.25, 0.25, 0.25),
    *,
    bias: float = 0.0,
    bin_size: float | None = None,
) -> np.ndarray:
    """P-values of kernel scores under a background base composition, as FIMO computes them.

    The score of a window is ``bias + sum_j kernel[j, b_j]``; its p-value is
    the probability that a random window, bases drawn independently from
    ``background``, scores at least as high. As in FIMO, each column's
    scores are rounded to multiples of ``bin_size`` and the distribution of
    their sum is computed exactly by dynamic programming over the bins; a
    score is looked up in the lowest bin that a window of that score can fall
    in after the rounding, so a p-value is never below the exact one (equal
    to it when the columns are multiples of ``bin_size``; above it by the
    probability of the windows within the rounding, ``w * bin_size / 2`` at
    most, below the score).

    Parameters
    ----------
    kernel : array-like of shape (w, 4)
        Column scores (e.g. a network kernel transposed, or a PWM's log-odds),
        columns A, C, G, T.
    scores : array-like
        Scores to give p-values.
    background : sequence of 4 float, default=uniform
        Base probabilities (A, C, G, T); normalised to sum to 1.
    bias : float, default=0.0
        Added to every window's score.
    bin_size : float or None, default=None
        Score bin width; ``None``: the kernel's score range over 10,000 bins.

    Returns
    -------
    ndarray of float64
        The p-values, the shape of ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_deepprune.tracks import kernel_score_pvalues
    >>> kernel = np.eye(4)[[0, 1, 2]]  # +1 for A, C, G at positions 0, 1, 2
    >>> float(kernel_score_pvalues(kernel, 3.0)[()])  # ACG: 1 / 64
    0.015625
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2 or kernel.shape[1] != 4:
        raise ValueError(f"kernel must have shape (w, 4); got {kernel.shape}")
    background = _check_background(background)
    table = _score_table(kernel, 0.0, background, bin_size)
    return _lookup_pvalues(np.asarray(scores, dtype=np.float64) - bias, *table)


def _lookup_pvalues(scores, bin_size, smallest, tail, slack) -> np.ndarray:
    """``P(S >= score)`` from a survival table (see :func:`_score_table`)."""
    index = np.ceil(scores / bin_size - slack - 1e-9).astype(np.int64) - smallest
    return tail[np.clip(index, 0, len(tail) - 1)]


def _check_background(background) -> np.ndarray:
    background = np.asarray(background, dtype=np.float64)
    if background.shape != (4,) or not np.isfinite(background).all() or (background < 0).any():
        raise ValueError(f"background must be 4 non-negative base frequencies; got {background}")
    if background.sum() <= 0:
        raise ValueError("background has no base (all frequencies are zero)")
    return background / background.sum()


@dataclass
class _PValues:
    """Each kernel-strand's score-to-p-value table."""

    bias: np.ndarray
    bins: list[tuple[float, int, np.ndarray, float]]

    def __call__(self, lane: np.ndarray, score: np.ndarray) -> np.ndarray:
        out = np.empty(len(score), dtype=np.float64)
        for k, table in enumerate(self.bins):
            mine = lane == k
            out[mine] = _lookup_pvalues(score[mine] - self.bias[k], *table)
        return out

    def cutoffs(self, p_value: float) -> np.ndarray:
        """The lowest score whose p-value can be at most ``p_value``, per kernel-strand."""
        cut = np.full(len(self.bins), np.inf, dtype=np.float32)
        for k, (bin_size, smallest, tail, slack) in enumerate(self.bins):
            passing = np.flatnonzero(tail <= p_value)
            if len(passing):
                lowest = self.bias[k] + (smallest + passing[0] - 1 + slack) * bin_size
                cut[k] = np.nextafter(np.float32(lowest), np.float32(-np.inf))
        return cut


# -- the genome --------------------------------------------------------------------


def _regions(fasta, genome: Path, regions) -> list[tuple[str, int, int]]:
    """The intervals to scan, in the genome's chromosome order, merged."""
    from sklearn_deepprune.datasets._peaks import _check_on_genome, _chrom_sizes, read_intervals

    sizes = _chrom_sizes(fasta)
    if regions is None:
        return [(chrom, 0, size) for chrom, size in sizes.items() if size > 0]
    if isinstance(regions, (str, os.PathLike)):
        path = Path(regions)
        table = read_intervals(path)
        _check_on_genome(table, sizes, path, genome)
        found = list(zip(table["chrom"], table["start"], table["end"], strict=True))
    else:
        found = []
        for item in regions:
            chrom, start, end = (item, 0, None) if isinstance(item, str) else item
            if chrom not in sizes:
                examples = ", ".join(list(sizes)[:3])
                raise ValueError(
                    f"chromosome {chrom!r} is not in the genome {genome} (its chromosomes are "
                    f"named like {examples})"
                )
            end = sizes[chrom] if end is None else end
            if not 0 <= start <= end <= sizes[chrom]:
                raise ValueError(f"region {chrom}:{start}-{end} is not inside {chrom}")
            found.append((chrom, int(start), int(end)))
    order = {chrom: i for i, chrom in enumerate(sizes)}
    merged: list[list] = []
    for chrom, start, end in sorted(found, key=lambda r: (order[r[0]], r[1], r[2])):
        if end <= start:
            continue
        if merged and merged[-1][0] == chrom and start <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], int(end))
        else:
            merged.append([chrom, int(start), int(end)])
    if not merged:
        raise ValueError("no region to scan (all are empty)")
    return [tuple(r) for r in merged]


def _raw_bases(fasta, chrom: str, a: int, b: int) -> tuple[np.ndarray, tuple | None]:
    """The FASTA bytes of ``chrom[a:b]`` and their line layout (None: no line ends in them).

    A plain FASTA is read straight from its index's offsets, line ends
    included (layout: the first base's column, bases and bytes per line); a
    bgzip one through pyfaidx.
    """
    faidx = fasta.faidx
    if faidx._bgzf:
        text = fasta.get_seq(chrom, a + 1, b).encode("ascii", "replace")
        return np.frombuffer(text, dtype=np.uint8), None
    record = faidx.index[chrom]
    first = record.offset + (a // record.lenc) * record.lenb + a % record.lenc
    last = record.offset + ((b - 1) // record.lenc) * record.lenb + (b - 1) % record.lenc
    with open(faidx.filename, "rb") as handle:
        handle.seek(first)
        raw = np.frombuffer(handle.read(last - first + 1), dtype=np.uint8)
    return raw, (a % record.lenc, record.lenc, record.lenb)


def _codes(fasta, chrom: str, size: int, lo: int, hi: int) -> np.ndarray:
    """Base codes of ``chrom[lo:hi]``, 4 for N and for positions outside the chromosome."""
    from sklearn_deepprune import _trackscan

    codes = np.full(hi - lo, 4, dtype=np.uint8)
    a, b = max(lo, 0), min(hi, size)
    if b <= a:
        return codes
    raw, layout = _raw_bases(fasta, chrom, a, b)
    if layout is None:
        codes[a - lo : b - lo] = _CODE_OF_BYTE[raw]
        return codes
    written = _trackscan.translate(raw, _CODE_OF_BYTE, *layout, codes[a - lo : b - lo])
    if written != b - a:
        raise ValueError(
            f"{fasta.faidx.filename}: {chrom} does not have the lines its index says (.fai); "
            "remove the index to rebuild it"
            if written < 0
            else f"{fasta.faidx.filename}: {chrom} is shorter than its index says"
        )
    return codes


def _base_counts(genome: Path, chunks: list[_Chunk], n_jobs: int) -> np.ndarray:
    """Counts of A, C, G, T over the bases the chunks own (on ``n_jobs`` threads)."""
    from sklearn_deepprune import _trackscan
    from sklearn_deepprune.datasets._peaks import open_genome

    def count(part: list[_Chunk]) -> np.ndarray:
        fasta = open_genome(genome)
        counts = np.zeros(256, dtype=np.int64)  # of each byte; line ends count as N
        for chunk in part:
            a, b = max(chunk.own_lo, 0), min(chunk.own_hi, chunk.size)
            if a < b:
                _trackscan.byte_counts(_raw_bases(fasta, chunk.chrom, a, b)[0], counts)
        return counts

    with ThreadPoolExecutor(n_jobs) as pool:
        counts = sum(pool.map(count, [chunks[i::n_jobs] for i in range(n_jobs)]))
    return np.bincount(_CODE_OF_BYTE, weights=counts, minlength=5)[:4].astype(np.int64)


@dataclass
class _Chunk:
    """Bins ``first .. last - 1`` of the region ``[start, end)`` of ``chrom``."""

    chrom: str
    size: int
    start: int
    end: int
    first: int
    last: int
    step: int

    @property
    def own_lo(self) -> int:
        return self.start + self.first * self.step

    @property
    def own_hi(self) -> int:
        return min(self.start + self.last * self.step, self.end)


def _chunks(regions, step: int, bins_per_chunk: int, sizes: dict) -> list[_Chunk]:
    found = []
    for chrom, start, end in regions:
        n_bins = -(-(end - start) // step)
        for first in range(0, n_bins, bins_per_chunk):
            last = min(first + bins_per_chunk, n_bins)
            found.append(_Chunk(chrom, sizes[chrom], start, end, first, last, step))
    return found


# -- one chunk -----------------------------------------------------------------------


def _pool(plan: _Plan, codes: np.ndarray, starts: np.ndarray, spacing: int, sites=None):
    """Pooled scores of windows starting at ``starts`` (``spacing`` apart) and the sites.

    ``codes`` are padded so that every window's ends and every site are
    inside; ``sites`` is the ``(lo, hi)`` range of site positions, or None.
    """
    from sklearn_deepprune import _trackscan

    w, length = plan.width, plan.window
    n_lanes = plan.cutoffs.shape[0]
    n_kernels = n_lanes // plan.n_strands  # padded to fill the lanes
    n_blocks = -(-w // _trackscan.GROUP)
    gmer = np.empty(len(codes) - _trackscan.GROUP + 1, np.int32)
    _trackscan.gmers(codes, gmer)
    quotient, rest = divmod(length - w + 1, spacing)
    n_cells = len(starts) + quotient + (rest > 0)
    need_mean = "mean" in plan.pools
    cell_max = np.empty(n_cells * n_lanes, np.float32)
    cell_head = np.empty(n_cells * n_lanes, np.float32)
    n_sums = n_cells * n_lanes if need_mean else 8
    cell_sum = np.zeros(n_sums, np.float64)
    cell_head_sum = np.zeros(n_sums, np.float64)
    site_lo, site_hi = (0, 0) if sites is None else sites
    capacity = 1024 + int(2 * (site_hi - site_lo) * n_lanes * plan.p_value)
    while True:
        hits = np.empty(capacity, np.int64), np.empty(capacity, np.int64)
        scores = np.empty(capacity, np.float32)
        n_hits = _trackscan.scan_cells(
            codes,
            gmer,
            plan.table,
            n_blocks,
            w,
            plan.n_strands,
            plan.cutoffs,
            site_lo,
            site_hi,
            int(starts[0]),
            spacing,
            rest,
            plan.activation,
            plan.slope,
            plan.cap,
            need_mean,
            cell_max,
            cell_head,
            cell_sum,
            cell_head_sum,
            hits[0],
            hits[1],
            scores,
        )
        if n_hits <= capacity:
            break
        capacity = n_hits
    maxima = np.empty((len(starts), n_kernels), np.float32)
    means = np.empty((len(starts) if need_mean else 0, n_kernels), np.float32)
    _trackscan.pool_windows(
        gmer,
        plan.bias,
        plan.left_tables,
        plan.right_tables,
        w,
        length,
        cell_max,
        cell_head,
        cell_sum,
        cell_head_sum,
        starts.astype(np.int64),
        quotient,
        rest,
        plan.n_strands,
        plan.activation,
        plan.slope,
        plan.cap,
        need_mean,
        maxima,
        means,
    )
    found = hits[0][:n_hits], hits[1][:n_hits], scores[:n_hits]
    k = plan.n_kernels
    return maxima[:, :k], (means[:, :k] if need_mean else None), found


def _scan_chunk(plan: _Plan, genome: str, chunk: _Chunk) -> dict:
    """Track values and sites of one chunk (runs on a thread or a Dask worker)."""
    from sklearn_deepprune import _trackscan
    from sklearn_deepprune.datasets._peaks import open_genome

    w, length, step = plan.width, plan.window, plan.step
    left, right = max((w - 1) // 2, _trackscan.GROUP), w - 1 - (w - 1) // 2
    lo_bin = chunk.start + np.arange(chunk.first, chunk.last, dtype=np.int64) * step
    hi_bin = np.minimum(lo_bin + step, chunk.end)
    centre = (lo_bin + hi_bin - 1) // 2
    window_start = centre - length // 2
    site_lo, site_hi = chunk.own_lo, min(chunk.own_hi, chunk.end - w + 1)
    seq_lo = min(int(window_start[0]) - left, site_lo)
    seq_hi = max(int(window_start[-1]) + length + right, site_hi + w - 1)
    pad = 2 * _trackscan.GROUP * (-(-w // _trackscan.GROUP) + 1)
    fasta = open_genome(genome)
    codes = _codes(fasta, chunk.chrom, chunk.size, seq_lo, seq_hi + pad)
    keep = codes[centre - seq_lo] < 4
    result = {
        "chrom": chunk.chrom,
        "start": lo_bin[keep],
        "end": hi_bin[keep],
        "logit": np.zeros(0, np.float32),
        "kernels": np.zeros((0, plan.n_kernels), np.float32),
        "site_start": np.zeros(0, np.int64),
        "site_lane": np.zeros(0, np.int64),
        "site_score": np.zeros(0, np.float32),
    }
    if not keep.any() and not (codes[site_lo - seq_lo : site_hi + w - 1 - seq_lo] < 4).any():
        return _finish(plan, result)
    regular = (hi_bin - lo_bin) == step
    starts = window_start - seq_lo
    maxima = np.empty((len(starts), plan.n_kernels), np.float32)
    means = np.empty_like(maxima)
    sites = (site_lo - seq_lo, site_hi - seq_lo)
    # An lse model's windows are scanned whole below: no maxima to pool, only the sites.
    pooled = plan.soft is None
    if pooled and regular.any():
        found = _pool(plan, codes, starts[regular], step, sites)
        maxima[regular], means[regular] = found[0], 0 if found[1] is None else found[1]
        sites = None
        hits = found[2]
    for i in np.flatnonzero(~regular & pooled):  # a region's last bin, cut by its end
        part = slice(max(starts[i] - pad, 0), starts[i] + length + pad)
        found = _pool(plan, codes[part], starts[i : i + 1] - part.start, 1)
        maxima[i], means[i] = found[0][0], 0 if found[1] is None else found[1][0]
    if sites is not None:  # no bin pooled: the sites alone
        hits = _pool(plan, codes, starts[:1], 1, sites)[2]
    if plan.soft is not None:
        features = _soft_max_features(plan, codes, starts[keep])
    else:
        features = _window_features(plan, maxima[keep], means[keep])
    # Row by row in float64 (not a matrix product, whose rounding depends on the row
    # count), so that a bin's value does not depend on the chunks.
    logit = (features * plan.dense_weight.astype(np.float64)).sum(axis=1) + plan.dense_bias
    result.update(
        logit=logit.astype(np.float32),
        kernels=features[:, : plan.n_kernels] if plan.kernel_tracks else result["kernels"],
        site_start=hits[0] + seq_lo,
        site_lane=hits[1],
        site_score=hits[2],
    )
    return _finish(plan, result)


def _finish(plan: _Plan, result: dict) -> dict:
    """Add the probabilities, the sites with p-values and their BED lines (on the worker)."""
    result["probability"] = 1.0 / (1.0 + np.exp(-result["logit"].astype(np.float64)))
    result["sites"] = _chunk_sites(result, plan)
    result["bed"] = _bed_text(result["chrom"], result["sites"])
    return result


# -- outputs ---------------------------------------------------------------------------


class _TrackWriter:
    """A bigWig written in genome order: runs of full bins as fixedStep, the rest bedGraph."""

    def __init__(self, path: Path, sizes: dict[str, int], step: int):
        pybigwig = import_optional("pyBigWig", "genome", "writing bigWig tracks")
        self.path = path
        self.step = step
        self.file = pybigwig.open(str(path), "w")
        self.file.addHeader(list(sizes.items()), maxZooms=10)

    def add(self, chrom: str, start: np.ndarray, end: np.ndarray, values: np.ndarray) -> None:
        if not len(start):
            return
        values = values.astype(np.float64)
        full = (end - start) == self.step
        breaks = np.flatnonzero((np.diff(start) != self.step) | ~full[1:] | ~full[:-1]) + 1
        for run in np.split(np.arange(len(start)), breaks):
            i = run[0]
            if full[i]:
                self.file.addEntries(
                    chrom, int(start[i]), values=values[run], span=self.step, step=self.step
                )
            else:
                self.file.addEntries(
                    [chrom] * len(run),
                    start[run].tolist(),
                    ends=end[run].tolist(),
                    values=values[run].tolist(),
                )

    def close(self) -> None:
        self.file.close()


def check_scan_folder(output: str | os.PathLike) -> Path:
    """Raise a ValueError unless ``output`` is missing or an empty folder; return it as a Path.

    A folder that holds another scan (or any other file) is refused, so that
    no earlier result is lost.

    Parameters
    ----------
    output : str or path-like
        The output folder of :func:`scan_genome`.

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    ValueError
        Naming the folder and what it holds.
    """
    from sklearn_deepprune._guards import check_replaceable_folder

    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ValueError(f"output {output} exists and is not a folder")
    if output.is_dir():
        for name in sorted(os.listdir(output)):
            if name in SCAN_FILES or (name.startswith("kernel_") and name.endswith(".bw")):
                raise ValueError(
                    f"output folder {output} holds another scan ({name}); give a new or empty "
                    "folder"
                )
    return check_replaceable_folder(output, (), owner="'deepprune scan'")


def _open_sites(path: Path):
    """The bgzip stream of the sites BED (its header written): compressed as it is written.

    At level 1 (``bgzip -1``): five times faster than bgzip's default level,
    for a file about a quarter larger.
    """
    pysam = import_optional("pysam", "genome", "writing the sites BED")
    handle = pysam.BGZFile(str(path), "wb1")
    handle.write(_SITE_HEADER.encode())
    return handle


def _compress_sites(handle, path: Path) -> None:
    """Finish the bgzip stream ``handle`` of the sorted BED ``path`` and tabix-index it."""
    pysam = import_optional("pysam", "genome", "writing the sites BED")
    handle.close()
    pysam.tabix_index(str(path), preset="bed", force=True)


# -- the scan --------------------------------------------------------------------------


def _run_chunks(plan, genome: str, chunks, n_jobs: int, scheduler) -> Iterator[dict]:
    """The chunks' results in order: on threads here, or on a Dask cluster."""
    if scheduler is not None:
        from joblib import Parallel, delayed, parallel_config

        from sklearn_deepprune.experiments._sweep import require

        distributed = require("distributed", extra="dask")
        client = distributed.Client(scheduler) if isinstance(scheduler, str) else None
        try:
            with parallel_config(backend="dask"):
                yield from Parallel(n_jobs=-1, return_as="generator")(
                    delayed(_scan_chunk)(plan, genome, chunk) for chunk in chunks
                )
        finally:
            if client is not None:
                client.close()
        return
    if n_jobs == 1:
        for chunk in chunks:
            yield _scan_chunk(plan, genome, chunk)
        return
    with ThreadPoolExecutor(n_jobs, thread_name_prefix="deepprune-track") as pool:
        pending = []
        for chunk in chunks:
            pending.append(pool.submit(_scan_chunk, plan, genome, chunk))
            if len(pending) > n_jobs:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def scan_genome(
    model: Any,
    genome: str | os.PathLike,
    regions: str | os.PathLike | Iterable[Any] | None = None,
    *,
    output: str | os.PathLike | None = None,
    step: int = DEFAULT_STEP,
    p_value: float = 1e-4,
    kernel_tracks: bool = False,
    background: Sequence[float] | None = None,
    window: int | None = None,
    n_jobs: int | None = None,
    scheduler: Any = None,
    chunk_size: int | None = None,
    progress: bool = True,
) -> Bunch:
    """Scan a genome with a fitted model: binding track, kernel tracks and motif sites.

    Parameters
    ----------
    model : Pipeline, DeepPruneClassifier, path to a model file or a ``deepprune fit`` folder
        A fitted pipeline ``SequenceOneHotEncoder -> DeepPruneClassifier``
        (the window is the encoder's length, an N is encoded as it encodes
        one), or a bare classifier (give ``window``; an N reads as zeros). A
        fit folder's ``matches.tsv`` names the kernels after their best
        JASPAR match.
    genome : str or path-like
        The genome FASTA (plain or bgzip; indexed on first use).
    regions : None, path to a BED file, or iterable of chromosome names or (chrom, start, end)
        What to scan: the whole genome (``None``), or these regions (merged).
    output : str, path-like or None, default=None
        A folder to write ``binding.bw``, ``kernel_K.bw`` (with
        ``kernel_tracks``), ``sites.bed.gz`` (+ ``.tbi``) and ``scan.json``
        into; each file is written as ``NAME.partial`` and renamed when the
        whole scan is done, ``scan.json`` last. ``None``: return the results
        in memory instead (for small genomes).
    step : int, default=50
        Distance in bp between track values: value ``i`` of a region starting
        at ``r`` covers ``[r + i step, r + (i + 1) step)`` and is the model's
        output for the window centred on that bin's middle base (``(start +
        end - 1) // 2``; the window starts ``window // 2`` before it). See
        :data:`DEFAULT_STEP`.
    p_value : float, default=1e-4
        Sites are kernel windows (no N, inside the region) whose score has at
        most this p-value.
    kernel_tracks : bool, default=False
        Also each kernel's pooled score ``u_k`` (its best activation over the
        window) at the same bins.
    background : sequence of 4 float or None, default=None
        Base frequencies (A, C, G, T) of the p-values; ``None``: those of the
        scanned regions.
    window : int or None, default=None
        The window length in bp; ``None``: the encoder's length.
    n_jobs : int or None, default=None
        Threads that scan chunks at once; ``None``: all cores.
    scheduler : str, distributed.Client or None, default=None
        A Dask scheduler address (``"tcp://host:8786"``) or client: the chunks
        run on the cluster (by joblib's Dask backend, as ``deepprune sweep``
        runs its fits); every worker reads ``genome`` at the same path.
    chunk_size : int or None, default=None
        Bins per chunk; ``None``: as many as about 64 MB of scan arrays hold
        (at most 4 Mb), whatever the genome's size.
    progress : bool, default=True
        Show a progress bar (bp scanned).

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        ``kernel_names``, ``background`` (base frequencies), ``cutoffs``
        (each kernel-strand's lowest site score), ``n_bins`` and ``n_sites``;
        with ``output``, ``files`` (name to path); without it, ``track`` (a
        DataFrame ``chrom, start, end, probability, logit`` and, with
        ``kernel_tracks``, one column per kernel) and ``sites`` (a DataFrame
        with the BED's columns).

    Raises
    ------
    TypeError
        If ``model`` is not a DeepPruneClassifier or such a pipeline.
    ValueError
        If the model does not read DNA, a region's chromosome is not in the
        genome, ``output`` holds another scan, or a parameter is out of range.
    ImportError
        If numba (``fast`` extra), pyfaidx, pyBigWig or pysam (``genome``
        extra) is missing.

    Notes
    -----
    The sites' BED has the columns ``chrom, start, end, name`` (the kernel,
    with its JASPAR match from a fit folder), ``score`` (``-10 log10 p``,
    at most 1000, for browsers), ``strand`` (``-``: the kernel read the
    reverse complement), ``kernel_score`` (the kernel's raw score, before
    the activation) and ``p_value``. A kernel score's p-value is
    ``P(S >= score)`` for a window of independent bases drawn from
    ``background``, computed as FIMO does: the distribution of the sum of
    binned column scores (10,000 bins over the kernel's score range) by
    dynamic programming.

    Examples
    --------
    >>> from sklearn_deepprune.tracks import scan_genome  # doctest: +SKIP
    >>> found = scan_genome("model/", "hg38.fa", ["chr21"], output="chr21_scan/")  # doctest: +SKIP
    """
    import_optional("numba", "fast", "scan_genome")
    from sklearn_deepprune import _trackscan
    from sklearn_deepprune.datasets._peaks import _chrom_sizes, open_genome

    tqdm = import_optional("tqdm", "genome", "scan_genome").tqdm
    if int(step) != step or step < 1:
        raise ValueError(f"step must be a positive integer; got {step!r}")
    if not 0 < p_value < 1:
        raise ValueError(f"p_value must be in (0, 1); got {p_value!r}")
    if output is not None:
        output = check_scan_folder(output)
    model, matches, label = _load(model)
    classifier, unknown, window = _split_model(model, window)
    module = classifier.net_.module_
    pools = _pools(module)
    genome = Path(genome)
    fasta = open_genome(genome)
    sizes = _chrom_sizes(fasta)
    scanned = _regions(fasta, genome, regions)

    columns, bias = _columns(module, unknown)
    n_kernels, n_lanes, width = module.n_kernels, columns.shape[2], columns.shape[0]
    # Per base: its code and g-mer row; per cell of `step` bases, 2 maxima per lane (and
    # 2 sums per kernel for mean pooling). No array holds a score per base and kernel.
    lanes = -(-n_lanes // 8) * 8
    per_bp = 5 + (8 * lanes + 16 * n_kernels * (len(pools) > 1)) / step
    if chunk_size is None:
        bases = min(_MAX_CHUNK, max(4 * window, int(_CHUNK_BYTES // per_bp)))
        chunk_size = max(1, bases // step)
    chunks = _chunks(scanned, int(step), int(chunk_size), sizes)
    n_jobs = (os.cpu_count() or 1) if n_jobs is None else int(n_jobs)
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer or None; got {n_jobs!r}")
    if background is None:
        counts = _base_counts(genome, chunks, n_jobs)
        if counts.sum() == 0:
            raise ValueError(f"the regions of {genome} to scan hold no base (all N)")
        background = counts
    background = _check_background(background)
    pvalues = _PValues(
        bias, [_score_table(columns[:, :4, k], 0.0, background, None) for k in range(n_lanes)]
    )
    activation, slope, cap = _activation_id(module)
    dense = module.dense
    n_padded = -(-n_lanes // 8) * 8  # groups of 8 lanes, whole kernels in each
    padded = np.zeros(columns.shape[:2] + (n_padded,))
    padded[:, :, :n_lanes] = columns
    padded_bias = np.zeros(n_padded)
    padded_bias[:n_lanes] = bias
    cutoffs = np.full(n_padded, np.inf, dtype=np.float32)
    cutoffs[:n_lanes] = pvalues.cutoffs(p_value)
    left_tables, right_tables = _trackscan.cut_tables(padded)
    plan = _Plan(
        width=width,
        table=_trackscan.lookup_table(padded, padded_bias),
        left_tables=left_tables,
        right_tables=right_tables,
        bias=padded_bias.astype(np.float32),
        cutoffs=cutoffs,
        p_value=float(p_value),
        n_kernels=n_kernels,
        n_strands=module.n_strands,
        activation=activation,
        slope=slope,
        cap=cap,
        pools=pools,
        dense_weight=dense.weight.detach().cpu().numpy()[0].astype(np.float32),
        dense_bias=float(dense.bias.detach().cpu().numpy()[0]),
        window=window,
        step=int(step),
        kernel_tracks=bool(kernel_tracks),
    )
    names = _kernel_names(n_kernels, matches)
    plan.pvalues, plan.names = pvalues, tuple(names)
    if pools == ("lse",):
        plan.soft = _soft_max_plan(module, unknown)

    total = sum(c.own_hi - c.own_lo for c in chunks)
    bar = tqdm(total=total, unit="bp", unit_scale=True, desc="scan", disable=not progress)
    results = _run_chunks(plan, str(genome), chunks, n_jobs, scheduler)
    summary = Bunch(kernel_names=names, background=background, cutoffs=plan.cutoffs[:n_lanes])
    with bar:
        scanned_chunks = _with_sites(chunks, results, bar)
        if output is None:
            return _in_memory(scanned_chunks, summary, names, kernel_tracks)
        settings = {
            "model": label,
            "genome": str(genome),
            "regions": [list(r) for r in scanned],
            "step": int(step),
            "window": window,
            "p_value": p_value,
            "background": dict(zip(ALPHABET, background.round(6).tolist(), strict=True)),
            "kernel_names": names,
        }
        return _to_folder(scanned_chunks, summary, output, sizes, plan, settings)


def _with_sites(chunks, results, bar) -> Iterator[tuple]:
    """``(found, probability, sites)`` of each chunk in order, the bar moved on."""
    for chunk, found in zip(chunks, results, strict=True):
        yield found, found["probability"], found["sites"]
        bar.update(chunk.own_hi - chunk.own_lo)


def _in_memory(scanned_chunks, summary: Bunch, names, kernel_tracks: bool) -> Bunch:
    frames, site_frames = [], []
    for found, probability, sites in scanned_chunks:
        frames.append({**found, "probability": probability})
        site_frames.append({"chrom": found["chrom"], **sites})
    summary.track, summary.sites = _frames(frames, site_frames, names, kernel_tracks)
    summary.n_bins, summary.n_sites = len(summary.track), len(summary.sites)
    return summary


def _to_folder(scanned_chunks, summary, output: Path, sizes, plan: _Plan, settings) -> Bunch:
    """Write the scan into a fresh folder that becomes ``output`` when all is written."""
    from sklearn_deepprune._guards import replacing_folder, to_json

    names = ["binding"] + [
        f"kernel_{k}" for k in range(plan.n_kernels if plan.kernel_tracks else 0)
    ]
    n_bins = n_sites = 0
    with replacing_folder(output) as folder, contextlib.ExitStack() as stack:
        writers = {}
        for name in names:
            writers[name] = _TrackWriter(folder / f"{name}.bw", sizes, plan.step)
            stack.callback(writers[name].close)
        sites_file = stack.enter_context(_open_sites(folder / "sites.bed.gz"))
        for found, probability, sites in scanned_chunks:
            where = found["chrom"], found["start"], found["end"]
            writers["binding"].add(*where, probability)
            for k in range(len(names) - 1):
                writers[f"kernel_{k}"].add(*where, found["kernels"][:, k])
            sites_file.write(found["bed"])  # streamed: memory stays flat
            n_bins += len(probability)
            n_sites += len(sites["start"])
        stack.close()  # (closing a closed BGZFile again is harmless)
        _compress_sites(sites_file, folder / "sites.bed.gz")
        files = [f"{name}.bw" for name in names] + ["sites.bed.gz", "sites.bed.gz.tbi"]
        settings.update(n_bins=n_bins, n_sites=n_sites, files=files)
        write_atomic(folder / "scan.json", (to_json(settings, indent=1) + "\n").encode())
    summary.n_bins, summary.n_sites = n_bins, n_sites
    summary.files = {name: str(output / f"{name}.bw") for name in names}
    summary.files.update(
        sites=str(output / "sites.bed.gz"),
        sites_index=str(output / "sites.bed.gz.tbi"),
        scan=str(output / "scan.json"),
    )
    return summary


def _chunk_sites(found: dict, plan: _Plan) -> dict:
    """The chunk's sites with p-values, sorted by start, kernel and strand."""
    lane, score = found["site_lane"], found["site_score"].astype(np.float64)
    p = plan.pvalues(lane, score)
    keep = p <= plan.p_value
    lane, score, p, start = lane[keep], score[keep], p[keep], found["site_start"][keep]
    kernel, strand = np.divmod(lane, plan.n_strands)
    order = np.lexsort((strand, kernel, start))
    return {
        "start": start[order],
        "end": start[order] + plan.width,
        "name": np.asarray(plan.names, dtype=object)[kernel[order]],
        "score": np.minimum(1000, np.round(-10 * np.log10(p[order]))).astype(np.int64),
        "strand": np.array(["+", "-"])[strand[order]],
        "kernel_score": score[order],
        "p_value": p[order],
    }


def _bed_text(chrom: str, site: dict) -> bytes:
    """The BED lines of a chunk's sites (formatted from Python numbers: twice as fast)."""
    columns = ("start", "end", "name", "score", "strand", "kernel_score", "p_value")
    line = chrom.replace("{", "{{").replace("}", "}}") + "\t{}\t{}\t{}\t{}\t{}\t{:.6g}\t{:.4g}\n"
    return "".join(map(line.format, *(site[c].tolist() for c in columns))).encode()


def _frames(frames, site_frames, names, kernel_tracks):
    pd = import_optional("pandas", "genome", "scan_genome")
    track = pd.DataFrame(
        {
            "chrom": np.concatenate(
                [np.full(len(f["start"]), f["chrom"], dtype=object) for f in frames]
            ),
            "start": np.concatenate([f["start"] for f in frames]),
            "end": np.concatenate([f["end"] for f in frames]),
            "probability": np.concatenate([f["probability"] for f in frames]),
            "logit": np.concatenate([f["logit"] for f in frames]),
        }
    )
    if kernel_tracks:
        kernels = np.concatenate([f["kernels"] for f in frames])
        for k, name in enumerate(names):
            track[name] = kernels[:, k]
    columns = ["start", "end", "name", "score", "strand", "kernel_score", "p_value"]
    sites = pd.DataFrame(
        {
            "chrom": np.concatenate(
                [np.full(len(f["start"]), f["chrom"], dtype=object) for f in site_frames]
            ),
            **{c: np.concatenate([f[c] for f in site_frames]) for c in columns},
        }
    )
    return track, sites
