"""Tests of sklearn_deepprune.datasets: generators, loaders, shuffles, motifs."""

from __future__ import annotations

import gzip
import itertools
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

from sklearn_deepprune.datasets import (
    PAPER_SIMULATION_MOTIFS,
    _motifs,
    _shuffle,
    dinucleotide_shuffle,
    load_chipseq,
    load_fasta,
    load_motif,
    load_motifs,
    make_motif_sequences,
    make_paper_simulation,
    read_meme_pfms,
    write_meme_pfms,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared data folder {SHARED_DATA} not found"
)
CHIPSEQ_690 = SHARED_DATA / "chipseq" / "690"
DEEPBIND = SHARED_DATA / "chipseq" / "deepbind"
TRANSFAC = SHARED_DATA / "motifs" / "transfac_simulations"
EZH2 = CHIPSEQ_690 / "wgEncodeAwgTfbsBroadDnd41Ezh239875UniPk"
STAT3 = CHIPSEQ_690 / "wgEncodeAwgTfbsSydhGm12878Stat3IggmusUniPk"
CTCF_TEST_ONLY = CHIPSEQ_690 / "wgEncodeAwgTfbsBroadDnd41CtcfUniPk"
FOSL2_TEST_ONLY = CHIPSEQ_690 / "wgEncodeAwgTfbsHaibHepg2Fosl2V0416101UniPk"
MYC = DEEPBIND / "MYC_H1-hESC_c-Myc_Stanford"

COMPLEMENT = str.maketrans("ACGT", "TGCA")


def dinucleotides(sequence: str) -> Counter:
    return Counter(zip(sequence, sequence[1:], strict=False))


def reverse_complement(sequence: str) -> str:
    return sequence.translate(COMPLEMENT)[::-1]


def write(path: Path, text: str, *, gz: bool = False, newline: str = "\n") -> Path:
    data = text.replace("\n", newline).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# --------------------------------------------------------------------------- shuffle


def test_shuffle_preserves_dinucleotides_on_random_sequences():
    rng = np.random.default_rng(0)
    sequences = [
        "".join(rng.choice(list("ACGTN"), size=rng.integers(1, 120))) for _ in range(2000)
    ]
    shuffled = dinucleotide_shuffle(sequences, random_state=0)
    assert len(shuffled) == len(sequences)
    for original, new in zip(sequences, shuffled, strict=True):
        assert dinucleotides(new) == dinucleotides(original)
        assert (new[:1], new[-1:], len(new)) == (original[:1], original[-1:], len(original))
    long_ones = [i for i, s in enumerate(sequences) if len(s) > 30]
    assert sum(sequences[i] != shuffled[i] for i in long_ones) > 0.99 * len(long_ones)


@needs_shared
def test_shuffle_preserves_dinucleotides_on_real_peaks():
    peaks = load_chipseq(EZH2 / "train.data").sequences
    shuffled = dinucleotide_shuffle(peaks, random_state=1)
    assert all(dinucleotides(a) == dinucleotides(b) for a, b in zip(peaks, shuffled, strict=True))
    assert np.mean([a != b for a, b in zip(peaks, shuffled, strict=True)]) > 0.99


def test_shuffle_is_reproducible_and_seed_dependent():
    sequences = ["ACGTTGCAACGTAGCTAGGATCCA" * 4] * 50
    first = dinucleotide_shuffle(sequences, random_state=3)
    assert first == dinucleotide_shuffle(sequences, random_state=3)
    assert first != dinucleotide_shuffle(sequences, random_state=4)
    assert len(set(first)) > 40


def test_shuffle_single_string_short_and_forced_sequences():
    assert isinstance(dinucleotide_shuffle("ACGTACGGTCA", random_state=0), str)
    assert dinucleotide_shuffle(["", "A", "AC", "AAAA", "NNNN"], random_state=0) == [
        "",
        "A",
        "AC",
        "AAAA",
        "NNNN",
    ]


@pytest.mark.parametrize("rejection_rounds", [30, 0])
def test_shuffle_is_uniform_over_all_valid_arrangements(monkeypatch, rejection_rounds):
    # 0 rounds sends every sequence to the Wilson's-algorithm fallback.
    monkeypatch.setattr(_shuffle, "_REJECTION_ROUNDS", rejection_rounds)
    sequence = "AACGTACGAT"
    target = dinucleotides(sequence)
    valid = {
        "".join(p)
        for p in set(itertools.permutations(sequence))
        if p[0] == sequence[0] and dinucleotides("".join(p)) == target
    }
    draws = Counter(dinucleotide_shuffle([sequence] * 20_000, random_state=0))
    assert set(draws) == valid
    assert chisquare([draws[s] for s in sorted(valid)]).pvalue > 1e-3


def test_shuffle_of_sequences_with_rare_final_letter():
    # The final T is reached only through single C->N and N->T exits, so few
    # random last-exit choices form a tree.
    sequence = "GA" * 40 + "GC" + "CA" * 20 + "CN" + "NA" * 10 + "NT"
    shuffled = dinucleotide_shuffle([sequence] * 200, random_state=0)
    assert all(dinucleotides(s) == dinucleotides(sequence) for s in shuffled)
    assert len(set(shuffled)) > 150


# ---------------------------------------------------------------------------- motifs


def test_meme_round_trip(tmp_path):
    pfms = {"M1": np.array([[1, 2, 3, 4], [0, 0, 5, 0]]), "M2": np.full((3, 4), 0.25)}
    path = tmp_path / "motifs.meme"
    write_meme_pfms(pfms, path, alternate_names={"M1": "ONE"})
    read = read_meme_pfms(path)
    assert list(read) == ["M1", "M2"]
    np.testing.assert_allclose(read["M1"], [[0.1, 0.2, 0.3, 0.4], [0, 0, 1, 0]], atol=1e-6)
    np.testing.assert_allclose(read["M1"].sum(axis=1), 1)
    assert "MOTIF M1 ONE" in path.read_text()


MEME_TEXT = """MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.3 C 0.2 G 0.2 T 0.3

MOTIF MA0001.1 AGL3
letter-probability matrix: alength= 4 w= 2 nsites= 97 E= 0
  0.000000  0.968750  0.000000  0.031250
  0.500000  0.500000  0.000000  0.000000
URL http://jaspar.genereg.net/matrix/MA0001.1

MOTIF second
letter-probability matrix: alength= 4
0.1 0.2 0.3 0.4
0.25 0.25 0.25 0.25
0.0 0.0 0.0 1.0

MOTIF third
log-odds matrix: alength= 4 w= 1
 1.0 -1.0 -1.0 -1.0
letter-probability matrix: alength= 4 w= 1
 1 0 0 0
"""


def test_read_meme_file_in_the_wild_format(tmp_path):
    pfms = read_meme_pfms(write(tmp_path / "db.meme", MEME_TEXT, newline="\r\n"))
    assert list(pfms) == ["MA0001.1", "second", "third"]
    assert pfms["MA0001.1"].shape == (2, 4)
    assert pfms["second"].shape == (3, 4)
    np.testing.assert_allclose(pfms["third"], [[1, 0, 0, 0]])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("MOTIF a\nletter-probability matrix: w= 2\n0.1 0.2 0.3 0.4\n", 3, "1 of w=2"),
        ("MOTIF a\nletter-probability matrix: w= 1\n0.1 0.2 0.7\n", 3, "expected 4 values"),
        ("MOTIF a\nletter-probability matrix: w= 1\n0.1 0.2 x 0.7\n", 3, "4 probabilities"),
        ("MOTIF a\nletter-probability matrix: w= 1\n0.5 0.5 0.5 0.5\n", 3, "sum to 2"),
        ("MOTIF a\nMOTIF b\nletter-probability matrix:\n1 0 0 0\n", 1, "no 'letter-prob"),
        ("MOTIF a\nletter-probability matrix:\n1 0 0 0\nMOTIF a\n", 4, "appears twice"),
        ("ALPHABET= ACGU\nMOTIF a\n", 1, "not DNA"),
        ("MOTIF a\nletter-probability matrix: alength= 20 w= 1\n", 2, "alength=20"),
    ],
)
def test_read_meme_errors_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path / "bad.meme", "MEME version 4\n\n" + text)
    with pytest.raises(ValueError, match=f"bad.meme, line {line + 2}:.*{message}"):
        read_meme_pfms(path)


def test_read_meme_without_motifs(tmp_path):
    with pytest.raises(ValueError, match="empty.meme: no MEME motif"):
        read_meme_pfms(write(tmp_path / "empty.meme", "MEME version 4\n"))


def test_load_motif_from_arrays_normalises_counts():
    pfm = load_motif(np.array([[2, 2, 0, 0], [0, 0, 0, 7]]))
    np.testing.assert_allclose(pfm, [[0.5, 0.5, 0, 0], [0, 0, 0, 1]])


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.ones((4, 9)), r"shape \(L, 4\).*transposed"),
        (np.ones((9, 3)), r"shape \(L, 4\)"),
        (np.zeros((0, 4)), "no positions"),
        ([[1, -1, 1, 1]], "negative"),
        ([[1, 1, 1, 1], [0, 0, 0, 0]], "row 1 .*all zeros"),
        ([[np.nan, 1, 1, 1]], "NaN"),
    ],
)
def test_load_motif_rejects_bad_arrays(matrix, message):
    with pytest.raises(ValueError, match=message):
        load_motif(matrix)


def test_load_motif_from_text_matrix_and_meme_files(tmp_path):
    text = write(tmp_path / "m.txt", "0.5 0.5 0 0\n# comment\n\n1 0 0 0\n")
    np.testing.assert_allclose(load_motif(text), [[0.5, 0.5, 0, 0], [1, 0, 0, 0]])
    assert list(load_motifs([text])) == ["m"]
    single = tmp_path / "one.meme"
    write_meme_pfms({"only": np.eye(4)}, single)
    np.testing.assert_allclose(load_motif(single), np.eye(4))
    several = write(tmp_path / "db.meme", MEME_TEXT)
    with pytest.raises(ValueError, match="holds 3 motifs"):
        load_motif(several)
    assert list(load_motifs(several)) == ["MA0001.1", "second", "third"]


def test_load_motif_bad_text_matrix_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.txt", "0.5 0.5 0 0\n0.5 0.5 0\n")
    with pytest.raises(ValueError, match="bad.txt, line 2: expected 4 numbers"):
        load_motif(path)
    with pytest.raises(FileNotFoundError):
        load_motif(tmp_path / "missing.txt")


def test_load_motifs_names_and_duplicates():
    pfms = load_motifs({"x": np.eye(4), "y": [[1, 0, 0, 0]]})
    assert list(pfms) == ["x", "y"]
    assert list(load_motifs(np.eye(4))) == ["motif_0"]
    assert list(load_motifs([[[1, 0, 0, 0]], [[0, 1, 0, 0]]])) == ["motif_0", "motif_1"]


@needs_shared
def test_load_motif_transfac_file():
    pfm = load_motif(TRANSFAC / "simulated1" / "Trans_V_AP4_Q6_01.txt")
    assert pfm.shape == (9, 4)
    np.testing.assert_allclose(pfm.sum(axis=1), 1)
    assert pfm[6].argmax() == 3  # a T is certain at position 7


def test_load_motif_from_jaspar():
    pytest.importorskip("pyjaspar")
    ctcf = load_motif("MA0139.1")
    assert ctcf.shape == (19, 4)
    np.testing.assert_allclose(ctcf.sum(axis=1), 1)
    consensus = "".join("ACGT"[i] for i in ctcf.argmax(axis=1))
    assert "CCACCAGGGGGCGC" in consensus  # the CTCF core
    (name,) = load_motifs(["CTCF"])
    assert name.startswith("MA0139.") and name.endswith(" CTCF")
    with pytest.raises(ValueError, match="neither an existing file nor a TF name"):
        load_motif("NOT_A_FACTOR_XYZ")


def test_missing_pyjaspar_gives_install_hint(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pyjaspar", None)
    _motifs._jaspar_db.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"sklearn-deepprune\[motifs\]"):
            load_motif("CTCF")
    finally:
        _motifs._jaspar_db.cache_clear()


# ------------------------------------------------------------------------ simulation


def test_planted_motif_is_at_recorded_position_and_strand():
    consensus = "GATTACAGG"
    pfm = np.eye(4)[["ACGT".index(c) for c in consensus]]
    data = make_motif_sequences(2000, {"gattaca": pfm}, length=50, strand="both", random_state=0)
    assert data.motif_names == ["gattaca"]
    assert {len(s) for s in data.sequences} == {50}
    positives = data.target == 1
    assert np.all(data.motif_index[~positives] == -1)
    assert np.all(data.position[~positives] == -1)
    assert set(data.strand[~positives]) == {"."}
    assert set(data.strand[positives]) == {"+", "-"}
    for sequence, start, strand in zip(
        data.sequences[positives], data.position[positives], data.strand[positives], strict=True
    ):
        window = sequence[start : start + len(consensus)]
        assert window == (consensus if strand == "+" else reverse_complement(consensus))
    assert data.position[positives].min() == 0
    assert data.position[positives].max() == 50 - len(consensus)
    assert 0.45 < np.mean(data.strand[positives] == "+") < 0.55


def test_instances_are_sampled_from_the_pfm():
    pfm = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.5, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    data = make_motif_sequences(20_000, [pfm], length=20, random_state=1)
    positives = np.flatnonzero(data.target)
    windows = [data.sequences[i][data.position[i] : data.position[i] + 3] for i in positives]
    counts = np.array([[sum(w[j] == b for w in windows) for b in "ACGT"] for j in range(3)])
    np.testing.assert_allclose(counts / len(windows), pfm, atol=0.02)


def test_class_balance_motif_choice_and_background():
    data = make_motif_sequences(
        10_001,
        [np.eye(4), np.eye(4)[::-1], np.full((5, 4), 0.25)],
        length=30,
        background=[0.4, 0.1, 0.1, 0.4],
        positive_fraction=0.3,
        random_state=2,
    )
    assert data.target.sum() == round(10_001 * 0.3)
    shares = np.bincount(data.motif_index[data.target == 1], minlength=3) / data.target.sum()
    np.testing.assert_allclose(shares, 1 / 3, atol=0.03)
    letters = Counter("".join(data.sequences[data.target == 0]))
    total = sum(letters.values())
    np.testing.assert_allclose(
        [letters[b] / total for b in "ACGT"], [0.4, 0.1, 0.1, 0.4], atol=0.01
    )
    assert data.target[:50].sum() not in (0, 50)  # shuffled, not positives first


def test_simulation_is_reproducible_and_fast():
    kwargs = dict(motifs=[np.eye(4)], strand="both", random_state=5)
    start = time.perf_counter()
    first = make_motif_sequences(20_000, **kwargs)
    # About 0.25 s on one idle core; the margin absorbs loaded CI machines,
    # while a per-sequence Python loop would take several seconds.
    assert time.perf_counter() - start < 2.0
    second = make_motif_sequences(20_000, **kwargs)
    for key in ("sequences", "target", "motif_index", "position", "strand"):
        np.testing.assert_array_equal(first[key], second[key])
    other = make_motif_sequences(20_000, **{**kwargs, "random_state": 6})
    assert not np.array_equal(first.sequences, other.sequences)
    X, y = make_motif_sequences(20_000, **kwargs, return_X_y=True)
    np.testing.assert_array_equal(X, first.sequences)
    np.testing.assert_array_equal(y, first.target)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(length=3), "shorter than the longest motif"),
        (dict(strand="reverse"), "strand must be"),
        (dict(background=[0.5, 0.5, 0.5, 0.5]), "background"),
        (dict(positive_fraction=1.5), "positive_fraction"),
    ],
)
def test_simulation_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_motif_sequences(10, [np.eye(4)], **kwargs)


@pytest.mark.parametrize(("k", "n_motifs"), [(1, 2), (2, 2), (3, 2), (4, 4), (5, 8)])
def test_paper_simulations_default_jaspar(k, n_motifs):
    data = make_paper_simulation(k, n_samples=400)
    assert len(data.motifs) == len(data.motif_names) == len(data.motif_ids) == n_motifs
    assert data.motif_ids == [matrix_id for matrix_id, _ in PAPER_SIMULATION_MOTIFS[k]]
    for part in (data.train, data.test):
        assert len(part.sequences) == 400 and part.target.sum() == 200
        assert {len(s) for s in part.sequences} == {101}
        assert set(part.motif_index[part.target == 1]) == set(range(n_motifs))
    assert not np.array_equal(data.train.sequences, data.test.sequences)
    again = make_paper_simulation(k, n_samples=400)
    np.testing.assert_array_equal(data.test.sequences, again.test.sequences)


def test_paper_simulation_motifs_are_the_shipped_jaspar_profiles():
    pytest.importorskip("pyjaspar")
    data = make_paper_simulation(3, n_samples=10)
    for matrix_id, pfm in zip(data.motif_ids, data.motifs, strict=True):
        np.testing.assert_allclose(
            pfm, load_motif(matrix_id, jaspar_release="JASPAR2026"), atol=1e-5
        )


@needs_shared
@pytest.mark.parametrize(("k", "n_motifs"), [(1, 2), (2, 2), (3, 2), (4, 4), (5, 8)])
def test_paper_simulations_with_transfac_motifs(k, n_motifs):
    data = make_paper_simulation(k, n_samples=100, motif_dir=TRANSFAC, random_state=1)
    assert len(data.motifs) == n_motifs
    assert all(name.startswith("Trans_V_") for name in data.motif_names)
    same = make_paper_simulation(k, n_samples=100, motif_dir=TRANSFAC / f"simulated{k}")
    assert same.motif_names == data.motif_names
    X_train, X_test, y_train, y_test = make_paper_simulation(
        k, n_samples=100, motif_dir=TRANSFAC, random_state=1, return_X_y=True
    )
    np.testing.assert_array_equal(X_test, data.test.sequences)
    np.testing.assert_array_equal(y_train, data.train.target)


@needs_shared
def test_paper_simulation_checks_motif_count_and_k():
    with pytest.raises(ValueError, match="plants 4 motifs but .* holds 2 files"):
        make_paper_simulation(4, motif_dir=TRANSFAC / "simulated1")
    with pytest.raises(ValueError, match="k must be one of"):
        make_paper_simulation(6)


# --------------------------------------------------------------------------- chipseq

RECORDS_690 = (
    ">chr1:1-10 ACGTACGTAC 1\n"
    ">chr1:1-10_shuf ACGTCAGTAC 0\n"
    ">chr2:5-14 TTGCAAGGCA 1\n"
    ">chr2:5-14_shuf TGCAATTGCA 0\n"
)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("marker", [">", ""])
def test_690_file_variants_read_the_same(tmp_path, gz, newline, marker):
    text = RECORDS_690.replace(">", marker)
    data = load_chipseq(write(tmp_path / "train.data", text, gz=gz, newline=newline))
    assert data.format == "690"
    assert data.ids.tolist() == ["chr1:1-10", "chr1:1-10_shuf", "chr2:5-14", "chr2:5-14_shuf"]
    assert data.sequences.tolist()[2] == "TTGCAAGGCA"
    assert data.target.tolist() == [1, 0, 1, 0]
    X, y = load_chipseq(tmp_path / "train.data", return_X_y=True)
    np.testing.assert_array_equal(X, data.sequences)
    np.testing.assert_array_equal(y, data.target)


def test_deepbind_file_detected(tmp_path):
    text = "FoldID\tEventID\tseq\tBound\nA\tseq_1_peak\tacgtn\t1\nA\tseq_1_shuf\tCGTAN\t0\n"
    data = load_chipseq(write(tmp_path / "X_B.seq.gz", text, gz=True))
    assert data.format == "deepbind"
    assert data.ids.tolist() == ["seq_1_peak", "seq_1_shuf"]
    assert data.sequences.tolist() == ["ACGTN", "CGTAN"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (">a ACGT 1\n>b ACGT 1 extra\n", 2, "expected 3 fields"),
        (">a ACGT 1\n>b ACGT 2\n", 2, "label '2' is not 0 or 1"),
        (">a ACGT 1\n\n>b ACXT 0\n", 3, "character 'X' at position 3"),
        (">a ACGT 1\n>b ACGTA 0\n", 2, "sequence length 5 differs from 4"),
        ("FoldID\tEventID\tseq\tBound\nA\tid\tACGT\t1\nA\tid\tACGT\n", 3, "4 tab-separated"),
        ("FoldID\tEventID\tseq\tBound\nA\tid\tACGT\tyes\n", 2, "label 'yes'"),
        (">peak1\nACGT\n", 1, "looks like FASTA"),
    ],
)
def test_malformed_chipseq_files_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path / "bad.data", text)
    with pytest.raises(ValueError, match=f"bad.data, line {line}: .*{message}"):
        load_chipseq(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty file"), ("\n\n", "empty file"), ("FoldID\tEventID\tseq\tBound\n", "no records")],
)
def test_empty_chipseq_files(tmp_path, text, message):
    with pytest.raises(ValueError, match=f"empty.data: {message}"):
        load_chipseq(write(tmp_path / "empty.data", text))


def test_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="no train or test file"):
        load_chipseq(tmp_path)
    write(tmp_path / "train.data", RECORDS_690)
    write(tmp_path / "train.data.gz", RECORDS_690, gz=True)
    with pytest.raises(ValueError, match="several train files"):
        load_chipseq(tmp_path)
    (tmp_path / "train.data.gz").unlink()
    write(tmp_path / "test.data", ">a ACGT 1\n>b ACGT 0\n")
    with pytest.raises(ValueError, match="test.data: sequences of length 4, but the train part"):
        load_chipseq(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_chipseq(tmp_path / "missing")
    with pytest.raises(ValueError, match="negatives must be"):
        load_chipseq(tmp_path, negatives="dinucleotide")


def test_single_file_split_keeps_each_peak_with_its_shuffle(tmp_path):
    # 60 peaks and their shuffled copies (ids ID and ID_shuf), plus 20 other negatives
    rng = np.random.default_rng(0)
    peaks = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(60)]
    shuffles = dinucleotide_shuffle(peaks, random_state=0)
    pairs = [f">p{i} {peak} 1\n>p{i}_shuf {shuffles[i]} 0\n" for i, peak in enumerate(peaks)]
    others = [f">n{i} {''.join(rng.choice(list('ACGT'), 30))} 0\n" for i in range(20)]
    (tmp_path / "test.data").write_text("".join(pairs + others))
    for seed in range(3):
        data = load_chipseq(tmp_path, test_size=0.25, random_state=seed)
        assert data.split == "test"
        train, test = set(data.train.ids), set(data.test.ids)
        for i in range(60):
            assert (f"p{i}" in test) == (f"p{i}_shuf" in test), (seed, i)
        assert len(train) + len(test) == 140 and data.test.target.sum() > 0
    # without pairs, the split is the plain stratified one: 25% of the 80 records
    peaks_only = [f">p{i} {peak} 1\n" for i, peak in enumerate(peaks)]
    (tmp_path / "test.data").write_text("".join(peaks_only + others))
    data = load_chipseq(tmp_path, test_size=0.25, random_state=0)
    assert len(data.test.ids) == 20 and data.test.target.sum() == 15


def test_folder_train_and_test_with_return_X_y(tmp_path):
    write(tmp_path / "train.data.gz", RECORDS_690, gz=True)
    write(tmp_path / "test.data", RECORDS_690.replace("chr", "test_chr"))
    data = load_chipseq(tmp_path)
    assert data.split is None and data.name == tmp_path.name
    assert data.files["train"].endswith("train.data.gz")
    assert data.test.ids[0] == "test_chr1:1-10"
    X_train, X_test, y_train, y_test = load_chipseq(tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X_train, data.train.sequences)
    np.testing.assert_array_equal(y_test, data.test.target)


def test_shuffle_and_replace_negatives(tmp_path):
    positives = "".join(f">p{i} {s} 1\n" for i, s in enumerate(["ACGTTGCAAC", "GGATCCTTAA"]))
    write(tmp_path / "train.data", positives)
    write(tmp_path / "test.data", RECORDS_690)
    data = load_chipseq(tmp_path, negatives="shuffle", random_state=0)
    assert data.train.ids.tolist() == ["p0", "p0_shuf", "p1", "p1_shuf"]
    assert data.train.target.tolist() == [1, 0, 1, 0]
    pos, neg = data.train.sequences[0::2], data.train.sequences[1::2]
    assert all(dinucleotides(a) == dinucleotides(b) for a, b in zip(pos, neg, strict=True))
    # The test part already had negatives: kept as in the file.
    assert data.test.sequences[1] == "ACGTCAGTAC"
    replaced = load_chipseq(tmp_path, negatives="replace", random_state=0)
    assert replaced.test.ids.tolist() == [
        "chr1:1-10",
        "chr1:1-10_shuf",
        "chr2:5-14",
        "chr2:5-14_shuf",
    ]
    assert dinucleotides(replaced.test.sequences[1]) == dinucleotides("ACGTACGTAC")
    again = load_chipseq(tmp_path, negatives="replace", random_state=0)
    np.testing.assert_array_equal(again.test.sequences, replaced.test.sequences)


@needs_shared
@pytest.mark.parametrize(
    ("folder", "train_counts", "test_counts"),
    [(EZH2, (1328, 1353), (348, 323)), (STAT3, (5118, 5067), (1248, 1299))],
)
def test_real_690_train_and_test(folder, train_counts, test_counts):
    data = load_chipseq(folder)
    assert data.format == "690" and data.split is None
    for part, (n_pos, n_neg) in ((data.train, train_counts), (data.test, test_counts)):
        assert (part.target.sum(), (part.target == 0).sum()) == (n_pos, n_neg)
        assert {len(s) for s in part.sequences} == {101}
        assert not any(i.startswith(">") for i in part.ids)
        assert all(
            i.endswith("_shuf") == (t == 0) for i, t in zip(part.ids, part.target, strict=True)
        )


@needs_shared
@pytest.mark.parametrize(
    ("folder", "n_pos", "n_neg"), [(CTCF_TEST_ONLY, 9674, 9709), (FOSL2_TEST_ONLY, 4900, 5020)]
)
def test_real_test_only_sets_are_split_stratified_and_reproducibly(folder, n_pos, n_neg):
    # FOSL2's file is gzipped with CRLF line ends.
    data = load_chipseq(folder, test_size=0.25, random_state=7)
    assert data.split == "test" and data.files["train"] is None
    n = n_pos + n_neg
    # a quarter of the groups (a peak with its shuffle where the file has both)
    assert abs(len(data.test.target) - 0.25 * n) < 0.01 * n
    assert len(data.train.target) + len(data.test.target) == n
    assert data.train.target.sum() + data.test.target.sum() == n_pos
    assert abs(data.test.target.mean() - n_pos / n) < 0.01
    assert not set(data.train.ids) & set(data.test.ids)
    train_peaks = {i for i in data.train.ids if not i.endswith("_shuf")}
    assert not any(i.removesuffix("_shuf") in train_peaks for i in data.test.ids)
    assert all(s.isalpha() and len(s) == 101 for s in data.test.sequences[:100])
    again = load_chipseq(folder, test_size=0.25, random_state=7)
    np.testing.assert_array_equal(again.test.ids, data.test.ids)
    other = load_chipseq(folder, test_size=0.25, random_state=8)
    assert set(other.test.ids) != set(data.test.ids)


@needs_shared
def test_real_deepbind_with_shuffled_negatives():
    data = load_chipseq(MYC, negatives="shuffle", random_state=0)
    assert data.format == "deepbind"
    assert len(data.train.target) == 2 * 4051 and data.train.target.sum() == 4051
    ids, sequences = data.train.ids, data.train.sequences
    assert np.all(np.char.add(ids[0::2], "_shuf") == ids[1::2])
    assert all(
        dinucleotides(a) == dinucleotides(b) and a != b
        for a, b in zip(sequences[0::2], sequences[1::2], strict=True)
    )
    # DeepBind's own test part (500 peaks + 500 shuffles) is kept as it is.
    plain = load_chipseq(MYC)
    assert len(data.test.target) == 1000 and data.test.target.sum() == 500
    np.testing.assert_array_equal(data.test.sequences, plain.test.sequences)
    np.testing.assert_array_equal(data.test.ids, plain.test.ids)
    assert set(plain.train.target) == {1}


@needs_shared
@pytest.mark.parametrize("folder", [EZH2, STAT3])
def test_real_690_sets_pair_every_positive_with_one_shuffle(folder):
    data = load_chipseq(folder)
    ids = np.concatenate([data.train.ids, data.test.ids])
    target = np.concatenate([data.train.target, data.test.target])
    partners = Counter(i.removesuffix("_shuf") for i in ids[target == 0])
    assert all(partners[i] == 1 for i in ids[target == 1])
    assert sum(partners.values()) == (target == 1).sum()


# ----------------------------------------------------------------------------- fasta

FASTA = ">peak1 chr1:100-110\nACGTA\ncgtac\n; a comment\n>peak2\nTTGCANNA\n\n>peak3\nGGG\n"


def test_fasta_multiline_variable_lengths(tmp_path):
    data = load_fasta(write(tmp_path / "peaks.fa.gz", FASTA, gz=True, newline="\r\n"))
    assert data.ids.tolist() == ["peak1", "peak2", "peak3"]
    assert data.sequences.tolist() == ["ACGTACGTAC", "TTGCANNA", "GGG"]
    assert data.target.tolist() == [1, 1, 1]
    shuffled = load_fasta(tmp_path / "peaks.fa.gz", negatives="shuffle", random_state=0)
    assert shuffled.ids.tolist()[:2] == ["peak1", "peak1_shuf"]
    assert shuffled.target.tolist() == [1, 0, 1, 0, 1, 0]
    assert dinucleotides(shuffled.sequences[1]) == dinucleotides("ACGTACGTAC")
    X, y = load_fasta(tmp_path / "peaks.fa.gz", target=0, return_X_y=True)
    assert X.tolist()[2] == "GGG" and y.tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("ACGT\n>a\nACGT\n", 1, "sequence before the first '>'"),
        (">a\n>b\nACGT\n", 1, "record 'a' has no sequence"),
        (">a\nACGT\n>b\n", 3, "record 'b' has no sequence"),
        (">a\nAC GT\n", 2, "character ' '"),
        (">a\nACGT\n> \nAC\n", 3, "header without an id"),
    ],
)
def test_malformed_fasta_names_file_and_line(tmp_path, text, line, message):
    with pytest.raises(ValueError, match=f"bad.fa, line {line}: {message}"):
        load_fasta(write(tmp_path / "bad.fa", text))


def test_empty_fasta(tmp_path):
    with pytest.raises(ValueError, match="empty.fa: empty file"):
        load_fasta(write(tmp_path / "empty.fa", "\n"))
