"""The Tensor and backward: conventions, past failures of other engines, errors.

Each expected value is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

import steepest as st


def test_broadcast_add_reduces_gradient_to_operand_shape():
    # d sum(a + b) / db sums the (3, 4) ones over the broadcast axis: 3 each.
    a = st.tensor(np.ones((3, 4)), requires_grad=True)
    b = st.tensor(np.ones((1, 4)), requires_grad=True)
    (a + b).sum().backward()
    np.testing.assert_array_equal(b.grad, [[3, 3, 3, 3]])
    np.testing.assert_array_equal(a.grad, np.ones((3, 4)))


def test_weights_times_row_sums():
    # sum_i w_i sum_j X_ij: dX_ij = w_i, so rows of 1s, 2s and 3s.
    w = st.tensor([1.0, 2.0, 3.0], requires_grad=True)
    X = st.tensor(np.arange(15.0).reshape(3, 5), requires_grad=True)
    (w * X.sum(axis=1)).sum().backward()
    np.testing.assert_array_equal(X.grad, np.repeat([[1.0], [2.0], [3.0]], 5, axis=1))
    np.testing.assert_array_equal(w.grad, X.data.sum(axis=1))


def test_repeated_integer_index_accumulates():
    # x[[0, 0, 2]] picks x0 twice and x2 once.
    x = st.tensor([5.0, 6.0, 7.0], requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 0, 1])


def test_gradient_of_summed_softmax_is_zero():
    # sum(softmax(x)) = 1 for every x.
    x = st.tensor([0.3, -1.2, 2.5, 0.0], requires_grad=True, dtype="float64")
    st.softmax(x).sum().backward()
    np.testing.assert_allclose(x.grad, 0, atol=1e-15)


def test_log_softmax_gradient_with_upstream_ones():
    # g - softmax(x) * sum(g) = 1 - 2 softmax(x); softmax([.1, .9]) =
    # [0.3100255, 0.6899745], so [0.379949, -0.379949].
    x = st.tensor([0.1, 0.9], requires_grad=True, dtype="float64")
    st.log_softmax(x).backward(np.ones(2))
    np.testing.assert_allclose(x.grad, [0.379949, -0.379949], atol=1e-6)


def test_reused_tensor_accumulates_all_paths():
    # f = x*x + 3x at x = 2: f' = 2x + 3 = 7.
    x = st.tensor(2.0, requires_grad=True, dtype="float64")
    (x * x + 3 * x).backward()
    assert x.grad == pytest.approx(7.0)


def test_diamond_graph_visits_each_node_once():
    # y = exp(x); z = y*y + y: dz/dx = (2y + 1) y at x = 0.5.
    x = st.tensor(0.5, requires_grad=True, dtype="float64")
    y = x.exp()
    (y * y + y).backward()
    e = np.exp(0.5)
    assert x.grad == pytest.approx((2 * e + 1) * e, rel=1e-12)


def test_long_chain_does_not_recurse():
    # 100,000 multiplications by 1.0001 in float64: d/dx = 1.0001**100000.
    x = st.tensor(1.0, requires_grad=True, dtype="float64")
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**100_000, rel=1e-9)


def test_backward_accumulates_across_calls_and_keeps_buffer():
    x = st.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    buffer = x.grad
    (x * 3).sum().backward()
    assert x.grad is buffer
    np.testing.assert_array_equal(x.grad, [6, 6])


def test_shared_gradients_are_not_aliased():
    # add hands the same array to both operands; later accumulation into one
    # leaf must not change the other.
    a = st.tensor([1.0, 2.0], requires_grad=True)
    b = st.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    (a * 5).sum().backward()
    np.testing.assert_array_equal(a.grad, [6, 6])
    np.testing.assert_array_equal(b.grad, [1, 1])


def test_graph_is_freed_unless_retained():
    x = st.tensor(3.0, requires_grad=True, dtype="float64")
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == pytest.approx(12.0)  # 6 + 6
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_records_nothing_as_context_and_decorator():
    w = st.tensor([1.0, 2.0], requires_grad=True)
    with st.no_grad():
        y = w * 2
    assert not y.requires_grad and y.is_leaf
    assert st.is_grad_enabled()

    @st.no_grad()
    def double(t):
        return t * 2

    assert not double(w).requires_grad
    assert (w * 2).requires_grad


def test_non_scalar_backward_without_gradient_is_an_error():
    x = st.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar output, got shape \(2,\)"):
        (x * 2).backward()


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        st.tensor([1.0]).sum().backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        st.tensor([1, 2, 3], requires_grad=True)


def test_default_dtype_is_float32_and_float64_is_kept_on_request():
    assert st.tensor([1.0, 2.0]).dtype == np.float32
    assert st.tensor(np.zeros(3)).dtype == np.float32
    assert st.tensor([1, 2]).dtype.kind == "i"
    assert st.tensor([1.0], dtype="float64").dtype == np.float64


def test_float32_stays_float32_through_ops_and_gradients():
    x = st.tensor(np.ones((4, 3)), requires_grad=True)
    w = st.tensor(np.ones((2, 3)), requires_grad=True)
    y = st.linear(x, w, st.tensor(np.zeros(2), requires_grad=True))
    loss = (st.tanh(y) * 2.5 + np.ones((4, 2))).mean()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_numpy_array_on_the_left_gives_a_tensor():
    out = np.ones(3) + st.tensor([1.0, 2.0, 3.0])
    assert isinstance(out, st.Tensor)
    np.testing.assert_array_equal(out.data, [2, 3, 4])
    assert isinstance(np.ones((2, 2)) @ st.tensor(np.eye(2)), st.Tensor)


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(ValueError) as err:
        st.tensor(np.ones((32, 784))) @ st.tensor(np.ones((100, 10)))
    assert str(err.value) == (
        "matmul: shapes (32, 784) and (100, 10) do not align: 784 != 100"
    )


def test_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(5,\)"):
        st.tensor(np.ones((3, 4))) + st.tensor(np.ones(5))


def test_relu_gradient_at_zero_is_zero():
    x = st.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    st.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 1])


def test_max_splits_gradient_between_ties():
    x = st.tensor([3.0, 1.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0, 0.5])


def test_maximum_tie_gives_half_to_each_side():
    a = st.tensor([1.0, 2.0], requires_grad=True)
    b = st.tensor([1.0, 0.0], requires_grad=True)
    st.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1])
    np.testing.assert_array_equal(b.grad, [0.5, 0])


@pytest.mark.parametrize("scale", [1.0, 1e4, -1e4])
def test_stable_functions_at_large_magnitude_in_float32(scale):
    x = st.tensor(np.array([1.0, 0.5, -1.0]) * scale, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lsm = st.log_softmax(x)
        lse = st.logsumexp(x)
        sig = st.sigmoid(x)
        (lsm.sum() + lse + sig.sum()).backward()
    z = np.array([1.0, 0.5, -1.0], dtype=np.float64) * scale
    m = z.max()
    expected_lse = m + np.log(np.exp(z - m).sum())
    np.testing.assert_allclose(lse.item(), expected_lse, rtol=1e-6)
    np.testing.assert_allclose(lsm.data, z - expected_lse, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sig.data, 0.5 * (1 + np.tanh(z / 2)), atol=1e-7)
    assert np.all(np.isfinite(x.grad))


def test_detach_and_item_and_numpy():
    x = st.tensor([[2.5]], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    assert x.item() == 2.5
    assert x.numpy() is x.data
    with pytest.raises(ValueError, match="one element"):
        st.tensor([1.0, 2.0]).item()


def test_transpose_property_and_reshape_method():
    x = st.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (x.T.reshape(-1) * np.arange(6.0)).sum().backward()
    # x.T.reshape(-1) lists x column by column: x00 x10 x01 x11 x02 x12.
    np.testing.assert_array_equal(x.grad, [[0, 2, 4], [1, 3, 5]])


# -- graphs where one value reaches an op by several paths --------------------

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

SHARED = {
    # name: (steepest expression, the same in jax.numpy)
    "a + a*3": (lambda a: a + a * 3, lambda a: a + a * 3),
    "x - mean(x)": (
        lambda x: x - st.mean(x, axis=1, keepdims=True),
        lambda x: x - x.mean(axis=1, keepdims=True),
    ),
    "x / sum(exp(x))": (lambda x: x / x.exp().sum(), lambda x: x / jnp.exp(x).sum()),
    "swish": (lambda x: x * st.sigmoid(x), lambda x: x * jax.nn.sigmoid(x)),
    "residual": (lambda x: x + st.relu(2 * x), lambda x: x + jax.nn.relu(2 * x)),
    "a - a*a": (lambda a: a - a * a, lambda a: a - a * a),
    "where(c, a, a*3)": (
        lambda a: st.where(a.data > 0.3, a, a * 3),
        lambda a: jnp.where(a > 0.3, a, a * 3),
    ),
    "layer norm": (
        lambda x: (
            (x - x.mean(axis=1, keepdims=True))
            / ((x - x.mean(axis=1, keepdims=True)) ** 2 + 1e-5)
            .mean(axis=1, keepdims=True)
            .sqrt()
        ),
        lambda x: (
            (x - x.mean(axis=1, keepdims=True))
            / jnp.sqrt(
                ((x - x.mean(axis=1, keepdims=True)) ** 2 + 1e-5).mean(1, keepdims=True)
            )
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_subexpressions_match_jax(name):
    ours, theirs = SHARED[name]
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3, 4))
    weights = rng.normal(size=(3, 4))
    x = st.tensor(values, requires_grad=True, dtype="float64")
    (ours(x) * weights).sum().backward()
    expected = jax.grad(lambda v: jnp.sum(weights * theirs(v)))(values)
    np.testing.assert_allclose(x.grad, np.asarray(expected), rtol=1e-10, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(program=st_.lists(
    st_.tuples(st_.sampled_from(["add", "mul", "sub", "tanh", "sigmoid"]),
               st_.integers(0, 10**6), st_.integers(0, 10**6)),
    min_size=1, max_size=12,
))  # fmt: skip
def test_random_graphs_with_reuse_match_jax(program):
    # Each step applies an op to earlier values chosen at random, so values
    # are reused along paths of different lengths.
    binary = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b,
              "sub": lambda a, b: a - b}  # fmt: skip
    unary_ours = {"tanh": st.tanh, "sigmoid": st.sigmoid}
    unary_jax = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}

    def replay(inputs, unary):
        values = list(inputs)
        for op, i, j in program:
            a, b = values[i % len(values)], values[j % len(values)]
            values.append(binary[op](a, b) if op in binary else unary[op](a))
        return values[-1]

    rng = np.random.default_rng(len(program))
    arrays = [rng.normal(size=3) * 0.5 for _ in range(2)]
    tensors = [st.tensor(a, requires_grad=True, dtype="float64") for a in arrays]
    out = replay(tensors, unary_ours)
    if not out.requires_grad:
        return
    out.sum().backward()
    expected = jax.grad(
        lambda a, b: jnp.sum(replay([a, b], unary_jax)), argnums=(0, 1)
    )(*arrays)
    for t, e in zip(tensors, expected, strict=True):
        got = np.zeros(3) if t.grad is None else t.grad
        np.testing.assert_allclose(got, np.asarray(e), rtol=1e-9, atol=1e-12)


def test_np_array_of_a_tensor_is_a_copy():
    t = st.tensor([1.0, 2.0])
    a = np.array(t)
    a[0] = 99
    np.testing.assert_array_equal(t.data, [1, 2])
    assert np.asarray(t) is t.data  # asarray may share, as for ndarrays


def test_max_gradient_stays_float32():
    x = st.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    y = x.max(axis=1)
    (g,) = y._vjp(np.ones(y.shape, np.float32))
    assert g.dtype == np.float32


def test_numpy_integer_axis_and_bad_axes_are_named():
    x = st.tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(x.sum(axis=np.int64(1)).data, [3, 3])
    with pytest.raises(ValueError, match=r"axis 0 is out of range .* 0 dimensions"):
        st.tensor(1.0).sum(axis=0)
    with pytest.raises(ValueError, match=r"concatenate: axis 5 is out of range"):
        st.concatenate([x, x], axis=5)
    with pytest.raises(ValueError, match="stack: needs at least one tensor"):
        st.stack([])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_linear_writes_into_a_zeroed_gradient_as_adding_to_zeros(bias, activation):
    # After zero_grad, linear's backward writes the weight's and the bias's
    # gradient straight into their buffers; the values are those of a fresh
    # leaf, with a weight used twice (two contributions) and a retained graph
    # (a second backward adds).
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4))
    w0, b0 = rng.normal(size=(3, 4)), rng.normal(size=3)

    def run(w, b):
        h = st.linear(x, w, b if bias else None, activation=activation)
        out = st.linear(h, w[:, :3].T, None)  # the same weight again, as a view
        return (out * out).sum()

    fresh_w = st.tensor(w0, requires_grad=True, dtype="float64")
    fresh_b = st.tensor(b0, requires_grad=True, dtype="float64")
    run(fresh_w, fresh_b).backward()

    w = st.tensor(w0, requires_grad=True, dtype="float64")
    b = st.tensor(b0, requires_grad=True, dtype="float64")
    w.grad, b.grad = np.full((3, 4), 5.0), np.full(3, 5.0)
    buffers = w.grad, b.grad
    w.zero_grad()
    b.zero_grad()
    graph = run(w, b)
    graph.backward(retain_graph=True)
    assert w.grad is buffers[0] and b.grad is buffers[1]
    np.testing.assert_allclose(w.grad, fresh_w.grad, rtol=1e-14, atol=1e-14)
    if bias:
        np.testing.assert_array_equal(b.grad, fresh_b.grad)
    else:
        assert not b.grad.any()
    graph.backward()  # accumulates on top
    np.testing.assert_allclose(w.grad, 2 * fresh_w.grad, rtol=1e-14, atol=1e-14)


def test_zero_grad_reads_as_zero_before_backward():
    w = st.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    buffer = w.grad
    w.zero_grad()
    assert w.grad is buffer and not w.grad.any()
    w.zero_grad()
    w.grad[...] += 1.0  # the user's own term, kept by the next backward
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 5.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_compiled_loops_are_bitwise_the_numpy_code(dtype):
    # linear's bias + ReLU and its ReLU mask run as compiled loops when they
    # are on (steepest.kernels); they equal the NumPy code bit for bit, with
    # -0, inf and nan among the values.
    from steepest import kernels

    if not kernels.enabled():
        pytest.skip(f"compiled loops are off or unavailable ({kernels._failure})")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(7, 5)).astype(dtype)
    x[0, :3] = [np.inf, -np.inf, np.nan]
    x[1] = 0.0
    w0 = rng.normal(size=(6, 5)).astype(dtype)
    b0 = rng.normal(size=6).astype(dtype)
    b0[0] = -0.0
    upstream = rng.normal(size=(7, 6)).astype(dtype)
    upstream[2, :2] = [np.inf, -0.0]
    results = []
    for on in (False, True):
        previous = kernels.set_enabled(on)
        try:
            w = st.tensor(w0, requires_grad=True, dtype=dtype)
            b = st.tensor(b0, requires_grad=True, dtype=dtype)
            xt = st.tensor(x, requires_grad=True, dtype=dtype)
            with np.errstate(all="ignore"):
                out = st.linear(xt, w, b, activation="relu")
                out.backward(upstream)
        finally:
            kernels.set_enabled(previous)
        results.append([out.data, xt.grad, w.grad, b.grad])
    for a, b in zip(*results, strict=True):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)
        assert np.array_equal(np.signbit(a), np.signbit(b))


def test_a_failed_backward_leaves_zeroed_gradients_zero():
    # linear writes its weight gradient straight into a lazily zeroed buffer
    # during the walk; if the walk then fails, the buffer reads as zeros again
    # (as if backward had not run), so a later backward is not doubled.
    rng = np.random.default_rng(0)
    x = st.tensor(rng.normal(size=(5, 3)))
    w1 = st.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    w2 = st.tensor(rng.normal(size=(2, 4)), requires_grad=True)
    w1.grad, w2.grad = np.ones((4, 3), np.float32), np.ones((2, 4), np.float32)
    h = st.linear(x, w1, activation="relu")
    aux = (h**2).sum()
    main = (st.linear(h, w2) ** 2).sum()
    aux.backward()  # frees the shared trunk
    w1.zero_grad()
    w2.zero_grad()
    with pytest.raises(RuntimeError):
        main.backward()  # w2's gradient is written, then the trunk fails
    assert not w2.grad.any() and not w1.grad.any()
    h = st.linear(x, w1, activation="relu")
    (st.linear(h, w2) ** 2).sum().backward()
    fresh = st.tensor(w2.data, requires_grad=True)
    (st.linear(h.detach(), fresh) ** 2).sum().backward()
    np.testing.assert_array_equal(w2.grad, fresh.grad)


def test_linear_bias_must_have_one_value_per_output():
    w = st.tensor(np.ones((3, 2)), requires_grad=True)
    for bias in (st.tensor(0.5), st.tensor([0.5]), np.zeros((4, 3))):
        with pytest.raises(ValueError, match=r"expected shape \(3,\)"):
            st.linear(np.ones((4, 2)), w, bias, activation="relu")
    out = st.linear(np.ones((4, 2)), w, [1.0, 2.0, 3.0])  # a list is lifted
    np.testing.assert_array_equal(out.data[0], [3.0, 4.0, 5.0])


def test_an_interrupted_linear_backward_leaves_zeroed_gradients_zero(monkeypatch):
    # Interrupted inside linear's vjp (Ctrl-C, say) after it wrote the weight
    # gradient and claimed the bias buffer: both read as zeros afterwards.
    rng = np.random.default_rng(1)
    w = st.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    b = st.tensor(rng.normal(size=3), requires_grad=True)
    w.grad, b.grad = np.ones((3, 2), np.float32), np.ones(3, np.float32)
    w.zero_grad()
    b.zero_grad()
    loss = (st.linear(rng.normal(size=(4, 2)), w, b) ** 2).sum()
    real_sum = np.sum

    def interrupted(*args, **kwargs):
        if kwargs.get("out") is not None:
            raise KeyboardInterrupt
        return real_sum(*args, **kwargs)

    monkeypatch.setattr(np, "sum", interrupted)
    with pytest.raises(KeyboardInterrupt):
        loss.backward()
    monkeypatch.undo()
    assert not w.grad.any() and not b.grad.any()
