"""Training-step throughput of an MLP: steepest against its peers.

Two workloads on MNIST-shaped float32 data, softmax cross-entropy and Adam
(lr 1e-3):

- small: 784-100-10 ReLU, batch 50;
- large: 784-1024-1024-10 ReLU, batch 256.

The hand-written NumPy step flushes subnormal Adam moments every 32 steps, as
steepest does: without it, moments of dead ReLU units decay into the
subnormal range and every pass over them runs several times slower.

Peers, when importable: a hand-written NumPy step (explicit backward, one
flat Adam buffer; it lives in this file), PyTorch eager (foreach and fused
Adam) and JAX with the whole step under ``jit`` (Optax Adam). All share the
data and the thread count. After a warm-up, each repeat times every peer in
turn, so they share the machine's noise; the table gives the median
examples/s, each peer's ratio to steepest, and the peak resident memory of a
separate process that runs that peer alone.

Run: ``uv run python benchmarks/mlp.py [--threads 2] [--repeats 7] [--json out.json]``
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; parsed before NumPy is imported (threads)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="threads for every peer")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (>= 5)")
    p.add_argument("--workloads", default="small,large", help="small,large")
    p.add_argument("--peers", default="steepest,numpy,torch,torch_fused,jax")
    p.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    p.add_argument("--no-memory", action="store_true", help="skip peak-RSS runs")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)
    os.environ.setdefault(
        "XLA_FLAGS",
        f"--xla_cpu_multi_thread_eigen={'true' if ARGS.threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={ARGS.threads}",
    )
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

WORKLOADS = {
    "small": {"sizes": [784, 100, 10], "batch": 50},
    "large": {"sizes": [784, 1024, 1024, 10], "batch": 256},
}
N_EXAMPLES = 4096
LR = 1e-3


def make_data(batch: int, seed: int = 0):
    """MNIST-shaped inputs in [0, 1] with learnable labels, in fixed batches.

    The labels come from a random linear teacher, so training makes progress
    as on real data; with random labels most ReLU units die within a few
    hundred steps, which measures an unusual regime.
    """
    rng = np.random.default_rng(seed)
    x = rng.random((N_EXAMPLES, 784), dtype=np.float32)
    teacher = rng.normal(size=(784, 10)).astype(np.float32)
    y = np.argmax((x - 0.5) @ teacher, axis=1)
    n = N_EXAMPLES // batch
    return [(x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch])
            for i in range(n)]  # fmt: skip


def init_weights(sizes: list[int], seed: int = 0):
    """Glorot-uniform weights (out, in) and zero biases, float32."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        limit = np.sqrt(6 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, (fan_out, fan_in)).astype(np.float32)
        params += [w, np.zeros(fan_out, np.float32)]
    return params


# -- the peers: each returns a step(x, y) closure ---------------------------


def steepest_step(sizes, batch):
    import steepest as st
    from steepest import losses, nn, optim

    model = nn.MLP(sizes, activation="relu", rng=0)
    for p, w in zip(model.parameters(), init_weights(sizes), strict=True):
        p.data[...] = w
    opt = optim.Adam(model.parameters(), lr=LR)

    def step(x, y):
        loss = losses.cross_entropy(model(st.Tensor._wrap(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def numpy_step(sizes, batch):
    """A hand-written step: explicit backward, one flat Adam over all params."""
    shapes = [w.shape for w in init_weights(sizes)]
    total = sum(int(np.prod(s)) for s in shapes)
    flat = np.empty(total, np.float32)
    grad = np.zeros(total, np.float32)
    m, v, tmp = (np.zeros(total, np.float32) for _ in range(3))
    params, grads, offset = [], [], 0
    for w, shape in zip(init_weights(sizes), shapes, strict=True):
        n = int(np.prod(shape))
        flat[offset : offset + n] = w.ravel()
        params.append(flat[offset : offset + n].reshape(shape))
        grads.append(grad[offset : offset + n].reshape(shape))
        offset += n
    layers = len(sizes) - 1
    state = {"t": 0}
    b1, b2, eps = 0.9, 0.999, 1e-8

    def step(x, y):
        # Forward, keeping each layer's input.
        acts = [x]
        h = x
        for i in range(layers):
            h = h @ params[2 * i].T
            h += params[2 * i + 1]
            if i < layers - 1:
                np.maximum(h, 0, out=h)
            acts.append(h)
        # Softmax cross-entropy gradient, (batch, classes).
        g = h - h.max(axis=1, keepdims=True)
        np.exp(g, out=g)
        g /= g.sum(axis=1, keepdims=True)
        g[np.arange(len(y)), y] -= 1
        g /= len(y)
        # Backward.
        for i in reversed(range(layers)):
            np.matmul(g.T, acts[i], out=grads[2 * i])
            g.sum(axis=0, out=grads[2 * i + 1])
            if i:
                g = g @ params[2 * i]
                g *= acts[i] > 0
        # Adam over the flat buffer, in place.
        state["t"] += 1
        t = state["t"]
        np.multiply(m, b1, out=m)
        np.multiply(grad, 1 - b1, out=tmp)
        np.add(m, tmp, out=m)
        np.multiply(v, b2, out=v)
        np.multiply(grad, grad, out=tmp)
        np.multiply(tmp, 1 - b2, out=tmp)
        np.add(v, tmp, out=v)
        lr_t = LR * (1 - b2**t) ** 0.5 / (1 - b1**t)
        np.sqrt(v, out=tmp)
        np.add(tmp, eps, out=tmp)
        np.divide(m, tmp, out=tmp)
        np.multiply(tmp, lr_t, out=tmp)
        np.subtract(flat, tmp, out=flat)
        if t % 32 == 0:
            # Subnormal moments of dead units slow every later pass ~3x;
            # flush them as steepest does (compiled peers run flush-to-zero).
            for buffer in (m, v):
                np.abs(buffer, out=tmp)
                np.copyto(buffer, 0, where=tmp < np.finfo(np.float32).tiny)

    return step


def torch_step(sizes, batch, fused=False):
    import torch

    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for p, w in zip(model.parameters(), init_weights(sizes), strict=True):
            p.copy_(torch.from_numpy(w))
    opt = torch.optim.Adam(model.parameters(), lr=LR, fused=fused or None)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def jax_step(sizes, batch):
    import jax
    import jax.numpy as jnp
    import optax

    params = [jnp.asarray(w) for w in init_weights(sizes)]
    opt = optax.adam(LR)
    layers = len(sizes) - 1

    def loss_fn(params, x, y):
        h = x
        for i in range(layers):
            h = h @ params[2 * i].T + params[2 * i + 1]
            if i < layers - 1:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    @jax.jit
    def update(params, opt_state, x, y):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    state = {"params": params, "opt": opt.init(params)}

    def step(x, y):
        state["params"], state["opt"] = update(state["params"], state["opt"], x, y)

    def sync():
        jax.block_until_ready(state["params"])

    step.sync = sync  # type: ignore[attr-defined]
    return step


PEERS: dict[str, Callable] = {
    "steepest": steepest_step,
    "numpy": numpy_step,
    "torch": torch_step,
    "torch_fused": lambda s, b: torch_step(s, b, fused=True),
    "jax": jax_step,
}


def available(name: str) -> str | None:
    """None when the peer can run, else why not."""
    module = {"torch": "torch", "torch_fused": "torch", "jax": "optax"}.get(name)
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError:
        return f"{module} not installed"
    return None


def measure(step, batches, seconds: float) -> float:
    """Examples per second over whole passes of at least ``seconds``."""
    sync = getattr(step, "sync", lambda: None)
    done, started = 0, time.perf_counter()
    while True:
        for x, y in batches:
            step(x, y)
            done += len(x)
        sync()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def peak_rss_mb(peer: str, workload: str, threads: int) -> float | None:
    """Peak RSS of a fresh process that builds and runs one peer."""
    out = subprocess.run(
        [sys.executable, __file__, "--threads", str(threads),
         "--memory-child", f"{peer}:{workload}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def memory_child(spec: str) -> None:
    peer, workload = spec.split(":")
    config = WORKLOADS[workload]
    batches = make_data(config["batch"])
    step = PEERS[peer](config["sizes"], config["batch"])
    measure(step, batches, 0.3)
    print(_peak_rss_mb())


def _peak_rss_mb() -> float:
    """This process's peak resident set, in MB.

    ``VmHWM`` belongs to the process's own address space; ``ru_maxrss`` would
    also count the parent's memory at the fork that started this process.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def set_torch_threads(threads: int) -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def run(args: argparse.Namespace) -> dict:
    set_torch_threads(args.threads)
    results: dict = {"threads": args.threads, "workloads": {}}
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    for workload in args.workloads.split(","):
        config = WORKLOADS[workload]
        batches = make_data(config["batch"])
        steps, skipped = {}, {}
        for peer in peers:
            reason = available(peer)
            if reason:
                skipped[peer] = reason
                continue
            steps[peer] = PEERS[peer](config["sizes"], config["batch"])
            measure(steps[peer], batches, 0.3)  # warm-up (and JIT compile)
        rates: dict[str, list[float]] = {p: [] for p in steps}
        for _ in range(max(args.repeats, 5)):
            for peer, step in steps.items():
                rates[peer].append(measure(step, batches, args.seconds))
        median = {p: statistics.median(r) for p, r in rates.items()}
        memory = {}
        if not args.no_memory:
            memory = {p: peak_rss_mb(p, workload, args.threads) for p in steps}
        results["workloads"][workload] = {
            "median_examples_per_s": median,
            "all_examples_per_s": rates,
            "peak_rss_mb": memory,
            "skipped": skipped,
        }
    return results


def print_results(results: dict) -> None:
    print(f"threads: {results['threads']}")
    for workload, r in results["workloads"].items():
        median = r["median_examples_per_s"]
        ours = median.get("steepest")
        print(f"\n{workload}: {WORKLOADS[workload]}")
        header = ("peer", "examples/s", "steepest / peer", "peak RSS MB")
        print(f"{header[0]:<12} {header[1]:>11} {header[2]:>16} {header[3]:>12}")
        for peer, rate in median.items():
            ratio = f"{ours / rate:.2f}x" if ours else "-"
            rss = r["peak_rss_mb"].get(peer)
            rss_text = f"{rss:.0f}" if rss else "-"
            print(f"{peer:<12} {rate:>11.0f} {ratio:>16} {rss_text:>12}")
        for peer, reason in r["skipped"].items():
            print(f"{peer:<12} skipped: {reason}")


def main() -> None:
    args = ARGS
    if args.memory_child:
        memory_child(args.memory_child)
        return
    results = run(args)
    print_results(results)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
