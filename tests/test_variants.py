"""Tests of sklearn_deepprune.variants: score_variants, plot_variant and deepprune variants."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cgt_classifier
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, save_model
from sklearn_deepprune import variants as variants_module
from sklearn_deepprune.cli import main
from sklearn_deepprune.variants import score_variants

pd = pytest.importorskip("pandas")
pysam = pytest.importorskip("pysam")
pytest.importorskip("pyfaidx")

A, C, G, T = range(4)
SCORES = [
    "id",
    "ref",
    "alt",
    "ref_match",
    "prob_ref",
    "prob_alt",
    "logit_ref",
    "logit_alt",
    "logit_diff",
    "kernel",
    "motif",
    "kernel_diff",
    "site_ref",
    "strand_ref",
    "site_alt",
    "strand_alt",
    "filled_n",
]


@pytest.fixture(params=[True, False], ids=["numba", "torch"])
def scan_path(request, monkeypatch):
    """Run a test with the compiled scan and with the torch fallback."""
    if request.param:
        pytest.importorskip("numba")
    monkeypatch.setattr(variants_module, "_USE_NUMBA", request.param)
    return request.param


def _hand_built(strand="forward", length=11):
    """The CGT network (see conftest.cgt_classifier) on windows of ``length``.

    A window holding CGT (with strand="both" also its reverse complement ACG)
    has logit 1.5, any other 0.5.
    """
    coder = SequenceOneHotEncoder().fit(["A" * length])
    X = coder.transform(["A" * length, "C" * length, "G" * length, "T" * length])
    return make_pipeline(coder, cgt_classifier(X, strand))


def _random_model(strand="both", pooling="max", length=21, kernel_size=5, seed=0):
    """A 3-kernel model with random weights (continuous scores, no ties)."""
    rng = np.random.default_rng(seed)
    sequences = ["".join(rng.choice(list("ACGT"), length)) for _ in range(8)]
    coder = SequenceOneHotEncoder().fit(sequences)
    clf = DeepPruneClassifier(
        n_kernels=3,
        n_prune_steps=0,
        kernel_size=kernel_size,
        max_epochs=0,
        strand=strand,
        pooling=pooling,
        random_state=seed,
    ).fit(coder.transform(sequences), [0, 1] * 4)
    with torch.no_grad():
        clf.net_.module_.dense.weight.copy_(
            torch.as_tensor(rng.normal(0, 2, (1, 3 * (1 + (pooling == "max_avg")))))
        )
        if pooling == "lse":  # sharpnesses other than the initial 1
            clf.net_.module_.log_sharpness.copy_(torch.as_tensor(rng.normal(0, 1, 3)))
    return make_pipeline(coder, clf)


def _genome(tmp_path, chromosomes):
    path = tmp_path / "genome.fa"
    with open(path, "w") as handle:
        for name, sequence in chromosomes.items():
            handle.write(f">{name}\n")
            for i in range(0, len(sequence), 60):
                handle.write(sequence[i : i + 60] + "\n")
    return str(path)


def _vcf(tmp_path, rows, name="variants.vcf", contigs=None, compress=True):
    """A VCF of (chrom, pos, id, ref, alt) rows; bgzipped with pysam unless compress=False."""
    path = tmp_path / name
    with open(path, "w") as handle:
        handle.write("##fileformat=VCFv4.2\n")
        for contig, length in (contigs or {}).items():
            handle.write(f"##contig=<ID={contig},length={length}>\n")
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for chrom, pos, ident, ref, alt in rows:
            handle.write(f"{chrom}\t{pos}\t{ident}\t{ref}\t{alt}\t.\t.\t.\n")
    if not compress:
        return str(path)
    pysam.tabix_compress(str(path), str(path) + ".gz", force=True)
    return str(path) + ".gz"


def _score(*args, **kwargs):
    """score_variants and the warnings it gives, as a list of strings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        effects = score_variants(*args, **kwargs)
    return effects, [str(w.message) for w in caught]


def _windows(chromosome, pos0, ref, alt, length):
    """REF and ALT windows of a variant built by hand: each allele centred, N past the ends."""

    def base(i):
        return chromosome[i] if 0 <= i < len(chromosome) else "N"

    windows = []
    for allele in (ref, alt):
        pad = length + len(allele) + len(ref)
        context = "".join(base(i) for i in range(pos0 - pad, pos0)) + allele
        context += "".join(base(i) for i in range(pos0 + len(ref), pos0 + len(ref) + pad))
        first = pad + len(allele) // 2 - length // 2
        windows.append(context[first : first + length])
    return windows


# -- the score, worked out by hand ---------------------------------------------------------------


def test_a_destroyed_site(tmp_path, scan_path):
    model = _hand_built()
    chromosome = "TTTTTTTTTTCGTTTTTTTT"  # CGT at 10..12
    genome = _genome(tmp_path, {"chr1": chromosome})
    variants = pd.DataFrame({"chrom": ["chr1"], "pos": [12], "ref": ["G"], "alt": ["A"]})
    effects, caught = _score(model, variants, genome)
    assert caught == []
    row = effects.iloc[0]
    # REF window holds CGT: 2 * (3 - 2.5) + 0.5 = 1.5; ALT (CAT) none: 0.5.
    assert row.logit_ref == pytest.approx(1.5) and row.logit_alt == pytest.approx(0.5)
    assert row.logit_diff == pytest.approx(-1.0) and row.kernel_diff == pytest.approx(-1.0)
    assert row.prob_ref == pytest.approx(1 / (1 + np.exp(-1.5)))
    assert row.kernel == 0 and bool(row.ref_match)
    # The site CGT starts one base before the G at pos 12 (1-based 11).
    assert row.site_ref == -1 and row.strand_ref == "+"


def test_a_created_site(tmp_path, scan_path):
    model = _hand_built()
    chromosome = "TTTTTTTTTTCATTTTTTTT"  # A -> G at 12 makes CGT
    genome = _genome(tmp_path, {"chr1": chromosome})
    variants = pd.DataFrame({"chrom": ["chr1"], "pos": [12], "ref": ["A"], "alt": ["G"]})
    row = _score(model, variants, genome)[0].iloc[0]
    assert row.logit_ref == pytest.approx(0.5) and row.logit_alt == pytest.approx(1.5)
    assert row.logit_diff == pytest.approx(1.0) and row.kernel == 0
    assert row.site_alt == -1 and row.strand_alt == "+"


def test_a_site_on_the_reverse_strand(tmp_path, scan_path):
    # ACG at 10..12 is CGT's reverse complement: only a both-strands model sees it.
    chromosome = "TTTTTTTTTTACGAAAAAAA"
    genome = _genome(tmp_path, {"chr1": chromosome})
    variants = pd.DataFrame({"chrom": ["chr1"], "pos": [12], "ref": ["C"], "alt": ["T"]})
    row = _score(_hand_built("both"), variants, genome)[0].iloc[0]
    assert row.logit_diff == pytest.approx(-1.0) and row.kernel_diff == pytest.approx(-1.0)
    assert row.strand_ref == "-" and row.site_ref == -1
    forward = _score(_hand_built("forward"), variants, genome)[0].iloc[0]
    assert forward.logit_ref == pytest.approx(0.5) and forward.logit_diff == 0
    assert pd.isna(forward.kernel) and forward.motif is None


def test_no_change_has_no_kernel(tmp_path, scan_path):
    genome = _genome(tmp_path, {"chr1": "T" * 40})
    variants = pd.DataFrame({"chrom": ["chr1"], "pos": [20], "ref": ["T"], "alt": ["A"]})
    row = _score(_hand_built(), variants, genome)[0].iloc[0]
    assert row.logit_diff == 0 and pd.isna(row.kernel) and pd.isna(row.site_ref)


# -- the same numbers as decision_function -----------------------------------------------------


def _check_against_decision_function(model, chromosome, rows, effects):
    length = model[0].length_
    expected = []
    for pos, ref, alt in rows:
        expected += _windows(chromosome, pos - 1, ref, alt, length)
    logits = model.decision_function(expected).reshape(-1, 2)
    np.testing.assert_allclose(effects["logit_ref"], logits[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(effects["logit_alt"], logits[:, 1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        effects["prob_alt"], model.predict_proba(expected[1::2])[:, 1], rtol=1e-5
    )


@pytest.mark.parametrize("strand", ["both", "forward"])
@pytest.mark.parametrize("pooling", ["max", "max_avg", "lse"])
def test_equals_decision_function_on_windows_built_by_hand(tmp_path, scan_path, strand, pooling):
    rng = np.random.default_rng(1)
    model = _random_model(strand, pooling)
    chromosome = "".join(rng.choice(list("ACGT"), 80))
    chromosome = chromosome[:40] + "NNN" + chromosome[43:]
    genome = _genome(tmp_path, {"chr1": chromosome})
    rows = []
    for pos in [1, 2, 5, 11, 30, 41, 60, 75, 79, 80]:  # SNVs, near both ends and by the Ns
        ref = chromosome[pos - 1]
        rows.append((pos, ref, "ACGT"[("ACGT".index(ref) + 1) % 4] if ref != "N" else "A"))
    for pos, n_ref, alt in [(10, 1, "GATTACA"), (3, 1, "CC"), (78, 1, "TTTTT"), (50, 1, "A" * 30)]:
        rows.append((pos, chromosome[pos - 1 : pos - 1 + n_ref], alt))  # insertions
    for pos, n_ref in [(20, 4), (2, 3), (74, 7), (30, 25), (60, 2)]:
        rows.append((pos, chromosome[pos - 1 : pos - 1 + n_ref], chromosome[pos - 1]))  # deletions
    rows.append((33, chromosome[32:35], "GGG"))  # an MNV
    variants = pd.DataFrame(rows, columns=["pos", "ref", "alt"]).assign(chrom="chr1")
    effects, _ = _score(model, variants, genome, all_kernels=True)
    assert len(effects) == len(rows) and effects["ref_match"].all()
    _check_against_decision_function(model, chromosome, rows, effects)
    # The kernels' changes sum to the logit's, and the named kernel changes most.
    diffs = effects[["k0_diff", "k1_diff", "k2_diff"]].to_numpy()
    np.testing.assert_allclose(diffs.sum(axis=1), effects["logit_diff"], atol=1e-5)
    changed = effects["kernel"].notna().to_numpy()
    kernel = effects["kernel"][changed].astype(int).to_numpy()
    np.testing.assert_allclose(
        np.abs(diffs[changed]).max(axis=1), np.abs(effects["kernel_diff"][changed])
    )
    assert (np.abs(diffs[changed, kernel]) == np.abs(diffs[changed]).max(axis=1)).all()
    # Windows past an end or through the Ns are flagged; one in the middle is not.
    filled = dict(zip(effects["pos"][:10], effects["filled_n"][:10], strict=True))  # the SNVs
    assert filled[1] == 10 and filled[41] > 0 and filled[11] == 0 and filled[30] == 0


@pytest.mark.parametrize("pooling", ["max_avg", "lse"])
def test_the_compiled_scan_equals_the_torch_scan(tmp_path, monkeypatch, pooling):
    pytest.importorskip("numba")
    rng = np.random.default_rng(2)
    model = _random_model("both", pooling, length=31, kernel_size=7)
    chromosome = "".join(rng.choice(list("ACGT"), 500))
    genome = _genome(tmp_path, {"chr1": chromosome})
    pos = rng.integers(1, 500, 300)
    alts = rng.choice(["A", "C", "G", "T", "AT", "CGC"], 300)
    variants = pd.DataFrame(
        {"chrom": "chr1", "pos": pos, "ref": [chromosome[p - 1] for p in pos], "alt": alts}
    )
    fast = _score(model, variants, genome, all_kernels=True)[0]
    monkeypatch.setattr(variants_module, "_USE_NUMBA", False)
    plain = _score(model, variants, genome, all_kernels=True)[0]
    numbers = fast.select_dtypes("number").columns
    np.testing.assert_allclose(
        fast[numbers].astype(float), plain[numbers].astype(float), atol=1e-5
    )
    pd.testing.assert_frame_equal(fast.drop(columns=numbers), plain.drop(columns=numbers))


@pytest.mark.parametrize("n_columns", [5, 8, 11])
def test_the_scan_without_the_mean_equals_the_general_one(n_columns):
    # The max-only scan (eight table columns at a time, the ALT maximum derived from
    # the REF one) gives bit for bit the maxima and first positions of the general scan.
    pytest.importorskip("numba")
    from sklearn_deepprune import _variantscan
    from sklearn_deepprune._fastscan import lookup_table

    rng = np.random.default_rng(3)
    kernel_size, length, n = 7, 31, 400
    weight = rng.normal(size=(n_columns, 5, kernel_size)).astype(np.float32)
    weight[:, :, 0] = np.round(weight[:, :, 0])  # some ties between positions
    table, _ = lookup_table(weight, rng.normal(size=n_columns).astype(np.float32), 3)
    ref = rng.integers(0, 4, (n, length)).astype(np.uint8)
    ref[:20, :4] = 4
    ref[::13] = ref[0]  # the same window again: ties
    alt = ref.copy()
    alt[:, 15] = (alt[:, 15] + 1) % 4
    alt[::3, 2] = (alt[::3, 2] + 2) % 4  # changes near an end
    alt[1::4, 25:] = 0  # an indel's changed tail
    alt[::5] = ref[::5]  # no change
    general = _variantscan.scan_pairs(ref, alt, table, kernel_size, 3, 1, (0, 0.0, 0.0))
    fast = _variantscan.scan_pairs(ref, alt, table, kernel_size, 3, 1)
    for a, b in zip(general[:4], fast, strict=False):
        np.testing.assert_array_equal(a, b)


# -- the edge cases ------------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path):
    """The hand-built model and a genome of chr1 (CGT at 10..12) and chrM."""
    chromosomes = {"chr1": "TTTTTTTTTTCGTTTTTTTTTTTTTTTTTT", "chrM": "A" * 30}
    return _hand_built(), _genome(tmp_path, chromosomes), chromosomes


def test_a_multiallelic_record_gives_one_row_per_alt(tmp_path, small):
    model, genome, _ = small
    vcf = _vcf(tmp_path, [("chr1", 12, "rs1", "G", "A,T,GC"), ("chr1", 20, "rs2", "T", "C")])
    effects, caught = _score(model, vcf, genome)
    assert effects["alt"].tolist() == ["A", "T", "GC", "C"]
    assert effects["id"].tolist() == ["rs1"] * 3 + ["rs2"]
    assert effects["logit_diff"].tolist() == pytest.approx([-1.0, -1.0, -1.0, 0.0])
    assert caught == [
        f"1 multi-allelic record(s) gave one row per ALT allele (first at {vcf}, line 3)"
    ]


def test_symbolic_and_missing_alts_are_skipped(tmp_path, small):
    model, genome, _ = small
    rows = [
        ("chr1", 12, "a", "G", "<DEL>"),
        ("chr1", 12, "b", "G", "A,*"),
        ("chr1", 13, "c", "T", "."),
        ("chr1", 14, "d", "T", "T[chr1:20["),
        ("chr1", 15, "e", "T", "C"),
    ]
    vcf = _vcf(tmp_path, rows, compress=False)
    effects, caught = _score(model, vcf, genome)
    assert effects["id"].tolist() == ["b", "e"] and effects["alt"].tolist() == ["A", "C"]
    assert (
        "skipped 4 symbolic or missing ALT allele(s) (<DEL>, *, ., breakends; first at "
        f"{vcf}, line 3)" in caught
    )


def test_a_ref_that_does_not_match_the_genome(tmp_path, small):
    model, genome, _ = small
    variants = pd.DataFrame(
        {"chrom": "chr1", "pos": [12, 12], "ref": ["G", "A"], "alt": ["A", "C"]},
        index=["x", "y"],
    )
    effects, caught = _score(model, variants, genome)
    assert effects["ref_match"].tolist() == [True, False]
    # Scored as given: REF A makes CAT (no site, 0.5), ALT C makes CCT (none either).
    assert effects["logit_ref"].tolist() == pytest.approx([1.5, 0.5])
    assert caught == [
        "1 REF allele(s) do not match the genome (first at row 'y'): flagged ref_match=False "
        "and scored as given"
    ]
    skipped, caught = _score(model, variants, genome, on_ref_mismatch="skip")
    assert skipped["ref"].tolist() == ["G"]
    assert caught == [
        "skipped 1 variant(s) whose REF does not match the genome (first at row 'y')"
    ]
    with pytest.raises(ValueError, match=r"row 'y': REF A does not match the genome, which has G"):
        score_variants(model, variants, genome, on_ref_mismatch="error")
    with pytest.raises(ValueError, match="on_ref_mismatch must be one of"):
        score_variants(model, variants, genome, on_ref_mismatch="ignore")


def test_chromosome_names_are_reconciled_and_said_once(tmp_path, small):
    model, genome, _ = small
    rows = [("1", 12, ".", "G", "A"), ("1", 20, ".", "T", "A"), ("MT", 15, ".", "A", "C")]
    effects, caught = _score(model, _vcf(tmp_path, rows), genome)
    assert effects["chrom"].tolist() == ["1", "1", "MT"]  # as given
    assert effects["logit_diff"].tolist() == pytest.approx([-1.0, 0.0, 0.0])
    assert effects["ref_match"].all()
    assert caught == [
        "the variants name chromosomes differently from the genome genome.fa: read 1 as chr1, "
        "MT as chrM"
    ]


def test_an_unknown_chromosome_is_skipped(tmp_path, small):
    model, genome, _ = small
    rows = [("chr7", 12, ".", "G", "A"), ("chr1", 12, ".", "G", "A"), ("chr7", 3, ".", "G", "A")]
    vcf = _vcf(tmp_path, rows)
    effects, caught = _score(model, vcf, genome)
    assert effects["chrom"].tolist() == ["chr1"]
    assert caught == [
        f"skipped 2 variant(s) on chromosomes that are not in the genome (first at {vcf}, line 3)"
    ]


def test_windows_past_an_end_or_through_n_are_flagged(tmp_path):
    model = _hand_built()
    genome = _genome(tmp_path, {"chr1": "CGTTTTTTTTTTNNTTTTTTTTTTTTTT"})
    variants = pd.DataFrame(
        {"chrom": "chr1", "pos": [2, 20, 27, 28], "ref": ["G", "T", "T", "T"], "alt": "A"}
    )
    effects, caught = _score(model, variants, genome)
    # Window of 11 around pos 2: 4 N before the chromosome; around 20: the two Ns.
    assert effects["filled_n"].tolist() == [4, 0, 4, 5]
    assert effects["logit_diff"][0] == pytest.approx(-1.0)
    assert caught == [
        "3 window(s) run past a chromosome end or through N (first at row 0): filled as the "
        "encoder fills N and counted in column filled_n"
    ]


def test_a_ref_past_the_chromosome_end_and_non_dna_alleles_are_skipped(tmp_path, small):
    model, genome, _ = small
    variants = pd.DataFrame(
        {
            "chrom": "chr1",
            "pos": [30, 29, 12, 12],
            "ref": ["TT", "TT", "G", "G"],
            "alt": ["T", "T", "X", "A"],
        }
    )
    effects, caught = _score(model, variants, genome)
    assert effects.index.tolist() == [0, 1] and effects["pos"].tolist() == [29, 12]
    assert sorted(caught) == [
        "1 window(s) run past a chromosome end or through N (first at row 1): filled as the "
        "encoder fills N and counted in column filled_n",
        "skipped 1 allele(s) that are not DNA (A, C, G, T, N; first at row 2)",
        "skipped 1 variant(s) whose REF runs past the end of its chromosome or sequence (first "
        "at row 0)",
    ]


# -- the three kinds of input ------------------------------------------------------------------


def test_vcf_coordinates_and_sequences_give_the_same_rows(tmp_path, scan_path):
    rng = np.random.default_rng(3)
    model = _random_model("both")
    chromosomes = {f"chr{i}": "".join(rng.choice(list("ACGT"), 200)) for i in (1, 2)}
    genome = _genome(tmp_path, chromosomes)
    rows = []
    for i in range(40):
        chrom = f"chr{1 + i % 2}"
        pos = int(rng.integers(1, 195))
        ref = chromosomes[chrom][pos - 1 : pos - 1 + (1 + i % 3)]
        alt = ["A", "CG", ref[0]][i % 3] if i % 3 else "ACGT"["ACGT".index(ref) - 1]
        rows.append((chrom, pos, f"v{i}", ref, alt))
    rows.append(("chr1", 10, "multi", chromosomes["chr1"][9], "A,C"))
    from_vcf, _ = _score(model, _vcf(tmp_path, rows), genome, batch_size=7)
    frame = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt"])
    from_frame, _ = _score(model, frame, genome)
    sequences = frame.assign(
        sequence=[chromosomes[c] for c in frame["chrom"]], position=frame["pos"] - 1
    ).drop(columns=["chrom", "pos"])
    from_sequences, _ = _score(model, sequences)
    assert len(from_vcf) == len(rows) + 1
    pd.testing.assert_frame_equal(from_vcf, from_frame)
    pd.testing.assert_frame_equal(from_vcf[SCORES], from_sequences[SCORES])
    assert from_sequences["position"].tolist() == (from_vcf["pos"] - 1).tolist()


def _pysam_records(path):
    with pysam.VariantFile(str(path)) as handle:
        return [(r.chrom, r.pos, r.id, r.ref, r.alts) for r in handle]


def _read_records(path, batch_size):
    out = []
    for batch in variants_module._read_vcf(Path(path), batch_size):
        alts = batch.alts
        if isinstance(alts, np.ndarray):
            alts = [(a,) for a in alts]
        rows = zip(batch.chrom, batch.pos_out, batch.ids, batch.ref, alts, strict=True)
        out += [(c, int(p), i, r, a) for c, p, i, r, a in rows]
    return out


@pytest.mark.parametrize("compress", [True, False])
def test_the_text_reader_gives_what_pysam_gives(tmp_path, monkeypatch, compress):
    # A text VCF's plain lines are read in bulk (not through pysam): the same values as
    # pysam's, multi-allelic, missing, symbolic and lower-case alleles too; a line that
    # is not plain (an empty ID) hands the rest of the file to pysam.
    rows = [
        ("chr1", 12, "rs1", "G", "A"),
        ("chr10", 12, "rs2", "G", "A"),
        ("chr2", 12, "rs3", "G", "A"),
        ("chr1", 13, ".", "g", "a"),
        ("chr1", 14, "a;b", "GT", "G,<DEL>"),
        ("chr2", 15, "x", "G", "."),
        ("chr2", 16, "y", "G", "*"),
        ("chr2", 17, "z", "G", "G[chr1:5["),
        ("chr2", 18, ".", "ACGTACGT" * 10, "A"),
        ("chr2", 19, "rs9", "C", "T,."),
        ("chr2", 20, "", "C", "T"),
        ("chr2", 21, "last", "C", "T"),
    ]
    contigs = {"chr1": 100, "chr2": 100, "chr10": 100}
    path = _vcf(tmp_path, rows, compress=compress, contigs=contigs)
    expected = _pysam_records(path)
    assert len(expected) == len(rows)
    for batch_size in (1, 3, 100):
        assert _read_records(path, batch_size) == expected
    clean = _vcf(tmp_path, rows[:10], "clean.vcf", compress=compress, contigs=contigs)
    calls = []
    original = variants_module._parse_lines
    monkeypatch.setattr(
        variants_module, "_parse_lines", lambda *a: calls.append(1) or original(*a)
    )
    assert _read_records(clean, 3) == _pysam_records(clean)
    assert len(calls) == 4  # all of it read in bulk


def test_a_bad_record_after_bulk_batches_names_its_line(tmp_path, small):
    model, genome, _ = small
    rows = [("chr1", 12 + i, ".", "G", "A") for i in range(7)] + [("chr1", "1x", ".", "G", "A")]
    path = _vcf(tmp_path, rows)
    with pytest.raises(ValueError, match=rf"{path}, line 10: cannot read this VCF record 'chr1"):
        score_variants(model, path, genome, batch_size=3)


def test_bad_input_says_where(tmp_path, small):
    model, genome, _ = small
    path = tmp_path / "bad.vcf"
    path.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t12\t.\tG\tA\t.\t.\t.\nchr1\tx5\t.\tG\tA\t.\t.\t.\n"
    )
    with pytest.raises(ValueError, match=rf"{path}, line 4: cannot read this VCF record"):
        score_variants(model, str(path), genome)
    with pytest.raises(FileNotFoundError, match="no such VCF file"):
        score_variants(model, str(tmp_path / "missing.vcf"), genome)
    with pytest.raises(ValueError, match="needs the genome FASTA"):
        score_variants(model, str(path))
    frame = pd.DataFrame({"chrom": "chr1", "pos": [12, 1.5], "ref": "G", "alt": "A"})
    with pytest.raises(ValueError, match="row 1: pos must be an integer; got 1.5"):
        score_variants(model, frame, genome)
    frame = pd.DataFrame(
        {"sequence": ["ACGT", "AC-T"], "position": [1, 1], "ref": "C", "alt": "A"}
    )
    with pytest.raises(ValueError, match="row 1: the sequence holds '-' at position 2"):
        score_variants(model, frame)
    with pytest.raises(ValueError, match="needs columns chrom, pos"):
        score_variants(model, pd.DataFrame({"chr": ["1"]}), genome)
    with pytest.raises(TypeError, match="variants must be a VCF/BCF path or a pandas DataFrame"):
        score_variants(model, [("chr1", 12, "G", "A")], genome)
    with pytest.raises(ValueError, match="a bare DeepPruneClassifier does not know its input"):
        score_variants(model[-1], frame)


def test_a_model_file_and_a_fit_folder_with_motif_names(tmp_path, small):
    model, genome, _ = small
    variants = pd.DataFrame({"chrom": ["chr1"], "pos": [12], "ref": ["G"], "alt": ["A"]})
    save_model(model, tmp_path / "model.deepprune")
    from_file = _score(str(tmp_path / "model.deepprune"), variants, genome)[0]
    pd.testing.assert_frame_equal(from_file, _score(model, variants, genome)[0])
    assert from_file["motif"].tolist() == [None]
    pd.DataFrame(
        {
            "query": ["kernel_0"],
            "target_id": ["MA0139.2"],
            "target_name": ["CTCF"],
            "q_value": [0.01],
        }
    ).to_csv(tmp_path / "matches.tsv", sep="\t", index=False)
    from_folder = _score(tmp_path, variants, genome)[0]
    assert from_folder["motif"].tolist() == ["CTCF (MA0139.2)"]
    named = _score(model, variants, genome, motif_names=["my motif"])[0]
    assert named["motif"].tolist() == ["my motif"]
    # A bare classifier scores the same with the window given.
    bare = _score(model[-1], variants, genome, window=11)[0]
    pd.testing.assert_frame_equal(bare, from_file)


# -- deepprune variants ------------------------------------------------------------------------


def test_the_command_end_to_end(tmp_path, small, capsys):
    model, genome, _ = small
    save_model(model, tmp_path / "model.deepprune")
    rows = [
        ("chr1", 12, "rs1", "G", "A,T"),
        ("1", 20, "rs2", "T", "C"),
        ("chr1", 21, ".", "T", "<DEL>"),
    ]
    vcf = _vcf(tmp_path, rows)
    out = tmp_path / "effects.tsv"
    argv = ["variants", str(tmp_path / "model.deepprune"), vcf, "--genome", genome, "-o", str(out)]
    assert main([*argv, "--all-kernels", "--batch-size", "1"]) == 0
    _, err = capsys.readouterr()
    table = pd.read_csv(out, sep="\t")
    expected = _score(model, vcf, genome, all_kernels=True)[0]
    assert table.columns.tolist() == expected.columns.tolist() and "k0_diff" in table.columns
    assert table["id"].tolist() == ["rs1", "rs1", "rs2"]
    np.testing.assert_allclose(table["logit_diff"], expected["logit_diff"])
    # Numbers at the model's float32 precision: each reads back as a float32 value.
    # (at most 9 significant digits, where a float64 copy's text has up to 17).
    text = pd.read_csv(out, sep="\t", dtype=str)
    for name in ("prob_ref", "prob_alt", "logit_ref", "logit_alt", "logit_diff", "k0_diff"):
        digits = text[name].str.replace(r"^-?[0.]*|[.]|e.*$", "", regex=True).str.len()
        assert (digits <= 9).all(), text[name].tolist()
    assert table["kernel"].tolist()[:2] == [0, 0] and np.isnan(table["kernel"][2])
    assert table["ref_match"].tolist() == [True, True, True]
    assert "deepprune: warning: 1 multi-allelic record(s) gave one row per ALT allele" in err
    assert "deepprune: warning: skipped 1 symbolic or missing ALT allele(s)" in err
    assert err.count("deepprune: warning:") == 3  # and the chromosome names, once
    assert "deepprune: scored 3 alleles; wrote" in err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_command_quotes_a_value_pyarrow_will_not_write(tmp_path, small, capsys):
    # An ID with a quote: pyarrow's writer refuses it unquoted, pandas writes the batch.
    model, genome, _ = small
    save_model(model, tmp_path / "model.deepprune")
    vcf = _vcf(tmp_path, [("chr1", 12, 'a"b', "G", "A"), ("chr1", 20, "rs2", "T", "C")])
    out = tmp_path / "effects.tsv"
    argv = ["variants", str(tmp_path / "model.deepprune"), vcf, "--genome", genome, "-o", str(out)]
    assert main(argv) == 0
    table = pd.read_csv(out, sep="\t")
    assert table["id"].tolist() == ['a"b', "rs2"]
    assert table["ref_match"].tolist() == [True, True]
    expected = _score(model, vcf, genome)[0]
    np.testing.assert_allclose(table["logit_diff"], expected["logit_diff"])
    assert table["kernel"].tolist()[0] == expected["kernel"].tolist()[0]


def test_the_command_says_what_is_wrong_in_one_line(tmp_path, small, capsys):
    model, genome, _ = small
    save_model(model, tmp_path / "model.deepprune")
    bad = tmp_path / "bad.vcf"
    bad.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\tx\n"
    )
    out = tmp_path / "effects.tsv"
    out.write_text("old\n")
    argv = ["variants", str(tmp_path / "model.deepprune"), str(bad), "--genome", genome]
    assert main([*argv, "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"deepprune: error: {bad}, line 3: cannot read")
    assert out.read_text() == "old\n"  # left as it was
    assert main([*argv, "-o", str(bad)]) == 1
    assert "refusing to write over it" in capsys.readouterr().err
    assert main([*argv[:2], str(tmp_path / "none.vcf"), *argv[3:], "-o", str(out)]) == 1
    assert "no such VCF file" in capsys.readouterr().err


# -- plot_variant --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["ism", "gradient"])
def test_plot_variant_draws_ref_above_alt(tmp_path, small, method):
    pytest.importorskip("logomaker")
    if method == "gradient":
        pytest.importorskip("tangermeme")
    from sklearn_deepprune.variants import plot_variant

    model, genome, _ = small
    effects = score_variants(
        model, pd.DataFrame({"chrom": ["chr1"], "pos": [12], "ref": ["G"], "alt": ["A"]}), genome
    )
    figure = plot_variant(model, effects.iloc[0], genome, method=method, path=tmp_path / "v.png")
    ref_ax, alt_ax = figure.axes
    assert ref_ax.get_title(loc="left") == "REF G: logit 1.500, P(bound) 0.818"
    assert alt_ax.get_title(loc="left") == "ALT A: logit 0.500, P(bound) 0.622"
    # The variant outlined at the window's middle, the kernel's site (CGT at 4..6) shaded.
    labels = ref_ax.get_legend_handles_labels()[1]
    assert labels == ["kernel 0 (+)", "variant"]
    (shaded,) = [p for p in ref_ax.patches if p.get_label() == "kernel 0 (+)"]
    assert shaded.get_x() == pytest.approx(3.5) and shaded.get_width() == pytest.approx(3)
    assert (tmp_path / "v.png").stat().st_size > 0
    # The sequence form, without a genome.
    sequence = {"sequence": "TTTTTTTTTTCGTTTTTTTT", "position": 11, "ref": "G", "alt": "A"}
    again = plot_variant(model, sequence, method=method).axes[0]
    assert again.get_title(loc="left") == ref_ax.get_title(loc="left")


def test_plot_variant_refuses_what_cannot_be_scored(small):
    pytest.importorskip("logomaker")
    from sklearn_deepprune.variants import plot_variant

    model, genome, _ = small
    with pytest.raises(ValueError, match="cannot be scored: skipped 1 symbolic"):
        plot_variant(model, {"chrom": "chr1", "pos": 12, "ref": "G", "alt": "<DEL>"}, genome)
    with pytest.raises(ValueError, match="variant needs chrom, pos, ref, alt; it has no pos"):
        plot_variant(model, {"chrom": "chr1", "ref": "G", "alt": "A"}, genome)
    with pytest.raises(ValueError, match="method must be"):
        plot_variant(
            model, {"chrom": "chr1", "pos": 12, "ref": "G", "alt": "A"}, genome, method="x"
        )


# -- accuracy on the synthetic genome ------------------------------------------------------------


@pytest.mark.slow
def test_site_destroying_variants_rank_above_background(tmp_path):
    from sklearn.metrics import roc_auc_score

    from sklearn_deepprune.datasets import load_peaks, make_genome_peaks

    files = make_genome_peaks(tmp_path, chromosome_length=200_000, n_peaks=400, random_state=0)
    data = load_peaks(files.peaks, files.genome, test_chromosomes=["chr4"], random_state=0)
    model = make_pipeline(
        SequenceOneHotEncoder(),
        DeepPruneClassifier(
            n_kernels=2, kernel_size=20, n_prune_steps=2, max_epochs=15, patience=4, random_state=0
        ),
    ).fit(data.train.sequences, data.train.target)
    peaks = pd.read_csv(files.peaks, sep="\t", skiprows=1, header=None)
    summits = (peaks[1] + peaks[9]).to_numpy()
    pfm = files.motif
    column = int(np.argmax((pfm * np.log2(pfm * 4 + 1e-9)).sum(axis=1)))
    import pyfaidx

    fasta = pyfaidx.Fasta(files.genome, as_raw=True)
    rows = []
    for chrom, summit in zip(peaks[0][:200], summits[:200], strict=True):
        pos0 = int(summit) - len(pfm) // 2 + column
        ref = fasta[chrom][pos0]
        alt = next(b for b in np.array(list("ACGT"))[np.argsort(pfm[column])] if b != ref)
        rows.append((chrom, pos0 + 1, "site", ref, alt))
    rng = np.random.default_rng(0)
    while len(rows) < 1000:
        chrom, pos0 = f"chr{rng.integers(1, 5)}", int(rng.integers(1000, 199_000))
        if np.abs(summits[peaks[0] == chrom] - pos0).min() > 500:
            ref = fasta[chrom][pos0]
            rows.append((chrom, pos0 + 1, "background", ref, "ACGT"[("ACGT".index(ref) + 1) % 4]))
    effects = score_variants(model, _vcf(tmp_path, sorted(rows)), files.genome)
    auc = roc_auc_score(effects["id"] == "site", -effects["logit_diff"])
    assert auc > 0.9, auc
    destroyed = effects[effects["id"] == "site"]
    # The planted site's kernel is the one named, its site over the variant in REF.
    assert (destroyed["kernel_diff"] < 0).mean() > 0.8
    overlapping = destroyed["site_ref"].between(-(20 - 1), 0)
    assert overlapping[destroyed["kernel_diff"] < 0].mean() > 0.8


def test_a_bcf_gives_the_same_rows(tmp_path, small):
    model, genome, chromosomes = small
    rows = [("chr1", 12, "rs1", "G", "A"), ("chr1", 20, "rs2", "T", "C,G")]
    contigs = {name: len(sequence) for name, sequence in chromosomes.items()}
    vcf = _vcf(tmp_path, rows, contigs=contigs)
    bcf = tmp_path / "variants.bcf"
    with (
        pysam.VariantFile(vcf) as source,
        pysam.VariantFile(str(bcf), "wb", header=source.header) as out,
    ):
        for record in source:
            out.write(record)
    from_bcf, caught = _score(model, str(bcf), genome)
    pd.testing.assert_frame_equal(from_bcf, _score(model, vcf, genome)[0])
    assert caught == [
        f"1 multi-allelic record(s) gave one row per ALT allele (first at {bcf}, record 2)"
    ]


def test_no_variants_give_a_table_without_rows(tmp_path, small, capsys):
    model, genome, _ = small
    vcf = _vcf(tmp_path, [])
    effects = score_variants(model, vcf, genome, all_kernels=True)
    assert effects.shape == (0, 20) and effects.columns[-1] == "k0_diff"
    save_model(model, tmp_path / "model.deepprune")
    out = tmp_path / "effects.tsv"
    argv = ["variants", str(tmp_path / "model.deepprune"), vcf, "--genome", genome]
    assert main([*argv, "-o", str(out)]) == 0
    assert out.read_text() == "\t".join(["chrom", "pos", *SCORES]) + "\n"


def test_an_lse_model_scores_a_batch_with_nothing_left(tmp_path):
    # Every record skipped (a symbolic ALT): the torch scan of an lse model got an
    # empty batch and failed to reshape it.
    model = _random_model("both", "lse")
    genome = _genome(tmp_path, {"chr1": "ACGT" * 20})
    variants = pd.DataFrame({"chrom": ["chr1"], "pos": [5], "ref": ["A"], "alt": ["<DEL>"]})
    effects, said = _score(model, variants, genome)
    assert len(effects) == 0 and "logit_diff" in effects.columns
    assert any("symbolic" in line for line in said)
