"""A physics-only install (no torch, no safetensors) runs a physics bench: the engine
core, the bench and the registry never need the networks, and the providers that do
are reported as unavailable instead of failing the command."""

import subprocess
import sys
import textwrap

from cases.synthetic import synthetic_case
from engine.caseio import write_case
from engine.result import result_groups

#: Run in a fresh interpreter where importing torch or safetensors fails, as it does
#: where they are not installed.
WITHOUT_TORCH = textwrap.dedent("""
    import sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("torch", "safetensors"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    from engine.app.cli import main

    status = main(sys.argv[1:])
    assert "torch" not in sys.modules
    sys.exit(status)
""")


def without_torch(*args):
    return subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *args], capture_output=True,
                          text=True)


def test_a_physics_bench_runs_without_torch(tmp_path):
    manifest = write_case(synthetic_case(n_cells=20, n_months=36, seed=2), tmp_path / "case")
    out = tmp_path / "bench"
    proc = without_torch("bench", str(manifest), "--solvers", "terzaghi,trend",
                         "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(result_groups(out / "results.h5")) == {"terzaghi", "trend"}


def test_solvers_lists_the_networks_as_unavailable_without_torch():
    proc = without_torch("solvers")
    assert proc.returncode == 0, proc.stderr[-3000:]
    listed = proc.stdout.split("\nunavailable")
    assert "terzaghi" in listed[0] and "trend" in listed[0] and "lstm" not in listed[0]
    assert "networks" in listed[1] and "torch" in listed[1]
