"""``deepprune simulate``: write one of the paper's simulated data sets to files."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands) -> None:
    """Add the ``simulate`` command to ``commands`` (argparse subparsers)."""
    simulate = commands.add_parser(
        "simulate",
        help="write one of the paper's simulated data sets to files",
        description="Write simulated set K of the paper (random DNA, positives with one "
        "planted motif instance) as OUTPUT/train.data and OUTPUT/test.data (lines "
        "'>ID SEQUENCE LABEL', readable by 'deepprune fit' and 'deepprune sweep') and the "
        "planted motifs as OUTPUT/motifs.meme.",
    )
    simulate.add_argument(
        "set", type=int, choices=range(1, 6), metavar="K", help="simulated set, 1 to 5"
    )
    simulate.add_argument("-o", "--output", required=True, help="folder to write")
    simulate.add_argument(
        "--n-samples", type=int, default=10_000, help="train (and test) size (10000)"
    )
    simulate.add_argument("--length", type=int, default=101, help="sequence length (101)")
    simulate.add_argument(
        "--motif-dir",
        default=None,
        help="motif files to plant instead of the shipped JASPAR motifs",
    )
    simulate.add_argument("--seed", type=int, default=0, help="random seed (0)")
    simulate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write simulated set ``args.set`` to ``args.output``."""
    from sklearn_deepprune.datasets import make_paper_simulation, write_meme_pfms

    data = make_paper_simulation(
        args.set,
        n_samples=args.n_samples,
        length=args.length,
        motif_dir=args.motif_dir,
        random_state=args.seed,
    )
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    for part in ("train", "test"):
        bunch = data[part]
        lines = (
            f">{part}_{i} {sequence} {label}\n"
            for i, (sequence, label) in enumerate(zip(bunch.sequences, bunch.target, strict=True))
        )
        (output / f"{part}.data").write_text("".join(lines))
    write_meme_pfms(
        dict(zip(data.motif_ids, data.motifs, strict=True)),
        output / "motifs.meme",
        alternate_names=dict(zip(data.motif_ids, data.motif_names, strict=True)),
    )
    print(
        f"wrote simulated set {args.set} ({args.n_samples} train + {args.n_samples} test "
        f"sequences, motifs {', '.join(data.motif_names)}) to {output}"
    )
    return 0
