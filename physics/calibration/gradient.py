"""Gauss-Newton calibration (``method=gradient``): each cell's most probable parameters
and a Laplace approximation of the posterior around them.

The record, the error model, the parameters and their prior spreads are the smoother's
(``record.py``, ``smoother.py``, ``parameters.py``); what differs is how the posterior
is found. In prior-sd units z (theta = spread x z) each cell minimises

    Phi(z) = 1/2 |L^-1 (d(z) - d_obs)|^2 + 1/2 |z|^2,    R = L L^T,

its readings' misfit whitened by their noise and the model's own error
(``ErrorModel``), plus the prior. Levenberg-Marquardt steps: (J^T J + I + lambda
diag(J^T J)) dz = -(J^T r + z), J the whitened readings' sensitivity to the cell's P
parameters and r its whitened residual; a cell takes its step where its Phi falls
(then lambda / 3), and where it does not, lambda x 10 and a shorter step is tried (one
run of all cells each) before the next Jacobian.

J by forward differences of the Numba physics: a cell's compaction depends on its own
parameters only, so P + 1 runs of all cells at once (the base and the base moved by
``STEP`` prior sds in one parameter, as the P + 1 'members' of one batched run,
``forward.simulate``) give every cell's Jacobian. The differentiable twin
(``surrogates.differentiable``) gives exact gradients, but Gauss-Newton needs the
Jacobian, not one gradient, and on the small twin's 1,400 cells x 565 months one gradient
through the twin took 15.6 s where the 25 Numba runs of a whole Jacobian took 11.3 s
(one thread).

Posterior: N(z*, (J^T J + I)^-1) per cell at the last accepted point (Laplace), drawn as
the smoother's ensemble is held ([members, P, cells]), so that kriging, ``predict`` and
a what-if's band use it alike.

The prior is independent from cell to cell, so a cell learns from its own readings
only. The smoother's prior fields are correlated over ``prior_length`` (which carries an
extensometer's readings to the cells around it) and its updates localized. Tried, not
kept: the MAP under that correlated prior (its random-feature weights unknowns shared by
all cells, solved by conjugate gradients). On the tiny twin it fitted the record far
tighter (InSAR 9.9 mm against 13.1) and its spatial test RMSE fell (18.5 against 20.6
mm), but the lag time was within x2 in 9 % of the cells in confined-1 (74 % without it):
with no localization, thousands of cells whose model errors are counted as independent
all testify for the same regional shift of the parameters. It would need a model error
correlated between cells as well.
"""

from __future__ import annotations

import numpy as np

from physics.calibration.parameters import CLIP_SD
from physics.calibration.smoother import whiten

#: Forward-difference step of the Jacobian, in prior standard deviations.
STEP = 0.01
#: The damping each cell starts with, a share of its curvature's diagonal (Marquardt).
INITIAL_DAMPING = 0.1
#: Shorter steps tried (one run each, damping x 10 at the cells that did not improve)
#: before the next Jacobian.
TRIALS = 3
#: Stop when the summed objective falls by less than this share in an iteration.
TOLERANCE = 1.0e-4


def gauss_newton(record, space, physics: dict, chunk: int, iterations: int, members: int,
                 rng: np.random.Generator, label: str = "Gauss-Newton"):
    """Minimise every calibrated cell's Phi from the prior mean; returns (posterior
    members [members, P, U] in the space's units, the misfit history (one dict per
    iteration, as the smoother's), whether it was interrupted, the runs of all cells
    it took)."""
    from tqdm import tqdm

    z = np.zeros((space.size, len(record.data.cells)))
    damping = np.full(z.shape[1], INITIAL_DAMPING)
    phi, gradient, curvature, misfit = _with_prior(z, linearise(record, space, z, physics,
                                                                chunk))
    history, interrupted, runs = [], False, space.size + 1
    progress = tqdm(range(iterations), desc=label, unit="iteration", leave=False)
    try:
        for _ in progress:
            before = phi.sum()
            moved = np.zeros(z.shape[1], dtype=bool)
            for _ in range(TRIALS):
                waiting = ~moved
                trial = z.copy()
                trial[:, waiting] = _step(z, gradient, curvature, damping)[:, waiting]
                t_phi = objective(record, space, trial, physics, chunk)[0] \
                    + 0.5 * np.sum(trial**2, axis=0)
                runs += 1
                better = waiting & (t_phi < phi)
                z[:, better], phi[better] = trial[:, better], t_phi[better]
                moved |= better
                damping = np.where(better, damping / 3.0,
                                   np.where(waiting, damping * 10.0, damping))
                if moved.all():
                    break
            phi, gradient, curvature, misfit = _with_prior(z, linearise(record, space, z,
                                                                        physics, chunk))
            runs += space.size + 1
            history.append({**misfit, "objective": float(phi.sum()),
                            "cells_improved": float(moved.mean())})
            progress.set_postfix(insar_mm=f"{misfit['insar_rmse_mm']:.1f}",
                                 ext_mm=f"{misfit['extensometer_rmse_mm']:.2f}",
                                 improved=f"{moved.mean():.2f}")
            if before - phi.sum() < TOLERANCE * before:
                break
    except KeyboardInterrupt:
        interrupted = True       # keep the last accepted point and the last curvature
    finally:
        progress.close()
    return space.spread[None, :, None] * laplace_members(z, curvature, members, rng), \
        history, interrupted, runs


def _with_prior(z, parts):
    """The readings' (Phi, gradient, curvature, misfit) of ``linearise`` with the
    prior's parts added."""
    phi, gradient, curvature, misfit = parts
    return (phi + 0.5 * np.sum(z**2, axis=0), gradient + z,
            curvature + np.eye(len(z)), misfit)


def _step(z, gradient, curvature, damping) -> np.ndarray:
    """[P, U] the Levenberg-Marquardt move of every cell, within CLIP_SD of the prior."""
    diagonal = np.einsum("upp->up", curvature)
    system = curvature + (damping[:, None] * diagonal)[..., None] * np.eye(len(z))
    step = -np.linalg.solve(system, gradient.T[..., None])[..., 0].T
    return np.clip(z + step, -CLIP_SD, CLIP_SD)


def laplace_members(z, curvature, members: int, rng) -> np.ndarray:
    """[members, P, U] draws of N(z [P, U], curvature [U, P, P]^-1), clipped to CLIP_SD."""
    chol = np.linalg.cholesky(np.linalg.inv(curvature))                 # [U, P, P]
    unit = rng.standard_normal((members, z.shape[1], z.shape[0]))         # [M, U, P]
    draws = z.T[None] + np.einsum("upq,muq->mup", chol, unit)
    return np.clip(np.transpose(draws, (0, 2, 1)), -CLIP_SD, CLIP_SD)


def objective(record, space, z, physics, chunk) -> tuple:
    """(each cell's readings' part of Phi [U], the run's misfit dict) at ``z`` [P, U],
    from one run of every cell."""
    phi, _, _, misfit = _runs(record, space, np.clip(z, -CLIP_SD, CLIP_SD)[None], physics,
                              chunk, jacobian=False)
    return phi, misfit


def linearise(record, space, z, physics: dict, chunk: int):
    """At ``z`` [P, U], the readings' part of Phi: (per cell [U], its gradient J^T r
    [P, U], the Gauss-Newton curvature J^T J [U, P, P], the run's misfit dict), from
    P + 1 runs of every cell."""
    n_params = space.size
    batch = np.repeat(np.clip(z, -CLIP_SD, CLIP_SD)[None], n_params + 1, axis=0)
    batch[1 + np.arange(n_params), np.arange(n_params)] += STEP
    return _runs(record, space, batch, physics, chunk, jacobian=True)


def _runs(record, space, batch, physics, chunk, jacobian: bool):
    """Run ``batch`` [M, P, U] (z units; member 0 the base, and with ``jacobian``
    member p + 1 the base moved by STEP in parameter p): (Phi, gradient, curvature,
    misfit) of the readings alone; without ``jacobian`` the gradient and curvature are 0."""
    data, sites = record.data, record.sites
    n_params, n_cells = space.size, len(data.cells)
    phi = np.zeros(n_cells)
    gradient = np.zeros((n_params, n_cells))
    curvature = np.zeros((n_cells, n_params, n_params))
    at_sites = record.sites_buffer(len(batch))
    squared, count = 0.0, 0
    for cells, displacement, observed, seen in record.run(
            space, space.spread[None, :, None] * batch, physics, chunk, at_sites):
        residual = np.where(seen, displacement[0] - np.where(seen, observed, 0.0), 0.0)
        squared += float(np.sum(residual**2))
        count += int(seen.sum())
        columns = [residual[..., None]]
        if jacobian:
            columns.append(np.transpose(displacement[1:] - displacement[0], (1, 2, 0)) / STEP)
        _add(cells, whiten(tuple(columns), seen, *record.insar_layout(observed),
                           record.errors[0]), phi, gradient, curvature)
    simulated = record.extensometer_changes(at_sites)                  # [R, M]
    error = simulated[:, 0] - data.ext_change
    if len(sites):
        columns = np.column_stack([error, (simulated[:, 1:] - simulated[:, :1]) / STEP])
        observed, noise, padded, months, series = record.by_site(columns)
        _add(sites, whiten((padded[..., :1], padded[..., 1:]) if jacobian else
                           (padded[..., :1],), np.isfinite(observed), noise, months, series,
                           record.errors[1]), phi, gradient, curvature)
    return phi, gradient, curvature, record.misfit(squared, count, error)


def _add(cells, whitened, phi, gradient, curvature):
    """Add the whitened residuals [n, K, 1] (and sensitivities [n, K, P]) of the points
    at ``cells`` [n] to their Phi (and gradient and curvature)."""
    r = whitened[0][..., 0]
    np.add.at(phi, cells, 0.5 * np.sum(r**2, axis=1))
    if len(whitened) > 1:
        j = whitened[1]
        np.add.at(gradient.T, cells, np.einsum("nkp,nk->np", j, r))
        np.add.at(curvature, cells, np.einsum("nkp,nkq->npq", j, j))
