"""Kernel calls short enough for Ctrl-C.

Python acts on Ctrl-C (SIGINT) only between bytecodes, never inside a compiled Numba
call: a kernel that advanced every bed through the whole record in one call could not be
stopped (``substeps=1000`` on a large case runs for hours). The kernels therefore take a
range of bed chunks and a range of time steps and keep every running total in arrays the
caller holds; ``windows`` cuts a run into calls of about WORK_PER_CALL node sub-steps,
a fraction of a second at the kernels' measured 2-4e8 node-steps/s, so Ctrl-C stops any
run within a second. Cutting changes no digit: each call continues exactly where the
last one stopped.
"""

from __future__ import annotations

#: node sub-steps per kernel call: about 0.15 s on one thread, 2-3 ms of call overhead
WORK_PER_CALL = 2**25


def windows(n_chunks: int, n_times: int, work_per_chunk_step: int, threads: int):
    """(first_chunk, end_chunk, first_step, end_step) calls that together advance
    ``n_chunks`` chunks of beds over steps 1 .. n_times - 1 (step k ends at time k)."""
    per_step = max(1, n_chunks * work_per_chunk_step)
    if per_step <= WORK_PER_CALL:
        span = WORK_PER_CALL // per_step
        for first in range(1, n_times, span):
            yield 0, n_chunks, first, min(first + span, n_times)
        return
    # one step of all beds is already too long: fewer chunks per call, but at least one
    # per thread so that no core idles
    width = max(threads, WORK_PER_CALL // max(1, work_per_chunk_step))
    for first_chunk in range(0, n_chunks, width):
        end_chunk = min(first_chunk + width, n_chunks)
        for step in range(1, n_times):
            yield first_chunk, end_chunk, step, step + 1
