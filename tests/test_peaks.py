"""load_peaks: peaks (BED/narrowPeak) on a genome FASTA, genomic negatives, hold-out splits."""

import gzip
import warnings

import numpy as np
import pytest
from conftest import TOY_MOTIF

pytest.importorskip("pyfaidx")
pytest.importorskip("bioframe")

from sklearn_deepprune.datasets import load_peaks, make_genome_peaks  # noqa: E402
from sklearn_deepprune.datasets._chipseq import iter_fasta  # noqa: E402
from sklearn_deepprune.datasets._peaks import split_groups  # noqa: E402

CONSENSUS = "GATAAGGC"  # TOY_MOTIF's consensus


@pytest.fixture(scope="module")
def genome_peaks(tmp_path_factory):
    """4 chromosomes of 20 kb, 30 peaks each with the toy motif at the summit."""
    folder = tmp_path_factory.mktemp("genome")
    return make_genome_peaks(
        folder, chromosome_length=20_000, n_peaks=120, motif=TOY_MOTIF, random_state=0
    )


def _genome(tmp_path, chromosomes):
    path = tmp_path / "genome.fa"
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in chromosomes.items()))
    return path


@pytest.fixture
def small_genome(tmp_path):
    rng = np.random.default_rng(1)
    chromosomes = {f"chr{i}": "".join(rng.choice(list("ACGT"), 2000)) for i in (1, 2)}
    return _genome(tmp_path, chromosomes), chromosomes


def _bed(tmp_path, text, name="peaks.bed"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _load(peaks, genome, **kwargs):
    kwargs.setdefault("random_state", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no silent drops in the normal case
        return load_peaks(peaks, genome, **kwargs)


# -- windows and coordinates ---------------------------------------------------------


def test_narrowpeak_windows_are_centred_on_summits(genome_peaks):
    data = _load(genome_peaks.peaks, genome_peaks.genome, test_chromosomes=["chr4"])
    train = data.train
    positives = train.target == 1
    assert positives.sum() == 90 and (~positives).sum() == 90
    # The motif was planted centred on the summit: at 50 - 4 in every 101-bp window.
    planted = np.array([s[46:54] for s in train.sequences[positives]])
    assert np.mean(planted == CONSENSUS) > 0.5
    assert all(len(s) == 101 for s in train.sequences)
    assert np.all(train.end - train.start == 101)
    # Window coordinates point at the genome's sequence.
    genome = dict(iter_fasta(genome_peaks.genome))
    for i in range(0, len(train.sequences), 2):
        assert train.sequences[i] == genome[train.chrom[i]][train.start[i] : train.end[i]]
    assert train.ids[0] == "chr1_peak0"
    assert data.split == "chromosomes" and data.test_chromosomes == ("chr4",)


def test_shuffles_follow_their_peak_with_its_coordinates(genome_peaks):
    data = _load(genome_peaks.peaks, genome_peaks.genome)
    for part in (data.train, data.test):
        assert part.target.tolist() == [1, 0] * (len(part.target) // 2)
        assert np.all(part.ids[1::2] == np.char.add(part.ids[0::2], "_shuf"))
        assert np.all(part.start[1::2] == part.start[0::2])
        assert np.all(part.chrom[1::2] == part.chrom[0::2])
        # A dinucleotide shuffle keeps the base counts.
        for peak, shuffle in zip(part.sequences[0::2], part.sequences[1::2], strict=True):
            assert sorted(peak) == sorted(shuffle)


def test_random_split_is_seeded_and_holds_out_test_size(genome_peaks):
    data = _load(genome_peaks.peaks, genome_peaks.genome, test_size=0.25, random_state=3)
    again = _load(genome_peaks.peaks, genome_peaks.genome, test_size=0.25, random_state=3)
    assert data.split == "random"
    assert (data.test.target == 1).sum() == 30
    assert np.array_equal(data.test.ids, again.test.ids)
    assert not set(data.train.ids) & set(data.test.ids)


def test_test_chromosomes_hold_out_whole_chromosomes(genome_peaks):
    for negatives in ("shuffle", "flank", "background"):
        data = _load(
            genome_peaks.peaks,
            genome_peaks.genome,
            negatives=negatives,
            test_chromosomes=("chr3", "chr4"),
        )
        assert set(data.test.chrom) == {"chr3", "chr4"}
        assert not {"chr3", "chr4"} & set(data.train.chrom)
        assert (data.test.target == 1).sum() == 60


def test_bed_windows_are_centred_on_the_middle(tmp_path, small_genome):
    genome, chromosomes = small_genome
    bed = _bed(
        tmp_path, "browser position chr1:1-100\n# comment\nchr1\t300\t500\nchr2\t1000\t1011\n"
    )
    data = _load(bed, genome, width=21, test_size=0.5)
    both = {
        (c, s): seq
        for part in (data.train, data.test)
        for c, s, seq, t in zip(part.chrom, part.start, part.sequences, part.target, strict=True)
        if t == 1
    }
    assert both == {
        ("chr1", 390): chromosomes["chr1"][390:411],
        ("chr2", 995): chromosomes["chr2"][995:1016],
    }
    ids = set(data.train.ids) | set(data.test.ids)
    assert "chr1:390-411" in ids  # BED3: ids are the windows' coordinates


def test_bed6_names_gzip_and_crlf(tmp_path, small_genome):
    genome, _ = small_genome
    path = tmp_path / "peaks.bed.gz"
    with gzip.open(path, "wt", newline="") as f:
        f.write("track name=x\r\nchr1\t100\t200\tfirst\t0\t+\r\nchr2\t300\t400\tsecond\t0\t-\r\n")
    data = _load(path, genome, width=51, test_size=0.5)
    assert sorted(set(data.train.ids) | set(data.test.ids)) == [
        "first",
        "first_shuf",
        "second",
        "second_shuf",
    ]


def test_soft_masked_and_iupac_bases(tmp_path):
    genome = _genome(tmp_path, {"chr1": "acgtRYKMacgt" * 20})
    bed = _bed(tmp_path, "chr1\t0\t12\nchr1\t12\t24\n")  # two peaks (one of them twice is warned)
    data = _load(bed, genome, width=12, test_size=0.5)
    assert data.train.sequences[0] == "ACGTNNNNACGT"


def test_bgzip_genome_is_read_and_plain_gzip_refused(tmp_path, small_genome):
    bgzf = pytest.importorskip("Bio.bgzf")
    genome, chromosomes = small_genome
    bed = _bed(tmp_path, "chr1\t100\t200\nchr2\t100\t200\n")
    packed = tmp_path / "genome.fa.gz"
    with bgzf.open(packed, "wb") as f:
        f.write(genome.read_bytes())
    data = _load(bed, packed, width=11, test_chromosomes=["chr2"])
    assert data.test.sequences[0] == chromosomes["chr2"][145:156]
    plain = tmp_path / "plain.fa.gz"
    with gzip.open(plain, "wb") as f:
        f.write(genome.read_bytes())
    with pytest.raises(ValueError, match=r"plain\.fa\.gz is gzip-compressed.*bgzip"):
        load_peaks(bed, plain)


# -- negatives -------------------------------------------------------------------------


def _overlaps(chrom, start, end, peaks_path):
    rows = [
        line.split("\t")[:3]
        for line in open(peaks_path).read().splitlines()
        if line and not line.startswith("track")
    ]
    return any(c == chrom and int(s) < end and start < int(e) for c, s, e in rows)


def test_flank_negatives_avoid_peaks(genome_peaks):
    data = _load(genome_peaks.peaks, genome_peaks.genome, negatives="flank")
    negatives = np.concatenate([data.train.target, data.test.target]) == 0
    chrom = np.concatenate([data.train.chrom, data.test.chrom])[negatives]
    start = np.concatenate([data.train.start, data.test.start])[negatives]
    assert 100 <= negatives.sum() <= 120  # one per peak, a few shared by neighbours
    assert not any(
        _overlaps(c, s, s + 101, genome_peaks.peaks) for c, s in zip(chrom, start, strict=True)
    )
    ids = np.concatenate([data.train.ids, data.test.ids])[negatives]
    assert all(i.startswith("flank_chr") for i in ids)


def test_background_negatives_match_gc_and_avoid_peaks(tmp_path):
    # A genome whose chromosomes differ in GC: the negatives must follow the peaks' GC.
    rng = np.random.default_rng(0)
    low = "".join(rng.choice(list("ACGT"), 30_000, p=[0.35, 0.15, 0.15, 0.35]))
    high = "".join(rng.choice(list("ACGT"), 30_000, p=[0.15, 0.35, 0.35, 0.15]))
    genome = _genome(tmp_path, {"chrLow": low, "chrHigh": high})
    bed = _bed(tmp_path, "".join(f"chrHigh\t{s}\t{s + 100}\n" for s in range(500, 29_000, 500)))
    data = _load(bed, genome, negatives="background", test_size=0.3)
    chrom = np.concatenate([data.train.chrom, data.test.chrom])
    target = np.concatenate([data.train.target, data.test.target])
    start = np.concatenate([data.train.start, data.test.start])
    assert (target == 0).sum() == (target == 1).sum()
    assert np.mean(chrom[target == 0] == "chrHigh") > 0.9
    assert not any(
        _overlaps(c, s, s + 101, bed)
        for c, s in zip(chrom[target == 0], start[target == 0], strict=True)
    )


def test_negatives_from_a_bed_file(tmp_path, small_genome):
    genome, chromosomes = small_genome
    peaks = _bed(tmp_path, "chr1\t100\t200\nchr2\t100\t200\n")
    negatives = _bed(tmp_path, "chr1\t1000\t1100\nchr2\t1500\t1600\n", "negatives.bed")
    data = _load(peaks, genome, negatives=negatives, test_chromosomes=["chr2"], width=11)
    assert data.train.target.tolist() == [1, 0]
    assert data.train.sequences[1] == chromosomes["chr1"][1045:1056]
    assert data.files["negatives"] == str(negatives)


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "track x\nchr1\t10\t20\nchrX\t10\t20\n",
            r"line 3: chromosome 'chrX' is not in the genome",
        ),
        (
            "chr1\t10\t20\nchr1\t1990\t2001\n",
            r"line 2: end 2001 is past the end of chr1 \(length 2000",
        ),
        ("chr1\t10\t20\n\nchr1\t30\t20\n", r"line 3: start 30 > end 20"),
        ("chr1\t-5\t20\n", r"line 1: start -5 is negative"),
        ("chr1\tten\t20\n", r"line 1: start 'ten' is not an integer"),
        ("chr1\t10\t20\nchr1\t10\t20\tname\n", r"line 2: 4 fields, but line 1 has 3"),
        ("chr1\t10\n", r"line 1: 2 field\(s\)"),
        ("track x\n# nothing\n\n", r"empty file"),
        ("", r"empty file"),
        (
            "chr1\t100\t200\tp\t0\t.\t1\t-1\t-1\t50\nchr1\t100\t200\tp\t0\t.\t1\t-1\t-1\t100\n",
            r"line 2: summit offset 100 \(column 10\) is outside its peak",
        ),
    ],
)
def test_bad_peak_files_name_file_and_line(tmp_path, small_genome, text, message):
    genome, _ = small_genome
    bed = _bed(tmp_path, text)
    with pytest.raises(ValueError, match=message) as info:
        load_peaks(bed, genome, width=11)
    assert str(bed) in str(info.value)
    assert "\n" not in str(info.value)


def test_windows_off_a_chromosome_end_are_dropped_with_a_count(tmp_path, small_genome):
    genome, _ = small_genome
    bed = _bed(tmp_path, "chr1\t0\t10\nchr1\t500\t600\nchr2\t700\t800\nchr2\t1995\t2000\n")
    with pytest.warns(UserWarning, match=r"2 of 4 windows of 101 bp fall off a chromosome end"):
        data = load_peaks(bed, genome, test_chromosomes=["chr2"], random_state=0)
    assert (data.train.target == 1).sum() == 1 and (data.test.target == 1).sum() == 1
    bed = _bed(tmp_path, "chr1\t0\t10\n")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="every window"):
        load_peaks(bed, genome)


def test_bad_parameters(tmp_path, small_genome, genome_peaks):
    genome, _ = small_genome
    bed = _bed(tmp_path, "chr1\t100\t200\nchr1\t300\t400\n")
    with pytest.raises(ValueError, match="width must be a positive integer"):
        load_peaks(bed, genome, width=0)
    with pytest.raises(ValueError, match=r"negatives must be one of .* or a BED file"):
        load_peaks(bed, genome, negatives="random")
    with pytest.raises(ValueError, match=r"test chromosome\(s\) 'chr9' not in the genome"):
        load_peaks(bed, genome, test_chromosomes=["chr9"])
    with pytest.raises(ValueError, match=r"no peak is on the test chromosomes chr2"):
        load_peaks(bed, genome, test_chromosomes=["chr2"])
    with pytest.raises(ValueError, match=r"every peak is on the test chromosomes chr1"):
        load_peaks(bed, genome, test_chromosomes=["chr1"])
    with pytest.raises(FileNotFoundError, match="no such genome FASTA"):
        load_peaks(bed, tmp_path / "missing.fa")
    with pytest.raises(FileNotFoundError, match="no such interval file"):
        load_peaks(tmp_path / "missing.bed", genome)
    with pytest.raises(ValueError, match=r"test_size must be in \(0, 1\)"):
        load_peaks(genome_peaks.peaks, genome_peaks.genome, test_size=1.5)


def test_split_groups_keeps_groups_together_and_stratifies():
    groups = np.repeat(np.arange(50), 2)
    target = np.tile([1, 0], 50)
    train, test = split_groups(groups, target, 0.2, 0)
    assert len(test) == 20 and len(train) == 80
    assert not set(groups[train]) & set(groups[test])
    with pytest.raises(ValueError, match="cannot hold out a test part"):
        split_groups(np.array([0]), np.array([1]), 0.2, 0)


def test_make_genome_peaks_writes_what_it_says(tmp_path):
    files = make_genome_peaks(
        tmp_path,
        n_chromosomes=2,
        chromosome_length=3001,
        n_peaks=5,
        motif=TOY_MOTIF,
        random_state=1,
    )
    genome = dict(iter_fasta(files.genome))
    assert {name: len(seq) for name, seq in genome.items()} == {"chr1": 3001, "chr2": 3001}
    lines = open(files.peaks).read().splitlines()
    assert lines[0].startswith("track") and len(lines) == 6
    for line in lines[1:]:
        chrom, start, end, _, _, _, _, _, _, summit = line.split("\t")
        centre = int(start) + int(summit)
        assert int(start) < centre < int(end)
        site = genome[chrom][centre - 4 : centre + 4]
        assert sum(a == b for a, b in zip(site, CONSENSUS, strict=True)) >= 5
    with pytest.raises(ValueError, match="too short"):
        make_genome_peaks(tmp_path, chromosome_length=600, n_peaks=400)


@pytest.mark.slow
def test_fit_on_peaks_recovers_the_motif_on_held_out_chromosomes(tmp_path):
    from sklearn.pipeline import make_pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder

    files = make_genome_peaks(
        tmp_path, chromosome_length=30_000, n_peaks=400, motif=TOY_MOTIF, random_state=0
    )
    data = load_peaks(files.peaks, files.genome, test_chromosomes=["chr4"], random_state=0)
    assert set(data.test.chrom) == {"chr4"}
    model = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(
            n_kernels=2,
            kernel_size=10,
            n_prune_steps=2,
            max_epochs=15,
            patience=4,
            random_state=0,
        ),
    )
    model.fit(data.train.sequences, data.train.target)
    assert model.score(data.test.sequences, data.test.target) > 0.9
