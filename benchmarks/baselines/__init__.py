"""Baselines that ``benchmarks/throughput.py`` measures tfpvae against: the loops users copy.

Every runner has the same interface, ``runner.epoch() -> (seconds, mean training loss)``, takes its
batches from the same input pipeline (``tfpvae.data.make_dataset``: in-memory gather, fixed
parallelism, autotuning off) and accumulates its loss over the epoch as tfpvae does, so nobody is
measured doing less work. ``jit=True`` compiles the step with XLA, for XLA-against-XLA figures.
"""
