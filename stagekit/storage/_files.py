"""File-level helpers of the store: durable flushes, and what counts as a stored file."""

from __future__ import annotations

import ctypes
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["CHUNK", "fsync_dir", "fsync_file", "hash_regular", "regular_file", "sync_filesystem"]

CHUNK = 1 << 20


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # Linux
    except (AttributeError, OSError):
        return None


_SYNCFS = _load_syncfs()


_MEMINFO = Path("/proc/meminfo")

#: Unwritten data in the page cache (besides a batch's own) above which a flush of the
#: whole filesystem is not used: it would wait for every other process's writes, so on
#: a busy machine each batch (and a Ctrl-C waiting for one) took seconds.
OTHERS_DIRTY_LIMIT = 32 << 20


def dirty_bytes() -> int | None:
    """The machine's page-cache data not yet on disk (``Dirty:`` plus ``Writeback:`` in
    /proc/meminfo), if known."""
    try:
        text = _MEMINFO.read_bytes()
    except OSError:
        return None
    total = 0
    for name in (b"\nDirty:", b"\nWriteback:"):
        start = text.find(name)
        if start < 0:
            return None
        fields = text[start + len(name):text.find(b"\n", start + 1)].split()
        try:
            total += int(fields[0]) * 1024  # kB
        except (IndexError, ValueError):
            return None
    return total


def sync_filesystem(path: Path, own_bytes: int = 0) -> bool:
    """Flush the whole filesystem holding ``path`` (syncfs), unless unavailable or other
    processes' unwritten data would make it slow: False then, and nothing is flushed."""
    if _SYNCFS is None:
        return False
    dirty = dirty_bytes()
    if dirty is None or dirty > own_bytes + OTHERS_DIRTY_LIMIT:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return _SYNCFS(fd) == 0
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    try:
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
    except FileNotFoundError:  # reported by the commit that follows
        pass


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def regular_file(path: Path | str, folder: Path | str | None = None, *,
                 folder_checked: bool = False) -> tuple[str, int]:
    """``("file", size)`` for a regular file in a real directory, else what it is instead.

    ``folder`` is the file's directory when the caller has it at hand;
    ``folder_checked=True`` says the caller already knows it is a real directory (the
    store checks each of its folders once), so only the file itself is looked at.
    """
    if not folder_checked and os.path.islink(
            folder if folder is not None else os.path.dirname(path)):
        return "inside a linked directory", 0
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link", 0
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file", 0
    return "file", st.st_size


def hash_regular(path: Path) -> str:
    """The sha256 of a file, refusing to follow a link at its last component."""
    hasher = hashlib.sha256()
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
