"""Peaks on a genome and prediction at scale: load time, throughput and peak memory.

1. **load_peaks**: writes a synthetic genome (random DNA, ``--genome-mb``
   megabases in 10 chromosomes) with ``--peaks`` narrowPeak peaks (the CTCF
   motif planted at each summit), then times
   :func:`~sklearn_deepprune.datasets.load_peaks` (101-bp windows, shuffled
   negatives, chromosome hold-out) in a fresh child process and reports its
   peak resident memory. The first load also builds the genome's ``.fai``
   index; a second load reads it.
2. **deepprune predict**: writes a FASTA of ``--sequences`` random 101-bp
   sequences, fits a small model (4 kernels, 1 epoch per stage, on 2,000 of the
   windows from step 1) and runs ``deepprune predict MODEL FASTA -o scores.tsv``
   in a child process, with and without ``--sites``, reporting sequences per
   second and the child's peak resident memory (the whole one-hot array of 1M
   sequences would be 1.6 GB as float32; predict streams batches instead).

Usage::

    python benchmarks/peaks_predict.py [--peaks 50000] [--genome-mb 100]
                                      [--sequences 1000000] [--threads N] [--keep DIR]

The issue's sizes are the defaults; they need about 1 GB of disk in a
temporary folder (removed afterwards unless ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def measured(command: list[str], env: dict | None = None) -> dict:
    """Run ``command`` in a child: its wall seconds, peak resident MiB and stdout."""
    result = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    report = json.loads(result.stderr.strip().splitlines()[-1])
    return {**report, "stdout": result.stdout}


# Runs the command as a child and prints its wall time and peak memory (wait4's rusage).
_WRAPPER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
process = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(process.pid, 0)
if status != 0:
    sys.exit(1)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}), file=sys.stderr)
"""

_LOAD = """
import json, sys, time, warnings
from sklearn_deepprune.datasets import load_peaks
start = time.perf_counter()
data = load_peaks(sys.argv[1], sys.argv[2], test_chromosomes=["chr9", "chr10"], random_state=0)
print(json.dumps({"load_seconds": time.perf_counter() - start,
                  "n_train": len(data.train.target), "n_test": len(data.test.target)}))
"""


def write_random_fasta(path: Path, n: int, length: int = 101, seed: int = 0) -> None:
    """``n`` random sequences of ``length`` bp as FASTA, written in blocks."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "wb") as handle:
        for first in range(0, n, 100_000):
            block = min(100_000, n - first)
            codes = letters[rng.integers(0, 4, size=(block, length))]
            lines = np.hstack([codes, np.full((block, 1), ord("\n"), dtype=np.uint8)])
            sequences = lines.tobytes().split(b"\n")[:-1]
            handle.write(
                b"".join(b">s%d\n%s\n" % (first + i, seq) for i, seq in enumerate(sequences))
            )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peaks", type=int, default=50_000)
    parser.add_argument("--genome-mb", type=float, default=100)
    parser.add_argument("--sequences", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=None, help="torch threads of predict")
    parser.add_argument("--keep", default=None, help="folder to keep the files in")
    args = parser.parse_args(argv)

    from sklearn.pipeline import make_pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model
    from sklearn_deepprune.datasets import load_peaks, make_genome_peaks

    folder = Path(args.keep or tempfile.mkdtemp(prefix="deepprune-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)

    chromosome_length = int(args.genome_mb * 1e6 / 10)
    start = time.perf_counter()
    files = make_genome_peaks(
        folder / "genome",
        n_chromosomes=10,
        chromosome_length=chromosome_length,
        n_peaks=args.peaks,
        random_state=0,
    )
    print(
        f"synthetic genome: 10 x {chromosome_length:,} bp, {args.peaks:,} peaks "
        f"(written in {time.perf_counter() - start:.1f} s)"
    )
    for label in ("first load (builds the .fai index)", "second load"):
        result = measured([sys.executable, "-c", _LOAD, files.peaks, files.genome], env)
        load = json.loads(result["stdout"])
        print(
            f"load_peaks, {label}: {load['load_seconds']:.2f} s inside, {result['seconds']:.2f} s "
            f"with start-up; peak memory {result['peak_mb']:.0f} MiB; "
            f"{load['n_train']:,} train + {load['n_test']:,} test sequences"
        )

    data = load_peaks(files.peaks, files.genome, test_chromosomes=["chr10"], random_state=0)
    model = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(
            n_kernels=4,
            n_prune_steps=2,
            kernel_size=15,
            max_epochs=1,
            pooling="max",
            random_state=0,
        ),
    ).fit(data.train.sequences[:2000], data.train.target[:2000])
    save_model(model, folder / "model.deepprune")

    fasta = folder / "sequences.fa"
    start = time.perf_counter()
    write_random_fasta(fasta, args.sequences)
    size = fasta.stat().st_size / 2**20
    print(
        f"FASTA of {args.sequences:,} random 101-bp sequences: {size:.0f} MiB "
        f"(written in {time.perf_counter() - start:.1f} s)"
    )
    # The same command on one sequence: start-up (imports, loading the model) and writing.
    (folder / "one.fa").write_text(">one\n" + "ACGT" * 25 + "A\n")
    for extra in ([], ["--sites"]):
        runs = {}
        for name, path in (("one", folder / "one.fa"), ("all", fasta)):
            command = [sys.executable, "-m", "sklearn_deepprune.cli", "predict"]
            command += [str(folder / "model.deepprune"), str(path)]
            runs[name] = measured(command + ["-o", str(folder / "scores.tsv"), *extra], env)
        seconds, startup = runs["all"]["seconds"], runs["one"]["seconds"]
        print(
            f"deepprune predict {' '.join(extra) or '(scores only)'}: {seconds:.1f} s for "
            f"{args.sequences:,} sequences ({startup:.1f} s of it start-up, as for one "
            f"sequence): {args.sequences / (seconds - startup):,.0f} sequences/s after "
            f"start-up, {args.sequences / seconds:,.0f} with it; peak memory "
            f"{runs['all']['peak_mb']:.0f} MiB (one sequence: {runs['one']['peak_mb']:.0f} MiB)"
        )
    if not args.keep:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()


if __name__ == "__main__":
    main()
