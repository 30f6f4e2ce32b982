"""The losses, accuracy and l2_penalty: values and gradients against JAX and
Optax, the numerical edge cases, and a table of bad inputs.

Tolerances: float64 against JAX/Optax to 1e-10 relative (1e-13 absolute for
entries near zero); float32 edge cases to float32 precision.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

import steepest as st
from steepest import losses
from steepest.nn import MLP

try:
    import jax
    import optax
except ImportError:  # the JAX comparisons are skipped, the rest still run
    jax = optax = None
else:
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

needs_jax = pytest.mark.skipif(jax is None, reason="jax and optax are not installed")

RTOL, ATOL = 1e-10, 1e-13
# Few distinct shapes: JAX compiles each primitive once per shape.
SHAPES = [(1, 2), (5, 3), (16, 10)]


def _compare(ours, theirs, arrays, grad_of, rng):
    """Compare ``ours(reduction, *tensors)`` with the per-item ``theirs(*jax
    arrays)`` at ``arrays`` for every reduction: values, and vector-Jacobian
    products with respect to the inputs at the positions ``grad_of``."""

    def partial(*d):
        return theirs(
            *[d[grad_of.index(i)] if i in grad_of else a for i, a in enumerate(arrays)]
        )

    @jax.jit
    def value_and_vjp(primals, cotangent):
        # One compiled function per case: cheaper than JAX's eager dispatch,
        # which compiles each primitive anew for every shape.
        per_item, vjp = jax.vjp(partial, *primals)
        return per_item, vjp(cotangent)

    primals = [arrays[i] for i in grad_of]
    shape = jax.eval_shape(partial, *primals).shape
    cotangents = {
        "none": rng.normal(size=shape),
        "sum": np.ones(shape),
        "mean": np.full(shape, 1 / np.prod(shape)),
    }
    for reduction, c in cotangents.items():
        per_item, expected_grads = value_and_vjp(primals, c)
        per_item = np.asarray(per_item)
        expected = {"none": per_item, "sum": per_item.sum(), "mean": per_item.mean()}
        inputs = [
            st.tensor(a, requires_grad=i in grad_of, dtype=a.dtype)
            for i, a in enumerate(arrays)
        ]
        out = ours(reduction, *inputs)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out.data, expected[reduction], rtol=RTOL, atol=ATOL)
        out.backward(c if reduction == "none" else np.ones(()))
        for i, g in zip(grad_of, expected_grads, strict=True):
            np.testing.assert_allclose(
                inputs[i].grad, np.asarray(g), rtol=RTOL, atol=ATOL
            )


# -- against JAX / Optax, float64 ---------------------------------------------


@needs_jax
@pytest.mark.parametrize("shape", SHAPES + [(3,), (2, 3, 4)])
def test_mse_matches_optax(shape):
    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    pred, target = rng.normal(size=shape), rng.normal(size=shape)
    _compare(
        lambda r, p, t: losses.mse(p, t, r),
        optax.losses.squared_error,
        [pred, target],
        grad_of=[0, 1],
        rng=rng,
    )


def _jax_gaussian_nll(mean, var, target, eps, full):
    v = jnp.maximum(var, eps)
    per = 0.5 * (jnp.log(v) + (target - mean) ** 2 / v)
    per = jnp.broadcast_to(per, mean.shape)
    return per + 0.5 * jnp.log(2 * jnp.pi) if full else per


@needs_jax
@pytest.mark.parametrize(
    "shape, shared_var, full",
    [
        (SHAPES[0], False, False),
        (SHAPES[1], True, True),
        (SHAPES[2], False, True),
        (SHAPES[2], True, False),
    ],
)
def test_gaussian_nll_matches_jax(shape, shared_var, full):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    mean, target = rng.normal(size=shape), rng.normal(size=shape)
    var_shape = (shape[0], 1) if shared_var else shape
    var = rng.uniform(0.05, 3.0, size=var_shape)
    _compare(
        lambda r, m, v, t: losses.gaussian_nll(m, v, t, full=full, reduction=r),
        lambda m, v, t: _jax_gaussian_nll(m, v, t, 1e-6, full),
        [mean, var, target],
        grad_of=[0, 1, 2],
        rng=rng,
    )


@needs_jax
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_integer_labels_matches_optax(shape, smoothing):
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    batch, classes = shape
    logits = rng.normal(scale=3.0, size=shape)
    labels = rng.integers(0, classes, size=batch)
    onehot = np.eye(classes)[labels]

    def theirs(z):
        # One-hot rows rather than optax's integer-label variant: the same
        # maths, without an eager gather that JAX compiles for every shape.
        t = optax.smooth_labels(onehot, smoothing)
        return optax.losses.softmax_cross_entropy(z, t)

    _compare(
        lambda r, z: losses.cross_entropy(z, labels, r, smoothing),
        theirs,
        [logits],
        grad_of=[0],
        rng=rng,
    )


@needs_jax
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_soft_labels_matches_optax(shape, smoothing):
    rng = np.random.default_rng(shape[0] * 17 + shape[1])
    logits = rng.normal(scale=3.0, size=shape)
    soft = rng.dirichlet(np.ones(shape[1]), size=shape[0])
    _compare(
        lambda r, z: losses.cross_entropy(z, soft, r, label_smoothing=smoothing),
        lambda z: optax.losses.softmax_cross_entropy(
            z, optax.smooth_labels(soft, smoothing)
        ),
        [logits],
        grad_of=[0],
        rng=rng,
    )


@needs_jax
@pytest.mark.parametrize("shape", SHAPES)
def test_nll_matches_jax(shape):
    rng = np.random.default_rng(shape[0] * 13 + shape[1])
    batch, classes = shape
    log_probs = np.log(rng.dirichlet(np.ones(classes), size=batch))
    labels = rng.integers(0, classes, size=batch)
    _compare(
        lambda r, lp: losses.nll(lp, labels, r),
        lambda lp: -(lp * np.eye(classes)[labels]).sum(axis=1),
        [log_probs],
        grad_of=[0],
        rng=rng,
    )


@needs_jax
@pytest.mark.parametrize(
    "shape, hard",
    [
        (SHAPES[0], True),
        (SHAPES[1], False),
        (SHAPES[2], True),
        ((6,), False),
        ((2, 3, 4), True),
        ((2, 3, 4), False),
    ],
)
def test_binary_cross_entropy_matches_optax(shape, hard):
    rng = np.random.default_rng(len(shape) * 50 + shape[0])
    logits = rng.normal(scale=4.0, size=shape)
    targets = rng.integers(0, 2, size=shape) * 1.0 if hard else rng.uniform(size=shape)
    _compare(
        lambda r, x, t: losses.binary_cross_entropy(x, t, r),
        optax.losses.sigmoid_binary_cross_entropy,
        [logits, targets],
        grad_of=[0, 1],
        rng=rng,
    )


@needs_jax
@pytest.mark.parametrize("include_bias", [False, True])
def test_l2_penalty_matches_jax(include_bias):
    rng = np.random.default_rng(3)
    w1, b1, w2 = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4))
    params = [("0.weight", w1), ("0.bias", b1), ("2.weight", w2)]
    tensors = [(n, st.tensor(a, requires_grad=True, dtype=a.dtype)) for n, a in params]
    out = losses.l2_penalty(tensors, 0.3, include_bias=include_bias)

    def theirs(w1, b1, w2):
        total = (w1**2).sum() + (w2**2).sum()
        return 0.3 * (total + (b1**2).sum() if include_bias else total)

    expected, grads = jax.jit(jax.value_and_grad(theirs, argnums=(0, 1, 2)))(w1, b1, w2)
    np.testing.assert_allclose(out.data, expected, rtol=RTOL)
    out.backward()
    for (_, t), g in zip(tensors, grads, strict=True):
        ours = np.zeros_like(t.data) if t.grad is None else t.grad
        np.testing.assert_allclose(ours, g, rtol=RTOL, atol=ATOL)


# -- numerics -----------------------------------------------------------------


@pytest.fixture
def strict_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_cross_entropy_equal_huge_logits(strict_warnings):
    out = losses.cross_entropy(st.tensor([[1e8, 1e8]]), np.array([1]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.item(), 0.693147, rtol=1e-6)


def test_cross_entropy_confident_wrong_answer(strict_warnings):
    out = losses.cross_entropy(st.tensor([[1000.0, 0.0]]), np.array([1]))
    assert out.item() == 1000.0


def test_sigmoid_saturates_without_warning(strict_warnings):
    out = st.sigmoid(st.tensor([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(out.data, [0.0, 0.5, 1.0])


def test_bce_gradient_does_not_vanish(strict_warnings):
    x = st.tensor(np.full(8, -50.0), requires_grad=True)
    losses.binary_cross_entropy(x, np.ones(8)).backward()
    np.testing.assert_allclose(x.grad, np.full(8, -0.125), rtol=1e-6)


def test_bce_extremes_are_exact(strict_warnings):
    x = st.tensor([-1000.0, 1000.0, -1000.0, 1000.0])
    out = losses.binary_cross_entropy(x, [0.0, 1.0, 1.0, 0.0], reduction="none")
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 1000.0, 1000.0])


def test_gaussian_nll_zero_variance_is_clamped(strict_warnings):
    m = st.tensor([0.0, 1.0], requires_grad=True)
    v = st.tensor([0.0, 0.0], requires_grad=True)
    out = losses.gaussian_nll(m, v, [0.0, 1.001], eps=1e-3)
    out.backward()
    assert np.isfinite(out.item())
    np.testing.assert_array_equal(v.grad, [0.0, 0.0])  # below eps: clamped
    assert np.all(np.isfinite(m.grad))


finite32 = st_.floats(-(2.0**100), 2.0**100, width=32)


@settings(max_examples=40, deadline=None)
@given(
    st_.lists(st_.lists(finite32, min_size=3, max_size=3), min_size=1, max_size=4),
    st_.data(),
)
def test_classification_losses_stay_finite(rows, data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = np.array(rows, dtype=np.float32)
        labels = np.array(
            data.draw(
                st_.lists(st_.integers(0, 2), min_size=len(rows), max_size=len(rows))
            )
        )
        soft = np.full(z.shape, 1 / 3, dtype=np.float32)
        results = []
        for make in (
            lambda x: losses.cross_entropy(x, labels),
            lambda x: losses.cross_entropy(x, labels, label_smoothing=0.1),
            lambda x: losses.cross_entropy(x, soft, reduction="sum"),
            lambda x: losses.nll(st.log_softmax(x), labels),
            lambda x: losses.binary_cross_entropy(x, (z > 0) * 1.0),
            lambda x: losses.binary_cross_entropy(x, 1.0 - (z > 0)),
        ):
            x = st.tensor(z, requires_grad=True)
            out = make(x)
            out.backward()
            results += [out.data, x.grad]
        for r in results:
            assert np.all(np.isfinite(r))


@settings(max_examples=40, deadline=None)
@given(
    st_.lists(st_.floats(-1e6, 1e6, width=32), min_size=1, max_size=6),
    st_.floats(0.0, 1e10, width=32),
)
def test_regression_losses_stay_finite(values, variance):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = np.array(values, dtype=np.float32)
        pred = st.tensor(y[::-1].copy(), requires_grad=True)
        var = st.tensor(np.full(y.shape, variance), requires_grad=True)
        for out in (losses.mse(pred, y), losses.gaussian_nll(pred, var, y)):
            out.backward()
            assert np.isfinite(out.item())
        assert np.all(np.isfinite(pred.grad)) and np.all(np.isfinite(var.grad))


# -- semantics ----------------------------------------------------------------


def test_reductions_agree():
    rng = np.random.default_rng(0)
    z = st.tensor(rng.normal(size=(6, 4)))
    y = rng.integers(0, 4, size=6)
    t = rng.normal(size=(6, 4)).astype(np.float32)
    for loss, target in [
        (losses.cross_entropy, y),
        (losses.nll, y),
        (losses.mse, t),
        (losses.binary_cross_entropy, (t > 0) * 1.0),
    ]:
        per = loss(z, target, reduction="none")
        total = loss(z, target, reduction="sum")
        mean = loss(z, target)
        np.testing.assert_allclose(total.item(), per.data.sum(), rtol=1e-5)
        np.testing.assert_allclose(mean.item(), per.data.mean(), rtol=1e-5)
        assert mean.dtype == np.float32


def test_cross_entropy_is_nll_of_log_softmax():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(5, 3))
    y = rng.integers(0, 3, size=5)
    a = losses.cross_entropy(st.tensor(z, dtype="float64"), y)
    b = losses.nll(st.log_softmax(st.tensor(z, dtype="float64")), y)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


def test_label_smoothing_on_integer_labels_equals_smoothed_one_hot():
    rng = np.random.default_rng(2)
    z = st.tensor(rng.normal(size=(4, 5)), dtype="float64")
    y = rng.integers(0, 5, size=4)
    smoothed = np.eye(5)[y] * 0.7 + 0.3 / 5
    a = losses.cross_entropy(z, y, label_smoothing=0.3)
    b = losses.cross_entropy(z, smoothed)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


def test_targets_may_be_tensors_arrays_or_lists():
    pred = st.tensor([[1.0], [2.0]])
    for target in ([[0.0], [0.0]], np.zeros((2, 1)), st.tensor(np.zeros((2, 1)))):
        assert losses.mse(pred, target).item() == 2.5
    y = st.tensor([0, 1])
    assert losses.cross_entropy(st.tensor([[9.0, 0.0], [0.0, 9.0]]), y).item() < 1e-3
    # a variance given as an array, a list or a constant Tensor
    mean = st.tensor([0.0, 1.0])
    for var in (np.ones(2), [1.0, 1.0], st.tensor([1.0, 1.0], dtype="float64"), 1.0):
        out = losses.gaussian_nll(mean, var, [0.0, 3.0])
        assert out.dtype == np.float32 and out.item() == 1.0
    # integer targets of a binary loss follow the logits' dtype
    out = losses.binary_cross_entropy(st.tensor([0.0, 0.0]), np.array([0, 1]))
    assert out.dtype == np.float32


def test_target_tensor_that_requires_grad_receives_one():
    pred = st.tensor([1.0, 2.0], requires_grad=True)
    target = st.tensor([0.0, 0.0], requires_grad=True)
    losses.mse(pred, target, reduction="sum").backward()
    np.testing.assert_allclose(target.grad, [-2.0, -4.0])


def test_empty_batch_mean_is_zero_not_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = losses.nll(st.tensor(np.zeros((0, 3))), np.zeros(0, dtype=int))
        assert out.item() == 0.0
        assert losses.mse(st.tensor(np.zeros(0)), np.zeros(0)).item() == 0.0


# -- accuracy -----------------------------------------------------------------


def test_accuracy():
    z = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    assert losses.accuracy(z, y) == 0.75
    assert losses.accuracy(st.tensor(z), st.tensor(y)) == 0.75
    assert losses.accuracy(z, np.eye(3)[y]) == 0.75
    assert losses.accuracy(np.array([-1.0, 2.0, 0.5]), np.array([0, 1, 0])) == 2 / 3
    assert isinstance(losses.accuracy(z, y), float)


# -- l2_penalty ---------------------------------------------------------------


def test_l2_penalty_skips_biases_of_a_module_by_default():
    model = MLP([3, 4, 2], rng=0)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    expected = 0.1 * sum(float((p.data.astype(np.float64) ** 2).sum()) for p in weights)
    np.testing.assert_allclose(losses.l2_penalty(model, 0.1).item(), expected, 1e-6)
    with_bias = losses.l2_penalty(model, 0.1, include_bias=True)
    for p in model.parameters():
        p.data[...] = 1.0
    assert losses.l2_penalty(model, 0.1, include_bias=True).item() == pytest.approx(
        0.1 * model.num_parameters()
    )
    assert with_bias.item() == pytest.approx(expected)  # biases start at zero


def test_l2_penalty_gradient_is_two_weight_w():
    w = st.tensor([[1.0, -2.0]], requires_grad=True)
    b = st.tensor([3.0], requires_grad=True)
    out = losses.l2_penalty([w, b], 0.25)
    out.backward()
    np.testing.assert_allclose(w.grad, 2 * 0.25 * w.data)
    assert b.grad is None  # a 1-D tensor counts as a bias
    assert out.item() == pytest.approx(0.25 * 5)


def test_l2_penalty_of_nothing_is_zero():
    assert losses.l2_penalty([st.tensor([1.0], requires_grad=True)], 1.0).item() == 0


def test_l2_penalty_accepts_numpy_weight_and_a_single_tensor():
    w = st.tensor([[2.0]], requires_grad=True)
    assert losses.l2_penalty(w, np.float32(0.5)).item() == 2.0


# -- bad inputs ---------------------------------------------------------------

Z = st.tensor(np.zeros((2, 3)))

BAD = [
    (lambda: losses.cross_entropy(Z, np.array([0, -1])), ["-1", "[0, 3)"]),
    (lambda: losses.cross_entropy(Z, np.array([3, 0])), ["label 3", "[0, 3)"]),
    (lambda: losses.cross_entropy(Z, np.array([0.5, 1.0])), ["0.5", "[0, 3)"]),
    (lambda: losses.cross_entropy(Z, np.array([0.0, 1.0])), ["float64", "[0, 3)"]),
    (lambda: losses.cross_entropy(Z, np.array([0, 1, 2])), ["3 labels", "batch of 2"]),
    (lambda: losses.cross_entropy(Z, np.zeros((2, 4))), ["(2, 4)", "(2, 3)"]),
    (lambda: losses.cross_entropy(np.zeros(3), [0]), ["(batch, classes)", "(3,)"]),
    (lambda: losses.cross_entropy(Z, [0, 1], "avg"), ["reduction", "'avg'"]),
    (lambda: losses.cross_entropy(Z, [0, 1], label_smoothing=1.5), ["1.5"]),
    (lambda: losses.nll(Z, np.array([0, 7])), ["label 7", "[0, 3)"]),
    (lambda: losses.nll(Z, np.array([-1, 0])), ["-1", "[0, 3)"]),
    (lambda: losses.nll(Z, np.array([0])), ["1 labels", "batch of 2"]),
    (lambda: losses.accuracy(Z, np.array([0, 3])), ["label 3", "[0, 3)"]),
    (lambda: losses.accuracy(np.zeros((0, 3)), np.zeros(0, int)), ["empty"]),
    (lambda: losses.mse(np.zeros((4, 1)), np.zeros(4)), ["(4,)", "(4, 1)"]),
    (lambda: losses.mse(np.zeros(4), np.zeros(5)), ["(5,)", "(4,)"]),
    (
        lambda: losses.binary_cross_entropy(np.zeros(3), np.zeros(2)),
        ["(2,)", "(3,)"],
    ),
    (
        lambda: losses.gaussian_nll(np.zeros(2), np.array([1.0, -0.5]), np.zeros(2)),
        ["-0.5", ">= 0"],
    ),
    (
        lambda: losses.gaussian_nll(np.zeros(2), np.ones(3), np.zeros(2)),
        ["(3,)", "(2,)"],
    ),
    (
        lambda: losses.gaussian_nll(np.zeros(2), np.ones(2), np.zeros(2), eps=0.0),
        ["eps"],
    ),
    (lambda: losses.l2_penalty([], -1.0), ["-1.0"]),
]


@pytest.mark.parametrize("call, fragments", BAD)
def test_bad_input_raises_value_error_naming_the_value(call, fragments):
    with pytest.raises(ValueError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value)


def test_l2_penalty_rejects_non_tensors():
    with pytest.raises(TypeError, match="Tensors"):
        losses.l2_penalty([np.zeros(3)], 1.0)
