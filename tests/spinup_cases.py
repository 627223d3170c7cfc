"""Cases with a spin-up for the solver tests: the same case stated two ways, with a
spin-up before its first time and as one concatenated record."""

import numpy as np

from engine.case import build_case


def spun_up_column(offset_form: bool = False):
    """(case with a spin-up, the same heads as one record without, S spin-up times).

    Three cells, two aquifers: a delay system (two in the deep one), no-delay beds and
    coarse skeleton; a spin-up of ~5.5 years, 20-day steps, in which heads fall 6-10 m
    and partly recover, then a case of ~4 years, 10-day steps, in which they fall again
    past their spin-up low in some cells only. The shallow aquifer's beds start 1 m
    overconsolidated (as an offset below the first spin-up head, or the same as a
    preconsolidation head when not ``offset_form``).
    """
    spinup_days = np.arange(-2000, 0, 20)
    days = np.arange(0, 1461, 10)
    record_days = np.concatenate([spinup_days, days])
    rng = np.random.default_rng(11)
    aquifers, spun = [], []
    for a in range(2):
        low = (6.0 + 4 * a) * rng.uniform(0.7, 1.3, 3)[:, None]
        shape = np.interp(record_days, [-2000, -800, 0, 800, 1460],
                          [0.0, -1.0, -0.6, -0.9, -1.3])
        seasonal = 0.5 * np.sin(2 * np.pi * record_days / 365.25)[None, :]
        head = 5.0 * a + low * shape[None, :] + seasonal
        first = head[:, 0]
        state = ({"preconsolidation_offset": 1.0} if offset_form
                 else {"preconsolidation_head": first - 1.0}) if a == 0 else {}
        beds = [{"thickness": rng.uniform(1.0, 3.0, 3), "count": 3.0,
                 "kv": rng.uniform(1e-5, 5e-5, 3), "sske": 1e-5, "sskv": 4e-4, **state}]
        if a == 1:
            beds.append({"thickness": 0.7, "count": 4.0, "kv": 2e-5, "sske": 2e-5,
                         "sskv": 6e-4})
        material = {"name": f"aquifer-{a}", "interbeds": beds,
                    "nodelay": {"thickness": 5.0, "sske": 5e-6, "sskv": 1.5e-4, **state},
                    "coarse": {"thickness": 40.0, "sske": 2e-6}}
        aquifers.append({**material, "head": head})
        spun.append({**material, "head": head[:, len(spinup_days):],
                     "spinup_head": head[:, :len(spinup_days)]})
    case = build_case("spun-up column", days, spun, spinup_days=spinup_days)
    record = build_case("spun-up column, one record", record_days, aquifers)
    return case, record, len(spinup_days)
