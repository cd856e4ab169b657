"""Motifs read out of a fitted Deepprune network: PFMs, logos, MEME files, Tomtom, sites.

A kernel of the motif scan layer is a motif detector, but its weights are not a
motif. As in DeepBind's supplement (section 10.1, "Sequence logos"), the motif
of a kernel is read from the data instead: the sequences are scanned, the
kernel-wide windows where the kernel responds strongly are stacked into a
count matrix and normalised to a position frequency matrix (PFM). The PFMs
can then be trimmed, drawn as information-content logos, written as MEME
files and compared with JASPAR (or any motifs) by Tomtom.

The same scan says where each kernel fires in each sequence
(:func:`find_sites`), and attribution maps say which bases of a sequence the
model's output depends on (:func:`in_silico_mutagenesis`,
:func:`gradient_x_input`, drawn by :func:`plot_attribution`).

Every PFM here is an array of shape ``(w, 4)``: one row per position, columns
in :data:`~sklearn_deepprune.encoding.ALPHABET` order (A, C, G, T), as in
:mod:`sklearn_deepprune.datasets`. The optional dependencies (memelite,
pyjaspar, logomaker, matplotlib, pandas, tangermeme) are imported only by the
functions that need them: ``pip install "sklearn-deepprune[motifs]"``.
"""

from sklearn_deepprune.motifs._attribution import (
    gradient_x_input,
    in_silico_mutagenesis,
    plot_attribution,
)
from sklearn_deepprune.motifs._compare import compare_motifs
from sklearn_deepprune.motifs._logos import plot_logos
from sklearn_deepprune.motifs._pfm import Motif, extract_motifs, read_meme, to_meme, trim
from sklearn_deepprune.motifs._sites import find_sites

__all__ = [
    "Motif",
    "compare_motifs",
    "extract_motifs",
    "find_sites",
    "gradient_x_input",
    "in_silico_mutagenesis",
    "plot_attribution",
    "plot_logos",
    "read_meme",
    "to_meme",
    "trim",
]
