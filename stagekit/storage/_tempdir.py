"""Each open store's own temporary directory, and removal of what crashed runs left.

A store writes downloads into ``tmp/<session>/`` and holds an exclusive ``flock`` on
``tmp/<session>.lock`` while open. The kernel drops that lock when the process dies, so
on open any session whose lock can be taken belongs to a dead (or closed) store and is
removed; the directories of live stores (a run writing while a notebook opens the same
store) are left alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from stagekit.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["TempSession", "remove_leftovers"]

log = logging.getLogger(__name__)

_LOCK_SUFFIX = ".lock"


def _try_lock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover - without flock, treat every session as live
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_leftovers(tmp_root: Path) -> int:
    """Remove what dead stores left in ``tmp_root``; return how many entries went."""
    removed = 0
    entries = sorted(tmp_root.iterdir()) if tmp_root.is_dir() else []
    live: set[str] = set()
    for lock_path in (e for e in entries if e.name.endswith(_LOCK_SUFFIX)):
        session = lock_path.name[: -len(_LOCK_SUFFIX)]
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            if not _try_lock(fd):
                live.add(session)
                continue
            _remove(tmp_root / session)
            lock_path.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)
    for entry in entries:
        if entry.name.endswith(_LOCK_SUFFIX) or entry.name in live or not entry.exists():
            continue
        _remove(entry)
        removed += 1
    if removed:
        log.info("removed %d leftover temporary entries in %s", removed, tmp_root)
    return removed


def live_sessions(tmp_root: Path) -> set[str]:
    """Names of the sessions whose store is open (their lock files are left after cleanup)."""
    return {e.name[: -len(_LOCK_SUFFIX)] for e in tmp_root.glob("*" + _LOCK_SUFFIX)}


class TempSession:
    """This store's temporary directory, locked for as long as the store is open."""

    def __init__(self, tmp_root: Path) -> None:
        for _ in range(5):
            name = f"s-{os.getpid()}-{uuid.uuid4().hex[:12]}"
            lock_path = tmp_root / (name + _LOCK_SUFFIX)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            if not _try_lock(fd) and fcntl is not None:
                os.close(fd)
                continue
            # A cleaner may have taken and unlinked the lock file before we locked it.
            try:
                same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            self._fd: int | None = fd
            self.lock_path = lock_path
            self.path = tmp_root / name
            self.path.mkdir()
            return
        raise StoreError(f"could not create a temporary directory in {tmp_root}")

    def close(self) -> None:
        """Remove the directory and release the lock (idempotent)."""
        if self._fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        self.lock_path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None
