"""The content-addressed artifact store: verified files by sha256, plus the catalog.

Layout under ``path``: ``artifacts/<aa>/<sha256>``, ``tmp/`` (one locked directory per
open store) and ``catalog.sqlite3``. A file reaches its digest path only by an atomic
rename from the store's own temporary directory, so a crash never leaves a partial file
under a digest path. Methods that touch file contents (`Store.commit_temp`,
`Store.verify`, `Store.hash_file`) block: call them with ``asyncio.to_thread`` from a loop.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from stagekit.errors import ConfigurationError, StoreError
from stagekit.models import Artifact
from stagekit.storage._files import (
    CHUNK,
    fsync_dir,
    fsync_file,
    hash_regular,
    regular_file,
    sync_filesystem,
)
from stagekit.storage._open import open_catalog
from stagekit.storage._tempdir import (
    TempSession,
    check_real_directory,
    live_sessions,
    remove_leftovers,
    session_is_live,
)
from stagekit.storage.catalog import BaseCatalog, Catalog, RunRecords, check_sha256
from stagekit.storage.objects import is_object_url
from stagekit.urls import redact_url

__all__ = ["Store", "TempFile"]

log = logging.getLogger(__name__)

def _in_parallel(work: Any, paths: Sequence[Path]) -> None:
    """``work(path)`` for every path, on up to 8 threads (fsyncs wait on the disk)."""
    if len(paths) <= 1:
        for path in paths:
            work(path)
        return
    with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
        list(pool.map(work, paths))


class TempFile:
    """A file being written in the store's temporary directory.

    Use as a context manager: unless `commit` moved it into the store, the file is
    removed on exit, whether the block failed or not.
    """

    def __init__(self, store: Store, path: Path, file: BinaryIO) -> None:
        self.store = store
        self.path = path
        self.file = file
        self.committed: Artifact | None = None

    def write(self, data: bytes) -> int:
        """Append ``data``."""
        return self.file.write(data)

    def close(self) -> None:
        """Close the file (it stays on disk until committed or discarded)."""
        if not self.file.closed:
            self.file.close()

    def discard(self) -> None:
        """Close and remove the file."""
        self.close()
        self.path.unlink(missing_ok=True)

    def commit(
        self, sha256: str, size: int, digests: dict[str, str] | None = None, *, verify: bool = False
    ) -> Artifact:
        """Close the file and move it into the store (see `Store.commit_temp`)."""
        if not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
        self.committed = self.store._commit(self.path, sha256, size, digests, verify, synced=True)
        return self.committed

    def __enter__(self) -> TempFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.committed is None:
            self.discard()


class Store:
    """Artifacts on disk by sha256, and the catalog of runs and content.

    Opening removes what crashed runs of stores left in ``tmp/`` (only the store's own
    session names, never another store's that is still open) and refuses a ``tmp`` or
    ``artifacts`` that is a symbolic link. Close it, or use it as a context manager.

    ``readonly=True`` opens an existing store to read it (list runs, load a run, read
    artifacts): nothing is created, cleaned or written, a missing store raises
    `StoreError` naming the path, and it works on a store whose files are read-only.
    ``verify=True`` hashes each stored file again the first time it would be reused;
    a file that does not match its digest is treated as missing, so it is downloaded
    and replaced. Without it a file is trusted by its size. Either way a symbolic link
    or other non-regular file under ``artifacts/`` is never taken as stored.

    ``durable=False`` skips the flushes (``syncfs``/``fsync``) that make a stored file
    survive a power cut; files still reach their digest paths only by atomic renames,
    so a crash of the process never leaves a partial file there. Durable is the default.

    ``catalog``: a ``postgresql://`` URL for a catalog shared by several coordinators
    (``stagekit[postgres]``), or another SQLite file; default ``path/catalog.sqlite3``.
    ``artifacts="s3://bucket/prefix"`` keeps the artifacts in an object store shared by
    several machines (``stagekit[s3]``; see `stagekit.storage.object_store`).
    """

    def __new__(cls, *args: Any, artifacts: str | None = None, **kwargs: Any) -> Store:
        if artifacts is not None and cls is Store:
            # The backend is a subclass in a module of its own, loaded only when asked for
            # (it needs the `s3` extra), as stagekit.remotes loads its remotes.
            backend = importlib.import_module("stagekit.storage.object_store")
            if not is_object_url(artifacts):
                raise ConfigurationError(
                    f"artifacts {redact_url(str(artifacts))!r}: expected s3://bucket/prefix"
                    " (local artifacts live under the store's path)"
                )
            cls = backend.ObjectBackedStore
        return super().__new__(cls)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        verify: bool = False,
        catalog: str | os.PathLike[str] | None = None,
        artifacts: None = None,  # an object store URL makes an ObjectBackedStore
        durable: bool = True,
    ) -> None:
        self.path = Path(path).absolute()
        self.durable = durable
        # Checked once per store, not once per file: the resolved temporary directory,
        # the folders under it that hold downloads, and the digest folders made so far.
        self._tmp_resolved: Path | None = None
        self._temp_parents: set[Path] = set()
        self._real_dirs: set[Path] = set()
        # Each digest folder as a Path and as a string, made once (two path joins per
        # lookup were most of a stat's cost).
        self._folders: dict[str, tuple[Path, str]] = {}
        self.catalog_spec = catalog
        self.artifacts_dir = self.path / "artifacts"
        self.tmp_root = self.path / "tmp"
        self.readonly = readonly
        self.verify_existing = verify
        self._verified: set[str] = set()
        self._session: TempSession | None = None
        self.catalog: BaseCatalog
        if readonly and catalog is not None:
            raise ConfigurationError("readonly=True opens the store's own SQLite catalog only")
        if readonly:
            catalog_path = self.path / "catalog.sqlite3"
            if not catalog_path.is_file():
                raise StoreError(f"no stagekit store at {self.path} ({catalog_path.name} "
                                 "not found); a read-only open never creates one")
            self.catalog = Catalog(catalog_path, artifact_exists=self._present, readonly=True)
            return
        try:
            check_real_directory(self.artifacts_dir, "artifact directory")
            check_real_directory(self.tmp_root, "temporary directory")
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_root.mkdir(exist_ok=True)
            remove_leftovers(self.tmp_root)
            self._session = TempSession(self.tmp_root)
        except OSError as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        try:
            self.catalog = open_catalog(
                catalog,
                self.path / "catalog.sqlite3",
                artifact_exists=self._present,
                session=self.session,
            )
            self.catalog.mark_interrupted(live_sessions(self.tmp_root))
        except BaseException:
            self._session.close()
            raise

    @classmethod
    def open_existing(cls, path: str | os.PathLike[str], *, verify: bool = False) -> Store:
        """An existing store opened read-only (see ``readonly``): for listing and reading."""
        return cls(path, readonly=True, verify=verify)

    @property
    def session(self) -> str:
        """This open store's session name: runs record it, so a dead one is recognised."""
        return self._writable().path.name

    @property
    def tmp_dir(self) -> Path:
        """This store's own temporary directory (same filesystem as the artifacts)."""
        return self._writable().path

    def _writable(self) -> TempSession:
        if self._session is None:
            raise StoreError(f"store {self.path} is open read-only; open it without "
                             "readonly=True to write")
        return self._session

    def close(self) -> None:
        """Close the catalog and remove this store's temporary directory (idempotent)."""
        self.catalog.close()
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = ", readonly=True" if self.readonly else ""
        return f"Store({str(self.path)!r}{mode})"

    # Paths and presence

    def artifact_path(self, sha256: str) -> Path:
        """Where the artifact with this sha256 lives; `StoreError` unless it is 64 hex chars."""
        check_sha256(sha256)
        return self._folder(sha256[:2])[0] / sha256

    def _folder(self, prefix: str) -> tuple[Path, str]:
        """The digest folder ``artifacts/<prefix>``, as a Path and as a string."""
        folder = self._folders.get(prefix)
        if folder is None:
            path = self.artifacts_dir / prefix
            folder = self._folders[prefix] = (path, str(path))
        return folder

    def _present(self, sha256: str, size: int | None) -> bool:
        """Whether a trustworthy file is stored for ``sha256`` (of ``size`` if known)."""
        check_sha256(sha256)
        folder, folder_name = self._folder(sha256[:2])
        name = os.path.join(folder_name, sha256)
        try:
            # A folder this store made or checked is a real directory: only the file
            # is looked at then.
            mode, actual = regular_file(name, folder_name,
                                        folder_checked=folder in self._real_dirs)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if mode != "file":
            log.warning("%s is %s, not a file the store wrote; treated as missing",
                        folder / sha256, mode)
            return False
        if size is not None and actual != size:
            return False
        if self.verify_existing and sha256 not in self._verified:
            path = folder / sha256
            try:
                got = hash_regular(path)
            except OSError as exc:
                log.warning("cannot re-hash stored file %s: %s; treated as missing", path, exc)
                return False
            if got != sha256:
                log.warning("stored file %s hashes to sha256:%s; treated as missing, a fresh "
                            "download replaces it", path, got)
                return False
            self._verified.add(sha256)
        return True

    def has(self, sha256: str, size: int | None = None) -> bool:
        """Whether the file is stored, with ``size`` (or the catalog's size) if one is known."""
        if size is None:
            size = self.catalog.artifact_rows([sha256]).get(sha256, {}).get("size")
        return self._present(sha256, size)

    def missing(self, sha256s: Iterable[str]) -> set[str]:
        """The digests among ``sha256s`` whose files are not stored (or have the wrong size)."""
        wanted = set(sha256s)
        for sha256 in wanted:
            check_sha256(sha256)
        known = self.catalog.artifact_rows(wanted)
        return {s for s in wanted if not self._present(s, known.get(s, {}).get("size"))}

    def get_artifact(self, sha256: str) -> Artifact | None:
        """The stored artifact, or None if its file is not in the store."""
        path = self.artifact_path(sha256)
        if not self._present(sha256, None):
            return None
        size = path.stat().st_size
        row = self.catalog.artifact_rows([sha256]).get(sha256)
        digests = dict(row["digests"]) if row else {}
        digests["sha256"] = sha256
        return Artifact(sha256=sha256, size=size, digests=digests, path=path)

    # Writing

    def new_temp_file(self, prefix: str = "dl-") -> TempFile:
        """A new, uniquely named file open for binary writing in `tmp_dir`."""
        try:
            fd, name = tempfile.mkstemp(prefix=prefix, dir=self.tmp_dir)
        except OSError as exc:
            raise StoreError(f"cannot create a temporary file in {self.tmp_dir}: {exc}") from exc
        return TempFile(self, Path(name), os.fdopen(fd, "wb"))

    def commit_temp(
        self,
        temp_path: str | os.PathLike[str],
        sha256: str,
        size: int,
        digests: dict[str, str] | None = None,
        *,
        verify: bool = False,
    ) -> Artifact:
        """Move a verified temporary file to its digest path atomically and return it.

        The caller has checked the digest while writing; ``verify=True`` hashes again.
        If the artifact is already stored, the temporary file is dropped and the stored
        one kept. Raises `StoreError` (and removes the temporary file) if the file is not
        in the store's temporary directory or does not match ``size``/``sha256``.
        """
        return self._commit(Path(temp_path), sha256, size, digests, verify, synced=False)

    def commit_many(
        self, items: Sequence[tuple[str | os.PathLike[str], str, int, dict[str, str] | None]]
    ) -> list[Artifact]:
        """`commit_temp` for ``(temp_path, sha256, size, digests)`` items, durably but fast.

        The files are flushed with one syncfs of the store's filesystem (or fsynced in
        parallel where syncfs is missing, or where other processes' unwritten data would
        make it wait for them), renamed, and the new names flushed the same way, instead
        of a file and a directory fsync after another. All or nothing is not promised: a
        failing item raises after the ones before it were stored.
        """
        paths = [p if isinstance(p := item[0], Path) else Path(p) for item in items]
        durable = self.durable
        # Measured on 50 files of 64 KiB: one syncfs 5-8 ms, 50 fsyncs 25-30 ms.
        whole_fs = durable and len(paths) > 1 and sync_filesystem(
            self.tmp_dir, sum(item[2] for item in items))
        if durable and not whole_fs:
            _in_parallel(fsync_file, paths)
        artifacts = [
            self._commit(path, sha256, size, digests, False, synced=True, sync_dir=False)
            for path, (_temp, sha256, size, digests) in zip(paths, items, strict=True)
        ]
        if durable and not (whole_fs and sync_filesystem(self.artifacts_dir)):
            _in_parallel(fsync_dir, list({a.path.parent for a in artifacts if a.path}))
        return artifacts

    def _commit(
        self,
        temp: Path,
        sha256: str,
        size: int,
        digests: dict[str, str] | None,
        verify: bool,
        *,
        synced: bool,
        sync_dir: bool = True,
    ) -> Artifact:
        dest = self.artifact_path(sha256)
        self._check_temp(temp, sha256, size, verify, dest)
        try:
            if self._present(sha256, size):
                temp.unlink(missing_ok=True)
            else:
                if not synced and self.durable:
                    with open(temp, "rb+") as f:
                        os.fsync(f.fileno())
                folder = self._folder(sha256[:2])[0]
                if folder not in self._real_dirs:
                    check_real_directory(folder, "artifact directory")
                    folder.mkdir(exist_ok=True)
                    self._real_dirs.add(folder)
                os.replace(temp, dest)  # also replaces a planted link or bad file there
                if sync_dir and self.durable:
                    fsync_dir(folder)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"cannot store sha256:{sha256} at {dest}: {exc}") from exc
        if self.verify_existing:
            self._verified.add(sha256)
        return Artifact(sha256=sha256, size=size, digests={**(digests or {}), "sha256": sha256},
                        path=dest)

    def _check_temp(self, temp: Path, sha256: str, size: int, verify: bool, dest: Path) -> None:
        """`StoreError` (and ``temp`` removed) unless ``temp`` is one of this store's
        temporary files, of ``size`` bytes and, with ``verify``, of that sha256."""
        if not self._in_tmp(temp):
            raise StoreError(f"{temp} is not in the store's temporary directory {self.tmp_dir}")
        try:
            st = os.lstat(temp)
            if not stat.S_ISREG(st.st_mode):  # a link could name a file anywhere
                raise StoreError(f"{temp} is not a regular file; not stored as sha256:{sha256}")
            actual = st.st_size
            if actual != size:
                raise StoreError(
                    f"{temp} has {actual} bytes, not {size}; not stored as sha256:{sha256}")
            if verify and (got := self.hash_file(temp)[0]) != sha256:
                raise StoreError(f"{temp} hashes to sha256:{got}, not sha256:{sha256}")
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"cannot store sha256:{sha256} at {dest}: {exc}") from exc
        except StoreError:
            temp.unlink(missing_ok=True)
            raise

    def _in_tmp(self, temp: Path) -> bool:
        """Whether ``temp`` is in the store's temporary directory, links resolved (each
        folder holding downloads is resolved once per store, not once per file)."""
        if self._tmp_resolved is None:
            self._tmp_resolved = self.tmp_dir.resolve()
        parent = temp.parent
        if parent in self._temp_parents:
            return True
        real = parent.resolve()
        inside = real == self._tmp_resolved or self._tmp_resolved in real.parents
        if inside:
            self._temp_parents.add(parent)
        return inside

    def add_bytes(self, data: bytes, digests: dict[str, str] | None = None) -> Artifact:
        """Store ``data`` (small files, tests): hash, write to a temp file, commit."""
        sha256 = hashlib.sha256(data).hexdigest()
        with self.new_temp_file() as tmp:
            tmp.write(data)
            return tmp.commit(sha256, len(data), digests)

    # Checking

    @staticmethod
    def hash_file(
        path: str | os.PathLike[str], algorithms: Iterable[str] = ()
    ) -> tuple[str, int, dict[str, str]]:
        """``(sha256, size, digests)`` of a file, with any extra ``algorithms`` too."""
        hashers: dict[str, Any] = {"sha256": hashlib.sha256()}
        for name in algorithms:
            hashers.setdefault(name, hashlib.new(name))
        size = 0
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                size += len(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
        digests = {name: h.hexdigest() for name, h in hashers.items()}
        return digests["sha256"], size, digests

    def verify(self, sha256: str) -> bool:
        """Hash the stored file again: True if present and intact, False otherwise."""
        path = self.artifact_path(sha256)
        try:
            actual = hash_regular(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:  # a link (O_NOFOLLOW) or unreadable
            log.warning("cannot hash stored file %s: %s", path, exc)
            return False
        if actual != sha256:
            log.warning("stored file %s hashes to sha256:%s", path, actual)
            return False
        return True

    # Catalog shortcuts

    def runs(self) -> list[dict[str, Any]]:
        """Past runs recorded in this store, oldest first."""
        return [self._outcome(row) for row in self.catalog.runs()]

    def load_run(self, run_id: int) -> RunRecords:
        """What was recorded about one run (see `RunRecords`)."""
        records = self.catalog.load_run(run_id)
        records.run = self._outcome(records.run)
        return records

    def _outcome(self, row: dict[str, Any]) -> dict[str, Any]:
        """A read-only store cannot mark a dead process's run interrupted: show it so."""
        if not self.readonly or row.get("status") != "running":
            return row
        session = (row.get("params") or {}).get("session")
        if session and not session_is_live(self.tmp_root, session):
            return {**row, "status": "interrupted"}
        return row
