"""Tests of genome-wide binding maps: scan_genome and ``deepprune scan``."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import make_genome_peaks
from sklearn_deepprune.datasets._peaks import _write_fasta_record, open_genome
from sklearn_deepprune.tracks import check_scan_folder, kernel_score_pvalues, scan_genome

pytest.importorskip("numba")
pyBigWig = pytest.importorskip("pyBigWig")
pysam = pytest.importorskip("pysam")

POOLINGS = ["max", "max_avg", "lse"]


def _genome(path, lengths=(3000, 2111), n_runs=True, seed=0):
    """A random genome; with ``n_runs`` a run of N inside chr1 and Ns at its start."""
    rng = np.random.RandomState(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "wb") as handle:
        for i, length in enumerate(lengths):
            codes = letters[rng.randint(0, 4, length)].copy()
            if n_runs and i == 0:
                codes[:40] = ord("N")
                codes[1200:1500] = ord("N")
                codes[2004] = ord("N")
            _write_fasta_record(handle, f"chr{i + 1}", codes)
    return str(path)


def _model(length=60, width=15, strand="both", activation="leaky_capped", pooling="max", seed=0):
    """A fitted pipeline with random kernels (a 1-epoch fit, weights then redrawn)."""
    rng = np.random.RandomState(seed)
    params = {"pooling": pooling} if pooling != "max" else {}
    clf = DeepPruneClassifier(
        n_kernels=3,
        n_prune_steps=0,
        kernel_size=width,
        max_epochs=1,
        random_state=0,
        strand=strand,
        activation=activation,
        **params,
    )
    sequences = ["".join(rng.choice(list("ACGT"), length)) for _ in range(32)]
    pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(sequences, [0, 1] * 16)
    generator = torch.Generator().manual_seed(seed)
    module = clf.net_.module_
    with torch.no_grad():
        for parameter in (module.conv.weight, module.conv.bias, module.dense.weight):
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
        if pooling == "lse":  # sharpnesses other than the initial 1
            module.log_sharpness.copy_(torch.randn(3, generator=generator))
    return pipe


def _windows(genome, track, length):
    """The sequence of the window centred on each track bin (N outside the chromosome)."""
    fasta = open_genome(genome)
    sequences = []
    for chrom, start, end in zip(track["chrom"], track["start"], track["end"], strict=True):
        size = len(fasta[chrom])
        first = (start + end - 1) // 2 - length // 2
        inside = str(fasta[chrom][max(first, 0) : min(first + length, size)])
        sequences.append("N" * max(-first, 0) + inside + "N" * max(first + length - size, 0))
    return sequences


def _predicted_logit(pipe, sequences):
    return pipe[-1].decision_function(pipe[0].transform(sequences))


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    return _genome(tmp_path_factory.mktemp("genome") / "genome.fa")


# -- the track equals predict_proba ---------------------------------------------


@pytest.mark.parametrize(
    ("strand", "pooling", "length", "width", "step"),
    [
        ("both", "max", 60, 15, 7),
        ("forward", "max", 61, 24, 10),
        ("both", "max", 24, 24, 1),
        *[("both", pool, 50, 12, 3) for pool in POOLINGS[1:]],
        *[("forward", pool, 45, 15, 13) for pool in POOLINGS[1:]],
    ],
)
def test_track_equals_predict_proba(genome, strand, pooling, length, width, step):
    pipe = _model(length, width, strand, pooling=pooling)
    found = scan_genome(pipe, genome, step=step, chunk_size=41, progress=False)
    track = found.track
    n = len(track)
    # Random bins, both chromosome ends, and the bins on each side of every chunk border.
    borders = np.flatnonzero(np.diff(track["start"].to_numpy() // step // 41) != 0)
    chosen = np.unique(
        np.r_[
            np.random.RandomState(0).choice(n, 150, replace=False),
            0,
            n - 1,
            np.flatnonzero(track["chrom"].to_numpy()[1:] != track["chrom"].to_numpy()[:-1]),
            np.flatnonzero(track["chrom"].to_numpy()[1:] != track["chrom"].to_numpy()[:-1]) + 1,
            borders[:20],
            borders[:20] + 1,
        ]
    )
    part = track.iloc[chosen]
    sequences = _windows(genome, part, length)
    logit = _predicted_logit(pipe, sequences)
    np.testing.assert_allclose(part["logit"], logit, rtol=1e-5, atol=2e-5)
    probability = pipe.predict_proba(sequences)[:, 1]
    np.testing.assert_allclose(part["probability"], probability, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["max", "lse"])
def test_chunks_do_not_change_the_result(genome, pooling):
    pipe = _model(pooling=pooling)
    small = scan_genome(pipe, genome, step=5, chunk_size=17, progress=False, kernel_tracks=True)
    large = scan_genome(pipe, genome, step=5, progress=False, kernel_tracks=True, n_jobs=1)
    assert len(small.track) == len(large.track) > 0
    np.testing.assert_array_equal(small.track.to_numpy(), large.track.to_numpy())
    np.testing.assert_array_equal(small.sites.to_numpy(), large.sites.to_numpy())


def test_bins_cover_the_regions_and_skip_n(genome):
    pipe = _model()
    track = scan_genome(pipe, genome, step=10, progress=False).track
    fasta = open_genome(genome)
    chr1 = track[track["chrom"] == "chr1"]
    centre = (chr1["start"].to_numpy() + chr1["end"].to_numpy() - 1) // 2
    assert all(str(fasta["chr1"][int(c)]) != "N" for c in centre)
    # The bins inside the run of N are left out; the others are all there.
    assert not ((chr1["start"] >= 1200) & (chr1["end"] <= 1500)).any()
    assert len(chr1) == 300 - 4 - 30 - 1  # the bin 2000-2010 is centred on an N
    chr2 = track[track["chrom"] == "chr2"]
    assert chr2["start"].tolist() == list(range(0, 2111, 10))
    assert chr2["end"].iloc[-1] == 2111  # the last bin is cut by the chromosome's end


def test_regions_and_chromosomes(genome, tmp_path):
    pipe = _model()
    whole = scan_genome(pipe, genome, step=4, progress=False).track
    only = scan_genome(pipe, genome, ["chr2"], step=4, progress=False).track
    assert set(only["chrom"]) == {"chr2"}
    np.testing.assert_array_equal(only.to_numpy(), whole[whole["chrom"] == "chr2"].to_numpy())
    bed = tmp_path / "regions.bed"
    bed.write_text("chr2\t100\t400\nchr1\t2000\t2100\nchr2\t300\t500\n")
    part = scan_genome(pipe, genome, bed, step=4, progress=False).track
    assert part["chrom"].tolist()[0] == "chr1"  # the genome's order, regions merged
    assert part[part["chrom"] == "chr2"]["start"].tolist() == list(range(100, 500, 4))
    sequences = _windows(genome, part, 60)
    np.testing.assert_allclose(part["logit"], _predicted_logit(pipe, sequences), atol=2e-5)


# -- sites ----------------------------------------------------------------------------


def test_sites_agree_with_find_sites(genome):
    from sklearn_deepprune.motifs import find_sites

    pipe = _model(activation="relu", seed=3)
    found = scan_genome(pipe, genome, step=50, p_value=1e-2, progress=False)
    sites = found.sites
    fasta = open_genome(genome)
    module = pipe[-1].net_.module_
    weight = module.conv.weight.detach().double().numpy()
    bias = module.conv.bias.detach().double().numpy()
    # Windows of 300 bp without N; find_sites scans each with its own 'same' padding.
    starts = [0, 300, 600, 2500]
    sequences = [str(fasta["chr2"][s : s + 300]) for s in starts]
    X = SequenceOneHotEncoder().fit(sequences).transform(sequences)
    table = find_sites(pipe[-1], X, float(found.cutoffs.min()) - 1e-3, relative=False, sites="all")
    table = table[(table["end"] - table["start"]) == module.kernel_size]
    kernels = {
        (k, s): (weight[k].T if s == 0 else weight[k][::-1, ::-1].T)
        for k in range(3)
        for s in (0, 1)
    }
    p = np.array(
        [
            kernel_score_pvalues(
                kernels[(row.kernel, int(row.strand == "-"))],
                row.score,
                found.background,
                bias=bias[row.kernel],
            )
            for row in table.itertuples()
        ]
    )
    table = table[p <= 1e-2]
    expected = sorted(
        (starts[row.sequence] + row.start, f"kernel_{row.kernel}", row.strand)
        for row in table.itertuples()
    )
    inside = sites[(sites["chrom"] == "chr2")]
    inside = inside[
        np.any([(inside["start"] >= s) & (inside["end"] <= s + 300) for s in starts], axis=0)
    ]
    got = sorted(zip(inside["start"], inside["name"], inside["strand"], strict=True))
    assert len(got) > 5
    assert got == expected
    merged = inside.set_index(["start", "name", "strand"])["kernel_score"]
    for row in table.itertuples():
        key = (starts[row.sequence] + row.start, f"kernel_{row.kernel}", row.strand)
        assert merged.loc[key] == pytest.approx(row.score, abs=1e-4)


def test_sites_have_no_n_and_are_sorted(genome):
    found = scan_genome(_model(), genome, p_value=1e-2, progress=False)
    sites = found.sites
    fasta = open_genome(genome)
    assert len(sites) > 50
    for row in sites.itertuples():
        assert "N" not in str(fasta[row.chrom][row.start : row.end])
    order = sites["chrom"].map({"chr1": 0, "chr2": 1}).to_numpy() * 10**6 + sites["start"]
    assert (np.diff(order.to_numpy()) >= 0).all()
    assert (sites["p_value"] <= 1e-2).all()
    assert set(sites["strand"]) == {"+", "-"}


# -- p-values ---------------------------------------------------------------------------


def _brute_force(kernel, background, bias=0.0):
    """Every word's score and probability, for a kernel of width w (4**w words)."""
    width = len(kernel)
    words = np.array(list(itertools.product(range(4), repeat=width)))
    scores = bias + kernel[np.arange(width), words].sum(axis=1)
    probability = np.prod(np.asarray(background)[words], axis=1)
    return scores, probability


@pytest.mark.parametrize("background", [(0.25, 0.25, 0.25, 0.25), (0.3, 0.2, 0.2, 0.3)])
def test_pvalues_equal_brute_force_on_a_binned_kernel(background):
    rng = np.random.RandomState(1)
    kernel = rng.randint(-5, 6, size=(6, 4)).astype(float)  # already on the bins
    scores, probability = _brute_force(kernel, background, bias=0.5)
    exact = np.array([probability[scores >= s].sum() for s in scores])
    got = kernel_score_pvalues(kernel, scores, background, bias=0.5, bin_size=1.0)
    np.testing.assert_allclose(got, exact, rtol=1e-12)


def test_pvalues_match_brute_force_within_the_binning():
    rng = np.random.RandomState(2)
    kernel = rng.normal(size=(6, 4))
    background = np.array([0.35, 0.15, 0.15, 0.35])
    scores, probability = _brute_force(kernel, background)
    got = kernel_score_pvalues(kernel, scores, background)
    spread = (kernel.max(axis=1) - kernel.min(axis=1)).sum()
    tolerance = 6 * spread / 10_000  # w columns, each rounded by at most half a bin
    order = np.argsort(scores)
    tail = np.cumsum(probability[order][::-1])[::-1]  # P(S >= sorted score)
    sorted_scores = scores[order]

    def survival(s):
        return np.r_[tail, 0.0][np.searchsorted(sorted_scores, s, side="left")]

    assert (got <= survival(scores - tolerance) + 1e-12).all()
    assert (got >= survival(scores + tolerance) - 1e-12).all()
    exact = survival(scores)
    assert (got >= exact - 1e-12).all()  # never below the exact p-value
    assert np.median(np.abs(got - exact) / exact) < 1e-3


def test_pvalues_of_tied_scores_are_exact():
    # Every column rounds the same way: a score of two matches was looked up one bin too
    # high (the p-value of three matches) before the rounding slack.
    kernel = np.eye(4)[[0, 1, 2]]
    got = kernel_score_pvalues(kernel, [3.0, 2.0, 1.0, 0.0, -1.0])
    np.testing.assert_allclose(got, [1 / 64, 10 / 64, 37 / 64, 1.0, 1.0])


def test_pvalues_match_memelite_fimo(tmp_path):
    memelite = pytest.importorskip("memelite")
    from sklearn_deepprune.datasets import load_motif

    pfm = load_motif("MA0139.2")  # CTCF, (19, 4)
    log_odds = np.log2(pfm + 1e-4) - np.log2(0.25)
    width = len(pfm)
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 4, 60_000)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    path = tmp_path / "uniform.fa"
    with open(path, "wb") as handle:
        _write_fasta_record(handle, "chr1", letters[codes].copy())
    clf = DeepPruneClassifier(
        n_kernels=1, n_prune_steps=0, kernel_size=width, max_epochs=1, strand="both"
    )
    sequences = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(16)]
    pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(sequences, [0, 1] * 8)
    with torch.no_grad():
        clf.net_.module_.conv.weight.copy_(torch.tensor(log_odds.T[None], dtype=torch.float32))
        clf.net_.module_.conv.bias.zero_()
    found = scan_genome(pipe, path, background=[0.25] * 4, step=100, progress=False)
    ours = found.sites
    X = np.eye(4, dtype=np.float32)[codes].T[None]
    (hits,) = memelite.fimo({"ctcf": pfm.T}, X, threshold=1e-4)
    theirs = {
        (int(s), "+" if strand == "+" else "-"): p
        for s, strand, p in zip(hits["start"], hits["strand"], hits["p-value"], strict=True)
    }
    mine = {
        (int(s), strand): p
        for s, strand, p in zip(ours["start"], ours["strand"], ours["p_value"], strict=True)
    }
    assert len(theirs) > 5
    common = set(theirs) & set(mine)
    # Scores on the threshold can fall either side with the two binnings.
    assert len(common) >= 0.9 * max(len(theirs), len(mine))
    ratio = np.array([mine[key] / theirs[key] for key in common])
    assert ((ratio > 0.75) & (ratio < 1.33)).all()


# -- files ------------------------------------------------------------------------------


def test_files_read_back(genome, tmp_path):
    pipe = _model()
    output = tmp_path / "scan"
    settings = {"step": 10, "kernel_tracks": True, "p_value": 1e-2, "progress": False}
    found = scan_genome(pipe, genome, output=output, **settings)
    memory = scan_genome(pipe, genome, **settings)
    assert sorted(p.name for p in output.iterdir()) == sorted(
        ["binding.bw", "kernel_0.bw", "kernel_1.bw", "kernel_2.bw", "scan.json"]
        + ["sites.bed.gz", "sites.bed.gz.tbi"]
    )
    with pyBigWig.open(found.files["binding"]) as bw:
        assert bw.chroms() == {"chr1": 3000, "chr2": 2111}
        intervals = bw.intervals("chr1") + bw.intervals("chr2")
    assert len(intervals) == len(memory.track)
    np.testing.assert_array_equal([i[0] for i in intervals], memory.track["start"])
    np.testing.assert_array_equal([i[1] for i in intervals], memory.track["end"])
    np.testing.assert_allclose(
        [i[2] for i in intervals], memory.track["probability"].astype(np.float32)
    )
    with pyBigWig.open(found.files["kernel_1"]) as bw:
        values = [i[2] for i in bw.intervals("chr2")]
    np.testing.assert_allclose(values, memory.track[memory.track["chrom"] == "chr2"]["kernel_1"])
    with pysam.TabixFile(found.files["sites"]) as tabix:
        assert set(tabix.contigs) <= {"chr1", "chr2"}
        rows = [line.split("\t") for line in tabix.fetch("chr2", 500, 1500)]
    expected = memory.sites[
        (memory.sites["chrom"] == "chr2")
        & (memory.sites["end"] > 500)
        & (memory.sites["start"] < 1500)
    ]
    assert [int(r[1]) for r in rows] == expected["start"].tolist()
    assert [r[3] for r in rows] == expected["name"].tolist()
    assert [float(r[7]) for r in rows] == pytest.approx(expected["p_value"].tolist(), rel=1e-3)
    settings = json.loads((output / "scan.json").read_text())
    assert settings["step"] == 10 and settings["n_sites"] == len(memory.sites)


def test_interrupted_scan_leaves_no_output(genome, tmp_path, monkeypatch):
    from sklearn_deepprune import tracks

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tracks, "_compress_sites", interrupted)
    output = tmp_path / "scan"
    with pytest.raises(KeyboardInterrupt):
        scan_genome(_model(), genome, output=output, progress=False)
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []


def test_fit_folder_names_kernels_by_their_matches(genome, tmp_path):
    from sklearn_deepprune import save_model

    folder = tmp_path / "model"
    folder.mkdir()
    save_model(_model(), folder / "model.deepprune")
    (folder / "matches.tsv").write_text(
        "query\ttarget_id\ttarget_name\tp_value\nkernel_1\tMA0139.2\tCTCF\t1e-9\n"
    )
    found = scan_genome(folder, genome, ["chr2"], progress=False)
    assert found.kernel_names == ["kernel_0", "kernel_1:CTCF", "kernel_2"]
    assert set(found.sites["name"]) <= set(found.kernel_names)


# -- bad input -------------------------------------------------------------------------


def test_bad_input(genome, tmp_path):
    pipe = _model()
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t0\t100\nchrX\t0\t100\n")
    with pytest.raises(ValueError, match=r"regions.bed, line 2: chromosome 'chrX' is not in"):
        scan_genome(pipe, genome, bed, progress=False)
    with pytest.raises(ValueError, match="chromosome 'chr9' is not in the genome"):
        scan_genome(pipe, genome, ["chr9"], progress=False)
    # A model fitted on other input than one-hot DNA (one channel).
    other = DeepPruneClassifier(n_kernels=2, n_prune_steps=0, kernel_size=3, max_epochs=1)
    other.fit(np.random.RandomState(0).rand(16, 30).astype(np.float32), [0, 1] * 8)
    with pytest.raises(ValueError, match="1 channel.*not one-hot DNA"):
        scan_genome(other, genome, window=30, progress=False)
    with pytest.raises(ValueError, match="step must be a positive integer"):
        scan_genome(pipe, genome, step=0, progress=False)
    with pytest.raises(ValueError, match=r"p_value must be in \(0, 1\)"):
        scan_genome(pipe, genome, p_value=2, progress=False)
    output = tmp_path / "scan"
    scan_genome(pipe, genome, ["chr2"], output=output, progress=False)
    with pytest.raises(ValueError, match="holds another scan"):
        scan_genome(pipe, genome, output=output, progress=False)
    with pytest.raises(ValueError, match="holds another scan"):
        check_scan_folder(output)


def test_cli_scan(genome, tmp_path, capsys):
    from sklearn_deepprune import save_model
    from sklearn_deepprune.cli import main

    model = tmp_path / "model.deepprune"
    save_model(_model(), model)
    output = tmp_path / "scan"
    argv = ["scan", str(model), "--genome", genome, "-o", str(output), "--step", "20", "-q"]
    assert main([*argv, "--kernel-tracks", "--chrom", "chr2"]) == 0
    assert (output / "kernel_2.bw").is_file() and (output / "sites.bed.gz.tbi").is_file()
    with pyBigWig.open(str(output / "binding.bw")) as bw:
        assert bw.intervals("chr1") is None and len(bw.intervals("chr2")) == 106
    capsys.readouterr()
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith("deepprune: error: output folder") and error.count("\n") == 1
    bed = tmp_path / "regions.bed"
    bed.write_text("chrX\t0\t100\n")
    argv[argv.index("-o") + 1] = str(tmp_path / "other")
    assert main([*argv, "--regions", str(bed)]) == 1
    error = capsys.readouterr().err
    assert "chromosome 'chrX' is not in the genome" in error and error.count("\n") == 1


# -- Dask ------------------------------------------------------------------------------


@pytest.mark.slow
def test_dask_equals_local(genome, tmp_path):
    distributed = pytest.importorskip("distributed")
    pipe = _model()
    local = scan_genome(pipe, genome, output=tmp_path / "local", chunk_size=23, progress=False)
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster,
        distributed.Client(cluster),
    ):
        remote = scan_genome(
            pipe,
            genome,
            output=tmp_path / "dask",
            chunk_size=23,
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert remote.n_bins == local.n_bins > 0 and remote.n_sites == local.n_sites > 0
    for name in ("binding",):
        with pyBigWig.open(local.files[name]) as a, pyBigWig.open(remote.files[name]) as b:
            for chrom in ("chr1", "chr2"):
                assert a.intervals(chrom) == b.intervals(chrom)
    with pysam.TabixFile(local.files["sites"]) as a, pysam.TabixFile(remote.files["sites"]) as b:
        assert list(a.fetch()) == list(b.fetch())


# -- accuracy ---------------------------------------------------------------------------


@pytest.mark.slow
def test_track_finds_held_out_peaks(tmp_path):
    """On the synthetic genome, the track's maximum ranks held-out peaks above background."""
    auc, _ = held_out_peak_auc(tmp_path)
    assert auc >= 0.9


def held_out_peak_auc(folder, random_state=0):
    """ROC AUC of the track's maximum in held-out peaks against random windows of their sizes.

    A model is fitted on the peaks of chr1-chr3 of :func:`make_genome_peaks`
    (shuffled negatives), chr4 is scanned, and each of its peaks is set
    against a random window of the same length on chr4 that overlaps no peak.
    """
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from sklearn_deepprune.datasets import load_peaks

    files = make_genome_peaks(
        folder, n_chromosomes=4, chromosome_length=200_000, n_peaks=600, random_state=random_state
    )
    data = load_peaks(files.peaks, files.genome, test_chromosomes=["chr4"], random_state=0)
    clf = DeepPruneClassifier(
        n_kernels=4, n_prune_steps=2, kernel_size=15, max_epochs=15, random_state=0
    )
    pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(data.train.sequences, data.train.target)
    track = scan_genome(pipe, files.genome, ["chr4"], step=10, progress=False).track
    peaks = pd.read_csv(files.peaks, sep="\t", skiprows=1, header=None, usecols=[0, 1, 2])
    peaks = peaks[peaks[0] == "chr4"]
    rng = np.random.RandomState(random_state)
    occupied = np.zeros(files.chromosome_sizes["chr4"], dtype=bool)
    for start, end in zip(peaks[1], peaks[2], strict=True):
        occupied[start:end] = True
    centre = ((track["start"] + track["end"] - 1) // 2).to_numpy()
    value = track["probability"].to_numpy()

    def best(start, end):
        inside = (centre >= start) & (centre < end)
        return value[inside].max()

    scores, labels = [], []
    for start, end in zip(peaks[1], peaks[2], strict=True):
        scores.append(best(start, end))
        labels.append(1)
        while True:
            other = rng.randint(0, len(occupied) - (end - start))
            if not occupied[other : other + end - start].any():
                break
        scores.append(best(other, other + end - start))
        labels.append(0)
    return roc_auc_score(labels, scores), len(peaks)


def test_bgzip_and_soft_masked_genomes(genome, tmp_path):
    """A bgzip FASTA (read through pyfaidx) and lower-case bases give the same scan."""
    text = open(genome).read().splitlines()
    masked = tmp_path / "masked.fa"
    masked.write_text(
        "\n".join(
            line if line.startswith(">") or i % 3 else line.lower() for i, line in enumerate(text)
        )
        + "\n"
    )
    compressed = tmp_path / "masked.fa.gz"
    pysam.tabix_compress(str(masked), str(compressed))
    pipe = _model()
    plain = scan_genome(pipe, genome, step=9, progress=False)
    for other in (masked, compressed):
        found = scan_genome(pipe, other, step=9, progress=False)
        np.testing.assert_array_equal(found.track.to_numpy(), plain.track.to_numpy())
        np.testing.assert_array_equal(found.sites.to_numpy(), plain.sites.to_numpy())


def test_crlf_genome_and_a_stale_index(genome, tmp_path):
    """Windows line ends give the same scan; an index whose lines the FASTA lacks is an error."""
    import os

    text = open(genome).read()
    crlf = tmp_path / "crlf.fa"
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    pipe = _model()
    plain = scan_genome(pipe, genome, step=9, progress=False)
    found = scan_genome(pipe, crlf, step=9, progress=False)
    np.testing.assert_array_equal(found.track.to_numpy(), plain.track.to_numpy())
    np.testing.assert_array_equal(found.sites.to_numpy(), plain.sites.to_numpy())
    # The same bases in lines of 50 under the index of lines of 60 (kept newer than the FASTA).
    stale = tmp_path / "stale.fa"
    stale.write_bytes(open(genome, "rb").read())
    open_genome(stale)  # writes stale.fa.fai
    with open(stale, "wb") as handle:
        fasta = open_genome(genome)
        for name in fasta.keys():
            letters = np.frombuffer(str(fasta[name][:]).encode(), dtype=np.uint8)
            _write_fasta_record(handle, name, letters, line_width=50)
    index = stale.with_name("stale.fa.fai")
    os.utime(index, (os.path.getmtime(stale) + 10,) * 2)
    with pytest.raises(ValueError, match=r"stale\.fa.*index"):
        scan_genome(pipe, stale, step=9, progress=False, background=(0.25,) * 4)
