"""Sweeps that never lie: content keys, no repeats, checked tables, locks, interrupts, kills.

Issue 11, items 6-10 (and a Ctrl-C during a sweep's fit).
"""

import functools
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_deepprune import DeepPruneClassifier
from sklearn_deepprune._guards import write_atomic
from sklearn_deepprune.experiments import (
    RESULT_COLUMNS,
    _sweep,
    load_results,
    resolve_datasets,
    run_sweep,
    summarize,
)

TINY = {"kernel_size": 8, "max_epochs": 2, "patience": 2, "batch_size": 64, "n_prune_steps": 1}
QUIET = {"estimator_params": TINY, "progress": False}


@pytest.fixture
def count_fits(monkeypatch):
    """The keys of the fits a sweep runs (n_jobs=1 runs them in this process)."""
    calls = []
    run_job = _sweep._run_job

    def counting(job, data, threads):
        calls.append(job.key)
        return run_job(job, data, threads)

    monkeypatch.setattr(_sweep, "_run_job", counting)
    return calls


def _write_folder(folder: Path, sequences, labels, prefix="s") -> Path:
    """A ChIP-seq data folder in the 690-set format (``>id SEQUENCE label``)."""
    folder.mkdir(parents=True, exist_ok=True)
    half = len(sequences) // 2
    for part, rows in (("train", slice(0, half)), ("test", slice(half, None))):
        lines = [
            f">{prefix}{i} {seq} {label}\n"
            for i, (seq, label) in enumerate(zip(sequences[rows], labels[rows], strict=True))
        ]
        (folder / f"{part}.data").write_text("".join(lines))
    return folder


@pytest.fixture
def toy_arrays(toy_sequences):
    train, y_train, test, y_test = toy_sequences
    return np.array(train + test), np.concatenate([y_train, y_test])


# -- item 6: the key covers the data's content and every setting -------------------------------


def test_replaced_chipseq_files_are_refitted(toy_arrays, count_fits, tmp_path):
    sequences, labels = toy_arrays
    data = _write_folder(tmp_path / "data" / "SET", sequences, labels)
    kwargs = dict(variants=["baseline"], kernels=[1], seeds=[0], output=tmp_path / "out", **QUIET)
    first = run_sweep([data], **kwargs)
    assert len(count_fits) == 1

    # The same files elsewhere are the same data: nothing to fit.
    moved = tmp_path / "moved" / "SET"
    moved.mkdir(parents=True)
    for file in data.iterdir():
        (moved / file.name).write_bytes(file.read_bytes())
    run_sweep([moved], **kwargs)
    assert len(count_fits) == 1

    # Replaced files (labels shuffled) are new data: fitted anew, and a new AUC.
    shuffled = np.random.default_rng(0).permutation(labels)
    _write_folder(data, sequences, shuffled)
    second = run_sweep([data], **kwargs)
    assert len(count_fits) == 2
    assert second["auc"].iloc[0] != first["auc"].iloc[0]
    assert second["data"].iloc[0] != first["data"].iloc[0]


def test_changed_callable_data_is_refitted(toy_sequences, count_fits, tmp_path):
    train, y_train, test, y_test = toy_sequences
    kwargs = dict(variants=["baseline"], kernels=[1], seeds=[0], output=tmp_path, **QUIET)
    run_sweep({"toy": lambda: (np.array(train), np.array(test), y_train, y_test)}, **kwargs)
    run_sweep({"toy": lambda: (np.array(train), np.array(test), y_train, y_test)}, **kwargs)
    assert len(count_fits) == 1
    run_sweep({"toy": lambda: (np.array(train), np.array(test), 1 - y_train, y_test)}, **kwargs)
    assert len(count_fits) == 2


def test_simulated_signature_follows_motif_file_content(tmp_path):
    motifs = tmp_path / "motifs" / "simulated1"
    motifs.mkdir(parents=True)
    (motifs / "A.meme").write_text("MEME version 4\n")
    before = resolve_datasets("simulated1", motif_dir=tmp_path / "motifs")[0].signature
    (motifs / "A.meme").write_text("MEME version 4\n\nMOTIF A\n")
    after = resolve_datasets("simulated1", motif_dir=tmp_path / "motifs")[0].signature
    assert before != after
    assert before != resolve_datasets("simulated1")[0].signature


def test_single_file_sets_are_not_matched_with_fits_on_the_old_split(tmp_path):
    # A folder with one file is split by the loader, which now keeps each peak with its
    # shuffle: fits saved before that change (on another split) must not be reused.
    records = "".join(f">p{i} ACGTACGTAC 1\n>p{i}_shuf ACGTCAGTAC 0\n" for i in range(10))
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "test.data").write_text(records)
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "test.data").write_text(records)
    (tmp_path / "two" / "train.data").write_text(records)
    one = resolve_datasets(str(tmp_path / "one"))[0].signature
    two = resolve_datasets(str(tmp_path / "two"))[0].signature
    assert one.endswith("|split=pairs-kept") and "split=" not in two


def test_key_covers_every_estimator_parameter(toy_sequences, count_fits, tmp_path, monkeypatch):
    train, y_train, test, y_test = toy_sequences

    def toy():
        return np.array(train), np.array(test), y_train, y_test

    kwargs = dict(variants=["baseline"], kernels=[1], seeds=[0], output=tmp_path, **QUIET)
    run_sweep({"toy": toy}, **kwargs)
    assert len(count_fits) == 1
    # A parameter left at its default is the same setting as one not given...
    run_sweep({"toy": toy}, **{**kwargs, "estimator_params": {**TINY, "lr": 0.01}})
    assert len(count_fits) == 1
    # ...and verbose changes nothing.
    run_sweep({"toy": toy}, **{**kwargs, "estimator_params": {**TINY, "verbose": 0}})
    assert len(count_fits) == 1
    # A changed default (a new version, a new parameter) is a new setting.
    init = DeepPruneClassifier.__init__

    @functools.wraps(init)
    def new_default(self, *args, lr=0.02, **kwargs):
        init(self, *args, lr=lr, **kwargs)

    monkeypatch.setattr(DeepPruneClassifier, "__init__", new_default)
    assert DeepPruneClassifier().get_params()["lr"] == 0.02
    run_sweep({"toy": toy}, **kwargs)
    assert len(count_fits) == 2


def test_unknown_estimator_parameter_is_refused(toy_sequences):
    with pytest.raises(ValueError, match="DeepPruneClassifier has no parameter max_epoch$"):
        run_sweep("simulated1", estimator_params={"max_epoch": 3}, progress=False)


# -- item 7: repeated seeds or criteria -------------------------------------------------------


def test_repeated_seeds_and_criteria_run_once(toy_sequences, count_fits):
    train, y_train, test, y_test = toy_sequences

    def toy():
        return np.array(train), np.array(test), y_train, y_test

    with pytest.warns(UserWarning) as caught:
        results = run_sweep(
            {"toy": toy},
            variants=["deepprune"],
            kernels=[1],
            seeds=[0, 0],
            criteria=["weight", "weight"],
            **QUIET,
        )
    messages = {str(w.message) for w in caught}
    assert {
        "seeds 0 given more than once; each is run once",
        "criteria 'weight' given more than once; each is run once",
    } <= messages
    assert len(count_fits) == 1
    assert len(results) == 1
    assert np.isnan(summarize(results)["auc_std"].iloc[0])


def test_summarize_counts_a_repeated_row_once():
    row = {"dataset": "a", "variant": "deepprune", "criterion": "weight", "kernels": 4}
    rows = [
        {**row, "seed": 0, "auc": 0.8, "epochs": 1, "seconds": 1.0, "job": "j0"},
        {**row, "seed": 0, "auc": 0.8, "epochs": 1, "seconds": 1.0, "job": "j0"},
        {**row, "seed": 1, "auc": 0.6, "epochs": 1, "seconds": 1.0, "job": "j1"},
    ]
    with pytest.warns(UserWarning, match="dropped 1 repeated rows"):
        summary = summarize(pd.DataFrame(rows))
    assert summary["auc_mean"].iloc[0] == pytest.approx(0.7)
    assert summary["auc_std"].iloc[0] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    # Two different results for one seed are mixed fits: refused.
    rows[1] = {**rows[1], "auc": 0.9, "job": "other"}
    with pytest.raises(ValueError, match="2 different results for data set 'a'.*seed 0"):
        summarize(pd.DataFrame(rows))


# -- item 8: checked tables, settings recorded, atomic writes ---------------------------------


@pytest.fixture
def toy(toy_sequences):
    train, y_train, test, y_test = toy_sequences

    def toy():
        return np.array(train), np.array(test), y_train, y_test

    return toy


def test_fits_record_their_settings(toy, tmp_path):
    results = run_sweep(
        {"toy": toy}, variants=["baseline"], kernels=[1], seeds=[0], output=tmp_path, **QUIET
    )
    assert list(results.columns) == list(RESULT_COLUMNS)
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "fits").glob("*.json")]
    assert record["key"] == results["job"].iloc[0]
    assert record["settings_id"] == results["settings"].iloc[0]
    assert record["estimator"]["max_epochs"] == 2
    assert record["estimator"]["n_kernels"] == 1
    assert "verbose" not in record["estimator"]
    assert {"sklearn_deepprune", "torch"} <= set(record["versions"])


def test_load_results_refuses_mixed_settings(toy, tmp_path):
    kwargs = dict(variants=["baseline"], kernels=[1], seeds=[0], output=tmp_path, **QUIET)
    old = run_sweep({"toy": toy}, **kwargs)
    new = run_sweep({"toy": toy}, **{**kwargs, "estimator_params": {**TINY, "max_epochs": 3}})
    # results.csv is the last sweep's: consistent.
    pd.testing.assert_frame_equal(load_results(tmp_path), new)
    # Without it (an interrupted sweep), the fits of both settings are there.
    (tmp_path / "results.csv").unlink()
    mixed = r"different settings.*fits/toy.*max_epochs=(2 vs 3|3 vs 2)"
    with pytest.raises(ValueError, match=mixed):
        load_results(tmp_path)
    chosen = load_results(tmp_path, settings=old["settings"].iloc[0])
    pd.testing.assert_frame_equal(chosen, old)
    with pytest.raises(ValueError, match="no fits with settings 'nope'"):
        load_results(tmp_path, settings="nope")


def test_load_results_refuses_stale_data(toy_arrays, tmp_path):
    sequences, labels = toy_arrays
    data = _write_folder(tmp_path / "SET", sequences, labels)
    kwargs = dict(variants=["baseline"], kernels=[1], seeds=[0], output=tmp_path / "out", **QUIET)
    run_sweep([data], **kwargs)
    _write_folder(data, sequences, np.random.default_rng(0).permutation(labels))
    run_sweep([data], **kwargs)
    (tmp_path / "out" / "results.csv").unlink()
    with pytest.raises(ValueError, match="data set 'SET' mixes fits made on different data"):
        load_results(tmp_path / "out")


def test_load_results_names_broken_files(toy, tmp_path):
    run_sweep(
        {"toy": toy}, variants=["baseline"], kernels=[1, 2], seeds=[0], output=tmp_path, **QUIET
    )
    table = tmp_path / "results.csv"
    text = table.read_text()
    # A torn table: its last line cut short.
    table.write_text(text[: text.rindex(",", 0, len(text) - 40)])
    with pytest.raises(ValueError, match=r"results.csv line 3: no value for"):
        load_results(table)
    table.unlink()
    # A zero-byte fit file: named.
    fit = sorted((tmp_path / "fits").glob("*.csv"))[0]
    fit.write_text("")
    with pytest.raises(ValueError, match=f"{fit.name} is empty"):
        load_results(tmp_path)
    fit.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=f"{fit.name}"):
        load_results(tmp_path)


def test_tables_are_written_atomically(toy, tmp_path, monkeypatch):
    replaced = []
    replace = os.replace

    def recording(source, target):
        replaced.append((Path(source), Path(target)))
        replace(source, target)

    monkeypatch.setattr(os, "replace", recording)
    umask = os.umask(0o022)
    os.umask(umask)
    run_sweep(
        {"toy": toy}, variants=["baseline"], kernels=[1], seeds=[0], output=tmp_path, **QUIET
    )
    targets = {target.relative_to(tmp_path).as_posix() for _, target in replaced}
    assert "results.csv" in targets
    assert {"fits/*.csv", "fits/*.json"} == {
        f"fits/*{Path(t).suffix}" for t in targets if t.startswith("fits/")
    }
    # Unique temporary names beside the target, hidden from fits/*.csv.
    assert all(s.parent == t.parent and s.name.startswith(".") for s, t in replaced)
    assert len({s for s, _ in replaced}) == len(replaced)
    assert not list(tmp_path.rglob("*.tmp"))
    # With the permissions of any new file (not a temporary file's private 0600).
    assert (tmp_path / "results.csv").stat().st_mode & 0o777 == 0o666 & ~umask


# -- item 9: two sweeps into one folder -------------------------------------------------------


def test_concurrent_writes_use_unique_temporary_files(tmp_path):
    target = tmp_path / "fit.csv"
    errors = []

    def write(i):
        try:
            for _ in range(50):
                write_atomic(target, f"row,{i}\n".encode())
        except Exception as exc:  # pragma: no cover - the failure under test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert target.read_text() in {f"row,{i}\n" for i in range(4)}
    assert [p.name for p in tmp_path.iterdir()] == ["fit.csv"]


def test_two_sweeps_into_one_folder_fit_each_once(toy, count_fits, tmp_path):
    kwargs = dict(
        variants=["baseline", "deepprune"], kernels=[1, 2], seeds=[0, 1], output=tmp_path, **QUIET
    )
    outcomes = {}

    def sweep(name):
        outcomes[name] = run_sweep({"toy": toy}, **kwargs)

    threads = [threading.Thread(target=sweep, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 2 seeds x (1 deepprune fit + 2 baselines), each computed once between them.
    assert sorted(count_fits) == sorted(set(count_fits)) and len(count_fits) == 6
    pd.testing.assert_frame_equal(outcomes["a"], outcomes["b"])


def test_sweep_waits_for_a_fit_another_process_holds(toy, count_fits, tmp_path):
    kwargs = dict(variants=["baseline"], kernels=[1, 2], seeds=[0], output=tmp_path, **QUIET)
    (job,) = [j for j in _plan_jobs(toy, kwargs) if j.n_kernels == 1]
    lock = tmp_path / "fits" / ".locks" / f"{job.key}.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, filelock; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
            "print('locked', flush=True); time.sleep(600)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = threading.Event()
        thread = threading.Thread(target=lambda: (run_sweep({"toy": toy}, **kwargs), done.set()))
        thread.start()
        # The other fit gets done; the held one is waited for, not computed.
        other = (
            tmp_path / "fits" / f"{[j for j in _plan_jobs(toy, kwargs) if j != job][0].key}.csv"
        )
        while not other.is_file() and thread.is_alive():
            thread.join(0.1)
        assert not done.is_set() and job.key not in count_fits
    finally:
        holder.kill()  # dies holding the lock: the OS releases it
        holder.wait()
    thread.join()
    assert done.is_set()
    assert sorted(count_fits) == sorted(j.key for j in _plan_jobs(toy, kwargs))


def _plan_jobs(toy, kwargs):
    return _sweep._plan(
        [_sweep._with_signature(d) for d in resolve_datasets({"toy": toy})],
        kwargs["variants"],
        kwargs["kernels"],
        ["weight"],
        kwargs["seeds"],
        kwargs["estimator_params"],
    )


# -- Ctrl-C during a fit ------------------------------------------------------------------------


def _swallowing_fit(monkeypatch, at_call: int):
    """Make fit number ``at_call`` get Ctrl-C and swallow it, as skorch does, then finish."""
    fit = DeepPruneClassifier.fit
    calls = []

    def interrupted(self, X, y):
        calls.append(1)
        if len(calls) == at_call:
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass
        return fit(self, X, y)

    monkeypatch.setattr(DeepPruneClassifier, "fit", interrupted)


def test_interrupted_fit_is_not_saved(toy, tmp_path, monkeypatch):
    kwargs = dict(variants=["baseline"], kernels=[1, 2], seeds=[0], output=tmp_path, **QUIET)
    _swallowing_fit(monkeypatch, at_call=2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep({"toy": toy}, **kwargs)
    assert len(list((tmp_path / "fits").glob("*.csv"))) == 1
    assert not (tmp_path / "results.csv").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # The rerun fits only the interrupted one.
    monkeypatch.undo()
    calls = []
    run_job = _sweep._run_job
    monkeypatch.setattr(
        _sweep, "_run_job", lambda job, *args: calls.append(job.key) or run_job(job, *args)
    )
    assert len(run_sweep({"toy": toy}, **kwargs)) == 2
    assert len(calls) == 1


def test_fit_raising_keyboard_interrupt_is_not_saved(toy, tmp_path, monkeypatch):
    fit = DeepPruneClassifier.fit
    calls = []

    def raising(self, X, y):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fit(self, X, y)

    monkeypatch.setattr(DeepPruneClassifier, "fit", raising)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            {"toy": toy},
            variants=["baseline"],
            kernels=[1, 2],
            seeds=[0],
            output=tmp_path,
            **QUIET,
        )
    assert len(list((tmp_path / "fits").glob("*.csv"))) == 1
    assert not list(tmp_path.rglob("*.tmp"))


_CLI_INTERRUPTED = """
import signal, sys
from sklearn_deepprune import DeepPruneClassifier
from sklearn_deepprune._guards import write_atomic
from sklearn_deepprune.cli import main
fit = DeepPruneClassifier.fit
calls = []
def interrupted(self, X, y):
    calls.append(1)
    if len(calls) == 2:
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass
    return fit(self, X, y)
DeepPruneClassifier.fit = interrupted
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_cli_sweep_interrupted_exits_130(toy_arrays, tmp_path):
    sequences, labels = toy_arrays
    data = _write_folder(tmp_path / "SET", sequences, labels)
    out = tmp_path / "out"
    argv = [
        "sweep",
        str(data),
        "-o",
        str(out),
        "-q",
        "-j",
        "1",
        "--variants",
        "baseline",
        "--kernels",
        "1",
        "2",
        "--seeds",
        "0",
        "--kernel-size",
        "8",
        "--max-epochs",
        "2",
        "--patience",
        "2",
    ]
    done = subprocess.run(
        [sys.executable, "-c", _CLI_INTERRUPTED, *argv], capture_output=True, text=True
    )
    assert done.returncode == 130, done.stderr
    assert "deepprune: interrupted" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(list((out / "fits").glob("*.csv"))) == 1
    assert not (out / "results.csv").exists()


# -- item 10: SIGKILL of a parallel sweep -------------------------------------------------------

_KILLED_SWEEP = """
import sys
import numpy as np
from sklearn_deepprune.datasets import make_motif_sequences
from sklearn_deepprune.experiments import run_sweep
motif = np.full((8, 4), 0.02) + 0.92 * np.eye(4)[[2, 0, 3, 0, 0, 2, 2, 1]]
data = make_motif_sequences(500, [motif], length=40, random_state=0)
def toy():
    s, t = data.sequences, data.target
    return s[:300], s[300:], t[:300], t[300:]
run_sweep({"toy": toy}, variants=["baseline"], kernels=[1, 2, 4, 8], seeds=[0, 1, 2, 3],
          output=sys.argv[1], n_jobs=2, progress=False,
          estimator_params={"kernel_size": 8, "max_epochs": 3, "patience": 2, "batch_size": 64})
"""


@pytest.mark.slow
def test_sigkill_of_parallel_sweep_leaves_nothing_half_written(tmp_path):
    psutil = pytest.importorskip("psutil")
    script = tmp_path / "sweep.py"
    script.write_text(_KILLED_SWEEP)
    out = tmp_path / "out"
    sweep = subprocess.Popen([sys.executable, str(script), str(out)])
    fits = out / "fits"
    while not list(fits.glob("*.csv")) and sweep.poll() is None:
        try:
            sweep.wait(0.2)
        except subprocess.TimeoutExpired:
            pass
    assert sweep.poll() is None, "the sweep finished before it could be killed"
    workers = psutil.Process(sweep.pid).children(recursive=True)
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    # Its loky workers see it gone and exit (without the watch, one waited for work
    # indefinitely); the bound only keeps a regression from hanging the test run.
    _, alive = psutil.wait_procs(workers, timeout=120)
    for process in alive:  # no leftovers, even when failing
        process.kill()
    assert alive == []
    assert not list(out.rglob("*.tmp"))
    assert not (out / "results.csv").exists()
    for csv in fits.glob("*.csv"):
        assert (fits / f"{csv.stem}.json").is_file()
    kept = load_results(out)
    assert kept["auc"].between(0, 1).all()
    # A rerun completes the sweep from what was kept.
    subprocess.run([sys.executable, str(script), str(out)], check=True)
    assert len(load_results(out)) == 16
