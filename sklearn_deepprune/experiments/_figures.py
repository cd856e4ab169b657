"""The paper's figures from a results table, as matplotlib Figures (no pyplot state)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sklearn_deepprune.experiments._statistics import (
    compare_variants,
    paired_differences,
    resolve_criterion,
)
from sklearn_deepprune.experiments._sweep import NO_CRITERION, require

#: Variant order and labels in the figures.
VARIANT_LABELS = {
    "baseline": "baseline",
    "deepprune": "Deepprune",
    "inter": "Deepprune-inter",
    "lottery": "lottery ticket",
}


def _figure(n_panels: int, width: float = 4.0, height: float = 3.2):
    require("matplotlib")
    from matplotlib.figure import Figure

    columns = min(n_panels, 3)
    rows = -(-n_panels // columns)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return figure, axes[:n_panels]


def _datasets(results, datasets: Sequence[str] | None) -> list[str]:
    names = sorted(results["dataset"].unique()) if datasets is None else list(datasets)
    if not names:
        raise ValueError("the results table is empty")
    return names


def _spread(axes, rows, x: np.ndarray, offset: float, label: str, color=None):
    """Mean line with a ±1 standard deviation band and one dot per seed."""
    by_count = rows.groupby("kernels")["auc"]
    counts = np.array(sorted(rows["kernels"].unique()))
    mean = by_count.mean().reindex(counts).to_numpy()
    std = by_count.std().reindex(counts).fillna(0).to_numpy()
    position = np.searchsorted(x, counts) + offset
    (line,) = axes.plot(position, mean, marker="o", label=label, color=color)
    axes.fill_between(position, mean - std, mean + std, alpha=0.2, color=line.get_color())
    axes.scatter(
        np.searchsorted(x, rows["kernels"].to_numpy()) + offset,
        rows["auc"],
        s=8,
        alpha=0.5,
        color=line.get_color(),
    )


def _kernel_axis(axes, x: np.ndarray, title: str):
    axes.set_xticks(np.arange(len(x)), [str(k) for k in x])
    axes.set_xlabel("kernels")
    axes.set_ylabel("test AUC")
    axes.set_title(title)
    axes.grid(alpha=0.3)


def plot_auc_vs_kernels(
    results,
    datasets: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    criterion: str | None = "auto",
):
    """Test AUC against kernel count per variant, one panel per data set (Figures 2 and 3).

    Each variant is drawn as its mean over seeds with a ±1 standard deviation
    band, and one dot per seed.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (see :func:`run_sweep`).
    datasets : sequence of str, default=None
        Panels to draw; ``None`` is every data set.
    variants : sequence of str, default=None
        Variants to draw; ``None`` is every variant in the table.
    criterion : str or None, default="auto"
        Criterion of the pruned variants (see
        :func:`~sklearn_deepprune.experiments.resolve_criterion`); ``None``
        pools all criteria.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per data set.
    """
    names = _datasets(results, datasets)
    present = set(results["variant"])
    variants = [v for v in VARIANT_LABELS if v in present] if variants is None else variants
    criterion = resolve_criterion(results, criterion)
    figure, axes = _figure(len(names))
    x = np.array(sorted(results["kernels"].unique()))
    for panel, name in zip(axes, names, strict=True):
        rows = results[results["dataset"] == name]
        for index, variant in enumerate(variants):
            chosen = rows[rows["variant"] == variant]
            if variant != "baseline" and criterion is not None:
                chosen = chosen[chosen["criterion"] == criterion]
            if not chosen.empty:
                offset = 0.08 * (index - (len(variants) - 1) / 2)
                _spread(panel, chosen, x, offset, VARIANT_LABELS.get(variant, variant))
        _kernel_axis(panel, x, name)
    axes[0].legend(fontsize="small")
    return figure


def plot_criteria(
    results,
    datasets: Sequence[str] | None = None,
    variant: str = "deepprune",
):
    """Test AUC against kernel count per pruning criterion, one panel per data set (Figure 4).

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (see :func:`run_sweep`).
    datasets : sequence of str, default=None
        Panels to draw; ``None`` is every data set.
    variant : str, default="deepprune"
        The pruned variant whose criteria are compared.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per data set.
    """
    rows = results[(results["variant"] == variant) & (results["criterion"] != NO_CRITERION)]
    if rows.empty:
        raise ValueError(f"no results for variant {variant!r}")
    names = _datasets(rows, datasets)
    criteria = sorted(rows["criterion"].unique())
    figure, axes = _figure(len(names))
    x = np.array(sorted(rows["kernels"].unique()))
    for panel, name in zip(axes, names, strict=True):
        for index, criterion in enumerate(criteria):
            chosen = rows[(rows["dataset"] == name) & (rows["criterion"] == criterion)]
            if not chosen.empty:
                offset = 0.08 * (index - (len(criteria) - 1) / 2)
                _spread(panel, chosen, x, offset, criterion)
        _kernel_axis(panel, x, f"{name}: {VARIANT_LABELS.get(variant, variant)}")
    axes[0].legend(title="criterion", fontsize="small")
    return figure


def plot_paired_differences(
    results,
    kernels: int = 4,
    variant: str = "deepprune",
    reference: str = "baseline",
    criterion: str | None = "auto",
):
    """Per data set, the AUC of ``variant`` against ``reference`` at one kernel count (Figure 6).

    Left: each data set's seed-mean AUCs as a point against the diagonal.
    Right: the differences, sorted, with the win count and the one-sided
    Wilcoxon p-value in the title.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (see :func:`run_sweep`).
    kernels : int, default=4
        The kernel count compared.
    variant : str, default="deepprune"
        The variant under test.
    reference : str, default="baseline"
        The variant it is compared with.
    criterion : str or None, default="auto"
        Criterion of the pruned variants (see
        :func:`~sklearn_deepprune.experiments.resolve_criterion`); ``None``
        pools all criteria.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the scatter and the sorted differences.

    Raises
    ------
    ValueError
        If no data set has both variants at ``kernels``.
    """
    require("matplotlib")
    from matplotlib.figure import Figure

    paired = paired_differences(results, variant, reference, criterion)
    paired = paired[paired["kernels"] == kernels]
    if paired.empty:
        raise ValueError(
            f"no data set has both {variant!r} and {reference!r} at {kernels} kernels"
        )
    stats = compare_variants(results, variant, reference, [kernels], criterion).iloc[0]
    ours, theirs = VARIANT_LABELS.get(variant, variant), VARIANT_LABELS.get(reference, reference)
    figure = Figure(figsize=(10, 4), layout="constrained")
    scatter, bars = figure.subplots(1, 2)
    low = float(min(paired[f"auc_{variant}"].min(), paired[f"auc_{reference}"].min()))
    scatter.plot([low, 1], [low, 1], color="grey", linewidth=1)
    scatter.scatter(paired[f"auc_{reference}"], paired[f"auc_{variant}"], s=12)
    scatter.set_xlabel(f"{theirs} AUC")
    scatter.set_ylabel(f"{ours} AUC")
    scatter.set_title(f"{kernels} kernels, {len(paired)} data sets")
    differences = np.sort(paired["difference"].to_numpy())
    colors = np.where(differences > 0, "tab:blue", "tab:red")
    bars.bar(np.arange(len(differences)), differences, color=colors, width=1.0)
    bars.axhline(0, color="grey", linewidth=1)
    bars.set_xlabel("data sets, sorted")
    bars.set_ylabel(f"AUC {ours} - {theirs}")
    p_value = stats["wilcoxon_p"]
    # Two lines: one would overflow the panel with long variant names.
    bars.set_title(
        f"{ours} better on {int(stats['wins'])}/{len(paired)} ({stats['win_fraction']:.1%})\n"
        f"one-sided Wilcoxon p = {p_value:.3g}"
    )
    return figure
