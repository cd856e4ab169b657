"""A sweep's report: figures and statistics written to a folder."""

from __future__ import annotations

import os
from pathlib import Path

from sklearn_deepprune.experiments._figures import (
    plot_auc_vs_kernels,
    plot_criteria,
    plot_paired_differences,
)
from sklearn_deepprune.experiments._html import write_sweep_report
from sklearn_deepprune.experiments._statistics import compare_variants, summarize
from sklearn_deepprune.experiments._sweep import NO_CRITERION


def write_report(
    results,
    output: str | os.PathLike,
    variant: str = "deepprune",
    reference: str = "baseline",
    criterion: str | None = "auto",
) -> dict[str, Path]:
    """Write the figures and statistics of a results table to a folder.

    Files: ``summary.csv`` (:func:`summarize`), ``comparison.csv``
    (:func:`compare_variants`, when both variants are present),
    ``auc_vs_kernels.png`` (Figures 2/3), ``criteria.png`` (Figure 4, when
    several criteria were run), ``paired_differences.png`` (Figure 6, at
    the smallest kernel count both variants have) and ``report.html``, all
    of them on one self-contained page (:func:`write_sweep_report`).

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (see :func:`run_sweep` and :func:`load_results`).
    output : str or path-like
        Folder to write to (created if needed).
    variant, reference : str, default="deepprune", "baseline"
        The pair of variants compared.
    criterion : str or None, default="auto"
        Criterion of the pruned variants in the comparison (see
        :func:`~sklearn_deepprune.experiments.resolve_criterion`).

    Returns
    -------
    dict of str to pathlib.Path
        What was written, by name (``"summary"``, ``"comparison"``, ...).
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    written["summary"] = output / "summary.csv"
    summarize(results).to_csv(written["summary"], index=False)

    figures = {"auc_vs_kernels": plot_auc_vs_kernels(results, criterion=criterion)}
    pruned = results[results["criterion"] != NO_CRITERION]
    if pruned.groupby("variant")["criterion"].nunique().gt(1).any():
        figures["criteria"] = plot_criteria(results)
    present = set(results["variant"])
    if {variant, reference} <= present:
        comparison = compare_variants(results, variant, reference, criterion=criterion)
        written["comparison"] = output / "comparison.csv"
        comparison.to_csv(written["comparison"], index=False)
        if not comparison.empty:
            smallest = int(comparison["kernels"].min())
            figures["paired_differences"] = plot_paired_differences(
                results, smallest, variant, reference, criterion
            )
    for name, figure in figures.items():
        written[name] = output / f"{name}.png"
        figure.savefig(written[name], dpi=120)
    written["html"], _ = write_sweep_report(output)
    return written
