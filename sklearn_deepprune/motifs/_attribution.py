"""Which bases a prediction depends on: in-silico mutagenesis, gradient x input, and a plot."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from torch import nn

from sklearn_deepprune._optional import import_optional
from sklearn_deepprune.classifier import DeepPruneClassifier
from sklearn_deepprune.encoding import ALPHABET, SequenceOneHotEncoder
from sklearn_deepprune.motifs._logos import _draw_heights
from sklearn_deepprune.motifs._sites import _batches, _check_batch_size, _prepare
from sklearn_deepprune.network import MotifScanNet

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def _one_hot_columns(X: torch.Tensor | np.ndarray):
    """Which columns of ``(..., 4, L)`` are one-hot (a single 1, zeros elsewhere)."""
    return ((X == 1).sum(-2) == 1) & (X.sum(-2) == 1)


def in_silico_mutagenesis(
    estimator: DeepPruneClassifier | Pipeline, X: Any, *, batch_size: int = 8192
) -> np.ndarray:
    """Effect of every single-base substitution on the logit.

    Each sequence is mutated at every position to each of the four bases,
    and the fitted network scores every mutant (in batches, with its own
    scanner).

    Parameters
    ----------
    estimator : DeepPruneClassifier or Pipeline
        A fitted classifier, or a fitted pipeline ending in one, in which
        case ``X`` goes through the earlier steps first.
    X : array-like of shape (n, 4, L), or list of str for a pipeline
        The sequences: one-hot DNA for a classifier, the pipeline's input
        (DNA strings) for a pipeline.
    batch_size : int, default=8192
        Mutants scored at once, rounded down to whole sequences (``4 * L``
        mutants each) and at least one sequence; a mutant takes ``4 * L``
        floats.

    Returns
    -------
    effects : ndarray of shape (n, 4, L)
        ``effects[i, b, l]`` is the logit of sequence ``i`` with base ``b``
        (A, C, G, T) at position ``l`` minus the logit of sequence ``i``:
        positive where the substitution raises the predicted binding. It is
        exactly 0 for the base already there; a column that is not one-hot
        (an ``N``, padding) has four real substitutions. Minus the mean of a
        position's three substitution effects is how much the base there
        matters (what :func:`plot_attribution` draws).

    Raises
    ------
    TypeError, ValueError, sklearn.exceptions.NotFittedError
        As :func:`find_sites`.

    See Also
    --------
    gradient_x_input : A first-order estimate, one backward pass per batch.
    plot_attribution : Draw one sequence's map as a logo.

    Notes
    -----
    ``tangermeme.saturation_mutagenesis`` computes the same, but it casts
    the input to int8, which turns the encoder's uniform ``N`` columns
    (0.25 each) into zeros and so changes the reference prediction, and it
    mutates one sequence at a time; batching mutants of many sequences
    together is several times faster for these small networks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
    >>> from sklearn_deepprune.motifs import in_silico_mutagenesis
    >>> seqs = ["ACGTTGCAAC", "TTTTACGTAA", "GGGGCCCCAA", "ACACACACAC"] * 10
    >>> y = [1, 1, 0, 0] * 10
    >>> clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, kernel_size=4,
    ...                           max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(seqs, y)
    >>> effects = in_silico_mutagenesis(pipe, seqs[:2])
    >>> effects.shape
    (2, 4, 10)
    >>> float(effects[0, 0, 0])  # A at position 0 is already there
    0.0
    """
    batch_size = _check_batch_size(batch_size)
    _, module, X = _prepare(estimator, X, "in_silico_mutagenesis")
    n, n_channels, length = X.shape
    weight = module.conv.weight
    # Mutant j = b * L + l puts base b at position l.
    base = torch.arange(n_channels, device=weight.device).repeat_interleave(length)
    position = torch.arange(length, device=weight.device).repeat(n_channels)
    mutant = torch.arange(n_channels * length, device=weight.device)
    effects = np.empty((n, n_channels, length), dtype=np.float32)
    with torch.no_grad():
        for batch in _batches(n, max(1, batch_size // (n_channels * length))):
            X_batch = torch.as_tensor(X[batch]).to(weight.device, weight.dtype)
            size = len(X_batch)
            mutants = X_batch.unsqueeze(1).repeat(1, n_channels * length, 1, 1)
            mutants[:, mutant, :, position] = 0
            mutants[:, mutant, base, position] = 1
            logits = module(mutants.view(-1, n_channels, length)).view(size, n_channels, length)
            effect = logits - module(X_batch)[:, np.newaxis, np.newaxis]
            unchanged = (X_batch == 1) & _one_hot_columns(X_batch).unsqueeze(1)
            effects[batch] = effect.masked_fill_(unchanged, 0).cpu().numpy()
    return effects


class _Logit(nn.Module):
    """A network's logit as a ``(n, 1)`` output, the shape tangermeme expects."""

    def __init__(self, module: MotifScanNet):
        super().__init__()
        self.module = module

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.module(X).unsqueeze(1)


def gradient_x_input(
    estimator: DeepPruneClassifier | Pipeline,
    X: Any,
    *,
    gradient_correction: bool = False,
    batch_size: int = 256,
) -> np.ndarray:
    """Gradient of the logit with respect to the input, times the input.

    Computed by ``tangermeme.saliency`` on a copy of the final network that
    scans with :func:`torch.nn.functional.conv1d` (``scanner="conv"``), the
    faster scanners giving no gradient with respect to the input. Through
    the global max only each kernel's best window (on its best strand) has a
    gradient: the map shows the bases of the windows that make the kernel
    scores, weighted by the kernels' dense weights.

    Parameters
    ----------
    estimator : DeepPruneClassifier or Pipeline
        A fitted classifier, or a fitted pipeline ending in one, in which
        case ``X`` goes through the earlier steps first.
    X : array-like of shape (n, 4, L), or list of str for a pipeline
        The sequences: one-hot DNA for a classifier, the pipeline's input
        (DNA strings) for a pipeline.
    gradient_correction : bool, default=False
        Subtract the mean gradient over the four bases at each position
        before multiplying by the input (Majdandzic et al., Genome Biology
        2023), removing the component of the gradient that no one-hot
        sequence can follow.
    batch_size : int, default=256
        Sequences per forward and backward pass.

    Returns
    -------
    attributions : ndarray of shape (n, 4, L)
        ``X * d logit / d X``: non-zero only at the bases present.

    Raises
    ------
    ImportError
        If tangermeme is missing.
    TypeError, ValueError, sklearn.exceptions.NotFittedError
        As :func:`find_sites`.

    See Also
    --------
    in_silico_mutagenesis : The exact effect of each substitution.
    plot_attribution : Draw one sequence's map as a logo.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
    >>> from sklearn_deepprune.motifs import gradient_x_input
    >>> seqs = ["ACGTTGCAAC", "TTTTACGTAA", "GGGGCCCCAA", "ACACACACAC"] * 10
    >>> y = [1, 1, 0, 0] * 10
    >>> clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, kernel_size=4,
    ...                           max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(seqs, y)
    >>> gradient_x_input(pipe, seqs[:2]).shape
    (2, 4, 10)
    """
    batch_size = _check_batch_size(batch_size)
    saliency = import_optional("tangermeme.saliency", "motifs", "gradient_x_input").saliency
    _, module, X = _prepare(estimator, X, "gradient_x_input")
    conv = MotifScanNet(
        module.n_kernels,
        module.kernel_size,
        module.in_channels,
        "conv",
        activation=module.activation,
        strand=module.strand,
        pooling=module.pooling,
    )
    conv.load_state_dict(module.state_dict())
    device = module.conv.weight.device
    attributions = saliency(
        _Logit(conv.to(device)),
        torch.as_tensor(X).to(module.conv.weight.dtype),
        batch_size=batch_size,
        gradient_correction=gradient_correction,
        device=device,
    )
    return attributions.numpy()


def _spans(spans: Any, name: str, default_label: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, label, colour)`` of find_sites rows or ``(start, end[, label])`` tuples.

    A kernel's sites get colour ``C<kernel>`` (the same kernel, the same colour
    in every panel); tuples get one colour per label, in order.
    """
    if spans is None:
        return []
    if hasattr(spans, "columns"):  # a find_sites DataFrame
        if "sequence" in spans.columns and spans["sequence"].nunique() > 1:
            raise ValueError(
                f"{name} holds the sites of {spans['sequence'].nunique()} sequences; pass the "
                f"rows of the one drawn, e.g. sites[sites['sequence'] == i]"
            )
        return [
            (
                int(row.start),
                int(row.end),
                f"kernel {row.kernel} ({row.strand})",
                f"C{row.kernel % 10}",
            )
            for row in spans.itertuples()
        ]
    colours: dict[str, str] = {}
    found = []
    for span in spans:
        if len(span) not in (2, 3):
            raise ValueError(
                f"each of {name} must be (start, end) or (start, end, label); got {span!r}"
            )
        label = str(span[2]) if len(span) == 3 else default_label
        colour = colours.setdefault(label, f"C{len(colours) % 10}")
        found.append((int(span[0]), int(span[1]), label, colour))
    return found


def _letter_heights(attribution: np.ndarray, sequence: np.ndarray) -> np.ndarray:
    """``(4, L)`` letter heights: ``a[b] - mean(a[others])`` at the base ``b`` there, else 0."""
    present = (sequence == 1) & _one_hot_columns(sequence)
    observed = (attribution * present).sum(axis=0)
    others = (attribution.sum(axis=0) - observed) / (len(ALPHABET) - 1)
    return np.where(present, observed - others, 0.0)


def plot_attribution(
    attribution: Any,
    sequence: Any,
    *,
    sites: pd.DataFrame | Iterable[tuple] | None = None,
    highlight: Iterable[tuple] | None = None,
    ax: Any = None,
    title: str | None = None,
    figsize: tuple[float, float] = (10.0, 2.0),
    path: str | os.PathLike | None = None,
    dpi: int = 100,
) -> Figure:
    """Draw one sequence's attribution map as a sequence logo, with sites marked.

    Each position shows its base, as tall as the attribution of that base
    relative to the alternatives: ``a[b] - mean(a[other bases])`` for the
    base ``b`` there. For :func:`gradient_x_input` (zero at the other bases)
    that is the attribution itself; for :func:`in_silico_mutagenesis` (zero
    at the base there) it is minus the mean effect of substituting it. Bases
    that raise the logit stand above the axis, bases that lower it hang below.

    Parameters
    ----------
    attribution : array-like of shape (4, L)
        One sequence's map, e.g. ``in_silico_mutagenesis(clf, X)[i]``.
    sequence : array-like of shape (4, L), or str of length L
        The sequence, one-hot (``X[i]``) or as DNA; positions that are not
        one-hot (``N``) get no letter.
    sites : pandas.DataFrame, iterable of tuples, or None, default=None
        Spans to shade: rows of :func:`find_sites` for this sequence
        (labelled by kernel and strand, one colour per kernel), or
        ``(start, end)`` / ``(start, end, label)`` tuples; 0-based, end
        exclusive.
    highlight : iterable of tuples or None, default=None
        Spans to outline with a dashed box, e.g. a planted site:
        ``(start, end)`` or ``(start, end, label)``.
    ax : matplotlib.axes.Axes or None, default=None
        Where to draw; ``None`` makes a new figure.
    title : str or None, default=None
        Title of the axes.
    figsize : tuple of float, default=(10.0, 2.0)
        Size in inches of a new figure.
    path : str, path-like or None, default=None
        If given, also save the figure there (the suffix picks the format).
    dpi : int, default=100
        Resolution of a new figure and of raster output.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Raises
    ------
    ValueError
        If the shapes do not match, or ``sites`` holds several sequences.
    ImportError
        If logomaker, matplotlib or pandas is missing.

    See Also
    --------
    in_silico_mutagenesis, gradient_x_input : The maps.
    find_sites : Where the kernels fire.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_deepprune.motifs import plot_attribution
    >>> attribution = np.zeros((4, 6))
    >>> attribution[[0, 1], [1, 2]] = [1.0, 0.5]
    >>> fig = plot_attribution(attribution, "AACCGT", highlight=[(1, 3, "site")])
    >>> len(fig.axes)
    1
    """
    for module in ("logomaker", "pandas"):
        import_optional(module, "motifs", "plot_attribution")
    figure_module = import_optional("matplotlib.figure", "motifs", "plot_attribution")
    attribution = np.asarray(attribution, dtype=float)
    if isinstance(sequence, str):
        sequence = SequenceOneHotEncoder().fit_transform([sequence])[0]
    sequence = np.asarray(sequence, dtype=float)
    if attribution.ndim != 2 or attribution.shape[0] != len(ALPHABET):
        raise ValueError(
            f"attribution must have shape (4, L), one sequence's map; got {attribution.shape}"
        )
    if sequence.shape != attribution.shape:
        raise ValueError(
            f"sequence has shape {sequence.shape} one-hot, but attribution {attribution.shape}"
        )
    spans = _spans(sites, "sites", "site")
    boxes = _spans(highlight, "highlight", "highlight")

    heights = _letter_heights(attribution, sequence)

    if ax is None:
        figure = figure_module.Figure(figsize=figsize, dpi=dpi, layout="constrained")
        ax = figure.subplots()
    else:
        figure = ax.figure
    _draw_heights(ax, heights.T, 0)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_ylabel("attribution")
    ax.set_xlabel("position")
    for start, end, label, colour in spans:
        ax.axvspan(start - 0.5, end - 0.5, color=colour, alpha=0.15, linewidth=0, label=label)
    for start, end, label, _ in boxes:
        ax.axvspan(
            start - 0.5,
            end - 0.5,
            fill=False,
            edgecolor="black",
            linestyle="--",
            linewidth=1.2,
            label=label,
        )
    if spans or boxes:
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(
            unique.values(),
            unique.keys(),
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            frameon=False,
        )
    if title is not None:
        ax.set_title(title, fontsize=9, loc="left")
    if path is not None:
        figure.savefig(path, dpi=dpi)
    return figure
