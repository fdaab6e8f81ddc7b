"""Each open store's own temporary directory, and removal of what crashed runs left.

A store writes downloads into ``tmp/<session>/`` and holds an exclusive ``flock`` on
``tmp/<session>.lock`` while open. The kernel drops that lock when the process dies, so
on open any session whose lock can be taken belongs to a dead (or closed) store and is
removed; the directories of live stores (a run writing while a notebook opens the same
store) are left alone. Only names of the store's own pattern (``s-<pid>-<12 hex>`` and
its ``.lock``) are ever removed: anything else a user put in ``tmp/`` stays, and a
``tmp`` that is a symbolic link is refused rather than followed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import uuid
from pathlib import Path

from stagekit.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "TempSession",
    "check_real_directory",
    "is_session_name",
    "remove_leftovers",
    "session_is_live",
]

log = logging.getLogger(__name__)

_LOCK_SUFFIX = ".lock"
_SESSION = re.compile(r"s-[0-9]+-[0-9a-f]{12}")


def is_session_name(name: str) -> bool:
    """Whether ``name`` is a session directory or lock file that a store creates."""
    return _SESSION.fullmatch(name.removesuffix(_LOCK_SUFFIX)) is not None


def check_real_directory(path: Path, what: str) -> None:
    """`StoreError` if ``path`` exists as a symbolic link or as something not a directory.

    The store never writes or cleans through a link: a ``tmp`` pointing at a home
    directory would otherwise be emptied, and an ``artifacts`` link would put files
    outside the store.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise StoreError(f"{what} {path} is a symbolic link; the store refuses to write or "
                         "clean through links: replace it with a real directory")
    if not stat.S_ISDIR(mode):
        raise StoreError(f"{what} {path} is not a directory")


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
    """Remove what dead stores left in ``tmp_root``; return how many entries went.

    Only entries named like a session (see `is_session_name`) are considered; a
    ``tmp_root`` that is a symbolic link raises `StoreError` before anything is read.
    """
    check_real_directory(tmp_root, "temporary directory")
    removed = 0
    names = tmp_root.iterdir() if tmp_root.is_dir() else iter(())
    entries = sorted(e for e in names if is_session_name(e.name))
    live: set[str] = set()
    for lock_path in (e for e in entries if e.name.endswith(_LOCK_SUFFIX)):
        session = lock_path.name[: -len(_LOCK_SUFFIX)]
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:  # gone, or a planted link: not ours to touch
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


def session_is_live(tmp_root: Path, session: str) -> bool:
    """Whether the store that wrote ``session`` is still open, asked without writing.

    A shared lock is tried on its lock file, opened read-only: a live store holds an
    exclusive one. Unknown (an unreadable folder, no flock) counts as live.
    """
    if not is_session_name(session) or fcntl is None:
        return True
    try:
        fd = os.open(tmp_root / (session + _LOCK_SUFFIX), os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


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
