#!/usr/bin/env bash
# Sets up landsub on a fresh Debian machine with Python >= 3.11: Debian libraries,
# the Python packages (torch pinned to its CPU wheel through constraints.txt),
# landsub itself (editable) and the MODFLOW executables (offline-capable).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# MODFLOW-2005 is linked against the GNU Fortran runtime.
if ! ldconfig -p 2>/dev/null | grep -q 'libgfortran\.so\.5'; then
    echo "setup: installing Debian's libgfortran5 (needed by mf2005)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgfortran5
fi

PY=${PYTHON:-python3}
echo "setup: installing Python packages (constraints.txt pins torch==2.13.0, CPU)"
"$PY" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[ml,dask,test]"

# MintPy's own writer makes the test fixtures; its dependency stack is not needed.
"$PY" -m pip install -q --disable-pip-version-check --no-deps mintpy==1.6.4

echo "setup: installing MODFLOW executables"
"$PY" scripts/install_modflow.py
