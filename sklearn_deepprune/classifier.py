"""DeepPruneClassifier: the scikit-learn estimator and Deepprune's stage loop."""

from __future__ import annotations

import copy
import functools
import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.helper import predefined_split
from torch import nn
from torch.utils.data import Subset

from sklearn_deepprune._guards import noting_interrupts
from sklearn_deepprune._training import DeepPruneNet, Sequences, batches
from sklearn_deepprune.network import (
    ACTIVATIONS,
    POOLINGS,
    SCANNERS,
    STRANDS,
    MotifScanNet,
    _fused_scan_threads,
    default_scanner,
)
from sklearn_deepprune.pruning import (
    CRITERIA,
    SCHEDULES,
    keep_top,
    pruning_schedule,
    shrink_network,
)

VARIANTS = ("deepprune", "inter", "lottery", "baseline")

# Batch size for inference-only passes (kernel scores, predictions).
_INFERENCE_BATCH = 4096


class PruningHistory(list):
    """One dict per training stage, with :meth:`to_frame` for a pandas view.

    Keys of each row: ``stage``, ``n_kernels``, ``lr``, ``fine_tuned``,
    ``epochs``, ``best_valid_loss``, ``valid_auc`` (ROC AUC on the validation
    part after the stage: a step that loses the signal shows here; NaN
    without validation data), ``seconds``, ``kept`` (indices into the
    previous stage's kernels; ``None`` for stage 0), ``kernel_ids`` (indices
    into the initial wide network's kernels), ``importance`` (the criterion's
    values over the previous stage's kernels; ``None`` for stage 0) and
    ``dense_weight`` (the survivors' dense weights after the stage).
    """

    def to_frame(self):
        """Return the history as a :class:`pandas.DataFrame` (needs pandas).

        Returns
        -------
        pandas.DataFrame
            One row per stage.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on environment
            raise ImportError("to_frame() needs pandas: pip install pandas") from exc
        return pd.DataFrame(list(self))


def _all_or_nothing(fit):
    """Decorate ``fit``: if it raises (Ctrl-C too), restore the estimator as it was."""

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = dict(vars(self))
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    return wrapper


class DeepPruneClassifier(ClassifierMixin, BaseEstimator):
    """DeepBind-style CNN trained wide and pruned to a few motif detectors.

    Deepprune (Luo, Chi & Deng, 2019) trains a network with
    ``n_kernels * 2**n_prune_steps`` convolution kernels (the authors: 256),
    then ``n_prune_steps`` times keeps the more important half of the kernels
    by ``criterion`` and fine-tunes the survivors with learning rate
    ``lr / lr_decay**step``, ending with ``n_kernels`` kernels. Each stage is a
    skorch net with early stopping on the validation loss, best weights
    restored.

    Binary classification only. :meth:`score` returns ROC AUC, the paper's
    metric, not accuracy.

    Parameters
    ----------
    n_kernels : int, default=4
        Number of kernels of the final network.
    n_prune_steps : int, default=6
        Number of halving steps; the wide network has
        ``n_kernels * 2**n_prune_steps`` kernels. Ignored by ``"baseline"``.
        (``schedule="gradual"`` takes more, smaller steps at the end.)
    criterion : {"ablation", "refit", "weight", "score", "score_weight"}, default="ablation"
        Kernel importance (see :mod:`sklearn_deepprune.pruning`). The paper's
        three: ``|w_k|``, ``|mean_pos(u_k) - mean_neg(u_k)|`` or
        ``|mean_pos(w_k u_k) - mean_neg(w_k u_k)|``, averages over the training
        part of the data. ``"ablation"`` (not in the paper): greedy backward
        elimination by the loss on the validation part, each removed kernel
        replaced by its mean score (falls back to the training part when
        ``validation_fraction=0``). ``"refit"`` (not in the paper): the same
        elimination, with the dense layer refitted on the training part to
        the kernels left before each choice, so that of two kernels carrying
        the same signal one can go (slower: about 20 s of refits at 256
        kernels on 7,923 training sequences; not better end to end so far,
        see the user guide's Results).
    kernel_size : int, default=24
        Kernel width (the paper: 24 for simulated data, 15 for ChIP-seq).
    variant : {"deepprune", "inter", "lottery", "baseline"}, default="deepprune"
        ``"deepprune"``: prune and fine-tune at every step. ``"inter"``: the
        same, but the network right after the last pruning step, not
        fine-tuned. ``"lottery"``: after each pruning step the survivors are
        rewound to their initial weights and retrained (learning rate ``lr``).
        ``"baseline"``: train ``n_kernels`` kernels directly.
    lr : float, default=0.01
        Adam learning rate of the first stage.
    lr_decay : float, default=1.2
        Fine-tuning after pruning step ``i`` uses ``lr / lr_decay**i``
        (``i = log2`` of the wide network's kernels over the stage's).
    batch_size : int, default=256
        Minibatch size.
    max_epochs : int, default=1000
        Maximum epochs per stage.
    patience : int, default=15
        Stop a stage when the validation loss has not improved for this many
        epochs; the best weights are restored.
    validation_fraction : float, default=0.1
        Fraction of the training data held out (stratified) for early
        stopping. The same split serves every stage.
    activation : {"leaky_capped", "relu"}, default="leaky_capped"
        The kernels' activation: ``"relu"`` as in the paper's text, or
        ``"leaky_capped"``, ``min(max(x, 0.5 x), 10)``, as in the authors'
        script (see :func:`~sklearn_deepprune.network.activate`).
    strand : {"auto", "both", "forward"}, default="auto"
        ``"forward"`` (the paper): each kernel scans the given strand.
        ``"both"``: each kernel also scans the reverse complement and scores
        the better strand, so one kernel covers a motif in either
        orientation; needs one-hot DNA (4 channels, A, C, G, T).
        ``"auto"``: ``"both"`` for 4-channel input, ``"forward"`` for any
        other input. Measured on 15 ChIP-seq sets at 4 kernels, both strands
        raised the mean test AUC from 0.868 to 0.894 (see the user guide's
        Results). The strand used is in ``strand_``.
    pooling : {"max", "max_avg", "lse"}, default="lse"
        How each kernel's activations are pooled over positions for the
        dense layer. ``"max"`` (the paper): its best score ``u_k``.
        ``"max_avg"`` (DeepBind's pooling): also its mean activation over
        positions ``a_k``, which counts weak sites and sequence composition;
        each kernel is still one motif, with two dense weights
        (``dense_weight_`` and ``dense_mean_weight_``). ``"lse"``: a soft
        maximum, ``log(mean_l exp(beta_k a_kl)) / beta_k``, with a sharpness
        ``beta_k`` learned per kernel (``pool_sharpness_``): between the mean
        and the maximum, it counts every site by its strength, as the
        occupancy of a biophysical binding model does; one dense weight per
        kernel. A stage that starts from initialised kernels (the first;
        every stage of ``variant="lottery"``) is trained under the maximum
        until early stopping, then under the soft maximum (so it learns from
        small data and budgets as fast as the maximum). It keeps more of the wide
        network's accuracy at 4 kernels on ChIP-seq than the maximum, and
        trains several times slower (user guide, "The network" and Results);
        ``"max"`` is the paper's network and the fast one.
    schedule : {"gradual", "halving"}, default="gradual"
        ``"halving"`` (the paper): each stage keeps half of the kernels.
        ``"gradual"``: the same while more than 16 kernels are left, then
        each stage removes a quarter of them (at least one), e.g. 256, 128,
        64, 32, 16, 12, 9, 8, 6, 5, 4 (see
        :func:`~sklearn_deepprune.pruning.pruning_schedule`); fine-tuning
        after a stage that has removed ``i`` halvings' worth of kernels uses
        ``lr / lr_decay**i``. The last halvings are where four kernels lose
        most: on ChIP-seq it kept SP1's 4-kernel test AUC from collapsing
        (0.767 -> 0.841) and moved the other sets by -0.005 to +0.011, for
        about 1-3x the time of the stages below 16 kernels (user guide,
        Results).
    distill : float in [0, 1], default=0.0
        Distillation from the wide network: every stage after the first is
        fine-tuned on the soft targets ``(1 - distill) * y + distill * p``,
        ``p`` the first (widest) stage's probability for each training
        sequence; early stopping still judges by the labels. ``0``: the
        labels alone (the paper). Ignored by ``"baseline"`` (it has no wider
        stage).
    scanner : str, default="auto"
        How the network computes the motif scan (see
        :class:`~sklearn_deepprune.network.MotifScanNet`); ``"auto"`` picks the
        fastest for the device. All give the same function.
    device : str, default="cpu"
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the weight initialisation and the batch
        order. The same int gives the same predictions.
    verbose : int, default=0
        0: silent; 1: a progress bar over stages; 2: also skorch's epoch table.
    callbacks : list of (str, skorch.callbacks.Callback) or None, default=None
        Extra skorch callbacks for every stage's net, for example
        :class:`skorch.callbacks.LRScheduler` or
        :class:`skorch.callbacks.Checkpoint`; each stage gets its own deep
        copy. Early stopping (``patience``) is always there.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        Class labels, sorted. ``classes_[1]`` is the positive class: column 1
        of :meth:`predict_proba`, a positive :meth:`decision_function`,
        positive dense weights and the motifs all refer to it. With string
        labels ``"bound"``/``"unbound"`` it is ``"unbound"``; use 0/1 labels
        (1 = bound). :meth:`fit` warns with string labels.
    n_features_in_ : int
        Input channels (4 for one-hot DNA; ``m`` for 2-d input, which is read
        as a one-channel signal of length ``m``).
    net_ : skorch.NeuralNetBinaryClassifier
        The fitted net of the final stage; its ``module_`` is a
        :class:`~sklearn_deepprune.network.MotifScanNet`. (A subclass whose
        training steps compute the same gradients without autograd where the
        fused numba scan applies.)
    strand_ : {"forward", "both"}
        The strands the kernels read (``strand`` with ``"auto"`` resolved).
    kernels_ : ndarray of shape (n_kernels, n_channels, kernel_size)
        The final convolution kernels (motif scanners).
    kernel_bias_ : ndarray of shape (n_kernels,)
        Their biases.
    dense_weight_ : ndarray of shape (n_kernels,)
        The dense weight of each final kernel's best score ``u_k``.
    dense_mean_weight_ : ndarray of shape (n_kernels,)
        The dense weight of each final kernel's mean activation ``a_k``
        (``pooling="max_avg"``); zeros with the other poolings. The logit is
        ``sum_k dense_weight_[k] u_k + dense_mean_weight_[k] a_k + bias``.
    pool_sharpness_ : ndarray of shape (n_kernels,) or None
        ``pooling="lse"``: each final kernel's sharpness ``beta_k`` (large:
        close to its maximum; small: close to its mean); None otherwise.
        With it, ``dense_weight_[k]`` weighs the pooled score
        ``log(mean_l exp(beta_k a_kl)) / beta_k``.
    pruning_history_ : PruningHistory
        One dict per stage (see :class:`PruningHistory`); ``to_frame()`` gives
        a DataFrame.
    stage_states_ : list of dict
        Per stage, the network's ``state_dict`` after pruning (``"pruned"``;
        ``None`` for stage 0) and after training (``"trained"``); used by
        :meth:`staged_decision_function`.

    See Also
    --------
    SequenceOneHotEncoder : Turns DNA strings into this estimator's input.

    References
    ----------
    Luo X, Chi W, Deng M (2019). Deepprune: Learning Efficient and
    Interpretable Convolutional Networks Through Weight Pruning for Predicting
    DNA-Protein Binding. Front. Genet. 10:1145.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder
    >>> seqs = ["ACGTTGCAAC", "TTTTACGTAA", "GGGGCCCCAA", "ACACACACAC"] * 10
    >>> y = [1, 1, 0, 0] * 10
    >>> clf = DeepPruneClassifier(n_kernels=2, n_prune_steps=1, kernel_size=4,
    ...                           max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(SequenceOneHotEncoder(), clf).fit(seqs, y)
    >>> pipe.predict_proba(seqs).shape
    (40, 2)
    >>> [row["n_kernels"] for row in clf.pruning_history_]
    [4, 3, 2]
    """

    _parameter_constraints: dict = {
        "n_kernels": [Interval(Integral, 1, None, closed="left")],
        "n_prune_steps": [Interval(Integral, 0, None, closed="left")],
        "criterion": [StrOptions(set(CRITERIA))],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "variant": [StrOptions(set(VARIANTS))],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_decay": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "strand": [StrOptions({"auto", *STRANDS})],
        "pooling": [StrOptions(set(POOLINGS))],
        "schedule": [StrOptions(set(SCHEDULES))],
        "distill": [Interval(Real, 0, 1, closed="both")],
        "scanner": [StrOptions({"auto", *SCANNERS})],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        n_kernels=4,
        n_prune_steps=6,
        criterion="ablation",
        kernel_size=24,
        variant="deepprune",
        lr=0.01,
        lr_decay=1.2,
        batch_size=256,
        max_epochs=1000,
        patience=15,
        validation_fraction=0.1,
        activation="leaky_capped",
        strand="auto",
        pooling="lse",
        schedule="gradual",
        distill=0.0,
        scanner="auto",
        device="cpu",
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.n_kernels = n_kernels
        self.n_prune_steps = n_prune_steps
        self.criterion = criterion
        self.kernel_size = kernel_size
        self.variant = variant
        self.lr = lr
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.activation = activation
        self.strand = strand
        self.pooling = pooling
        self.schedule = schedule
        self.distill = distill
        self.scanner = scanner
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # -- input -------------------------------------------------------------

    def _validate_X(self, X, y=None, reset=False):
        """Validate input and return it as ``(n, C, L)`` (float32 or uint8)."""
        if _looks_like_strings(X):
            raise TypeError(
                "DeepPruneClassifier takes one-hot arrays of shape (n, 4, L), not DNA strings; "
                "put a SequenceOneHotEncoder in front of it: "
                "make_pipeline(SequenceOneHotEncoder(), DeepPruneClassifier())"
            )
        kwargs = {"allow_nd": True, "dtype": [np.float32, np.uint8], "reset": reset}
        if y is None:
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, **kwargs)
        if X.ndim == 2:
            X = X[:, np.newaxis, :]
        elif X.ndim != 3:
            raise ValueError(
                f"expected one-hot input of shape (n, 4, L) or a 2-d array (n, m); got shape "
                f"{X.shape}"
            )
        if X.shape[2] == 0:
            raise ValueError("input sequences have length 0")
        return X if y is None else (X, y)

    # -- training ------------------------------------------------------------

    def _scanner(self) -> str:
        return default_scanner(self.device) if self.scanner == "auto" else self.scanner

    def _new_module(self, n_kernels: int, in_channels: int) -> MotifScanNet:
        """A freshly initialised network with this estimator's architecture settings."""
        return MotifScanNet(
            n_kernels,
            self.kernel_size,
            in_channels,
            self._scanner(),
            activation=self.activation,
            strand=self._strand(in_channels),
            pooling=self.pooling,
        )

    def _strand(self, in_channels: int) -> str:
        """The strand setting for input with ``in_channels`` channels ("auto" resolved)."""
        if self.strand != "auto":
            return self.strand
        return "both" if in_channels == 4 else "forward"

    def _make_net(self, module: MotifScanNet, lr: float, valid) -> DeepPruneNet:
        # The user's callbacks come first: early stopping ends the last epoch by raising.
        callbacks = []
        for entry in self.callbacks or []:
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
                raise TypeError(f"callbacks must be (name, skorch callback) pairs; got {entry!r}")
            callbacks.append(copy.deepcopy(entry))
        monitor = "valid_loss" if valid is not None else "train_loss"
        callbacks.append(
            (
                "early_stopping",
                EarlyStopping(monitor=monitor, patience=self.patience, load_best=True),
            )
        )
        if self.verbose >= 2:
            callbacks.append(("progress", ProgressBar()))
        return DeepPruneNet(
            module=module,
            criterion=nn.BCEWithLogitsLoss,
            optimizer=torch.optim.Adam,
            # One fused kernel per parameter on CPU: the per-step overhead matters
            # at a few kernels.
            optimizer__fused=True if torch.device(self.device).type == "cpu" else None,
            lr=lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=predefined_split(valid) if valid is not None else None,
            iterator_train=batches,
            iterator_train__shuffle=True,
            iterator_valid=batches,
            callbacks=callbacks,
            device=self.device,
            verbose=int(self.verbose >= 2),
        )

    def _train_stage(self, module, lr, data, valid, train=True, warm_up=False):
        """Train ``module`` on the dataset ``data`` as one stage; return the net and a row.

        ``warm_up`` (a ``pooling="lse"`` stage that starts from initialised
        kernels): train under the maximum until early stopping, then go on
        under the soft maximum.
        """
        start = time.perf_counter()
        pooling = module.pooling
        phases = ["max", pooling] if warm_up and pooling == "lse" else [pooling]
        epochs = 0
        for phase in phases:
            module.pooling = phase
            net = self._make_net(module, lr, valid)
            if train and self.max_epochs > 0:
                # skorch takes any KeyboardInterrupt for "stop this stage" (early
                # stopping raises one); Ctrl-C must stop the whole fit.
                sample = torch.as_tensor(data.dataset.X[data.indices[:64]]).to(self.device)
                with noting_interrupts() as interrupted, _fused_scan_threads(module, sample):
                    net.fit(data, None)
                if interrupted:
                    module.pooling = pooling
                    raise KeyboardInterrupt
            else:
                net.initialize()
            module = net.module_
            epochs += len(net.history)
        key = "valid_loss" if valid is not None else "train_loss"
        losses = net.history[:, key] if len(net.history) else []
        row = {
            "n_kernels": module.n_kernels,
            "lr": lr,
            "fine_tuned": bool(train),
            "epochs": epochs,
            "best_valid_loss": float(min(losses)) if len(losses) else float("nan"),
            "seconds": time.perf_counter() - start,
        }
        return net, row

    def _split(self, y, seed):
        """Indices of the training and the validation part (``None``: no validation)."""
        everything = np.arange(len(y))
        if self.validation_fraction == 0:
            return everything, None
        n_valid = max(int(np.ceil(self.validation_fraction * len(y))), 2)
        if np.bincount(y).min() < 2 or len(y) - n_valid < 2:
            warnings.warn(
                f"{len(y)} samples are too few to hold out validation_fraction="
                f"{self.validation_fraction} with both classes in each part; training on all "
                "of them with early stopping on the training loss",
                UserWarning,
                stacklevel=3,
            )
            return everything, None
        # Indices, not copies: the one-hot data can be most of the memory.
        return train_test_split(everything, test_size=n_valid, stratify=y, random_state=seed)

    @_fit_context(prefer_skip_nested_validation=True)
    @_all_or_nothing
    def fit(self, X, y):
        """Train the wide network and prune it to ``n_kernels`` kernels.

        Parameters
        ----------
        X : array-like of shape (n, C, L) or (n, m)
            One-hot sequences (float32 or uint8), e.g. from
            :class:`SequenceOneHotEncoder`; a 2-d array is a one-channel signal.
        y : array-like of shape (n,)
            Binary labels.

        Returns
        -------
        self : DeepPruneClassifier
            The fitted estimator.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C, in any stage. A fit that raises leaves the estimator as
            it was before (unfitted, or with all of the previous fit).

        Warns
        -----
        UserWarning
            With string labels: the positive class is ``classes_[1]``, the
            later label in sorted order.
        """
        if y is None:
            raise ValueError(
                "DeepPruneClassifier requires y to be passed, but the target y is None"
            )
        _check_device(self.device)
        _check_labels(y)
        X, y = self._validate_X(X, y, reset=True)
        steps = 0 if self.variant == "baseline" else self.n_prune_steps
        _check_network_size(self, X.shape, steps)
        target_type = type_of_target(y, input_name="y")
        if target_type == "multiclass":
            raise ValueError(
                "Only binary classification is supported. DeepPruneClassifier got y with "
                f"{len(np.unique(y))} classes"
            )
        if target_type not in ("binary", "unknown"):
            raise ValueError(f"DeepPruneClassifier needs binary labels; y is {target_type}")
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                f"DeepPruneClassifier needs 2 classes in y; got {len(self.classes_)} class "
                f"({self.classes_.tolist()})"
            )
        if isinstance(self.classes_[1], str):
            warnings.warn(
                f"string labels: the positive class is classes_[1] = {str(self.classes_[1])!r} "
                f"(the later in sorted order), not {str(self.classes_[0])!r}; predict_proba[:, "
                "1], the dense weights' signs and the motifs refer to it. Use 0/1 labels to "
                "choose.",
                UserWarning,
                stacklevel=4,
            )
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train_index, valid_index = self._split(y_index, seed)
        self.strand_ = self._strand(X.shape[1])
        everything = Sequences(X, y_index.astype(np.float32))
        valid = None if valid_index is None else Subset(everything, valid_index)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._fit_stages(X, y_index[train_index], Subset(everything, train_index), valid)
        module = self.net_.module_
        self.kernels_ = module.conv.weight.detach().cpu().numpy().copy()
        self.kernel_bias_ = module.conv.bias.detach().cpu().numpy().copy()
        self.dense_weight_ = _dense_weight(module)
        self.dense_mean_weight_ = _dense_mean_weight(module)
        self.pool_sharpness_ = (
            module.log_sharpness.detach().exp().cpu().numpy().copy()
            if module.pooling == "lse"
            else None
        )
        return self

    def _fit_stages(self, X, y_train, data, valid):
        """The stage loop; ``data``, ``valid``: subsets of ``X``; ``y_train``: data's labels."""
        steps = 0 if self.variant == "baseline" else self.n_prune_steps
        sizes = pruning_schedule(self.n_kernels, steps, self.schedule)
        module = self._new_module(sizes[0], X.shape[1])
        initial = copy.deepcopy(module)
        kernel_ids = np.arange(module.n_kernels)
        self.pruning_history_ = PruningHistory()
        self.stage_states_ = []
        stages = range(len(sizes))
        if self.verbose == 1:
            from tqdm.auto import tqdm

            stages = tqdm(stages, desc="Deepprune stages", unit="stage")
        for step in stages:
            kept = importance = pruned_state = None
            if step > 0:
                module = self.net_.module_
                importance = self._importance(module, X, y_train, data, valid)
                kept = keep_top(importance, sizes[step])
                kernel_ids = kernel_ids[kept]
                if self.variant == "lottery":
                    module = shrink_network(initial, kernel_ids)
                else:
                    module = shrink_network(module, kept)
                pruned_state = _cpu_state(module)
            # lr / lr_decay**i after halving i: the decay follows log2 of the kernels removed.
            halvings = float(np.log2(sizes[0] / sizes[step]))
            lr = self.lr if self.variant == "lottery" else self.lr / self.lr_decay**halvings
            last = step == len(sizes) - 1
            train = not (self.variant == "inter" and last and step > 0)
            fitted_on = data
            if step == 1 and self.distill > 0:
                # The wide network is the teacher of every later stage.
                teacher = _batched(self.net_.module_, X, data.indices)
                data_soft = _distilled(data, teacher, self.distill)
            if step > 0 and self.distill > 0:
                fitted_on = data_soft
            # Trained from initialised kernels (the first stage; every lottery stage,
            # rewound): the soft maximum warms up under the maximum.
            warm_up = step == 0 or self.variant == "lottery"
            self.net_, row = self._train_stage(
                module, lr, fitted_on, valid, train=train, warm_up=warm_up
            )
            row.update(
                stage=step,
                valid_auc=_subset_auc(self.net_.module_, X, valid),
                kept=kept,
                kernel_ids=kernel_ids.copy(),
                importance=importance,
                dense_weight=_dense_weight(self.net_.module_),
            )
            self.pruning_history_.append(row)
            self.stage_states_.append(
                {
                    "n_kernels": module.n_kernels,
                    "pruned": pruned_state,
                    "trained": _cpu_state(self.net_.module_),
                }
            )

    def _importance(self, module, X, y_train, data, valid) -> np.ndarray:
        """The criterion's kernel importance; ablation and refit judge on the validation part."""
        if module.pooling != "max":
            return self._pooled_importance(module, X, y_train, data, valid)
        if self.criterion in ("ablation", "refit"):
            return self._held_out_importance(
                module, _dense_weight(module),
                lambda part: _batched(module.kernel_scores, X, part.indices),
                y_train, data, valid,
            )  # fmt: skip
        scores = _batched(module.kernel_scores, X, data.indices)
        return CRITERIA[self.criterion](_dense_weight(module), scores, y_train)

    def _pooled_importance(self, module, X, y_train, data, valid) -> np.ndarray:
        """:meth:`_importance` where each kernel has several pooled features.

        The criteria see each kernel's contribution to the logit, ``w_k u_k +
        v_k a_k``, as its score with a dense weight of 1 (``"ablation"``,
        ``"refit"``, ``"score_weight"``), its max score ``u_k`` (``"score"``), or the sum
        ``|w_k| + |v_k|`` of its weights' sizes (``"weight"``).
        """
        n_kernels = module.n_kernels
        weights = module.dense.weight.detach().cpu().numpy()[0].reshape(-1, n_kernels)

        def pooled(subset):
            features = _batched(module.features, X, subset.indices)
            return features.reshape(len(features), -1, n_kernels)

        ones = np.ones(n_kernels)
        if self.criterion in ("ablation", "refit"):
            return self._held_out_importance(
                module, ones, lambda part: (pooled(part) * weights).sum(axis=1),
                y_train, data, valid,
            )  # fmt: skip
        if self.criterion == "weight":
            return CRITERIA["weight"](np.abs(weights).sum(axis=0))
        features = pooled(data)
        if self.criterion == "score":
            return CRITERIA["score"](None, features[:, 0], y_train)
        return CRITERIA[self.criterion](ones, (features * weights).sum(axis=1), y_train)

    def _held_out_importance(self, module, weight, scores_of, y_train, data, valid):
        """``"ablation"`` / ``"refit"``: judged on the validation part (else on ``data``).

        ``scores_of(subset)``: the kernels' scores of a subset, with dense
        weights ``weight``; ``"refit"`` also refits the dense layer on ``data``'s.
        """
        part = data if valid is None else valid
        scores = scores_of(part)
        labels = part.dataset.y[part.indices]
        bias = float(module.dense.bias.detach().cpu()[0])
        refit = {}
        if self.criterion == "refit":
            train = scores if part is data else scores_of(data)
            refit = {"train_scores": train, "train_y": y_train}
        return CRITERIA[self.criterion](weight, scores, labels, bias=bias, **refit)

    # -- prediction ----------------------------------------------------------

    def decision_function(self, X):
        """Logit of P(class ``classes_[1]``) for each sequence.

        Parameters
        ----------
        X : array-like of shape (n, C, L) or (n, m)
            Input, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n,)
            The network's output before the sigmoid.
        """
        check_is_fitted(self)
        X = self._validate_X(X)
        return _batched(self.net_.module_, X).astype(np.float64)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n, C, L) or (n, m)
            Input, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n, 2)
            Probability of ``classes_[0]`` and of ``classes_[1]``.
        """
        return _proba(self.decision_function(X))

    def predict(self, X):
        """Predicted class (probability threshold 0.5).

        Parameters
        ----------
        X : array-like of shape (n, C, L) or (n, m)
            Input, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def score(self, X, y, sample_weight=None):
        """ROC AUC of the predictions (the paper's metric), not accuracy.

        Parameters
        ----------
        X : array-like of shape (n, C, L) or (n, m)
            Input, as in :meth:`fit`.
        y : array-like of shape (n,)
            True labels.
        sample_weight : array-like of shape (n,), default=None
            Sample weights.

        Returns
        -------
        float
            Area under the ROC curve.
        """
        return roc_auc_score(
            np.asarray(y) == self.classes_[1],
            self.decision_function(X),
            sample_weight=sample_weight,
        )

    def staged_decision_function(self, X, pruned=False):
        """Decision function of the network after each stage.

        Deepprune passes through every kernel count on its way down, so one
        fit gives a model for each of ``n_kernels * 2**s``.

        Parameters
        ----------
        X : array-like of shape (n, C, L) or (n, m)
            Input, as in :meth:`fit`.
        pruned : bool, default=False
            If True, use each stage's network right after its pruning step and
            before its fine-tuning (Deepprune-inter); stage 0 is skipped.

        Yields
        ------
        n_kernels : int
            Kernel count of the stage.
        scores : ndarray of shape (n,)
            The logits.
        """
        check_is_fitted(self)
        X = self._validate_X(X)
        for state in self.stage_states_:
            weights = state["pruned" if pruned else "trained"]
            if weights is None:
                continue
            module = self._new_module(state["n_kernels"], X.shape[1])
            module.load_state_dict(weights)
            yield state["n_kernels"], _batched(module.to(self.device), X).astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags


def _batched(function, X: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
    """Apply a network method (``module`` or ``module.kernel_scores``) batch by batch.

    Only one batch of ``X`` (or of its rows ``index``) is on the device at a
    time, in eval mode and without gradients.
    """
    module = getattr(function, "__self__", function)
    module.eval()
    device = next(module.parameters()).device
    n = len(X) if index is None else len(index)
    sample = torch.as_tensor(X[:64] if index is None else X[index[:64]]).to(device)
    with torch.no_grad(), _fused_scan_threads(module, sample):
        return np.concatenate(
            [
                function(torch.as_tensor(X[_rows(index, start)]).to(device)).cpu().numpy()
                for start in range(0, n, _INFERENCE_BATCH)
            ]
        )


def _distilled(data: Subset, teacher_logits: np.ndarray, weight: float) -> Subset:
    """``data`` with soft targets: ``(1 - weight) * y + weight * sigmoid(teacher)``.

    The same rows of a new dataset whose other rows (the validation part)
    keep their labels, so early stopping still judges by the labels.
    """
    y = data.dataset.y.copy()
    teacher = 1.0 / (1.0 + np.exp(-teacher_logits.astype(np.float64)))
    rows = data.indices
    y[rows] = ((1.0 - weight) * y[rows] + weight * teacher).astype(y.dtype)
    return Subset(Sequences(data.dataset.X, y), rows)


def _subset_auc(module: MotifScanNet, X: np.ndarray, part: Subset | None) -> float:
    """ROC AUC of the network on a subset of ``X`` (NaN without one, or with one class)."""
    if part is None:
        return float("nan")
    labels = part.dataset.y[part.indices]
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, _batched(module, X, part.indices)))


def _rows(index: np.ndarray | None, start: int):
    stop = start + _INFERENCE_BATCH
    return slice(start, stop) if index is None else index[start:stop]


def _proba(logits: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-logits))
    return np.column_stack([1.0 - p, p])


def _dense_weight(module: MotifScanNet) -> np.ndarray:
    """The dense weight of each kernel's max score ``u_k``, as a new ``(K,)`` array."""
    return module.dense.weight.detach().cpu().numpy()[0, : module.n_kernels].copy()


def _dense_mean_weight(module: MotifScanNet) -> np.ndarray:
    """The dense weight of each kernel's mean activation ``a_k`` (zeros for max pooling)."""
    weight = module.dense.weight.detach().cpu().numpy()[0]
    if module.n_pools == 1:
        return np.zeros(module.n_kernels, dtype=weight.dtype)
    return weight[module.n_kernels :].copy()


def _cpu_state(module: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _check_device(device: str) -> None:
    """Raise a ValueError unless ``device`` names a torch device that is there."""
    try:
        where = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a torch device; use e.g. 'cpu', 'cuda' or 'cuda:1'"
        ) from None
    if where.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"device={device!r}, but CUDA is not available on this machine (torch "
                f"{torch.__version__}); use device='cpu'"
            )
        if where.index is not None and where.index >= count:
            raise ValueError(f"device={device!r}, but this machine has {count} CUDA device(s)")
    elif where.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r}, but MPS is not available on this machine")


def _check_labels(y) -> None:
    """Refuse missing labels and strings mixed with numbers (they cannot be sorted)."""
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.dtype.kind not in "USO":
        return
    if labels.dtype.kind != "O":
        if isinstance(y, np.ndarray):
            return
        # numpy turns ["a", 1] into ["a", "1"]: look at the labels as given.
        labels = np.asarray(y, dtype=object)
    missing = np.fromiter((label is None for label in labels), bool, len(labels))
    if missing.any():
        raise ValueError(
            f"y has {int(missing.sum())} missing labels (None), the first at index "
            f"{int(np.flatnonzero(missing)[0])}"
        )
    strings = np.fromiter((isinstance(label, str) for label in labels), bool, len(labels))
    if strings.any() and not strings.all():
        i, j = int(np.flatnonzero(strings)[0]), int(np.flatnonzero(~strings)[0])
        raise ValueError(
            f"y mixes strings and other labels (y[{i}] = {labels[i]!r}, y[{j}] = "
            f"{labels[j]!r}); give all labels as one type"
        )


# Copies of the wide network's parameters alive during the first stage: the
# weights, their gradients, Adam's two moments, the initial network kept for
# pruning, early stopping's best weights and the stage's saved state.
_PARAMETER_COPIES = 7


def _check_network_size(estimator: DeepPruneClassifier, shape: tuple, steps: int) -> None:
    """Raise a ValueError if the wide network cannot fit in memory, before building it.

    Counts (a lower bound, in float32 or int64) what the first stage holds at
    once: the parameters' copies, and the larger of a training step's arrays
    (both strands' kernels, the scanner's look-up table or its conv output,
    each batch's scores, positions and gradients; a batch is at most the
    data) and the pruning criterion's scores of every kernel.
    """
    from sklearn_deepprune.network import _group_size

    n, channels, length = (int(d) for d in shape)
    width, pools = int(estimator.kernel_size), 2 if estimator.pooling == "max_avg" else 1
    strands = 2 if estimator._strand(channels) == "both" else 1
    # At most 2**100 in the sum: still a lower bound, and no giant integers.
    total = estimator.n_kernels * 2 ** min(steps, 100)
    per_kernel = channels * width + 1
    parts = {"parameters and their copies": _PARAMETER_COPIES * (total * (per_kernel + pools) + 1)}
    step = {}
    if strands == 2:  # the scanned kernels: the forward ones and their reverse complements
        step["both strands' kernels"] = 2 * strands * total * per_kernel
    scanner, batch = estimator._scanner(), min(int(estimator.batch_size), n)
    scanned = strands * total
    if scanner == "conv":
        step["the conv scan's output"] = 2 * batch * scanned * length
    else:
        group = _group_size(channels, width)
        step["the scan's look-up table"] = -(-width // group) * (channels + 1) ** group * scanned
    # scores (float32), their positions (int64), activations and gradients
    step[f"batches of {batch:,} sequences"] = batch * (3 * scanned + 2 * pools * total)
    importance = {}
    if steps > 0:
        valid = int(n * estimator.validation_fraction)
        judged = valid if estimator.criterion == "ablation" and valid else n - valid
        if estimator.criterion == "refit":  # judged on the validation part, refitted on the rest
            judged = n
        importance["the pruning criterion's scores"] = judged * pools * total
    transient = step if sum(step.values()) >= sum(importance.values()) else importance
    parts.update(transient)
    needed = 4 * sum(parts.values())
    limit, what = _memory_size(estimator.device)
    if needed <= limit:
        return
    count = f" = {total:,}" if total < 10**15 else ""
    strand = "both strands" if strands == 2 else "one strand"
    largest = ", ".join(
        f"{name} {_format_bytes(4 * size)}"
        for name, size in sorted(parts.items(), key=lambda item: -item[1])
        if 4 * size >= needed // 20
    )
    advice = ["n_prune_steps", "n_kernels"]
    if parts.get(f"batches of {batch:,} sequences", 0) * 4 >= needed // 4:
        advice.append("batch_size")
    if strands == 2:
        advice.append('strand="forward"')
    raise ValueError(
        f"the wide network of n_kernels * 2**n_prune_steps = {estimator.n_kernels} * "
        f"2**{steps}{count} kernels needs at least {_format_bytes(needed)} of memory "
        f"(kernel_size={width}, {strand}: {largest}), more than {what} "
        f"({_format_bytes(limit)}); lower {', '.join(advice[:-1])} or {advice[-1]}"
    )


def _memory_size(device: str) -> tuple[int, str]:
    """Memory of the device (GPU) or of the machine, with a description."""
    where = torch.device(device)
    if where.type == "cuda":
        index = where.index if where.index is not None else torch.cuda.current_device()
        return torch.cuda.get_device_properties(index).total_memory, f"the memory of {where}"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine's memory"
    except (AttributeError, ValueError, OSError):  # pragma: no cover - no sysconf (Windows)
        return 2**40, "a sane bound"


def _format_bytes(n: int) -> str:
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    exponent = min(max(n.bit_length() - 1, 0) // 10, len(units) - 1)
    return f"{n / 1024**exponent:.3g} {units[exponent]}"


def _looks_like_strings(X) -> bool:
    if isinstance(X, str):
        return True
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "USO" and X.size > 0 and isinstance(X.flat[0], str)
    if isinstance(X, (list, tuple)) and X:
        return isinstance(X[0], str)
    return False
