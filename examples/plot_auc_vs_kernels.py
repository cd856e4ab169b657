"""
Pruning versus training small: AUC against kernel count
=======================================================

The paper's central comparison (its Figures 2 and 3): how well does a network
with few kernels predict binding when it is pruned down from a wide one
(Deepprune), against the same network trained directly with that many kernels
(the baseline)?

One Deepprune fit passes through every kernel count on its way down, so
:meth:`~sklearn_deepprune.DeepPruneClassifier.staged_decision_function` gives
its test scores at 32, 16, 8 and 4 kernels, and with ``pruned=True`` those of
each network right after pruning, before its fine-tuning (Deepprune-inter).
The baseline needs one fit per kernel count.

Simulated set 4 plants one of four motifs in each positive: with only four
kernels the baseline must find all four motifs from a random start, which is
where the paper sees it fail. Tiny settings here (1,000 sequences, at most 15
epochs per stage, one seed); the paper uses 10,000 sequences, 256 kernels at
the start, early stopping with patience 15 and several seeds.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.metrics import roc_auc_score

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import make_paper_simulation

data = make_paper_simulation(4, n_samples=1000, random_state=0)
encoder = SequenceOneHotEncoder()
X_train = encoder.fit_transform(data.train.sequences)
X_test = encoder.transform(data.test.sequences)
y_train, y_test = data.train.target, data.test.target
print("planted motifs:", data.motif_names)

settings = dict(max_epochs=15, patience=4, random_state=0)

# %%
# Deepprune: 32 kernels pruned to 4, fine-tuning after every step
# ---------------------------------------------------------------
deepprune = DeepPruneClassifier(n_kernels=4, n_prune_steps=3, **settings)
deepprune.fit(X_train, y_train)
auc = {
    "Deepprune": {
        k: roc_auc_score(y_test, s) for k, s in deepprune.staged_decision_function(X_test)
    },
    "Deepprune-inter": {
        k: roc_auc_score(y_test, s)
        for k, s in deepprune.staged_decision_function(X_test, pruned=True)
    },
}

# %%
# Baseline: the same network trained directly with 4, 8 and 16 kernels
# ---------------------------------------------------------------------
# At 32 kernels the baseline *is* Deepprune's first stage: the same seed gives
# the same initial network and the same training, so it is not refitted.
auc["baseline"] = {32: auc["Deepprune"][32]}
for n_kernels in (4, 8, 16):
    baseline = DeepPruneClassifier(n_kernels=n_kernels, variant="baseline", **settings)
    auc["baseline"][n_kernels] = baseline.fit(X_train, y_train).score(X_test, y_test)

for name, by_count in auc.items():
    print(f"{name:16s}", "  ".join(f"{k:2d}: {a:.3f}" for k, a in sorted(by_count.items())))

# %%
# The figure
# ----------
# Read from right to left: pruning goes from many kernels to few.
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for (name, by_count), marker in zip(auc.items(), "os^", strict=True):
    counts = sorted(by_count)
    ax.plot(counts, [by_count[k] for k in counts], marker=marker, label=name)
ax.set_xscale("log", base=2)
ax.set_xticks([4, 8, 16, 32], labels=["4", "8", "16", "32"])
ax.set_xlabel("kernels")
ax.set_ylabel("test ROC AUC")
ax.set_title("Simulated set 4 (four motifs)")
ax.legend()
fig.tight_layout()
plt.show()
