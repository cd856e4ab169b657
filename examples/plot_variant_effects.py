"""
Which variants change binding, and through which motif
======================================================

A fitted model answers the next question a lab asks: which of its variants
change the factor's binding? This example plants the CTCF motif (JASPAR
MA0139.2) at the summits of 400 peaks on a small synthetic genome, fits a
2-kernel model on the peaks, and writes a VCF of two kinds of SNVs:

- 200 that hit the most informative base of a planted site (each changes it
  to the base the motif likes least): these should lower binding;
- 800 at random positions away from every peak: these should change nothing.

``deepprune variants`` scores them all from the VCF, as on a real genome;
:func:`~sklearn_deepprune.variants.plot_variant` then draws the strongest hit:
which bases of the REF and of the ALT window the prediction depends on, the
variant outlined and the kernel's site shaded. Needs the ``genome`` extra
(pyfaidx, pysam) and the ``plot`` extra.
"""

# %%
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model
from sklearn_deepprune.cli import main as deepprune
from sklearn_deepprune.datasets import load_peaks, make_genome_peaks
from sklearn_deepprune.variants import plot_variant

folder = Path(tempfile.mkdtemp())
files = make_genome_peaks(folder, chromosome_length=200_000, n_peaks=400, random_state=0)
data = load_peaks(files.peaks, files.genome, test_chromosomes=["chr4"], random_state=0)
model = make_pipeline(
    SequenceOneHotEncoder(),
    DeepPruneClassifier(
        n_kernels=2, kernel_size=20, n_prune_steps=2, max_epochs=15, patience=4, random_state=0
    ),
)
model.fit(data.train.sequences, data.train.target)
print(f"test ROC AUC on chr4: {model.score(data.test.sequences, data.test.target):.3f}")
save_model(model, folder / "model.deepprune")

# %%
# A VCF of site-destroying and background SNVs
# --------------------------------------------
# The planted site is centred on each summit (narrowPeak column 10); the
# variant goes to the motif's most informative column.
rng = np.random.default_rng(0)
peaks = pd.read_csv(files.peaks, sep="\t", skiprows=1, header=None)
summits = peaks[1] + peaks[9]
pfm = files.motif
informative = int(np.argmax((pfm * np.log2(pfm * 4 + 1e-9)).sum(axis=1)))
least_liked = "ACGT"[int(np.argmin(pfm[informative]))]
sequences = {}
for line in open(files.genome).read().split(">")[1:]:
    name, *rows = line.split("\n")
    sequences[name] = "".join(rows)

rows = []
for chrom, summit in zip(peaks[0][:200], summits[:200], strict=True):
    pos0 = summit - len(pfm) // 2 + informative
    ref = sequences[chrom][pos0]
    alt = least_liked if least_liked != ref else "ACGT"[("ACGT".index(ref) + 1) % 4]
    rows.append((chrom, pos0 + 1, f"site_{len(rows)}", ref, alt))
while len(rows) < 1000:
    chrom = f"chr{rng.integers(1, 5)}"
    pos0 = int(rng.integers(1000, 199_000))
    if np.abs(summits[peaks[0] == chrom] - pos0).min() > 500:
        ref = sequences[chrom][pos0]
        alt = "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]
        rows.append((chrom, pos0 + 1, f"background_{len(rows)}", ref, alt))
variants = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt"])
variants = variants.sort_values(["chrom", "pos"])
with open(folder / "variants.vcf", "w") as vcf:
    vcf.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    for row in variants.itertuples():
        vcf.write(f"{row.chrom}\t{row.pos}\t{row.id}\t{row.ref}\t{row.alt}\t.\t.\t.\n")
pysam.tabix_compress(str(folder / "variants.vcf"), str(folder / "variants.vcf.gz"))

# %%
# ``deepprune variants``
# ----------------------
# One row per ALT allele; ``logit_diff`` is ``logit_alt - logit_ref``, negative
# where ALT binds less. ``kernel`` is the kernel whose contribution changes most,
# ``site_ref`` where its best site starts, relative to the variant.
vcf_path, out = str(folder / "variants.vcf.gz"), str(folder / "effects.tsv")
deepprune(["variants", str(folder / "model.deepprune"), vcf_path, "--genome", files.genome,
           "-o", out])  # fmt: skip
effects = pd.read_csv(out, sep="\t")
print(effects.sort_values("logit_diff").head(5).to_string(index=False))

destroys = effects["id"].str.startswith("site")
auc = roc_auc_score(destroys, -effects["logit_diff"])
print(f"site-destroying SNVs rank above background ones: ROC AUC {auc:.3f}")
print(
    "median logit_diff: site-destroying "
    f"{effects['logit_diff'][destroys].median():.2f}, background "
    f"{effects['logit_diff'][~destroys].median():.2f}"
)

# %%
# The strongest hit
# -----------------
# In-silico mutagenesis of both windows: letters above the axis raise the
# logit, below lower it. The planted site stands out in REF and is broken in ALT.
strongest = effects.loc[effects["logit_diff"].idxmin()]
figure = plot_variant(model, strongest, files.genome)
