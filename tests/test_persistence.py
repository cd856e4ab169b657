"""save_model / load_model: round trips, small files, and refusing bad files."""

import hashlib
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import LRScheduler

import sklearn_deepprune
from sklearn_deepprune import (
    DeepPruneClassifier,
    SequenceOneHotEncoder,
    load_model,
    save_model,
)
from sklearn_deepprune.classifier import PruningHistory
from sklearn_deepprune.cli import main
from sklearn_deepprune.persistence import FORMAT_VERSION

# The paper's halving: 3 stages instead of the gradual schedule's 6.
SMALL = {"n_kernels": 2, "n_prune_steps": 2, "kernel_size": 8, "max_epochs": 3, "patience": 2}
SMALL["schedule"] = "halving"


@pytest.fixture(scope="module")
def fitted_pipeline(toy_sequences):
    """A make_pipeline fitted on string labels ('bound' / 'unbound')."""
    train, y_train, _, _ = toy_sequences
    labels = np.where(np.asarray(y_train) == 1, "bound", "unbound")
    clf = DeepPruneClassifier(random_state=0, **SMALL)
    with warnings.catch_warnings():  # the warning about which string label is positive
        warnings.simplefilter("ignore", UserWarning)
        return make_pipeline(SequenceOneHotEncoder(), clf).fit(train, labels)


@pytest.fixture(scope="module")
def fitted_classifier(toy_onehot):
    X_train, y_train, _, _ = toy_onehot
    return DeepPruneClassifier(random_state=0, **SMALL).fit(X_train, y_train)


def assert_identical(a, b, where="value"):
    """Equal values of the same types, recursively (arrays: dtype, shape, values; NaN == NaN)."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def assert_same_classifier(a, b):
    assert a.get_params() == b.get_params()
    for name in ("classes_", "n_features_in_", "kernels_", "kernel_bias_", "dense_weight_"):
        assert_identical(getattr(a, name), getattr(b, name), name)
    assert isinstance(b.pruning_history_, PruningHistory)
    assert_identical(list(a.pruning_history_), list(b.pruning_history_), "pruning_history_")
    assert_identical(
        dict(a.net_.module_.state_dict()), dict(b.net_.module_.state_dict()), "state_dict"
    )


def test_pipeline_round_trip_without_stage_states(fitted_pipeline, toy_sequences, tmp_path):
    _, _, test, _ = toy_sequences
    path = save_model(fitted_pipeline, tmp_path / "model.deepprune")
    loaded = load_model(path)
    assert isinstance(loaded, Pipeline)
    assert [name for name, _ in loaded.steps] == ["sequenceonehotencoder", "deeppruneclassifier"]
    np.testing.assert_array_equal(
        loaded.decision_function(test), fitted_pipeline.decision_function(test)
    )
    assert list(loaded.predict(test)) == list(fitted_pipeline.predict(test))
    assert loaded.classes_.tolist() == ["bound", "unbound"]
    encoder, saved_encoder = loaded[0], fitted_pipeline[0]
    assert encoder.get_params() == saved_encoder.get_params()
    assert encoder.dtype is np.float32
    assert (encoder.length_, encoder.n_features_in_) == (40, 1)
    assert_same_classifier(fitted_pipeline[-1], loaded[-1])
    assert type(loaded[-1].net_) is type(fitted_pipeline[-1].net_)
    assert loaded[-1].net_.initialized_


def test_without_stage_states_staged_decision_function_says_so(fitted_pipeline, tmp_path):
    loaded = load_model(save_model(fitted_pipeline, tmp_path / "m.deepprune"))
    X = loaded[0].transform(["ACGT" * 10])
    with pytest.raises(NotFittedError, match="saved without stage states"):
        list(loaded[-1].staged_decision_function(X))
    with pytest.raises(NotFittedError, match="saved without stage states"):
        len(loaded[-1].stage_states_)
    with pytest.raises(ValueError, match="saved without stage states; it has none"):
        save_model(loaded, tmp_path / "again.deepprune", stage_states=True)
    # Saving it again without them works and gives the same file.
    again = save_model(loaded, tmp_path / "again.deepprune")
    assert again.read_bytes() == (tmp_path / "m.deepprune").read_bytes()


def test_named_pipeline_round_trip_with_stage_states(toy_sequences, tmp_path):
    train, y_train, test, _ = toy_sequences
    pipeline = Pipeline(
        [
            ("onehot", SequenceOneHotEncoder(length=36, align="left", unknown="zero")),
            ("clf", DeepPruneClassifier(random_state=1, variant="inter", **SMALL)),
        ]
    ).fit(train, y_train)
    path = save_model(pipeline, tmp_path / "model.deepprune", stage_states=True)
    loaded = load_model(path)
    assert [name for name, _ in loaded.steps] == ["onehot", "clf"]
    assert loaded[0].get_params() == pipeline[0].get_params()
    np.testing.assert_array_equal(loaded.decision_function(test), pipeline.decision_function(test))
    assert_same_classifier(pipeline[-1], loaded[-1])
    assert_identical(pipeline[-1].stage_states_, loaded[-1].stage_states_, "stage_states_")
    X = pipeline[0].transform(test)
    for pruned in (False, True):
        saved = list(pipeline[-1].staged_decision_function(X, pruned=pruned))
        got = list(loaded[-1].staged_decision_function(X, pruned=pruned))
        assert [k for k, _ in got] == [k for k, _ in saved] != []
        for (_, a), (_, b) in zip(saved, got, strict=True):
            np.testing.assert_array_equal(a, b)


def test_classifier_alone_and_file_sizes(fitted_classifier, toy_onehot, tmp_path):
    _, _, X_test, _ = toy_onehot
    small = save_model(fitted_classifier, tmp_path / "small.deepprune")
    large = save_model(fitted_classifier, tmp_path / "large.deepprune", stage_states=True)
    for path in (small, large):
        loaded = load_model(path)
        assert type(loaded) is DeepPruneClassifier
        assert loaded.classes_.dtype == fitted_classifier.classes_.dtype
        assert_same_classifier(fitted_classifier, loaded)
        np.testing.assert_array_equal(
            loaded.decision_function(X_test), fitted_classifier.decision_function(X_test)
        )
    # 8 -> 4 -> 2 kernels of width 8: a few KB, and the stage states cost extra.
    assert small.stat().st_size < 8_000
    assert large.stat().st_size > small.stat().st_size + 1_000


def test_one_channel_signal_round_trip(tmp_path):
    # 2-d input (n, m) is a one-channel signal: n_features_in_ is m, not the channel count
    rng = np.random.RandomState(0)
    X, y = rng.rand(40, 12).astype(np.float32), rng.randint(0, 2, 40)
    clf = DeepPruneClassifier(
        n_kernels=2, n_prune_steps=1, kernel_size=3, max_epochs=2, random_state=0
    ).fit(X, y)
    assert clf.strand_ == "forward"  # "auto" reads one strand of non-DNA input
    loaded = load_model(save_model(clf, tmp_path / "signal.deepprune"))
    assert loaded.strand_ == "forward"
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))


def test_encoder_alone(tmp_path):
    encoder = SequenceOneHotEncoder(dtype=np.uint8, unknown="zero").fit(["ACGTN", "AC"])
    loaded = load_model(save_model(encoder, tmp_path / "enc.deepprune"))
    assert loaded.get_params() == encoder.get_params()
    np.testing.assert_array_equal(loaded.transform(["GGN"]), encoder.transform(["GGN"]))


def test_records_versions_and_no_pickle_on_load(fitted_pipeline, tmp_path, monkeypatch):
    path = save_model(fitted_pipeline, tmp_path / "model.deepprune")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["manifest.json", "tensors.safetensors"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["created_by"]["sklearn_deepprune"] == sklearn_deepprune.__version__
    assert manifest["created_by"]["torch"] == torch.__version__
    assert manifest["created_by"]["numpy"] == np.__version__

    def forbidden(*args, **kwargs):
        raise AssertionError("load_model unpickled something")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(joblib, "load", forbidden)
    assert isinstance(load_model(path), Pipeline)


def _rewrite(path, edit_manifest=None, edit_tensors=None, checksum=False, extra=None):
    """Rewrite a model file with its manifest or tensors changed."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        tensors = archive.read("tensors.safetensors")
    if edit_manifest is not None:
        edit_manifest(manifest)
    if edit_tensors is not None:
        tensors = edit_tensors(tensors)
    if checksum:  # a careful forger: recompute the checksums
        manifest["payloads"]["tensors.safetensors"]["sha256"] = hashlib.sha256(tensors).hexdigest()
        body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
        manifest["manifest_sha256"] = hashlib.sha256(canonical.encode()).hexdigest()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("tensors.safetensors", tensors)
        if extra:
            archive.writestr(extra, b"")


def _classifier_entry(manifest):
    return manifest["model"]["steps"][1][1]


def _flip_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"edit_manifest": lambda m: _classifier_entry(m)["params"].update(n_kernels=3)},
            "tampered with: its manifest checksum is wrong",
        ),
        (
            {"edit_manifest": lambda m: m["created_by"].update(torch="0.1")},
            "tampered with: its manifest checksum is wrong",
        ),
        ({"edit_tensors": _flip_byte}, "tampered with: the checksum of its tensors is wrong"),
        ({"extra": "payload.pkl"}, "tampered with: unexpected entries"),
        (
            {"edit_manifest": lambda m: m.update(format_version=FORMAT_VERSION + 1)},
            "this sklearn-deepprune reads format versions up to",
        ),
        (
            {
                "edit_manifest": lambda m: _classifier_entry(m)["params"].update(new_option=1),
                "checksum": True,
            },
            "has no parameter new_option; the file comes from a newer sklearn-deepprune",
        ),
        (
            {
                "edit_manifest": lambda m: _classifier_entry(m).update(
                    {"class": "subprocess.Popen"}
                ),
                "checksum": True,
            },
            "'subprocess.Popen', which no model file may hold",
        ),
        (
            {
                "edit_manifest": lambda m: _classifier_entry(m)["params"].update(n_kernels=-1),
                "checksum": True,
            },
            "'n_kernels' parameter of DeepPruneClassifier must be",
        ),
        (
            {
                "edit_manifest": lambda m: _classifier_entry(m)["params"].update(kernel_size=5),
                "checksum": True,
            },
            "the saved network does not fit",
        ),
        (
            {
                "edit_manifest": lambda m: _classifier_entry(m)["fitted"].pop("kernels_"),
                "checksum": True,
            },
            "lacks the fitted attribute kernels_",
        ),
    ],
)
def test_refuses_tampered_or_newer_files(fitted_pipeline, tmp_path, change, message):
    path = save_model(fitted_pipeline, tmp_path / "model.deepprune")
    _rewrite(path, **change)
    with pytest.raises(ValueError, match=message) as error:
        load_model(path)
    assert "\n" not in str(error.value)
    assert str(path) in str(error.value)


def test_refuses_files_that_are_not_models(fitted_pipeline, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(ValueError, match="is not a sklearn-deepprune model file$"):
        load_model(text)
    pickled = tmp_path / "model.joblib"
    joblib.dump(fitted_pipeline, pickled)
    with pytest.raises(ValueError, match="not a sklearn-deepprune model file .*joblib"):
        load_model(pickled)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("data.csv", "a,b\n")
    with pytest.raises(ValueError, match="a zip archive without manifest.json"):
        load_model(other_zip)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_model(tmp_path / "missing.deepprune")
    with pytest.raises(ValueError, match="is not a file"):
        load_model(tmp_path)


def test_truncated_file_is_refused(fitted_pipeline, tmp_path):
    path = save_model(fitted_pipeline, tmp_path / "model.deepprune")
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match="not a sklearn-deepprune model file|corrupt"):
        load_model(path)


def test_callbacks_and_random_state_instance_are_dropped_with_a_warning(toy_onehot, tmp_path):
    X_train, y_train, X_test, _ = toy_onehot
    scheduler = ("lr", LRScheduler(policy="StepLR", step_size=1))
    clf = DeepPruneClassifier(
        callbacks=[scheduler], random_state=np.random.RandomState(0), **SMALL
    ).fit(X_train, y_train)
    with pytest.warns(UserWarning) as record:
        path = save_model(clf, tmp_path / "model.deepprune")
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert messages[0].startswith("deeppruneclassifier: callbacks (skorch callbacks) cannot be")
    assert messages[1].startswith("deeppruneclassifier: random_state (a RandomState instance)")
    loaded = load_model(path)
    assert loaded.callbacks is None and loaded.random_state is None
    np.testing.assert_array_equal(loaded.decision_function(X_test), clf.decision_function(X_test))


def test_refuses_unfitted_and_foreign_models(fitted_classifier, tmp_path):
    with pytest.raises(NotFittedError):
        save_model(DeepPruneClassifier(), tmp_path / "m.deepprune")
    scaled = make_pipeline(StandardScaler(), DeepPruneClassifier())
    with pytest.raises(TypeError, match="standardscaler is a StandardScaler"):
        save_model(scaled, tmp_path / "m.deepprune")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize(
    "device, message",
    [
        ("no_such_device", "the saved device 'no_such_device' is not a torch device"),
        pytest.param(
            "cuda",
            "cannot put the network on device 'cuda'",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without"),
        ),
    ],
)
def test_device_override(fitted_classifier, tmp_path, device, message):
    clf = pickle.loads(pickle.dumps(fitted_classifier))
    clf.set_params(device=device)  # as if fitted on a machine we lack
    path = save_model(clf, tmp_path / "model.deepprune")
    with pytest.raises(ValueError, match=message):
        load_model(path)
    loaded = load_model(path, device="cpu")
    assert loaded.device == "cpu"
    X = np.eye(4, dtype=np.float32)[np.zeros((3, 40), dtype=int)].transpose(0, 2, 1)
    np.testing.assert_array_equal(
        loaded.decision_function(X), fitted_classifier.decision_function(X)
    )


@pytest.mark.slow
def test_cli_fit_writes_a_safe_model_file(tmp_path):
    data = tmp_path / "sim"
    assert main(["simulate", "1", "-o", str(data), "--n-samples", "80", "--length", "30"]) == 0
    argv = ["fit", str(data), "-q", "--n-kernels", "2", "--kernel-size", "6", "--max-epochs", "2"]
    argv += ["--patience", "2", "--n-prune-steps", "1"]
    assert main([*argv, "-o", str(tmp_path / "a")]) == 0
    assert not (tmp_path / "a" / "model.joblib").exists()
    pipeline = load_model(tmp_path / "a" / "model.deepprune")
    assert pipeline.predict_proba(["ACGT" * 7]).shape == (1, 2)
    assert main([*argv, "-o", str(tmp_path / "b"), "--joblib"]) == 0
    old = joblib.load(tmp_path / "b" / "model.joblib")
    new = load_model(tmp_path / "b" / "model.deepprune")
    np.testing.assert_array_equal(
        old.decision_function(["ACGT" * 7]), new.decision_function(["ACGT" * 7])
    )


def test_a_file_from_before_the_schedule_existed_loads_as_halving(fitted_pipeline, tmp_path):
    path = save_model(
        fitted_pipeline.set_params(deeppruneclassifier__schedule="gradual"),
        tmp_path / "m.deepprune",
    )
    fitted_pipeline.set_params(deeppruneclassifier__schedule="halving")
    assert load_model(path)[-1].schedule == "gradual"
    _rewrite(path, lambda m: _classifier_entry(m)["params"].pop("schedule"), checksum=True)
    loaded = load_model(path)
    assert loaded[-1].schedule == "halving"
    X = ["ACGTACGTAAGGCTTACGATAAGGCAACGTACGTACGTAC"]
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted_pipeline.predict_proba(X))
