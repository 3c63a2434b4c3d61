"""Smoke run of benchmarks/paper_protocol.py: the script runs end to end and its rows add up."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from bdnn.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def test_paper_protocol_runs_and_reports_every_method(tmp_path):
    out, js = tmp_path / "r.md", tmp_path / "r.json"
    # split-paper starts from no network: 2 s sufficed on a free core, but a busy machine got
    # the majority class out of it (50 errors), so the budget has room for a slower machine
    subprocess.run([sys.executable, "benchmarks/paper_protocol.py", "--only", "iris",
                    "--seeds", "1", "--widths", "4", "--time-limit", "8", "--workers", "1",
                    "--methods", "exact,split-paper,mlp", "--json", str(js), "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    rows = {r["method"]: r for r in json.loads(js.read_text())["rows"]}
    assert set(rows) == {"exact", "split-paper", "mlp"}
    ds = load_dataset("iris", split="paper", seed=0)
    y_train = ds.y[ds.split.train]
    n_train = len(y_train)
    majority_errors = n_train - int(np.bincount(y_train).max())
    for r in rows.values():
        assert 0.0 <= r["test_acc"] <= 1.0 and r["n_train"] == n_train
    # both BDNN methods beat the majority class on iris's training rows by far
    assert rows["exact"]["train_errors"] < majority_errors / 4
    assert rows["split-paper"]["train_errors"] < majority_errors / 2
    assert "split-paper" in out.read_text()
