"""Run several ``tfpvae.fit`` trainings epoch by epoch in turn, so machine noise hits all of them alike.

Timings on a shared 2-core machine drift by tens of percent within a minute; two models trained one
after the other can differ by that much for no reason of their own. ``fit_epochs`` runs one epoch per
``next()``, so here the trainings take turns in one thread, and epoch k of every model is timed within
seconds of epoch k of the others.
"""

from __future__ import annotations

from tfpvae.training import fit_epochs


def interleaved_fits(jobs: dict[str, dict]) -> dict:
    """``{name: fit keyword arguments}`` -> ``{name: final TrainingState}``, one epoch each in turn."""
    runs = {name: fit_epochs(**kwargs) for name, kwargs in jobs.items()}
    states = {}
    while runs:
        for name, run in list(runs.items()):
            try:
                next(run)
            except StopIteration as done:
                states[name] = done.value
                del runs[name]
    return {name: states[name] for name in jobs}
