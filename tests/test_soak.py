"""Integrity under load (driver test): a bounded soak of concurrent non-blocking exchanges
of random sizes and dtypes, with every message checked, at 3 processes.

tests/scripts/soak.py runs for MPI4NUMBA_SOAK_SECONDS (default 20; 60 makes the
"about a minute" soak) after a warm-up that compiles (or loads from the Numba cache)
every path it takes. Every rank reports what it received and checked; nothing may differ
from what was sent, no MPI call may fail, and no NRT allocation may outlive the soak.
MPI4NUMBA_SOAK_SEED picks another sequence of rounds (default 12345).
"""

import json
import os
import re
import sys

import pytest
from helpers import ROOT, mpiexec

pytestmark = pytest.mark.driver

NP = 3
SECONDS = float(os.environ.get("MPI4NUMBA_SOAK_SECONDS", "20"))
SEED = int(os.environ.get("MPI4NUMBA_SOAK_SEED", "12345"))
# A cold compile of the program on a loaded 2-core machine takes minutes.
COMPILE_ALLOWANCE = 900


def soak_reports(stdout: str) -> list[dict]:
    """Every rank's ``SOAK {json}`` report. The launcher forwards the ranks' output in
    chunks, so one rank's line may run into another's: each report is decoded where its
    marker starts, not line by line."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(stdout, match.end())[0] for match in re.finditer(r"SOAK (?=\{)", stdout)]


def test_soak_reports_are_read_also_when_ranks_lines_run_together():
    joined = 'SOAK {"rank": 0, "a": [1]}SOAK {"rank": 1}\n\nnoise SOAK {"rank": 2, "b": "}"}\n'
    assert [r["rank"] for r in soak_reports(joined)] == [0, 1, 2]


def test_soak_of_concurrent_nonblocking_exchanges(tmp_path):
    env = {"NUMBA_NRT_STATS": "1", "MPI4NUMBA_ABORT_ON_ERROR": "1"}
    if not os.environ.get("NUMBA_CACHE_DIR"):  # ./dev gives each leg a cache
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    done = mpiexec(
        NP,
        str(ROOT / "tests" / "scripts" / "soak.py"),
        str(SECONDS),
        str(SEED),
        env=env,
        python=sys.executable,
        timeout=SECONDS + COMPILE_ALLOWANCE,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    reports = soak_reports(done.stdout)
    assert sorted(r["rank"] for r in reports) == list(range(NP)), output
    print(f"\nsoak: {SECONDS:g} s at {NP} processes on {reports[0]['mpi']}")
    for r in sorted(reports, key=lambda r: r["rank"]):
        print(
            f"rank {r['rank']}: {r['rounds']} rounds {r['rounds_by_form']}, {r['p2p_messages']} messages "
            f"received, {r['p2p_sent']} sent, {r['collectives']} collective results, {r['bytes']} bytes, "
            f"{r['mismatches']} mismatches, {r['errors']} errors, NRT leaked {r['nrt_leaked']} "
            f"({r['nrt_allocations']} allocations), warm-up {r['warmup']['seconds']} s"
        )

    for r in reports:
        assert r["nrt_stats"], "NUMBA_NRT_STATS=1 did not reach the ranks"
        assert r["mismatches"] == 0 and r["warmup"]["mismatches"] == 0, r
        assert r["errors"] == 0, r
        assert r["nrt_leaked"] == [0, 0], r  # (arrays, meminfos) alive after the soak, less before it
        assert r["nrt_allocations"] > 0, r  # the counters did count
        assert r["rounds"] == reports[0]["rounds"] and r["rounds"] >= 10, r
        assert r["p2p_messages"] >= 50 and r["collectives"] >= 20 and r["bytes"] > 0, r
        assert r["held_sends"] > 0, r
    # every message sent was received (and checked) by some rank
    assert sum(r["p2p_sent"] for r in reports) == sum(r["p2p_messages"] for r in reports)
