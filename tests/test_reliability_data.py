"""Issue 21, the input side: peak files, genomes and their indexes, FASTA text, downloads.

Each test is one case of the issue and failed before its fix.
"""

import argparse
import functools
import gzip
import http.server
import os
import threading
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("pyfaidx")
pytest.importorskip("bioframe")

from sklearn_deepprune.cli.predict import _predict_batches  # noqa: E402
from sklearn_deepprune.datasets import fetch_chipseq, load_fasta, load_peaks  # noqa: E402
from sklearn_deepprune.datasets._chipseq import iter_fasta  # noqa: E402
from sklearn_deepprune.datasets._io import _peak_ids, split_groups  # noqa: E402
from sklearn_deepprune.datasets._peaks import open_genome, read_intervals  # noqa: E402


def _random_dna(rng, n):
    return "".join(rng.choice(list("ACGT"), n))


def _write_genome(path, chromosomes, line_width=60):
    with open(path, "w") as f:
        for name, seq in chromosomes.items():
            f.write(f">{name}\n")
            f.writelines(seq[i : i + line_width] + "\n" for i in range(0, len(seq), line_width))
    return path


@pytest.fixture
def genome(tmp_path):
    """Two chromosomes of 3 kb of random DNA; returns (path, sequences)."""
    rng = np.random.default_rng(0)
    chromosomes = {f"chr{i}": _random_dna(rng, 3000) for i in (1, 2)}
    return _write_genome(tmp_path / "genome.fa", chromosomes), chromosomes


def _peaks(tmp_path, rows, name="peaks.bed"):
    path = tmp_path / name
    path.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))
    return path


def _spread(chromosomes=("chr1", "chr2"), n=12, step=200, first=100, length=60):
    """BED3 rows of ``n`` peaks per chromosome, ``step`` bp apart."""
    return [
        (c, first + i * step, first + i * step + length) for c in chromosomes for i in range(n)
    ]


# -- 1: duplicate peaks ------------------------------------------------------------------


def test_duplicate_peaks_warn_with_counts_and_stay_on_one_side(tmp_path, genome):
    path, _ = genome
    rows = _spread()
    peaks = _peaks(tmp_path, rows + rows)  # every peak twice
    with pytest.warns(UserWarning, match=r"24 windows occur more than once \(24 extra"):
        data = load_peaks(peaks, path, width=51, random_state=0)
    train = set(data.train.sequences[data.train.target == 1])
    test = set(data.test.sequences[data.test.target == 1])
    assert train and test and not train & test  # no copy of a training window in the test part
    assert len(data.train.target) + len(data.test.target) == 4 * len(rows)  # all kept


# -- 2: names with spaces ---------------------------------------------------------------------


def test_narrowpeak_names_with_spaces_are_one_field(tmp_path, genome):
    path, _ = genome
    rows = [
        (c, 100 + 300 * i, 300 + 300 * i, f"my peak {i}", 0, ".", 1, -1, -1, 20)
        for c in ("chr1", "chr2")
        for i in range(6)
    ]
    peaks = _peaks(tmp_path, rows, "peaks.narrowPeak")
    intervals = read_intervals(peaks)
    assert intervals["summit"].tolist() == [20] * 12
    assert intervals["name"].tolist()[:2] == ["my peak 0", "my peak 1"]
    data = load_peaks(peaks, path, width=11, test_chromosomes=["chr2"], random_state=0)
    positives = data.train.target == 1
    # Centred on the summit (start + 20), not on the middle (start + 100).
    assert data.train.start[positives][0] == 100 + 20 - 5
    assert data.train.ids[positives][0] == "my peak 0"


def test_space_separated_bed_is_still_read(tmp_path):
    path = tmp_path / "spaces.bed"
    path.write_text("chr1 10 20\nchr1 30  40\n")
    assert read_intervals(path)["end"].tolist() == [20, 40]
    trailing = tmp_path / "trailing.bed"
    trailing.write_text("chr1\t10\t20\t\nchr1\t30\t40\t\n")  # a trailing tab
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_intervals(trailing)["end"].tolist() == [20, 40]


# -- 3: negatives equal to / overlapping the peaks --------------------------------------------


def test_negatives_file_equal_to_the_peaks_is_refused(tmp_path, genome):
    path, _ = genome
    peaks = _peaks(tmp_path, _spread())
    with pytest.raises(
        ValueError, match=r"every one of the 24 negative windows .* overlaps a peak"
    ):
        load_peaks(peaks, path, width=51, negatives=peaks, random_state=0)


def test_negatives_overlapping_peaks_warn_with_counts(tmp_path, genome):
    path, _ = genome
    peaks = _peaks(tmp_path, _spread())
    free = [("chr1", 2450, 2480), ("chr1", 2600, 2630), ("chr1", 2800, 2830)]
    free += [("chr2", 2450, 2480), ("chr2", 2700, 2730)]
    negatives = _peaks(tmp_path, free + [("chr1", 110, 150), ("chr2", 310, 350)], "n.bed")
    with pytest.warns(UserWarning, match=r"2 of the 7 negative windows of .*n.bed overlap a peak"):
        load_peaks(peaks, path, width=51, negatives=negatives, test_chromosomes=["chr2"])


# -- 4: a part without both labels ------------------------------------------------------------


def test_negatives_without_windows_on_the_test_chromosomes_are_refused(tmp_path, genome):
    path, _ = genome
    peaks = _peaks(tmp_path, _spread(first=100))
    negatives = _peaks(tmp_path, [("chr1", 2450, 2480), ("chr1", 2600, 2630)], "n.bed")
    with pytest.raises(ValueError, match=r"the test part has 12 positives and no negative"):
        load_peaks(peaks, path, width=51, negatives=negatives, test_chromosomes=["chr2"])


# -- 5: all-N peaks ---------------------------------------------------------------------------


def test_all_n_peaks_are_skipped_and_counted(tmp_path):
    rng = np.random.default_rng(1)
    chr1 = _random_dna(rng, 1500) + "N" * 1500
    path = _write_genome(tmp_path / "genome.fa", {"chr1": chr1, "chr2": _random_dna(rng, 3000)})
    peaks = _peaks(tmp_path, _spread())  # chr1's peaks 7 to 11 lie in the Ns
    with pytest.warns(UserWarning, match=r"5 of 24 peak windows .* more than 50% N .* skipped"):
        data = load_peaks(peaks, path, width=51, test_chromosomes=["chr2"])
    for part in (data.train, data.test):
        assert max(s.count("N") for s in part.sequences) <= 5
    assert (data.train.target == 1).sum() == 7


# -- 6: a stale .fai ----------------------------------------------------------------------------


def test_stale_index_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    chromosomes = {"chr1": _random_dna(rng, 1000), "chr2": _random_dna(rng, 1000)}
    path = _write_genome(tmp_path / "genome.fa", chromosomes, line_width=60)
    assert open_genome(path)["chr2"][500:510] == chromosomes["chr2"][500:510]
    _write_genome(path, chromosomes, line_width=50)  # rewritten, the index now older...
    fai = tmp_path / "genome.fa.fai"
    later = time.time() + 10
    os.utime(fai, (later, later))  # ...but touched: pyfaidx sees a current index
    with pytest.raises(ValueError, match=r"genome.fa.fai does not match .*genome.fa"):
        open_genome(path)


def test_index_with_the_same_size_but_other_offsets_is_refused(tmp_path):
    rng = np.random.default_rng(3)
    path = _write_genome(tmp_path / "genome.fa", {"chr1": _random_dna(rng, 600)})
    open_genome(path)
    fai = tmp_path / "genome.fa.fai"
    # Same file size, but the record renamed to a longer name (header 2 bytes longer).
    text = path.read_text().replace(">chr1\n", ">chr1_b\n")
    path.write_text(text[:-3] + "\n")
    later = time.time() + 10
    os.utime(fai, (later, later))
    with pytest.raises(ValueError, match=r"does not match"):
        open_genome(path)


def test_current_index_is_accepted(tmp_path, genome):
    path, chromosomes = genome
    open_genome(path)
    fasta = open_genome(path)  # read from the .fai written the first time
    assert fasta["chr2"][2950:3000] == chromosomes["chr2"][2950:3000]


# -- 11, 23: text encoding --------------------------------------------------------------------


def test_non_ascii_ids_are_kept(tmp_path):
    path = tmp_path / "ids.fa"
    path.write_bytes(">é∂ peak\nACGT\n>ü\nGGTT\n".encode())
    assert [record_id for record_id, _ in iter_fasta(path)] == ["é∂", "ü"]
    assert load_fasta(path).ids.tolist() == ["é∂", "ü"]


def test_stray_byte_in_a_sequence_is_reported_with_its_line(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_bytes(b">a\nACGT\nAC\xe9GT\n")
    with pytest.raises(ValueError, match=r"bad.fa, line 3: .*position 3"):
        load_fasta(path)


def test_byte_order_mark_is_stripped(tmp_path, genome):
    path = tmp_path / "bom.fa"
    path.write_bytes(b"\xef\xbb\xbf>a\nACGT\n")
    assert load_fasta(path).ids.tolist() == ["a"]
    bed = tmp_path / "bom.bed"
    bed.write_bytes(b"\xef\xbb\xbfchr1\t10\t20\n")
    assert read_intervals(bed)["chrom"].tolist() == ["chr1"]


# -- 13: predict streams every input format ---------------------------------------------------


def _args(path, batch_size):
    return argparse.Namespace(input=str(path), genome=None, batch_size=batch_size)


@pytest.mark.parametrize("kind", ["690", "deepbind"])
def test_predict_reads_labelled_files_in_batches(tmp_path, kind):
    rng = np.random.default_rng(4)
    rows = [(f"s{i}", _random_dna(rng, 20), i % 2) for i in range(10)]
    path = tmp_path / "test.data"
    if kind == "690":
        lines = [f">{i} {s} {y}\n" for i, s, y in rows]
        bad = "this line is malformed\n"
    else:
        lines = ["FoldID\tEventID\tseq\tBound\n"] + [f"A\t{i}\t{s}\t{y}\n" for i, s, y in rows]
        bad = "A\tbroken\n"
    path.write_text("".join(lines) + bad)
    batches = _predict_batches(_args(path, 4), 20)
    first = next(batches)  # read before the malformed last line is reached
    assert list(first.ids) == ["s0", "s1", "s2", "s3"]
    assert list(first.sequences) == [s for _, s, _ in rows[:4]]
    assert len(next(batches).ids) == 4
    with pytest.raises(ValueError, match=r"test.data, line 1[12]"):
        next(batches)


# -- 20, 21: messages that mislead ------------------------------------------------------------


@pytest.mark.parametrize("negatives", ["flank", "background"])
def test_no_negative_windows_at_all_is_said(tmp_path, genome, negatives):
    path, _ = genome
    tiles = [(c, s, s + 250) for c in ("chr1", "chr2") for s in range(0, 3000, 250)]
    peaks = _peaks(tmp_path, tiles)
    with pytest.raises(ValueError, match=rf"no {negatives} negative window"):
        load_peaks(peaks, path, width=51, negatives=negatives, random_state=0)


def test_fasta_ids_that_are_all_dots_fall_back_to_record_order(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "getfasta.fa"
    path.write_text("".join(f">.\n{_random_dna(rng, 30)}\n" for _ in range(20)))
    with pytest.warns(UserWarning, match=r"20 records share 1 id, .*record order"):
        data = load_fasta(path, negatives="shuffle")
    groups = _peak_ids(data.ids)
    train, test = split_groups(groups, data.target, 0.2, 0)
    assert len(test) == 8 and len(train) == 32
    assert not set(groups[train]) & set(groups[test])


def test_one_group_says_the_ids_are_not_unique():
    with pytest.raises(ValueError, match=r"all 4 records are one group"):
        split_groups(np.array(["."] * 4), np.array([1, 0, 1, 0]), 0.2, 0)


# -- 22, 28, 29: the genome and the BED file ------------------------------------------------------


def test_genome_folder_without_index_that_cannot_be_written(tmp_path, genome, monkeypatch):
    import pyfaidx

    path, _ = genome

    def refuse(self, *args, **kwargs):  # what pyfaidx raises in a read-only folder
        raise OSError(f"{self.indexname} may not be writable. Please use Fasta(rebuild=False)")

    monkeypatch.setattr(pyfaidx.Faidx, "build_index", refuse)
    with pytest.raises(ValueError, match=r"cannot write the index .*genome.fa.fai beside") as info:
        open_genome(path)
    assert "rebuild=False" not in str(info.value) and "ln -s" in str(info.value)


def test_huge_bed_start_is_one_clear_line(tmp_path):
    path = tmp_path / "huge.bed"
    path.write_text("chr1\t10\t20\nchr1\t100000000000000000000\t100000000000000000010\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"huge.bed, line 2: start 100000000000000000000 is "):
            read_intervals(path)


def test_duplicate_chromosomes_name_the_genome(tmp_path):
    path = tmp_path / "twice.fa"
    path.write_text(">chr1\nACGTACGT\n>chr1\nGGGGCCCC\n")
    with pytest.raises(ValueError, match=r"twice.fa: .*chr1.* more than once"):
        open_genome(path)


# -- 30: a bad download ---------------------------------------------------------------------------


SET_690 = "wgEncodeAwgTfbsToyUniPk"
HTML = "<!DOCTYPE html>\n<html><body>Login required</body></html>\n"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server of ``tmp_path/mirror``; yields (base URL, the set's folder there)."""
    folder = tmp_path / "mirror" / SET_690
    folder.mkdir(parents=True)
    handler = functools.partial(_Handler, directory=str(tmp_path / "mirror"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


GOOD_TRAIN = ">a ACGTTGCA 1\n>a_shuf ATGCACGA 0\n>b GGGTTTAA 1\n>b_shuf GTGTGATA 0\n"
GOOD_TEST = ">c ACGTACGT 1\n>c_shuf AGCTAGCT 0\n"


def test_html_page_from_a_mirror_is_not_cached(mirror, tmp_path, monkeypatch):
    base, folder = mirror
    (folder / "train.data").write_text(HTML)
    (folder / "test.data").write_text(HTML)
    monkeypatch.setenv("DEEPPRUNE_690_URL", base)
    cache = tmp_path / "cache" / "deepprune" / "690" / SET_690
    with pytest.raises(OSError, match=r"an HTML page") as info:
        fetch_chipseq(SET_690, data_home=tmp_path / "cache")
    assert str(cache) in str(info.value)
    assert not (cache / ".complete").exists() and not (cache / "train.data").exists()
    # The mirror fixed: the next call downloads again and works.
    (folder / "train.data").write_text(GOOD_TRAIN)
    (folder / "test.data").write_text(GOOD_TEST)
    data = fetch_chipseq(SET_690, data_home=tmp_path / "cache")
    assert data.test.ids.tolist() == ["c", "c_shuf"]


def test_unreadable_cached_set_names_the_cache(tmp_path):
    cache = tmp_path / "deepprune" / "690" / SET_690
    cache.mkdir(parents=True)
    (cache / "train.data").write_text(HTML)  # cached as complete by an older version
    (cache / "test.data").write_text(GOOD_TEST)
    (cache / ".complete").write_text("train.data\ntest.data\n")
    with pytest.raises(ValueError, match=rf"the cached data set in {cache} .* delete"):
        fetch_chipseq(SET_690, data_home=tmp_path)


def test_download_with_a_wrong_checksum_is_not_cached(mirror, tmp_path, monkeypatch):
    from sklearn_deepprune.datasets import _fetch

    base, folder = mirror
    (folder / "train.data").write_text(GOOD_TRAIN)
    (folder / "test.data").write_text(GOOD_TEST)
    monkeypatch.setenv("DEEPPRUNE_690_URL", base)
    source = dict(
        _fetch.CHIPSEQ_SOURCES["690"], hashes={f"{SET_690}/test.data": "sha256:" + "0" * 64}
    )
    monkeypatch.setitem(_fetch.CHIPSEQ_SOURCES, "690", source)
    cache = tmp_path / "cache" / "deepprune" / "690" / SET_690
    with pytest.raises(OSError, match=r"checksum") as info:
        fetch_chipseq(SET_690, data_home=tmp_path / "cache")
    assert str(cache) in str(info.value)
    assert not (cache / ".complete").exists() and not (cache / "test.data").exists()


def test_truncated_gzip_download_is_a_bad_download(tmp_path):
    from sklearn_deepprune.datasets._fetch import _check_download

    rows = "".join(f"A\tp{i}\tACGTACGTAC\t1\n" for i in range(2000))
    whole = gzip.compress(("FoldID\tEventID\tseq\tBound\n" + rows).encode())
    good, cut = tmp_path / "X_AC.seq.gz", tmp_path / "Y_AC.seq.gz"
    good.write_bytes(whole)
    cut.write_bytes(whole[: len(whole) // 2])
    assert _check_download(good) is None
    assert "truncated or corrupt" in _check_download(cut)


def test_split_that_leaves_a_part_one_label_is_refused():
    # Nine peaks and one negative: a test part of two records lacks a negative.
    target = np.array([1] * 9 + [0])
    with pytest.raises(ValueError, match=r"the test part has only label 1"):
        split_groups(np.arange(10), target, 0.2, 0)


def test_folder_part_without_negatives_is_refused(tmp_path):
    from sklearn_deepprune.datasets import load_chipseq

    (tmp_path / "train.data").write_text(GOOD_TRAIN)
    (tmp_path / "test.data").write_text(">c ACGTACGT 0\n>d AGCTAGCT 0\n")  # no positive
    with pytest.raises(ValueError, match=r"the test part has no positive and 2 negatives"):
        load_chipseq(tmp_path, negatives="shuffle")


def test_genome_pyfaidx_cannot_index_is_a_value_error(tmp_path):
    path = tmp_path / "blank.fa"
    path.write_text(">c0\nACGT\n>c1\nG\nN\n\n\n")  # pyfaidx raises a RuntimeError here
    with pytest.raises(ValueError, match=r"blank.fa: cannot index it as FASTA"):
        open_genome(path)
