"""What the ``suite`` benchmark measures: its operations and stacks, OSU's iteration counts,
and the (op, size) pairs of a run.

Shared by the launcher (:mod:`.suite`, for its options) and the modules of the MPI job
(measuring, the stacks, the report), so that none of them imports another for constants.
"""

from __future__ import annotations

OPS = ("latency", "bw", "allreduce", "bcast", "reduce", "allgather", "alltoall", "barrier")
POINT_TO_POINT = ("latency", "bw")
COLLECTIVES = OPS[2:]
REDUCTIONS = ("allreduce", "reduce")
STACKS = ("C", "mpi4numba", "mpi4py", "numba-mpi")
ROTATION = ("mpi4numba", "C", "mpi4py", "numba-mpi")
UNITS = {op: "MB/s" if op == "bw" else "us" for op in OPS}
LARGE = 8192  # OSU: above this many bytes, the "large" iteration counts
OSU_COUNTS = {
    "latency": ((10000, 100), (1000, 10)),
    "bw": ((100, 10), (20, 2)),
    "collective": ((1000, 100), (100, 10)),
}  # ((iterations, warm-up) small, large)


def sizes(minimum: int, maximum: int) -> list[int]:
    """0 (when in range) and the powers of two from ``minimum`` to ``maximum``."""
    found = [0] if minimum == 0 else []
    power = 1
    while power <= maximum:
        if power >= minimum:
            found.append(power)
        power *= 2
    return found


def counts(op: str, size: int, iterations: int, warmup: int) -> tuple[int, int]:
    """Timed iterations and warm-up of ``op`` at ``size``: OSU's, scaled by the options."""
    small, large = OSU_COUNTS[op if op in POINT_TO_POINT else "collective"]
    n, w = large if size > LARGE else small
    return max(1, round(n * iterations / 10000)), max(0, round(w * warmup / 100))


def plan(ops: list[str], all_sizes: list[int], nprocs: int) -> tuple[list[tuple[str, int]], list[str]]:
    """The (op, size) pairs to measure, and notes on what is left out."""
    pairs, notes = [], []
    for op in ops:
        if op in POINT_TO_POINT and nprocs < 2:
            notes.append(f"{op}: needs 2 processes, skipped")
            continue
        if op == "barrier":
            pairs.append((op, 0))
            continue
        keep = [size for size in all_sizes if size >= 1] if op == "bw" else all_sizes
        if op in REDUCTIONS:
            keep = [size for size in keep if size % 4 == 0]
        if len(keep) < len(all_sizes):
            dropped = ", ".join(f"{size} B" for size in all_sizes if size not in keep)
            notes.append(f"{op}: {dropped} skipped ({'int32 elements' if op in REDUCTIONS else 'no data'})")
        pairs.extend((op, size) for size in keep)
    return pairs, notes
