"""Tutorials are code CI runs: each runs end to end with the smoke switch on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("[0-9]*.py"))


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path, shared_data, tmp_path):
    env = {**os.environ, "TFPVAE_SMOKE": "1", "TFPVAE_DATA_DIR": str(shared_data), "TFPVAE_TUTORIAL_OUT": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(path)], cwd=path.parent, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "samples.png").exists()
