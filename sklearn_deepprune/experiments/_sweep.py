"""The sweep: a grid of DeepPruneClassifier fits, run in parallel, saved as they finish."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.classifier import VARIANTS
from sklearn_deepprune.experiments._data import DatasetSpec, SweepDataset, resolve_datasets
from sklearn_deepprune.pruning import CRITERIA

#: Columns of a results table, in order.
RESULT_COLUMNS = (
    "dataset",
    "variant",
    "criterion",
    "kernels",
    "seed",
    "auc",
    "epochs",
    "seconds",
    "start_kernels",
    "job",
)
#: The ``criterion`` of baseline rows, which prune nothing.
NO_CRITERION = "none"
_FITS_FOLDER = "fits"
_RESULTS_FILE = "results.csv"


def require(module: str, extra: str = "experiments"):
    """Import an optional dependency of the experiments (see :func:`import_optional`)."""
    return import_optional(module, extra)


@dataclass(frozen=True)
class _Job:
    """One classifier fit, and the result rows it gives."""

    dataset: SweepDataset
    fit_variant: str
    variants: tuple[str, ...]
    criterion: str
    n_kernels: int
    n_prune_steps: int
    seed: int
    params: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> str:
        digest = hashlib.sha1(
            json.dumps([self.dataset.signature, self.params], default=str).encode()
        ).hexdigest()[:10]
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.dataset.name)
        width = self.n_kernels * 2**self.n_prune_steps
        return (
            f"{name}__{self.fit_variant}__{self.criterion}__{width}to{self.n_kernels}"
            f"__seed{self.seed}__{digest}"
        )


def _plan(
    datasets: list[SweepDataset],
    variants: Sequence[str],
    kernels: Sequence[int],
    criteria: Sequence[str],
    seeds: Sequence[int],
    params: Mapping[str, Any],
) -> list[_Job]:
    """The fits that give every requested row, pruning paths shared across counts."""
    n_prune_steps = int(params.get("n_prune_steps", 6))
    smallest = min(kernels)
    reachable = {smallest * 2**step for step in range(n_prune_steps + 1)}
    unreachable = sorted(set(kernels) - reachable)
    pruned = [v for v in variants if v != "baseline"]
    if pruned and unreachable:
        raise ValueError(
            f"kernel counts {unreachable} are not on the pruning path "
            f"{sorted(reachable)} (smallest count times a power of 2 up to "
            f"2**n_prune_steps={2**n_prune_steps})"
        )
    shared = tuple(sorted((k, v) for k, v in params.items() if k != "n_prune_steps"))
    families = []
    # One Deepprune fit gives both fine-tuned (deepprune) and pre-fine-tuning
    # (inter) networks at every count on its path; both are always saved, so a
    # later sweep asking for the other one finds the fit done.
    if {"deepprune", "inter"} & set(variants):
        families.append(("deepprune", ("deepprune", "inter")))
    if "lottery" in variants:
        families.append(("lottery", ("lottery",)))
    jobs = []
    for dataset in datasets:
        for seed in seeds:
            for fit_variant, rows in families:
                for criterion in criteria:
                    jobs.append(
                        _Job(
                            dataset,
                            fit_variant,
                            rows,
                            criterion,
                            smallest,
                            n_prune_steps,
                            seed,
                            shared,
                        )
                    )
            if "baseline" in variants:
                for n_kernels in sorted(set(kernels)):
                    jobs.append(
                        _Job(
                            dataset,
                            "baseline",
                            ("baseline",),
                            NO_CRITERION,
                            n_kernels,
                            0,
                            seed,
                            shared,
                        )
                    )
    return jobs


def _run_job(job: _Job, data: tuple, torch_threads: int | None) -> tuple[str, list[dict]]:
    """Fit one classifier and score every network it passed through on the test part."""
    import torch
    from sklearn.metrics import roc_auc_score

    from sklearn_deepprune.classifier import DeepPruneClassifier

    # Workers may get read-only memory maps, which torch warns about.
    X_train, X_test = (np.require(X, requirements="W") for X in (data[0], data[2]))
    y_train, y_test = data[1], data[3]
    clf = DeepPruneClassifier(
        **dict(job.params),
        n_kernels=job.n_kernels,
        n_prune_steps=job.n_prune_steps,
        variant=job.fit_variant,
        criterion="weight" if job.criterion == NO_CRITERION else job.criterion,
        random_state=job.seed,
    )
    threads = torch.get_num_threads()
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    try:
        clf.fit(X_train, y_train)
    finally:
        # A thread-backend worker (Dask in-process, n_jobs=1) is the caller's process.
        torch.set_num_threads(threads)
    positive = np.asarray(y_test) == clf.classes_[1]
    history = clf.pruning_history_
    epochs = np.cumsum([row["epochs"] for row in history])
    seconds = np.cumsum([row["seconds"] for row in history])
    width = history[0]["n_kernels"]
    rows = []
    for variant in job.variants:
        pruned = variant == "inter"
        stages = [i for i, state in enumerate(clf.stage_states_) if not pruned or i > 0]
        staged = clf.staged_decision_function(X_test, pruned=pruned)
        for stage, (n_kernels, logits) in zip(stages, staged, strict=True):
            # The inter network at a stage cost what the stage before it cost.
            done = stage - 1 if pruned else stage
            rows.append(
                {
                    "dataset": job.dataset.name,
                    "variant": variant,
                    "criterion": job.criterion,
                    "kernels": int(n_kernels),
                    "seed": job.seed,
                    "auc": float(roc_auc_score(positive, logits)),
                    "epochs": int(epochs[done]),
                    "seconds": float(seconds[done]),
                    "start_kernels": int(width),
                    "job": job.key,
                }
            )
    return job.key, rows


def _encode(dataset: SweepDataset) -> tuple:
    from sklearn_deepprune.encoding import SequenceOneHotEncoder

    X_train, y_train, X_test, y_test = dataset.load()
    encoder = SequenceOneHotEncoder().fit(X_train)
    return encoder.transform(X_train), y_train, encoder.transform(X_test), y_test


def _tasks(jobs: list[_Job], torch_threads: int | None) -> Iterator:
    """Delayed fits, each data set loaded and encoded once, when its first fit is due."""
    from joblib import delayed

    loaded: dict[str, tuple] = {}
    for job in jobs:
        name = job.dataset.name
        if name not in loaded:
            loaded.clear()
            loaded[name] = _encode(job.dataset)
        yield delayed(_run_job)(job, loaded[name], torch_threads)


def _write_rows(path: Path, rows: list[dict]) -> None:
    """Write one fit's rows atomically, so an interrupted sweep leaves no torn file."""
    pd = require("pandas")
    partial = path.with_suffix(".partial")
    pd.DataFrame(rows, columns=list(RESULT_COLUMNS)).to_csv(partial, index=False)
    os.replace(partial, path)


def load_results(path: str | os.PathLike):
    """Read a results table: a sweep's output folder, a CSV or a Parquet file.

    For a folder, its ``results.csv`` (the rows the sweep asked for) is read
    when it is newer than every finished fit; otherwise, as after an
    interrupted sweep, the rows of every fit under ``fits/`` (all kernel
    counts each pruning path passed through).

    Parameters
    ----------
    path : str or path-like
        Output folder of :func:`run_sweep`, or a ``.csv`` / ``.parquet`` file.

    Returns
    -------
    pandas.DataFrame
        With :data:`RESULT_COLUMNS`.

    Raises
    ------
    FileNotFoundError
        If there is no such file or folder, or the folder holds no results.
    """
    pd = require("pandas")
    path = Path(path)
    if path.is_dir():
        files = sorted((path / _FITS_FOLDER).glob("*.csv"))
        table = path / _RESULTS_FILE
        if table.is_file() and all(
            file.stat().st_mtime <= table.stat().st_mtime for file in files
        ):
            return load_results(table)
        if not files:
            raise FileNotFoundError(f"{path} holds no sweep results (no {_FITS_FOLDER}/*.csv)")
        frame = pd.concat([pd.read_csv(file) for file in files], ignore_index=True)
    elif path.is_file():
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path)
    else:
        raise FileNotFoundError(f"no such results file or folder: {path}")
    missing = [column for column in RESULT_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} is not a results table: no column {', '.join(missing)}")
    frame["criterion"] = frame["criterion"].fillna(NO_CRITERION).astype(str)
    return frame


def _check_options(name: str, values: Iterable[Any], allowed: Iterable[Any]) -> list:
    values = list(values)
    bad = [value for value in values if value not in allowed]
    if not values or bad:
        raise ValueError(
            f"{name} must be a non-empty list of {', '.join(map(repr, allowed))}; got {values!r}"
        )
    return values


def run_sweep(
    datasets: DatasetSpec | Iterable[DatasetSpec] | Mapping[str, DatasetSpec] | None = None,
    *,
    variants: Sequence[str] = ("baseline", "deepprune", "inter"),
    kernels: Sequence[int] = (4, 8, 16),
    criteria: Sequence[str] = ("weight",),
    seeds: Sequence[int] = (0, 1, 2),
    output: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    backend: str | None = None,
    scheduler: Any = None,
    estimator_params: Mapping[str, Any] | None = None,
    n_samples: int | None = None,
    motif_dir: str | os.PathLike | None = None,
    progress: bool = True,
):
    """Fit a grid of data set x variant x kernel count x criterion x seed, saving as it goes.

    Deepprune passes through every kernel count on its way down, so one fit
    per (data set, criterion, seed) gives the ``deepprune`` rows (fine-tuned
    networks) and the ``inter`` rows (networks right after each pruning step)
    at all counts; a ``lottery`` fit does the same for lottery-ticket
    retraining. The ``baseline`` needs a fit per kernel count. Pruning starts
    from ``min(kernels) * 2**n_prune_steps`` kernels (``n_prune_steps`` from
    ``estimator_params``, default 6: 256 kernels down to 4, as in the paper).

    Each finished fit is written to ``output/fits/`` at once; a rerun with the
    same arguments skips the fits found there, so an interrupted sweep loses
    only the fits in flight. At the end all rows go to ``output/results.csv``
    (and ``results.parquet`` when pyarrow is installed).

    Parameters
    ----------
    datasets : spec, list of specs, mapping of name to spec, or None
        See :func:`resolve_datasets`; ``None`` is a simulated set made on the
        fly from the package's JASPAR motifs.
    variants : sequence of {"baseline", "deepprune", "inter", "lottery"}
        The variants to report.
    kernels : sequence of int, default=(4, 8, 16)
        Kernel counts to report; with a pruned variant each must be the
        smallest times a power of 2 no larger than ``2**n_prune_steps``.
    criteria : sequence of {"weight", "score", "score_weight"}, default=("weight",)
        Pruning criteria (the baseline prunes nothing; its criterion is
        ``"none"``).
    seeds : sequence of int, default=(0, 1, 2)
        ``random_state`` of the classifiers.
    output : str or path-like, default=None
        Folder for the results; ``None`` keeps them in memory only (no resume).
    n_jobs : int, default=None
        Fits run at once. ``None`` means 1, or every worker thread of the Dask
        cluster with ``backend="dask"``. With more than one, each fit uses
        one torch thread.
    backend : str, default=None
        A joblib backend (``"loky"``, ``"threading"``, ``"dask"``); ``None``
        is joblib's default. ``"dask"`` runs the fits on a Dask cluster
        (needs the ``dask`` extra).
    scheduler : str or distributed.Client, default=None
        Dask scheduler address or client; implies ``backend="dask"``.
        ``None`` with ``backend="dask"`` uses the current client.
    estimator_params : mapping, default=None
        Further :class:`~sklearn_deepprune.DeepPruneClassifier` parameters
        (``kernel_size``, ``max_epochs``, ``patience``, ``n_prune_steps``,
        ``lr``, ...). ``n_kernels``, ``variant``, ``criterion`` and
        ``random_state`` are set by the sweep.
    n_samples : int, default=None
        Train (and test) size of simulated sets.
    motif_dir : str or path-like, default=None
        Motif files for simulated sets (see :func:`resolve_datasets`).
    progress : bool, default=True
        Show a tqdm progress bar over the fits.

    Returns
    -------
    pandas.DataFrame
        One row per (data set, variant, criterion, kernel count, seed), with
        :data:`RESULT_COLUMNS`: test ROC AUC, epochs and seconds of training
        spent to reach that network (summed over the stages before it),
        the starting width of the fit, and its key.

    Raises
    ------
    ValueError
        On an unknown variant, criterion or data set, or unreachable kernel counts.
    ImportError
        If pandas (``experiments`` extra) or, for Dask, ``distributed`` is missing.

    Examples
    --------
    >>> from sklearn_deepprune.experiments import run_sweep
    >>> results = run_sweep(  # doctest: +SKIP
    ...     ["simulated4", "simulated5"], kernels=[4, 8, 16], seeds=[0, 1, 2],
    ...     output="results", n_jobs=2, estimator_params={"max_epochs": 30})
    """
    pd = require("pandas")
    from joblib import Parallel, parallel_config
    from tqdm.auto import tqdm

    variants = _check_options("variants", variants, VARIANTS)
    criteria = _check_options("criteria", criteria, CRITERIA)
    kernels = [int(k) for k in kernels]
    if not kernels or min(kernels) < 1:
        raise ValueError(f"kernels must be a non-empty list of positive ints; got {kernels!r}")
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    params = dict(estimator_params or {})
    fixed = sorted({"n_kernels", "variant", "criterion", "random_state"} & set(params))
    if fixed:
        raise ValueError(f"estimator_params must not set {', '.join(fixed)}: the sweep does")
    jobs = _plan(
        resolve_datasets(datasets, n_samples=n_samples, motif_dir=motif_dir),
        variants,
        kernels,
        criteria,
        seeds,
        params,
    )

    fits = None
    if output is not None:
        fits = Path(output) / _FITS_FOLDER
        fits.mkdir(parents=True, exist_ok=True)
    done = {job.key for job in jobs if fits is not None and (fits / f"{job.key}.csv").is_file()}
    pending = [job for job in jobs if job.key not in done]

    if scheduler is not None:
        backend = "dask"
    client = None
    if backend == "dask":
        distributed = require("distributed", extra="dask")
        if isinstance(scheduler, str):
            client = distributed.Client(scheduler)
        elif scheduler is None:
            try:
                distributed.get_client()
            except ValueError as exc:
                raise ValueError(
                    "backend='dask' needs a running dask.distributed Client or a scheduler address"
                ) from exc
    if n_jobs is None:
        n_jobs = -1 if backend == "dask" else 1
    threads = None if n_jobs == 1 and backend is None else 1

    in_memory: list[dict] = []
    try:
        bar = tqdm(
            total=len(jobs), initial=len(done), desc="fits", unit="fit", disable=not progress
        )
        with bar, parallel_config(backend=backend) if backend else nullcontext():
            finished = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                _tasks(pending, threads)
            )
            for key, rows in finished:
                if fits is not None:
                    _write_rows(fits / f"{key}.csv", rows)
                else:
                    in_memory.extend(rows)
                bar.update()
    finally:
        if client is not None:
            client.close()

    frames = [pd.read_csv(fits / f"{job.key}.csv") for job in jobs] if fits is not None else []
    if in_memory or not frames:
        frames.append(pd.DataFrame(in_memory, columns=list(RESULT_COLUMNS)))
    results = pd.concat(frames, ignore_index=True)
    results["criterion"] = results["criterion"].fillna(NO_CRITERION).astype(str)
    results = results[results["variant"].isin(variants) & results["kernels"].isin(kernels)]
    results = results.sort_values(["dataset", "variant", "criterion", "kernels", "seed"])
    results = results.reset_index(drop=True)
    if output is not None:
        results.to_csv(Path(output) / _RESULTS_FILE, index=False)
        try:
            results.to_parquet(Path(output) / "results.parquet", index=False)
        except ImportError:
            pass
    return results
