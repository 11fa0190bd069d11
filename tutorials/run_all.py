"""Run the tutorials in full mode and refresh their figures in ``tutorials/figures/`` (``make tutorials``).

Usage::

    python tutorials/run_all.py                      # every tutorial, one after another
    python tutorials/run_all.py 02_regression.py 10  # some of them (file names or number prefixes)
    python tutorials/run_all.py --smoke              # the quick CI variant, figures to a temporary folder
    python tutorials/run_all.py --threads 2          # TensorFlow/OpenMP threads per tutorial (default 1)

Each tutorial runs as a script in its own process, from ``tutorials/`` (so their default data folder
``../../shared/data`` is the one beside the clone; ``--data-dir`` or ``TFPVAE_DATA_DIR`` overrides it),
with its figures written to ``tutorials/figures/``. A tutorial that fails its final checks exits
non-zero; this script reports every tutorial's status and time and exits non-zero if any failed, or
if a declared figure is missing from the folder, is not what its name says (:func:`check_figure`: a
PNG image, or an animated GIF of more than one frame) or is not shown in ``tutorials/README.md``.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURE_TYPES = (".png", ".gif")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")


def check_figure(path: Path) -> str | None:
    """``None`` if ``path`` is a figure a tutorial may declare, else what is wrong with it.

    ``.png``: a PNG that Pillow decodes, at least 16 x 16 pixels. ``.gif``: an animated GIF (a
    tutorial's training animation) that Pillow decodes, with more than one frame, all of one size.
    """
    from PIL import Image  # the harness's one dependency beyond the standard library (tfpvae requires Pillow)

    path = Path(path)
    if path.suffix not in FIGURE_TYPES:
        return f"{path.name}: a figure must be {' or '.join(FIGURE_TYPES)}"
    if not path.is_file():
        return f"did not write {path.name}"
    head = path.read_bytes()[:8]
    if path.suffix == ".png" and head != PNG_SIGNATURE:
        return f"{path.name} is not a PNG (starts {head!r})"
    if path.suffix == ".gif" and head[:6] not in GIF_SIGNATURES:
        return f"{path.name} is not a GIF (starts {head!r})"
    try:
        with Image.open(path) as im:
            frames, size = getattr(im, "n_frames", 1), im.size
            sizes = set()
            for i in range(frames):
                im.seek(i)
                im.load()
                sizes.add(im.size)
    except (OSError, EOFError, SyntaxError, ValueError) as e:  # what Pillow raises for a broken file
        return f"{path.name} does not decode ({type(e).__name__}: {e})"
    if min(size) < 16:
        return f"{path.name} is only {size[0]} x {size[1]} pixels"
    if path.suffix == ".gif" and frames < 2:
        return f"{path.name} is a GIF of {frames} frame, not an animation"
    if len(sizes) > 1:
        return f"{path.name} has frames of {len(sizes)} sizes {sorted(sizes)}"
    return None


def declared_figures(path: Path) -> list[str]:
    """The module-level ``FIGURES`` list of a tutorial, read without running it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "FIGURES" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def select(names: list[str]) -> list[Path]:
    tutorials = sorted(HERE.glob("[0-9][0-9]_*.py"))
    if not names:
        return tutorials
    chosen = []
    for name in names:
        matches = [t for t in tutorials if t.name == name or t.name.startswith(name)]
        if not matches:
            raise SystemExit(f"run_all: no tutorial matches {name!r}; have {[t.name for t in tutorials]}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tutorials", nargs="*", help="file names or number prefixes (default: all)")
    parser.add_argument("--smoke", action="store_true", help="TFPVAE_SMOKE=1, figures to a temporary folder")
    parser.add_argument("--threads", type=int, default=1, help="threads per tutorial (default 1)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $TFPVAE_DATA_DIR or ../shared/data)")
    args = parser.parse_args(argv)

    out = Path(tempfile.mkdtemp(prefix="tfpvae_tutorials_")) if args.smoke else HERE / "figures"
    threads = str(args.threads)
    env = {**os.environ, "TFPVAE_TUTORIAL_OUT": str(out), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": threads,
           "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads}
    env.pop("TFPVAE_SMOKE", None)
    if args.smoke:
        env["TFPVAE_SMOKE"] = "1"
    if args.data_dir:
        env["TFPVAE_DATA_DIR"] = str(Path(args.data_dir).resolve())
    readme = (HERE / "README.md").read_text() if (HERE / "README.md").exists() else ""
    failures = []
    for path in select(args.tutorials):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, path.name], cwd=HERE, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        problems = [] if proc.returncode == 0 else [f"exit status {proc.returncode}"]
        for name in declared_figures(path):
            problem = check_figure(out / name)
            if problem:
                problems.append(problem)
            elif not args.smoke and f"figures/{name}" not in readme:
                problems.append(f"figures/{name} is not shown in tutorials/README.md")
        status = "ok" if not problems else "FAILED: " + "; ".join(problems)
        print(f"{path.name:40s} {seconds:7.1f} s  {status}", flush=True)
        if problems:
            failures.append(path.name)
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:] + "\n")
    print(f"figures in {out}" + (f"; {len(failures)} failed: {', '.join(failures)}" if failures else "; all passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
