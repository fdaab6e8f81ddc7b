"""A throwaway S3 endpoint (moto's server mode) on 127.0.0.1, for tests and benchmarks.

Runs ``moto.server`` in a child process (so clients in this process, or in Dask worker
processes, talk to it over HTTP like to a real endpoint) and stops it on exit. Needs the
``moto[server]`` package; no real S3 is ever contacted.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["S3Endpoint", "throwaway_s3"]

# moto accepts any credentials; these name nothing real.
_KEY, _SECRET, _REGION = "testing", "testing", "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class S3Endpoint:
    """A running moto server."""

    endpoint: str

    @property
    def options(self) -> dict[str, Any]:
        """What `Store(..., artifact_options=...)` needs to reach this endpoint."""
        return {
            "endpoint": self.endpoint,
            "access_key_id": _KEY,
            "secret_access_key": _SECRET,
            "region": _REGION,
            "client_options": {"allow_http": True},
        }

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh random name by default) and return its name."""
        name = name or f"stagekit-{uuid.uuid4().hex[:12]}"
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every object key in ``bucket`` (moto's listing, no client library needed)."""
        import xml.etree.ElementTree as ET

        with urllib.request.urlopen(f"{self.endpoint}/{bucket}?list-type=2", timeout=30) as r:
            tree = ET.fromstring(r.read())
        return sorted(el.text or "" for el in tree.iter() if el.tag.endswith("}Key"))


@contextlib.contextmanager
def throwaway_s3() -> Iterator[S3Endpoint]:
    """Start moto's S3 server on a free port of 127.0.0.1; stop it on exit."""
    port = _free_port()
    # The server logs every request: to a file, since a full pipe would stall it.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"moto server exited: {err[-2000:]}")
            try:
                with urllib.request.urlopen(f"{endpoint}/", timeout=2) as response:
                    response.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not answer within 60 s") from None
                time.sleep(0.1)
        yield S3Endpoint(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
