"""Node-local compile locks: a private directory, no links followed, the "starting MPI" mark."""

from __future__ import annotations

import os
import stat
import threading
import time

import pytest

from mpi4numba._core import nodelock

pytestmark = pytest.mark.driver  # about files and processes, not MPI: run once


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A fresh temporary directory as TMPDIR, no MPI4NUMBA_LOCK_DIR, no XDG_RUNTIME_DIR."""
    monkeypatch.delenv(nodelock.LOCK_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(nodelock.tempfile, "tempdir", None)  # re-read TMPDIR
    monkeypatch.setattr(nodelock, "_chosen", {})
    return tmp_path


def default_folder(places) -> str:
    return str(places / f"mpi4numba-locks-{os.getuid()}")


def test_the_lock_directory_is_made_private(places):
    folder, refused = nodelock.directory()
    assert folder == default_folder(places) and refused == []
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_a_directory_others_may_write_is_refused_for_the_runtime_directory(places, monkeypatch):
    os.mkdir(default_folder(places))
    os.chmod(default_folder(places), 0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(places / "run"))
    folder, refused = nodelock.directory()
    assert folder == str(places / "run" / "mpi4numba-locks")
    assert len(refused) == 1 and "others may write" in refused[0] and "777" in refused[0]


def test_a_directory_of_another_user_is_refused(places):
    if os.getuid() != 0:
        pytest.skip("making a directory owned by another user needs root")
    os.mkdir(default_folder(places), 0o700)
    os.chown(default_folder(places), 65534, 65534)
    folder, refused = nodelock.directory()
    assert folder is None and "belongs to another user (uid 65534)" in refused[0]


def test_a_symbolic_link_as_directory_is_refused(places):
    os.mkdir(places / "elsewhere", 0o700)
    os.symlink(places / "elsewhere", default_folder(places))
    folder, refused = nodelock.directory()
    assert folder is None and "is not a directory" in refused[0]


def test_lock_files_are_opened_without_following_links(places):
    folder, _ = nodelock.directory()
    path = nodelock.lock_path(folder, "index", "compile (float64,)")
    target = places / "planted"
    os.symlink(target, path)
    reports = []
    lock, waited = nodelock.acquire(path, True, reports.append)
    assert lock is None and not waited and len(reports) == 1, reports
    assert not target.exists()  # nothing created where the link points


def test_a_waiter_starts_mpi_when_the_holder_does(places):
    folder, _ = nodelock.directory()
    path = nodelock.lock_path(folder, "f", "compile")
    holder, _ = nodelock.acquire(path, False, pytest.fail)
    assert holder is not None
    marks, got = [], []

    def wait() -> None:  # flock: another open file description conflicts, also in one process
        got.append(nodelock.acquire(path, True, pytest.fail, on_mark=lambda: marks.append(time.monotonic())))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    assert not marks and not got  # waiting, no mark yet
    nodelock.mark_starting_mpi(holder)
    deadline = time.monotonic() + 10
    while not marks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(marks) == 1 and not got  # told once, still waiting
    nodelock.release(holder)
    waiter.join(10)
    lock, waited = got[0]
    assert lock is not None and waited and lock.waited
    assert os.pread(lock.fd, 1, 0) == b""  # a new holder starts with no mark
    nodelock.release(lock)


def test_a_mark_left_by_a_dead_holder_is_cleared(places):
    folder, _ = nodelock.directory()
    path = nodelock.lock_path(folder, "g", "compile")
    with open(path, "wb") as stale:
        stale.write(nodelock.STARTING_MPI)
    lock, waited = nodelock.acquire(path, True, pytest.fail, on_mark=pytest.fail)
    assert lock is not None and not waited and os.path.getsize(path) == 0
    nodelock.release(lock)
