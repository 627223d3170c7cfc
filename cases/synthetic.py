"""Generated training cases for the neural models: a small Beijing-Plain-like area.

``synthetic_case`` draws N cells in a square, three confined aquifer systems, each with
one delay interbed system whose parameters vary smoothly in space, and monthly heads
that fall towards a cone of depression and then recover (the South-to-North water
diversion), with a seasonal pumping cycle. Interbed thicknesses and lag times span the
seminar's table (first confined aquifer b_equiv 6-32 m, tau 0.4-3.0 months; second
5.6-40 m, 0.4-4.6 months; third 8-58 m, 0.5-9.4 months); thicker beds have longer lags.
Observed displacement is the ``terzaghi`` solver's displacement (m, up positive) plus
Gaussian noise (not at the first time, the reference epoch of the series).

With ``stiffness_exponent=n`` the case has a known power-law stiffness: each cell's
prior constrained modulus E_c = gamma_w / Sskv_c (Sskv shared by the cell's aquifers)
becomes, for the ground truth, E_ref (E_c / E_ref)^n (E_ref the geometric mean over the
cells), that is, storages Sske and Sskv scaled by (E_c / E_ref)^(1 - n) and Kv by the
same factor (so lag times are unchanged). The case keeps the nominal (prior) storages,
as a model is given them; only the observations follow the power law. n = 1 is the
nominal case.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.case import Aquifer, Case, Cells, Compressible, Observations
from engine.registry import make_solver
from engine.units import DAYS_PER_MONTH, DAYS_PER_YEAR

#: Per aquifer (top first): name, initial head (m), peak drawdown (m), b_equiv range (m),
#: lag time range (months) -- the seminar's table for the three confined aquifers.
AQUIFERS = (
    ("confined-1", 20.0, 12.0, (6.0, 32.0), (0.4, 3.0)),
    ("confined-2", 0.0, 20.0, (5.6, 40.0), (0.4, 4.6)),
    ("confined-3", -20.0, 30.0, (8.0, 58.0), (0.5, 9.4)),
)
SSKV_RANGE = (1.0e-4, 6.0e-4)       # 1/m, inelastic skeletal specific storage
ELASTIC_RATIO = 0.05                # Sske / Sskv
COUNT_RANGE = (1.0, 4.0)            # equivalent beds per system
DOMAIN_M = 40_000.0


def smooth_field(rng, x, y, length: float, bumps: int = 6) -> np.ndarray:
    """A smooth random field in [0, 1] at points x, y (m): a sum of Gaussian bumps of
    width ``length`` (m) with random centres and signs, rescaled to its range."""
    centres = rng.uniform(0.0, DOMAIN_M, size=(bumps, 2))
    signs = rng.choice([-1.0, 1.0], size=bumps)
    r2 = (x[:, None] - centres[:, 0]) ** 2 + (y[:, None] - centres[:, 1]) ** 2
    f = (signs * np.exp(-0.5 * r2 / length**2)).sum(axis=1)
    return (f - f.min()) / max(np.ptp(f), 1e-12)


def _between(u, lo, hi, log=False):
    if log:
        return np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
    return lo + u * (hi - lo)


def _head_histories(rng, x, y, days, peak_drawdown):
    """[N, T] head change (m): decline to the turning time, then recovery, plus season."""
    years = days / DAYS_PER_YEAR
    span = years[-1]
    centre = rng.uniform(0.3, 0.7, size=2) * DOMAIN_M
    cone = np.exp(-0.5 * ((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (0.3 * DOMAIN_M) ** 2)
    amplitude = peak_drawdown * (0.25 + 0.75 * cone)                        # m
    turn = span * _between(smooth_field(rng, x, y, 0.4 * DOMAIN_M), 0.5, 0.75)
    recovered = _between(smooth_field(rng, x, y, 0.4 * DOMAIN_M), 0.2, 0.7)
    t = years[None, :]
    falling = np.minimum(t / turn[:, None], 1.0)
    rising = recovered[:, None] * np.clip((t - turn[:, None]) / (span - turn[:, None]), 0, 1)
    # the summer pumping season draws the head down by up to 10% of the trend amplitude
    season = 0.05 * amplitude[:, None] * (1.0 - np.cos(2 * np.pi * t))
    return -amplitude[:, None] * (falling - rising) - season


def synthetic_case(n_cells: int = 200, n_months: int = 144, seed: int = 0,
                   noise_mm: float = 2.0, stiffness_exponent: float | None = None,
                   start: str = "2005-01-01", name: str | None = None) -> Case:
    """A generated monthly case with observations (see the module docstring).

    n_cells, n_months : size; seed : all randomness; noise_mm : standard deviation of
    the observation noise (mm); stiffness_exponent : the power-law stiffness n of the
    ground truth (None: the nominal storages, i.e. n = 1).
    """
    rng = np.random.default_rng(seed)
    times = (np.datetime64(start[:7], "M") + np.arange(n_months)).astype("datetime64[D]")
    days = (times - times[0]).astype(np.float64)
    x, y = rng.uniform(0.0, DOMAIN_M, size=(2, n_cells))
    cells = Cells(ids=np.array([f"c{i:04d}" for i in range(n_cells)]), x=x, y=y)
    # one clay stiffness per cell, shared by its aquifers: the pc-rnn prior is per cell
    sskv = _between(smooth_field(rng, x, y, 0.25 * DOMAIN_M), *SSKV_RANGE, log=True)
    aquifers = []
    for aq_name, h0, drawdown, b_range, tau_range in AQUIFERS:
        u = smooth_field(rng, x, y, 0.25 * DOMAIN_M)
        b = _between(u, *b_range)
        tau_days = _between(u, *tau_range) * DAYS_PER_MONTH
        beds = Compressible(
            kind="interbeds", thickness=b,
            count=_between(smooth_field(rng, x, y, 0.3 * DOMAIN_M), *COUNT_RANGE),
            kv=(0.5 * b) ** 2 * sskv / tau_days, sske=ELASTIC_RATIO * sskv, sskv=sskv.copy())
        head = h0 + _head_histories(rng, x, y, days, drawdown)
        aquifers.append(Aquifer(name=aq_name, head=head, interbeds=(beds,)))
    case = Case(name=name or f"synthetic-{seed}", times=times, cells=cells,
                aquifers=tuple(aquifers),
                description=f"generated: {n_cells} cells, {n_months} months, seed {seed}, "
                            f"noise {noise_mm} mm, stiffness exponent {stiffness_exponent}")
    truth = case if stiffness_exponent is None else _power_law(case, sskv, stiffness_exponent)
    displacement = make_solver("terzaghi").predict(truth).displacement
    noise = rng.normal(0.0, noise_mm * 1e-3, size=displacement.shape)
    noise[:, 0] = 0.0
    return replace(case, observations=Observations(displacement=displacement + noise))


def _power_law(case: Case, sskv: np.ndarray, n: float) -> Case:
    """The case with storages (and Kv) scaled by (E_c / E_ref)^(1 - n)."""
    modulus = 1.0 / sskv                                   # gamma_w cancels in the ratio
    factor = (modulus / np.exp(np.mean(np.log(modulus)))) ** (1.0 - n)
    aquifers = tuple(
        replace(a, interbeds=tuple(replace(ib, sske=ib.sske * factor, sskv=ib.sskv * factor,
                                           kv=ib.kv * factor) for ib in a.interbeds))
        for a in case.aquifers)
    return replace(case, aquifers=aquifers)
