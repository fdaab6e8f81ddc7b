"""OpenPGP test keys for signing fixture Debian archives, made with gpg at first use.

`signing_keys()` is one per process: a private GNUPGHOME in a temporary folder holding
ed25519 keys by name (``"archive"`` signs fixture archives, ``"other"`` is a stranger's
key for tampered variants). Generating a key takes a fraction of a second. The folder
and the gpg-agent that gpg starts in it are removed at exit. Needs ``gpg`` (Debian
package ``gpg``); `gpg_available` tells tests whether to skip.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

__all__ = ["SigningKeys", "gpg_available", "signing_keys"]

_TIMEOUT = 60


def gpg_available() -> bool:
    """Whether gpg (to sign) and gpgv (to verify) are installed."""
    return shutil.which("gpg") is not None and shutil.which("gpgv") is not None


class SigningKeys:
    """Named signing keys in a private GNUPGHOME; `close` removes it and stops its agent."""

    def __init__(self) -> None:
        gpg = shutil.which("gpg")
        if gpg is None:
            raise RuntimeError("signing fixture archives needs gpg (Debian package gpg)")
        self._gpg = gpg
        self.home = Path(tempfile.mkdtemp(prefix="stagekit-gpg-"))
        self.home.chmod(0o700)
        self._fingerprints: dict[str, str] = {}
        self._lock = threading.Lock()

    def _run(self, *args: str, data: bytes | None = None) -> bytes:
        command = [self._gpg, "--homedir", str(self.home), "--batch", "--yes", "--quiet",
                   "--pinentry-mode", "loopback", "--passphrase", "", *args]
        proc = subprocess.run(command, input=data, capture_output=True, timeout=_TIMEOUT,
                              check=False, env={**os.environ, "LC_ALL": "C"})
        if proc.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args[:2])} failed: {proc.stderr.decode()[-500:]}")
        return proc.stdout

    def fingerprint(self, name: str = "archive") -> str:
        """The fingerprint of key ``name``, generated (ed25519, signing only) at first use."""
        with self._lock:
            if name not in self._fingerprints:
                uid = f"Stagekit test {name} <{name}@stagekit.invalid>"
                self._run("--quick-generate-key", uid, "ed25519", "sign", "never")
                listing = self._run("--with-colons", "--list-keys", uid).decode()
                fprs = [line.split(":")[9] for line in listing.splitlines()
                        if line.startswith("fpr:")]
                self._fingerprints[name] = fprs[0]
            return self._fingerprints[name]

    def public_key(self, name: str = "archive", *, armor: bool = False) -> bytes:
        """Key ``name``'s public key, as a keyring file holds it (binary or ``.asc``)."""
        return self._run(*(["--armor"] if armor else []), "--export", self.fingerprint(name))

    def write_keyring(self, path: str | os.PathLike[str], *names: str,
                      armor: bool = False) -> Path:
        """Write a keyring holding the public keys ``names`` (default: ``"archive"``)."""
        target = Path(path)
        target.write_bytes(b"".join(self.public_key(n, armor=armor)
                                    for n in names or ("archive",)))
        return target

    def clearsign(self, text: bytes, name: str = "archive") -> bytes:
        """``text`` clearsigned by key ``name`` (an InRelease)."""
        return self._run("--local-user", self.fingerprint(name), "--digest-algo", "SHA256",
                         "--clearsign", data=text)

    def detach_sign(self, data: bytes, name: str = "archive") -> bytes:
        """An armored detached signature of ``data`` by key ``name`` (a Release.gpg)."""
        return self._run("--local-user", self.fingerprint(name), "--digest-algo", "SHA256",
                         "--armor", "--detach-sign", data=data)

    def close(self) -> None:
        """Stop the gpg-agent of this home and remove it (idempotent)."""
        if self.home.exists():
            gpgconf = shutil.which("gpgconf")
            if gpgconf is not None:
                subprocess.run([gpgconf, "--homedir", str(self.home), "--kill", "gpg-agent"],
                               capture_output=True, timeout=_TIMEOUT, check=False)
            shutil.rmtree(self.home, ignore_errors=True)


_keys: SigningKeys | None = None
_keys_lock = threading.Lock()


def signing_keys() -> SigningKeys:
    """This process's test keys (created at first call, removed at exit)."""
    global _keys
    with _keys_lock:
        if _keys is None:
            _keys = SigningKeys()
            atexit.register(_keys.close)
        return _keys
