"""Optimizers against independent sources.

- Optax (and ``torch.optim`` where installed): 100-step trajectories on a
  quadratic and a small tanh MLP, float64, under the options that match each
  peer; they agree to 1e-10 relative (only the order of rounding differs).
- The algorithm boxes written out naively, one Python float at a time; they
  agree with the defaults to 1e-12 relative.
- Pinned values where the libraries disagree, and the closed form of Adagrad
  under a constant gradient; to the digits given.
- Resumption through state_dict, bit for bit.
- The compiled kernels (``steepest.kernels``) against the NumPy update they
  stand for, bit for bit, in every configuration of the tables, float32 and
  float64; the generic tests run on both paths.

Tables drive the suite: ``test_tables_cover_every_optimizer`` fails when a
name in ``OPTIMIZERS`` has no row in OPTAX_CASES, TORCH_CASES or NAIVE, so no
optimizer can skip it; the generic tests are parametrized over OPTIMIZERS.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import steepest as st
from steepest import kernels
from steepest.optim import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    RMSprop,
    clip_grad_norm,
    make_optimizer,
)

NAMES = list(OPTIMIZERS)
STEPS = 100
RTOL = 1e-10
HAVE_KERNELS = kernels.enabled()


@contextlib.contextmanager
def update_path(path: str):
    """Run the body with compiled kernels on ("kernels") or off ("numpy")."""
    if path == "kernels" and not HAVE_KERNELS:
        pytest.skip(f"compiled loops are off or unavailable ({kernels._failure})")
    previous = kernels.set_enabled(path == "kernels")
    try:
        yield
    finally:
        kernels.set_enabled(previous)


@pytest.fixture(params=["numpy", "kernels"])
def path(request):
    """Each test using it runs once per update path."""
    with update_path(request.param):
        yield request.param


# -- the problem: a tanh MLP (3 -> 5 -> 2, squared error) plus a quadratic ----

_rng = np.random.default_rng(0)
X = _rng.normal(size=(16, 3))
Y = _rng.normal(size=(16, 2))
A = np.array([1.0, 4.0, 0.25])  # curvatures of the quadratic 1/2 sum A q^2
P0 = [
    0.5 * _rng.normal(size=(5, 3)),  # w1
    0.1 * _rng.normal(size=5),  # b1
    0.5 * _rng.normal(size=(2, 5)),  # w2
    0.1 * _rng.normal(size=2),  # b2
    np.array([1.0, -2.0, 3.0]),  # q
]
MLP_SIZE = 15 + 5 + 10 + 2  # the first values of the flat vector; q follows


def make_params(dtype: str = "float64") -> list[st.Tensor]:
    return [st.tensor(p, requires_grad=True, dtype=dtype) for p in P0]


def loss(params: list[st.Tensor]) -> st.Tensor:
    w1, b1, w2, b2, q = params
    h = st.tanh(st.linear(X, w1, b1))  # (16, 5)
    e = st.linear(h, w2, b2) - Y  # (16, 2)
    return (e * e).mean() + 0.5 * (A * q * q).sum()


def flat(params: list[st.Tensor]) -> np.ndarray:
    return np.concatenate([p.data.ravel() for p in params])


def trajectory(name: str, steps: int = STEPS, **kwargs: Any) -> np.ndarray:
    """(steps, n): the parameters after each update, from steepest."""
    params = make_params()
    opt = make_optimizer(name, params, **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss(params).backward()
        opt.step()
        out.append(flat(params))
    return np.array(out)


def assert_same_trajectory(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal to RTOL relative, the MLP and the quadratic each on its scale."""
    assert ours.shape == theirs.shape
    for part in (slice(0, MLP_SIZE), slice(MLP_SIZE, None)):
        a, b = ours[:, part], theirs[:, part]
        err = np.max(np.abs(a - b), axis=1) / np.max(np.abs(b), axis=1)
        worst = int(np.argmax(err))
        assert err[worst] <= RTOL, f"step {worst + 1}: relative error {err[worst]:.3e}"


def constant_then_drop(step: int) -> float:
    """The learning-rate change used across the momentum forms."""
    return 0.1 if step < 50 else 0.02


# -- Optax --------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One peer configuration and the arguments of ours that reproduce it."""

    id: str
    name: str  # a key of OPTIMIZERS
    ours: dict[str, Any]
    theirs: Callable  # (optax or torch module, lr) -> the peer's optimizer
    lr: float | Callable = 0.05
    kwargs: dict[str, Any] = field(default_factory=dict)  # extra, for the peer


def _jax_lr(lr):
    """A schedule of ours as Optax wants it (a function of a jax count)."""
    if lr is constant_then_drop:
        import jax.numpy as jnp

        return lambda count: jnp.where(count < 50, 0.1, 0.02)
    return lr


OPTAX_CASES = [
    Case("sgd", "sgd", {}, lambda o, lr: o.sgd(lr)),
    Case(
        "sgd-l2",
        "sgd",
        {"weight_decay": 0.01},
        lambda o, lr: o.chain(o.add_decayed_weights(0.01), o.sgd(lr)),
    ),
    Case("momentum", "momentum", {}, lambda o, lr: o.sgd(lr, momentum=0.9)),
    Case(
        "momentum-trace",
        "momentum",
        {"momentum_form": "trace"},
        lambda o, lr: o.sgd(lr, momentum=0.9),
    ),
    # Across a change of learning rate: the trace is optax.sgd; the velocity
    # is Optax's trace applied after the learning rate.
    Case(
        "momentum-trace-lr-change",
        "momentum",
        {"momentum_form": "trace"},
        lambda o, lr: o.sgd(lr, momentum=0.9),
        lr=constant_then_drop,
    ),
    Case(
        "momentum-velocity-lr-change",
        "momentum",
        {"momentum_form": "velocity"},
        lambda o, lr: o.chain(o.scale_by_learning_rate(lr), o.trace(0.9)),
        lr=constant_then_drop,
    ),
    Case(
        "nesterov", "nesterov", {}, lambda o, lr: o.sgd(lr, momentum=0.9, nesterov=True)
    ),
    Case(
        "nesterov-trace-lr-change",
        "nesterov",
        {"momentum_form": "trace"},
        lambda o, lr: o.sgd(lr, momentum=0.9, nesterov=True),
        lr=constant_then_drop,
    ),
    Case(
        "nesterov-velocity-lr-change",
        "nesterov",
        {},
        lambda o, lr: o.chain(
            o.scale_by_learning_rate(lr), o.trace(0.9, nesterov=True)
        ),
        lr=constant_then_drop,
    ),
    Case(
        "adagrad",
        "adagrad",
        {},
        lambda o, lr: o.adagrad(lr, initial_accumulator_value=0.0, eps=1e-8),
    ),
    Case(
        "adagrad-optax-defaults",
        "adagrad",
        {"initial_accumulator": 0.1, "eps_root": 1e-7},
        lambda o, lr: o.adagrad(lr),
        lr=0.1,
    ),
    Case("rmsprop", "rmsprop", {}, lambda o, lr: o.rmsprop(lr, decay=0.9, eps=1e-8)),
    Case(
        "rmsprop-eps-outside",
        "rmsprop",
        {"eps": 1e-8, "eps_root": 0.0},
        lambda o, lr: o.rmsprop(lr, decay=0.9, eps=1e-8, eps_in_sqrt=False),
    ),
    # r - m^2 cancels: with a tiny eps_root, rounding in the last place of r
    # and m (which differs between any two libraries) grows to 1e-9 within
    # 100 steps on this problem; a larger eps_root keeps it well conditioned.
    Case(
        "rmsprop-centered",
        "rmsprop",
        {"centered": True, "eps_root": 1e-4},
        lambda o, lr: o.rmsprop(lr, decay=0.9, eps=1e-4, centered=True),
        lr=0.005,
    ),
    Case(
        "rmsprop-momentum",
        "rmsprop",
        {"momentum": 0.9},
        lambda o, lr: o.rmsprop(lr, decay=0.9, eps=1e-8, momentum=0.9),
        lr=0.005,
    ),
    Case("adam", "adam", {}, lambda o, lr: o.adam(lr, eps=0.0, eps_root=1e-8)),
    Case(
        "adam-optax-defaults",
        "adam",
        {"eps": 1e-8, "eps_root": 0.0},
        lambda o, lr: o.adam(lr),
    ),
    Case(
        "adam-lr-change",
        "adam",
        {"eps": 1e-8, "eps_root": 0.0},
        lambda o, lr: o.adam(lr),
        lr=constant_then_drop,
    ),
    Case(
        "adamw",
        "adamw",
        {},
        lambda o, lr: o.adamw(lr, eps=0.0, eps_root=1e-8, weight_decay=0.01),
    ),
    Case(
        "adamw-optax-eps",
        "adamw",
        {"eps": 1e-8, "eps_root": 0.0, "weight_decay": 0.1},
        lambda o, lr: o.adamw(lr, weight_decay=0.1),
    ),
]


@pytest.fixture(scope="module")
def jax_grad():
    """The loss's gradient in JAX, float64, compiled once for every case."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jax_loss(p):
        w1, b1, w2, b2, q = p
        h = jnp.tanh(X @ w1.T + b1)  # (16, 5)
        e = h @ w2.T + b2 - Y  # (16, 2)
        return jnp.mean(e * e) + 0.5 * jnp.sum(A * q * q)

    return jax, jax.jit(jax.grad(jax_loss))


@pytest.mark.parametrize("case", OPTAX_CASES, ids=lambda c: c.id)
def test_trajectory_equals_optax(case, jax_grad):
    optax = pytest.importorskip("optax")
    jax, grad = jax_grad
    tx = case.theirs(optax, _jax_lr(case.lr))

    @jax.jit
    def update(g, state, p):
        updates, state = tx.update(g, state, p)
        p = optax.apply_updates(p, updates)
        return p, state, jax.numpy.concatenate([v.ravel() for v in p])

    p = [jax.numpy.asarray(v) for v in P0]
    state = tx.init(p)
    theirs = []
    for _ in range(STEPS):
        p, state, values = update(grad(p), state, p)
        theirs.append(values)
    ours = trajectory(case.name, lr=case.lr, **case.ours)
    assert_same_trajectory(ours, np.array(theirs))


def test_momentum_forms_agree_until_the_learning_rate_changes():
    for name in ("momentum", "nesterov"):
        velocity = trajectory(name, lr=constant_then_drop, momentum_form="velocity")
        trace = trajectory(name, lr=constant_then_drop, momentum_form="trace")
        np.testing.assert_allclose(velocity[:50], trace[:50], rtol=1e-12, atol=1e-14)
        assert np.max(np.abs(velocity[50:] - trace[50:])) > 1e-4


# -- PyTorch, where installed -------------------------------------------------

TORCH_CASES = [
    Case("sgd", "sgd", {}, lambda t, p, lr: t.optim.SGD(p, lr=lr)),
    Case(
        "sgd-l2",
        "sgd",
        {"weight_decay": 0.01},
        lambda t, p, lr: t.optim.SGD(p, lr=lr, weight_decay=0.01),
    ),
    Case(
        "momentum",
        "momentum",
        {"momentum_form": "trace"},
        lambda t, p, lr: t.optim.SGD(p, lr=lr, momentum=0.9),
    ),
    Case(
        "momentum-lr-change",
        "momentum",
        {"momentum_form": "trace"},
        lambda t, p, lr: t.optim.SGD(p, lr=lr, momentum=0.9),
        lr=constant_then_drop,
    ),
    Case(
        "nesterov",
        "nesterov",
        {"momentum_form": "trace"},
        lambda t, p, lr: t.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    ),
    Case(
        "adagrad",
        "adagrad",
        {"eps": 1e-10, "eps_root": 0.0},
        lambda t, p, lr: t.optim.Adagrad(p, lr=lr),
    ),
    Case(
        "rmsprop",
        "rmsprop",
        {"eps": 1e-8, "eps_root": 0.0, "beta": 0.99},
        lambda t, p, lr: t.optim.RMSprop(p, lr=lr),
        lr=0.01,
    ),
    Case(
        "rmsprop-centered-momentum",
        "rmsprop",
        {
            "eps": 1e-8,
            "eps_root": 0.0,
            "centered": True,
            "momentum": 0.9,
            "momentum_form": "trace",
        },
        lambda t, p, lr: t.optim.RMSprop(
            p, lr=lr, alpha=0.9, centered=True, momentum=0.9
        ),
        lr=0.005,
    ),
    Case(
        "adam",
        "adam",
        {"eps": 1e-8, "eps_root": 0.0, "weight_decay": 0.01},
        lambda t, p, lr: t.optim.Adam(p, lr=lr, weight_decay=0.01),
    ),
    Case(
        "adamw",
        "adamw",
        {"eps": 1e-8, "eps_root": 0.0, "weight_decay": 0.1},
        lambda t, p, lr: t.optim.AdamW(p, lr=lr, weight_decay=0.1),
    ),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_trajectory_equals_torch(case):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in P0]
    x, y, a = (torch.tensor(v, dtype=torch.float64) for v in (X, Y, A))
    schedule = case.lr if callable(case.lr) else None
    opt = case.theirs(torch, params, schedule(0) if schedule else case.lr)
    theirs = []
    for step in range(STEPS):
        if schedule is not None:
            for group in opt.param_groups:
                group["lr"] = schedule(step)
        opt.zero_grad()
        w1, b1, w2, b2, q = params
        e = torch.tanh(x @ w1.T + b1) @ w2.T + b2 - y
        ((e * e).mean() + 0.5 * (a * q * q).sum()).backward()
        opt.step()
        theirs.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    ours = trajectory(case.name, lr=case.lr, **case.ours)
    assert_same_trajectory(ours, np.array(theirs))


# -- the algorithm boxes, naively ---------------------------------------------
#
# Each function does one update of the list theta from the list g, one Python
# float at a time, keeping its buffers in the dict state; t counts from 1.
# Hyperparameters are the defaults of the class.


def naive_sgd(theta, g, state, t, lr):
    for i in range(len(theta)):
        theta[i] = theta[i] - lr * g[i]


def naive_momentum(theta, g, state, t, lr, beta=0.9):
    v = state.setdefault("v", [0.0] * len(theta))
    for i in range(len(theta)):
        v[i] = beta * v[i] - lr * g[i]
        theta[i] = theta[i] + v[i]


def naive_nesterov(theta, g, state, t, lr, beta=0.9):
    v = state.setdefault("v", [0.0] * len(theta))
    for i in range(len(theta)):
        v[i] = beta * v[i] - lr * g[i]
        theta[i] = theta[i] + beta * v[i] - lr * g[i]


def naive_adagrad(theta, g, state, t, lr, eps=1e-8):
    r = state.setdefault("r", [0.0] * len(theta))
    for i in range(len(theta)):
        r[i] = r[i] + g[i] ** 2
        theta[i] = theta[i] - lr * g[i] / math.sqrt(r[i] + eps)


def naive_rmsprop(theta, g, state, t, lr, beta=0.9, eps=1e-8):
    r = state.setdefault("r", [0.0] * len(theta))
    for i in range(len(theta)):
        r[i] = beta * r[i] + (1 - beta) * g[i] ** 2
        theta[i] = theta[i] - lr * g[i] / math.sqrt(r[i] + eps)


def naive_adam(theta, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.0):
    s = state.setdefault("s", [0.0] * len(theta))
    r = state.setdefault("r", [0.0] * len(theta))
    for i in range(len(theta)):
        s[i] = beta1 * s[i] + (1 - beta1) * g[i]
        r[i] = beta2 * r[i] + (1 - beta2) * g[i] ** 2
        s_hat = s[i] / (1 - beta1**t)
        r_hat = r[i] / (1 - beta2**t)
        theta[i] = theta[i] - lr * s_hat / math.sqrt(r_hat + eps) - lr * wd * theta[i]


def naive_adamw(theta, g, state, t, lr):
    naive_adam(theta, g, state, t, lr, wd=0.01)


def naive_adam_step_size(theta, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    s = state.setdefault("s", [0.0] * len(theta))
    r = state.setdefault("r", [0.0] * len(theta))
    lr_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    for i in range(len(theta)):
        s[i] = beta1 * s[i] + (1 - beta1) * g[i]
        r[i] = beta2 * r[i] + (1 - beta2) * g[i] ** 2
        theta[i] = theta[i] - lr_t * s[i] / math.sqrt(r[i] + eps)


NAIVE = {
    "sgd": (naive_sgd, {}),
    "momentum": (naive_momentum, {}),
    "nesterov": (naive_nesterov, {}),
    "adagrad": (naive_adagrad, {}),
    "rmsprop": (naive_rmsprop, {}),
    "adam": (naive_adam, {}),
    "adamw": (naive_adamw, {}),
    "adam-step-size": (naive_adam_step_size, {"bias_correction": "step_size"}),
}


def box_gradient(theta: np.ndarray) -> np.ndarray:
    """A smooth, nonlinear gradient field, so every coordinate differs."""
    return np.array([1.0, 4.0, 0.3, 2.0]) * theta + 0.5 * np.sin(3 * theta)


@pytest.mark.parametrize("key", list(NAIVE))
def test_default_equals_naive_algorithm_box(key):
    naive, options = NAIVE[key]
    name = key.split("-")[0]
    lr = 0.02
    w = st.tensor([1.0, -0.5, 2.0, 0.1], requires_grad=True, dtype="float64")
    opt = make_optimizer(name, [w], lr=lr, **options)
    theta, state = [1.0, -0.5, 2.0, 0.1], {}
    for t in range(1, 51):
        g = box_gradient(np.array(theta))
        naive(theta, list(g), state, t, lr)
        opt.zero_grad()
        w.grad[...] = box_gradient(w.data)
        opt.step()
        np.testing.assert_allclose(w.data, theta, rtol=1e-12, atol=0)


def test_tables_cover_every_optimizer():
    for table in (OPTAX_CASES, TORCH_CASES):
        assert set(NAMES) <= {case.name for case in table}
    assert set(NAMES) <= set(NAIVE)


# -- compiled kernels ---------------------------------------------------------

KERNEL_CASES = {f"{case.name}-{case.id}": case for case in OPTAX_CASES + TORCH_CASES}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("key", sorted(KERNEL_CASES))
def test_kernel_is_bitwise_the_numpy_update(key, dtype):
    # Each kernel runs the NumPy update's operations in the same order and
    # dtype, so the two paths agree exactly, not just closely.
    case = KERNEL_CASES[key]
    results = []
    for path in ("numpy", "kernels"):
        with update_path(path):
            params = make_params(dtype)
            opt = make_optimizer(case.name, params, lr=case.lr, **case.ours)
            take_steps(opt, params, 60)
        results.append((flat(params), opt.state_dict()["buffers"]))
    (theta_a, state_a), (theta_b, state_b) = results
    assert theta_a.dtype == np.dtype(dtype)
    assert np.array_equal(theta_a, theta_b)
    for k in state_a:
        assert np.array_equal(state_a[k], state_b[k]), k


@pytest.mark.parametrize("name", NAMES)
def test_every_optimizer_has_a_kernel(name):
    opt = make_optimizer(name, make_params())
    assert isinstance(opt._kernel(0.1, 1)[0], kernels.Kernel)


@pytest.mark.parametrize("name", ["adam", "rmsprop", "nesterov", "adagrad"])
def test_kernel_keeps_nan_and_inf_as_numpy_does(name):
    # Infinite, nan and huge gradients give inf and nan in the kernel as in
    # NumPy (no exception); the two paths agree on them too.
    results = []
    for path in ("numpy", "kernels"):
        with update_path(path):
            w = st.tensor([1.0, 0.0, -2.0, 3.0], requires_grad=True)
            opt = make_optimizer(name, [w], lr=0.1)
            w.grad[...] = [np.inf, 0.0, np.nan, 1e30]
            with np.errstate(all="ignore"):
                opt.step()
            results.append(w.data.copy())
    assert np.array_equal(results[0], results[1], equal_nan=True)
    assert not np.all(np.isfinite(results[0]))


@pytest.mark.parametrize(
    "make, change",
    [
        (lambda p: SGD(p, lr=0.1, momentum=0.9), lambda o: setattr(o, "momentum", 0)),
        (
            lambda p: RMSprop(p, lr=0.1, momentum=0.9, momentum_form="trace"),
            lambda o: setattr(o, "momentum", 0.5),
        ),
        (lambda p: Adagrad(p, lr=0.1), lambda o: setattr(o, "eps", 0)),
        (lambda p: Adam(p, lr=0.1), lambda o: setattr(o, "beta1", 0.5)),
    ],
    ids=["sgd-momentum-off", "rmsprop-momentum-changed", "int-eps", "adam-beta1"],
)
def test_settings_changed_between_steps_agree_on_both_paths(make, change):
    # Settings changed between steps are used from the next step on, the
    # same way on both paths; a number given as an int is still a real.
    results = []
    for path in ("numpy", "kernels"):
        with update_path(path):
            w = st.tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
            opt = make([w])
            for t in range(6):
                if t == 3:
                    change(opt)
                w.grad[...] = np.cos(np.arange(6) + t)
                opt.step()
        results.append((w.data.copy(), opt.state_dict()["buffers"]))
    (a, state_a), (b, state_b) = results
    assert np.array_equal(a, b)
    for k in state_a:
        assert np.array_equal(state_a[k], state_b[k])


@pytest.mark.parametrize(
    "make, attr, value",
    [
        (lambda p: SGD(p), "momentum", 0.9),
        (lambda p: SGD(p, momentum=0.9), "momentum_form", "trace"),
        (lambda p: RMSprop(p), "centered", True),
        (lambda p: RMSprop(p, centered=True), "centered", False),
        (lambda p: RMSprop(p), "momentum", 0.5),
    ],
)
def test_settings_that_decide_the_buffers_are_fixed(make, attr, value):
    opt = make(make_params())
    before = getattr(opt, attr)
    with pytest.raises(ValueError, match=f"{attr} decides which buffers"):
        setattr(opt, attr, value)
    assert getattr(opt, attr) == before
    setattr(opt, attr, before)  # the same value is fine
    with pytest.raises(ValueError, match="must be in"):
        SGD(make_params(), momentum=0.9).momentum = 1.5


# -- pinned disagreements and closed forms ------------------------------------


def run_constant(make: Callable, steps: int, g: float, theta0: float) -> list[float]:
    """theta after each of ``steps`` updates under a constant gradient g."""
    w = st.tensor([theta0], requires_grad=True, dtype="float64")
    opt = make([w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        w.grad[...] = g
        opt.step()
        out.append(float(w.data[0]))
    return out


def test_adam_eps_outside_moments_versus_step_size_form():
    # eps 1e-3 outside the root (PyTorch, Optax) against the step-size form
    # with the same eps (Keras' epsilon hat).
    def adam(**kw):
        return lambda p: Adam(p, lr=1e-3, eps=1e-3, eps_root=0.0, **kw)

    moments = run_constant(adam(), 3, 0.01, 1.0)
    step_size = run_constant(adam(bias_correction="step_size"), 3, 0.01, 1.0)
    expected_moments = [9.0909e-4, 1.8182e-3, 2.7273e-3]
    expected_step_size = [2.4025e-4, 5.4922e-4, 9.0299e-4]
    np.testing.assert_allclose([1 - x for x in moments], expected_moments, rtol=1e-4)
    np.testing.assert_allclose(
        [1 - x for x in step_size], expected_step_size, rtol=1e-4
    )


def test_adam_first_step_has_size_lr():
    assert run_constant(lambda p: Adam(p, lr=0.1), 1, 0.5, 1.0)[0] == pytest.approx(
        0.9, abs=1e-8
    )


def test_rmsprop_eps_outside_versus_inside():
    def rmsprop(eps, eps_root):
        return lambda p: RMSprop(p, lr=0.01, beta=0.9, eps=eps, eps_root=eps_root)

    outside = run_constant(rmsprop(1.0, 0.0), 2, 1.0, 0.0)
    inside = run_constant(rmsprop(0.0, 1.0), 2, 1.0, 0.0)
    np.testing.assert_allclose(outside, [-0.0075975, -0.0145618], atol=5e-8)
    np.testing.assert_allclose(inside, [-0.0095346, -0.0187016], atol=5e-8)


def test_adagrad_initial_accumulator():
    zero = run_constant(lambda p: Adagrad(p, lr=0.1), 2, 0.1, 0.0)
    keras = run_constant(
        lambda p: Adagrad(p, lr=0.1, initial_accumulator=0.1), 2, 0.1, 0.0
    )
    np.testing.assert_allclose(zero, [-0.1, -0.170711], atol=5e-7)
    np.testing.assert_allclose(keras, [-0.030151, -0.059019], atol=5e-7)


@pytest.mark.parametrize("form", ["velocity", "trace"])
def test_momentum_and_nesterov_on_a_parabola(form):
    def run(nesterov):
        w = st.tensor([1.0], requires_grad=True, dtype="float64")
        opt = SGD([w], lr=0.1, momentum=0.9, nesterov=nesterov, momentum_form=form)
        out = []
        for _ in range(3):
            opt.zero_grad()
            (w * w / 2).sum().backward()
            opt.step()
            out.append(float(w.data[0]))
        return out

    np.testing.assert_allclose(run(True), [0.81, 0.5751, 0.327321], rtol=1e-12)
    np.testing.assert_allclose(run(False), [0.9, 0.72, 0.486], rtol=1e-12)


def test_weight_decay_coupled_and_decoupled():
    adam_l2 = run_constant(lambda p: Adam(p, lr=1e-3, weight_decay=0.1), 1, 0.0, 1.0)
    adamw = run_constant(lambda p: AdamW(p, lr=1e-3, weight_decay=0.1), 1, 0.0, 1.0)
    sgd = run_constant(lambda p: SGD(p, lr=0.1, weight_decay=0.1), 1, 0.0, 1.0)
    assert adam_l2[0] == pytest.approx(0.999, abs=1e-8)
    assert adamw[0] == pytest.approx(0.9999, abs=1e-12)
    assert sgd[0] == pytest.approx(0.99, abs=1e-12)


def test_adagrad_closed_form_under_a_constant_gradient():
    lr, g0, eps = 0.1, 0.3, 1e-8
    thetas = run_constant(lambda p: Adagrad(p, lr=lr, eps_root=eps), 50, g0, 0.0)
    moves = -np.diff([0.0] + thetas)
    t = np.arange(1, 51)
    np.testing.assert_allclose(moves, lr * g0 / np.sqrt(t * g0**2 + eps), rtol=1e-12)


# -- state, resumption, buffers -----------------------------------------------


def take_steps(opt, params, n):
    for _ in range(n):
        opt.zero_grad()
        loss(params).backward()
        opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_resume_from_state_dict_is_bit_for_bit(name, path):
    straight = make_params()
    take_steps(make_optimizer(name, straight, lr=0.01), straight, 4)

    params = make_params()
    opt = make_optimizer(name, params, lr=0.01)
    take_steps(opt, params, 2)
    state = opt.state_dict()
    # The model as a checkpoint restores it: new tensors, the same values.
    copies = [st.tensor(p.data, requires_grad=True, dtype="float64") for p in params]
    take_steps(opt, params, 1)  # the saved state is a copy: this must not leak
    fresh = make_optimizer(name, copies, lr=0.01)
    fresh.load_state_dict(state)
    assert fresh.step_count == 2
    take_steps(fresh, copies, 2)
    for a, b in zip(straight, copies, strict=True):
        assert np.array_equal(a.data, b.data)


def test_adam_resume_four_steps_bit_for_bit():
    def halving(step):  # a schedule: resuming must pick it up at step 2
        return 1e-2 * 0.5**step

    straight = make_params()
    take_steps(Adam(straight, lr=halving), straight, 4)
    params = make_params()
    opt = Adam(params, lr=halving)
    take_steps(opt, params, 2)
    state = opt.state_dict()
    copies = [st.tensor(p.data, requires_grad=True, dtype="float64") for p in params]
    fresh = Adam(copies, lr=halving)
    fresh.load_state_dict(state)
    assert fresh.lr == halving(2)
    take_steps(fresh, copies, 2)
    assert all(
        np.array_equal(a.data, b.data) for a, b in zip(straight, copies, strict=True)
    )


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_holds_plain_values_and_copies(name):
    params = make_params()
    opt = make_optimizer(name, params, lr=0.01)
    take_steps(opt, params, 1)
    state = opt.state_dict()
    assert state["step"] == 1 and state["optimizer"] == type(opt).__name__
    for value in state["hyperparameters"].values():
        assert value is None or isinstance(value, bool | int | float | str)
    size = sum(p.data.size for p in params)
    for array in state["buffers"].values():
        assert array.shape == (size,)
        assert not any(np.shares_memory(array, b) for b in opt.flat_params)


def test_load_state_dict_refuses_mismatches():
    params = make_params()
    state = Adam(params).state_dict()
    with pytest.raises(ValueError, match="saved by 'Adam'"):
        RMSprop(make_params()).load_state_dict(state)
    small = Adam([st.tensor([1.0, 2.0], requires_grad=True)])
    with pytest.raises(ValueError, match=r"buffer '[sr]' has shape \(35,\).*\(2,\)"):
        small.load_state_dict(state)
    momentum = SGD(make_params(), momentum=0.9).state_dict()
    with pytest.raises(ValueError, match=r"\['v'\] do not match.*\['b'\]"):
        SGD(make_params(), momentum=0.9, momentum_form="trace").load_state_dict(
            momentum
        )
    with pytest.raises(ValueError, match="'step' must be an integer"):
        Adam(make_params()).load_state_dict(state | {"step": -1})
    with pytest.raises(TypeError, match="expected the dict"):
        Adam(make_params()).load_state_dict([1, 2])


@pytest.mark.parametrize("name", NAMES)
def test_parameters_become_views_of_one_flat_buffer(name):
    params = make_params()
    params[1].grad = np.full(5, 0.5)  # a gradient already there is kept
    values = [p.data.copy() for p in params]
    opt = make_optimizer(name, params)
    (theta,), (g,) = opt.flat_params, opt.flat_grads
    assert theta.size == sum(v.size for v in values)
    for p, v in zip(params, values, strict=True):
        assert np.shares_memory(p.data, theta) and np.shares_memory(p.grad, g)
        np.testing.assert_array_equal(p.data, v)
    np.testing.assert_array_equal(params[1].grad, 0.5)
    opt.zero_grad()
    assert params[1].grad is not None and not params[1].grad.any()
    assert not opt.flat_grads[0].any()
    loss(params).backward()  # writes into the views
    assert g.any()


def test_zero_grad_is_lazy_but_always_reads_as_zero():
    # After zero_grad, backward writes each gradient instead of adding it to
    # zeros; whatever is read (or not reached by backward) is zero.
    params = make_params()
    opt = SGD(params, lr=0.1)
    take_steps(opt, params, 1)
    expected = make_params()
    for p, q in zip(params, expected, strict=True):
        q.data[...] = p.data
    loss(expected).backward()  # fresh leaves: the gradient alone
    opt.zero_grad()
    params[4].grad[...] = 7.0  # read (zeros written) then set by the user
    loss(params[:4] + [params[4]]).backward()
    for p, q in zip(params[:4], expected[:4], strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)
    np.testing.assert_array_equal(params[4].grad, expected[4].grad + 7.0)
    # A parameter that backward does not reach keeps a zero gradient, and the
    # update sees zero for it.
    opt.zero_grad()
    w1, b1, w2, b2, q = params
    before = q.data.copy()
    (st.linear(X, w1, b1) ** 2).sum().backward()
    opt.step()
    np.testing.assert_array_equal(q.data, before)
    assert not w2.grad.any() and not b2.grad.any()


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name, path):
    params32, params64 = make_params("float32"), make_params("float64")
    opt32 = make_optimizer(name, params32, lr=0.01)
    opt64 = make_optimizer(name, params64, lr=0.01)
    take_steps(opt32, params32, 5)
    take_steps(opt64, params64, 5)
    for p32, p64 in zip(params32, params64, strict=True):
        assert p32.data.dtype == np.float32 and p32.grad.dtype == np.float32
        np.testing.assert_allclose(p32.data, p64.data, rtol=1e-4, atol=1e-5)
    for array in opt32.state_dict()["buffers"].values():
        assert array.dtype == np.float32


@pytest.mark.parametrize("name", NAMES)
def test_blocks_of_the_flat_buffer_change_nothing(name, path, monkeypatch):
    # The update runs block by block; 16 values a block makes several here.
    whole = make_params()
    take_steps(make_optimizer(name, whole, weight_decay=0.01), whole, 5)
    monkeypatch.setattr("steepest.optim.optimizer.BLOCK_BYTES", 128)
    monkeypatch.setattr("steepest.optim.optimizer.SINGLE_BLOCK_BYTES", 0)
    params = make_params()
    opt = make_optimizer(name, params, weight_decay=0.01)
    take_steps(opt, params, 5)
    assert len(opt._groups[0].blocks(False)) == 3  # 35 values
    for a, b in zip(whole, params, strict=True):
        assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_threaded_update_is_bitwise_the_same(name, path, monkeypatch):
    # Runs of blocks on two threads give exactly the one-thread result.
    from concurrent.futures import ThreadPoolExecutor

    from steepest.optim import optimizer as module

    whole = make_params()
    take_steps(make_optimizer(name, whole, weight_decay=0.01), whole, 5)
    monkeypatch.setattr(module, "BLOCK_BYTES", 64)
    monkeypatch.setattr(module, "SINGLE_BLOCK_BYTES", 0)
    monkeypatch.setattr(module, "PARALLEL_MIN_BLOCKS", 2)
    monkeypatch.setattr(module, "KERNEL_PARALLEL_MIN_BYTES", 128)
    with ThreadPoolExecutor(2) as pool:
        monkeypatch.setattr(module._Pool, "executor", pool)
        monkeypatch.setattr(module._Pool, "workers", 2)
        params = make_params()
        opt = make_optimizer(name, params, weight_decay=0.01)
        take_steps(opt, params, 5)
    if path == "kernels":
        assert len(opt._groups[0]._parts[1]) == 2  # one part per thread
    else:
        assert len(opt._groups[0].blocks(False)) == 5  # 35 values, 8 a block
    for a, b in zip(whole, params, strict=True):
        assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("name", ["adam", "momentum", "rmsprop"])
def test_subnormal_state_is_flushed_to_zero(name, path):
    # A moment whose gradient stopped decays by beta each step into the
    # subnormal range, where arithmetic is slow; it is set to 0 periodically.
    from steepest.optim.optimizer import FLUSH_SUBNORMALS_EVERY

    w = st.tensor(np.ones(4), requires_grad=True)  # float32
    opt = make_optimizer(name, [w], lr=1e-3)
    tiny = np.finfo(np.float32).tiny
    buffers = opt._groups[0].state
    for buffer in buffers.values():
        buffer[:] = [tiny / 4, -tiny / 8, tiny * 4, 0.5]  # two subnormals
    for _ in range(FLUSH_SUBNORMALS_EVERY):
        opt.zero_grad()
        opt.step()
    for buffer in buffers.values():
        assert buffer[0] == 0 and buffer[1] == 0
        assert buffer[3] != 0 and np.all(np.isfinite(buffer))


def test_weight_decay_switched_on_between_steps():
    params = make_params()
    opt = SGD(params, lr=0.1)
    take_steps(opt, params, 1)
    before = flat(params)
    opt.weight_decay = 0.5
    opt.zero_grad()  # zero gradient: only the decay acts
    opt.step()
    np.testing.assert_allclose(flat(params), before * (1 - 0.1 * 0.5), rtol=1e-15)


def test_mixed_dtypes_get_one_buffer_each_and_resume(path):
    def build():
        return [
            st.tensor([1.0, -2.0], requires_grad=True, dtype="float32"),
            st.tensor([[0.5, 3.0]], requires_grad=True, dtype="float64"),
        ]

    def go(opt, params, n):
        for _ in range(n):
            opt.zero_grad()
            for p in params:
                p.grad[...] = np.sin(p.data) + p.data
            opt.step()

    straight = build()
    go(Adam(straight, lr=0.1), straight, 4)
    params = build()
    opt = Adam(params, lr=0.1)
    assert [b.dtype for b in opt.flat_params] == [np.float32, np.float64]
    go(opt, params, 2)
    state = opt.state_dict()
    assert state["buffers"]["s"].shape == (4,)
    copies = [st.tensor(p.data, requires_grad=True, dtype=p.data.dtype) for p in params]
    fresh = Adam(copies, lr=0.1)
    fresh.load_state_dict(state)
    go(fresh, copies, 2)
    assert all(
        np.array_equal(a.data, b.data) for a, b in zip(straight, copies, strict=True)
    )


# -- rebinding, schedules -----------------------------------------------------


def test_rebinding_data_or_grad_is_caught():
    params = make_params()
    opt = SGD(params)
    params[2].data = params[2].data.reshape(2, 5)  # same memory: fine
    params[2].data[...] = 0.0  # in place: fine
    opt.step()
    params[3].data = params[3].data.copy()
    with pytest.raises(RuntimeError, match=r"parameter 3 \(shape \(2,\)\).*\.data"):
        opt.step()

    params = make_params()
    opt = SGD(params)
    params[0].grad = None
    with pytest.raises(RuntimeError, match=r"parameter 0 .*\.grad.*zero_grad"):
        opt.step()


def test_a_second_optimizer_takes_the_parameters_over():
    params = make_params()
    first = SGD(params)
    second = Adam(params)
    second.step()
    with pytest.raises(RuntimeError, match="rebound"):
        first.step()


def test_schedule_is_read_at_the_step_count():
    w = st.tensor([1.0], requires_grad=True, dtype="float64")
    opt = SGD([w], lr=lambda step: 0.1 / (1 + step))
    seen = []
    for _ in range(3):
        seen.append(opt.lr)
        w.grad[...] = 1.0
        opt.step()
    assert seen == [0.1, 0.05, 0.1 / 3]
    np.testing.assert_allclose(w.data, 1 - sum(seen), rtol=1e-15)
    assert opt.hyperparameters["lr"] is None
    opt.lr = 0.5
    assert opt.lr == 0.5
    opt.lr = lambda step: -1.0
    with pytest.raises(ValueError, match="schedule returned -1.0 at step 3"):
        opt.step()


# -- bad inputs ---------------------------------------------------------------

BAD_FOR_EVERY_OPTIMIZER = [
    ({"lr": -0.1}, ValueError, "lr must be a finite number >= 0"),
    ({"lr": float("nan")}, ValueError, "lr must be a finite number >= 0 or a sch"),
    ({"lr": float("inf")}, ValueError, "lr must be"),
    ({"lr": "0.1"}, TypeError, "lr must be a number, got str '0.1'"),
    ({"lr": True}, TypeError, "lr must be a number"),
    ({"weight_decay": -1e-4}, ValueError, "weight_decay must be a finite number >= 0"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kwargs, error, message", BAD_FOR_EVERY_OPTIMIZER)
def test_bad_common_hyperparameters(name, kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_optimizer(name, make_params(), **kwargs)


BAD_HYPERPARAMETERS = [
    (SGD, {"momentum": -0.1}, ValueError, "SGD: momentum must be in [0, 1), got -0.1"),
    (SGD, {"momentum": 1.0}, ValueError, "momentum must be in [0, 1), got 1.0"),
    (SGD, {"nesterov": True}, ValueError, "nesterov=True needs momentum > 0"),
    (SGD, {"momentum_form": "pytorch"}, ValueError, "momentum_form must be one of"),
    (Adagrad, {"initial_accumulator": -1}, ValueError, "initial_accumulator must be"),
    (Adagrad, {"eps": -1e-10}, ValueError, "Adagrad: eps must be a finite number"),
    (Adagrad, {"eps_root": 0.0}, ValueError, "eps and eps_root are both 0"),
    (RMSprop, {"beta": 1.5}, ValueError, "RMSprop: beta must be in [0, 1), got 1.5"),
    (RMSprop, {"eps_root": -1.0}, ValueError, "eps_root must be a finite number >= 0"),
    (RMSprop, {"momentum": 0.9, "momentum_form": "x"}, ValueError, "momentum_form"),
    (Adam, {"beta1": 1.0}, ValueError, "Adam: beta1 must be in [0, 1), got 1.0"),
    (Adam, {"beta2": -0.5}, ValueError, "beta2 must be in [0, 1), got -0.5"),
    (Adam, {"beta2": None}, TypeError, "beta2 must be a number, got NoneType"),
    (Adam, {"eps": -1e-8}, ValueError, "Adam: eps must be a finite number >= 0"),
    (Adam, {"bias_correction": "paper"}, ValueError, "bias_correction must be one of"),
    (AdamW, {"weight_decay": -0.01}, ValueError, "AdamW: weight_decay must be"),
]


@pytest.mark.parametrize(
    "cls, kwargs, error, message",
    BAD_HYPERPARAMETERS,
    ids=[f"{c.__name__}-{list(k)[0]}" for c, k, _, _ in BAD_HYPERPARAMETERS],
)
def test_bad_hyperparameters(cls, kwargs, error, message):
    with pytest.raises(error) as info:
        cls(make_params(), **kwargs)
    assert message in str(info.value)


def _int_tensor():
    return st.tensor([1, 2])


def _constant():
    return st.tensor([1.0])


BAD_PARAMS = [
    (lambda: [], ValueError, "params is empty"),
    (lambda: iter([]), ValueError, "params is empty"),
    (lambda: st.tensor([1.0], requires_grad=True), TypeError, "a single Tensor"),
    (lambda: 3, TypeError, "must be an iterable of tensors"),
    (lambda: [np.zeros(3)], TypeError, "params[0] is a ndarray, not a Tensor"),
    (lambda: [_int_tensor()], TypeError, "params[0] (shape (2,)) has dtype int64"),
    (lambda: [_constant()], ValueError, "params[0] (shape (1,)) has requires_grad"),
]


@pytest.mark.parametrize("build, error, message", BAD_PARAMS)
def test_bad_params(build, error, message):
    with pytest.raises(error) as info:
        Adam(build())
    assert message in str(info.value)


def test_repeated_and_non_leaf_params_are_refused():
    w = st.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"params\[2\] .* same tensor as params\[0\]"):
        SGD([w, st.tensor([0.0], requires_grad=True), w])
    with pytest.raises(ValueError, match="not a leaf"):
        SGD([w * 2])


def test_parameters_may_come_from_a_generator():
    params = make_params()
    opt = Adam(p for p in params)
    assert opt.params == tuple(params)


# -- registry -----------------------------------------------------------------


def test_make_optimizer_names_and_overrides():
    params = make_params()
    assert isinstance(make_optimizer("Adam", params), Adam)
    opt = make_optimizer("nesterov", make_params(), momentum=0.5)
    assert (opt.momentum, opt.nesterov) == (0.5, True)
    assert make_optimizer("momentum", make_params()).momentum == 0.9
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; choose one of"):
        make_optimizer("lbfgs", make_params())


# -- clipping -----------------------------------------------------------------


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_norm_before():
    params = make_params()
    loss(params).backward()
    grads = np.concatenate([p.grad.ravel() for p in params])
    before = float(np.linalg.norm(grads))
    assert clip_grad_norm(params, before / 4) == pytest.approx(before, rel=1e-12)
    after = np.concatenate([p.grad.ravel() for p in params])
    np.testing.assert_allclose(after, grads / 4, rtol=1e-12)
    assert clip_grad_norm(params, before) == pytest.approx(before / 4, rel=1e-12)
    np.testing.assert_array_equal(
        np.concatenate([p.grad.ravel() for p in params]), after
    )


def test_clip_grad_norm_on_an_optimizer_equals_on_its_tensors():
    a, b = make_params(), make_params()
    opt = SGD(a)
    for params in (a, b):
        loss(params).backward()
    assert clip_grad_norm(opt, 0.5) == pytest.approx(clip_grad_norm(b, 0.5), rel=1e-12)
    for p, q in zip(a, b, strict=True):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12)
    assert np.linalg.norm(opt.flat_grads[0]) == pytest.approx(0.5, rel=1e-12)


def test_clip_grad_norm_bad_input_and_non_finite_norms():
    w = st.tensor([1.0, 2.0], requires_grad=True)
    w.grad = np.array([np.inf, 1.0], dtype=np.float32)
    assert clip_grad_norm(w, 1.0) == math.inf
    np.testing.assert_array_equal(w.grad, [np.inf, 1.0])
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="max_norm must be a finite number > 0"):
            clip_grad_norm([w], bad)
    with pytest.raises(TypeError, match=r"params\[0\] is a ndarray"):
        clip_grad_norm([np.zeros(2)], 1.0)


# -- docstring examples -------------------------------------------------------

MODULES = [
    "",
    ".optimizer",
    ".sgd",
    ".adagrad",
    ".rmsprop",
    ".adam",
    ".clip",
    ".registry",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module("steepest.optim" + module))
    assert result.failed == 0
