"""sweep: a grid or a search of experiments fanned out over the machines of a Dask cluster, every trial an ordinary
DVC experiment (docs/sweeps.md).

plan.py says what the trials are and what they are called; search.py chooses them from a search space with
Optuna; worker.py is what runs on each machine (its own clone, `dvc exp run`, then the results shared through
git and the DVC remote); share.py sends a trial's run-cache to the remote; driver.py hands the trials to Dask
and gathers them; page.py draws the sweep. `python -m mnist_dvc.apps.sweep` is the command (__main__.py).
"""
