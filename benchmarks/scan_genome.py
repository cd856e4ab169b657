"""Genome-wide scan: ``deepprune scan`` against lightmotif and MOODS, in one run.

A 4-kernel model that reads both strands (kernels of width 15, 101-bp
windows, fitted briefly on :func:`~sklearn_deepprune.datasets.make_genome_peaks`)
scans a synthetic genome of ``--genome-mb`` megabases of random DNA (10
chromosomes). Three scanners see the same 8 matrices, the 4 kernels and their
reverse complements:

* **deepprune scan**: :func:`~sklearn_deepprune.tracks.scan_genome` on the
  model file, exactly what ``deepprune scan MODEL --genome FA -o OUT`` runs
  (all 8 scores at every position, the window maximum, the dense layer,
  the sites at p < 1e-4, ``binding.bw``, ``sites.bed.gz`` and its index
  written), on ``--threads`` threads (default: all cores), timed in this
  process after a warm-up on one chromosome (numba's compiled code loaded);
  then the same command in a child process for its peak resident memory and
  its wall time from start-up;
* **lightmotif** (``ScoringMatrix.calculate``, the score of every position,
  on a sequence encoded and striped beforehand; one thread): the 8 matrices
  as scoring matrices, one call each per chromosome;
* **MOODS** (``MOODS.scan.scan_dna`` at p < 1e-4 under the genome's base
  composition, thresholds from ``MOODS.tools.threshold_from_p``; one
  thread): the 8 matrices in one call per chromosome.

Mb/s is genome megabases over wall seconds; the ratios are against the faster
of the two references.

Usage::

    python benchmarks/scan_genome.py [--genome-mb 100] [--threads N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from peaks_predict import measured  # noqa: E402  (a sibling script)


def write_genome(path: Path, megabases: int, seed: int = 0) -> None:
    """Random DNA in 10 chromosomes of ``megabases / 10`` Mb each."""
    from sklearn_deepprune.datasets._peaks import _write_fasta_record

    rng = np.random.RandomState(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "wb") as handle:
        for c in range(10):
            codes = rng.randint(0, 4, megabases * 100_000).astype(np.uint8)
            _write_fasta_record(handle, f"chr{c + 1}", letters[codes])


def fit_model(folder: Path) -> Path:
    """A 4-kernel both-strands model fitted briefly on synthetic peaks, saved in ``folder``."""
    from sklearn.pipeline import make_pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model
    from sklearn_deepprune.datasets import load_peaks, make_genome_peaks

    files = make_genome_peaks(folder / "peaks", chromosome_length=50_000, random_state=0)
    data = load_peaks(files.peaks, files.genome, random_state=0)
    # Max pooling: the fast scan (an lse model's windows are each scanned whole, the guide says).
    clf = DeepPruneClassifier(
        n_kernels=4,
        n_prune_steps=2,
        kernel_size=15,
        max_epochs=5,
        strand="both",
        pooling="max",
        random_state=0,
    )
    pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(data.train.sequences, data.train.target)
    return save_model(pipe, folder / "model.deepprune")


def matrices(model_file: Path) -> list[np.ndarray]:
    """The 8 scanned matrices ``(4, w)``: each kernel, then its reverse complement."""
    from sklearn_deepprune import load_model

    weight = load_model(model_file)[-1].net_.module_.conv.weight.detach().double().numpy()
    return [w for kernel in weight for w in (kernel, kernel[::-1, ::-1])]


def best_of(function, repeats: int = 3) -> float:
    """The fastest of ``repeats`` wall times of ``function()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--genome-mb", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None, help="deepprune's (all cores)")
    parser.add_argument("--keep", default=None, help="keep the files in this folder")
    args = parser.parse_args()

    import lightmotif
    import MOODS.scan
    import MOODS.tools

    from sklearn_deepprune.datasets._peaks import open_genome
    from sklearn_deepprune.tracks import DEFAULT_STEP, scan_genome

    folder = Path(args.keep or tempfile.mkdtemp(prefix="scan_genome_"))
    folder.mkdir(parents=True, exist_ok=True)
    genome = folder / "genome.fa"
    if not genome.exists():
        write_genome(genome, args.genome_mb)
    model = fit_model(folder)
    fasta = open_genome(genome)
    chromosomes = [str(fasta[name][:]) for name in fasta.keys()]
    megabases = sum(map(len, chromosomes)) / 1e6
    threads = args.threads or os.cpu_count()
    print(
        f"genome: {megabases:.0f} Mb in {len(chromosomes)} chromosomes; model: 4 kernels of "
        f"width 15, both strands, 101-bp windows, step {DEFAULT_STEP}; CPU: {os.cpu_count()} "
        f"cores ({_cpu_name()})"
    )

    # deepprune scan, in this process (warm), then as the command in a child.
    scan_genome(model, genome, ["chr1"], progress=False, n_jobs=threads)  # warm-up

    def ours():
        output = Path(tempfile.mkdtemp(dir=folder)) / "scan"
        return scan_genome(model, genome, output=output, n_jobs=threads, progress=False)

    cpu = time.process_time()
    ours_seconds = best_of(ours, 2)
    ours_cpu = (time.process_time() - cpu) / 2
    cli_output = Path(tempfile.mkdtemp(dir=folder)) / "cli"
    child = measured(
        [
            sys.executable,
            "-m",
            "sklearn_deepprune.cli",
            "scan",
            str(model),
            "--genome",
            str(genome),
            "-o",
            str(cli_output),
            "-q",
            *(["-j", str(args.threads)] if args.threads else []),
        ]
    )
    sizes = {p.name: p.stat().st_size for p in cli_output.iterdir()}

    # lightmotif: every position's score of the 8 matrices, one thread.
    scoring = [
        lightmotif.ScoringMatrix(dict(zip("ACGT", (list(row) for row in m), strict=True)))
        for m in matrices(model)
    ]
    start = time.perf_counter()
    striped = [lightmotif.EncodedSequence(seq).stripe() for seq in chromosomes]
    stripe_seconds = time.perf_counter() - start

    def light():
        for sequence in striped:
            for matrix in scoring:
                matrix.calculate(sequence)

    light_seconds = best_of(light, 2)

    # MOODS: the hits at p < 1e-4 of the 8 matrices, one thread.
    counts = np.array([sum(seq.count(b) for seq in chromosomes) for b in "ACGT"], float)
    background = list(counts / counts.sum())
    moods_matrices = [m.tolist() for m in matrices(model)]
    thresholds = [MOODS.tools.threshold_from_p(m, background, 1e-4) for m in moods_matrices]
    n_hits = []

    def moods():
        n_hits.clear()
        for sequence in chromosomes:
            found = MOODS.scan.scan_dna(sequence, moods_matrices, background, thresholds, 7)
            n_hits.append(sum(map(len, found)))

    moods_seconds = best_of(moods, 2)

    rates = {
        "deepprune scan": megabases / ours_seconds,
        "lightmotif": megabases / light_seconds,
        "MOODS": megabases / moods_seconds,
    }
    reference = max(rates["lightmotif"], rates["MOODS"])
    found = ours()
    print(f"\n{'scanner':<34}{'Mb/s':>9}{'ratio':>9}")
    print(
        f"{'deepprune scan (' + str(threads) + ' threads, all)':<34}"
        f"{rates['deepprune scan']:>9.1f}{rates['deepprune scan'] / reference:>8.2f}x"
    )
    print(
        f"{'lightmotif calculate (1 thread)':<34}{rates['lightmotif']:>9.1f}"
        f"{rates['lightmotif'] / reference:>8.2f}x"
    )
    print(
        f"{'MOODS scan_dna p<1e-4 (1 thread)':<34}{rates['MOODS']:>9.1f}"
        f"{rates['MOODS'] / reference:>8.2f}x"
    )
    print(
        f"\ndeepprune scan: {found.n_bins} track values, {found.n_sites} sites; MOODS: "
        f"{sum(n_hits)} hits; lightmotif striping beforehand {stripe_seconds:.2f} s"
    )
    print(
        f"deepprune scan used {ours_cpu:.2f} CPU s per run over its threads "
        f"({megabases / ours_cpu:.1f} Mb per CPU second); load average when done: "
        f"{os.getloadavg()[0]:.2f}"
    )
    print(
        f"the command in a child process: {child['seconds']:.1f} s from start-up "
        f"({megabases / child['seconds']:.1f} Mb/s), peak RSS {child['peak_mb']:.0f} MiB; "
        f"files: {', '.join(f'{k} {v / 1e6:.2f} MB' for k, v in sorted(sizes.items()))}"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                flags = open("/proc/cpuinfo").read()
                simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
                return f"{line.split(':', 1)[1].strip()}, {simd}"
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
