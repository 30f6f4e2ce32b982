"""Per-op overhead: small ops in steepest, raw NumPy and PyTorch eager.

On small shapes the arithmetic is cheap and what shows is what each library
adds around it: dispatch, graph recording, result objects. Each case is timed
forward only and forward + backward, the libraries alternated in every round;
the table gives the median microseconds per call and steepest's time over
NumPy's and over PyTorch's.

Run: ``uv run python benchmarks/ops.py [--threads 1] [--repeats 7]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

ARGS = argparse.Namespace(threads=1, repeats=7, number=2000)
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000, help="calls per timing")
    ARGS = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

import steepest as st  # noqa: E402


def cases() -> dict[str, dict[str, Callable[[], object]]]:
    """name -> library -> a no-argument callable doing one call."""
    rng = np.random.default_rng(0)
    a = rng.random((50, 100), dtype=np.float32)
    b = rng.random((50, 100), dtype=np.float32)
    w = rng.random((100, 10), dtype=np.float32)
    out: dict[str, dict[str, Callable[[], object]]] = {
        "add (50,100)": {},
        "matmul (50,100)@(100,10)": {},
        "relu (50,100)": {},
        "add+sum backward": {},
        "matmul+sum backward": {},
        "relu+sum backward": {},
    }
    ta, tb, tw = st.tensor(a), st.tensor(b), st.tensor(w)
    ga = st.tensor(a, requires_grad=True)
    gw = st.tensor(w, requires_grad=True)
    out["add (50,100)"]["numpy"] = lambda: a + b
    out["add (50,100)"]["steepest"] = lambda: ta + tb
    out["matmul (50,100)@(100,10)"]["numpy"] = lambda: a @ w
    out["matmul (50,100)@(100,10)"]["steepest"] = lambda: ta @ tw
    out["relu (50,100)"]["numpy"] = lambda: np.maximum(a, 0)
    out["relu (50,100)"]["steepest"] = lambda: st.relu(ta)

    def numpy_add_backward():
        s = (a + b).sum()
        return s, np.ones_like(a)

    def numpy_matmul_backward():
        y = a @ w
        g = np.ones_like(y)
        return y.sum(), g @ w.T, a.T @ g

    def numpy_relu_backward():
        y = np.maximum(a, 0)
        return y.sum(), np.ones_like(a) * (y > 0)

    out["add+sum backward"]["numpy"] = numpy_add_backward
    out["matmul+sum backward"]["numpy"] = numpy_matmul_backward
    out["relu+sum backward"]["numpy"] = numpy_relu_backward

    def steepest_backward(f):
        def run():
            ga.grad = gw.grad = None
            f().sum().backward()

        return run

    out["add+sum backward"]["steepest"] = steepest_backward(lambda: ga + tb)
    out["matmul+sum backward"]["steepest"] = steepest_backward(lambda: ga @ gw)
    out["relu+sum backward"]["steepest"] = steepest_backward(lambda: st.relu(ga))

    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(ARGS.threads)
    xa, xb, xw = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(w)
    pa = xa.clone().requires_grad_()
    pw = xw.clone().requires_grad_()
    out["add (50,100)"]["torch"] = lambda: xa + xb
    out["matmul (50,100)@(100,10)"]["torch"] = lambda: xa @ xw
    out["relu (50,100)"]["torch"] = lambda: torch.relu(xa)

    def torch_backward(f):
        def run():
            pa.grad = pw.grad = None
            f().sum().backward()

        return run

    out["add+sum backward"]["torch"] = torch_backward(lambda: pa + xb)
    out["matmul+sum backward"]["torch"] = torch_backward(lambda: pa @ pw)
    out["relu+sum backward"]["torch"] = torch_backward(lambda: torch.relu(pa))
    return out


def time_call(f: Callable[[], object], number: int) -> float:
    """Microseconds per call."""
    started = time.perf_counter()
    for _ in range(number):
        f()
    return (time.perf_counter() - started) / number * 1e6


def main() -> None:
    table = cases()
    results: dict[str, dict[str, float]] = {}
    for name, libs in table.items():
        samples: dict[str, list[float]] = {lib: [] for lib in libs}
        for f in libs.values():
            time_call(f, ARGS.number // 10)  # warm-up
        for _ in range(ARGS.repeats):
            for lib, f in libs.items():
                samples[lib].append(time_call(f, ARGS.number))
        results[name] = {lib: statistics.median(v) for lib, v in samples.items()}
    libs = ["steepest", "numpy", "torch"]
    print(f"threads: {ARGS.threads}; median microseconds per call")
    header = f"{'case':<26}" + "".join(f"{lib:>10}" for lib in libs)
    print(header + f"{'st/numpy':>10}{'st/torch':>10}")
    for name, r in results.items():
        cells = "".join(
            f"{r[lib]:>10.1f}" if lib in r else f"{'-':>10}" for lib in libs
        )
        vs_np = f"{r['steepest'] / r['numpy']:>9.2f}x"
        vs_torch = (
            f"{r['steepest'] / r['torch']:>9.2f}x" if "torch" in r else f"{'-':>10}"
        )
        print(f"{name:<26}{cells}{vs_np}{vs_torch}")


if __name__ == "__main__":
    main()
