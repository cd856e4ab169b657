"""Data for Deepprune: simulated motif sets, ChIP-seq loaders, shuffles and motifs.

Generators (``make_*``) take a ``random_state``; loaders (``load_*``) return a
:class:`~sklearn.utils.Bunch` with ``sequences``, ``target`` and ``ids``, or
arrays with ``return_X_y=True``. Sequences are uppercase strings over
:data:`~sklearn_deepprune.encoding.ALPHABET` (``N`` allowed in real data) and
motifs are ``(L, 4)`` position frequency matrices with columns A, C, G, T.
Fetchers (``fetch_*``) download a published data set once into a local cache.
"""

from sklearn_deepprune.datasets._chipseq import load_chipseq, load_fasta
from sklearn_deepprune.datasets._fetch import CHIPSEQ_SOURCES, fetch_chipseq
from sklearn_deepprune.datasets._motifs import (
    load_motif,
    load_motifs,
    read_meme_pfms,
    write_meme_pfms,
)
from sklearn_deepprune.datasets._peaks import load_peaks, make_genome_peaks
from sklearn_deepprune.datasets._shuffle import dinucleotide_shuffle
from sklearn_deepprune.datasets._simulate import (
    PAPER_SIMULATION_MOTIFS,
    make_motif_sequences,
    make_paper_simulation,
)

__all__ = [
    "CHIPSEQ_SOURCES",
    "PAPER_SIMULATION_MOTIFS",
    "dinucleotide_shuffle",
    "fetch_chipseq",
    "load_chipseq",
    "load_fasta",
    "load_motif",
    "load_motifs",
    "load_peaks",
    "make_genome_peaks",
    "make_motif_sequences",
    "make_paper_simulation",
    "read_meme_pfms",
    "write_meme_pfms",
]
