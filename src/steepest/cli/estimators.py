"""``steepest estimators``: the bias of the 1/n variance estimator, simulated.

Example::

    steepest estimators --n-max 30 --repeats 100000 --out runs/estimators

draws 100,000 samples of each size n = 2..30 from N(3, 2^2), averages the
variance estimates that divide by n and by n - 1, and compares them with
(1 - 1/n) sigma^2 and sigma^2; writes ``estimators.png`` and
``estimators.csv`` and prints a table with each deviation in standard errors.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from steepest.cli._output import print_table

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``estimators`` sub-command."""
    parser = subparsers.add_parser(
        "estimators",
        help="bias of the 1/n variance estimator against 1/(n-1), by simulation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--n-min", type=int, default=2, help="smallest sample size (default: 2)"
    )
    parser.add_argument(
        "--n-max", type=int, default=30, help="largest sample size (default: 30)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=100_000,
        help="samples per size (default: 100000)",
    )
    parser.add_argument(
        "--mu", type=float, default=3.0, help="mean of the normal (default: 3)"
    )
    parser.add_argument(
        "--sigma", type=float, default=2.0, help="its standard deviation (default: 2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument(
        "--out",
        default="runs/estimators",
        metavar="DIR",
        help="folder for the image and CSV (default: runs/estimators)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Simulate, print a table and the files written."""
    from steepest.labs.estimators import estimators

    result = estimators(
        args.n_min,
        args.n_max,
        args.repeats,
        mu=args.mu,
        sigma=args.sigma,
        seed=args.seed,
        out_dir=args.out,
    )
    z_biased = (result.biased_mean - result.analytic_biased_mean) / result.biased_se
    z_unbiased = (result.unbiased_mean - 1.0) / result.unbiased_se
    rows = []
    for i, n in enumerate(result.sample_sizes):
        if n > 10 and n % 5 and n != result.sample_sizes[-1]:
            continue
        rows.append(
            [
                int(n),
                f"{result.biased_mean[i]:.4f} ± {result.biased_se[i]:.4f}",
                f"{result.analytic_biased_mean[i]:.4f}",
                f"{z_biased[i]:+.2f}",
                f"{result.unbiased_mean[i]:.4f} ± {result.unbiased_se[i]:.4f}",
                f"{z_unbiased[i]:+.2f}",
            ]
        )
    print(
        f"Variance estimates / sigma^2, mean ± standard error over "
        f"{result.repeats:,} samples per size:"
    )
    print_table(["n", "divide by n", "1 - 1/n", "z", "divide by n - 1", "z"], rows)
    # The two estimates differ by the factor n / (n - 1) in every sample, so
    # their z are equal: one test per size.
    k = int(np.argmax(abs(z_biased)))
    worst = abs(z_biased[k])
    sizes = len(result.sample_sizes)
    chance = 1 - (1 - math.erfc(worst / math.sqrt(2))) ** sizes
    print("\nz = (simulated - analytic) / standard error.")
    print(
        f"Largest |z|: {worst:.2f} at n = {result.sample_sizes[k]}; one at least "
        f"this large among {sizes} sizes has chance {chance:.1%}."
    )
    print("wrote:")
    for path in result.files:
        print(f"  {path}")
    return 0
