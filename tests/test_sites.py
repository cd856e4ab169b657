"""Tests of sklearn_deepprune.motifs.find_sites: where each kernel fires."""

import copy

import numpy as np
import pytest
import torch
from conftest import TOY_MOTIF
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder, reverse_complement
from sklearn_deepprune.datasets import make_motif_sequences
from sklearn_deepprune.motifs import extract_motifs, find_sites

pd = pytest.importorskip("pandas")

WIDTH = 10
# The toy motif's log-odds at kernel columns 2..9 of a width-10 kernel, so that
# the forward and the reverse strand put the motif at different window offsets.
OFFSET = 2


def _kernel():
    kernel = np.zeros((4, WIDTH))
    kernel[:, OFFSET:] = np.log(TOY_MOTIF / 0.25).T
    return kernel


def _fitted(X, y, strand, n_kernels=1):
    """A classifier of the given strand mode, its kernels replaced by the toy detector."""
    clf = DeepPruneClassifier(
        n_kernels=n_kernels,
        n_prune_steps=0,
        kernel_size=WIDTH,
        max_epochs=0,
        strand=strand,
        random_state=0,
    ).fit(X, y)
    module = clf.net_.module_
    kernels = np.stack([_kernel()] + [np.zeros((4, WIDTH))] * (n_kernels - 1))
    with torch.no_grad():
        module.conv.weight.copy_(torch.as_tensor(kernels, dtype=torch.float32))
        module.conv.bias.copy_(torch.as_tensor([0.0] + [-1.0] * (n_kernels - 1)))
    return clf


@pytest.fixture(scope="module")
def planted():
    """300 sequences of 40 bp, the toy motif's consensus planted on either strand in half."""
    consensus = np.eye(4)[TOY_MOTIF.argmax(axis=1)]
    data = make_motif_sequences(300, [consensus], length=40, strand="both", random_state=1)
    X = SequenceOneHotEncoder().fit_transform(data.sequences)
    return data, X


@pytest.fixture(scope="module")
def both_strands(planted):
    data, X = planted
    return _fitted(X, data.target, "both", n_kernels=2)


def test_sites_are_the_planted_sites(planted, both_strands):
    data, X = planted
    sites = find_sites(both_strands, X)
    assert list(sites.columns) == [
        "sequence",
        "kernel",
        "start",
        "end",
        "strand",
        "score",
        "bases",
    ]
    assert set(sites["kernel"]) == {0}  # kernel 1 (all zero weights, bias -1) never fires
    positives = np.flatnonzero(data.target == 1)
    found = sites.set_index("sequence").reindex(positives)
    # The kernel reads the motif at columns 2..9: a forward window starts 2
    # before the planted instance; the reverse-complemented kernel holds it
    # at columns 0..7, so a reverse-strand window starts at the instance.
    planted_start = np.where(
        data.strand[positives] == "+", data.position[positives] - OFFSET, data.position[positives]
    )
    expected = pd.DataFrame(
        {
            "start": np.maximum(planted_start, 0),
            "end": np.minimum(planted_start + WIDTH, 40),
            "strand": data.strand[positives],
        },
        index=positives,
    )
    agree = (found[["start", "end", "strand"]] == expected).all(axis=1)
    assert agree.mean() >= 0.98
    assert (found["strand"] == "-").sum() > 50 and (found["strand"] == "+").sum() > 50
    # Few negatives have a window half as good as the best planted one.
    assert sites["sequence"].isin(np.flatnonzero(data.target == 0)).sum() < 0.1 * len(positives)


def test_site_bases_are_read_on_their_strand(planted, both_strands):
    data, X = planted
    sites = find_sites(both_strands, X, sites="all", threshold=0.3)
    assert len(sites) > len(find_sites(both_strands, X, threshold=0.3))
    for row in sites.itertuples():
        window = data.sequences[row.sequence][row.start : row.end]
        assert row.bases == (window if row.strand == "+" else reverse_complement(window))
    # A full-width site holds the planted instance where the kernel holds the motif.
    full = sites[(sites["end"] - sites["start"] == WIDTH) & (sites["score"] > 8)]
    assert len(full) > 50
    consensus = "GATAAGGC"
    matches = [
        sum(a == b for a, b in zip(bases[OFFSET:], consensus, strict=True))
        for bases in full["bases"]
    ]
    assert np.mean(matches) > 7


def test_clipped_site_at_the_sequence_start(both_strands):
    # The motif at position 0: the forward window starts at -2, clipped to 0.
    X = SequenceOneHotEncoder().fit_transform(["GATAAGGC" + "T" * 12])
    (row,) = find_sites(both_strands, X, threshold=0.0, relative=False).itertuples()
    assert (row.start, row.end, row.strand, row.bases) == (0, 8, "+", "GATAAGGC")


def test_threshold_relative_and_absolute(planted, both_strands):
    data, X = planted
    module = both_strands.net_.module_
    with torch.no_grad():
        activation = module.strand_activations(torch.as_tensor(X)).numpy()  # (n, 2, K, L)
    every = find_sites(both_strands, X, threshold=5.0, relative=False, sites="all")
    assert len(every) == (activation > 5.0).sum()
    assert (every["score"] > 5.0).all()
    # Each row's score is the activation at its window on its strand.
    strand = (every["strand"] == "-").to_numpy().astype(int)
    start, end, left = every["start"].to_numpy(), every["end"].to_numpy(), (WIDTH - 1) // 2
    # A window clipped at the start began before it: its position is end - WIDTH + left.
    position = np.where((start == 0) & (end - start < WIDTH), end - WIDTH + left, start + left)
    np.testing.assert_allclose(
        every["score"],
        activation[every["sequence"], strand, every["kernel"], position],
        rtol=1e-6,
    )
    best = activation[:, :, 0].max(axis=(1, 2))
    relative = find_sites(both_strands, X, threshold=0.6)
    assert len(relative) == (best > 0.6 * best.max()).sum()
    assert relative["score"].min() > 0.6 * best.max()


def test_forward_only_sites_are_on_the_plus_strand(planted):
    data, X = planted
    clf = _fitted(X, data.target, "forward")
    sites = find_sites(clf, X)
    assert set(sites["strand"]) == {"+"}
    forward = data.strand[sites["sequence"]] == "+"
    assert forward.mean() > 0.9


def test_through_a_pipeline_with_ids_and_batches(planted, both_strands):
    data, X = planted
    pipe = make_pipeline(SequenceOneHotEncoder().fit(data.sequences), copy.deepcopy(both_strands))
    ids = [f"seq{i}" for i in range(len(X))]
    from_strings = find_sites(pipe, data.sequences, ids=ids, batch_size=7)
    from_arrays = find_sites(both_strands, X)
    assert list(from_strings.columns)[:2] == ["sequence", "id"]
    assert (from_strings["id"] == [f"seq{i}" for i in from_strings["sequence"]]).all()
    pd.testing.assert_frame_equal(from_strings.drop(columns="id"), from_arrays)


def test_consistent_with_extract_motifs(planted, both_strands):
    data, X = planted
    with pytest.warns(UserWarning, match=r"kernel\(s\) \[1\] never fire"):
        motif = extract_motifs(both_strands, X, threshold=0.5)[0]
    sites = find_sites(both_strands, X, threshold=0.5)
    sites = sites[sites["kernel"] == 0]
    assert motif.n_sites == len(sites)
    full = sites[sites["bases"].str.len() == WIDTH]
    counts = np.zeros((WIDTH, 4))
    for bases in full["bases"]:
        counts[np.arange(WIDTH), ["ACGT".index(b) for b in bases]] += 1
    # Rows OFFSET.. hold the motif; all sites are in the kernel's orientation.
    np.testing.assert_allclose(
        motif.pfm[OFFSET:], (counts / counts.sum(1, keepdims=True))[OFFSET:], atol=0.05
    )


def test_no_site_gives_an_empty_table(planted, both_strands):
    _, X = planted
    sites = find_sites(both_strands, X, threshold=1e6, relative=False)
    assert len(sites) == 0
    assert list(sites.columns) == [
        "sequence",
        "kernel",
        "start",
        "end",
        "strand",
        "score",
        "bases",
    ]


def test_find_sites_errors(planted, both_strands):
    data, X = planted
    with pytest.raises(NotFittedError):
        find_sites(DeepPruneClassifier(), X)
    with pytest.raises(TypeError, match="SequenceOneHotEncoder"):
        find_sites(both_strands, data.sequences)
    with pytest.raises(ValueError, match="threshold"):
        find_sites(both_strands, X, threshold=1.0)
    with pytest.raises(ValueError, match="sites"):
        find_sites(both_strands, X, sites="best")
    with pytest.raises(ValueError, match="ids"):
        find_sites(both_strands, X, ids=["a", "b"])
    with pytest.raises(ValueError, match="batch_size"):
        find_sites(both_strands, X, batch_size=0)
