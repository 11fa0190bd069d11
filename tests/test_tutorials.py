"""Tutorials are code CI runs: each runs end to end in smoke mode and writes the figures it declares.

Every ``tutorials/NN_*.py`` declares its figures in a module-level ``FIGURES = [...]`` list of file
names; the smoke run must write each of them (a valid, non-trivial PNG, or an animated GIF) into
``TFPVAE_TUTORIAL_OUT``.
The committed gallery (``tutorials/figures/`` and ``tutorials/README.md``) must hold and show every
declared figure. Data come from ``../shared/data`` when present; without it the tutorials fall back to
the package's embedded MNIST sample or synthetic data, so these tests never skip for lack of data.
A quick local run may leave the subprocess runs out with ``-k 'not smoke'``; CI runs them all.
"""

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS_DIR = ROOT / "tutorials"
TUTORIALS = sorted(TUTORIALS_DIR.glob("[0-9][0-9]_*.py"))
SHARED_DATA = ROOT.parent / "shared" / "data"
_spec = importlib.util.spec_from_file_location("tutorials_run_all", TUTORIALS_DIR / "run_all.py")
run_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_all)  # check_figure: a PNG that decodes, or an animated GIF of > 1 frame


def declared_figures(path: Path) -> list[str]:
    """The module-level ``FIGURES`` list of a tutorial, read without running it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "FIGURES" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), \
                f"{path.name}: FIGURES must be a list of file names, got {value!r}"
            return value
    raise AssertionError(f"{path.name}: no module-level FIGURES = [...] list naming the figures it writes")


def smoke_env(out: Path) -> dict:
    env = {**os.environ, "TFPVAE_SMOKE": "1", "TFPVAE_TUTORIAL_OUT": str(out), "MPLBACKEND": "Agg",
           "TFPVAE_OFFLINE": "1"}
    if (SHARED_DATA / "binarized_mnist" / "binarized_mnist.npz").exists():
        env["TFPVAE_DATA_DIR"] = str(SHARED_DATA)
    else:  # nothing asked for: binarized_mnist from the full copy shipped with tfpvae, mnist from its labelled sample
        env.pop("TFPVAE_DATA_DIR", None)
    return env


def test_tutorials_found():
    assert len(TUTORIALS) >= 6, [p.name for p in TUTORIALS]
    numbers = [p.name[:2] for p in TUTORIALS]
    assert len(set(numbers)) == len(numbers), f"two tutorials share a number: {numbers}"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_figures_declared_committed_and_shown(path):
    """Each tutorial names its figures with its own number as prefix; the gallery has and shows them."""
    figures = declared_figures(path)
    assert figures, f"{path.name}: FIGURES is empty"
    readme = (TUTORIALS_DIR / "README.md").read_text()
    assert path.name in readme, f"tutorials/README.md has no paragraph linking {path.name}"
    for name in figures:
        assert name.startswith(path.name[:3]) and name.endswith(run_all.FIGURE_TYPES), \
            f"{path.name}: figure {name!r} should be '{path.name[:3]}<name>.png' (or .gif for an animation)"
        committed = TUTORIALS_DIR / "figures" / name
        problem = run_all.check_figure(committed)
        assert problem is None, \
            f"{committed}: {problem}: run `python tutorials/run_all.py {path.name}` and commit the figure"
        assert f"figures/{name}" in readme, f"tutorials/README.md does not show figures/{name}"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_smoke_run_writes_its_figures(path, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(path)], cwd=path.parent, env=smoke_env(out),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{path.name} failed in smoke mode:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    for name in declared_figures(path):
        figure = out / name
        assert figure.is_file(), f"{path.name} did not write its figure {name} (wrote {sorted(os.listdir(out))})"
        problem = run_all.check_figure(figure)
        assert problem is None and figure.stat().st_size > 5_000, f"{name}: {problem or 'under 5,000 bytes'}"
    assert "all checks passed" in proc.stdout, f"{path.name} did not reach its final checks:\n{proc.stdout[-2000:]}"
