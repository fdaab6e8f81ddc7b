"""A `Store` whose artifacts live in an object store, with a local read cache.

``Store(path, artifacts="s3://bucket/prefix")`` makes one of these. The object store is
the truth, shared by every machine; ``path/artifacts/`` becomes this machine's cache of
it, so readers (remotes parsing a saved unit, `Artifact.open`) keep a local file:

- a downloaded file is verified in ``tmp/``, PUT whole under its sha256 key, and only
  then moved into the cache: nothing half-written is ever visible under a key;
- existence is a HEAD by key (a cached file counts: it was verified when it arrived);
- an artifact another machine stored is read back into the cache (size and sha256
  checked) when a run meets it (`missing`, `artifact_path`), so ``dc.artifacts[path]``
  is readable in `discover`. A re-run on a fresh machine thus reads the existing
  artifacts it meets once from the object store (not from the remote).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from stagekit.errors import StoreError
from stagekit.models import Artifact
from stagekit.storage._writes import check_sha256
from stagekit.storage.objects import ObjectArtifacts
from stagekit.storage.store import Store

__all__ = ["ObjectBackedStore"]

_THREADS = 16


class ObjectBackedStore(Store):
    """Artifacts in an object store (``objects``), cached under ``path/artifacts``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        catalog: str | os.PathLike[str] | None = None,
        artifacts: str | None = None,
        artifact_options: Mapping[str, Any] | None = None,
    ) -> None:
        if artifacts is None:
            raise StoreError("ObjectBackedStore needs artifacts='s3://bucket/prefix'")
        self.objects = ObjectArtifacts(artifacts, artifact_options)
        self.artifact_options = dict(artifact_options or {})
        super().__init__(path, catalog=catalog)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, artifacts={self.objects.where!r})"

    def _cache_path(self, sha256: str) -> Path:
        return Store.artifact_path(self, sha256)

    def _cached(self, sha256: str, size: int | None) -> bool:
        try:
            st = self._cache_path(sha256).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def artifact_path(self, sha256: str) -> Path:
        """The cached file of the artifact, read back first if the object store has it
        (a path that does not exist if it has not)."""
        try:
            return self.fetch(sha256)
        except StoreError:
            return self._cache_path(sha256)

    def _present(self, sha256: str, size: int | None) -> bool:
        return self._cached(sha256, size) or self.objects.exists(sha256, size)

    def fetch(self, sha256: str, size: int | None = None) -> Path:
        """The cached file of a stored artifact, read back from the object store if needed."""
        dest = self._cache_path(sha256)
        if self._cached(sha256, size):
            return dest
        temp = self.tmp_dir / f"get-{uuid.uuid4().hex}"
        self.objects.get_file(sha256, temp, size)
        dest.parent.mkdir(exist_ok=True)
        os.replace(temp, dest)
        return dest

    def missing(self, sha256s: Iterable[str]) -> set[str]:
        """The digests not in the object store; the others end up in the local cache."""
        wanted = set(sha256s)
        for sha256 in wanted:
            check_sha256(sha256)
        known = self.catalog.artifact_rows(wanted)
        sizes = {s: known.get(s, {}).get("size") for s in wanted}
        todo = [s for s in wanted if not self._cached(s, sizes[s])]
        if not todo:
            return set()

        def read_back(sha256: str) -> bool:
            try:
                self.fetch(sha256, sizes[sha256])
            except StoreError:
                return False  # not there (or damaged): fetched again from the remote
            return True

        with ThreadPoolExecutor(max_workers=min(_THREADS, len(todo))) as pool:
            found = dict(zip(todo, pool.map(read_back, todo), strict=True))
        return {s for s, ok in found.items() if not ok}

    def get_artifact(self, sha256: str) -> Artifact | None:
        """The stored artifact (read back into the cache), or None if it is not stored."""
        try:
            self.fetch(sha256)
        except StoreError:
            return None
        return super().get_artifact(sha256)

    def verify(self, sha256: str) -> bool:
        """Read the object back and hash it: True if present and intact."""
        self._cache_path(sha256).unlink(missing_ok=True)
        try:
            self.fetch(sha256)
        except StoreError:
            return False
        return super().verify(sha256)

    def commit_many(
        self, items: Sequence[tuple[str | os.PathLike[str], str, int, dict[str, str] | None]]
    ) -> list[Artifact]:
        """`commit_temp` for several items, their uploads in parallel."""
        if len(items) < 2:
            return [self._commit(Path(p), s, n, d, False, synced=True) for p, s, n, d in items]
        with ThreadPoolExecutor(max_workers=min(_THREADS, len(items))) as pool:
            futures = [
                pool.submit(self._commit, Path(p), s, n, d, False, synced=True)
                for p, s, n, d in items
            ]
            return [future.result() for future in futures]

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
        dest = self._cache_path(sha256)
        self._check_temp(temp, sha256, size, verify, dest)
        try:
            if not self.objects.exists(sha256, size):
                self.objects.put_file(sha256, temp)
            # The cache needs no fsync: a lost cache file is read back from the store.
            dest.parent.mkdir(exist_ok=True)
            os.replace(temp, dest)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"cannot store sha256:{sha256} at {dest}: {exc}") from exc
        except StoreError:
            temp.unlink(missing_ok=True)
            raise
        return Artifact(sha256=sha256, size=size, digests={**(digests or {}), "sha256": sha256},
                        path=dest)
