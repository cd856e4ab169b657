"""Experiments: the paper's sweeps, statistics and figures, run locally or on Dask.

:func:`run_sweep` fits a grid of data sets x variants x kernel counts x
criteria x seeds and returns a tidy table of test AUCs, saving each finished
fit so that an interrupted sweep resumes where it stopped. The statistics
compare Deepprune with the baseline per data set (win fraction, one-sided
Wilcoxon signed-rank test), and the figures redraw the paper's Figures 2/3
(AUC against kernel count), 4 (criteria) and 6 (paired AUC differences).
:func:`write_fit_report` and :func:`write_sweep_report` put a fitted model or
a sweep's report on one self-contained HTML page.

Needs the ``experiments`` extra (pandas, pyarrow, matplotlib); Dask needs
the ``dask`` extra.
"""

from sklearn_deepprune.experiments._data import DEFAULT_DATASET, SweepDataset, resolve_datasets
from sklearn_deepprune.experiments._figures import (
    plot_auc_vs_kernels,
    plot_criteria,
    plot_paired_differences,
)
from sklearn_deepprune.experiments._html import (
    fit_report_data,
    write_fit_report,
    write_sweep_report,
)
from sklearn_deepprune.experiments._report import write_report
from sklearn_deepprune.experiments._statistics import (
    compare_variants,
    paired_differences,
    resolve_criterion,
    summarize,
)
from sklearn_deepprune.experiments._sweep import (
    NO_CRITERION,
    RESULT_COLUMNS,
    load_results,
    run_sweep,
)

__all__ = [
    "DEFAULT_DATASET",
    "NO_CRITERION",
    "RESULT_COLUMNS",
    "SweepDataset",
    "compare_variants",
    "fit_report_data",
    "load_results",
    "paired_differences",
    "plot_auc_vs_kernels",
    "plot_criteria",
    "plot_paired_differences",
    "resolve_criterion",
    "resolve_datasets",
    "run_sweep",
    "summarize",
    "write_fit_report",
    "write_report",
    "write_sweep_report",
]
