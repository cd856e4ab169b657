"""Tests of sklearn_deepprune.motifs: PFMs from kernels, trimming, MEME files, Tomtom, logos."""

import copy
import os
import warnings
from pathlib import Path

# memelite compiles Tomtom with numba on first use; keep the compiled code
# between runs (the folder is gitignored). Must be set before numba loads.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))

import numpy as np
import pytest
import torch
from conftest import TOY_MOTIF
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.datasets import load_motif, make_motif_sequences
from sklearn_deepprune.motifs import (
    Motif,
    compare_motifs,
    extract_motifs,
    plot_logos,
    read_meme,
    to_meme,
    trim,
)
from sklearn_deepprune.motifs._compare import _q_values

pd = pytest.importorskip("pandas")


def _one_hot(sequences):
    return SequenceOneHotEncoder().fit_transform(sequences)


def _set_kernels(clf, weights, bias):
    """Give a fitted classifier's final network hand-made kernels ``(K, 4, w)``."""
    module = clf.net_.module_
    with torch.no_grad():
        module.conv.weight.copy_(torch.as_tensor(weights, dtype=module.conv.weight.dtype))
        module.conv.bias.copy_(torch.as_tensor(bias, dtype=module.conv.bias.dtype))
    clf.kernels_ = module.conv.weight.detach().numpy().copy()
    clf.kernel_bias_ = module.conv.bias.detach().numpy().copy()
    return clf


@pytest.fixture(scope="module")
def tiny_fitted(toy_onehot):
    """A 2-kernel, width-8 classifier, initialised but not trained (weights get replaced)."""
    X_train, y_train, _, _ = toy_onehot
    clf = DeepPruneClassifier(
        n_kernels=2, n_prune_steps=0, kernel_size=8, max_epochs=0, random_state=0
    )
    return clf.fit(X_train, y_train)


@pytest.fixture
def toy_detector(tiny_fitted):
    """Kernel 0 scores the toy motif's log-odds; kernel 1 never fires."""
    log_odds = np.log(TOY_MOTIF / 0.25).T
    weights = np.stack([log_odds, np.zeros_like(log_odds)])
    return _set_kernels(copy.deepcopy(tiny_fitted), weights, [0.0, -1.0])


# -- Motif ---------------------------------------------------------------------


def test_information_content_by_hand():
    motif = Motif(
        "m",
        [[1, 0, 0, 0], [0.25] * 4, [0.5, 0.5, 0, 0], [0.7, 0.1, 0.1, 0.1], [0, 0, 2, 2]],
    )
    # 2 + sum p log2 p: 2, 0, 1, 2 + 0.7 log2 0.7 + 0.3 log2 0.1, 1 (counts normalised)
    expected = [2.0, 0.0, 1.0, 2 + 0.7 * np.log2(0.7) + 0.3 * np.log2(0.1), 1.0]
    np.testing.assert_allclose(motif.column_ic, expected)
    assert motif.information_content == pytest.approx(sum(expected))
    assert motif.column_ic[3] == pytest.approx(0.643221, abs=1e-6)
    assert motif.consensus == "AAAAG"
    assert motif.width == 5
    assert "consensus='AAAAG'" in repr(motif)


def test_motif_rejects_bad_pfm():
    with pytest.raises(ValueError, match=r"shape \(L, 4\)"):
        Motif("bad", np.ones((4, 6)))
    with pytest.raises(ValueError, match="all zeros"):
        Motif("bad", [[0, 0, 0, 0]])


# -- extract_motifs ----------------------------------------------------------


def test_extract_recovers_a_hand_built_kernel(toy_detector, toy_onehot):
    _, _, X_test, y_test = toy_onehot
    with pytest.warns(UserWarning, match=r"kernel\(s\) \[1\] never fire"):
        motifs = extract_motifs(toy_detector, X_test)
    assert [m.name for m in motifs] == ["kernel_0", "kernel_1"]
    found, silent = motifs
    assert found.kernel == 0 and found.pfm.shape == (8, 4)
    assert found.consensus == "GATAAGGC"
    np.testing.assert_allclose(found.pfm, TOY_MOTIF, atol=0.1)
    # DeepBind's way counts one site per sequence: about the positives.
    assert 0.8 * y_test.sum() <= found.n_sites <= len(y_test)
    assert found.dense_weight == pytest.approx(toy_detector.dense_weight_[0])
    assert silent.n_sites == 0
    np.testing.assert_allclose(silent.pfm, 0.25)


def test_extract_threshold_and_all_sites(toy_detector, toy_onehot):
    _, _, X_test, _ = toy_onehot
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        strict = extract_motifs(toy_detector, X_test, threshold=0.9)[0]
        loose = extract_motifs(toy_detector, X_test, threshold=0.1)[0]
        every = extract_motifs(toy_detector, X_test, threshold=0.1, sites="all")[0]
    assert strict.n_sites < loose.n_sites <= len(X_test)
    assert loose.n_sites < every.n_sites
    assert strict.consensus == "GATAAGGC"


def test_extract_counts_only_real_bases_next_to_padding(tiny_fitted):
    # Width 8, 'same' padding (3 left): a motif ACGT at positions 0..3 of the
    # sequence sits at kernel columns 3..6, so the window's columns 0..2 lie
    # in the padding.
    kernel = np.zeros((4, 8))
    kernel[[0, 1, 2, 3], [3, 4, 5, 6]] = 1.0
    clf = _set_kernels(copy.deepcopy(tiny_fitted), np.stack([kernel, kernel]), [-3.5, -3.5])
    X = _one_hot(["ACGTTTTTTT", "ACGTGGGGGG", "ACGTCCCCCC"])
    motif = extract_motifs(clf, X)[0]
    assert motif.n_sites == 3
    np.testing.assert_allclose(motif.pfm[:3], 0.25)  # padding only: no counts, uniform
    np.testing.assert_allclose(motif.pfm[3:7], np.eye(4))
    np.testing.assert_allclose(motif.pfm[7], [0, 1 / 3, 1 / 3, 1 / 3])


@pytest.mark.parametrize("sites", ["max", "all"])
def test_extract_reverse_strand_sites_are_reverse_complemented(sites):
    # The toy motif planted only as its reverse complement. A strand="both"
    # kernel reads it on the reverse strand; each site contributes its window
    # reverse complemented, so the PFM is the motif in the kernel's orientation.
    data = make_motif_sequences(200, [TOY_MOTIF[::-1, ::-1]], length=40, random_state=3)
    X = _one_hot(data.sequences)
    kernel = np.log(TOY_MOTIF / 0.25).T[np.newaxis]
    found = {}
    for strand in ("forward", "both"):
        clf = DeepPruneClassifier(
            n_kernels=1, n_prune_steps=0, kernel_size=8, max_epochs=0, strand=strand
        ).fit(X, data.target)
        found[strand] = extract_motifs(_set_kernels(clf, kernel, [0.0]), X, sites=sites)[0]
    assert found["both"].consensus == "GATAAGGC"
    np.testing.assert_allclose(found["both"].pfm, TOY_MOTIF, atol=0.1)
    assert 0.8 * data.target.sum() <= found["both"].n_sites
    # Read on the forward strand only, the kernel misses the planted sites.
    assert found["forward"].n_sites < 0.2 * found["both"].n_sites


def test_extract_through_a_pipeline_and_in_batches(toy_detector, toy_sequences, toy_onehot):
    train, y_train, test, _ = toy_sequences
    encoder = SequenceOneHotEncoder().fit(train)
    pipe = make_pipeline(encoder, toy_detector)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from_strings = extract_motifs(pipe, test)
        from_arrays = extract_motifs(toy_detector, encoder.transform(test), batch_size=7)
    for a, b in zip(from_strings, from_arrays, strict=True):
        np.testing.assert_allclose(a.pfm, b.pfm)
        assert a.n_sites == b.n_sites


def test_extract_errors(tiny_fitted, toy_sequences, toy_onehot):
    _, _, X_test, _ = toy_onehot
    _, _, test, _ = toy_sequences
    with pytest.raises(NotFittedError):
        extract_motifs(DeepPruneClassifier(), X_test)
    with pytest.raises(NotFittedError):
        extract_motifs(make_pipeline(SequenceOneHotEncoder(), DeepPruneClassifier()), test)
    with pytest.raises(TypeError, match="DeepPruneClassifier"):
        extract_motifs(LogisticRegression(), X_test)
    with pytest.raises(TypeError, match="SequenceOneHotEncoder"):
        extract_motifs(tiny_fitted, test)
    with pytest.raises(ValueError):
        extract_motifs(tiny_fitted, X_test[:, :2])
    with pytest.raises(ValueError, match="threshold"):
        extract_motifs(tiny_fitted, X_test, threshold=1.0)
    with pytest.raises(ValueError, match="sites"):
        extract_motifs(tiny_fitted, X_test, sites="mean")
    with pytest.raises(ValueError, match="batch_size"):
        extract_motifs(tiny_fitted, X_test, batch_size=0)


# -- trim ----------------------------------------------------------------------


def test_trim_cuts_flanks_only():
    flat, sharp, half = [0.25] * 4, [0.97, 0.01, 0.01, 0.01], [0.5, 0.5, 0, 0]
    motif = Motif("m", [flat, sharp, flat, half, flat, flat], kernel=2, n_sites=9, start=4)
    trimmed = trim(motif)
    assert trimmed.width == 3
    np.testing.assert_allclose(trimmed.pfm, [sharp, flat, half])
    assert trimmed.start == 5
    assert (trimmed.kernel, trimmed.n_sites, trimmed.name) == (2, 9, "m")
    assert trim(motif, min_ic=1.5).width == 1
    assert motif.width == 6  # the original is unchanged
    with pytest.raises(ValueError, match="min_ic"):
        trim(motif, min_ic=2.5)


# -- MEME files ----------------------------------------------------------------


def test_meme_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    motifs = [
        Motif("kernel_0", rng.dirichlet(np.ones(4), size=12), kernel=0, n_sites=40),
        Motif("MA0139.2 CTCF", TOY_MOTIF),
    ]
    path = tmp_path / "motifs.meme"
    to_meme(motifs, path)
    text = path.read_text()
    for line in (
        "MEME version 4",
        "ALPHABET= ACGT",
        "strands: + -",
        "Background letter frequencies",
        "MOTIF kernel_0\n",
        "MOTIF MA0139.2 CTCF\n",
        "letter-probability matrix: alength= 4 w= 12 nsites= 40 E= 0",
    ):
        assert line in text
    back = read_meme(path)
    assert [m.name for m in back] == ["kernel_0", "MA0139.2"]
    for original, read in zip(motifs, back, strict=True):
        np.testing.assert_allclose(read.pfm, original.pfm, atol=1e-5)


@pytest.mark.slow
def test_meme_file_is_read_by_memelite(tmp_path):
    memelite_io = pytest.importorskip("memelite.io")
    motif = Motif("kernel_3", TOY_MOTIF)
    path = tmp_path / "one.meme"
    to_meme(motif, path)
    read = memelite_io.read_meme(str(path))
    np.testing.assert_allclose(read["kernel_3"], TOY_MOTIF.T / TOY_MOTIF.sum(1), atol=1e-5)


def test_to_meme_errors(tmp_path):
    with pytest.raises(ValueError, match="no motif"):
        to_meme([], tmp_path / "empty.meme")


# -- Tomtom --------------------------------------------------------------------


def test_q_values_are_benjamini_hochberg():
    p = np.array([[0.01, 0.04, 0.03, 0.5]])
    # sorted: 0.01 * 4/1, 0.03 * 4/2, 0.04 * 4/3, 0.5 * 4/4, then running minima from the top
    np.testing.assert_allclose(_q_values(p), [[0.04, 0.16 / 3, 0.16 / 3, 0.5]])


def test_compare_motifs_rejects_bad_n_matches():
    with pytest.raises(ValueError, match="n_matches"):
        compare_motifs(Motif("m", TOY_MOTIF), {"t": TOY_MOTIF}, n_matches=0)


@pytest.mark.slow
def test_compare_motifs_finds_ctcf_in_jaspar():
    pytest.importorskip("memelite")
    pytest.importorskip("pyjaspar")
    ctcf = load_motif("MA0139.2")
    query = Motif("ctcf_core", ctcf[::-1, ::-1][3:15])  # a reverse-complemented piece
    matches = compare_motifs([query, Motif("toy", TOY_MOTIF)], n_matches=3)
    assert list(matches.columns[:8]) == [
        "query",
        "target_id",
        "target_name",
        "p_value",
        "e_value",
        "q_value",
        "offset",
        "overlap",
    ]
    assert matches.groupby("query").size().tolist() == [3, 3]
    best = matches.iloc[0]
    assert best.query == "ctcf_core" and best.target_name.upper() == "CTCF"
    assert best.orientation == "-"
    assert best.e_value < 1e-5
    assert (matches.p_value <= matches.q_value + 1e-12).all()
    assert set(matches.target_id) == set(matches.attrs["target_pfms"])


@pytest.mark.slow
def test_compare_motifs_offsets_and_orientation():
    pytest.importorskip("memelite")
    rng = np.random.default_rng(1)
    targets = {f"t{i}": rng.dirichlet(np.full(4, 0.3), size=12) for i in range(30)}
    forward = Motif("forward", targets["t5"][3:9])
    reverse = Motif("reverse", targets["t7"][2:10][::-1, ::-1])
    matches = compare_motifs([forward, reverse], targets).set_index("query")
    assert matches.loc["forward", ["target_id", "offset", "orientation"]].tolist() == [
        "t5",
        3,
        "+",
    ]
    assert matches.loc["reverse", ["target_id", "orientation"]].tolist() == ["t7", "-"]
    # The reverse complement of the 12-column t7 holds t7[2:10] at columns 2..9.
    assert matches.loc["reverse", "offset"] == 2
    assert matches.loc["forward", "e_value"] == pytest.approx(
        matches.loc["forward", "p_value"] * 30
    )


# -- logos ---------------------------------------------------------------------


def test_plot_logos_one_axes_per_motif(tmp_path):
    pytest.importorskip("logomaker")
    motifs = [
        Motif("kernel_0", TOY_MOTIF, kernel=0, n_sites=12, dense_weight=1.5),
        Motif("other", [[0.9, 0.05, 0.03, 0.02], [0.1, 0.1, 0.7, 0.1]]),
    ]
    fig = plot_logos(motifs, path=tmp_path / "logos.png")
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title(loc="left").startswith("kernel 0 | dense weight +1.50 | 12 sites")
    assert fig.axes[1].get_title(loc="left") == "other"
    assert (tmp_path / "logos.png").stat().st_size > 0
    fig.savefig(tmp_path / "logos.svg")
    assert (tmp_path / "logos.svg").read_text().lstrip().startswith("<?xml")


def test_plot_logos_over_matches():
    pytest.importorskip("logomaker")
    motifs = [Motif("kernel_0", TOY_MOTIF[2:7], kernel=0, start=2), Motif("lonely", TOY_MOTIF)]
    matches = pd.DataFrame(
        {
            "query": ["kernel_0"],
            "target_id": ["T1"],
            "target_name": ["TOY"],
            "p_value": [1e-6],
            "e_value": [1e-5],
            "q_value": [1e-6],
            "offset": [2],
            "overlap": [5],
            "orientation": ["+"],
        }
    )
    matches.attrs["target_pfms"] = {"T1": TOY_MOTIF}
    fig = plot_logos(motifs, matches)
    assert len(fig.axes) == 3  # kernel_0 over its match, then the lonely motif
    assert fig.axes[0].get_title(loc="left") == "TOY (T1)"
    assert "best match TOY (T1), E = 1e-05" in fig.axes[1].get_title(loc="left")
    # The target starts 2 positions left of the query: both share the x axis.
    assert fig.axes[1].get_xlim()[0] == pytest.approx(-0.5)
    assert len(plot_logos(motifs, matches, show_match=False).axes) == 2


# -- end to end ----------------------------------------------------------------


@pytest.mark.slow
def test_deepprune_kernels_recover_planted_motifs():
    pytest.importorskip("memelite")
    pytest.importorskip("pyjaspar")
    planted = {name: load_motif(name) for name in ("MA0466.4", "MA0138.3", "MA0035.5")}
    data = make_motif_sequences(3000, planted, length=64, random_state=0)
    train, test = slice(0, 2000), slice(2000, None)
    clf = DeepPruneClassifier(
        n_kernels=4, n_prune_steps=2, kernel_size=20, max_epochs=40, patience=5, random_state=0
    )
    pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(
        data.sequences[train], data.target[train]
    )
    motifs = [trim(motif) for motif in extract_motifs(pipe, data.sequences[test])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few targets: memelite warns
        matches = compare_motifs(motifs, planted, n_matches=None)
    best = matches.groupby("target_id").e_value.min()
    assert set(best.index) == set(planted)
    assert (best < 1e-3).all(), best


def test_plot_logos_of_an_uninformative_motif_warns_nothing():
    # A kernel that learned nothing reads as a uniform PFM: zero bits everywhere. logomaker
    # then set equal y limits and matplotlib warned, which 'deepprune fit' printed as
    # 'deepprune: warning: Attempting to set identical low and high ylims ...'.
    pytest.importorskip("logomaker")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_logos([Motif("flat", np.full((6, 4), 0.25))])
    assert fig.axes[0].get_ylim() == (0.0, 2.0)
