"""Modules, layers and initialisers: registration and state, gradients of the
layers against central finite differences, the Linear+ReLU fusion against the
unfused chain, and the statistics of the initialisers.

Tolerances: finite differences in float64 with step 1e-6 agree to 1e-6
relative; fused and unfused results are compared exactly (float64) or to
float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

import steepest as st
from steepest import losses, nn
from steepest.nn import init

# -- registration and traversal -----------------------------------------------


class Affine(nn.Module):
    """A hand-written module: a scale, a shift and a child."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = st.tensor([2.0], requires_grad=True)
        self.inner = nn.Linear(2, 2, rng=0)
        self.shift = st.tensor([0.5], requires_grad=True)
        self.constant = st.tensor([1.0])  # no gradient: a plain attribute

    def forward(self, x):
        return self.inner(x) * self.scale + self.shift


def test_named_parameters_follow_registration_order():
    model = nn.Sequential(Affine(), nn.ReLU(), nn.Linear(2, 3, rng=1))
    names = [n for n, _ in model.named_parameters()]
    assert names == [
        "0.scale",
        "0.shift",
        "0.inner.weight",
        "0.inner.bias",
        "2.weight",
        "2.bias",
    ]
    assert [id(p) for p in model.parameters()] == [
        id(p) for _, p in model.named_parameters()
    ]
    assert model.num_parameters() == 1 + 1 + 6 + 3 * 2 + 3


def test_mlp_state_dict_names():
    model = nn.MLP([5, 4, 3, 2], rng=0)
    assert list(model.state_dict()) == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
        "4.weight",
        "4.bias",
    ]
    assert model[0].weight.shape == (4, 5)


def test_reassignment_and_deletion_update_the_registry():
    m = Affine()
    m.scale = None
    assert "scale" not in dict(m.named_parameters())
    m.inner = st.tensor([1.0], requires_grad=True)  # a module becomes a parameter
    assert m.children() == []
    assert "inner" in dict(m.named_parameters())
    del m.shift
    assert [n for n, _ in m.named_parameters()] == ["inner"]


def test_shared_parameter_is_listed_once():
    a = nn.Linear(3, 3, rng=0)
    b = nn.Linear(3, 3, rng=1)
    b.weight = a.weight
    model = nn.Sequential(a, b)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_assignment_before_init_is_a_clear_error():
    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.w = st.tensor([1.0], requires_grad=True)

    with pytest.raises(AttributeError, match="super"):
        Forgetful()


def test_module_without_forward():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_train_and_eval_reach_every_child():
    model = nn.Sequential(Affine(), nn.MLP([2, 2], rng=0))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    assert len(model.modules()) == 5  # Sequential, Affine, its Linear, MLP, Linear


def test_sequential_indexing_and_repr():
    model = nn.MLP([4, 3, 2], rng=0)
    assert len(model) == 3
    assert isinstance(model[-1], nn.Linear)
    assert len(model[:2]) == 2
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert "(0): Linear(in_features=4, out_features=3, bias=True)" in repr(model)
    with pytest.raises(IndexError, match="out of range"):
        model[3]
    with pytest.raises(TypeError, match="Module"):
        nn.Sequential(nn.ReLU(), np.zeros(3))


def test_zero_grad_keeps_buffers():
    model = nn.MLP([3, 2], rng=0)
    losses.mse(model(np.ones((4, 3))), np.zeros((4, 2))).backward()
    buffers = [p.grad for p in model.parameters()]
    model.zero_grad()
    for p, g in zip(model.parameters(), buffers, strict=True):
        assert p.grad is g
        assert not p.grad.any()


# -- state dict -----------------------------------------------------------------


def test_state_dict_round_trip():
    source, target = nn.MLP([6, 5, 3], rng=1), nn.MLP([6, 5, 3], rng=2)
    x = np.random.default_rng(0).normal(size=(4, 6))
    assert not np.array_equal(source(x).data, target(x).data)
    state = source.state_dict()
    target.load_state_dict(state)
    np.testing.assert_array_equal(source(x).data, target(x).data)
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v, state[k])


def test_state_dict_returns_copies():
    model = nn.Linear(2, 2, rng=0)
    state = model.state_dict()
    state["weight"][...] = 7.0
    assert not (model.weight.data == 7.0).any()


def test_load_state_dict_writes_in_place_into_optimizer_views():
    # An optimizer rebinds each parameter's .data to a view of one flat buffer.
    model = nn.MLP([3, 4, 2], rng=0)
    params = model.parameters()
    flat = np.concatenate([p.data.ravel() for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset : offset + p.data.size].reshape(p.data.shape)
        offset += p.data.size

    state = nn.MLP([3, 4, 2], rng=5).state_dict()
    model.load_state_dict(state)
    np.testing.assert_array_equal(
        flat, np.concatenate([v.ravel() for v in state.values()])
    )

    # ... and the layers read the parameters through the Tensors at call time.
    x = np.ones((1, 3), dtype=np.float32)
    before = model(x).data.copy()
    flat *= 2
    assert not np.allclose(model(x).data, before)


def test_load_state_dict_converts_dtype_and_accepts_tensors():
    model = nn.Linear(2, 1, rng=0)
    model.load_state_dict({"weight": st.tensor([[1.0, 2.0]]), "bias": np.array([3.0])})
    assert model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.bias.data, [3.0])


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda s: s.pop("2.bias"), ["missing", "'2.bias'", "(2,)"]),
        (lambda s: s.update({"3.weight": np.zeros(2)}), ["unexpected", "'3.weight'"]),
        (
            lambda s: s.update({"0.weight": np.zeros((4, 5))}),
            ["'0.weight'", "(4, 5)", "(4, 3)"],
        ),
    ],
)
def test_load_state_dict_errors_name_the_key_and_shapes(edit, fragments):
    model = nn.MLP([3, 4, 2], rng=0)
    before = model.state_dict()
    state = nn.MLP([3, 4, 2], rng=9).state_dict()
    edit(state)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    for fragment in fragments:
        assert fragment in str(info.value)
    for k, v in model.state_dict().items():  # nothing was half-loaded
        np.testing.assert_array_equal(v, before[k])


# -- seeds ----------------------------------------------------------------------


def test_same_seed_same_model_different_seed_different_model():
    def weights(model):
        return [p.data for p in model.parameters()]

    a, b, c = (nn.MLP([8, 6, 4], rng=s) for s in (3, 3, 4))
    for x, y in zip(weights(a), weights(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(weights(a)[0], weights(c)[0])
    # A Generator is used as it is: the same stream gives the same model.
    d = nn.MLP([8, 6, 4], rng=np.random.default_rng(3))
    np.testing.assert_array_equal(weights(a)[2], weights(d)[2])
    # The layers of one model draw different weights from the shared stream.
    e = nn.MLP([5, 5, 5], rng=0)
    assert not np.array_equal(e[0].weight.data, e[2].weight.data)


def test_unseeded_layers_are_reproducible():
    np.testing.assert_array_equal(
        nn.Linear(4, 3).weight.data, nn.Linear(4, 3).weight.data
    )


# -- Linear and the other layers --------------------------------------------------


def test_linear_computes_the_affine_map():
    layer = nn.Linear(4, 3, rng=0, dtype="float64")
    x = np.random.default_rng(1).normal(size=(5, 4))
    expected = x @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12)
    assert layer.weight.dtype == np.float64
    assert not layer.bias.data.any()  # biases start at zero
    # leading axes are batch axes
    assert layer(np.zeros((2, 5, 4))).shape == (2, 5, 3)


def test_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False, rng=0)
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    assert "bias=False" in repr(layer)


def test_linear_with_named_and_custom_init():
    assert not nn.Linear(3, 2, init="zeros").weight.data.any()
    w = nn.Linear(3, 2, init=lambda shape, rng, dtype: np.full(shape, 0.5, dtype))
    np.testing.assert_array_equal(w.weight.data, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="'glorot_uniform'"):
        nn.Linear(3, 2, init="xavier")


@pytest.mark.parametrize(
    "make, error, fragment",
    [
        (lambda: nn.Linear(0, 2), ValueError, "in_features=0"),
        (lambda: nn.Linear(2, 1.5), ValueError, "out_features=1.5"),
        (lambda: nn.Linear(2, 2, rng="seed"), TypeError, "Generator"),
        (lambda: nn.MLP([4]), ValueError, "at least"),
        (lambda: nn.MLP([4, 2], activation="gelu"), ValueError, "'relu', 'tanh'"),
        (lambda: nn.MLP([4, 2], output_activation="x"), ValueError, "'softmax'"),
        (lambda: nn.MLP([4, -1, 2]), ValueError, "-1"),
    ],
)
def test_bad_layer_arguments(make, error, fragment):
    with pytest.raises(error, match=None) as info:
        make()
    assert fragment in str(info.value)


def test_activations_and_flatten():
    x = st.tensor([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(nn.ReLU()(x).data, [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data), rtol=1e-6)
    np.testing.assert_allclose(
        nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-6
    )
    np.testing.assert_allclose(nn.Softmax()(x).data.sum(), 1.0, rtol=1e-6)
    assert nn.Flatten()(st.tensor(np.zeros((2, 1, 4, 4)))).shape == (2, 16)
    assert nn.Flatten(2)(st.tensor(np.zeros((2, 3, 4, 4)))).shape == (2, 3, 16)
    with pytest.raises(ValueError, match="start_axis"):
        nn.Flatten(3)(st.tensor(np.zeros((2, 3))))


def test_mlp_output_activation():
    model = nn.MLP([3, 4, 5], activation="tanh", output_activation="softmax", rng=0)
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear", "Softmax"]
    probs = model(np.random.default_rng(0).normal(size=(6, 3))).data
    np.testing.assert_allclose(probs.sum(axis=1), np.ones(6), rtol=1e-6)


# -- gradients against finite differences ------------------------------------------


def _finite_difference_check(model, x, y, step=1e-6, rtol=1e-6):
    """Gradients of a scalar loss with respect to every parameter and the input,
    against central differences."""
    x = st.tensor(x, requires_grad=True, dtype="float64")

    def loss_value():
        with st.no_grad():
            return losses.cross_entropy(model(x), y, reduction="sum").item()

    losses.cross_entropy(model(x), y, reduction="sum").backward()
    for tensor in [x, *model.parameters()]:
        numeric = np.zeros_like(tensor.data)
        for i in np.ndindex(tensor.data.shape):
            saved = tensor.data[i]
            tensor.data[i] = saved + step
            up = loss_value()
            tensor.data[i] = saved - step
            down = loss_value()
            tensor.data[i] = saved
            numeric[i] = (up - down) / (2 * step)
        np.testing.assert_allclose(tensor.grad, numeric, rtol=rtol, atol=1e-8)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_gradients_match_finite_differences(activation):
    rng = np.random.default_rng(0)
    model = nn.MLP([4, 5, 3], activation=activation, rng=1, dtype="float64")
    for p in model.parameters():  # non-zero biases exercise their gradient
        p.data[...] = rng.normal(size=p.shape)
    _finite_difference_check(model, rng.normal(size=(6, 4)), rng.integers(0, 3, 6))


def test_flatten_softmax_chain_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(6, 4, rng=0, dtype="float64"),
        nn.Tanh(),
        nn.Linear(4, 3, rng=1, dtype="float64"),
        nn.Softmax(),
    )
    _finite_difference_check(model, rng.normal(size=(5, 2, 3)), rng.integers(0, 3, 5))


# -- the Linear + ReLU fusion ---------------------------------------------------------


def _count_nodes(root):
    seen, stack = set(), [root]
    while stack:
        t = stack.pop()
        if id(t) not in seen and not t.is_leaf:
            seen.add(id(t))
            stack.extend(t._parents)
    return len(seen)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_linear_relu_equals_unfused(dtype):
    rng = np.random.default_rng(4)
    fused = nn.MLP([7, 6, 5, 3], rng=0, dtype=dtype)
    plain = nn.MLP([7, 6, 5, 3], rng=0, dtype=dtype, fuse=False)
    x = rng.normal(size=(9, 7)).astype(dtype)
    y = rng.integers(0, 3, size=9)

    outputs, grads = [], []
    for model in (fused, plain):
        xt = st.tensor(x, requires_grad=True, dtype=dtype)
        out = model(xt)
        outputs.append((out.data, _count_nodes(out)))
        losses.cross_entropy(out, y).backward()
        grads.append([xt.grad] + [p.grad for p in model.parameters()])

    (fused_out, fused_nodes), (plain_out, plain_nodes) = outputs
    assert fused_nodes == 3 and plain_nodes == 5  # one node per fused pair fewer
    if dtype == "float64":
        np.testing.assert_array_equal(fused_out, plain_out)
    np.testing.assert_allclose(fused_out, plain_out, rtol=1e-6, atol=1e-7)
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_subclass_of_linear_is_not_fused():
    class Doubled(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    layer = Doubled(2, 2, rng=0)
    x = np.ones((1, 2), dtype=np.float32)
    expected = np.maximum(layer(x).data, 0)
    np.testing.assert_array_equal(nn.Sequential(layer, nn.ReLU())(x).data, expected)


# -- initialisers --------------------------------------------------------------------


def test_fans_use_the_out_in_layout():
    assert init.fans((200, 784)) == (784, 200)
    assert init.fans((7,)) == (7, 7)
    assert init.fans((8, 3, 2, 2)) == (12, 32)
    with pytest.raises(ValueError, match="scalar"):
        init.fans(())


SHAPE = (400, 600)  # 240,000 draws: standard errors of ~0.3% on the variance


@pytest.mark.parametrize(
    "initializer, variance, fourth_moment_ratio",
    [
        # Var(sample variance) ~ (mu4 - sigma^4) / n, with mu4 / sigma^4 = 9/5
        # for a uniform and 3 for a normal.
        (init.glorot_uniform, 2 / (400 + 600), 9 / 5),
        (init.he_uniform, 2 / 600, 9 / 5),
        (init.he_normal, 2 / 600, 3.0),
        (lambda s, r, d: init.normal(s, r, 0.05, d), 0.05**2, 3.0),
    ],
)
def test_initializer_variance(initializer, variance, fourth_moment_ratio):
    w = initializer(SHAPE, np.random.default_rng(0), "float64")
    n = w.size
    standard_error = variance * np.sqrt((fourth_moment_ratio - 1) / n)
    assert w.shape == SHAPE and w.dtype == np.float64
    assert abs(w.var() - variance) < 4 * standard_error
    assert abs(w.mean()) < 4 * np.sqrt(variance / n)


@pytest.mark.parametrize(
    "initializer, limit",
    [
        (init.glorot_uniform, np.sqrt(6 / (400 + 600))),
        (init.he_uniform, np.sqrt(6 / 600)),
    ],
)
def test_uniform_initializer_bounds(initializer, limit):
    w = initializer(SHAPE, np.random.default_rng(1), "float64")
    assert w.max() <= limit and w.min() >= -limit
    assert w.max() > limit * (1 - 1e-3) and w.min() < -limit * (1 - 1e-3)


def test_initializers_are_deterministic_and_typed():
    for f in (init.glorot_uniform, init.he_normal, init.he_uniform):
        a = f((3, 4), np.random.default_rng(5))
        b = f((3, 4), np.random.default_rng(5))
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.float32
    assert init.zeros(3).shape == (3,)
    assert not init.zeros((2, 2), dtype="float64").any()


def test_initializer_errors():
    with pytest.raises(TypeError, match="default_rng"):
        init.glorot_uniform((2, 2), 0)
    with pytest.raises(ValueError, match="std=-1"):
        init.normal((2,), np.random.default_rng(0), -1)
    with pytest.raises(ValueError, match="non-negative"):
        init.he_normal((2, -3), np.random.default_rng(0))
