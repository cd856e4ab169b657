"""The ``deepprune`` command: simulate data, fit a model, predict, run a sweep, report.

Run ``deepprune --help`` or ``deepprune COMMAND --help``. Errors are reported
as one line on stderr (``deepprune: error: ...``), with exit status 2 for a
wrong command line and 1 for anything that fails while running.

Each command is one module of this package, holding both its options
(``add_parser``) and what it runs (``run``); :data:`COMMANDS` lists them in the
order ``deepprune --help`` shows them. What several commands share lives in
``_common``.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence

from sklearn_deepprune.cli._common import Parser, print_error, show_warning
from sklearn_deepprune.cli.sweep import PRESETS

__all__ = ["COMMANDS", "PRESETS", "build_parser", "main"]

#: The commands, each a module ``sklearn_deepprune.cli.NAME`` with ``add_parser`` and ``run``.
COMMANDS = ("simulate", "fit", "predict", "variants", "scan", "sweep", "report")


def build_parser() -> Parser:
    """Return the ``deepprune`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
        With one subcommand per entry of :data:`COMMANDS`; each sets ``run``,
        the function that runs it.
    """
    from sklearn_deepprune._version import __version__

    parser = Parser(
        prog="deepprune",
        description="Deepprune: DeepBind-style CNNs trained wide and pruned to a few "
        "interpretable motif detectors (Luo, Chi & Deng 2019).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``deepprune`` command.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 when the command fails, 130 when
        interrupted. A wrong command line exits with status 2 from argparse.
    """
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return args.run(args)
    except KeyboardInterrupt:
        print(
            "deepprune: interrupted"
            + (
                f"; finished fits are kept in {args.output}, rerun to resume"
                if args.command == "sweep"
                else ""
            ),
            file=sys.stderr,
        )
        return 130
    except (ValueError, TypeError, OSError, ImportError, EOFError) as exc:
        print_error(exc)
        return 1
