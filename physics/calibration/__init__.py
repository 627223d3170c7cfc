"""Calibration of the physics parameters against the record: an iterative ensemble
smoother (ES-MDA) over per-cell compressible parameters, or Gauss-Newton with a Laplace
posterior, kriged to unseen cells.

Modules by role:

- ``parameters``: the prior (per aquifer log-normal spread of interbed thickness, kv,
  sskv, sske and a preconsolidation offset) and its transforms to and from a Case;
- ``observations``: the training part of the record (InSAR displacement, extensometer
  compaction) with its noise;
- ``forward``: one batched run of every member at every cell (the terzaghi kernels on a
  replicated case, in chunks);
- ``record``: what a fit's runs are compared with, and the extensometers' layout;
- ``smoother``: the localized ES-MDA update, in ensemble space, per cell, and the error
  model's whitening;
- ``gradient``: Gauss-Newton per cell (``method=gradient``), Jacobians by differences;
- ``kriging``: posterior log-parameters at unseen cells (ordinary kriging);
- ``solver``: the ``calibrated:<physics>`` solvers.
"""
