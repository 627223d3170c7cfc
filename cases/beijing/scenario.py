"""Management scenarios of the twin: the core scenario format (``engine.scenario``) read
for the twin's domain, whose zones are those of the settings' [zones_km] and whose
recharge kinds are those of its flow model (``cases.beijing.stresses.RECHARGE_KINDS``);
the shipped files are in ``scenarios/``.

What is the twin's own is applying the rules to its flow model: a ``TwinScenario`` is
the ``adjust`` object handed to the builders of ``cases.beijing.stresses``, multiplying
pumping (per aquifer group, inside a zone) and recharge (per kind). Heads rules are
applied to the heads at the cells after the flow model (``Scenario.head_offsets``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from cases.beijing.stresses import RECHARGE_KINDS
from engine.scenario import Scenario, read_scenario_table
from engine.scenario import parse_scenario as parse_any_area


@dataclass(frozen=True)
class TwinScenario(Scenario):
    """A scenario of the twin; ``zones`` is its Domain."""

    # -- the ``adjust`` protocol of cases.beijing.stresses -----------------------------
    def pumping(self, date, layer: int, x, y):
        factor = np.ones(np.shape(x))
        for rule in self.pumping_rules:
            if rule.active(date) and rule.aquifer in (None, layer):
                factor = np.where(self.zones.in_zone(rule.zone, x, y),
                                  factor * rule.value, factor)
        return factor

    def recharge(self, date, kind: str, x, y):
        factor = 1.0
        for rule in self.recharge_rules:
            if rule.active(date) and rule.kind in ("all", kind):
                factor *= rule.value
        return factor


def load_scenario(path, domain) -> TwinScenario:
    """Read and validate the scenario file at ``path`` for the twin's ``domain``."""
    return parse_scenario(read_scenario_table(path), Path(path), domain)


def parse_scenario(raw: dict, source, domain) -> TwinScenario:
    """The scenario of a parsed TOML table (``source`` names it in errors)."""
    scenario = parse_any_area(raw, source, domain.aquifer_names, domain, RECHARGE_KINDS)
    return TwinScenario(**{f.name: getattr(scenario, f.name) for f in fields(scenario)})
