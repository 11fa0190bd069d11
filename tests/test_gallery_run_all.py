"""The tutorials' harness (``tutorials/run_all.py``, ``make tutorials``) checks each declared figure
by its kind: a PNG that decodes, or an animated GIF of more than one frame (tutorial 6's training
animation)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("tutorials_run_all", ROOT / "tutorials" / "run_all.py")
run_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_all)


def _frames(n, size=(40, 30)):
    return [Image.fromarray(np.full((size[1], size[0], 3), 40 * i, np.uint8)) for i in range(n)]


def test_pngs_and_animated_gifs_pass(tmp_path):
    png, gif = tmp_path / "01_a.png", tmp_path / "06_b.gif"
    _frames(1)[0].save(png)
    first, *rest = _frames(3)
    first.save(gif, save_all=True, append_images=rest, duration=100, loop=0)
    assert run_all.check_figure(png) is None and run_all.check_figure(gif) is None


def test_the_committed_training_gif_is_an_animation_of_ten_epochs():
    gif = ROOT / "tutorials" / "figures" / "06_training.gif"
    assert run_all.check_figure(gif) is None
    with Image.open(gif) as im:
        assert im.n_frames == 10  # tutorial 6 trains 10 epochs: one frame each


@pytest.mark.parametrize("case, message", [
    ("one_frame.gif", "is a GIF of 1 frame, not an animation"),
    ("png_named.gif", "is not a GIF"),
    ("truncated.png", "does not decode"),
    ("tiny.png", "is only 8 x 8 pixels"),
    ("missing.png", "did not write missing.png"),
    ("figure.jpg", "a figure must be .png or .gif"),
])
def test_broken_figures_are_named(case, message, tmp_path):
    path = tmp_path / case
    if case == "one_frame.gif":
        _frames(1)[0].save(path)
    elif case == "png_named.gif":
        _frames(1)[0].save(path, format="PNG")
    elif case == "truncated.png":
        _frames(1)[0].save(path)
        path.write_bytes(path.read_bytes()[:60])
    elif case == "tiny.png":
        _frames(1, size=(8, 8))[0].save(path)
    elif case == "figure.jpg":
        _frames(1)[0].save(path, format="JPEG")
    assert message in run_all.check_figure(path)
