"""``deepprune report``: figures and statistics from a results table; a fit folder's page."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from sklearn_deepprune.classifier import VARIANTS
from sklearn_deepprune.pruning import CRITERIA


def add_parser(commands) -> None:
    """Add the ``report`` command to ``commands`` (argparse subparsers)."""
    report = commands.add_parser(
        "report",
        help="figures and statistics from a results table; the page of a fitted model",
        description="Read RESULTS (a sweep folder or a results .csv/.parquet) and write "
        "summary.csv, comparison.csv (Deepprune vs baseline per kernel count: win fraction "
        "over data sets, one-sided Wilcoxon signed-rank p), the figures "
        "auc_vs_kernels.png, criteria.png and paired_differences.png and report.html (all of "
        "them on one self-contained page); print the comparison. Given a deepprune fit folder "
        "(one with model.deepprune or metrics.json), rebuild its report.html instead.",
    )
    report.add_argument("results", help="sweep output folder, results file or fit folder")
    report.add_argument(
        "-o",
        "--output",
        default=None,
        help="folder for the report (default: RESULTS/report); for a fit folder, the page's "
        "file (default: MODEL_DIR/report.html)",
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
    report.add_argument(
        "--no-matches",
        action="store_true",
        help="for a fit folder: skip the Tomtom comparison of the kernels with JASPAR",
    )
    report.set_defaults(run=run)


def is_fit_folder(path: Path) -> bool:
    """Whether ``path`` is a ``deepprune fit`` folder rather than a sweep folder."""
    return path.is_dir() and any(
        (path / name).exists() for name in ("model.deepprune", "metrics.json")
    )


def command_line(args: argparse.Namespace) -> str:
    """The ``deepprune`` command line of ``args``, options at their defaults left out."""
    from sklearn_deepprune.cli import build_parser

    (commands,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    words = ["deepprune", args.command]
    for action in commands.choices[args.command]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        value = getattr(args, action.dest, action.default)
        if not action.option_strings:  # a positional argument
            words.append(str(value))
            continue
        if value is None or value is False or value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        if isinstance(action, argparse._CountAction):
            words += [flag] * (value - (action.default or 0))
        elif action.nargs == 0:
            words.append(flag)
        else:
            words += [flag, *map(str, value if isinstance(value, list) else [value])]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    """Write the statistics and figures of a results table, or a fit folder's page."""
    from sklearn_deepprune.experiments import compare_variants, load_results, write_report

    if is_fit_folder(Path(args.results)):
        from sklearn_deepprune.experiments import write_fit_report

        path, problems = write_fit_report(
            args.results, args.output, matches=False if args.no_matches else None
        )
        print(f"wrote {path}")
        if problems:
            print(
                f"deepprune: error: {path} is incomplete: {'; '.join(problems)}", file=sys.stderr
            )
            return 1
        return 0
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
