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

Loading parses JSON and raw numbers only, refuses any declared size it cannot
afford before reading the bytes, rebuilds the estimators from the whitelisted
classes and checks every value (parameters by the estimator's own validation;
fitted attributes and weights for their types, shapes, ranges and
finiteness, and by the network's ``load_state_dict``). The checksums catch
a corrupted or edited file; they are not a signature -- whoever edits a file
on purpose can recompute them -- but the worst such a file can do is give
wrong predictions, never run code.

The skorch net of the final stage (``net_``) is rebuilt from the saved weights
(its training history is not kept). The per-stage network states
(``stage_states_``, needed by ``staged_decision_function``) are saved only on
request, since they take far more room than the final network.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import platform
import re
import struct
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
from skorch.callbacks import Callback

from sklearn_deepprune._guards import write_atomic
from sklearn_deepprune.classifier import (
    DeepPruneClassifier,
    PruningHistory,
    _format_bytes,
    _memory_size,
)
from sklearn_deepprune.encoding import SequenceOneHotEncoder
from sklearn_deepprune.network import STRANDS

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

# Loading holds the tensor bytes about three times (the member, the arrays, the
# network's parameters): a file whose tensors take more than this fraction of the
# machine's memory is refused before it is read.
_MAX_TENSOR_MEMORY_FRACTION = 1 / 4

#: The longest ``length_`` (bp) a loaded :class:`SequenceOneHotEncoder` may have
#: (one such sequence is 1.5 GiB as float32 one-hot); a longer one is refused.
MAX_SEQUENCE_LENGTH = 100_000_000

# Deepest nesting of JSON values in a manifest (a real one nests about 8 deep).
_MAX_DEPTH = 64

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
_PARAMS_BEFORE_THEY_EXISTED = {"pooling": "max", "schedule": "halving"}

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
    if cls is SequenceOneHotEncoder:
        _check_encoder(estimator, where)
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
    if estimator.callbacks is not None:
        raise _ModelFileError(f"{where}.callbacks is {estimator.callbacks!r}; files hold None")
    _check_classifier(estimator, state, where)
    try:
        n_kernels, n_channels = (int(n) for n in state["conv.weight"].shape[:2])
        # The saved float32 network, whatever torch's default dtype is now.
        with _default_dtype(torch.float32):
            module = estimator._new_module(n_kernels, n_channels)
        module.load_state_dict(state)
        history = estimator.pruning_history_
        lr = float(history[-1]["lr"] if history else estimator.lr)
        net = estimator._make_net(module, lr, None)
        # No optimizer until the net is trained further: building one imports
        # torch._dynamo (seconds), which prediction does not need.
        net.callbacks = [*net.callbacks, ("lazy_optimizer", _LazyOptimizer())]
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
        raise _ModelFileError(
            f"{where}: the saved network does not fit ({_first_line(error)})"
        ) from error
    try:
        estimator.net_ = _initialize_for_prediction(net)  # puts the network on the device
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


class _LazyOptimizer(Callback):
    """Builds the optimizer of a loaded net when it is first trained (``partial_fit``)."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if not hasattr(net, "optimizer_"):
            net._initialize_optimizer()


def _initialize_for_prediction(net):
    """:meth:`skorch.NeuralNet.initialize` without the optimizer (see :class:`_LazyOptimizer`)."""
    net.check_training_readiness()
    net._initialize_virtual_params()
    net._initialize_callbacks()
    net._initialize_module()
    net._initialize_criterion()
    net._initialize_history()
    # (No net._validate_params(): it takes optimizer__fused, set by _make_net, for a
    # typo until an optimizer exists.)
    net.initialized_ = True
    return net


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype):
    """Set torch's default dtype for a while."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


# -- checks of the loaded values ------------------------------------------------------------------


def _refuse_value(where: str, name: str, value: Any, expected: str) -> None:
    shown = repr(value)
    if isinstance(value, (np.ndarray, torch.Tensor)):
        shown = f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    elif len(shown) > 60:
        shown = shown[:57] + "..."
    raise _ModelFileError(f"{where}.{name} is {shown}; expected {expected}")


def _is_int(value: Any) -> bool:
    return type(value) is int or (isinstance(value, np.integer) and not isinstance(value, bool))


def _check_encoder(encoder: SequenceOneHotEncoder, where: str) -> None:
    """Refuse fitted values that no fit gives (the parameters are checked already)."""
    length = encoder.length_
    if not _is_int(length) or not 1 <= length <= MAX_SEQUENCE_LENGTH:
        _refuse_value(where, "length_", length, f"an int from 1 to {MAX_SEQUENCE_LENGTH:,}")
    if encoder.length is not None and length != encoder.length:
        _refuse_value(where, "length_", length, f"length = {encoder.length}")
    if not _is_int(encoder.n_features_in_) or encoder.n_features_in_ != 1:
        _refuse_value(where, "n_features_in_", encoder.n_features_in_, "1")
    try:
        encoder._check_dtype()
    except ValueError as error:
        raise _ModelFileError(f"{where}: {error}") from None


def _check_classifier(clf: DeepPruneClassifier, state: dict, where: str) -> None:
    """Refuse weights and fitted values that no fit gives: types, shapes, ranges, finiteness."""
    for name, tensor in state.items():
        if not tensor.dtype.is_floating_point:
            _refuse_value(where, f"net_.{name}", tensor, "float weights")
        if not bool(torch.isfinite(tensor).all()):
            raise _ModelFileError(f"{where}.net_.{name} holds NaN or infinite weights")
    weight = state.get("conv.weight")
    if weight is None or weight.ndim != 3 or min(weight.shape) < 1:
        _refuse_value(where, "net_.conv.weight", weight, "kernels of shape (K, C, w)")
    n_kernels, n_channels, width = (int(n) for n in weight.shape)
    if width != clf.kernel_size or n_kernels != clf.n_kernels:
        raise _ModelFileError(
            f"{where}: the saved network does not fit (its {n_kernels} kernels of width {width} "
            f"are not n_kernels={clf.n_kernels} of kernel_size={clf.kernel_size})"
        )
    # (n_features_in_ is the channel count of (n, C, L) input, m for a signal (n, m).)
    features = clf.n_features_in_
    if not _is_int(features) or features < 1 or (n_channels != 1 and features != n_channels):
        _refuse_value(where, "n_features_in_", features, f"{n_channels} (the channels)")
    strand = getattr(clf, "strand_", None)
    if strand is not None and (strand not in STRANDS or (strand == "both") > (n_channels == 4)):
        _refuse_value(where, "strand_", strand, f"one of {STRANDS} (both needs 4 channels)")
    classes = clf.classes_
    if (
        not isinstance(classes, np.ndarray)
        or classes.shape != (2,)
        or classes.dtype.kind not in "biufU"
        or classes[0] == classes[1]
        or (classes.dtype.kind == "f" and not np.isfinite(classes).all())
    ):
        _refuse_value(where, "classes_", classes, "an array of 2 distinct labels")
    expected = {
        "kernels_": (n_kernels, n_channels, width),
        "kernel_bias_": (n_kernels,),
        "dense_weight_": (n_kernels,),
        "dense_mean_weight_": (n_kernels,),
    }
    for name, shape in expected.items():
        value = getattr(clf, name, None)
        if value is None and name == "dense_mean_weight_":
            continue
        if (
            not isinstance(value, np.ndarray)
            or value.dtype.kind != "f"
            or value.shape != shape
            or not np.isfinite(value).all()
        ):
            _refuse_value(where, name, value, f"finite floats of shape {shape}")
    history = clf.pruning_history_
    if not isinstance(history, PruningHistory) or not all(type(r) is dict for r in history):
        _refuse_value(where, "pruning_history_", history, "a PruningHistory of dicts")


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
    OSError
        If the file cannot be written (``FileNotFoundError`` when its folder
        does not exist, ``IsADirectoryError`` when ``path`` is a folder); the
        message names ``path``.

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
    _check_save_path(path)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as error:  # name the user's path, not the temporary file beside it
        raise type(error)(f"cannot write {path}: {error.strerror or error}") from error
    return path


def _check_save_path(path: Path) -> None:
    """Refuse a path that is a folder, or whose folder does not exist, naming it."""
    if path.is_dir():
        raise IsADirectoryError(f"cannot save a model to {path}: it is a folder; give a file name")
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot save a model to {path}: its folder {path.parent} {what}")


def _read_file(path: Path) -> tuple[dict, bytes]:
    """The verified manifest and tensor bytes of a model file.

    Every size is checked before the bytes it declares are read: the zip
    members' declared sizes, the tensors' size in the (checksummed) manifest
    and the tensors declared in the safetensors header.
    """
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
            manifest = _parse_manifest(path, archive.read(_MANIFEST))
            payloads = manifest.get("payloads")
            payload = payloads.get(_TENSORS) if isinstance(payloads, dict) else None
            size = payload.get("size") if isinstance(payload, dict) else None
            if type(size) is not int or size < 0:
                raise _ModelFileError(
                    f"{path} has been tampered with: its manifest gives no size of its tensors"
                )
            declared = archive.getinfo(_TENSORS).file_size
            if declared != size:
                raise _ModelFileError(
                    f"{path} is corrupt or has been tampered with: its tensors member declares "
                    f"{_format_bytes(declared)}, its manifest {_format_bytes(size)}"
                )
            _check_tensor_memory(path, size)
            with archive.open(_TENSORS) as member:
                tensors = _read_tensors(path, member, size)
    except _ModelFileError:
        raise
    except (zlib.error, EOFError) as error:
        raise _ModelFileError(f"{path} is truncated or corrupt ({_first_line(error)})") from error
    except zipfile.BadZipFile as error:
        if "CRC" in str(error) or "Bad magic number" in str(error) or _looks_zipped(path):
            raise _ModelFileError(
                f"{path} is truncated or corrupt ({_first_line(error)})"
            ) from error
        hint = " (a joblib/pickle file? only joblib.load it if you trust its source)"
        raise _ModelFileError(f"{not_a_model}{hint if _looks_pickled(path) else ''}") from error
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (
        NotImplementedError,  # "That compression method is not supported"
        RuntimeError,  # "File ... is encrypted"
        OSError,  # [Errno 22] Invalid argument: a seek before the file's start
        ValueError,
        OverflowError,
        struct.error,
        KeyError,
    ) as error:
        raise _ModelFileError(
            f"{path} is truncated or corrupt (its zip directory is damaged: {_first_line(error)})"
        ) from error
    payload = manifest["payloads"][_TENSORS]
    if payload.get("sha256") != _sha256(tensors):
        raise _ModelFileError(
            f"{path} has been tampered with: the checksum of its tensors is wrong"
        )
    return manifest, tensors


def _parse_manifest(path: Path, manifest_bytes: bytes) -> dict:
    """The manifest, checked: JSON, its format, version, nesting and checksum."""
    not_a_model = f"{path} is not a sklearn-deepprune model file"
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        manifest = None
    except (UnicodeDecodeError, ValueError) as error:
        raise _ModelFileError(
            f"{not_a_model} (its manifest is not JSON: {_first_line(error)})"
        ) from error
    if manifest is None or _depth(manifest) > _MAX_DEPTH:
        raise _ModelFileError(
            f"{path} has been tampered with: its manifest nests more than {_MAX_DEPTH} deep"
        )
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
    return manifest


def _depth(value: Any) -> int:
    """How deeply JSON ``value`` nests (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > _MAX_DEPTH:
            break
        if type(value) is dict:
            stack.extend((v, depth + 1) for v in value.values())
        elif type(value) is list:
            stack.extend((v, depth + 1) for v in value)
    return deepest


def _check_tensor_memory(path: Path, size: int) -> None:
    """Refuse tensors too large for this machine before reading them."""
    limit, what = _memory_size("cpu")
    if size > limit * _MAX_TENSOR_MEMORY_FRACTION:
        raise _ModelFileError(
            f"{path} declares {_format_bytes(size)} of tensors, which loading holds about three "
            f"times: more than {what} allows ({_format_bytes(limit)}); a damaged or forged file?"
        )


def _read_tensors(path: Path, member, size: int) -> bytes:
    """The tensors member (``size`` bytes), after checking its safetensors header's sizes."""
    if size == 0:
        return b""
    head = member.read(8)
    (header_size,) = struct.unpack("<Q", head) if len(head) == 8 else (None,)
    if header_size is None or header_size > size - 8:
        raise _ModelFileError(f"{path}: its tensors member is not a safetensors file")
    header = member.read(header_size)
    try:
        entries = json.loads(header.decode("utf-8"), parse_constant=_refuse_constant)
        spans = [
            (entry["data_offsets"], entry["shape"], entry["dtype"])
            for name, entry in entries.items()
            if name != "__metadata__"
        ]
        data_size = max((int(offsets[1]) for offsets, _, _ in spans), default=0)
        declared = sum(
            math.prod(int(n) for n in shape) * _ITEMSIZE[dtype] for _, shape, dtype in spans
        )
    except (RecursionError, UnicodeDecodeError, ValueError, TypeError, KeyError, IndexError) as e:
        raise _ModelFileError(
            f"{path}: the header of its tensors is malformed ({_first_line(e)})"
        ) from e
    if declared != data_size or 8 + header_size + data_size != size:
        raise _ModelFileError(
            f"{path} is corrupt or has been tampered with: its tensors' header declares "
            f"{_format_bytes(declared)} of tensors in {_format_bytes(size)}"
        )
    return head + header + member.read(size - 8 - header_size)


# Bytes per element of the safetensors dtypes this module writes (and a few more).
_ITEMSIZE = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


def _looks_zipped(path: Path) -> bool:
    """Whether the file starts as a zip archive does (so a bad one is truncated or corrupt)."""
    try:
        with open(path, "rb") as file:
            head = file.read(4)
    except OSError:
        return False
    return bool(head) and b"PK\x03\x04".startswith(head)


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

    The file is checked before anything is built: its format and version,
    every declared size before the bytes it declares are read (the zip
    members, the tensors, the safetensors header; tensors too large for this
    machine are refused), the SHA-256 of its manifest and of its tensors,
    and then, as the estimators are rebuilt, every parameter (by the
    estimator's own validation), fitted attribute and weight: types, shapes,
    ranges (e.g. ``length_`` up to 100,000,000 bp), finite
    weights. The network is rebuilt in float32 whatever torch's default dtype
    is; its optimizer is built only if the net is trained further
    (``net_.partial_fit``), since building one takes seconds. Only
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
        If the file is not a model file, is truncated or corrupt, was
        modified (a checksum or a declared size does not match), comes from a
        newer format version, or holds something this version cannot rebuild
        or no fit gives; the message is one line naming the file.
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
