"""Declarations real data must carry and files often leave out: the unit and sign of
InSAR values, the CRS of longitudes/latitudes, the unit of heads, the aquifers' order.
A reader that finds neither the file nor the command line saying one calls ``missing``,
whose message names the flag or --params key that says it.

Outside ``collecting()``, ``missing`` refuses at once (a reader used on its own). Inside
it (``make-case from-data``), ``missing`` records the refusal and returns a stand-in, so
that the reading goes on and finds the next missing declaration; leaving the block
refuses them all in one message. A stand-in never reaches a case: the block always ends
in that refusal when one was recorded. A user with six gaps in their declarations thus
learns of all six in one run, not one per run.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from engine.errors import InputError, LandsubError

_pending: ContextVar[list | None] = ContextVar("missing_declarations", default=None)


class MissingDeclaration(InputError):
    """A unit, sign, CRS or order that neither the file nor the command line states."""


class MissingDeclarations(InputError):
    """Several missing declarations, refused together: one line, "; " between them (the
    command line prints every refusal on one line)."""

    def __init__(self, items):
        self.items = tuple(items)
        self.source = "; ".join(dict.fromkeys(item.source for item in self.items))
        self.field = "; ".join(dict.fromkeys(item.field for item in self.items))
        self.detail = (f"{len(self.items)} declarations are missing, each with what gives "
                       "it: " + "; ".join(str(item) for item in self.items))
        LandsubError.__init__(self, self.detail)

    def __reduce__(self):
        return type(self), (self.items,)


def missing(source, field: str, message: str, stand_in):
    """Refuse the missing declaration (``message`` names the flag or key that gives it),
    or, while collecting, record it and return ``stand_in`` for the reading to go on."""
    error = MissingDeclaration(source, field, message)
    pending = _pending.get()
    if pending is None:
        raise error
    for k, earlier in enumerate(pending):
        # one flag or key, one item: what it must give, listed together
        if (earlier.source, earlier.field) == (error.source, error.field):
            if message not in earlier.detail:
                pending[k] = MissingDeclaration(source, field, f"{earlier.detail}; {message}")
            return stand_in
    pending.append(error)
    return stand_in


@contextmanager
def collecting():
    """Run the block with ``missing`` recording instead of refusing; on leaving, refuse
    every missing declaration at once (a single one as itself). An error raised after a
    stand-in was handed out may be that stand-in's doing, so the declarations are refused
    in its place: the rest of the input is checked once they are given."""
    pending: list[MissingDeclaration] = []
    token = _pending.set(pending)
    try:
        yield
    except Exception:
        if not pending:
            raise
        raise _refusal(pending) from None
    finally:
        _pending.reset(token)
    if pending:
        raise _refusal(pending)


def _refusal(pending: list[MissingDeclaration]) -> InputError:
    return pending[0] if len(pending) == 1 else MissingDeclarations(pending)
