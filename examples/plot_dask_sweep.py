"""
A sweep on a Dask cluster
=========================

The paper's results are sweeps: data sets x variants x kernel counts x
criteria x seeds, each cell a fit.
:func:`~sklearn_deepprune.experiments.run_sweep` runs such a grid and returns
a table of test AUCs; with ``backend="dask"`` the fits run on a Dask cluster,
here a :class:`~distributed.LocalCluster` on 127.0.0.1 with two
single-threaded workers (for a real cluster pass
``scheduler="tcp://host:8786"``, or run ``deepprune sweep --scheduler``).

One Deepprune fit gives its ``deepprune`` and ``inter`` rows at every kernel
count; the baseline needs a fit per count. Tiny grid here (simulated set 4 with
1,000 sequences, 16 kernels pruned to 4, two seeds, at most 10 epochs per
stage): the figure shows the mechanics, not the paper's numbers. Needs the
``dask`` and ``experiments`` extras.
"""

# %%
import matplotlib.pyplot as plt
import torch
from distributed import Client, LocalCluster

from sklearn_deepprune.experiments import plot_auc_vs_kernels, run_sweep, summarize

# %%
# Start a local cluster and run the sweep on it
# ---------------------------------------------
# The scheduler listens on TCP at 127.0.0.1 as a remote one would. The two
# workers are threads of this process (``processes=False``): quick to start,
# and a script needs no ``if __name__ == "__main__":`` guard, which worker
# processes would require. Each fit runs with one torch thread; with thread
# workers that setting is shared by the whole process and concurrent fits
# overlap, so the script restores its own count at the end. The context
# managers shut the cluster down at the end.
torch_threads = torch.get_num_threads()
with (
    LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster,
    Client(cluster) as client,
):
    print(client)
    results = run_sweep(
        "simulated4",
        variants=["baseline", "deepprune", "inter"],
        kernels=[4, 8, 16],
        seeds=[0, 1],
        n_samples=1000,
        backend="dask",
        estimator_params={"n_prune_steps": 2, "max_epochs": 10, "patience": 3},
        progress=False,
    )
torch.set_num_threads(torch_threads)

# %%
# The results table
# -----------------
# One row per data set, variant, criterion, kernel count and seed.
print(results.drop(columns="job").head(8).to_string(index=False))
print()
print(
    summarize(results)[["variant", "kernels", "auc_mean", "auc_std", "n_seeds"]].to_string(
        index=False
    )
)

# %%
# AUC against kernel count (the paper's Figures 2 and 3)
# ------------------------------------------------------
figure = plot_auc_vs_kernels(results)
plt.show()
