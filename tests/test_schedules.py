"""Tests of steepest.schedules against naive formulas, Optax and pinned values.

Every schedule is compared with a reference written out independently here, at
every step 0..10,000 (which includes every boundary and restart of the configs
below), to a relative tolerance of 1e-12. Where Optax defines the same schedule
the two agree to 1e-12 in float64; where the conventions differ the test says
which convention each side follows.
"""

from __future__ import annotations

import csv
import doctest
import json
import math

import numpy as np
import pytest

from steepest import schedules as S
from steepest.cli import UsageError, main

STEPS = np.arange(10_001)
RTOL = 1e-12


# ----------------------------------------------------------------------------
# Naive references, one per schedule, as the Keras/Optax docs and papers write
# them: floats and loops, no shared helpers with the library.


def ref_exponential(initial, decay_steps, rate, staircase=False):
    def f(t):
        p = t / decay_steps
        return initial * rate ** (math.floor(p) if staircase else p)

    return f


def ref_polynomial(initial, decay_steps, end=0.0001, power=1.0, cycle=False):
    def f(t):
        T = decay_steps
        if cycle:
            T = decay_steps * (1 if t == 0 else math.ceil(t / decay_steps))
        else:
            t = min(t, T)
        return (initial - end) * (1 - t / T) ** power + end

    return f


def ref_inverse_time(initial, decay_steps, rate, staircase=False):
    def f(t):
        p = t / decay_steps
        return initial / (1 + rate * (math.floor(p) if staircase else p))

    return f


def ref_inverse_sqrt(initial, warmup=0):
    # Vaswani et al.: min(t ** -0.5, t * w ** -1.5), rescaled to peak at initial.
    def f(t):
        if warmup == 0:
            return initial / math.sqrt(max(t, 1))
        shape = min(max(t, 1) ** -0.5, t * warmup**-1.5)
        return initial * math.sqrt(warmup) * shape

    return f


def ref_cosine(initial, decay_steps, alpha=0.0):
    def f(t):
        if t >= decay_steps:
            return alpha * initial
        c = (1 + math.cos(math.pi * t / decay_steps)) / 2
        return alpha * initial + (1 - alpha) * initial * c

    return f


def ref_restarts(initial, first, t_mul=2.0, m_mul=1.0, alpha=0.0):
    # Walk the cycles one by one.
    def f(t):
        i, start, length = 0, 0.0, float(first)
        while t >= start + length:
            start += length
            length *= t_mul
            i += 1
        c = m_mul**i * (1 + math.cos(math.pi * (t - start) / length)) / 2
        return initial * ((1 - alpha) * c + alpha)

    return f


def ref_piecewise(boundaries, values):
    def f(t):
        for b, v in zip(boundaries, values, strict=False):
            if t <= b:
                return v
        return values[-1]

    return f


def ref_warmup(schedule_ref, warmup, start=0.0):
    def f(t):
        if t < warmup:
            return start + (schedule_ref(0) - start) * t / warmup
        return schedule_ref(t - warmup)

    return f


def ref_join(refs, boundaries):
    def f(t):
        current, begin = refs[0], 0
        for b, r in zip(boundaries, refs[1:], strict=True):
            if t >= b:
                current, begin = r, b
        return current(t - begin)

    return f


CASES = {
    "constant": (S.constant(0.3), lambda t: 0.3),
    "exponential": (
        S.exponential_decay(0.3, 100, 0.9),
        ref_exponential(0.3, 100, 0.9),
    ),
    "exponential_staircase": (
        S.exponential_decay(1.0, 7, 0.95, staircase=True),
        ref_exponential(1.0, 7, 0.95, staircase=True),
    ),
    "exponential_growth": (
        S.exponential_decay(1e-3, 1000, 1.5),
        ref_exponential(1e-3, 1000, 1.5),
    ),
    "polynomial": (
        S.polynomial_decay(1.0, 4000, end=0.01, power=2.0),
        ref_polynomial(1.0, 4000, end=0.01, power=2.0),
    ),
    "polynomial_cycle": (
        S.polynomial_decay(0.5, 777, power=0.5, cycle=True),
        ref_polynomial(0.5, 777, power=0.5, cycle=True),
    ),
    "inverse_time": (
        S.inverse_time_decay(0.1, 10, 0.5),
        ref_inverse_time(0.1, 10, 0.5),
    ),
    "inverse_time_staircase": (
        S.inverse_time_decay(0.1, 33, 2.0, staircase=True),
        ref_inverse_time(0.1, 33, 2.0, staircase=True),
    ),
    "inverse_sqrt": (S.inverse_sqrt_decay(1.0), ref_inverse_sqrt(1.0)),
    "inverse_sqrt_warmup": (
        S.inverse_sqrt_decay(2e-3, warmup_steps=4000),
        ref_inverse_sqrt(2e-3, 4000),
    ),
    "cosine": (S.cosine_decay(2.0, 7000, alpha=0.1), ref_cosine(2.0, 7000, 0.1)),
    "restarts_t2": (
        S.cosine_decay_restarts(1.0, 2, t_mul=2.0, m_mul=0.5),
        ref_restarts(1.0, 2, 2.0, 0.5),
    ),
    "restarts_t1": (
        S.cosine_decay_restarts(1.0, 70, t_mul=1.0, m_mul=0.99, alpha=0.1),
        ref_restarts(1.0, 70, 1.0, 0.99, 0.1),
    ),
    "restarts_t1.5": (
        S.cosine_decay_restarts(1.0, 4, t_mul=1.5),
        ref_restarts(1.0, 4, 1.5),
    ),
    "restarts_t3": (
        S.cosine_decay_restarts(0.5, 5, t_mul=3.0, m_mul=0.8, alpha=0.05),
        ref_restarts(0.5, 5, 3.0, 0.8, 0.05),
    ),
    "restarts_t1.1": (
        S.cosine_decay_restarts(1.0, 10, t_mul=1.1, m_mul=0.97),
        ref_restarts(1.0, 10, 1.1, 0.97),
    ),
    "piecewise": (
        S.piecewise_constant([0, 10, 500, 9999], [1.0, 0.5, 0.1, 0.01, 0.001]),
        ref_piecewise([0, 10, 500, 9999], [1.0, 0.5, 0.1, 0.01, 0.001]),
    ),
    "warmup_cosine": (
        S.linear_warmup(S.cosine_decay(1.0, 8000), 2000, start=0.1),
        ref_warmup(ref_cosine(1.0, 8000), 2000, start=0.1),
    ),
    "warmup_zero": (
        S.linear_warmup(S.exponential_decay(1.0, 10, 0.5), 0),
        ref_exponential(1.0, 10, 0.5),
    ),
    "join": (
        S.join(
            [
                S.constant(1.0),
                S.polynomial_decay(1.0, 100, end=0.0),
                S.cosine_decay_restarts(0.5, 64),
            ],
            [50, 5000],
        ),
        ref_join(
            [lambda t: 1.0, ref_polynomial(1.0, 100, end=0.0), ref_restarts(0.5, 64)],
            [50, 5000],
        ),
    ),
    "warmup_cosine_decay_schedule": (
        S.warmup_cosine_decay_schedule(0.0, 1.0, 1000, 10_000, end_value=0.01),
        ref_warmup(ref_cosine(1.0, 9000, 0.01), 1000),
    ),
    "piecewise_constant_schedule": (
        S.piecewise_constant_schedule(1.0, {0: 0.5, 100: 0.1, 2000: 0.1}),
        ref_piecewise([99, 1999], [0.5, 0.05, 0.005]),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_naive_reference_at_every_step(case):
    schedule, ref = CASES[case]
    got = schedule(STEPS)
    want = np.array([ref(int(t)) for t in STEPS])
    assert np.all(np.isfinite(got)), "a schedule returned NaN or inf"
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("case", sorted(CASES))
def test_scalar_call_returns_python_float_equal_to_array_call(case):
    schedule, _ = CASES[case]
    steps = [0, 1, 2, 99, 100, 101, 9999]
    values = [schedule(t) for t in steps]
    assert all(type(v) is float for v in values)
    assert values == schedule(np.array(steps)).tolist()
    assert type(schedule(np.int64(5))) is float


# ----------------------------------------------------------------------------
# Pinned values from the specification.


def test_pinned_exponential_staircase():
    lr = S.exponential_decay(1.0, 10, 0.5, staircase=True)
    assert [lr(t) for t in (0, 9, 10, 19, 20)] == [1, 1, 0.5, 0.5, 0.25]


def test_pinned_inverse_time():
    lr = S.inverse_time_decay(0.1, decay_steps=1, decay_rate=0.5)
    want = [0.1, 0.066667, 0.05, 0.04]
    assert [lr(t) for t in range(4)] == pytest.approx(want, abs=5e-7)


WARMUP_COSINE = [0, 0.25, 0.5, 0.75, 1, 0.96194, 0.853553, 0.691342, 0.5]
WARMUP_COSINE += [0.308658, 0.146447, 0.03806, 0]


@pytest.mark.parametrize(
    "lr",
    [
        S.linear_warmup(S.cosine_decay(1.0, 8), 4),
        S.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=4, decay_steps=12),
    ],
    ids=["linear_warmup", "warmup_cosine_decay_schedule"],
)
def test_pinned_warmup_then_cosine(lr):
    got = [lr(t) for t in range(13)]
    assert got == pytest.approx(WARMUP_COSINE, abs=5e-6)


def test_warmup_over_the_whole_length_gives_no_nan():
    lr = S.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=12, decay_steps=12)
    got = lr(np.arange(30))
    assert np.all(np.isfinite(got))
    assert got[:12].tolist() == pytest.approx([t / 12 for t in range(12)])
    assert got[12:].tolist() == [0.0] * 18
    assert np.all(np.isfinite(S.inverse_sqrt_decay(1.0, 12)(np.arange(30))))


def test_pinned_cosine_restarts():
    lr = S.cosine_decay_restarts(1.0, first_decay_steps=2, t_mul=2.0, m_mul=0.5)
    want = [1, 0.5, 0.5, 0.426777, 0.25, 0.073223, 0.25, 0.240485]
    assert [lr(t) for t in range(8)] == pytest.approx(want, abs=5e-7)


def test_restarts_are_exact_at_every_restart():
    # Right at a restart the rate is the new peak m_mul ** i, not the floor.
    lr = S.cosine_decay_restarts(1.0, 3, t_mul=2.0, m_mul=0.5)
    start = 0
    for i in range(20):
        assert lr(start) == 0.5**i
        assert lr(start + 3 * 2**i - 1) < 0.5**i  # the cycle's last step
        start += 3 * 2**i


# ----------------------------------------------------------------------------
# Optax, in float64.


@pytest.fixture(scope="module")
def optax():
    optax = pytest.importorskip("optax")
    jax = pytest.importorskip("jax")
    previous = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    yield optax
    jax.config.update("jax_enable_x64", previous)


def optax_values(schedule):
    import jax.numpy as jnp

    values = np.asarray(schedule(jnp.asarray(STEPS, dtype=jnp.int64)))
    assert values.dtype == np.float64
    return values


def optax_cases(optax):
    """(steepest schedule, Optax schedule) pairs defined the same way."""
    return {
        "constant_schedule": (S.constant_schedule(0.25), optax.constant_schedule(0.25)),
        "exponential_decay": (
            S.exponential_decay(1.0, 100, 0.9),
            optax.exponential_decay(1.0, transition_steps=100, decay_rate=0.9),
        ),
        "exponential_decay_staircase": (
            S.exponential_decay(1.0, 10, 0.5, staircase=True),
            optax.exponential_decay(1.0, 10, 0.5, staircase=True),
        ),
        "polynomial_schedule": (
            S.polynomial_decay(1.0, 4000, end=0.01, power=2.0),
            optax.polynomial_schedule(1.0, 0.01, 2.0, transition_steps=4000),
        ),
        "polynomial_schedule_begin": (
            S.polynomial_schedule(1.0, 0.01, 0.5, 3000, transition_begin=500),
            optax.polynomial_schedule(1.0, 0.01, 0.5, 3000, transition_begin=500),
        ),
        "linear_schedule": (
            S.linear_schedule(0.0, 1.0, 999, transition_begin=7),
            optax.linear_schedule(0.0, 1.0, 999, transition_begin=7),
        ),
        "cosine_decay_schedule": (
            S.cosine_decay_schedule(2.0, 7000, alpha=0.1),
            optax.cosine_decay_schedule(2.0, 7000, alpha=0.1),
        ),
        "warmup_cosine_decay_schedule": (
            S.warmup_cosine_decay_schedule(0.1, 1.0, 1000, 9000, end_value=0.05),
            optax.warmup_cosine_decay_schedule(0.1, 1.0, 1000, 9000, end_value=0.05),
        ),
        "linear_warmup_is_join_of_linear": (
            S.linear_warmup(S.cosine_decay(1.0, 5000), 777, start=0.2),
            optax.join_schedules(
                [
                    optax.linear_schedule(0.2, 1.0, 777),
                    optax.cosine_decay_schedule(1.0, 5000),
                ],
                [777],
            ),
        ),
        "join_schedules": (
            S.join_schedules(
                [
                    S.constant(1.0),
                    S.linear_schedule(1.0, 0.0, 100),
                    S.cosine_decay(0.5, 3000),
                ],
                [50, 5000],
            ),
            optax.join_schedules(
                [
                    optax.constant_schedule(1.0),
                    optax.linear_schedule(1.0, 0.0, 100),
                    optax.cosine_decay_schedule(0.5, 3000),
                ],
                [50, 5000],
            ),
        ),
        "piecewise_constant_schedule": (
            S.piecewise_constant_schedule(1.0, {100: 0.1, 2000: 0.5, 0: 0.9}),
            optax.piecewise_constant_schedule(1.0, {100: 0.1, 2000: 0.5, 0: 0.9}),
        ),
        "sgdr_schedule": (
            S.sgdr_schedule(SGDR_CYCLES),
            optax.sgdr_schedule(SGDR_CYCLES),
        ),
    }


SGDR_CYCLES = [
    dict(init_value=0.0, peak_value=1.0, warmup_steps=100, decay_steps=1000),
    dict(init_value=0.1, peak_value=0.5, warmup_steps=0, decay_steps=3000),
    dict(
        init_value=0.0, peak_value=0.3, warmup_steps=50, decay_steps=8000, end_value=0.1
    ),
]

OPTAX_NAMES = [
    "constant_schedule",
    "exponential_decay",
    "exponential_decay_staircase",
    "polynomial_schedule",
    "polynomial_schedule_begin",
    "linear_schedule",
    "cosine_decay_schedule",
    "warmup_cosine_decay_schedule",
    "linear_warmup_is_join_of_linear",
    "join_schedules",
    "piecewise_constant_schedule",
    "sgdr_schedule",
]


@pytest.mark.parametrize("case", OPTAX_NAMES)
def test_equals_optax(optax, case):
    ours, theirs = optax_cases(optax)[case]
    np.testing.assert_allclose(ours(STEPS), optax_values(theirs), rtol=RTOL, atol=0)


def test_optax_case_list_is_complete(optax):
    assert sorted(optax_cases(optax)) == sorted(OPTAX_NAMES)


def test_piecewise_constant_convention_differs_from_optax_by_one_step(optax):
    # Convention: steepest (like Keras) keeps values[i] up to and including
    # step boundaries[i]; Optax scales at the boundary itself (step >= b). So
    # Keras boundary b is Optax boundary b + 1.
    ours = S.piecewise_constant([99, 1999], [1.0, 0.1, 0.05])
    theirs = optax.piecewise_constant_schedule(1.0, {100: 0.1, 2000: 0.5})
    np.testing.assert_allclose(ours(STEPS), optax_values(theirs), rtol=RTOL)
    same_numbers = optax.piecewise_constant_schedule(1.0, {99: 0.1, 1999: 0.5})
    assert ours(99) == 1.0 and float(same_numbers(99)) == pytest.approx(0.1)


def test_cosine_restarts_equal_optax_sgdr(optax):
    # Convention: Keras' alpha is a floor alpha * initial that m_mul does not
    # scale, while each Optax cycle decays from its peak to its end_value. The
    # same numbers need end_value = alpha * I and
    # peak_value = alpha * I + (1 - alpha) * m_mul ** i * I in cycle i.
    I, first, t_mul, m_mul, alpha = 0.8, 10, 2.0, 0.7, 0.05
    cycles = []
    for i in range(10):  # 10 * (2 ** 10 - 1) > 10,000 steps
        peak = alpha * I + (1 - alpha) * m_mul**i * I
        cycles.append(
            dict(
                init_value=peak,
                peak_value=peak,
                warmup_steps=0,
                decay_steps=int(first * t_mul**i),
                end_value=alpha * I,
            )
        )
    ours = S.cosine_decay_restarts(I, first, t_mul=t_mul, m_mul=m_mul, alpha=alpha)
    got = optax_values(optax.sgdr_schedule(cycles))
    np.testing.assert_allclose(ours(STEPS), got, rtol=RTOL, atol=1e-15)


def test_warmup_cosine_decay_steps_include_warmup_as_in_optax(optax):
    # Optax's decay_steps is the whole length: the cosine ends at step 12.
    ours = S.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=4, decay_steps=12)
    theirs = optax.warmup_cosine_decay_schedule(0.0, 1.0, 4, 12)
    assert ours(12) == 0.0 and float(theirs(12)) == 0.0
    assert ours(11) > 0.0


# ----------------------------------------------------------------------------
# Bad arguments: the exception type and the argument with its value.

BAD = [
    (lambda: S.constant(-0.1), ValueError, "lr=-0.1"),
    (lambda: S.constant("0.1"), TypeError, "lr='0.1'"),
    (lambda: S.exponential_decay(1.0, 0, 0.5), ValueError, "decay_steps=0"),
    (lambda: S.exponential_decay(1.0, 10.0, 0.5), TypeError, "decay_steps=10.0"),
    (lambda: S.exponential_decay(1.0, 10, 0.0), ValueError, "decay_rate=0.0"),
    (lambda: S.exponential_decay(1.0, 10, -0.5), ValueError, "decay_rate=-0.5"),
    (lambda: S.exponential_decay(math.nan, 10, 0.5), ValueError, "initial=nan"),
    (lambda: S.exponential_decay(1.0, 10, 0.5, "no"), TypeError, "staircase='no'"),
    (lambda: S.polynomial_decay(1.0, -5), ValueError, "decay_steps=-5"),
    (lambda: S.polynomial_decay(1.0, 5, power=0), ValueError, "power=0.0"),
    (lambda: S.polynomial_decay(1.0, 5, end=math.inf), ValueError, "end=inf"),
    (lambda: S.inverse_time_decay(1.0, 1, 0), ValueError, "decay_rate=0.0"),
    (lambda: S.inverse_time_decay(1.0, True, 1.0), TypeError, "decay_steps=True"),
    (lambda: S.inverse_sqrt_decay(1.0, -1), ValueError, "warmup_steps=-1"),
    (lambda: S.cosine_decay(1.0, 0), ValueError, "decay_steps=0"),
    (lambda: S.cosine_decay(1.0, 10, alpha=-0.1), ValueError, "alpha=-0.1"),
    (lambda: S.cosine_decay_restarts(1.0, 0), ValueError, "first_decay_steps=0"),
    (lambda: S.cosine_decay_restarts(1.0, 9, t_mul=0.5), ValueError, "t_mul=0.5"),
    (lambda: S.cosine_decay_restarts(1.0, 9, m_mul=0), ValueError, "m_mul=0.0"),
    (lambda: S.piecewise_constant([10, 5], [1, 2, 3]), ValueError, "[10, 5]"),
    (lambda: S.piecewise_constant([5, 5], [1, 2, 3]), ValueError, "increasing"),
    (lambda: S.piecewise_constant([5], [1.0]), ValueError, "1 values"),
    (lambda: S.piecewise_constant([5], [1, -2]), ValueError, "values[1]=-2.0"),
    (lambda: S.piecewise_constant([-1], [1, 2]), ValueError, "boundaries[0]=-1"),
    (lambda: S.piecewise_constant(5, [1, 2]), TypeError, "boundaries=5"),
    (lambda: S.linear_warmup(S.constant(1.0), -1), ValueError, "warmup_steps=-1"),
    (lambda: S.linear_warmup(lambda t: 1.0, 5), TypeError, "schedule="),
    (lambda: S.join([S.constant(1.0)], [5]), ValueError, "1 schedules"),
    (lambda: S.join([1.0, 2.0], [5, 6]), ValueError, "2 schedules"),
    (lambda: S.join([], []), ValueError, "0 schedules"),
    (lambda: S.join([1.0, 2.0], [-3]), ValueError, "boundaries[0]=-3"),
    (
        lambda: S.warmup_cosine_decay_schedule(0.0, 1.0, 10, 5),
        ValueError,
        "decay_steps=5",
    ),
    (lambda: S.piecewise_constant_schedule(1.0, {5: -1}), ValueError, "=-1.0"),
    (lambda: S.sgdr_schedule([]), ValueError, "cosine_kwargs"),
    (lambda: S.from_config({"name": "nope"}), ValueError, "cosine_decay"),
    (lambda: S.from_config({"lr": 1.0}), TypeError, "'name'"),
    (
        lambda: S.from_config({"name": "cosine_decay", "initial": 1.0}),
        ValueError,
        "missing ['decay_steps']",
    ),
    (
        lambda: S.from_config(
            {"name": "constant", "lr": 1.0, "bogus": 2}  # a misspelt key
        ),
        ValueError,
        "unknown ['bogus']",
    ),
    (lambda: S.as_schedule("0.1"), TypeError, "lr='0.1'"),
]


@pytest.mark.parametrize("make, exc, fragment", BAD)
def test_bad_arguments_raise_with_name_and_value(make, exc, fragment):
    with pytest.raises(exc) as info:
        make()
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "step, exc, fragment",
    [
        (-1, ValueError, "step=-1"),
        (1.0, TypeError, "1.0"),
        (True, TypeError, "True"),
        ("3", TypeError, "'3'"),
        (np.array([0, 5, -2]), ValueError, "-2"),
        (np.array([0.5, 1.0]), TypeError, "float"),
    ],
)
def test_bad_steps(step, exc, fragment):
    with pytest.raises(exc) as info:
        S.cosine_decay(1.0, 10)(step)
    assert fragment in str(info.value)
    assert "cosine_decay" in str(info.value)


# ----------------------------------------------------------------------------
# Configs, helpers, docs.

EXAMPLES = {
    "constant": S.constant(0.1),
    "exponential_decay": S.exponential_decay(0.1, 10, 0.9, staircase=True),
    "polynomial_decay": S.polynomial_decay(0.1, 100, end=0.0, power=2, cycle=True),
    "inverse_time_decay": S.inverse_time_decay(0.1, 5, 0.5),
    "inverse_sqrt_decay": S.inverse_sqrt_decay(0.01, warmup_steps=10),
    "cosine_decay": S.cosine_decay(0.1, 100, alpha=0.01),
    "cosine_decay_restarts": S.cosine_decay_restarts(0.1, 10, 1.5, 0.9, 0.01),
    "piecewise_constant": S.piecewise_constant([10, 20], [0.1, 0.01, 0.001]),
    "linear_warmup": S.linear_warmup(S.cosine_decay(0.1, 100), 10, start=0.01),
    "join": S.join(
        [
            S.linear_warmup(S.constant(0.1), 5),
            S.cosine_decay_restarts(0.1, 10),
            S.join([S.constant(0.05), S.exponential_decay(0.05, 3, 0.5)], [7]),
        ],
        [20, 100],
    ),
}


def test_every_schedule_has_an_example():
    assert sorted(EXAMPLES) == sorted(S.SCHEDULES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_config_round_trip_through_json(name):
    schedule = EXAMPLES[name]
    config = schedule.to_config()
    assert config["name"] == name
    text = json.dumps(config)
    rebuilt = S.from_config(json.loads(text))
    assert rebuilt == schedule
    assert rebuilt.to_config() == config
    assert rebuilt(np.arange(200)).tolist() == schedule(np.arange(200)).tolist()


def test_config_lists_every_argument_and_nests_schedules():
    config = EXAMPLES["linear_warmup"].to_config()
    assert config == {
        "name": "linear_warmup",
        "schedule": {
            "name": "cosine_decay",
            "initial": 0.1,
            "decay_steps": 100,
            "alpha": 0.0,
        },
        "warmup_steps": 10,
        "start": 0.01,
    }


def test_schedules_are_immutable():
    schedule = S.cosine_decay(0.1, 100)
    with pytest.raises(AttributeError):
        schedule.initial = 1.0


def test_as_schedule():
    lr = S.as_schedule(0.01)
    assert lr == S.constant(0.01) and lr(123) == 0.01
    cosine = S.cosine_decay(0.1, 10)
    assert S.as_schedule(cosine) is cosine

    def plain(step):
        return 0.1 / (1 + step)

    assert S.as_schedule(plain) is plain


def test_public_names_are_declared():
    for name in S.__all__:
        assert hasattr(S, name), name


def test_docstring_examples():
    result = doctest.testmod(S, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0


# ----------------------------------------------------------------------------
# The command line.


def test_cli_writes_plot_and_csv(tmp_path, capsys):
    out = tmp_path / "lr.png"
    argv = ["schedule", "exponential_decay", "--steps", "21", "--out", str(out)]
    argv += ["--param", "initial=1", "--param", "decay_steps=10"]
    argv += ["--param", "decay_rate=0.5", "--param", "staircase=true"]
    assert main(argv) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    with (tmp_path / "lr.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "lr"]
    assert len(rows) == 22
    assert rows[-1] == ["20", "0.25"]
    printed = capsys.readouterr().out
    assert "lr(0) = 1," in printed and "lr(20) = 0.25" in printed


def test_cli_list_params_and_warmup(tmp_path, capsys):
    out = tmp_path / "sub" / "pc.png"
    argv = ["schedule", "piecewise_constant", "--steps", "30", "--warmup", "5"]
    argv += ["--param", "boundaries=10,20", "--param", "values=1,0.5,0.1"]
    assert main(argv + ["--out", str(out)]) == 0
    with (tmp_path / "sub" / "pc.csv").open() as f:
        rows = list(csv.DictReader(f))
    lrs = [float(r["lr"]) for r in rows]
    want = S.linear_warmup(S.piecewise_constant([10, 20], [1, 0.5, 0.1]), 5)
    assert lrs == [want(t) for t in range(30)]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["nope"], "choose one of constant, exponential_decay"),
        (["join"], "unknown schedule 'join'"),
        (["cosine_decay", "--param", "x=1"], "initial=... decay_steps=..."),
        (["cosine_decay", "--param", "initial"], "bad --param 'initial'"),
        (["cosine_decay", "--param", "initial=abc"], "not a number"),
        # decay_steps defaults to --steps; initial has no default.
        (["cosine_decay", "--param", "alpha=0.1"], "missing initial"),
        (["constant", "--param", "lr=1", "--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_cli_usage_errors(tmp_path, capsys, args, fragment):
    argv = ["schedule", *args, "--out", str(tmp_path / "x.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1
    with pytest.raises(UsageError):
        main(["--debug", *argv])


def test_cli_bad_value_names_the_argument(tmp_path, capsys):
    argv = ["schedule", "cosine_decay", "--param", "initial=1"]
    argv += ["--param", "decay_steps=0", "--out", str(tmp_path / "x.png")]
    assert main(argv) == 2
    assert "decay_steps=0" in capsys.readouterr().err


def test_cli_takes_the_short_names_of_train(tmp_path, capsys):
    # `cosine` as `steepest train --schedule` names it; decay_steps = --steps.
    argv = ["schedule", "cosine", "--steps", "100", "--param", "initial=0.1"]
    assert main(argv + ["--out", str(tmp_path / "c.png")]) == 0
    with (tmp_path / "c.csv").open() as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert lrs == [S.cosine_decay(0.1, 100)(t) for t in range(100)]
    assert "cosine_decay: lr(0) = 0.1," in capsys.readouterr().out


def test_cli_first_decay_steps_defaults_to_steps(tmp_path):
    argv = ["schedule", "cosine_restarts", "--steps", "50"]
    argv += ["--param", "initial=1", "--out", str(tmp_path / "r.png")]
    assert main(argv) == 0
    with (tmp_path / "r.csv").open() as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert lrs == [S.cosine_decay_restarts(1, 50)(t) for t in range(50)]


def test_cli_help_example_runs_as_shown(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["schedule", "--help"])
    help_text = capsys.readouterr().out
    assert help_text.endswith("\n") and "``" not in help_text
    # The example, joined across its continuation line, runs as printed.
    lines = help_text.splitlines()
    first = lines.index("example:") + 1
    example = " ".join(lines[first : first + 2]).replace("\\", " ").split()
    assert example[:2] == ["steepest", "schedule"]
    assert "--param" in example and example.count("--param") == 1
    assert main([*example[1:], "--out", str(tmp_path / "e.png")]) == 0
    assert "lr(99) = 0.00" in capsys.readouterr().out
