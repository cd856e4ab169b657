"""MotifScanNet: every scanner computes the Conv1d formulation, forward and backward."""

import multiprocessing
import os
import sys

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from sklearn_deepprune import network
from sklearn_deepprune.network import SCANNERS, MotifScanNet, default_scanner, same_padding
from sklearn_deepprune.pruning import shrink_network

# How each code path of the "scan" scanner is reached: "fused" (one-hot CPU input,
# the numba kernels), "lookup" (one-hot input, many kernels, pure torch), "matmul"
# (other input, many kernels), "small" (few kernels: conv1d forward).
PATHS = ("fused", "lookup", "matmul", "small")


def reference(net: MotifScanNet, X: torch.Tensor) -> torch.Tensor:
    """The network's function written with F.conv1d (the "conv" formulation)."""
    X = X.to(net.conv.weight.dtype)
    padded = F.pad(X, same_padding(net.kernel_size))
    scores = F.relu(F.conv1d(padded, net.conv.weight, net.conv.bias)).amax(dim=2)
    return F.linear(scores, net.dense.weight, net.dense.bias).squeeze(1)


def one_hot(n, length, channels=4, gaps=False, seed=0, dtype=torch.uint8):
    """Random one-hot ``(n, C, L)``; with ``gaps`` some columns are all zero."""
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, channels + int(gaps), (n, length), generator=gen)
    return F.one_hot(codes, channels + 1)[..., :channels].permute(0, 2, 1).to(dtype)


def make_pair(n_kernels, kernel_size, scanner, channels=4, seed=0):
    """A network with random (continuous) weights and a copy with another scanner."""
    torch.manual_seed(seed)
    ref = MotifScanNet(n_kernels, kernel_size, channels, "conv")
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_()
    net = MotifScanNet(n_kernels, kernel_size, channels, scanner)
    net.load_state_dict(ref.state_dict())
    return ref, net


def outputs_and_grads(net, X, use_reference=False):
    net.zero_grad()
    out = reference(net, X) if use_reference else net(X)
    (out * torch.linspace(-1, 1, len(out))).sum().backward()
    grads = [p.grad.clone() for p in (net.conv.weight, net.conv.bias, net.dense.weight)]
    grads.append(net.dense.bias.grad.clone())
    return [out.detach(), *grads]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """Force one code path of the "scan" scanners."""
    if request.param == "fused":
        pytest.importorskip("numba")
    limit = 10**6 if request.param == "small" else 0
    monkeypatch.setattr(network, "_CONV_MAX_KERNELS", limit)
    monkeypatch.setattr(network, "_USE_NUMBA", request.param == "fused")
    return request.param


def path_input(path, n, length, channels=4, seed=0):
    if path == "matmul":
        return torch.randn(n, channels, length, generator=torch.Generator().manual_seed(seed))
    return one_hot(n, length, channels, gaps=True, seed=seed)


@pytest.mark.parametrize(
    ("n_kernels", "kernel_size", "length"),
    [(40, 24, 101), (7, 5, 30), (3, 4, 30), (1, 6, 25), (5, 24, 10), (6, 1, 12), (9, 15, 15)],
)
def test_scan_matches_conv1d_forward_and_gradients(path, n_kernels, kernel_size, length):
    # Odd and even widths, width > L (24 > 10), one kernel, width 1.
    ref, net = make_pair(n_kernels, kernel_size, "scan")
    X = path_input(path, 13, length)
    expected = outputs_and_grads(ref, X, use_reference=True)
    got = outputs_and_grads(net, X)
    for name, e, g in zip(
        ["logits", "weight", "bias", "dense", "dense bias"], expected, got, strict=True
    ):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-4, msg=name)
    with torch.no_grad():
        torch.testing.assert_close(
            net.kernel_scores(X), ref.kernel_scores(X), rtol=1e-5, atol=1e-4
        )
        torch.testing.assert_close(net(X), expected[0], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("scanner", SCANNERS)
def test_conv_scanner_matches_reference(scanner):
    ref, net = make_pair(8, 6, scanner)
    X = one_hot(5, 20)
    torch.testing.assert_close(ref(X), reference(ref, X))
    torch.testing.assert_close(net.activations(X), ref.activations(X))


def test_input_dtypes_give_the_same_result(path):
    ref, net = make_pair(20, 7, "scan")
    X = one_hot(6, 33, gaps=path != "matmul")
    expected = outputs_and_grads(ref, X, use_reference=True)
    for dtype in (torch.uint8, torch.bool, torch.float32, torch.float64):
        got = outputs_and_grads(net, X.to(dtype))
        for e, g in zip(expected, got, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-4)


def test_one_hot_ties_split_or_not_the_gradient_is_the_same(path):
    # Poly-A: every interior window is the same, so the max is tied across
    # positions. F.conv1d + amax spreads the gradient over the ties, the scan
    # gives it to the first one; the windows are equal, so the gradients are.
    ref, net = make_pair(20, 5, "scan")
    X = torch.zeros(4, 4, 30, dtype=torch.uint8)
    X[:, 0] = 1
    X[1] = 0  # no bases at all: every window is zero, the score is relu(bias)
    X[2, :, 10:] = 0  # a sequence that ends early (zero padding)
    expected = outputs_and_grads(ref, X, use_reference=True)
    got = outputs_and_grads(net, X)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-4)
    assert torch.isfinite(got[1]).all()


def test_ties_go_to_the_first_position():
    scores = torch.tensor([[[0.0, 1.0]] * 3 + [[2.0, 1.0]] * 9 + [[2.0, 0.5]]])
    values, positions = network._max_argmax(scores)
    assert values.tolist() == [[2.0, 1.0]]
    assert positions.tolist() == [[3, 0]]
    X = torch.randn(3, 50, 17)
    values, positions = network._max_argmax(X)
    torch.testing.assert_close(values, X.amax(dim=1))
    torch.testing.assert_close(positions, X.argmax(dim=1))


def test_chunked_batches_give_the_same_result(path, monkeypatch):
    ref, net = make_pair(20, 9, "scan")
    X = path_input(path, 11, 40)
    expected = outputs_and_grads(net, X)
    monkeypatch.setattr(network, "_CHUNK_ELEMENTS", 40 * 20 * 3)  # 3 sequences a chunk
    got = outputs_and_grads(net, X)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-5)


def test_double_precision(path):
    ref, net = make_pair(20, 8, "scan")
    ref.double()
    net.double()
    X = path_input(path, 5, 30)
    expected = outputs_and_grads(ref, X, use_reference=True)
    got = outputs_and_grads(net, X)
    assert got[0].dtype == torch.float64
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-10)


def test_one_input_channel():
    # A 2-d input is read by the estimator as one channel; binary or real.
    ref, net = make_pair(20, 5, "scan", channels=1)
    for X in (one_hot(6, 30, channels=1, gaps=True), torch.randn(6, 1, 30)):
        expected = outputs_and_grads(ref, X, use_reference=True)
        for e, g in zip(expected, outputs_and_grads(net, X), strict=True):
            torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-4)


def test_bf16_scan_scores_are_exact_scores_of_near_best_windows(path):
    ref, net = make_pair(32, 12, "scan_bf16")
    X = path_input(path, 16, 60)
    with torch.no_grad():
        best = ref.kernel_scores(X)
        got = net.kernel_scores(X)
        activations = ref.activations(X)
    # Some window has exactly this score (up to fp32 rounding) ...
    gap = (activations - got.unsqueeze(2)).abs().amin(dim=2)
    assert (gap <= 1e-4).all()
    # ... and it is the best one up to bf16 rounding of the scores.
    assert (got <= best + 1e-4).all()
    assert (got >= best - 0.02 * best.abs().clamp(min=1)).all()
    out = outputs_and_grads(net, X)
    assert all(torch.isfinite(t).all() for t in out)


def test_bf16_scan_with_a_clear_winner_equals_conv():
    # One motif planted in every sequence scores far above every other window.
    ref, net = make_pair(20, 6, "scan_bf16")
    X = one_hot(8, 40, seed=3)
    motif = X[0, :, 5:11].clone()
    for i in range(8):
        X[i, :, 3 * i : 3 * i + 6] = motif
    with torch.no_grad():
        for k in range(20):
            ref.conv.weight[k] = 10.0 * motif.float() - 5.0
        net.load_state_dict(ref.state_dict())
    expected = outputs_and_grads(ref, X, use_reference=True)
    got = outputs_and_grads(net, X)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("scanner", ["scan", "scan_bf16"])
def test_scan_refuses_input_gradients(scanner):
    net = MotifScanNet(4, 3, 4, scanner)
    X = torch.rand(2, 4, 10, requires_grad=True)
    with pytest.raises(ValueError, match="no gradient with respect to the input"):
        net(X)


def test_empty_batch(path):
    _, net = make_pair(20, 5, "scan")
    X = path_input(path, 0, 30)
    assert net(X).shape == (0,)
    with torch.no_grad():
        assert net.kernel_scores(X).shape == (0, 20)


@pytest.mark.parametrize("scanner", SCANNERS)
def test_shrink_network_equals_masked_original(scanner, path):
    ref, net = make_pair(24, 7, scanner)
    keep = np.array([0, 3, 5, 11, 23])
    X = path_input(path, 9, 31)
    smaller = shrink_network(net, keep)
    assert smaller.scanner == scanner
    assert smaller.n_kernels == len(keep)
    masked = MotifScanNet(24, 7, 4, "conv")
    masked.load_state_dict(net.state_dict())
    with torch.no_grad():
        mask = torch.zeros(24)
        mask[keep] = 1.0
        masked.dense.weight.mul_(mask)
        torch.testing.assert_close(smaller(X), reference(masked, X), rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(
            smaller.kernel_scores(X), ref.kernel_scores(X)[:, keep], rtol=1e-5, atol=1e-4
        )


def test_scanner_choice_and_parameter_names():
    assert set(SCANNERS) == {"conv", "scan", "scan_bf16"}
    assert default_scanner("cpu") in SCANNERS
    assert default_scanner(torch.device("cpu")) in SCANNERS
    with pytest.raises(ValueError, match="scanner must be one of"):
        MotifScanNet(4, 3, 4, "fft")
    names = {s: list(MotifScanNet(4, 3, 4, s).state_dict()) for s in SCANNERS}
    assert all(
        n == ["conv.weight", "conv.bias", "dense.weight", "dense.bias"] for n in names.values()
    )


# -- activations and strands ---------------------------------------------------


def reference_scores(net: MotifScanNet, X: torch.Tensor) -> torch.Tensor:
    """Kernel scores written with F.conv1d: activation, then max over positions and strands."""
    X = X.to(net.conv.weight.dtype)
    padded = F.pad(X, same_padding(net.kernel_size))
    kernels = [net.conv.weight]
    if net.strand == "both":
        kernels.append(net.conv.weight.flip(1, 2))
    per_strand = [
        network.activate(F.conv1d(padded, w, net.conv.bias), net.activation).amax(dim=2)
        for w in kernels
    ]
    return per_strand[0] if len(per_strand) == 1 else torch.maximum(*per_strand)


@pytest.mark.parametrize("activation", network.ACTIVATIONS)
@pytest.mark.parametrize("strand", network.STRANDS)
@pytest.mark.parametrize("scanner", SCANNERS[:2])
def test_activation_and_strand_match_conv1d_forward_and_gradients(
    activation, strand, scanner, path
):
    torch.manual_seed(1)
    net = MotifScanNet(24, 7, 4, scanner, activation=activation, strand=strand)
    with torch.no_grad():
        net.conv.weight.normal_(0, 4.0)  # scores beyond the cap of 10 and below 0
        net.conv.bias.normal_(0, 3.0)
        net.conv.bias[:8] -= 40.0  # never positive
        net.dense.weight.normal_()
    X = one_hot(40, 31, gaps=True, seed=3)
    scores = reference_scores(net, X)
    if activation == "leaky_capped":  # both the cap and the negative slope are exercised
        assert (scores == 10).any() and (scores < 0).any()
    weights = torch.linspace(-1, 1, 24)

    def grads(function):
        net.zero_grad()
        (function(X) @ weights).sum().backward()
        return net.conv.weight.grad.clone(), net.conv.bias.grad.clone()

    torch.testing.assert_close(net.kernel_scores(X), scores, rtol=1e-5, atol=1e-5)
    expected_grads = grads(lambda x: reference_scores(net, x))
    for got, expected in zip(grads(net.kernel_scores), expected_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_leaky_capped_is_the_authors_keras_activation():
    x = torch.tensor([-4.0, -1.0, 0.0, 3.0, 10.0, 12.0])
    expected = torch.tensor([-2.0, -0.5, 0.0, 3.0, 10.0, 10.0])
    torch.testing.assert_close(network.activate(x, "leaky_capped"), expected)
    torch.testing.assert_close(network.activate(x, "relu"), x.clamp(min=0))
    with pytest.raises(ValueError, match="activation must be one of"):
        network.activate(x, "tanh")


@pytest.mark.parametrize("scanner", SCANNERS[:2])
def test_palindromic_kernel_scores_the_same_on_one_or_both_strands(scanner):
    torch.manual_seed(0)
    forward = MotifScanNet(3, 6, 4, scanner)
    with torch.no_grad():
        half = torch.randn(3, 4, 3)
        # W[:, c, j] = W[:, 3 - c, w - 1 - j]: the kernel is its own reverse complement.
        forward.conv.weight.copy_(torch.cat([half, half.flip(1, 2)], dim=2))
    both = MotifScanNet(3, 6, 4, scanner, strand="both")
    both.load_state_dict(forward.state_dict())
    X = one_hot(50, 40, seed=2)
    torch.testing.assert_close(both.kernel_scores(X), forward.kernel_scores(X))


def test_both_strands_see_a_motif_in_either_orientation():
    # A kernel that matches GATTC only; sequences hold GATTC or its reverse complement GAATC.
    net = MotifScanNet(1, 5, 4, "scan", strand="both")
    with torch.no_grad():
        net.conv.weight.copy_(torch.as_tensor(np.eye(4)[[2, 0, 3, 3, 1]].T[np.newaxis] * 2.0))
        net.conv.bias.fill_(-9.0)
    from sklearn_deepprune import SequenceOneHotEncoder

    X = torch.as_tensor(SequenceOneHotEncoder().fit_transform(["AAGATTCAA", "AAGAATCAA"]))
    np.testing.assert_allclose(net.kernel_scores(X).detach().numpy().ravel(), [1.0, 1.0])
    strands = net.strand_activations(X).amax(dim=3).detach().numpy()[:, :, 0]  # (n, S)
    np.testing.assert_allclose(strands, [[1.0, 0.0], [0.0, 1.0]])
    forward = MotifScanNet(1, 5, 4, "scan")
    forward.load_state_dict(net.state_dict())
    np.testing.assert_allclose(forward.kernel_scores(X).detach().numpy().ravel(), [1.0, 0.0])


def test_both_strands_need_four_channels():
    with pytest.raises(ValueError, match="4 channels"):
        MotifScanNet(2, 3, 1, strand="both")


# -- the fused numba kernels ---------------------------------------------------


def test_fused_path_is_taken_for_one_hot_cpu_batches_only():
    pytest.importorskip("numba")
    weight, bias = torch.randn(20, 4, 7), torch.randn(20)
    X = one_hot(5, 30, gaps=True)
    for batch in (X, X.bool(), X.float(), X.double()):
        values, positions, (kind, codes) = network._scan_max(batch, weight, bias, False, True)
        assert kind == "codes"
        assert codes.dtype == torch.uint8 and codes.shape == (5, 30)
        expected = F.conv1d(F.pad(X.float(), same_padding(7)), weight, bias)
        torch.testing.assert_close(values, expected.amax(dim=2))
        assert torch.equal(positions, expected.argmax(dim=2))
    not_one_hot = X.clone()
    not_one_hot[2, 1, 4] = 2
    two_ones = X.clone()
    two_ones[3, :, 7] = 1
    half = X.double()
    half[0, 0, 0] = 0.5
    for batch in (not_one_hot, two_ones, two_ones.float(), half, torch.randn(5, 4, 30)):
        values, _, (kind, _) = network._scan_max(batch, weight, bias, False, True)
        assert kind != "codes"
        expected = F.conv1d(F.pad(batch.float(), same_padding(7)), weight, bias).amax(dim=2)
        torch.testing.assert_close(values, expected, rtol=1e-5, atol=1e-4)


def test_fused_path_propagates_non_finite_weights_as_conv1d():
    pytest.importorskip("numba")
    ref, net = make_pair(20, 5, "scan")
    with torch.no_grad():
        for model in (ref, net):
            model.conv.weight[3, 1, 2] = float("nan")
    X = one_hot(6, 25)
    with torch.no_grad():
        expected = ref.kernel_scores(X)
        got = net.kernel_scores(X)
    assert torch.isnan(expected[:, 3]).all()
    torch.testing.assert_close(got, expected, equal_nan=True)


def test_without_numba_the_torch_path_gives_the_same_function(monkeypatch):
    ref, net = make_pair(20, 9, "scan")
    X = one_hot(7, 40, gaps=True)
    expected = outputs_and_grads(ref, X, use_reference=True)
    monkeypatch.setitem(sys.modules, "sklearn_deepprune._fastscan", None)  # import fails
    monkeypatch.setattr(network, "_FAST", None)
    assert network._fast_module() is None
    assert network._scan_max(X, net.conv.weight, net.conv.bias, False, True)[2][0] == "rows"
    for e, g in zip(expected, outputs_and_grads(net, X), strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_kernels_split_over_threads_give_the_same_result(monkeypatch, dtype):
    fastscan = pytest.importorskip("sklearn_deepprune._fastscan")
    X = one_hot(23, 37, gaps=True).numpy()
    weight, bias = torch.randn(11, 4, 8, dtype=torch.float64), torch.randn(11)
    table = network._lookup_table(weight, bias.double(), 3).numpy().astype(dtype)
    grad = np.random.RandomState(0).randn(23, 11).astype(dtype)

    def run(threads):
        codes, one_hot_ok = fastscan.one_hot_codes(X, threads)
        values, positions = fastscan.scan_max(codes, table, 4, 8, 3, True, threads)
        grads = fastscan.weight_grad(codes, positions, grad, 4, 8, threads)
        return one_hot_ok, codes, values, positions, grads

    single = run(1)
    monkeypatch.setattr(fastscan, "_MIN_SPLIT_WORK", 1)
    monkeypatch.setattr(fastscan, "_MIN_SPLIT_SCAN", 1)
    assert len(fastscan._parts(23, 10**6, 3)) == 3
    split = run(3)
    assert single[0] and split[0]
    np.testing.assert_array_equal(split[1], single[1])
    np.testing.assert_array_equal(split[2], single[2])
    np.testing.assert_array_equal(split[3], single[3])
    np.testing.assert_allclose(split[4], single[4], rtol=1e-6, atol=1e-6)
    assert split[2].dtype == dtype and split[4].dtype == dtype


@pytest.mark.parametrize(
    ("channels", "width", "dtype"),
    [(4, 15, torch.float32), (4, 24, torch.float64), (4, 1, torch.float32), (1, 7, torch.float32)],
)
def test_compiled_lookup_table_is_the_torch_table(channels, width, dtype):
    fastscan = pytest.importorskip("sklearn_deepprune._fastscan")
    weight, bias = torch.randn(9, channels, width, dtype=dtype), torch.randn(9, dtype=dtype)
    group = network._group_size(channels, width)
    table, finite = fastscan.lookup_table(weight.numpy(), bias.numpy(), group)
    assert finite and table.dtype == weight.numpy().dtype
    np.testing.assert_array_equal(table, network._lookup_table(weight, bias, group).numpy())
    for bad in (weight, bias):
        saved = bad.flatten()[3].item()
        bad.view(-1)[3] = float("inf") if bad is weight else float("nan")
        assert not fastscan.lookup_table(weight.numpy(), bias.numpy(), group)[1]
        bad.view(-1)[3] = saved


def test_scan_of_a_small_batch_is_split_over_threads_at_a_few_kernels():
    fastscan = pytest.importorskip("sklearn_deepprune._fastscan")
    # A training batch at the last stage (256 sequences, 101 bp, 4 kernels): two threads.
    assert len(fastscan._parts(256, 256 * 101 * 4, 2, fastscan._MIN_SPLIT_SCAN)) == 2
    # The 28 microseconds of reading its codes are not worth a thread.
    assert len(fastscan._parts(256, 256 * 101 * 4, 2)) == 1


def test_fused_scan_threads_hold_torch_to_one_thread_only_where_the_kernels_run():
    pytest.importorskip("numba")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        net = MotifScanNet(4, 5, 4, "scan")
        with network._fused_scan_threads(net, one_hot(3, 20)):
            assert torch.get_num_threads() == 1
            assert network._scan_threads() == 2
        assert torch.get_num_threads() == 2 and network._SCAN_THREADS is None
        conv = MotifScanNet(4, 5, 4, "conv")
        for model, sample in ((conv, one_hot(3, 20)), (net, torch.randn(3, 4, 20))):
            with network._fused_scan_threads(model, sample):
                assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def _codes_in_a_child(X):
    from sklearn_deepprune import _fastscan

    return _fastscan.one_hot_codes(X, 2)[0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fused_kernels_run_in_a_forked_child(monkeypatch):
    # A forked child inherits the kernels' thread pool object but not its threads.
    fastscan = pytest.importorskip("sklearn_deepprune._fastscan")
    monkeypatch.setattr(fastscan, "_MIN_SPLIT_WORK", 1)
    X = one_hot(8, 20, gaps=True).numpy()
    expected = fastscan.one_hot_codes(X, 2)[0]  # starts the pool in this process
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_codes_in_a_child, (X,)).get(timeout=30)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("pooling", ["max", "lse"])
def test_estimator_fits_the_same_with_and_without_the_fused_kernels(monkeypatch, pooling):
    pytest.importorskip("numba")
    from sklearn_deepprune import DeepPruneClassifier

    X = one_hot(240, 30, seed=5).numpy()
    y = np.random.RandomState(0).randint(0, 2, len(X))
    X[y == 1, :, 10:15] = np.eye(4, dtype=np.uint8)[:, [0, 2, 1, 3, 3]]  # a motif
    params = dict(n_kernels=2, n_prune_steps=2, kernel_size=5, max_epochs=5, batch_size=16)
    params["pooling"] = pooling
    params["random_state"] = 0
    fused = DeepPruneClassifier(**params).fit(X, y)
    assert network._FAST is not None and network._FAST is not False
    monkeypatch.setattr(network, "_USE_NUMBA", False)
    plain = DeepPruneClassifier(**params).fit(X, y)
    np.testing.assert_allclose(
        fused.decision_function(X), plain.decision_function(X), rtol=1e-4, atol=1e-4
    )
    assert fused.score(X, y) > 0.7  # it learned something: the comparison is not trivial


def test_weight_gradient_does_not_depend_on_the_number_of_threads():
    # Split over kernels, each weight's sum runs over the sequences in order on one
    # thread, so a fit's rounding, and so its result, does not depend on the core count.
    fastscan = pytest.importorskip("sklearn_deepprune._fastscan")
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 4, (600, 101)).astype(np.uint8)
    positions = rng.randint(0, 101, (600, 64))
    grad = rng.randn(600, 64).astype(np.float32)
    got = [fastscan.weight_grad(codes, positions, grad, 4, 15, t) for t in (1, 2, 3, 8)]
    for other in got[1:]:
        np.testing.assert_array_equal(other, got[0])
