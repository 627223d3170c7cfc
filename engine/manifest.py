"""The TOML side of a case file: reading the manifest and checking its values (keys with
a did-you-mean, numbers, strings, file references), every refusal an InputError naming
the manifest, the dotted field (``aquifers[1].interbeds[0].kv``) and the value."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from engine.errors import InputError, suggest
from engine.tables import not_regular, resolve


def read_manifest(manifest: Path) -> dict:
    why = not_regular(manifest)
    if why:
        raise InputError(manifest, "(file)", f"the case manifest {why}")
    try:
        raw = manifest.read_bytes()
    except OSError as e:
        raise InputError(manifest, "(file)", f"the case manifest cannot be read: "
                         f"{e.strerror or e}") from None
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is not content
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(manifest, "(file)", f"not UTF-8 text (byte 0x{raw[e.start]:02x} at "
                         f"offset {e.start}); a case manifest is a TOML text file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(manifest, "(syntax)", f"not valid TOML: {e}") from None


def show(value) -> str:
    """A manifest value as it is spelled in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table {" + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def join(field: str, key) -> str:
    return f"{field}.{key}" if field else str(key)


class ManifestValues:
    """Checks of the values of one manifest; files it names are relative to its folder."""

    def __init__(self, manifest: Path):
        self.manifest = manifest
        self.folder = manifest.parent

    def fail(self, field: str, message: str):
        raise InputError(self.manifest, field, message)

    def keys(self, table, allowed, field: str) -> dict:
        if not isinstance(table, dict):
            self.fail(field, f"{show(table)} should be a table with keys {', '.join(allowed)}")
        for key in table:
            if key not in allowed:
                self.fail(join(field, key), f'unknown key "{key}"{suggest(key, allowed)}; '
                          f"allowed here: {', '.join(allowed)}")
        return table

    def required(self, table: dict, key: str, field: str):
        if key not in table:
            self.fail(join(field, key), f'missing required key "{key}"'
                      + (f" in [{field}]" if field else ""))
        return table[key]

    def number(self, value, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"{show(value)} is not a number")
        if not math.isfinite(value):
            self.fail(field, f"{value!r} is not a finite number")
        return float(value)

    def text(self, value, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"{show(value)} should be a non-empty string")
        return value

    def file_reference(self, value, allowed, field: str) -> Path:
        """The file named by an inline table such as { file = "heads.csv" }."""
        self.keys(value, allowed, field)
        name = self.required(value, "file", field)
        return resolve(self.folder, name, self.manifest, f"{field}.file")
