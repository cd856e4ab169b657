"""Statistics over a results table: summaries and paired Deepprune-vs-baseline tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sklearn_deepprune.experiments._sweep import NO_CRITERION, _check_rows, require


def summarize(results):
    """Mean, standard deviation and count of the test AUC over seeds.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (see :func:`run_sweep`).

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, variant, criterion, kernels) with columns
        ``auc_mean``, ``auc_std`` (sample standard deviation; NaN for one
        seed), ``n_seeds``, ``epochs_mean`` and ``seconds_mean``.

    Raises
    ------
    ValueError
        If ``results`` holds two different rows for one (dataset, variant,
        criterion, kernels, seed): fits made with different settings. A row
        listed twice counts once (with a warning).
    """
    require("pandas")
    results = _check_rows(results, "results")
    keys = ["dataset", "variant", "criterion", "kernels"]
    return (
        results.groupby(keys, sort=True)
        .agg(
            auc_mean=("auc", "mean"),
            auc_std=("auc", "std"),
            n_seeds=("seed", "nunique"),
            epochs_mean=("epochs", "mean"),
            seconds_mean=("seconds", "mean"),
        )
        .reset_index()
    )


#: The ``criterion`` argument that picks the criterion a results table holds.
AUTO_CRITERION = "auto"
# Which criterion "auto" compares among several: the library's default, then the paper's.
_PREFERRED_CRITERIA = ("ablation", "weight")


def resolve_criterion(results, criterion: str | None = AUTO_CRITERION) -> str | None:
    """The pruning criterion to compare in ``results``.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (see :func:`run_sweep`).
    criterion : str or None, default="auto"
        ``"auto"``: the one criterion of the pruned rows; among several, the
        library's default ``"ablation"`` when present, else the paper's
        ``"weight"``. Any other value is returned unchanged (``None`` pools
        all criteria).

    Returns
    -------
    str or None
        The criterion to select pruned rows by.

    Raises
    ------
    ValueError
        If ``criterion="auto"`` and the table holds several criteria, neither
        ``"ablation"`` nor ``"weight"`` among them.
    """
    if criterion != AUTO_CRITERION:
        return criterion
    found = sorted(set(results["criterion"]) - {NO_CRITERION})
    if len(found) <= 1:
        return found[0] if found else None
    for preferred in _PREFERRED_CRITERIA:
        if preferred in found:
            return preferred
    raise ValueError(
        f"the results hold several pruning criteria {found}; pass one of them as the "
        "criterion (or None to pool them)"
    )


def _mean_auc(results, variant: str, criterion: str | None):
    rows = results[results["variant"] == variant]
    if variant == "baseline":
        criterion = NO_CRITERION
    if criterion is not None:
        rows = rows[rows["criterion"] == criterion]
    if rows.empty:
        raise ValueError(
            f"no results for variant {variant!r}"
            + ("" if criterion is None else f" with criterion {criterion!r}")
        )
    return rows.groupby(["dataset", "kernels"])["auc"].mean()


def paired_differences(
    results,
    variant: str = "deepprune",
    reference: str = "baseline",
    criterion: str | None = AUTO_CRITERION,
):
    """Per data set and kernel count, the seed-mean AUC of two variants and their difference.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (see :func:`run_sweep`).
    variant : str, default="deepprune"
        The variant under test.
    reference : str, default="baseline"
        The variant it is compared with.
    criterion : str or None, default="auto"
        Pruning criterion of pruned variants (see :func:`resolve_criterion`:
        ``"auto"`` is the one the table holds); ``None`` pools all criteria.
        Baseline rows are taken whatever it is.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset``, ``kernels``, ``auc_<variant>``,
        ``auc_<reference>`` and ``difference`` (variant minus reference),
        for the pairs where both were run.

    Raises
    ------
    ValueError
        If either variant has no rows, or ``results`` mixes fits made with
        different settings (see :func:`summarize`).
    """
    pd = require("pandas")
    results = _check_rows(results, "results")
    criterion = resolve_criterion(results, criterion)
    ours = _mean_auc(results, variant, criterion).rename(f"auc_{variant}")
    theirs = _mean_auc(results, reference, criterion).rename(f"auc_{reference}")
    paired = pd.concat([ours, theirs], axis=1, join="inner").reset_index()
    paired["difference"] = paired[f"auc_{variant}"] - paired[f"auc_{reference}"]
    return paired


def compare_variants(
    results,
    variant: str = "deepprune",
    reference: str = "baseline",
    kernels: Sequence[int] | None = None,
    criterion: str | None = AUTO_CRITERION,
):
    """Paired test of two variants over data sets, at each kernel count.

    As in the paper: AUCs are averaged over seeds per data set first; then
    over data sets, the fraction where ``variant`` is better and a one-sided
    Wilcoxon signed-rank test of "``variant`` is better"
    (:func:`scipy.stats.wilcoxon`, ``alternative="greater"``).

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (see :func:`run_sweep`).
    variant : str, default="deepprune"
        The variant under test.
    reference : str, default="baseline"
        The variant it is compared with.
    kernels : sequence of int, default=None
        Kernel counts to report; ``None`` is every count both variants have.
    criterion : str or None, default="auto"
        Pruning criterion of pruned variants (see :func:`resolve_criterion`:
        ``"auto"`` is the one the table holds); ``None`` pools all criteria.

    Returns
    -------
    pandas.DataFrame
        One row per kernel count: ``kernels``, ``n_datasets``, ``wins``
        (data sets where ``variant`` has the higher mean AUC),
        ``win_fraction``, ``wilcoxon_p`` (NaN when all differences are zero),
        ``mean_auc_<variant>``, ``mean_auc_<reference>`` and
        ``mean_difference``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_deepprune.experiments import compare_variants
    >>> results = pd.DataFrame({
    ...     "dataset": ["a", "a", "b", "b"], "variant": ["deepprune", "baseline"] * 2,
    ...     "criterion": ["weight", "none"] * 2, "kernels": 4, "seed": 0,
    ...     "auc": [0.9, 0.8, 0.7, 0.75]})
    >>> compare_variants(results)[["n_datasets", "wins", "win_fraction"]].to_dict("records")
    [{'n_datasets': 2, 'wins': 1, 'win_fraction': 0.5}]
    """
    pd = require("pandas")
    from scipy.stats import wilcoxon

    paired = paired_differences(results, variant, reference, criterion)
    if kernels is not None:
        paired = paired[paired["kernels"].isin(list(kernels))]
    rows = []
    for n_kernels, group in paired.groupby("kernels", sort=True):
        differences = group["difference"].to_numpy()
        p_value = float("nan")
        if np.any(differences != 0):
            p_value = float(wilcoxon(differences, alternative="greater").pvalue)
        wins = int(np.sum(differences > 0))
        rows.append(
            {
                "kernels": int(n_kernels),
                "n_datasets": len(group),
                "wins": wins,
                "win_fraction": wins / len(group),
                "wilcoxon_p": p_value,
                f"mean_auc_{variant}": float(group[f"auc_{variant}"].mean()),
                f"mean_auc_{reference}": float(group[f"auc_{reference}"].mean()),
                "mean_difference": float(differences.mean()),
            }
        )
    columns = [
        "kernels",
        "n_datasets",
        "wins",
        "win_fraction",
        "wilcoxon_p",
        f"mean_auc_{variant}",
        f"mean_auc_{reference}",
        "mean_difference",
    ]
    return pd.DataFrame(rows, columns=columns)
