"""
From a peak file and a genome to a model, and back to genomic regions
=====================================================================

A ChIP-seq experiment ends with a peak file (ENCODE's narrowPeak: intervals
with a summit) on a reference genome. This example runs the whole path on a
small synthetic genome, so that it needs no download: four chromosomes of
random DNA with the CTCF motif (JASPAR MA0139.2) planted at the summit of each
of 400 peaks.

1. :func:`~sklearn_deepprune.datasets.load_peaks` cuts a 101-bp window around
   each summit out of the genome (pyfaidx), adds negatives, and holds out a
   chromosome as the test part: the standard split in genomics, so that no
   window and its overlapping neighbour land on both sides.
2. A Deepprune model is trained on the other chromosomes and scored on the
   held-out one.
3. ``deepprune predict`` scores regions of the genome given as a BED file,
   with each kernel's best site, as one would score new regions of a real
   genome.

For hg38 and an ENCODE narrowPeak file the calls are the same (see the user
guide); only the files differ. Needs the ``genome`` extra (pyfaidx, bioframe);
the logos need the ``motifs`` extra.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model
from sklearn_deepprune.cli import main as deepprune
from sklearn_deepprune.datasets import load_peaks, make_genome_peaks
from sklearn_deepprune.motifs import Motif, extract_motifs, plot_logos, trim

folder = Path(tempfile.mkdtemp())
files = make_genome_peaks(folder, chromosome_length=30_000, n_peaks=400, random_state=0)
print(open(files.peaks).read().splitlines()[:3])

# %%
# Windows, negatives and a held-out chromosome
# --------------------------------------------
# Each narrowPeak window is centred on the summit (column 10); a BED file's on
# the interval's middle. ``negatives="shuffle"`` (the paper's choice) follows
# each peak with a dinucleotide-shuffled copy; ``"flank"`` takes windows next
# to the peaks and ``"background"`` random genomic windows of the same GC
# content, both away from every peak.
data = load_peaks(files.peaks, files.genome, test_chromosomes=["chr4"], random_state=0)
for name in ("train", "test"):
    part = data[name]
    print(f"{name}: {len(part.target)} windows on {', '.join(np.unique(part.chrom))}")
print(data.train.ids[:2], data.train.chrom[0], data.train.start[0], data.train.end[0])

# %%
# A model, scored on the held-out chromosome
# ------------------------------------------
# Tiny settings for the gallery; use the defaults (256 kernels) for real data.
model = make_pipeline(
    SequenceOneHotEncoder(),
    DeepPruneClassifier(
        n_kernels=2, kernel_size=15, n_prune_steps=2, max_epochs=15, patience=4, random_state=0
    ),
)
model.fit(data.train.sequences, data.train.target)
print(f"test ROC AUC on chr4: {model.score(data.test.sequences, data.test.target):.3f}")

# %%
# What the kernels learned, next to the planted motif
found = extract_motifs(model, data.test.sequences)
motifs = [trim(m) if m.column_ic.max() >= 0.25 else m for m in found]
figure = plot_logos([Motif("planted CTCF (MA0139.2)", files.motif), *motifs])

# %%
# Scoring regions of the genome: ``deepprune predict``
# ----------------------------------------------------
# The model is saved as a model file (safe to share: loading it runs no code).
# ``deepprune predict`` reads a FASTA, a BED file with ``--genome``, or any file
# that ``deepprune fit`` reads, in batches, so a file of millions of regions
# needs little memory. Here: chr4's summits and as many other chr4 positions.
save_model(model, folder / "model.deepprune")
peaks = pd.read_csv(files.peaks, sep="\t", skiprows=1, header=None)  # after the track line
summits = peaks[peaks[0] == "chr4"][1] + peaks[peaks[0] == "chr4"][9]
# Random positions at least 110 bp from every summit, so without a planted motif.
candidates = np.random.default_rng(0).integers(100, 29_900, size=20 * len(summits))
distance = np.abs(candidates[:, None] - summits.to_numpy()[None]).min(axis=1)
random = candidates[distance > 110][: len(summits)]
regions = pd.DataFrame(
    {
        "chrom": "chr4",
        "start": np.concatenate([summits, random]),
        "end": np.concatenate([summits, random]) + 1,
        "name": [f"peak{i}" for i in range(len(summits))]
        + [f"random{i}" for i in range(len(random))],
    }
)
regions.to_csv(folder / "regions.bed", sep="\t", header=False, index=False)
deepprune(
    [
        "predict",
        str(folder / "model.deepprune"),
        str(folder / "regions.bed"),
        "--genome",
        files.genome,
        "--sites",
        "-o",
        str(folder / "scores.tsv"),
    ]
)
scores = pd.read_csv(folder / "scores.tsv", sep="\t")
print(scores.head().to_string(index=False))

# %%
# Peaks score high, other positions low. A kernel that detects the motif has
# its best site on a peak at the window's centre, where the motif was planted
# (the 19-bp motif spans positions 41 to 59 of the window);
# a kernel with a negative dense weight is evidence against binding instead.
kind = np.where(scores["id"].str.startswith("peak"), "peaks", "other positions")
on_peaks = scores[kind == "peaks"]
for k, weight in enumerate(model[-1].dense_weight_):
    position = on_peaks[f"k{k}_position"]
    near = np.mean(abs(position - position.median()) <= 5)
    print(
        f"kernel {k}: dense weight {weight:+.2f}; on peaks its best site starts at "
        f"{position.median():.0f} (median), within 5 bp of that on {near:.0%} of them"
    )
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
for label in ("peaks", "other positions"):
    ax.hist(scores["probability"][kind == label], bins=20, range=(0, 1), alpha=0.6, label=label)
ax.set_xlabel("predicted probability of binding")
ax.set_ylabel("regions")
ax.legend()
plt.show()
