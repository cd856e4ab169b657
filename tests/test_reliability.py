"""Hostile but honest use (issue 11): interrupts, failed fits, clear errors on bad input.

CLI cases run ``deepprune`` in a subprocess, as a user would.
"""

import gzip
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import load_chipseq, load_fasta, read_meme_pfms

# Tiny settings: stage 0 has 2 kernels, stage 1 has 1.
TINY = {"n_kernels": 1, "n_prune_steps": 1, "kernel_size": 4, "max_epochs": 3, "patience": 2}
CLI_TINY = ["--kernel-size", "4", "--max-epochs", "3", "--patience", "2", "--n-prune-steps", "1"]


def _random_records(n, length=20, seed=0):
    """``n`` distinct random DNA sequences and alternating labels."""
    rng = np.random.default_rng(seed)
    sequences = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    return sequences, np.arange(n) % 2


def _write_690(path, sequences, labels, gz=False):
    text = "".join(
        f">r{i} {s} {label}\n" for i, (s, label) in enumerate(zip(sequences, labels, strict=True))
    )
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture(scope="module")
def onehot():
    sequences, y = _random_records(40)
    return SequenceOneHotEncoder().fit_transform(sequences), y


class _RaiseInStage(Callback):
    """Raise ``error`` at the end of the first epoch of the stage with ``n_kernels`` kernels."""

    def __init__(self, n_kernels, error):
        self.n_kernels = n_kernels
        self.error = error

    def on_epoch_end(self, net, **kwargs):
        if net.module_.n_kernels == self.n_kernels:
            raise self.error


class _CtrlC(Callback):
    """Send this process SIGINT, as Ctrl-C does, in the stage with ``n_kernels`` kernels."""

    def __init__(self, n_kernels):
        self.n_kernels = n_kernels

    def on_epoch_end(self, net, **kwargs):
        if net.module_.n_kernels == self.n_kernels:
            signal.raise_signal(signal.SIGINT)


def _fitted_attributes(estimator):
    return {key: value for key, value in vars(estimator).items() if key.endswith("_")}


# -- 1. Ctrl-C ------------------------------------------------------------------------------


def test_ctrl_c_in_a_stage_stops_fit(onehot):
    X, y = onehot
    clf = DeepPruneClassifier(**TINY, random_state=0, callbacks=[("ctrl_c", _CtrlC(2))])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert _fitted_attributes(clf) == {}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("pooling, epochs", [("max", [1, 3]), ("lse", [2, 3])])
def test_callback_raising_keyboardinterrupt_still_only_ends_its_stage(onehot, pooling, epochs):
    # skorch's idiom for "stop training" (EarlyStopping uses it) keeps working. With the
    # soft maximum the first stage is two skorch fits (the maximum's warm-up, then the
    # soft maximum), and the callback ends each after one epoch.
    X, y = onehot
    stop = _RaiseInStage(2, KeyboardInterrupt())
    clf = DeepPruneClassifier(
        **TINY, pooling=pooling, random_state=0, callbacks=[("stop", stop)]
    ).fit(X, y)
    assert [row["epochs"] for row in clf.pruning_history_] == epochs


# A ``deepprune`` whose training sees a Ctrl-C in its first epoch.
_CLI_WITH_CTRL_C = textwrap.dedent(
    """
    import signal, sys
    from skorch.callbacks import Callback
    from sklearn_deepprune import classifier
    from sklearn_deepprune.cli import main

    class CtrlC(Callback):
        def on_epoch_end(self, net, **kwargs):
            signal.raise_signal(signal.SIGINT)

    make_net = classifier.DeepPruneClassifier._make_net

    def make_net_with_ctrl_c(self, *args):
        net = make_net(self, *args)
        net.callbacks = [*net.callbacks, ("ctrl_c", CtrlC())]
        return net

    classifier.DeepPruneClassifier._make_net = make_net_with_ctrl_c
    sys.exit(main(sys.argv[1:]))
    """
)


def _run_cli(*argv, script=None):
    """Run ``deepprune ARGV`` (or ``python -c SCRIPT ARGV``) in a subprocess."""
    start = ["-c", script] if script else ["-m", "sklearn_deepprune.cli"]
    return subprocess.run(
        [sys.executable, *start, *map(str, argv)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_fit_ctrl_c_exits_130_and_writes_nothing(tmp_path):
    sequences, labels = _random_records(60)
    _write_690(tmp_path / "train.data", sequences[:40], labels[:40])
    _write_690(tmp_path / "test.data", sequences[40:], labels[40:])
    out = tmp_path / "out"
    done = _run_cli("fit", tmp_path, "-o", out, "-q", *CLI_TINY, script=_CLI_WITH_CTRL_C)
    assert done.returncode == 130, done.stderr
    assert "deepprune: interrupted" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists() or not any(out.iterdir())


# -- 2. failed fits -------------------------------------------------------------------------


def test_failed_fit_leaves_estimator_unfitted(onehot):
    X, y = onehot
    boom = _RaiseInStage(1, RuntimeError("callback failed"))
    clf = DeepPruneClassifier(**TINY, random_state=0, callbacks=[("boom", boom)])
    with pytest.raises(RuntimeError, match="callback failed"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert _fitted_attributes(clf) == {}
    with pytest.raises(NotFittedError):
        clf.predict(X)


@pytest.mark.parametrize("error", [RuntimeError("callback failed"), "ctrl-c"])
def test_failed_refit_keeps_the_previous_fit_whole(onehot, error):
    X, y = onehot
    clf = DeepPruneClassifier(**TINY, random_state=0).fit(X, y)
    before = _fitted_attributes(clf)
    scores = clf.decision_function(X)
    callback = _CtrlC(1) if error == "ctrl-c" else _RaiseInStage(1, error)
    clf.set_params(callbacks=[("fail", callback)], kernel_size=3)
    with pytest.raises(KeyboardInterrupt if error == "ctrl-c" else RuntimeError):
        clf.fit(X, y)
    after = _fitted_attributes(clf)
    assert after.keys() == before.keys()
    assert all(after[key] is before[key] for key in before)
    np.testing.assert_array_equal(clf.decision_function(X), scores)


# -- 3. absurd wide networks ----------------------------------------------------------------


@pytest.mark.parametrize("steps", [40, 10**9])
def test_absurd_wide_network_is_refused_before_allocating(onehot, steps):
    X, y = onehot
    clf = DeepPruneClassifier(n_kernels=4, n_prune_steps=steps, kernel_size=4)
    message = rf"4 \* 2\*\*{steps}( = .*)? kernels needs at least .*iB"
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)
    assert _fitted_attributes(clf) == {}


# -- 4. the output folder is checked first --------------------------------------------------


@pytest.mark.slow  # a subprocess: the interpreter's start-up is most of it
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_cli_fit_unwritable_output_fails_before_reading_data(tmp_path):
    # The data does not exist: the output error shows that it comes first.
    done = _run_cli("fit", tmp_path / "missing.data", "-o", "/proc/deepprune_test")
    assert done.returncode == 1
    assert done.stderr == (
        "deepprune: error: cannot write to the output folder /proc/deepprune_test: "
        "No such file or directory\n"
    )


@pytest.mark.slow  # a subprocess: the interpreter's start-up is most of it
def test_cli_fit_output_that_is_a_file_fails_before_reading_data(tmp_path):
    existing = tmp_path / "model.txt"
    existing.write_text("keep me")
    done = _run_cli("fit", tmp_path / "missing.data", "-o", existing)
    assert done.returncode == 1
    assert done.stderr == f"deepprune: error: output {existing} exists and is not a folder\n"
    assert existing.read_text() == "keep me"


def test_output_check_leaves_nothing_behind(tmp_path):
    from sklearn_deepprune.cli._common import check_output_folder as _check_output_folder

    _check_output_folder(tmp_path / "new" / "nested")
    assert list(tmp_path.iterdir()) == []


# -- 5. user errors in the CLI are one line -------------------------------------------------


def _assert_one_line_error(done, *fragments):
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("deepprune: error: ")
    for fragment in fragments:
        assert fragment in done.stderr


@pytest.mark.slow  # a subprocess: the interpreter's start-up is most of it
def test_cli_truncated_gzip_is_a_one_line_error(tmp_path):
    sequences, labels = _random_records(40)
    data = _write_690(tmp_path / "train.data.gz", sequences, labels, gz=True)
    data.write_bytes(data.read_bytes()[:-30])
    done = _run_cli("fit", data, "-o", tmp_path / "out", *CLI_TINY)
    _assert_one_line_error(done, str(data), "truncated or corrupt")


@pytest.mark.slow  # a subprocess: the interpreter's start-up is most of it
@pytest.mark.parametrize(
    ("device", "message"),
    [("cuda", "CUDA is not available"), ("nonsense", "'nonsense' is not a torch device")],
)
def test_cli_bad_device_is_a_one_line_error(tmp_path, device, message):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    sequences, labels = _random_records(40)
    data = _write_690(tmp_path / "train.data", sequences, labels)
    done = _run_cli("fit", data, "-o", tmp_path / "out", "-q", "--device", device, *CLI_TINY)
    _assert_one_line_error(done, message)
    assert not (tmp_path / "out").exists()


# -- 11. SequenceOneHotEncoder input kinds --------------------------------------------------


def test_encoder_reads_a_one_column_dataframe_as_its_column():
    sequences = ["ACGT", "GGCA", "TTAC"]
    frame = pd.DataFrame({"sequence": sequences})
    expected = SequenceOneHotEncoder().fit_transform(sequences)
    np.testing.assert_array_equal(SequenceOneHotEncoder().fit_transform(frame), expected)
    encoder = SequenceOneHotEncoder().fit(frame)
    np.testing.assert_array_equal(encoder.transform(frame), expected)
    with pytest.raises(ValueError, match="one column .* 2 columns"):
        SequenceOneHotEncoder().fit(frame.assign(other=1))


def test_pipeline_over_a_dataframe(onehot):
    sequences, y = _random_records(40)
    frame = pd.DataFrame({"sequence": sequences})
    pipe = make_pipeline(SequenceOneHotEncoder(), DeepPruneClassifier(**TINY, random_state=0))
    scores = pipe.fit(frame, y).predict_proba(frame)
    np.testing.assert_allclose(pipe.fit(sequences, y).predict_proba(sequences), scores)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: (x for x in s), "generator, which reading would use up"),
        (lambda s: iter(s), "list_iterator, which reading would use up"),
        (set, "set, whose order is arbitrary"),
        (frozenset, "frozenset, whose order is arbitrary"),
        (lambda s: dict.fromkeys(s, 1), "dict, whose keys would be read as sequences"),
    ],
)
def test_encoder_refuses_unordered_or_one_shot_input(make, message):
    sequences = ["ACGT", "GGCA"]
    with pytest.raises(TypeError, match=message):
        SequenceOneHotEncoder().fit(make(sequences))
    encoder = SequenceOneHotEncoder().fit(sequences)
    with pytest.raises(TypeError, match=message):
        encoder.transform(make(sequences))


# -- 12. clear errors on bad labels and files -----------------------------------------------


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([None, 1] * 20, r"y has 20 missing labels \(None\), the first at index 0"),
        (["bound", 0] * 20, r"y mixes strings and other labels \(y\[0\] = 'bound', y\[1\] = 0\)"),
    ],
)
def test_labels_with_none_or_mixed_types(onehot, labels, message):
    X, _ = onehot
    for y in (labels, np.array(labels, dtype=object), pd.Series(labels, dtype=object)):
        with pytest.raises(ValueError, match=message):
            DeepPruneClassifier(**TINY).fit(X, y)


def _damage(raw: bytes, damage: str) -> bytes:
    raw = bytearray(raw)
    if damage == "truncated":
        return bytes(raw[:-30])
    raw[-8] ^= 0xFF  # the stored CRC-32
    return bytes(raw)


@pytest.mark.parametrize("damage", ["truncated", "crc"])
def test_damaged_gzip_names_the_file(tmp_path, damage):
    sequences, labels = _random_records(40)
    path = _write_690(tmp_path / "peaks.data.gz", sequences, labels, gz=True)
    path.write_bytes(_damage(path.read_bytes(), damage))
    with pytest.raises(ValueError, match="peaks.data.gz: the gzip file is truncated or corrupt"):
        load_chipseq(path)
    fasta = "".join(f">p{i}\n{s}\n" for i, s in enumerate(sequences))
    path = tmp_path / "peaks.fa.gz"
    path.write_bytes(_damage(gzip.compress(fasta.encode()), damage))
    with pytest.raises(ValueError, match="peaks.fa.gz: the gzip file is truncated or corrupt"):
        load_fasta(path)


def test_damaged_gzip_in_a_folder_names_the_part(tmp_path):
    sequences, labels = _random_records(40)
    text = "FoldID\tEventID\tseq\tBound\n" + "".join(
        f"A\tp{i}\t{s}\t1\n" for i, s in enumerate(sequences)
    )
    train = tmp_path / "TF_AC.seq.gz"
    train.write_bytes(gzip.compress(text.encode())[:-30])
    (tmp_path / "TF_B.seq.gz").write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ValueError, match=r"TF_AC.seq.gz \(train part\): the gzip file is trunc"):
        load_chipseq(tmp_path)


def test_meme_width_that_is_not_a_number(tmp_path):
    path = tmp_path / "bad.meme"
    path.write_text("MEME version 4\n\nMOTIF a\nletter-probability matrix: alength= 4 w= two\n")
    with pytest.raises(ValueError, match=r"bad.meme, line 4: w='two' is not a motif width"):
        read_meme_pfms(path)


def test_folder_too_small_to_split_names_the_file(tmp_path):
    sequences, labels = _random_records(3)
    _write_690(tmp_path / "test.data", sequences, labels)
    with pytest.raises(
        ValueError, match=r"test.data: cannot split its 3 records \(1 positive, 2 negative\)"
    ):
        load_chipseq(tmp_path)


# -- 13. duplicates and train/test overlap --------------------------------------------------


def test_duplicate_records_warn_with_counts(tmp_path):
    sequences, labels = _random_records(10)
    sequences[1] = sequences[3] = sequences[5] = sequences[0]  # labels 0, 1, 1, 1
    sequences[8] = sequences[6]  # labels 0, 0
    path = _write_690(tmp_path / "train.data", sequences, labels)
    with pytest.warns(
        UserWarning,
        match=r"train.data: 2 sequences occur more than once \(4 extra records\); 1 of them "
        "with both labels",
    ):
        load_chipseq(path)
    fasta = tmp_path / "peaks.fa"
    fasta.write_text("".join(f">p{i}\n{s}\n" for i, s in enumerate(sequences)))
    with pytest.warns(UserWarning, match=r"peaks.fa: 2 sequences .* \(4 extra records\)$"):
        load_fasta(fasta)


def test_records_in_both_train_and_test_warn_with_counts(tmp_path):
    sequences, labels = _random_records(30)
    _write_690(tmp_path / "train.data", sequences[:20], labels[:20])
    _write_690(tmp_path / "test.data", sequences[17:], labels[17:])
    with pytest.warns(UserWarning, match="3 of the 13 test records also occur in the train part"):
        load_chipseq(tmp_path)


def test_clean_data_loads_without_warnings(tmp_path):
    sequences, labels = _random_records(30)
    _write_690(tmp_path / "train.data", sequences[:20], labels[:20])
    _write_690(tmp_path / "test.data", sequences[20:], labels[20:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_chipseq(tmp_path)


# -- 14. string labels ----------------------------------------------------------------------


def test_string_labels_warn_which_class_is_positive(onehot):
    X, y = onehot
    labels = np.where(y == 1, "bound", "unbound")
    with pytest.warns(UserWarning, match=r"positive class is classes_\[1\] = 'unbound'"):
        clf = DeepPruneClassifier(**TINY, random_state=0).fit(X, labels)
    assert clf.classes_.tolist() == ["bound", "unbound"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DeepPruneClassifier(**TINY, random_state=0).fit(X, y)
