"""The operations the ``latency`` benchmark times, shared by its launcher and its stacks.

Their order is also that of ``latency.c`` (checked when the C library is loaded).
"""

from __future__ import annotations

OPS = ("pingpong_8", "pingpong_1024", "pingpong_65536", "allreduce", "bcast", "barrier", "exchange")
LABELS = {
    "pingpong_8": "ping-pong 8 B",
    "pingpong_1024": "ping-pong 1 KiB",
    "pingpong_65536": "ping-pong 64 KiB",
    "allreduce": "allreduce 1 double",
    "bcast": "bcast 1 double",
    "barrier": "barrier",
    "exchange": "isend+irecv+waitall 8 B",
}
PINGPONG_BYTES = {"pingpong_8": 8, "pingpong_1024": 1024, "pingpong_65536": 65536}
P2P = frozenset(PINGPONG_BYTES) | {"exchange"}  # between ranks 0 and 1 only; need 2 processes
