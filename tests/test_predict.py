"""The command line around peaks and models: fit on peaks, held-out test parts, predict, sweep."""

import csv
import gzip
import json

import numpy as np
import pytest
import torch
from conftest import FAST, SHARED_DATA, TINY, TOY_MOTIF, run_cli
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model
from sklearn_deepprune.encoding import reverse_complement
from sklearn_deepprune.network import activate, same_padding


def _read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, toy_sequences):
    """A tiny two-strand model on the toy data (40 bp), saved as model.deepprune."""
    X_train, y_train, _, _ = toy_sequences
    pipeline = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(
            n_kernels=2,
            n_prune_steps=1,
            kernel_size=8,
            max_epochs=5,
            patience=3,
            strand="both",
            random_state=0,
        ),
    ).fit(X_train, y_train)
    folder = tmp_path_factory.mktemp("model")
    save_model(pipeline, folder / "model.deepprune")
    return folder / "model.deepprune", pipeline


@pytest.fixture
def fasta(tmp_path, toy_sequences):
    _, _, X_test, _ = toy_sequences
    path = tmp_path / "test.fa"
    path.write_text("".join(f">seq{i} some description\n{s}\n" for i, s in enumerate(X_test)))
    return path


# -- predict ------------------------------------------------------------------------


def test_predict_help(capsys):
    status, out, _ = run_cli(["predict", "--help"], capsys)
    assert status == 0 and "usage: deepprune predict" in out and "--sites" in out


def test_predict_fasta_in_batches_matches_the_model(model_file, fasta, toy_sequences, capsys):
    path, pipeline = model_file
    _, _, X_test, _ = toy_sequences
    scores = fasta.parent / "scores.tsv"
    status, _, err = run_cli(
        ["predict", path.parent, fasta, "-o", scores, "--batch-size", "7"], capsys
    )
    assert status == 0, err
    assert "scored 200 sequences" in err
    rows = _read_tsv(scores)
    assert list(rows[0]) == ["id", "probability", "logit"]
    assert [row["id"] for row in rows] == [f"seq{i}" for i in range(200)]
    np.testing.assert_allclose(
        [float(row["logit"]) for row in rows], pipeline.decision_function(X_test), rtol=1e-4
    )
    np.testing.assert_allclose(
        [float(row["probability"]) for row in rows],
        pipeline.predict_proba(X_test)[:, 1],
        rtol=1e-4,
    )
    assert not list(fasta.parent.glob("*.partial"))


def _brute_force_sites(pipeline, sequences):
    """Each kernel's best (position, strand, score), straight from the kernels' weights."""
    clf = pipeline[-1]
    X = pipeline[0].transform(sequences)
    left, right = same_padding(clf.kernel_size)
    X = np.pad(X, ((0, 0), (0, 0), (left, right)))
    weights = {"+": clf.kernels_, "-": reverse_complement(clf.kernels_)}
    width = clf.kernel_size
    best = []
    for x in X:
        row = []
        for k in range(len(clf.kernels_)):
            candidates = []
            for strand, kernel in weights.items():
                for start in range(x.shape[1] - width + 1):
                    score = (kernel[k] * x[:, start : start + width]).sum() + clf.kernel_bias_[k]
                    activated = activate(torch.tensor(float(score)), clf.activation)
                    candidates.append((float(activated), strand, start - left))
            score, strand, start = max(candidates, key=lambda c: c[0])
            row.append((start, strand, score))
        best.append(row)
    return best


def test_predict_sites_are_each_kernels_best_window(model_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sklearn_deepprune.cli.predict._SITES_CHUNK", 3)  # chunks within a batch
    path, pipeline = model_file
    motif = "".join("ACGT"[i] for i in TOY_MOTIF.argmax(axis=1))
    rng = np.random.default_rng(0)
    sequences = []
    for i in range(6):
        seq = "".join(rng.choice(list("ACGT"), 40))
        site = motif if i % 2 == 0 else reverse_complement(motif)
        sequences.append(seq[: 5 + 4 * i] + site + seq[13 + 4 * i :])
    query = tmp_path / "query.fa.gz"
    with gzip.open(query, "wt") as f:
        f.write("".join(f">q{i}\n{s}\n" for i, s in enumerate(sequences)))
    status, out, err = run_cli(["predict", path, query, "--sites", "--batch-size", "4"], capsys)
    assert status == 0, err
    rows = list(csv.DictReader(out.splitlines(), delimiter="\t"))
    assert list(rows[0])[3:] == [
        "k0_position",
        "k0_strand",
        "k0_score",
        "k1_position",
        "k1_strand",
        "k1_score",
    ]
    expected = _brute_force_sites(pipeline, sequences)
    assert max(score for best in expected for _, _, score in best) > 0.1  # a live kernel
    for row, best in zip(rows, expected, strict=True):
        for k, (start, strand, score) in enumerate(best):
            assert float(row[f"k{k}_score"]) == pytest.approx(score, rel=1e-4, abs=1e-5)
            if score > 1e-3:  # a dead kernel's best window is arbitrary
                assert int(row[f"k{k}_position"]) == start
                assert row[f"k{k}_strand"] == strand


def test_predict_bed_with_genome_gives_coordinates(model_file, tmp_path, capsys):
    pytest.importorskip("pyfaidx")
    path, pipeline = model_file
    rng = np.random.default_rng(2)
    chromosome = "".join(rng.choice(list("ACGT"), 1000))
    (tmp_path / "genome.fa").write_text(f">chrA\n{chromosome}\n")
    bed = tmp_path / "regions.bed"
    bed.write_text(
        "track name=regions\nchrA\t100\t200\tr1\nchrA\t500\t520\tr2\nchrA\t990\t999\tr3\n"
    )
    scores = tmp_path / "scores.tsv"
    argv = ["predict", path, bed, "--genome", tmp_path / "genome.fa", "-o", scores]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    assert "deepprune: warning: " in err and "1 of 3 windows of 40 bp fall off" in err
    rows = _read_tsv(scores)
    assert [(r["id"], r["chrom"], r["start"], r["end"]) for r in rows] == [
        ("r1", "chrA", "130", "170"),
        ("r2", "chrA", "490", "530"),
    ]
    expected = pipeline.predict_proba([chromosome[130:170], chromosome[490:530]])[:, 1]
    np.testing.assert_allclose([float(r["probability"]) for r in rows], expected, rtol=1e-4)


def test_predict_labelled_file(model_file, tmp_path, toy_sequences, capsys):
    path, pipeline = model_file
    _, _, X_test, y_test = toy_sequences
    data = tmp_path / "test.data"
    records = enumerate(zip(X_test, y_test, strict=True))
    data.write_text("".join(f">s{i} {s} {y}\n" for i, (s, y) in records))
    status, out, err = run_cli(["predict", path, data], capsys)
    assert status == 0, err
    assert len(out.splitlines()) == 201


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "{tmp}/none.deepprune", "{fasta}"], "no such model file"),
        (["predict", "{tmp}", "{fasta}"], "holds no model.deepprune"),
        (["predict", "{model}", "{tmp}/none.fa"], "no such input file"),
        (["predict", "{model}", "{tmp}/x.bed"], "is a file of peaks: give the genome"),
        (["predict", "{model}", "{fasta}", "--genome", "{fasta}"], "--genome is for a BED"),
        (["predict", "{model}", "{long}"], "sequence long has length 50, longer than the 40"),
        (["predict", "{model}", "{fasta}", "--batch-size", "0"], "--batch-size must be"),
        (["predict", "{fasta}", "{fasta}"], "{fasta}"),
    ],
)
def test_predict_errors_are_one_line(argv, message, model_file, fasta, tmp_path, capsys):
    (tmp_path / "x.bed").write_text("chr1\t1\t2\n")
    (tmp_path / "long.fa").write_text(">long\n" + "A" * 50 + "\n")
    names = {"tmp": tmp_path, "fasta": fasta, "model": model_file[0], "long": tmp_path / "long.fa"}
    argv = [arg.format(**names) for arg in argv]
    status, _, err = run_cli(argv + ["-o", str(tmp_path / "out.tsv")], capsys)
    assert status == 1
    assert err.count("\n") == 1 and err.startswith("deepprune: error: ")
    assert message.format(**names) in err
    assert not (tmp_path / "out.tsv").exists() and not list(tmp_path.glob("*.partial"))


# -- fit: held-out test parts -----------------------------------------------------------


def test_fit_fasta_holds_out_a_seeded_test_part(tmp_path, capsys):
    rng = np.random.default_rng(0)
    records = [f">peak{i}\nGATAAGGC{''.join(rng.choice(list('ACGT'), 24))}\n" for i in range(40)]
    fasta = tmp_path / "peaks.fa"
    fasta.write_text("".join(records))
    status, out, err = run_cli(["fit", fasta, "-o", tmp_path / "model", *FAST], capsys)
    assert status == 0, err
    assert "held out 20% of" in out and "(seed 0" in out
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["n_train"] == 64 and metrics["n_test"] == 16  # 8 peaks and their shuffles
    assert 0 <= metrics["test_auc"] <= 1
    assert "held out 20%" in metrics["test_part"]


def test_fit_labelled_file_keeps_a_peak_and_its_shuffle_together(tmp_path, capsys):
    from sklearn_deepprune.cli import build_parser
    from sklearn_deepprune.cli.fit import _fit_data

    rng = np.random.default_rng(1)
    lines = []
    for i in range(30):
        seq = "".join(rng.choice(list("ACGT"), 20))
        lines += [f">chr1:{i} {seq} 1\n", f">chr1:{i}_shuf {seq[::-1]} 0\n"]
    rng.shuffle(lines)
    path = tmp_path / "train.data"
    path.write_text("".join(lines))
    args = build_parser().parse_args(["fit", str(path), "-o", str(tmp_path / "o")])
    X_train, y_train, X_test, y_test, note = _fit_data(args)
    assert len(X_test) == 12 and y_test.sum() == 6
    reverse = {s[::-1] for s in X_test}
    assert all(s in reverse for s in X_test)  # each peak's shuffle on its side
    assert "held out 20%" in note


def test_fit_folder_with_one_file_says_it_holds_out_a_test_part(tmp_path):
    from sklearn_deepprune.cli import build_parser
    from sklearn_deepprune.cli.fit import _fit_data

    rng = np.random.default_rng(2)

    def records(n):
        seqs = ["".join(rng.choice(list("ACGT"), 20)) for _ in range(n)]
        return "".join(f">r{i} {s} 1\n>r{i}_shuf {s[::-1]} 0\n" for i, s in enumerate(seqs))

    (tmp_path / "test.data").write_text(records(20))
    args = build_parser().parse_args(["fit", str(tmp_path), "-o", str(tmp_path / "o")])
    X_train, y_train, X_test, y_test, note = _fit_data(args)
    assert len(X_test) == 8 and "has only test.data: held out 20% of it" in note
    (tmp_path / "train.data").write_text(records(20))
    *_, note = _fit_data(args)
    assert note == "test part: the data set's own"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "{peaks}", "-o", "{tmp}/o"], "is a file of peaks: give the genome with --genome"),
        (["fit", "{fasta}", "-o", "{tmp}/o", "--test-chromosomes", "chr1"], "give --genome"),
        (["fit", "{fasta}", "-o", "{tmp}/o", "--negatives", "flank"], "give --genome"),
        (
            ["fit", "{peaks}", "-o", "{tmp}/o", "--genome", "{tmp}/g.fa", "--test", "{fasta}"],
            "--test is not for peaks",
        ),
        (
            ["fit", "{peaks}", "-o", "{tmp}/o", "--genome", "{tmp}/g.fa"],
            "{peaks}, line 1: chromosome 'chr1' is not in the genome",
        ),
    ],
)
def test_fit_peak_errors(argv, message, tmp_path, fasta, capsys):
    pytest.importorskip("pyfaidx")
    peaks = tmp_path / "peaks.narrowPeak"
    peaks.write_text("chr1\t10\t20\tp\t0\t.\t1\t-1\t-1\t5\n")
    (tmp_path / "g.fa").write_text(">chrZ\n" + "ACGT" * 50 + "\n")
    names = {"tmp": tmp_path, "fasta": fasta, "peaks": peaks}
    status, _, err = run_cli([arg.format(**names) for arg in argv], capsys)
    assert status == 1
    assert err.count("\n") == 1 and message.format(**names) in err


# -- many DeepBind sets side by side ---------------------------------------------------------


def _deepbind_folder(tmp_path, names):
    folder = tmp_path / "deepbind"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in names:
        for part, n in (("AC", 40), ("B", 20)):
            rows = [
                f"A\t{name}{part}{i}\tGATAAGGC{''.join(rng.choice(list('ACGT'), 16))}\t"
                f"{1 if part == 'AC' or i % 2 == 0 else 0}\n"
                for i in range(n)
            ]
            with gzip.open(folder / f"{name}_{part}.seq.gz", "wt") as f:
                f.write("FoldID\tEventID\tseq\tBound\n" + "".join(rows))
    return folder


def test_sweep_folder_of_deepbind_sets_side_by_side(tmp_path, capsys):
    import pandas as pd

    folder = _deepbind_folder(tmp_path, ["TF1_Cell_Lab", "TF2_Cell_Lab"])
    argv = ["sweep", folder, "-o", tmp_path / "results", "-q", "--variants", "baseline"]
    status, _, err = run_cli([*argv, "--kernels", "1", "--seeds", "0", "-j", "1", *TINY], capsys)
    assert status == 0, err
    table = pd.read_csv(tmp_path / "results" / "results.csv")
    assert sorted(table["dataset"]) == ["TF1_Cell_Lab", "TF2_Cell_Lab"]
    # fit on such a folder names the sets instead of picking one
    status, _, err = run_cli(["fit", folder, "-o", tmp_path / "o", *FAST], capsys)
    assert status == 1 and "holds 2 data sets (TF1_Cell_Lab, TF2_Cell_Lab)" in err


def test_deepbind_set_without_its_test_file_is_named(tmp_path, capsys):
    from sklearn_deepprune.experiments import resolve_datasets

    folder = _deepbind_folder(tmp_path, ["TF1_Cell_Lab", "TF2_Cell_Lab"])
    (folder / "TF2_Cell_Lab_B.seq.gz").unlink()
    with pytest.raises(ValueError, match=r"TF2_Cell_Lab_AC.seq.gz has no TF2_Cell_Lab_B.seq.gz"):
        resolve_datasets(folder)


def test_shared_deepbind_collection_folder_is_many_sets(tmp_path):
    from sklearn_deepprune.experiments import resolve_datasets

    source = SHARED_DATA / "chipseq" / "deepbind"
    if not source.is_dir():
        pytest.skip("shared DeepBind data not available")
    # DeepBind's distribution: every set's two files in one folder.
    flat = tmp_path / "encode"
    flat.mkdir()
    for path in sorted(source.glob("*/*.seq.gz"))[:4]:
        (flat / path.name).symlink_to(path)
    datasets = resolve_datasets(flat)
    assert len(datasets) == 2
    X_train, y_train, X_test, y_test = datasets[0].load()
    assert set(y_train) == {0, 1} and len(X_test) == 1000


# -- end to end: peaks on a genome -------------------------------------------------------------


@pytest.mark.slow
def test_fit_peaks_then_predict_held_out_chromosome(tmp_path, capsys):
    pytest.importorskip("pyfaidx")
    from sklearn.metrics import roc_auc_score

    from sklearn_deepprune.datasets import make_genome_peaks

    files = make_genome_peaks(
        tmp_path / "genome",
        chromosome_length=30_000,
        n_peaks=400,
        motif=TOY_MOTIF,
        random_state=0,
    )
    model = tmp_path / "model"
    argv = ["fit", files.peaks, "--genome", files.genome, "--test-chromosomes", "chr4"]
    argv += ["-o", model, "-q", "--no-matches", "--n-kernels", "2", "--kernel-size", "10"]
    argv += ["--max-epochs", "15", "--patience", "4", "--n-prune-steps", "2"]
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    assert "test part: the windows on chr4" in out
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["n_test"] == 200 and metrics["test_auc"] > 0.9

    # Score chr4's summits and as many other chr4 positions: the peaks score higher.
    summits = []
    for line in open(files.peaks):
        fields = line.split("\t")
        if fields[0] == "chr4":
            summits.append(int(fields[1]) + int(fields[9]))
    # Random positions whose windows hold no planted motif (none within 110 bp of a summit).
    rng = np.random.default_rng(1)
    candidates = rng.integers(100, 29_800, size=20 * len(summits))
    distance = np.abs(candidates[:, None] - np.array(summits)[None]).min(axis=1)
    others = candidates[distance > 110][: len(summits)]
    assert len(others) == len(summits)
    bed = tmp_path / "chr4.bed"
    bed.write_text(
        "".join(f"chr4\t{s}\t{s + 1}\tpeak{i}\n" for i, s in enumerate(summits))
        + "".join(f"chr4\t{s}\t{s + 1}\trandom{i}\n" for i, s in enumerate(others))
    )
    scores = tmp_path / "scores.tsv"
    argv = ["predict", model, bed, "--genome", files.genome, "-o", scores, "--sites"]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    rows = _read_tsv(scores)
    labels = [row["id"].startswith("peak") for row in rows]
    assert roc_auc_score(labels, [float(row["logit"]) for row in rows]) > 0.9
    # One kernel is the motif's detector: on most peaks its best site overlaps the planted
    # motif (positions 46 to 53 of the 101-bp window centred on the summit) by 6+ bases.
    on_peaks = [row for row, label in zip(rows, labels, strict=True) if label]
    found = []
    for k in range(2):
        start = np.array([int(row[f"k{k}_position"]) for row in on_peaks])
        overlap = np.minimum(start + 10, 54) - np.maximum(start, 46)
        found.append(np.mean((overlap >= 6) & [row[f"k{k}_strand"] == "+" for row in on_peaks]))
    assert max(found) > 0.75


# -- fit: Tomtom matches and labelled logos ---------------------------------------------------


def _peaks_fasta(tmp_path):
    rng = np.random.default_rng(0)
    records = [f">peak{i}\nGATAAGGC{''.join(rng.choice(list('ACGT'), 24))}\n" for i in range(40)]
    fasta = tmp_path / "peaks.fa"
    fasta.write_text("".join(records))
    return fasta


def test_fit_writes_matches_and_labels_the_logos(tmp_path, capsys, monkeypatch):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("logomaker")
    from sklearn_deepprune import motifs

    calls = {}

    def fake_compare(found, targets="JASPAR", **kwargs):
        calls["compare"] = ([m.name for m in found], targets)
        return pd.DataFrame({"query": [m.name for m in found], "target_id": "MA0035.5"})

    real_plot = motifs.plot_logos

    def spy_plot(found, matches=None, **kwargs):
        calls["plot"] = matches
        return real_plot(found, None, **kwargs)

    monkeypatch.setattr(motifs, "compare_motifs", fake_compare)
    monkeypatch.setattr(motifs, "plot_logos", spy_plot)
    argv = ["fit", _peaks_fasta(tmp_path), "-o", tmp_path / "m", "-q", "--n-kernels", "1", *TINY]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    assert calls["compare"] == (["kernel_0"], "JASPAR")
    table = pd.read_csv(tmp_path / "m" / "matches.tsv", sep="\t")
    assert table.to_dict("records") == [{"query": "kernel_0", "target_id": "MA0035.5"}]
    assert calls["plot"] is not None and list(calls["plot"]["target_id"]) == ["MA0035.5"]
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["files"]["matches"].endswith("matches.tsv")
    assert (tmp_path / "m" / "logos.png").is_file()


def test_fit_without_tomtom_still_writes_logos(tmp_path, capsys, monkeypatch):
    pytest.importorskip("logomaker")
    from sklearn_deepprune import motifs

    def unavailable(*args, **kwargs):
        raise ImportError("compare_motifs needs memelite")

    monkeypatch.setattr(motifs, "compare_motifs", unavailable)
    argv = ["fit", _peaks_fasta(tmp_path), "-o", tmp_path / "m", "-q", "--n-kernels", "1", *TINY]
    status, _, err = run_cli(argv, capsys)
    assert status == 0
    assert "motifs not matched to JASPAR (compare_motifs needs memelite)" in err
    assert not (tmp_path / "m" / "matches.tsv").exists()
    assert (tmp_path / "m" / "logos.png").is_file()
    status, _, err = run_cli([*argv[:3], tmp_path / "n", *argv[4:], "--no-matches"], capsys)
    assert status == 0 and "JASPAR" not in err and (tmp_path / "n" / "logos.png").is_file()


@pytest.mark.slow
def test_fit_matches_the_kernels_in_jaspar(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("memelite")
    pytest.importorskip("pyjaspar")
    argv = ["fit", _peaks_fasta(tmp_path), "-o", tmp_path / "m", "-q", "--n-kernels", "1", *TINY]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    table = pd.read_csv(tmp_path / "m" / "matches.tsv", sep="\t")
    assert list(table["query"]) == ["kernel_0"]
    assert table["target_id"].str.match(r"MA\d{4}\.\d+$").all()
    assert {"p_value", "e_value", "q_value", "orientation"} <= set(table.columns)
