"""A torch twin of the ``terzaghi`` solver, differentiable in its sediment parameters.

The same physics as ``physics.solver`` with constant specific storage, batched over
cells, aquifers and interbed systems, in float64 on any torch device:

* delay interbeds: the ``default`` grid of ``physics.delay_beds`` (half of a doubly
  drained bed, graded toward the face), backward Euler on ``substeps`` sub-steps per
  case step with the aquifer head linear between case times, the storage release of
  ``physics.storage`` and the preconsolidation head following the head down;
* no-delay beds: the exact cumulative form b (Sske (h0 - h) + (Sskv - Sske)(pc0 - pc)),
  pc the lowest head so far (never above its initial value);
* the coarse skeleton: Sske b (h0 - h).

Elastic/inelastic switch of the delay beds, two modes:

* sharp (``smoothing=0``): as the Numba kernel, every step solves with the current
  regimes and re-classifies every node until none changes (the same REGIME_TOLERANCE
  band); the converged result is then solved once more under autograd, so the
  derivative is that of the piecewise-linear step with the regimes held.
* smoothed (``smoothing=delta``, m of head): the inelastic excess max(pc - h, 0) is
  replaced by its C1 smooth version over a head width delta (0 below 0, x^2 / (2 delta)
  up to delta, x - delta/2 above), in the step's release and in the preconsolidation
  update pc <- pc - excess. A softplus would not do: its value at 0 (delta ln 2) would
  lower a preconsolidation head resting on a steady head at every step. The smoothed
  preconsolidation head trails a falling head by delta/2 at most, so the smoothed
  compaction differs from the sharp one by at most delta/2 x (Sskv - Sske) x b x count
  per interbed system (``smoothing_bound``). Each step is solved by Newton's method
  (tridiagonal Jacobian) to ``NEWTON_TOLERANCE``; autograd sees one more Newton step
  from the detached solution, whose derivative is the implicit-function one.

Gradients flow through the final solve of every step by a custom tridiagonal solve
(adjoint = the same symmetric matrix); ``checkpoint`` > 0 recomputes each chunk of that
many case steps in the backward pass (``torch.utils.checkpoint``), so memory grows with
the number of chunks, not of steps.

A case's spin-up is run as the first part of one record, as ``terzaghi`` runs it
(``case_tensors``, ``case_part``). Stress-dependent storage (``storage = "indices"``) is
not twinned: it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint as run_checkpointed

from engine.errors import InputError, SolverError
from physics.calibration.parameters import SEDIMENT_KINDS
from physics.delay_beds import REGIME_TOLERANCE, make_grid

#: Solves of one step before the regimes (sharp) or Newton (smoothed) must have settled.
MAX_ITERATIONS = 100
#: m; Newton stops once no node's head moves more than this in an update.
NEWTON_TOLERANCE = 1.0e-11


@dataclass
class Sediments:
    """Per-cell compressible parameters of a case as float64 tensors [N].

    interbeds : list of (aquifer index, {thickness (m, one bed), count, kv (m/d),
        sske, sskv (1/m), preconsolidation_head (m above datum)});
    nodelay : list of (aquifer index, {thickness (m, total), sske, sskv,
        preconsolidation_head}); coarse : list of (aquifer index, {thickness, sske}).
    A preconsolidation head above the first head is lowered to it by the forward run.
    """

    interbeds: list = field(default_factory=list)
    nodelay: list = field(default_factory=list)
    coarse: list = field(default_factory=list)

    def take(self, cells: torch.Tensor) -> "Sediments":
        return Sediments(*[[(a, {k: v[cells] for k, v in p.items()}) for a, p in part]
                           for part in (self.interbeds, self.nodelay, self.coarse)])


def _tensor(values, n, device):
    return torch.as_tensor(np.broadcast_to(np.asarray(values, dtype=np.float64), (n,)).copy(),
                           device=device)


def case_tensors(case, device="cpu"):
    """(heads [A, N, R] m, days [R], Sediments, S) of the record ``case`` is run on, on
    ``device``: with a spin-up, the spin-up and the case as one record
    (``Case.spinup_record``, S its number of spin-up times; 0 without one). As in
    ``physics.solver``, the stated preconsolidation state applies at the record's first
    time; ``case_part`` turns the record's compaction into the case's."""
    case, skip = case.spinup_record()
    device = torch.device(device)
    n = case.n_cells
    heads = torch.as_tensor(np.stack([np.asarray(a.head, dtype=np.float64)
                                      for a in case.aquifers]), device=device)
    days = torch.as_tensor(np.asarray(case.days, dtype=np.float64), device=device)
    sediments = Sediments()
    for a, aquifer in enumerate(case.aquifers):
        first = np.asarray(aquifer.head[:, 0], dtype=np.float64)
        for label, material in ([("interbeds", m) for m in aquifer.interbeds]
                                + [("nodelay", aquifer.nodelay), ("coarse", aquifer.coarse)]):
            if material is None:
                continue
            if material.storage != "specific":
                raise InputError(case.source or case.name, f"aquifers[{a}].{label}",
                                 'the differentiable twin needs storage = "specific"')
            p = {"thickness": _tensor(material.thickness, n, device),
                 "sske": _tensor(material.sske, n, device)}
            if label != "coarse":
                p["sskv"] = _tensor(material.sskv, n, device)
                p["preconsolidation_head"] = _tensor(material.initial_preconsolidation(first),
                                                     n, device)
            if label == "interbeds":
                p["count"] = _tensor(material.count, n, device)
                p["kv"] = _tensor(material.kv, n, device)
            getattr(sediments, label).append((a, p))
    return heads, days, sediments, skip


def case_part(record_compaction: torch.Tensor, skip: int) -> torch.Tensor:
    """[..., T] the compaction of the case from that of its record [..., S + T]: from
    the first case time on, less its value there (0 at the first case time)."""
    return record_compaction[..., skip:] - record_compaction[..., skip:skip + 1]


def with_parameters(sediments: Sediments, aquifer, kind, values: torch.Tensor) -> Sediments:
    """``sediments`` changed by calibration parameters, as
    ``physics.calibration.parameters.ParameterSpace.apply`` does in numpy: ``aquifer``
    [P] and ``kind`` [P] (the space's layout), ``values`` [P, N] (ln multipliers of
    interbed_thickness, kv, sskv, sske, sske capped at sskv; preconsolidation_offset in
    m below the stated preconsolidation head). The coarse skeleton is left as given; a
    kind that is not a sediment's (``head_drift``) is refused, not ignored."""
    mine = {}
    for p, (a, k) in enumerate(zip(np.asarray(aquifer).tolist(), np.asarray(kind).tolist())):
        if k not in SEDIMENT_KINDS:
            raise InputError("parameters", k, "the differentiable twin changes sediments "
                             f"only ({', '.join(SEDIMENT_KINDS)})")
        mine.setdefault(a, {})[k] = values[p]

    def changed(a, params):
        if a not in mine:
            return a, params
        m = mine[a]
        sskv = params["sskv"] * torch.exp(m["sskv"])
        out = dict(params, sskv=sskv,
                   sske=torch.minimum(params["sske"] * torch.exp(m["sske"]), sskv),
                   thickness=params["thickness"] * torch.exp(m["interbed_thickness"]),
                   preconsolidation_head=params["preconsolidation_head"]
                   - m["preconsolidation_offset"])
        if "kv" in params:
            out["kv"] = params["kv"] * torch.exp(m["kv"])
        return a, out

    return replace(sediments, interbeds=[changed(a, p) for a, p in sediments.interbeds],
                   nodelay=[changed(a, p) for a, p in sediments.nodelay])


def smoothing_bound(sediments: Sediments, smoothing: float) -> torch.Tensor:
    """[N] m: the largest difference between smoothed and sharp total compaction of a
    cell (delta/2 x (Sskv - Sske) x b x count summed over its interbed systems)."""
    total = 0.0
    for _, p in sediments.interbeds:
        total = total + 0.5 * smoothing * (p["sskv"] - p["sske"]) * p["thickness"] * p["count"]
    return torch.as_tensor(total)


class _Tridiagonal(torch.autograd.Function):
    """x solving the symmetric tridiagonal system off[i-1] x[i-1] + diag[i] x[i] +
    off[i] x[i+1] = rhs[i]; diag, rhs [n, L], off [n-1, L] (beds innermost). The matrix
    is symmetric, so the adjoint solve reuses the forward elimination."""

    @staticmethod
    def forward(ctx, diag, off, rhs):
        x, ratio, pivot = _thomas(diag, off, rhs)
        ctx.save_for_backward(x, ratio, pivot, off)
        return x

    @staticmethod
    def backward(ctx, grad):
        x, ratio, pivot, off = ctx.saved_tensors
        y = _substitute(ratio, pivot, off, grad)
        grad_off = -(y[:-1] * x[1:] + y[1:] * x[:-1])
        return -y * x, grad_off, y


def _thomas(diag, off, rhs):
    """(x, ratio = off / pivot [n - 1, L], pivot [n, L]) by Thomas elimination; lists
    of per-node rows keep the op count (the cost at these sizes) low."""
    d, o = diag.unbind(0), off.unbind(0)
    pivot = [d[0]]
    ratio = []
    for i in range(1, len(d)):
        ratio.append(o[i - 1] / pivot[i - 1])
        pivot.append(d[i] - o[i - 1] * ratio[i - 1])
    ratio, pivot = torch.stack(ratio), torch.stack(pivot)
    return _substitute(ratio, pivot, off, rhs), ratio, pivot


def _substitute(ratio, pivot, off, rhs):
    """x from the elimination of ``_thomas`` for the right-hand side ``rhs`` [n, L]."""
    r, p, o, b = ratio.unbind(0), pivot.unbind(0), off.unbind(0), rhs.unbind(0)
    reduced = [b[0] / p[0]]
    for i in range(1, len(b)):
        reduced.append((b[i] - o[i - 1] * reduced[i - 1]) / p[i])
    x = [reduced[-1]]
    for i in range(len(b) - 2, -1, -1):
        x.append(reduced[i] - r[i] * x[-1])
    return torch.stack(x[::-1])


def _matvec(diag, off, x):
    out = diag * x
    out[:-1] = out[:-1] + off * x[1:]
    out[1:] = out[1:] + off * x[:-1]
    return out


def smooth_excess(x: torch.Tensor, width: float) -> torch.Tensor:
    """C1 smooth max(x, 0) over ``width`` (m): 0 for x <= 0, x^2 / (2 width) up to
    ``width``, x - width / 2 beyond; its slope ramps linearly from 0 to 1."""
    r = x.clamp(0.0, width)
    return r * (x - 0.5 * r) / width


@dataclass
class _Grid:
    width: torch.Tensor          # [n, 1] cell widths / b
    conductance: torch.Tensor    # [n, 1]
    boundary: torch.Tensor       # [n, 1]
    coupling: torch.Tensor       # [n - 1, 1]
    faces: float


def _torch_grid(nodes, device):
    g = make_grid("default", nodes)

    def col(v):
        return torch.as_tensor(np.asarray(v, dtype=np.float64), device=device)[:, None]

    return _Grid(col(g.width), col(g.conductance), col(g.boundary), col(g.coupling[:-1]),
                 g.faces)


def _regime(h_new, pc, guess):
    below = h_new < pc - REGIME_TOLERANCE
    above = h_new > pc + REGIME_TOLERANCE
    return torch.where(below, 1.0, torch.where(above, 0.0, guess))


def _step_sharp(h, pc, guess, a_dt, hb, sske, sskv, g):
    """One backward-Euler step with the regimes iterated to convergence; returns
    (new heads, release per unit b [L], new preconsolidation heads, next guess)."""
    off = -a_dt * g.coupling
    base = a_dt * g.conductance
    drive = a_dt * g.boundary * hb
    w = g.width
    with torch.no_grad():
        flags = guess
        for _ in range(MAX_ITERATIONS):
            s = sske + flags * (sskv - sske)
            x, _, _ = _thomas(w * s + base, off, w * (s * pc + sske * (h - pc)) + drive)
            new = _regime(x, pc, flags)
            if torch.equal(new, flags):
                break
            flags = new
        else:
            raise SolverError("differentiable terzaghi: the storage regimes did not settle "
                              f"in {MAX_ITERATIONS} solves of a step; try more substeps")
    s = sske + flags * (sskv - sske)
    h_new = _Tridiagonal.apply(w * s + base, off, w * (s * pc + sske * (h - pc)) + drive)
    release = (w * (s * (pc - h_new) + sske * (h - pc))).sum(dim=0)
    pc_new = torch.minimum(pc, h_new)
    guess = (h_new + (h_new - h) < pc_new).to(h.dtype).detach()
    return h_new, release, pc_new, guess


def _step_smooth(h, pc, a_dt, hb, sske, sskv, g, width):
    """One backward-Euler step with the smoothed switch, by Newton's method."""
    off = -a_dt * g.coupling
    base = a_dt * g.conductance
    drive = a_dt * g.boundary * hb
    w = g.width

    def residual_and_jacobian(x):
        excess = smooth_excess(pc - x, width)
        slope = ((pc - x) / width).clamp(0.0, 1.0)
        residual = (w * (sske * (x - h) - (sskv - sske) * excess)
                    + _matvec(base, off, x) - drive)
        return residual, w * (sske + (sskv - sske) * slope) + base

    with torch.no_grad():
        x = h.detach().clone()
        for _ in range(MAX_ITERATIONS):
            residual, jacobian = residual_and_jacobian(x)
            dx, _, _ = _thomas(jacobian, off, -residual)
            x = x + dx
            if float(dx.abs().max()) <= NEWTON_TOLERANCE:
                break
        else:
            raise SolverError("differentiable terzaghi: Newton did not converge in "
                              f"{MAX_ITERATIONS} iterations; try a wider smoothing")
    residual, jacobian = residual_and_jacobian(x)
    h_new = x + _Tridiagonal.apply(jacobian, off, -residual)
    excess = smooth_excess(pc - h_new, width)
    release = (w * (sske * (h - h_new) + (sskv - sske) * excess)).sum(dim=0)
    return h_new, release, pc - excess


def delay_compaction(heads, days, thickness, count, kv, sske, sskv, preconsolidation_head,
                     nodes=19, substeps=1, smoothing=0.0, checkpoint=0):
    """Cumulative compaction (m, shortening positive) [L, T] of L delay interbed systems.

    heads : [L, T] aquifer head (m) at the case times ``days`` [T] (d);
    thickness (m, one equivalent bed), count, kv (m/d), sske, sskv (1/m),
    preconsolidation_head (m, at most the first head) : [L].
    nodes : cells across a full bed (the default grid solves (nodes + 1) // 2);
    smoothing : head width (m) of the smoothed switch, 0 for the sharp one;
    checkpoint : case steps per recomputed chunk in backward (0: keep every step).
    """
    device, dtype = heads.device, heads.dtype
    g = _torch_grid(nodes, device)
    n_times = heads.shape[1]
    alpha = kv / thickness**2
    state = (heads[:, 0].expand(g.width.shape[0], -1).clone(),
             preconsolidation_head.expand(g.width.shape[0], -1).clone(),
             torch.zeros(g.width.shape[0], heads.shape[0], dtype=dtype, device=device),
             torch.zeros(heads.shape[0], dtype=dtype, device=device))

    def advance(k0, k1, h, pc, guess, released, heads, alpha, sske, sskv):
        totals = []
        for k in range(k0, k1):
            dt = (days[k] - days[k - 1]) / substeps
            a_dt = alpha * dt
            for s in range(1, substeps + 1):
                hb = heads[:, k - 1] + (heads[:, k] - heads[:, k - 1]) * (s / substeps)
                if smoothing > 0:
                    h, step, pc = _step_smooth(h, pc, a_dt, hb, sske, sskv, g, smoothing)
                else:
                    h, step, pc, guess = _step_sharp(h, pc, guess, a_dt, hb, sske, sskv, g)
                released = released + step
            totals.append(released)
        return h, pc, guess, released, torch.stack(totals, dim=1)

    chunk = checkpoint if checkpoint > 0 else n_times
    parts = [torch.zeros(heads.shape[0], 1, dtype=dtype, device=device)]
    checkpointed = checkpoint > 0 and torch.is_grad_enabled()
    for k0 in range(1, n_times, chunk):
        k1 = min(k0 + chunk, n_times)
        args = (k0, k1, *state, heads, alpha, sske, sskv)
        out = (run_checkpointed(advance, *args, use_reentrant=False) if checkpointed
               else advance(*args))
        state = out[:4]
        parts.append(out[4])
    return torch.cat(parts, dim=1) * (thickness * count * g.faces)[:, None]


def instant_compaction(heads, thickness, sske, sskv=None, preconsolidation_head=None):
    """Cumulative compaction (m) [N, T] of no-delay beds (with ``sskv``) or of the
    coarse skeleton (elastic, without it): heads [N, T] m, parameters [N]."""
    drop = heads[:, :1] - heads
    elastic = thickness[:, None] * sske[:, None] * drop
    if sskv is None:
        return elastic
    lowest = torch.minimum(preconsolidation_head[:, None],
                           torch.cummin(heads, dim=1).values)
    virgin = preconsolidation_head[:, None] - lowest
    return elastic + (thickness * (sskv - sske))[:, None] * virgin


def compaction(heads, days, sediments: Sediments, nodes=19, substeps=1, smoothing=0.0,
               checkpoint=0):
    """Compaction (m, shortening positive) [A, N, T] per aquifer of every compressible
    system: heads [A, N, T] m, days [T] d. All interbed systems advance in one batch."""
    parts = [[] for _ in range(heads.shape[0])]
    if sediments.interbeds:
        aq = [a for a, _ in sediments.interbeds]

        def cat(key):
            return torch.cat([p[key] for _, p in sediments.interbeds])

        first = torch.cat([heads[a, :, 0] for a in aq])
        lanes = delay_compaction(
            torch.cat([heads[a] for a in aq]), days, cat("thickness"), cat("count"),
            cat("kv"), cat("sske"), cat("sskv"),
            torch.minimum(cat("preconsolidation_head"), first),
            nodes, substeps, smoothing, checkpoint)
        for a, system in zip(aq, lanes.split(heads.shape[1])):
            parts[a].append(system)
    for a, p in sediments.nodelay:
        parts[a].append(instant_compaction(
            heads[a], p["thickness"], p["sske"], p["sskv"],
            torch.minimum(p["preconsolidation_head"], heads[a, :, 0])))
    for a, p in sediments.coarse:
        parts[a].append(instant_compaction(heads[a], p["thickness"], p["sske"]))
    return torch.stack([sum(mine) if mine else torch.zeros_like(heads[a])
                        for a, mine in enumerate(parts)])


def simulate_case(case, nodes=19, substeps=1, smoothing=0.0, device="cpu") -> np.ndarray:
    """Compaction [A, N, T] (m, numpy) of ``case`` with its own parameters (no gradient)."""
    heads, days, sediments, skip = case_tensors(case, device)
    with torch.no_grad():
        return case_part(compaction(heads, days, sediments, nodes, substeps, smoothing),
                         skip).cpu().numpy()
