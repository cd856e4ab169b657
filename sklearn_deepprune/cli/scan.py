"""``deepprune scan``: a genome-wide binding map (bigWig tracks, a BED of motif sites)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(commands) -> None:
    """Add the ``scan`` command to ``commands`` (argparse subparsers)."""
    scan = commands.add_parser(
        "scan",
        help="scan a genome with a fitted model: bigWig tracks and a BED of motif sites",
        description="Slide MODEL's window along GENOME and write OUTPUT/binding.bw (the "
        "probability of binding for the window centred every --step bp), with "
        "--kernel-tracks OUTPUT/kernel_K.bw (each kernel's best activation in that window), "
        "OUTPUT/sites.bed.gz (+ .tbi: every kernel window with a p-value of at most "
        "--p-value, bgzipped and tabix-indexed) and OUTPUT/scan.json (the settings). The "
        "files appear together when the scan is done; an interrupted scan leaves only a "
        "folder named .OUTPUT.*.incomplete.",
    )
    scan.add_argument(
        "model", help="a model file (model.deepprune) or a 'deepprune fit' output folder"
    )
    scan.add_argument("--genome", required=True, metavar="GENOME.fa", help="the genome FASTA")
    scan.add_argument("-o", "--output", required=True, help="output folder (new or empty)")
    scan.add_argument(
        "--regions",
        default=None,
        metavar="BED",
        help="scan only these regions (default: the whole genome)",
    )
    scan.add_argument(
        "--chrom", action="append", default=None, help="scan only this chromosome (repeatable)"
    )
    scan.add_argument(
        "--step", type=int, default=None, help="bp between track values (50; see the guide)"
    )
    scan.add_argument(
        "--p-value", type=float, default=1e-4, help="p-value threshold of the sites (1e-4)"
    )
    scan.add_argument(
        "--kernel-tracks", action="store_true", help="also write one kernel_K.bw per kernel"
    )
    scan.add_argument("-j", "--n-jobs", type=int, default=None, help="threads (all cores)")
    scan.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the chunks on this Dask scheduler (every worker reads GENOME at its path)",
    )
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    scan.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Scan ``args.genome`` with ``args.model`` and write the tracks and sites."""
    from sklearn_deepprune.tracks import DEFAULT_STEP, check_scan_folder, scan_genome

    if args.regions is not None and args.chrom:
        raise ValueError("give --regions or --chrom, not both")
    check_scan_folder(args.output)
    if not Path(args.model).exists():
        raise FileNotFoundError(f"no such model: {args.model}")
    found = scan_genome(
        args.model,
        args.genome,
        args.regions if args.chrom is None else args.chrom,
        output=args.output,
        step=DEFAULT_STEP if args.step is None else args.step,
        p_value=args.p_value,
        kernel_tracks=args.kernel_tracks,
        n_jobs=args.n_jobs,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    print(
        f"deepprune: {found.n_bins} track values, {found.n_sites} sites; wrote {args.output}",
        file=sys.stderr,
    )
    return 0
