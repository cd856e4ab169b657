"""
Quick start: train, prune and read a Deepprune model
====================================================

The smallest end-to-end run: a simulated data set from the paper, a pipeline
of :class:`~sklearn_deepprune.SequenceOneHotEncoder` and
:class:`~sklearn_deepprune.DeepPruneClassifier` that takes DNA strings, its
test ROC AUC, the pruning history, and the motifs its final kernels learned.

The settings are tiny so that it runs in well under a minute on a CPU; the
paper's are ``n_samples=10_000``, ``n_prune_steps=6`` (256 kernels down to 4)
and ``max_epochs=1000`` with ``patience=15``.
"""

# %%
# Data: simulated set 3 of the paper
# ----------------------------------
# Random 101 bp DNA; each positive carries one sampled instance of one of two
# motifs (CEBPB or REST, from JASPAR) at a random position.
import matplotlib.pyplot as plt
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import make_paper_simulation

data = make_paper_simulation(3, n_samples=800, random_state=0)
print("planted motifs:", data.motif_names)
print("first sequence:", data.train.sequences[0][:50], "...", "label", data.train.target[0])

# %%
# Train wide, prune to 4 kernels
# ------------------------------
# ``n_prune_steps=3`` starts from 4 * 2**3 = 32 kernels and halves them three
# times, fine-tuning after each step.
clf = DeepPruneClassifier(n_kernels=4, n_prune_steps=3, max_epochs=10, patience=3, random_state=0)
model = make_pipeline(SequenceOneHotEncoder(), clf)
model.fit(data.train.sequences, data.train.target)
print(f"test ROC AUC: {model.score(data.test.sequences, data.test.target):.3f}")

# %%
# The pruning history
# -------------------
# One row per stage: the kernel count, the learning rate of its fine-tuning,
# the epochs early stopping allowed and the best validation loss.
for row in clf.pruning_history_:
    print(
        f"stage {row['stage']}: {row['n_kernels']:3d} kernels, lr {row['lr']:.4f}, "
        f"{row['epochs']:2d} epochs, best validation loss {row['best_valid_loss']:.3f}"
    )

fig, ax = plt.subplots(figsize=(5, 3))
history = clf.pruning_history_
ax.plot([row["n_kernels"] for row in history], [row["best_valid_loss"] for row in history], "o-")
ax.set_xscale("log", base=2)
ax.invert_xaxis()
ax.set_xlabel("kernels (pruning goes right)")
ax.set_ylabel("best validation loss")
ax.set_title("Deepprune on simulated set 3")
fig.tight_layout()

# %%
# The motifs of the four kernels
# ------------------------------
# Each kernel's motif is read from the test sequences where it fires
# strongly (needs the ``motifs`` extra). Kernels with a positive dense weight
# are evidence for binding.
try:
    from sklearn_deepprune.motifs import extract_motifs, plot_logos, trim
except ImportError as exc:
    print(f"skipping the logos: {exc}")
else:
    motifs = extract_motifs(model, data.test.sequences)
    motifs = [trim(motif) if motif.column_ic.max() >= 0.25 else motif for motif in motifs]
    for motif in motifs:
        print(f"{motif.name}: weight {motif.dense_weight:+.2f}, consensus {motif.consensus}")
    logos = plot_logos(motifs)

plt.show()
