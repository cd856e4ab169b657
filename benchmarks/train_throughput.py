"""Training and prediction throughput: plain PyTorch networks vs the library's network.

In one process, on the same random one-hot data, trains for the same number of
Adam steps (batch 256, binary cross-entropy) two plain PyTorch models fed
float32 one-hot batches -- the reference a careful user writes,
``Conv1d(4 -> K, width 24, padding='same') -> ReLU -> AdaptiveMaxPool1d(1) ->
Linear``, and a naive one that takes the global max with ``amax(dim=2)``
(whose backward builds a dense mask over every position) -- and
:class:`~sklearn_deepprune.network.MotifScanNet` with the ``"scan"`` scanner,
fed uint8 one-hot batches (what the estimator trains on) and float32 ones,
through autograd, and once more on uint8 batches with the estimator's
training step (``fused step``: :func:`sklearn_deepprune._training.fused_step`,
the same loss and gradients without autograd), at 256, 64, 16 and 4 kernels;
prints sequences per second and the ratio to the ``AdaptiveMaxPool1d``
reference. Then prediction throughput (no gradient,
batches of 4096).

Rounds alternate between the models; the median round counts (the best with
``--best``), so that other load on the machine disturbs the comparison as
little as possible; the sequences per CPU-second (process CPU time, all
threads) in brackets are a second view that is less sensitive to such load.

Usage::

    python benchmarks/train_throughput.py [--steps 20] [--rounds 5] [--threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import warnings

import torch
from _machine import instruction_set
from torch import nn
from torch.nn import functional as F

from sklearn_deepprune import network
from sklearn_deepprune._training import fused_step
from sklearn_deepprune.network import SCANNERS, MotifScanNet, default_scanner


class PlainConvNet(nn.Module):
    """The reference: the DeepBind network written the plain PyTorch way.

    Parameters
    ----------
    n_kernels : int
        Number of convolution kernels.
    kernel_size : int
        Kernel width.
    pool : {"adaptive", "amax"}, default="adaptive"
        The global max: :class:`torch.nn.AdaptiveMaxPool1d` (what a careful
        user writes) or ``amax(dim=2)`` (slower to train: its backward builds
        a dense mask over every position).
    """

    def __init__(self, n_kernels: int, kernel_size: int, pool: str = "adaptive"):
        super().__init__()
        self.conv = nn.Conv1d(4, n_kernels, kernel_size, padding="same")
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveMaxPool1d(1) if pool == "adaptive" else None
        self.dense = nn.Linear(n_kernels, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits of a float one-hot batch ``(n, 4, L)``."""
        scores = self.relu(self.conv(X))
        scores = self.pool(scores).squeeze(2) if self.pool is not None else scores.amax(dim=2)
        return self.dense(scores).squeeze(1)


def make_data(n: int, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random uint8 one-hot DNA ``(n, 4, L)`` and random binary labels."""
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, length), generator=gen)
    X = F.one_hot(codes, 4).permute(0, 2, 1).to(torch.uint8).contiguous()
    y = torch.randint(0, 2, (n,), generator=gen).float()
    return X, y


def train_seconds(model, X, y, steps, batch_size, as_float, fused=False) -> float:
    """Wall and CPU seconds for ``steps`` Adam steps (batches cast per step).

    ``fused``: the gradients by :func:`fused_step` (the estimator's step), not autograd.
    """
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(X)
    start = time.perf_counter(), time.process_time()
    with threads_as_in_the_estimator(model, X):
        for step in range(steps):
            i = (step * batch_size) % (n - batch_size + 1)
            xb = X[i : i + batch_size]
            if as_float:
                xb = xb.float()
            opt.zero_grad()
            if not (fused and fused_step(model, xb, y[i : i + batch_size]) is not None):
                loss = loss_fn(model(xb), y[i : i + batch_size])
                loss.backward()
            opt.step()
    return time.perf_counter() - start[0], time.process_time() - start[1]


def threads_as_in_the_estimator(model, X):
    """The estimator's thread setting around training and prediction (no-op for the references).

    Where the fused numba kernels run, torch is held to one thread and the
    kernels use torch's threads (see ``network._fused_scan_threads``).
    """
    if isinstance(model, MotifScanNet):
        return network._fused_scan_threads(model, X[:64])
    return contextlib.nullcontext()


def predict_seconds(model, X, batch_size, as_float) -> float:
    """Wall and CPU seconds to compute the logits of all of ``X`` without gradients."""
    model.eval()
    start = time.perf_counter(), time.process_time()
    with torch.no_grad(), threads_as_in_the_estimator(model, X):
        for i in range(0, len(X), batch_size):
            xb = X[i : i + batch_size]
            model(xb.float() if as_float else xb)
    model.train()
    return time.perf_counter() - start[0], time.process_time() - start[1]


REFERENCE = "plain AdaptiveMaxPool1d"


#: The models whose training steps use the estimator's fused step.
FUSED = "scan uint8, fused step"


def build_models(n_kernels: int, kernel_size: int, scanners) -> dict:
    """Name -> (model, feed float32) for the references and each scanner (uint8 and float32)."""
    torch.manual_seed(0)
    models = {REFERENCE: (PlainConvNet(n_kernels, kernel_size), True)}
    torch.manual_seed(0)
    models["plain amax"] = (PlainConvNet(n_kernels, kernel_size, pool="amax"), True)
    for scanner in scanners:
        for as_float in (False, True):
            torch.manual_seed(0)
            name = f"{scanner} {'float32' if as_float else 'uint8'}"
            models[name] = (MotifScanNet(n_kernels, kernel_size, 4, scanner), as_float)
    if "scan" in scanners:
        torch.manual_seed(0)
        models[FUSED] = (MotifScanNet(n_kernels, kernel_size, 4, "scan"), False)
    return models


def report(what, n_kernels, n_sequences, rounds, pick) -> None:
    """Print sequences per wall second (and per CPU second) and the ratios to the reference."""
    wall = {name: n_sequences / pick(s[0] for s in r) for name, r in rounds.items()}
    cpu = {name: n_sequences / pick(s[1] for s in r) for name, r in rounds.items()}
    ref = REFERENCE
    print(
        f"{what} K={n_kernels:3d}: {ref} {wall[ref]:7.0f} seq/s [{cpu[ref]:6.0f}/CPU-s] | "
        + " | ".join(
            f"{s} {wall[s]:7.0f} seq/s ({wall[s] / wall[ref]:.2f}x) "
            f"[{cpu[s]:6.0f}/CPU-s, {cpu[s] / cpu[ref]:.2f}x]"
            for s in rounds
            if s != ref
        ),
        flush=True,
    )


def main(argv=None) -> None:
    """Run the benchmark and print one line per kernel count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--best", action="store_true", help="best round instead of the median")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--length", type=int, default=101)
    parser.add_argument("--kernel-size", type=int, default=24)
    parser.add_argument("--kernels", type=int, nargs="+", default=[256, 64, 16, 4])
    parser.add_argument("--scanners", nargs="+", default=["scan"], choices=SCANNERS)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Using padding='same'")
    if args.threads:
        torch.set_num_threads(args.threads)
    pick = min if args.best else statistics.median
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"default scanner {default_scanner('cpu')!r}, fused numba kernels "
        f"{'on' if network._fast_module() else 'off (numba missing)'}; batch "
        f"{args.batch_size}, L={args.length}, w={args.kernel_size}, {args.steps} steps x "
        f"{args.rounds} rounds, {'best' if args.best else 'median'} round"
    )
    print(instruction_set())
    X, y = make_data(max(8192, args.batch_size * 4), args.length)
    for n_kernels in args.kernels:
        models = build_models(n_kernels, args.kernel_size, args.scanners)
        rounds = {name: [] for name in models}
        for name, (model, as_float) in models.items():  # warm-up (and numba's first call)
            train_seconds(model, X, y, 2, args.batch_size, as_float, name == FUSED)
        for _ in range(args.rounds):
            for name, (model, as_float) in models.items():
                rounds[name].append(
                    train_seconds(
                        model, X, y, args.steps, args.batch_size, as_float, name == FUSED
                    )
                )
        report("train  ", n_kernels, args.steps * args.batch_size, rounds, pick)
    for n_kernels in args.kernels:
        models = build_models(n_kernels, args.kernel_size, args.scanners)
        models.pop(FUSED, None)  # the same forward pass as "scan uint8"
        rounds = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, (model, as_float) in models.items():
                rounds[name].append(predict_seconds(model, X, 4096, as_float))
        report("predict", n_kernels, len(X), rounds, pick)


if __name__ == "__main__":
    main()
