"""Deepprune's pruning step: kernel importance, keep-half, schedules, shrinking the network.

The importance criteria are pure functions of the dense weights ``w`` (shape
``(K,)``), the kernel scores ``u`` after max pooling (shape ``(n, K)``) and the
binary labels ``y`` (shape ``(n,)``); larger is more important.
:data:`CRITERIA` maps the names the estimator accepts to them. The paper's
three (``weight``, ``score``, ``score_weight``) take averages over the
training set; ``ablation`` (not in the paper) judges kernels by the loss on
held-out data (the estimator passes the validation part), and ``refit`` (not
in the paper) does the same with the dense layer refitted to the kernels left.
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


def _scores_and_labels(
    scores: np.ndarray, y: np.ndarray, n_kernels: int, name: str = "scores"
) -> tuple[np.ndarray, np.ndarray]:
    """``scores`` as float64 of shape ``(len(y), n_kernels)``, ``y`` as bool; else ValueError."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    if scores.shape != (len(y), n_kernels):
        raise ValueError(f"{name} must have shape ({len(y)}, {n_kernels}); got {scores.shape}")
    return scores, y


def _rank_survivors(importance: np.ndarray, survivors, costs: np.ndarray) -> np.ndarray:
    """Give the kernels left after removing half ranks above ``K // 2``, by removal cost."""
    order = np.argsort(np.argsort(costs, kind="stable"), kind="stable")
    importance[survivors] = importance.size // 2 + order
    return importance


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
    n_kernels = weight.size
    scores, y = _scores_and_labels(scores, y, n_kernels)
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
    return _rank_survivors(importance, survivors, costs)


def _fit_readout(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float, iterations: int = 25
) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression of ``y`` on ``X`` (last column: ones) by damped Newton steps.

    Minimises the mean log loss plus ``ridge / 2`` times the squared weights
    (not the intercept), starting from ``w``. Returns the weights and the
    Hessian at them.
    """
    n, d = X.shape
    penalty = np.full(d, ridge)
    penalty[-1] = 0.0

    def objective(weights):
        return _binary_log_loss((X @ weights)[:, np.newaxis], y)[0] + 0.5 * np.sum(
            penalty * weights**2
        )

    def probabilities_and_hessian(weights):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ weights, -500, 500)))
        return p, (X.T * (p * (1.0 - p))) @ X / n + np.diag(penalty + 1e-12)

    value = objective(w)
    for _ in range(iterations):
        p, hessian = probabilities_and_hessian(w)
        gradient = X.T @ (p - y) / n + penalty * w
        step = np.linalg.solve(hessian, gradient)
        for _ in range(30):  # halve the step until the objective does not rise
            trial = w - step
            trial_value = objective(trial)
            if trial_value <= value:
                break
            step = step / 2
        else:
            break
        w, improvement, value = trial, value - trial_value, trial_value
        if improvement <= 1e-10 * max(1.0, abs(value)):
            break
    return w, probabilities_and_hessian(w)[1]


def refit_importance(
    dense_weight: np.ndarray,
    scores: np.ndarray,
    y: np.ndarray,
    bias: float = 0.0,
    *,
    train_scores: np.ndarray | None = None,
    train_y: np.ndarray | None = None,
    ridge: float = 1e-3,
) -> np.ndarray:
    """Greedy backward elimination with the dense layer refitted (not in the paper).

    Like :func:`ablation_importance`, but each time a kernel goes, the dense
    layer is refitted to the kernels left (logistic regression of the labels
    on their contributions ``w_k u_k``, on the training part), and each
    candidate is judged by the loss on ``scores`` after that refit. A kernel
    whose signal another kernel also carries then costs little to remove,
    where with the weights held fixed its removal takes the shared signal's
    whole share of the logit; so the kept set is the one the fine-tuning can
    best start from. Each candidate's refit is the second-order (Optimal Brain
    Surgeon) update of the fitted weights; the chosen removal is then refitted
    by Newton's method.

    Parameters
    ----------
    dense_weight : ndarray of shape (K,)
        Dense-layer weight of each kernel.
    scores : ndarray of shape (n, K)
        Kernel scores ``u`` of the data that judges (the estimator: its
        validation part).
    y : ndarray of shape (n,)
        Binary labels of ``scores``.
    bias : float, default=0.0
        The dense layer's bias (the start of the first refit).
    train_scores : ndarray of shape (m, K) or None, default=None
        Kernel scores the dense layer is refitted on (the estimator: its
        training part); None refits on ``scores``.
    train_y : ndarray of shape (m,) or None, default=None
        Binary labels of ``train_scores``.
    ridge : float, default=1e-3
        L2 penalty of the refits, on the mean log loss.

    Returns
    -------
    ndarray of shape (K,)
        Importance of each kernel: the step at which it was removed (0 for
        the first), and above ``K // 2`` for the survivors, ordered by how
        much removing each would then cost.
    """
    weight = np.asarray(dense_weight, dtype=np.float64)
    n_kernels = weight.size
    scores, y = _scores_and_labels(scores, y, n_kernels)
    if train_scores is None:
        train_scores, train_y = scores, y
    train_scores, train_y = _scores_and_labels(train_scores, train_y, n_kernels, "train_scores")
    labels = train_y.astype(np.float64)
    # Each kernel's contribution, and a column of ones for the bias; the refit
    # scales each contribution (1 = the network's own weights).
    fit = np.column_stack([train_scores * weight, np.ones(len(train_y))])
    judge = np.column_stack([scores * weight, np.ones(len(y))])
    alive = list(range(n_kernels))
    columns = [*alive, n_kernels]
    start = np.append(np.ones(n_kernels), bias)
    coef, hessian = _fit_readout(fit, labels, start, ridge)
    importance = np.empty(n_kernels)

    def costs():
        # Removing kernel j: coef - (coef_j / inv_jj) inv[:, j], the quadratic model's refit.
        inverse = np.linalg.inv(hessian)
        kernels = np.arange(len(alive))
        shift = inverse[:, kernels] * (coef[kernels] / np.diag(inverse)[kernels])
        logits = judge[:, columns] @ (coef[:, np.newaxis] - shift)
        return _binary_log_loss(logits, y), shift

    for step in range(n_kernels // 2):
        losses, shift = costs()
        chosen = int(np.argmin(losses))
        importance[alive[chosen]] = step
        start = np.delete(coef - shift[:, chosen], chosen)
        del alive[chosen], columns[chosen]
        # warm-started at the quadratic model's refit: a few Newton steps
        coef, hessian = _fit_readout(fit[:, columns], labels, start, ridge, iterations=4)
    losses, _ = costs()
    return _rank_survivors(importance, alive, losses)


#: Criterion name -> importance function ``f(dense_weight, scores, y)``.
CRITERIA = {
    "weight": weight_importance,
    "score": score_importance,
    "score_weight": score_weight_importance,
    "ablation": ablation_importance,
    "refit": refit_importance,
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
