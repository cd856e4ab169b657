"""Download the published ChIP-seq benchmark sets once, into a local cache (pooch)."""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.datasets._chipseq import _binding_records, load_chipseq

#: Where each collection is downloaded from: the environment variable that
#: overrides the base URL (for a mirror), its default, and the files of a set;
#: optionally ``hashes``, a file's path (as in ``files``, the name filled in)
#: to its known checksum (pooch's ``"sha256:..."``), checked on download.
#: The 690 sets of Zeng et al. (2016) are ``BASE/NAME/train.data`` and
#: ``BASE/NAME/test.data``; DeepBind's ENCODE sets (Alipanahi et al. 2015)
#: are ``BASE/NAME_AC.seq.gz`` and ``BASE/NAME_B.seq.gz``.
CHIPSEQ_SOURCES: dict[str, dict[str, object]] = {
    "690": {
        "env": "DEEPPRUNE_690_URL",
        "url": "http://cnn.csail.mit.edu/motif_discovery/",
        "files": ("{name}/train.data", "{name}/test.data"),
    },
    "deepbind": {
        "env": "DEEPPRUNE_DEEPBIND_URL",
        "url": "http://tools.genes.toronto.edu/deepbind/nbtcode/data/encode/",
        "files": ("{name}_AC.seq.gz", "{name}_B.seq.gz"),
    },
}

# A name is one path component: letters, digits and the punctuation of the sets' names.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.()+-]*$")


def _collection_of(name: str) -> str:
    """The 690 sets are named after their ENCODE tracks (``wgEncode...``)."""
    return "690" if name.startswith("wgEncode") else "deepbind"


def _base_url(collection: str) -> str:
    source = CHIPSEQ_SOURCES[collection]
    url = os.environ.get(str(source["env"])) or str(source["url"])
    return url if url.endswith("/") else url + "/"


def _check_download(path: Path) -> str | None:
    """Why ``path`` is not a data file of either collection; None if it reads as one.

    Every record is read (once, after the download), so that a truncated gzip
    file or a page of HTML is caught before the set is cached as complete.
    """
    with open(path, "rb") as file:
        gzipped = file.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open if gzipped else open)(path, "rb") as file:
            text = file.read(4096).lstrip()
        if text.startswith(b"<"):
            return "an HTML page (" + text[:60].decode(errors="replace").split("\n")[0] + ")"
        for _ in _binding_records(path)[1]:
            pass
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        return str(exc)
    return None


def _download(url: str, folder: Path, file_name: str, known_hash: str | None = None) -> bool:
    """Download ``url`` to ``folder/file_name`` unless there; False if the server has none.

    A file that is not a data file (an HTML page from a mirror, say) or whose
    checksum is wrong is not kept: an OSError names it and the cache folder.
    """
    pooch = import_optional("pooch", "genome", "fetch_chipseq")
    requests = import_optional("requests", "genome", "fetch_chipseq")
    try:
        pooch.retrieve(url, known_hash=known_hash, fname=file_name, path=folder, progressbar=False)
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code == 404:
            return False
        raise OSError(f"cannot download {url}: {exc}") from None
    except requests.RequestException as exc:
        raise OSError(f"cannot download {url}: {exc}") from None
    except ValueError as exc:  # pooch: the checksum differs
        raise OSError(
            f"cannot download {url}: its checksum is not the known one ({exc}); nothing was "
            f"kept in the cache {folder}"
        ) from None
    problem = _check_download(folder / file_name)
    if problem is not None:
        (folder / file_name).unlink()
        raise OSError(
            f"{url} is not a data file: {problem}; it was not kept in the cache {folder} "
            "(is the mirror right?)"
        )
    return True


def fetch_chipseq(
    name: str,
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    negatives: str | None = "shuffle",
    random_state: int | np.random.RandomState | None = 0,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, ...]:
    """Fetch one published ChIP-seq data set, downloading it the first time.

    Two collections: the 690 ENCODE sets of Zeng et al. (2016), used by the
    Deepprune paper (names like ``"wgEncodeAwgTfbsBroadDnd41CtcfUniPk"``),
    and DeepBind's ENCODE sets (Alipanahi et al. 2015; names like
    ``"CTCF_K562_CTCF_Broad"``). The files are downloaded with pooch into
    ``DATA_HOME/deepprune/COLLECTION/NAME/`` and read from there afterwards.

    The base URL of a collection can be overridden for a mirror with the
    environment variable ``DEEPPRUNE_690_URL`` or ``DEEPPRUNE_DEEPBIND_URL``
    (see :data:`CHIPSEQ_SOURCES` for the layout under it).

    Parameters
    ----------
    name : str
        The data set's name in its collection; names starting with
        ``wgEncode`` are from the 690 collection, others from DeepBind's.
    data_home : str or path-like, default=None
        The cache folder; ``None`` is scikit-learn's
        (:func:`sklearn.datasets.get_data_home`: ``~/scikit_learn_data`` or
        the ``SCIKIT_LEARN_DATA`` environment variable).
    download_if_missing : bool, default=True
        If False, raise an OSError instead of downloading a set not cached.
    negatives : {None, "shuffle", "replace"}, default="shuffle"
        As in :func:`load_chipseq`: ``"shuffle"`` gives parts without
        negatives (DeepBind's training peaks) dinucleotide-shuffled ones.
    random_state : int, RandomState instance or None, default=0
        As in :func:`load_chipseq` (shuffles, and the split of a set that has
        only a test file).
    return_X_y : bool, default=False
        Return ``(X_train, X_test, y_train, y_test)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_chipseq` returns for a folder (``train``, ``test``,
        ``name``, ``format``, ``files``, ``split``), plus ``collection``
        (``"690"`` or ``"deepbind"``) and ``folder`` (the cache folder).
    (X_train, X_test, y_train, y_test) : tuple of ndarray
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``name`` is not a valid set name, or the server has none of its
        files (HTTP 404); if the cached set cannot be read (naming the cache
        folder, to delete).
    OSError
        If a download fails, is not a data file of the collection (an HTML
        page, say) or has the wrong checksum (such a file is not kept, and
        the set is not cached as complete), or the set is not cached and
        ``download_if_missing`` is False.
    ImportError
        If pooch (the ``genome`` extra) is missing.

    Examples
    --------
    >>> from sklearn_deepprune.datasets import fetch_chipseq
    >>> data = fetch_chipseq("wgEncodeAwgTfbsBroadDnd41Ezh239875UniPk")  # doctest: +SKIP
    >>> data.train.sequences.shape  # doctest: +SKIP
    (2681,)
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"not a data set name: {name!r}")
    collection = _collection_of(name)
    folder = Path(get_data_home(data_home)) / "deepprune" / collection / name
    source = CHIPSEQ_SOURCES[collection]
    paths = [str(pattern).format(name=name) for pattern in source["files"]]  # type: ignore[attr-defined]
    # Written once every file is in: an interrupted download is resumed, never used.
    complete = folder / ".complete"
    if not complete.is_file():
        if not download_if_missing:
            raise OSError(f"data set {name} is not in {folder} and download_if_missing is False")
        base = _base_url(collection)
        hashes = dict(source.get("hashes", {}))  # type: ignore[call-overload]
        found = [
            _download(base + path, folder, Path(path).name, hashes.get(path)) for path in paths
        ]
        if not any(found):
            raise ValueError(
                f"no data set {name!r} in the {collection} collection at {base} (HTTP 404 for "
                f"{', '.join(paths)}); set {source['env']} to use a mirror"
            )
        complete.write_text(
            "".join(f"{path}\n" for path, ok in zip(paths, found, strict=True) if ok)
        )
    try:
        data = load_chipseq(
            folder, negatives=negatives, random_state=random_state, return_X_y=return_X_y
        )
    except ValueError as exc:
        raise ValueError(
            f"the cached data set in {folder} cannot be read ({exc}); delete that folder to "
            "download it again"
        ) from None
    if return_X_y:
        return data
    data.collection = collection
    data.folder = str(folder)
    return data
