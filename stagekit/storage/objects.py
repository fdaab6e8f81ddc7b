"""Artifacts in an object store (S3 and compatible), by content-addressed key.

A verified file goes up in one PUT (an object appears whole or not at all); existence
is a HEAD by key; reading back is a GET into a local cache. Built on obstore: a single
compiled wheel with no dependencies (s3fs would pull aiobotocore and a pinned botocore),
kept by Development Seed, whose stores pickle, so Dask workers can carry them. Needs the
``stagekit[s3]`` extra. Credentials and the endpoint come from the usual ``AWS_*``
environment variables (``AWS_ENDPOINT_URL`` for S3-compatible servers), or ``options``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stagekit.errors import ConfigurationError, StoreError
from stagekit.storage._writes import check_sha256
from stagekit.urls import redact_text, redact_url

__all__ = ["ObjectArtifacts", "is_object_url"]

_SCHEMES = ("s3://",)
_CHUNK = 1 << 20


def is_object_url(spec: object) -> bool:
    """Whether ``spec`` names an object store (``s3://bucket/prefix``)."""
    return isinstance(spec, str) and spec.lower().startswith(_SCHEMES)


def _obstore() -> Any:
    try:
        import obstore
        import obstore.store
    except ImportError as exc:
        raise ConfigurationError(
            "an s3:// artifact store needs obstore: pip install 'stagekit[s3]'"
        ) from exc
    return obstore


class ObjectArtifacts:
    """Artifact files under ``s3://bucket/prefix``, keyed ``prefix/<aa>/<sha256>``."""

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        obstore = _obstore()
        parts = urlsplit(url)
        if not parts.netloc:
            raise ConfigurationError(f"artifacts {redact_url(url)!r}: no bucket in the URL")
        self.url = url
        self.where = redact_url(url)
        self._ob = obstore
        config: dict[str, Any] = dict(options or {})
        endpoint = config.get("endpoint") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint and str(endpoint).startswith("http://"):
            config.setdefault("client_options", {"allow_http": True})
        prefix = parts.path.strip("/") or None
        try:
            self._store = obstore.store.S3Store(parts.netloc, prefix=prefix, **config)
        except (ValueError, obstore.exceptions.BaseError) as exc:
            raise ConfigurationError(f"artifacts {self.where}: {redact_text(str(exc))}") from exc

    def __repr__(self) -> str:
        return f"ObjectArtifacts({self.where!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.url, self._store))

    @staticmethod
    def key(sha256: str) -> str:
        """The object key of an artifact, under the store's prefix."""
        check_sha256(sha256)
        return f"{sha256[:2]}/{sha256}"

    def _fail(self, what: str, sha256: str, exc: BaseException) -> StoreError:
        detail = redact_text(str(exc))
        return StoreError(f"artifacts {self.where}: {what} sha256:{sha256}: {detail}")

    def size(self, sha256: str) -> int | None:
        """The stored object's size, or None if there is none (HEAD)."""
        try:
            meta = self._ob.head(self._store, self.key(sha256))
        except FileNotFoundError:
            return None
        except self._ob.exceptions.BaseError as exc:
            raise self._fail("cannot look up", sha256, exc) from exc
        return int(meta["size"])

    def exists(self, sha256: str, size: int | None = None) -> bool:
        """Whether the object is stored (with ``size``, if given)."""
        found = self.size(sha256)
        return found is not None and (size is None or found == size)

    def put_file(self, sha256: str, path: Path) -> None:
        """Upload a verified local file as the artifact ``sha256``, in one PUT."""
        try:
            self._ob.put(self._store, self.key(sha256), path)
        except (OSError, self._ob.exceptions.BaseError) as exc:
            raise self._fail("cannot upload", sha256, exc) from exc

    def get_file(self, sha256: str, dest: Path, size: int | None = None) -> None:
        """Download the artifact to ``dest`` (a new file), checking its size and sha256.

        A wrong object is not accepted: ``dest`` is removed and `StoreError` raised.
        """
        hasher, written = hashlib.sha256(), 0
        try:
            result = self._ob.get(self._store, self.key(sha256))
            with open(dest, "xb") as out:
                for chunk in result.stream(_CHUNK):
                    data = bytes(chunk)
                    written += len(data)
                    if size is not None and written > size:
                        raise StoreError(f"more than {size} bytes")
                    hasher.update(data)
                    out.write(data)
            if hasher.hexdigest() != sha256 or (size is not None and written != size):
                raise StoreError(f"object hashes to sha256:{hasher.hexdigest()} ({written} bytes)")
        except FileNotFoundError as exc:
            dest.unlink(missing_ok=True)
            raise self._fail("no object for", sha256, exc) from exc
        except (OSError, StoreError, self._ob.exceptions.BaseError) as exc:
            dest.unlink(missing_ok=True)
            raise self._fail("cannot read back", sha256, exc) from exc


def _rebuild(url: str, store: Any) -> ObjectArtifacts:
    """Unpickle without asking the environment again (a worker may have another one)."""
    self = ObjectArtifacts.__new__(ObjectArtifacts)
    self.url, self.where, self._ob, self._store = url, redact_url(url), _obstore(), store
    return self
