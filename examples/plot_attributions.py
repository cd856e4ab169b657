"""
Where the model looks: attribution maps of single sequences
===========================================================

A pruned network's kernels read as motifs, but which bases of *one* sequence
make its prediction? Two attribution maps answer that, each of shape
``(n, 4, L)``:

- in-silico mutagenesis (:func:`~sklearn_deepprune.motifs.in_silico_mutagenesis`):
  the change of the logit under every single-base substitution, exact;
- gradient x input (:func:`~sklearn_deepprune.motifs.gradient_x_input`,
  via tangermeme): the first-order estimate, one backward pass.

:func:`~sklearn_deepprune.motifs.find_sites` says where each kernel fires, and
:func:`~sklearn_deepprune.motifs.plot_attribution` draws a map as a sequence
logo with those sites shaded. On simulated data the planted motif instance is
known, so we can check that the model looks at it.

Needs the ``motifs`` extra. Settings are tiny so that it runs in well under a
minute on a CPU.
"""

# %%
# Train on simulated set 3
# ------------------------
# Random 101 bp DNA; each positive carries one instance of CEBPB or REST.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import make_paper_simulation
from sklearn_deepprune.motifs import (
    find_sites,
    gradient_x_input,
    in_silico_mutagenesis,
    plot_attribution,
)

data = make_paper_simulation(3, n_samples=1500, random_state=0)
clf = DeepPruneClassifier(n_kernels=4, n_prune_steps=2, max_epochs=10, patience=3, random_state=0)
model = make_pipeline(SequenceOneHotEncoder(), clf)
model.fit(data.train.sequences, data.train.target)
print(f"test ROC AUC: {model.score(data.test.sequences, data.test.target):.3f}")

# %%
# Attributions of a confident positive per motif
# ----------------------------------------------
# For each planted motif, the positive test sequence the model is surest of.
# Both maps are computed on the pipeline's input, DNA strings; ISM scores
# 4 * 101 mutants per sequence.
test = data.test
positives = np.flatnonzero(test.target == 1)
logits = model.decision_function(test.sequences)
chosen = [
    max(np.flatnonzero(test.motif_index == m), key=lambda i: logits[i])
    for m in range(len(data.motifs))
]
sequences = test.sequences[chosen]
X = model[0].transform(sequences)
ism = in_silico_mutagenesis(model, sequences)
gxi = gradient_x_input(model, sequences)
# Sites of the whole test set, so that the threshold (half of each kernel's
# best response) is relative to all of it; then those of the chosen sequences.
sites = find_sites(model, test.sequences)
sites = sites[sites["sequence"].isin(chosen)]
print(sites)

# %%
# The maps, with the kernels' sites and the planted site
# ------------------------------------------------------
# Each letter is as tall as its base's attribution relative to the other
# bases (for ISM: how much mutating it lowers the logit). The shaded spans are
# the kernels' sites (one colour per kernel), the dashed box the planted
# instance.
fig, axes = plt.subplots(2 * len(chosen), 1, figsize=(11, 2.2 * 2 * len(chosen)), sharex=True)
for i, index in enumerate(chosen):
    motif = test.motif_index[index]
    start = test.position[index]
    planted = [(start, start + len(data.motifs[motif]), f"planted {data.motif_names[motif]}")]
    own_sites = sites[sites["sequence"] == index]
    for ax, attribution, name in (
        (axes[2 * i], ism, "ISM"),
        (axes[2 * i + 1], gxi, "grad x input"),
    ):
        plot_attribution(
            attribution[i],
            X[i],
            sites=own_sites,
            highlight=planted,
            ax=ax,
            title=f"test sequence {index}: {name}",
        )
fig.tight_layout()

# %%
# How much of the attribution falls on the planted site?
# ------------------------------------------------------
# Over all positive test sequences, the share of the ISM map's total magnitude
# that lies inside the planted instance, against the share of the sequence the
# instance covers. The model looks at the motif when the first is much larger.
X_pos = model[0].transform(test.sequences[positives])
magnitude = np.abs(in_silico_mutagenesis(model, test.sequences[positives])).sum(axis=1)
inside = np.zeros_like(magnitude, dtype=bool)
widths = np.array([len(data.motifs[m]) for m in test.motif_index[positives]])
for row, (start, width) in enumerate(zip(test.position[positives], widths, strict=True)):
    inside[row, start : start + width] = True
share = (magnitude * inside).sum(axis=1) / magnitude.sum(axis=1)
print(f"ISM magnitude on the planted instance: {np.nanmedian(share):.0%} (median over positives)")
print(f"the planted instance covers {np.mean(widths / X_pos.shape[2]):.0%} of a sequence")
