"""What went wrong in a MODFLOW run, read from its listing files (mfsim.lst, *.lst,
*.list), so that a failure message quotes MODFLOW's own words."""

from __future__ import annotations

import re
from pathlib import Path

# lines worth quoting: errors, convergence failures, abnormal stops
_PROBLEM = re.compile(
    r"error|failed to meet|did not converge|failure to converge|abnormal|stop|"
    r"cannot|can't|not found|negative|dewatered", re.IGNORECASE)
# frequent harmless lines that contain one of the words above
_HARMLESS = re.compile(r"^\s*(error report:|unit error report:)?\s*$|no errors|"
                       r"0 errors|normal termination", re.IGNORECASE)

LISTING_SUFFIXES = (".lst", ".list")


def listing_files(folder: Path) -> list[Path]:
    """Listing files of a run folder, the simulation's first."""
    files = [p for p in Path(folder).iterdir() if p.suffix.lower() in LISTING_SUFFIXES]
    return sorted(files, key=lambda p: (p.name != "mfsim.lst", p.name))


def problems(folder: Path, limit: int = 20) -> list[str]:
    """Up to ``limit`` distinct problem lines from the listing files, each prefixed by
    its file name, in file order."""
    seen, out = set(), []
    for path in listing_files(folder):
        for line in path.read_text(errors="replace").splitlines():
            text = " ".join(line.split())
            if not text or not _PROBLEM.search(text) or _HARMLESS.search(text):
                continue
            if text in seen:
                continue
            seen.add(text)
            out.append(f"{path.name}: {text}")
            if len(out) == limit:
                return out
    return out


def failure_message(program: str, folder: Path, output_tail: list[str] | None = None) -> str:
    """The message of a failed run: what MODFLOW said and where the files were kept."""
    quoted = problems(folder)
    if not quoted and output_tail:
        quoted = [" ".join(line.split()) for line in output_tail if line.strip()][-10:]
    detail = "\n  ".join(quoted) if quoted else "(no listing file explains it)"
    return (f"{program} failed; the run folder is kept at {folder}\n  {detail}")
