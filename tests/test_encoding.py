"""SequenceOneHotEncoder and reverse_complement."""

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_deepprune import ALPHABET, SequenceOneHotEncoder, reverse_complement


def test_encodes_acgt_case_insensitive():
    X = SequenceOneHotEncoder().fit_transform(["ACGT", "tgca"])
    assert X.shape == (2, 4, 4)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X[0], np.eye(4))
    np.testing.assert_array_equal(X[1], np.eye(4)[:, [3, 2, 1, 0]])


def test_ambiguity_codes_uniform_or_zero():
    X = SequenceOneHotEncoder().fit_transform(["NRA"])
    np.testing.assert_allclose(X[0, :, 0], [0.25] * 4)
    np.testing.assert_allclose(X[0, :, 1], [0.5, 0, 0.5, 0])  # R = A or G
    Z = SequenceOneHotEncoder(unknown="zero").fit_transform(["NRA"])
    np.testing.assert_array_equal(Z[0, :, :2], 0)
    np.testing.assert_array_equal(Z[0, :, 2], [1, 0, 0, 0])


def test_unequal_lengths_pad_to_longest_centered_or_left():
    enc = SequenceOneHotEncoder().fit(["ACGTAC", "AC"])
    assert enc.length_ == 6
    X = enc.transform(["AC"])
    assert X.shape == (1, 4, 6)
    np.testing.assert_array_equal(X[0].sum(axis=0), [0, 0, 1, 1, 0, 0])
    X = SequenceOneHotEncoder(align="left").fit(["ACGTAC", "AC"]).transform(["AC"])
    np.testing.assert_array_equal(X[0].sum(axis=0), [1, 1, 0, 0, 0, 0])


def test_length_crops_and_pads():
    X = SequenceOneHotEncoder(length=2).fit_transform(["AACCGG", "T"])
    assert X.shape == (2, 4, 2)
    np.testing.assert_array_equal(X[0].argmax(axis=0), [1, 1])  # the centre "CC"
    np.testing.assert_array_equal(X[1].sum(axis=0), [1, 0])  # odd padding: extra on the right
    X = SequenceOneHotEncoder(length=2, align="left").fit_transform(["AACCGG"])
    np.testing.assert_array_equal(X[0].argmax(axis=0), [0, 0])


def test_longer_than_fit_length_is_an_error():
    enc = SequenceOneHotEncoder().fit(["ACGT"])
    with pytest.raises(ValueError, match="sequence 1 has length 5"):
        enc.transform(["ACG", "ACGTA"])


@pytest.mark.parametrize(
    ("sequences", "message"),
    [
        (["ACGT", "ACXT"], "sequence 1 contains 'X' at position 2"),
        (["AC-T"], "sequence 0 contains '-' at position 2"),
        (["ACGé"], "sequence 0 contains 'é'"),
    ],
)
def test_non_dna_names_sequence_and_character(sequences, message):
    with pytest.raises(ValueError, match=message):
        SequenceOneHotEncoder().fit_transform(sequences)


def test_wrong_input_types():
    with pytest.raises(TypeError, match="single string"):
        SequenceOneHotEncoder().fit("ACGT")
    with pytest.raises(TypeError, match="sequence 1 is a int"):
        SequenceOneHotEncoder().fit(["ACGT", 3])
    with pytest.raises(ValueError, match="no sequences"):
        SequenceOneHotEncoder().fit([])


def test_uint8_output_needs_zero_unknown():
    X = SequenceOneHotEncoder(dtype=np.uint8, unknown="zero").fit_transform(["ACGN"])
    assert X.dtype == np.uint8
    assert X.nbytes == 16
    with pytest.raises(ValueError, match='unknown="zero"'):
        SequenceOneHotEncoder(dtype=np.uint8).fit(["ACGT"])


def test_feature_names_clone_and_numpy_input():
    enc = SequenceOneHotEncoder().fit(np.array(["ACGT", "CCCC"]))
    assert enc.get_feature_names_out().tolist() == list(ALPHABET)
    assert clone(enc).get_params() == enc.get_params()
    column = np.array([["ACGT"], ["CCCC"]], dtype=object)
    np.testing.assert_array_equal(enc.transform(column), enc.transform(["ACGT", "CCCC"]))


def test_reverse_complement_strings_and_arrays():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("ACGR") == "YCGT"
    assert reverse_complement(["acg"]) == ["cgt"]
    enc = SequenceOneHotEncoder().fit(["AACGTTG"])
    X = enc.transform(["AACGTTG"])
    np.testing.assert_array_equal(
        reverse_complement(X), enc.transform([reverse_complement("AACGTTG")])
    )
    with pytest.raises(ValueError, match="shape"):
        reverse_complement(np.zeros((2, 3, 5)))
