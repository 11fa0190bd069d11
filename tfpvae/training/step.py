"""The functional core: a compiled train step with a non-finite guard, and an evaluation pass.

Both are pure functions of the variables, the batch and a seed derived from ``(base seed,
optimizer step)``, so a resumed run draws the same noise. The step runs in a replica context of
any ``tf.distribute.Strategy`` (the default strategy is one replica): the loss is the sum of the
per-example losses over the *global* batch divided by its size, so N replicas give the gradient one
device gives on the same global batch, and every replica folds its id into the seed so replicas
draw different noise.

References: NumPyro's ``stable_update`` (keep the old parameters when the loss or a gradient is not
finite); ``tf.distribute`` custom training loops (global-batch loss scaling).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

__all__ = ["make_train_step", "make_train_loop", "make_array_train_loop", "make_evaluate", "step_seed", "Totals",
           "NONFINITE_POLICIES"]

_EVAL_SALT = 2**30  # evaluation seeds never collide with training seeds
NONFINITE_POLICIES = ("stop", "skip")


def step_seed(base_seed: tf.Tensor, step) -> tf.Tensor:
    """Stateless seed for ``step``: ``[base_seed[0], base_seed[1] + step]``, shape ``[2]`` int32.

    Stateless samplers hash their seed into a Philox key and counter, so consecutive seeds give
    independent streams. Built from scalars rather than by ``stateless_fold_in`` (or a vector
    add): under XLA on CPU those forms made a ~1.3 ms MLP-VAE step ~0.5 ms slower (measured).
    """
    base = tf.cast(base_seed, tf.int32)
    return tf.stack([base[0], base[1] + tf.cast(step, tf.int32)])


def replica_seed(seed: tf.Tensor) -> tf.Tensor:
    """``seed`` folded with the replica id when there is more than one replica (else unchanged,
    so a one-device run draws exactly the noise it always drew)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return seed
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(ctx.replica_id_in_sync_group, tf.int32))


def _batch_size(batch) -> tf.Tensor:
    first = tf.nest.flatten(batch)[0]
    return tf.cast(tf.shape(first)[0], tf.float32)


def _terms_dict(terms) -> dict[str, tf.Tensor]:
    if not hasattr(terms, "_asdict") or "loss" not in terms._fields:
        raise TypeError(f"objective must return a NamedTuple with a 'loss' field, got {type(terms).__name__}")
    return {k: tf.cast(v, tf.float32) for k, v in terms._asdict().items()}


def _dense_values(gradient):
    """The stored entries of a gradient (an ``IndexedSlices`` one's ``values``, not its dense form)."""
    return gradient.values if isinstance(gradient, tf.IndexedSlices) else gradient


def _all_reduce(op, value):
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return value
    return ctx.all_reduce(op, value)


class Totals:
    """Sums of an objective's per-example terms, the example count and the skipped-batch count over
    an epoch, in one vector variable the compiled step adds to: one op per step, and the loop never
    waits on the device to log. Under a strategy it is an on-read ``SUM`` variable: each replica
    adds its own examples and a read sums the replicas."""

    def __init__(self, names: Sequence[str]):
        self.names = list(names)
        self.variable = tf.Variable(tf.zeros([len(self.names) + 2]), trainable=False, name="epoch_totals",
                                    synchronization=tf.VariableSynchronization.ON_READ,
                                    aggregation=tf.VariableAggregation.SUM)

    def reset(self) -> None:
        self.variable.assign(tf.zeros_like(self.variable))

    def accumulate(self, term_sums: tf.Tensor, batch, ok: tf.Tensor) -> None:
        """Add a batch's per-term sums (``[len(names)]``, in ``names`` order) if ``ok``, else count
        the batch as skipped (its terms are not finite)."""
        sums = tf.concat([term_sums, _batch_size(batch)[tf.newaxis]], 0)
        skipped = tf.where(ok, 0.0, 1.0)
        self.variable.assign_add(tf.concat([tf.where(ok, sums, tf.zeros_like(sums)), skipped[tf.newaxis]], 0))

    def load(self, values) -> None:
        """Set the sums, e.g. those of a partial epoch restored from a checkpoint (under a strategy
        each replica holds a share; a read sums them)."""
        values = tf.convert_to_tensor(values, tf.float32)
        if values.shape != self.variable.shape:
            raise ValueError(f"fit: the checkpoint's partial-epoch sums have {values.shape[0]} entries, but the "
                             f"objective's terms {self.names} need {self.variable.shape[0]}: another objective?")
        self.variable.assign(values)

    def read(self) -> tuple[dict[str, float], float]:
        """``({term: sum / count}, count)`` so far, from one read of the device."""
        values = self.variable.numpy()
        count = float(values[-2])
        return {k: float(v) / max(count, 1.0) for k, v in zip(self.names, values)}, count

    def skipped(self) -> int:
        """Batches skipped this epoch by ``nonfinite="skip"``."""
        return int(self.variable.numpy()[-1])

    def means(self) -> dict[str, float]:
        """``{term: sum / count}`` so far."""
        return self.read()[0]


class _CompiledUpdate:
    """``optimizer.apply_gradients`` as one XLA computation per set of variables: Keras 3's update
    rules are many element-wise ops per variable, which XLA fuses into one pass over each variable
    (see :mod:`tfpvae.training.compilation`). The variables are captured, not passed (a Keras
    variable is not a ``tf.function`` argument)."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self._functions: dict[tuple[int, ...], Callable] = {}

    def __call__(self, grads_and_vars) -> None:
        grads = [g for g, _ in grads_and_vars]
        variables = [v for _, v in grads_and_vars]
        key = tuple(id(v) for v in variables)
        if key not in self._functions:
            self._functions[key] = tf.function(lambda grads: self.optimizer.apply_gradients(zip(grads, variables)),
                                               jit_compile=True, autograph=False)
        self._functions[key](grads)


def _apply_if(ok: tf.Tensor, optimizer, grads_and_vars, update=None) -> None:
    """``optimizer.apply_gradients`` (or ``update``, a one-replica replacement of it) only when ``ok``
    (identical on every replica). A ``tf.cond`` whose branch calls ``merge_call`` is not allowed in a
    replica context of strategies that need merge calls, so there the condition is taken in the
    cross-replica context (as Keras' loss-scale optimizer does)."""
    def apply():
        (update or optimizer.apply_gradients)(grads_and_vars)
        return tf.constant(True)

    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1 or tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(ok, apply, lambda: tf.constant(False))
        return

    def cross_replica(strategy, ok, grads_and_vars):
        first_ok = strategy.experimental_local_results(ok)[0]

        def apply_all():
            strategy.extended.call_for_each_replica(lambda gv: optimizer.apply_gradients(gv), args=(grads_and_vars,))
            return tf.constant(True)

        tf.cond(first_ok, apply_all, lambda: tf.constant(False))

    ctx.merge_call(cross_replica, args=(ok, grads_and_vars))


class Compiled:
    """``tf.function(fn, **options)`` traced without AutoGraph, falling back to AutoGraph for code
    that needs it.

    AutoGraph parses and rewrites the source of every Python function a training step calls (the
    model, its heads, TFP's distributions, Keras' optimizer): ~2 s of a first epoch, measured, for
    control flow that tfpvae's own code writes explicitly. A user's model that branches or loops in
    Python on a tensor (``if tf.reduce_sum(x) > 0:``) cannot be traced without it; that trace fails
    before anything runs (``OperatorNotAllowedInGraphError``), and the function is then traced again
    with AutoGraph, once, as before. Other attributes (``get_concrete_function``, ...) are those of
    the ``tf.function`` in use; ``python_function`` is ``fn``."""

    def __init__(self, fn, **options):
        self.python_function = fn
        self._with_autograph = tf.function(fn, **options)
        self._function = tf.function(fn, autograph=False, **options)

    def __call__(self, *args):
        try:
            return self._function(*args)
        except tf.errors.OperatorNotAllowedInGraphError:
            if self._function is self._with_autograph:
                raise
            self._function = self._with_autograph
            return self._function(*args)

    def __getattr__(self, name):
        function = self.__dict__.get("_function")
        if function is None:  # e.g. while copy or pickle rebuilds the object
            raise AttributeError(name)
        return getattr(function, name)


def make_train_step(model, objective, optimizer, variables: Sequence, *, seed, jit_compile: bool = False,
                    totals: Totals | None = None, nonfinite: str = "stop", clip_norm: float | None = None,
                    compile_update: bool = False):
    """Build ``step(batch) -> (ok, bad)`` for a replica context, compiled with ``tf.function``.

    The step minimises ``sum(objective(...).loss) / global_batch_size`` over ``variables``. Before
    the update it checks every term of the objective and every gradient: if any is not finite the
    update is not applied (``ok`` is False; ``bad`` flags ``[term_1, ..., term_n, gradient]``, each
    1.0 where non-finite), so the variables keep their last finite values. ``nonfinite`` is used by
    the loop (``"stop"``: end the run with an error; ``"skip"``: go on, counting the batch in
    ``totals``). With a ``keras.optimizers.LossScaleOptimizer`` (float16) the loss is scaled and
    non-finite gradients are the optimizer's business (it lowers the scale); the loss terms are
    still guarded. ``clip_norm`` clips the global-batch gradient by its global norm. With
    ``compile_update`` (and ``jit_compile`` off) the optimizer update of a one-replica step is one
    XLA computation (not with a loss-scale optimizer, whose scale logic stays as Keras writes it).
    """
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"fit: nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"fit: clip_norm must be a positive number, got {clip_norm!r}")
    base = tf.convert_to_tensor(seed, tf.int32)
    variables = list(variables)
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    compiled_update = _CompiledUpdate(optimizer) if compile_update and not jit_compile and not scaled else None

    def step(batch):
        ctx = tf.distribute.get_replica_context()
        replicas = 1 if ctx is None else ctx.num_replicas_in_sync
        s = replica_seed(step_seed(base, optimizer.iterations))
        with tf.GradientTape() as tape:
            terms = _terms_dict(objective(model, batch, seed=s, step=optimizer.iterations))
            global_size = _all_reduce(tf.distribute.ReduceOp.SUM, _batch_size(batch))
            loss = tf.reduce_sum(terms["loss"]) / global_size
            target = optimizer.scale_loss(loss) if scaled else loss
        grads = tape.gradient(target, variables)
        missing = [v.name for v, g in zip(variables, grads) if g is None]
        if missing:
            warnings.warn(f"train step: {len(missing)} trainable variable(s) receive no gradient and are not "
                          f"trained: {missing[:8]}", stacklevel=2)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        # A sum is finite iff every summand is (barring float32 overflow, itself a failure): the
        # per-term batch sums, which the epoch totals need anyway, and one sum over every gradient
        # entry decide the guard in a handful of ops instead of two per tensor. A plain sum, not the
        # global norm: no squares to compute (a separate pass over the gradients under XLA), and no
        # overflow of finite gradients above ~1e19 to a false alarm.
        term_sums = tf.stack([tf.reduce_sum(t) for t in terms.values()])
        if scaled:
            grad_bad = tf.zeros([1])
        else:
            grad_sum = tf.add_n([tf.reduce_sum(_dense_values(g)) for g, _ in pairs])
            grad_bad = 1.0 - tf.cast(tf.math.is_finite(grad_sum), tf.float32)[None]
        bad = tf.concat([1.0 - tf.cast(tf.math.is_finite(term_sums), tf.float32), grad_bad], 0)
        bad = tf.minimum(_all_reduce(tf.distribute.ReduceOp.SUM, bad), 1.0)  # 1.0 where any replica saw it
        ok = tf.equal(tf.reduce_max(bad), 0.0)
        if clip_norm is not None:
            reduced = _all_reduce(tf.distribute.ReduceOp.SUM, [g for g, _ in pairs])
            clipped, _ = tf.clip_by_global_norm(reduced, clip_norm)
            # the optimizer sums gradients over replicas again: hand each replica its share
            pairs = [(g / replicas, v) for g, (_, v) in zip(clipped, pairs)]
        _apply_if(ok, optimizer, pairs, compiled_update if replicas == 1 else None)
        if totals is not None:
            totals.accumulate(term_sums, batch, ok)
        return ok, bad

    return Compiled(step, jit_compile=jit_compile, reduce_retracing=True)


def make_train_loop(train_step, steps_per_execution: int, *, num_flags: int,
                    strategy: tf.distribute.Strategy | None = None, stop_on_bad: bool = True):
    """Build ``run(iterator) -> (steps taken, ok, bad)``: up to ``steps_per_execution`` calls of
    ``train_step`` inside one ``tf.function``, pulling batches from the iterator in-graph (each
    step under ``strategy.run``). ``num_flags`` is the length of the step's ``bad`` vector.

    One Python call then drives many steps, so the ~0.2 ms dispatch of a ``tf.function`` call and
    the per-step Python work are paid once per ``steps_per_execution`` steps (per-step overhead, not
    arithmetic, dominates an MLP VAE on CPU: see benchmarks/). Fewer steps are returned when the
    iterator runs out, or, with ``stop_on_bad``, right after a step whose update was refused.
    """
    if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, int) or steps_per_execution < 1:
        raise ValueError(f"steps_per_execution must be a positive int, got {steps_per_execution!r}")
    strategy = strategy or tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync > 1 and hasattr(train_step, "python_function"):
        # a cross-replica tf.cond (the guarded update) inside a nested tf.function in a while loop
        # fails to feed its captures: trace the step inline instead
        train_step = train_step.python_function

    def one_step(batch):
        ok, bad = strategy.run(train_step, args=(batch,))
        return strategy.experimental_local_results(ok)[0], strategy.experimental_local_results(bad)[0]

    def run(iterator):
        # explicit control flow traced without AutoGraph (its source conversion of every function a
        # step calls was ~2 s of the first epoch): a while loop whose body takes the next batch if
        # there is one and steps on it, else ends the loop
        def body(taken, ok, bad, more):
            batch = iterator.get_next_as_optional()

            def step():
                step_ok, step_bad = one_step(batch.get_value())
                go_on = taken + 1 < steps_per_execution
                return taken + 1, step_ok, step_bad, tf.logical_and(go_on, step_ok) if stop_on_bad else go_on

            return tf.cond(batch.has_value(), step, lambda: (taken, ok, bad, tf.constant(False)))

        taken, ok, bad, _ = tf.while_loop(lambda taken, ok, bad, more: more, body,
                                          (tf.constant(0), tf.constant(True), tf.zeros([num_flags]),
                                           tf.constant(True)))
        return taken, ok, bad

    return Compiled(run)


def make_array_train_loop(train_step, data, *, num_flags: int, jit_compile: bool = False, stop_on_bad: bool = True):
    """Build ``run(order, noise_seed, start, count, size=None) -> (steps taken, ok, bad)`` for in-memory data
    (:class:`tfpvae.data.ArrayData`): ``count`` steps on batches ``start, start + 1, ...`` of the
    epoch whose plan is ``(order, noise_seed)``, each batch gathered from the in-memory tensor inside
    the compiled loop. With ``jit_compile`` the whole multi-step loop -- gathers, steps, guard and
    optimizer updates -- is one XLA computation, which is where XLA pays most on CPU (the many small
    ops of a step fuse, and nothing returns to Python between steps). ``count`` and ``start`` are
    tensors, so one trace serves every call; ``size`` (default ``data.batch_size``) is the batch
    size, so the epoch's last, smaller batch (if any) is one more trace, run with
    ``run(order, noise_seed, data.full_batches, 1, data.remainder)``. The data are passed as
    arguments, not captured as constants of the computation."""
    step = getattr(train_step, "python_function", train_step)  # traced inline: one compiled unit

    def run(images, labels, order, noise_seed, start, count, size):
        # an explicit while loop on `taken < count` (not `for i in tf.range(count)`: XLA takes a
        # range's limit as a compile-time constant and would compile again for every count), traced
        # without AutoGraph: converting the source of every function a step calls was ~2 s of the
        # first epoch (measured), and the step's own control flow is explicit already
        def cond(taken, ok, bad):
            more = taken < count
            return tf.logical_and(more, ok) if stop_on_bad else more

        def body(taken, ok, bad):
            ok, bad = step(data.batch(order, noise_seed, tf.cast(start + taken, tf.int64), size, images, labels))
            return taken + 1, ok, bad

        return tf.while_loop(cond, body, (tf.constant(0), tf.constant(True), tf.zeros([num_flags])))

    loop = Compiled(run, jit_compile=jit_compile)

    def call(order, noise_seed, start: int, count: int, size: int | None = None):
        return loop(data.images, data.labels, order, noise_seed, tf.constant(start, tf.int32),
                    tf.constant(count, tf.int32), data.batch_size if size is None else size)

    return call


def make_evaluate(model, objective, *, seed, jit_compile: bool = False):
    """Build ``evaluate(dataset) -> {name: mean over all examples}`` (a compiled per-batch sum, with
    fixed seeds: the same model and data give the same numbers)."""
    base = tf.convert_to_tensor(seed, tf.int32)

    def sums(batch, index):
        terms = _terms_dict(objective(model, batch, seed=step_seed(base, _EVAL_SALT + index), step=0))
        return {k: tf.reduce_sum(v) for k, v in terms.items()}, _batch_size(batch)

    batch_sums = Compiled(sums, jit_compile=jit_compile, reduce_retracing=True)

    def evaluate(dataset) -> dict[str, float]:
        totals, count = None, 0.0
        for i, batch in enumerate(dataset):  # tensors accumulate without waiting for the device
            sums, n = batch_sums(batch, tf.constant(i, tf.int32))
            totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
            count = count + n
        if totals is None:
            raise ValueError("evaluate: the dataset yielded no batches")
        return {k: float(v / count) for k, v in totals.items()}

    return evaluate
