"""The sweep: a grid of DeepPruneClassifier fits, run in parallel, saved as they finish.

Safety of the saved fits (see :func:`run_sweep`): a fit's key hashes the content
of its data and every estimator parameter that can change its result; only the
main process writes, each file atomically (a unique temporary file, then
:func:`os.replace`); a lock per fit keeps two sweeps into one folder from
computing it twice; and an interrupted fit is never saved.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_deepprune._guards import noting_interrupts, write_atomic
from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.classifier import VARIANTS
from sklearn_deepprune.experiments._data import DatasetSpec, SweepDataset, resolve_datasets
from sklearn_deepprune.pruning import CRITERIA, pruning_schedule

#: Columns of a results table, in order. ``settings`` and ``data`` identify the
#: estimator settings (all but the grid's) and the data content of each row's fit.
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
    "settings",
    "data",
)
#: The ``criterion`` of baseline rows, which prune nothing.
NO_CRITERION = "none"
_FITS_FOLDER = "fits"
_LOCKS_FOLDER = ".locks"
_RESULTS_FILE = "results.csv"
# Bump when what a fit computes or saves changes: older fits are then refitted.
_KEY_VERSION = 2
# Estimator parameters that cannot change a fit's result; every other one is keyed.
_NO_EFFECT = frozenset({"verbose"})
# Parameters the sweep sets per fit: the grid, not the settings.
_GRID = frozenset({"n_kernels", "n_prune_steps", "variant", "criterion", "random_state"})
_ROW_KEYS = ["dataset", "variant", "criterion", "kernels", "seed"]
_TEXT_COLUMNS = ("dataset", "variant", "criterion", "job", "settings", "data")
# Tables written before the settings were recorded lack these; they read as this.
_UNRECORDED = "unrecorded"
# Seconds between looks at fits another sweep is computing.
_POLL_SECONDS = 1.0


def require(module: str, extra: str = "experiments"):
    """Import an optional dependency of the experiments (see :func:`import_optional`)."""
    return import_optional(module, extra)


def _jsonable(value: Any) -> Any:
    """``value`` as stable JSON: no memory addresses, so equal settings hash equal."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist()}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        return f"{value.__module__}.{value.__qualname__}"
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    get_params = getattr(value, "get_params", None)
    if callable(get_params):  # scikit-learn estimators, skorch callbacks
        return {kind: _jsonable(get_params(deep=False))}
    return {kind: re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))}


def _digest(value: Any, length: int = 12) -> str:
    text = json.dumps(_jsonable(value), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _digest_arrays(parts: Iterable[Any]) -> str:
    """SHA-256 of loaded arrays (type, shape and content)."""
    digest = hashlib.sha256()
    for part in parts:
        array = np.asarray(part)
        if array.dtype == object:
            array = array.astype(str)
        digest.update(f"{array.dtype.str}|{array.shape}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _with_signature(dataset: SweepDataset) -> SweepDataset:
    """``dataset``, or for one without a signature, its loaded arrays keyed by their hash."""
    if dataset.signature:
        return dataset
    parts = dataset.load()
    return SweepDataset(dataset.name, lambda: parts, f"arrays|{_digest_arrays(parts)}")


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

    def estimator(self):
        """The unfitted classifier of this fit."""
        from sklearn_deepprune.classifier import DeepPruneClassifier

        return DeepPruneClassifier(
            **dict(self.params),
            n_kernels=self.n_kernels,
            n_prune_steps=self.n_prune_steps,
            variant=self.fit_variant,
            criterion="weight" if self.criterion == NO_CRITERION else self.criterion,
            random_state=self.seed,
        )

    @cached_property
    def settings(self) -> dict[str, Any]:
        """Every estimator parameter that can change the result, as JSON."""
        params = self.estimator().get_params(deep=False)
        return {k: _jsonable(v) for k, v in sorted(params.items()) if k not in _NO_EFFECT}

    @cached_property
    def settings_id(self) -> str:
        """Hash of the settings outside the grid: equal for all fits of one sweep."""
        return _digest({k: v for k, v in self.settings.items() if k not in _GRID})

    @cached_property
    def data_id(self) -> str:
        """Hash of the data's content (see :attr:`SweepDataset.signature`)."""
        return _digest(self.dataset.signature)

    @cached_property
    def key(self) -> str:
        digest = _digest(
            {"version": _KEY_VERSION, "data": self.dataset.signature, "estimator": self.settings}
        )
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
    reachable = set(pruning_schedule(smallest, n_prune_steps))
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


_watching_parent: list[int] = []


def _exit_with_parent() -> None:
    """In a loky worker process, exit soon after the process that started it dies.

    Left alone, a loky worker of a killed sweep finishes its fit and may then
    wait for more work indefinitely. Only loky workers are watched: a Dask
    worker or the caller's own process never exits here.
    """
    import multiprocessing

    if _watching_parent or not multiprocessing.current_process().name.startswith("Loky"):
        return
    parent = os.getppid()
    _watching_parent.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="deepprune-exit-with-parent", daemon=True).start()


def _run_job(job: _Job, data: tuple, torch_threads: int | None) -> tuple[str, list[dict]]:
    """Fit one classifier and score every network it passed through on the test part.

    Writes nothing: only the main process saves fits, so a worker outliving a
    killed sweep cannot leave a half-written file (and a loky worker exits
    once it sees its parent gone).
    """
    import torch
    from sklearn.metrics import roc_auc_score

    _exit_with_parent()

    # Workers may get read-only memory maps, which torch warns about.
    X_train, X_test = (np.require(X, requirements="W") for X in (data[0], data[2]))
    y_train, y_test = data[1], data[3]
    clf = job.estimator()
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
                    "settings": job.settings_id,
                    "data": job.data_id,
                }
            )
    return job.key, rows


def _encode(dataset: SweepDataset) -> tuple:
    from sklearn_deepprune.encoding import SequenceOneHotEncoder

    X_train, y_train, X_test, y_test = dataset.load()
    encoder = SequenceOneHotEncoder().fit(X_train)
    return encoder.transform(X_train), y_train, encoder.transform(X_test), y_test


def _versions() -> dict[str, str]:
    import sklearn
    import skorch
    import torch

    import sklearn_deepprune

    return {
        "sklearn_deepprune": sklearn_deepprune.__version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
    }


class _FitStore:
    """The finished fits of a sweep folder: per fit, a CSV of rows and a JSON of settings.

    A fit is done when its CSV exists; its JSON is written first. A lock file
    per fit (``fits/.locks/KEY.lock``, an OS file lock through :mod:`filelock`,
    released by the OS when its process dies) keeps sweeps into one folder from
    computing a fit twice.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.locks: dict[str, Any] = {}
        self._versions: dict[str, str] | None = None
        (folder / _LOCKS_FOLDER).mkdir(parents=True, exist_ok=True)

    def rows_file(self, key: str) -> Path:
        return self.folder / f"{key}.csv"

    def done(self, key: str) -> bool:
        # Both files: rows without their record (settings, data signature) are not trusted.
        return self.rows_file(key).is_file() and (self.folder / f"{key}.json").is_file()

    def claim(self, key: str) -> str:
        """Lock fit ``key`` for this process: ``"claimed"``, ``"done"`` or ``"busy"``."""
        from filelock import FileLock, Timeout

        lock = FileLock(self.folder / _LOCKS_FOLDER / f"{key}.lock", timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            return "busy"
        if self.done(key):  # finished by another sweep since we looked
            lock.release()
            return "done"
        self.locks[key] = lock
        return "claimed"

    def save(self, job: _Job, rows: list[dict]) -> None:
        pd = require("pandas")
        if self._versions is None:
            self._versions = _versions()
        record = {
            "key": job.key,
            "dataset": job.dataset.name,
            "data": job.dataset.signature,
            "data_id": job.data_id,
            "settings_id": job.settings_id,
            "estimator": job.settings,
            "rows": len(rows),
            "versions": self._versions,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        write_atomic(
            self.folder / f"{job.key}.json", (json.dumps(record, indent=1) + "\n").encode()
        )
        table = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
        write_atomic(self.rows_file(job.key), table.to_csv(index=False).encode())
        self.release(job.key)

    def release(self, key: str) -> None:
        lock = self.locks.pop(key, None)
        if lock is not None:
            lock.release()

    def release_all(self) -> None:
        for key in list(self.locks):
            self.release(key)


def _tasks(
    jobs: list[_Job],
    torch_threads: int | None,
    store: _FitStore | None,
    busy: list[_Job],
    elsewhere: list[_Job],
) -> Iterator:
    """Delayed fits, each claimed when due and its data set loaded and encoded once.

    Fits another process holds go to ``busy``; fits found finished go to ``elsewhere``.
    """
    from joblib import delayed

    loaded: dict[str, tuple] = {}
    for job in jobs:
        if store is not None:
            state = store.claim(job.key)
            if state != "claimed":
                (busy if state == "busy" else elsewhere).append(job)
                continue
        name = job.dataset.name
        if name not in loaded:
            loaded.clear()
            loaded[name] = _encode(job.dataset)
        yield delayed(_run_job)(job, loaded[name], torch_threads)


def _read_table(path: Path):
    """One results file, checked: a clear error naming the file for anything unreadable."""
    pd = require("pandas")
    numeric = [c for c in RESULT_COLUMNS if c not in _TEXT_COLUMNS]
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(
                path,
                dtype=dict.fromkeys(_TEXT_COLUMNS, str),
                keep_default_na=False,
                na_values=dict.fromkeys(numeric, [""]),
            )
    except ImportError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path} is empty (written by a killed process? delete it)") from exc
    except Exception as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"{path}: cannot read this results table: {message}") from exc
    required = [c for c in RESULT_COLUMNS if c not in ("settings", "data")]
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} is not a results table: no column {', '.join(missing)}")
    for column in ("settings", "data"):
        if column not in frame.columns:  # written before they were recorded
            frame[column] = _UNRECORDED
    frame["criterion"] = frame["criterion"].replace("", np.nan).fillna(NO_CRITERION).astype(str)
    text = [c for c in _TEXT_COLUMNS if c != "criterion"]
    gaps = frame[numeric].isna().join(frame[text].isna() | (frame[text].astype(str) == ""))
    if gaps.any(axis=None):
        row = int(np.flatnonzero(gaps.any(axis=1).to_numpy())[0])
        where = f"row {row + 1}" if path.suffix == ".parquet" else f"line {row + 2}"
        empty = ", ".join(gaps.columns[gaps.iloc[row].to_numpy()])
        raise ValueError(
            f"{path} {where}: no value for {empty} (a torn or hand-edited file; "
            "delete it and rerun the sweep)"
        )
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (~values.between(0, 1) if column == "auc" else False)
        bad = bad.to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            where = f"row {row + 1}" if path.suffix == ".parquet" else f"line {row + 2}"
            value = frame[column].iloc[row]
            shown = repr(value) if isinstance(value, str) else str(value)
            problem = "is not a number" if np.isnan(values.iloc[row]) else "is outside [0, 1]"
            raise ValueError(
                f"{path} {where}: {column} {shown} {problem} (a torn or hand-edited file; "
                "delete it and rerun the sweep)"
            )
        frame[column] = values
    return frame


def _fit_settings(fits: Path | None, job: str) -> dict[str, Any] | None:
    """The recorded estimator settings of fit ``job``, if its JSON is in ``fits``."""
    if fits is None:
        return None
    try:
        return json.loads((fits / f"{job}.json").read_text())["estimator"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _difference(fits: Path | None, first: str, second: str) -> str:
    """The settings in which fits ``first`` and ``second`` differ, for a message."""
    a, b = _fit_settings(fits, first), _fit_settings(fits, second)
    if a is None or b is None:
        return ""
    differ = [k for k in sorted(set(a) | set(b)) if k not in _GRID and a.get(k) != b.get(k)]
    return "; they differ in " + ", ".join(f"{k}={a.get(k)!r} vs {b.get(k)!r}" for k in differ)


def _check_rows(results, where: str, fits: Path | None = None):
    """``results`` without repeated rows, or a ValueError if it mixes fits that differ.

    Refused: fits of one data set made on different data or with different
    settings, and two fits giving the same row (data set, variant, criterion,
    kernel count, seed). Rows listed twice by one fit are dropped, with a
    warning. Names the files of the rows (column ``_file``, else ``job``);
    ``fits`` is the folder of the fits' JSON records, which name the settings
    that differ.
    """
    source = next((c for c in ("_file", "job") if c in results.columns), None)

    def origin(rows) -> str:
        return "?" if source is None else str(rows[source].iloc[0])

    for column in ("data", "settings"):
        if column not in results.columns:
            continue
        for dataset, group in results.groupby("dataset", sort=True):
            ids = list(group[column].unique())
            if len(ids) < 2:
                continue
            first, second = (group[group[column] == value] for value in ids[:2])
            both = f"{origin(first)} and {origin(second)}"
            if column == "data":
                raise ValueError(
                    f"{where}: data set {dataset!r} mixes fits made on different data "
                    f"({both}): its files or definition changed; delete the stale fits"
                )
            differ = ""
            if "job" in results.columns:
                differ = _difference(fits, first["job"].iloc[0], second["job"].iloc[0])
            raise ValueError(
                f"{where}: data set {dataset!r} mixes fits made with different settings "
                f"({both}){differ}; pick one with load_results(..., settings=ID), ID one "
                f"of {', '.join(map(repr, ids))}, or move the other fits away"
            )
    if "settings" in results.columns and results["settings"].nunique() > 1:
        warnings.warn(
            f"{where}: the data sets were fitted with different settings "
            f"({', '.join(map(repr, results['settings'].unique()))})",
            UserWarning,
            stacklevel=3,
        )
    identity = ["job"] if "job" in results.columns else ["auc"] if "auc" in results else []
    repeated = results.duplicated(_ROW_KEYS + identity)
    if repeated.any():
        warnings.warn(
            f"{where}: dropped {int(repeated.sum())} repeated rows (one fit listed twice)",
            UserWarning,
            stacklevel=3,
        )
        results = results[~repeated]
    clash = results.duplicated(_ROW_KEYS, keep=False)
    if clash.any():
        rows = results[clash]
        first = rows.iloc[0]
        group = rows[(rows[_ROW_KEYS] == first[_ROW_KEYS]).all(axis=1)]
        sources = "" if source is None else f" ({', '.join(map(str, group[source].unique()))})"
        raise ValueError(
            f"{where}: {len(group)} different results for data set {first['dataset']!r}, "
            f"variant {first['variant']!r}, criterion {first['criterion']!r}, "
            f"{first['kernels']} kernels, seed {first['seed']}{sources}: fits made with "
            "different settings or pruning paths are mixed; load one sweep's results.csv "
            "or move the other fits away"
        )
    return results


def load_results(path: str | os.PathLike, *, settings: str | None = None):
    """Read a results table: a sweep's output folder, a CSV or a Parquet file.

    For a folder, its ``results.csv`` (the rows the sweep asked for) is read
    when it is newer than every finished fit; otherwise, as after an
    interrupted sweep, the rows of every fit under ``fits/`` (all kernel
    counts each pruning path passed through).

    The table is checked: every file must parse completely (an error names
    the file and line otherwise); fits of one data set made on different data
    or with different settings (column ``settings``; the fits' JSON records
    say which parameters differ), or two fits giving the same row, are
    refused; a row listed twice is dropped with a warning.

    Parameters
    ----------
    path : str or path-like
        Output folder of :func:`run_sweep`, or a ``.csv`` / ``.parquet`` file.
    settings : str, default=None
        Keep only the rows of fits with these settings (a value of the
        ``settings`` column, as the error on mixed settings lists them).

    Returns
    -------
    pandas.DataFrame
        With :data:`RESULT_COLUMNS` (``settings`` and ``data`` are
        ``"unrecorded"`` in tables written before they were recorded).

    Raises
    ------
    FileNotFoundError
        If there is no such file or folder, or the folder holds no results.
    ValueError
        If a file is not a complete results table, or the table mixes fits
        made on different data or with different settings.
    """
    pd = require("pandas")
    path = Path(path)
    fits = path.parent / _FITS_FOLDER
    if path.is_dir():
        fits = path / _FITS_FOLDER
        files = sorted(fits.glob("*.csv"))
        table = path / _RESULTS_FILE
        if table.is_file() and all(
            file.stat().st_mtime <= table.stat().st_mtime for file in files
        ):
            files = [table]
        if not files:
            raise FileNotFoundError(f"{path} holds no sweep results (no {_FITS_FOLDER}/*.csv)")
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"no such results file or folder: {path}")
    frame = pd.concat(
        [_read_table(file).assign(_file=str(file)) for file in files], ignore_index=True
    )
    if settings is not None:
        if not (frame["settings"] == settings).any():
            raise ValueError(
                f"{path}: no fits with settings {settings!r}; there are "
                f"{', '.join(map(repr, frame['settings'].unique()))}"
            )
        frame = frame[frame["settings"] == settings]
    frame = _check_rows(frame, str(path), fits if fits.is_dir() else None)
    return frame[list(RESULT_COLUMNS)].reset_index(drop=True)


def _check_options(name: str, values: Iterable[Any], allowed: Iterable[Any] | None = None) -> list:
    """``values`` as a list without repeats (with a warning), each one of ``allowed``."""
    values = list(values)
    if allowed is not None:
        allowed = list(allowed)
        bad = [value for value in values if value not in allowed]
        if not values or bad:
            raise ValueError(
                f"{name} must be a non-empty list of {', '.join(map(repr, allowed))}; "
                f"got {values!r}"
            )
    unique = list(dict.fromkeys(values))
    if len(unique) < len(values):
        repeated = sorted({v for v in values if values.count(v) > 1}, key=unique.index)
        warnings.warn(
            f"{name} {', '.join(map(repr, repeated))} given more than once; each is run once",
            UserWarning,
            stacklevel=3,
        )
    return unique


def run_sweep(
    datasets: DatasetSpec | Iterable[DatasetSpec] | Mapping[str, DatasetSpec] | None = None,
    *,
    variants: Sequence[str] = ("baseline", "deepprune", "inter"),
    kernels: Sequence[int] = (4, 8, 16),
    criteria: Sequence[str] = ("ablation",),
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
    A value given twice (``seeds=[0, 0]``) is run once, with a warning.

    Each finished fit is written to ``output/fits/`` at once (``KEY.csv``, its
    rows, and ``KEY.json``, its settings, data signature and package
    versions); a rerun skips the fits found there, so an interrupted sweep
    loses only the fits in flight. At the end all rows go to
    ``output/results.csv`` (and ``results.parquet`` when pyarrow is
    installed).

    What makes the saved fits safe to trust:

    - A fit's key hashes the content of its data (the files of a ChIP-seq
      folder; what defines a simulated set, motif files included; the arrays
      a callable returns) and every
      :class:`~sklearn_deepprune.DeepPruneClassifier` parameter but
      ``verbose``: changed data or settings are fitted anew, never taken from
      an older fit.
    - Only this process writes files, each through a unique temporary file
      and :func:`os.replace`, so no file is ever half-written. Worker
      processes only compute: after the sweep is killed (even with SIGKILL)
      they may run on for the rest of their current fit, but write nothing.
    - Each fit is locked (``fits/.locks/``, an OS file lock released when its
      holder dies) while it runs, so two sweeps into one folder share the
      work: a fit another sweep is computing is waited for, not computed
      twice.
    - A fit interrupted by Ctrl-C is not saved, and the
      :class:`KeyboardInterrupt` propagates (``deepprune sweep`` exits 130).

    Parameters
    ----------
    datasets : spec, list of specs, mapping of name to spec, or None
        See :func:`resolve_datasets`; ``None`` is a simulated set made on the
        fly from the package's JASPAR motifs. Data sets without a signature
        (callables) are loaded when the sweep starts, to hash their content.
    variants : sequence of {"baseline", "deepprune", "inter", "lottery"}
        The variants to report.
    kernels : sequence of int, default=(4, 8, 16)
        Kernel counts to report; with a pruned variant each must be the
        smallest times a power of 2 no larger than ``2**n_prune_steps``.
    criteria : sequence of str, default=("ablation",)
        Pruning criteria (:data:`~sklearn_deepprune.pruning.CRITERIA`; the
        baseline prunes nothing, its criterion is ``"none"``).
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
        the starting width of the fit, its key, and the ids of its settings
        and data.

    Raises
    ------
    ValueError
        On an unknown variant, criterion, data set or estimator parameter, or
        unreachable kernel counts.
    ImportError
        If pandas (``experiments`` extra) or, for Dask, ``distributed`` is missing.
    KeyboardInterrupt
        On Ctrl-C; the fits finished before it are kept.

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

    from sklearn_deepprune.classifier import DeepPruneClassifier

    variants = _check_options("variants", variants, VARIANTS)
    criteria = _check_options("criteria", criteria, CRITERIA)
    kernels = _check_options("kernels", [int(k) for k in kernels])
    if not kernels or min(kernels) < 1:
        raise ValueError(f"kernels must be a non-empty list of positive ints; got {kernels!r}")
    seeds = _check_options("seeds", [int(seed) for seed in seeds])
    if not seeds:
        raise ValueError("seeds must not be empty")
    params = dict(estimator_params or {})
    fixed = sorted({"n_kernels", "variant", "criterion", "random_state"} & set(params))
    if fixed:
        raise ValueError(f"estimator_params must not set {', '.join(fixed)}: the sweep does")
    unknown = sorted(set(params) - set(DeepPruneClassifier().get_params(deep=False)))
    if unknown:
        raise ValueError(
            f"estimator_params: DeepPruneClassifier has no parameter {', '.join(unknown)}"
        )
    found = resolve_datasets(datasets, n_samples=n_samples, motif_dir=motif_dir)
    jobs = _plan([_with_signature(d) for d in found], variants, kernels, criteria, seeds, params)
    by_key = {job.key: job for job in jobs}

    store = None
    if output is not None:
        folder = Path(output) / _FITS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        store = _FitStore(folder)
    pending = [job for job in jobs if store is None or not store.done(job.key)]

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
    bar = tqdm(
        total=len(jobs),
        initial=len(jobs) - len(pending),
        desc="fits",
        unit="fit",
        disable=not progress,
    )
    try:
        with (
            bar,
            parallel_config(backend=backend) if backend else nullcontext(),
            noting_interrupts() as interrupted,
        ):
            while pending:
                busy: list[_Job] = []
                elsewhere: list[_Job] = []
                finished = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                    _tasks(pending, threads, store, busy, elsewhere)
                )
                for key, rows in finished:
                    # A fit that swallowed Ctrl-C returns early: never save it.
                    if interrupted:
                        raise KeyboardInterrupt
                    if store is not None:
                        store.save(by_key[key], rows)
                    else:
                        in_memory.extend(rows)
                    bar.update()
                if interrupted:
                    raise KeyboardInterrupt
                pending = [job for job in busy if not store.done(job.key)]
                bar.update(len(elsewhere) + len(busy) - len(pending))
                if pending:
                    # Another sweep into this folder is computing these: wait for it.
                    bar.set_description(f"fits (waiting for {len(pending)} of another sweep)")
                    time.sleep(_POLL_SECONDS)
    finally:
        if store is not None:
            store.release_all()
        if client is not None:
            client.close()

    if store is not None:
        frames = [_read_table(store.rows_file(job.key)) for job in jobs]
    else:
        frames = [pd.DataFrame(in_memory, columns=list(RESULT_COLUMNS))]
    results = pd.concat(frames, ignore_index=True)
    results["criterion"] = results["criterion"].fillna(NO_CRITERION).astype(str)
    results = results[results["variant"].isin(variants) & results["kernels"].isin(kernels)]
    results = results.sort_values(["dataset", "variant", "criterion", "kernels", "seed"])
    results = results[list(RESULT_COLUMNS)].reset_index(drop=True)
    if output is not None:
        write_atomic(Path(output) / _RESULTS_FILE, results.to_csv(index=False).encode())
        buffer = io.BytesIO()
        try:
            results.to_parquet(buffer, index=False)
        except ImportError:
            pass
        else:
            write_atomic(Path(output) / "results.parquet", buffer.getvalue())
    return results
