"""
ChIP-seq data: DeepBind's and ENCODE sets, and shuffled negatives
=================================================================

The paper's real data are ENCODE ChIP-seq peaks, 101 bp around each summit,
labelled 1, with negatives made by shuffling each peak while keeping its
dinucleotide counts (so that the negatives have the same local composition,
and only the arrangement, the motif, tells them apart).
:func:`~sklearn_deepprune.datasets.load_chipseq` reads both formats they come
in:

- DeepBind's sets (``NAME_AC.seq.gz``: training peaks only;
  ``NAME_B.seq.gz``: test, peaks and shuffles); ``negatives="shuffle"`` makes
  the missing negatives with
  :func:`~sklearn_deepprune.datasets.dinucleotide_shuffle`;
- the 690 sets of Zeng et al. (``train.data`` / ``test.data``, lines
  ``>LOCATION SEQUENCE LABEL``), which have their negatives already.

A few of these sets live in ``../shared/data/chipseq`` next to the repository
(or in ``$DEEPPRUNE_DATA/chipseq``); without them this example prints a
message and stops. A small Deepprune model with the paper's ChIP-seq kernel
width (15) is then trained on one set.
"""

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import dinucleotide_shuffle, load_chipseq


def find_chipseq_data():
    """The shared ChIP-seq folder, or None: ``../shared/data`` beside the repository."""
    try:
        repository = Path(__file__).resolve().parent.parent
    except NameError:  # run without a file, e.g. as a notebook
        repository = Path.cwd().parent
    candidates = [repository.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    if os.environ.get("DEEPPRUNE_DATA"):
        candidates.insert(0, Path(os.environ["DEEPPRUNE_DATA"]))
    return next((c / "chipseq" for c in candidates if (c / "chipseq").is_dir()), None)


CHIPSEQ = find_chipseq_data()
if CHIPSEQ is None:
    print("The shared ChIP-seq data (../shared/data/chipseq) are not here; skipping.")

# %%
# A DeepBind set: peaks only, negatives by dinucleotide shuffling
# ---------------------------------------------------------------
# GABPA in GM12878 cells. Each shuffled copy follows its peak, with the
# peak's id plus ``_shuf``; the test part already has 500 peaks and 500
# shuffles.
if CHIPSEQ is not None:
    gabpa = load_chipseq(
        CHIPSEQ / "deepbind" / "GABPA_GM12878_GABP_HudsonAlpha", negatives="shuffle"
    )
    for part in ("train", "test"):
        target = gabpa[part].target
        n_peaks = int(target.sum())
        print(f"{part}: {n_peaks} peaks, {len(target) - n_peaks} shuffled")
    print(gabpa.train.ids[0], gabpa.train.sequences[0][:60], "...")
    print(gabpa.train.ids[1], gabpa.train.sequences[1][:60], "...")

    # A 690-collection set: EZH2 in Dnd41 cells, negatives included.
    ezh2 = load_chipseq(CHIPSEQ / "690" / "wgEncodeAwgTfbsBroadDnd41Ezh239875UniPk")
    print(
        f"\n{ezh2.name} ({ezh2.format} format):",
        {part: len(ezh2[part].target) for part in ("train", "test")},
    )

# %%
# The shuffle keeps the dinucleotide counts exactly
# -------------------------------------------------
# Dinucleotide frequencies of the peaks against those of their shuffles fall
# on the diagonal; a plain (mononucleotide) shuffle would pull the CpG
# frequency, depleted in the genome, towards its random expectation.
DINUCLEOTIDES = [a + b for a in "ACGT" for b in "ACGT"]


def dinucleotide_frequencies(sequences):
    counts = dict.fromkeys(DINUCLEOTIDES, 0)
    for sequence in sequences:
        for i in range(len(sequence) - 1):
            pair = sequence[i : i + 2]
            if pair in counts:
                counts[pair] += 1
    total = sum(counts.values())
    return np.array([counts[d] / total for d in DINUCLEOTIDES])


if CHIPSEQ is not None:
    peaks = gabpa.train.sequences[gabpa.train.target == 1][:1000]
    shuffled = dinucleotide_shuffle(peaks, random_state=0)
    rng = np.random.default_rng(0)
    mono = ["".join(rng.permutation(list(s))) for s in peaks]
    peak_freq = dinucleotide_frequencies(peaks)

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(peak_freq, dinucleotide_frequencies(shuffled), "o", label="dinucleotide shuffle")
    ax.plot(peak_freq, dinucleotide_frequencies(mono), "x", label="plain shuffle")
    top = peak_freq.max() * 1.1
    ax.plot([0, top], [0, top], "k:", lw=1)
    cg = DINUCLEOTIDES.index("CG")
    ax.annotate(
        "CG",
        (peak_freq[cg], dinucleotide_frequencies(mono)[cg]),
        textcoords="offset points",
        xytext=(6, -4),
    )
    ax.set_xlabel("frequency in GABPA peaks")
    ax.set_ylabel("frequency in shuffled copies")
    ax.set_title("Dinucleotide frequencies")
    ax.legend()
    fig.tight_layout()

# %%
# A small model on the GABPA set
# ------------------------------
# Kernel width 15 as in the paper's ChIP-seq runs; a subsample of 2,000
# training sequences (peaks with their shuffles) and few epochs keep it quick.
if CHIPSEQ is not None:
    subset = np.arange(2000)
    model = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(
            n_kernels=4, n_prune_steps=2, kernel_size=15, max_epochs=6, patience=3, random_state=0
        ),
    )
    model.fit(gabpa.train.sequences[subset], gabpa.train.target[subset])
    auc = model.score(gabpa.test.sequences, gabpa.test.target)
    print(f"GABPA test ROC AUC, 4 kernels: {auc:.3f}")

plt.show()
