"""Tests of sklearn_deepprune.variants: score_variants, plot_variant and deepprune variants."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune import variants as variants_module
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
    """One width-3 kernel matching CGT: logit = 2 * relu(matches - 2.5) + 0.5.

    A window holding CGT (with strand="both" also its reverse complement ACG)
    has logit 1.5, any other 0.5.
    """
    coder = SequenceOneHotEncoder().fit(["A" * length])
    X = coder.transform(["A" * length, "C" * length, "G" * length, "T" * length])
    clf = DeepPruneClassifier(
        n_kernels=1,
        n_prune_steps=0,
        kernel_size=3,
        max_epochs=0,
        activation="relu",
        strand=strand,
        random_state=0,
    ).fit(X, [1, 0, 1, 0])
    module = clf.net_.module_
    weight = torch.zeros(1, 4, 3)
    weight[0, [C, G, T], [0, 1, 2]] = 1.0
    with torch.no_grad():
        module.conv.weight.copy_(weight)
        module.conv.bias.fill_(-2.5)
        module.dense.weight.fill_(2.0)
        module.dense.bias.fill_(0.5)
    return make_pipeline(coder, clf)


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
@pytest.mark.parametrize("pooling", ["max", "max_avg"])
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


def test_the_compiled_scan_equals_the_torch_scan(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    rng = np.random.default_rng(2)
    model = _random_model("both", "max_avg", length=31, kernel_size=7)
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
