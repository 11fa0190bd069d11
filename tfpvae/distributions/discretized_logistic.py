"""Discretized logistic likelihood for 8-bit data (Salimans et al. 2017, PixelCNN++).

Data convention: values lie on the lattice ``low + k * (high - low) / (num_bins - 1)``,
``k = 0 .. num_bins - 1``. The default ``data_range=(0, 1), num_bins=256`` is ``x = k / 255``, exactly
what :func:`tfpvae.data.make_dataset` yields for uint8 images (``binarize=None``); ``(0, 255)`` takes the
raw integers as float32 and ``(-1, 1)`` is the PixelCNN++ convention (bin width ``2 / 255``). Whatever
the range, ``log_prob`` is the log of a probability *mass* over the ``num_bins`` values, so bits/dim need
no scaling correction. Values within half a bin of a lattice point are snapped to it; values further
outside ``[low, high]`` have probability 0 (``log_prob = -inf``), so 0..255 data fed to a [0, 1]
likelihood fails loudly instead of silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import check_last_dim
from tfpvae._validation import integer, real_number
from tfpvae.distributions.heads import _clip_through, _Head
from tfpvae._seeds import as_seed

tfd = tfp.distributions

__all__ = ["DiscretizedLogistic", "DiscretizedLogisticHead", "MAX_BINS", "MAX_LOG_SCALE"]

MAX_BINS = 2**16  # up to 16-bit data; the lattice index k is computed in float32, exact far beyond this
MAX_LOG_SCALE = 10.0  # raw log-scale cap of the head: scale <= e^10 half-ranges, so exp never overflows
_LOWEST_MIN_LOG_SCALE = -30.0  # scale >= e^-30 half-ranges: (x - loc) / scale stays finite, never 0 / 0


def _lattice(data_range, num_bins, component: str) -> tuple[float, float, int]:
    """``(low, high, num_bins)`` checked: finite ``low < high``, an integer ``2 <= num_bins <= MAX_BINS``."""
    try:
        low, high = data_range
    except (TypeError, ValueError):
        raise ValueError(f"{component}: data_range must be a pair (low, high), got {data_range!r}") from None
    low = real_number(low, component, "data_range low")
    high = real_number(high, component, "data_range high")
    if not high > low or high - low > np.finfo(np.float32).max:
        raise ValueError(f"{component}: data_range must be finite with low < high, got {tuple(data_range)}")
    return low, high, integer(num_bins, component, "num_bins", low=2, high=MAX_BINS)


class DiscretizedLogistic(tfd.Distribution):
    """A logistic ``(loc, scale)`` (data units) integrated over the bins of a ``num_bins`` lattice.

    Bin ``k`` is ``[x_k - w/2, x_k + w/2]`` with ``w = (high - low) / (num_bins - 1)``; the edge bins
    take the tails (``k = 0`` gets ``(-inf, low + w/2]``, the top gets ``[high - w/2, inf)``), so the
    masses sum to 1 exactly. With ``a = (x + w/2 - loc) / scale`` and ``b = (x - w/2 - loc) / scale``,
    ``P(k) = sigmoid(a) - sigmoid(b) = sigmoid(a) * sigmoid(-b) * (1 - exp(-(a - b)))``, so

        log P(k) = log_sigmoid(a) + log_sigmoid(-b) + log1mexp(w / scale)

    is exact and stable for every scale and loc: no difference of nearly equal numbers is formed
    (``a - b = w / scale`` is computed directly), so PixelCNN++'s mid-bin density fallback for
    ``cdf_delta < 1e-5`` is not needed (where it would apply, this is exact, it is an approximation).

    Why not ``tfd.QuantizedDistribution(tfd.Logistic)``: it is stable too (log-sub-exp of log-CDFs), but
    its bins are ``(k - 1, k]`` (PixelCNN++'s centred bins need ``loc - 1/2``, easy to get wrong) on the
    integer lattice only; moving to [0, 1] data through a ``TransformedDistribution`` would add a
    Jacobian term to what is a probability mass, which is wrong. The tests cross-check against it.

    Batch shape: broadcast of ``loc`` and ``scale``; event shape ``[]`` (wrap in ``tfd.Independent``).
    Samples lie on the lattice (float). Not reparameterised.
    """

    def __init__(self, loc, scale, data_range: Sequence[float] = (0.0, 1.0), num_bins: int = 256,
                 validate_args: bool = False, allow_nan_stats: bool = True, name: str = "DiscretizedLogistic"):
        parameters = dict(locals())
        low, high, num_bins = _lattice(data_range, num_bins, "DiscretizedLogistic")
        with tf.name_scope(name):
            self._loc = tf.convert_to_tensor(loc, dtype_hint=tf.float32, name="loc")
            self._scale = tf.convert_to_tensor(scale, dtype=self._loc.dtype, name="scale")
        self.low, self.high, self.num_bins = low, high, num_bins
        self.bin_width = (high - low) / (self.num_bins - 1)
        super().__init__(dtype=self._loc.dtype, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict(loc=tfp.util.ParameterProperties(),
                    scale=tfp.util.ParameterProperties(default_constraining_bijector_fn=tfp.bijectors.Softplus))

    @property
    def loc(self) -> tf.Tensor:
        return self._loc

    @property
    def scale(self) -> tf.Tensor:
        return self._scale

    def _event_shape(self):
        return tf.TensorShape([])

    def _event_shape_tensor(self):
        return tf.constant([], tf.int32)

    def _index(self, x):
        """Lattice index of ``x`` (float, rounded, unclipped)."""
        return tf.round((x - self.low) / self.bin_width)

    def _log_prob(self, x):
        x = tf.convert_to_tensor(x, self.dtype)
        k = self._index(x)
        inside = (k >= 0) & (k <= self.num_bins - 1)
        xs = self.low + tf.clip_by_value(k, 0.0, self.num_bins - 1.0) * self.bin_width
        half = 0.5 * self.bin_width
        a = (xs + half - self._loc) / self._scale
        b = (xs - half - self._loc) / self._scale
        lower = tf.math.log_sigmoid(a)  # log P(X <= x + w/2)
        upper = tf.math.log_sigmoid(-b)  # log P(X >= x - w/2)
        middle = lower + upper + tfp.math.log1mexp(self.bin_width / self._scale)
        lp = tf.where(k <= 0, lower, tf.where(k >= self.num_bins - 1, upper, middle))
        return tf.where(inside, lp, tf.constant(-np.inf, self.dtype))

    def _sample_n(self, n, seed=None):
        shape = tf.concat([[n], self.batch_shape_tensor()], 0)
        seed = as_seed(seed, salt="DiscretizedLogistic")
        tiny = np.finfo(self.dtype.as_numpy_dtype).tiny
        u = tf.random.stateless_uniform(shape, seed=seed, minval=tiny, maxval=1.0, dtype=self.dtype)
        y = self._loc + self._scale * (tf.math.log(u) - tf.math.log1p(-u))
        return self._snap(y)

    def _snap(self, y):
        k = tf.clip_by_value(self._index(y), 0.0, self.num_bins - 1.0)
        return self.low + k * self.bin_width

    def _mode(self):
        return self._snap(self._loc * tf.ones_like(self._scale))

    def _mean(self):
        """``low + w * sum_{k>=1} P(X >= k)``: exact, costs ``num_bins - 1`` sigmoids per element."""
        loc, scale = self._loc + tf.zeros_like(self._scale), self._scale + tf.zeros_like(self._loc)
        edges = self.low + (tf.range(1, self.num_bins, dtype=self.dtype) - 0.5) * self.bin_width
        edges = tf.reshape(edges, tf.concat([[-1], tf.ones([tf.rank(loc)], tf.int32)], 0))
        tail = tf.sigmoid((loc - edges) / scale)
        return self.low + self.bin_width * tf.reduce_sum(tail, axis=0)


class DiscretizedLogisticHead(_Head):
    """Decoder head: independent (mixtures of) discretized logistics over 8-bit data.

    Network outputs are in PixelCNN++ units (data mapped to [-1, 1]) whatever ``data_range`` is, so a
    zero output means mid-range: ``loc = centre + half_range * raw_loc``, ``scale = half_range *
    exp(max(raw_log_scale, min_log_scale))`` (PixelCNN++ clamps at -7: the mass of a bin hit by loc
    is then at most 1 - 1e-4, keeping gradients bounded). The raw log-scale is also capped at
    :data:`MAX_LOG_SCALE` = 10 (gradient passed straight through, as the Gaussian heads' cap), so a
    diverging network's output of 100 gives a near-flat but finite mass instead of ``exp`` overflowing
    to an infinite scale and ``log_prob = -inf`` on every bin.

    ``data_range`` is a finite pair ``low < high``, ``num_bins`` an int in ``[2, MAX_BINS]``,
    ``min_log_scale`` a float in ``[-30, MAX_LOG_SCALE)``; anything else is a ValueError naming the head.

    Parameters per dimension (``params`` laid out ``event_shape + [k]``): ``num_components == 1``:
    ``k = 2`` (loc, log-scale); ``num_components = K > 1``: ``k = 3K`` (K mixture logits, K locs,
    K log-scales), a ``tfd.MixtureSameFamily`` per dimension.

    Returns ``Independent(..., len(event_shape))`` whose ``log_prob(x)`` expects ``x`` on the lattice
    of ``data_range`` (default: ``k / 255`` in [0, 1], as ``make_dataset`` yields for uint8 images).
    """

    def __init__(self, event_shape: Sequence[int], num_components: int = 1,
                 data_range: Sequence[float] = (0.0, 1.0), num_bins: int = 256, min_log_scale: float = -7.0):
        if isinstance(num_components, bool) or not isinstance(num_components, int) or num_components < 1:
            raise ValueError(f"DiscretizedLogisticHead: num_components must be a positive int, got {num_components!r}")
        self.num_components = num_components
        self.num_params_per_dim = 2 if num_components == 1 else 3 * num_components
        super().__init__(event_shape)
        low, high, self.num_bins = _lattice(data_range, num_bins, "DiscretizedLogisticHead")
        self.data_range = (low, high)
        self.min_log_scale = real_number(min_log_scale, "DiscretizedLogisticHead", "min_log_scale",
                                         low=_LOWEST_MIN_LOG_SCALE, high=MAX_LOG_SCALE, high_open=True)

    def __call__(self, params: tf.Tensor) -> tfd.Distribution:
        params = tf.convert_to_tensor(params)
        check_last_dim(params, self.num_params, "DiscretizedLogisticHead", "parameter tensor")
        shape = tf.concat([tf.shape(params)[:-1], self.event_shape, [self.num_params_per_dim]], 0)
        params = tf.reshape(params, shape)
        low, high = self.data_range
        centre, half = 0.5 * (low + high), 0.5 * (high - low)
        if self.num_components == 1:
            raw_loc, raw_log_scale, logits = params[..., 0], params[..., 1], None
        else:
            logits, raw_loc, raw_log_scale = tf.split(params, 3, axis=-1)
        loc = centre + half * raw_loc
        log_scale = _clip_through(tf.maximum(raw_log_scale, self.min_log_scale), -np.inf, MAX_LOG_SCALE)
        scale = half * tf.exp(log_scale)
        dist = DiscretizedLogistic(loc, scale, self.data_range, self.num_bins)
        if logits is not None:
            dist = tfd.MixtureSameFamily(tfd.Categorical(logits=logits), dist)
        return self._independent(dist)
