"""The ``deepprune`` command: simulate data, fit a model, predict, run a sweep, report.

Run ``deepprune --help`` or ``deepprune COMMAND --help``. Errors are reported
as one line on stderr (``deepprune: error: ...``), with exit status 2 for a
wrong command line and 1 for anything that fails while running.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sklearn_deepprune.classifier import VARIANTS
from sklearn_deepprune.network import ACTIVATIONS, STRANDS
from sklearn_deepprune.pruning import CRITERIA

_FASTA_SUFFIXES = (".fa", ".fasta", ".fna")
_PEAK_SUFFIXES = (".bed", ".narrowpeak", ".broadpeak", ".bed3", ".bed6")
# Sequences whose activations at every position --sites holds at once.
_SITES_CHUNK = 1024

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
            default="ablation",
            help="pruning criterion; the paper's is weight (ablation)",
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
    group.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default="leaky_capped",
        help="kernel activation: relu (the paper's text) or leaky_capped (the authors' code) "
        "(leaky_capped)",
    )
    group.add_argument(
        "--strand",
        choices=["auto", *STRANDS],
        default="auto",
        help="forward (the paper), both (each kernel also scans the reverse complement) or "
        "auto: both for DNA (auto)",
    )
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
        With the subcommands ``simulate``, ``fit``, ``predict``, ``sweep`` and
        ``report``.
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
    fit.add_argument("-o", "--output", required=True, help="folder to write")
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
    _add_estimator_options(fit)
    _add_data_options(fit)

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
        "-o", "--output", default=None, help="file to write (.tsv; default: standard output)"
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
        choices=["auto", *sorted(CRITERIA)],
        default="auto",
        help="criterion of the pruned variants (auto: the one the results hold)",
    )
    return parser


def _estimator_params(args: argparse.Namespace, preset: dict[str, Any] | None = None) -> dict:
    params = {
        "kernel_size": args.kernel_size,
        "lr": args.lr,
        "device": args.device,
        "activation": args.activation,
        "strand": args.strand,
    }
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


def _is_peak_file(path: str) -> bool:
    name = Path(path).name.lower().removesuffix(".gz")
    return name.endswith(_PEAK_SUFFIXES)


def _read_labelled(path: str):
    """``(sequences, labels, groups)`` of one file; FASTA holds positives, shuffles are negatives.

    ``groups`` pairs each peak with its shuffled copy (its id without ``_shuf``).
    """

    from sklearn_deepprune.datasets import load_chipseq, load_fasta
    from sklearn_deepprune.datasets._chipseq import _peak_ids

    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(_FASTA_SUFFIXES):
        data = load_fasta(path, negatives="shuffle")
    else:
        data = load_chipseq(path, negatives="shuffle")
    return data.sequences, data.target, _peak_ids(data.ids)


def _fit_data(args: argparse.Namespace):
    """``(X_train, y_train, X_test, y_test, note)``: ``note`` says how a test part was made."""
    from sklearn_deepprune.datasets._peaks import split_groups
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
        if _is_peak_file(args.data):
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


def _match_jaspar(motifs, found: list, output: Path, written: dict):
    """Tomtom matches of ``found`` in JASPAR, written to ``matches.tsv``; None if unavailable."""
    try:
        matches = motifs.compare_motifs(found, "JASPAR")
    except (ImportError, ValueError) as exc:
        print(f"deepprune: note: motifs not matched to JASPAR ({exc})", file=sys.stderr)
        return None
    matches.to_csv(output / "matches.tsv", sep="\t", index=False)
    written["matches"] = str(output / "matches.tsv")
    return matches


def _write_motifs(pipeline, X, output: Path, written: dict, match: bool = True) -> None:
    try:
        from sklearn_deepprune import motifs
    except ImportError as exc:
        print(f"deepprune: note: motifs not written ({exc})", file=sys.stderr)
        return
    try:
        found = motifs.extract_motifs(pipeline, list(X))
        motifs.to_meme(found, output / "motifs.meme")
        written["motifs"] = str(output / "motifs.meme")
        matches = None
        if match:
            # Uninformative flanks weaken a match: compare (and draw) the trimmed motifs.
            found = [_trimmed(motifs, motif) for motif in found]
            matches = _match_jaspar(motifs, found, output, written)
        motifs.plot_logos(found, matches, path=output / "logos.png")
        written["logos"] = str(output / "logos.png")
    except ImportError as exc:
        print(f"deepprune: note: motifs not fully written ({exc})", file=sys.stderr)


def _trimmed(motifs, motif):
    try:
        return motifs.trim(motif)
    except ValueError:  # no informative position: keep it whole
        return motif


def _check_output_folder(output: Path) -> None:
    """Raise a ValueError unless ``output`` is, or can become, a folder to write in.

    Called before any work, so that a bad ``-o`` fails at once rather than
    after training; it leaves nothing behind.
    """
    if output.exists() and not output.is_dir():
        raise ValueError(f"output {output} exists and is not a folder")
    created = []
    folder = output
    while not folder.exists():
        created.append(folder)
        folder = folder.parent
    try:
        for path in reversed(created):
            path.mkdir()
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ValueError(f"cannot write to the output folder {output}: {reason}") from None
    finally:
        for path in created:
            with contextlib.suppress(OSError):
                path.rmdir()


def _fit(args: argparse.Namespace) -> int:
    from sklearn.pipeline import make_pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model

    _check_output_folder(Path(args.output))
    X_train, y_train, X_test, y_test, test_part = _fit_data(args)
    print(f"deepprune: {test_part}", flush=True)
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
    written = {"model": str(save_model(pipeline, output / "model.deepprune"))}
    if args.joblib:
        import joblib

        joblib.dump(pipeline, output / "model.joblib")
        written["joblib"] = str(output / "model.joblib")
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
    }
    _write_motifs(
        pipeline, X_train if X_test is None else X_test, output, written, not args.no_matches
    )
    metrics["files"] = written
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    test = "" if y_test is None else f", test AUC {metrics['test_auc']:.4f}"
    staged = [row for row in metrics["history"] if "test_auc" in row]
    if len(staged) > 1:
        print(
            "test AUC per stage (kernels: AUC): "
            + ", ".join(f"{row['n_kernels']}: {row['test_auc']:.3f}" for row in staged)
        )
    print(
        f"train AUC {metrics['train_auc']:.4f}{test}; wrote {', '.join(written.values())}, "
        f"{output / 'metrics.json'}"
    )
    return 0


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


def _model_file(path: str) -> Path:
    """The model file of ``path``: the file itself, or ``model.deepprune`` in a fit folder."""
    model = Path(path)
    if model.is_dir():
        if not (model / "model.deepprune").is_file():
            raise ValueError(
                f"{model} holds no model.deepprune (the model file 'deepprune fit' writes)"
            )
        return model / "model.deepprune"
    return model


def _predict_batches(args: argparse.Namespace, length: int):
    """Yield Bunches of ``ids``, ``sequences`` (and ``chrom``, ``start``, ``end`` for a BED)."""
    from sklearn.utils import Bunch

    from sklearn_deepprune.datasets import load_chipseq
    from sklearn_deepprune.datasets._chipseq import iter_fasta
    from sklearn_deepprune.datasets._peaks import iter_peak_windows

    path = Path(args.input)
    if not path.is_file():
        raise FileNotFoundError(f"no such input file: {path}")
    is_fasta = path.name.lower().removesuffix(".gz").endswith(_FASTA_SUFFIXES)
    if args.genome is not None:
        if is_fasta:
            raise ValueError(f"--genome is for a BED/narrowPeak INPUT; {path} is FASTA")
        yield from iter_peak_windows(path, args.genome, length, args.batch_size)
    elif _is_peak_file(args.input):
        raise ValueError(f"{path} is a file of peaks: give the genome with --genome")
    elif is_fasta:
        records = iter_fasta(path)
        while True:
            batch = list(itertools.islice(records, args.batch_size))
            if not batch:
                return
            ids, sequences = zip(*batch, strict=True)
            yield Bunch(ids=list(ids), sequences=list(sequences))
    else:
        data = load_chipseq(path)
        for first in range(0, len(data.ids), args.batch_size):
            batch = slice(first, first + args.batch_size)
            yield Bunch(ids=data.ids[batch], sequences=list(data.sequences[batch]))


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


def _predict(args: argparse.Namespace) -> int:
    import csv

    import numpy as np
    from sklearn.pipeline import Pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, load_model

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}")
    model_file = _model_file(args.model)
    model = load_model(model_file, device=args.device)
    steps = [step for _, step in model.steps] if isinstance(model, Pipeline) else [model]
    if not (
        len(steps) == 2
        and isinstance(steps[0], SequenceOneHotEncoder)
        and isinstance(steps[1], DeepPruneClassifier)
    ):
        raise ValueError(
            f"{model_file} holds a {type(model).__name__} of "
            f"{', '.join(type(step).__name__ for step in steps)}; predict needs a pipeline "
            "SequenceOneHotEncoder -> DeepPruneClassifier taking DNA strings (what "
            "'deepprune fit' writes)"
        )
    coder, classifier = steps
    length = int(coder.length_)
    module = classifier.net_.module_
    output = None if args.output is None else Path(args.output)
    partial = None if output is None else output.with_name(output.name + ".partial")
    n_rows = 0
    try:
        with (
            open(partial, "w", newline="")
            if partial is not None
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
        if partial is not None:
            partial.replace(output)
    finally:
        if partial is not None and partial.exists():
            partial.unlink()
    where = "standard output" if output is None else output
    print(f"deepprune: scored {n_rows} sequences; wrote {where}", file=sys.stderr)
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


_COMMANDS = {
    "simulate": _simulate,
    "fit": _fit,
    "predict": _predict,
    "sweep": _sweep,
    "report": _report,
}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one ``deepprune: warning: ...`` line (no source location)."""
    text = " ".join(str(message).split()) or category.__name__
    print(f"deepprune: warning: {text}", file=file or sys.stderr)


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
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
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
    except (ValueError, TypeError, OSError, ImportError, EOFError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"deepprune: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
