"""Wall time, peak memory and test AUC of a full default Deepprune fit (256 -> 4 kernels).

Simulates 10,000 training and 10,000 test sequences of 101 bp (four planted
10-bp motifs, as the paper's simulated set 4), one-hot encodes them as uint8
and fits ``DeepPruneClassifier(pooling="max")`` with the other defaults (256 kernels of width 24
pruned by halves to 4, early stopping) once per scanner, each in a fresh child
process so that its peak memory is its own. Same seed for both: the
formulations differ only in how the scan is computed.

``--million`` instead checks the memory of the data path at scale: one-hot
encodes 1,000,000 sequences of 101 bp as uint8, fits one epoch of a 4-kernel
network on them and predicts them, reporting the array's size and the peak
resident memory.

Usage::

    python benchmarks/fit_time.py [--n 10000] [--scanners conv auto] [--million]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Reset the peak resident memory (Linux >= 4.0; a forked child inherits its parent's)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:  # pragma: no cover - not Linux
        pass


def cpu_seconds() -> float:
    """User plus system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def simulated_set(n_train: int, n_test: int, seed: int = 0):
    """uint8 one-hot train/test sets with one of four planted motifs in each positive."""
    from sklearn_deepprune import SequenceOneHotEncoder

    rng = np.random.RandomState(seed)
    motifs = [rng.dirichlet(np.full(4, 0.3), size=10) for _ in range(4)]
    try:
        from sklearn_deepprune.datasets import make_motif_sequences

        sequences, y = make_motif_sequences(
            n_train + n_test, motifs, length=101, random_state=seed, return_X_y=True
        )
    except ImportError:  # pragma: no cover - the datasets module is optional here
        codes = rng.randint(0, 4, size=(n_train + n_test, 101))
        y = rng.permutation(np.arange(n_train + n_test) % 2)
        for i in np.flatnonzero(y):
            pfm = motifs[rng.randint(len(motifs))]
            start = rng.randint(101 - len(pfm) + 1)
            codes[i, start : start + len(pfm)] = [rng.choice(4, p=row) for row in pfm]
        sequences = ["".join("ACGT"[c] for c in row) for row in codes]
    encoder = SequenceOneHotEncoder(dtype=np.uint8, unknown="zero").fit(sequences)
    X = encoder.transform(sequences)
    return X[:n_train], np.asarray(y[:n_train]), X[n_train:], np.asarray(y[n_train:])


def fit_one(scanner: str, n: int, seed: int) -> dict:
    """Fit the default estimator once; return timings, memory and AUC."""
    import torch

    from sklearn_deepprune import DeepPruneClassifier

    reset_peak_rss()
    X, y, X_test, y_test = simulated_set(n, n, seed)
    rss_before = peak_rss_mb()
    # Max pooling: the formulations compared are those of the maximum's scan.
    clf = DeepPruneClassifier(scanner=scanner, pooling="max", random_state=seed)
    cpu = cpu_seconds()
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    start = time.perf_counter()
    auc = clf.score(X_test, y_test)
    predict_rate = len(X_test) / (time.perf_counter() - start)
    from sklearn.metrics import roc_auc_score

    stage_aucs = [
        (k, round(float(roc_auc_score(y_test == clf.classes_[1], logits)), 4))
        for k, logits in clf.staged_decision_function(X_test)
    ]
    return {
        "scanner": scanner,
        "resolved": clf.net_.module_.scanner,
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "auc": auc,
        "predict_per_s": predict_rate,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_fit_mb": rss_before,
        "data_bytes": X.nbytes,
        "stages": [(row["n_kernels"], row["epochs"]) for row in clf.pruning_history_],
        "stage_aucs": stage_aucs,
    }


def million(n: int = 1_000_000) -> None:
    """Memory of the uint8 data path for ``n`` sequences of 101 bp.

    Encodes in this process, then fits and predicts in a child process that
    loads the encoded array, so that the child's peak memory is the data path's
    alone (plus the interpreter and torch), not the encoder's Python strings.
    """
    import os
    import tempfile

    from sklearn_deepprune import SequenceOneHotEncoder

    rng = np.random.RandomState(0)
    start = time.perf_counter()
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.randint(0, 4, size=(n, 101))]
    sequences = letters.view("S101").ravel().astype(str)
    del letters
    X = SequenceOneHotEncoder(dtype=np.uint8, unknown="zero").fit_transform(sequences)
    del sequences
    print(
        f"1M encode: X {X.shape} {X.dtype}, {X.nbytes / 1e6:.0f} MB "
        f"(float32 would be {X.nbytes * 4 / 1e6:.0f} MB); {time.perf_counter() - start:.0f} s, "
        f"encoder process peak RSS {peak_rss_mb():.0f} MiB",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "X.npy")
        np.save(path, X)
        del X
        command = [sys.executable, __file__, "--million-child", path]
        print(subprocess.run(command, check=True, capture_output=True, text=True).stdout, end="")


def million_child(path: str) -> None:
    """Load a uint8 array, fit one epoch of 4 kernels on it, predict it; print memory."""
    import torch  # noqa: F401  (imported before measuring the baseline)

    from sklearn_deepprune import DeepPruneClassifier

    reset_peak_rss()
    baseline = peak_rss_mb()
    X = np.load(path)
    y = np.random.RandomState(0).randint(0, 2, size=len(X))
    loaded = peak_rss_mb()
    clf = DeepPruneClassifier(
        n_kernels=4, n_prune_steps=0, max_epochs=1, pooling="max", random_state=0
    )
    start = time.perf_counter()
    clf.fit(X, y)
    print(
        f"1M fit (4 kernels, 1 epoch): {time.perf_counter() - start:.0f} s; peak RSS "
        f"{peak_rss_mb():.0f} MiB = {baseline:.0f} (python + torch) + "
        f"{loaded - baseline:.0f} (X) + {peak_rss_mb() - loaded:.0f} (fit)"
    )
    start = time.perf_counter()
    clf.predict_proba(X)
    seconds = time.perf_counter() - start
    print(f"1M predict_proba: {len(X) / seconds:.0f} seq/s; peak RSS {peak_rss_mb():.0f} MiB")


def main(argv=None) -> None:
    """Run each scanner's fit in a child process and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="training (and test) size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scanners", nargs="+", default=["auto", "conv"])
    parser.add_argument("--million", action="store_true", help="1M-sequence memory check")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--million-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.million_child:
        million_child(args.million_child)
        return
    if args.million:
        million()
        return
    if args.child:
        print(json.dumps(fit_one(args.child, args.n, args.seed)))
        return
    results = {}
    for scanner in args.scanners:
        command = [sys.executable, __file__, "--child", scanner, "--n", str(args.n)]
        command += ["--seed", str(args.seed)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results[scanner] = r
        print(
            f"fit scanner={scanner} ({r['resolved']}, {r['threads']} threads): "
            f"{r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU, test AUC {r['auc']:.4f}, "
            f"peak RSS {r['peak_rss_mb']:.0f} MiB ({r['rss_before_fit_mb']:.0f} before fit; "
            f"data {r['data_bytes'] / 1e6:.1f} MB uint8), "
            f"predict {r['predict_per_s']:.0f} seq/s, (kernels, epochs) {r['stages']}, "
            f"(kernels, test AUC) after each stage {r['stage_aucs']}",
            flush=True,
        )
    if "conv" in results and len(results) > 1:
        ref = results["conv"]
        for scanner, r in results.items():
            if scanner != "conv":
                print(
                    f"{scanner} vs conv: {ref['seconds'] / r['seconds']:.2f}x faster (wall), "
                    f"{ref['cpu_seconds'] / r['cpu_seconds']:.2f}x less CPU, "
                    f"AUC difference {r['auc'] - ref['auc']:+.4f}"
                )


if __name__ == "__main__":
    main()
