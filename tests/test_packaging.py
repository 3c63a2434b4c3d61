"""A real (non-editable) install ships the templates, firmware sources and data files."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contents_and_install(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w",
                            str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True,
                           text=True)
    # no setuptools noise about the firmware template folders (they are listed as packages)
    log = build.stdout + build.stderr
    assert "is absent from the `packages` configuration" not in log
    assert "Package would be ignored" not in log
    (wheel,) = (tmp_path / "dist").glob("bdnn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("codegen/templates/model.c.j2", "codegen/templates/model.h.j2",
                     "bdnn/data/files/breast-cancer-wisconsin.csv.gz",
                     "bdnn/data/files/ATTRIBUTION.md", "bdnn/cli/__init__.py"):
        assert required in names, required
    for source in (ROOT / "templates").glob("firmware_*/*"):  # every firmware source ships
        assert f"codegen/templates/{source.relative_to(ROOT / 'templates')}" in names, source
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    script = (
        "import numpy as np, bdnn, codegen.c_export as ce\n"
        "from bdnn.data import load_dataset\n"
        "from bdnn.network import random_network\n"
        f"assert bdnn.__file__.startswith({str(target)!r}), bdnn.__file__\n"
        "ds = load_dataset('bcw'); assert ds.X.shape == (699, 9)\n"
        "net = random_network(np.random.default_rng(0), 9, (4,), 2)\n"
        "files = ce.render_c(net, 'm', 32); assert 'm_predict_q' in files['m.h']\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env={
        "PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
