"""Scoring variants at scale: ``deepprune variants`` against the plain approach, in one run.

1. Writes a synthetic genome (random DNA, ``--genome-mb`` megabases in 4
   chromosomes, the CTCF motif planted at the peaks) and fits a small 4-kernel
   model reading both strands (101-bp windows, kernels of 24) on its peaks.
2. Writes a bgzipped VCF of ``--variants`` SNVs at random positions (sorted;
   REF from the genome, ALT another base), with pysam.
3. **Ours**: ``deepprune variants MODEL VCF --genome FA -o effects.tsv`` in a
   child process, end to end (start-up, reading the VCF, the genome, scoring,
   writing every column): wall seconds and the child's peak resident memory.
   Run once on a 1,000-SNV VCF first, so that the compiled scan is in numba's
   disk cache (as after any first use on a machine) and so as to say how much
   of the time is start-up.
4. **The plain approach** a careful user writes, as a script run the same
   way (a child process, end to end: start-up, loading the model with
   ``load_model``): read the VCF (pysam), fetch each variant's 101-bp window
   with pyfaidx, build the ALT string, and score both alleles with the
   pipeline's ``predict_proba`` in batches of 10,000; write chrom, pos, ref,
   alt, the two probabilities and their difference. Run on ``--plain``
   variants (the first ones of the same VCF); when that is fewer than all, its
   time after start-up is extrapolated linearly (start-up measured as for
   ours, on 1,000 variants).

Usage::

    python benchmarks/variants.py [--variants 1000000] [--genome-mb 100] [--plain 200000]
                                  [--keep DIR]

The files (about 130 MB) go into a temporary folder, removed afterwards unless
``--keep`` (which also reuses a genome and VCF already there).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peaks_predict import measured  # noqa: E402  (a child's wall time and peak memory)


def write_vcf(path: Path, genome: str, n: int, seed: int = 0) -> None:
    """A bgzipped VCF of ``n`` sorted SNVs at random positions of ``genome``."""
    import pysam

    from sklearn_deepprune.datasets._peaks import open_genome

    rng = np.random.default_rng(seed)
    fasta = open_genome(genome)
    sizes = {name: len(record) for name, record in fasta.records.items()}
    total = sum(sizes.values())
    plain = path.with_suffix("")  # variants.vcf
    with open(plain, "w") as handle:
        handle.write("##fileformat=VCFv4.2\n")
        for name, size in sizes.items():
            handle.write(f"##contig=<ID={name},length={size}>\n")
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for name, size in sizes.items():
            m = int(round(n * size / total))
            pos = np.sort(rng.choice(np.arange(1, size + 1), size=m, replace=False))
            sequence = np.frombuffer(fasta[name][:].encode(), dtype=np.uint8)
            ref = sequence[pos - 1]
            shift = rng.integers(1, 4, size=m)
            codes = (np.searchsorted(np.frombuffer(b"ACGT", np.uint8), ref) + shift) % 4
            alt = np.frombuffer(b"ACGT", np.uint8)[codes]
            lines = [
                f"{name}\t{p}\tv{name}_{i}\t{chr(r)}\t{chr(a)}\t.\t.\t.\n"
                for i, (p, r, a) in enumerate(
                    zip(pos.tolist(), ref.tolist(), alt.tolist(), strict=True)
                )
            ]
            handle.writelines(lines)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()


def plain_approach(model_path: str, vcf: str, genome: str, limit: int, output: str) -> None:
    """The careful plain approach on the first ``limit`` records of ``vcf``."""
    import pyfaidx
    import pysam

    from sklearn_deepprune import load_model

    model = load_model(model_path)
    length = model[0].length_
    half = length // 2
    fasta = pyfaidx.Fasta(genome, as_raw=True, sequence_always_upper=True)
    n = 0
    with pysam.VariantFile(str(vcf)) as records, open(output, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["chrom", "pos", "ref", "alt", "prob_ref", "prob_alt", "diff"])
        batch = []

        def flush():
            refs = [b[4] for b in batch]
            alts = [b[5] for b in batch]
            p_ref = model.predict_proba(refs)[:, 1]
            p_alt = model.predict_proba(alts)[:, 1]
            writer.writerows(
                (c, p, r, a, f"{x:.6g}", f"{y:.6g}", f"{y - x:.6g}")
                for (c, p, r, a, _, _), x, y in zip(batch, p_ref, p_alt, strict=True)
            )
            batch.clear()

        for record in records:
            if n == limit:
                break
            chrom, pos, ref = record.chrom, record.pos, record.ref
            size = len(fasta[chrom])
            lo, hi = pos - 1 - half, pos - 1 - half + length
            window = fasta[chrom][max(lo, 0) : min(hi, size)]
            window = "N" * (max(lo, 0) - lo) + window + "N" * (hi - min(hi, size))
            for alt in record.alts:
                alt_window = window[:half] + alt + window[half + 1 :]
                batch.append((chrom, pos, ref, alt, window, alt_window))
            n += 1
            if len(batch) >= 10_000:
                flush()
        if batch:
            flush()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--genome-mb", type=float, default=100)
    parser.add_argument("--plain", type=int, default=200_000, help="variants the plain runs on")
    parser.add_argument("--keep", default=None, help="folder to keep (and reuse) the files in")
    parser.add_argument(
        "--pooling", default="max", help="the model's pooling (max; lse: the soft maximum)"
    )
    parser.add_argument("--run-plain", nargs=5, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_plain:  # the child process of the plain approach
        model, vcf, genome, limit, output = args.run_plain
        plain_approach(model, vcf, genome, int(limit), output)
        return

    from sklearn.pipeline import make_pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model
    from sklearn_deepprune.datasets import load_peaks, make_genome_peaks

    folder = Path(args.keep or tempfile.mkdtemp(prefix="deepprune-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    chromosome_length = int(args.genome_mb * 1e6 / 4)
    genome = folder / "genome" / "genome.fa"
    start = time.perf_counter()
    if not genome.is_file():
        make_genome_peaks(
            folder / "genome",
            n_chromosomes=4,
            chromosome_length=chromosome_length,
            n_peaks=2000,
            random_state=0,
        )
    print(f"synthetic genome: 4 x {chromosome_length:,} bp ({time.perf_counter() - start:.1f} s)")
    start = time.perf_counter()
    data = load_peaks(folder / "genome" / "peaks.narrowPeak", genome, random_state=0)
    model = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(
            n_kernels=4,
            n_prune_steps=2,
            max_epochs=3,
            strand="both",
            pooling=args.pooling,
            random_state=0,
        ),
    ).fit(data.train.sequences, data.train.target)
    save_model(model, folder / "model.deepprune")
    module = model[-1].net_.module_
    auc = model.score(data.test.sequences, data.test.target)
    print(
        f"model: {module.n_kernels} kernels of {module.kernel_size}, strand={module.strand}, "
        f"pooling={module.pooling}, "
        f"{model[0].length_}-bp windows, test AUC {auc:.3f} "
        f"({time.perf_counter() - start:.1f} s to fit)"
    )

    vcf = folder / f"snvs_{args.variants}.vcf.gz"
    start = time.perf_counter()
    if not vcf.is_file():
        write_vcf(vcf, str(genome), args.variants)
    print(
        f"VCF: {args.variants:,} SNVs, bgzipped {vcf.stat().st_size / 2**20:.0f} MiB "
        f"({time.perf_counter() - start:.1f} s)"
    )
    small = folder / "snvs_1000.vcf.gz"
    if not small.is_file():
        write_vcf(small, str(genome), 1000, seed=1)

    command = [sys.executable, "-m", "sklearn_deepprune.cli", "variants"]
    command += [str(folder / "model.deepprune")]
    runs = {}
    for name, path in (("small", small), ("all", vcf)):
        runs[name] = measured(
            [*command, str(path), "--genome", str(genome), "-o", str(folder / "effects.tsv")],
            dict(os.environ),
        )
    ours, startup = runs["all"]["seconds"], runs["small"]["seconds"]
    n_rows = sum(1 for _ in open(folder / "effects.tsv")) - 1
    print(
        f"ours, deepprune variants: {ours:.1f} s end to end for {args.variants:,} SNVs "
        f"({n_rows:,} rows written; {startup:.1f} s for 1,000 SNVs: start-up), "
        f"{args.variants / ours:,.0f} SNVs/s; peak memory {runs['all']['peak_mb']:.0f} MiB"
    )

    limit = min(args.plain, args.variants)
    plain = {}
    for name, n in (("small", 1000), ("run", limit)):
        command = [sys.executable, __file__, "--run-plain", str(folder / "model.deepprune")]
        command += [str(vcf), str(genome), str(n), str(folder / "plain.tsv")]
        plain[name] = measured(command, dict(os.environ))
    seconds, plain_startup = plain["run"]["seconds"], plain["small"]["seconds"]
    total = plain_startup + (seconds - plain_startup) * args.variants / limit
    note = (
        ""
        if limit == args.variants
        else f" (run on the first {limit:,} in {seconds:.1f} s, extrapolated linearly after its "
        f"{plain_startup:.1f} s of start-up)"
    )
    print(
        f"plain approach (pyfaidx fetch per variant, predict_proba on both alleles in batches "
        f"of 10,000): {total:.1f} s end to end for {args.variants:,} SNVs{note}; peak memory "
        f"{plain['run']['peak_mb']:.0f} MiB"
    )
    print(f"ratio: ours is {total / ours:.1f}x faster end to end")

    # The same two, in this process (how the project states speed ratios): no interpreter
    # start-up on either side, each after one run on the small VCF (imports, caches).
    from sklearn_deepprune.cli import main as deepprune

    model_file = str(folder / "model.deepprune")

    def ours_here(path) -> None:
        deepprune(
            [
                "variants",
                model_file,
                str(path),
                "--genome",
                str(genome),
                "-o",
                str(folder / "effects_here.tsv"),
            ]
        )

    ours_here(small)
    plain_approach(model_file, str(vcf), str(genome), 1000, str(folder / "plain_here.tsv"))
    start = time.perf_counter()
    ours_here(vcf)
    ours_in = time.perf_counter() - start
    start = time.perf_counter()
    plain_approach(model_file, str(vcf), str(genome), limit, str(folder / "plain_here.tsv"))
    plain_in = (time.perf_counter() - start) * args.variants / limit
    scaled = "" if limit == args.variants else f" (run on the first {limit:,}, scaled)"
    print(
        f"in one process: ours {ours_in:.1f} s, plain approach {plain_in:.1f} s{scaled} for "
        f"{args.variants:,} SNVs; ratio: ours is {plain_in / ours_in:.1f}x faster"
    )
    # The two agree on the first variants' probabilities.
    import pandas as pd

    plain = pd.read_csv(folder / "plain.tsv", sep="\t", nrows=1000)
    effects = pd.read_csv(folder / "effects.tsv", sep="\t", nrows=1000)
    error = np.abs(plain["prob_alt"].to_numpy() - effects["prob_alt"].to_numpy()).max()
    print(f"largest difference of prob_alt on the first 1,000 variants: {error:.1e}")
    if not args.keep:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()


if __name__ == "__main__":
    main()
