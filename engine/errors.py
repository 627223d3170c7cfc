"""Errors a user can act on. The CLI prints their message and exits with status 2."""

from __future__ import annotations

import difflib
import errno

#: OSErrors of a write that the user can act on (free space, quota, permissions).
WRITE_FAILURES = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)
#: those of them that more room would cure
OUT_OF_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class LandsubError(Exception):
    """Base class of every error whose message is meant for the user."""


class InputError(LandsubError, ValueError):
    """Bad input: names the file, the field and the offending value.

    Parameters
    ----------
    source : str or path-like
        The file the value came from (or a description such as "command line").
    field : str
        Dotted path of the field inside that file, e.g. ``aquifers[1].interbeds.kv``.
    message : str
        What is wrong, in words, including the offending value.
    """

    def __init__(self, source, field: str, message: str):
        self.source = str(source)
        self.field = field
        self.detail = message
        super().__init__(f"{self.source}: {field}: {message}")

    def __reduce__(self):
        # rebuilt from its three parts, so an error raised in a Dask worker reaches the
        # caller as an InputError (the default would pass the formatted message only)
        return type(self), (self.source, self.field, self.detail)


class SolverError(LandsubError, RuntimeError):
    """A solver failed in a way the user can act on (missing executable, no convergence...)."""


def suggest(word: str, choices) -> str:
    """' (did you mean "x"?)' for the closest of ``choices``, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def run_command(command: str, action, *, on_interrupt: str = "") -> int:
    """Run ``action()`` as the command ``command`` (e.g. "landsub bench") and turn its
    returned status (an int; anything else counts as 0) and what it raises into the
    exit status every landsub command shares: 0 done, 2 bad input or a solver failure
    the user can act on (one line on stderr, never a traceback), out of disk, quota or
    a read-only file system (one line naming the path), 130 interrupted (Ctrl-C;
    ``on_interrupt`` says what to do next), and a quiet exit when the reader of the
    output went away (``landsub info ... | head``)."""
    import os
    import sys

    try:
        code = action()
        sys.stdout.flush()
        # commands return their exit status; functions that return data mean success
        return code if isinstance(code, int) and not isinstance(code, bool) else 0
    except LandsubError as err:
        print(f"{command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the pipe's reader closed: point stdout at /dev/null so that the interpreter's
        # final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        if err.errno not in WRITE_FAILURES:
            raise
        # out of disk or quota, a read-only file system: the writers have removed their
        # temporary files, the earlier outputs are whole; the user can act on this
        where = err.filename or err.filename2
        print(f"{command}: error: cannot write{f' {where}' if where else ''}: "
              f"{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted{'; ' + on_interrupt if on_interrupt else ''}",
              file=sys.stderr)
        return 130
