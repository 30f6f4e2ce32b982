"""``steepest capacity``: under- and overfitting, regularisation, double descent.

Example::

    steepest capacity --part all --out runs/capacity

fits polynomials of degree 0..14 to 15 noisy points (train and dev error
against degree), sweeps an L2 penalty at degree 14, and fits minimum-norm
random-features regressions of growing width to 200 digits with 20% noisy
labels (test error peaking at the interpolation threshold); it writes a PNG
and the CSVs behind it for each and prints a summary table.
"""

from __future__ import annotations

import argparse
from typing import Any

from steepest.cli._output import print_table

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``capacity`` sub-command."""
    parser = subparsers.add_parser(
        "capacity",
        help="under/overfitting against degree, L2 sweep, double descent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--part",
        default="all",
        choices=["polynomial", "l2", "double-descent", "all"],
        help="which experiment to run (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument(
        "--out",
        default="runs/capacity",
        metavar="DIR",
        help="folder for the images and CSVs (default: runs/capacity)",
    )
    poly = parser.add_argument_group("polynomial and l2")
    poly.add_argument(
        "--n-train", type=int, default=15, help="training points (default: 15)"
    )
    poly.add_argument(
        "--noise", type=float, default=0.3, help="noise std of y (default: 0.3)"
    )
    poly.add_argument(
        "--max-degree",
        type=int,
        default=14,
        help="largest degree, also the L2 sweep's degree (default: 14)",
    )
    dd = parser.add_argument_group("double descent")
    dd.add_argument(
        "--dataset", default="digits", help="classification dataset (default: digits)"
    )
    dd.add_argument(
        "--dd-train", type=int, default=200, help="training examples (default: 200)"
    )
    dd.add_argument(
        "--label-noise",
        type=float,
        default=0.2,
        help="fraction of training labels redrawn at random (default: 0.2)",
    )
    dd.add_argument(
        "--seeds", type=int, default=5, help="repeats averaged (default: 5)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the experiments, print a table per part and the files written."""
    from steepest.labs.capacity import capacity

    result = capacity(
        args.part,
        seed=args.seed,
        out_dir=args.out,
        n_train=args.n_train,
        noise=args.noise,
        max_degree=args.max_degree,
        dataset=args.dataset,
        dd_train=args.dd_train,
        label_noise=args.label_noise,
        seeds=args.seeds,
    )
    p = result.polynomial
    if p is not None:
        print(f"Polynomial least squares, n = {len(p.x_train)}, noise {p.noise:g}:")
        rows = [
            [
                int(d),
                f"{a:.4g}",
                f"{b:.4g}",
                "<- lowest dev" if d == p.best_degree else "",
            ]
            for d, a, b in zip(p.degrees, p.train_mse, p.dev_mse, strict=True)
        ]
        print_table(["degree", "train MSE", "dev MSE", ""], rows)
        print()
    r = result.ridge
    if r is not None:
        print(f"Ridge at degree {r.degree}:")
        best = int(r.lambdas.searchsorted(r.best_lambda))
        rows = [
            ["0", f"{r.unregularized_train_mse:.4g}", f"{r.unregularized_dev_mse:.4g}"],
            [
                f"{r.lambdas[best]:.3g} (best)",
                f"{r.train_mse[best]:.4g}",
                f"{r.dev_mse[best]:.4g}",
            ],
            [f"{r.lambdas[-1]:.3g}", f"{r.train_mse[-1]:.4g}", f"{r.dev_mse[-1]:.4g}"],
        ]
        print_table(["lambda", "train MSE", "dev MSE"], rows)
        print()
    dd = result.double_descent
    if dd is not None:
        n = dd.n_train
        print(
            f"Random-features regression on {dd.dataset}, n = {n}, "
            f"{dd.label_noise:.0%} noisy labels, mean of {len(dd.test_mse)} repeats:"
        )
        rows = []
        for j in _picked(dd.widths, n, dd.peak_width):
            rows.append(
                [
                    int(dd.widths[j]),
                    f"{dd.train_mse[:, j].mean():.3g}",
                    f"{dd.test_mse[:, j].mean():.4g}",
                    f"{dd.test_error[:, j].mean():.3f}",
                    "<- threshold p = n" if dd.widths[j] == n else "",
                ]
            )
        print_table(["features p", "train MSE", "test MSE", "test error", ""], rows)
        print()
    print("wrote:")
    for path in result.files:
        print(f"  {path}")
    return 0


def _picked(widths: Any, n: int, peak: int) -> list[int]:
    """Indices of the widths nearest n/10, n/4, n/2, n, the peak, 2n and the end."""
    targets = [n / 10, n / 4, n / 2, n, peak, 2 * n, widths[-1]]
    picked = {int(abs(widths - t).argmin()) for t in targets}
    return sorted(picked)
