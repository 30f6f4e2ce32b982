"""Every op's gradient against central finite differences and against JAX.

One table drives the suite: each entry builds inputs for the op (shapes drawn
by hypothesis, broadcasting and size-1 axes included), the steepest function
and the same expression in jax.numpy. ``test_table_covers_every_op`` fails
when an op in ``steepest.ops.__all__`` has no row, so none can skip the suite.

Tolerances, float64 throughout: finite differences with step 1e-6 agree to
1e-6 relative (their truncation error); JAX agrees to 1e-10 relative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

import steepest as st
from steepest import ops

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy


@dataclass(frozen=True)
class Case:
    """One op: how to draw its inputs and how to compute it two ways."""

    name: str
    shapes: Callable  # draw -> list of input shapes
    ours: Callable  # *Tensors -> Tensor
    theirs: Callable  # *jax arrays -> jax array
    domain: str = "any"  # "any", "positive", or "apart" (no near-ties)


small = st_.integers(1, 4)


@st_.composite
def one_shape(draw, min_dims=0, max_dims=3):
    return tuple(draw(st_.lists(small, min_size=min_dims, max_size=max_dims)))


@st_.composite
def broadcast_pair(draw):
    """Two shapes that broadcast together, with size-1 and missing axes."""
    shape = draw(one_shape(1, 3))
    a = [n if draw(st_.booleans()) else 1 for n in shape]
    b = [n if draw(st_.booleans()) else 1 for n in shape]
    b = b[draw(st_.integers(0, len(b))) :]
    return [tuple(a), tuple(b)]


def unary(shape_strategy=None):
    strategy = one_shape() if shape_strategy is None else shape_strategy
    return lambda draw: [draw(strategy)]


def pair(draw):
    return draw(broadcast_pair())


def matmul_shapes(draw):
    n, k, m = draw(small), draw(small), draw(small)
    kind = draw(st_.sampled_from(["mm", "vm", "mv", "vv", "batched", "bcast"]))
    return {
        "mm": [(n, k), (k, m)],
        "vm": [(k,), (k, m)],
        "mv": [(n, k), (k,)],
        "vv": [(k,), (k,)],
        "batched": [(2, n, k), (2, k, m)],
        "bcast": [(3, n, k), (k, m)],
    }[kind]


def linear_shapes(draw):
    batch, fin, fout = draw(small), draw(small), draw(small)
    lead = [(batch,), (2, batch)][draw(st_.integers(0, 1))]
    return [lead + (fin,), (fout, fin), (fout,)]


def jax_linear(x, w, b, relu=False):
    y = x @ w.T + b
    return jnp.maximum(y, 0) if relu else y


LABELS = np.array([2, 0, 1, 2, 1])


def jax_xent(logits, soft=None):
    logp = jax.nn.log_softmax(logits, axis=1)
    if soft is not None:
        return -(soft * logp).sum(axis=1).mean()
    return -logp[np.arange(len(LABELS)), LABELS].mean()


SOFT = np.random.default_rng(7).dirichlet(np.ones(3), size=5)

CASES = [
    Case("add", pair, ops.add, jnp.add),
    Case("sub", pair, ops.sub, jnp.subtract),
    Case("mul", pair, ops.mul, jnp.multiply),
    Case("div", pair, ops.div, jnp.divide, "positive"),
    Case("pow", pair, ops.pow, jnp.power, "positive"),
    Case("neg", unary(), ops.neg, jnp.negative),
    Case("matmul", matmul_shapes, ops.matmul, jnp.matmul),
    Case("exp", unary(), ops.exp, jnp.exp),
    Case("log", unary(), ops.log, jnp.log, "positive"),
    Case("sqrt", unary(), ops.sqrt, jnp.sqrt, "positive"),
    Case("abs", unary(), ops.abs, jnp.abs, "apart"),
    Case("sum", unary(), ops.sum, jnp.sum),
    Case(
        "sum_axis",
        unary(one_shape(2)),
        lambda x: ops.sum(x, axis=1),
        lambda x: x.sum(axis=1),
    ),
    Case(
        "sum_keepdims",
        unary(one_shape(2)),
        lambda x: ops.sum(x, axis=(0, -1), keepdims=True),
        lambda x: x.sum(axis=(0, -1), keepdims=True),
    ),
    Case(
        "mean",
        unary(one_shape(1)),
        lambda x: ops.mean(x, axis=0),
        lambda x: x.mean(axis=0),
    ),
    Case("mean_all", unary(), ops.mean, jnp.mean),
    Case(
        "max",
        unary(one_shape(1)),
        lambda x: ops.max(x, axis=-1),
        lambda x: x.max(axis=-1),
        "apart",
    ),
    Case(
        "min",
        unary(one_shape(2)),
        lambda x: ops.min(x, axis=0, keepdims=True),
        lambda x: x.min(axis=0, keepdims=True),
        "apart",
    ),
    Case(
        "reshape",
        unary(one_shape(1)),
        lambda x: ops.reshape(x, -1),
        lambda x: x.reshape(-1),
    ),
    Case(
        "transpose",
        unary(one_shape(3, 3)),
        lambda x: ops.transpose(x, (2, 0, 1)),
        lambda x: x.transpose(2, 0, 1),
    ),
    Case(
        "transpose_negative_axes",
        unary(one_shape(3, 3)),
        lambda x: ops.transpose(x, (-1, 0, -2)),
        lambda x: x.transpose(2, 0, 1),
    ),
    Case("transpose_T", unary(one_shape(2, 2)), lambda x: x.T, lambda x: x.T),
    Case(
        "getitem", unary(one_shape(2, 2)), lambda x: x[1:, ::-1], lambda x: x[1:, ::-1]
    ),
    Case(
        "getitem_int_array",
        lambda d: [(4, d(small))],
        lambda x: x[[0, 0, 3, 1]],
        lambda x: x[np.array([0, 0, 3, 1])],
    ),
    Case(
        "getitem_bool",
        lambda d: [(3, 2)],
        lambda x: x[np.array([True, False, True])],
        lambda x: x[np.array([True, False, True])],
    ),
    Case(
        "concatenate",
        lambda d: (lambda k: [(2, k), (3, k)])(d(small)),
        lambda a, b: ops.concatenate([a, b], axis=0),
        lambda a, b: jnp.concatenate([a, b], axis=0),
    ),
    Case(
        "stack",
        lambda d: [(d(small), 2)] * 2,
        lambda a, b: ops.stack([a, b], axis=1),
        lambda a, b: jnp.stack([a, b], axis=1),
    ),
    Case(
        "where",
        pair,
        lambda a, b: ops.where(a.data > 0, a, b),
        lambda a, b: jnp.where(a > 0, a, b),
    ),
    Case("maximum", pair, ops.maximum, jnp.maximum, "apart"),
    Case("minimum", pair, ops.minimum, jnp.minimum, "apart"),
    Case(
        "clip",
        unary(),
        lambda x: ops.clip(x, -0.5, 0.5),
        lambda x: jnp.clip(x, -0.5, 0.5),
        "apart",
    ),
    Case("relu", unary(), ops.relu, jax.nn.relu, "apart"),
    Case("sigmoid", unary(), ops.sigmoid, jax.nn.sigmoid),
    Case("tanh", unary(), ops.tanh, jnp.tanh),
    Case("softplus", unary(), ops.softplus, jax.nn.softplus),
    Case("softmax", unary(one_shape(1)), ops.softmax, jax.nn.softmax),
    Case(
        "softmax_axis0",
        unary(one_shape(2)),
        lambda x: ops.softmax(x, axis=0),
        lambda x: jax.nn.softmax(x, axis=0),
    ),
    Case("log_softmax", unary(one_shape(1)), ops.log_softmax, jax.nn.log_softmax),
    Case(
        "logsumexp",
        unary(one_shape(1)),
        ops.logsumexp,
        lambda x: jax.nn.logsumexp(x, axis=-1),
    ),
    Case(
        "logsumexp_all",
        unary(one_shape(1)),
        lambda x: ops.logsumexp(x, axis=None, keepdims=True),
        lambda x: jax.nn.logsumexp(x, keepdims=True),
    ),
    Case("linear", linear_shapes, ops.linear, jax_linear),
    Case(
        "linear_relu",
        linear_shapes,
        lambda x, w, b: ops.linear(x, w, b, activation="relu"),
        lambda x, w, b: jax_linear(x, w, b, relu=True),
        "apart",
    ),
    Case(
        "softmax_cross_entropy",
        lambda d: [(5, 3)],
        lambda x: ops.softmax_cross_entropy(x, LABELS),
        jax_xent,
    ),
    Case(
        "softmax_cross_entropy_soft",
        lambda d: [(5, 3)],
        lambda x: ops.softmax_cross_entropy(x, SOFT, reduction="sum"),
        lambda x: 5 * jax_xent(x, SOFT),
    ),
]

COMPARISONS = {"lt", "le", "gt", "ge", "eq", "ne"}


def make_inputs(shapes, domain, seed):
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        if domain == "positive":
            x = rng.uniform(0.5, 2.0, size=shape)
        elif domain == "apart":
            # Away from the kinks at 0 and +-0.5 and without ties: finite
            # differences are then exact to their truncation error.
            n = int(np.prod(shape))
            x = rng.permutation(np.linspace(-1.93, 1.97, n + 1)[1:]) + 0.013
            x = np.where(np.abs(np.abs(x) - 0.5) < 0.02, x + 0.05, x)
            x = x.reshape(shape)
        else:
            x = rng.normal(size=shape)
        arrays.append(np.asarray(x, dtype=np.float64))
    if domain == "apart" and len(arrays) == 2:
        # Keep the two operands of maximum/minimum apart elementwise.
        arrays[1] = np.asarray(arrays[1] + 0.0071)
    return arrays


def finite_difference(case, arrays, weights, eps=1e-6):
    """Central differences of sum(weights * f(inputs)) in each input."""

    def objective(values):
        with st.no_grad():
            out = case.ours(*[st.tensor(v, dtype="float64") for v in values])
        return float(np.sum(weights * out.data))

    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [v.copy() for v in arrays]
            minus = [v.copy() for v in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            g[idx] = (objective(plus) - objective(minus)) / (2 * eps)
        grads.append(g)
    return grads


def check_case(case, seed, shapes):
    arrays = make_inputs(shapes, case.domain, seed)
    tensors = [st.tensor(a, requires_grad=True, dtype="float64") for a in arrays]
    out = case.ours(*tensors)
    weights = np.random.default_rng(seed + 1).normal(size=out.shape)
    (out * weights).sum().backward()
    ours = [t.grad for t in tensors]

    # Value and gradient against JAX.
    theirs_value = case.theirs(*[jnp.asarray(a) for a in arrays])
    np.testing.assert_allclose(
        out.data, np.asarray(theirs_value), rtol=1e-10, atol=1e-12
    )
    jax_grads = jax.grad(
        lambda *xs: jnp.sum(weights * case.theirs(*xs)),
        argnums=tuple(range(len(arrays))),
    )(*[jnp.asarray(a) for a in arrays])
    for g, j in zip(ours, jax_grads, strict=True):
        assert g.shape == j.shape
        np.testing.assert_allclose(g, np.asarray(j), rtol=1e-10, atol=1e-12)

    # Gradient against central finite differences.
    for g, fd in zip(ours, finite_difference(case, arrays, weights), strict=True):
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=8, deadline=None)
@given(data=st_.data())
def test_gradient_matches_jax_and_finite_differences(case, data):
    shapes = case.shapes(data.draw)
    seed = data.draw(st_.integers(0, 2**16))
    check_case(case, seed, shapes)


def test_table_covers_every_op():
    covered = {c.name.split("_axis")[0] for c in CASES} | {c.name for c in CASES}
    missing = set(ops.__all__) - covered - COMPARISONS
    assert not missing, f"ops without a gradient test row: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparisons_give_booleans_without_gradient(name):
    a = st.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = getattr(ops, name)(a, 2.0)
    expected = getattr(
        np,
        {
            "lt": "less",
            "le": "less_equal",
            "gt": "greater",
            "ge": "greater_equal",
            "eq": "equal",
            "ne": "not_equal",
        }[name],
    )(a.data, 2.0)
    np.testing.assert_array_equal(out.data, expected)
    assert out.dtype == bool and not out.requires_grad
