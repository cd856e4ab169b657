"""Data sets of a sweep: names, simulated sets and ChIP-seq folders, resolved lazily."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_deepprune.datasets._chipseq import _is_data_folder
from sklearn_deepprune.datasets._simulate import _PAPER_MOTIF_FILE

#: The data set a sweep uses when none is given: simulated set 4 (one of four
#: JASPAR motifs planted), made on the fly from the motifs shipped with the package.
DEFAULT_DATASET = "simulated4"

_SIMULATED = re.compile(r"^simulated([1-5])$")
# DeepBind's file names: NAME_AC.seq.gz (training peaks) and NAME_B.seq.gz (test).
_DEEPBIND_FILE = re.compile(r"^(?P<name>.+)_(?P<part>AC|B)\.seq(\.gz)?$")
DatasetSpec = str | os.PathLike | Callable[[], Any]


@dataclass(frozen=True)
class SweepDataset:
    """A named data set whose train and test parts are loaded on demand.

    Parameters
    ----------
    name : str
        The ``dataset`` column of the results.
    load : callable
        Returns ``(X_train, y_train, X_test, y_test)``: DNA strings and labels.
    signature : str, default=""
        What identifies the data beyond its name: for folders a hash of their
        files, for simulated sets of what defines them (generator settings and
        motif files). It enters the keys of the fits, so changed data is not
        mistaken for done. Empty: :func:`run_sweep` loads the data when it
        starts and hashes the arrays.
    """

    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        repr=False, compare=False
    )
    signature: str = ""


def _parts(data: Any, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_test, y_test)`` from a Bunch with train/test or a 4-tuple."""
    if isinstance(data, Mapping) and "train" in data and "test" in data:
        train, test = data["train"], data["test"]
        return (
            np.asarray(train["sequences"]),
            np.asarray(train["target"]),
            np.asarray(test["sequences"]),
            np.asarray(test["target"]),
        )
    if isinstance(data, tuple) and len(data) == 4:
        X_train, X_test, y_train, y_test = data
        return np.asarray(X_train), np.asarray(y_train), np.asarray(X_test), np.asarray(y_test)
    raise TypeError(
        f"data set {what} must give a Bunch with 'train' and 'test' parts or a tuple "
        f"(X_train, X_test, y_train, y_test); got {type(data).__name__}"
    )


def _digest_files(files: Iterable[Any]) -> str:
    """SHA-256 over the names and bytes of ``files`` (paths or package resources)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _simulated(k: int, n_samples: int | None, motif_dir: str | os.PathLike | None) -> SweepDataset:
    def load():
        from sklearn_deepprune.datasets import make_paper_simulation

        kwargs = {} if n_samples is None else {"n_samples": n_samples}
        return _parts(
            make_paper_simulation(k, motif_dir=motif_dir, random_state=0, **kwargs),
            f"simulated{k}",
        )

    if motif_dir is None:
        from importlib import resources

        files = [resources.files("sklearn_deepprune.datasets") / "data" / _PAPER_MOTIF_FILE]
    else:
        # The folder make_paper_simulation reads (a missing one fails when loading).
        folder = Path(motif_dir)
        folder = folder / f"simulated{k}" if (folder / f"simulated{k}").is_dir() else folder
        files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    signature = f"simulated{k}|n={n_samples}|random_state=0|motifs={_digest_files(files)}"
    return SweepDataset(f"simulated{k}", load, signature)


def _chipseq(path: Path) -> SweepDataset:
    def load():
        from sklearn_deepprune.datasets import load_chipseq

        return _parts(load_chipseq(path, negatives="shuffle", random_state=0), str(path))

    # The content, not the path: replaced files are new data, a moved folder is not.
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    signature = f"chipseq|negatives=shuffle|random_state=0|files={_digest_files(files)}"
    if _is_single_file(path):
        # split by the loader, which keeps each peak with its shuffle (earlier versions did
        # not): a signature of its own, so that fits on the old split are not reused
        signature += "|split=pairs-kept"
    return SweepDataset(path.name, load, signature)


def _is_single_file(path: Path) -> bool:
    """Whether the data set folder has only one of its train and test files."""
    from sklearn_deepprune.datasets._chipseq import _find_part_files

    try:
        return len(_find_part_files(path)) == 1
    except ValueError:
        return False


def _deepbind_sets(folder: Path) -> dict[str, dict[str, Path]]:
    """DeepBind's files in ``folder`` by set name: ``{NAME: {"train": ..., "test": ...}}``."""
    sets: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.iterdir()):
        match = _DEEPBIND_FILE.match(path.name)
        if not match or not path.is_file():
            continue
        part = "train" if match["part"] == "AC" else "test"
        files = sets.setdefault(match["name"], {})
        if part in files:
            raise ValueError(f"{folder}: several {part} files ({files[part].name}, {path.name})")
        files[part] = path
    return sets


def _deepbind_set(name: str, files: dict[str, Path]) -> SweepDataset:
    """One of several DeepBind sets side by side in a folder: NAME_AC (train), NAME_B (test)."""

    def load():
        from sklearn_deepprune.datasets import load_chipseq

        train, test = (
            load_chipseq(files[part], negatives="shuffle", random_state=0)
            for part in ("train", "test")
        )
        if len(train.sequences[0]) != len(test.sequences[0]):
            raise ValueError(
                f"{files['test']}: sequences of length {len(test.sequences[0])}, but the train "
                f"part ({files['train']}) has length {len(train.sequences[0])}"
            )
        return train.sequences, train.target, test.sequences, test.target

    signature = (
        "chipseq|negatives=shuffle|random_state=0|"
        f"files={_digest_files([files['train'], files['test']])}"
    )
    return SweepDataset(name, load, signature)


def _chipseq_sets(folder: Path) -> list[SweepDataset]:
    """The data sets of a data folder: one, or one per NAME of DeepBind's files side by side."""
    sets = _deepbind_sets(folder)
    if len(sets) <= 1:
        return [_chipseq(folder)]
    for name, files in sets.items():
        if len(files) < 2:
            (present,) = files.values()
            missing = f"{name}_B.seq.gz" if "train" in files else f"{name}_AC.seq.gz"
            raise ValueError(
                f"{folder}: {present.name} has no {missing} beside it; with several DeepBind "
                "sets in one folder each NAME needs both NAME_AC.seq.gz and NAME_B.seq.gz"
            )
    return [_deepbind_set(name, files) for name, files in sets.items()]


def resolve_datasets(
    datasets: DatasetSpec | Iterable[DatasetSpec] | Mapping[str, DatasetSpec] | None = None,
    *,
    n_samples: int | None = None,
    motif_dir: str | os.PathLike | None = None,
) -> list[SweepDataset]:
    """Turn data set names, folders and callables into :class:`SweepDataset` objects.

    Nothing is parsed here (the files of folders and the motif files of
    simulated sets are only hashed, for the keys of the fits); each data set
    is read when its first fit is due.

    Parameters
    ----------
    datasets : spec, list of specs, mapping of name to spec, or None
        Each spec is one of:

        - ``"simulated1"`` ... ``"simulated5"``: the paper's simulated sets
          (:func:`~sklearn_deepprune.datasets.make_paper_simulation`, seed 0);
        - a folder with train/test files (690-set or DeepBind format, read by
          :func:`~sklearn_deepprune.datasets.load_chipseq`, negatives made by
          dinucleotide shuffling where a part has none), or a folder of such
          folders (each becomes one data set, named after its folder); a
          folder holding many DeepBind sets side by side (``NAME_AC.seq.gz``
          and ``NAME_B.seq.gz`` for many names, as DeepBind distributes them)
          gives one data set per ``NAME``;
        - a :class:`SweepDataset`;
        - a callable with no arguments returning a Bunch with ``train`` and
          ``test`` parts (``sequences``, ``target``) or a tuple
          ``(X_train, X_test, y_train, y_test)``.

        A mapping names its specs (needed for callables without a useful
        ``__name__``). ``None`` is :data:`DEFAULT_DATASET`.
    n_samples : int, default=None
        Train (and test) size of simulated sets; ``None`` keeps the
        generator's default (10,000).
    motif_dir : str or path-like, default=None
        Motif files for the simulated sets (a folder with ``simulated1`` ...
        ``simulated5`` subfolders, such as the paper's TRANSFAC motifs);
        ``None`` uses the JASPAR motifs shipped with the package.

    Returns
    -------
    list of SweepDataset
        In the given order; names are unique.

    Raises
    ------
    ValueError
        On an unknown name, a missing path, or two data sets with one name.
    """
    if datasets is None:
        datasets = [DEFAULT_DATASET]
    if isinstance(datasets, Mapping):
        items = list(datasets.items())
    elif isinstance(datasets, (str, os.PathLike, SweepDataset)) or callable(datasets):
        items = [(None, datasets)]
    else:
        items = [(None, spec) for spec in datasets]
    resolved: list[SweepDataset] = []
    for name, spec in items:
        found = _resolve_one(spec, n_samples, motif_dir)
        if name is not None:
            if len(found) != 1:
                raise ValueError(f"data set {name!r} names a folder of {len(found)} data sets")
            found = [SweepDataset(str(name), found[0].load, found[0].signature)]
        resolved.extend(found)
    names = [dataset.name for dataset in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"several data sets are named {', '.join(map(repr, duplicates))}")
    return resolved


def _resolve_one(spec, n_samples, motif_dir) -> list[SweepDataset]:
    if isinstance(spec, SweepDataset):
        return [spec]
    if callable(spec):
        name = getattr(spec, "__name__", None) or type(spec).__name__
        # No signature: the sweep hashes what the callable returns.
        return [SweepDataset(name, lambda: _parts(spec(), name))]
    if isinstance(spec, str):
        match = _SIMULATED.match(spec)
        if match:
            return [_simulated(int(match.group(1)), n_samples, motif_dir)]
    path = Path(spec)
    if not path.exists():
        raise ValueError(
            f"unknown data set {str(spec)!r}: expected simulated1 ... simulated5, a ChIP-seq "
            "data folder, or a folder of them"
        )
    if path.is_file():
        raise ValueError(f"{path} is a file; a sweep needs a folder with train and test parts")
    if _is_data_folder(path):
        return _chipseq_sets(path)
    folders = sorted(p for p in path.iterdir() if p.is_dir() and _is_data_folder(p))
    if not folders:
        raise ValueError(
            f"{path} holds no ChIP-seq data folders (train.data/test.data or "
            "DeepBind's NAME_AC.seq.gz/NAME_B.seq.gz)"
        )
    return [dataset for folder in folders for dataset in _chipseq_sets(folder)]
