"""The benchmark scripts run end to end on a tiny setting (no timing checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_mlp_benchmark_runs_and_reports_every_peer(tmp_path):
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "mlp.py"), "--workloads", "small",
         "--peers", "steepest,numpy", "--repeats", "5", "--seconds", "0.01",
         "--threads", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    assert "steepest" in result.stdout and "numpy" in result.stdout
    figures = json.loads(out.read_text())["workloads"]["small"]
    assert set(figures["median_examples_per_s"]) == {"steepest", "numpy"}
    assert all(rate > 0 for rate in figures["median_examples_per_s"].values())
    assert all(mb > 0 for mb in figures["peak_rss_mb"].values())


def test_ops_benchmark_runs():
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "ops.py"), "--repeats", "1",
         "--number", "20"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    assert "add (50,100)" in result.stdout and "st/numpy" in result.stdout
