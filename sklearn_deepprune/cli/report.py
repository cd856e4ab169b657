"""``deepprune report``: figures and statistics from a results table."""

from __future__ import annotations

import argparse
from pathlib import Path

from sklearn_deepprune.classifier import VARIANTS
from sklearn_deepprune.pruning import CRITERIA


def add_parser(commands) -> None:
    """Add the ``report`` command to ``commands`` (argparse subparsers)."""
    report = commands.add_parser(
        "report",
        help="figures and statistics from a results table",
        description="Read RESULTS (a sweep folder or a results .csv/.parquet) and write "
        "summary.csv, comparison.csv (Deepprune vs baseline per kernel count: win fraction "
        "over data sets, one-sided Wilcoxon signed-rank p) and the figures "
        "auc_vs_kernels.png, criteria.png and paired_differences.png; print the comparison.",
    )
    report.add_argument("results", help="sweep output folder or results file")
    report.add_argument(
        "-o", "--output", default=None, help="folder for the report (default: RESULTS/report)"
    )
    report.add_argument(
        "--variant", choices=VARIANTS, default="deepprune", help="variant under test (deepprune)"
    )
    report.add_argument(
        "--reference",
        choices=VARIANTS,
        default="baseline",
        help="variant compared with (baseline)",
    )
    report.add_argument(
        "--criterion",
        choices=["auto", *sorted(CRITERIA)],
        default="auto",
        help="criterion of the pruned variants (auto: the one the results hold)",
    )
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the statistics and figures of a results table."""
    from sklearn_deepprune.experiments import compare_variants, load_results, write_report

    results = load_results(args.results)
    source = Path(args.results)
    output = (
        Path(args.output)
        if args.output
        else (source / "report" if source.is_dir() else source.parent / "report")
    )
    written = write_report(results, output, args.variant, args.reference, args.criterion)
    if {args.variant, args.reference} <= set(results["variant"]):
        comparison = compare_variants(
            results, args.variant, args.reference, criterion=args.criterion
        )
        print(comparison.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"wrote {', '.join(str(path) for path in written.values())}")
    return 0
