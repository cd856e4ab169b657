"""
A genome-wide binding map: the track and the motif sites around a peak
=======================================================================

A model trained on one cell type's peaks can say where else its factor could
bind. :func:`~sklearn_deepprune.tracks.scan_genome` slides the model's window
along whole chromosomes and returns (or, with ``output=``, writes as bigWig
and a tabix-indexed BED, what ``deepprune scan`` does) the **binding track**,
the model's probability for the window centred every ``step`` bp, exactly
``predict_proba`` of that window, and every kernel's **sites** with a p-value
of at most 1e-4 under the genome's base composition (as FIMO computes it).

This example trains a small model on the peaks of three chromosomes of the
synthetic genome of :func:`~sklearn_deepprune.datasets.make_genome_peaks` (the
CTCF motif planted at each summit), scans the fourth, held-out one, and draws
the track and the sites around one of its peaks. Needs the ``genome`` and
``fast`` extras.
"""

# %%
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import load_peaks, make_genome_peaks
from sklearn_deepprune.tracks import scan_genome

files = make_genome_peaks(
    tempfile.mkdtemp(), n_chromosomes=4, chromosome_length=200_000, n_peaks=600, random_state=0
)
data = load_peaks(files.peaks, files.genome, test_chromosomes=["chr4"], random_state=0)
model = make_pipeline(
    SequenceOneHotEncoder(),
    DeepPruneClassifier(
        n_kernels=4, n_prune_steps=2, kernel_size=15, max_epochs=15, random_state=0
    ),
).fit(data.train.sequences, data.train.target)

# %%
# Scan the held-out chromosome: a value every 10 bp, the sites at p <= 1e-4.
found = scan_genome(model, files.genome, ["chr4"], step=10, progress=False)
track, sites = found.track, found.sites
print(f"{len(track)} track values, {len(sites)} sites; base composition {found.background}")
sites.head()

# %%
# How well does the track find the held-out peaks? Its maximum inside each
# peak against its maximum in a random window of the same length elsewhere.
peaks = pd.read_csv(files.peaks, sep="\t", skiprows=1, header=None, usecols=[0, 1, 2, 9])
peaks = peaks[peaks[0] == "chr4"].reset_index(drop=True)
centre = ((track["start"] + track["end"] - 1) // 2).to_numpy()
rng = np.random.RandomState(0)
occupied = np.zeros(files.chromosome_sizes["chr4"], dtype=bool)
for start, end in zip(peaks[1], peaks[2], strict=True):
    occupied[start:end] = True


def best(start, end):
    return track["probability"].to_numpy()[(centre >= start) & (centre < end)].max()


scores, labels = [], []
for start, end in zip(peaks[1], peaks[2], strict=True):
    other = rng.randint(0, len(occupied) - (end - start))
    while occupied[other : other + end - start].any():
        other = rng.randint(0, len(occupied) - (end - start))
    scores += [best(start, end), best(other, other + end - start)]
    labels += [1, 0]
print(
    f"AUC of the track maximum, held-out peaks vs background: {roc_auc_score(labels, scores):.3f}"
)

# %%
# The track and the sites around the first held-out peak.
summit = int(peaks[1][0] + peaks[9][0])
lo, hi = summit - 1500, summit + 1500
near = track[(track["start"] >= lo) & (track["end"] <= hi)]
fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4), sharex=True, height_ratios=[3, 1])
top.step(near["start"], near["probability"], where="post", color="tab:blue")
top.axvspan(peaks[1][0], peaks[2][0], color="tab:orange", alpha=0.2, label="peak")
top.axvline(summit, color="tab:orange", lw=1)
top.set_ylabel("P(bound)")
top.legend(loc="upper right")
shown = sites[(sites["start"] >= lo) & (sites["end"] <= hi)]
kernels = sorted(set(shown["name"]))
for row in shown.itertuples():
    y = kernels.index(row.name)
    bottom.plot(
        [row.start, row.end], [y, y], lw=6, color="tab:green" if row.strand == "+" else "tab:red"
    )
bottom.set_yticks(range(len(kernels)), kernels)
bottom.set_xlabel("chr4 position (green: + strand, red: - strand)")
fig.tight_layout()
plt.show()
