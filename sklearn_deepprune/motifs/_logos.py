"""Sequence logos of motifs, optionally over their Tomtom matches (logomaker)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.encoding import ALPHABET
from sklearn_deepprune.motifs._pfm import Motif, _column_ic

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def _draw_heights(ax: Any, heights: np.ndarray, first: int) -> None:
    """A logo of letter heights ``(w, 4)`` (A, C, G, T) with its first row at x = ``first``.

    Negative heights are drawn below zero, upside down.
    """
    import logomaker
    import pandas as pd
    from matplotlib import ticker

    frame = pd.DataFrame(
        heights, columns=list(ALPHABET), index=np.arange(first, first + len(heights))
    )
    with warnings.catch_warnings():
        # All heights zero (an uninformative motif): logomaker sets equal y limits, which
        # matplotlib widens with a warning; the callers set the limits they want.
        warnings.filterwarnings("ignore", message="Attempting to set identical low and high")
        logomaker.Logo(frame, ax=ax, color_scheme="classic")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_logo(ax: Any, pfm: np.ndarray, first: int) -> None:
    """Information-content logo of ``pfm`` with its first row at x = ``first``."""
    _draw_heights(ax, pfm * _column_ic(pfm)[:, np.newaxis], first)
    ax.set_ylim(0, np.log2(len(ALPHABET)))
    ax.set_ylabel("bits")


def plot_logos(
    motifs: Motif | Iterable[Motif],
    matches: pd.DataFrame | None = None,
    *,
    show_match: bool = True,
    panel_size: tuple[float, float] = (7.0, 1.5),
    path: str | os.PathLike | None = None,
    dpi: int = 100,
) -> Figure:
    """Information-content logos, one panel per motif, optionally over their matches.

    Parameters
    ----------
    motifs : Motif or iterable of Motif
        The motifs, e.g. from :func:`extract_motifs` or :func:`trim`.
    matches : pandas.DataFrame or None, default=None
        Output of :func:`compare_motifs` for these motifs. Each motif's best
        match (its first row) goes into its title.
    show_match : bool, default=True
        With ``matches``, draw each matched target's logo above its motif,
        aligned by Tomtom's offset (reverse complemented for orientation
        ``"-"``), so that a panel is two stacked axes.
    panel_size : tuple of float, default=(7.0, 1.5)
        Width and height in inches of one logo.
    path : str, path-like or None, default=None
        If given, also save the figure there; the suffix picks the format
        (``.png``, ``.svg``, ``.pdf``, ...).
    dpi : int, default=100
        Resolution of raster output.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; a motif's x axis is its position in the kernel. Titles
        give the kernel, dense weight, number of sites and best match with
        its E-value, where known.

    Raises
    ------
    ImportError
        If logomaker, matplotlib or pandas is missing.

    See Also
    --------
    compare_motifs : Tomtom matches to draw alongside.

    Examples
    --------
    >>> from sklearn_deepprune.motifs import Motif, plot_logos
    >>> fig = plot_logos([Motif("toy", [[0.9, 0.05, 0.03, 0.02], [0.1, 0.1, 0.7, 0.1]])])
    >>> len(fig.axes)
    1
    """
    for module in ("logomaker", "pandas"):
        import_optional(module, "motifs", "plot_logos")
    figure_module = import_optional("matplotlib.figure", "motifs", "plot_logos")
    motifs = [motifs] if isinstance(motifs, Motif) else list(motifs)
    if not motifs:
        raise ValueError("plot_logos got no motif")
    best = {}
    target_pfms = {}
    if matches is not None:
        best = {row.query: row for row in matches.drop_duplicates("query").itertuples()}
        target_pfms = matches.attrs.get("target_pfms", {})
    drawn = [best.get(motif.name) if show_match else None for motif in motifs]
    drawn = [
        match if match is not None and match.target_id in target_pfms else None for match in drawn
    ]
    n_axes = len(motifs) + sum(match is not None for match in drawn)
    figure = figure_module.Figure(
        figsize=(panel_size[0], panel_size[1] * n_axes), dpi=dpi, layout="constrained"
    )
    axes = iter(figure.subplots(n_axes, 1, squeeze=False)[:, 0])
    for motif, match in zip(motifs, drawn, strict=True):
        if match is not None:
            target_ax = next(axes)
            target = target_pfms[match.target_id]
            if match.orientation == "-":
                target = target[::-1, ::-1]
            _draw_logo(target_ax, target, motif.start - match.offset)
            target_ax.set_title(_target_label(match), fontsize=9, loc="left")
        ax = next(axes)
        _draw_logo(ax, motif.pfm, motif.start)
        ax.set_title(_logo_title(motif, best.get(motif.name)), fontsize=9, loc="left")
        if match is not None:
            ax.sharex(target_ax)
            low = min(motif.start, motif.start - match.offset) - 0.5
            high = max(motif.start + motif.width, motif.start - match.offset + len(target))
            ax.set_xlim(low, high - 0.5)
    if path is not None:
        figure.savefig(path, dpi=dpi)
    return figure


def _target_label(match: Any) -> str:
    if match.target_name == match.target_id:
        return str(match.target_id)
    return f"{match.target_name} ({match.target_id})"


def _logo_title(motif: Motif, match: Any) -> str:
    parts = [motif.name if motif.kernel is None else f"kernel {motif.kernel}"]
    if motif.dense_weight is not None:
        parts.append(f"dense weight {motif.dense_weight:+.2f}")
    if motif.n_sites is not None:
        parts.append(f"{motif.n_sites} sites")
    if match is not None:
        parts.append(f"best match {_target_label(match)}, E = {match.e_value:.2g}")
    return " | ".join(parts)
