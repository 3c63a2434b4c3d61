"""The emlearn side of benchmarks/firmware.py: its firmware builds with bdnn's Cortex-M sources,
runs under QEMU, predicts what scikit-learn predicts, and its sizes and instruction counts are
measured. emlearn is in the test extra; where it is missing the test is skipped."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from firmware_fixtures.helpers import need_target

pytestmark = pytest.mark.toolchain

ROOT = Path(__file__).resolve().parent.parent


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "bench_firmware", ROOT / "benchmarks" / "firmware.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_firmware"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("method", ["loadable", "inline"])
def test_emlearn_firmware_equals_scikit_learn(tmp_path, method):
    saved = np.geterr()  # emlearn's import runs numpy.seterr(all="raise"): keep ours
    try:
        pytest.importorskip("emlearn", reason="emlearn not installed (pip install emlearn)",
                            exc_type=ImportError)
    finally:
        np.seterr(**saved)
    pytest.importorskip("sklearn")
    target = need_target("cortex-m3")
    fw = load_benchmark()
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[:100], order[100:124]
    scaler, mlp = fw.train_mlp(X[train], y[train], (5,))
    Z = scaler.transform(X[test]).astype(np.float32)
    expected = mlp.predict(Z.astype(np.float64))
    fw.write_emlearn_project(fw.emlearn_c(mlp, method), 4, target, tmp_path)

    # model data = every float32 weight and bias of the MLP, nothing else
    fw.write_emlearn_vectors(tmp_path, Z[:0], expected[:0])
    fw.make_emlearn(target, tmp_path, "size.elf")
    n_params = sum(w.size for w in mlp.coefs_) + sum(b.size for b in mlp.intercepts_)
    inc = (tmp_path / ".emlearn_include").read_text()
    data = fw.declared_data_bytes(target, tmp_path, f"{fw.EML_NAME}.c", fw.EML_DATA,
                                  (f"-I{inc}", "-w"))
    assert data == 4 * n_params

    fw.write_emlearn_vectors(tmp_path, Z, expected)
    fw.make_emlearn(target, tmp_path, "prog.elf")
    run = fw._emlearn_run(target, tmp_path, len(Z))
    np.testing.assert_array_equal(run.classes, expected)
    assert run.mismatches == 0

    fw.write_emlearn_vectors(tmp_path, Z[:3], expected[:3])
    fw.make_emlearn(target, tmp_path, "prog.elf")
    counts = fw.traced_counts(
        target, tmp_path / "prog.elf", lambda trace: fw._emlearn_run(target, tmp_path, 3, trace)
    )
    # one count per row, then the stack probe's call on row 0 again: the trace count is exact
    assert len(counts) == 4 and counts[3] == counts[0]
    assert all(200 < c < 200_000 for c in counts)
