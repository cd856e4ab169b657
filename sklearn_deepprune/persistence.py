"""Model files that are safe to share: :func:`save_model` and :func:`load_model`.

A pickle (``joblib.dump``) of a model runs code when it is loaded, so a
``model.joblib`` from someone else is as dangerous as a script from them. The
files written here never unpickle: one zip archive holding

``manifest.json``
    JSON: the format and its version, the versions of the packages that wrote
    the file, each estimator's class (only :class:`SequenceOneHotEncoder`,
    :class:`DeepPruneClassifier` and a :class:`~sklearn.pipeline.Pipeline`
    of them), its ``get_params()`` and its fitted attributes, with every array
    replaced by the name of a tensor; a SHA-256 of the tensors and of the
    manifest itself.
``tensors.safetensors``
    The arrays and network weights in the `safetensors
    <https://huggingface.co/docs/safetensors>`_ format: a JSON header and raw
    numbers.

Loading parses JSON and raw numbers only, rebuilds the estimators from the
whitelisted classes and checks every value (parameters by the estimator's own
validation, weights by the network's ``load_state_dict``). The checksums catch
a corrupted or edited file; they are not a signature -- whoever edits a file
on purpose can recompute them -- but the worst such a file can do is give
wrong predictions, never run code.

The skorch net of the final stage (``net_``) is rebuilt from the saved weights
(its training history is not kept). The per-stage network states
(``stage_states_``, needed by ``staged_decision_function``) are saved only on
request, since they take far more room than the final network.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import re
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import sklearn
import torch
from safetensors.numpy import load as _load_tensors
from safetensors.numpy import save as _save_tensors
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from sklearn_deepprune._guards import write_atomic
from sklearn_deepprune.classifier import DeepPruneClassifier, PruningHistory
from sklearn_deepprune.encoding import SequenceOneHotEncoder

__all__ = ["load_model", "save_model"]

#: The ``format`` field of every manifest.
FORMAT = "sklearn-deepprune-model"

#: The version of the file layout this module writes; it reads this and older ones.
FORMAT_VERSION = 1

_MANIFEST = "manifest.json"
_TENSORS = "tensors.safetensors"
_CHECKSUM = "manifest_sha256"

# A manifest is a few KB (with stage states a few hundred); refuse absurd ones
# before reading them into memory.
_MAX_MANIFEST_BYTES = 64 << 20

# The estimators a file may hold; nothing else is ever constructed on load.
_ESTIMATORS = {cls.__name__: cls for cls in (SequenceOneHotEncoder, DeepPruneClassifier)}

# Fitted attributes each estimator needs to predict.
_REQUIRED = {
    "SequenceOneHotEncoder": {"length_", "n_features_in_"},
    "DeepPruneClassifier": {
        "classes_",
        "n_features_in_",
        "kernels_",
        "kernel_bias_",
        "dense_weight_",
        "pruning_history_",
    },
}

# DeepPruneClassifier parameters added after the first file layout, with the value that
# every model saved before them had.
_PARAMS_BEFORE_THEY_EXISTED = {"pooling": "max"}

# The keys of an estimator's entry in the manifest.
_ENTRY_KEYS = {"class", "params", "fitted", "net", "stage_states"}

# Fitted attributes stored apart from the generic ones.
_SPECIAL = {"net_", "stage_states_"}

# Parameters that hold objects no file can describe; saved as None with a warning.
_UNSAVABLE_PARAMS = {"callbacks": "skorch callbacks"}

_ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*_")

_NO_STAGE_STATES = (
    "this DeepPruneClassifier was loaded from a model file saved without stage states, so "
    "stage_states_ and staged_decision_function are not available (save_model(..., "
    "stage_states=True) keeps them)"
)


class _StageStatesNotSaved:
    """Stands for ``stage_states_`` of a model loaded without them; any use raises."""

    def _refuse(self, *args, **kwargs):
        raise NotFittedError(_NO_STAGE_STATES)

    __iter__ = __len__ = __getitem__ = _refuse

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<stage states not saved>"


class _ModelFileError(ValueError):
    """A model file that cannot be loaded; the message says why."""


# -- values <-> JSON and tensors ----------------------------------------------------------------
#
# Plain JSON holds None, bool, int, finite float, str and lists; everything
# else is a one-key object (plus its fields) named by its tag:
#   {"dict": {...}}                      dict with str keys
#   {"tuple": [...]}                     tuple
#   {"float": "nan" | "inf" | "-inf"}    non-finite float
#   {"scalar": v, "dtype": "<i8"}        numpy scalar
#   {"array": name}                      numeric ndarray, a tensor of the file
#   {"tensor": name}                     torch.Tensor, a tensor of the file
#   {"strings": [...], "dtype": "<U7", "shape": [...]}   ndarray of str
#   {"dtype": "float32", "as": "type"|"dtype"}          a numpy dtype parameter
#   {"pruning_history": [...]}           PruningHistory

_NONFINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}

# The tag of an encoded object, by its set of keys.
_TAGS = {
    frozenset(fields): fields[0]
    for fields in (
        ("dict",),
        ("tuple",),
        ("pruning_history",),
        ("float",),
        ("scalar", "dtype"),
        ("array",),
        ("tensor",),
        ("strings", "dtype", "shape"),
        ("dtype", "as"),
    )
}


class _Writer:
    """Encodes values as JSON, collecting their arrays as named tensors."""

    def __init__(self):
        self.tensors: dict[str, np.ndarray] = {}

    def _add(self, array: np.ndarray, where: str) -> str:
        if where in self.tensors:
            raise TypeError(f"two arrays are named {where!r}; rename the pipeline steps")
        self.tensors[where] = np.ascontiguousarray(array)
        return where

    def encode(self, value: Any, where: str) -> Any:
        if isinstance(value, np.generic):
            if value.dtype.kind not in "biufU":
                raise TypeError(f"{where} is a numpy {value.dtype} scalar, which cannot be saved")
            return {"scalar": self.encode(value.item(), where), "dtype": value.dtype.str}
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            if np.isfinite(value):
                return value
            return {"float": "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")}
        if isinstance(value, PruningHistory):
            return {"pruning_history": self.encode(list(value), where)}
        if type(value) in (list, tuple):
            items = [self.encode(item, f"{where}.{i}") for i, item in enumerate(value)]
            return items if type(value) is list else {"tuple": items}
        if isinstance(value, dict):
            for key in value:
                if type(key) is not str:
                    raise TypeError(f"{where} has the key {key!r}; only str keys can be saved")
            return {"dict": {k: self.encode(v, f"{where}.{k}") for k, v in value.items()}}
        if isinstance(value, torch.Tensor):
            array = value.detach().cpu()
            if array.dtype == torch.bfloat16:
                array = array.float()
            return {"tensor": self._add(array.numpy(), where)}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biuf":
                return {"array": self._add(value, where)}
            if value.dtype.kind in "UO" and all(isinstance(s, str) for s in value.flat):
                return {
                    "strings": [str(s) for s in value.flat],
                    "dtype": value.dtype.str,
                    "shape": list(value.shape),
                }
            raise TypeError(f"{where} is an array of dtype {value.dtype}, which cannot be saved")
        if isinstance(value, type) and issubclass(value, np.generic):
            return {"dtype": np.dtype(value).str, "as": "type"}
        if isinstance(value, np.dtype):
            return {"dtype": value.str, "as": "dtype"}
        raise TypeError(
            f"{where} is a {type(value).__name__}, which a model file cannot hold (only "
            "numbers, strings, lists, dicts and numeric arrays)"
        )


class _Reader:
    """Decodes what :class:`_Writer` encoded; every malformed value is a ``_ModelFileError``."""

    def __init__(self, tensors: dict[str, np.ndarray]):
        self.tensors = tensors

    def _tensor(self, name: Any, where: str) -> np.ndarray:
        if not isinstance(name, str) or name not in self.tensors:
            raise _ModelFileError(f"{where} refers to a tensor {name!r} that the file lacks")
        return self.tensors[name].copy()

    def decode_fields(self, fields: Any, where: str) -> dict[str, Any]:
        """Decode a JSON object of encoded values (parameters, fitted attributes)."""
        if type(fields) is not dict:
            raise _ModelFileError(f"{where} is malformed")
        return {key: self.decode(value, f"{where}.{key}") for key, value in fields.items()}

    def decode(self, value: Any, where: str) -> Any:
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) is list:
            return [self.decode(item, f"{where}.{i}") for i, item in enumerate(value)]
        tag = _TAGS.get(frozenset(value)) if type(value) is dict else None
        if tag is None:
            raise _ModelFileError(f"{where} is malformed")
        try:
            return self._decode_tagged(tag, value, where)
        except _ModelFileError:
            raise
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise _ModelFileError(f"{where} is malformed ({error})") from error

    def _decode_tagged(self, tag: str, value: dict, where: str) -> Any:
        if tag == "dict":
            items = value["dict"]
            if type(items) is not dict:
                raise _ModelFileError(f"{where} is malformed")
            return {k: self.decode(v, f"{where}.{k}") for k, v in items.items()}
        if tag in ("tuple", "pruning_history"):
            items = self.decode(value[tag], where)
            if type(items) is not list:
                raise _ModelFileError(f"{where} is malformed")
            return tuple(items) if tag == "tuple" else PruningHistory(items)
        if tag == "float":
            return _NONFINITE[value["float"]]
        if tag == "scalar":
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "biufU":
                raise _ModelFileError(f"{where} has the unsupported dtype {dtype}")
            return dtype.type(self.decode(value["scalar"], where))
        if tag == "array":
            return self._tensor(value["array"], where)
        if tag == "tensor":
            return torch.from_numpy(self._tensor(value["tensor"], where))
        if tag == "strings":
            dtype = np.dtype(value["dtype"])
            strings = value["strings"]
            if dtype.kind not in "UO" or not all(type(s) is str for s in strings):
                raise _ModelFileError(f"{where} is malformed")
            return np.array(strings, dtype=dtype).reshape(value["shape"])
        # tag == "dtype"
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biuf" or value["as"] not in ("type", "dtype"):
            raise _ModelFileError(f"{where} is malformed")
        return dtype.type if value["as"] == "type" else dtype


# -- estimators <-> JSON --------------------------------------------------------------------------


def _fitted_attributes(estimator) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(estimator).items()
        if _ATTRIBUTE_NAME.fullmatch(name) and name not in _SPECIAL
    }


def _encode_estimator(estimator, where: str, writer: _Writer, stage_states: bool) -> dict:
    name = type(estimator).__name__
    if _ESTIMATORS.get(name) is not type(estimator):
        raise TypeError(
            f"save_model saves DeepPruneClassifier, SequenceOneHotEncoder and Pipelines of "
            f"them; {where} is a {name}"
        )
    check_is_fitted(estimator)
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if value is not None and (
            key in _UNSAVABLE_PARAMS
            or (key == "random_state" and isinstance(value, np.random.RandomState))
        ):
            what = _UNSAVABLE_PARAMS.get(key, "a RandomState instance")
            warnings.warn(
                f"{where}: {key} ({what}) cannot be saved in a model file; the loaded model "
                f"has {key}=None (it only matters when fitting again; predictions are the same)",
                UserWarning,
                stacklevel=3,
            )
            value = None
        params[key] = writer.encode(value, f"{where}.{key}")
    fitted = {
        key: writer.encode(value, f"{where}.{key}")
        for key, value in _fitted_attributes(estimator).items()
    }
    entry = {"class": name, "params": params, "fitted": fitted}
    if isinstance(estimator, DeepPruneClassifier):
        state = estimator.net_.module_.state_dict()
        entry["net"] = writer.encode(dict(state), f"{where}.net_")
        if stage_states:
            states = estimator.stage_states_
            if isinstance(states, _StageStatesNotSaved):
                raise ValueError(
                    f"{where} was loaded from a file saved without stage states; it has none "
                    "to save (use stage_states=False)"
                )
            entry["stage_states"] = writer.encode(list(states), f"{where}.stage_states_")
    return entry


def _decode_estimator(entry: Any, where: str, reader: _Reader, device: str | None):
    if type(entry) is not dict or set(entry) - _ENTRY_KEYS:
        raise _ModelFileError(f"{where} is malformed")
    cls = _ESTIMATORS.get(entry.get("class"))
    if cls is None:
        raise _ModelFileError(f"{where} is a {entry.get('class')!r}, which no model file may hold")
    params = reader.decode_fields(entry.get("params"), where)
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise _ModelFileError(
            f"{where}: this version of {cls.__name__} has no parameter {', '.join(unknown)}; "
            "the file comes from a newer sklearn-deepprune"
        )
    if cls is DeepPruneClassifier:
        # Files written before a parameter existed hold models that had its old value.
        for name, value in _PARAMS_BEFORE_THEY_EXISTED.items():
            params.setdefault(name, value)
    estimator = cls(**params)
    if device is not None and "device" in params:
        estimator.set_params(device=device)
    try:
        estimator._validate_params()
    except ValueError as error:
        raise _ModelFileError(f"{where}: {error}") from error
    fitted = reader.decode_fields(entry.get("fitted"), where)
    missing = sorted(_REQUIRED[cls.__name__] - set(fitted))
    if missing:
        raise _ModelFileError(f"{where} lacks the fitted attribute {', '.join(missing)}")
    for key, value in fitted.items():
        if not _ATTRIBUTE_NAME.fullmatch(key) or key in _SPECIAL or key in params:
            raise _ModelFileError(f"{where} has the invalid fitted attribute {key!r}")
        setattr(estimator, key, value)
    if cls is DeepPruneClassifier:
        _rebuild_net(estimator, entry, where, reader)
        if not hasattr(estimator, "dense_mean_weight_"):  # saved before mean pooling existed
            estimator.dense_mean_weight_ = np.zeros_like(estimator.dense_weight_)
    return estimator


def _rebuild_net(estimator: DeepPruneClassifier, entry: dict, where: str, reader: _Reader):
    """Set ``net_`` (a skorch net around the saved final network) and ``stage_states_``."""
    state = reader.decode(entry.get("net"), f"{where}.net_")
    if type(state) is not dict or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _ModelFileError(f"{where}.net_ is malformed")
    try:
        torch.device(estimator.device)
    except RuntimeError as error:
        raise _ModelFileError(
            f"{where}: the saved device {estimator.device!r} is not a torch device "
            f"({_first_line(error)}); load it with load_model(path, device='cpu')"
        ) from error
    try:
        n_kernels, n_channels = (int(n) for n in state["conv.weight"].shape[:2])
        module = estimator._new_module(n_kernels, n_channels)
        module.load_state_dict(state)
        history = estimator.pruning_history_
        lr = float(history[-1]["lr"] if history else estimator.lr)
        net = estimator._make_net(module, lr, None)
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
        raise _ModelFileError(
            f"{where}: the saved network does not fit ({_first_line(error)})"
        ) from error
    try:
        estimator.net_ = net.initialize()  # puts the network on the device
    except (AssertionError, RuntimeError, ValueError) as error:
        raise _ModelFileError(
            f"{where}: cannot put the network on device {estimator.device!r} "
            f"({_first_line(error)}); load it with load_model(path, device='cpu')"
        ) from error
    if "stage_states" not in entry:
        estimator.stage_states_ = _StageStatesNotSaved()
        return
    states = reader.decode(entry["stage_states"], f"{where}.stage_states_")
    if type(states) is not list or not all(
        type(s) is dict and set(s) == {"n_kernels", "pruned", "trained"} for s in states
    ):
        raise _ModelFileError(f"{where}.stage_states_ is malformed")
    estimator.stage_states_ = states


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _encode_model(model, writer: _Writer, stage_states: bool) -> dict:
    if not isinstance(model, Pipeline):
        return _encode_estimator(model, type(model).__name__.lower(), writer, stage_states)
    if type(model) is not Pipeline:
        raise TypeError(f"save_model saves a Pipeline, not a {type(model).__name__}")
    steps = []
    for name, step in model.steps:
        steps.append([name, _encode_estimator(step, str(name), writer, stage_states)])
    params = {
        key: writer.encode(value, f"Pipeline.{key}")
        for key, value in model.get_params(deep=False).items()
        if key != "steps"
    }
    return {"class": "Pipeline", "params": params, "steps": steps}


def _decode_model(entry: Any, reader: _Reader, device: str | None):
    if type(entry) is not dict:
        raise _ModelFileError("the model entry is malformed")
    if entry.get("class") != "Pipeline":
        return _decode_estimator(entry, "the model", reader, device)
    steps = entry.get("steps")
    if type(steps) is not list or not steps or set(entry) != {"class", "params", "steps"}:
        raise _ModelFileError("the pipeline is malformed")
    built = []
    for i, step in enumerate(steps):
        if type(step) is not list or len(step) != 2 or type(step[0]) is not str:
            raise _ModelFileError(f"pipeline step {i} is malformed")
        built.append((step[0], _decode_estimator(step[1], step[0], reader, device)))
    params = reader.decode_fields(entry["params"], "Pipeline")
    if "steps" in params:
        raise _ModelFileError("the pipeline's parameters are malformed")
    unknown = sorted(set(params) - set(Pipeline._get_param_names()))
    if unknown:
        raise _ModelFileError(
            f"this scikit-learn's Pipeline has no parameter {', '.join(unknown)}; the file was "
            "written with a newer scikit-learn"
        )
    pipeline = Pipeline(built, **params)
    try:
        pipeline._validate_params()
        pipeline._validate_steps()
    except (TypeError, ValueError) as error:
        raise _ModelFileError(f"the pipeline is invalid: {error}") from error
    return pipeline


# -- the file ------------------------------------------------------------------------------------


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != _CHECKSUM}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions() -> dict[str, str]:
    from sklearn_deepprune._version import __version__

    return {
        "sklearn_deepprune": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


def save_model(estimator_or_pipeline, path, *, stage_states: bool = False) -> Path:
    """Save a fitted model to a file that loads without running code.

    The file is a zip archive of a JSON manifest and a safetensors file of
    arrays (see :mod:`sklearn_deepprune.persistence`); unlike a pickle
    (``joblib.dump``), loading it with :func:`load_model` never executes code
    from the file, so a model from someone else is safe to load. It records
    the versions of sklearn-deepprune, PyTorch, NumPy and scikit-learn that
    wrote it and SHA-256 checksums of its contents. The file is written
    atomically (a temporary file renamed into place).

    Parameters
    ----------
    estimator_or_pipeline : DeepPruneClassifier, SequenceOneHotEncoder or Pipeline
        A fitted estimator, or a fitted :class:`~sklearn.pipeline.Pipeline` of
        these (e.g. ``make_pipeline(SequenceOneHotEncoder(),
        DeepPruneClassifier())``). Parameters must be numbers, strings, None
        or numpy dtypes; ``callbacks`` (skorch objects) and a ``RandomState``
        instance as ``random_state`` are saved as None with a warning, as
        they only matter for fitting again.
    path : str or path-like
        The file to write (``.deepprune`` by convention); replaced if it
        exists. Its folder must exist.
    stage_states : bool, default=False
        Also save ``stage_states_``, the network after each stage, which
        :meth:`DeepPruneClassifier.staged_decision_function` needs. They are
        most of the size (the wide stages); without them the loaded model's
        ``staged_decision_function`` raises an error saying so.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If an estimator is not fitted.
    TypeError
        If the model is of another kind, or a parameter or fitted attribute
        cannot be saved.

    See Also
    --------
    load_model : Load the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_deepprune import (DeepPruneClassifier, SequenceOneHotEncoder,
    ...                                load_model, save_model)
    >>> seqs = ["ACGTTGCAAC", "TTTTACGTAA", "GGGGCCCCAA", "ACACACACAC"] * 10
    >>> pipe = make_pipeline(
    ...     SequenceOneHotEncoder(),
    ...     DeepPruneClassifier(n_kernels=2, n_prune_steps=1, kernel_size=4,
    ...                         max_epochs=5, random_state=0),
    ... ).fit(seqs, [1, 1, 0, 0] * 10)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.deepprune"
    >>> _ = save_model(pipe, path)
    >>> bool((load_model(path).decision_function(seqs) == pipe.decision_function(seqs)).all())
    True
    """
    path = Path(path)
    writer = _Writer()
    model = _encode_model(estimator_or_pipeline, writer, bool(stage_states))
    tensors = _save_tensors(writer.tensors) if writer.tensors else b""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_by": _versions(),
        "stage_states": bool(stage_states),
        "payloads": {_TENSORS: {"sha256": _sha256(tensors), "size": len(tensors)}},
        "model": model,
    }
    manifest[_CHECKSUM] = _sha256(_canonical(manifest))
    manifest_bytes = (json.dumps(manifest, indent=1, allow_nan=False) + "\n").encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in ((_MANIFEST, manifest_bytes), (_TENSORS, tensors)):
            # A fixed date: the same model gives the same bytes.
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    write_atomic(path, buffer.getvalue())
    return path


def _read_file(path: Path) -> tuple[dict, bytes]:
    """The verified manifest and tensor bytes of a model file."""
    not_a_model = f"{path} is not a sklearn-deepprune model file"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if _MANIFEST not in names:
                raise _ModelFileError(f"{not_a_model} (a zip archive without {_MANIFEST})")
            if sorted(names) != sorted([_MANIFEST, _TENSORS]):
                raise _ModelFileError(
                    f"{path} has been tampered with: unexpected entries {sorted(names)}"
                )
            if archive.getinfo(_MANIFEST).file_size > _MAX_MANIFEST_BYTES:
                raise _ModelFileError(f"{path} has been tampered with: its manifest is too large")
            manifest_bytes = archive.read(_MANIFEST)
            tensors = archive.read(_TENSORS)
    except (zlib.error, EOFError) as error:
        raise _ModelFileError(f"{path} is corrupt ({error})") from error
    except zipfile.BadZipFile as error:
        if "CRC" in str(error) or "Bad magic number" in str(error):
            raise _ModelFileError(f"{path} is corrupt ({error})") from error
        hint = " (a joblib/pickle file? only joblib.load it if you trust its source)"
        raise _ModelFileError(f"{not_a_model}{hint if _looks_pickled(path) else ''}") from error
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise _ModelFileError(f"{not_a_model} (its manifest is not JSON: {error})") from error
    if type(manifest) is not dict or manifest.get("format") != FORMAT:
        raise _ModelFileError(f"{not_a_model} (its manifest is not a {FORMAT!r} manifest)")
    version = manifest.get("format_version")
    if type(version) is not int:
        raise _ModelFileError(f"{path} has been tampered with: its format_version is {version!r}")
    if version > FORMAT_VERSION:
        writer = manifest.get("created_by", {})
        writer = writer.get("sklearn_deepprune") if isinstance(writer, dict) else None
        raise _ModelFileError(
            f"{path} has format version {version} (written by sklearn-deepprune {writer}); "
            f"this sklearn-deepprune reads format versions up to {FORMAT_VERSION}: upgrade it"
        )
    if manifest.get(_CHECKSUM) != _sha256(_canonical(manifest)):
        raise _ModelFileError(f"{path} has been tampered with: its manifest checksum is wrong")
    payloads = manifest.get("payloads")
    payload = payloads.get(_TENSORS) if isinstance(payloads, dict) else None
    if not isinstance(payload, dict) or payload.get("sha256") != _sha256(tensors):
        raise _ModelFileError(
            f"{path} has been tampered with: the checksum of its tensors is wrong"
        )
    return manifest, tensors


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _looks_pickled(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(2)
    except OSError:
        return False
    # Pickle protocol 2+ starts with 0x80; joblib's compressed files with zlib/gzip headers.
    return head[:1] == b"\x80" or head in (b"\x78\x9c", b"\x78\x01", b"\x78\xda", b"\x1f\x8b")


def load_model(path, *, device: str | None = None):
    """Load a model saved by :func:`save_model`, without running code from the file.

    The file is checked before anything is built: its format and version, the
    SHA-256 of its manifest and of its tensors, and then every parameter and
    weight as the estimators are rebuilt. Only
    :class:`~sklearn_deepprune.SequenceOneHotEncoder`,
    :class:`~sklearn_deepprune.DeepPruneClassifier` and
    :class:`~sklearn.pipeline.Pipeline` are ever constructed.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    device : str or None, default=None
        Set the ``device`` of every :class:`DeepPruneClassifier` (e.g.
        ``"cpu"`` to use a model fitted on a GPU where there is none);
        ``None`` keeps the saved one.

    Returns
    -------
    DeepPruneClassifier, SequenceOneHotEncoder or Pipeline
        The fitted model, predicting exactly as the saved one. A
        :class:`DeepPruneClassifier`'s ``net_`` is a new skorch net holding
        the final network (without its training history); its
        ``stage_states_`` are there only if they were saved.

    Raises
    ------
    ValueError
        If the file is not a model file, was modified or corrupted (a
        checksum does not match), comes from a newer format version, or holds
        something this version cannot rebuild.
    FileNotFoundError
        If there is no such file.

    See Also
    --------
    save_model : Write such a file.
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise _ModelFileError(f"{path} is not a file")
        raise FileNotFoundError(f"no such model file: {path}")
    manifest, tensor_bytes = _read_file(path)
    try:
        tensors = _load_tensors(tensor_bytes) if tensor_bytes else {}
    except Exception as error:  # safetensors raises its own error types
        raise _ModelFileError(f"{path}: its tensors cannot be read ({error})") from error
    try:
        return _decode_model(manifest.get("model"), _Reader(tensors), device)
    except _ModelFileError as error:
        raise _ModelFileError(f"{path}: {error}") from None
