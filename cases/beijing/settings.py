"""The twin's generator settings: the shipped ``settings.toml`` merged with a user's file.

A user's file may set any key of the shipped one (tables merge key by key, other values
are replaced); a key the shipped file does not have is refused with a did-you-mean, so a
misspelt setting never passes silently.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

from engine.errors import InputError, suggest

DEFAULTS = Path(__file__).with_name("settings.toml")
SIZES = ("tiny", "small", "medium", "full")


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, "(file)", f"cannot be read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, "(syntax)", f"not valid TOML: {e}") from None


def _merge(base: dict, override: dict, source: Path, prefix: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        field = f"{prefix}{key}"
        if key not in base:
            raise InputError(source, field, f'unknown setting "{key}"{suggest(key, base)}; '
                             f"known here: {', '.join(base)}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            out[key] = _merge(base[key], value, source, field + ".")
        elif isinstance(base[key], dict) != isinstance(value, dict):
            raise InputError(source, field, f"{value!r} should be "
                             f"{'a table' if isinstance(base[key], dict) else 'a value'}")
        else:
            out[key] = value
    return out


def load_settings(path=None) -> dict:
    """The shipped settings, with those of the file at ``path`` (if any) merged in."""
    settings = _read(DEFAULTS)
    if path is not None:
        settings = _merge(settings, _read(Path(path)), Path(path))
    return settings


def size_settings(settings: dict, size: str) -> dict:
    """The [sizes.<size>] table."""
    if size not in settings["sizes"]:
        raise InputError("command line", "--size", f'"{size}" is not a size'
                         f"{suggest(size, settings['sizes'])}; sizes: "
                         f"{', '.join(settings['sizes'])}")
    return settings["sizes"][size]
