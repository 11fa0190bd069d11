"""Support checks at the data boundary: is this data something the decoder can score?

A likelihood scores values in its support only: a Bernoulli decoder's ``log p(x|z) = sum_i x_i l_i -
softplus(l_i)`` is linear in ``x``, so 0..255 floats give a loss that falls without bound (a "loss"
of -4239) instead of an error, and grey levels in (0, 1) give a bound that is not a log-likelihood
of any binary data. `check_support` looks at the images once, before training, and names the data
set and the first offending value.

References:
  Loaiza-Ganem & Cunningham (2019), The continuous Bernoulli: fixing a pervasive error in
  variational autoencoders (why [0, 1] data under a Bernoulli decoder is not a likelihood);
  Salimans et al. (2017), PixelCNN++ (the discretized logistic over 8-bit data).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["check_support", "GreyLevelWarning", "SUPPORT_LIKELIHOODS"]

SUPPORT_LIKELIHOODS = ("bernoulli", "continuous_bernoulli", "gaussian", "logistic")
_ALIASES = {"discretized_logistic": "logistic", "BernoulliHead": "bernoulli", "GaussianHead": "gaussian",
            "ContinuousBernoulliHead": "continuous_bernoulli", "DiscretizedLogisticHead": "logistic"}
_LATTICE_TOL = 1e-3  # in bins: float32 k/255 is within 2e-5 bins of k


class GreyLevelWarning(UserWarning):
    """Grey levels (values strictly between 0 and 1) fed to a Bernoulli decoder."""


def _locate(mask: np.ndarray, x: np.ndarray, scale: float = 1.0) -> tuple[float, str]:
    """(first offending value, "first at example i, element j; n of m values")."""
    flat = int(np.argmax(mask.reshape(-1)))
    value = x.reshape(-1)[flat].item()
    value = value / scale if scale != 1 else value
    per_example = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
    place = f"example {flat // per_example}" + (f", element {flat % per_example}" if x.ndim > 1 else "")
    return value, f"first at {place}; {int(mask.sum())} of {mask.size} values"


def _where(mask: np.ndarray, x: np.ndarray) -> str:
    value, place = _locate(mask, x)
    return f"{value!r} ({place})"


def _resolve(likelihood, data_range, num_bins):
    """(name, data_range, num_bins) from a string or a decoder head."""
    if not isinstance(likelihood, str):
        head = type(likelihood).__name__
        if head == "DiscretizedLogisticHead":
            data_range, num_bins = likelihood.data_range, likelihood.num_bins
        likelihood = head
    name = _ALIASES.get(likelihood, likelihood)
    if name not in SUPPORT_LIKELIHOODS:
        raise ValueError(f"check_support: likelihood must be one of {SUPPORT_LIKELIHOODS} or a decoder head of "
                         f"tfpvae.distributions, got {likelihood!r}")
    low, high = (float(v) for v in data_range)
    if not high > low or int(num_bins) < 2:
        raise ValueError(f"check_support: need data_range low < high and num_bins >= 2, got {tuple(data_range)}, "
                         f"{num_bins}")
    return name, (low, high), int(num_bins)


def check_support(images, likelihood, dataset: str = "data", *, binarize: str | None = None,
                  data_range=(0.0, 1.0), num_bins: int = 256) -> str:
    """Checks that a decoder with `likelihood` can score `images`; returns what the values are.

    `images` are taken as `make_dataset` receives them: uint8 0..255 are read as ``k / 255``
    (uint8 {0, 1} and bool stay binary); floats and other integer types are the values the decoder
    scores. With ``binarize="static"`` or ``"dynamic"`` the decoder sees {0, 1}.

    - every likelihood: values must be finite;
    - ``"bernoulli"``: values in [0, 1]; grey levels (strictly between 0 and 1) give a
      `GreyLevelWarning` (binarize them, or use a continuous Bernoulli); 0..255 floats are an error;
    - ``"continuous_bernoulli"``: values in [0, 1];
    - ``"logistic"`` (discretized): uint8, or values on the ``num_bins`` lattice of `data_range`
      (``k / 255`` in [0, 1] by default);
    - ``"gaussian"``: any finite value.

    Args:
      images: Array or eager tensor [N, ...].
      likelihood: One of `SUPPORT_LIKELIHOODS` ("discretized_logistic" is accepted too) or a decoder
        head (`BernoulliHead`, `GaussianHead`, `ContinuousBernoulliHead`, `DiscretizedLogisticHead`,
        whose range and bins are then used).
      dataset: Name used in messages, e.g. "binarized_mnist train".
      binarize: None/"none", "static" or "dynamic", as passed to `make_dataset`.
      data_range: The discretized logistic's (low, high).
      num_bins: The discretized logistic's number of levels.

    Returns:
      "binary {0, 1}", "grey levels in [0, 1]", "8-bit lattice" or "real-valued".

    Raises:
      ValueError: Naming `dataset`, the likelihood and the first offending value.
    """
    name, (low, high), num_bins = _resolve(likelihood, data_range, num_bins)
    if binarize not in (None, "none", "static", "dynamic"):
        raise ValueError(f"check_support: binarize must be None, 'none', 'static' or 'dynamic', got {binarize!r}")
    try:
        x = np.asarray(images)
    except Exception as e:  # e.g. a tf.data.Dataset, a ragged list
        raise ValueError(f"check_support: {dataset} must be an array or an eager tensor, got "
                         f"{type(images).__name__} ({e})") from None
    if x.dtype.kind not in "biuf" or x.size == 0:
        raise ValueError(f"check_support: {dataset} must be a non-empty numeric array, got {x.dtype}{list(x.shape)}")
    what = f"check_support: {dataset} for a {name} likelihood"
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            raise ValueError(f"{what}: non-finite value {_where(bad, x)}")
    binary_uint8 = x.dtype == np.bool_ or (x.dtype == np.uint8 and x.max() <= 1)
    if binary_uint8:
        return "binary {0, 1}"
    if x.dtype == np.uint8:  # make_dataset scales to k / 255
        if name == "bernoulli" and binarize in (None, "none"):
            grey = (x != 0) & (x != 255)
            if grey.any():
                return _grey(what, grey, x, scale=255)
            return "binary {0, 1}"
        if binarize in ("static", "dynamic"):
            return "binary {0, 1}"
        if name == "logistic" and (low, high, num_bins) != (0.0, 1.0, 256):
            return _check_lattice(what, x / 255.0, low, high, num_bins)
        return "8-bit lattice" if name == "logistic" else "grey levels in [0, 1]"
    if name == "gaussian" and binarize in (None, "none"):
        return "real-valued"
    if name != "logistic" or binarize in ("static", "dynamic"):
        _check_unit_interval(what, x)
        if binarize in ("static", "dynamic"):
            return "binary {0, 1}"
        grey = (x > 0) & (x < 1)
        if not grey.any():
            return "binary {0, 1}"
        return _grey(what, grey, x) if name == "bernoulli" else "grey levels in [0, 1]"
    return _check_lattice(what, x, low, high, num_bins)


def _check_unit_interval(what: str, x: np.ndarray) -> None:
    outside = (x < 0) | (x > 1)
    if not outside.any():
        return
    hint = ""
    if x.min() >= 0 and x.max() <= 255:
        hint = (": these look like 0..255 intensities; divide by 255, or pass the uint8 images to make_dataset "
                "(which scales them)")
    raise ValueError(f"{what}: values must lie in [0, 1], found {_where(outside, x)}{hint}")


def _grey(what: str, grey: np.ndarray, x: np.ndarray, scale: int = 1) -> str:
    value, place = _locate(grey, x, scale)
    warnings.warn(GreyLevelWarning(
        f"{what}: grey levels (values strictly between 0 and 1), e.g. {value:g} ({place}); a Bernoulli scores "
        "binary data, so this bound is not a log-likelihood: binarize (binarize='dynamic' or 'static') or use a "
        "continuous Bernoulli or discretized logistic decoder"), stacklevel=3)
    return "grey levels in [0, 1]"


def _check_lattice(what: str, x: np.ndarray, low: float, high: float, num_bins: int) -> str:
    width = (high - low) / (num_bins - 1)
    k = (np.asarray(x, np.float64) - low) / width
    outside = (k < -_LATTICE_TOL) | (k > num_bins - 1 + _LATTICE_TOL)
    if outside.any():
        hint = ""
        if x.min() >= 0 and x.max() <= 255 and high <= 1:
            hint = ": these look like 0..255 values; pass the uint8 images to make_dataset (it scales to k / 255)"
        raise ValueError(f"{what}: values must lie in [{low:g}, {high:g}], found {_where(outside, x)}{hint}")
    off = np.abs(k - np.round(k)) > _LATTICE_TOL
    if off.any():
        raise ValueError(f"{what}: values must be on the {num_bins}-level lattice of [{low:g}, {high:g}] "
                         f"(k / {num_bins - 1} for 8-bit data in [0, 1]), found {_where(off, x)}; a discretized "
                         "likelihood scores 8-bit integers: pass the uint8 images")
    return "8-bit lattice"
