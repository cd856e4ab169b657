"""What the ``deepprune`` commands share: the parser class, the estimator options,
one-line warnings, and the checks of input and output paths made before any work."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from sklearn_deepprune.classifier import VARIANTS
from sklearn_deepprune.network import ACTIVATIONS, POOLINGS, STRANDS
from sklearn_deepprune.pruning import CRITERIA, SCHEDULES

FASTA_SUFFIXES = (".fa", ".fasta", ".fna")
PEAK_SUFFIXES = (".bed", ".narrowpeak", ".broadpeak", ".bed3", ".bed6")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``deepprune: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"deepprune: error: {message} (see '{self.prog} --help')\n")


def add_estimator_options(parser: argparse.ArgumentParser, sweep: bool = False) -> None:
    """Add the model options of ``fit`` (``sweep=False``) or ``sweep`` to ``parser``."""
    group = parser.add_argument_group("model")
    if not sweep:
        group.add_argument("--n-kernels", type=int, default=4, help="final kernel count (4)")
        group.add_argument(
            "--variant", choices=VARIANTS, default="deepprune", help="training variant (deepprune)"
        )
        group.add_argument(
            "--criterion",
            choices=sorted(CRITERIA),
            default="ablation",
            help="pruning criterion; the paper's is weight (ablation)",
        )
    default = "preset" if sweep else "6"
    group.add_argument(
        "--n-prune-steps",
        type=int,
        default=None,
        help=f"halving steps; pruning starts at n_kernels * 2**steps kernels ({default})",
    )
    group.add_argument(
        "--kernel-size",
        type=int,
        default=24,
        help="kernel width: 24 for simulated data, 15 for ChIP-seq (24)",
    )
    default = "preset" if sweep else "1000"
    group.add_argument(
        "--max-epochs", type=int, default=None, help=f"maximum epochs per stage ({default})"
    )
    default = "preset" if sweep else "15"
    group.add_argument(
        "--patience",
        type=int,
        default=None,
        help=f"early-stopping patience in epochs ({default})",
    )
    group.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (0.01)")
    group.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default="leaky_capped",
        help="kernel activation: relu (the paper's text) or leaky_capped (the authors' code) "
        "(leaky_capped)",
    )
    group.add_argument(
        "--strand",
        choices=["auto", *STRANDS],
        default="auto",
        help="forward (the paper), both (each kernel also scans the reverse complement) or "
        "auto: both for DNA (auto)",
    )
    group.add_argument(
        "--pooling",
        choices=POOLINGS,
        default=None,
        help="lse: a soft maximum over sites with a learned sharpness per kernel (the "
        "default: keeps more of the wide network's accuracy at 4 kernels; trains several "
        "times slower); max: each kernel's best site (the paper; fast); max_avg: also its "
        "mean activation (DeepBind's pooling)",
    )
    group.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=None,
        help="gradual (the default): halve down to 16 kernels, then remove a quarter per "
        "step (keeps more accuracy at 4 kernels; slower); halving: keep half at each step "
        "(the paper)",
    )
    group.add_argument(
        "--distill",
        type=float,
        default=None,
        metavar="D",
        help="fine-tune the pruned stages on (1 - D) * labels + D * the wide network's "
        "probabilities; 0: labels only, as the paper (the estimator's default)",
    )
    group.add_argument("--device", default="cpu", help="torch device, e.g. cuda (cpu)")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of simulated data sets to ``parser``."""
    group = parser.add_argument_group("simulated data")
    group.add_argument(
        "--n-samples",
        type=int,
        default=None,
        help="train (and test) size of simulated sets",
    )
    group.add_argument(
        "--motif-dir",
        default=None,
        help="folder of motif files for simulated sets (e.g. the paper's TRANSFAC motifs, with "
        "simulated1..simulated5 subfolders); default: JASPAR motifs shipped with the package",
    )


def estimator_params(args: argparse.Namespace, preset: dict[str, Any] | None = None) -> dict:
    """The DeepPruneClassifier parameters the command line sets (``preset`` fills the rest)."""
    params = {
        "kernel_size": args.kernel_size,
        "lr": args.lr,
        "device": args.device,
        "activation": args.activation,
        "strand": args.strand,
    }
    for name in ("pooling", "schedule", "distill"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    for name in ("n_prune_steps", "max_epochs", "patience"):
        value = getattr(args, name)
        if value is None and preset is not None:
            value = preset[name]
        if value is not None:
            params[name] = value
    return params


def is_peak_file(path: str | Path) -> bool:
    """Whether ``path`` is named as a BED/narrowPeak file (optionally gzipped)."""
    name = Path(path).name.lower().removesuffix(".gz")
    return name.endswith(PEAK_SUFFIXES)


def is_fasta_file(path: str | Path) -> bool:
    """Whether ``path`` is named as a FASTA file (optionally gzipped)."""
    return Path(path).name.lower().removesuffix(".gz").endswith(FASTA_SUFFIXES)


def model_file(path: str) -> Path:
    """The model file of ``path``: the file itself, or ``model.deepprune`` in a fit folder."""
    model = Path(path)
    if model.is_dir():
        if not (model / "model.deepprune").is_file():
            raise ValueError(
                f"{model} holds no model.deepprune (the model file 'deepprune fit' writes)"
            )
        return model / "model.deepprune"
    return model


def check_output_folder(output: Path) -> None:
    """Raise a ValueError unless ``output`` is, or can become, a folder to write in.

    Called before any work, so that a bad ``-o`` fails at once rather than
    after training; it leaves nothing behind.
    """
    if output.exists() and not output.is_dir():
        raise ValueError(f"output {output} exists and is not a folder")
    created = []
    folder = output
    while not folder.exists():
        created.append(folder)
        folder = folder.parent
    try:
        for path in reversed(created):
            path.mkdir()
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ValueError(f"cannot write to the output folder {output}: {reason}") from None
    finally:
        for path in created:
            with contextlib.suppress(OSError):
                path.rmdir()


def check_device_option(device: str | None) -> None:
    """Raise a ValueError, in the terms of ``--device``, unless it names a device that is there.

    Called before any work; ``None`` (the model's own device) passes.
    """
    if device is None or device == "cpu":
        return
    from sklearn_deepprune.classifier import _check_device

    try:
        _check_device(device)
    except ValueError as exc:  # in Python's terms (device='cuda'): restate them in the flag's
        message = str(exc).replace(f"device={device!r}", f"--device {device!r}")
        raise ValueError(message.replace("device='cpu'", "--device cpu")) from None


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one ``deepprune: warning: ...`` line (no source location)."""
    text = " ".join(str(message).split()) or category.__name__
    print(f"deepprune: warning: {text}", file=file or sys.stderr)


def print_error(exc: BaseException) -> None:
    """Print ``exc`` as one ``deepprune: error: ...`` line on stderr."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"deepprune: error: {message}", file=sys.stderr)
