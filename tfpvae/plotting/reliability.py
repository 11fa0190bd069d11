"""Reliability diagrams: accuracy against confidence in equal-width bins (Guo et al. 2017, fig. 1)."""

from __future__ import annotations

import os

import numpy as np

from tfpvae.evaluation.calibration import expected_calibration_error, reliability_bins
from tfpvae.plotting.figures import new_figure, save_figure, source_note

__all__ = ["reliability_diagram", "save_reliability_diagram"]


def reliability_diagram(probs, labels, n_bins: int = 15, title: str | None = None, data_source: str | None = None):
    """A matplotlib Figure: per-bin accuracy bars against the diagonal, gaps shaded, bin fractions below.

    Args:
      probs: class probabilities ``[N, C]``.
      labels: integer labels ``[N]``.
      n_bins: equal-width confidence bins on [0, 1] (as :func:`~tfpvae.evaluation.expected_calibration_error`).
      title: figure title; the ECE is appended.
      data_source: the ``DataArrays.source`` of the data; the data shipped in the package is named in
        the title.

    Returns:
      ``matplotlib.figure.Figure`` with two axes: reliability on top, confidence histogram below.

    References:
      Guo et al. (2017), On Calibration of Modern Neural Networks, ICML.
    """
    bins = reliability_bins(probs, labels, n_bins)
    ece = expected_calibration_error(probs, labels, n_bins)
    centers = 0.5 * (bins.edges[:-1] + bins.edges[1:])
    width = 1.0 / n_bins
    fig = new_figure((4.5, 5.5), dpi=120)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    used = bins.count > 0
    top.bar(centers[used], bins.accuracy[used], width=width, edgecolor="black", color="tab:blue", label="accuracy")
    top.bar(centers[used], bins.confidence[used] - bins.accuracy[used], bottom=bins.accuracy[used], width=width,
            edgecolor="tab:red", color="tab:red", alpha=0.3, label="gap to confidence")
    top.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.legend(loc="upper left", fontsize=8)
    note = source_note(data_source)
    top.set_title(f"{title + ': ' if title else ''}ECE = {ece:.4f} ({n_bins} bins)" + (f"\n[{note}]" if note else ""),
                  fontsize=10 if note is None else 9)
    bottom.bar(centers, bins.count / max(int(bins.count.sum()), 1), width=width, edgecolor="black", color="gray")
    bottom.set_xlabel("confidence (max probability)")
    bottom.set_ylabel("fraction")
    fig.tight_layout()
    return fig


def save_reliability_diagram(path: str | os.PathLike, probs, labels, n_bins: int = 15, title: str | None = None,
                             data_source: str | None = None):
    """Draw :func:`reliability_diagram` and write it (PNG by suffix) atomically with
    :func:`~tfpvae.plotting.save_figure` (temp file in the same folder, then ``os.replace``). Returns the path."""
    return save_figure(reliability_diagram(np.asarray(probs), np.asarray(labels), n_bins=n_bins, title=title,
                                           data_source=data_source), path)
