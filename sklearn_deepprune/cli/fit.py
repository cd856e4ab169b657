"""``deepprune fit``: train one model; save it with its metrics and motifs."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sklearn_deepprune.cli._common import (
    FASTA_SUFFIXES,
    add_data_options,
    add_estimator_options,
    check_device_option,
    check_output_folder,
    estimator_params,
    is_peak_file,
)

#: The files ``deepprune fit`` writes into its output folder; a folder of only
#: these (an earlier fit) is replaced as a whole, any other file makes it refuse.
FIT_FILES = (
    "model.deepprune",
    "model.joblib",
    "metrics.json",
    "motifs.meme",
    "matches.tsv",
    "logos.png",
    "report.html",
)


def add_parser(commands) -> None:
    """Add the ``fit`` command to ``commands`` (argparse subparsers)."""
    fit = commands.add_parser(
        "fit",
        help="train one model; save it with its metrics and motifs",
        description="Train a DeepPruneClassifier on DATA and write OUTPUT/model.deepprune "
        "(a scikit-learn pipeline taking DNA strings, in a file that loads without running "
        "code: sklearn_deepprune.load_model), OUTPUT/metrics.json (train and test "
        "AUC, the pruning history) and, with the 'motifs' extra, OUTPUT/motifs.meme, "
        "OUTPUT/matches.tsv (Tomtom matches of the motifs in JASPAR) and OUTPUT/logos.png "
        "(each logo labelled with its best match). Data without a test part (a single file "
        "without --test, peaks without --test-chromosomes) get a seeded held-out test part.",
    )
    fit.add_argument(
        "data",
        help="a data folder (train.data/test.data, or DeepBind's NAME_AC/NAME_B.seq.gz), a "
        "file of 'ID SEQUENCE LABEL' lines, a FASTA file of peaks (.fa/.fasta/.fna, "
        "optionally .gz; dinucleotide-shuffled copies become the negatives), a BED or "
        "narrowPeak file of peaks with --genome, or simulated1 ... simulated5",
    )
    fit.add_argument(
        "-o",
        "--output",
        required=True,
        help="folder to write: a new or empty one, or an earlier fit's (replaced whole once "
        "the new fit is written)",
    )
    fit.add_argument("--test", default=None, help="test file, when DATA is a single file")
    fit.add_argument(
        "--test-size",
        type=float,
        default=0.2,
        help="fraction held out as the test part when DATA has none and --test is not given; "
        "a peak and its shuffled copy stay together (0.2)",
    )
    fit.add_argument("--seed", type=int, default=0, help="random_state of the model (0)")
    peaks = fit.add_argument_group("peaks on a genome (the 'genome' extra)")
    peaks.add_argument(
        "--genome",
        default=None,
        metavar="GENOME.fa",
        help="reference genome FASTA (plain or bgzip, indexed on first use): DATA is then a "
        "BED3/BED6/narrowPeak file, optionally gzipped, whose windows are centred on the "
        "summits (narrowPeak) or middles (BED)",
    )
    peaks.add_argument(
        "--negatives",
        default="shuffle",
        metavar="{shuffle,flank,background,BED}",
        help="negatives for peaks: dinucleotide shuffles of the peaks, windows flanking "
        "them, random genomic windows matched in GC content, or the windows of a BED file "
        "(shuffle)",
    )
    peaks.add_argument(
        "--test-chromosomes",
        nargs="+",
        default=None,
        metavar="CHROM",
        help="hold out these chromosomes as the test part, e.g. chr8 chr9 (default: a "
        "random --test-size of the peaks)",
    )
    peaks.add_argument("--width", type=int, default=101, help="window length in bp (101)")
    fit.add_argument(
        "--no-matches",
        action="store_true",
        help="skip the Tomtom comparison with JASPAR (matches.tsv, match labels on the logos)",
    )
    fit.add_argument(
        "-v", "--verbose", action="count", default=1, help="more output (-v: skorch's epoch table)"
    )
    fit.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    fit.add_argument(
        "--joblib",
        action="store_true",
        help="also write OUTPUT/model.joblib, a pickle (loading one runs code: only load "
        "those you trust)",
    )
    add_estimator_options(fit)
    add_data_options(fit)
    fit.set_defaults(run=run)


def _read_labelled(path: str):
    """``(sequences, labels, groups)`` of one file; FASTA holds positives, shuffles are negatives.

    ``groups`` pairs each peak with its shuffled copy (its id without ``_shuf``).
    """

    from sklearn_deepprune.datasets import load_chipseq, load_fasta
    from sklearn_deepprune.datasets._io import _peak_ids

    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(FASTA_SUFFIXES):
        data = load_fasta(path, negatives="shuffle")
    else:
        data = load_chipseq(path, negatives="shuffle")
    return data.sequences, data.target, _peak_ids(data.ids)


def _fit_data(args: argparse.Namespace):
    """``(X_train, y_train, X_test, y_test, note)``: ``note`` says how a test part was made."""
    from sklearn_deepprune.datasets._io import split_groups
    from sklearn_deepprune.experiments import resolve_datasets

    if args.genome is not None:
        from sklearn_deepprune.datasets import load_peaks

        if args.test is not None:
            raise ValueError("--test is not for peaks; use --test-chromosomes or --test-size")
        data = load_peaks(
            args.data,
            args.genome,
            width=args.width,
            negatives=args.negatives,
            test_chromosomes=args.test_chromosomes,
            test_size=args.test_size,
            random_state=args.seed,
        )
        if data.split == "chromosomes":
            note = f"test part: the windows on {', '.join(data.test_chromosomes)}"
        else:
            note = (
                f"no --test-chromosomes: held out {args.test_size:.0%} of the peaks of "
                f"{args.data} as the test part (seed {args.seed})"
            )
        train, test = data.train, data.test
        return train.sequences, train.target, test.sequences, test.target, note
    if args.test_chromosomes is not None or args.negatives != "shuffle":
        raise ValueError("--negatives and --test-chromosomes are for peaks: give --genome")
    if Path(args.data).is_file():
        if is_peak_file(args.data):
            raise ValueError(f"{args.data} is a file of peaks: give the genome with --genome")
        X_train, y_train, groups = _read_labelled(args.data)
        if args.test is None:
            train, test = split_groups(groups, y_train, args.test_size, args.seed)
            note = (
                f"no --test: held out {args.test_size:.0%} of {args.data} as the test part "
                f"(seed {args.seed}; a peak and its shuffled copy on the same side)"
            )
            return X_train[train], y_train[train], X_train[test], y_train[test], note
        X_test, y_test, _ = _read_labelled(args.test)
        return X_train, y_train, X_test, y_test, f"test part: {args.test}"
    if args.test is not None:
        raise ValueError("--test is only for a single-file DATA; a folder has its own test part")
    datasets = resolve_datasets(args.data, n_samples=args.n_samples, motif_dir=args.motif_dir)
    if len(datasets) != 1:
        names = ", ".join(dataset.name for dataset in datasets[:5])
        raise ValueError(
            f"{args.data} holds {len(datasets)} data sets ({names}{', ...' * (len(datasets) > 5)})"
            "; fit one of them (DeepBind's: deepprune fit DIR/NAME_AC.seq.gz --test "
            "DIR/NAME_B.seq.gz), or run deepprune sweep on them all"
        )
    note = "test part: the data set's own"
    folder = Path(args.data)
    if folder.is_dir():
        from sklearn_deepprune.datasets._chipseq import _find_part_files

        files = _find_part_files(folder)
        if len(files) == 1:
            (only,) = files.values()
            note = f"{folder} has only {only.name}: held out 20% of it as the test part (seed 0)"
    return (*datasets[0].load(), note)


def _match_jaspar(motifs, found: list, folder: Path, written: dict):
    """Tomtom matches of ``found`` in JASPAR, written to ``matches.tsv``; None if unavailable."""
    try:
        matches = motifs.compare_motifs(found, "JASPAR")
    except (ImportError, ValueError) as exc:
        print(f"deepprune: note: motifs not matched to JASPAR ({exc})", file=sys.stderr)
        return None
    matches.to_csv(folder / "matches.tsv", sep="\t", index=False)
    written["matches"] = "matches.tsv"
    return matches


def _write_motifs(pipeline, X, folder: Path, written: dict, match: bool = True) -> None:
    """Write motifs.meme, matches.tsv and logos.png into ``folder``; their names in ``written``."""
    try:
        from sklearn_deepprune import motifs
    except ImportError as exc:
        print(f"deepprune: note: motifs not written ({exc})", file=sys.stderr)
        return
    try:
        found = motifs.extract_motifs(pipeline, list(X))
        motifs.to_meme(found, folder / "motifs.meme")
        written["motifs"] = "motifs.meme"
        matches = None
        if match:
            # Uninformative flanks weaken a match: compare (and draw) the trimmed motifs.
            found = [_trimmed(motifs, motif) for motif in found]
            matches = _match_jaspar(motifs, found, folder, written)
        motifs.plot_logos(found, matches, path=folder / "logos.png")
        written["logos"] = "logos.png"
    except ImportError as exc:
        print(f"deepprune: note: motifs not fully written ({exc})", file=sys.stderr)


def _trimmed(motifs, motif):
    try:
        return motifs.trim(motif)
    except ValueError:  # no informative position: keep it whole
        return motif


def run(args: argparse.Namespace) -> int:
    """Train one model on ``args.data`` and write it, its metrics and motifs."""
    from sklearn.pipeline import make_pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
    from sklearn_deepprune._guards import check_replaceable_folder, replacing_folder
    from sklearn_deepprune.cli.report import command_line
    from sklearn_deepprune.experiments import fit_report_data

    output = Path(args.output)
    check_output_folder(output)
    inputs = [args.data, args.test, args.genome, args.negatives, args.motif_dir]
    inputs = [path for path in inputs if path is not None and os.path.exists(path)]
    check_replaceable_folder(output, FIT_FILES, inputs, owner="'deepprune fit'")
    check_device_option(args.device)
    X_train, y_train, X_test, y_test, test_part = _fit_data(args)
    print(f"deepprune: {test_part}", flush=True)
    clf = DeepPruneClassifier(
        n_kernels=args.n_kernels,
        variant=args.variant,
        criterion=args.criterion,
        random_state=args.seed,
        verbose=0 if args.quiet else args.verbose,
        **estimator_params(args),
    )
    pipeline = make_pipeline(SequenceOneHotEncoder(), clf)
    start = time.perf_counter()
    pipeline.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    metrics = {
        "data": args.data,
        "n_train": len(y_train),
        "train_auc": float(pipeline.score(X_train, y_train)),
        "n_test": None if y_test is None else len(y_test),
        "test_auc": None if y_test is None else float(pipeline.score(X_test, y_test)),
        "test_part": test_part,
        "seconds": seconds,
        "params": {k: v for k, v in clf.get_params().items() if k != "verbose"},
        "strand": clf.strand_,
        "history": _stage_metrics(pipeline, X_test, y_test),
        "report": fit_report_data(
            pipeline, X_train, y_train, X_test, y_test, vars(args), command_line(args)
        ),
    }
    # A fresh folder beside OUTPUT, swapped in whole: OUTPUT is the old fit or the new one.
    with replacing_folder(output) as folder:
        written = write_fit(folder, pipeline, metrics, X_train if X_test is None else X_test, args)
    shown = [str(output / name) for name in written.values()]
    test = "" if y_test is None else f", test AUC {_auc(metrics['test_auc'], 4)}"
    staged = [row for row in metrics["history"] if "test_auc" in row]
    if len(staged) > 1:
        print(
            "test AUC per stage (kernels: AUC): "
            + ", ".join(f"{row['n_kernels']}: {_auc(row['test_auc'], 3)}" for row in staged)
        )
    print(
        f"train AUC {_auc(metrics['train_auc'], 4)}{test}; wrote {', '.join(shown)}, "
        f"{output / 'metrics.json'}"
    )
    return 0


def write_fit(folder: Path, pipeline, metrics: dict, X_motifs, args: argparse.Namespace) -> dict:
    """Write all files of a fit into ``folder``; ``{what: file name}`` of those but metrics.json.

    ``folder`` is the fresh folder that :func:`run` swaps in for OUTPUT once
    this returns: every file of the fit is written here, none elsewhere.
    ``metrics`` gets ``files`` (the paths under OUTPUT) and is written as
    metrics.json (strict JSON: an undefined AUC is ``null``); ``X_motifs``
    are the sequences the motifs are read from.
    """
    from sklearn_deepprune import save_model
    from sklearn_deepprune._guards import to_json
    from sklearn_deepprune.experiments import write_fit_report

    output = Path(args.output)
    save_model(pipeline, folder / "model.deepprune")
    written = {"model": "model.deepprune"}
    if args.joblib:
        import joblib

        joblib.dump(pipeline, folder / "model.joblib")
        written["joblib"] = "model.joblib"
    _write_motifs(pipeline, X_motifs, folder, written, not args.no_matches)
    written["report"] = "report.html"  # the page, made from the folder below
    metrics["files"] = {what: str(output / name) for what, name in written.items()}
    (folder / "metrics.json").write_text(to_json(metrics, indent=2) + "\n")
    for problem in write_fit_report(folder, matches=not args.no_matches)[1]:
        print(f"deepprune: note: report.html: {problem}", file=sys.stderr)
    return written


def _auc(value: float | None, digits: int) -> str:
    """An AUC for printing; NaN (one class only) as 'undefined'."""
    return "undefined" if value is None or value != value else f"{value:.{digits}f}"


def _stage_metrics(pipeline, X_test, y_test) -> list[dict]:
    """Per stage of the fitted pipeline: its history row, with the test AUC where known."""
    import math

    from sklearn.metrics import roc_auc_score

    clf = pipeline[-1]
    keys = ("stage", "n_kernels", "lr", "fine_tuned", "epochs", "best_valid_loss", "valid_auc")
    rows = []
    for row in clf.pruning_history_:
        entry = {key: row[key] for key in keys}
        if entry["valid_auc"] is not None and math.isnan(entry["valid_auc"]):
            entry["valid_auc"] = None  # no validation part; JSON has no NaN
        entry["seconds"] = row["seconds"]
        rows.append(entry)
    if y_test is not None:
        encoded = pipeline[:-1].transform(X_test)
        for entry, (_, scores) in zip(rows, clf.staged_decision_function(encoded), strict=True):
            entry["test_auc"] = float(roc_auc_score(y_test, scores))
    return rows
