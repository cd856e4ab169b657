"""``deepprune predict``: score sequences or genomic regions with a fitted model."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from pathlib import Path

from sklearn_deepprune.cli._common import (
    check_device_option,
    is_fasta_file,
    is_peak_file,
    model_file,
)

# Sequences whose activations at every position --sites holds at once.
_SITES_CHUNK = 1024


def add_parser(commands) -> None:
    """Add the ``predict`` command to ``commands`` (argparse subparsers)."""
    predict = commands.add_parser(
        "predict",
        help="score sequences or genomic regions with a fitted model",
        description="Score every sequence of INPUT with MODEL and write one tab-separated "
        "row per sequence: id, the window's chrom/start/end for a BED input, probability "
        "(of binding) and logit; with --sites also each kernel's best site. INPUT is read "
        "and scored in batches, so it may be larger than memory.",
    )
    predict.add_argument(
        "model", help="a model file (model.deepprune) or a 'deepprune fit' output folder"
    )
    predict.add_argument(
        "input",
        help="a FASTA file (.fa/.fasta/.fna, optionally .gz), a BED/narrowPeak file with "
        "--genome (windows of the model's length centred on the summits or middles), or a "
        "file of 'ID SEQUENCE LABEL' lines or DeepBind's format",
    )
    predict.add_argument(
        "-o",
        "--output",
        default=None,
        help="file to write (.tsv; default: standard output); it appears whole when scoring "
        "ends (a device or FIFO is written as it goes)",
    )
    predict.add_argument(
        "--genome", default=None, metavar="GENOME.fa", help="reference genome for a BED INPUT"
    )
    predict.add_argument(
        "--sites",
        action="store_true",
        help="add each kernel's best site: kK_position (0-based start in the sequence), "
        "kK_strand (+ or -) and kK_score (its activation)",
    )
    predict.add_argument(
        "--batch-size", type=int, default=10_000, help="sequences scored at a time (10000)"
    )
    predict.add_argument("--device", default=None, help="torch device (the model's)")
    predict.set_defaults(run=run)


def _predict_batches(args: argparse.Namespace, length: int):
    """Yield Bunches of ``ids``, ``sequences`` (and ``chrom``, ``start``, ``end`` for a BED)."""
    from sklearn.utils import Bunch

    from sklearn_deepprune.datasets._chipseq import iter_binding_file, iter_fasta
    from sklearn_deepprune.datasets._peaks import iter_peak_windows

    path = Path(args.input)
    if not path.is_file():
        raise FileNotFoundError(f"no such input file: {path}")
    is_fasta = is_fasta_file(path)
    if args.genome is not None:
        if is_fasta:
            raise ValueError(f"--genome is for a BED/narrowPeak INPUT; {path} is FASTA")
        yield from iter_peak_windows(path, args.genome, length, args.batch_size)
    elif is_peak_file(args.input):
        raise ValueError(f"{path} is a file of peaks: give the genome with --genome")
    else:
        # FASTA, or 'ID SEQUENCE LABEL' lines and DeepBind's format: read as scored.
        records = iter_fasta(path) if is_fasta else iter_binding_file(path)
        while True:
            batch = list(itertools.islice(records, args.batch_size))
            if not batch:
                return
            ids, sequences = list(zip(*batch, strict=True))[:2]
            yield Bunch(ids=list(ids), sequences=list(sequences))


def _best_sites(module, X, offsets):
    """Each kernel's best site: ``(position, strand, score)``, arrays of shape (n, K).

    ``position`` is the 0-based start of the site's window in the input
    sequence (``offsets``: where each sequence starts in the encoded window).
    """
    import numpy as np
    import torch

    device = next(module.parameters()).device
    module.eval()
    scores, indices = [], []
    # (n, S, K, L) activations: a chunk at a time, so that many kernels fit in memory.
    for first in range(0, len(X), _SITES_CHUNK):
        chunk = torch.as_tensor(X[first : first + _SITES_CHUNK]).to(device)
        with torch.no_grad():
            activations = module.strand_activations(chunk)
        n, n_strands, n_kernels, length = activations.shape
        flat = activations.permute(0, 2, 1, 3).reshape(n, n_kernels, n_strands * length)
        score, index = flat.max(dim=2)
        scores.append(score.cpu().numpy())
        indices.append(index.cpu().numpy())
    index = np.concatenate(indices)
    strand = index // length
    position = index % length - (module.kernel_size - 1) // 2 - offsets[:, None]
    return position, strand, np.concatenate(scores)


def run(args: argparse.Namespace) -> int:
    """Score every sequence of ``args.input`` and write one row per sequence."""
    import csv

    import numpy as np
    from sklearn.pipeline import Pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, load_model
    from sklearn_deepprune._guards import check_output_file, writing_file

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}")
    check_device_option(args.device)
    model_path = model_file(args.model)
    output = None if args.output is None else Path(args.output)
    if output is not None:  # before any work: not over an input, not a folder
        check_output_file(output, [model_path, args.input, args.genome])
    model = load_model(model_path, device=args.device)
    steps = [step for _, step in model.steps] if isinstance(model, Pipeline) else [model]
    if not (
        len(steps) == 2
        and isinstance(steps[0], SequenceOneHotEncoder)
        and isinstance(steps[1], DeepPruneClassifier)
    ):
        raise ValueError(
            f"{model_path} holds a {type(model).__name__} of "
            f"{', '.join(type(step).__name__ for step in steps)}; predict needs a pipeline "
            "SequenceOneHotEncoder -> DeepPruneClassifier taking DNA strings (what "
            "'deepprune fit' writes)"
        )
    coder, classifier = steps
    length = int(coder.length_)
    module = classifier.net_.module_
    n_rows = 0
    # One temporary file per run, renamed over OUTPUT at the end; devices and FIFOs in place.
    with (
        writing_file(output, newline="")
        if output is not None
        else contextlib.nullcontext(sys.stdout)
    ) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        header = None
        for batch in _predict_batches(args, length):
            lengths = np.fromiter(map(len, batch.sequences), dtype=int)
            if coder.length is None and (lengths > length).any():
                i = int(np.flatnonzero(lengths > length)[0])
                raise ValueError(
                    f"{args.input}: sequence {batch.ids[i]} has length {lengths[i]}, longer "
                    f"than the {length} bp the model takes; cut it into windows (or use a "
                    "BED file with --genome)"
                )
            X = coder.transform(batch.sequences)
            logit = classifier.decision_function(X)
            probability = 1.0 / (1.0 + np.exp(-logit))
            columns = {"id": batch.ids}
            if "chrom" in batch:
                columns.update(chrom=batch.chrom, start=batch.start, end=batch.end)
            columns["probability"] = [f"{p:.6g}" for p in probability]
            columns["logit"] = [f"{v:.6g}" for v in logit]
            if args.sites:
                if coder.align == "center":  # as the encoder pads or crops
                    offsets = np.where(
                        lengths <= length, (length - lengths) // 2, -((lengths - length) // 2)
                    )
                else:
                    offsets = np.zeros(len(lengths), dtype=int)
                position, strand, score = _best_sites(module, X, offsets)
                for k in range(position.shape[1]):
                    columns[f"k{k}_position"] = position[:, k]
                    columns[f"k{k}_strand"] = np.where(strand[:, k] == 1, "-", "+")
                    columns[f"k{k}_score"] = [f"{v:.6g}" for v in score[:, k]]
            if header is None:
                header = list(columns)
                writer.writerow(header)
            writer.writerows(zip(*columns.values(), strict=True))
            n_rows += len(logit)
    where = "standard output" if output is None else output
    print(f"deepprune: scored {n_rows} sequences; wrote {where}", file=sys.stderr)
    return 0
