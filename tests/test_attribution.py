"""Tests of the attribution maps: in-silico mutagenesis, gradient x input, their plot."""

import numpy as np
import pytest
import torch
from conftest import cgt_classifier
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
from sklearn_deepprune.motifs import (
    find_sites,
    gradient_x_input,
    in_silico_mutagenesis,
    plot_attribution,
)
from sklearn_deepprune.motifs._attribution import _letter_heights

A, C, G, T = range(4)


def _one_hot(sequences):
    return SequenceOneHotEncoder().fit_transform(sequences)


def _hand_built(strand="forward"):
    """The CGT network (see conftest.cgt_classifier) on four 5-bp sequences."""
    return cgt_classifier(_one_hot(["ACGTA", "CGAAA", "TTTTT", "GGGGG"]), strand)


def test_ism_of_a_hand_built_network():
    clf = _hand_built()
    np.testing.assert_allclose(clf.decision_function(_one_hot(["ACGTA", "CGAAA"])), [1.5, 0.5])
    effects = in_silico_mutagenesis(clf, _one_hot(["ACGTA", "CGAAA"]))
    assert effects.shape == (2, 4, 5) and effects.dtype == np.float32
    # ACGTA holds CGT at 1..3: any substitution there breaks it (logit 1.5 -> 0.5);
    # nothing else changes the logit.
    expected = np.zeros((4, 5))
    expected[:, 1:4] = -1.0
    expected[[C, G, T], [1, 2, 3]] = 0.0  # the bases already there
    np.testing.assert_allclose(effects[0], expected, atol=1e-6)
    # CGAAA: only A -> T at position 2 makes CGT (logit 0.5 -> 1.5).
    expected = np.zeros((4, 5))
    expected[T, 2] = 1.0
    np.testing.assert_allclose(effects[1], expected, atol=1e-6)


def test_ism_reads_both_strands():
    # ACGAA holds ACG, the reverse complement of CGT, at 0..2.
    clf = _hand_built("both")
    effects = in_silico_mutagenesis(clf, _one_hot(["ACGAA"]))[0]
    expected = np.zeros((4, 5))
    expected[:, 0:3] = -1.0
    expected[[A, C, G], [0, 1, 2]] = 0.0
    np.testing.assert_allclose(effects, expected, atol=1e-6)
    forward = in_silico_mutagenesis(_hand_built("forward"), _one_hot(["ACGAA"]))[0]
    # Forward only: A -> T at 3 makes CGT at 1..3 (0.5 -> 1.5).
    assert forward[T, 3] == pytest.approx(1.0) and np.count_nonzero(forward) == 1


def test_ism_equals_scoring_every_mutant_string(toy_sequences):
    train, y_train, test, _ = toy_sequences
    clf = DeepPruneClassifier(
        n_kernels=4, n_prune_steps=1, kernel_size=8, max_epochs=3, random_state=0
    )
    pipe = make_pipeline(SequenceOneHotEncoder(), clf)
    pipe.fit(train, y_train)
    # An N (encoded as 0.25 each) has four real substitutions.
    sequences = [test[0], test[1][:5] + "N" + test[1][6:]]
    effects = in_silico_mutagenesis(pipe, sequences, batch_size=1)
    for i, sequence in enumerate(sequences):
        mutants = [
            sequence[:at] + base + sequence[at + 1 :]
            for base in "ACGT"
            for at in range(len(sequence))
        ]
        direct = pipe.decision_function(mutants) - pipe.decision_function([sequence])[0]
        np.testing.assert_allclose(effects[i].ravel(), direct, atol=1e-5)
    assert np.count_nonzero(effects[1][:, 5]) > 0
    assert np.count_nonzero(effects[0] * _one_hot([sequences[0]])[0]) == 0


def test_gradient_x_input_of_a_hand_built_network():
    pytest.importorskip("tangermeme")
    clf = _hand_built()
    X = _one_hot(["ACGTA", "CGAAA"])
    attributions = gradient_x_input(clf, X)
    assert attributions.shape == (2, 4, 5)
    # d logit / d X = dense weight * kernel weight inside the winning window,
    # when the kernel fires; CGAAA's kernel does not (ReLU at 0).
    expected = np.zeros((2, 4, 5))
    expected[0, [C, G, T], [1, 2, 3]] = 2.0
    np.testing.assert_allclose(attributions, expected, atol=1e-6)
    # With the correction the gradient at a position loses its mean over the
    # bases: (2 - 2/4) at each base present.
    corrected = gradient_x_input(clf, X, gradient_correction=True)
    np.testing.assert_allclose(corrected, expected * 0.75, atol=1e-6)
    # The classifier's own network keeps its fast scanner.
    assert clf.net_.module_.scanner != "conv"


def test_attribution_errors():
    clf = _hand_built()
    with pytest.raises(NotFittedError):
        in_silico_mutagenesis(DeepPruneClassifier(), _one_hot(["ACGTA"]))
    with pytest.raises(TypeError, match="SequenceOneHotEncoder"):
        in_silico_mutagenesis(clf, ["ACGTA"])
    with pytest.raises(ValueError, match="batch_size"):
        in_silico_mutagenesis(clf, _one_hot(["ACGTA"]), batch_size=0)
    with pytest.raises(ValueError, match="features"):
        in_silico_mutagenesis(clf, np.zeros((2, 3, 5), dtype=np.float32))


# -- plot_attribution ----------------------------------------------------------


def test_letter_heights():
    x = _one_hot(["ACGN"])[0]  # N: 0.25 in every channel
    ism = np.array(
        [
            [0.0, -3.0, 1.0, 5.0],
            [-3.0, 0.0, 1.0, 5.0],
            [-6.0, -3.0, 0.0, 5.0],
            [-3.0, -3.0, 4.0, 5.0],
        ]
    )
    # Minus the mean substitution effect at the base there; nothing at N.
    expected = np.zeros((4, 4))
    expected[[A, C, G], [0, 1, 2]] = [4.0, 3.0, -2.0]
    np.testing.assert_allclose(_letter_heights(ism, x), expected)
    gradient = np.zeros((4, 4))
    gradient[[A, C, G], [0, 1, 2]] = [0.5, -1.0, 2.0]
    np.testing.assert_allclose(_letter_heights(gradient, x), gradient)


def test_plot_attribution_marks_sites(tmp_path):
    pytest.importorskip("logomaker")
    from matplotlib.patches import Polygon, Rectangle

    clf = _hand_built("both")
    X = _one_hot(["ACGTA", "ACGAA"])
    effects = in_silico_mutagenesis(clf, X)
    sites = find_sites(clf, X, threshold=0.0, relative=False)
    figure = plot_attribution(
        effects[0],
        X[0],
        sites=sites[sites["sequence"] == 0],
        highlight=[(1, 4, "planted")],
        title="ACGTA",
        path=tmp_path / "attribution.png",
    )
    (ax,) = figure.axes
    assert (tmp_path / "attribution.png").stat().st_size > 0
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["kernel 0 (+)", "planted"]
    shaded = [p for p in ax.patches if isinstance(p, (Polygon, Rectangle)) and p.get_label()]
    assert {p.get_label() for p in shaded} >= {"kernel 0 (+)", "planted"}
    # The bases of CGT stand 1.0 tall (ISM: mutating any of them costs 1.0).
    low, high = ax.get_ylim()
    assert high >= 1.0 and low <= 0.0
    # A string works as the sequence, and tuples as sites.
    figure = plot_attribution(effects[1], "ACGAA", sites=[(0, 3)])
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["site"]


def test_plot_attribution_errors():
    pytest.importorskip("logomaker")
    clf = _hand_built()
    X = _one_hot(["ACGTA", "CGTAA"])
    sites = find_sites(clf, X, threshold=0.0, relative=False)
    with pytest.raises(ValueError, match="2 sequences"):
        plot_attribution(np.zeros((4, 5)), X[0], sites=sites)
    with pytest.raises(ValueError, match=r"shape \(4, L\)"):
        plot_attribution(np.zeros((2, 4, 5)), X[0])
    with pytest.raises(ValueError, match="sequence has shape"):
        plot_attribution(np.zeros((4, 5)), "ACG")
    with pytest.raises(ValueError, match="start, end"):
        plot_attribution(np.zeros((4, 5)), X[0], highlight=[(1,)])


@pytest.mark.parametrize("pooling", ["max_avg", "lse"])
def test_gradient_x_input_of_other_poolings_is_autograd_times_input(toy_onehot, pooling):
    # Its conv copy of the network was built without the pooling: the lse sharpness and
    # the mean's dense weights did not load into it.
    pytest.importorskip("tangermeme")
    X, y, X_test, _ = toy_onehot
    clf = DeepPruneClassifier(
        n_kernels=2, n_prune_steps=1, kernel_size=8, max_epochs=2, pooling=pooling, random_state=0
    ).fit(X, y)
    attributions = gradient_x_input(clf, X_test[:3])
    module = clf.net_.module_
    module.scanner = "conv"  # the one that differentiates with respect to the input
    inputs = torch.as_tensor(X_test[:3], dtype=torch.float32).requires_grad_(True)
    (grad,) = torch.autograd.grad(module(inputs).sum(), inputs)
    np.testing.assert_allclose(attributions, (grad * inputs).detach().numpy(), atol=1e-5)
