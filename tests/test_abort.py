"""The failing rank's report reaches the launcher before its abort (mpi4numba._core.abort);
the whole-job behaviour is in the driver tests of test_failures.py."""

from __future__ import annotations

import os
import threading
import time

from mpi4numba._core.abort import unread_bytes, wait_until_read


def test_the_wait_ends_when_the_reader_has_read_the_pipe():
    reader, writer = os.pipe()
    try:
        os.write(writer, b"[rank 1] exited with status 3\n")
        assert unread_bytes(writer) == 30

        def read_later():
            time.sleep(0.2)
            os.read(reader, 100)

        thread = threading.Thread(target=read_later)
        start = time.monotonic()
        thread.start()
        assert wait_until_read((writer,), limit_s=10)
        waited = time.monotonic() - start
        thread.join()
        assert 0.15 < waited < 5, waited
        assert unread_bytes(writer) == 0
    finally:
        os.close(reader)
        os.close(writer)


def test_the_wait_is_bounded_when_nobody_reads():
    reader, writer = os.pipe()
    try:
        os.write(writer, b"x")
        start = time.monotonic()
        assert not wait_until_read((writer,), limit_s=0.1)
        assert time.monotonic() - start < 2
    finally:
        os.close(reader)
        os.close(writer)


def test_files_and_closed_descriptors_are_not_waited_for(tmp_path):
    with open(tmp_path / "out.txt", "wb") as file:
        file.write(b"report")
        file.flush()
        assert unread_bytes(file.fileno()) == 0
        assert wait_until_read((file.fileno(),), limit_s=0.01)
    reader, writer = os.pipe()
    os.close(reader)
    os.close(writer)
    assert unread_bytes(writer) == 0
