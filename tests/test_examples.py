"""The example scripts of examples/ (the README's "Scripts") run to the end in
their quick mode, print the figures they claim and write their PNG: the README's
examples cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NUMBER = r"-?\d+\.\d+"


def _run(script: str, out: Path) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), "--quick", "--out",
                           str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow      # the twin's flow model is re-run twice: over a minute of CPU
def test_pumping_cut_prints_both_scenarios_and_draws(tmp_path):
    printed = _run("pumping_cut.py", tmp_path)
    assert re.search(rf"at 2028-12, business as usual: {NUMBER} mm", printed)
    assert re.search(rf"at 2028-12, pumping cut: {NUMBER} mm", printed)
    avoided = float(re.search(rf"subsidence avoided by the cut: ({NUMBER}) mm", printed)[1])
    assert avoided >= 0          # less pumping never adds subsidence
    assert (tmp_path / "pumping-cut.png").stat().st_size > 0


def test_physics_vs_ml_scores_every_solver_and_reloads_the_network(tmp_path):
    printed = _run("physics_vs_ml.py", tmp_path)
    for name in ("terzaghi", "calibrated:terzaghi", "lstm", "residual:terzaghi+lstm"):
        assert re.search(rf"^{re.escape(name)}\s+{NUMBER}\s+{NUMBER}$", printed, re.M), name
    assert "lstm saved and loaded back: same prediction True" in printed
    assert (tmp_path / "physics-vs-ml.png").stat().st_size > 0


@pytest.mark.slow      # two twins, a cluster-free ensemble of 2 x 2 members
def test_whatif_band_prints_a_band_per_solver(tmp_path):
    printed = _run("whatif_band.py", tmp_path)
    for name in ("terzaghi", "lstm"):
        assert re.search(rf"^{name}: area-mean difference at 2028-12 {NUMBER} mm "
                         rf"\[5-95 %: {NUMBER} \.\. {NUMBER}\] over 2 members$", printed,
                         re.M), printed
    assert (tmp_path / "whatif-band.png").stat().st_size > 0
    assert (tmp_path / "whatif.h5").exists()
