"""Data sets of a sweep: names, simulated sets and ChIP-seq folders, resolved lazily."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_deepprune.datasets._chipseq import _is_data_folder

#: The data set a sweep uses when none is given: simulated set 4 (one of four
#: JASPAR motifs planted), made on the fly from the motifs shipped with the package.
DEFAULT_DATASET = "simulated4"

_SIMULATED = re.compile(r"^simulated([1-5])$")
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
    signature : str
        What identifies the data beyond its name (generator settings, path);
        it enters the keys of the fits, so changed data is not mistaken for done.
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


def _simulated(k: int, n_samples: int | None, motif_dir: str | os.PathLike | None) -> SweepDataset:
    def load():
        from sklearn_deepprune.datasets import make_paper_simulation

        kwargs = {} if n_samples is None else {"n_samples": n_samples}
        return _parts(
            make_paper_simulation(k, motif_dir=motif_dir, random_state=0, **kwargs),
            f"simulated{k}",
        )

    motifs = "jaspar" if motif_dir is None else str(Path(motif_dir).resolve())
    return SweepDataset(f"simulated{k}", load, f"simulated{k}|n={n_samples}|motifs={motifs}")


def _chipseq(path: Path) -> SweepDataset:
    def load():
        from sklearn_deepprune.datasets import load_chipseq

        return _parts(load_chipseq(path, negatives="shuffle", random_state=0), str(path))

    return SweepDataset(path.name, load, f"chipseq|{path.resolve()}")


def resolve_datasets(
    datasets: DatasetSpec | Iterable[DatasetSpec] | Mapping[str, DatasetSpec] | None = None,
    *,
    n_samples: int | None = None,
    motif_dir: str | os.PathLike | None = None,
) -> list[SweepDataset]:
    """Turn data set names, folders and callables into :class:`SweepDataset` objects.

    Nothing is loaded here; each data set is read when its first fit is due.

    Parameters
    ----------
    datasets : spec, list of specs, mapping of name to spec, or None
        Each spec is one of:

        - ``"simulated1"`` ... ``"simulated5"``: the paper's simulated sets
          (:func:`~sklearn_deepprune.datasets.make_paper_simulation`, seed 0);
        - a folder with train/test files (690-set or DeepBind format, read by
          :func:`~sklearn_deepprune.datasets.load_chipseq`, negatives made by
          dinucleotide shuffling where a part has none), or a folder of such
          folders (each becomes one data set, named after its folder);
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
        return [SweepDataset(name, lambda: _parts(spec(), name), f"callable|{name}")]
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
        return [_chipseq(path)]
    folders = sorted(p for p in path.iterdir() if p.is_dir() and _is_data_folder(p))
    if not folders:
        raise ValueError(
            f"{path} holds no ChIP-seq data folders (train.data/test.data or "
            "DeepBind's NAME_AC.seq.gz/NAME_B.seq.gz)"
        )
    return [_chipseq(folder) for folder in folders]
