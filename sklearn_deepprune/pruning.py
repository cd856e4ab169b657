"""Deepprune's pruning step: kernel importance, keep-half, schedules, shrinking the network.

The importance criteria are pure functions of the dense weights ``w`` (shape
``(K,)``), the kernel scores ``u`` after max pooling (shape ``(n, K)``) and the
binary labels ``y`` (shape ``(n,)``); larger is more important.
:data:`CRITERIA` maps the names the estimator accepts to them. The paper's
three (``weight``, ``score``, ``score_weight``) take averages over the
training set; ``ablation`` (not in the paper) judges kernels by the loss on
held-out data (the estimator passes the validation part).
"""

from __future__ import annotations

import numpy as np
import torch

from sklearn_deepprune.network import MotifScanNet


def _class_means(values: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(bool)
    if y.all() or not y.any():
        raise ValueError("score-based importance needs both positive and negative examples")
    return values[y].mean(axis=0), values[~y].mean(axis=0)


def weight_importance(dense_weight: np.ndarray, scores=None, y=None) -> np.ndarray:
    """The paper's default criterion: ``|w_k|``.

    Parameters
    ----------
    dense_weight : ndarray of shape (K,)
        Dense-layer weight of each kernel.
    scores, y : ignored
        Present so that all criteria share one signature.

    Returns
    -------
    ndarray of shape (K,)
        Importance of each kernel.
    """
    return np.abs(np.asarray(dense_weight, dtype=np.float64))


def score_importance(dense_weight, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Class separation of the kernel score: ``|mean_pos(u_k) - mean_neg(u_k)|``.

    Parameters
    ----------
    dense_weight : ignored
        Present so that all criteria share one signature.
    scores : ndarray of shape (n, K)
        Kernel scores ``u`` after max pooling.
    y : ndarray of shape (n,)
        Binary labels (1 = bound).

    Returns
    -------
    ndarray of shape (K,)
        Importance of each kernel.
    """
    pos, neg = _class_means(np.asarray(scores, dtype=np.float64), y)
    return np.abs(pos - neg)


def score_weight_importance(dense_weight: np.ndarray, scores: np.ndarray, y: np.ndarray):
    """Class separation of the kernel's contribution: ``|mean_pos(w_k u_k) - mean_neg(w_k u_k)|``.

    Parameters
    ----------
    dense_weight : ndarray of shape (K,)
        Dense-layer weight of each kernel.
    scores : ndarray of shape (n, K)
        Kernel scores ``u`` after max pooling.
    y : ndarray of shape (n,)
        Binary labels (1 = bound).

    Returns
    -------
    ndarray of shape (K,)
        Importance of each kernel.
    """
    contribution = np.asarray(scores, dtype=np.float64) * np.asarray(dense_weight, np.float64)
    pos, neg = _class_means(contribution, y)
    return np.abs(pos - neg)


def _binary_log_loss(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy of each column of ``logits`` ``(n, m)``: shape ``(m,)``."""
    signed = np.where(y[:, np.newaxis], -logits, logits)
    return np.logaddexp(0.0, signed).mean(axis=0)


def ablation_importance(
    dense_weight: np.ndarray, scores: np.ndarray, y: np.ndarray, bias: float = 0.0
) -> np.ndarray:
    """Greedy backward elimination by the loss on held-out data (not in the paper).

    Starting from all kernels, repeatedly remove the kernel whose removal
    raises the binary cross-entropy least, until half are left. A removed
    kernel's score is replaced by its mean over the data (mean-replacement
    ablation), so that removing a kernel that fires everywhere does not also
    shift every logit. The estimator passes the scores of the validation
    part, so the kept half is judged by its effect on data the network was
    not fitted to; a kernel that is silent or constant there costs nothing
    to remove and goes first, whatever its weight.

    Parameters
    ----------
    dense_weight : ndarray of shape (K,)
        Dense-layer weight of each kernel.
    scores : ndarray of shape (n, K)
        Kernel scores ``u`` after max pooling (and activation).
    y : ndarray of shape (n,)
        Binary labels (1 = bound).
    bias : float, default=0.0
        The dense layer's bias.

    Returns
    -------
    ndarray of shape (K,)
        Importance of each kernel: the step at which it was removed (0 for
        the first), and above ``K // 2`` for the survivors, ordered by how
        much removing each would then cost.
    """
    weight = np.asarray(dense_weight, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    n_kernels = weight.size
    if scores.shape != (len(y), n_kernels):
        raise ValueError(f"scores must have shape ({len(y)}, {n_kernels}); got {scores.shape}")
    # Each kernel's contribution relative to its mean; removing it subtracts that.
    centred = (scores - scores.mean(axis=0)) * weight
    logits = bias + scores @ weight
    importance = np.empty(n_kernels)
    alive = np.ones(n_kernels, dtype=bool)
    for step in range(n_kernels // 2):
        candidates = np.flatnonzero(alive)
        losses = _binary_log_loss(logits[:, np.newaxis] - centred[:, candidates], y)
        chosen = candidates[int(np.argmin(losses))]
        importance[chosen] = step
        alive[chosen] = False
        logits = logits - centred[:, chosen]
    survivors = np.flatnonzero(alive)
    costs = _binary_log_loss(logits[:, np.newaxis] - centred[:, survivors], y)
    order = np.argsort(np.argsort(costs, kind="stable"), kind="stable")
    importance[survivors] = n_kernels // 2 + order
    return importance


#: Criterion name -> importance function ``f(dense_weight, scores, y)``.
CRITERIA = {
    "weight": weight_importance,
    "score": score_importance,
    "score_weight": score_weight_importance,
    "ablation": ablation_importance,
}


def keep_top(importance: np.ndarray, n_keep: int) -> np.ndarray:
    """Indices of the ``n_keep`` most important kernels.

    Among equal importances the lower index wins, so the choice is
    deterministic.

    Parameters
    ----------
    importance : ndarray of shape (K,)
        Importance of each kernel; larger is more important.
    n_keep : int
        How many to keep, ``1 <= n_keep <= K``.

    Returns
    -------
    ndarray of shape (n_keep,)
        Kept kernel indices, in increasing order.

    Examples
    --------
    >>> keep_top(np.array([0.1, 0.5, 0.5, 0.2]), 3)
    array([1, 2, 3])
    """
    importance = np.asarray(importance, dtype=np.float64)
    if importance.ndim != 1 or importance.size < 2:
        raise ValueError(f"need a 1-d importance over at least 2 kernels, got {importance.shape}")
    if not 1 <= n_keep <= importance.size:
        raise ValueError(f"n_keep must be between 1 and {importance.size}; got {n_keep}")
    if np.isnan(importance).any():
        raise ValueError("kernel importance contains NaN")
    order = np.lexsort((np.arange(importance.size), -importance))
    return np.sort(order[:n_keep])


def keep_half(importance: np.ndarray) -> np.ndarray:
    """Indices of the more important half of the kernels.

    Exactly ``K // 2`` kernels are kept, even with ties: among equal
    importances the lower index wins, so the choice is deterministic.

    Parameters
    ----------
    importance : ndarray of shape (K,)
        Importance of each kernel; larger is more important.

    Returns
    -------
    ndarray of shape (K // 2,)
        Kept kernel indices, in increasing order.

    Examples
    --------
    >>> keep_half(np.array([0.1, 0.5, 0.5, 0.2]))
    array([1, 2])
    >>> keep_half(np.array([1.0, 1.0, 1.0, 1.0]))
    array([0, 1])
    """
    importance = np.asarray(importance, dtype=np.float64)
    return keep_top(importance, importance.size // 2)


#: Below this many kernels, ``schedule="gradual"`` removes a quarter per stage.
GRADUAL_BELOW = 16

#: The pruning schedules :func:`pruning_schedule` knows.
SCHEDULES = ("halving", "gradual")


def pruning_schedule(n_kernels: int, n_prune_steps: int, schedule: str = "halving") -> list[int]:
    """The number of kernels after each stage, from the wide network to ``n_kernels``.

    ``"halving"`` (the paper): ``n_kernels * 2**n_prune_steps``, then half of
    that at each step. ``"gradual"`` (not in the paper): the same halvings
    while more than :data:`GRADUAL_BELOW` kernels are left; from there each
    stage removes a quarter of the kernels (at least one), never skipping a
    count of the halving path (``n_kernels * 2**i``). The last halvings are
    where a small network loses most; removing fewer kernels at a time lets
    the survivors take over what each removed one did. The counts of the
    halving path stay on the path, and the path to ``n_kernels`` starts as
    the path to any larger count on it does, so one fit serves several
    counts (as :func:`~sklearn_deepprune.experiments.run_sweep` uses).

    Parameters
    ----------
    n_kernels : int
        Kernels of the final network.
    n_prune_steps : int
        Halving steps of the paper's schedule: the wide network has
        ``n_kernels * 2**n_prune_steps`` kernels.
    schedule : {"halving", "gradual"}, default="halving"
        Which schedule.

    Returns
    -------
    list of int
        Kernels per stage, the wide network first and ``n_kernels`` last.

    Examples
    --------
    >>> pruning_schedule(4, 6)
    [256, 128, 64, 32, 16, 8, 4]
    >>> pruning_schedule(4, 6, "gradual")
    [256, 128, 64, 32, 16, 12, 9, 8, 6, 5, 4]
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    levels = [n_kernels * 2**step for step in range(n_prune_steps, -1, -1)]
    if schedule == "halving":
        return levels
    sizes = [levels[0]]
    for level in levels[1:]:
        size = sizes[-1]
        if size <= GRADUAL_BELOW:
            while size - max(1, size // 4) > level:
                size -= max(1, size // 4)
                sizes.append(size)
        sizes.append(level)
    return sizes


def shrink_network(module: MotifScanNet, keep) -> MotifScanNet:
    """A new, smaller network holding only the kept kernels.

    The result computes exactly what ``module`` computes with every other
    kernel masked out (its dense weight set to zero).

    Parameters
    ----------
    module : MotifScanNet
        The network to prune; left unchanged.
    keep : array-like of int
        Indices of the kernels to keep.

    Returns
    -------
    MotifScanNet
        A network with ``len(keep)`` kernels, on the same device and dtype.
    """
    keep = torch.as_tensor(np.asarray(keep), dtype=torch.long, device=module.conv.weight.device)
    smaller = MotifScanNet(
        len(keep),
        module.kernel_size,
        module.in_channels,
        module.scanner,
        activation=module.activation,
        strand=module.strand,
        pooling=module.pooling,
    )
    smaller.to(device=module.conv.weight.device, dtype=module.conv.weight.dtype)
    # The dense layer holds one block of K weights per pooling (max, then mean).
    columns = torch.cat([keep + p * module.n_kernels for p in range(module.n_pools)])
    with torch.no_grad():
        smaller.conv.weight.copy_(module.conv.weight[keep])
        smaller.conv.bias.copy_(module.conv.bias[keep])
        smaller.dense.weight.copy_(module.dense.weight[:, columns])
        smaller.dense.bias.copy_(module.dense.bias)
        if module.pooling == "lse":
            smaller.log_sharpness.copy_(module.log_sharpness[keep])
    return smaller
