"""Losses as negative log-likelihoods, the accuracy metric, and L2 penalty.

Each loss is ``-log p(target | output)`` for a distribution ``p`` that the
model's output parametrises, averaged (``reduction="mean"``, the default),
summed (``"sum"``) or kept per item (``"none"``):

- :func:`mse`: Gaussian with fixed variance 1/2 (up to a constant).
- :func:`gaussian_nll`: Gaussian with a predicted variance.
- :func:`cross_entropy`: categorical, from logits (softmax).
- :func:`nll`: categorical, from log-probabilities.
- :func:`binary_cross_entropy`: Bernoulli, from logits (sigmoid).

All are computed in forms that never overflow: a finite input gives a finite
loss and gradient unless the exact value itself exceeds the dtype's range.
Targets and labels may be Tensors or arrays; they are constants (no gradient
flows to them) except in :func:`mse`, :func:`gaussian_nll` and
:func:`binary_cross_entropy`, where a target Tensor that requires a gradient
receives one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from steepest import ops
from steepest.backend import DEFAULT_FLOAT, xp
from steepest.tensor import Array, Tensor, tensor

__all__ = [
    "mse",
    "gaussian_nll",
    "cross_entropy",
    "nll",
    "binary_cross_entropy",
    "accuracy",
    "l2_penalty",
]

_REDUCTIONS = ("mean", "sum", "none")

# -- shared checks ------------------------------------------------------------


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )


def _values(x: Any) -> Array:
    """The array behind a Tensor, or ``x`` as an array."""
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


def _as_input(x: Any) -> Tensor:
    """A model output as a floating Tensor (arrays keep a floating dtype)."""
    if isinstance(x, Tensor):
        return x
    array = xp.asarray(x)
    return tensor(array, dtype=array.dtype if array.dtype.kind == "f" else None)


def _target(target: Any, like: Tensor, name: str, what: str = "target") -> Any:
    """A target of ``like``'s shape, in ``like``'s dtype unless it needs a
    gradient (then the Tensor itself)."""
    if isinstance(target, Tensor) and target.requires_grad:
        t = target
    else:
        t = _values(target)
        if t.dtype != like.dtype:
            t = t.astype(like.dtype)
    if t.shape != like.shape:
        raise ValueError(
            f"{name}: {what} of shape {t.shape} does not match the prediction of "
            f"shape {like.shape}; they must be equal (reshape one of them, e.g. "
            f"to {like.shape})"
        )
    return t


def _check_labels(name: str, labels: Array, batch: int, classes: int) -> None:
    """Integer class labels of shape ``(batch,)`` in ``[0, classes)``.

    NumPy would take -1 as the last class and a float as an error deep inside
    an index; here each mistake is named with the offending value.
    """
    if labels.ndim != 1:
        raise ValueError(
            f"{name}: class labels must have shape ({batch},), got shape {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f":
            fractional = labels[labels != xp.floor(labels)]
            if fractional.size:
                raise ValueError(
                    f"{name}: label {fractional[0]} is not an integer; class "
                    f"labels must be integers in [0, {classes})"
                )
        raise ValueError(
            f"{name}: class labels must be integers in [0, {classes}), got dtype "
            f"{labels.dtype}; convert them with labels.astype(int)"
        )
    if labels.shape[0] != batch:
        raise ValueError(
            f"{name}: {labels.shape[0]} labels for a batch of {batch}; the batch "
            f"sizes must match (labels of shape ({batch},))"
        )
    if batch == 0:
        return
    low, high = labels.min(), labels.max()
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"{name}: label {bad} is outside the valid range [0, {classes}) "
            f"for {classes} classes"
        )


def _check_logits(name: str, logits: Tensor, what: str = "logits") -> None:
    if logits.ndim != 2:
        raise ValueError(
            f"{name}: {what} must have shape (batch, classes), got {logits.shape}"
        )


def _reduce(per_item: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return per_item
    if reduction == "sum" or per_item.size == 0:
        # The mean of nothing is taken as 0, not NaN.
        return ops.sum(per_item)
    return ops.mean(per_item)


# -- regression ---------------------------------------------------------------


def mse(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    r"""Mean squared error: the Gaussian negative log-likelihood with fixed
    variance.

    .. math::

        \ell = (\hat y - y)^2
              = -\log \mathcal N(y; \hat y, \sigma^2 = 1/2)
                - \tfrac12 \log \pi

    With ``reduction="mean"`` the mean is over every element, as in PyTorch
    (Optax's ``squared_error`` is the ``"none"`` form). The gradient is
    ``2 (pred - target)`` per element, divided by the element count for the
    mean. The squares overflow to inf only when an error exceeds the square
    root of the dtype's largest value (about 1.8e19 in float32).

    Args:
        pred: predictions ``y_hat``, any shape.
        target: targets ``y``, the same shape (no broadcasting: a ``(n, 1)``
            against a ``(n,)`` is an error, not an ``(n, n)`` table).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> import steepest as st
        >>> mse(st.tensor([1.0, 2.0]), [0.0, 0.0])
        tensor(2.5, dtype=float32)
    """
    _check_reduction("mse", reduction)
    pred = _as_input(pred)
    d = ops.sub(pred, _target(target, pred, "mse"))
    return _reduce(ops.mul(d, d), reduction)


def gaussian_nll(
    mean: Any,
    var: Any,
    target: Any,
    *,
    eps: float = 1e-6,
    full: bool = False,
    reduction: str = "mean",
) -> Tensor:
    r"""Gaussian negative log-likelihood with a predicted variance.

    .. math::

        \ell = \tfrac12 \Big(\log v + \frac{(y - \mu)^2}{v}\Big)
                \;[+\, \tfrac12 \log 2\pi], \qquad v = \max(\sigma^2, \epsilon)

    the negative log-density of ``N(y; mu, sigma^2)``, as PyTorch's
    ``GaussianNLLLoss``. One departure: PyTorch clamps the variance outside
    the graph, so its gradient passes the clamp as if it were not there; here
    the clamp is differentiated, and a variance below ``eps`` gets no
    gradient.

    Args:
        mean: predicted means ``mu``, any shape.
        var: predicted variances ``sigma^2 >= 0``, of ``mean``'s shape or one
            that broadcasts to it (``(n, 1)`` or ``()`` for one shared
            variance).
        target: targets ``y``, of ``mean``'s shape.
        eps: the smallest variance used, for stability (default 1e-6).
        full: add the constant ``0.5 * log(2 pi)`` (default False).
        reduction: ``"mean"`` over every element (default), ``"sum"`` or
            ``"none"`` (one value per element of ``mean``).

    Raises:
        ValueError: a variance is negative, or a shape does not fit.

    Example:
        >>> import steepest as st
        >>> gaussian_nll(st.tensor([0.0]), st.tensor([1.0]), [2.0])
        tensor(2., dtype=float32)
    """
    _check_reduction("gaussian_nll", reduction)
    if not (math.isfinite(float(eps)) and eps > 0):
        raise ValueError(f"gaussian_nll: eps must be finite and > 0, got eps={eps}")
    mean = _as_input(mean)
    t = _target(target, mean, "gaussian_nll")
    if not (isinstance(var, Tensor) and var.requires_grad):
        var = tensor(_values(var), dtype=mean.dtype)
    v_data = var.data
    try:
        fits = xp.broadcast_shapes(v_data.shape, mean.shape) == mean.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"gaussian_nll: var of shape {v_data.shape} does not fit mean of shape "
            f"{mean.shape}; give it mean's shape or one that broadcasts to it"
        )
    if v_data.size and v_data.min() < 0:
        raise ValueError(
            f"gaussian_nll: variances must be >= 0, got {v_data.min()}; predict "
            "the variance through a positive map such as softplus or exp"
        )

    v = ops.clip(var, low=eps)  # (v >= eps) keeps log(v) and 1/v finite
    d = ops.sub(t, mean)
    per = ops.mul(ops.add(ops.log(v), ops.div(ops.mul(d, d), v)), 0.5)
    if full:
        per = ops.add(per, 0.5 * math.log(2 * math.pi))
    return _reduce(per, reduction)


# -- classification -----------------------------------------------------------


def cross_entropy(
    logits: Any,
    labels: Any,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""Categorical negative log-likelihood of softmax probabilities, from logits.

    .. math::

        \ell = -\log \mathrm{softmax}(z)_y = \log \sum_k e^{z_k} - z_y,
        \qquad
        \ell = -\sum_k t_k \log \mathrm{softmax}(z)_k \text{ (soft labels)}

    computed by the fused :func:`steepest.ops.softmax_cross_entropy` (the
    maximum subtracted first, so any finite logits give a finite loss), whose
    gradient is ``softmax(z) - onehot(y)`` (or ``softmax(z) * sum(t) - t``),
    divided by the batch size for the mean.

    Label smoothing replaces the one-hot target by
    ``(1 - eps) * onehot + eps / classes``, the convention of PyTorch's
    ``label_smoothing`` and Optax's ``smooth_labels``; soft labels are
    smoothed the same way.

    Args:
        logits: shape ``(batch, classes)``, unnormalised log-probabilities.
        labels: integer classes of shape ``(batch,)`` in ``[0, classes)``, or
            probability rows of shape ``(batch, classes)`` (soft labels; not
            checked to sum to one). No gradient flows to the labels.
        reduction: ``"mean"`` over the batch (default), ``"sum"`` or
            ``"none"`` (one value per row).
        label_smoothing: ``eps`` in ``[0, 1]`` (default 0.0).

    Raises:
        ValueError: a label is outside ``[0, classes)`` (-1 included), not an
            integer, or the batch sizes differ.

    Example:
        >>> import steepest as st
        >>> cross_entropy(st.tensor([[1e8, 1e8]]), [1])
        tensor(0.6931472, dtype=float32)
        >>> cross_entropy(st.tensor([[1000.0, 0.0]]), [1])
        tensor(1000., dtype=float32)
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"cross_entropy: label_smoothing must be in [0, 1], got "
            f"label_smoothing={label_smoothing}"
        )
    logits = _as_input(logits)
    _check_logits("cross_entropy", logits)
    batch, classes = logits.shape
    t = _values(labels)
    soft = t.ndim == 2
    if soft:
        if t.shape != logits.shape:
            raise ValueError(
                f"cross_entropy: soft labels of shape {t.shape} do not match "
                f"logits of shape {logits.shape}; they must be equal"
            )
        t = t.astype(logits.dtype, copy=False)
    else:
        _check_labels("cross_entropy", t, batch, classes)
    if label_smoothing:
        if not soft:
            t = _one_hot(t, classes, logits.dtype)
        t = t * (1 - label_smoothing) + label_smoothing / classes
    return ops.softmax_cross_entropy(logits, t, reduction, validate=False)


def _one_hot(labels: Array, classes: int, dtype: Any) -> Array:
    out = xp.zeros((labels.shape[0], classes), dtype=dtype)
    out[xp.arange(labels.shape[0]), labels] = 1
    return out


def nll(log_probs: Any, labels: Any, reduction: str = "mean") -> Tensor:
    r"""Categorical negative log-likelihood from log-probabilities.

    .. math:: \ell = -\log p_y

    ``nll(log_softmax(z), y)`` equals ``cross_entropy(z, y)``; prefer the
    latter when the model outputs logits (one fused op instead of two).

    Args:
        log_probs: shape ``(batch, classes)``, the log-probabilities.
        labels: integer classes of shape ``(batch,)`` in ``[0, classes)``.
        reduction: ``"mean"`` over the batch (default), ``"sum"`` or
            ``"none"``.

    Raises:
        ValueError: a label is outside ``[0, classes)`` (-1 included), not an
            integer, or the batch sizes differ.

    Example:
        >>> import numpy as np
        >>> import steepest as st
        >>> nll(st.tensor(np.log([[0.25, 0.75]])), [1])
        tensor(0.2876821, dtype=float32)
    """
    _check_reduction("nll", reduction)
    log_probs = _as_input(log_probs)
    _check_logits("nll", log_probs, "log_probs")
    batch, classes = log_probs.shape
    t = _values(labels)
    _check_labels("nll", t, batch, classes)
    picked = ops.getitem(log_probs, (xp.arange(batch), t))  # (batch,)
    return _reduce(ops.neg(picked), reduction)


def binary_cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    r"""Bernoulli negative log-likelihood of ``sigmoid(logits)``, from logits.

    .. math::

        \ell = -t \log \sigma(x) - (1 - t) \log(1 - \sigma(x))
              = \mathrm{softplus}(x) - t x

    The right-hand form never overflows and never takes the log of an
    underflowed probability; its gradient is ``sigmoid(x) - t``, which stays
    near -1 for a confident wrong answer (``x = -50``, ``t = 1``) instead of
    vanishing. As PyTorch's ``BCEWithLogitsLoss`` and Optax's
    ``sigmoid_binary_cross_entropy``.

    Args:
        logits: ``x``, any shape.
        targets: ``t``, the same shape, probabilities in ``[0, 1]`` (usually
            0 or 1; not checked).
        reduction: ``"mean"`` over every element (default), ``"sum"`` or
            ``"none"``.

    Example:
        >>> import steepest as st
        >>> binary_cross_entropy(st.tensor([0.0, 1000.0]), [1, 1], "none")
        tensor([0.6931472, 0.       ], dtype=float32)
    """
    _check_reduction("binary_cross_entropy", reduction)
    x = _as_input(logits)
    t = _target(targets, x, "binary_cross_entropy", "targets")
    return _reduce(ops.sub(ops.softplus(x), ops.mul(t, x)), reduction)


# -- metrics --------------------------------------------------------------------


def accuracy(logits: Any, labels: Any) -> float:
    """The fraction of rows whose largest logit is at the label.

    Args:
        logits: shape ``(batch, classes)``; or ``(batch,)`` for a binary
            classifier, whose prediction is class 1 where the logit is > 0.
            Probabilities work as well as logits.
        labels: integer classes of shape ``(batch,)``, or rows of shape
            ``(batch, classes)`` (one-hot or soft; their argmax is the class).

    Raises:
        ValueError: the batch is empty, or labels are not valid classes.

    Example:
        >>> accuracy([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]], [0, 1, 1])
        0.6666666666666666
    """
    z = _values(logits)
    t = _values(labels)
    if z.ndim == 1:
        pred, classes = (z > 0).astype(xp.int64), 2
    elif z.ndim == 2:
        pred, classes = z.argmax(axis=1), z.shape[1]
    else:
        raise ValueError(
            f"accuracy: logits must have shape (batch, classes) or (batch,), got "
            f"{z.shape}"
        )
    if t.ndim == 2 and z.ndim == 2:
        if t.shape != z.shape:
            raise ValueError(
                f"accuracy: label rows of shape {t.shape} do not match logits of "
                f"shape {z.shape}"
            )
        t = t.argmax(axis=1)
    else:
        _check_labels("accuracy", t, z.shape[0], classes)
    if z.shape[0] == 0:
        raise ValueError("accuracy: the batch is empty, so accuracy is undefined")
    return float((pred == t).mean())


# -- regularisation ---------------------------------------------------------------


def _is_bias(name: str | None, p: Tensor) -> bool:
    if name is not None:
        return name == "bias" or name.endswith(".bias")
    return p.ndim <= 1


def l2_penalty(params: Any, weight: float, include_bias: bool = False) -> Tensor:
    r"""L2 penalty ``weight * sum(w**2)`` over the chosen parameters.

    .. math::

        R(\theta) = \lambda \sum_{w} \sum_i w_i^2, \qquad
        \frac{\partial R}{\partial w} = 2 \lambda w

    Added to a loss, it is the negative log-density of a Gaussian prior
    ``N(0, 1 / (2 lambda))`` on each entry (up to a constant): MAP estimation.

    By default only weight matrices are penalised, not biases (nor any other
    vector): a bias shifts a unit's output and does not make the fit sharper.
    A parameter counts as a bias when its name is ``"bias"`` or ends in
    ``".bias"`` (for a Module or ``(name, tensor)`` pairs), or, for bare
    tensors, when it has at most one axis.

    Relation to the optimizers: ``weight_decay=wd`` in SGD-style optimizers
    adds ``wd * w`` to the gradient, which is this penalty with
    ``weight = wd / 2`` (L2 in the gradient); for adaptive methods (Adam) that
    term is then rescaled per coordinate like the rest of the gradient.
    Decoupled weight decay (AdamW) instead shrinks the weights directly,
    ``w <- w - lr * wd * w``, outside the adaptive scaling, and equals no L2
    penalty there. Use one of the three, not several at once.

    Args:
        params: a Module (its ``named_parameters()``), a list of
            ``(name, tensor)`` pairs, or a list of tensors.
        weight: ``lambda``, finite and >= 0.
        include_bias: penalise biases too (default False).

    Example:
        >>> import steepest as st
        >>> w = st.tensor([[1.0, 2.0]], requires_grad=True)
        >>> b = st.tensor([3.0], requires_grad=True)
        >>> l2_penalty([w, b], 0.5)
        tensor(2.5, dtype=float32, requires_grad=True)
    """
    if not (math.isfinite(float(weight)) and weight >= 0):
        raise ValueError(f"l2_penalty: weight must be finite and >= 0, got {weight}")
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    named: list[tuple[str | None, Tensor]] = []
    for item in params if isinstance(params, Iterable) else [params]:
        name, p = item if isinstance(item, tuple) else (None, item)
        if not isinstance(p, Tensor):
            raise TypeError(
                f"l2_penalty: params must be Tensors or (name, Tensor) pairs, got "
                f"{type(p).__name__}"
            )
        named.append((name, p))

    total = None
    for name, p in named:
        if include_bias or not _is_bias(name, p):
            square = ops.sum(ops.mul(p, p))
            total = square if total is None else ops.add(total, square)
    if total is None:
        return tensor(0.0, dtype=DEFAULT_FLOAT)
    return ops.mul(total, float(weight))
