"""Training: a compiled step and a loop (the functional core), with callbacks layered on top."""

from tfpvae.training.callbacks import Callback, EarlyStopping, JSONLogger, LambdaCallback, ProgressBar, TimeLimit
from tfpvae.training.checkpoint import Checkpoint, restore_variables
from tfpvae.training.loop import TrainingState, fit, fit_epochs
from tfpvae.training.step import make_evaluate, make_train_step, step_seed
from tfpvae.training.variables import trainable_variables

__all__ = ["fit", "fit_epochs", "TrainingState", "make_train_step", "make_evaluate", "step_seed", "trainable_variables",
           "Callback", "ProgressBar", "EarlyStopping", "TimeLimit", "LambdaCallback", "JSONLogger", "Checkpoint",
           "restore_variables"]
