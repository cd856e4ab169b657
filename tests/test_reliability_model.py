"""Reliability, third pass (issue 21): model files, memory checks and startup.

Each test is a case of the issue (its number in the test's comment) that failed
before its fix.
"""

import hashlib
import json
import re
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import (
    DeepPruneClassifier,
    SequenceOneHotEncoder,
    load_model,
    persistence,
    save_model,
)
from sklearn_deepprune import classifier as classifier_module

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"n_kernels": 2, "n_prune_steps": 1, "kernel_size": 6, "max_epochs": 2, "patience": 2}
SMALL["schedule"] = "halving"  # fewer stages; the schedule is not what these tests are about


@pytest.fixture(scope="module")
def pipeline(toy_sequences):
    train, y_train, _, _ = toy_sequences
    clf = DeepPruneClassifier(random_state=0, **SMALL)
    return make_pipeline(SequenceOneHotEncoder(), clf).fit(train, y_train)


@pytest.fixture
def model_path(pipeline, tmp_path):
    return save_model(pipeline, tmp_path / "model.deepprune")


def _one_line_naming(error, path):
    text = str(error.value)
    assert "\n" not in text, text
    assert str(path) in text, text
    return text


# -- model files that are forged consistently (checksums recomputed) ----------------------------


def _forge(path, edit_manifest=None, edit_arrays=None, tensors=None):
    """Rewrite a model file with edited manifest / arrays and recomputed checksums."""
    from safetensors.numpy import load, save

    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        data = archive.read("tensors.safetensors")
    if edit_arrays is not None:
        arrays = load(data)
        edit_arrays(arrays)
        data = save(arrays)
    if tensors is not None:
        data = tensors
    if edit_manifest is not None:
        edit_manifest(manifest)
    payload = manifest["payloads"]["tensors.safetensors"]
    payload.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    manifest["manifest_sha256"] = hashlib.sha256(canonical.encode()).hexdigest()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("tensors.safetensors", data)


def _encoder(manifest):
    return manifest["model"]["steps"][0][1]


def _classifier(manifest):
    return manifest["model"]["steps"][1][1]


def _set_nan(name):
    def edit(arrays):
        arrays[name] = arrays[name].copy()
        arrays[name].flat[0] = np.nan

    return edit


@pytest.mark.parametrize(
    "forgery, message",
    [
        # 18: the three
        ({"edit_manifest": lambda m: _encoder(m)["fitted"].update(length_=10**9)}, "length_"),
        ({"edit_manifest": lambda m: _encoder(m)["fitted"].update(length_="abc")}, "length_"),
        (
            {"edit_arrays": _set_nan("deeppruneclassifier.net_.conv.weight")},
            "net_.conv.weight holds NaN",
        ),
        # and more of the same kind
        ({"edit_manifest": lambda m: _encoder(m)["fitted"].update(length_=True)}, "length_"),
        ({"edit_manifest": lambda m: _encoder(m)["fitted"].update(length_=0)}, "length_"),
        (
            {"edit_manifest": lambda m: _encoder(m)["fitted"].update(n_features_in_=7)},
            "n_features_in_",
        ),
        (
            {
                "edit_manifest": lambda m: _encoder(m)["params"].update(
                    dtype={"dtype": "|u1", "as": "type"}
                )
            },
            "dtype=uint8 cannot hold fractions",
        ),
        (
            {"edit_manifest": lambda m: _classifier(m)["fitted"].update(n_features_in_=5)},
            "n_features_in_",
        ),
        (
            {"edit_manifest": lambda m: _classifier(m)["fitted"].update(strand_="sideways")},
            "strand_",
        ),
        (
            {"edit_manifest": lambda m: _classifier(m)["params"].update(n_kernels=3)},
            "does not fit",
        ),
        (
            {"edit_manifest": lambda m: _classifier(m)["params"].update(callbacks=[1])},
            "callbacks",
        ),
        (
            {"edit_arrays": _set_nan("deeppruneclassifier.kernels_")},
            "kernels_ is an array",
        ),
        (
            {"edit_arrays": _set_nan("deeppruneclassifier.dense_weight_")},
            "dense_weight_ is an array",
        ),
        (
            {"edit_arrays": _set_nan("deeppruneclassifier.net_.dense.bias")},
            "net_.dense.bias holds NaN",
        ),
        (
            {
                "edit_arrays": lambda a: a.update(
                    {"deeppruneclassifier.classes_": np.array([1, 1, 1])}
                )
            },
            "classes_",
        ),
        (
            {
                "edit_arrays": lambda a: a.update(
                    {"deeppruneclassifier.kernel_bias_": np.zeros(5, np.float32)}
                )
            },
            "kernel_bias_",
        ),
    ],
)
def test_forged_values_are_refused_on_load(model_path, forgery, message):
    # 18: every parameter and fitted attribute is checked on load: types, ranges,
    # shapes, finiteness (before: 46.6 GiB allocation, "invalid literal", NaN scores)
    _forge(model_path, **forgery)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        load_model(model_path)
    _one_line_naming(error, model_path)


def test_forged_but_valid_file_still_loads(model_path, pipeline, toy_sequences):
    # The forging helper itself changes nothing that matters.
    _forge(model_path)
    _, _, test, _ = toy_sequences
    np.testing.assert_array_equal(
        load_model(model_path).decision_function(test), pipeline.decision_function(test)
    )


def test_deeply_nested_manifest_is_one_line(model_path, pipeline):
    # 17: deeply nested JSON gave a RecursionError traceback
    with zipfile.ZipFile(model_path) as archive:
        data = archive.read("tensors.safetensors")
    text = "[" * 100_000 + "]" * 100_000
    with zipfile.ZipFile(model_path, "w") as archive:
        archive.writestr("manifest.json", text)
        archive.writestr("tensors.safetensors", data)
    with pytest.raises(ValueError, match="nests more than") as error:
        load_model(model_path)
    _one_line_naming(error, model_path)
    # Nested 300 deep inside a well-formed manifest with a valid checksum:
    # json.loads manages, the decoder must not recurse that deep.
    deep = 0
    for _ in range(300):
        deep = [deep]
    save_model(pipeline, model_path)
    _forge(model_path, edit_manifest=lambda m: _classifier(m)["params"].update(verbose=deep))
    with pytest.raises(ValueError, match="nests more than") as error:
        load_model(model_path)
    _one_line_naming(error, model_path)


# -- 14: sizes declared before reading ---------------------------------------------------------


def test_tensors_member_declaring_more_than_the_manifest_is_refused_before_reading(
    model_path, monkeypatch
):
    # 14: a small file whose tensors member inflates to a lot (here 64 MiB of
    # zeros in 64 KB) was read and hashed in full before "checksum is wrong".
    with zipfile.ZipFile(model_path) as archive:
        manifest = archive.read("manifest.json")
    with zipfile.ZipFile(model_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        archive.writestr("tensors.safetensors", bytes(64 << 20))
    assert model_path.stat().st_size < 1 << 20
    read = []
    original = zipfile.ZipExtFile.read
    monkeypatch.setattr(
        zipfile.ZipExtFile, "read", lambda self, n=-1: read.append(n) or original(self, n)
    )
    with pytest.raises(ValueError, match="its tensors member declares 64 MiB") as error:
        load_model(model_path)
    _one_line_naming(error, model_path)
    assert len(read) == 1  # the manifest only


def test_forged_file_declaring_huge_tensors_is_refused_before_reading(model_path, monkeypatch):
    # 14, forged consistently: the manifest, the zip member and the safetensors
    # header all declare the same large size; refused on the sizes alone.
    monkeypatch.setattr(persistence, "_memory_size", lambda device: (1 << 20, "this machine"))
    _forge(model_path, tensors=bytes(2 << 20))
    with pytest.raises(ValueError, match=r"declares 2 MiB of tensors.*this machine") as error:
        load_model(model_path)
    _one_line_naming(error, model_path)


def test_safetensors_header_declaring_more_than_the_member_is_refused(model_path):
    # 14: the tensors' own header declares sizes its member does not hold
    header = json.dumps(
        {"x": {"dtype": "F32", "shape": [1 << 28], "data_offsets": [0, 1 << 30]}}
    ).encode()
    forged = struct.pack("<Q", len(header)) + header + bytes(64)
    _forge(model_path, tensors=forged)
    with pytest.raises(ValueError, match="header declares 1 GiB of tensors") as error:
        load_model(model_path)
    _one_line_naming(error, model_path)


# -- 16: damaged zip directories and truncation ------------------------------------------------


def _load_outcome(path, reference, sequences):
    """None if the file loads and predicts as the reference; else the error's text."""
    try:
        model = load_model(path)
    except ValueError as error:
        return str(error)
    np.testing.assert_array_equal(model.decision_function(sequences), reference)
    return None


def test_flipped_bytes_in_the_zip_directory_give_one_line(model_path, pipeline):
    # 16: NotImplementedError (compression method), "File ... is encrypted",
    # [Errno 22] Invalid argument without the file's name, were raw tracebacks
    data = model_path.read_bytes()
    directory = data.rindex(b"PK\x01\x02", 0, data.rindex(b"PK\x01\x02"))
    sequences = ["ACGTACGTGATAAGGCACGT"]
    reference = pipeline.decision_function(sequences)
    bad = model_path.with_name("bad.deepprune")
    messages = set()
    for i in range(directory, len(data)):
        for flip in (0x01, 0x80, 0xFF):
            bad.write_bytes(data[:i] + bytes([data[i] ^ flip]) + data[i + 1 :])
            outcome = _load_outcome(bad, reference, sequences)
            if outcome is not None:
                assert "\n" not in outcome and str(bad) in outcome, outcome
                messages.add(outcome.split(":")[0])
    assert any("truncated or corrupt" in m for m in messages)


def test_truncation_anywhere_says_truncated_or_corrupt(model_path):
    # 16: truncation gave "is not a sklearn-deepprune model file"
    data = model_path.read_bytes()
    bad = model_path.with_name("cut.deepprune")
    for end in sorted({*range(1, len(data), max(1, len(data) // 200)), len(data) - 1}):
        bad.write_bytes(data[:end])
        with pytest.raises(ValueError, match="is truncated or corrupt") as error:
            load_model(bad)
        _one_line_naming(error, bad)


# -- 19: torch's default dtype ------------------------------------------------------------------


def test_bfloat16_default_dtype_before_load_and_predict(model_path, pipeline, toy_sequences):
    # 19: "Got unsupported ScalarType BFloat16"
    _, _, test, _ = toy_sequences
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        model = load_model(model_path)
        scores = model.decision_function(test)
    finally:
        torch.set_default_dtype(previous)
    assert {p.dtype for p in model[-1].net_.module_.parameters()} == {torch.float32}
    np.testing.assert_array_equal(scores, pipeline.decision_function(test))


# -- 31: save_model's errors name the user's path ---------------------------------------------


def test_save_model_errors_name_the_path_not_the_temporary_file(pipeline, tmp_path):
    # 31: the errors named ".m.deepprune.14166....tmp"
    missing = tmp_path / "no" / "such" / "m.deepprune"
    with pytest.raises(FileNotFoundError) as error:
        save_model(pipeline, missing)
    assert str(missing) in str(error.value) and ".tmp" not in str(error.value)
    folder = tmp_path / "folder.deepprune"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as error:
        save_model(pipeline, folder)
    assert str(folder) in str(error.value) and ".tmp" not in str(error.value)
    assert list(tmp_path.iterdir()) == [folder] and not list(folder.iterdir())


# -- startup: no optimizer for prediction, built when trained further -----------------------


def test_load_model_builds_no_optimizer_and_training_further_builds_it(
    model_path, pipeline, toy_onehot
):
    # Also measured: load_model built skorch's Adam (3.3 s, torch._dynamo) for prediction
    model = load_model(model_path)
    net = model[-1].net_
    assert net.initialized_ and not hasattr(net, "optimizer_")
    X_train, y_train, X_test, _ = toy_onehot
    before = model[-1].decision_function(X_test)
    net.partial_fit(X_train, np.asarray(y_train, dtype=np.float32), epochs=2)
    assert isinstance(net.optimizer_, torch.optim.Adam)
    assert len(net.history) == 2
    assert not np.array_equal(model[-1].decision_function(X_test), before)
    # A refit of the loaded model is a new fit, with the same result as the original's.
    train, y, test, _ = (X_train, y_train, X_test, None)
    refit = load_model(model_path)[-1].fit(train, y)
    np.testing.assert_array_equal(
        refit.decision_function(test), pipeline[-1].decision_function(test)
    )


def test_loaded_model_still_pickles(model_path, toy_sequences):
    import pickle

    _, _, test, _ = toy_sequences
    model = load_model(model_path)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.decision_function(test), model.decision_function(test))


# -- 15 and 26: the up-front memory check ------------------------------------------------------


def _fit_until_built(clf, X, y, monkeypatch):
    """Fit, but stop (with a RuntimeError) once the check has passed and the net is built."""

    def built(*args, **kwargs):
        raise RuntimeError("passed the check")

    monkeypatch.setattr(classifier_module.DeepPruneClassifier, "_fit_stages", built)
    clf.fit(X, y)


def test_memory_check_counts_the_fast_scans_look_up_table(toy_onehot, monkeypatch):
    # 15: n_prune_steps=20, kernel_size=6, both strands: 4 * 2**20 kernels pass the
    # check, then a 7.8 GiB look-up table (250 x 8,388,608 float32) kills the fit.
    # On a 24 GiB machine the old estimate (18.6 GiB) passed.
    monkeypatch.setattr(
        classifier_module, "_memory_size", lambda device: (24 << 30, "this machine's memory")
    )
    X, y, _, _ = toy_onehot
    clf = DeepPruneClassifier(n_prune_steps=20, kernel_size=6, strand="both", batch_size=256)
    with pytest.raises(ValueError) as error:
        _fit_until_built(clf, X, y, monkeypatch)
    text = str(error.value)
    assert "\n" not in text
    for part in ("n_prune_steps", "n_kernels", "kernel_size", "look-up table", "both strands"):
        assert part in text, text
    # One strand, fewer steps: well within the same memory.
    small = DeepPruneClassifier(n_prune_steps=12, kernel_size=6, strand="forward")
    with pytest.raises(RuntimeError, match="passed the check"):
        _fit_until_built(small, X, y, monkeypatch)


def test_memory_check_counts_the_batch_as_the_data_bounds_it(toy_onehot, monkeypatch):
    # 26: batch_size=10**9 on 200 samples was refused as "needs at least 59.6 GiB ...
    # lower n_prune_steps or n_kernels"; the batch never exceeds the data.
    X, y, _, _ = toy_onehot
    clf = DeepPruneClassifier(batch_size=10**9, **SMALL)
    with pytest.raises(RuntimeError, match="passed the check"):
        _fit_until_built(clf, X[:200], y[:200], monkeypatch)
    monkeypatch.undo()
    fitted = DeepPruneClassifier(batch_size=10**9, random_state=0, **SMALL).fit(X[:200], y[:200])
    assert fitted.kernels_.shape == (2, 4, 6)


# -- 27: the guide's uint8 advice ----------------------------------------------------------------


def test_every_encoder_in_the_docs_encodes_acgt():
    # 27: the Performance notes advised SequenceOneHotEncoder(dtype=np.uint8),
    # which fails on fit_transform(["ACGT"])
    sources = [ROOT / "README.md", ROOT / "docs" / "user_guide.rst"]
    sources += sorted((ROOT / "docs" / "guide").glob("*.inc"))
    calls = set()
    for source in sources:
        text = " ".join(source.read_text().split())
        calls |= set(re.findall(r"SequenceOneHotEncoder\([^()]*\)", text))
    assert any("uint8" in call for call in calls)
    for call in calls:
        encoder = eval(call, {"SequenceOneHotEncoder": SequenceOneHotEncoder, "np": np})
        assert encoder.fit_transform(["ACGT"]).shape == (1, 4, 4), call


# -- 12: impossible values in a results table ---------------------------------------------------


def _results_csv(path, **changes):
    pd = pytest.importorskip("pandas")
    from sklearn_deepprune.experiments import RESULT_COLUMNS

    rows = []
    for seed in range(3):
        rows.append(
            {
                "dataset": "toy",
                "variant": "deepprune",
                "criterion": "ablation",
                "kernels": 4,
                "seed": seed,
                "auc": 0.8 + 0.01 * seed,
                "epochs": 10,
                "seconds": 1.5,
                "start_kernels": 256,
                "job": f"job{seed}",
                "settings": "s",
                "data": "d",
            }
        )
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS)).astype(object)
    for column, (row, value) in changes.items():
        frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("auc", 5.0, "auc 5.0 is outside [0, 1]"),
        ("auc", -0.1, "auc -0.1 is outside [0, 1]"),
        ("auc", "high", "auc 'high' is not a number"),
        ("auc", "inf", "auc inf is outside [0, 1]"),
        ("auc", "nan", "auc 'nan' is not a number"),
        ("kernels", "four", "kernels 'four' is not a number"),
    ],
)
def test_results_with_impossible_values_are_refused_with_file_and_line(
    tmp_path, column, value, message
):
    # 12: an AUC of 5.0 was accepted (the report's mean became 1.348)
    from sklearn_deepprune.experiments import load_results

    path = _results_csv(tmp_path / "results.csv", **{column: (1, value)})
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        load_results(path)
    text = _one_line_naming(error, path)
    assert "line 3" in text  # the header is line 1, row 1 line 3


def test_results_with_possible_values_load(tmp_path):
    from sklearn_deepprune.experiments import load_results

    path = _results_csv(tmp_path / "results.csv", auc=(0, 1.0))
    np.testing.assert_allclose(load_results(path)["auc"], [1.0, 0.81, 0.82])


# -- also measured: the instruction set of the numba kernels -------------------------------------


def test_benchmark_names_the_instruction_set():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from _machine import instruction_set
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    line = instruction_set()
    assert line.startswith("numba kernels: ")
    assert re.search(r"AVX-512|AVX2|SSE|no AVX", line), line


def test_warnings_are_not_raised_by_a_plain_load(model_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(model_path)
