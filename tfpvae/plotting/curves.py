"""Training curves from a run's per-epoch logs (``metrics.json``: ``{"epochs": [logs, ...]}``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from tfpvae.plotting.figures import new_figure, source_note, titled

__all__ = ["training_curves", "CURVES"]

# (title, keys tried in order): the first key found in an epoch's logs names the panel's quantity.
CURVES = (
    ("bound (nats)", ("elbo", "bound")),
    ("reconstruction log-likelihood (nats)", ("log_likelihood",)),
    ("KL(q(z|x) || p(z)) (nats)", ("kl",)),
    ("active units", ("active_units",)),
    ("KL weight beta", ("beta",)),
)
SPLITS = ("train", "validation", "test")


def _series(epochs: list[dict], key: str) -> dict[str, tuple[list, list]]:
    """``{split: (epoch numbers, values)}`` for ``key`` in each split's dict, or ``{"": ...}`` when
    the key is a top-level entry of the epoch logs."""
    out: dict[str, tuple[list, list]] = {}
    for i, logs in enumerate(epochs):
        epoch = logs.get("epoch", i + 1)
        for split in ("", *SPLITS):
            node = logs if not split else logs.get(split)
            if isinstance(node, dict) and isinstance(node.get(key), (int, float)) and not isinstance(node[key], bool):
                xs, ys = out.setdefault(split, ([], []))
                xs.append(epoch), ys.append(float(node[key]))
    return out


def training_curves(metrics, *, ncols: int = 3, panel_size: tuple[float, float] = (3.4, 2.6), dpi: int = 100,
                    title: str | None = None, data_source: str | None = None):
    """One panel per quantity the logs hold (bound, reconstruction, KL, active units, beta), one
    line per split (train / validation / test), against the epoch.

    Args:
      metrics: the dict of a run's ``metrics.json`` (``{"epochs": [...]}``), the list of epoch logs
        itself (``TrainingState.history``), or the path of a ``metrics.json`` / run directory.
      title: the figure's title.
      data_source: the ``DataArrays.source`` of the run; the data shipped in the package is named in
        the title. Read from ``metrics.json``'s ``"data_source"`` when not given.

    Returns:
      A ``Figure`` of ``ncols * panel_size[0]`` by ``rows * panel_size[1]`` inches.
    """
    if isinstance(metrics, (str, Path)):
        path = Path(metrics)
        metrics = json.loads((path / "metrics.json" if path.is_dir() else path).read_text())
    if data_source is None and isinstance(metrics, dict):
        data_source = metrics.get("data_source")
    title = titled(title, source_note(data_source))
    epochs = metrics["epochs"] if isinstance(metrics, dict) else list(metrics)
    if not epochs:
        raise ValueError("training_curves: the metrics hold no epochs")
    panels = []
    for name, keys in CURVES:
        for key in keys:
            series = _series(epochs, key)
            if series:
                panels.append((name, key, series))
                break
    if not panels:
        raise ValueError(f"training_curves: no known quantity ({', '.join(k for _, ks in CURVES for k in ks)}) "
                         f"in the epoch logs; train keys: {sorted(epochs[0].get('train', {}))}")
    from matplotlib.ticker import MaxNLocator

    ncols = min(ncols, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    top = 0.3 + 0.15 * title.count("\n") if title else 0.0
    fig = new_figure((ncols * panel_size[0], nrows * panel_size[1] + top), dpi)
    for i, (name, key, series) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for split, (xs, ys) in series.items():
            ax.plot(xs, ys, marker="." if len(xs) < 30 else None, label=split or key)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(series) > 1:
            ax.legend(fontsize=6)
        if key in ("elbo", "bound", "log_likelihood"):
            finite = [y for _, ys in series.values() for y in ys if np.isfinite(y)]
            if len(finite) > 3:  # the first epoch's bound can dwarf the rest: zoom on the later ones
                lo, hi = np.percentile(finite, 5), max(finite)
                pad = 0.05 * (hi - lo) if hi > lo else 1.0
                ax.set_ylim(lo - pad, hi + pad)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
