"""Training and prediction throughput: plain PyTorch Conv1d vs the library's network.

In one process, on the same random one-hot data, trains for the same number of
Adam steps (batch 256, binary cross-entropy) a plain PyTorch model --
``Conv1d(4 -> K, width 24, padding='same')``, ReLU, global max pool, Linear --
fed float32 one-hot batches, and :class:`~sklearn_deepprune.network.MotifScanNet`
with each scanner, fed uint8 one-hot batches (what the estimator trains on),
at 256, 64 and 4 kernels; prints sequences per second and the ratio to the
reference. Then prediction throughput (no gradient, batches of 4096).

Rounds alternate between the models and the best round counts, so that other
load on the machine disturbs the comparison as little as possible; the
sequences per CPU-second (process CPU time, all threads) in brackets are a
second view that is less sensitive to such load.

Usage::

    python benchmarks/train_throughput.py [--steps 20] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from torch import nn
from torch.nn import functional as F

from sklearn_deepprune.network import SCANNERS, MotifScanNet, default_scanner


class PlainConvNet(nn.Module):
    """The reference: the DeepBind network written the plain PyTorch way.

    Parameters
    ----------
    n_kernels : int
        Number of convolution kernels.
    kernel_size : int
        Kernel width.
    """

    def __init__(self, n_kernels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(4, n_kernels, kernel_size, padding="same")
        self.dense = nn.Linear(n_kernels, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits of a float one-hot batch ``(n, 4, L)``."""
        return self.dense(F.relu(self.conv(X)).amax(dim=2)).squeeze(1)


def make_data(n: int, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random uint8 one-hot DNA ``(n, 4, L)`` and random binary labels."""
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, length), generator=gen)
    X = F.one_hot(codes, 4).permute(0, 2, 1).to(torch.uint8).contiguous()
    y = torch.randint(0, 2, (n,), generator=gen).float()
    return X, y


def train_seconds(model, X, y, steps, batch_size, as_float) -> float:
    """Wall and CPU seconds for ``steps`` Adam steps (batches cast per step)."""
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(X)
    start = time.perf_counter(), time.process_time()
    for step in range(steps):
        i = (step * batch_size) % (n - batch_size + 1)
        xb = X[i : i + batch_size]
        if as_float:
            xb = xb.float()
        opt.zero_grad()
        loss = loss_fn(model(xb), y[i : i + batch_size])
        loss.backward()
        opt.step()
    return time.perf_counter() - start[0], time.process_time() - start[1]


def predict_seconds(model, X, batch_size, as_float) -> float:
    """Wall and CPU seconds to compute the logits of all of ``X`` without gradients."""
    model.eval()
    start = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            xb = X[i : i + batch_size]
            model(xb.float() if as_float else xb)
    model.train()
    return time.perf_counter() - start[0], time.process_time() - start[1]


def report(what, n_kernels, n_sequences, best, scanners) -> None:
    """Print sequences per wall second (and per CPU second) and the ratios."""
    wall = {name: n_sequences / s[0] for name, s in best.items()}
    cpu = {name: n_sequences / s[1] for name, s in best.items()}
    ref = "plain Conv1d"
    print(
        f"{what} K={n_kernels:3d}: {ref} {wall[ref]:7.0f} seq/s [{cpu[ref]:6.0f}/CPU-s] | "
        + " | ".join(
            f"{s} {wall[s]:7.0f} seq/s ({wall[s] / wall[ref]:.2f}x) "
            f"[{cpu[s]:6.0f}/CPU-s, {cpu[s] / cpu[ref]:.2f}x]"
            for s in scanners
        ),
        flush=True,
    )


def main(argv=None) -> None:
    """Run the benchmark and print one line per kernel count and model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; best counts")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--length", type=int, default=101)
    parser.add_argument("--kernel-size", type=int, default=24)
    parser.add_argument("--kernels", type=int, nargs="+", default=[256, 64, 4])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Using padding='same'")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"default scanner {default_scanner('cpu')!r}; batch {args.batch_size}, "
        f"L={args.length}, w={args.kernel_size}, {args.steps} steps x {args.rounds} rounds"
    )
    X, y = make_data(max(8192, args.batch_size * 4), args.length)
    scanners = [s for s in SCANNERS if s != "conv"]
    for n_kernels in args.kernels:
        torch.manual_seed(0)
        models = {"plain Conv1d": (PlainConvNet(n_kernels, args.kernel_size), True)}
        for scanner in scanners:
            torch.manual_seed(0)
            models[scanner] = (MotifScanNet(n_kernels, args.kernel_size, 4, scanner), False)
        best = {name: (float("inf"), float("inf")) for name in models}
        for model, as_float in models.values():  # warm-up
            train_seconds(model, X, y, 2, args.batch_size, as_float)
        for _ in range(args.rounds):
            for name, (model, as_float) in models.items():
                seconds = train_seconds(model, X, y, args.steps, args.batch_size, as_float)
                best[name] = tuple(map(min, best[name], seconds))
        report("train  ", n_kernels, args.steps * args.batch_size, best, scanners)
    for n_kernels in args.kernels:
        torch.manual_seed(0)
        models = {"plain Conv1d": (PlainConvNet(n_kernels, args.kernel_size), True)}
        for scanner in scanners:
            models[scanner] = (MotifScanNet(n_kernels, args.kernel_size, 4, scanner), False)
        best = {name: (float("inf"), float("inf")) for name in models}
        for _ in range(args.rounds):
            for name, (model, as_float) in models.items():
                seconds = predict_seconds(model, X, 4096, as_float)
                best[name] = tuple(map(min, best[name], seconds))
        report("predict", n_kernels, len(X), best, scanners)


if __name__ == "__main__":
    main()
