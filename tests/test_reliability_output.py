"""Issue 21, the output side: no input written over, no torn or mixed output, one clear line.

Numbers in the section titles are the issue's cases.
"""

import csv
import errno
import gzip
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FAST, TINY, run_cli
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model
from sklearn_deepprune.cli import main


def _assert_one_line_error(status, err, *fragments):
    assert status == 1, err
    assert err.count("\n") == 1 and err.startswith("deepprune: error: "), err
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture(scope="module")
def model(tmp_path_factory, toy_sequences):
    """A tiny model on the toy data (40 bp) saved as model.deepprune, and its pipeline."""
    X_train, y_train, _, _ = toy_sequences
    pipeline = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(
            n_kernels=1, n_prune_steps=1, kernel_size=8, max_epochs=2, patience=2, random_state=0
        ),
    ).fit(X_train, y_train)
    path = tmp_path_factory.mktemp("model") / "model.deepprune"
    save_model(pipeline, path)
    return path, pipeline


def _fasta(path, sequences, prefix="seq"):
    path.write_text("".join(f">{prefix}{i}\n{s}\n" for i, s in enumerate(sequences)))
    return path


@pytest.fixture
def fasta(tmp_path, toy_sequences):
    return _fasta(tmp_path / "test.fa", toy_sequences[2][:50])


def _scores(model, fasta, capsys):
    """What ``deepprune predict MODEL FASTA`` writes on standard output."""
    status, out, err = run_cli(["predict", model, fasta], capsys)
    assert status == 0, err
    return out


def _peaks_fasta(tmp_path):
    rng = np.random.default_rng(0)
    records = [f">peak{i}\nGATAAGGC{''.join(rng.choice(list('ACGT'), 24))}\n" for i in range(40)]
    path = tmp_path / "peaks.fa"
    path.write_text("".join(records))
    return path


def _contents(folder):
    return {path.name: path.read_bytes() for path in folder.iterdir()}


# -- 7. an output over an input ---------------------------------------------------------------


@pytest.mark.parametrize("which", ["input", "hard link", "symlink", "model", "genome"])
def test_predict_refuses_to_write_over_an_input(which, model, fasta, tmp_path, capsys):
    argv = ["predict", model[0], fasta]
    target = fasta
    if which == "hard link":
        target = tmp_path / "same.fa"
        os.link(fasta, target)
    elif which == "symlink":
        target = tmp_path / "link.tsv"
        target.symlink_to(fasta)
    elif which == "model":  # a copy: the model of the other tests stays whole either way
        target = tmp_path / "model.deepprune"
        target.write_bytes(model[0].read_bytes())
        argv[1] = target
    elif which == "genome":
        pytest.importorskip("pyfaidx")
        target = tmp_path / "genome.fa"
        target.write_text(">chrA\n" + "ACGT" * 100 + "\n")
        bed = tmp_path / "regions.bed"
        bed.write_text("chrA\t100\t200\tr1\n")
        argv = ["predict", model[0], bed, "--genome", target]
    before = target.read_bytes()
    status, _, err = run_cli([*argv, "-o", target], capsys)
    _assert_one_line_error(status, err, f"output {target} is ", "refusing to write over it")
    assert target.read_bytes() == before
    assert not which == "symlink" or target.is_symlink()


def test_fit_refuses_an_output_folder_holding_its_input(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    peaks = _peaks_fasta(data)
    for output in (data, tmp_path):
        status, _, err = run_cli(["fit", peaks, "-o", output, *FAST], capsys)
        _assert_one_line_error(status, err, f"output folder {output} holds the input {peaks}")
    assert sorted(path.name for path in data.iterdir()) == ["peaks.fa"]


# -- 8. devices, FIFOs, symlinks, a shell's >(command) ----------------------------------------


def _full_device(tmp_path):
    """A device whose writes fail with ENOSPC: a copy of /dev/full where one may be made.

    The copy keeps a run of this test on code without the fix (as root) from
    replacing the machine's /dev/full.
    """
    path = tmp_path / "full"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        with open(path, "wb", buffering=0) as handle:
            handle.write(b"x")
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            return path
        path.unlink(missing_ok=True)
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    return Path("/dev/full")


def test_predict_to_a_full_device_is_one_error_line(model, fasta, tmp_path, capsys):
    device = _full_device(tmp_path)
    status, _, err = run_cli(["predict", model[0], fasta, "-o", device], capsys)
    _assert_one_line_error(status, err, f"cannot write {device}: No space left on device")
    assert stat.S_ISCHR(os.stat(device).st_mode)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == (["full", "test.fa"] if device.parent == tmp_path else ["test.fa"])


def test_predict_writes_into_a_fifo(model, fasta, tmp_path, capsys):
    expected = _scores(model[0], fasta, capsys)
    fifo = tmp_path / "scores.fifo"
    os.mkfifo(fifo)
    with open(tmp_path / "read.tsv", "wb") as out:
        reader = subprocess.Popen(["cat", str(fifo)], stdout=out)
        try:
            status, _, err = run_cli(["predict", model[0], fasta, "-o", fifo], capsys)
            assert status == 0, err
            reader.wait(timeout=60)
        finally:
            reader.kill()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert (tmp_path / "read.tsv").read_text() == expected


def test_predict_writes_through_a_symlink(model, fasta, tmp_path, capsys):
    expected = _scores(model[0], fasta, capsys)
    target = tmp_path / "results" / "scores.tsv"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "latest.tsv"
    link.symlink_to(target)
    status, _, err = run_cli(["predict", model[0], fasta, "-o", link], capsys)
    assert status == 0, err
    assert link.is_symlink() and target.read_text() == expected
    assert sorted(p.name for p in target.parent.iterdir()) == ["scores.tsv"]


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd")
def test_predict_writes_into_a_pipe_by_its_dev_fd_name(model, fasta, capsys):
    # What a shell's `-o >(gzip > x)` passes: /dev/fd/N, one end of a pipe.
    expected = _scores(model[0], fasta, capsys)
    read_end, write_end = os.pipe()
    received = []
    reader = threading.Thread(target=lambda: received.append(os.fdopen(read_end, "rb").read()))
    reader.start()
    try:
        status, _, err = run_cli(
            ["predict", model[0], fasta, "-o", f"/dev/fd/{write_end}"], capsys
        )
    finally:
        os.close(write_end)
        reader.join(timeout=60)
    assert status == 0, err
    assert received == [expected.encode()]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="needs bash")
def test_cli_predict_into_a_process_substitution(model, fasta, tmp_path):
    script = f'"{sys.executable}" -m sklearn_deepprune.cli predict "$1" "$2" -o >(gzip > "$3")'
    done = subprocess.run(
        ["/bin/bash", "-c", script + "; wait", "bash", model[0], fasta, tmp_path / "x.tsv.gz"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    text = gzip.decompress((tmp_path / "x.tsv.gz").read_bytes()).decode()
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    assert rows[0] == ["id", "probability", "logit"] and len(rows) == 51


# -- 9. two predicts into one output at once ---------------------------------------------------


def test_two_predicts_at_once_into_one_output(model, tmp_path, toy_sequences, capsys, monkeypatch):
    from sklearn_deepprune.cli import predict

    first = _fasta(tmp_path / "first.fa", toy_sequences[2][:200], "first")
    second = _fasta(tmp_path / "second.fa", toy_sequences[2][:120], "second")
    expected = [_scores(model[0], path, capsys) for path in (first, second)]
    # Both runs write their first batches in turn, as two processes would at once.
    barrier = threading.Barrier(2, timeout=60)
    batches = predict._predict_batches

    def in_turn(args, length):
        for i, batch in enumerate(batches(args, length)):
            yield batch
            if i < 5:
                barrier.wait()

    monkeypatch.setattr(predict, "_predict_batches", in_turn)
    output = tmp_path / "c.tsv"
    statuses = {}

    def predict_into_c(path):
        statuses[path.name] = main(
            ["predict", str(model[0]), str(path), "-o", str(output), "--batch-size", "20"]
        )

    threads = [threading.Thread(target=predict_into_c, args=(path,)) for path in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == {"first.fa": 0, "second.fa": 0}, capsys.readouterr().err
    assert output.read_text() in expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tsv", "first.fa", "second.fa"]


def test_writing_file_uses_a_temporary_file_of_its_own(tmp_path):
    from sklearn_deepprune._guards import writing_file

    target = tmp_path / "out.txt"
    with writing_file(target) as one, writing_file(target) as two:
        one.write("one\n")
        two.write("two\n")
        assert len(list(tmp_path.iterdir())) == 2 and not target.exists()
    assert target.read_text() == "one\n"  # the last one closed
    with pytest.raises(KeyboardInterrupt), writing_file(target) as handle:
        handle.write("torn")
        raise KeyboardInterrupt
    assert target.read_text() == "one\n" and list(tmp_path.iterdir()) == [target]


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_a_regular_file_under_dev_is_still_replaced_whole(tmp_path):
    from sklearn_deepprune._guards import writing_file

    folder = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        target = folder / "out.txt"
        target.write_text("old\n")
        with writing_file(target) as handle:
            handle.write("new\n")
            handle.flush()
            assert target.read_text() == "old\n"
        assert target.read_text() == "new\n" and list(folder.iterdir()) == [target]
    finally:
        shutil.rmtree(folder)


# -- 10. a fit folder is the old fit or the new one ---------------------------------------------


def _fake_compare(found, targets="JASPAR", **kwargs):
    import pandas as pd

    return pd.DataFrame(
        {
            "query": [m.name for m in found],
            "target_id": "MA0035.5",
            "target_name": "Gata1",
            "p_value": 1e-5,
            "e_value": 1e-3,
            "q_value": 1e-3,
            "orientation": "+",
        }
    )


@pytest.mark.slow  # whole CLI fits: kept out of the fast run's time
def test_refit_without_matches_leaves_no_stale_matches(tmp_path, capsys, monkeypatch):
    pytest.importorskip("logomaker")
    from sklearn_deepprune import motifs

    monkeypatch.setattr(motifs, "compare_motifs", _fake_compare)
    peaks, output = _peaks_fasta(tmp_path), tmp_path / "fit"
    argv = ["fit", peaks, "-o", output, "-q", "--n-kernels", "1", *TINY]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    assert (output / "matches.tsv").is_file()
    status, out, err = run_cli([*argv, "--no-matches", "--seed", "1"], capsys)
    assert status == 0, err
    assert not (output / "matches.tsv").exists()
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["params"]["random_state"] == 1 and "matches" not in metrics["files"]
    assert set(metrics["files"].values()) == {str(output / p.name) for p in output.iterdir()} - {
        str(output / "metrics.json")
    }
    assert f"wrote {output / 'model.deepprune'}, " in out  # named where they are, not a temp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit", "peaks.fa"]


def test_interrupted_refit_keeps_the_old_fit_whole(tmp_path, capsys, monkeypatch):
    peaks, output = _peaks_fasta(tmp_path), tmp_path / "fit"
    status, _, err = run_cli(["fit", peaks, "-o", output, *FAST], capsys)
    assert status == 0, err
    before = _contents(output)
    from sklearn_deepprune import persistence

    real_save = persistence.save_model
    saved = []

    def save_then_ctrl_c(*args, **kwargs):  # Ctrl-C after the new model.deepprune is written
        saved.append(real_save(*args, **kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence, "save_model", save_then_ctrl_c)
    monkeypatch.setattr("sklearn_deepprune.save_model", save_then_ctrl_c)
    status, _, err = run_cli(["fit", peaks, "-o", output, *FAST, "--seed", "1"], capsys)
    assert status == 130 and saved, err
    assert _contents(output) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit", "peaks.fa"]


def test_fit_refuses_a_folder_with_files_it_did_not_write(tmp_path, capsys):
    output = tmp_path / "results"
    output.mkdir()
    (output / "notes.txt").write_text("keep me")
    (output / "metrics.json").write_text("{}")
    status, _, err = run_cli(["fit", tmp_path / "missing.fa", "-o", output, *FAST], capsys)
    _assert_one_line_error(status, err, "holds 1 file(s) that 'deepprune fit' does not write")
    assert (output / "notes.txt").read_text() == "keep me"


def test_fit_refuses_to_replace_the_current_folder(tmp_path, capsys, monkeypatch):
    # The swap would leave the shell in a deleted folder: refused, even for an empty one.
    peaks = _peaks_fasta(tmp_path)
    (tmp_path / "fit").mkdir()
    for here in (tmp_path / "fit", tmp_path / "fit" / "sub"):
        here.mkdir(exist_ok=True)
        monkeypatch.chdir(here)
        status, _, err = run_cli(["fit", peaks, "-o", tmp_path / "fit", *FAST], capsys)
        _assert_one_line_error(status, err, "is the current folder or holds it")
    assert [p.name for p in (tmp_path / "fit").iterdir()] == ["sub"]
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(["fit", peaks, "-o", "fit/sub", *FAST], capsys)
    assert status == 0, err


def test_replacing_folder_names_its_work_as_incomplete(tmp_path):
    from sklearn_deepprune._guards import replacing_folder

    output = tmp_path / "out"
    output.mkdir()
    (output / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), replacing_folder(output) as folder:
        assert folder.parent == tmp_path and folder.name.endswith(".incomplete")
        (folder / "new.txt").write_text("new")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in output.iterdir()] == ["old.txt"]
    with replacing_folder(output) as folder:
        (folder / "new.txt").write_text("new")
        assert [p.name for p in output.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in output.iterdir()] == ["new.txt"]


# -- 4. no NaN in metrics.json ---------------------------------------------------------------


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_metrics_json_is_strict_json_when_an_auc_is_undefined(tmp_path, capsys, monkeypatch):
    from sklearn_deepprune.cli import fit

    real = fit._fit_data

    def one_class_test_part(args):
        X_train, y_train, X_test, y_test, note = real(args)
        keep = y_test == 1
        return X_train, y_train, X_test[keep], y_test[keep], note

    monkeypatch.setattr(fit, "_fit_data", one_class_test_part)
    output = tmp_path / "fit"
    status, out, err = run_cli(["fit", _peaks_fasta(tmp_path), "-o", output, *FAST], capsys)
    assert status == 0, err
    metrics = _strict_json((output / "metrics.json").read_text())
    assert metrics["test_auc"] is None and metrics["n_test"] == 8
    assert all(row["test_auc"] is None for row in metrics["history"])
    assert "test AUC undefined" in out and "nan" not in out


def test_to_json_writes_null_for_undefined_numbers():
    from sklearn_deepprune._guards import to_json

    data = {"a": float("nan"), "b": [np.float32("inf"), np.float64(0.5)], "c": np.arange(2)}
    assert _strict_json(to_json(data)) == {"a": None, "b": [None, 0.5], "c": [0, 1]}


# -- 24. an output that is a folder ------------------------------------------------------------


def test_predict_output_folder_fails_before_loading_the_model(
    model, fasta, tmp_path, capsys, monkeypatch
):
    import sklearn_deepprune

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(sklearn_deepprune, "load_model", no_loading)
    status, _, err = run_cli(["predict", model[0], fasta, "-o", tmp_path], capsys)
    _assert_one_line_error(status, err, f"output {tmp_path} is a folder")


@pytest.mark.parametrize(
    "output, message",
    [("{tmp}/missing/scores.tsv", "no such folder"), ("{fasta}/scores.tsv", "Not a directory")],
)
def test_predict_output_in_a_missing_folder_fails_first(
    output, message, model, fasta, tmp_path, capsys
):
    output = output.format(tmp=tmp_path, fasta=fasta)
    status, _, err = run_cli(["predict", model[0], fasta, "-o", output], capsys)
    _assert_one_line_error(status, err, f"cannot write the output {output}", message)


# -- 25. --device in the flag's terms ------------------------------------------------------------


@pytest.mark.parametrize("device", ["bogus", "cuda"])
@pytest.mark.parametrize("command", ["predict", "fit"])
def test_bad_device_is_named_as_the_flag(command, device, model, fasta, tmp_path, capsys):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if command == "predict":
        argv = ["predict", model[0], fasta, "-o", tmp_path / "out.tsv"]
    else:  # data that does not exist: the device is checked first
        argv = ["fit", tmp_path / "missing.fa", "-o", tmp_path / "out", *FAST]
    status, _, err = run_cli([*argv, "--device", device], capsys)
    expected = {
        "bogus": "--device 'bogus' is not a torch device; use e.g. 'cpu', 'cuda' or 'cuda:1'",
        "cuda": "--device 'cuda', but CUDA is not available on this machine",
    }[device]
    _assert_one_line_error(status, err, expected)
    assert "load_model" not in err and "device=" not in err
    assert device == "bogus" or err.rstrip().endswith("; use --device cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.fa"]
