"""Property (issue 13): whatever a mutated case file or option holds, `landsub run`
either succeeds with a finite result or exits 2 with one line -- never a traceback, never
a non-finite or absurd result written with exit 0."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.app.cli import main
from engine.result import read_result
from tests.case_files import write_base_case

#: every "key = number" of the base manifest is a place to mutate
_NUMBER = re.compile(r"(?m)^(\s*[a-z_]+\s*=\s*)(-?[0-9][0-9.e+-]*)\s*$")

_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**15, max_value=10**15).map(str),
    st.sampled_from(['"text"', "true", "[]", "{}", "1e308", "1e-320", "-0.0", "nan", "inf",
                     '{ file = "../x.csv" }', '{ file = "/etc/passwd" }',
                     '{ file = "params.csv", column = "nope" }']))
_OPTIONS = st.lists(st.tuples(st.sampled_from(["nodes", "substeps", "scheme", "threads", "x"]),
                              st.one_of(st.integers(-5, 10**7).map(str),
                                        st.sampled_from(["nan", "inf", "1e9", "", "csub", "abc"]))),
                    max_size=2)


def _run(manifest: Path, options, out: Path) -> tuple[int, str]:
    argv = ["run", str(manifest), "--solver", "terzaghi", "--out", str(out)]
    for key, value in options:
        argv += ["--option", f"terzaghi:{key}={value}"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:    # argparse
            code = e.code
    return code, err.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), options=_OPTIONS)
def test_every_mutation_is_refused_in_one_line_or_gives_a_finite_result(data, options):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "case"
        manifest = write_base_case(folder)
        text = manifest.read_text()
        spots = list(_NUMBER.finditer(text))
        for _ in range(data.draw(st.integers(0, 2), label="mutations")):
            spot = data.draw(st.sampled_from(spots), label="field")
            value = data.draw(_VALUES, label="value")
            text = text[:spot.start(2)] + value + text[spot.end(2):]
            spots = list(_NUMBER.finditer(text))
        manifest.write_text(text)
        out = Path(tmp) / "r.h5"
        code, err = _run(manifest, options, out)
        if code == 0:
            result = read_result(out)
            assert np.isfinite(result.displacement).all()
            assert np.abs(result.displacement).max() <= 1e3
        else:
            assert code == 2, err
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "error:" in lines[0], err
            assert not out.exists()
        shutil.rmtree(folder)
