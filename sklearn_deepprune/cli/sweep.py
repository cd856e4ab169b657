"""``deepprune sweep``: fit a grid of data sets x variants x kernel counts x seeds."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sklearn_deepprune.classifier import VARIANTS
from sklearn_deepprune.cli._common import add_data_options, add_estimator_options, estimator_params
from sklearn_deepprune.pruning import CRITERIA

#: Settings of ``deepprune sweep`` without flags: a real but small sweep (a few
#: minutes on 2 CPU cores). ``--preset paper`` gives the paper's settings.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "n_samples": 3000,
        "kernels": [4, 8, 16],
        "seeds": [0, 1, 2],
        "n_prune_steps": 4,
        "max_epochs": 30,
        "patience": 4,
    },
    "paper": {
        "n_samples": 10_000,
        "kernels": [4, 8, 16],
        "seeds": [0, 1, 2, 3, 4],
        "n_prune_steps": 6,
        "max_epochs": 1000,
        "patience": 15,
    },
}


def add_parser(commands) -> None:
    """Add the ``sweep`` command to ``commands`` (argparse subparsers)."""
    sweep = commands.add_parser(
        "sweep",
        help="fit a grid of data sets x variants x kernel counts x seeds",
        description="Fit every combination and write OUTPUT/results.csv (one row per data "
        "set, variant, criterion, kernel count and seed, with the test AUC). Each fit is "
        "saved when it finishes (OUTPUT/fits/); rerunning the same command skips the fits "
        "already done. Without DATASETS a simulated set is made on the fly from the shipped "
        "JASPAR motifs. Settings not given come from --preset.",
    )
    sweep.add_argument(
        "datasets",
        nargs="*",
        help="simulated1 ... simulated5, ChIP-seq data folders, or folders of them "
        "(default: simulated4 with JASPAR motifs)",
    )
    sweep.add_argument("-o", "--output", required=True, help="results folder")
    sweep.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="quick",
        help="quick: 3000 sequences, 64->4 kernels, <=30 epochs/stage, 3 seeds; "
        "paper: the paper's settings (quick)",
    )
    sweep.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=["baseline", "deepprune", "inter"],
        help="variants (baseline deepprune inter)",
    )
    sweep.add_argument(
        "--kernels", nargs="+", type=int, default=None, help="kernel counts (preset: 4 8 16)"
    )
    sweep.add_argument(
        "--criteria",
        nargs="+",
        choices=sorted(CRITERIA),
        default=["ablation"],
        help="pruning criteria; the paper's is weight (ablation)",
    )
    sweep.add_argument(
        "--seeds", nargs="+", type=int, default=None, help="model seeds (preset: 0 1 2)"
    )
    sweep.add_argument(
        "-j",
        "--n-jobs",
        type=int,
        default=None,
        help="fits at once (default: one per core, or every Dask worker thread)",
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the fits on this Dask scheduler, e.g. tcp://host:8786",
    )
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_estimator_options(sweep, sweep=True)
    add_data_options(sweep)
    sweep.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Fit the grid the command line names and write its results table."""
    from sklearn_deepprune.experiments import run_sweep

    preset = PRESETS[args.preset]
    started = time.perf_counter()
    results = run_sweep(
        args.datasets or None,
        variants=args.variants,
        kernels=args.kernels or preset["kernels"],
        criteria=args.criteria,
        seeds=args.seeds if args.seeds is not None else preset["seeds"],
        output=args.output,
        n_jobs=args.n_jobs if args.n_jobs is not None or args.scheduler else -1,
        scheduler=args.scheduler,
        estimator_params=estimator_params(args, preset),
        n_samples=args.n_samples if args.n_samples is not None else preset["n_samples"],
        motif_dir=args.motif_dir,
        progress=not args.quiet,
    )
    minutes = (time.perf_counter() - started) / 60
    print(
        f"{len(results)} results in {Path(args.output) / 'results.csv'} ({minutes:.1f} min); "
        f"next: deepprune report {args.output}"
    )
    return 0
