"""End-to-end training time: DeepPruneClassifier against the same procedure in plain PyTorch.

Two comparisons, each run in one process with the two sides interleaved over
``--repeats`` repetitions (the median ratio is reported, so that other load on
the machine disturbs them as little as possible):

``epochs``
    ``DeepPruneClassifier(variant="baseline", n_kernels=256, max_epochs=3)``
    on ``--n-epochs-data`` random one-hot sequences (uint8 and float32 input)
    against a plain PyTorch loop doing the same work: the network a careful
    user writes (``Conv1d(4, K, w, padding="same") -> ReLU ->
    AdaptiveMaxPool1d(1) -> Linear``, float32 batches; the estimator with
    ``PAPER``'s one strand and ReLU, and once more reading both strands,
    twice the scan), Adam, batch 256, the
    same 3 epochs on the same 90 % training part, the validation loss on the
    other 10 % after every epoch and a copy of the best weights.
``full``
    A full fit with the default sizes and the paper's procedure (``PAPER``: one
    strand, ReLU, the weight criterion; 256 kernels pruned by halves to 4,
    early stopping) on
    ``--n`` simulated sequences (see ``fit_time.py``), against the same
    procedure in plain PyTorch (:func:`reference_fit`: train wide, keep the
    half of the kernels with the larger ``|dense weight|``, fine-tune with
    ``lr / 1.2**i``, the validation loss after every epoch, best weights
    restored, batch 256), which runs exactly as many epochs in each stage as
    the estimator's early stopping did.

``--ours-only`` times only the estimator's full default fit, e.g. on a large
ChIP-seq set: ``--chipseq FOLDER --kernel-size 15`` (DeepBind's ``_AC`` peaks
with one dinucleotide-shuffled negative each, as the user guide's results).

Usage::

    python benchmarks/full_fit.py [--repeats 3] [--n 4500] [--what epochs full]
    python benchmarks/full_fit.py --ours-only --chipseq DATA/ZNF143_... --kernel-size 15
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import instruction_set  # noqa: E402
from fit_time import peak_rss_mb, simulated_set  # noqa: E402

from sklearn_deepprune import DeepPruneClassifier  # noqa: E402
from sklearn_deepprune.network import _fast_module  # noqa: E402

#: The paper's procedure, which the plain reference implements: one strand, a plain
#: ReLU, survivors by |dense weight|. The estimator's defaults differ (both strands of
#: DNA, the authors' leaky capped activation, the ablation criterion).
PAPER = {"strand": "forward", "activation": "relu", "criterion": "weight"}


def plain_network(n_kernels: int, kernel_size: int) -> nn.Sequential:
    """The DeepBind network as a careful plain-PyTorch user writes it."""
    return nn.Sequential(
        nn.Conv1d(4, n_kernels, kernel_size, padding="same"),
        nn.ReLU(),
        nn.AdaptiveMaxPool1d(1),
        nn.Flatten(),
        nn.Linear(n_kernels, 1),
    )


def keep_kernels(model: nn.Sequential, keep: torch.Tensor) -> nn.Sequential:
    """A smaller copy of ``model`` with only the kernels ``keep``."""
    conv, dense = model[0], model[4]
    smaller = plain_network(len(keep), conv.kernel_size[0])
    with torch.no_grad():
        smaller[0].weight.copy_(conv.weight[keep])
        smaller[0].bias.copy_(conv.bias[keep])
        smaller[4].weight.copy_(dense.weight[:, keep])
        smaller[4].bias.copy_(dense.bias)
    return smaller


def train_stage(model, lr, train, valid, max_epochs, patience, batch_size=256) -> int:
    """Adam with early stopping on the validation loss, best weights restored; epochs run."""
    (X, y), (X_valid, y_valid) = train, valid
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    best, best_state, since_best, epochs = float("inf"), None, 0, 0
    for _ in range(max_epochs):
        epochs += 1
        model.train()
        order = torch.randperm(len(X))
        for start in range(0, len(X), batch_size):
            rows = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(X[rows]).squeeze(1), y[rows])
            loss.backward()
            optimizer.step()
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(X_valid), batch_size):
                logits = model(X_valid[start : start + batch_size]).squeeze(1)
                total += float(loss_fn(logits, y_valid[start : start + batch_size])) * len(logits)
        loss = total / len(X_valid)
        if loss < best:
            best, best_state, since_best = loss, copy.deepcopy(model.state_dict()), 0
        else:
            since_best += 1
            if patience is not None and since_best >= patience:
                break
    model.load_state_dict(best_state)
    return epochs


def split(X: np.ndarray, y: np.ndarray, seed: int):
    """Float32 tensors of a stratified 90 / 10 training / validation split."""
    rows = np.arange(len(y))
    train, valid = train_test_split(rows, test_size=0.1, stratify=y, random_state=seed)

    def part(rows):
        return torch.as_tensor(X[rows], dtype=torch.float32), torch.as_tensor(
            y[rows], dtype=torch.float32
        )

    return part(train), part(valid)


def reference_fit(X, y, epochs_per_stage, kernel_size, seed, n_kernels=4, patience=None):
    """Deepprune's default procedure in plain PyTorch, ``epochs_per_stage`` epochs per stage.

    With ``patience=None`` every stage runs exactly its epochs (the same work
    as the estimator did), still tracking the validation loss and the best
    weights; with an int it may also stop earlier by its own early stopping.
    """
    torch.manual_seed(seed)
    train, valid = split(X, y, seed)
    steps = len(epochs_per_stage) - 1
    model = plain_network(n_kernels * 2**steps, kernel_size)
    epochs = []
    for step, max_epochs in enumerate(epochs_per_stage):
        if step > 0:
            importance = model[4].weight.detach().abs()[0]
            keep = torch.sort(torch.argsort(importance, descending=True)[: len(importance) // 2])
            model = keep_kernels(model, keep.values)
        epochs.append(train_stage(model, 0.01 / 1.2**step, train, valid, max_epochs, patience))
    return epochs


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def ours_fit(X, y, seed, **params):
    """Fit the estimator; return the epochs per stage (and print the seconds per stage)."""
    # Max pooling, as the reference network's AdaptiveMaxPool1d (like with like).
    clf = DeepPruneClassifier(random_state=seed, **{"pooling": "max", **params}).fit(X, y)
    history = clf.pruning_history_
    print(
        "  ours, seconds per stage (kernels: s): "
        + ", ".join(f"{row['n_kernels']}: {row['seconds']:.1f}" for row in history),
        flush=True,
    )
    return [row["epochs"] for row in history]


def compare_epochs(args) -> None:
    """Goal: 256 kernels, 3 epochs, the estimator against the plain loop."""
    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (args.n_epochs_data, 101), generator=gen)
    X = nn.functional.one_hot(codes, 4).permute(0, 2, 1).to(torch.uint8).numpy().copy()
    y = np.random.RandomState(0).randint(0, 2, len(X))
    params = dict(variant="baseline", n_kernels=256, max_epochs=3, kernel_size=args.kernel_size)
    params.update(PAPER)
    ours_fit(X[:512], y[:512], 0, **params)  # warm-up (numba's first call)
    times = {"plain": [], "ours uint8": [], "ours float32": [], "ours uint8, both strands": []}
    X_float = X.astype(np.float32)
    both = dict(params, strand="both")
    for repeat in range(args.repeats):
        times["ours uint8"].append(timed(ours_fit, X, y, repeat, **params)[0])
        times["plain"].append(timed(reference_fit, X, y, [3], args.kernel_size, repeat, 256)[0])
        times["ours float32"].append(timed(ours_fit, X_float, y, repeat, **params)[0])
        times["ours uint8, both strands"].append(timed(ours_fit, X, y, repeat, **both)[0])
    report(f"epochs: 256 kernels, 3 epochs, {len(X)} sequences", times)


def compare_full(args) -> None:
    """Goal: a full default fit against the same procedure in plain PyTorch."""
    X, y, _, _ = simulated_set(args.n, 1, args.seed)
    ours_fit(X[:512], y[:512], 0, max_epochs=1, kernel_size=args.kernel_size)  # warm-up
    times = {"plain": [], "ours uint8": []}
    for repeat in range(args.repeats):
        seconds, epochs = timed(ours_fit, X, y, repeat, kernel_size=args.kernel_size, **PAPER)
        times["ours uint8"].append(seconds)
        seconds, plain_epochs = timed(reference_fit, X, y, epochs, args.kernel_size, repeat)
        times["plain"].append(seconds)
        print(f"  repeat {repeat}: epochs per stage ours {epochs}, plain {plain_epochs}")
    report(f"full default fit (256 -> 4, w={args.kernel_size}), {len(X)} sequences", times)


def ours_only(args) -> None:
    """Time one full default fit of the estimator (simulated or ChIP-seq data)."""
    if args.chipseq:
        from sklearn_deepprune import SequenceOneHotEncoder
        from sklearn_deepprune.datasets import load_chipseq

        data = load_chipseq(args.chipseq, negatives="shuffle", random_state=0)
        encoder = SequenceOneHotEncoder(dtype=np.uint8, unknown="zero")
        X, y = encoder.fit_transform(data.train.sequences), np.asarray(data.train.target)
        what = os.path.basename(os.path.normpath(args.chipseq))
    else:
        X, y, _, _ = simulated_set(args.n, 1, args.seed)
        what = "simulated"
    settings = {} if args.strand is None else {"strand": args.strand}
    seconds, epochs = timed(ours_fit, X, y, args.seed, kernel_size=args.kernel_size, **settings)
    print(
        f"full default fit ({settings or 'all defaults'}), {what}: {len(X)} sequences of "
        f"{X.shape[2]} bp, "
        f"w={args.kernel_size}: {seconds:.1f} s, epochs per stage {epochs}, "
        f"peak RSS {peak_rss_mb():.0f} MiB",
        flush=True,
    )


def report(what: str, times: dict) -> None:
    plain = statistics.median(times["plain"])
    print(f"{what}: plain PyTorch {plain:.1f} s (median of {len(times['plain'])})", end="")
    for name, seconds in times.items():
        if name != "plain":
            ratios = [p / s for p, s in zip(times["plain"], seconds, strict=True)]
            print(
                f" | {name} {statistics.median(seconds):.1f} s, "
                f"{statistics.median(ratios):.2f}x faster (ratios "
                f"{', '.join(f'{r:.2f}' for r in ratios)})",
                end="",
            )
    print(flush=True)


def main(argv=None) -> None:
    """Run the comparisons and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=4500, help="sequences of the full fit")
    parser.add_argument("--n-epochs-data", type=int, default=8192)
    parser.add_argument("--kernel-size", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--what", nargs="+", default=["epochs", "full"])
    parser.add_argument("--ours-only", action="store_true", help="time the estimator only")
    parser.add_argument(
        "--strand", choices=["forward", "both"], default=None, help="--ours-only: strand="
    )
    parser.add_argument("--chipseq", help="with --ours-only: a DeepBind ChIP-seq folder")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Using padding='same'")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, fused numba kernels "
        f"{'on' if _fast_module() else 'off'}",
        flush=True,
    )
    print(instruction_set(), flush=True)
    if args.ours_only:
        ours_only(args)
        return
    if "epochs" in args.what:
        compare_epochs(args)
    if "full" in args.what:
        compare_full(args)


if __name__ == "__main__":
    main()
