"""Write a download to a temporary file while computing its digests, off the event loop.

Hashing and file writes run in a worker thread (hashlib and file writes release the GIL),
one batch of chunks at a time per download, so the event loop only hands over references
while the next batch is being received. At most one batch per download is in a worker,
which bounds memory and gives back-pressure to the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "DigestSink",
    "copy_file_with_digests",
    "normalize_algorithm",
    "remove_quietly",
    "wait_for_worker",
]


def normalize_algorithm(name: str) -> str:
    """``"SHA-256"`` -> ``"sha256"``; raise ValueError for an algorithm hashlib lacks."""
    norm = name.lower().replace("-", "").replace("_", "")
    if norm not in hashlib.algorithms_available:
        raise ValueError(f"unknown digest algorithm {name!r}")
    return norm


def _hashers(algorithms: Iterable[str]) -> dict[str, hashlib._Hash]:
    names = {"sha256", *(normalize_algorithm(a) for a in algorithms)}
    if len(names) == 1:  # the usual download: one hasher, made without a lookup by name
        return {"sha256": hashlib.sha256()}
    return {name: hashlib.new(name) for name in sorted(names)}


class DigestSink:
    """A temporary file in ``temp_dir`` that hashes what is written to it.

    Use ``await write(chunk)`` for each chunk, then ``await finish()`` (returns size and
    hex digests) or ``await discard()`` (removes the file). ``discard`` is safe to call at
    any time, also after a cancellation, and waits for a batch still in a worker first.

    The file is created, written and closed in a worker thread only, never on the loop:
    on a disk busy with other writes (the store's own flushes, say) creating a file can
    block for milliseconds. A body smaller than a batch costs one worker round trip.
    """

    def __init__(
        self,
        temp_dir: Path,
        algorithms: Iterable[str],
        executor: Executor | None,
        *,
        batch_size: int = 256 * 1024,
    ) -> None:
        self.path = _temp_name(temp_dir)
        self._file: BinaryIO | None = None
        self._hashers = _hashers(algorithms)
        self._executor = executor
        self._batch_size = batch_size
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._pending: asyncio.Future[None] | None = None
        self.size = 0

    @classmethod
    async def create(
        cls, temp_dir: Path, algorithms: Iterable[str], executor: Executor | None, *,
        batch_size: int = 256 * 1024,
    ) -> DigestSink:
        """A sink for one download (its file is made by the first batch's worker)."""
        return cls(temp_dir, algorithms, executor, batch_size=batch_size)

    def _consume(self, chunks: list[bytes]) -> None:
        """Write and hash ``chunks`` (in a worker thread), creating the file first."""
        if self._file is None:
            self.path, self._file = _new_temp_file(self.path)
        for chunk in chunks:
            self._file.write(chunk)
            for hasher in self._hashers.values():
                hasher.update(chunk)

    def _consume_and_close(self, chunks: list[bytes]) -> None:
        self._consume(chunks)
        assert self._file is not None
        self._file.close()

    async def _wait_pending(self) -> None:
        # Cleared only once done: a cancelled wait leaves it for `discard` to wait for.
        if self._pending is not None:
            await self._pending
            self._pending = None

    async def write(self, chunk: bytes) -> None:
        """Queue ``chunk``; waits only when a full batch is ready and the previous is busy."""
        if not chunk:
            return
        self._batch.append(chunk)
        self._batch_bytes += len(chunk)
        self.size += len(chunk)
        if self._batch_bytes >= self._batch_size:
            await self._wait_pending()
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(self._executor, self._consume, batch)

    async def finish(self) -> tuple[int, dict[str, str]]:
        """Write what is left, close the file and return ``(size, {algorithm: hex})``."""
        await self._wait_pending()
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        loop = asyncio.get_running_loop()
        self._pending = loop.run_in_executor(self._executor, self._consume_and_close, batch)
        await self._wait_pending()
        return self.size, {name: h.hexdigest() for name, h in self._hashers.items()}

    async def discard(self) -> None:
        """Remove the temporary file, once no worker is still writing to it."""
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                await wait_for_worker(pending)
        finally:
            if self._file is not None:
                self._file.close()
            remove_quietly(self.path)


_TEMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_temp_numbers = itertools.count()


def _temp_name(temp_dir: Path) -> Path:
    """A name for a new temporary file of this process: its id and a counter
    (`tempfile.mkstemp` drew and checked a random name per file)."""
    return temp_dir / f"download-{os.getpid()}-{next(_temp_numbers)}.part"


def _new_temp_file(path: Path) -> tuple[Path, BinaryIO]:
    """``path`` created for writing (mode 0600), or the next free name in its folder.

    ``O_EXCL`` refuses a name that exists (another process's file, or a link planted
    there): the next number is tried then.
    """
    while True:
        try:
            fd = os.open(path, _TEMP_FLAGS, 0o600)
        except FileExistsError:
            path = _temp_name(path.parent)
            continue
        return path, os.fdopen(fd, "wb")


def remove_quietly(path: Path) -> None:
    """Remove a temporary file if it is there (an unlink is too quick to need a thread)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


async def wait_for_worker(future: asyncio.Future[Any]) -> None:
    """Wait for a worker future even if we are cancelled meanwhile, then re-raise that."""
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait({future})
        except asyncio.CancelledError:
            cancelled = True
    if not future.cancelled():
        future.exception()  # mark retrieved: the caller is already failing for a reason
    if cancelled:
        raise asyncio.CancelledError


def copy_file_with_digests(
    source: Path,
    target: Path,
    algorithms: Iterable[str],
    chunk_size: int,
    stop: threading.Event,
    max_size: int | None = None,
) -> tuple[int, dict[str, str]]:
    """Copy ``source`` to ``target`` while hashing (runs in a worker thread).

    Stops with InterruptedError when ``stop`` is set (the caller was cancelled) and with
    OverflowError when more than ``max_size`` bytes would be copied.
    """
    hashers = _hashers(algorithms)
    size = 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(chunk_size):
            if stop.is_set():
                raise InterruptedError(f"copy of {source} was cancelled")
            size += len(chunk)
            if max_size is not None and size > max_size:
                raise OverflowError(f"{source} is larger than {max_size} bytes")
            dst.write(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    return size, {name: h.hexdigest() for name, h in hashers.items()}
