"""Optional dependencies: imported when first needed, with an error naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(module: str, extra: str, purpose: str = "this") -> ModuleType:
    """Import ``module`` or raise an ImportError saying which extra installs it.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"pandas"`` or ``"matplotlib.figure"``.
    extra : str
        The ``pyproject.toml`` extra that provides it, e.g. ``"motifs"``.
    purpose : str, default="this"
        What needs it, for the message (e.g. ``"compare_motifs"``).

    Returns
    -------
    module
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{purpose} needs the optional package {module.split('.')[0]}, part of the "
            f'{extra!r} extra: pip install "sklearn-deepprune[{extra}]"'
        ) from error
