"""Training: a compiled step and a loop (the functional core), with callbacks layered on top."""

from tfpvae.training.callbacks import (ActiveUnitsLogger, Callback, EarlyStopping, GracefulStop, JSONLogger,
                                      LambdaCallback, ProgressBar, TimeLimit)
from tfpvae.training.checkpoint import Checkpoint, checkpoint_keys, restore_model
from tfpvae.training.distribute import STRATEGIES, configure_cpu_replicas, is_chief, make_strategy, worker_directory
from tfpvae.training.loop import TrainingState, fit, fit_epochs
from tfpvae.training.precision import PRECISIONS, set_precision
from tfpvae.training.step import NONFINITE_POLICIES, make_evaluate, make_train_step, step_seed
from tfpvae.training.tensorboard import TensorBoard
from tfpvae.training.variables import hidden_variables, named_variables, trainable_variables

__all__ = ["fit", "fit_epochs", "TrainingState", "make_train_step", "make_evaluate", "step_seed", "NONFINITE_POLICIES",
           "trainable_variables", "named_variables", "hidden_variables",
           "Callback", "ProgressBar", "EarlyStopping", "GracefulStop", "TensorBoard", "ActiveUnitsLogger", "TimeLimit",
           "LambdaCallback", "JSONLogger",
           "Checkpoint",
           "restore_model", "checkpoint_keys",
           "STRATEGIES", "make_strategy", "configure_cpu_replicas", "is_chief", "worker_directory",
           "PRECISIONS", "set_precision"]
