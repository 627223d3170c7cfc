"""Case files and generators: the verification cases shipped with landsub (and, later,
the synthetic Beijing Plain twin and loaders for real data)."""

from pathlib import Path

VERIFICATION_DIR = Path(__file__).parent / "verification"


def verification_cases() -> list[Path]:
    """Manifests of the built-in verification cases, in a stable order."""
    return sorted(VERIFICATION_DIR.glob("*.toml"))
