"""``deepprune variants``: which variants of a VCF change binding, and through which motif."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from sklearn_deepprune.cli._common import show_warning


def add_parser(commands) -> None:
    """Add the ``variants`` command to ``commands`` (argparse subparsers)."""
    variants = commands.add_parser(
        "variants",
        help="score how variants (a VCF) change binding, and which motif explains it",
        description="Score every ALT allele of VARIANTS with MODEL on windows of the model's "
        "length centred on the variant, REF and ALT, and write one tab-separated row per "
        "allele: the probabilities and logits of both, logit_diff = logit_alt - logit_ref "
        "(positive: ALT binds more), the kernel whose contribution changes most with its "
        "JASPAR match (from a fit folder's matches.tsv) and its best site in each allele. "
        "VARIANTS is read in batches, so it may be larger than memory.",
    )
    variants.add_argument(
        "model", help="a model file (model.deepprune) or a 'deepprune fit' output folder"
    )
    variants.add_argument(
        "variants", help="a VCF or BCF file (plain or bgzipped) whose positions are on --genome"
    )
    variants.add_argument(
        "--genome", required=True, metavar="GENOME.fa", help="the reference genome FASTA"
    )
    variants.add_argument("-o", "--output", required=True, help="file to write (.tsv)")
    variants.add_argument(
        "--all-kernels",
        action="store_true",
        help="add each kernel's change in contribution to the logit: k0_diff, k1_diff, ...",
    )
    variants.add_argument(
        "--on-ref-mismatch",
        choices=["flag", "skip", "error"],
        default="flag",
        help="a REF that is not the genome's bases: score it anyway with ref_match=false "
        "(flag), leave it out (skip) or stop (error) (flag)",
    )
    variants.add_argument(
        "--batch-size", type=int, default=10_000, help="VCF records scored at a time (10000)"
    )
    variants.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Score the variants of ``args.variants`` and write one row per ALT allele."""
    from tqdm.auto import tqdm

    from sklearn_deepprune._guards import check_output_file, writing_file
    from sklearn_deepprune._optional import import_optional
    from sklearn_deepprune.variants import _effect_batches

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}")
    output = Path(args.output)
    check_output_file(output, [args.model, args.variants, args.genome])
    csv = import_optional("pyarrow.csv", "genome", "deepprune variants")
    options = csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    bar = tqdm(unit=" records", disable=not sys.stderr.isatty(), file=sys.stderr)
    n_rows = 0
    try:
        with warnings.catch_warnings(record=True) as caught, writing_file(output, "wb") as out:
            warnings.simplefilter("always")
            batches = _effect_batches(
                args.model,
                args.variants,
                args.genome,
                on_ref_mismatch=args.on_ref_mismatch,
                all_kernels=args.all_kernels,
                batch_size=args.batch_size,
                progress=bar.update,
                as_columns=True,
            )
            for i, columns in enumerate(batches):
                if i == 0:
                    out.write(("\t".join(columns) + "\n").encode())
                out.write(_tsv(columns, csv, options))
                n_rows += len(next(iter(columns.values())))
    finally:
        bar.close()
    for warning in caught:
        show_warning(warning.message, warning.category, warning.filename, warning.lineno)
    print(f"deepprune: scored {n_rows} alleles; wrote {output}", file=sys.stderr)
    return 0


def _tsv(columns: dict, csv, options) -> bytes:
    """Tab-separated rows of a batch's columns (no header): pyarrow's writer, pandas' where
    it refuses.

    Numbers are written at the model's float32 precision (the shortest text that reads
    back as the float32 value): the scores are computed in float32, and the 17 digits of
    their float64 copies would say more than is known and cost 5x the formatting time.
    """
    import numpy as np
    import pyarrow as pa

    columns = {
        name: values.astype(np.float32)
        if isinstance(values, np.ndarray) and values.dtype == np.float64
        else values
        for name, values in columns.items()
    }
    buffer = pa.BufferOutputStream()
    try:
        table = pa.table({name: pa.array(values) for name, values in columns.items()})
        csv.write_csv(table, buffer, options)
    except pa.ArrowInvalid:  # a value holds a tab or a quote: quoted by pandas instead
        import pandas as pd

        frame = pd.DataFrame(columns)
        frame = frame.assign(ref_match=frame["ref_match"].map({True: "true", False: "false"}))
        return frame.to_csv(sep="\t", index=False, header=False).encode()
    return buffer.getvalue().to_pybytes()
