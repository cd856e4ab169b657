"""The ``deepprune`` command: simulate data, fit a model, run a sweep, report on it.

Run ``deepprune --help`` or ``deepprune COMMAND --help``. Errors are reported
as one line on stderr (``deepprune: error: ...``), with exit status 2 for a
wrong command line and 1 for anything that fails while running.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sklearn_deepprune.classifier import VARIANTS
from sklearn_deepprune.pruning import CRITERIA

_FASTA_SUFFIXES = (".fa", ".fasta", ".fna")

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


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``deepprune: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"deepprune: error: {message} (see '{self.prog} --help')\n")


def _add_estimator_options(parser: argparse.ArgumentParser, sweep: bool = False) -> None:
    group = parser.add_argument_group("model")
    if not sweep:
        group.add_argument("--n-kernels", type=int, default=4, help="final kernel count (4)")
        group.add_argument(
            "--variant", choices=VARIANTS, default="deepprune", help="training variant (deepprune)"
        )
        group.add_argument(
            "--criterion",
            choices=sorted(CRITERIA),
            default="weight",
            help="pruning criterion (weight)",
        )
    default = "preset" if sweep else "6"
    group.add_argument(
        "--n-prune-steps",
        type=int,
        default=None,
        help=f"halving steps; pruning starts at n_kernels * 2**steps kernels ({default})",
    )
    group.add_argument(
        "--kernel-size",
        type=int,
        default=24,
        help="kernel width: 24 for simulated data, 15 for ChIP-seq (24)",
    )
    default = "preset" if sweep else "1000"
    group.add_argument(
        "--max-epochs", type=int, default=None, help=f"maximum epochs per stage ({default})"
    )
    default = "preset" if sweep else "15"
    group.add_argument(
        "--patience",
        type=int,
        default=None,
        help=f"early-stopping patience in epochs ({default})",
    )
    group.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (0.01)")
    group.add_argument("--device", default="cpu", help="torch device, e.g. cuda (cpu)")


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("simulated data")
    group.add_argument(
        "--n-samples",
        type=int,
        default=None,
        help="train (and test) size of simulated sets",
    )
    group.add_argument(
        "--motif-dir",
        default=None,
        help="folder of motif files for simulated sets (e.g. the paper's TRANSFAC motifs, with "
        "simulated1..simulated5 subfolders); default: JASPAR motifs shipped with the package",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the ``deepprune`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
        With the subcommands ``simulate``, ``fit``, ``sweep`` and ``report``.
    """
    parser = _Parser(
        prog="deepprune",
        description="Deepprune: DeepBind-style CNNs trained wide and pruned to a few "
        "interpretable motif detectors (Luo, Chi & Deng 2019).",
    )
    from sklearn_deepprune import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    simulate = commands.add_parser(
        "simulate",
        help="write one of the paper's simulated data sets to files",
        description="Write simulated set K of the paper (random DNA, positives with one "
        "planted motif instance) as OUTPUT/train.data and OUTPUT/test.data (lines "
        "'>ID SEQUENCE LABEL', readable by 'deepprune fit' and 'deepprune sweep') and the "
        "planted motifs as OUTPUT/motifs.meme.",
    )
    simulate.add_argument(
        "set", type=int, choices=range(1, 6), metavar="K", help="simulated set, 1 to 5"
    )
    simulate.add_argument("-o", "--output", required=True, help="folder to write")
    simulate.add_argument(
        "--n-samples", type=int, default=10_000, help="train (and test) size (10000)"
    )
    simulate.add_argument("--length", type=int, default=101, help="sequence length (101)")
    simulate.add_argument(
        "--motif-dir",
        default=None,
        help="motif files to plant instead of the shipped JASPAR motifs",
    )
    simulate.add_argument("--seed", type=int, default=0, help="random seed (0)")

    fit = commands.add_parser(
        "fit",
        help="train one model; save it with its metrics and motifs",
        description="Train a DeepPruneClassifier on DATA and write OUTPUT/model.joblib "
        "(a scikit-learn pipeline taking DNA strings), OUTPUT/metrics.json (train and test "
        "AUC, the pruning history) and, with the 'motifs' extra, OUTPUT/motifs.meme and "
        "OUTPUT/logos.png.",
    )
    fit.add_argument(
        "data",
        help="a data folder (train.data/test.data, or DeepBind's NAME_AC/NAME_B.seq.gz), a "
        "file of 'ID SEQUENCE LABEL' lines, a FASTA file of peaks (.fa/.fasta/.fna, "
        "optionally .gz; dinucleotide-shuffled copies become the negatives), or "
        "simulated1 ... simulated5",
    )
    fit.add_argument("-o", "--output", required=True, help="folder to write")
    fit.add_argument("--test", default=None, help="test file, when DATA is a single file")
    fit.add_argument("--seed", type=int, default=0, help="random_state of the model (0)")
    fit.add_argument(
        "-v", "--verbose", action="count", default=1, help="more output (-v: skorch's epoch table)"
    )
    fit.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_estimator_options(fit)
    _add_data_options(fit)

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
        default=["weight"],
        help="pruning criteria (weight)",
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
    _add_estimator_options(sweep, sweep=True)
    _add_data_options(sweep)

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
        choices=sorted(CRITERIA),
        default="weight",
        help="criterion of the pruned variants (weight)",
    )
    return parser


def _estimator_params(args: argparse.Namespace, preset: dict[str, Any] | None = None) -> dict:
    params = {"kernel_size": args.kernel_size, "lr": args.lr, "device": args.device}
    for name in ("n_prune_steps", "max_epochs", "patience"):
        value = getattr(args, name)
        if value is None and preset is not None:
            value = preset[name]
        if value is not None:
            params[name] = value
    return params


def _simulate(args: argparse.Namespace) -> int:
    from sklearn_deepprune.datasets import make_paper_simulation, write_meme_pfms

    data = make_paper_simulation(
        args.set,
        n_samples=args.n_samples,
        length=args.length,
        motif_dir=args.motif_dir,
        random_state=args.seed,
    )
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    for part in ("train", "test"):
        bunch = data[part]
        lines = (
            f">{part}_{i} {sequence} {label}\n"
            for i, (sequence, label) in enumerate(zip(bunch.sequences, bunch.target, strict=True))
        )
        (output / f"{part}.data").write_text("".join(lines))
    write_meme_pfms(
        dict(zip(data.motif_ids, data.motifs, strict=True)),
        output / "motifs.meme",
        alternate_names=dict(zip(data.motif_ids, data.motif_names, strict=True)),
    )
    print(
        f"wrote simulated set {args.set} ({args.n_samples} train + {args.n_samples} test "
        f"sequences, motifs {', '.join(data.motif_names)}) to {output}"
    )
    return 0


def _read_labelled(path: str):
    """``(sequences, labels)`` of one file; FASTA holds positives, shuffles are negatives."""
    from sklearn_deepprune.datasets import load_chipseq, load_fasta

    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(_FASTA_SUFFIXES):
        return load_fasta(path, negatives="shuffle", return_X_y=True)
    return load_chipseq(path, negatives="shuffle", return_X_y=True)


def _fit_data(args: argparse.Namespace):
    """``(X_train, y_train, X_test, y_test)``; the test part is None without one."""
    from sklearn_deepprune.experiments import resolve_datasets

    if Path(args.data).is_file():
        X_train, y_train = _read_labelled(args.data)
        if args.test is None:
            return X_train, y_train, None, None
        X_test, y_test = _read_labelled(args.test)
        return X_train, y_train, X_test, y_test
    if args.test is not None:
        raise ValueError("--test is only for a single-file DATA; a folder has its own test part")
    (dataset,) = resolve_datasets(args.data, n_samples=args.n_samples, motif_dir=args.motif_dir)
    return dataset.load()


def _write_motifs(pipeline, X, output: Path, written: dict) -> None:
    try:
        from sklearn_deepprune import motifs
    except ImportError as exc:
        print(f"deepprune: note: motifs not written ({exc})", file=sys.stderr)
        return
    try:
        found = motifs.extract_motifs(pipeline, list(X))
        motifs.to_meme(found, output / "motifs.meme")
        written["motifs"] = str(output / "motifs.meme")
        motifs.plot_logos(found, path=output / "logos.png")
        written["logos"] = str(output / "logos.png")
    except ImportError as exc:
        print(f"deepprune: note: motifs not fully written ({exc})", file=sys.stderr)


def _fit(args: argparse.Namespace) -> int:
    import joblib
    from sklearn.pipeline import make_pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder

    X_train, y_train, X_test, y_test = _fit_data(args)
    clf = DeepPruneClassifier(
        n_kernels=args.n_kernels,
        variant=args.variant,
        criterion=args.criterion,
        random_state=args.seed,
        verbose=0 if args.quiet else args.verbose,
        **_estimator_params(args),
    )
    pipeline = make_pipeline(SequenceOneHotEncoder(), clf)
    start = time.perf_counter()
    pipeline.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    written = {"model": str(output / "model.joblib")}
    joblib.dump(pipeline, output / "model.joblib")
    metrics = {
        "data": args.data,
        "n_train": len(y_train),
        "train_auc": float(pipeline.score(X_train, y_train)),
        "n_test": None if y_test is None else len(y_test),
        "test_auc": None if y_test is None else float(pipeline.score(X_test, y_test)),
        "seconds": seconds,
        "params": {k: v for k, v in clf.get_params().items() if k != "verbose"},
        "history": [
            {
                key: row[key]
                for key in (
                    "stage",
                    "n_kernels",
                    "lr",
                    "fine_tuned",
                    "epochs",
                    "best_valid_loss",
                    "seconds",
                )
            }
            for row in clf.pruning_history_
        ],
    }
    _write_motifs(pipeline, X_train if X_test is None else X_test, output, written)
    metrics["files"] = written
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    test = "" if y_test is None else f", test AUC {metrics['test_auc']:.4f}"
    print(
        f"train AUC {metrics['train_auc']:.4f}{test}; wrote {', '.join(written.values())}, "
        f"{output / 'metrics.json'}"
    )
    return 0


def _sweep(args: argparse.Namespace) -> int:
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
        estimator_params=_estimator_params(args, preset),
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


def _report(args: argparse.Namespace) -> int:
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


_COMMANDS = {"simulate": _simulate, "fit": _fit, "sweep": _sweep, "report": _report}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``deepprune`` command.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 when the command fails, 130 when
        interrupted. A wrong command line exits with status 2 from argparse.
    """
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(
            "deepprune: interrupted"
            + (
                f"; finished fits are kept in {args.output}, rerun to resume"
                if args.command == "sweep"
                else ""
            ),
            file=sys.stderr,
        )
        return 130
    except (ValueError, TypeError, OSError, ImportError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"deepprune: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
